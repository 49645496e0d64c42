/* Reading rooms (client-server API "Getting events for a room"): state,
 * members, joined members, joined rooms, one event, /messages. A member
 * reads the current state; a user who left or was banned reads the room as
 * it was when they left; others get 403. */
#include "relay/client/client_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"

/* What req->user_id may see of a room: the state group (current or at the
 * leave) and the last stream position visible (UINT64_MAX: everything). */
struct view {
    struct mxr_store_txn *t;
    const char *room_id;
    uint64_t group;
    uint64_t max_stream;
    bool joined;
    struct cl_viewer viewer;
};

/* Opens a read transaction and checks access. 0, or -1 after filling resp
 * (the transaction is ended then). */
static int view_open(struct mxr_request *req, struct mxr_response *resp, struct view *v)
{
    struct mxr_client *c = cl_of(req);
    memset(v, 0, sizeof *v);
    v->room_id = mxr_req_param(req, "roomId");
    if (!v->room_id || mxr_id_check_room(v->room_id, MXR_ID_ANY_FORMAT, NULL) < 0)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", v->room_id ? v->room_id : "");
    v->viewer = (struct cl_viewer){req->user_id, req->device_id, cl_now(c)};
    struct mxr_err err = {0};
    if (mxr_store_read_begin(c->store, &v->t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return -1;
    }
    char m[32], member_ev[CL_ID_MAX + 1];
    uint64_t stream;
    int rc = cl_membership(v->t, v->room_id, req->user_id, m, &stream, member_ev, &err);
    if (rc == 0 && !strcmp(m, "join")) {
        v->joined = true;
        v->max_stream = UINT64_MAX;
        rc = mxr_store_room_current(v->t, v->room_id, &v->group, &err);
    } else if (rc == 0 && (!strcmp(m, "leave") || !strcmp(m, "ban")) && stream) {
        uint64_t before;
        v->max_stream = stream;
        rc = mxr_store_event_state(v->t, member_ev, &before, &v->group, &err);
    } else if (rc == 0) {
        mxr_store_read_end(v->t);
        return mxr_resp_error(resp, 403, "M_FORBIDDEN", "You aren't a member of the room and weren't previously a "
                              "member of the room.");
    }
    if (rc != 0) {
        mxr_store_read_end(v->t);
        if (rc > 0)
            mxr_err_set(&err, "M_UNKNOWN", "room %s: no state recorded", v->room_id);
        cl_store_error(req, resp, &err);
        return -1;
    }
    return 0;
}

/* GET /rooms/{roomId}/state/{eventType}[/{stateKey}][?format=content|event] */
void cl_h_state_get(struct mxr_request *req, struct mxr_response *resp)
{
    const char *type = mxr_req_param(req, "eventType"), *key = mxr_req_param(req, "stateKey");
    const char *format = mxr_req_query(req, "format");
    if (format && strcmp(format, "content") && strcmp(format, "event")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "format must be 'content' or 'event'");
        return;
    }
    if (!type || strlen(type) > CL_ID_MAX || (key && strlen(key) > CL_ID_MAX)) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Event not found.");
        return;
    }
    struct view v;
    if (view_open(req, resp, &v) < 0)
        return;
    struct mxr_err err = {0};
    char id[MXR_STORE_ID_MAX + 1];
    int rc = mxr_store_state_get(v.t, v.group, type, key ? key : "", id, &err);
    json_t *ev = rc == 0 ? cl_client_event(v.t, id, &v.viewer, CL_EV_ROOM_ID, &err) : NULL;
    mxr_store_read_end(v.t);
    if (rc < 0 || (rc == 0 && !ev)) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (rc == MXR_STORE_NOT_FOUND) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Event not found.");
        return;
    }
    if (format && !strcmp(format, "event")) {
        mxr_resp_json(resp, 200, ev);
        return;
    }
    json_t *content = json_incref(json_object_get(ev, "content"));
    json_decref(ev);
    mxr_resp_json(resp, 200, content);
}

