/* The outbound federation of the daemon (see fedout.h). */
#include "relay/federation/fedout.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/federation/fedclient.h"
#include "relay/federation/join.h"
#include "relay/federation/keyring.h"
#include "relay/federation/sender.h"
#include "relay/federation/wellknown.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/store.h"

/* Background work: a gap to fill (event_id set), or a room's history to
 * fetch after joining it (event_id NULL). */
struct gap_job {
    struct gap_job *next;
    char *origin, *room_id, *event_id;
};

struct mxr_fedout {
    struct mxr_server *srv;
    struct mxr_fedclient *fc;        /* ours: the sender's and the handshakes' connections */
    struct mxr_wellknown *wk;
    struct mxr_sender *sender;
    struct mxr_join *join;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gap_job *head, *tail;
    size_t n_jobs;
    bool stopping, worker_started;
    pthread_t worker;
};

static int64_t clock_of(void *ctx)
{
    return mxr_server_now(ctx);
}

static void job_free(struct gap_job *g)
{
    free(g->origin);
    free(g->room_id);
    free(g->event_id);
    free(g);
}

/* The gap filler: one job at a time, in arrival order. */
static void *worker_main(void *arg)
{
    struct mxr_fedout *fo = arg;
    for (;;) {
        pthread_mutex_lock(&fo->mu);
        while (!fo->head && !fo->stopping)
            pthread_cond_wait(&fo->cv, &fo->mu);
        if (fo->stopping) {
            pthread_mutex_unlock(&fo->mu);
            return NULL;
        }
        struct gap_job *g = fo->head;
        fo->head = g->next;
        if (!fo->head)
            fo->tail = NULL;
        fo->n_jobs--;
        pthread_mutex_unlock(&fo->mu);
        struct mxr_err err = { 0 };
        size_t added = 0;
        if (!g->event_id) {
            if (mxr_join_backfill(fo->join, g->room_id, MXR_FEDOUT_JOIN_BACKFILL, &added, &err) < 0)
                srv_log(fo->srv, MXR_LOG_INFO, NULL, "history of %s not fetched: %s", g->room_id, err.msg);
        } else if (mxr_join_fill_gap(fo->join, g->origin, g->room_id, g->event_id, &err) < 0) {
            srv_log(fo->srv, MXR_LOG_INFO, NULL, "gap before %s in %s (from %s) not filled: %s", g->event_id,
                    g->room_id, g->origin, err.msg);
        }
        job_free(g);
    }
}

struct mxr_fedout *mxr_fedout_start(struct mxr_server *srv, struct mxr_err *err)
{
    if (!srv || !srv->cfg || !srv->store || !srv->rooms) {
        mxr_err_set(err, "M_UNKNOWN", "outbound federation needs the store and the rooms pipeline");
        return NULL;
    }
    struct mxr_fedout *fo = calloc(1, sizeof *fo);
    if (!fo) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    fo->srv = srv;
    pthread_mutex_init(&fo->mu, NULL);
    pthread_cond_init(&fo->cv, NULL);
    const char *own = srv->cfg->server_name;
    if (!(fo->fc = mxr_fedclient_new(srv->cfg, &srv->log, err)))
        goto fail;
    struct mxr_wellknown_deps wd = { .fetch_ctx = fo->fc, .clock = clock_of, .clock_ctx = srv, .log = &srv->log };
    if (!(fo->wk = mxr_wellknown_new(&wd, err)))
        goto fail;
    mxr_fedclient_set_resolver(fo->fc, mxr_wellknown_resolve, fo->wk);
    mxr_fedclient_set_signer(fo->fc, own, &srv->key);
    if (srv->fed) {   /* the keyring's client: discovery for key fetches too */
        mxr_fedclient_set_resolver(srv->fed, mxr_wellknown_resolve, fo->wk);
        mxr_fedclient_set_signer(srv->fed, own, &srv->key);
    }
    struct mxr_sender_deps sd = { .server_name = own, .store = srv->store,
                                  .transport = mxr_sender_fedclient_transport(fo->fc), .clock = clock_of,
                                  .clock_ctx = srv, .log = &srv->log };
    if (!(fo->sender = mxr_sender_new(&sd, err)))
        goto fail;
    struct mxr_join_deps jd = { .server_name = own, .key = &srv->key, .store = srv->store, .rooms = srv->rooms,
                                .keys = { srv->keyring ? mxr_keyring_lookup : NULL, srv->keyring },
                                .call = mxr_join_fedclient_call, .call_ctx = fo->fc, .clock = clock_of,
                                .clock_ctx = srv, .log = &srv->log };
    if (!(fo->join = mxr_join_new(&jd, err)))
        goto fail;
    if (mxr_sender_start(fo->sender, err) < 0)
        goto fail;
    if (pthread_create(&fo->worker, NULL, worker_main, fo) != 0) {
        mxr_err_set(err, "M_UNKNOWN", "cannot start the gap-filling thread");
        goto fail;
    }
    fo->worker_started = true;
    return fo;
fail:
    mxr_err_prefix(err, "outbound federation");
    mxr_fedout_stop(fo);
    return NULL;
}

