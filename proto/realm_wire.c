/* The realm's sealed envelope and binary JSON fields (design §6.3, §6.7). */
#include "mxr/realm_wire.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/json.h"

/* Inner plaintexts are small JSON objects: the realm's body limit bounds
 * requests, replies are under 1 KiB. */
#define INNER_MAX (MXR_REALM_BODY_LIMIT * 2)

int mxr_realm_json_get_bytes(const json_t *obj, const char *field, uint8_t *out, size_t len, struct mxr_err *err)
{
    const json_t *v = json_object_get(obj, field);
    if (!v)
        return mxr_err_set(err, "M_MISSING_PARAM", "%s is required (unpadded base64url of %zu bytes)", field, len);
    if (!json_is_string(v))
        return mxr_err_set(err, "M_INVALID_PARAM", "%s must be a string (unpadded base64url of %zu bytes)", field, len);
    const char *s = json_string_value(v);
    size_t sl = json_string_length(v);
    /* Unpadded only (§6.3), and exactly the canonical length: a decoder that
     * ignores stray bits would otherwise accept several spellings. */
    if (sl != mxr_b64_encoded_len(len) || memchr(s, '=', sl))
        return mxr_err_set(err, "M_INVALID_PARAM", "%s must be unpadded base64url of exactly %zu bytes", field, len);
    uint8_t buf[512];
    if (len > sizeof buf)
        return mxr_err_set(err, "M_INVALID_PARAM", "%s: field too long", field);
    struct mxr_err e2 = { 0 };
    long got = mxr_b64_decode(buf, sizeof buf, s, sl, MXR_B64_URL, &e2);
    if (got != (long)len) {
        sodium_memzero(buf, sizeof buf);
        return mxr_err_set(err, "M_INVALID_PARAM", "%s must be unpadded base64url of exactly %zu bytes", field, len);
    }
    /* Re-encode: the last character must carry no stray bits. */
    char again[700];
    if (mxr_b64_encode(again, sizeof again, buf, len, MXR_B64_URL) < 0 || strcmp(again, s) != 0) {
        sodium_memzero(buf, sizeof buf);
        sodium_memzero(again, sizeof again);
        return mxr_err_set(err, "M_INVALID_PARAM", "%s is not canonical unpadded base64url", field);
    }
    memcpy(out, buf, len);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(again, sizeof again);
    return 0;
}

int mxr_realm_json_set_bytes(json_t *obj, const char *field, const uint8_t *in, size_t len, struct mxr_err *err)
{
    char *s = mxr_b64_encode_alloc(in, len, MXR_B64_URL);
    if (!s || json_object_set_new(obj, field, json_string(s)) < 0) {
        if (s) {
            sodium_memzero(s, strlen(s));
            free(s);
        }
        return mxr_err_set(err, "M_UNKNOWN", "out of memory encoding %s", field);
    }
    sodium_memzero(s, strlen(s));
    free(s);
    return 0;
}

void mxr_realm_channel_wipe(struct mxr_realm_channel *ch)
{
    sodium_memzero(ch->k, sizeof ch->k);
}

void mxr_realm_box_key_id(char out[MXR_REALM_KEY_ID_MAX + 1], const uint8_t pk[MXR_REALM_BOX_PUBLIC_BYTES])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, MXR_REALM_BOX_PUBLIC_BYTES);
    char b[16];
    mxr_b64_encode(b, sizeof b, h, 8, MXR_B64_URL);
    snprintf(out, MXR_REALM_KEY_ID_MAX + 1, "x25519:%s", b);
}

/* Seals plaintext under ch into {"nonce", "ct"} (plus nothing else). */
static json_t *seal(const struct mxr_realm_channel *ch, const char *plain, size_t len, struct mxr_err *err)
{
    uint8_t nonce[MXR_REALM_BOX_NONCE_BYTES];
    randombytes_buf(nonce, sizeof nonce);
    uint8_t *ct = malloc(len + crypto_box_MACBYTES);
    json_t *env = json_object();
    if (!ct || !env) {
        free(ct);
        json_decref(env);
        mxr_err_set(err, "M_UNKNOWN", "out of memory sealing a realm message");
        return NULL;
    }
    crypto_box_easy_afternm(ct, (const uint8_t *)plain, len, nonce, ch->k);
    int rc = mxr_realm_json_set_bytes(env, "nonce", nonce, sizeof nonce, err);
    if (rc == 0) {
        char *s = mxr_b64_encode_alloc(ct, len + crypto_box_MACBYTES, MXR_B64_URL);
        if (!s || json_object_set_new(env, "ct", json_string(s)) < 0)
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory sealing a realm message");
        free(s);
    }
    free(ct);
    if (rc < 0) {
        json_decref(env);
        return NULL;
    }
    return env;
}

