/* Server-side key backups (client-server API, end-to-end encryption module,
 * "Server-side key backups"; key_backup.yaml): backup versions under
 * /room_keys/version and the encrypted room keys under /room_keys/keys. The
 * server never reads session_data: it only chooses which of two keys for a
 * session to keep, by the spec's rule (backup_key_wins). Storage is
 * relay/store/backup.c. */
#include "relay/client/client_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/store/backup.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Versions are decimal strings of the store's counter ("1", "2", ...). */
static bool parse_version(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v == 0)
        return false;
    *out = v;
    return true;
}

static json_t *version_string(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return json_string(b);
}

/* {algorithm, auth_data} of a create or update body; NULL after a 400. */
static json_t *backup_info(json_t *body, struct mxr_response *resp)
{
    json_t *algo = json_object_get(body, "algorithm"), *auth = json_object_get(body, "auth_data");
    if (!json_is_string(algo) || !json_string_length(algo) || json_string_length(algo) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'algorithm' must be a non-empty string (key_backup.yaml), "
                       "e.g. m.megolm_backup.v1.curve25519-aes-sha2");
        return NULL;
    }
    if (!json_is_object(auth)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'auth_data' must be an object (key_backup.yaml)");
        return NULL;
    }
    return json_pack("{s:O, s:O}", "algorithm", algo, "auth_data", auth);
}

/* The version info as the GET answers give it. */
static json_t *backup_json(const struct mxr_store_backup *b)
{
    json_t *info = json_loadb(b->info, b->info_len, 0, NULL);
    json_t *out = json_pack("{s:O?, s:O?, s:I, s:o, s:o}", "algorithm", json_object_get(info, "algorithm"), "auth_data",
                            json_object_get(info, "auth_data"), "count", (json_int_t)b->count, "etag",
                            version_string(b->etag), "version", version_string(b->version));
    json_decref(info);
    return out;
}

/* The spec's replacement rule ("Server-side key backups"): the verified
 * key wins; else the lower first_message_index; else the lower
 * forwarded_count. On a full tie the stored key stays (as Synapse). */
static bool backup_key_wins(json_t *fresh, json_t *old)
{
    if (!json_is_object(old))
        return true;
    bool nv = json_is_true(json_object_get(fresh, "is_verified")), ov = json_is_true(json_object_get(old, "is_verified"));
    if (nv != ov)
        return nv;
    json_int_t nf = json_integer_value(json_object_get(fresh, "first_message_index"));
    json_int_t of = json_integer_value(json_object_get(old, "first_message_index"));
    if (nf != of)
        return nf < of;
    return json_integer_value(json_object_get(fresh, "forwarded_count")) <
           json_integer_value(json_object_get(old, "forwarded_count"));
}

/* Checks one KeyBackupData (key_backup_data.yaml: all four fields
 * required). 0, or -1 after a 400. */
static int check_key_data(json_t *d, const char *room, const char *session, struct mxr_response *resp)
{
    json_t *fmi = json_object_get(d, "first_message_index"), *fc = json_object_get(d, "forwarded_count");
    if (!json_is_object(d) || !json_is_integer(fmi) || json_integer_value(fmi) < 0 || !json_is_integer(fc) ||
        json_integer_value(fc) < 0 || !json_is_boolean(json_object_get(d, "is_verified")) ||
        !json_is_object(json_object_get(d, "session_data")))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "key data for session %s in %s needs first_message_index and "
                              "forwarded_count (non-negative integers), is_verified (boolean) and session_data "
                              "(object) (key_backup_data.yaml)", session, room);
    if (!*room || strlen(room) > CL_ID_MAX || mxr_id_check_room(room, MXR_ID_ANY_FORMAT, NULL) < 0)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", room);
    if (!*session || strlen(session) > CL_ID_MAX)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "session IDs must be 1 to 255 bytes");
    return 0;
}

/* The ?version= of the /room_keys/keys routes; NULL after a 400/404. A
 * version that is no number names no backup. */
static const char *version_query(struct mxr_request *req, struct mxr_response *resp)
{
    const char *v = mxr_req_query(req, "version");
    if (!v)
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "the query parameter 'version' (the backup version) is required");
    return v;
}

static void not_found(struct mxr_response *resp, const char *version)
{
    mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown backup version %s", version);
}

/* ---- /room_keys/version ----------------------------------------------------------------- */

struct create_arg {
    const char *user_id;
    const char *info;
    uint64_t version;
};

static int create_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct create_arg *a = arg;
    return mxr_store_backup_create(t, a->user_id, a->info, strlen(a->info), &a->version, err);
}

