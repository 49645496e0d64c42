/* Other servers' keys in the store (see keystore.h). Spec: server-server
 * API "Retrieving server keys", definitions/keys.yaml. */
#include "relay/federation/keystore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/keys.h"
#include "relay/store/store.h"

struct mxr_keystore {
    struct mxr_store *store;
    const struct mxr_log *log;
    struct mxr_keycache_ops ops;
    pthread_mutex_t mu;
    json_t *mem;   /* server -> {"response", "fetched_ts"} */
};

/* ---- rebuilding a response from the rows ------------------------------------------- */

struct rows {
    json_t *verify, *old;
    int64_t latest_fetch, valid_until;
    bool oom;
};

static json_t *key_object(const struct mxr_store_server_key *k)
{
    char b64[64];
    if (mxr_b64_encode(b64, sizeof b64, k->key, 32, MXR_B64_STD) < 0)
        return NULL;
    return json_pack("{s:s}", "key", b64);
}

/* First pass: the time of the latest fetch (its rows are the current keys). */
static int latest_cb(void *arg, const char *key_id, const struct mxr_store_server_key *k)
{
    (void)key_id;
    struct rows *r = arg;
    if (k->fetched_ts > r->latest_fetch)
        r->latest_fetch = k->fetched_ts;
    return 0;
}

static int sort_cb(void *arg, const char *key_id, const struct mxr_store_server_key *k)
{
    struct rows *r = arg;
    json_t *o = key_object(k);
    if (!o) {
        r->oom = true;
        return 1;
    }
    if (!k->expired_ts && k->fetched_ts == r->latest_fetch) {
        json_object_set_new(r->verify, key_id, o);
        if (k->valid_until_ts > r->valid_until)
            r->valid_until = k->valid_until_ts;
    } else {
        /* Listed as old, or a current key of an earlier answer that the
         * latest no longer lists: good for events until it expired. */
        int64_t expired = k->expired_ts ? k->expired_ts : k->valid_until_ts;
        json_object_set_new(o, "expired_ts", json_integer(expired));
        json_object_set_new(r->old, key_id, o);
    }
    return 0;
}

json_t *mxr_keystore_load(struct mxr_store *store, const char *server_name, int64_t *fetched_ts, struct mxr_err *err)
{
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(store, &txn, err) < 0)
        return NULL;
    struct rows r = { json_object(), json_object(), 0, 0, false };
    int rc = r.verify && r.old ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    if (rc == 0)
        rc = mxr_store_server_keys(txn, server_name, latest_cb, &r, err);
    if (rc == 0)
        rc = mxr_store_server_keys(txn, server_name, sort_cb, &r, err);
    mxr_store_read_end(txn);
    json_t *resp = NULL;
    if (rc == 0 && r.oom)
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
    else if (rc == 0 && (json_object_size(r.verify) || json_object_size(r.old))) {
        resp = json_pack("{s:s, s:I, s:O, s:O}", "server_name", server_name, "valid_until_ts",
                         (json_int_t)r.valid_until, "verify_keys", r.verify, "old_verify_keys", r.old);
        if (!resp)
            mxr_err_set(err, "M_UNKNOWN", "out of memory");
        else if (fetched_ts)
            *fetched_ts = r.latest_fetch;
    }
    json_decref(r.verify);
    json_decref(r.old);
    return resp;
}

/* ---- the cache operations ------------------------------------------------------------ */

