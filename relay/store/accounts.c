/* Homeserver data of local users (relay/store/accounts.h): accounts,
 * devices and access-token hashes, profiles, filters, client transaction IDs,
 * account data and aliases. Record layouts are given above each section;
 * every record starts with a format byte where it may grow. */
#include "relay/store/accounts.h"

#include <sodium.h>
#include <stdio.h>

#include "relay/store/e2ee.h"
#include "relay/store/edus.h"
#include "relay/store/store_int.h"

static int user_ok(struct mxr_store_txn *t, const char *user_id, struct mxr_err *err)
{
    if (!user_id || !user_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: account call without a user ID");
    return 0;
}

/* Moves a cursor to the first key with prefix p; NOT_FOUND when none. */
static int seek_prefix(struct mxr_store_txn *t, MDB_cursor *c, const struct skey *p, MDB_val *k, MDB_val *v,
                       struct mxr_err *err)
{
    *k = st_val(p);
    int rc = st_cget(t, c, k, v, MDB_SET_RANGE, err);
    if (rc == 0 && !st_prefix(k, p))
        return MXR_STORE_NOT_FOUND;
    return rc;
}

/* --- accounts ----------------------------------------------------------------
 * userid_account: user ID -> u8 format (1) | u32 flags | u64 created_ts |
 * str16 password hash. */

#define ACCOUNT_FORMAT 1

static int account_encode(struct mxr_store_txn *t, const struct mxr_store_account *a, struct sbuf *b,
                          struct mxr_err *err)
{
    sbuf_init(b);
    sbuf_u8(b, ACCOUNT_FORMAT);
    sbuf_u32(b, a->flags);
    sbuf_u64(b, (uint64_t)a->created_ts);
    sbuf_str16(b, a->password_hash);
    if (b->oom) {
        sbuf_free(b);
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory encoding an account");
    }
    return 0;
}

int mxr_store_account_get(struct mxr_store_txn *t, const char *user_id, struct mxr_store_account *out,
                          struct mxr_err *err)
{
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_raw(&k, user_id, strlen(user_id));
    if (st_key_ok(t, &k, "user ID", err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERID_ACCOUNT, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    bool bad = srd_u8(&r) != ACCOUNT_FORMAT;
    out->flags = srd_u32(&r);
    out->created_ts = (int64_t)srd_u64(&r);
    srd_str16(&r, out->password_hash, sizeof out->password_hash);
    if (bad || r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: account record of %s malformed", user_id);
    return 0;
}

static int account_put(struct mxr_store_txn *t, const char *user_id, const struct mxr_store_account *a,
                       unsigned flags, struct mxr_err *err)
{
    if (st_ok_write(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_raw(&k, user_id, strlen(user_id));
    struct sbuf b;
    if (account_encode(t, a, &b, err))
        return -1;
    int rc = st_put(t, T_USERID_ACCOUNT, &k, b.p, b.n, flags, err);
    sbuf_free(&b);
    return rc;
}

int mxr_store_account_create(struct mxr_store_txn *t, const char *user_id, const struct mxr_store_account *a,
                             bool *created, struct mxr_err *err)
{
    *created = false;
    int rc = account_put(t, user_id, a, MDB_NOOVERWRITE, err);
    if (rc < 0)
        return -1;
    *created = rc == 0;
    return 0;
}

int mxr_store_account_set(struct mxr_store_txn *t, const char *user_id, const struct mxr_store_account *a,
                          struct mxr_err *err)
{
    return account_put(t, user_id, a, 0, err) < 0 ? -1 : 0;
}

/* --- devices and tokens -------------------------------------------------------
 * userdeviceid_device: str8 user + device ID -> u8 format (1) | u8 bits
 * (1 display name, 2 token) | token hash[32] | u64 last_seen_ts |
 * str8 last_seen_ip | str8 display name.
 * tokenhash_userdevice: token hash -> str8 user + str8 device. */

#define DEVICE_FORMAT 1
#define DEV_HAS_NAME 1u
#define DEV_HAS_TOKEN 2u

static int device_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *device_id,
                      struct mxr_err *err)
{
    if (user_ok(t, user_id, err))
        return -1;
    if (!device_id || !device_id[0] || strlen(device_id) > MXR_STORE_DEVICE_ID_MAX)
        return st_fail(t, err, "M_INVALID_PARAM", "store: device ID empty or over %d bytes",
                       MXR_STORE_DEVICE_ID_MAX);
    skey_init(k);
    skey_str(k, user_id);
    skey_raw(k, device_id, strlen(device_id));
    return st_key_ok(t, k, "user + device ID", err);
}

static int device_decode(struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_store_device *d,
                         struct mxr_err *err)
{
    memset(d, 0, sizeof *d);
    struct srd kr = srd_make(k->mv_data, k->mv_size);
    size_t ul = srd_u8(&kr);
    srd_raw(&kr, ul);
    if (kr.bad || !copy_str(d->device_id, sizeof d->device_id, kr.p, kr.n))
        return st_fail(t, err, "M_UNKNOWN", "store: device key malformed");
    struct srd r = srd_make(v->mv_data, v->mv_size);
    bool bad = srd_u8(&r) != DEVICE_FORMAT;
    unsigned bits = srd_u8(&r);
    const uint8_t *h = srd_raw(&r, MXR_STORE_TOKEN_HASH);
    d->last_seen_ts = (int64_t)srd_u64(&r);
    srd_str8(&r, d->last_seen_ip, sizeof d->last_seen_ip);
    srd_str8(&r, d->display_name, sizeof d->display_name);
    if (bad || r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: device record of %s malformed", d->device_id);
    d->has_display_name = bits & DEV_HAS_NAME;
    d->has_token = bits & DEV_HAS_TOKEN;
    memcpy(d->token_hash, h, MXR_STORE_TOKEN_HASH);
    return 0;
}

static int device_put(struct mxr_store_txn *t, const char *user_id, const struct mxr_store_device *d,
                      struct mxr_err *err)
{
    struct skey k;
    if (device_key(t, &k, user_id, d->device_id, err))
        return -1;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, DEVICE_FORMAT);
    sbuf_u8(&b, (uint8_t)((d->has_display_name ? DEV_HAS_NAME : 0) | (d->has_token ? DEV_HAS_TOKEN : 0)));
    sbuf_raw(&b, d->token_hash, MXR_STORE_TOKEN_HASH);
    sbuf_u64(&b, (uint64_t)d->last_seen_ts);
    sbuf_str8(&b, d->last_seen_ip);
    sbuf_str8(&b, d->has_display_name ? d->display_name : "");
    int rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: device record too large")
                   : st_put(t, T_USERDEVICEID_DEVICE, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc;
}

int mxr_store_device_get(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                         struct mxr_store_device *out, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || device_key(t, &k, user_id, device_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERDEVICEID_DEVICE, &k, &v, err);
    if (rc)
        return rc;
    MDB_val kv = st_val(&k);
    return device_decode(t, &kv, &v, out, err);
}

static int token_key(struct skey *k, const uint8_t hash[MXR_STORE_TOKEN_HASH])
{
    skey_init(k);
    skey_raw(k, hash, MXR_STORE_TOKEN_HASH);
    return 0;
}

static int token_revoke(struct mxr_store_txn *t, const struct mxr_store_device *d, struct mxr_err *err)
{
    if (!d->has_token)
        return 0;
    struct skey k;
    token_key(&k, d->token_hash);
    return st_del(t, T_TOKENHASH_USERDEVICE, &k, NULL, 0, err) < 0 ? -1 : 0;
}

int mxr_store_device_login(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                           const char *display_name, const uint8_t token_hash[MXR_STORE_TOKEN_HASH],
                           int64_t now_ms, const char *ip, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct mxr_store_device d;
    int rc = mxr_store_device_get(t, user_id, device_id, &d, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND) {
        memset(&d, 0, sizeof d);
        snprintf(d.device_id, sizeof d.device_id, "%s", device_id);
    } else if (token_revoke(t, &d, err)) {
        return -1;
    }
    if (display_name) {
        if (strlen(display_name) > MXR_STORE_ID_MAX)
            return st_fail(t, err, "M_INVALID_PARAM", "store: device display name over %d bytes", MXR_STORE_ID_MAX);
        d.has_display_name = true;
        snprintf(d.display_name, sizeof d.display_name, "%s", display_name);
    }
    d.has_token = true;
    memcpy(d.token_hash, token_hash, MXR_STORE_TOKEN_HASH);
    d.last_seen_ts = now_ms;
    snprintf(d.last_seen_ip, sizeof d.last_seen_ip, "%s", ip ? ip : "");
    if (device_put(t, user_id, &d, err))
        return -1;
    struct skey k;
    token_key(&k, token_hash);
    struct sbuf b;
    sbuf_init(&b);
    sbuf_str8(&b, user_id);
    sbuf_str8(&b, device_id);
    rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: token record too large")
               : st_put(t, T_TOKENHASH_USERDEVICE, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc;
}

int mxr_store_device_set_name(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                              const char *display_name, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct mxr_store_device d;
    int rc = mxr_store_device_get(t, user_id, device_id, &d, err);
    if (rc)
        return rc;
    if (display_name && strlen(display_name) > MXR_STORE_ID_MAX)
        return st_fail(t, err, "M_INVALID_PARAM", "store: device display name over %d bytes", MXR_STORE_ID_MAX);
    d.has_display_name = display_name != NULL;
    snprintf(d.display_name, sizeof d.display_name, "%s", display_name ? display_name : "");
    return device_put(t, user_id, &d, err);
}

int mxr_store_device_delete(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                            struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct mxr_store_device d;
    int rc = mxr_store_device_get(t, user_id, device_id, &d, err);
    if (rc)
        return rc;
    /* its E2EE keys go with it (and the user moves on the device-list stream),
     * and its undelivered to-device messages */
    if (token_revoke(t, &d, err) || mxr_store_e2ee_device_delete(t, user_id, device_id, err) ||
        mxr_store_todevice_clear(t, user_id, device_id, err))
        return -1;
    struct skey k;
    if (device_key(t, &k, user_id, device_id, err))
        return -1;
    return st_del(t, T_USERDEVICEID_DEVICE, &k, NULL, 0, err) < 0 ? -1 : 0;
}

int mxr_store_devices(struct mxr_store_txn *t, const char *user_id, mxr_store_device_cb cb, void *arg,
                      struct mxr_err *err)
{
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey p;
    skey_init(&p);
    skey_str(&p, user_id);
    if (st_key_ok(t, &p, "user ID", err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_USERDEVICEID_DEVICE, &c, err))
        return -1;
    MDB_val k, v;
    int rc = seek_prefix(t, c, &p, &k, &v, err);
    while (rc == 0) {
        struct mxr_store_device d;
        if (device_decode(t, &k, &v, &d, err)) {
            rc = -1;
            break;
        }
        if (cb(arg, &d))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
        if (rc == 0 && !st_prefix(&k, &p))
            break;
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_token_lookup(struct mxr_store_txn *t, const uint8_t token_hash[MXR_STORE_TOKEN_HASH],
                           char user_id[MXR_STORE_ID_MAX + 1], char device_id[MXR_STORE_DEVICE_ID_MAX + 1],
                           struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    struct skey k;
    token_key(&k, token_hash);
    MDB_val v;
    int rc = st_get(t, T_TOKENHASH_USERDEVICE, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    srd_str8(&r, user_id, MXR_STORE_ID_MAX + 1);
    srd_str8(&r, device_id, MXR_STORE_DEVICE_ID_MAX + 1);
    if (r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: token record malformed");
    return 0;
}

/* --- profiles: user ID -> JSON object text -------------------------------- */

int mxr_store_profile_get(struct mxr_store_txn *t, const char *user_id, const char **json, size_t *len,
                          struct mxr_err *err)
{
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_raw(&k, user_id, strlen(user_id));
    MDB_val v;
    int rc = st_key_ok(t, &k, "user ID", err) ? -1 : st_get(t, T_USERID_PROFILE, &k, &v, err);
    if (rc)
        return rc;
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int mxr_store_profile_put(struct mxr_store_txn *t, const char *user_id, const char *json, size_t len,
                          struct mxr_err *err)
{
    if (st_ok_write(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_raw(&k, user_id, strlen(user_id));
    return st_put(t, T_USERID_PROFILE, &k, json, len, 0, err) < 0 ? -1 : 0;
}

/* --- filters: str8 user + u64 ID -> filter JSON ------------------------------- */

static void filter_key(struct skey *k, const char *user_id, uint64_t id)
{
    skey_init(k);
    skey_str(k, user_id);
    skey_u64(k, id);
}

int mxr_store_filter_add(struct mxr_store_txn *t, const char *user_id, const char *json, size_t len,
                         uint64_t *filter_id, struct mxr_err *err)
{
    if (st_ok_write(t, err) || user_ok(t, user_id, err))
        return -1;
    uint64_t id;
    if (st_next(t, META_NEXT_FILTER, &id, err))
        return -1;
    struct skey k;
    filter_key(&k, user_id, id);
    if (st_put(t, T_USERFILTERID_FILTER, &k, json, len, 0, err) < 0)
        return -1;
    *filter_id = id;
    return 0;
}

int mxr_store_filter_get(struct mxr_store_txn *t, const char *user_id, uint64_t filter_id, const char **json,
                         size_t *len, struct mxr_err *err)
{
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey k;
    filter_key(&k, user_id, filter_id);
    MDB_val v;
    int rc = st_key_ok(t, &k, "user ID", err) ? -1 : st_get(t, T_USERFILTERID_FILTER, &k, &v, err);
    if (rc)
        return rc;
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

/* --- client transaction IDs ---------------------------------------------------
 * userdevicetxn_response: str8 user + str8 device + SHA-256(scope NUL txn)
 * -> the response. Hashing keeps the key bounded whatever the client's
 * transaction ID. eventid_clienttxn: event ID -> str8 user + str8 device +
 * str16 txn ID. */

static int client_txn_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *device_id,
                          const char *scope, const char *txn_id, struct mxr_err *err)
{
    if (user_ok(t, user_id, err))
        return -1;
    if (!device_id || !scope || !txn_id)
        return st_fail(t, err, "M_UNKNOWN", "store: client transaction without device, scope or ID");
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)scope, strlen(scope) + 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)txn_id, strlen(txn_id));
    crypto_hash_sha256_final(&st, h);
    skey_init(k);
    skey_str(k, user_id);
    skey_str(k, device_id);
    skey_raw(k, h, sizeof h);
    return st_key_ok(t, k, "user + device + transaction", err);
}

int mxr_store_client_txn_get(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                             const char *scope, const char *txn_id, const char **response, size_t *len,
                             struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || client_txn_key(t, &k, user_id, device_id, scope, txn_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERDEVICETXN_RESPONSE, &k, &v, err);
    if (rc)
        return rc;
    *response = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int mxr_store_client_txn_put(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                             const char *scope, const char *txn_id, const char *response, size_t len,
                             struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || client_txn_key(t, &k, user_id, device_id, scope, txn_id, err))
        return -1;
    return st_put(t, T_USERDEVICETXN_RESPONSE, &k, response, len, 0, err) < 0 ? -1 : 0;
}

static int event_key(struct mxr_store_txn *t, struct skey *k, const char *event_id, struct mxr_err *err)
{
    if (!event_id || !event_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: no event ID");
    skey_init(k);
    skey_raw(k, event_id, strlen(event_id));
    return st_key_ok(t, k, "event ID", err);
}

int mxr_store_event_txn_put(struct mxr_store_txn *t, const char *event_id, const char *user_id,
                            const char *device_id, const char *txn_id, struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || event_key(t, &k, event_id, err))
        return -1;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_str8(&b, user_id);
    sbuf_str8(&b, device_id);
    sbuf_str16(&b, txn_id);
    int rc = b.oom ? st_fail(t, err, "M_INVALID_PARAM", "store: transaction record too large")
                   : st_put(t, T_EVENTID_CLIENTTXN, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc < 0 ? -1 : 0;
}

int mxr_store_event_txn_get(struct mxr_store_txn *t, const char *event_id, char user_id[MXR_STORE_ID_MAX + 1],
                            char device_id[MXR_STORE_DEVICE_ID_MAX + 1], char txn_id[MXR_STORE_ID_MAX + 1],
                            struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || event_key(t, &k, event_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_EVENTID_CLIENTTXN, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    srd_str8(&r, user_id, MXR_STORE_ID_MAX + 1);
    srd_str8(&r, device_id, MXR_STORE_DEVICE_ID_MAX + 1);
    srd_str16(&r, txn_id, MXR_STORE_ID_MAX + 1);
    if (r.bad || r.n)   /* a txn ID over 255 bytes: not worth echoing */
        txn_id[0] = '\0';
    return 0;
}

/* --- account data ------------------------------------------------------------
 * userroomtype_accountdata: str8 user + str8 room ("" global) + type ->
 * u64 stream | content JSON. */

static int ad_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *room_id,
                  const char *type, struct mxr_err *err)
{
    if (user_ok(t, user_id, err))
        return -1;
    if (!type || !type[0])
        return st_fail(t, err, "M_UNKNOWN", "store: account data without a type");
    skey_init(k);
    skey_str(k, user_id);
    skey_str(k, room_id ? room_id : "");
    skey_raw(k, type, strlen(type));
    return st_key_ok(t, k, "user + room + account data type", err);
}

int mxr_store_account_data_put(struct mxr_store_txn *t, const char *user_id, const char *room_id,
                               const char *type, const char *json, size_t len, uint64_t *stream,
                               struct mxr_err *err)
{
    struct skey k;
    uint64_t pos;
    if (st_ok_write(t, err) || ad_key(t, &k, user_id, room_id, type, err) ||
        st_next(t, META_NEXT_ACCOUNTDATA, &pos, err))
        return -1;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u64(&b, pos);
    sbuf_raw(&b, json, len);
    int rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: out of memory")
                   : st_put(t, T_USERROOMTYPE_ACCOUNTDATA, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    if (rc < 0)
        return -1;
    if (stream)
        *stream = pos;
    return 0;
}

int mxr_store_account_data_get(struct mxr_store_txn *t, const char *user_id, const char *room_id,
                               const char *type, const char **json, size_t *len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || ad_key(t, &k, user_id, room_id, type, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERROOMTYPE_ACCOUNTDATA, &k, &v, err);
    if (rc)
        return rc;
    if (v.mv_size < 8)
        return st_fail(t, err, "M_UNKNOWN", "store: account data record malformed");
    *json = (const char *)v.mv_data + 8;
    *len = v.mv_size - 8;
    return 0;
}

int mxr_store_account_data_since(struct mxr_store_txn *t, const char *user_id, uint64_t since,
                                 mxr_store_account_data_cb cb, void *arg, struct mxr_err *err)
{
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    struct skey p;
    skey_init(&p);
    skey_str(&p, user_id);
    if (st_key_ok(t, &p, "user ID", err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_USERROOMTYPE_ACCOUNTDATA, &c, err))
        return -1;
    MDB_val k, v;
    int rc = seek_prefix(t, c, &p, &k, &v, err);
    while (rc == 0) {
        struct srd r = srd_make((const uint8_t *)k.mv_data + p.n, k.mv_size - p.n);
        char room[MXR_STORE_ID_MAX + 1], type[MXR_STORE_ID_MAX + 1];
        srd_str8(&r, room, sizeof room);
        if (r.bad || v.mv_size < 8 || !copy_str(type, sizeof type, r.p, r.n)) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: account data record malformed");
            break;
        }
        uint64_t pos = be64_get(v.mv_data);
        if (pos > since && cb(arg, room, type, (const char *)v.mv_data + 8, v.mv_size - 8, pos))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
        if (rc == 0 && !st_prefix(&k, &p))
            break;
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_account_data_head(struct mxr_store_txn *t, uint64_t *out, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    return st_counter(t, META_NEXT_ACCOUNTDATA, out, err);
}

/* --- aliases: alias -> room ID; room ID -> alias (DUPSORT) --------------------- */

int mxr_store_alias_create(struct mxr_store_txn *t, const char *alias, const char *room_id, bool *created,
                           struct mxr_err *err)
{
    *created = false;
    if (st_ok_write(t, err))
        return -1;
    if (!alias || !room_id || !alias[0] || !room_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: alias without alias or room ID");
    struct skey k, rk;
    skey_init(&k);
    skey_raw(&k, alias, strlen(alias));
    skey_init(&rk);
    skey_raw(&rk, room_id, strlen(room_id));
    int rc = st_put(t, T_ALIAS_ROOMID, &k, room_id, strlen(room_id), MDB_NOOVERWRITE, err);
    if (rc < 0)
        return -1;
    if (rc == ST_EXISTS)
        return 0;
    if (st_put(t, T_ROOMID_ALIASES, &rk, alias, strlen(alias), MDB_NODUPDATA, err) < 0)
        return -1;
    *created = true;
    return 0;
}

int mxr_store_alias_get(struct mxr_store_txn *t, const char *alias, char room_id[MXR_STORE_ID_MAX + 1],
                        struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    if (!alias || !alias[0])
        return st_fail(t, err, "M_UNKNOWN", "store: empty alias");
    struct skey k;
    skey_init(&k);
    skey_raw(&k, alias, strlen(alias));
    MDB_val v;
    int rc = st_key_ok(t, &k, "alias", err) ? -1 : st_get(t, T_ALIAS_ROOMID, &k, &v, err);
    if (rc)
        return rc;
    if (!copy_str(room_id, MXR_STORE_ID_MAX + 1, v.mv_data, v.mv_size))
        return st_fail(t, err, "M_UNKNOWN", "store: alias record malformed");
    return 0;
}

/* --- published rooms: room ID -> u64 publication time ------------------------- */

static int room_key(struct mxr_store_txn *t, struct skey *k, const char *room_id, struct mxr_err *err)
{
    if (!room_id || !room_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: no room ID");
    skey_init(k);
    skey_raw(k, room_id, strlen(room_id));
    return st_key_ok(t, k, "room ID", err);
}

int mxr_store_room_publish(struct mxr_store_txn *t, const char *room_id, bool published, int64_t now_ms,
                           struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || room_key(t, &k, room_id, err))
        return -1;
    if (!published)
        return st_del(t, T_ROOMID_PUBLISHED, &k, NULL, 0, err) < 0 ? -1 : 0;
    uint8_t b[8];
    be64_put(b, (uint64_t)now_ms);
    return st_put(t, T_ROOMID_PUBLISHED, &k, b, sizeof b, MDB_NOOVERWRITE, err) < 0 ? -1 : 0;
}

int mxr_store_room_published(struct mxr_store_txn *t, const char *room_id, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || room_key(t, &k, room_id, err))
        return -1;
    MDB_val v;
    return st_get(t, T_ROOMID_PUBLISHED, &k, &v, err);
}

int mxr_store_published_rooms(struct mxr_store_txn *t, int (*cb)(void *arg, const char *room_id), void *arg,
                              struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_ROOMID_PUBLISHED, &c, err))
        return -1;
    MDB_val k, v;
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    while (rc == 0) {
        char room[MXR_STORE_ID_MAX + 1];
        if (!copy_str(room, sizeof room, k.mv_data, k.mv_size)) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: published room record malformed");
            break;
        }
        if (cb(arg, room))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}
