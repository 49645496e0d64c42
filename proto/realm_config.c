/* Realm discovery, the realm-set rules and the configuration's JSON form
 * (design §6.8 "Multiple federated relays as the threshold realms"), and the
 * recovery-key text form of the recovered root (§6.10; spec appendices
 * "Cryptographic key representation"). */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mxr/base64.h"
#include "mxr/ids.h"
#include "mxr/realm_client.h"
#include "mxr/sign.h"
#include "realm_client_int.h"

#define CONFIG_FORMAT 1

int64_t realm_client_now(const struct mxr_realm_client *c)
{
    if (c->tr && c->tr->now_ms)
        return c->tr->now_ms(c->tr->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *mxr_realm_status_name(enum mxr_realm_status st)
{
    switch (st) {
    case MXR_REALM_ST_NOT_ASKED: return "not asked";
    case MXR_REALM_ST_OK: return "ok";
    case MXR_REALM_ST_UNREACHABLE: return "unreachable";
    case MXR_REALM_ST_FAILED: return "failed";
    case MXR_REALM_ST_NOT_REGISTERED: return "not registered";
    case MXR_REALM_ST_NO_GUESSES: return "no guesses left (share wiped)";
    case MXR_REALM_ST_VERSION_MISMATCH: return "holds another registration";
    case MXR_REALM_ST_LIED: return "LIED (failed a check)";
    }
    return "?";
}

int mxr_realm_client_init(struct mxr_realm_client *c, const struct mxr_realm_transport *tr, const char *user_id,
                          struct mxr_err *err)
{
    memset(c, 0, sizeof *c);
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
    if (!tr || !tr->http)
        return mxr_err_set(err, "M_INVALID_PARAM", "realm client: a transport is required");
    if (!user_id || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, err) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "realm client: a valid Matrix user ID is required");
    c->tr = tr;
    snprintf(c->user_id, sizeof c->user_id, "%s", user_id);
    return 0;
}

void mxr_realm_client_clear(struct mxr_realm_client *c)
{
    sodium_memzero(c->sessions, sizeof c->sessions);
}

/* ---- discovery ----------------------------------------------------------------- */

/* GET path from the realm: the 200 JSON object, or NULL with err. */
static json_t *get_json(struct mxr_realm_client *c, const struct mxr_realm_info *ri, const char *path,
                        struct mxr_err *err)
{
    long status = 0;
    json_t *body = NULL;
    if (c->tr->http(c->tr->ctx, ri, "GET", path, NULL, &status, &body, err) < 0)
        return mxr_err_prefix(err, "%s%s", ri->url, path), NULL;
    if (status != 200 || !json_is_object(body)) {
        const char *e = json_string_value(json_object_get(body, "error"));
        mxr_err_set(err, "M_UNKNOWN", "%s%s answered %ld%s%s", ri->url, path, status, e ? ": " : "", e ? e : "");
        json_decref(body);
        return NULL;
    }
    return body;
}

/* The relay's verify key key_id from its self-signed key response. */
static int relay_key(const json_t *keys, const char *server, const char *key_id, int64_t now, uint8_t pk[32],
                     struct mxr_err *err)
{
    const char *sn = json_string_value(json_object_get(keys, "server_name"));
    if (!sn || strcmp(sn, server) != 0)
        return mxr_err_set(err, "M_FORBIDDEN", "the key response is for %.100s, not %.100s", sn ? sn : "(none)", server);
    const json_t *vu = json_object_get(keys, "valid_until_ts");
    if (!json_is_integer(vu) || json_integer_value(vu) < now)
        return mxr_err_set(err, "M_FORBIDDEN", "%s's key response has expired (valid_until_ts)", server);
    const char *b64 = json_string_value(json_object_get(json_object_get(json_object_get(keys, "verify_keys"), key_id),
                                                        "key"));
    if (!b64)
        return mxr_err_set(err, "M_FORBIDDEN", "%s does not list %s among its current verify_keys", server, key_id);
    if (mxr_key_decode_public(b64, pk, err) < 0)
        return -1;
    /* Self-signed: the response must carry a valid signature by this key. */
    if (mxr_verify_json(keys, server, key_id, pk, err) < 0)
        return mxr_err_prefix(err, "%s's key response is not self-signed by %s", server, key_id);
    return 0;
}

int mxr_realm_discover(struct mxr_realm_client *c, struct mxr_realm_info *io, struct mxr_err *err)
{
    json_t *info = get_json(c, io, MXR_REALM_API_PREFIX "/info", err);
    if (!info)
        return -1;
    json_t *keys = NULL;
    int rc = -1;
    const char *sn = json_string_value(json_object_get(info, "server_name"));
    const char *kid = json_string_value(json_object_get(info, "key_id"));
    const json_t *mg = json_object_get(info, "max_allowed_guesses");
    if (!sn || !mxr_id_valid_server_name(sn) || strlen(sn) >= sizeof io->server_name) {
        mxr_err_set(err, "M_BAD_JSON", "%s: realm info without a valid server_name", io->url);
        goto out;
    }
    if (io->server_name[0] && strcmp(io->server_name, sn) != 0) {
        mxr_err_set(err, "M_FORBIDDEN", "%s claims to be %.100s, expected %.100s", io->url, sn, io->server_name);
        goto out;
    }
    if (!kid || strlen(kid) > MXR_REALM_KEY_ID_MAX || !json_is_integer(mg) || json_integer_value(mg) < 1 ||
        json_integer_value(mg) > 65535 ||
        mxr_realm_json_get_bytes(info, "realm_id", io->realm_id, sizeof io->realm_id, err) < 0 ||
        mxr_realm_json_get_bytes(info, "box_public_key", io->box_public_key, sizeof io->box_public_key, err) < 0) {
        if (!err || !err->errcode)
            mxr_err_set(err, "M_BAD_JSON", "key_id or max_allowed_guesses missing");
        mxr_err_prefix(err, "%s: realm info", io->url);
        goto out;
    }
    if (!(keys = get_json(c, io, "/_matrix/key/v2/server", err)))
        goto out;
    /* info must be signed by one of the relay's current keys. */
    const char *ids[8];
    size_t n = mxr_signature_key_ids(info, sn, ids, 8);
    int64_t now = realm_client_now(c);
    mxr_err_set(err, "M_FORBIDDEN", "%s: realm info carries no signature by %s", io->url, sn);
    for (size_t i = 0; i < n && i < 8; i++) {
        uint8_t pk[32];
        struct mxr_err e2 = { 0 };
        if (relay_key(keys, sn, ids[i], now, pk, &e2) < 0 || mxr_verify_json(info, sn, ids[i], pk, &e2) < 0) {
            if (err)
                *err = e2;
            mxr_err_prefix(err, "%s: realm info signature %s", io->url, ids[i]);
            continue;
        }
        snprintf(io->signing_key_id, sizeof io->signing_key_id, "%s", ids[i]);
        memcpy(io->signing_key, pk, 32);
        rc = 0;
        break;
    }
    if (rc < 0)
        goto out;
    snprintf(io->server_name, sizeof io->server_name, "%s", sn);
    snprintf(io->key_id, sizeof io->key_id, "%s", kid);
    io->max_allowed_guesses = (unsigned)json_integer_value(mg);
    mxr_err_clear(err);
out:
    json_decref(info);
    json_decref(keys);
    return rc;
}

/* ---- the realm-set rules ------------------------------------------------------------ */

/* The host part of a server name (operator default, homeserver match). */
static void host_of(const char *server_name, char out[256])
{
    struct mxr_server_name sn;
    if (mxr_server_name_parse(server_name, &sn, NULL) == 0)
        snprintf(out, 256, "%s", sn.host);
    else
        snprintf(out, 256, "%s", server_name);
}

static const char *operator_of(const struct mxr_realm_info *ri, char buf[256])
{
    if (ri->operator_name[0])
        return ri->operator_name;
    host_of(ri->server_name, buf);
    return buf;
}

static int by_realm_id(const void *a, const void *b)
{
    return memcmp(((const struct mxr_realm_info *)a)->realm_id, ((const struct mxr_realm_info *)b)->realm_id,
                  MXR_REALM_ID_BYTES);
}

int mxr_realm_config_build(struct mxr_realm_config *out, const struct mxr_realm_info *realms, size_t n,
                           unsigned threshold, enum mxr_realm_profile profile, const char *user_id,
                           struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    if (n < 2 || n > MXR_REALM_CLIENT_MAX)
        return mxr_err_set(err, "M_INVALID_PARAM", "a realm set has 2 to %d realms, not %zu", MXR_REALM_CLIENT_MAX, n);
    if (mxr_realm_threshold_check(threshold, (unsigned)n, err) < 0)
        return -1;
    if (profile != MXR_REALM_PROFILE_JB1 && profile != MXR_REALM_PROFILE_SODIUM1)
        return mxr_err_set(err, "M_INVALID_PARAM", "unknown crypto profile");
    const char *dom = user_id && mxr_id_check_user(user_id, MXR_USER_HISTORICAL, NULL) == 0 ? mxr_id_domain(user_id)
                                                                                             : NULL;
    if (!dom)
        return mxr_err_set(err, "M_INVALID_PARAM", "the user ID is needed to check the realm set");
    char home[256];
    host_of(dom, home);
    unsigned on_home = 0;
    for (size_t i = 0; i < n; i++) {
        char oi[256], hi[256];
        if (!realms[i].server_name[0])
            return mxr_err_set(err, "M_INVALID_PARAM", "realm %zu has no verified server name", i + 1);
        host_of(realms[i].server_name, hi);
        if (!strcasecmp(hi, home) && ++on_home > 1)
            return mxr_err_set(err, "M_INVALID_PARAM", "at most one realm may run on your own homeserver (%s), "
                               "which could otherwise test PINs against its users' shares (§6.8 rule 2)", home);
        for (size_t j = 0; j < i; j++) {
            char oj[256];
            if (!memcmp(realms[i].realm_id, realms[j].realm_id, MXR_REALM_ID_BYTES))
                return mxr_err_set(err, "M_INVALID_PARAM", "%s and %s have the same realm_id", realms[i].server_name,
                                   realms[j].server_name);
            if (!strcasecmp(realms[i].server_name, realms[j].server_name))
                return mxr_err_set(err, "M_INVALID_PARAM", "%s appears twice: server names must be distinct "
                                   "(§6.8 rule 1)", realms[i].server_name);
            if (!strcasecmp(operator_of(&realms[i], oi), operator_of(&realms[j], oj)))
                return mxr_err_set(err, "M_INVALID_PARAM", "%s and %s are run by the same operator (%s): operators "
                                   "must be distinct so that no one holds t shares (§6.8 rule 3)",
                                   realms[i].server_name, realms[j].server_name, oi);
        }
    }
    memcpy(out->realms, realms, n * sizeof *realms);
    out->n = n;
    out->threshold = threshold;
    out->profile = profile;
    qsort(out->realms, n, sizeof *out->realms, by_realm_id);
    return 0;
}

/* ---- configuration JSON -------------------------------------------------------------- */

json_t *mxr_realm_config_to_json(const struct mxr_realm_config *cfg, struct mxr_err *err)
{
    json_t *arr = json_array();
    json_t *o = json_pack("{s:i, s:i, s:s, s:o}", "format", CONFIG_FORMAT, "threshold", (int)cfg->threshold, "profile",
                          mxr_realm_profile_name(cfg->profile), "realms", arr);
    if (!o)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory"), NULL;
    for (size_t i = 0; i < cfg->n; i++) {
        const struct mxr_realm_info *ri = &cfg->realms[i];
        char pk[MXR_KEY_B64_LEN + 1];
        mxr_b64_encode(pk, sizeof pk, ri->signing_key, 32, MXR_B64_STD);
        json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "url", ri->url, "server_name", ri->server_name,
                              "operator", ri->operator_name, "key_id", ri->key_id, "signing_key_id", ri->signing_key_id,
                              "signing_key", pk, "max_allowed_guesses", (int)ri->max_allowed_guesses);
        if (!r || mxr_realm_json_set_bytes(r, "realm_id", ri->realm_id, sizeof ri->realm_id, err) < 0 ||
            mxr_realm_json_set_bytes(r, "box_public_key", ri->box_public_key, sizeof ri->box_public_key, err) < 0 ||
            json_array_append_new(arr, r) < 0) {
            json_decref(o);
            return mxr_err_set(err, "M_UNKNOWN", "out of memory"), NULL;
        }
    }
    return o;
}

