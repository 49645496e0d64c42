/* Federation bookkeeping: transactions seen per origin (idempotent /send),
 * other servers' verify keys, and the outbound queue per destination with
 * its retry state. */
#include "relay/store/store_int.h"

/* --- /send idempotence ------------------------------------------------------
 * Spec (server-server API, "Transactions"): a transaction is identified by
 * (origin, txnId); a retry with the same ID must get the same answer and
 * must not process the PDUs twice. The record is written in the same write
 * transaction as the PDUs it carried. */

static int txnid_key(struct mxr_store_txn *t, struct skey *k, const char *origin, const char *txn_id,
                     struct mxr_err *err)
{
    if (!origin || !txn_id)
        return st_fail(t, err, "M_UNKNOWN", "store: transaction without origin or txnId");
    skey_init(k);
    skey_str(k, origin);
    skey_raw(k, txn_id, strlen(txn_id));
    return st_key_ok(t, k, "origin + txnId", err);
}

int mxr_store_txnid_get(struct mxr_store_txn *t, const char *origin, const char *txn_id,
                        const char **response, size_t *len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || txnid_key(t, &k, origin, txn_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_ORIGINTXNID_RESPONSE, &k, &v, err);
    if (rc)
        return rc;
    if (v.mv_size < 8)
        return st_fail(t, err, "M_UNKNOWN", "store: transaction record malformed");
    *response = (const char *)v.mv_data + 8;
    *len = v.mv_size - 8;
    return 0;
}

int mxr_store_txnid_put(struct mxr_store_txn *t, const char *origin, const char *txn_id,
                        const char *response, size_t len, int64_t now_ms, struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || txnid_key(t, &k, origin, txn_id, err))
        return -1;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u64(&b, (uint64_t)now_ms);
    sbuf_raw(&b, response, len);
    int rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: out of memory")
                   : st_put(t, T_ORIGINTXNID_RESPONSE, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc;
}

