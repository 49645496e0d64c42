/* Profiles (client-server API "Profiles") and account data ("Client
 * Config"). Profiles of users of other servers are asked of their server
 * (federation /query/profile, through the remote_profile seam). */
#include "relay/client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/rooms/rooms.h"

json_t *cl_profile_load(struct mxr_store_txn *t, const char *user_id, struct mxr_err *err)
{
    const char *json;
    size_t len;
    int rc = mxr_store_profile_get(t, user_id, &json, &len, err);
    if (rc < 0)
        return NULL;
    json_t *p = rc == 0 ? json_loadb(json, len, 0, NULL) : NULL;
    if (!json_is_object(p)) {
        json_decref(p);
        p = json_object();
    }
    return p;
}

/* Loads the profile of a local user with an account, or of a remote user
 * from their server: 0, or -1 after filling resp (404 for unknown users). */
static int load_local(struct mxr_request *req, struct mxr_response *resp, const char *user_id, json_t **out)
{
    struct mxr_client *c = cl_of(req);
    *out = NULL;
    if (!user_id || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, NULL) < 0)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a user ID", user_id ? user_id : "");
    if (!cl_is_local(c, user_id)) {
        if (!c->remote_profile)
            return mxr_resp_error(resp, 404, "M_NOT_FOUND", "profiles of users of other servers are not available");
        struct mxr_err rerr = {0};
        if (c->remote_profile(c->remote_ctx, user_id, NULL, out, &rerr) < 0)
            return mxr_resp_err(resp, &rerr);
        return 0;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return -1;
    }
    struct mxr_store_account a;
    int rc = mxr_store_account_get(t, user_id, &a, &err);
    if (rc == 0)
        *out = cl_profile_load(t, user_id, &err);
    mxr_store_read_end(t);
    if (rc < 0 || (rc == 0 && !*out)) {
        cl_store_error(req, resp, &err);
        return -1;
    }
    if (rc == MXR_STORE_NOT_FOUND)
        return mxr_resp_error(resp, 404, "M_NOT_FOUND", "Profile was not found");
    return 0;
}

void cl_h_profile(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *p;
    if (load_local(req, resp, mxr_req_param(req, "userId"), &p) == 0)
        mxr_resp_json(resp, 200, p);
}

void cl_h_profile_get_field(struct mxr_request *req, struct mxr_response *resp)
{
    const char *key = mxr_req_param(req, "keyName");
    json_t *p;
    if (load_local(req, resp, mxr_req_param(req, "userId"), &p) < 0)
        return;
    json_t *v = json_object_get(p, key);
    if (!v || json_is_null(v))
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "The user has no %s", key);
    else
        mxr_resp_json(resp, 200, json_pack("{s:O}", key, v));
    json_decref(p);
}

/* profile.yaml keyName: avatar_url, displayname, m.tz or a namespaced
 * lower-case name. */
static bool key_name_ok(const char *k)
{
    if (!strcmp(k, "avatar_url") || !strcmp(k, "displayname") || !strcmp(k, "m.tz"))
        return true;
    bool dot = false, seg_start = true;
    for (const char *p = k; *p; p++) {
        if (*p == '.') {
            if (seg_start)
                return false;
            dot = seg_start = true;
        } else if (seg_start ? (*p >= 'a' && *p <= 'z') : ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            seg_start = false;
        } else {
            return false;
        }
    }
    return dot && !seg_start;
}

struct profile_arg {
    const char *user_id;
    const char *text;
};

static int profile_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct profile_arg *a = arg;
    return mxr_store_profile_put(t, a->user_id, a->text, strlen(a->text), err);
}

static int collect_room(void *arg, const char *room_id, const char *membership)
{
    (void)membership;
    json_array_append_new(arg, json_string(room_id));
    return 0;
}

/* "Events on Change of Profile Information": a join event with the new
 * display name and avatar in every room the user is joined to. */
static void propagate(struct mxr_client *c, struct mxr_request *req, json_t *profile)
{
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    json_t *rooms = json_array();
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        json_decref(rooms);
        return;
    }
    int rc = mxr_store_user_rooms(t, req->user_id, "join", collect_room, rooms, &err);
    mxr_store_read_end(t);
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r) {
        if (rc < 0)
            break;
        const char *room_id = json_string_value(r);
        json_t *content = json_pack("{s:s}", "membership", "join");
        json_t *dn = json_object_get(profile, "displayname"), *av = json_object_get(profile, "avatar_url");
        if (json_is_string(dn))
            json_object_set(content, "displayname", dn);
        if (json_is_string(av))
            json_object_set(content, "avatar_url", av);
        char id[MXR_ID_MAX + 1];
        if (mxr_rooms_send_event(c->rooms, room_id, req->user_id, "m.room.member", req->user_id, content, id, &err) < 0 &&
            c->log)
            mxr_log(c->log, MXR_LOG_WARN, req->id, "profile change of %s in %s: %s", req->user_id, room_id, err.msg);
        json_decref(content);
    }
    json_decref(rooms);
    cl_wake(c);
}