static int copy_str(char *out, size_t cap, const json_t *o, const char *field, bool required, struct mxr_err *err)
{
    const json_t *v = json_object_get(o, field);
    if (!v && !required) {
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return mxr_err_set(err, "M_BAD_JSON", "realm configuration: %s must be a string under %zu bytes", field, cap);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int mxr_realm_config_from_json(struct mxr_realm_config *cfg, const json_t *j, const char *user_id,
                               struct mxr_err *err)
{
    const json_t *arr = json_object_get(j, "realms");
    const json_t *t = json_object_get(j, "threshold");
    const char *prof = json_string_value(json_object_get(j, "profile"));
    const json_t *fmt = json_object_get(j, "format");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != CONFIG_FORMAT || !json_is_array(arr) ||
        !json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > MXR_REALM_CLIENT_MAX || !prof)
        return mxr_err_set(err, "M_BAD_JSON", "realm configuration: needs format %d, threshold, profile and realms",
                           CONFIG_FORMAT);
    enum mxr_realm_profile profile;
    if (mxr_realm_profile_parse(prof, &profile, err) < 0)
        return -1;
    size_t n = json_array_size(arr);
    if (n > MXR_REALM_CLIENT_MAX)
        return mxr_err_set(err, "M_BAD_JSON", "realm configuration: more than %d realms", MXR_REALM_CLIENT_MAX);
    struct mxr_realm_info ri[MXR_REALM_CLIENT_MAX];
    memset(ri, 0, sizeof ri);
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(arr, i);
        char pk[MXR_KEY_B64_LEN + 8];
        const json_t *mg = json_object_get(r, "max_allowed_guesses");
        if (!json_is_object(r) || copy_str(ri[i].url, sizeof ri[i].url, r, "url", true, err) < 0 ||
            copy_str(ri[i].server_name, sizeof ri[i].server_name, r, "server_name", true, err) < 0 ||
            copy_str(ri[i].operator_name, sizeof ri[i].operator_name, r, "operator", false, err) < 0 ||
            copy_str(ri[i].key_id, sizeof ri[i].key_id, r, "key_id", true, err) < 0 ||
            copy_str(ri[i].signing_key_id, sizeof ri[i].signing_key_id, r, "signing_key_id", true, err) < 0 ||
            copy_str(pk, sizeof pk, r, "signing_key", true, err) < 0 ||
            mxr_key_decode_public(pk, ri[i].signing_key, err) < 0 ||
            mxr_realm_json_get_bytes(r, "realm_id", ri[i].realm_id, sizeof ri[i].realm_id, err) < 0 ||
            mxr_realm_json_get_bytes(r, "box_public_key", ri[i].box_public_key, sizeof ri[i].box_public_key, err) < 0 ||
            !json_is_integer(mg) || json_integer_value(mg) < 1 || json_integer_value(mg) > 65535) {
            if (!err || !err->errcode)
                mxr_err_set(err, "M_BAD_JSON", "max_allowed_guesses must be an integer in [1, 65535]");
            return mxr_err_prefix(err, "realm configuration, realm %zu", i + 1);
        }
        ri[i].max_allowed_guesses = (unsigned)json_integer_value(mg);
    }
    if (mxr_realm_config_build(cfg, ri, n, (unsigned)json_integer_value(t), profile, user_id, err) < 0)
        return mxr_err_prefix(err, "realm configuration");
    return 0;
}

