/* Sealed calls to realms (design §6.7) with sessions (§6.6), retries after
 * rate limits (§6.9), and the keyed MACs of profile sodium1 (§6.2). */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/realm_client.h"
#include "realm_client_int.h"

#define RATE_LIMIT_RETRIES 8
#define MAX_RETRY_WAIT_MS 10000L

/* ---- MAC (profile sodium1) ------------------------------------------------------- */

struct mac_part {
    const uint8_t *p;
    size_t n;
};

static void update_lp(crypto_generichash_state *st, const uint8_t *p, size_t n)
{
    uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    crypto_generichash_update(st, len, sizeof len);
    crypto_generichash_update(st, p, n);
}

static int mac(uint8_t *out, size_t outlen, enum mxr_realm_profile profile, const uint8_t key[32], const char *label,
               const struct mac_part *parts, size_t n, struct mxr_err *err)
{
    if (profile != MXR_REALM_PROFILE_SODIUM1)
        return mxr_err_set(err, "M_UNRECOGNIZED", "profile jb1's MACs are keyed BLAKE2s, which no library of this "
                           "build provides; use sodium1");
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, outlen);
    update_lp(&st, (const uint8_t *)label, strlen(label));
    for (size_t i = 0; i < n; i++)
        update_lp(&st, parts[i].p, parts[i].n);
    crypto_generichash_final(&st, out, outlen);
    sodium_memzero(&st, sizeof st);
    return 0;
}

#define LABEL_ENC_KEY "User Secret Encryption Key"
#define LABEL_TAG "Unlock Key Tag"
#define LABEL_COMMIT "Encrypted User Secret Commitment"

int realm_client_enc_key(uint8_t key[32], enum mxr_realm_profile p, const uint8_t enc_seed[32], const uint8_t s[32],
                          struct mxr_err *err)
{
    struct mac_part parts[] = { { s, 32 } };
    return mac(key, 32, p, enc_seed, LABEL_ENC_KEY, parts, 1, err);
}

int realm_client_tag(uint8_t tag[MXR_REALM_TAG_BYTES], enum mxr_realm_profile p, const uint8_t unlock_key[32],
                      const uint8_t realm_id[MXR_REALM_ID_BYTES], struct mxr_err *err)
{
    struct mac_part parts[] = { { realm_id, MXR_REALM_ID_BYTES } };
    return mac(tag, MXR_REALM_TAG_BYTES, p, unlock_key, LABEL_TAG, parts, 1, err);
}

int realm_client_commit(uint8_t out[MXR_REALM_TAG_BYTES], enum mxr_realm_profile p, const uint8_t unlock_key[32],
                         const uint8_t realm_id[MXR_REALM_ID_BYTES], const uint8_t s_i[32],
                         const uint8_t enc_secret[MXR_REALM_ENCRYPTED_SECRET_BYTES], struct mxr_err *err)
{
    struct mac_part parts[] = { { realm_id, MXR_REALM_ID_BYTES }, { s_i, 32 }, { enc_secret, MXR_REALM_ENCRYPTED_SECRET_BYTES } };
    return mac(out, MXR_REALM_TAG_BYTES, p, unlock_key, LABEL_COMMIT, parts, 3, err);
}

/* ---- sealed calls ------------------------------------------------------------------- */

static int session_find(const struct mxr_realm_client *c, const struct mxr_realm_info *ri)
{
    for (int i = 0; i < MXR_REALM_CLIENT_MAX; i++)
        if (c->sessions[i].used && !memcmp(c->sessions[i].realm_id, ri->realm_id, MXR_REALM_ID_BYTES))
            return i;
    return -1;
}

static void session_drop(struct mxr_realm_client *c, const struct mxr_realm_info *ri)
{
    int i = session_find(c, ri);
    if (i >= 0)
        sodium_memzero(&c->sessions[i], sizeof c->sessions[i]);
}

void realm_client_result_set(struct mxr_realm_result *res, enum mxr_realm_status st, int http, const char *fmt, ...)
{
    if (!res)
        return;
    res->status = st;
    res->http_status = http;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
}

/* One exchange: seals {op, realm_id, ts_ms, session?, fields...}, opens the
 * reply. 0 with the sealed status and body (any status); -1 when nothing
 * authenticated came back: res says UNREACHABLE (no answer, or an unsealed
 * error a proxy could have made up) or LIED (a reply that does not open). */
