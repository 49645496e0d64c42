/* The durable to-device inbox and receipts (relay/store/edus.h).
 *
 * userdeviceseq_todevice: str8 user + str8 device + u64 seq ->
 *   u8 format (1) | str8 sender | str8 type | content JSON (the rest).
 * roomtypeuser_receipt: u64 short room + str8 type + str8 user + thread
 *   (raw, "" unthreaded) -> u8 format (1) | u64 stream | u64 ts | str8 event ID.
 * receiptstream_room: u64 stream -> the receipt's key above. A receipt
 *   replaced drops its old stream row, so the stream holds one row per
 *   receipt and stays as small as the receipts themselves. */
#include "relay/store/edus.h"

#include <stdlib.h>

#include "relay/store/accounts.h"
#include "relay/store/store_int.h"

#define TODEVICE_FORMAT 1
#define RECEIPT_FORMAT 1

/* ---- to-device -------------------------------------------------------------- */

static int inbox_prefix(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *device_id,
                        struct mxr_err *err)
{
    if (!user_id || !user_id[0] || !device_id || !device_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: to-device call without user or device ID");
    skey_init(k);
    skey_str(k, user_id);
    skey_str(k, device_id);
    return st_key_ok(t, k, "user + device ID", err);
}

struct seqs {
    uint64_t upto;      /* collect rows with seq <= upto */
    size_t n, cap, total;
    uint64_t *v;
    bool oom;
};

static int seqs_cb(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    (void)t, (void)v, (void)err;
    struct seqs *s = arg;
    uint64_t seq = be64_get((const uint8_t *)k->mv_data + k->mv_size - 8);
    s->total++;
    if (seq > s->upto)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        uint64_t *p = realloc(s->v, cap * sizeof *p);
        if (!p) {
            s->oom = true;
            return 1;
        }
        s->v = p, s->cap = cap;
    }
    s->v[s->n++] = seq;
    return 0;
}

/* Deletes the first `max` rows with seq <= upto from the inbox at prefix p. */
static int inbox_delete(struct mxr_store_txn *t, const struct skey *p, uint64_t upto, size_t max, size_t *deleted,
                        struct mxr_err *err)
{
    struct seqs s = {.upto = upto};
    int rc = st_scan(t, T_USERDEVICESEQ_TODEVICE, p, seqs_cb, &s, err);
    if (rc == 0 && s.oom)
        rc = st_fail(t, err, "M_UNKNOWN", "store: out of memory listing a to-device inbox");
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < s.n && i < max; i++) {
        struct skey k = *p;
        skey_u64(&k, s.v[i]);
        if (st_del(t, T_USERDEVICESEQ_TODEVICE, &k, NULL, 0, err) < 0)
            rc = -1;
        else
            n++;
    }
    free(s.v);
    if (deleted)
        *deleted = n;
    return rc;
}

int mxr_store_todevice_add(struct mxr_store_txn *t, const char *user_id, const char *device_id, const char *sender,
                           const char *type, const char *content, size_t len, uint64_t *seq, struct mxr_err *err)
{
    struct skey p;
    if (st_ok_write(t, err) || inbox_prefix(t, &p, user_id, device_id, err))
        return -1;
    if (!sender || !type || !content)
        return st_fail(t, err, "M_UNKNOWN", "store: to-device message without sender, type or content");
    uint64_t pos;
    if (st_next(t, META_NEXT_TODEVICE, &pos, err))
        return -1;
    struct skey k = p;
    skey_u64(&k, pos);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, TODEVICE_FORMAT);
    sbuf_str8(&b, sender);
    sbuf_str8(&b, type);
    sbuf_raw(&b, content, len);
    int rc = b.oom ? st_fail(t, err, "M_INVALID_PARAM", "store: to-device sender or type over 255 bytes")
                   : st_put(t, T_USERDEVICESEQ_TODEVICE, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    if (rc < 0)
        return -1;
    /* Bound the inbox of a device that never syncs: count, drop the oldest. */
    struct seqs s = {.upto = 0};
    if (st_scan(t, T_USERDEVICESEQ_TODEVICE, &p, seqs_cb, &s, err))
        return -1;
    if (s.total > MXR_STORE_TODEVICE_MAX &&
        inbox_delete(t, &p, UINT64_MAX, s.total - MXR_STORE_TODEVICE_MAX, NULL, err))
        return -1;
    if (seq)
        *seq = pos;
    return 0;
}

struct devs {
    size_t n, cap;
    char (*id)[MXR_STORE_DEVICE_ID_MAX + 1];
    bool oom;
};

static int devs_cb(void *arg, const struct mxr_store_device *d)
{
    struct devs *v = arg;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *p = realloc(v->id, cap * sizeof *v->id);
        if (!p) {
            v->oom = true;
            return 1;
        }
        v->id = p, v->cap = cap;
    }
    memcpy(v->id[v->n++], d->device_id, sizeof *v->id);
    return 0;
}

