/* The common front of every sealed realm endpoint (design §6.3, §6.7, §6.9),
 * in the order §6.4 item 2 asks for — nothing here touches a guess counter:
 *   1. body size (4 KiB) and the per-IP bucket (recover3 later, see below);
 *   2. open the envelope: failures answer in clear (there is no channel);
 *   3. from here replies are sealed: op, realm_id and ts_ms (±5 min) of the
 *      inner request, then the envelope's ephemeral key against the replay
 *      cache, then the session.
 * A recover3 within the grace period after the same user's recover2 skips
 * the IP bucket (the HSM realm's "reservation": a started recovery is not
 * cut off half-way), so its IP check runs after the session is known. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mxr/json.h"
#include "relay/realm/realm_int.h"
#include "relay/server.h"
#include "relay/store/realm.h"

int64_t realm_now(const struct mxr_realm *r)
{
    if (r->clock)
        return r->clock(r->clock_ctx);
    return mxr_server_now(NULL);
}

void realm_user_key(const struct mxr_realm *r, const char *user_id, uint8_t out[REALM_USER_KEY_BYTES])
{
    crypto_generichash(out, REALM_USER_KEY_BYTES, (const uint8_t *)user_id, strlen(user_id), r->user_key_salt,
                       sizeof r->user_key_salt);
}

void realm_reply(struct realm_call *c, int status, json_t *body)
{
    if (!body)
        body = json_object();
    if (!c->sealed) {
        mxr_resp_json(c->resp, status, body);
        return;
    }
    /* The access log keeps resp->errcode: map the body's to a static string first. */
    static const char *const known[] = {
        "M_BAD_JSON", "M_INVALID_PARAM", "M_MISSING_PARAM", "M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN",
        "M_LIMIT_EXCEEDED", "M_UNKNOWN", "M_TOO_LARGE", MXR_REALM_E_NOT_REGISTERED, MXR_REALM_E_NO_GUESSES,
        MXR_REALM_E_VERSION_MISMATCH, MXR_REALM_E_BAD_TAG, MXR_REALM_E_BAD_ENVELOPE,
    };
    const char *code = status >= 400 ? json_string_value(json_object_get(body, "errcode")) : NULL;
    const char *logged = NULL;
    for (size_t i = 0; code && i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(code, known[i]))
            logged = known[i];
    struct mxr_err err = { 0 };
    json_t *env = mxr_realm_seal_reply(&c->ch, status, body, &err);
    json_decref(body);
    if (!env) {
        mxr_resp_err(c->resp, &err);
        return;
    }
    /* The outer status mirrors the sealed one for logs and metrics; clients
     * act on the sealed one only. */
    mxr_resp_json(c->resp, status, env);
    c->resp->errcode = logged;
}

void realm_reply_error(struct realm_call *c, int status, const char *errcode, const char *fmt, ...)
{
    char msg[MXR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:s, s:s}", "errcode", errcode, "error", msg);
    if (!c->sealed) {
        json_decref(body);
        mxr_resp_error(c->resp, status, errcode, "%s", msg);
        return;
    }
    realm_reply(c, status, body);
}

void realm_reply_limited(struct realm_call *c, int64_t retry_ms)
{
    json_t *body = json_pack("{s:s, s:s, s:I}", "errcode", "M_LIMIT_EXCEEDED", "error",
                             "too many requests (realm rate limit, §6.9); nothing was counted", "retry_after_ms",
                             (json_int_t)retry_ms);
    if (!c->sealed) {
        mxr_resp_json(c->resp, 429, body);
        c->resp->errcode = "M_LIMIT_EXCEEDED";
        return;
    }
    realm_reply(c, 429, body);
}

void realm_call_close(struct realm_call *c)
{
    json_decref(c->inner);
    c->inner = NULL;
    mxr_realm_channel_wipe(&c->ch);
    sodium_memzero(c->user_key, sizeof c->user_key);
}

