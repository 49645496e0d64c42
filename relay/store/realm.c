/* The PIN realm's tables (relay/store/realm.h). Layouts:
 *   realm_meta        ascii name -> raw bytes
 *   realmuser_record  user_key (32) -> sealed record (opaque here)
 *   realmsession_user SHA-256-like hash (32) -> u8 format | u64 expires_ms | str8 user ID
 *   openidtoken_user  same layout as realmsession_user
 *   realmaudit_event  user_key (32) | be64 ts_ms | be32 seq -> u8 type | be16 count
 */
#include "relay/store/realm.h"

#include <sodium.h>
#include <stdlib.h>

#include "relay/store/store_int.h"

#define TOKEN_FORMAT 1

static enum store_table token_table(enum mxr_store_realm_tokens which)
{
    return which == MXR_STORE_REALM_SESSIONS ? T_REALMSESSION_USER : T_OPENIDTOKEN_USER;
}

int mxr_store_realm_meta_get(struct mxr_store_txn *t, const char *name, uint8_t *out, size_t len,
                             struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_raw(&k, name, strlen(name));
    MDB_val v;
    int rc = st_get(t, T_REALM_META, &k, &v, err);
    if (rc)
        return rc;
    if (v.mv_size != len)
        return st_fail(t, err, "M_UNKNOWN", "store: realm meta %s is %zu bytes, not %zu", name, v.mv_size, len);
    memcpy(out, v.mv_data, len);
    return 0;
}

int mxr_store_realm_meta_put(struct mxr_store_txn *t, const char *name, const uint8_t *val, size_t len,
                             struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    if (len > MXR_STORE_REALM_META_MAX)
        return st_fail(t, err, "M_UNKNOWN", "store: realm meta %s of %zu bytes is too long", name, len);
    struct skey k;
    skey_init(&k);
    skey_raw(&k, name, strlen(name));
    return st_put(t, T_REALM_META, &k, val, len, 0, err);
}

static void user_key_skey(struct skey *k, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES])
{
    skey_init(k);
    skey_raw(k, user_key, MXR_STORE_REALM_KEY_BYTES);
}