void mxr_fedout_stop(struct mxr_fedout *fo)
{
    if (!fo)
        return;
    pthread_mutex_lock(&fo->mu);
    fo->stopping = true;
    pthread_cond_broadcast(&fo->cv);
    pthread_mutex_unlock(&fo->mu);
    mxr_sender_stop(fo->sender);
    /* Requests in flight fail now: the worker's call returns, the sender's
     * transactions complete (to be retried at the next start). */
    mxr_fedclient_shutdown(fo->fc);
    if (fo->worker_started)
        pthread_join(fo->worker, NULL);
    mxr_sender_free(fo->sender);
    mxr_join_free(fo->join);
    if (fo->srv->fed)
        mxr_fedclient_set_resolver(fo->srv->fed, NULL, NULL);   /* the resolver is about to go */
    mxr_fedclient_free(fo->fc);
    mxr_wellknown_free(fo->wk);
    for (struct gap_job *g = fo->head; g;) {
        struct gap_job *next = g->next;
        job_free(g);
        g = next;
    }
    pthread_cond_destroy(&fo->cv);
    pthread_mutex_destroy(&fo->mu);
    free(fo);
}

struct mxr_sender *mxr_fedout_sender(struct mxr_fedout *fo)
{
    return fo ? fo->sender : NULL;
}

struct mxr_join *mxr_fedout_join(struct mxr_fedout *fo)
{
    return fo ? fo->join : NULL;
}

/* ---- the notices -------------------------------------------------------------------- */

static void queue_job(struct mxr_fedout *fo, const char *origin, const char *room_id, const char *event_id)
{
    struct gap_job *g = calloc(1, sizeof *g);
    if (!g || !(g->origin = strdup(origin ? origin : "")) || !(g->room_id = strdup(room_id)) ||
        (event_id && !(g->event_id = strdup(event_id)))) {
        if (g)
            job_free(g);
        return;
    }
    pthread_mutex_lock(&fo->mu);
    bool dup = false;
    for (struct gap_job *x = fo->head; x && !dup; x = x->next)
        dup = event_id ? x->event_id && strcmp(x->event_id, event_id) == 0
                       : !x->event_id && strcmp(x->room_id, room_id) == 0;
    bool full = fo->n_jobs >= MXR_FEDOUT_MAX_GAP_JOBS;
    if (!dup && !full && !fo->stopping) {
        if (fo->tail)
            fo->tail->next = g;
        else
            fo->head = g;
        fo->tail = g;
        fo->n_jobs++;
        g = NULL;
        pthread_cond_signal(&fo->cv);
    }
    pthread_mutex_unlock(&fo->mu);
    if (g) {
        if (full)
            srv_log(fo->srv, MXR_LOG_WARN, NULL, "too many gaps to fill (%d pending): %s in %s left as it is",
                    MXR_FEDOUT_MAX_GAP_JOBS, event_id ? event_id : "history", room_id);
        job_free(g);
    }
}

