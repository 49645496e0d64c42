/* The durable part of the EDU store (edus.h): inbound to-device messages
 * and receipts are validated in memory by edus.c, queued in s->pending and
 * written to the relay/store/edus.h tables by mxr_edu_flush, which the
 * caller runs once it holds no read transaction (a write may not be waited
 * for while holding one). */
#include <stdlib.h>
#include <string.h>

#include "relay/federation/edus.h"
#include "relay/federation/edus_int.h"
#include "relay/store/edus.h"
#include "relay/store/store.h"

static int receipt_json_cb(void *arg, const char *room_id, const char *type, const char *user_id,
                           const char *thread_id, const char *event_id, int64_t ts, uint64_t stream)
{
    (void)room_id, (void)stream;
    json_t *e = edu_child(arg, event_id);
    json_t *t = e ? edu_child(e, type) : NULL;
    json_t *d = t ? json_pack("{s:I}", "ts", (json_int_t)ts) : NULL;
    if (d && thread_id[0])
        json_object_set_new(d, "thread_id", json_string(thread_id));
    if (d)
        json_object_set_new(t, user_id, d);
    return 0;
}

json_t *edu_receipts_durable(struct mxr_edu_store *s, const char *room_id)
{
    struct mxr_err err = {0};
    json_t *out = json_object();
    struct mxr_store_txn *t;
    if (!out || mxr_edu_flush(s, &err) < 0 || mxr_store_read_begin(s->store, &t, &err) < 0)
        return out;
    mxr_store_receipts_room(t, room_id, receipt_json_cb, out, &err);
    mxr_store_read_end(t);
    return out;
}

struct td_read {
    json_t *out;
    size_t limit;
    uint64_t last;
};

static int td_read_cb(void *arg, uint64_t seq, const char *sender, const char *type, const char *content, size_t len)
{
    struct td_read *r = arg;
    if (json_array_size(r->out) >= r->limit)
        return 1;
    json_t *c = json_loadb(content, len, 0, NULL);
    json_array_append_new(r->out, json_pack("{s:s, s:s, s:o}", "sender", sender, "type", type, "content",
                                            c ? c : json_object()));
    r->last = seq;
    return 0;
}

struct td_ack {
    const char *user, *device;
    uint64_t upto;
};

static int td_ack_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct td_ack *a = arg;
    return mxr_store_todevice_ack(t, a->user, a->device, a->upto, NULL, err);
}

json_t *edu_to_device_durable(struct mxr_edu_store *s, const char *user_id, const char *device_id, uint64_t since,
                              size_t limit, uint64_t *next)
{
    struct mxr_err err = {0};
    struct td_read r = {json_array(), limit, since};
    struct td_ack a = {user_id, device_id, since};
    struct mxr_store_txn *t;
    if (mxr_edu_flush(s, &err) == 0 && (!since || mxr_store_write(s->store, td_ack_fn, &a, &err) == 0) &&
        mxr_store_read_begin(s->store, &t, &err) == 0) {
        mxr_store_todevice_since(t, user_id, device_id, since, td_read_cb, &r, &err);
        mxr_store_read_end(t);
    }
    if (next)
        *next = r.last;
    return r.out;
}

/* ---- the durable part ------------------------------------------------------------ */

void mxr_edu_store_attach(struct mxr_edu_store *s, struct mxr_store *store)
{
    pthread_mutex_lock(&s->mu);
    s->store = store;
    pthread_mutex_unlock(&s->mu);
}

/* One to-device op ("*": every device of the user; unknown devices get
 * nothing). */
static int flush_to_device(struct mxr_store_txn *t, const json_t *op, struct mxr_err *err)
{
    char *text = json_dumps(json_object_get(op, "content"), JSON_COMPACT);
    if (!text)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    int rc = mxr_store_todevice_deliver(t, edu_str(op, "user"), edu_str(op, "device"), edu_str(op, "sender"),
                                        edu_str(op, "type"), text, strlen(text), NULL, err);
    free(text);
    return rc;
}

static int flush_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    size_t i;
    json_t *op;
    json_array_foreach((json_t *)arg, i, op) {
        int rc;
        if (!strcmp(edu_str(op, "k"), "td")) {
            rc = flush_to_device(t, op, err);
        } else {
            const char *thread = edu_str(op, "thread");
            rc = mxr_store_receipt_put(t, edu_str(op, "room"), "m.read", edu_str(op, "user"),
                                       thread[0] ? thread : NULL, edu_str(op, "event"),
                                       json_integer_value(json_object_get(op, "ts")), NULL, err);
            if (rc == MXR_STORE_NOT_FOUND)   /* the room was checked; it cannot vanish, but never fail for it */
                rc = 0;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int mxr_edu_flush(struct mxr_edu_store *s, struct mxr_err *err)
{
    pthread_mutex_lock(&s->flush_mu);
    json_t *fresh = json_array(), *ops = NULL;
    pthread_mutex_lock(&s->mu);
    if (fresh) {   /* out of memory: the work waits for the next flush */
        ops = s->pending;
        s->pending = fresh;
    }
    struct mxr_store *store = s->store;
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    if (!fresh) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    } else if (json_array_size(ops) && store) {
        rc = mxr_store_write(store, flush_fn, ops, err);
        if (rc < 0)
            mxr_err_prefix(err, "%zu durable EDU update(s) lost", json_array_size(ops));
    }
    json_decref(ops);
    pthread_mutex_unlock(&s->flush_mu);
    return rc;
}