/* Looks the session up: true and user filled, or false with the reply sent. */
static bool session_user(struct realm_call *c)
{
    uint8_t token[MXR_REALM_SESSION_BYTES];
    struct mxr_err err = { 0 };
    if (mxr_realm_json_get_bytes(c->inner, "session", token, sizeof token, &err) < 0) {
        realm_reply_error(c, 401, "M_MISSING_TOKEN", "%s (get one from POST %s/session)", err.msg,
                          MXR_REALM_API_PREFIX);
        return false;
    }
    uint8_t hash[MXR_STORE_REALM_KEY_BYTES];
    crypto_generichash(hash, sizeof hash, token, sizeof token, NULL, 0);
    sodium_memzero(token, sizeof token);
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(c->r->store, &txn, &err) < 0) {
        realm_reply_error(c, 500, "M_UNKNOWN", "%s", err.msg);
        return false;
    }
    int64_t expires = 0;
    int rc = mxr_store_realm_token_get(txn, MXR_STORE_REALM_SESSIONS, hash, &expires, c->user_id, &err);
    mxr_store_read_end(txn);
    if (rc < 0) {
        realm_reply_error(c, 500, "M_UNKNOWN", "%s", err.msg);
        return false;
    }
    if (rc == MXR_STORE_NOT_FOUND || expires <= c->now) {
        realm_reply_error(c, 401, "M_UNKNOWN_TOKEN", "unknown or expired realm session; open a new one with POST %s/session",
                          MXR_REALM_API_PREFIX);
        return false;
    }
    realm_user_key(c->r, c->user_id, c->user_key);
    return true;
}

bool realm_call_open(struct realm_call *c, struct mxr_request *req, struct mxr_response *resp, const char *op,
                     bool need_session)
{
    memset(c, 0, sizeof *c);
    c->req = req;
    c->resp = resp;
    c->r = req->srv ? req->srv->realm : NULL;
    if (!c->r) {
        mxr_resp_error(resp, 404, "M_UNRECOGNIZED", "this server runs no PIN realm");
        return false;
    }
    c->now = realm_now(c->r);
    int64_t retry = 0;
    if (req->body_len > MXR_REALM_BODY_LIMIT) {
        mxr_resp_error(resp, 413, "M_TOO_LARGE", "realm requests are limited to %d bytes", MXR_REALM_BODY_LIMIT);
        return false;
    }
    bool is_recover3 = !strcmp(op, "recover3");
    if (!is_recover3 && realm_lim_ip(c->r->lim, req->remote, c->now, &retry) < 0) {
        realm_reply_limited(c, retry);
        return false;
    }
    struct mxr_err err = { 0 };
    uint8_t epk[MXR_REALM_BOX_PUBLIC_BYTES];
    c->inner = mxr_realm_open_request(&c->ch, req->json, c->r->box_sk, c->r->key_id, epk, &err);
    if (!c->inner) {
        mxr_resp_error(resp, 400, err.errcode ? err.errcode : "M_BAD_JSON", "%s", err.msg);
        return false;
    }
    c->sealed = true;
    const char *iop = json_string_value(json_object_get(c->inner, "op"));
    if (!iop || strcmp(iop, op) != 0) {
        realm_reply_error(c, 400, "M_INVALID_PARAM", "op must be \"%s\" for this endpoint", op);
        return false;
    }
    uint8_t rid[MXR_REALM_ID_BYTES];
    if (mxr_realm_json_get_bytes(c->inner, "realm_id", rid, sizeof rid, &err) < 0) {
        realm_reply_error(c, 400, err.errcode, "%s", err.msg);
        return false;
    }
    if (sodium_memcmp(rid, c->r->realm_id, sizeof rid) != 0) {
        realm_reply_error(c, 400, "M_INVALID_PARAM", "realm_id is not this realm's (see %s/info)", MXR_REALM_API_PREFIX);
        return false;
    }
    const json_t *ts = json_object_get(c->inner, "ts_ms");
    if (!json_is_integer(ts) || json_integer_value(ts) < c->now - MXR_REALM_TS_WINDOW_MS ||
        json_integer_value(ts) > c->now + MXR_REALM_TS_WINDOW_MS) {
        realm_reply_error(c, 400, "M_INVALID_PARAM", "ts_ms must be the client's clock in ms, within 5 minutes of the "
                          "realm's (%lld)", (long long)c->now);
        return false;
    }
    if (realm_lim_replay(c->r->lim, epk, c->now, 2 * MXR_REALM_TS_WINDOW_MS)) {
        realm_reply_error(c, 400, MXR_REALM_E_BAD_ENVELOPE, "this envelope was seen before (replay); seal each "
                          "request with a fresh ephemeral key");
        return false;
    }
    if (need_session && !session_user(c))
        return false;
    if (is_recover3 && !(need_session && realm_lim_recover3_grace(c->r->lim, c->user_key, c->now)) &&
        realm_lim_ip(c->r->lim, req->remote, c->now, &retry) < 0) {
        realm_reply_limited(c, retry);
        return false;
    }
    return true;
}
