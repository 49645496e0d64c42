/* Other servers' keys: fetch, validate, cache.
 * Spec: server-server API "Retrieving server keys", definitions/keys.yaml. */
#include "relay/federation/keyring.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/sign.h"

struct mxr_keyring {
    struct mxr_keyring_deps deps;
    char *own_name;
    struct mxr_keycache_ops mem_ops;   /* used when deps.cache is NULL */
    json_t *mem;                       /* in-memory cache: server -> {"response", "fetched_ts"} */
    pthread_mutex_t mem_mu;
    /* Fetch bookkeeping: server -> {"ts": last attempt, "busy": true while fetching}. */
    json_t *fetches;
    pthread_mutex_t mu;
    pthread_cond_t done;
};

/* ---- the in-memory cache --------------------------------------------------- */

static json_t *mem_get(void *ctx, const char *server_name, int64_t *fetched_ts)
{
    struct mxr_keyring *kr = ctx;
    pthread_mutex_lock(&kr->mem_mu);
    json_t *e = json_object_get(kr->mem, server_name);
    json_t *resp = json_incref(json_object_get(e, "response"));
    if (resp && fetched_ts)
        *fetched_ts = json_integer_value(json_object_get(e, "fetched_ts"));
    pthread_mutex_unlock(&kr->mem_mu);
    return resp;
}

static int mem_put(void *ctx, const char *server_name, json_t *response, int64_t fetched_ts, struct mxr_err *err)
{
    struct mxr_keyring *kr = ctx;
    json_t *e = json_pack("{s:O, s:I}", "response", response, "fetched_ts", (json_int_t)fetched_ts);
    if (!e)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    pthread_mutex_lock(&kr->mem_mu);
    int rc = json_object_set_new(kr->mem, server_name, e);
    pthread_mutex_unlock(&kr->mem_mu);
    return rc == 0 ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
}

/* ---- life cycle ------------------------------------------------------------------ */

struct mxr_keyring *mxr_keyring_new(const struct mxr_keyring_deps *deps, struct mxr_err *err)
{
    struct mxr_keyring *kr = calloc(1, sizeof *kr);
    if (!kr || !deps || !deps->server_name || !deps->key) {
        free(kr);
        mxr_err_set(err, "M_UNKNOWN", kr ? "keyring needs our server name and key" : "out of memory");
        return NULL;
    }
    kr->deps = *deps;
    kr->own_name = strdup(deps->server_name);
    kr->mem = json_object();
    kr->fetches = json_object();
    if (!kr->own_name || !kr->mem || !kr->fetches) {
        mxr_keyring_free(kr);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    kr->deps.server_name = kr->own_name;
    kr->mem_ops = (struct mxr_keycache_ops){ mem_get, mem_put, kr };
    if (!kr->deps.cache)
        kr->deps.cache = &kr->mem_ops;
    pthread_mutex_init(&kr->mem_mu, NULL);
    pthread_mutex_init(&kr->mu, NULL);
    pthread_cond_init(&kr->done, NULL);
    return kr;
}

void mxr_keyring_free(struct mxr_keyring *kr)
{
    if (!kr)
        return;
    if (kr->mem && kr->fetches) {
        pthread_mutex_destroy(&kr->mem_mu);
        pthread_mutex_destroy(&kr->mu);
        pthread_cond_destroy(&kr->done);
    }
    json_decref(kr->mem);
    json_decref(kr->fetches);
    free(kr->own_name);
    free(kr);
}

static int64_t now_ms(const struct mxr_keyring *kr)
{
    return kr->deps.clock ? kr->deps.clock(kr->deps.clock_ctx) : 0;
}

/* ---- validation --------------------------------------------------------------------- */

/* Lookup over a response's own verify_keys, for its self-signature. */
static int own_verify_keys_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts,
                                  uint8_t pk[32])
{
    json_t *k = json_object_get(json_object_get(ctx, "verify_keys"), key_id);
    json_t *b64 = json_object_get(k, "key");
    return json_is_string(b64) && mxr_key_decode_public(json_string_value(b64), pk, NULL) == 0 ? 0 : -1;
}

