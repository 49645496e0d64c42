/* Signing JSON and checking signatures (spec: appendices "Signing Details",
 * "Checking for a Signature"). */
#include "mxr/sign.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/json.h"

#define ED25519_PREFIX "ed25519:"

static int is_ed25519(const char *key_id)
{
    return strncmp(key_id, ED25519_PREFIX, sizeof ED25519_PREFIX - 1) == 0 &&
           key_id[sizeof ED25519_PREFIX - 1] != '\0';
}

char *mxr_sign_payload(const json_t *obj, size_t *len, struct mxr_err *err)
{
    if (!json_is_object(obj)) {
        mxr_err_set(err, "M_BAD_JSON", "only JSON objects can be signed");
        return NULL;
    }
    /* A shallow copy: removing two keys must not touch the caller's object. */
    json_t *copy = json_copy((json_t *)obj);
    if (!copy) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    /* Integers beyond 2^53 are signed as written, as the reference encoder
     * does: events of room versions 1-5 carry them and must verify. Where
     * the canonical range is required (v6+ events, keys, requests) the
     * parser (MXR_JSON_STRICT) or the PDU format check refuses them first. */
    char *s = mxr_canonical_json_lax(copy, len, err);
    json_decref(copy);
    return s;
}

int mxr_sign_json(json_t *obj, const char *entity, const struct mxr_signing_key *key, struct mxr_err *err)
{
    if (!json_is_object(obj))
        return mxr_err_set(err, "M_BAD_JSON", "only JSON objects can be signed");
    if (!entity || !*entity)
        return mxr_err_set(err, "M_INVALID_PARAM", "signing entity (server name) is empty");
    json_t *sigs = json_object_get(obj, "signatures");
    if (sigs && !json_is_object(sigs))
        return mxr_err_set(err, "M_BAD_JSON", "'signatures' is not an object");
    json_t *mine = sigs ? json_object_get(sigs, entity) : NULL;
    if (mine && !json_is_object(mine))
        return mxr_err_set(err, "M_BAD_JSON", "'signatures.%.200s' is not an object", entity);

    size_t len;
    char *payload = mxr_sign_payload(obj, &len, err);
    if (!payload)
        return -1;
    uint8_t sig[crypto_sign_BYTES];
    int rc = crypto_sign_detached(sig, NULL, (const uint8_t *)payload, len, key->secret_key);
    free(payload);
    if (rc != 0)
        return mxr_err_set(err, "M_UNKNOWN", "crypto_sign_detached failed");
    char b64[MXR_SIG_B64_LEN + 1];
    if (mxr_b64_encode(b64, sizeof b64, sig, sizeof sig, MXR_B64_STD) != MXR_SIG_B64_LEN)
        return mxr_err_set(err, "M_UNKNOWN", "base64 encoding of the signature failed");

    if (!sigs) {
        sigs = json_object();
        if (!sigs || json_object_set_new(obj, "signatures", sigs) != 0)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    if (!mine) {
        mine = json_object();
        if (!mine || json_object_set_new(sigs, entity, mine) != 0)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    if (json_object_set_new(mine, key->key_id, json_string(b64)) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    return 0;
}

int mxr_verify_json(const json_t *obj, const char *entity, const char *key_id, const uint8_t pk[32],
                    struct mxr_err *err)
{
    if (!json_is_object(obj))
        return mxr_err_set(err, "M_BAD_JSON", "signed data is not a JSON object");
    if (!entity || !key_id)
        return mxr_err_set(err, "M_INVALID_PARAM", "entity and key ID are required");
    if (!is_ed25519(key_id))
        return mxr_err_set(err, "M_UNRECOGNIZED", "key ID '%.100s': only ed25519 signatures are supported",
                           key_id);
    json_t *sigs = json_object_get(obj, "signatures");
    if (!sigs)
        return mxr_err_set(err, "M_FORBIDDEN", "no 'signatures' (expected one from %.200s)", entity);
    if (!json_is_object(sigs))
        return mxr_err_set(err, "M_BAD_JSON", "'signatures' is not an object");
    json_t *mine = json_object_get(sigs, entity);
    if (!mine)
        return mxr_err_set(err, "M_FORBIDDEN", "not signed by %.200s", entity);
    if (!json_is_object(mine))
        return mxr_err_set(err, "M_BAD_JSON", "'signatures.%.200s' is not an object", entity);
    json_t *sv = json_object_get(mine, key_id);
    if (!sv)
        return mxr_err_set(err, "M_FORBIDDEN", "no signature of %.200s with key %.100s", entity, key_id);
    if (!json_is_string(sv))
        return mxr_err_set(err, "M_BAD_JSON", "signature of %.200s with key %.100s is not a string", entity,
                           key_id);

    uint8_t sig[crypto_sign_BYTES + 3];
    struct mxr_err e2 = {0};
    long n = mxr_b64_decode(sig, sizeof sig, json_string_value(sv), json_string_length(sv), MXR_B64_STD, &e2);
    if (n != crypto_sign_BYTES)
        return mxr_err_set(err, "M_BAD_JSON", "signature of %.200s with key %.100s is not base64 of 64 bytes",
                           entity, key_id);
    size_t len;
    char *payload = mxr_sign_payload(obj, &len, err);
    if (!payload)
        return -1;
    int rc = crypto_sign_verify_detached(sig, (const uint8_t *)payload, len, pk);
    free(payload);
    if (rc != 0)
        return mxr_err_set(err, "M_FORBIDDEN", "signature of %.200s with key %.100s does not verify", entity,
                           key_id);
    return 0;
}

size_t mxr_signature_key_ids(const json_t *obj, const char *entity, const char **ids, size_t max)
{
    json_t *sigs = json_is_object(obj) ? json_object_get(obj, "signatures") : NULL;
    json_t *mine = json_is_object(sigs) && entity ? json_object_get(sigs, entity) : NULL;
    if (!json_is_object(mine))
        return 0;
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(mine, k, v) {
        if (!json_is_string(v) || !is_ed25519(k))
            continue;
        if (n < max)
            ids[n] = k;
        n++;
    }
    return n;
}

int mxr_verify_json_keys(const json_t *obj, const char *entity, const struct mxr_verify_keys *keys,
                         int64_t valid_at_ts, struct mxr_err *err)
{
    json_t *sigs = json_is_object(obj) ? json_object_get(obj, "signatures") : NULL;
    json_t *mine = json_is_object(sigs) && entity ? json_object_get(sigs, entity) : NULL;
    if (!json_is_object(mine))
        return mxr_err_set(err, "M_FORBIDDEN", "not signed by %.200s", entity ? entity : "(null)");
    size_t known = 0, any = 0;
    const char *k;
    json_t *v;
    json_object_foreach(mine, k, v) {
        if (!is_ed25519(k))
            continue;    /* unknown algorithm: ignored (Checking for a Signature, step 2) */
        any++;
        uint8_t pk[32];
        if (!keys || !keys->lookup || keys->lookup(keys->ctx, entity, k, valid_at_ts, pk) != 0)
            continue;    /* unknown or expired key: skipped */
        known++;
        if (mxr_verify_json(obj, entity, k, pk, err) < 0)
            return -1;
    }
    if (known == 0)
        return mxr_err_set(err, "M_FORBIDDEN", "%s of %.200s by a known, valid key",
                           any ? "no signature" : "no ed25519 signature", entity);
    return 0;
}

int mxr_single_key_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts,
                          uint8_t pk[32])
{
    const struct mxr_single_key *one = ctx;
    if (!one || !one->server || !one->key_id || strcmp(one->server, server) != 0 ||
        strcmp(one->key_id, key_id) != 0)
        return -1;
    memcpy(pk, one->public_key, 32);
    return 0;
}
