/* End-to-end encryption keys (client-server API "End-to-End Encryption" >
 * "Key management API", keys.yaml): /keys/upload, /keys/query, /keys/claim
 * (/keys/changes and the key fields of /sync: keys_changes.c).
 *
 * Local users' keys are in the store (relay/store/e2ee.h). Keys of users on
 * other servers are asked for over federation at each query
 * (/user/keys/query, /user/keys/claim; no cache): their server is the
 * authority, and a device list that moved is seen at the next query. */
#include "relay/client/keys_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/ids.h"
#include "mxr/sign.h"

/* ---- shared reading helpers ---------------------------------------------------------------- */

json_t *ck_parse(const char *json, size_t len)
{
    return json_loadb(json, len, JSON_DECODE_ANY, NULL);
}

json_t *ck_xsign_load(struct mxr_store_txn *t, const char *user_id, const char *usage)
{
    const char *json;
    size_t len;
    if (mxr_store_xsign_get(t, user_id, usage, &json, &len, NULL) != 0)
        return NULL;
    json_t *o = ck_parse(json, len);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct dk_list {
    struct mxr_store_txn *t;
    const char *user_id;
    const json_t *want;   /* array of device IDs, or NULL: all */
    json_t *out;
    bool failed;
    struct mxr_err *err;
};

static bool wanted(const json_t *want, const char *device_id)
{
    if (!json_array_size(want))
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), device_id)) return true;
    return false;
}

static int dk_cb(void *arg, const struct mxr_store_device *d)
{
    struct dk_list *l = arg;
    if (!wanted(l->want, d->device_id))
        return 0;
    const char *json;
    size_t len;
    int rc = mxr_store_device_keys_get(l->t, l->user_id, d->device_id, &json, &len, l->err);
    if (rc < 0) {
        l->failed = true;
        return 1;
    }
    json_t *keys = rc == 0 ? ck_parse(json, len) : NULL;
    if (!json_is_object(keys)) {
        json_decref(keys);
        return 0;
    }
    /* keys.yaml: unsigned.device_display_name, the name the user gave it */
    if (d->has_display_name) {
        json_t *u = json_object_get(keys, "unsigned");
        if (!json_is_object(u)) {
            u = json_object();
            json_object_set_new(keys, "unsigned", u);
        }
        json_object_set_new(u, "device_display_name", json_string(d->display_name));
    }
    json_object_set_new(l->out, d->device_id, keys);
    return 0;
}

json_t *ck_local_device_keys(struct mxr_store_txn *t, const char *user_id, const json_t *devices,
                             struct mxr_err *err)
{
    struct dk_list l = {t, user_id, devices, json_object(), false, err};
    if (mxr_store_devices(t, user_id, dk_cb, &l, err) < 0 || l.failed) {
        json_decref(l.out);
        return NULL;
    }
    return l.out;
}

int ck_room_cb(void *arg, const char *room_id, const char *membership)
{
    (void)membership;
    json_array_append_new(arg, json_string(room_id));
    return 0;
}

json_t *ck_joined_rooms(struct mxr_store_txn *t, const char *user_id, struct mxr_err *err)
{
    json_t *rooms = json_array();
    if (mxr_store_user_rooms(t, user_id, "join", ck_room_cb, rooms, err) < 0) {
        json_decref(rooms);
        return NULL;
    }
    return rooms;
}

bool ck_shares_room(struct mxr_store_txn *t, const json_t *my_rooms, const char *me, const char *other)
{
    if (!strcmp(me, other))
        return true;
    size_t i;
    json_t *r;
    json_array_foreach(my_rooms, i, r) {
        char m[32];
        if (mxr_store_membership(t, json_string_value(r), other, m, NULL) == 0 && !strcmp(m, "join"))
            return true;
    }
    return false;
}