/* ---- recovery key (spec appendices "Cryptographic key representation") ----------------- */

static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
#define RK_BYTES 35   /* 0x8B 0x01 ‖ key ‖ parity */

int mxr_realm_recovery_key_encode(char out[MXR_REALM_RECOVERY_KEY_MAX], const uint8_t key[32], struct mxr_err *err)
{
    uint8_t b[RK_BYTES];
    b[0] = 0x8B;
    b[1] = 0x01;
    memcpy(b + 2, key, 32);
    uint8_t parity = 0;
    for (size_t i = 0; i < RK_BYTES - 1; i++)
        parity ^= b[i];
    b[RK_BYTES - 1] = parity;
    /* Base58: repeated division of the big-endian number by 58. */
    uint8_t digits[64];
    size_t nd = 0;
    uint8_t num[RK_BYTES];
    memcpy(num, b, sizeof num);
    size_t start = 0;
    while (start < RK_BYTES) {
        unsigned rem = 0;
        for (size_t i = start; i < RK_BYTES; i++) {
            unsigned cur = rem * 256 + num[i];
            num[i] = (uint8_t)(cur / 58);
            rem = cur % 58;
        }
        digits[nd++] = (uint8_t)rem;
        while (start < RK_BYTES && num[start] == 0)
            start++;
    }
    /* Leading zero bytes are '1's (none here: the header is 0x8B). */
    size_t o = 0;
    for (size_t i = 0; i < nd; i++) {
        if (i && i % 4 == 0)
            out[o++] = ' ';
        out[o++] = B58[digits[nd - 1 - i]];
    }
    out[o] = '\0';
    sodium_memzero(b, sizeof b);
    sodium_memzero(num, sizeof num);
    (void)err;
    return 0;
}