struct member_count {
    const char *server, *except;
    size_t n;
};

static int count_cb(void *arg, const char *id, const char *membership)
{
    (void)membership;
    struct member_count *c = arg;
    const char *d = mxr_id_domain(id);
    if (d && strcmp(d, c->server) == 0 && strcmp(id, c->except) != 0)
        c->n++;
    return 0;
}

/* A remote member event its server cannot have sent to everyone: the
 * membership of the only member of that server (send_join, send_leave,
 * send_knock through us). */
static bool relay_membership(struct mxr_fedout *fo, const struct mxr_rooms_notice *n)
{
    const json_t *p = n->pdu;
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *sender = json_string_value(json_object_get(p, "sender"));
    const char *sk = json_string_value(json_object_get(p, "state_key"));
    const char *m = json_string_value(json_object_get(json_object_get(p, "content"), "membership"));
    if (!type || strcmp(type, "m.room.member") != 0 || !sender || !sk || strcmp(sender, sk) != 0 || !m ||
        (strcmp(m, "join") && strcmp(m, "leave") && strcmp(m, "knock")))
        return false;
    const char *d = mxr_id_domain(sender);
    if (!d || strcmp(d, n->origin) != 0)
        return false;
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    if (mxr_store_read_begin(fo->srv->store, &txn, &err) < 0)
        return false;
    struct member_count c = { n->origin, sender, 0 };
    int rc = mxr_store_room_members(txn, n->room_id, "join", count_cb, &c, &err);
    mxr_store_read_end(txn);
    return rc == 0 && c.n == 0;
}

static void relay_to_room(struct mxr_fedout *fo, const struct mxr_rooms_notice *n)
{
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    if (mxr_store_read_begin(fo->srv->store, &txn, &err) < 0)
        return;
    json_t *servers = mxr_rooms_joined_servers(txn, n->room_id, &err);
    mxr_store_read_end(txn);
    size_t k = json_array_size(servers), m = 0;
    const char **names = calloc(k ? k : 1, sizeof *names);
    for (size_t i = 0; names && i < k; i++) {
        const char *s = json_string_value(json_array_get(servers, i));
        if (s && strcmp(s, n->origin) != 0)
            names[m++] = s;
    }
    if (names && m && mxr_sender_queue_pdu(fo->sender, n->event_id, names, m, &err) < 0)
        srv_log(fo->srv, MXR_LOG_ERROR, NULL, "queueing %s for the room's servers: %s", n->event_id, err.msg);
    free(names);
    json_decref(servers);
}

void mxr_fedout_notify(struct mxr_fedout *fo, const struct mxr_rooms_notice *n)
{
    if (!fo || !n || !n->event_id || !n->room_id)
        return;
    const char *own = fo->srv->cfg->server_name;
    bool ours = n->local || (n->origin && strcmp(n->origin, own) == 0);
    if (n->origin && !ours)
        mxr_sender_peer_alive(fo->sender, n->origin);
    struct mxr_err err = { 0 };
    if (ours && n->outcome == MXR_PDU_ACCEPTED) {
        /* spec "PDUs": the sending server sends to every server in the
         * room; the subject of a membership change may be leaving it (or
         * not in it yet: an invite). */
        const char *type = json_string_value(json_object_get(n->pdu, "type"));
        const char *sk = json_string_value(json_object_get(n->pdu, "state_key"));
        const char *also = type && sk && strcmp(type, "m.room.member") == 0 ? mxr_id_domain(sk) : NULL;
        if (mxr_sender_queue_room_pdu(fo->sender, n->room_id, n->event_id, also, &err) < 0)
            srv_log(fo->srv, MXR_LOG_ERROR, NULL, "queueing %s for the room's servers: %s", n->event_id, err.msg);
        return;
    }
    if (ours || !n->origin)
        return;
    if (n->outcome == MXR_PDU_ACCEPTED && relay_membership(fo, n))
        relay_to_room(fo, n);
    if (n->outcome == MXR_PDU_OUTLIER && n->n_missing_prevs && !mxr_join_busy_here())
        queue_job(fo, n->origin, n->room_id, n->event_id);
}