/* Opens {"nonce", "ct"} under ch into a parsed JSON object. */
static json_t *open_box(const struct mxr_realm_channel *ch, const json_t *env, struct mxr_err *err)
{
    uint8_t nonce[MXR_REALM_BOX_NONCE_BYTES];
    if (mxr_realm_json_get_bytes(env, "nonce", nonce, sizeof nonce, err) < 0)
        return NULL;
    const json_t *ctv = json_object_get(env, "ct");
    if (!json_is_string(ctv))
        return mxr_err_set(err, "M_INVALID_PARAM", "envelope: ct must be an unpadded base64url string"), NULL;
    size_t sl = json_string_length(ctv);
    if (sl > (INNER_MAX + crypto_box_MACBYTES) * 4 / 3 + 4)
        return mxr_err_set(err, "M_TOO_LARGE", "envelope: ct is longer than %d bytes", INNER_MAX), NULL;
    size_t cap = sl * 3 / 4 + 3;
    uint8_t *ct = malloc(cap);
    if (!ct)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory"), NULL;
    struct mxr_err e2 = { 0 };
    long n = mxr_b64_decode(ct, cap, json_string_value(ctv), sl, MXR_B64_URL, &e2);
    if (n < (long)crypto_box_MACBYTES || memchr(json_string_value(ctv), '=', sl)) {
        free(ct);
        return mxr_err_set(err, "M_INVALID_PARAM", "envelope: ct must be unpadded base64url of at least %d bytes",
                           (int)crypto_box_MACBYTES), NULL;
    }
    size_t plen = (size_t)n - crypto_box_MACBYTES;
    char *plain = malloc(plen + 1);
    if (!plain) {
        free(ct);
        return mxr_err_set(err, "M_UNKNOWN", "out of memory"), NULL;
    }
    if (crypto_box_open_easy_afternm((uint8_t *)plain, ct, (size_t)n, nonce, ch->k) != 0) {
        free(ct);
        free(plain);
        return mxr_err_set(err, MXR_REALM_E_BAD_ENVELOPE,
                           "envelope: the ciphertext does not open (tampered, or sealed to another key)"), NULL;
    }
    free(ct);
    plain[plen] = '\0';
    json_t *inner = mxr_json_parse(plain, plen, MXR_JSON_SIGNED, err);
    sodium_memzero(plain, plen);
    free(plain);
    if (!inner)
        return mxr_err_prefix(err, "envelope plaintext"), NULL;
    if (!json_is_object(inner)) {
        json_decref(inner);
        return mxr_err_set(err, "M_BAD_JSON", "envelope plaintext must be a JSON object"), NULL;
    }
    return inner;
}

/* Compact serialisation; the caller wipes and frees it. */
static char *dump(const json_t *v, size_t *len, struct mxr_err *err)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (!s) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory serialising a realm message");
        return NULL;
    }
    *len = strlen(s);
    if (*len > INNER_MAX) {
        sodium_memzero(s, *len);
        free(s);
        mxr_err_set(err, "M_TOO_LARGE", "realm message of %zu bytes exceeds %d", *len, INNER_MAX);
        return NULL;
    }
    return s;
}

