/* Client authentication: access tokens (client-server API "Using access
 * tokens"), passwords (Argon2id), device logins, and the single-stage
 * user-interactive authentication flows this server offers. */
#include "relay/client/client_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mxr/base64.h"
#include "mxr/ids.h"
#include "relay/server.h"

/* ---- tokens ----------------------------------------------------------------------
 * 32 random bytes, unpadded base64url, prefixed "mxr_" (so a leaked token is
 * recognisable in logs and secret scanners). Only the SHA-256 is stored. */

void cl_token_hash(const char *token, uint8_t hash[MXR_STORE_TOKEN_HASH])
{
    crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
}

void cl_token_new(char token[CL_TOKEN_LEN + 1], uint8_t hash[MXR_STORE_TOKEN_HASH])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    memcpy(token, CL_TOKEN_PREFIX, 4);
    mxr_b64_encode(token + 4, CL_TOKEN_LEN + 1 - 4, raw, sizeof raw, MXR_B64_URL);
    sodium_memzero(raw, sizeof raw);
    cl_token_hash(token, hash);
}

/* The token of a request: "Authorization: Bearer T" (scheme matched
 * case-insensitively, RFC 9110), else ?access_token=T (legacy clients such
 * as matrix-nio 0.20). NULL when neither is present. */
static const char *request_token(const struct mxr_request *req)
{
    const char *a = req->authorization;
    if (a) {
        while (*a == ' ')
            a++;
        if (!strncasecmp(a, "Bearer", 6) && a[6] == ' ') {
            a += 7;
            while (*a == ' ')
                a++;
            return a;
        }
    }
    return mxr_req_query(req, "access_token");
}

int mxr_client_authenticate(struct mxr_request *req, struct mxr_err *err)
{
    struct mxr_client *c = cl_of(req);
    if (!c)
        return mxr_err_set(err, "M_UNKNOWN", "the client API is not configured");
    const char *tok = request_token(req);
    if (!tok || !*tok)
        return mxr_err_set(err, "M_MISSING_TOKEN", "Missing access token: send 'Authorization: Bearer <token>'");
    size_t n = strcspn(tok, " \t");
    if (n != strlen(tok))
        return mxr_err_set(err, "M_UNKNOWN_TOKEN", "Unrecognised access token");
    uint8_t h[MXR_STORE_TOKEN_HASH];
    cl_token_hash(tok, h);
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, err) < 0)
        return -1;
    int rc = mxr_store_token_lookup(t, h, req->user_id, req->device_id, err);
    struct mxr_store_account a;
    if (rc == 0)
        rc = mxr_store_account_get(t, req->user_id, &a, err);
    mxr_store_read_end(t);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND || (a.flags & MXR_ACCOUNT_DEACTIVATED)) {
        req->user_id[0] = req->device_id[0] = '\0';
        return mxr_err_set(err, "M_UNKNOWN_TOKEN", "Unrecognised access token");
    }
    return 0;
}

/* ---- passwords ----------------------------------------------------------------- */

int cl_password_hash(const struct mxr_client *c, const char *password, char out[MXR_STORE_PWHASH_MAX + 1],
                     struct mxr_err *err)
{
    char h[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(h, password, strlen(password), c->pw_ops, c->pw_mem) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "hashing the password failed (out of memory)");
    snprintf(out, MXR_STORE_PWHASH_MAX + 1, "%s", h);
    sodium_memzero(h, sizeof h);
    return 0;
}

int cl_password_check(struct mxr_client *c, const char *user_id, const char *password, bool *ok, bool *deactivated,
                      struct mxr_err *err)
{
    *ok = false;
    if (deactivated)
        *deactivated = false;
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, err) < 0)
        return -1;
    struct mxr_store_account a;
    int rc = mxr_store_account_get(t, user_id, &a, err);
    mxr_store_read_end(t);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND || !a.password_hash[0] || !password)
        return 0;
    /* Verified before looking at the flag, so that a wrong password does not
     * reveal that an account was deactivated. */
    *ok = crypto_pwhash_str_verify(a.password_hash, password, strlen(password)) == 0;
    if (*ok && (a.flags & MXR_ACCOUNT_DEACTIVATED)) {
        *ok = false;
        if (deactivated)
            *deactivated = true;
    }
    sodium_memzero(&a, sizeof a);
    return 0;
}

/* ---- device logins --------------------------------------------------------------- */

struct login_arg {
    const char *user_id, *device_id, *display_name, *ip;
    const uint8_t *hash;
    int64_t now;
};

static int login_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct login_arg *a = arg;
    return mxr_store_device_login(t, a->user_id, a->device_id, a->display_name, a->hash, a->now, a->ip, err);
}

int cl_login_device(struct mxr_client *c, const char *user_id, const char *device_id, const char *display_name,
                    const char *ip, char token[CL_TOKEN_LEN + 1], char device_out[MXR_STORE_DEVICE_ID_MAX + 1],
                    struct mxr_err *err)
{
    if (device_id && (!*device_id || strlen(device_id) > MXR_STORE_DEVICE_ID_MAX))
        return mxr_err_set(err, "M_INVALID_PARAM", "device_id must be 1 to %d bytes", MXR_STORE_DEVICE_ID_MAX);
    if (display_name && strlen(display_name) > CL_ID_MAX)
        return mxr_err_set(err, "M_INVALID_PARAM", "initial_device_display_name is over %d bytes", CL_ID_MAX);
    if (device_id)
        snprintf(device_out, MXR_STORE_DEVICE_ID_MAX + 1, "%s", device_id);
    else
        cl_random_upper(device_out, 10);   /* like Synapse: 10 capital letters */
    uint8_t h[MXR_STORE_TOKEN_HASH];
    cl_token_new(token, h);
    struct login_arg a = {user_id, device_out, display_name, ip, h, cl_now(c)};
    if (cl_write(c, login_fn, &a, err) < 0) {
        sodium_memzero(token, CL_TOKEN_LEN + 1);
        return -1;
    }
    return 0;
}