static int check_key_map(const json_t *map, const char *field, bool old, struct mxr_err *err)
{
    const char *key_id;
    json_t *v;
    json_object_foreach((json_t *)map, key_id, v) {
        if (strncmp(key_id, "ed25519:", 8))
            continue;   /* other algorithms: not ours to judge */
        if (mxr_id_check_key_id(key_id, err) < 0)
            return mxr_err_prefix(err, "%s", field);
        json_t *key = json_object_get(v, "key");
        uint8_t pk[32];
        if (!json_is_object(v) || !json_is_string(key))
            return mxr_err_set(err, "M_BAD_JSON", "%s.%.100s: 'key' missing or not a string", field, key_id);
        if (mxr_key_decode_public(json_string_value(key), pk, err) < 0)
            return mxr_err_prefix(err, "%s.%.100s", field, key_id);
        if (old && !json_is_integer(json_object_get(v, "expired_ts")))
            return mxr_err_set(err, "M_BAD_JSON", "%s.%.100s: 'expired_ts' missing or not an integer", field,
                               key_id);
    }
    return 0;
}

int mxr_keyring_check_response(const json_t *resp, const char *server_name, struct mxr_err *err)
{
    if (!json_is_object(resp))
        return mxr_err_set(err, "M_BAD_JSON", "key response is not a JSON object");
    json_t *name = json_object_get(resp, "server_name");
    if (!json_is_string(name))
        return mxr_err_set(err, "M_BAD_JSON", "key response: 'server_name' missing or not a string");
    if (strcmp(json_string_value(name), server_name))
        return mxr_err_set(err, "M_FORBIDDEN", "key response is for '%.200s', not '%.200s'",
                           json_string_value(name), server_name);
    if (!json_is_integer(json_object_get(resp, "valid_until_ts")))
        return mxr_err_set(err, "M_BAD_JSON", "key response: 'valid_until_ts' missing or not an integer");
    json_t *vk = json_object_get(resp, "verify_keys"), *old = json_object_get(resp, "old_verify_keys");
    if (!json_is_object(vk))
        return mxr_err_set(err, "M_BAD_JSON", "key response: 'verify_keys' missing or not an object");
    if (old && !json_is_object(old))
        return mxr_err_set(err, "M_BAD_JSON", "key response: 'old_verify_keys' is not an object");
    if (check_key_map(vk, "verify_keys", false, err) < 0 || (old && check_key_map(old, "old_verify_keys", true, err) < 0))
        return -1;
    if (!json_is_object(json_object_get(resp, "signatures")))
        return mxr_err_set(err, "M_BAD_JSON", "key response: 'signatures' missing or not an object");
    struct mxr_verify_keys self = { own_verify_keys_lookup, (void *)resp };
    if (mxr_verify_json_keys(resp, server_name, &self, MXR_KEY_ANY_TIME, err) < 0)
        return mxr_err_prefix(err, "key response is not self-signed with its verify_keys");
    return 0;
}

/* ---- fetching ------------------------------------------------------------------------ */

/* Peers choose the origin names we fetch (X-Matrix, notary queries): keep
 * the bookkeeping bounded by forgetting attempts that no longer throttle. */
#define MAX_FETCH_RECORDS 4096

static void prune_fetch_records(struct mxr_keyring *kr, int64_t now)
{
    const char *name;
    json_t *st;
    void *iter_tmp;
    json_object_foreach_safe(kr->fetches, iter_tmp, name, st) {
        if (!json_is_true(json_object_get(st, "busy")) &&
            now - json_integer_value(json_object_get(st, "ts")) >= MXR_KEY_REFETCH_MIN_MS)
            json_object_del(kr->fetches, name);
    }
}

/* Fetches, validates and stores server's keys; at most one fetch per server
 * at a time (later callers wait for it) and none within
 * MXR_KEY_REFETCH_MIN_MS of the previous attempt. New reference or NULL. */
