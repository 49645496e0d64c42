/* The ephemeral share of /sync (relay/client/ephemeral.h): to_device.events
 * (sync.yaml "to_device"; client-server API "Send-to-Device messaging":
 * delivered until acknowledged by the next since token) and each joined
 * room's ephemeral events, m.typing (all typists of the room, as a whole)
 * and m.receipt (client-server API "Receipts": {event_id: {receipt type:
 * {user: {ts[, thread_id]}}}}; m.read.private only to its own user). */
#include "relay/client/client_int.h"
#include "relay/client/ephemeral.h"

#include <string.h>

#include "relay/federation/edus.h"
#include "relay/store/edus.h"

struct ack {
    const char *user, *device;
    uint64_t upto;
};

static int ack_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ack *a = arg;
    return mxr_store_todevice_ack(t, a->user, a->device, a->upto, NULL, err);
}

int cl_eph_ack(struct mxr_client *c, const char *user_id, const char *device_id, uint64_t since_td,
               struct mxr_err *err)
{
    if (!since_td || !device_id)
        return 0;
    struct mxr_store_txn *t;
    uint64_t oldest = 0;
    if (mxr_store_read_begin(c->store, &t, err) < 0)
        return -1;
    int rc = mxr_store_todevice_oldest(t, user_id, device_id, &oldest, err);
    mxr_store_read_end(t);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND || oldest > since_td)
        return 0;
    struct ack a = {user_id, device_id, since_td};
    return cl_write(c, ack_fn, &a, err);
}

/* ---- to-device ------------------------------------------------------------------ */

struct td {
    struct cl_eph *e;
    bool full;
};

static int td_cb(void *arg, uint64_t seq, const char *sender, const char *type, const char *content, size_t len)
{
    struct td *td = arg;
    if (json_array_size(td->e->to_device) >= CL_TO_DEVICE_SYNC_MAX) {
        td->full = true;
        return 1;
    }
    json_t *body = json_loadb(content, len, 0, NULL);
    if (!json_is_object(body)) {   /* never stored so; skip rather than fail the sync */
        json_decref(body);
        return 0;
    }
    json_array_append_new(td->e->to_device, json_pack("{s:s, s:s, s:o}", "sender", sender, "type", type, "content",
                                                      body));
    td->e->head_td = seq;
    return 0;
}

/* ---- receipts ---------------------------------------------------------------------- */

struct rc {
    json_t *rooms;          /* room -> content */
    const char *viewer;
    const char *only_room;  /* NULL: every room */
};

static json_t *child(json_t *obj, const char *key)
{
    json_t *c = json_object_get(obj, key);
    if (!c) {
        c = json_object();
        json_object_set_new(obj, key, c);
    }
    return c;
}

static int rc_cb(void *arg, const char *room_id, const char *type, const char *user_id, const char *thread_id,
                 const char *event_id, int64_t ts, uint64_t stream)
{
    (void)stream;
    struct rc *r = arg;
    /* "m.read.private ... MUST NOT be sent to other users" */
    if (!strcmp(type, "m.read.private") && strcmp(user_id, r->viewer))
        return 0;
    json_t *data = json_pack("{s:I}", "ts", (json_int_t)ts);
    if (thread_id[0])
        json_object_set_new(data, "thread_id", json_string(thread_id));
    json_t *room = r->only_room ? r->rooms : child(r->rooms, room_id);
    json_object_set_new(child(child(room, event_id), type), user_id, data);
    return 0;
}

int cl_eph_collect(struct cl_eph *e, struct mxr_store_txn *t, struct mxr_edu_store *edus, const char *user_id,
                   const char *device_id, bool initial, struct mxr_err *err)
{
    e->to_device = json_array();
    e->receipts = json_object();
    e->head_ty = edus ? mxr_edu_position(edus) : 0;
    if (mxr_store_receipt_head(t, &e->head_rc, err) < 0 || mxr_store_todevice_head(t, &e->head_td, err) < 0)
        return -1;
    struct td td = {e, false};
    uint64_t head = e->head_td;
    e->head_td = e->since_td;
    if (device_id && mxr_store_todevice_since(t, user_id, device_id, e->since_td, td_cb, &td, err) < 0)
        return -1;
    /* All delivered: the token may move to the head (messages for other
     * devices in between are not ours). Else it stops at the last one. */
    if (!td.full && head > e->head_td)
        e->head_td = head;
    struct rc r = {e->receipts, user_id, NULL};
    if (!initial && e->since_rc < e->head_rc && mxr_store_receipts_since(t, e->since_rc, rc_cb, &r, err) < 0)
        return -1;
    return json_array_size(e->to_device) > 0;
}

json_t *cl_eph_room(struct cl_eph *e, struct mxr_store_txn *t, struct mxr_edu_store *edus, const char *room_id,
                    const char *user_id, bool fresh, int64_t now, struct mxr_err *err)
{
    json_t *events = json_array();
    if (edus) {
        bool changed = false;
        json_t *typing = mxr_edu_typing_since(edus, room_id, e->since_ty, now, &changed);
        if (typing && (fresh ? json_array_size(typing) > 0 : changed))
            json_array_append_new(events, json_pack("{s:s, s:{s:O}}", "type", "m.typing", "content", "user_ids",
                                                    typing));
        json_decref(typing);
    }
    json_t *content = NULL;
    if (fresh) {
        content = json_object();
        struct rc r = {content, user_id, room_id};
        if (mxr_store_receipts_room(t, room_id, rc_cb, &r, err) < 0) {
            json_decref(content);
            json_decref(events);
            return NULL;
        }
    } else {
        content = json_incref(json_object_get(e->receipts, room_id));
    }
    if (json_object_size(content))
        json_array_append_new(events, json_pack("{s:s, s:O}", "type", "m.receipt", "content", content));
    json_decref(content);
    return events;
}

void cl_eph_release(struct cl_eph *e)
{
    json_decref(e->to_device);
    json_decref(e->receipts);
    e->to_device = e->receipts = NULL;
}
