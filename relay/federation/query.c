/* Queries about our users and aliases (spec: server-server API "Querying
 * for information", "OpenID", "Device Management", "End-to-End Encryption";
 * query.yaml, openid.yaml, user_devices.yaml, user_keys.yaml).
 *
 * The data behind these endpoints belongs to the client API. Profiles,
 * aliases and devices are read from its tables (relay/store/accounts.h),
 * device, one-time, fallback and cross-signing keys from relay/store/e2ee.h
 * (uploaded through the client API: POST /keys/upload and friends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/json.h"
#include "relay/federation/inbound.h"
#include "relay/rooms/rooms.h"
#include "relay/realm/openid.h"
#include "relay/server.h"
#include "relay/store/accounts.h"
#include "relay/store/e2ee.h"
#include "relay/store/store.h"

/* ---- lookups --------------------------------------------------------------------- */

/* The public profile of our user {displayname?, avatar_url?, m.tz?, ...}:
 * new reference, or NULL when the user has no profile (a store failure is
 * logged and counts as none). */
static json_t *local_profile(struct mxr_request *req, const char *user_id)
{
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    if (!req->srv->store || mxr_store_read_begin(req->srv->store, &txn, &err) < 0)
        return NULL;
    const char *json;
    size_t len;
    json_t *out = NULL;
    int rc = mxr_store_profile_get(txn, user_id, &json, &len, &err);
    if (rc == 0)
        out = mxr_json_parse(json, len, 0, &err);
    if (rc < 0 || (rc == 0 && !json_is_object(out)))
        srv_log(req->srv, MXR_LOG_WARN, req->id, "profile of %s unreadable: %s", user_id, err.msg);
    mxr_store_read_end(txn);
    if (!json_is_object(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The room an alias of ours points to (room_id_out), or false. */
static bool local_alias(struct mxr_store_txn *txn, const char *alias, char room_id_out[MXR_ID_MAX + 1])
{
    char id[MXR_STORE_ID_MAX + 1];
    if (mxr_store_alias_get(txn, alias, id, NULL) != 0)
        return false;
    snprintf(room_id_out, MXR_ID_MAX + 1, "%s", id);
    return true;
}

/* A stored JSON object (a store lookup's result rc, json, len): new
 * reference, or NULL when absent or unreadable. */
static json_t *stored_object(int rc, const char *json, size_t len)
{
    json_t *o = rc == 0 ? json_loadb(json, len, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The signed device keys (DeviceKeys) of one of our user's devices, new
 * reference, or NULL when it uploaded none. */
static json_t *device_keys(struct mxr_store_txn *txn, const char *user_id, const char *device_id)
{
    const char *json = NULL;
    size_t len = 0;
    int rc = mxr_store_device_keys_get(txn, user_id, device_id, &json, &len, NULL);
    return stored_object(rc, json, len);
}

/* A cross-signing key of our user ("master", "self_signing"), or NULL. */
static json_t *xsign_key(struct mxr_store_txn *txn, const char *user_id, const char *usage)
{
    const char *json = NULL;
    size_t len = 0;
    int rc = mxr_store_xsign_get(txn, user_id, usage, &json, &len, NULL);
    return stored_object(rc, json, len);
}

/* Adds master_key / self_signing_key of user_id to obj under the given
 * names, or to the per-user maps when per_user (user/keys/query). */
static void add_xsign(struct mxr_store_txn *txn, const char *user_id, json_t *obj, bool per_user)
{
    static const char *const usages[2] = {"master", "self_signing"};
    static const char *const single[2] = {"master_key", "self_signing_key"};
    static const char *const maps[2] = {"master_keys", "self_signing_keys"};
    for (int i = 0; i < 2; i++) {
        json_t *k = xsign_key(txn, user_id, usages[i]);
        if (!k)
            continue;
        if (!per_user) {
            json_object_set_new(obj, single[i], k);
            continue;
        }
        json_t *m = json_object_get(obj, maps[i]);
        if (!m) {
            m = json_object();
            json_object_set_new(obj, maps[i], m);
        }
        json_object_set_new(m, user_id, k);
    }
}

struct claim_arg {
    const char *user_id, *device_id, *algorithm;
    json_t *out;
};

static int claim_fn(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct claim_arg *a = arg;
    char key_id[MXR_STORE_KEY_ID_MAX + 1];
    char *json;
    bool fallback;
    json_decref(a->out);
    a->out = NULL;
    int rc = mxr_store_key_claim(txn, a->user_id, a->device_id, a->algorithm, key_id, &json, &fallback, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        json_t *key = json_loadb(json, strlen(json), JSON_DECODE_ANY, NULL);
        free(json);
        if (key)
            a->out = json_pack("{s:o}", key_id, key);
    }
    return 0;
}

struct dev_list {
    struct mxr_store_txn *txn;
    const char *user_id;
    json_t *out;
};

static int dev_cb(void *arg, const struct mxr_store_device *d)
{
    struct dev_list *l = arg;
    json_t *keys = device_keys(l->txn, l->user_id, d->device_id);
    /* user_devices.yaml: device_id and keys (a whole DeviceKeys object:
     * user_id, device_id, algorithms, keys, signatures) are required, so a
     * device is listed once it has uploaded its keys. */
    if (!keys)
        return 0;
    json_t *dev = json_pack("{s:s, s:o}", "device_id", d->device_id, "keys", keys);
    if (dev && d->has_display_name)
        json_object_set_new(dev, "device_display_name", json_string(d->display_name));
    if (dev)
        json_array_append_new(l->out, dev);
    return 0;
}

/* Our user's devices that have keys, for /user/devices: an array of {device_id, keys,
 * device_display_name?} (new reference; empty for an unknown user), NULL
 * when the store fails. */
static json_t *local_devices(struct mxr_store_txn *txn, const char *user_id)
{
    struct dev_list l = { txn, user_id, json_array() };
    if (l.out && mxr_store_devices(txn, user_id, dev_cb, &l, NULL) < 0) {
        json_decref(l.out);
        return NULL;
    }
    return l.out;
}

/* /user/keys/query for one of our users: {device_id: DeviceKeys} for the
 * devices asked for (all when `devices` is empty) that have keys. */
static json_t *local_device_keys(struct mxr_store_txn *txn, const char *user_id, const json_t *devices)
{
    json_t *out = json_object();
    json_t *all = json_array_size(devices) ? NULL : local_devices(txn, user_id);
    const json_t *list = all ? all : devices;
    size_t i;
    const json_t *d;
    json_array_foreach(list, i, d) {
        const char *id = json_is_string(d) ? json_string_value(d) : json_string_value(json_object_get(d, "device_id"));
        json_t *keys = id ? device_keys(txn, user_id, id) : NULL;
        if (keys)
            json_object_set_new(out, id, keys);
    }
    json_decref(all);
    return out;
}

/* Claims one key of `algorithm` for our user's device: {"alg:key_id":
 * key object}, one-time keys first (each handed out once), then the
 * fallback key; NULL when there is none. */
static json_t *claim_one_time_key(struct mxr_server *srv, const char *user_id, const char *device_id,
                                  const char *algorithm)
{
    struct claim_arg a = {user_id, device_id, algorithm, NULL};
    struct mxr_err err = {0};
    if (!srv->store || strlen(device_id) > MXR_STORE_DEVICE_ID_MAX || !*device_id)
        return NULL;
    if (mxr_store_write(srv->store, claim_fn, &a, &err) < 0) {
        srv_log(srv, MXR_LOG_WARN, NULL, "claiming a key of %s/%s failed: %s", user_id, device_id, err.msg);
        json_decref(a.out);
        return NULL;
    }
    return a.out;
}

/* The user an OpenID token was issued to, or false when unknown/expired. */
static bool openid_token_user(struct mxr_server *srv, const char *token, char user_out[MXR_ID_MAX + 1])
{
    /* tokens from POST /_matrix/client/v3/user/{userId}/openid/request_token */
    return mxr_openid_token_user(srv, token, user_out);
}

/* ---- handlers -------------------------------------------------------------------- */

/* A user ID of ours from a request: true, or false with resp filled. */
static bool our_user(struct mxr_request *req, struct mxr_response *resp, const char *what, const char *user_id)
{
    struct mxr_err err = { 0 };
    if (!user_id) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "%s is required", what);
        return false;
    }
    if (mxr_id_check_user(user_id, MXR_USER_HISTORICAL, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "%s: %s", what, err.msg);
        return false;
    }
    if (!mxr_fed_user_of(user_id, req->srv->cfg->server_name)) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "%s %.100s is not a user of this server (%s)", what, user_id,
                       req->srv->cfg->server_name);
        return false;
    }
    return true;
}

/* GET /query/profile?user_id=&field= */
void mxr_handle_query_profile(struct mxr_request *req, struct mxr_response *resp)
{
    const char *user_id = mxr_req_query(req, "user_id"), *field = mxr_req_query(req, "field");
    if (!our_user(req, resp, "user_id", user_id))
        return;
    if (field && !*field) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "field must not be empty");
        return;
    }
    json_t *profile = local_profile(req, user_id);
    if (!profile) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "user %.100s has no profile here", user_id);
        return;
    }
    if (field) {
        /* "If a field is specified ... the response MUST only include the
         * specified field"; 404 when that field does not exist. */
        json_t *v = json_object_get(profile, field);
        if (!v || json_is_null(v)) {
            json_decref(profile);
            mxr_resp_error(resp, 404, "M_NOT_FOUND", "user %.100s has no profile field '%.100s'", user_id, field);
            return;
        }
        json_t *only = json_pack("{s:O}", field, v);
        json_decref(profile);
        profile = only;
    }
    mxr_resp_json(resp, 200, profile);
}