static json_t *fetch(struct mxr_keyring *kr, const char *server, struct mxr_err *err)
{
    if (!kr->deps.fetch) {
        mxr_err_set(err, "M_UNKNOWN", "no outbound client to fetch the keys of %.200s", server);
        return NULL;
    }
    pthread_mutex_lock(&kr->mu);
    json_t *st;
    bool waited = false;
    while ((st = json_object_get(kr->fetches, server)) && json_is_true(json_object_get(st, "busy"))) {
        pthread_cond_wait(&kr->done, &kr->mu);
        waited = true;
    }
    int64_t now = now_ms(kr);
    if (waited || (st && now - json_integer_value(json_object_get(st, "ts")) < MXR_KEY_REFETCH_MIN_MS)) {
        pthread_mutex_unlock(&kr->mu);
        /* Someone just fetched (or failed to): use what they stored. */
        int64_t fetched;
        json_t *resp = kr->deps.cache->get(kr->deps.cache->ctx, server, &fetched);
        if (!resp || fetched < now - MXR_KEY_REFETCH_MIN_MS) {
            json_decref(resp);
            mxr_err_set(err, "M_UNKNOWN", "keys of %.200s were requested less than %lld s ago without success; not asking again yet",
                        server, MXR_KEY_REFETCH_MIN_MS / 1000);
            return NULL;
        }
        return resp;
    }
    if (json_object_size(kr->fetches) >= MAX_FETCH_RECORDS)
        prune_fetch_records(kr, now);
    json_object_set_new(kr->fetches, server, json_pack("{s:I, s:b}", "ts", (json_int_t)now, "busy", 1));
    pthread_mutex_unlock(&kr->mu);

    json_t *resp = kr->deps.fetch(kr->deps.fetch_ctx, server, err);
    if (resp && mxr_keyring_check_response(resp, server, err) < 0) {
        json_decref(resp);
        resp = NULL;
    }
    if (resp && kr->deps.cache->put(kr->deps.cache->ctx, server, resp, now, err) < 0) {
        json_decref(resp);
        resp = NULL;
    }
    if (!resp)
        mxr_err_prefix(err, "fetching the keys of %.200s", server);

    pthread_mutex_lock(&kr->mu);
    json_object_set_new(kr->fetches, server, json_pack("{s:I, s:b}", "ts", (json_int_t)now, "busy", 0));
    pthread_cond_broadcast(&kr->done);
    pthread_mutex_unlock(&kr->mu);
    return resp;
}

/* ---- lookups -------------------------------------------------------------------------- */

/* valid_until_ts capped at fetched_ts + 7 days (keys.yaml). */
static int64_t effective_until(const json_t *resp, int64_t fetched_ts)
{
    int64_t until = json_integer_value(json_object_get(resp, "valid_until_ts"));
    int64_t cap = fetched_ts + MXR_KEY_MAX_VALIDITY_MS;
    return until < cap ? until : cap;
}

static bool key_in(const json_t *map, const char *key_id, uint8_t pk[32])
{
    json_t *k = json_object_get(json_object_get(map, key_id), "key");
    return json_is_string(k) && mxr_key_decode_public(json_string_value(k), pk, NULL) == 0;
}

static bool own_key(const struct mxr_keyring *kr, const char *server, const char *key_id, uint8_t pk[32])
{
    if (strcmp(server, kr->own_name) || strcmp(key_id, kr->deps.key->key_id))
        return false;
    memcpy(pk, kr->deps.key->public_key, 32);
    return true;
}

/* A current key usable for a request now. */
static bool usable_for_request(const json_t *resp, int64_t fetched, const char *key_id, int64_t now, uint8_t pk[32])
{
    return resp && key_in(json_object_get(resp, "verify_keys"), key_id, pk) && effective_until(resp, fetched) > now;
}

