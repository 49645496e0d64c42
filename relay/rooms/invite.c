/* Receiving an invite for one of our users (server-server API "Inviting to
 * a room", invites-v2.yaml): the checks the yaml asks for, our signature,
 * and the invite kept as an outlier until we are in the room. */
#include "relay/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/pdu.h"
#include "relay/store/invites.h"

/* invite_room_state (invites-v2.yaml, v1.16): present, with m.room.create,
 * each event formatted for the room version, in the invite's room, and
 * validly signed. Enforced where the spec says SHOULD (room version 12);
 * versions 1-11 only MAY, and many servers still send stripped state. */
static int check_invite_room_state(struct mxr_rooms *r, const struct mxr_room_version *rv, const json_t *state,
                                   const char *room_id, struct mxr_err *err)
{
    if (!rv->room_id_is_create_hash)
        return 0;
    if (!json_is_array(state))
        return mxr_err_set(err, "M_MISSING_PARAM", "invite_room_state is required (an array of PDUs) for room "
                           "version %s", rv->id);
    bool have_create = false;
    size_t i;
    json_t *pdu;
    json_array_foreach(state, i, pdu) {
        struct mxr_err e = {0};
        struct mxr_event ev;
        if (mxr_pdu_check_format(pdu, rv, 0, &e) < 0 || mxr_event_load(&ev, pdu, rv, 0, &e) < 0)
            return mxr_err_set(err, "M_INVALID_PARAM", "invite_room_state[%zu] is not formatted for room version "
                               "%s: %s", i, rv->id, e.msg);
        bool same_room = strcmp(rooms_room_of(&ev), room_id) == 0;
        bool create = strcmp(ev.type, "m.room.create") == 0;
        mxr_event_release(&ev);
        if (!same_room)
            return mxr_err_set(err, "M_INVALID_PARAM", "invite_room_state[%zu] is not in room %.100s", i, room_id);
        if (mxr_pdu_check_signatures(pdu, rv, &r->keys, &e) < 0)
            return mxr_err_set(err, "M_INVALID_PARAM", "invite_room_state[%zu] fails the signature check: %s", i,
                               e.msg);
        have_create = have_create || create;
    }
    if (!have_create)
        return mxr_err_set(err, "M_MISSING_PARAM", "invite_room_state has no m.room.create event");
    return 0;
}

struct invite_arg {
    struct item *it;
    const char *version;
    int64_t now;
    const char *stripped;    /* JSON array: what the inviting server told us of the room */
};

/* The client-facing stripped state (client-server API §Stripped state:
 * type, state_key, content, sender) of invite_room_state, whose entries are
 * full PDUs (v12) or already stripped events; malformed entries are left
 * out. Returns malloc'd JSON. */
static char *stripped_state(const json_t *state)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(state, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *sk = json_string_value(json_object_get(e, "state_key"));
        const char *sender = json_string_value(json_object_get(e, "sender"));
        json_t *content = json_object_get(e, "content");
        if (type && sk && sender && json_is_object(content))
            json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:O}", "type", type, "state_key", sk, "sender",
                                                 sender, "content", content));
    }
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

/* The invite is stored as an outlier: we are (usually) not in the room, so
 * its auth events and prevs are unknown; the pipeline takes it over if it
 * arrives again through /send once we are. */
static int invite_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct invite_arg *a = arg;
    struct item *it = a->it;
    it->stored_now = false;
    if (mxr_store_room_add(txn, rooms_room_of(&it->ev), a->version, err) < 0)
        return -1;
    int rc = mxr_store_event_exists(txn, it->ev.event_id, err);
    if (rc <= 0)
        return rc;
    size_t len;
    char *json = rooms_pdu_json(it->pdu, &len, err);
    if (!json)
        return -1;
    struct mxr_store_event e;
    mxr_store_event_from(&e, &it->ev, json, len);
    e.received_ts = a->now;
    e.flags = MXR_STORE_OUTLIER;
    struct mxr_store_persisted out;
    rc = mxr_store_event_persist(txn, &e, &out, err);
    free(json);
    if (rc == 0)
        it->stored_now = !out.already;
    /* Pending for the invitee until they join or reject it (relay/client/sync.c lists it). */
    if (rc == 0 && a->stripped &&
        mxr_store_remote_invite_put(txn, it->ev.state_key, rooms_room_of(&it->ev), it->ev.event_id, a->stripped,
                                    strlen(a->stripped), err) < 0)
        return -1;
    return rc;
}