/* GET /query/directory?room_alias= */
void mxr_handle_query_directory(struct mxr_request *req, struct mxr_response *resp)
{
    const char *alias = mxr_req_query(req, "room_alias");
    struct mxr_err err = { 0 };
    if (!alias) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "room_alias is required");
        return;
    }
    if (mxr_id_check_alias(alias, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "room_alias: %s", err.msg);
        return;
    }
    const char *domain = mxr_id_domain(alias);
    if (!domain || strcmp(domain, req->srv->cfg->server_name)) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "room alias %.100s is not one of this server's (%s)", alias,
                       req->srv->cfg->server_name);
        return;
    }
    struct mxr_store_txn *txn = mxr_fed_read(req, resp);
    if (!txn)
        return;
    char room_id[MXR_ID_MAX + 1];
    if (!local_alias(txn, alias, room_id)) {
        mxr_store_read_end(txn);
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "room alias %.100s not found", alias);
        return;
    }
    /* "An array of server names that are likely to hold the given room":
     * the servers with joined members, ours first. */
    json_t *servers = mxr_rooms_joined_servers(txn, room_id, &err);
    mxr_store_read_end(txn);
    if (!servers) {
        mxr_resp_err(resp, &err);
        return;
    }
    json_t *list = json_pack("[s]", req->srv->cfg->server_name);
    size_t i;
    json_t *s;
    json_array_foreach(servers, i, s)
        if (strcmp(json_string_value(s), req->srv->cfg->server_name))
            json_array_append(list, s);
    json_decref(servers);
    mxr_resp_json(resp, 200, json_pack("{s:s, s:o}", "room_id", room_id, "servers", list));
}