/* ---- identifiers ----------------------------------------------------------------- */

int cl_identifier_user(const struct mxr_client *c, json_t *body, char out[CL_ID_MAX + 1], struct mxr_response *resp)
{
    const char *user = NULL;
    json_t *id = json_object_get(body, "identifier");
    if (id) {
        if (!json_is_object(id))
            return mxr_resp_error(resp, 400, "M_BAD_JSON", "'identifier' must be an object");
        const char *type = json_string_value(json_object_get(id, "type"));
        if (!type)
            return mxr_resp_error(resp, 400, "M_BAD_JSON", "'identifier.type' must be a string");
        if (!strcmp(type, "m.id.thirdparty") || !strcmp(type, "m.id.phone"))
            /* legacy login: unknown 3PIDs are 403 */
            return mxr_resp_error(resp, 403, "M_FORBIDDEN", "no third-party identifiers are bound on this server");
        if (strcmp(type, "m.id.user"))
            return mxr_resp_error(resp, 400, "M_UNKNOWN", "unknown identifier type '%s'", type);
        user = json_string_value(json_object_get(id, "user"));
        if (!user)
            return mxr_resp_error(resp, 400, "M_BAD_JSON", "'identifier.user' must be a string");
    } else {
        json_t *u = json_object_get(body, "user");   /* deprecated top-level field */
        if (!json_is_string(u))
            return mxr_resp_error(resp, 400, "M_MISSING_PARAM", "'identifier' (m.id.user) is required");
        user = json_string_value(u);
    }
    if (user[0] == '@') {
        if (mxr_id_check_user(user, MXR_USER_HISTORICAL, NULL) < 0 || strlen(user) > CL_ID_MAX)
            return mxr_resp_error(resp, 403, "M_FORBIDDEN", "Invalid username or password");
        snprintf(out, CL_ID_MAX + 1, "%s", user);
        /* Synapse's habit: the localpart is matched case-insensitively,
         * since every local localpart is lower case. */
        for (char *p = out + 1; *p && *p != ':'; p++)
            *p = (char)tolower((unsigned char)*p);
        return 0;
    }
    char lp[CL_ID_MAX + 1];
    snprintf(lp, sizeof lp, "%s", user);
    for (char *p = lp; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    struct mxr_err err = {0};
    if (cl_user_id(c, lp, out, &err) < 0)
        return mxr_resp_error(resp, 403, "M_FORBIDDEN", "Invalid username or password");
    return 0;
}

/* ---- user-interactive authentication ------------------------------------------------ */

static int uia_401(struct mxr_response *resp, const char *stage, const char *session, const char *errcode,
                   const char *error)
{
    char fresh[25];
    if (!session) {
        cl_random_token(fresh, 24);
        session = fresh;
    }
    json_t *body = json_pack("{s:[{s:[s]}], s:{}, s:s}", "flows", "stages", stage, "params", "session", session);
    if (!body)
        body = json_pack("{s:[{s:[s]}], s:{}, s:s}", "flows", "stages", stage, "params", "session", fresh);
    if (errcode && body) {
        json_object_set_new(body, "errcode", json_string(errcode));
        json_object_set_new(body, "error", json_string(error));
        json_object_set_new(body, "completed", json_array());
    }
    mxr_resp_json(resp, 401, body);
    resp->errcode = errcode;
    return 0;
}

int cl_uia(struct mxr_client *c, struct mxr_request *req, json_t *body, const char *stage, const char *user_id,
           struct mxr_response *resp)
{
    json_t *auth = json_object_get(body, "auth");
    if (!auth || json_is_null(auth))
        return uia_401(resp, stage, NULL, NULL, NULL);
    if (!json_is_object(auth)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'auth' must be an object");
        return -1;
    }
    const char *session = json_string_value(json_object_get(auth, "session"));
    if (session && strlen(session) > 128)
        session = NULL;
    const char *type = json_string_value(json_object_get(auth, "type"));
    if (!type)
        /* Only a session: a stage completed out of band, which none of ours is. */
        return uia_401(resp, stage, session, NULL, NULL);
    if (strcmp(type, stage))
        return uia_401(resp, stage, session, "M_UNRECOGNIZED", "this request's only flow is its single stage");
    if (!strcmp(stage, "m.login.dummy"))
        return 1;
    /* m.login.password: the identified user must be the one authenticating
     * the request, and the password theirs. */
    char who[CL_ID_MAX + 1];
    struct mxr_response tmp = {0};
    if (cl_identifier_user(c, auth, who, &tmp) < 0) {
        mxr_response_clear(&tmp);
        return uia_401(resp, stage, session, "M_FORBIDDEN", "Invalid username or password");
    }
    const char *pw = json_string_value(json_object_get(auth, "password"));
    bool ok = false;
    struct mxr_err err = {0};
    if (strcmp(who, user_id))
        return uia_401(resp, stage, session, "M_FORBIDDEN", "the identifier names another user");
    if (cl_password_check(c, who, pw, &ok, NULL, &err) < 0) {
        cl_store_error(req, resp, &err);
        return -1;
    }
    if (!ok)
        return uia_401(resp, stage, session, "M_FORBIDDEN", "Invalid username or password");
    return 1;
}
