/* Shared-secret registration, as Synapse serves it at
 * /_synapse/admin/v1/register and its register_new_matrix_user tool (and
 * other operators' scripts) speak it: GET a nonce, then POST the account with
 * mac = hex(HMAC-SHA1(secret, nonce NUL username NUL password NUL
 * "admin"|"notadmin" [NUL user_type])). Nonces are single-use and expire
 * after a minute. Enabled only when registration_shared_secret is set. */
#include "relay/client/client_int.h"

#include <gnutls/crypto.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/config.h"

#define NONCE_TTL_MS 60000

static bool enabled(struct mxr_client *c, struct mxr_response *resp)
{
    if (c->cfg->registration_shared_secret && c->cfg->registration_shared_secret[0])
        return true;
    mxr_resp_error(resp, 400, "M_UNKNOWN", "Shared secret registration is not enabled (registration_shared_secret)");
    return false;
}

void cl_h_admin_register_nonce(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    if (!enabled(c, resp))
        return;
    pthread_mutex_lock(&c->nonce_mu);
    struct cl_nonce *n = &c->nonces[c->next_nonce++ % CL_NONCES];
    cl_random_token(n->value, 32);
    n->issued_ts = cl_now(c);
    json_t *body = json_pack("{s:s}", "nonce", n->value);
    pthread_mutex_unlock(&c->nonce_mu);
    mxr_resp_json(resp, 200, body);
}

/* Consumes the nonce: true when it was issued, unused and fresh. */
static bool take_nonce(struct mxr_client *c, const char *nonce)
{
    bool ok = false;
    int64_t now = cl_now(c);
    pthread_mutex_lock(&c->nonce_mu);
    for (int i = 0; i < CL_NONCES; i++) {
        struct cl_nonce *n = &c->nonces[i];
        if (n->value[0] && !strcmp(n->value, nonce)) {
            ok = now - n->issued_ts <= NONCE_TTL_MS;
            n->value[0] = '\0';
        }
    }
    pthread_mutex_unlock(&c->nonce_mu);
    return ok;
}

static bool mac_ok(const char *secret, const char *nonce, const char *user, const char *pw, bool admin,
                   const char *user_type, const char *mac_hex)
{
    size_t n = strlen(nonce) + strlen(user) + strlen(pw) + 16 + (user_type ? strlen(user_type) + 1 : 0);
    char *msg = malloc(n);
    if (!msg)
        return false;
    size_t len = 0;
    const char *parts[] = {nonce, user, pw, admin ? "admin" : "notadmin", user_type};
    for (size_t i = 0; i < 5 && parts[i]; i++) {
        if (i)
            msg[len++] = '\0';
        memcpy(msg + len, parts[i], strlen(parts[i]));
        len += strlen(parts[i]);
    }
    uint8_t digest[20];
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA1, secret, strlen(secret), msg, len, digest);
    sodium_memzero(msg, n);
    free(msg);
    if (rc < 0)
        return false;
    char hex[41];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return strlen(mac_hex) == 40 && sodium_memcmp(hex, mac_hex, 40) == 0;
}

struct name_arg {
    const char *user_id;
    char *profile;
};

static int name_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct name_arg *a = arg;
    return mxr_store_profile_put(t, a->user_id, a->profile, strlen(a->profile), err);
}

void cl_h_admin_register(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    if (!enabled(c, resp))
        return;
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    const char *nonce, *user, *pw, *mac, *user_type, *display;
    if (cl_opt_str(body, "nonce", &nonce, resp) < 0 || cl_opt_str(body, "username", &user, resp) < 0 ||
        cl_opt_str(body, "password", &pw, resp) < 0 || cl_opt_str(body, "mac", &mac, resp) < 0 ||
        cl_opt_str(body, "user_type", &user_type, resp) < 0 || cl_opt_str(body, "displayname", &display, resp) < 0)
        return;
    json_t *admin = json_object_get(body, "admin");
    if (admin && !json_is_boolean(admin)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'admin' must be a boolean");
        return;
    }
    if (!nonce || !user || !pw || !mac) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "nonce, username, password and mac are required");
        return;
    }
    if (!take_nonce(c, nonce)) {
        mxr_resp_error(resp, 400, "M_UNKNOWN", "unrecognised or expired nonce: GET a fresh one first");
        return;
    }
    if (!mac_ok(c->cfg->registration_shared_secret, nonce, user, pw, json_is_true(admin), user_type, mac)) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "HMAC incorrect");
        return;
    }
    char user_id[256], token[CL_TOKEN_LEN + 1], dev[MXR_STORE_DEVICE_ID_MAX + 1];
    struct mxr_err err = {0};
    if (mxr_client_create_account(c, user, pw, json_is_true(admin), user_id, &err) < 0 ||
        cl_login_device(c, user_id, NULL, NULL, req->remote, token, dev, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    if (display && *display && strlen(display) <= CL_ID_MAX) {
        json_t *p = json_pack("{s:s}", "displayname", display);
        struct name_arg a = {user_id, p ? json_dumps(p, JSON_COMPACT) : NULL};
        json_decref(p);
        if (!a.profile || cl_write(c, name_fn, &a, &err) < 0)
            if (c->log)
                mxr_log(c->log, MXR_LOG_WARN, req->id, "%s: setting the display name failed: %s", user_id, err.msg);
        free(a.profile);
    }
    mxr_resp_json(resp, 200, json_pack("{s:s, s:s, s:s, s:s}", "user_id", user_id, "access_token", token,
                                       "device_id", dev, "home_server", c->server_name));
    sodium_memzero(token, sizeof token);
}