struct state_list {
    struct view *v;
    json_t *out;
    const char *only_type;              /* m.room.member for /members */
    const char *membership, *not_membership;
    int failed;
    struct mxr_err err;
};

static int add_state(void *arg, const char *type, const char *state_key, const char *event_id)
{
    (void)state_key;
    struct state_list *l = arg;
    if (l->only_type && strcmp(type, l->only_type))
        return 0;
    json_t *ev = cl_client_event(l->v->t, event_id, &l->v->viewer, CL_EV_ROOM_ID, &l->err);
    if (!ev) {
        l->failed = 1;
        return 1;
    }
    const char *m = json_string_value(json_object_get(json_object_get(ev, "content"), "membership"));
    if ((l->membership && (!m || strcmp(m, l->membership))) || (l->not_membership && m && !strcmp(m, l->not_membership)))
        json_decref(ev);
    else
        json_array_append_new(l->out, ev);
    return 0;
}

static void state_list(struct mxr_request *req, struct mxr_response *resp, struct state_list *l, bool chunk)
{
    struct view v;
    if (view_open(req, resp, &v) < 0)
        return;
    l->v = &v;
    l->out = json_array();
    int rc = mxr_store_state_all(v.t, v.group, add_state, l, &l->err);
    mxr_store_read_end(v.t);
    if (rc < 0 || l->failed) {
        json_decref(l->out);
        cl_store_error(req, resp, &l->err);
        return;
    }
    mxr_resp_json(resp, 200, chunk ? json_pack("{s:o}", "chunk", l->out) : l->out);
}

void cl_h_state_all(struct mxr_request *req, struct mxr_response *resp)
{
    struct state_list l = {0};
    state_list(req, resp, &l, false);
}

/* GET /rooms/{roomId}/members[?membership=&not_membership=] (`at` is not
 * supported: the current state, or the state at the user's leave). */
void cl_h_members(struct mxr_request *req, struct mxr_response *resp)
{
    struct state_list l = {.only_type = "m.room.member",
                           .membership = mxr_req_query(req, "membership"),
                           .not_membership = mxr_req_query(req, "not_membership")};
    state_list(req, resp, &l, true);
}

struct joined_arg {
    struct mxr_store_txn *t;
    const char *room_id;
    json_t *joined;
    struct mxr_err err;
    bool failed;
};

static json_t *string_or_null(json_t *v)
{
    return json_is_string(v) ? json_incref(v) : json_null();
}

static int add_joined(void *arg, const char *user_id, const char *membership)
{
    (void)membership;
    struct joined_arg *a = arg;
    char id[MXR_STORE_ID_MAX + 1];
    json_t *pdu = NULL;
    const char *json;
    size_t len;
    if (mxr_store_room_current_get(a->t, a->room_id, "m.room.member", user_id, id, &a->err) == 0 &&
        mxr_store_event_json(a->t, id, &json, &len, &a->err) == 0)
        pdu = json_loadb(json, len, 0, NULL);
    json_t *content = json_object_get(pdu, "content");
    /* display_name always present (null when unset): matrix-nio requires
     * it. avatar_url only when set: rooms.yaml RoomMember types it string. */
    json_t *m = json_pack("{s:o}", "display_name", string_or_null(json_object_get(content, "displayname")));
    json_t *av = json_object_get(content, "avatar_url");
    if (m && json_is_string(av))
        json_object_set(m, "avatar_url", av);
    json_object_set_new(a->joined, user_id, m);
    json_decref(pdu);
    return 0;
}

void cl_h_joined_members(struct mxr_request *req, struct mxr_response *resp)
{
    struct view v;
    if (view_open(req, resp, &v) < 0)
        return;
    if (!v.joined) {
        mxr_store_read_end(v.t);
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "You aren't a member of the room.");
        return;
    }
    struct joined_arg a = {.t = v.t, .room_id = v.room_id, .joined = json_object()};
    int rc = mxr_store_room_members(v.t, v.room_id, "join", add_joined, &a, &a.err);
    mxr_store_read_end(v.t);
    if (rc < 0) {
        json_decref(a.joined);
        cl_store_error(req, resp, &a.err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "joined", a.joined));
}