/* POST /room_keys/version */
void cl_h_backup_create(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *body = cl_body(req, resp);
    json_t *info = body ? backup_info(body, resp) : NULL;
    if (!info)
        return;
    char *text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    struct mxr_err err = {0};
    struct create_arg a = {req->user_id, text, 0};
    if (!text)
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    else if (cl_write(cl_of(req), create_fn, &a, &err) < 0)
        cl_store_error(req, resp, &err);
    else
        mxr_resp_json(resp, 200, json_pack("{s:o}", "version", version_string(a.version)));
    free(text);
}

static void backup_show(struct mxr_request *req, struct mxr_response *resp, uint64_t version, const char *name)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    struct mxr_store_backup b;
    int rc = mxr_store_backup_get(t, req->user_id, version, &b, &err);
    json_t *out = rc == 0 ? backup_json(&b) : NULL;
    mxr_store_read_end(t);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (rc == MXR_STORE_NOT_FOUND && !version)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "No current backup version");
    else if (rc == MXR_STORE_NOT_FOUND)
        not_found(resp, name);
    else if (!out)
        mxr_resp_error(resp, 500, "M_UNKNOWN", "backup %s: stored info unreadable", name);
    else
        mxr_resp_json(resp, 200, out);
}

/* GET /room_keys/version */
void cl_h_backup_latest(struct mxr_request *req, struct mxr_response *resp)
{
    backup_show(req, resp, 0, "");
}

/* GET /room_keys/version/{version} */
void cl_h_backup_get(struct mxr_request *req, struct mxr_response *resp)
{
    const char *name = mxr_req_param(req, "version");
    uint64_t v;
    if (!parse_version(name, &v))
        not_found(resp, name ? name : "");
    else
        backup_show(req, resp, v, name);
}

struct update_arg {
    const char *user_id;
    uint64_t version;
    const char *algorithm;
    const char *info;
    bool wrong_algorithm;
    int rc;
};

static int update_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct update_arg *a = arg;
    a->wrong_algorithm = false;
    struct mxr_store_backup b;
    a->rc = mxr_store_backup_get(t, a->user_id, a->version, &b, err);
    if (a->rc)
        return a->rc < 0 ? -1 : 0;
    json_t *old = json_loadb(b.info, b.info_len, 0, NULL);
    const char *algo = json_string_value(json_object_get(old, "algorithm"));
    a->wrong_algorithm = !algo || strcmp(algo, a->algorithm);
    json_decref(old);
    if (a->wrong_algorithm)
        return 0;
    return mxr_store_backup_update(t, a->user_id, a->version, a->info, strlen(a->info), err);
}

/* PUT /room_keys/version/{version}: only auth_data may change. */
void cl_h_backup_put(struct mxr_request *req, struct mxr_response *resp)
{
    const char *name = mxr_req_param(req, "version");
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    json_t *bv = json_object_get(body, "version");
    if (bv && (!json_is_string(bv) || !name || strcmp(json_string_value(bv), name))) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'version' in the body must match the version in the path");
        return;
    }
    uint64_t v;
    if (!parse_version(name, &v)) {
        not_found(resp, name ? name : "");
        return;
    }
    json_t *info = backup_info(body, resp);
    if (!info)
        return;
    char *text = json_dumps(info, JSON_COMPACT);
    struct update_arg a = {req->user_id, v, json_string_value(json_object_get(info, "algorithm")), text, false, 0};
    struct mxr_err err = {0};
    if (!text)
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    else if (cl_write(cl_of(req), update_fn, &a, &err) < 0)
        cl_store_error(req, resp, &err);
    else if (a.rc == MXR_STORE_NOT_FOUND)
        not_found(resp, name);
    else if (a.wrong_algorithm)
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "Algorithm does not match: a backup's algorithm cannot change");
    else
        mxr_resp_json(resp, 200, json_object());
    free(text);
    json_decref(info);
}

struct delete_arg {
    const char *user_id;
    uint64_t version;
    int rc;
};

static int delete_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct delete_arg *a = arg;
    a->rc = mxr_store_backup_delete(t, a->user_id, a->version, err);
    return a->rc < 0 ? -1 : 0;
}

/* DELETE /room_keys/version/{version}: deleting a deleted backup succeeds. */
void cl_h_backup_delete(struct mxr_request *req, struct mxr_response *resp)
{
    const char *name = mxr_req_param(req, "version");
    struct delete_arg a = {req->user_id, 0, 0};
    struct mxr_err err = {0};
    if (!parse_version(name, &a.version))
        not_found(resp, name ? name : "");
    else if (cl_write(cl_of(req), delete_fn, &a, &err) < 0)
        cl_store_error(req, resp, &err);
    else if (a.rc == MXR_STORE_NOT_FOUND)
        not_found(resp, name);
    else
        mxr_resp_json(resp, 200, json_object());
}