/* GET /user/devices/{userId} */
void mxr_handle_user_devices(struct mxr_request *req, struct mxr_response *resp)
{
    const char *user_id = mxr_req_param(req, "userId");
    if (!our_user(req, resp, "userId", user_id))
        return;
    struct mxr_store_txn *txn = mxr_fed_read(req, resp);
    if (!txn)
        return;
    json_t *devices = local_devices(txn, user_id);
    uint64_t stream_id = 0;
    json_t *xs = json_object();
    if (mxr_store_devicelist_pos(txn, user_id, &stream_id, NULL) < 0)
        stream_id = 0;
    add_xsign(txn, user_id, xs, false);
    mxr_store_read_end(txn);
    if (!devices) {
        json_decref(xs);
        mxr_resp_error(resp, 500, "M_UNKNOWN", "the devices of %.100s cannot be read", user_id);
        return;
    }
    /* user_devices.yaml: user_id, stream_id and devices are required;
     * "The user's devices. May be empty." */
    json_t *out = json_pack("{s:s, s:I, s:o}", "user_id", user_id, "stream_id", (json_int_t)stream_id, "devices",
                            devices);
    json_object_update(out, xs);
    json_decref(xs);
    mxr_resp_json(resp, 200, out);
}

/* POST /user/keys/query {device_keys: {user_id: [device_id...]}} */
void mxr_handle_user_keys_query(struct mxr_request *req, struct mxr_response *resp)
{
    const json_t *q = json_object_get(req->json, "device_keys");
    if (!json_is_object(q)) {
        mxr_resp_error(resp, 400, q ? "M_BAD_JSON" : "M_MISSING_PARAM", "device_keys (object of user ID to device ID "
                       "list) is required (user_keys.yaml)");
        return;
    }
    const char *user;
    const json_t *devices;
    json_object_foreach((json_t *)q, user, devices) {
        size_t i;
        const json_t *d;
        if (!json_is_array(devices)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys.%.100s must be an array of device IDs", user);
            return;
        }
        json_array_foreach(devices, i, d) {
            if (!json_is_string(d)) {
                mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys.%.100s[%zu] is not a string", user, i);
                return;
            }
        }
    }
    struct mxr_store_txn *txn = mxr_fed_read(req, resp);
    if (!txn)
        return;
    json_t *out = json_object(), *all = json_object();   /* master_keys etc. only when there are some */
    json_object_foreach((json_t *)q, user, devices) {
        /* "Requested users must be local to the receiving homeserver":
         * others are left out. */
        if (!mxr_fed_user_of(user, req->srv->cfg->server_name))
            continue;
        json_object_set_new(out, user, local_device_keys(txn, user, devices));
        add_xsign(txn, user, all, true);
    }
    mxr_store_read_end(txn);
    json_object_set_new(all, "device_keys", out);
    mxr_resp_json(resp, 200, all);
}