static int add_room(void *arg, const char *room_id, const char *membership)
{
    (void)membership;
    json_array_append_new(arg, json_string(room_id));
    return 0;
}

void cl_h_joined_rooms(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    json_t *rooms = json_array();
    int rc = mxr_store_user_rooms(t, req->user_id, "join", add_room, rooms, &err);
    mxr_store_read_end(t);
    if (rc < 0) {
        json_decref(rooms);
        cl_store_error(req, resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "joined_rooms", rooms));
}

/* GET /rooms/{roomId}/event/{eventId} */
void cl_h_event(struct mxr_request *req, struct mxr_response *resp)
{
    const char *event_id = mxr_req_param(req, "eventId");
    struct view v;
    if (view_open(req, resp, &v) < 0) {
        /* rooms.yaml lists only 404 here: "not found or you do not have
         * permission to read this event" (a non-member learns nothing). */
        if (resp->status == 403) {
            mxr_response_clear(resp);
            mxr_resp_error(resp, 404, "M_NOT_FOUND", "Event not found.");
        }
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_event_meta m;
    int rc = event_id && strlen(event_id) <= CL_ID_MAX ? mxr_store_event_meta(v.t, event_id, &m, &err)
                                                        : MXR_STORE_NOT_FOUND;
    json_t *ev = NULL;
    if (rc == 0 && !strcmp(m.room_id, v.room_id) && m.stream && m.stream <= v.max_stream &&
        !(m.flags & (MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED)))
        ev = cl_client_event(v.t, event_id, &v.viewer, CL_EV_ROOM_ID, &err);
    mxr_store_read_end(v.t);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (!ev)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Event not found.");
    else
        mxr_resp_json(resp, 200, ev);
}

/* ---- /messages -------------------------------------------------------------------------------
 * Pagination tokens: "t<N>" is the point just before stream position N
 * (events < N lie behind it); a /sync next_batch "s<E>_..." is the point
 * after E, i.e. t<E+1>. */

static int parse_token(const char *s, uint64_t *out)
{
    char *end;
    if (s[0] == 't' && s[1] >= '0' && s[1] <= '9') {
        *out = strtoull(s + 1, &end, 10);
        return *end ? -1 : 0;
    }
    if (s[0] == 's' && s[1] >= '0' && s[1] <= '9') {
        *out = strtoull(s + 1, &end, 10) + 1;
        return *end && *end != '_' ? -1 : 0;
    }
    return -1;
}

struct page {
    struct view *v;
    json_t *chunk;
    uint64_t last, stop;    /* stop: the `to` point (0: none) */
    bool forwards, stopped;
    size_t n;
    struct mxr_err err;
    bool failed;
};

static int add_page(void *arg, const char *event_id, uint64_t stream)
{
    struct page *p = arg;
    if (stream > p->v->max_stream || (p->stop && (p->forwards ? stream >= p->stop : stream < p->stop))) {
        p->stopped = true;
        return 1;
    }
    json_t *ev = cl_client_event(p->v->t, event_id, &p->v->viewer, CL_EV_ROOM_ID, &p->err);
    if (!ev) {
        p->failed = true;
        return 1;
    }
    json_array_append_new(p->chunk, ev);
    p->last = stream;
    p->n++;
    return 0;
}

void cl_h_messages(struct mxr_request *req, struct mxr_response *resp)
{
    const char *from = mxr_req_query(req, "from"), *to = mxr_req_query(req, "to");
    const char *dir = mxr_req_query(req, "dir"), *lim = mxr_req_query(req, "limit");
    if (!dir || (strcmp(dir, "b") && strcmp(dir, "f"))) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'dir' must be 'b' or 'f'");
        return;
    }
    uint64_t from_n = 0, to_n = 0;
    if ((from && *from && parse_token(from, &from_n) < 0) || (to && *to && parse_token(to, &to_n) < 0)) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "unknown pagination token");
        return;
    }
    long limit = 10;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (*end || limit < 0) {
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'limit' must be a non-negative integer");
            return;
        }
        if (limit > 1000)
            limit = 1000;
    }
    struct view v;
    if (view_open(req, resp, &v) < 0)
        return;
    struct page p = {.v = &v, .chunk = json_array(), .stop = to_n, .forwards = dir[0] == 'f'};
    uint64_t head = 0;
    int rc = mxr_store_stream_head(v.t, &head, &p.err);
    if (rc == 0 && limit > 0) {
        if (p.forwards)
            rc = mxr_store_timeline(v.t, v.room_id, from_n ? from_n - 1 : 0, true, (size_t)limit, add_page, &p, &p.err);
        else
            rc = mxr_store_timeline(v.t, v.room_id, from_n, false, (size_t)limit, add_page, &p, &p.err);
    }
    mxr_store_read_end(v.t);
    if (rc < 0 || p.failed) {
        json_decref(p.chunk);
        cl_store_error(req, resp, &p.err);
        return;
    }
    char start[32], end_tok[32];
    if (from && *from)
        snprintf(start, sizeof start, "%s", from);
    else
        snprintf(start, sizeof start, "t%" PRIu64, p.forwards ? (uint64_t)1 : head + 1);
    json_t *body = json_pack("{s:s, s:o, s:[]}", "start", start, "chunk", p.chunk, "state");
    /* end: where the next page starts; absent when this page reached the
     * end of what there is to see (the spec: no more events). */
    if (p.n == (size_t)limit && limit > 0 && !p.stopped) {
        snprintf(end_tok, sizeof end_tok, "t%" PRIu64, p.forwards ? p.last + 1 : p.last);
        json_object_set_new(body, "end", json_string(end_tok));
    }
    mxr_resp_json(resp, 200, body);
}