static int exchange(struct mxr_realm_client *c, const struct mxr_realm_info *ri, const char *op, const json_t *fields,
                    const uint8_t *session, int *status, json_t **body, struct mxr_realm_result *res,
                    struct mxr_err *err)
{
    json_t *inner = fields ? json_deep_copy(fields) : json_object();
    if (!inner || json_object_set_new(inner, "op", json_string(op)) < 0 ||
        json_object_set_new(inner, "ts_ms", json_integer(realm_client_now(c))) < 0 ||
        mxr_realm_json_set_bytes(inner, "realm_id", ri->realm_id, MXR_REALM_ID_BYTES, err) < 0 ||
        (session && mxr_realm_json_set_bytes(inner, "session", session, MXR_REALM_SESSION_BYTES, err) < 0)) {
        json_decref(inner);
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    struct mxr_realm_channel ch;
    json_t *env = mxr_realm_seal_request(&ch, ri->box_public_key, ri->key_id, inner, err);
    /* the inner request may hold shares and tags: wipe its strings */
    const char *k;
    json_t *v;
    json_object_foreach(inner, k, v) if (json_is_string(v)) sodium_memzero((void *)json_string_value(v),
                                                                            json_string_length(v));
    json_decref(inner);
    if (!env)
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", MXR_REALM_API_PREFIX, op);
    long http = 0;
    json_t *reply = NULL;
    int rc = c->tr->http(c->tr->ctx, ri, "POST", path, env, &http, &reply, err);
    json_decref(env);
    if (rc < 0) {
        mxr_realm_channel_wipe(&ch);
        realm_client_result_set(res, MXR_REALM_ST_UNREACHABLE, 0, "%s", err ? err->msg : "unreachable");
        return -1;
    }
    if (json_is_object(reply) && json_object_get(reply, "ct")) {
        *body = mxr_realm_open_reply(&ch, reply, status, err);
        mxr_realm_channel_wipe(&ch);
        json_decref(reply);
        if (!*body) {
            realm_client_result_set(res, MXR_REALM_ST_LIED, (int)http, "%s: reply does not open under the pinned key: %s", op,
                       err ? err->msg : "");
            return -1;
        }
        return 0;
    }
    mxr_realm_channel_wipe(&ch);
    /* Unsealed: the realm could not open our envelope or refused it before
     * (rate limit); nothing here is authenticated. */
    const char *code = json_string_value(json_object_get(reply, "errcode"));
    const char *msg = json_string_value(json_object_get(reply, "error"));
    const json_t *retry = json_object_get(reply, "retry_after_ms");
    if (http == 429 && json_is_integer(retry)) {
        *status = 429;
        *body = reply;
        return 0;   /* the caller may retry after the wait */
    }
    mxr_err_set(err, code ? code : "M_UNKNOWN", "%s: HTTP %ld%s%s", op, http, msg ? ": " : "", msg ? msg : "");
    realm_client_result_set(res, MXR_REALM_ST_UNREACHABLE, (int)http, "%s", err ? err->msg : "unsealed error");
    json_decref(reply);
    return -1;
}

static int open_session(struct mxr_realm_client *c, const struct mxr_realm_info *ri, struct mxr_realm_result *res,
                        struct mxr_err *err);

/* A sealed call with the session (opened on demand), retried after a 429
 * (when the transport can sleep) and once after an expired session. 0 with
 * a sealed reply (any status other than 429), -1 with res filled. */
int realm_client_call(struct mxr_realm_client *c, const struct mxr_realm_info *ri, const char *op, const json_t *fields,
                int *status, json_t **body, struct mxr_realm_result *res, struct mxr_err *err)
{
    bool reopened = false;
    for (int attempt = 0;; attempt++) {
        *body = NULL;
        bool need = strcmp(op, "session") != 0;
        int si = need ? session_find(c, ri) : -1;
        if (need && si < 0) {
            if (open_session(c, ri, res, err) < 0)
                return -1;
            si = session_find(c, ri);
        }
        if (exchange(c, ri, op, fields, need ? c->sessions[si].token : NULL, status, body, res, err) < 0)
            return -1;
        if (*status == 429) {
            const json_t *ra = json_object_get(*body, "retry_after_ms");
            long wait = json_is_integer(ra) ? (long)json_integer_value(ra) : 1000;
            json_decref(*body);
            *body = NULL;
            if (!c->tr->sleep_ms || attempt >= RATE_LIMIT_RETRIES || wait > MAX_RETRY_WAIT_MS) {
                mxr_err_set(err, "M_LIMIT_EXCEEDED", "%s: rate limited (retry after %ld ms)", op, wait);
                realm_client_result_set(res, MXR_REALM_ST_FAILED, 429, "%s", err ? err->msg : "rate limited");
                return -1;
            }
            c->tr->sleep_ms(c->tr->ctx, wait);
            continue;
        }
        const char *code = json_string_value(json_object_get(*body, "errcode"));
        if (need && *status == 401 && !reopened && code && !strcmp(code, "M_UNKNOWN_TOKEN")) {
            json_decref(*body);
            *body = NULL;
            session_drop(c, ri);
            reopened = true;
            continue;
        }
        return 0;
    }
}

static int open_session(struct mxr_realm_client *c, const struct mxr_realm_info *ri, struct mxr_realm_result *res,
                        struct mxr_err *err)
{
    if (!c->tr->openid) {
        realm_client_result_set(res, MXR_REALM_ST_FAILED, 0, "no OpenID token source");
        return mxr_err_set(err, "M_MISSING_TOKEN", "the transport gives no OpenID tokens");
    }
    char token[MXR_REALM_OPENID_TOKEN_MAX], ms[256];
    if (c->tr->openid(c->tr->ctx, ri, token, ms, err) < 0) {
        realm_client_result_set(res, MXR_REALM_ST_FAILED, 0, "OpenID token: %s", err ? err->msg : "");
        return -1;
    }
    json_t *f = json_pack("{s:s, s:s}", "matrix_server", ms, "openid_token", token);
    sodium_memzero(token, sizeof token);
    if (!f)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    int status = 0;
    json_t *body = NULL;
    int rc = realm_client_call(c, ri, "session", f, &status, &body, res, err);
    json_decref(f);
    if (rc < 0)
        return -1;
    int slot = -1;
    for (int i = 0; i < MXR_REALM_CLIENT_MAX && slot < 0; i++)
        if (!c->sessions[i].used)
            slot = i;
    if (status != 200 || slot < 0 ||
        mxr_realm_json_get_bytes(body, "session", c->sessions[slot].token, MXR_REALM_SESSION_BYTES, err) < 0) {
        const char *msg = json_string_value(json_object_get(body, "error"));
        mxr_err_set(err, status == 401 ? "M_UNKNOWN_TOKEN" : "M_FORBIDDEN", "session refused (%d): %s", status,
                    msg ? msg : "bad reply");
        realm_client_result_set(res, MXR_REALM_ST_FAILED, status, "%s", err ? err->msg : "");
        json_decref(body);
        return -1;
    }
    memcpy(c->sessions[slot].realm_id, ri->realm_id, MXR_REALM_ID_BYTES);
    c->sessions[slot].used = true;
    json_decref(body);
    return 0;
}

/* Classifies a sealed error reply into res. */
void realm_client_classify(struct mxr_realm_result *res, int status, const json_t *body)
{
    const char *code = json_string_value(json_object_get(body, "errcode"));
    const char *msg = json_string_value(json_object_get(body, "error"));
    enum mxr_realm_status st = MXR_REALM_ST_FAILED;
    if (code && !strcmp(code, MXR_REALM_E_NOT_REGISTERED))
        st = MXR_REALM_ST_NOT_REGISTERED;
    else if (code && !strcmp(code, MXR_REALM_E_NO_GUESSES))
        st = MXR_REALM_ST_NO_GUESSES;
    else if (code && !strcmp(code, MXR_REALM_E_VERSION_MISMATCH))
        st = MXR_REALM_ST_VERSION_MISMATCH;
    realm_client_result_set(res, st, status, "%s: %s", code ? code : "error", msg ? msg : "");
}

void realm_client_report_init(struct mxr_realm_report *rep, const struct mxr_realm_config *cfg)
{
    memset(rep, 0, sizeof *rep);
    rep->n = cfg->n;
    rep->guesses_remaining = -1;
    for (size_t i = 0; i < cfg->n; i++)
        rep->realms[i].guess_count = rep->realms[i].allowed_guesses = -1;
}

int realm_client_config_ok(const struct mxr_realm_client *c, const struct mxr_realm_config *cfg, struct mxr_err *err)
{
    if (!cfg || cfg->n < 2 || cfg->n > MXR_REALM_CLIENT_MAX || mxr_realm_threshold_check(cfg->threshold,
                                                                                          (unsigned)cfg->n, err) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "invalid realm configuration");
    /* Before any request: a recovery that found out late would have spent a guess. */
    uint8_t probe[16], key[32] = { 0 };
    if (mac(probe, sizeof probe, cfg->profile, key, "probe", NULL, 0, err) < 0)
        return -1;
    (void)c;
    return 0;
}

/* Wipes the strings of a JSON object holding secrets, then frees it. */
void realm_client_wipe_json(json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) if (json_is_string(v)) sodium_memzero((void *)json_string_value(v),
                                                                        json_string_length(v));
    json_decref(o);
}