int mxr_store_todevice_deliver(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                               const char *sender, const char *type, const char *content, size_t len, size_t *n,
                               struct mxr_err *err)
{
    if (n)
        *n = 0;
    if (st_ok_write(t, err))
        return -1;
    if (!device_id || !device_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: to-device delivery without a device ID");
    if (strcmp(device_id, "*")) {
        struct mxr_store_device d;
        int rc = strlen(device_id) > MXR_STORE_DEVICE_ID_MAX ? MXR_STORE_NOT_FOUND
                                                              : mxr_store_device_get(t, user_id, device_id, &d, err);
        if (rc)
            return rc < 0 ? -1 : 0;
        if (n)
            *n = 1;
        return mxr_store_todevice_add(t, user_id, device_id, sender, type, content, len, NULL, err);
    }
    struct devs v = {0};
    int rc = mxr_store_devices(t, user_id, devs_cb, &v, err);
    if (rc == 0 && v.oom)
        rc = st_fail(t, err, "M_UNKNOWN", "store: out of memory listing devices");
    for (size_t i = 0; rc == 0 && i < v.n; i++)
        rc = mxr_store_todevice_add(t, user_id, v.id[i], sender, type, content, len, NULL, err);
    if (rc == 0 && n)
        *n = v.n;
    free(v.id);
    return rc;
}

struct since {
    uint64_t since;
    mxr_store_todevice_cb cb;
    void *arg;
};

static int since_cb(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct since *s = arg;
    uint64_t seq = be64_get((const uint8_t *)k->mv_data + k->mv_size - 8);
    if (seq <= s->since)
        return 0;
    char sender[MXR_STORE_ID_MAX + 1], type[MXR_STORE_ID_MAX + 1];
    struct srd r = srd_make(v->mv_data, v->mv_size);
    bool bad = srd_u8(&r) != TODEVICE_FORMAT;
    srd_str8(&r, sender, sizeof sender);
    srd_str8(&r, type, sizeof type);
    if (bad || r.bad)
        return st_fail(t, err, "M_UNKNOWN", "store: to-device message %llu malformed", (unsigned long long)seq);
    return s->cb(s->arg, seq, sender, type, (const char *)r.p, r.n) ? 1 : 0;
}

int mxr_store_todevice_since(struct mxr_store_txn *t, const char *user_id, const char *device_id, uint64_t since,
                             mxr_store_todevice_cb cb, void *arg, struct mxr_err *err)
{
    struct skey p;
    if (st_ok(t, err) || inbox_prefix(t, &p, user_id, device_id, err))
        return -1;
    struct since s = {since, cb, arg};
    return st_scan(t, T_USERDEVICESEQ_TODEVICE, &p, since_cb, &s, err);
}

static int first_cb(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    (void)t, (void)v, (void)err;
    *(uint64_t *)arg = be64_get((const uint8_t *)k->mv_data + k->mv_size - 8);
    return 1;
}

int mxr_store_todevice_oldest(struct mxr_store_txn *t, const char *user_id, const char *device_id, uint64_t *seq,
                              struct mxr_err *err)
{
    struct skey p;
    if (st_ok(t, err) || inbox_prefix(t, &p, user_id, device_id, err))
        return -1;
    *seq = 0;
    if (st_scan(t, T_USERDEVICESEQ_TODEVICE, &p, first_cb, seq, err))
        return -1;
    return *seq ? 0 : MXR_STORE_NOT_FOUND;
}

int mxr_store_todevice_ack(struct mxr_store_txn *t, const char *user_id, const char *device_id, uint64_t upto,
                           size_t *deleted, struct mxr_err *err)
{
    struct skey p;
    if (st_ok_write(t, err) || inbox_prefix(t, &p, user_id, device_id, err))
        return -1;
    return inbox_delete(t, &p, upto, SIZE_MAX, deleted, err);
}

int mxr_store_todevice_clear(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                             struct mxr_err *err)
{
    return mxr_store_todevice_ack(t, user_id, device_id, UINT64_MAX, NULL, err);
}

int mxr_store_todevice_head(struct mxr_store_txn *t, uint64_t *out, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    return st_counter(t, META_NEXT_TODEVICE, out, err);
}

/* ---- receipts ----------------------------------------------------------------- */

int mxr_store_receipt_put(struct mxr_store_txn *t, const char *room_id, const char *type, const char *user_id,
                          const char *thread_id, const char *event_id, int64_t ts, uint64_t *stream,
                          struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    if (!room_id || !type || !type[0] || !user_id || !user_id[0] || !event_id || !event_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: receipt without room, type, user or event ID");
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    skey_str(&k, type);
    skey_str(&k, user_id);
    if (thread_id)
        skey_raw(&k, thread_id, strlen(thread_id));
    if (st_key_ok(t, &k, "room + receipt type + user + thread", err))
        return -1;
    MDB_val old;
    rc = st_get(t, T_ROOMTYPEUSER_RECEIPT, &k, &old, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && old.mv_size >= 9) {   /* drop the replaced receipt's stream row */
        struct skey sk;
        skey_init(&sk);
        skey_u64(&sk, be64_get((const uint8_t *)old.mv_data + 1));
        if (st_del(t, T_RECEIPTSTREAM_ROOM, &sk, NULL, 0, err) < 0)
            return -1;
    }
    uint64_t pos;
    if (st_next(t, META_NEXT_RECEIPT, &pos, err))
        return -1;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, RECEIPT_FORMAT);
    sbuf_u64(&b, pos);
    sbuf_u64(&b, (uint64_t)ts);
    sbuf_str8(&b, event_id);
    rc = b.oom ? st_fail(t, err, "M_INVALID_PARAM", "store: receipt event ID over 255 bytes")
               : st_put(t, T_ROOMTYPEUSER_RECEIPT, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    if (rc < 0)
        return -1;
    struct skey sk;
    skey_init(&sk);
    skey_u64(&sk, pos);
    if (st_put_seq(t, T_RECEIPTSTREAM_ROOM, &sk, k.b, k.n, err) < 0)
        return -1;
    if (stream)
        *stream = pos;
    return 0;
}

/* Decodes a receipt row and hands it to cb. room_id: the room's ID when
 * the caller knows it, else looked up. */
static int receipt_emit(struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, const char *room_id,
                        mxr_store_receipt_cb cb, void *arg, struct mxr_err *err)
{
    char room[MXR_STORE_ID_MAX + 1], type[MXR_STORE_ID_MAX + 1], user[MXR_STORE_ID_MAX + 1],
        thread[MXR_STORE_ID_MAX + 1], event[MXR_STORE_ID_MAX + 1];
    struct srd kr = srd_make(k->mv_data, k->mv_size);
    uint64_t sroom = srd_u64(&kr);
    srd_str8(&kr, type, sizeof type);
    srd_str8(&kr, user, sizeof user);
    struct srd r = srd_make(v->mv_data, v->mv_size);
    bool bad = srd_u8(&r) != RECEIPT_FORMAT;
    uint64_t stream = srd_u64(&r);
    int64_t ts = (int64_t)srd_u64(&r);
    srd_str8(&r, event, sizeof event);
    if (bad || kr.bad || r.bad || r.n || !copy_str(thread, sizeof thread, kr.p, kr.n))
        return st_fail(t, err, "M_UNKNOWN", "store: receipt record malformed");
    if (!room_id) {
        if (sid_room_str(t, sroom, room, err))
            return -1;
        room_id = room;
    }
    return cb(arg, room_id, type, user, thread, event, ts, stream) ? 1 : 0;
}

struct rroom {
    const char *room_id;
    mxr_store_receipt_cb cb;
    void *arg;
};

static int rroom_cb(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct rroom *a = arg;
    return receipt_emit(t, k, v, a->room_id, a->cb, a->arg, err);
}

int mxr_store_receipts_room(struct mxr_store_txn *t, const char *room_id, mxr_store_receipt_cb cb, void *arg,
                            struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc < 0 ? -1 : 0;   /* an unknown room has no receipts */
    struct skey p;
    skey_init(&p);
    skey_u64(&p, room);
    struct rroom a = {room_id, cb, arg};
    return st_scan(t, T_ROOMTYPEUSER_RECEIPT, &p, rroom_cb, &a, err);
}

int mxr_store_receipts_since(struct mxr_store_txn *t, uint64_t since, mxr_store_receipt_cb cb, void *arg,
                             struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    if (since == UINT64_MAX)
        return 0;
    MDB_cursor *c;
    if (st_cursor(t, T_RECEIPTSTREAM_ROOM, &c, err))
        return -1;
    uint8_t start[8];
    be64_put(start, since + 1);
    MDB_val k = {.mv_size = 8, .mv_data = start}, v;
    int rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    while (rc == 0) {
        struct skey rk;
        skey_init(&rk);
        skey_raw(&rk, v.mv_data, v.mv_size);
        MDB_val rv;
        rc = st_get(t, T_ROOMTYPEUSER_RECEIPT, &rk, &rv, err);
        if (rc == MXR_STORE_NOT_FOUND) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: receipt stream row without its receipt");
            break;
        }
        MDB_val kv = st_val(&rk);
        if (rc < 0 || (rc = receipt_emit(t, &kv, &rv, NULL, cb, arg, err)) != 0)
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_receipt_head(struct mxr_store_txn *t, uint64_t *out, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    return st_counter(t, META_NEXT_RECEIPT, out, err);
}