json_t *mxr_realm_seal_request(struct mxr_realm_channel *ch, const uint8_t realm_pk[MXR_REALM_BOX_PUBLIC_BYTES],
                               const char *key_id, const json_t *inner, struct mxr_err *err)
{
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise"), NULL;
    uint8_t epk[crypto_box_PUBLICKEYBYTES], esk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(epk, esk);
    int rc = crypto_box_beforenm(ch->k, realm_pk, esk);
    sodium_memzero(esk, sizeof esk);
    if (rc != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "the realm's box_public_key is not a usable X25519 key"), NULL;
    size_t len;
    char *plain = dump(inner, &len, err);
    if (!plain)
        return NULL;
    json_t *env = seal(ch, plain, len, err);
    sodium_memzero(plain, len);
    free(plain);
    if (!env)
        return NULL;
    if (json_object_set_new(env, "v", json_integer(MXR_REALM_ENVELOPE_VERSION)) < 0 ||
        json_object_set_new(env, "key_id", json_string(key_id)) < 0 ||
        mxr_realm_json_set_bytes(env, "epk", epk, sizeof epk, err) < 0) {
        json_decref(env);
        return mxr_err_set(err, "M_UNKNOWN", "out of memory sealing a realm request"), NULL;
    }
    return env;
}

json_t *mxr_realm_open_request(struct mxr_realm_channel *ch, const json_t *envelope,
                               const uint8_t box_sk[MXR_REALM_BOX_SECRET_BYTES], const char *key_id,
                               uint8_t epk_out[MXR_REALM_BOX_PUBLIC_BYTES], struct mxr_err *err)
{
    if (!json_is_object(envelope))
        return mxr_err_set(err, "M_BAD_JSON", "the request must be a sealed envelope object (§6.7)"), NULL;
    const json_t *v = json_object_get(envelope, "v");
    if (!json_is_integer(v) || json_integer_value(v) != MXR_REALM_ENVELOPE_VERSION)
        return mxr_err_set(err, MXR_REALM_E_BAD_ENVELOPE, "envelope: v must be %d", MXR_REALM_ENVELOPE_VERSION),
               NULL;
    const char *kid = json_string_value(json_object_get(envelope, "key_id"));
    if (!kid)
        return mxr_err_set(err, "M_MISSING_PARAM", "envelope: key_id is required"), NULL;
    if (strcmp(kid, key_id) != 0)
        return mxr_err_set(err, MXR_REALM_E_BAD_ENVELOPE,
                           "envelope: key_id %.80s is not this realm's (%s); fetch /info again", kid, key_id), NULL;
    uint8_t epk[MXR_REALM_BOX_PUBLIC_BYTES];
    if (mxr_realm_json_get_bytes(envelope, "epk", epk, sizeof epk, err) < 0)
        return mxr_err_prefix(err, "envelope"), NULL;
    if (crypto_box_beforenm(ch->k, epk, box_sk) != 0)
        return mxr_err_set(err, MXR_REALM_E_BAD_ENVELOPE, "envelope: epk is a low-order X25519 point"), NULL;
    json_t *inner = open_box(ch, envelope, err);
    if (!inner) {
        mxr_realm_channel_wipe(ch);
        return NULL;
    }
    if (epk_out)
        memcpy(epk_out, epk, sizeof epk);
    return inner;
}

json_t *mxr_realm_seal_reply(const struct mxr_realm_channel *ch, int status, const json_t *body, struct mxr_err *err)
{
    json_t *inner = json_pack("{s:i, s:O}", "status", status, "body", body);
    if (!inner)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory sealing a realm reply"), NULL;
    size_t len;
    char *plain = dump(inner, &len, err);
    json_decref(inner);
    if (!plain)
        return NULL;
    json_t *env = seal(ch, plain, len, err);
    sodium_memzero(plain, len);
    free(plain);
    return env;
}

json_t *mxr_realm_open_reply(const struct mxr_realm_channel *ch, const json_t *envelope, int *status,
                             struct mxr_err *err)
{
    if (!json_is_object(envelope))
        return mxr_err_set(err, MXR_REALM_E_BAD_ENVELOPE, "the realm's reply is not a sealed envelope"), NULL;
    json_t *inner = open_box(ch, envelope, err);
    if (!inner)
        return NULL;
    const json_t *st = json_object_get(inner, "status");
    json_t *body = json_object_get(inner, "body");
    if (!json_is_integer(st) || json_integer_value(st) < 100 || json_integer_value(st) > 599 ||
        !json_is_object(body)) {
        json_decref(inner);
        return mxr_err_set(err, "M_BAD_JSON", "sealed reply: needs status (HTTP code) and body (object)"), NULL;
    }
    *status = (int)json_integer_value(st);
    json_incref(body);
    json_decref(inner);
    return body;
}
