/* Filters (client-server API "Filtering", filter.yaml, sync_filter.yaml):
 * stored per user, referenced by ID or given inline to /sync. Applied: room
 * lists (rooms, not_rooms, include_leave), the timeline limit and event
 * type/sender lists of timeline, state and account data; the state
 * filter's lazy_load_members is read by sync.c. Ignored (accepted):
 * event_fields, event_format, include_redundant_members, contains_url. */
#include "relay/client/client_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"

static bool user_ok(struct mxr_request *req, struct mxr_response *resp)
{
    const char *user = mxr_req_param(req, "userId");
    if (user && !strcmp(user, req->user_id))
        return true;
    mxr_resp_error(resp, 403, "M_FORBIDDEN", "Cannot use filters of other users");
    return false;
}

/* Type checks of the parts of a filter that we read (sync_filter.yaml). */
static int check_event_filter(json_t *f, const char *where, struct mxr_err *err)
{
    if (!f)
        return 0;
    if (!json_is_object(f))
        return mxr_err_set(err, "M_BAD_JSON", "filter: %s must be an object", where);
    static const char *const lists[] = {"types", "not_types", "senders", "not_senders", "rooms", "not_rooms"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        json_t *l = json_object_get(f, lists[i]);
        if (!l)
            continue;
        size_t k;
        json_t *v;
        if (!json_is_array(l))
            return mxr_err_set(err, "M_BAD_JSON", "filter: %s.%s must be an array of strings", where, lists[i]);
        json_array_foreach(l, k, v) if (!json_is_string(v)) return mxr_err_set(
            err, "M_BAD_JSON", "filter: %s.%s must be an array of strings", where, lists[i]);
    }
    json_t *limit = json_object_get(f, "limit");
    if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 0))
        return mxr_err_set(err, "M_BAD_JSON", "filter: %s.limit must be a non-negative integer", where);
    return 0;
}

static int check_filter(json_t *f, struct mxr_err *err)
{
    if (!json_is_object(f))
        return mxr_err_set(err, "M_BAD_JSON", "a filter must be a JSON object");
    json_t *room = json_object_get(f, "room");
    if (room && !json_is_object(room))
        return mxr_err_set(err, "M_BAD_JSON", "filter: room must be an object");
    json_t *il = json_object_get(room, "include_leave");
    if (il && !json_is_boolean(il))
        return mxr_err_set(err, "M_BAD_JSON", "filter: room.include_leave must be a boolean");
    if (check_event_filter(json_object_get(f, "presence"), "presence", err) ||
        check_event_filter(json_object_get(f, "account_data"), "account_data", err) ||
        check_event_filter(room, "room", err) ||
        check_event_filter(json_object_get(room, "timeline"), "room.timeline", err) ||
        check_event_filter(json_object_get(room, "state"), "room.state", err) ||
        check_event_filter(json_object_get(room, "ephemeral"), "room.ephemeral", err) ||
        check_event_filter(json_object_get(room, "account_data"), "room.account_data", err))
        return -1;
    return 0;
}

struct filter_arg {
    const char *user_id, *text;
    uint64_t id;
};

static int filter_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct filter_arg *a = arg;
    return mxr_store_filter_add(t, a->user_id, a->text, strlen(a->text), &a->id, err);
}

void cl_h_filter_post(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body || !user_ok(req, resp))
        return;
    struct mxr_err err = {0};
    if (check_filter(body, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    struct filter_arg a = {req->user_id, text, 0};
    if (!text) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    } else if (cl_write(c, filter_fn, &a, &err) < 0) {
        cl_store_error(req, resp, &err);
    } else {
        char id[24];
        snprintf(id, sizeof id, "%" PRIu64, a.id);
        mxr_resp_json(resp, 200, json_pack("{s:s}", "filter_id", id));
    }
    free(text);
}

static int parse_id(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 19)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    *out = strtoull(s, NULL, 10);
    return 0;
}