int ck_token_devicelist(const char *s, uint64_t *d)
{
    *d = 0;
    if (!s || s[0] != 's' || s[1] < '0' || s[1] > '9')
        return -1;
    const char *p = s + 1;
    for (int field = 0; *p; field++) {   /* fields E, A, D, ... separated by '_' */
        char *end;
        uint64_t v = strtoull(p, &end, 10);
        if (end == p || (*end && *end != '_'))
            return -1;
        if (field == 2)
            *d = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* ---- POST /keys/upload -------------------------------------------------------------------- */

/* keys.yaml DeviceKeys: owned by the caller's user and device, with an
 * ed25519 key for the device that signed the object. 0, or -1 after a 400. */
static int check_device_keys(struct mxr_request *req, json_t *dk, struct mxr_response *resp)
{
    const char *uid = json_string_value(json_object_get(dk, "user_id"));
    const char *did = json_string_value(json_object_get(dk, "device_id"));
    json_t *algs = json_object_get(dk, "algorithms"), *keys = json_object_get(dk, "keys");
    if (!uid || !did || !json_is_array(algs) || !json_is_object(keys) ||
        !json_is_object(json_object_get(dk, "signatures")))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys needs user_id, device_id, algorithms, keys and "
                              "signatures (keys.yaml DeviceKeys)");
    if (strcmp(uid, req->user_id) || strcmp(did, req->device_id))
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "device_keys are for %.100s / %.100s, but this access "
                              "token belongs to %s / %s", uid, did, req->user_id, req->device_id);
    const char *k;
    json_t *v;
    json_object_foreach(keys, k, v) if (!json_is_string(v))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys.keys.%.100s must be a string", k);
    char kid[MXR_STORE_DEVICE_ID_MAX + 16];
    snprintf(kid, sizeof kid, "ed25519:%s", did);
    const char *pk64 = json_string_value(json_object_get(keys, kid));
    uint8_t pk[32];
    struct mxr_err err = {0};
    if (!pk64 || mxr_b64_decode(pk, sizeof pk, pk64, strlen(pk64), MXR_B64_STD, &err) != 32)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "device_keys.keys must hold the device's ed25519 key "
                              "'%s' (32 bytes, unpadded base64)", kid);
    if (mxr_verify_json(dk, uid, kid, pk, &err) < 0)
        return mxr_resp_error(resp, 400, "M_INVALID_SIGNATURE", "device_keys are not signed by their own key %s: %s",
                              kid, err.msg);
    return 0;
}

/* one_time_keys / fallback_keys: {"alg:id": string or {key, signatures}}. */
static int check_key_map(json_t *m, const char *what, struct mxr_response *resp)
{
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_object(m))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "%s must be an object of key ID to key", what);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        const char *colon = strchr(k, ':');
        if (!colon || colon == k || !colon[1] || strlen(k) > MXR_STORE_KEY_ID_MAX)
            return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "%s: key ID '%.100s' is not <algorithm>:<key_id>",
                                  what, k);
        if (!json_is_string(v) && !(json_is_object(v) && json_is_string(json_object_get(v, "key"))))
            return mxr_resp_error(resp, 400, "M_BAD_JSON", "%s.%.100s must be a key string or a KeyObject {key, "
                                  "signatures}", what, k);
    }
    return 0;
}

struct upload {
    const char *user_id, *device_id;
    json_t *dk, *otks, *fbks;
    json_t *counts;              /* out: one_time_key_counts */
    bool dk_changed;
    uint64_t pos, prev;          /* device-list positions (new, previous) */
    char conflict[MXR_STORE_KEY_ID_MAX + 1];
};

int ck_count_cb(void *arg, const char *algorithm, uint64_t n)
{
    json_object_set_new(arg, algorithm, json_integer((json_int_t)n));
    return 0;
}