/* ---- /room_keys/keys[/{roomId}[/{sessionId}]] -------------------------------------------- */

struct key_item {
    const char *room, *session;
    json_t *data;
};

struct put_arg {
    const char *user_id;
    const char *version_name;
    uint64_t version;          /* 0: the name is no number */
    struct key_item *items;
    size_t n;
    /* results */
    uint64_t current;          /* the latest live version (0: none) */
    struct mxr_store_backup after;
};

static int put_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct put_arg *a = arg;
    struct mxr_store_backup latest;
    int rc = mxr_store_backup_get(t, a->user_id, 0, &latest, err);
    if (rc < 0)
        return -1;
    a->current = rc == 0 ? latest.version : 0;
    /* "Keys can only be written to the most recently created version." */
    if (!a->current || a->current != a->version)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const char *old;
        size_t len;
        rc = mxr_store_backup_key_get(t, a->user_id, a->version, a->items[i].room, a->items[i].session, &old, &len, err);
        if (rc < 0)
            return -1;
        json_t *prev = rc == 0 ? json_loadb(old, len, 0, NULL) : NULL;
        bool wins = backup_key_wins(a->items[i].data, prev);
        json_decref(prev);
        if (!wins)
            continue;
        char *text = json_dumps(a->items[i].data, JSON_COMPACT);
        if (!text)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        rc = mxr_store_backup_key_put(t, a->user_id, a->version, a->items[i].room, a->items[i].session, text,
                                      strlen(text), err);
        free(text);
        if (rc)
            return rc < 0 ? -1 : mxr_err_set(err, "M_UNKNOWN", "backup version vanished while writing");
    }
    return mxr_store_backup_get(t, a->user_id, a->version, &a->after, err) == 0 ? 0 : -1;
}

/* Collects a room's {sessions: {id: data}} into items. 0, or -1 after a 400. */
static int collect_room(const char *room, json_t *backup, struct key_item **items, size_t *n, size_t *cap,
                        struct mxr_response *resp)
{
    json_t *sessions = json_object_get(backup, "sessions");
    if (!json_is_object(backup) || !json_is_object(sessions))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "room %s: 'sessions' must be an object of session IDs to "
                              "key data (room_key_backup.yaml)", room);
    const char *sid;
    json_t *d;
    json_object_foreach(sessions, sid, d) {
        if (check_key_data(d, room, sid, resp) < 0)
            return -1;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            struct key_item *nv = realloc(*items, nc * sizeof *nv);
            if (!nv)
                return mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
            *items = nv;
            *cap = nc;
        }
        (*items)[(*n)++] = (struct key_item){room, sid, d};
    }
    return 0;
}

/* PUT /room_keys/keys[/{roomId}[/{sessionId}]]?version= */
void cl_h_backup_keys_put(struct mxr_request *req, struct mxr_response *resp)
{
    const char *vname = version_query(req, resp);
    json_t *body = vname ? cl_body(req, resp) : NULL;
    if (!body)
        return;
    const char *room = mxr_req_param(req, "roomId"), *session = mxr_req_param(req, "sessionId");
    struct key_item *items = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (room && session) {
        rc = check_key_data(body, room, session, resp);
        if (rc == 0 && !(items = malloc(sizeof *items)))
            rc = mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
        if (rc == 0)
            items[n++] = (struct key_item){room, session, body};
    } else if (room) {
        rc = collect_room(room, body, &items, &n, &cap, resp);
    } else {
        json_t *rooms = json_object_get(body, "rooms");
        const char *r;
        json_t *b;
        if (!json_is_object(rooms))
            rc = mxr_resp_error(resp, 400, "M_BAD_JSON", "'rooms' must be an object of room IDs to room key backups "
                                "(key_backup.yaml)");
        json_object_foreach(rooms, r, b) {
            if (rc || (rc = collect_room(r, b, &items, &n, &cap, resp)) < 0)
                break;
        }
    }
    if (rc < 0) {
        free(items);
        return;
    }
    struct put_arg a = {.user_id = req->user_id, .version_name = vname, .items = items, .n = n};
    if (!parse_version(vname, &a.version))
        a.version = 0;
    struct mxr_err err = {0};
    if (cl_write(cl_of(req), put_fn, &a, &err) < 0) {
        cl_store_error(req, resp, &err);
    } else if (!a.current) {
        not_found(resp, vname);
    } else if (a.current != a.version) {
        mxr_resp_error(resp, 403, "M_WRONG_ROOM_KEYS_VERSION", "backup version %s is not the current one", vname);
        json_object_set_new(resp->json, "current_version", version_string(a.current));
    } else {
        mxr_resp_json(resp, 200, json_pack("{s:o, s:I}", "etag", version_string(a.after.etag), "count",
                                           (json_int_t)a.after.count));
    }
    free(items);
}