int mxr_realm_recovery_key_decode(uint8_t key[32], const char *text, struct mxr_err *err)
{
    uint8_t num[RK_BYTES + 8];
    memset(num, 0, sizeof num);
    size_t nchars = 0;
    for (const char *p = text; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        const char *d = strchr(B58, *p);
        if (!d || !*p)
            return mxr_err_set(err, "M_INVALID_PARAM", "recovery key: '%c' is not a base58 character", *p);
        unsigned carry = (unsigned)(d - B58);
        for (size_t i = sizeof num; i-- > 0;) {
            carry += 58u * num[i];
            num[i] = (uint8_t)carry;
            carry >>= 8;
        }
        if (carry || ++nchars > 60)
            return mxr_err_set(err, "M_INVALID_PARAM", "recovery key: too long");
    }
    const uint8_t *b = num + sizeof num - RK_BYTES;
    for (size_t i = 0; i < sizeof num - RK_BYTES; i++)
        if (num[i])
            return mxr_err_set(err, "M_INVALID_PARAM", "recovery key: too long");
    uint8_t parity = 0;
    for (size_t i = 0; i < RK_BYTES; i++)
        parity ^= b[i];
    if (b[0] != 0x8B || b[1] != 0x01 || parity != 0) {
        sodium_memzero(num, sizeof num);
        return mxr_err_set(err, "M_INVALID_PARAM", "recovery key: wrong header or parity (mistyped?)");
    }
    memcpy(key, b + 2, 32);
    sodium_memzero(num, sizeof num);
    return 0;
}