/* ---- /context ------------------------------------------------------------------------------ */

struct ctx_page {
    struct view *v;
    const struct cl_event_filter *ef;
    json_t *out;
    size_t visited;
    uint64_t last;                     /* stream of the last event visited */
    char last_id[CL_ID_MAX + 1];
    bool failed;
    struct mxr_err err;
};

static int ctx_add(void *arg, const char *event_id, uint64_t stream)
{
    struct ctx_page *p = arg;
    if (stream > p->v->max_stream)
        return 1;
    json_t *ev = cl_client_event(p->v->t, event_id, &p->v->viewer, CL_EV_ROOM_ID, &p->err);
    if (!ev) {
        p->failed = true;
        return 1;
    }
    p->visited++;
    p->last = stream;
    snprintf(p->last_id, sizeof p->last_id, "%s", event_id);
    if (cl_filter_event(p->ef, json_string_value(json_object_get(ev, "type")),
                        json_string_value(json_object_get(ev, "sender"))))
        json_array_append_new(p->out, ev);
    else
        json_decref(ev);
    return 0;
}

struct ctx_state {
    struct view *v;
    const struct cl_event_filter *ef;
    json_t *out;
    bool failed;
    struct mxr_err err;
};

static int ctx_state_add(void *arg, const char *type, const char *state_key, const char *event_id)
{
    (void)state_key;
    struct ctx_state *s = arg;
    json_t *ev = cl_client_event(s->v->t, event_id, &s->v->viewer, CL_EV_ROOM_ID, &s->err);
    if (!ev) {
        s->failed = true;
        return 1;
    }
    if (cl_filter_event(s->ef, type, json_string_value(json_object_get(ev, "sender"))))
        json_array_append_new(s->out, ev);
    else
        json_decref(ev);
    return 0;
}