/* POST /user/keys/claim {one_time_keys: {user_id: {device_id: algorithm}}} */
void mxr_handle_user_keys_claim(struct mxr_request *req, struct mxr_response *resp)
{
    const json_t *q = json_object_get(req->json, "one_time_keys");
    if (!json_is_object(q)) {
        mxr_resp_error(resp, 400, q ? "M_BAD_JSON" : "M_MISSING_PARAM", "one_time_keys (object of user ID to device "
                       "ID to algorithm) is required (user_keys.yaml)");
        return;
    }
    const char *user, *device;
    const json_t *devices, *alg;
    json_object_foreach((json_t *)q, user, devices) {
        if (!json_is_object(devices)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "one_time_keys.%.100s must be an object of device ID to algorithm",
                           user);
            return;
        }
        json_object_foreach((json_t *)devices, device, alg) {
            if (!json_is_string(alg)) {
                mxr_resp_error(resp, 400, "M_BAD_JSON", "one_time_keys.%.100s.%.100s must be an algorithm name", user,
                               device);
                return;
            }
        }
    }
    json_t *out = json_object();
    json_object_foreach((json_t *)q, user, devices) {
        if (!mxr_fed_user_of(user, req->srv->cfg->server_name))
            continue;
        json_t *per_user = NULL;
        json_object_foreach((json_t *)devices, device, alg) {
            json_t *key = claim_one_time_key(req->srv, user, device, json_string_value(alg));
            if (!key)
                continue;   /* no key of that algorithm: the device is left out */
            if (!per_user)
                per_user = json_object();
            json_object_set_new(per_user, device, key);
        }
        if (per_user)
            json_object_set_new(out, user, per_user);
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "one_time_keys", out));
}

/* GET /openid/userinfo?access_token= (not X-Matrix signed: the caller is
 * any third-party service holding the token). */
void mxr_handle_openid_userinfo(struct mxr_request *req, struct mxr_response *resp)
{
    const char *token = mxr_req_query(req, "access_token");
    char user[MXR_ID_MAX + 1];
    if (!token || !*token) {
        mxr_resp_error(resp, 401, "M_MISSING_TOKEN", "the query parameter access_token is required");
        return;
    }
    if (!openid_token_user(req->srv, token, user)) {
        mxr_resp_error(resp, 401, "M_UNKNOWN_TOKEN", "access token unknown or expired");
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:s}", "sub", user));
}