static json_t *ks_get(void *ctx, const char *server_name, int64_t *fetched_ts)
{
    struct mxr_keystore *ks = ctx;
    pthread_mutex_lock(&ks->mu);
    json_t *e = json_object_get(ks->mem, server_name);
    json_t *resp = json_incref(json_object_get(e, "response"));
    if (resp && fetched_ts)
        *fetched_ts = json_integer_value(json_object_get(e, "fetched_ts"));
    pthread_mutex_unlock(&ks->mu);
    if (resp || !ks->store)
        return resp;
    struct mxr_err err = { 0 };
    int64_t fetched = 0;
    resp = mxr_keystore_load(ks->store, server_name, &fetched, &err);
    if (!resp) {
        if (err.msg[0] && ks->log)
            mxr_log(ks->log, MXR_LOG_WARN, NULL, "stored keys of %s unreadable: %s", server_name, err.msg);
        return NULL;
    }
    /* Kept in memory too: lookups come once per signature checked. A fetch
     * replaces it with the full response. */
    pthread_mutex_lock(&ks->mu);
    if (!json_object_get(ks->mem, server_name))
        json_object_set_new(ks->mem, server_name,
                            json_pack("{s:O, s:I}", "response", resp, "fetched_ts", (json_int_t)fetched));
    pthread_mutex_unlock(&ks->mu);
    if (fetched_ts)
        *fetched_ts = fetched;
    return resp;
}

struct put_arg {
    const char *server;
    const json_t *resp;
    int64_t fetched_ts;
};

static int put_map(struct mxr_store_txn *txn, const struct put_arg *a, const json_t *map, bool old,
                   struct mxr_err *err)
{
    int64_t until = json_integer_value(json_object_get(a->resp, "valid_until_ts"));
    const char *key_id;
    json_t *v;
    json_object_foreach((json_t *)map, key_id, v) {
        struct mxr_store_server_key k = { .fetched_ts = a->fetched_ts };
        const char *b64 = json_string_value(json_object_get(v, "key"));
        if (strncmp(key_id, "ed25519:", 8) || !b64 || mxr_key_decode_public(b64, k.key, NULL) < 0)
            continue;   /* other algorithms: nothing we can verify with */
        k.expired_ts = old ? json_integer_value(json_object_get(v, "expired_ts")) : 0;
        k.valid_until_ts = old ? k.expired_ts : until;
        if (mxr_store_server_key_put(txn, a->server, key_id, &k, err) < 0)
            return -1;
    }
    return 0;
}

static int put_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    const struct put_arg *a = arg;
    if (put_map(txn, a, json_object_get(a->resp, "verify_keys"), false, err) < 0)
        return -1;
    json_t *old = json_object_get(a->resp, "old_verify_keys");
    return json_is_object(old) ? put_map(txn, a, old, true, err) : 0;
}

static int ks_put(void *ctx, const char *server_name, json_t *response, int64_t fetched_ts, struct mxr_err *err)
{
    struct mxr_keystore *ks = ctx;
    json_t *e = json_pack("{s:O, s:I}", "response", response, "fetched_ts", (json_int_t)fetched_ts);
    if (!e)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    pthread_mutex_lock(&ks->mu);
    int rc = json_object_set_new(ks->mem, server_name, e);
    pthread_mutex_unlock(&ks->mu);
    if (rc < 0)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    if (!ks->store)
        return 0;
    struct put_arg a = { server_name, response, fetched_ts };
    struct mxr_err werr = { 0 };
    if (mxr_store_write(ks->store, put_write, &a, &werr) < 0 && ks->log)
        /* The keys are good and in memory: only their survival of a restart is lost. */
        mxr_log(ks->log, MXR_LOG_WARN, NULL, "keys of %s not stored: %s", server_name, werr.msg);
    return 0;
}

/* ---- life cycle ------------------------------------------------------------------------ */

struct mxr_keystore *mxr_keystore_new(struct mxr_store *store, const struct mxr_log *log, struct mxr_err *err)
{
    struct mxr_keystore *ks = calloc(1, sizeof *ks);
    if (!ks || !(ks->mem = json_object())) {
        free(ks);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    ks->store = store;
    ks->log = log;
    ks->ops = (struct mxr_keycache_ops){ ks_get, ks_put, ks };
    pthread_mutex_init(&ks->mu, NULL);
    return ks;
}

void mxr_keystore_free(struct mxr_keystore *ks)
{
    if (!ks)
        return;
    pthread_mutex_destroy(&ks->mu);
    json_decref(ks->mem);
    free(ks);
}

const struct mxr_keycache_ops *mxr_keystore_ops(struct mxr_keystore *ks)
{
    return ks ? &ks->ops : NULL;
}