static int upload_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct upload *u = arg;
    u->dk_changed = false;
    u->conflict[0] = '\0';
    json_object_clear(u->counts);
    if (u->dk) {
        char *text = json_dumps(u->dk, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        const char *old;
        size_t olen;
        int rc = mxr_store_device_keys_get(t, u->user_id, u->device_id, &old, &olen, err);
        if (rc == 0 || rc == MXR_STORE_NOT_FOUND) {
            u->dk_changed = rc == MXR_STORE_NOT_FOUND || olen != strlen(text) || memcmp(old, text, olen);
            if (u->dk_changed)
                rc = mxr_store_device_keys_put(t, u->user_id, u->device_id, text, strlen(text), err);
        }
        free(text);
        if (rc < 0)
            return -1;
        if (u->dk_changed && (mxr_store_devicelist_pos(t, u->user_id, &u->prev, err) ||
                              mxr_store_devicelist_bump(t, u->user_id, &u->pos, err)))
            return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(u->otks, k, v) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!text)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        const char *old = NULL;
        size_t olen = 0;
        int rc = mxr_store_otk_add(t, u->user_id, u->device_id, k, text, strlen(text), &old, &olen, err);
        bool same = old && olen == strlen(text) && !memcmp(old, text, olen);
        free(text);
        if (rc < 0)
            return -1;
        if (old && !same) {   /* Synapse's rule too: a key ID is never reused for another key */
            snprintf(u->conflict, sizeof u->conflict, "%s", k);
            return mxr_err_set(err, "M_INVALID_PARAM", "one-time key %s was already uploaded with another value", k);
        }
    }
    json_object_foreach(u->fbks, k, v) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!text)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        int rc = mxr_store_fallback_put(t, u->user_id, u->device_id, k, text, strlen(text), err);
        free(text);
        if (rc < 0)
            return -1;
    }
    return mxr_store_otk_counts(t, u->user_id, u->device_id, ck_count_cb, u->counts, err) < 0 ? -1 : 0;
}

/* Tells the other servers of our user's rooms about a device's new keys. */
static void announce_device(struct mxr_request *req, const json_t *dk, uint64_t pos, uint64_t prev)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    const char *name = NULL;
    struct mxr_store_device d;
    if (mxr_store_read_begin(c->store, &t, &err) == 0) {
        if (mxr_store_device_get(t, req->user_id, req->device_id, &d, &err) == 0 && d.has_display_name)
            name = d.display_name;
        json_t *edus = json_pack("[o]", ck_device_list_edu(req->user_id, req->device_id, name, dk, pos, prev));
        mxr_store_read_end(t);
        ck_announce(req, req->user_id, edus);
        json_decref(edus);
    }
}

void cl_h_keys_upload(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    json_t *dk = json_object_get(body, "device_keys");
    if (dk && !json_is_null(dk) && (!json_is_object(dk) || check_device_keys(req, dk, resp) < 0)) {
        if (!json_is_object(dk))
            mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys must be an object (keys.yaml DeviceKeys)");
        return;
    }
    json_t *otks = json_object_get(body, "one_time_keys"), *fbks = json_object_get(body, "fallback_keys");
    if (!fbks)   /* the unstable name of MSC2732, which older clients send */
        fbks = json_object_get(body, "org.matrix.msc2732.fallback_keys");
    if (check_key_map(otks, "one_time_keys", resp) < 0 || check_key_map(fbks, "fallback_keys", resp) < 0)
        return;
    struct upload u = {
        .user_id = req->user_id, .device_id = req->device_id, .dk = json_is_object(dk) ? dk : NULL,
        .otks = json_is_object(otks) ? otks : NULL, .fbks = json_is_object(fbks) ? fbks : NULL,
        .counts = json_object(),
    };
    struct mxr_err err = {0};
    if (cl_write(c, upload_fn, &u, &err) < 0) {
        json_decref(u.counts);
        if (u.conflict[0])
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "%s", err.msg);
        else
            cl_store_error(req, resp, &err);
        return;
    }
    if (u.dk_changed) {
        cl_wake(c);
        announce_device(req, u.dk, u.pos, u.prev);
    }
    /* keys.yaml: counts of every algorithm; clients (matrix-nio) look for
     * signed_curve25519 even when it is 0 */
    if (!json_object_get(u.counts, "signed_curve25519"))
        json_object_set_new(u.counts, "signed_curve25519", json_integer(0));
    mxr_resp_json(resp, 200, json_pack("{s:o}", "one_time_key_counts", u.counts));
}

/* ---- POST /keys/query ----------------------------------------------------------------------- */

/* The server part of a user ID, NULL when it is not a user ID. */
static const char *user_server(const char *user_id)
{
    return user_id && user_id[0] == '@' ? mxr_id_domain(user_id) : NULL;
}

static long timeout_of(json_t *body)
{
    json_t *t = json_object_get(body, "timeout");
    long ms = json_is_integer(t) ? (long)json_integer_value(t) : CK_FED_TIMEOUT_MS;
    return ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms;
}

