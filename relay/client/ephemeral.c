/* Typing, receipts and read markers of local users (typing.yaml,
 * receipts.yaml, read_markers.yaml; client-server API "Typing
 * Notifications", "Receipts", "Fully read markers"), and the EDUs they
 * send to the room's other servers (server-server API "Typing
 * Notifications", "Receipts"). */
#include "relay/client/client_int.h"
#include "relay/client/ephemeral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/federation/edus.h"
#include "relay/federation/fedout.h"
#include "relay/federation/sender.h"
#include "relay/server.h"
#include "relay/store/edus.h"

/* The room of the request, when the user is joined to it (and, when
 * event_ids is given, each of its strings is an event of that room).
 * 0, or -1 after filling resp: 400 bad ID, 404 unknown room or event,
 * 403 not joined. */
static int gate(struct mxr_request *req, struct mxr_response *resp, const char **room_out, const char *const *event_ids,
                size_t n_events)
{
    struct mxr_client *c = cl_of(req);
    const char *room = mxr_req_param(req, "roomId");
    if (!room || mxr_id_check_room(room, MXR_ID_ANY_FORMAT, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%.100s' is not a room ID", room ? room : "");
        return -1;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return -1;
    }
    char ver[MXR_STORE_VERSION_MAX + 1], m[32] = "";
    int rc = mxr_store_room_version(t, room, ver, &err);
    if (rc == 0)
        rc = cl_membership(t, room, req->user_id, m, NULL, NULL, &err);
    for (size_t i = 0; rc == 0 && !strcmp(m, "join") && i < n_events; i++) {
        if (!event_ids[i])
            continue;
        struct cl_viewer v = {req->user_id, NULL, 0};
        json_t *ev = cl_client_event(t, event_ids[i], &v, CL_EV_ROOM_ID | CL_EV_NO_PREV, &err);
        const char *in = json_string_value(json_object_get(ev, "room_id"));
        if (!ev && err.errcode && strcmp(err.errcode, "M_NOT_FOUND"))
            rc = -1;
        else if (!in || strcmp(in, room))
            rc = 2;   /* not an event of this room */
        json_decref(ev);
    }
    mxr_store_read_end(t);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (rc == MXR_STORE_NOT_FOUND)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "room %.100s is not known to this server", room);
    else if (strcmp(m, "join"))
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "you are not joined to %.100s", room);
    else if (rc == 2)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "the event is not known in %.100s", room);
    else {
        *room_out = room;
        return 0;
    }
    return -1;
}

/* Queues an EDU for the room's other servers; failures are logged (the
 * local effect stands, and remote copies are best effort). */
static void room_edu(struct mxr_request *req, const char *room, json_t *edu)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_sender *sender = req->srv->fedout ? mxr_fedout_sender(req->srv->fedout) : NULL;
    struct mxr_err err = {0};
    if (sender && edu && mxr_sender_queue_room_edu(sender, room, edu, &err) < 0 && c->log)
        mxr_log(c->log, MXR_LOG_WARN, req->id, "%s for %s not queued: %s",
                json_string_value(json_object_get(edu, "edu_type")), room, err.msg);
    json_decref(edu);
}

/* ---- PUT /rooms/{roomId}/typing/{userId} --------------------------------------------- */

