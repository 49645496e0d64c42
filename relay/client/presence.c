/* Presence (relay/client/presence.h): PUT and GET
 * /presence/{userId}/status (presence.yaml), the m.presence EDU
 * (server-server API "Presence": {push: [{user_id, presence,
 * last_active_ago, status_msg?, currently_active?}]}) and the /sync share
 * (sync.yaml "presence").
 *
 * One process-wide table holds every user whose presence /sync has shown:
 * local users as set by their PUT (ms of the last update, so that
 * last_active_ago ages), remote users as last observed in the EDU store.
 * Each entry carries the presence position at which it last changed; a
 * remote user's change is noticed by the first /sync that looks at them
 * (the EDU store keeps no per-user positions), and every later token
 * compares against that position. */
#include "relay/client/client_int.h"
#include "relay/client/presence.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/federation/edus.h"
#include "relay/federation/fedout.h"
#include "relay/federation/sender.h"
#include "relay/server.h"

#define STATUS_MSG_MAX 1024   /* ours: a status line, not a document */

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *table;         /* user ID -> {presence, status_msg?, ts (local) | seen (remote), pos} */
static uint64_t table_pos;

static const char *server_of(const char *user_id)
{
    const char *colon = strchr(user_id, ':');
    return colon ? colon + 1 : "";
}

static bool presence_ok(const char *p)
{
    return p && (!strcmp(p, "online") || !strcmp(p, "unavailable") || !strcmp(p, "offline"));
}

/* A local user's presence as presence.yaml's GET answer (and m.presence
 * content), or NULL when never set. Call with table_mu held. */
static json_t *local_content(const char *user_id, int64_t now)
{
    json_t *rec = table ? json_object_get(table, user_id) : NULL;
    if (!rec || !json_object_get(rec, "ts"))
        return NULL;
    const char *p = json_string_value(json_object_get(rec, "presence"));
    json_int_t ts = json_integer_value(json_object_get(rec, "ts"));
    json_t *out = json_pack("{s:s, s:I, s:b}", "presence", p, "last_active_ago",
                            (json_int_t)(now > ts ? now - ts : 0), "currently_active", !strcmp(p, "online"));
    json_t *msg = json_object_get(rec, "status_msg");
    if (out && json_is_string(msg))
        json_object_set(out, "status_msg", msg);
    return out;
}

/* ---- outbound ------------------------------------------------------------------------ */

struct members {
    struct mxr_store_txn *t;
    json_t *set;              /* user ID -> true */
    json_t *rooms;
    struct mxr_err *err;
};

static int add_room(void *arg, const char *room_id, const char *membership)
{
    (void)membership;
    json_array_append_new(((struct members *)arg)->rooms, json_string(room_id));
    return 0;
}

static int add_member(void *arg, const char *user_id, const char *membership)
{
    (void)membership;
    json_object_set_new(((struct members *)arg)->set, user_id, json_true());
    return 0;
}

/* The users sharing a joined room with user_id, user_id included (a new
 * object used as a set), or NULL on a store failure. */
static json_t *room_peers(struct mxr_store_txn *t, const char *user_id, struct mxr_err *err)
{
    struct members m = {t, json_object(), json_array(), err};
    json_object_set_new(m.set, user_id, json_true());
    int rc = mxr_store_user_rooms(t, user_id, "join", add_room, &m, err);
    size_t i;
    json_t *room;
    json_array_foreach(m.rooms, i, room) {
        if (rc < 0)
            break;
        rc = mxr_store_room_members(t, json_string_value(room), "join", add_member, &m, err);
    }
    json_decref(m.rooms);
    if (rc < 0) {
        json_decref(m.set);
        return NULL;
    }
    return m.set;
}

/* Queues {push: [content + user_id]} for every other server sharing a room
 * with the user (server-server API "Presence": sent to the servers whose
 * users share a room). Best effort: failures are logged. */
static void send_edu(struct mxr_request *req, json_t *content)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_sender *sender = req->srv && req->srv->fedout ? mxr_fedout_sender(req->srv->fedout) : NULL;
    if (!sender)
        return;
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0)
        goto fail;
    json_t *peers = room_peers(t, req->user_id, &err);
    mxr_store_read_end(t);
    if (!peers)
        goto fail;
    json_t *servers = json_object();
    const char *user;
    json_t *v;
    json_object_foreach(peers, user, v) {
        const char *srv = server_of(user);
        if (*srv && strcmp(srv, c->server_name))
            json_object_set_new(servers, srv, json_true());
    }
    json_decref(peers);
    size_t n = json_object_size(servers), i = 0;
    const char **dests = n ? calloc(n, sizeof *dests) : NULL;
    if (n && !dests) {
        json_decref(servers);
        mxr_err_set(&err, "M_UNKNOWN", "out of memory");
        goto fail;
    }
    json_object_foreach(servers, user, v) dests[i++] = user;
    json_t *push = json_deep_copy(content);
    json_object_set_new(push, "user_id", json_string(req->user_id));
    json_t *edu = json_pack("{s:s, s:{s:[o]}}", "edu_type", "m.presence", "content", "push", push);
    int rc = n && edu ? mxr_sender_queue_edu(sender, edu, dests, n, &err) : 0;
    json_decref(edu);
    free(dests);
    json_decref(servers);
    if (rc == 0)
        return;