struct get_arg {
    json_t *rooms;
    bool failed;
};

static int add_key(void *arg, const char *room_id, const char *session_id, const char *json, size_t len)
{
    struct get_arg *g = arg;
    json_t *d = json_loadb(json, len, 0, NULL);
    json_t *r = json_object_get(g->rooms, room_id);
    if (!r) {
        r = json_pack("{s:{}}", "sessions");
        json_object_set_new(g->rooms, room_id, r);
    }
    if (!d || json_object_set_new(json_object_get(r, "sessions"), session_id, d)) {
        g->failed = true;
        return 1;
    }
    return 0;
}

/* GET /room_keys/keys[/{roomId}[/{sessionId}]]?version= (any live version). */
void cl_h_backup_keys_get(struct mxr_request *req, struct mxr_response *resp)
{
    const char *vname = version_query(req, resp);
    if (!vname)
        return;
    const char *room = mxr_req_param(req, "roomId"), *session = mxr_req_param(req, "sessionId");
    uint64_t v;
    if (!parse_version(vname, &v)) {
        not_found(resp, vname);
        return;
    }
    if ((room && (!*room || strlen(room) > CL_ID_MAX)) || (session && (!*session || strlen(session) > CL_ID_MAX))) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Key not found.");
        return;
    }
    struct mxr_client *c = cl_of(req);
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    struct mxr_store_backup b;
    struct get_arg g = {json_object(), false};
    json_t *one = NULL;
    int rc = mxr_store_backup_get(t, req->user_id, v, &b, &err);
    if (rc == 0 && session) {
        const char *json;
        size_t len;
        rc = mxr_store_backup_key_get(t, req->user_id, v, room, session, &json, &len, &err);
        if (rc == 0 && !(one = json_loadb(json, len, 0, NULL)))
            g.failed = true;
        if (rc == MXR_STORE_NOT_FOUND)
            rc = 2;   /* the backup exists, the key does not */
    } else if (rc == 0) {
        rc = mxr_store_backup_keys(t, req->user_id, v, room, add_key, &g, &err);
    }
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
    } else if (rc == MXR_STORE_NOT_FOUND) {
        not_found(resp, vname);
    } else if (rc == 2) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Key not found.");
    } else if (g.failed) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "backup %s: a stored key is unreadable", vname);
    } else if (session) {
        mxr_resp_json(resp, 200, one);
        one = NULL;
    } else if (room) {
        /* "If no keys are found, then an object with an empty sessions property." */
        json_t *r = json_object_get(g.rooms, room);
        mxr_resp_json(resp, 200, r ? json_incref(r) : json_pack("{s:{}}", "sessions"));
    } else {
        mxr_resp_json(resp, 200, json_pack("{s:O}", "rooms", g.rooms));
    }
    json_decref(one);
    json_decref(g.rooms);
}

struct keys_delete_arg {
    const char *user_id, *room, *session;
    uint64_t version;
    int rc;
    struct mxr_store_backup after;
};

static int keys_delete_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct keys_delete_arg *a = arg;
    a->rc = mxr_store_backup_keys_delete(t, a->user_id, a->version, a->room, a->session, err);
    if (a->rc)
        return a->rc < 0 ? -1 : 0;
    return mxr_store_backup_get(t, a->user_id, a->version, &a->after, err) == 0 ? 0 : -1;
}

/* DELETE /room_keys/keys[/{roomId}[/{sessionId}]]?version= */
void cl_h_backup_keys_delete(struct mxr_request *req, struct mxr_response *resp)
{
    const char *vname = version_query(req, resp);
    if (!vname)
        return;
    struct keys_delete_arg a = {req->user_id, mxr_req_param(req, "roomId"), mxr_req_param(req, "sessionId"), 0, 0, {0}};
    if (!parse_version(vname, &a.version)) {
        not_found(resp, vname);
        return;
    }
    if ((a.room && (!*a.room || strlen(a.room) > CL_ID_MAX)) ||
        (a.session && (!*a.session || strlen(a.session) > CL_ID_MAX))) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "room and session IDs must be 1 to 255 bytes");
        return;
    }
    struct mxr_err err = {0};
    if (cl_write(cl_of(req), keys_delete_fn, &a, &err) < 0)
        cl_store_error(req, resp, &err);
    else if (a.rc == MXR_STORE_NOT_FOUND)
        not_found(resp, vname);
    else
        mxr_resp_json(resp, 200, json_pack("{s:o, s:I}", "etag", version_string(a.after.etag), "count",
                                           (json_int_t)a.after.count));
}