void cl_h_profile_put_field(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *user_id = mxr_req_param(req, "userId"), *key = mxr_req_param(req, "keyName");
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    if (!user_id || strcmp(user_id, req->user_id)) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "You cannot set the profile of another user");
        return;
    }
    if (!key || !key_name_ok(key)) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "profile field name '%s' is not allowed", key ? key : "");
        return;
    }
    json_t *v = json_object_get(body, key);
    if (!v || (!json_is_null(v) && ((!strcmp(key, "displayname") || !strcmp(key, "avatar_url")) && !json_is_string(v)))) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "the body must be {\"%s\": value} (a string for this field)", key);
        return;
    }
    if (json_is_string(v) && (!strcmp(key, "displayname") || !strcmp(key, "avatar_url")) &&
        strlen(json_string_value(v)) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_TOO_LARGE", "%s is over %d bytes", key, CL_ID_MAX);
        return;
    }
    json_t *p;
    if (load_local(req, resp, user_id, &p) < 0)
        return;
    if (json_is_null(v))
        json_object_del(p, key);
    else
        json_object_set(p, key, v);
    char *text = json_dumps(p, JSON_COMPACT);
    struct profile_arg a = {user_id, text};
    struct mxr_err err = {0};
    if (!text || strlen(text) > 65536) {
        mxr_resp_error(resp, 400, "M_TOO_LARGE", "the profile would be over 64 KiB");
    } else if (cl_write(c, profile_fn, &a, &err) < 0) {
        cl_store_error(req, resp, &err);
    } else {
        if (!strcmp(key, "displayname") || !strcmp(key, "avatar_url"))
            propagate(c, req, p);
        mxr_resp_json(resp, 200, json_object());
    }
    free(text);
    json_decref(p);
}

/* ---- account data (GET/PUT /user/{userId}[/rooms/{roomId}]/account_data/{type}) ------------- */

static int ad_params(struct mxr_request *req, struct mxr_response *resp, bool room, const char **room_id,
                     const char **type)
{
    const char *user = mxr_req_param(req, "userId");
    *type = mxr_req_param(req, "type");
    *room_id = room ? mxr_req_param(req, "roomId") : NULL;
    if (!user || strcmp(user, req->user_id))
        return mxr_resp_error(resp, 403, "M_FORBIDDEN", "Cannot access account data of other users");
    if (room && (!*room_id || mxr_id_check_room(*room_id, MXR_ID_ANY_FORMAT, NULL) < 0))
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", *room_id ? *room_id : "");
    if (!*type || !**type || strlen(*type) > CL_ID_MAX)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "account data type must be 1 to 255 bytes");
    return 0;
}

static void ad_get(struct mxr_request *req, struct mxr_response *resp, bool room)
{
    struct mxr_client *c = cl_of(req);
    const char *room_id, *type;
    if (ad_params(req, resp, room, &room_id, &type) < 0)
        return;
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    const char *json;
    size_t len;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    int rc = mxr_store_account_data_get(t, req->user_id, room_id, type, &json, &len, &err);
    json_t *content = rc == 0 ? json_loadb(json, len, 0, NULL) : NULL;
    mxr_store_read_end(t);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (!content)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Account data not found");
    else
        mxr_resp_json(resp, 200, content);
}

struct ad_arg {
    const char *user_id, *room_id, *type, *text;
};

static int ad_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ad_arg *a = arg;
    return mxr_store_account_data_put(t, a->user_id, a->room_id, a->type, a->text, strlen(a->text), NULL, err);
}

static void ad_put(struct mxr_request *req, struct mxr_response *resp, bool room)
{
    struct mxr_client *c = cl_of(req);
    const char *room_id, *type;
    json_t *body = cl_body(req, resp);
    if (!body || ad_params(req, resp, room, &room_id, &type) < 0)
        return;
    /* account-data.yaml: these types are the server's to manage (405
     * M_BAD_JSON since v1.10). */
    if (!strcmp(type, "m.fully_read") || !strcmp(type, "m.push_rules")) {
        mxr_resp_error(resp, 405, "M_BAD_JSON", "Cannot set %s through this API", type);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    struct ad_arg a = {req->user_id, room_id, type, text};
    struct mxr_err err = {0};
    if (!text)
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    else if (cl_write(c, ad_fn, &a, &err) < 0)
        mxr_resp_err(resp, &err);
    else {
        cl_wake(c);
        mxr_resp_json(resp, 200, json_object());
    }
    free(text);
}

void cl_h_account_data_get(struct mxr_request *req, struct mxr_response *resp)
{
    ad_get(req, resp, false);
}

void cl_h_account_data_put(struct mxr_request *req, struct mxr_response *resp)
{
    ad_put(req, resp, false);
}

void cl_h_room_account_data_get(struct mxr_request *req, struct mxr_response *resp)
{
    ad_get(req, resp, true);
}

void cl_h_room_account_data_put(struct mxr_request *req, struct mxr_response *resp)
{
    ad_put(req, resp, true);
}