int mxr_store_realm_record_get(struct mxr_store_txn *t, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               uint8_t *out, size_t cap, size_t *len, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    struct skey k;
    user_key_skey(&k, user_key);
    MDB_val v;
    int rc = st_get(t, T_REALMUSER_RECORD, &k, &v, err);
    if (rc)
        return rc;
    if (v.mv_size > cap)
        return st_fail(t, err, "M_UNKNOWN", "store: realm record of %zu bytes exceeds %zu", v.mv_size, cap);
    memcpy(out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int mxr_store_realm_record_put(struct mxr_store_txn *t, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               const uint8_t *val, size_t len, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    if (len > MXR_STORE_REALM_RECORD_MAX)
        return st_fail(t, err, "M_UNKNOWN", "store: realm record of %zu bytes is too long", len);
    struct skey k;
    user_key_skey(&k, user_key);
    return st_put(t, T_REALMUSER_RECORD, &k, val, len, 0, err);
}

int mxr_store_realm_record_del(struct mxr_store_txn *t, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct skey k;
    user_key_skey(&k, user_key);
    return st_del(t, T_REALMUSER_RECORD, &k, NULL, 0, err);
}

int mxr_store_realm_record_count(struct mxr_store_txn *t, size_t *out, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dbi[T_REALMUSER_RECORD], &st);
    if (rc)
        return st_fail_mdb(t, rc, "realmuser_record", err);
    *out = st.ms_entries;
    return 0;
}

int mxr_store_realm_token_put(struct mxr_store_txn *t, enum mxr_store_realm_tokens which,
                              const uint8_t hash[MXR_STORE_REALM_KEY_BYTES], int64_t expires_ms,
                              const char *user_id, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct skey k;
    user_key_skey(&k, hash);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, TOKEN_FORMAT);
    sbuf_u64(&b, (uint64_t)expires_ms);
    sbuf_str8(&b, user_id);
    if (b.oom) {
        sbuf_free(&b);
        return st_fail(t, err, "M_UNKNOWN", "store: token record for a user ID over 255 bytes");
    }
    int rc = st_put(t, token_table(which), &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc;
}

int mxr_store_realm_token_get(struct mxr_store_txn *t, enum mxr_store_realm_tokens which,
                              const uint8_t hash[MXR_STORE_REALM_KEY_BYTES], int64_t *expires_ms,
                              char user_id[MXR_STORE_ID_MAX + 1], struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    struct skey k;
    user_key_skey(&k, hash);
    MDB_val v;
    int rc = st_get(t, token_table(which), &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    bool bad = srd_u8(&r) != TOKEN_FORMAT;
    *expires_ms = (int64_t)srd_u64(&r);
    srd_str8(&r, user_id, MXR_STORE_ID_MAX + 1);
    if (bad || r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: %s record malformed", store_tables[token_table(which)].name);
    return 0;
}

int mxr_store_realm_token_sweep(struct mxr_store_txn *t, enum mxr_store_realm_tokens which, int64_t now_ms,
                                unsigned max, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    enum store_table tb = token_table(which);
    uint8_t start[MXR_STORE_REALM_KEY_BYTES];
    randombytes_buf(start, sizeof start);
    uint8_t (*dead)[MXR_STORE_REALM_KEY_BYTES] = calloc(max ? max : 1, sizeof *dead);
    if (!dead)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory sweeping tokens");
    MDB_cursor *c;
    if (st_cursor(t, tb, &c, err)) {
        free(dead);
        return -1;
    }
    MDB_val k = {.mv_size = sizeof start, .mv_data = start}, v;
    unsigned n = 0, seen = 0;
    int rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    if (rc == MXR_STORE_NOT_FOUND)
        rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    /* Look at a bounded window (4 x max) so a sweep stays cheap. */
    while (rc == 0 && n < max && seen < 4 * max) {
        seen++;
        if (k.mv_size == MXR_STORE_REALM_KEY_BYTES && v.mv_size >= 9 &&
            (int64_t)be64_get((const uint8_t *)v.mv_data + 1) < now_ms)
            memcpy(dead[n++], k.mv_data, MXR_STORE_REALM_KEY_BYTES);
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    if (rc < 0) {
        free(dead);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        struct skey dk;
        user_key_skey(&dk, dead[i]);
        if (st_del(t, tb, &dk, NULL, 0, err) < 0) {
            free(dead);
            return -1;
        }
    }
    free(dead);
    return 0;
}

/* --- audit ------------------------------------------------------------------- */

#define AUDIT_KEY_BYTES (MXR_STORE_REALM_KEY_BYTES + 8 + 4)

static void audit_skey(struct skey *k, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES], uint64_t ts, uint32_t seq)
{
    uint8_t b[AUDIT_KEY_BYTES];
    memcpy(b, user_key, MXR_STORE_REALM_KEY_BYTES);
    be64_put(b + MXR_STORE_REALM_KEY_BYTES, ts);
    be32_put(b + MXR_STORE_REALM_KEY_BYTES + 8, seq);
    skey_init(k);
    skey_raw(k, b, sizeof b);
}

/* Positions c on the user's first (first=true) or last audit key. */
static int audit_edge(struct mxr_store_txn *t, MDB_cursor *c, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                      bool first, MDB_val *k, MDB_val *v, struct mxr_err *err)
{
    struct skey p;
    audit_skey(&p, user_key, first ? 0 : UINT64_MAX, first ? 0 : UINT32_MAX);
    *k = st_val(&p);
    int rc = st_cget(t, c, k, v, MDB_SET_RANGE, err);
    if (first) {
        if (rc == 0 && memcmp(k->mv_data, user_key, MXR_STORE_REALM_KEY_BYTES) != 0)
            return MXR_STORE_NOT_FOUND;
        return rc;
    }
    /* The last key <= user_key|max: the one before the first key after it
     * (an exact match of the all-ones key is the user's own). */
    if (rc == 0 && k->mv_size == AUDIT_KEY_BYTES && memcmp(k->mv_data, p.b, AUDIT_KEY_BYTES) == 0)
        return 0;
    if (rc == MXR_STORE_NOT_FOUND)
        rc = st_cget(t, c, k, v, MDB_LAST, err);
    else if (rc == 0)
        rc = st_cget(t, c, k, v, MDB_PREV, err);
    if (rc == 0 && (k->mv_size != AUDIT_KEY_BYTES || memcmp(k->mv_data, user_key, MXR_STORE_REALM_KEY_BYTES) != 0))
        return MXR_STORE_NOT_FOUND;
    return rc;
}

int mxr_store_realm_audit_add(struct mxr_store_txn *t, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                              const struct mxr_store_realm_audit *ev, unsigned keep, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_REALMAUDIT_EVENT, &c, err))
        return -1;
    MDB_val k, v;
    uint64_t ts = ev->ts_ms < 0 ? 0 : (uint64_t)ev->ts_ms;
    uint32_t seq = 0;
    int rc = audit_edge(t, c, user_key, false, &k, &v, err);
    if (rc == 0) {
        /* Same millisecond, or a clock that stepped back: stay after the
         * last event so the order of the log is the order of the commits. */
        uint64_t lts = be64_get((const uint8_t *)k.mv_data + MXR_STORE_REALM_KEY_BYTES);
        uint32_t lseq = be32_get((const uint8_t *)k.mv_data + MXR_STORE_REALM_KEY_BYTES + 8);
        if (lts >= ts) {
            ts = lts;
            seq = lseq + 1;
        }
    }
    if (rc < 0) {
        mdb_cursor_close(c);
        return -1;
    }
    struct skey nk;
    audit_skey(&nk, user_key, ts, seq);
    uint8_t val[3] = {ev->type, (uint8_t)(ev->count >> 8), (uint8_t)ev->count};
    if (st_put(t, T_REALMAUDIT_EVENT, &nk, val, sizeof val, 0, err) < 0) {
        mdb_cursor_close(c);
        return -1;
    }
    /* Keep the newest `keep`: count the user's events, then delete the
     * oldest beyond that (normally one). Keys are copied before deleting. */
    size_t n = 0;
    rc = audit_edge(t, c, user_key, true, &k, &v, err);
    while (rc == 0 && k.mv_size == AUDIT_KEY_BYTES && memcmp(k.mv_data, user_key, MXR_STORE_REALM_KEY_BYTES) == 0) {
        n++;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    if (rc < 0 || n <= keep) {
        mdb_cursor_close(c);
        return rc < 0 ? -1 : 0;
    }
    size_t excess = n - keep;
    uint8_t (*old)[AUDIT_KEY_BYTES] = calloc(excess, sizeof *old);
    if (!old) {
        mdb_cursor_close(c);
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory pruning the realm audit log");
    }
    size_t got = 0;
    rc = audit_edge(t, c, user_key, true, &k, &v, err);
    while (rc == 0 && got < excess && k.mv_size == AUDIT_KEY_BYTES) {
        memcpy(old[got++], k.mv_data, AUDIT_KEY_BYTES);
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    for (size_t i = 0; rc >= 0 && i < got; i++) {
        struct skey dk;
        skey_init(&dk);
        skey_raw(&dk, old[i], AUDIT_KEY_BYTES);
        if (st_del(t, T_REALMAUDIT_EVENT, &dk, NULL, 0, err) < 0)
            rc = -1;
    }
    free(old);
    return rc < 0 ? -1 : 0;
}

int mxr_store_realm_audit_list(struct mxr_store_txn *t, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               int64_t since_ms, int (*cb)(void *arg, const struct mxr_store_realm_audit *ev),
                               void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_REALMAUDIT_EVENT, &c, err))
        return -1;
    struct skey p;
    audit_skey(&p, user_key, since_ms < 0 ? 0 : (uint64_t)since_ms, 0);
    MDB_val k = st_val(&p), v;
    int rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    while (rc == 0 && k.mv_size == AUDIT_KEY_BYTES && memcmp(k.mv_data, user_key, MXR_STORE_REALM_KEY_BYTES) == 0) {
        if (v.mv_size != 3) {
            mdb_cursor_close(c);
            return st_fail(t, err, "M_UNKNOWN", "store: realm audit record malformed");
        }
        const uint8_t *b = v.mv_data;
        struct mxr_store_realm_audit ev = {
            .ts_ms = (int64_t)be64_get((const uint8_t *)k.mv_data + MXR_STORE_REALM_KEY_BYTES),
            .type = b[0],
            .count = (uint16_t)(b[1] << 8 | b[2]),
        };
        if (cb(arg, &ev))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}
