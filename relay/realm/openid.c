/* OpenID token issue and lookup (client-server API "OpenID",
 * openid.yaml: POST /user/{userId}/openid/request_token; server-server API
 * "OpenID": the userinfo lookup). The token is valid only for that lookup:
 * it is kept apart from access tokens, so it cannot call /sync or ask for
 * another token, as the spec requires. */
#include "relay/realm/openid.h"

#include <sodium.h>
#include <string.h>

#include "mxr/base64.h"
#include "relay/server.h"
#include "relay/store/realm.h"

#define SWEEP_PER_TOKEN 16

struct token_put {
    uint8_t hash[32];
    int64_t expires;
    int64_t now;
    const char *user_id;
};

static int token_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    const struct token_put *p = arg;
    if (mxr_store_realm_token_sweep(txn, MXR_STORE_OPENID_TOKENS, p->now, SWEEP_PER_TOKEN, err) < 0)
        return -1;
    return mxr_store_realm_token_put(txn, MXR_STORE_OPENID_TOKENS, p->hash, p->expires, p->user_id, err);
}

/* POST /user/{userId}/openid/request_token */
static void h_request_token(struct mxr_request *req, struct mxr_response *resp)
{
    const char *user = mxr_req_param(req, "userId");
    struct mxr_server *srv = req->srv;
    if (!user || strcmp(user, req->user_id) != 0) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "an OpenID token can only be requested for the authenticated user "
                       "(%.100s)", req->user_id);
        return;
    }
    if (!srv->store) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "no store");
        return;
    }
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    char token[64];
    mxr_b64_encode(token, sizeof token, raw, sizeof raw, MXR_B64_URL);
    sodium_memzero(raw, sizeof raw);
    int64_t now = mxr_server_now(srv);
    struct token_put p = { .expires = now + MXR_OPENID_TTL_MS, .now = now, .user_id = req->user_id };
    crypto_hash_sha256(p.hash, (const uint8_t *)token, strlen(token));
    struct mxr_err err = { 0 };
    if (mxr_store_write(srv->store, token_write, &p, &err) < 0) {
        sodium_memzero(token, sizeof token);
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:s, s:s, s:s, s:i}", "access_token", token, "token_type", "Bearer",
                                       "matrix_server_name", srv->cfg->server_name, "expires_in",
                                       (int)(MXR_OPENID_TTL_MS / 1000)));
    sodium_memzero(token, sizeof token);
}

static const struct mxr_route ROUTES[] = {
    { "POST", "/_matrix/client/v3/user/{userId}/openid/request_token", h_request_token,
      MXR_ROUTE_CLIENT_AUTH | MXR_ROUTE_BODY_JSON },
    { "POST", "/_matrix/client/r0/user/{userId}/openid/request_token", h_request_token,
      MXR_ROUTE_CLIENT_AUTH | MXR_ROUTE_BODY_JSON },
};

int mxr_openid_add_routes(struct mxr_router *r, struct mxr_err *err)
{
    return mxr_router_add(r, ROUTES, sizeof ROUTES / sizeof ROUTES[0], err);
}

int mxr_openid_lookup(struct mxr_store *store, int64_t now_ms, const char *token, char user_out[256],
                      struct mxr_err *err)
{
    user_out[0] = '\0';
    if (!store || !token || !*token)
        return MXR_STORE_NOT_FOUND;
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(store, &txn, err) < 0)
        return -1;
    int64_t expires = 0;
    char user[MXR_STORE_ID_MAX + 1];
    int rc = mxr_store_realm_token_get(txn, MXR_STORE_OPENID_TOKENS, hash, &expires, user, err);
    mxr_store_read_end(txn);
    if (rc != 0)
        return rc;
    if (expires <= now_ms)
        return MXR_STORE_NOT_FOUND;
    memcpy(user_out, user, strlen(user) + 1);
    return 0;
}

bool mxr_openid_token_user(struct mxr_server *srv, const char *token, char user_out[256])
{
    struct mxr_err err = { 0 };
    int rc = mxr_openid_lookup(srv->store, mxr_server_now(srv), token, user_out, &err);
    if (rc < 0)
        srv_log(srv, MXR_LOG_ERROR, NULL, "openid: token lookup failed: %s", err.msg);
    return rc == 0;
}