void cl_h_typing(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *user = mxr_req_param(req, "userId"), *room;
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    if (!user || strcmp(user, req->user_id)) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "you can only set your own typing state");
        return;
    }
    json_t *typing = json_object_get(body, "typing"), *timeout = json_object_get(body, "timeout");
    if (!json_is_boolean(typing) || (timeout && !json_is_integer(timeout)) ||
        (timeout && json_integer_value(timeout) < 0)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'typing' (boolean) is required; 'timeout' must be a non-negative "
                       "integer (typing.yaml)");
        return;
    }
    if (gate(req, resp, &room, NULL, 0) < 0)
        return;
    int64_t ms = timeout ? json_integer_value(timeout) : CL_TYPING_DEFAULT_MS;
    if (ms > CL_TYPING_MAX_MS)
        ms = CL_TYPING_MAX_MS;
    struct mxr_err err = {0};
    if (req->srv->edus &&
        mxr_edu_typing_set(req->srv->edus, room, user, json_is_true(typing), cl_now(c) + ms, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    cl_wake(c);
    room_edu(req, room, json_pack("{s:s, s:{s:s, s:s, s:b}}", "edu_type", "m.typing", "content", "room_id", room,
                                  "user_id", user, "typing", json_is_true(typing)));
    mxr_resp_json(resp, 200, json_object());
}

/* ---- receipts and read markers ---------------------------------------------------------- */

struct marks {
    const char *user_id, *room_id, *thread_id;   /* thread_id: NULL unthreaded */
    const char *fully_read, *read, *read_private;
    int64_t ts;
};

static int marks_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct marks *m = arg;
    if (m->fully_read) {
        /* "m.fully_read" lives in the room's account data (client-server
         * API "Fully read markers"). */
        json_t *content = json_pack("{s:s}", "event_id", m->fully_read);
        char *text = content ? json_dumps(content, JSON_COMPACT) : NULL;
        json_decref(content);
        int rc = text ? mxr_store_account_data_put(t, m->user_id, m->room_id, "m.fully_read", text, strlen(text),
                                                   NULL, err)
                      : mxr_err_set(err, "M_UNKNOWN", "out of memory");
        free(text);
        if (rc < 0)
            return -1;
    }
    const char *types[] = {"m.read", "m.read.private"}, *events[] = {m->read, m->read_private};
    for (size_t i = 0; i < 2; i++) {
        int rc = events[i] ? mxr_store_receipt_put(t, m->room_id, types[i], m->user_id, m->thread_id, events[i], m->ts,
                                                   NULL, err)
                           : 0;
        if (rc == MXR_STORE_NOT_FOUND)
            return mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", m->room_id);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Stores the marks, wakes /sync, and sends the public receipt to the
 * room's servers (m.read.private never leaves this server). */
static void apply_marks(struct mxr_request *req, struct mxr_response *resp, struct marks *m)
{
    struct mxr_client *c = cl_of(req);
    const char *ids[] = {m->fully_read, m->read, m->read_private};
    if (gate(req, resp, &m->room_id, ids, 3) < 0)
        return;
    m->user_id = req->user_id;
    m->ts = cl_now(c);
    struct mxr_err err = {0};
    if (cl_write(c, marks_fn, m, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    cl_wake(c);
    if (m->read) {
        json_t *data = json_pack("{s:I}", "ts", (json_int_t)m->ts);
        if (data && m->thread_id)
            json_object_set_new(data, "thread_id", json_string(m->thread_id));
        room_edu(req, m->room_id,
                 json_pack("{s:s, s:{s:{s:{s:{s:[s], s:o}}}}}", "edu_type", "m.receipt", "content", m->room_id,
                           "m.read", m->user_id, "event_ids", m->read, "data", data));
    }
    mxr_resp_json(resp, 200, json_object());
}

static bool event_id_ok(const char *id)
{
    return id && id[0] == '$' && strlen(id) <= CL_ID_MAX;
}

/* POST /rooms/{roomId}/receipt/{receiptType}/{eventId} */
void cl_h_receipt(struct mxr_request *req, struct mxr_response *resp)
{
    const char *type = mxr_req_param(req, "receiptType"), *event = mxr_req_param(req, "eventId");
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    struct marks m = {0};
    if (!type || (strcmp(type, "m.read") && strcmp(type, "m.read.private") && strcmp(type, "m.fully_read"))) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "receipt type must be m.read, m.read.private or m.fully_read "
                       "(receipts.yaml)");
        return;
    }
    if (!event_id_ok(event)) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%.100s' is not an event ID", event ? event : "");
        return;
    }
    json_t *thread = json_object_get(body, "thread_id");
    if (thread && (!json_is_string(thread) || !json_string_length(thread) || json_string_length(thread) > CL_ID_MAX ||
                   !strcmp(type, "m.fully_read"))) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "thread_id must be a non-empty string (an event ID or \"main\"), "
                       "and is not for m.fully_read (receipts.yaml)");
        return;
    }
    m.thread_id = json_string_value(thread);
    if (!strcmp(type, "m.fully_read"))
        m.fully_read = event;
    else if (!strcmp(type, "m.read"))
        m.read = event;
    else
        m.read_private = event;
    apply_marks(req, resp, &m);
}

/* POST /rooms/{roomId}/read_markers */
void cl_h_read_markers(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    struct marks m = {0};
    const char *keys[] = {"m.fully_read", "m.read", "m.read.private"};
    const char **slots[] = {&m.fully_read, &m.read, &m.read_private};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(body, keys[i]);
        if (v && !event_id_ok(json_string_value(v))) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "'%s' must be an event ID (read_markers.yaml)", keys[i]);
            return;
        }
        *slots[i] = json_string_value(v);
    }
    apply_marks(req, resp, &m);
}