/* Index of server in servers (adding it), or -1 when too many. */
static int server_slot(const char **servers, size_t *n, const char *server)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(servers[i], server))
            return (int)i;
    if (*n == CK_MAX_SERVERS)
        return -1;
    servers[*n] = server;
    return (int)(*n)++;
}

static void merge_users(json_t *into, json_t *from, const char *server)
{
    const char *user;
    json_t *v;
    if (!json_is_object(from))
        return;
    json_object_foreach(from, user, v) {
        const char *s = user_server(user);
        if (s && !strcmp(s, server) && json_is_object(v))   /* a server answers for its own users only */
            json_object_set(into, user, v);
    }
}

/* One round of federation requests for the users of other servers in q
 * (user ID -> what to ask about them): POST path {field: {user: value}} to
 * each server, in parallel; a server that fails is named in failures, the
 * others' answers go to merge (which keeps only their own users). */
typedef void (*remote_merge_fn)(void *arg, json_t *answer, const char *server);

static void remote_round(struct mxr_request *req, json_t *q, const char *path, const char *field, long timeout_ms,
                         json_t *failures, remote_merge_fn merge, void *arg)
{
    struct mxr_client *c = cl_of(req);
    const char *servers[CK_MAX_SERVERS];
    json_t *bodies[CK_MAX_SERVERS], *results[CK_MAX_SERVERS] = {0};
    struct mxr_err errors[CK_MAX_SERVERS];
    size_t n = 0;
    const char *user;
    json_t *v;
    json_object_foreach(q, user, v) {
        const char *server = user_server(user);
        if (!server || cl_is_local(c, user))
            continue;
        size_t before = n;
        int i = server_slot(servers, &n, server);
        if (i < 0) {
            json_object_set_new(failures, server, json_pack("{s:s, s:s}", "errcode", "M_LIMIT_EXCEEDED", "error",
                                                            "too many servers in one request"));
            continue;
        }
        if (n > before)
            bodies[i] = json_pack("{s:{}}", field);
        json_object_set_new(json_object_get(bodies[i], field), user, json_is_null(v) ? json_array() : json_incref(v));
    }
    if (!n)
        return;
    memset(errors, 0, sizeof errors);
    ck_fed_fanout(req, path, servers, bodies, n, timeout_ms, results, errors);
    for (size_t i = 0; i < n; i++) {
        if (!results[i])
            json_object_set_new(failures, servers[i], json_pack("{s:s, s:s}", "errcode",
                                                                errors[i].errcode ? errors[i].errcode : "M_UNKNOWN",
                                                                "error", errors[i].msg));
        else
            merge(arg, results[i], servers[i]);
        json_decref(results[i]);
        json_decref(bodies[i]);
    }
}

struct query_out {
    json_t *dk, *mk, *ssk;
};

static void query_merge(void *arg, json_t *answer, const char *server)
{
    struct query_out *o = arg;
    merge_users(o->dk, json_object_get(answer, "device_keys"), server);
    merge_users(o->mk, json_object_get(answer, "master_keys"), server);
    merge_users(o->ssk, json_object_get(answer, "self_signing_keys"), server);
}

static void claim_merge(void *arg, json_t *answer, const char *server)
{
    merge_users(arg, json_object_get(answer, "one_time_keys"), server);
}

