/* The federation side of the key endpoints: asking other servers for their
 * users' keys (server-server API "End-to-End Encryption": /user/keys/query,
 * /user/keys/claim) and telling them when ours change ("Device Management":
 * m.device_list_update; "Cross-signing": m.signing_key_update). */
#include "relay/client/keys.h"
#include "relay/client/keys_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay/federation/fedclient.h"
#include "relay/federation/fedout.h"
#include "relay/federation/sender.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"

/* ---- parallel requests ----------------------------------------------------------------------- */

struct fanout {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
    bool abandoned;        /* the waiter timed out: the last callback frees */
    json_t **results;      /* owned by the fanout until handed over */
    struct mxr_err *errors;
    size_t n;
};

struct fanout_job {
    struct fanout *f;
    size_t i;
};

static void fanout_free(struct fanout *f)
{
    for (size_t i = 0; i < f->n; i++)
        json_decref(f->results[i]);
    free(f->results);
    free(f->errors);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static void fanout_done(void *ctx, struct mxr_fed_response *resp)
{
    struct fanout_job *j = ctx;
    struct fanout *f = j->f;
    pthread_mutex_lock(&f->mu);
    if (resp->ok) {
        f->results[j->i] = resp->body;
        resp->body = NULL;
    } else {
        f->errors[j->i] = resp->err;
        if (!f->errors[j->i].errcode)
            mxr_err_set(&f->errors[j->i], "M_UNKNOWN", "no answer");
    }
    bool last = --f->pending == 0, gone = f->abandoned;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    free(j);
    if (last && gone)
        fanout_free(f);
}

void ck_fed_fanout(struct mxr_request *req, const char *path, const char *const *servers, json_t *const *bodies,
                   size_t n, long timeout_ms, json_t **results, struct mxr_err *errors)
{
    struct mxr_fedclient *fc = req->srv ? req->srv->fed : NULL;
    for (size_t i = 0; i < n; i++) {
        results[i] = NULL;
        mxr_err_set(&errors[i], "M_UNKNOWN", "no federation client: %s was not asked", servers[i]);
    }
    if (!fc || !n)
        return;
    struct fanout *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->results = calloc(n, sizeof *f->results);
    f->errors = calloc(n, sizeof *f->errors);
    f->n = n;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (!f->results || !f->errors) {
        fanout_free(f);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct fanout_job *j = calloc(1, sizeof *j);
        struct mxr_fed_request r = {
            .method = "POST", .destination = servers[i], .path = path, .body = bodies[i], .timeout_ms = timeout_ms,
        };
        mxr_err_set(&f->errors[i], "M_UNKNOWN", "%s did not answer within %ld ms", servers[i], timeout_ms);
        if (!j) {
            mxr_err_set(&f->errors[i], "M_UNKNOWN", "out of memory");
            continue;
        }
        j->f = f;
        j->i = i;
        pthread_mutex_lock(&f->mu);
        f->pending++;
        pthread_mutex_unlock(&f->mu);
        if (mxr_fedclient_submit(fc, &r, fanout_done, j, &f->errors[i]) < 0) {
            pthread_mutex_lock(&f->mu);
            f->pending--;
            pthread_mutex_unlock(&f->mu);
            free(j);
        }
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000 + 1;   /* the requests time out themselves; this is a backstop */
    pthread_mutex_lock(&f->mu);
    while (f->pending && pthread_cond_timedwait(&f->cv, &f->mu, &until) != ETIMEDOUT) {
    }
    for (size_t i = 0; i < n; i++) {
        results[i] = f->results[i];
        f->results[i] = NULL;
        errors[i] = f->errors[i];
    }
    bool free_now = f->pending == 0;
    f->abandoned = !free_now;
    pthread_mutex_unlock(&f->mu);
    if (free_now)
        fanout_free(f);
}

/* ---- announcing our users' changes --------------------------------------------------------- */

json_t *ck_device_list_edu(const char *user_id, const char *device_id, const char *display_name,
                           const json_t *keys, uint64_t stream_id, uint64_t prev_id)
{
    json_t *content = json_pack("{s:s, s:s, s:I, s:[]}", "user_id", user_id, "device_id", device_id, "stream_id",
                                (json_int_t)stream_id, "prev_id");
    if (!content)
        return NULL;
    if (prev_id)
        json_array_append_new(json_object_get(content, "prev_id"), json_integer((json_int_t)prev_id));
    if (keys)
        json_object_set_new(content, "keys", json_deep_copy(keys));
    else
        json_object_set_new(content, "deleted", json_true());
    if (display_name)
        json_object_set_new(content, "device_display_name", json_string(display_name));
    return json_pack("{s:s, s:o}", "edu_type", "m.device_list_update", "content", content);
}

void ck_announce(struct mxr_request *req, const char *user_id, const json_t *edus)
{
    struct mxr_server *srv = req->srv;
    struct mxr_sender *sender = srv && srv->fedout ? mxr_fedout_sender(srv->fedout) : NULL;
    struct mxr_client *c = cl_of(req);
    if (!sender || !c || !json_array_size(edus))
        return;
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    if (mxr_store_read_begin(c->store, &t, &err) < 0)
        return;
    /* every server with a member joined in one of the user's rooms */
    json_t *dests = json_array(), *rooms = ck_joined_rooms(t, user_id, &err);
    size_t i, j;
    json_t *r, *s;
    json_array_foreach(rooms, i, r) {
        json_t *servers = mxr_rooms_joined_servers(t, json_string_value(r), &err);
        json_array_foreach(servers, j, s) {
            bool seen = !strcmp(json_string_value(s), c->server_name);
            size_t k;
            json_t *d;
            json_array_foreach(dests, k, d) seen = seen || json_equal(d, s);
            if (!seen)
                json_array_append(dests, s);
        }
        json_decref(servers);
    }
    mxr_store_read_end(t);
    json_decref(rooms);
    size_t n = json_array_size(dests);
    const char **names = n ? calloc(n, sizeof *names) : NULL;
    for (i = 0; names && i < n; i++)
        names[i] = json_string_value(json_array_get(dests, i));
    json_t *edu;
    json_array_foreach(edus, i, edu) {
        if (names && mxr_sender_queue_edu(sender, edu, names, n, &err) < 0 && c->log)
            mxr_log(c->log, MXR_LOG_WARN, req->id, "%s of %s not queued: %s",
                    json_string_value(json_object_get(edu, "edu_type")), user_id, err.msg);
    }
    free(names);
    json_decref(dests);
}

/* ---- other servers' users' changes ------------------------------------------------------------ */

struct remote_bump {
    const char *users[MXR_TXN_MAX_EDUS];
    size_t n;
};

static int any_room(void *arg, const char *room_id, const char *membership)
{
    (void)room_id;
    (void)membership;
    *(bool *)arg = true;
    return 1;
}

static int remote_bump_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct remote_bump *rb = arg;
    for (size_t i = 0; i < rb->n; i++) {
        /* only users in a room we know of can matter to our users (and a
         * server inventing users cannot grow the stream without bound) */
        bool joined = false;
        if (mxr_store_user_rooms(t, rb->users[i], "join", any_room, &joined, err) < 0)
            return -1;
        if (joined && mxr_store_devicelist_bump(t, rb->users[i], NULL, err) < 0)
            return -1;
    }
    return 0;
}

void mxr_keys_remote_changed(struct mxr_server *srv, const char *origin, const json_t *edus)
{
    struct remote_bump rb = {.n = 0};
    size_t i;
    const json_t *edu;
    if (!srv || !srv->store || !origin)
        return;
    json_array_foreach(edus, i, edu) {
        const char *type = json_string_value(json_object_get(edu, "edu_type"));
        const char *user = json_string_value(json_object_get(json_object_get(edu, "content"), "user_id"));
        const char *domain = user && user[0] == '@' ? strchr(user, ':') : NULL;
        if (!type || (strcmp(type, "m.device_list_update") && strcmp(type, "m.signing_key_update")) || !domain ||
            strcmp(domain + 1, origin) || strlen(user) > 255 || rb.n == MXR_TXN_MAX_EDUS)
            continue;
        bool dup = false;
        for (size_t j = 0; j < rb.n && !dup; j++)
            dup = !strcmp(rb.users[j], user);
        if (!dup)
            rb.users[rb.n++] = user;
    }
    if (!rb.n)
        return;
    struct mxr_err err = {0};
    if (mxr_store_write(srv->store, remote_bump_fn, &rb, &err) < 0) {
        srv_log(srv, MXR_LOG_WARN, NULL, "device-list changes from %s not recorded: %s", origin, err.msg);
        return;
    }
    if (srv->client)
        cl_wake(srv->client);
}

void cl_keys_device_deleted(struct mxr_request *req, const char *device_id)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    uint64_t pos = 0;
    if (!c)
        return;
    cl_wake(c);   /* device_lists.changed for the user's room-mates */
    if (!req->srv || !req->srv->fedout || mxr_store_read_begin(c->store, &t, &err) < 0)
        return;
    int rc = mxr_store_devicelist_pos(t, req->user_id, &pos, &err);
    mxr_store_read_end(t);
    if (rc < 0)
        return;
    json_t *edus = json_pack("[o]", ck_device_list_edu(req->user_id, device_id, NULL, NULL, pos, 0));
    ck_announce(req, req->user_id, edus);
    json_decref(edus);
}

static int id_cb(void *arg, const struct mxr_store_device *d)
{
    json_array_append_new(arg, json_string(d->device_id));
    return 0;
}

json_t *cl_keys_device_ids(struct mxr_request *req)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    json_t *ids = json_array();
    if (!c || !req->srv || !req->srv->fedout || mxr_store_read_begin(c->store, &t, &err) < 0)
        return ids;   /* nobody to tell: no need to know */
    if (mxr_store_devices(t, req->user_id, id_cb, ids, &err) < 0)
        json_array_clear(ids);
    mxr_store_read_end(t);
    return ids;
}

void cl_keys_devices_deleted(struct mxr_request *req, json_t *ids, const char *keep)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) if (!keep || strcmp(json_string_value(id), keep))
        cl_keys_device_deleted(req, json_string_value(id));
    if (!json_array_size(ids))
        cl_wake(cl_of(req));
    json_decref(ids);
}
