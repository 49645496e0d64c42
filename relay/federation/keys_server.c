/* GET /_matrix/key/v2/server: our published keys (spec: server-server API
 * "Publishing Keys", keys_server.yaml, definitions/keys.yaml). */
#include "relay/federation/federation.h"
#include "relay/server.h"

#include "mxr/sign.h"

json_t *mxr_own_server_keys(struct mxr_server *srv, struct mxr_err *err)
{
    char pk[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(&srv->key, pk);
    /* old_verify_keys stays empty until key rotation keeps retired keys. */
    json_t *o = json_pack("{s:s, s:{s:{s:s}}, s:{}, s:I}", "server_name", srv->cfg->server_name, "verify_keys",
                          srv->key.key_id, "key", pk, "old_verify_keys", "valid_until_ts",
                          (json_int_t)(mxr_server_now(srv) + MXR_OWN_KEYS_VALIDITY_MS));
    if (!o) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    if (mxr_sign_json(o, srv->cfg->server_name, &srv->key, err) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void mxr_handle_key_server(struct mxr_request *req, struct mxr_response *resp)
{
    /* The legacy {keyId} suffix selects nothing: all current keys are returned. */
    struct mxr_err err = { 0 };
    json_t *keys = mxr_own_server_keys(req->srv, &err);
    if (!keys) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, keys);
}