/* ---- the client API's seams ------------------------------------------------------------ */

static void add_server(const char **list, size_t *n, size_t max, const char *s)
{
    if (!s || !*s || *n >= max)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i], s) == 0)
            return;
    list[(*n)++] = s;
}

int mxr_fedout_remote_join(void *ctx, const char *room_id_or_alias, const char *user_id, const char *const *via,
                           size_t n_via, char room_id_out[256], struct mxr_err *err)
{
    struct mxr_server *srv = ctx;
    struct mxr_fedout *fo = srv ? srv->fedout : NULL;
    if (!fo)
        return mxr_err_set(err, "M_UNKNOWN", "federation is not running");
    if (!room_id_or_alias || (room_id_or_alias[0] != '!' && room_id_or_alias[0] != '#'))
        return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is neither a room ID nor an alias",
                           room_id_or_alias ? room_id_or_alias : "(null)");
    const char *servers[64];
    size_t n = 0;
    json_t *dir = NULL;
    const char *room_id = room_id_or_alias;
    if (room_id_or_alias[0] == '#') {
        /* query.yaml /query/directory: the alias's server says where. */
        const char *at = mxr_id_domain(room_id_or_alias);
        char esc[3 * 256 + 1], path[1024];
        if (!at || mxr_fed_escape(room_id_or_alias, esc, sizeof esc) < 0)
            return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is not a room alias", room_id_or_alias);
        snprintf(path, sizeof path, "/_matrix/federation/v1/query/directory?room_alias=%s", esc);
        if (!(dir = mxr_fedclient_call(fo->fc, "GET", at, path, NULL, err)))
            return mxr_err_prefix(err, "resolving %.100s", room_id_or_alias);
        room_id = json_string_value(json_object_get(dir, "room_id"));
        if (!room_id) {
            json_decref(dir);
            return mxr_err_set(err, "M_NOT_FOUND", "%s did not name a room for %.100s", at, room_id_or_alias);
        }
        json_t *list = json_object_get(dir, "servers");
        for (size_t i = 0; i < json_array_size(list); i++)
            add_server(servers, &n, 64, json_string_value(json_array_get(list, i)));
        add_server(servers, &n, 64, at);
    }
    for (size_t i = 0; i < n_via; i++)
        add_server(servers, &n, 64, via[i]);
    add_server(servers, &n, 64, mxr_id_domain(room_id));   /* NULL for v12 room IDs */
    char event_id[MXR_ID_MAX + 1];
    int rc = mxr_join_remote(fo->join, room_id, user_id, servers, n, event_id, err);
    if (rc == 0) {
        snprintf(room_id_out, 256, "%s", room_id);
        queue_job(fo, NULL, room_id, NULL);   /* the history, in the background */
    }
    json_decref(dir);
    return rc;
}

int mxr_fedout_remote_invite(void *ctx, const char *room_id, const char *sender, const char *invitee,
                             const char *reason, struct mxr_err *err)
{
    struct mxr_server *srv = ctx;
    struct mxr_fedout *fo = srv ? srv->fedout : NULL;
    if (!fo)
        return mxr_err_set(err, "M_UNKNOWN", "federation is not running");
    json_t *extra = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    int rc = mxr_join_invite_remote(fo->join, room_id, sender, invitee, extra, NULL, err);
    json_decref(extra);
    return rc;
}