int mxr_keyring_request_key(struct mxr_keyring *kr, const char *server, const char *key_id, uint8_t pk[32],
                            struct mxr_err *err)
{
    if (!strcmp(server, kr->own_name)) {
        if (own_key(kr, server, key_id, pk))
            return 0;
        return mxr_err_set(err, "M_UNAUTHORIZED", "%.100s is not our current key", key_id);
    }
    int64_t now = now_ms(kr), fetched = 0;
    json_t *resp = kr->deps.cache->get(kr->deps.cache->ctx, server, &fetched);
    bool ok = usable_for_request(resp, fetched, key_id, now, pk);
    json_decref(resp);
    if (ok)
        return 0;
    /* Unknown key ID (rotation) or expired: ask the server again. */
    resp = fetch(kr, server, err);
    if (!resp)
        return -1;
    ok = usable_for_request(resp, now, key_id, now, pk);
    int64_t until = effective_until(resp, now);
    bool known = key_in(json_object_get(resp, "verify_keys"), key_id, pk);
    bool old = json_object_get(json_object_get(resp, "old_verify_keys"), key_id) != NULL;
    json_decref(resp);
    if (ok)
        return 0;
    if (known)
        return mxr_err_set(err, "M_UNAUTHORIZED", "key %.100s of %.200s expired at %lld (valid_until_ts)", key_id,
                           server, (long long)until);
    if (old)
        return mxr_err_set(err, "M_UNAUTHORIZED", "key %.100s of %.200s is in old_verify_keys: only verify_keys may sign requests",
                           key_id, server);
    return mxr_err_set(err, "M_UNAUTHORIZED", "%.200s publishes no key %.100s in verify_keys", server, key_id);
}

static bool usable_for_event(const json_t *resp, int64_t fetched, const char *key_id, int64_t at, uint8_t pk[32])
{
    if (!resp)
        return false;
    if (key_in(json_object_get(resp, "verify_keys"), key_id, pk))
        return at == MXR_KEY_ANY_TIME || at <= effective_until(resp, fetched);
    json_t *old = json_object_get(json_object_get(resp, "old_verify_keys"), key_id);
    if (key_in(json_object_get(resp, "old_verify_keys"), key_id, pk))
        return at == MXR_KEY_ANY_TIME || at < json_integer_value(json_object_get(old, "expired_ts"));
    return false;
}

int mxr_keyring_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32])
{
    struct mxr_keyring *kr = ctx;
    if (own_key(kr, server, key_id, pk))
        return 0;
    if (!strcmp(server, kr->own_name))
        return -1;   /* old keys of ours: not kept yet */
    int64_t fetched = 0;
    json_t *resp = kr->deps.cache->get(kr->deps.cache->ctx, server, &fetched);
    bool ok = usable_for_event(resp, fetched, key_id, valid_at_ts, pk);
    json_decref(resp);
    if (ok)
        return 0;
    struct mxr_err err = { 0 };
    int64_t now = now_ms(kr);
    if (!(resp = fetch(kr, server, &err)))
        return -1;
    ok = usable_for_event(resp, now, key_id, valid_at_ts, pk);
    json_decref(resp);
    return ok ? 0 : -1;
}

json_t *mxr_keyring_query(struct mxr_keyring *kr, const char *server, int64_t minimum_valid_until_ts,
                          struct mxr_err *err)
{
    int64_t now = now_ms(kr), fetched = 0;
    json_t *cached = kr->deps.cache->get(kr->deps.cache->ctx, server, &fetched);
    if (cached && !json_is_object(json_object_get(cached, "signatures"))) {
        /* Keys rebuilt from the store (keystore.h): fine for verifying,
         * but a notary must serve the origin's own signed answer. */
        json_decref(cached);
        cached = NULL;
    }
    if (cached) {
        int64_t until = json_integer_value(json_object_get(cached, "valid_until_ts"));
        /* Notaries cache a response for half of its lifetime (keys_server.yaml). */
        int64_t half = fetched + (until - fetched) / 2;
        if (until >= minimum_valid_until_ts && now < half)
            return cached;
    }
    struct mxr_err ferr = { 0 };
    json_t *fresh = fetch(kr, server, &ferr);
    if (fresh) {
        json_decref(cached);
        return fresh;
    }
    if (cached)   /* origin unreachable: keep serving its last response */
        return cached;
    if (err)
        *err = ferr;
    return NULL;
}