static json_t *load_stored(struct mxr_store_txn *t, const char *user_id, const char *id_text, int *rc,
                           struct mxr_err *err)
{
    uint64_t id;
    const char *json;
    size_t len;
    if (parse_id(id_text, &id) < 0) {
        *rc = MXR_STORE_NOT_FOUND;
        return NULL;
    }
    *rc = mxr_store_filter_get(t, user_id, id, &json, &len, err);
    return *rc == 0 ? json_loadb(json, len, 0, NULL) : NULL;
}

void cl_h_filter_get(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    if (!user_ok(req, resp))
        return;
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    int rc;
    json_t *f = load_stored(t, req->user_id, mxr_req_param(req, "filterId"), &rc, &err);
    mxr_store_read_end(t);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (!f)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "No such filter");
    else
        mxr_resp_json(resp, 200, f);
}

static void event_filter(json_t *o, struct cl_event_filter *ef)
{
    ef->types = json_object_get(o, "types");
    ef->not_types = json_object_get(o, "not_types");
    ef->senders = json_object_get(o, "senders");
    ef->not_senders = json_object_get(o, "not_senders");
    json_t *l = json_object_get(o, "limit");
    ef->limit = json_is_integer(l) ? (long)json_integer_value(l) : -1;
}

int cl_filter_load(struct mxr_client *c, struct mxr_store_txn *t, const char *user_id, const char *param,
                   struct cl_filter *f, struct mxr_response *resp)
{
    (void)c;
    memset(f, 0, sizeof *f);
    struct mxr_err err = {0};
    if (param && param[0] == '{') {
        f->json = mxr_json_parse(param, strlen(param), 0, &err);
        if (!f->json)
            return mxr_resp_error(resp, 400, "M_BAD_JSON", "filter: %s", err.msg);
    } else if (param && *param) {
        int rc;
        f->json = load_stored(t, user_id, param, &rc, &err);
        if (rc < 0) {
            return mxr_resp_err(resp, &err);
        }
        if (!f->json)
            return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "unknown filter ID '%s'", param);
    } else {
        f->json = json_object();
    }
    if (check_filter(f->json, &err) < 0) {
        json_decref(f->json);
        f->json = NULL;
        return mxr_resp_err(resp, &err);
    }
    json_t *room = json_object_get(f->json, "room");
    f->rooms = json_object_get(room, "rooms");
    f->not_rooms = json_object_get(room, "not_rooms");
    f->include_leave = json_is_true(json_object_get(room, "include_leave"));
    event_filter(json_object_get(room, "timeline"), &f->timeline);
    event_filter(json_object_get(room, "state"), &f->state);
    event_filter(json_object_get(room, "account_data"), &f->room_account_data);
    event_filter(json_object_get(f->json, "account_data"), &f->account_data);
    event_filter(json_object_get(f->json, "presence"), &f->presence);
    return 0;
}

void cl_filter_free(struct cl_filter *f)
{
    json_decref(f->json);
    f->json = NULL;
}

/* event_filter.yaml: "A '*' can be used as a wildcard to match any
 * sequence of characters." */
static bool glob(const char *pat, const char *s)
{
    if (!*pat)
        return !*s;
    if (*pat == '*') {
        for (;; s++) {
            if (glob(pat + 1, s))
                return true;
            if (!*s)
                return false;
        }
    }
    return *s == *pat && glob(pat + 1, s + 1);
}

static bool in_list(json_t *list, const char *s, bool wildcards)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *p = json_string_value(v);
        if (p && (wildcards ? glob(p, s) : !strcmp(p, s)))
            return true;
    }
    return false;
}

bool cl_filter_room(const struct cl_filter *f, const char *room_id)
{
    if (f->not_rooms && in_list(f->not_rooms, room_id, false))
        return false;
    return !f->rooms || in_list(f->rooms, room_id, false);
}

bool cl_filter_event(const struct cl_event_filter *ef, const char *type, const char *sender)
{
    if (ef->not_types && in_list(ef->not_types, type, true))
        return false;
    if (ef->types && !in_list(ef->types, type, true))
        return false;
    if (sender && ef->not_senders && in_list(ef->not_senders, sender, false))
        return false;
    if (sender && ef->senders && !in_list(ef->senders, sender, false))
        return false;
    return true;
}