int mxr_store_txnid_prune(struct mxr_store_txn *t, int64_t before_ms, size_t *removed,
                          struct mxr_err *err)
{
    size_t n = 0;
    if (removed)
        *removed = 0;
    if (st_ok_write(t, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_ORIGINTXNID_RESPONSE, &c, err))
        return -1;
    MDB_val k, v;
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    while (rc == 0) {
        if (v.mv_size >= 8 && (int64_t)be64_get(v.mv_data) < before_ms) {
            int drc = mdb_cursor_del(c, 0);
            if (drc) {
                rc = st_fail_mdb(t, drc, "origintxnid_response", err);
                break;
            }
            n++;
            rc = st_cget(t, c, &k, &v, MDB_NEXT, err);   /* after a delete: the record that followed */
            continue;
        }
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    if (removed)
        *removed = n;
    return rc < 0 ? -1 : 0;
}

/* --- server keys ---------------------------------------------------------------
 * Record: u8 format (1) | key[32] | u64 valid_until_ts | u64 expired_ts |
 * u64 fetched_ts. */

#define KEY_FORMAT 1
#define KEY_REC (1 + 32 + 24)

static int key_key(struct mxr_store_txn *t, struct skey *k, const char *server, const char *key_id,
                   struct mxr_err *err)
{
    if (!server || !key_id)
        return st_fail(t, err, "M_UNKNOWN", "store: server key without server or key ID");
    skey_init(k);
    skey_str(k, server);
    skey_raw(k, key_id, strlen(key_id));
    return st_key_ok(t, k, "server + key ID", err);
}

static int key_decode(struct mxr_store_txn *t, const MDB_val *v, struct mxr_store_server_key *out,
                      struct mxr_err *err)
{
    struct srd r = srd_make(v->mv_data, v->mv_size);
    bool bad = srd_u8(&r) != KEY_FORMAT;
    const uint8_t *key = srd_raw(&r, 32);
    out->valid_until_ts = (int64_t)srd_u64(&r);
    out->expired_ts = (int64_t)srd_u64(&r);
    out->fetched_ts = (int64_t)srd_u64(&r);
    if (bad || r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: server key record malformed");
    memcpy(out->key, key, 32);
    return 0;
}

int mxr_store_server_key_put(struct mxr_store_txn *t, const char *server, const char *key_id,
                             const struct mxr_store_server_key *k, struct mxr_err *err)
{
    struct skey key;
    if (st_ok_write(t, err) || key_key(t, &key, server, key_id, err))
        return -1;
    uint8_t b[KEY_REC];
    b[0] = KEY_FORMAT;
    memcpy(b + 1, k->key, 32);
    be64_put(b + 33, (uint64_t)k->valid_until_ts);
    be64_put(b + 41, (uint64_t)k->expired_ts);
    be64_put(b + 49, (uint64_t)k->fetched_ts);
    return st_put(t, T_SERVERKEYID_KEY, &key, b, sizeof b, 0, err);
}

int mxr_store_server_key_get(struct mxr_store_txn *t, const char *server, const char *key_id,
                             struct mxr_store_server_key *out, struct mxr_err *err)
{
    struct skey key;
    if (st_ok(t, err) || key_key(t, &key, server, key_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_SERVERKEYID_KEY, &key, &v, err);
    if (rc)
        return rc;
    return key_decode(t, &v, out, err);
}

int mxr_store_server_keys(struct mxr_store_txn *t, const char *server, mxr_store_server_key_cb cb,
                          void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    if (!server)
        return st_fail(t, err, "M_UNKNOWN", "store: server keys of a NULL server");
    struct skey prefix;
    skey_init(&prefix);
    skey_str(&prefix, server);
    if (st_key_ok(t, &prefix, "server", err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_SERVERKEYID_KEY, &c, err))
        return -1;
    MDB_val k = st_val(&prefix), v;
    char key_id[MXR_STORE_ID_MAX + 1];
    struct mxr_store_server_key sk;
    int rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    while (rc == 0 && st_prefix(&k, &prefix)) {
        if (!copy_str(key_id, sizeof key_id, (uint8_t *)k.mv_data + prefix.n, k.mv_size - prefix.n)) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: server key ID malformed");
            break;
        }
        if ((rc = key_decode(t, &v, &sk, err)))
            break;
        if (cb(arg, key_id, &sk))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

/* --- outbound queue ------------------------------------------------------------
 * Key: str8 destination + u64 sequence (global, so enqueue order is kept per
 * destination). Value: u8 kind + u64 short event ID (PDU) or the EDU JSON. */

static int dest_key(struct mxr_store_txn *t, struct skey *k, const char *dest, struct mxr_err *err)
{
    if (!dest || !*dest)
        return st_fail(t, err, "M_UNKNOWN", "store: queue without a destination");
    skey_init(k);
    skey_str(k, dest);
    return st_key_ok(t, k, "destination", err);
}

static int queue_put(struct mxr_store_txn *t, const char *dest, uint8_t kind, const void *p, size_t n,
                     struct mxr_err *err)
{
    struct skey k;
    uint64_t seq;
    if (dest_key(t, &k, dest, err) || st_next(t, META_NEXT_QUEUESEQ, &seq, err))
        return -1;
    skey_u64(&k, seq);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, kind);
    sbuf_raw(&b, p, n);
    int rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: out of memory")
                   : st_put(t, T_DESTSEQ_QUEUEITEM, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc;
}

int mxr_store_queue_pdu(struct mxr_store_txn *t, const char *dest, const char *event_id,
                        struct mxr_err *err)
{
    uint64_t sev;
    if (st_ok_write(t, err) || sid_event(t, event_id, true, &sev, err))
        return -1;
    uint8_t b[8];
    be64_put(b, sev);
    return queue_put(t, dest, MXR_STORE_QUEUE_PDU, b, 8, err);
}

int mxr_store_queue_edu(struct mxr_store_txn *t, const char *dest, const char *edu_json, size_t len,
                        struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    if (!edu_json || !len)
        return st_fail(t, err, "M_UNKNOWN", "store: empty EDU queued for %s", dest ? dest : "(null)");
    return queue_put(t, dest, MXR_STORE_QUEUE_EDU, edu_json, len, err);
}

int mxr_store_queue_peek(struct mxr_store_txn *t, const char *dest, size_t limit,
                         mxr_store_queue_cb cb, void *arg, struct mxr_err *err)
{
    struct skey prefix;
    if (st_ok(t, err) || dest_key(t, &prefix, dest, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_DESTSEQ_QUEUEITEM, &c, err))
        return -1;
    MDB_val k = st_val(&prefix), v;
    char id[MXR_STORE_ID_MAX + 1];
    int rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    for (size_t n = 0; rc == 0 && n < limit && st_prefix(&k, &prefix); n++) {
        const uint8_t *p = v.mv_data;
        if (k.mv_size != prefix.n + 8 || v.mv_size < 1 ||
            (p[0] == MXR_STORE_QUEUE_PDU && v.mv_size != 9) ||
            (p[0] != MXR_STORE_QUEUE_PDU && p[0] != MXR_STORE_QUEUE_EDU)) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: queue item malformed: store damaged");
            break;
        }
        uint64_t seq = be64_get((uint8_t *)k.mv_data + prefix.n);
        int stop;
        if (p[0] == MXR_STORE_QUEUE_PDU) {
            if (sid_event_str(t, be64_get(p + 1), id, err)) {
                rc = -1;
                break;
            }
            stop = cb(arg, seq, MXR_STORE_QUEUE_PDU, id, strlen(id));
        } else {
            stop = cb(arg, seq, MXR_STORE_QUEUE_EDU, (const char *)p + 1, v.mv_size - 1);
        }
        if (stop)
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_queue_ack(struct mxr_store_txn *t, const char *dest, uint64_t upto, struct mxr_err *err)
{
    struct skey prefix;
    if (st_ok_write(t, err) || dest_key(t, &prefix, dest, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_DESTSEQ_QUEUEITEM, &c, err))
        return -1;
    MDB_val k = st_val(&prefix), v;
    int rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    while (rc == 0 && st_prefix(&k, &prefix) && k.mv_size == prefix.n + 8 &&
           be64_get((uint8_t *)k.mv_data + prefix.n) <= upto) {
        int drc = mdb_cursor_del(c, 0);
        if (drc) {
            rc = st_fail_mdb(t, drc, "destseq_queueitem", err);
            break;
        }
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);   /* after a delete: the record that followed */
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_queue_destinations(struct mxr_store_txn *t, int (*cb)(void *arg, const char *dest),
                                 void *arg, struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, T_DESTSEQ_QUEUEITEM, &c, err))
        return -1;
    MDB_val k, v;
    char dest[MXR_STORE_ID_MAX + 1];
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    while (rc == 0) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size < 1 || k.mv_size != 1u + p[0] + 8 || !copy_str(dest, sizeof dest, p + 1, p[0])) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: queue key malformed: store damaged");
            break;
        }
        if (cb(arg, dest))
            break;
        /* Skip the rest of this destination: seek past its highest sequence. */
        struct skey next;
        skey_init(&next);
        skey_str(&next, dest);
        skey_u64(&next, UINT64_MAX);
        MDB_val nk = st_val(&next);
        rc = st_cget(t, c, &nk, &v, MDB_SET_RANGE, err);
        if (rc == 0 && nk.mv_size == next.n && memcmp(nk.mv_data, next.b, next.n) == 0)
            rc = st_cget(t, c, &nk, &v, MDB_NEXT, err);
        k = nk;
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

/* --- retry state --------------------------------------------------------------
 * Record: u32 failures | u64 last_failure_ts | u64 next_attempt_ts. */

int mxr_store_retry_get(struct mxr_store_txn *t, const char *dest, struct mxr_store_retry *out,
                        struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    struct skey k;
    if (st_ok(t, err) || dest_key(t, &k, dest, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_DEST_RETRY, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    out->failures = srd_u32(&r);
    out->last_failure_ts = (int64_t)srd_u64(&r);
    out->next_attempt_ts = (int64_t)srd_u64(&r);
    if (r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: retry record of %s malformed", dest);
    return 0;
}

int mxr_store_retry_set(struct mxr_store_txn *t, const char *dest, const struct mxr_store_retry *r,
                        struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || dest_key(t, &k, dest, err))
        return -1;
    if (!r->failures)
        return st_del(t, T_DEST_RETRY, &k, NULL, 0, err) < 0 ? -1 : 0;
    uint8_t b[20];
    be32_put(b, r->failures);
    be64_put(b + 4, (uint64_t)r->last_failure_ts);
    be64_put(b + 12, (uint64_t)r->next_attempt_ts);
    return st_put(t, T_DEST_RETRY, &k, b, sizeof b, 0, err);
}