void cl_h_keys_query(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    json_t *q = json_object_get(body, "device_keys");
    if (!json_is_object(q)) {
        mxr_resp_error(resp, 400, q ? "M_BAD_JSON" : "M_MISSING_PARAM",
                       "device_keys (object of user ID to list of device IDs) is required (keys.yaml)");
        return;
    }
    const char *user;
    json_t *devs;
    json_object_foreach(q, user, devs) {
        size_t i;
        json_t *d;
        if (!json_is_array(devs) && !json_is_null(devs)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys.%.100s must be a list of device IDs", user);
            return;
        }
        json_array_foreach(devs, i, d) if (!json_is_string(d)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "device_keys.%.100s[%zu] must be a device ID", user, i);
            return;
        }
    }
    json_t *out = json_pack("{s:{}, s:{}, s:{}, s:{}, s:{}}", "device_keys", "failures", "master_keys",
                            "self_signing_keys", "user_signing_keys");
    json_t *dk = json_object_get(out, "device_keys"), *failures = json_object_get(out, "failures");
    json_t *mk = json_object_get(out, "master_keys"), *ssk = json_object_get(out, "self_signing_keys");
    json_t *usk = json_object_get(out, "user_signing_keys");

    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        json_decref(out);
        cl_store_error(req, resp, &err);
        return;
    }
    json_object_foreach(q, user, devs) {
        const char *server = user_server(user);
        if (!server)
            continue;   /* not a user ID: nothing to say about it */
        if (!cl_is_local(c, user))
            continue;   /* asked below */
        json_t *keys = ck_local_device_keys(t, user, devs, &err);
        if (!keys) {
            mxr_store_read_end(t);
            json_decref(out);
            cl_store_error(req, resp, &err);
            return;
        }
        json_object_set_new(dk, user, keys);
        json_t *m = ck_xsign_load(t, user, "master"), *s = ck_xsign_load(t, user, "self_signing");
        if (m)
            json_object_set_new(mk, user, m);
        if (s)
            json_object_set_new(ssk, user, s);
        if (!strcmp(user, req->user_id)) {   /* cross_signing: a user's user-signing key is for themselves */
            json_t *u = ck_xsign_load(t, user, "user_signing");
            if (u)
                json_object_set_new(usk, user, u);
        }
    }
    mxr_store_read_end(t);

    struct query_out qo = {dk, mk, ssk};
    remote_round(req, q, "/_matrix/federation/v1/user/keys/query", "device_keys", timeout_of(body), failures,
                 query_merge, &qo);
    mxr_resp_json(resp, 200, out);
}

/* ---- POST /keys/claim ----------------------------------------------------------------------- */

struct claim {
    json_t *q;            /* one_time_keys: {user: {device: algorithm}} */
    struct mxr_client *c;
    json_t *out;          /* {user: {device: {"alg:id": key}}} */
};

static int claim_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct claim *cl = arg;
    json_object_clear(cl->out);
    const char *user, *device;
    json_t *devs, *alg;
    json_object_foreach(cl->q, user, devs) {
        if (!cl_is_local(cl->c, user) || !user_server(user))
            continue;
        json_object_foreach(devs, device, alg) {
            if (!*device || strlen(device) > MXR_STORE_DEVICE_ID_MAX)
                continue;
            char key_id[MXR_STORE_KEY_ID_MAX + 1];
            char *json;
            bool fallback;
            int rc = mxr_store_key_claim(t, user, device, json_string_value(alg), key_id, &json, &fallback, err);
            if (rc < 0)
                return -1;
            if (rc)
                continue;   /* nothing to claim: the device is left out */
            json_t *key = ck_parse(json, strlen(json));
            free(json);
            if (!key)
                continue;
            json_t *u = json_object_get(cl->out, user);
            if (!u) {
                u = json_object();
                json_object_set_new(cl->out, user, u);
            }
            json_object_set_new(u, device, json_pack("{s:o}", key_id, key));
        }
    }
    return 0;
}

void cl_h_keys_claim(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    json_t *q = json_object_get(body, "one_time_keys");
    if (!json_is_object(q)) {
        mxr_resp_error(resp, 400, q ? "M_BAD_JSON" : "M_MISSING_PARAM",
                       "one_time_keys (object of user ID to device ID to algorithm) is required (keys.yaml)");
        return;
    }
    const char *user, *device;
    json_t *devs, *alg;
    json_object_foreach(q, user, devs) {
        if (!json_is_object(devs)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "one_time_keys.%.100s must be an object of device ID to algorithm",
                           user);
            return;
        }
        json_object_foreach(devs, device, alg) if (!json_is_string(alg)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "one_time_keys.%.100s.%.100s must be an algorithm name", user,
                           device);
            return;
        }
    }
    struct claim cl = {q, c, json_object()};
    struct mxr_err err = {0};
    if (cl_write(c, claim_fn, &cl, &err) < 0) {
        json_decref(cl.out);
        cl_store_error(req, resp, &err);
        return;
    }
    json_t *failures = json_object();
    remote_round(req, q, "/_matrix/federation/v1/user/keys/claim", "one_time_keys", timeout_of(body), failures,
                 claim_merge, cl.out);
    mxr_resp_json(resp, 200, json_pack("{s:o, s:o}", "one_time_keys", cl.out, "failures", failures));
}