json_t *mxr_rooms_receive_invite(struct mxr_rooms *r, const char *origin, const char *room_id,
                                 const char *event_id, const json_t *body, struct mxr_err *err)
{
    if (!json_is_object(body)) {
        mxr_err_set(err, "M_BAD_JSON", "the request body must be an object");
        return NULL;
    }
    const char *ver = json_string_value(json_object_get(body, "room_version"));
    json_t *event = json_object_get(body, "event");
    if (!ver || !json_is_object(event)) {
        mxr_err_set(err, "M_MISSING_PARAM", "room_version (string) and event (object) are required");
        return NULL;
    }
    const struct mxr_room_version *rv = mxr_room_version_get(ver, NULL);
    if (!rv) {
        mxr_err_set(err, "M_INCOMPATIBLE_ROOM_VERSION", "room version '%.40s' is not supported here", ver);
        return NULL;
    }
    /* A known room keeps its version: an invite claiming another is bogus. */
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(r->store, &txn, err) < 0)
        return NULL;
    const struct mxr_room_version *known = NULL;
    int rc = rooms_room_version(txn, room_id, &known, err);
    mxr_store_read_end(txn);
    if (rc < 0)
        return NULL;
    if (rc == 0 && known != rv) {
        mxr_err_set(err, "M_INVALID_PARAM", "room %.100s is version %s here, not %s", room_id, known->id, rv->id);
        return NULL;
    }

    struct mxr_err e = {0};
    if (mxr_pdu_check_format(event, rv, 0, &e) < 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "the invite is not formatted for room version %s: %s", rv->id, e.msg);
        return NULL;
    }
    json_t *signed_ev = json_deep_copy(event);
    struct item it = {0};
    struct mxr_pdu_result res = {0};
    it.res = &res;
    it.remote_invite = true;
    json_t *resp = NULL;
    if (!signed_ev) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    json_t *stored = json_deep_copy(event);
    if (stored)
        json_object_del(stored, "unsigned");
    rc = stored ? item_load(&it, stored, rv, err) : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    json_decref(stored);
    if (rc < 0)
        goto out;
    const struct mxr_event *ev = &it.ev;
    if (strcmp(ev->event_id, event_id) != 0 || strcmp(rooms_room_of(ev), room_id) != 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "the invite is %.100s in %.100s, not what the path names", ev->event_id,
                    rooms_room_of(ev));
        goto out;
    }
    const char *m = mxr_event_content_str(ev, "membership");
    if (strcmp(ev->type, "m.room.member") != 0 || !m || strcmp(m, "invite") != 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "the event is not an m.room.member invite");
        goto out;
    }
    if (!rooms_user_on(ev->sender, origin)) {
        mxr_err_set(err, "M_INVALID_PARAM", "the sender %.100s is not a user of %.100s", ev->sender, origin);
        goto out;
    }
    if (!ev->state_key || !rooms_user_on(ev->state_key, r->server_name)) {
        mxr_err_set(err, "M_INVALID_PARAM", "the invited user %.100s is not a user of %s",
                    ev->state_key ? ev->state_key : "(none)", r->server_name);
        goto out;
    }
    if (mxr_pdu_check_hash(event, &e) != 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "the invite's content hash does not match: %s", e.msg);
        goto out;
    }
    if (mxr_pdu_check_signatures(event, rv, &r->keys, &e) < 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "the invite fails the signature check: %s", e.msg);
        goto out;
    }
    if (check_invite_room_state(r, rv, json_object_get(body, "invite_room_state"), room_id, err) < 0)
        goto out;
    /* invites-v2.yaml: return the event with our signature added, every
     * other field untouched. */
    if (mxr_pdu_sign(signed_ev, rv, r->server_name, &r->key, err) < 0)
        goto out;
    json_t *signed_stored = json_deep_copy(signed_ev);
    json_object_del(signed_stored, "unsigned");
    rc = item_load(&it, signed_stored, rv, err);
    json_decref(signed_stored);
    if (rc < 0)
        goto out;
    char *stripped = stripped_state(json_object_get(body, "invite_room_state"));
    struct invite_arg a = {&it, rv->id, rooms_now(r), stripped};
    rc = stripped ? mxr_store_write(r->store, invite_write, &a, err) : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    free(stripped);
    if (rc < 0)
        goto out;
    res.outcome = MXR_PDU_OUTLIER;
    snprintf(res.event_id, sizeof res.event_id, "%s", it.ev.event_id);
    pipeline_notify(r, origin, &it);
    resp = json_pack("{s:O}", "event", signed_ev);
    if (!resp)
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
out:
    item_release(&it);
    json_decref(signed_ev);
    return resp;
}