fail:
    if (c->log)
        mxr_log(c->log, MXR_LOG_WARN, req->id, "m.presence for %s not queued: %s", req->user_id, err.msg);
}

/* ---- PUT /presence/{userId}/status --------------------------------------------------- */

void cl_h_presence_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *user = mxr_req_param(req, "userId");
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    if (!user || strcmp(user, req->user_id)) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "you cannot set the presence state of another user (presence.yaml)");
        return;
    }
    const char *p = json_string_value(json_object_get(body, "presence"));
    json_t *msg = json_object_get(body, "status_msg");
    if (!presence_ok(p) || (msg && !json_is_string(msg) && !json_is_null(msg))) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'presence' must be online, offline or unavailable; 'status_msg' a "
                       "string (presence.yaml)");
        return;
    }
    if (json_is_string(msg) && json_string_length(msg) > STATUS_MSG_MAX) {
        mxr_resp_error(resp, 400, "M_TOO_LARGE", "'status_msg' is longer than %d bytes", STATUS_MSG_MAX);
        return;
    }
    int64_t now = cl_now(c);
    json_t *rec = json_pack("{s:s, s:I}", "presence", p, "ts", (json_int_t)now);
    if (rec && json_is_string(msg))
        json_object_set(rec, "status_msg", msg);
    pthread_mutex_lock(&table_mu);
    if (!table)
        table = json_object();
    json_t *content = NULL;
    if (rec && table) {
        json_object_set_new(rec, "pos", json_integer((json_int_t)++table_pos));
        json_object_set_new(table, user, rec);
        content = local_content(user, now);
    } else {
        json_decref(rec);
    }
    pthread_mutex_unlock(&table_mu);
    if (!content) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
        return;
    }
    cl_wake(c);
    send_edu(req, content);
    json_decref(content);
    mxr_resp_json(resp, 200, json_object());
}

/* ---- GET /presence/{userId}/status --------------------------------------------------- */

void cl_h_presence_get(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *user = mxr_req_param(req, "userId");
    if (!user || mxr_id_check_user(user, MXR_USER_HISTORICAL, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%.100s' is not a user ID", user ? user : "");
        return;
    }
    int64_t now = cl_now(c);
    json_t *out;
    if (!strcmp(server_of(user), c->server_name)) {
        pthread_mutex_lock(&table_mu);
        out = local_content(user, now);
        pthread_mutex_unlock(&table_mu);
    } else {
        out = req->srv && req->srv->edus ? mxr_edu_presence(req->srv->edus, user, now) : NULL;
    }
    if (!out) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "no presence is known for %.100s", user);
        return;
    }
    mxr_resp_json(resp, 200, out);
}

/* ---- /sync ----------------------------------------------------------------------------- */

/* A remote user's presence as the EDU store has it now: notes a change of
 * presence, status_msg or currently_active (an older last_active_ago alone
 * is no change) at a new position. Call with table_mu held. Returns the
 * content (new reference) or NULL when unknown; *pos its position. */
static json_t *observe_remote(struct mxr_edu_store *edus, const char *user, int64_t now, uint64_t *pos)
{
    json_t *content = edus ? mxr_edu_presence(edus, user, now) : NULL;
    if (!content)
        return NULL;
    json_t *seen = json_deep_copy(content);
    json_object_del(seen, "last_active_ago");
    json_t *rec = json_object_get(table, user);
    if (!rec || !json_equal(json_object_get(rec, "seen"), seen)) {
        rec = json_pack("{s:o, s:I}", "seen", seen, "pos", (json_int_t)++table_pos);
        json_object_set_new(table, user, rec);
    } else {
        json_decref(seen);
    }
    *pos = (uint64_t)json_integer_value(json_object_get(rec, "pos"));
    return content;
}

int cl_presence_sync(struct cl_presence_sync *p, struct mxr_store_txn *t, struct mxr_edu_store *edus,
                     const char *server_name, const char *user_id, bool initial, int64_t now,
                     const struct cl_event_filter *filter, struct mxr_err *err)
{
    p->events = json_array();
    json_t *peers = room_peers(t, user_id, err);
    if (!peers)
        return -1;
    pthread_mutex_lock(&table_mu);
    if (!table)
        table = json_object();
    /* A token from before a restart (ahead of us) gets everything. */
    bool all = initial || p->since > table_pos;
    const char *user;
    json_t *v;
    json_object_foreach(peers, user, v) {
        if (filter && !cl_filter_event(filter, "m.presence", user))
            continue;
        uint64_t pos = 0;
        json_t *content;
        if (!strcmp(server_of(user), server_name)) {
            content = local_content(user, now);
            pos = content ? (uint64_t)json_integer_value(json_object_get(json_object_get(table, user), "pos")) : 0;
        } else {
            content = observe_remote(edus, user, now, &pos);
        }
        if (content && (all || pos > p->since))
            json_array_append_new(p->events, json_pack("{s:s, s:s, s:O}", "type", "m.presence", "sender", user,
                                                       "content", content));
        json_decref(content);
    }
    p->head = table_pos;
    pthread_mutex_unlock(&table_mu);
    json_decref(peers);
    return 0;
}

void cl_presence_sync_free(struct cl_presence_sync *p)
{
    json_decref(p->events);
    p->events = NULL;
}
