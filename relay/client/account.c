/* Accounts and sessions (client-server API "Legacy API": registration,
 * login, logout, whoami, password management). */
#include "relay/client/client_int.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "relay/config.h"

/* ---- creating accounts -------------------------------------------------------------- */

struct create_arg {
    const char *user_id;
    struct mxr_store_account acct;
    const char *profile;
    bool created;
};

static int create_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct create_arg *a = arg;
    if (mxr_store_account_create(t, a->user_id, &a->acct, &a->created, err) < 0)
        return -1;
    if (a->created && mxr_store_profile_put(t, a->user_id, a->profile, strlen(a->profile), err) < 0)
        return -1;
    return 0;
}

/* Validates the localpart (or this server's user ID) in `user` and writes
 * the user ID to out. */
static int parse_new_user(const struct mxr_client *c, const char *user, char out[CL_ID_MAX + 1],
                          char localpart[CL_ID_MAX + 1], struct mxr_err *err)
{
    if (user[0] == '@') {
        const char *colon = strchr(user, ':');
        if (!colon || strcmp(colon + 1, c->server_name))
            return mxr_err_set(err, "M_INVALID_USERNAME", "%s is not a user ID of this server (%s)", user,
                               c->server_name);
        snprintf(localpart, CL_ID_MAX + 1, "%.*s", (int)(colon - user - 1), user + 1);
    } else {
        snprintf(localpart, CL_ID_MAX + 1, "%s", user);
    }
    if (!cl_localpart_valid(localpart))
        return mxr_err_set(err, "M_INVALID_USERNAME", "user ID localparts may only contain a-z, 0-9 and ._=/+- "
                           "(spec appendices, \"User Identifiers\")");
    return cl_user_id(c, localpart, out, err);
}

/* Creates the account; *taken says the ID was in use (err M_USER_IN_USE). */
static int create_account(struct mxr_client *c, const char *user_id, const char *localpart, const char *password,
                          bool admin, struct mxr_err *err)
{
    struct create_arg a = {.user_id = user_id};
    a.acct.flags = admin ? MXR_ACCOUNT_ADMIN : 0;
    a.acct.created_ts = cl_now(c);
    if (password && cl_password_hash(c, password, a.acct.password_hash, err) < 0)
        return -1;
    /* Synapse's habit: a new user's display name is their localpart. */
    json_t *profile = json_pack("{s:s}", "displayname", localpart);
    char *text = profile ? json_dumps(profile, JSON_COMPACT) : NULL;
    json_decref(profile);
    if (!text)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    a.profile = text;
    int rc = cl_write(c, create_fn, &a, err);
    free(text);
    sodium_memzero(&a.acct, sizeof a.acct);
    if (rc < 0)
        return -1;
    if (!a.created)
        return mxr_err_set(err, "M_USER_IN_USE", "User ID %s is already taken", user_id);
    if (c->log)
        mxr_log(c->log, MXR_LOG_INFO, NULL, "registered %s%s", user_id, admin ? " (admin)" : "");
    return 0;
}

int mxr_client_create_account(struct mxr_client *c, const char *user, const char *password, bool admin,
                              char user_id_out[256], struct mxr_err *err)
{
    char lp[CL_ID_MAX + 1];
    if (!user || parse_new_user(c, user, user_id_out, lp, err) < 0)
        return -1;
    return create_account(c, user_id_out, lp, password, admin, err);
}

/* The user ID's existence, for /register and /register/available. */
static int user_exists(struct mxr_client *c, const char *user_id, bool *exists, struct mxr_err *err)
{
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, err) < 0)
        return -1;
    struct mxr_store_account a;
    int rc = mxr_store_account_get(t, user_id, &a, err);
    mxr_store_read_end(t);
    if (rc < 0)
        return -1;
    *exists = rc == 0;
    return 0;
}

/* The login response shared by /login and /register: user_id,
 * access_token, device_id, and the deprecated home_server (still read by
 * older clients). */
static json_t *session_body(const struct mxr_client *c, const char *user_id, const char *token, const char *device)
{
    json_t *b = json_pack("{s:s, s:s}", "user_id", user_id, "home_server", c->server_name);
    if (b && token) {
        json_object_set_new(b, "access_token", json_string(token));
        json_object_set_new(b, "device_id", json_string(device));
    }
    return b;
}

/* ---- POST /register --------------------------------------------------------------------- */