/* GET /rooms/{roomId}/context/{eventId}?limit=&filter= (event_context.yaml):
 * limit/2 events before (as Synapse), the rest after, and the state after
 * the last event returned. The RoomEventFilter's types and senders apply
 * after the limit (the spec allows either); lazy loading is not done, so
 * `state` is the full state. Tokens are /messages tokens. */
void cl_h_context(struct mxr_request *req, struct mxr_response *resp)
{
    const char *event_id = mxr_req_param(req, "eventId"), *lim = mxr_req_query(req, "limit");
    const char *fparam = mxr_req_query(req, "filter");
    long limit = 10;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || limit < 0) {
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'limit' must be a non-negative integer");
            return;
        }
        if (limit > 1000)
            limit = 1000;
    }
    json_t *fjson = NULL;
    struct cl_event_filter ef = {.limit = -1};
    if (fparam) {
        fjson = json_loads(fparam, 0, NULL);
        if (!json_is_object(fjson)) {
            json_decref(fjson);
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'filter' must be a JSON RoomEventFilter object");
            return;
        }
        ef.types = json_object_get(fjson, "types");
        ef.not_types = json_object_get(fjson, "not_types");
        ef.senders = json_object_get(fjson, "senders");
        ef.not_senders = json_object_get(fjson, "not_senders");
    }
    struct view v;
    if (view_open(req, resp, &v) < 0) {
        json_decref(fjson);
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_event_meta m;
    int rc = event_id && strlen(event_id) <= CL_ID_MAX ? mxr_store_event_meta(v.t, event_id, &m, &err)
                                                        : MXR_STORE_NOT_FOUND;
    json_t *ev = NULL, *state = json_array();
    struct ctx_page before = {.v = &v, .ef = &ef, .out = json_array()}, after = {.v = &v, .ef = &ef, .out = json_array()};
    struct ctx_state st = {.v = &v, .ef = &ef, .out = state};
    if (rc == 0 && !strcmp(m.room_id, v.room_id) && m.stream && m.stream <= v.max_stream &&
        !(m.flags & (MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED))) {
        ev = cl_client_event(v.t, event_id, &v.viewer, CL_EV_ROOM_ID, &err);
        if (!ev)
            rc = -1;
    }
    size_t n_before = (size_t)limit / 2, n_after = (size_t)limit - n_before;
    if (ev && n_before && mxr_store_timeline(v.t, v.room_id, m.stream, false, n_before, ctx_add, &before, &err) < 0)
        rc = -1;
    if (ev && rc == 0 && n_after &&
        mxr_store_timeline(v.t, v.room_id, m.stream, true, n_after, ctx_add, &after, &err) < 0)
        rc = -1;
    uint64_t sb, sa;
    if (ev && rc == 0 && !before.failed && !after.failed &&
        (mxr_store_event_state(v.t, after.visited ? after.last_id : event_id, &sb, &sa, &err) != 0 ||
         mxr_store_state_all(v.t, sa, ctx_state_add, &st, &st.err) < 0))
        rc = -1;
    mxr_store_read_end(v.t);
    json_decref(fjson);
    const struct mxr_err *e = before.failed ? &before.err : after.failed ? &after.err : st.failed ? &st.err : &err;
    if (rc < 0 || before.failed || after.failed || st.failed) {
        cl_store_error(req, resp, e);
    } else if (!ev) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Event not found.");
    } else {
        /* start: the point before the earliest event returned (backwards
         * pagination goes on from there); end: the point after the last. */
        char start[32], end_tok[32];
        snprintf(start, sizeof start, "t%" PRIu64, before.visited ? before.last : m.stream);
        snprintf(end_tok, sizeof end_tok, "t%" PRIu64, (after.visited ? after.last : m.stream) + 1);
        mxr_resp_json(resp, 200, json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "start", start, "end", end_tok,
                                           "events_before", before.out, "event", ev, "events_after", after.out,
                                           "state", state));
    }
    json_decref(ev);
    json_decref(state);
    json_decref(before.out);
    json_decref(after.out);
}
