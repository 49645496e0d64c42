/* Events as clients see them (client-server API "Room Event Format",
 * ClientEvent / ClientEventWithoutRoomID, and "Stripped state"). */
#include "relay/client/client_int.h"

#include <stdio.h>
#include <string.h>

#include "relay/rooms/rooms.h"

static void copy_member(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set(dst, key, v);
}

/* unsigned.prev_content and replaces_state of a state event: the event it
 * replaced in the state before it. */
static void add_prev(struct mxr_store_txn *t, const char *event_id, const struct mxr_store_event_meta *m,
                     json_t *uns)
{
    uint64_t before = 0, after = 0;
    struct mxr_err err = {0};
    char prev[MXR_STORE_ID_MAX + 1];
    if (mxr_store_event_state(t, event_id, &before, &after, &err) != 0 ||
        mxr_store_state_get(t, before, m->type, m->state_key, prev, &err) != 0)
        return;
    json_t *pdu = mxr_rooms_event_pdu(t, prev, &err);
    if (!pdu)
        return;
    json_t *content = json_object_get(pdu, "content");
    if (json_is_object(content))
        json_object_set(uns, "prev_content", content);
    json_object_set_new(uns, "replaces_state", json_string(prev));
    json_decref(pdu);
}

static json_t *format(struct mxr_store_txn *t, const char *event_id, const struct cl_viewer *v, unsigned flags,
                      bool nested, struct mxr_err *err)
{
    struct mxr_store_event_meta m;
    int rc = mxr_store_event_meta(t, event_id, &m, err);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_NOT_FOUND", "Event not found");
    if (rc)
        return NULL;
    json_t *pdu = mxr_rooms_event_pdu(t, event_id, err);
    if (!pdu)
        return NULL;
    json_t *ev = json_object();
    json_t *content = json_object_get(pdu, "content");
    if (json_is_object(content))
        json_object_set(ev, "content", content);
    else
        json_object_set_new(ev, "content", json_object());
    json_object_set_new(ev, "event_id", json_string(event_id));
    copy_member(ev, pdu, "origin_server_ts");
    copy_member(ev, pdu, "sender");
    copy_member(ev, pdu, "type");
    copy_member(ev, pdu, "state_key");
    copy_member(ev, pdu, "redacts");   /* room versions 1-10: top-level on redactions */
    if (flags & CL_EV_ROOM_ID)
        json_object_set_new(ev, "room_id", json_string(m.room_id));
    json_t *uns = json_object();
    json_int_t ts = json_integer_value(json_object_get(pdu, "origin_server_ts"));
    json_object_set_new(uns, "age", json_integer(v->now > ts ? v->now - ts : 0));
    if (v->device_id && v->device_id[0]) {
        char u[MXR_STORE_ID_MAX + 1], d[MXR_STORE_DEVICE_ID_MAX + 1], txn[MXR_STORE_ID_MAX + 1];
        struct mxr_err e2 = {0};
        if (mxr_store_event_txn_get(t, event_id, u, d, txn, &e2) == 0 && !strcmp(u, v->user_id) &&
            !strcmp(d, v->device_id) && txn[0])
            json_object_set_new(uns, "transaction_id", json_string(txn));
    }
    if (m.is_state && !(flags & CL_EV_NO_PREV))
        add_prev(t, event_id, &m, uns);
    if (m.redacted_by[0] && !nested) {
        struct mxr_err e2 = {0};
        json_t *because = format(t, m.redacted_by, v, CL_EV_NO_PREV, true, &e2);
        if (because)
            json_object_set_new(uns, "redacted_because", because);
    }
    json_object_set_new(ev, "unsigned", uns);
    json_decref(pdu);
    return ev;
}

json_t *cl_client_event(struct mxr_store_txn *t, const char *event_id, const struct cl_viewer *v, unsigned flags,
                        struct mxr_err *err)
{
    return format(t, event_id, v, flags, false, err);
}

json_t *cl_stripped_event(struct mxr_store_txn *t, const char *event_id, struct mxr_err *err)
{
    json_t *pdu = mxr_rooms_event_pdu(t, event_id, err);
    if (!pdu)
        return NULL;
    json_t *ev = json_object();
    copy_member(ev, pdu, "content");
    copy_member(ev, pdu, "sender");
    copy_member(ev, pdu, "state_key");
    copy_member(ev, pdu, "type");
    json_decref(pdu);
    return ev;
}

int cl_membership(struct mxr_store_txn *t, const char *room_id, const char *user_id, char out[32], uint64_t *stream,
                  char event_id[CL_ID_MAX + 1], struct mxr_err *err)
{
    char id[MXR_STORE_ID_MAX + 1];
    out[0] = '\0';
    if (stream)
        *stream = 0;
    if (event_id)
        event_id[0] = '\0';
    int rc = mxr_store_room_current_get(t, room_id, "m.room.member", user_id, id, err);
    if (rc == MXR_STORE_NOT_FOUND)
        return 0;
    if (rc < 0)
        return -1;
    struct mxr_store_event_meta m;
    if ((rc = mxr_store_event_meta(t, id, &m, err)) != 0)
        return rc < 0 ? -1 : 0;
    snprintf(out, 32, "%s", m.membership);
    if (stream)
        *stream = m.stream;
    if (event_id)
        snprintf(event_id, CL_ID_MAX + 1, "%s", id);
    return 0;
}
