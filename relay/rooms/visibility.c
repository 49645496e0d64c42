/* History visibility for servers (client-server API, "Room History
 * Visibility", server behaviour), and whether a server is in a room.
 *
 * The spec states the rules for users; a server asking over federation
 * stands for its users, so (as Synapse does) an event is visible to a server
 * when it is world_readable or shared at the event, or one of the server's
 * users is joined (or invited, with `invited`) at the event. "At the event"
 * is the state before or after it: the spec lets users see a
 * history_visibility change or their own membership change if either side
 * allows it, and for every other event both sides are the same. */
#include "relay/rooms/rooms_int.h"

#include <string.h>

#include "mxr/ids.h"
#include "mxr/json.h"

enum hv { HV_WORLD_READABLE, HV_SHARED, HV_INVITED, HV_JOINED };

static int history_visibility(struct mxr_store_txn *txn, uint64_t group, enum hv *out, struct mxr_err *err)
{
    *out = HV_SHARED;   /* "By default if no history_visibility is set, or if the value is not understood" */
    if (group == 0)
        return 0;
    char id[MXR_ID_MAX + 1];
    int rc = mxr_store_state_get(txn, group, "m.room.history_visibility", "", id, err);
    if (rc)
        return rc < 0 ? -1 : 0;
    json_t *pdu = rooms_stored_pdu(txn, id, err);
    if (!pdu)
        return -1;
    const char *v = json_string_value(json_object_get(json_object_get(pdu, "content"), "history_visibility"));
    if (v && strcmp(v, "world_readable") == 0)
        *out = HV_WORLD_READABLE;
    else if (v && strcmp(v, "invited") == 0)
        *out = HV_INVITED;
    else if (v && strcmp(v, "joined") == 0)
        *out = HV_JOINED;
    json_decref(pdu);
    return 0;
}

struct member_scan {
    struct mxr_store_txn *txn;
    const char *server;
    bool joined, invited;
    struct mxr_err *err;
    int rc;
};

static int member_scan_cb(void *arg, const char *type, const char *state_key, const char *event_id)
{
    struct member_scan *ms = arg;
    if (strcmp(type, "m.room.member") != 0 || !rooms_user_on(state_key, ms->server))
        return 0;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(ms->txn, event_id, &meta, ms->err);
    if (rc < 0) {
        ms->rc = -1;
        return 1;
    }
    if (rc == 0 && strcmp(meta.membership, "join") == 0)
        ms->joined = true;
    else if (rc == 0 && strcmp(meta.membership, "invite") == 0)
        ms->invited = true;
    return ms->joined;
}

static int group_allows(struct mxr_store_txn *txn, uint64_t group, const char *server, bool *ok,
                        struct mxr_err *err)
{
    enum hv hv;
    *ok = false;
    if (history_visibility(txn, group, &hv, err) < 0)
        return -1;
    if (hv == HV_WORLD_READABLE || hv == HV_SHARED) {
        *ok = true;
        return 0;
    }
    struct member_scan ms = {txn, server, false, false, err, 0};
    if (mxr_store_state_all(txn, group, member_scan_cb, &ms, err) < 0 || ms.rc)
        return -1;
    *ok = ms.joined || (hv == HV_INVITED && ms.invited);
    return 0;
}

int mxr_rooms_server_can_see(struct mxr_store_txn *txn, const char *event_id, const char *server, bool *visible,
                             struct mxr_err *err)
{
    *visible = false;
    uint64_t before, after;
    int rc = mxr_store_event_state(txn, event_id, &before, &after, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND) {
        rc = mxr_store_event_exists(txn, event_id, err);
        if (rc < 0)
            return -1;
        if (rc == MXR_STORE_NOT_FOUND)
            return mxr_err_set(err, "M_NOT_FOUND", "event %.100s is not known here", event_id);
        return 0;   /* an outlier: its state, hence its visibility, is unknown */
    }
    if (group_allows(txn, before, server, visible, err) < 0)
        return -1;
    if (!*visible && after != before && group_allows(txn, after, server, visible, err) < 0)
        return -1;
    return 0;
}

int views_served_pdu(struct mxr_store_txn *txn, const char *event_id, const char *server, json_t **out,
                     struct mxr_err *err)
{
    *out = NULL;
    bool visible;
    if (mxr_rooms_server_can_see(txn, event_id, server, &visible, err) < 0)
        return -1;
    json_t *pdu = rooms_stored_pdu(txn, event_id, err);
    if (!pdu)
        return -1;
    if (!visible) {
        struct mxr_store_event_meta meta;
        const struct mxr_room_version *rv;
        if (mxr_store_event_meta(txn, event_id, &meta, err) != 0 ||
            rooms_room_version(txn, meta.room_id, &rv, err) != 0) {
            json_decref(pdu);
            return mxr_err_set(err, "M_UNKNOWN", "event %.100s: metadata or room version missing", event_id);
        }
        json_t *pruned = mxr_event_redact(pdu, rv, err);
        json_decref(pdu);
        if (!pruned)
            return -1;
        pdu = pruned;
    }
    *out = pdu;
    return 0;
}

struct in_room {
    const char *server;
    bool in;
};

static int in_room_cb(void *arg, const char *user_id, const char *membership)
{
    (void)membership;
    struct in_room *ir = arg;
    ir->in = rooms_user_on(user_id, ir->server);
    return ir->in;
}

int mxr_rooms_server_in_room(struct mxr_store_txn *txn, const char *room_id, const char *server, bool *in,
                             struct mxr_err *err)
{
    struct in_room ir = {server, false};
    int rc = mxr_store_room_members(txn, room_id, "join", in_room_cb, &ir, err);
    *in = ir.in;
    return rc < 0 ? -1 : 0;
}

json_t *mxr_rooms_event_for_server(struct mxr_store_txn *txn, const char *event_id, const char *server,
                                   struct mxr_err *err)
{
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(txn, event_id, &meta, err);
    if (rc < 0)
        return NULL;
    /* Rejected events are not served: they are not part of the room. */
    if (rc == MXR_STORE_NOT_FOUND || (meta.flags & MXR_STORE_REJECTED)) {
        mxr_err_set(err, "M_NOT_FOUND", "event %.100s is not known here", event_id);
        return NULL;
    }
    bool visible;
    if (mxr_rooms_server_can_see(txn, event_id, server, &visible, err) < 0)
        return NULL;
    if (!visible) {
        mxr_err_set(err, "M_FORBIDDEN", "server %.100s is not allowed to see event %.100s (history visibility)",
                    server, event_id);
        return NULL;
    }
    return rooms_stored_pdu(txn, event_id, err);
}
