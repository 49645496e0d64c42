/* POST /_relay/realm/v1/session (design §6.6): a Matrix-native login to the
 * realm. The client hands over an OpenID token from its homeserver inside
 * the envelope; the realm asks that homeserver who it belongs to
 * (GET /_matrix/federation/v1/openid/userinfo, server-server API "OpenID")
 * and must check that the returned `sub` is a user *of that server*:
 * otherwise any homeserver could vouch for anyone. The session is 32 random
 * bytes; the store keeps only its hash. TTL: 1 hour.
 *
 * Consequence (§6.6): only the user, or their homeserver, can act on the
 * user's records. A malicious homeserver can burn guesses (a denial of
 * service that destroys the backup) but cannot exceed them. */
#include <sodium.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/realm/realm_int.h"
#include "relay/server.h"
#include "relay/store/realm.h"

#define OPENID_TOKEN_MAX 512
#define SWEEP_PER_SESSION 16

struct session_put {
    uint8_t hash[MXR_STORE_REALM_KEY_BYTES];
    int64_t expires;
    int64_t now;
    const char *user_id;
};

static int session_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    const struct session_put *p = arg;
    if (mxr_store_realm_token_sweep(txn, MXR_STORE_REALM_SESSIONS, p->now, SWEEP_PER_SESSION, err) < 0)
        return -1;
    return mxr_store_realm_token_put(txn, MXR_STORE_REALM_SESSIONS, p->hash, p->expires, p->user_id, err);
}

static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > OPENID_TOKEN_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

void realm_h_session(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    if (!realm_call_open(&c, req, resp, "session", false))
        goto out;
    const char *ms = json_string_value(json_object_get(c.inner, "matrix_server"));
    const char *tok = json_string_value(json_object_get(c.inner, "openid_token"));
    if (!ms || !mxr_id_valid_server_name(ms)) {
        realm_reply_error(&c, 400, "M_INVALID_PARAM", "matrix_server must be the server name of your homeserver");
        goto out;
    }
    if (!tok || !token_ok(tok)) {
        realm_reply_error(&c, 400, "M_INVALID_PARAM", "openid_token must be the access_token of POST "
                          "/_matrix/client/v3/user/{userId}/openid/request_token (1-%d printable characters)",
                          OPENID_TOKEN_MAX);
        goto out;
    }
    /* Every verification is a request to the homeserver: bound them per
     * homeserver, so the realm cannot be made an amplifier (§6.9). */
    int64_t retry = 0;
    if (realm_lim_server(c.r->lim, ms, c.now, &retry) < 0) {
        realm_reply_limited(&c, retry);
        goto out;
    }
    struct mxr_err err = { 0 };
    char user[256] = "";
    if (!c.r->openid || c.r->openid(c.r->openid_ctx, ms, tok, user, &err) < 0) {
        const char *code = err.errcode ? err.errcode : "M_UNKNOWN";
        if (!strcmp(code, "M_UNKNOWN_TOKEN") || !strcmp(code, "M_MISSING_TOKEN") || !strcmp(code, "M_FORBIDDEN"))
            realm_reply_error(&c, 401, "M_UNKNOWN_TOKEN", "%s does not know this OpenID token: %s", ms, err.msg);
        else
            realm_reply_error(&c, 502, "M_UNKNOWN", "could not verify the OpenID token with %s: %s", ms,
                              err.msg[0] ? err.msg : "no verifier");
        goto out;
    }
    /* §6.6 step 3: `sub` must belong to matrix_server. */
    const char *dom = mxr_id_check_user(user, MXR_USER_HISTORICAL, NULL) == 0 ? mxr_id_domain(user) : NULL;
    if (!dom || strcmp(dom, ms) != 0) {
        realm_reply_error(&c, 403, "M_FORBIDDEN", "%s vouched for %.100s, which is not one of its users", ms, user);
        goto out;
    }
    uint8_t token[MXR_REALM_SESSION_BYTES];
    randombytes_buf(token, sizeof token);
    struct session_put p = { .expires = c.now + REALM_SESSION_TTL_MS, .now = c.now, .user_id = user };
    crypto_generichash(p.hash, sizeof p.hash, token, sizeof token, NULL, 0);
    if (mxr_store_write(c.r->store, session_write, &p, &err) < 0) {
        sodium_memzero(token, sizeof token);
        realm_reply_error(&c, 500, "M_UNKNOWN", "could not store the session: %s", err.msg);
        goto out;
    }
    json_t *body = json_pack("{s:I, s:s}", "expires_in_ms", (json_int_t)REALM_SESSION_TTL_MS, "user_id", user);
    if (body)
        mxr_realm_json_set_bytes(body, "session", token, sizeof token, &err);
    sodium_memzero(token, sizeof token);
    realm_reply(&c, 200, body);
out:
    realm_call_close(&c);
}