void cl_h_register(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *kind = mxr_req_query(req, "kind");
    if (kind && !strcmp(kind, "guest")) {
        mxr_resp_error(resp, 403, "M_GUEST_ACCESS_FORBIDDEN", "guest accounts are not available on this server");
        return;
    }
    if (kind && strcmp(kind, "user")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "kind must be 'user' or 'guest'");
        return;
    }
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    if (!c->cfg->registration_enabled) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "Registration is disabled on this server (registration_enabled); "
                       "ask its operator for an account");
        return;
    }
    const char *username, *password, *device_id, *display_name;
    if (cl_opt_str(body, "username", &username, resp) < 0 || cl_opt_str(body, "password", &password, resp) < 0 ||
        cl_opt_str(body, "device_id", &device_id, resp) < 0 ||
        cl_opt_str(body, "initial_device_display_name", &display_name, resp) < 0)
        return;
    json_t *inhibit = json_object_get(body, "inhibit_login");
    if (inhibit && !json_is_boolean(inhibit)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'inhibit_login' must be a boolean");
        return;
    }
    /* Checked before the auth stages (as Synapse does), so that clients
     * learn of a taken name before completing them. */
    char user_id[CL_ID_MAX + 1], lp[CL_ID_MAX + 1];
    struct mxr_err err = {0};
    if (username) {
        if (parse_new_user(c, username, user_id, lp, &err) < 0) {
            mxr_resp_err(resp, &err);
            return;
        }
        bool exists;
        if (user_exists(c, user_id, &exists, &err) < 0) {
            cl_store_error(req, resp, &err);
            return;
        }
        if (exists) {
            mxr_resp_error(resp, 400, "M_USER_IN_USE", "User ID already taken.");
            return;
        }
    }
    if (cl_uia(c, req, body, "m.login.dummy", NULL, resp) != 1)
        return;
    if (!cl_rl_admit(c, CL_RL_REGISTRATION, req, resp))
        return;
    if (!password || !*password) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "'password' is required");
        return;
    }
    if (!username) {
        cl_random_upper(lp, 12);
        for (char *p = lp; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (cl_user_id(c, lp, user_id, &err) < 0) {
            mxr_resp_err(resp, &err);
            return;
        }
    }
    if (create_account(c, user_id, lp, password, false, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    if (json_is_true(inhibit)) {
        mxr_resp_json(resp, 200, session_body(c, user_id, NULL, NULL));
        return;
    }
    char token[CL_TOKEN_LEN + 1], dev[MXR_STORE_DEVICE_ID_MAX + 1];
    if (cl_login_device(c, user_id, device_id, display_name, req->remote, token, dev, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, session_body(c, user_id, token, dev));
    sodium_memzero(token, sizeof token);
}

/* GET /register/available?username= */
void cl_h_register_available(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *username = mxr_req_query(req, "username");
    if (!username) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "the 'username' query parameter is required");
        return;
    }
    char user_id[CL_ID_MAX + 1], lp[CL_ID_MAX + 1];
    struct mxr_err err = {0};
    if (parse_new_user(c, username, user_id, lp, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    bool exists;
    if (user_exists(c, user_id, &exists, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (exists)
        mxr_resp_error(resp, 400, "M_USER_IN_USE", "User ID already taken.");
    else
        mxr_resp_json(resp, 200, json_pack("{s:b}", "available", 1));
}

/* ---- POST /login ------------------------------------------------------------------------- */

void cl_h_login(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    /* every attempt counts, failed ones first of all (password guessing) */
    if (!cl_rl_admit(c, CL_RL_LOGIN, req, resp))
        return;
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    const char *type = json_string_value(json_object_get(body, "type"));
    if (!type) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'type' must be a string");
        return;
    }
    if (strcmp(type, "m.login.password")) {
        mxr_resp_error(resp, 400, "M_UNKNOWN", "unknown login type '%s': this server offers m.login.password", type);
        return;
    }
    char user_id[CL_ID_MAX + 1];
    if (cl_identifier_user(c, body, user_id, resp) < 0)
        return;
    const char *password, *device_id, *display_name;
    if (cl_opt_str(body, "password", &password, resp) < 0 || cl_opt_str(body, "device_id", &device_id, resp) < 0 ||
        cl_opt_str(body, "initial_device_display_name", &display_name, resp) < 0)
        return;
    if (!cl_is_local(c, user_id)) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "Invalid username or password");
        return;
    }
    bool ok = false, deactivated = false;
    struct mxr_err err = {0};
    if (cl_password_check(c, user_id, password, &ok, &deactivated, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (deactivated) {
        mxr_resp_error(resp, 403, "M_USER_DEACTIVATED", "This account has been deactivated");
        return;
    }
    if (!ok) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "Invalid username or password");
        return;
    }
    char token[CL_TOKEN_LEN + 1], dev[MXR_STORE_DEVICE_ID_MAX + 1];
    if (cl_login_device(c, user_id, device_id, display_name, req->remote, token, dev, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    json_t *b = session_body(c, user_id, token, dev);
    json_object_set_new(b, "well_known", json_pack("{s:{s:s}}", "m.homeserver", "base_url", c->base_url));
    mxr_resp_json(resp, 200, b);
    sodium_memzero(token, sizeof token);
}

/* ---- logout -------------------------------------------------------------------------------- */

struct devdel_arg {
    const char *user_id;
    const char *device_id;      /* one device, or NULL: all but `keep` */
    const char *keep;           /* NULL: none kept */
    char ids[256][MXR_STORE_DEVICE_ID_MAX + 1];
    size_t n;
};

static int collect_dev(void *arg, const struct mxr_store_device *d)
{
    struct devdel_arg *a = arg;
    if (a->keep && !strcmp(d->device_id, a->keep))
        return 0;
    if (a->n == sizeof a->ids / sizeof a->ids[0])
        return 1;
    snprintf(a->ids[a->n++], sizeof a->ids[0], "%s", d->device_id);
    return 0;
}

static int devdel_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct devdel_arg *a = arg;
    if (a->device_id)
        return mxr_store_device_delete(t, a->user_id, a->device_id, err) < 0 ? -1 : 0;
    a->n = 0;
    if (mxr_store_devices(t, a->user_id, collect_dev, a, err) < 0)
        return -1;
    for (size_t i = 0; i < a->n; i++)
        if (mxr_store_device_delete(t, a->user_id, a->ids[i], err) < 0)
            return -1;
    return 0;
}

int cl_delete_devices(struct mxr_client *c, const char *user_id, const char *device_id, const char *keep,
                      struct mxr_err *err)
{
    struct devdel_arg *a = calloc(1, sizeof *a);
    if (!a)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    a->user_id = user_id;
    a->device_id = device_id;
    a->keep = keep;
    int rc;
    do {   /* 256 devices per write; more in further rounds */
        rc = cl_write(c, devdel_fn, a, err);
    } while (rc == 0 && !device_id && a->n == sizeof a->ids / sizeof a->ids[0]);
    free(a);
    return rc;
}

void cl_h_logout(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_err err = {0};
    if (cl_delete_devices(cl_of(req), req->user_id, req->device_id, NULL, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    cl_keys_device_deleted(req, req->device_id);
    mxr_resp_json(resp, 200, json_object());
}

void cl_h_logout_all(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_err err = {0};
    json_t *ids = cl_keys_device_ids(req);
    if (cl_delete_devices(cl_of(req), req->user_id, NULL, NULL, &err) < 0) {
        json_decref(ids);
        cl_store_error(req, resp, &err);
        return;
    }
    cl_keys_devices_deleted(req, ids, NULL);
    mxr_resp_json(resp, 200, json_object());
}

void cl_h_whoami(struct mxr_request *req, struct mxr_response *resp)
{
    mxr_resp_json(resp, 200, json_pack("{s:s, s:s, s:b}", "user_id", req->user_id, "device_id", req->device_id,
                                       "is_guest", 0));
}

/* ---- POST /account/password ------------------------------------------------------------------ */

struct pw_arg {
    const char *user_id;
    char hash[MXR_STORE_PWHASH_MAX + 1];
    bool missing;
};

static int pw_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct pw_arg *a = arg;
    struct mxr_store_account acct;
    int rc = mxr_store_account_get(t, a->user_id, &acct, err);
    if (rc < 0)
        return -1;
    a->missing = rc == MXR_STORE_NOT_FOUND;
    if (a->missing)
        return 0;
    snprintf(acct.password_hash, sizeof acct.password_hash, "%s", a->hash);
    return mxr_store_account_set(t, a->user_id, &acct, err);
}

void cl_h_password(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    const char *pw;
    if (cl_opt_str(body, "new_password", &pw, resp) < 0)
        return;
    json_t *lo = json_object_get(body, "logout_devices");
    if (lo && !json_is_boolean(lo)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'logout_devices' must be a boolean");
        return;
    }
    if (!pw || !*pw) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "'new_password' is required");
        return;
    }
    if (cl_uia(c, req, body, "m.login.password", req->user_id, resp) != 1)
        return;
    struct pw_arg a = {.user_id = req->user_id};
    struct mxr_err err = {0};
    if (cl_password_hash(c, pw, a.hash, &err) < 0 || cl_write(c, pw_fn, &a, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    sodium_memzero(a.hash, sizeof a.hash);
    /* logout_devices defaults to true; the requesting device keeps its token
     * (the spec: the server SHOULD NOT revoke it). */
    json_t *ids = json_is_false(lo) ? NULL : cl_keys_device_ids(req);
    if (!json_is_false(lo) && cl_delete_devices(c, req->user_id, NULL, req->device_id, &err) < 0) {
        json_decref(ids);
        cl_store_error(req, resp, &err);
        return;
    }
    if (ids)
        cl_keys_devices_deleted(req, ids, req->device_id);
    mxr_resp_json(resp, 200, json_object());
}
