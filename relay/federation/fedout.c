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
#include "relay/store/invites.h"
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
    /* PDUs queued inside their event's commit (mxr_fedout_in_commit), told
     * to the sender after it: event ID -> {"dests": [...], "ts": ms}. */
    pthread_mutex_t stage_mu;
    json_t *staged;
    /* Invites of our users received by /invite: "room\nuser" -> the
     * inviter's server, the first to ask when the invite is rejected. */
    json_t *invites;
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
    pthread_mutex_init(&fo->stage_mu, NULL);
    if (!(fo->staged = json_object()) || !(fo->invites = json_object())) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto fail;
    }
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
    pthread_mutex_destroy(&fo->stage_mu);
    json_decref(fo->staged);
    json_decref(fo->invites);
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
 * send_knock through us). 1 yes, 0 no, -1 store failure. */
static int relay_membership(struct mxr_store_txn *txn, const struct mxr_rooms_notice *n, struct mxr_err *err)
{
    const json_t *p = n->pdu;
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *sender = json_string_value(json_object_get(p, "sender"));
    const char *sk = json_string_value(json_object_get(p, "state_key"));
    const char *m = json_string_value(json_object_get(json_object_get(p, "content"), "membership"));
    if (!type || strcmp(type, "m.room.member") != 0 || !sender || !sk || strcmp(sender, sk) != 0 || !m ||
        (strcmp(m, "join") && strcmp(m, "leave") && strcmp(m, "knock")))
        return 0;
    const char *d = mxr_id_domain(sender);
    if (!d || strcmp(d, n->origin) != 0)
        return 0;
    struct member_count c = { n->origin, sender, 0 };
    if (mxr_store_room_members(txn, n->room_id, "join", count_cb, &c, err) < 0)
        return -1;
    return c.n == 0;
}

int mxr_fedout_in_commit(void *ctx, struct mxr_store_txn *txn, const struct mxr_rooms_notice *n, struct mxr_err *err)
{
    struct mxr_server *srv = ctx;
    if (!srv || !n || !n->event_id || !n->room_id || n->outcome != MXR_PDU_ACCEPTED)
        return 0;
    const char *own = srv->cfg->server_name;
    bool ours = n->local || (n->origin && strcmp(n->origin, own) == 0);
    const char *also = NULL, *skip = NULL;
    if (ours) {
        /* spec "PDUs": the sending server sends to every server in the
         * room; the subject of a membership change may be leaving it (or
         * not in it yet: an invite). */
        const char *type = json_string_value(json_object_get(n->pdu, "type"));
        const char *sk = json_string_value(json_object_get(n->pdu, "state_key"));
        also = type && sk && strcmp(type, "m.room.member") == 0 ? mxr_id_domain(sk) : NULL;
    } else {
        /* The resident's duty after send_join / send_leave / send_knock:
         * "The resident server must also send the event to other servers
         * participating in the room". */
        if (!n->origin)
            return 0;
        int rc = relay_membership(txn, n, err);
        if (rc <= 0)
            return rc;
        skip = n->origin;
    }
    json_t *servers = mxr_rooms_joined_servers(txn, n->room_id, err);
    if (!servers)
        return -1;
    if (also)
        json_array_append_new(servers, json_string(also));
    json_t *dests = json_array();
    int rc = dests ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v) {
        const char *s = json_string_value(v);
        if (rc < 0 || !s || !*s || strlen(s) > MXR_STORE_ID_MAX || strcmp(s, own) == 0 || (skip && strcmp(s, skip) == 0))
            continue;
        bool dup = false;
        for (size_t j = 0; j < json_array_size(dests) && !dup; j++)
            dup = strcmp(json_string_value(json_array_get(dests, j)), s) == 0;
        if (dup)
            continue;
        if ((rc = mxr_store_queue_pdu(txn, s, n->event_id, err)) == 0)
            json_array_append(dests, v);
    }
    json_decref(servers);
    struct mxr_fedout *fo = srv->fedout;
    if (rc == 0 && fo && json_array_size(dests)) {
        /* A re-run of the write replaces the entry; a write rolled back
         * leaves it to the pruning below (its event is never notified). */
        json_t *entry = json_pack("{s:O, s:I}", "dests", dests, "ts", (json_int_t)mxr_server_now(srv));
        pthread_mutex_lock(&fo->stage_mu);
        if (json_object_size(fo->staged) >= MXR_FEDOUT_MAX_STAGED) {
            const char *key;
            json_t *e;
            void *tmp;
            int64_t old = mxr_server_now(srv) - 60000;
            json_object_foreach_safe(fo->staged, tmp, key, e) {
                if (json_integer_value(json_object_get(e, "ts")) < old)
                    json_object_del(fo->staged, key);
            }
        }
        if (entry)
            json_object_set_new(fo->staged, n->event_id, entry);
        pthread_mutex_unlock(&fo->stage_mu);
    }
    json_decref(dests);
    return rc;
}

void mxr_fedout_notify(struct mxr_fedout *fo, const struct mxr_rooms_notice *n)
{
    if (!fo || !n || !n->event_id || !n->room_id)
        return;
    const char *own = fo->srv->cfg->server_name;
    bool ours = n->local || (n->origin && strcmp(n->origin, own) == 0);
    if (n->origin && !ours)
        mxr_sender_peer_alive(fo->sender, n->origin);
    /* What mxr_fedout_in_commit queued with the event: the sender learns of it now. */
    pthread_mutex_lock(&fo->stage_mu);
    json_t *entry = json_incref(json_object_get(fo->staged, n->event_id));
    if (entry)
        json_object_del(fo->staged, n->event_id);
    pthread_mutex_unlock(&fo->stage_mu);
    if (entry) {
        json_t *dests = json_object_get(entry, "dests");
        size_t k = json_array_size(dests);
        const char **names = calloc(k ? k : 1, sizeof *names);
        for (size_t i = 0; names && i < k; i++)
            names[i] = json_string_value(json_array_get(dests, i));
        if (names)
            mxr_sender_note_queued(fo->sender, names, k, 1);
        free(names);
        json_decref(entry);
    }
    if (ours || !n->origin)
        return;
    const char *sk = json_string_value(json_object_get(n->pdu, "state_key"));
    if (n->remote_invite && sk) {
        char key[2 * 256 + 2];
        snprintf(key, sizeof key, "%s\n%s", n->room_id, sk);
        pthread_mutex_lock(&fo->stage_mu);
        if (json_object_size(fo->invites) >= MXR_FEDOUT_MAX_INVITES)
            json_object_clear(fo->invites);
        json_object_set_new(fo->invites, key, json_string(n->origin));
        pthread_mutex_unlock(&fo->stage_mu);
    }
    if (n->outcome == MXR_PDU_OUTLIER && n->n_missing_prevs && !mxr_join_busy_here())
        queue_job(fo, n->origin, n->room_id, n->event_id);
}

/* ---- the client API's seams ------------------------------------------------------------ */

#define MAX_SERVERS 64

static void add_server(const char **list, size_t *n, const char *s)
{
    if (!s || !*s || *n >= MAX_SERVERS)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i], s) == 0)
            return;
    list[(*n)++] = s;
}

static struct mxr_fedout *fedout_of(void *ctx, struct mxr_err *err)
{
    struct mxr_server *srv = ctx;
    struct mxr_fedout *fo = srv ? srv->fedout : NULL;
    if (!fo)
        mxr_err_set(err, "M_UNKNOWN", "federation is not running");
    return fo;
}

/* A room to join or knock on, and the servers to ask: a room ID is asked
 * at `via` and the server of the ID; an alias is resolved at its server
 * first (query.yaml /query/directory) and asked at the servers it names.
 * *room_id points into the ID given or into *dir (kept by the caller). */
static int resolve_target(struct mxr_fedout *fo, const char *room_id_or_alias, const char *const *via, size_t n_via,
                          const char **room_id, const char **servers, size_t *n, json_t **dir, struct mxr_err *err)
{
    *n = 0;
    *dir = NULL;
    *room_id = room_id_or_alias;
    if (!room_id_or_alias || (room_id_or_alias[0] != '!' && room_id_or_alias[0] != '#'))
        return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is neither a room ID nor an alias",
                           room_id_or_alias ? room_id_or_alias : "(null)");
    if (room_id_or_alias[0] == '#') {
        const char *at = mxr_id_domain(room_id_or_alias);
        char esc[3 * 256 + 1], path[1024];
        if (!at || mxr_fed_escape(room_id_or_alias, esc, sizeof esc) < 0)
            return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is not a room alias", room_id_or_alias);
        snprintf(path, sizeof path, "/_matrix/federation/v1/query/directory?room_alias=%s", esc);
        if (!(*dir = mxr_fedclient_call(fo->fc, "GET", at, path, NULL, err)))
            return mxr_err_prefix(err, "resolving %.100s", room_id_or_alias);
        *room_id = json_string_value(json_object_get(*dir, "room_id"));
        if (!*room_id || mxr_id_check_room(*room_id, MXR_ID_ANY_FORMAT, NULL) < 0)
            return mxr_err_set(err, "M_NOT_FOUND", "%s did not name a room for %.100s", at, room_id_or_alias);
        json_t *list = json_object_get(*dir, "servers");
        for (size_t i = 0; i < json_array_size(list); i++)
            add_server(servers, n, json_string_value(json_array_get(list, i)));
        add_server(servers, n, at);
    }
    for (size_t i = 0; i < n_via; i++)
        add_server(servers, n, via[i]);
    add_server(servers, n, mxr_id_domain(*room_id));   /* NULL for v12 room IDs */
    return 0;
}

int mxr_fedout_remote_join(void *ctx, const char *room_id_or_alias, const char *user_id, const char *const *via,
                           size_t n_via, char room_id_out[256], struct mxr_err *err)
{
    struct mxr_fedout *fo = fedout_of(ctx, err);
    if (!fo)
        return -1;
    const char *servers[MAX_SERVERS], *room_id;
    size_t n;
    json_t *dir;
    int rc = resolve_target(fo, room_id_or_alias, via, n_via, &room_id, servers, &n, &dir, err);
    char event_id[MXR_ID_MAX + 1];
    if (rc == 0)
        rc = mxr_join_remote(fo->join, room_id, user_id, servers, n, event_id, err);
    if (rc == 0) {
        snprintf(room_id_out, 256, "%s", room_id);
        queue_job(fo, NULL, room_id, NULL);   /* the history, in the background */
    }
    json_decref(dir);
    return rc;
}

int mxr_fedout_remote_knock(void *ctx, const char *room_id_or_alias, const char *user_id, const char *reason,
                            const char *const *via, size_t n_via, char room_id_out[256], struct mxr_err *err)
{
    struct mxr_fedout *fo = fedout_of(ctx, err);
    if (!fo)
        return -1;
    const char *servers[MAX_SERVERS], *room_id;
    size_t n;
    json_t *dir;
    int rc = resolve_target(fo, room_id_or_alias, via, n_via, &room_id, servers, &n, &dir, err);
    char event_id[MXR_ID_MAX + 1];
    json_t *krs = rc == 0 ? mxr_join_knock_remote(fo->join, room_id, user_id, reason, servers, n, event_id, err)
                          : NULL;
    if (krs) {
        srv_log(fo->srv, MXR_LOG_INFO, NULL, "%s knocked on %s (%s; %zu events of knock_room_state)", user_id, room_id,
                event_id, json_array_size(krs));
        snprintf(room_id_out, 256, "%s", room_id);
    }
    rc = krs ? 0 : -1;
    json_decref(krs);
    json_decref(dir);
    return rc;
}

static int joined_cb(void *arg, const char *id, const char *membership)
{
    (void)membership;
    json_t *servers = arg;
    const char *d = mxr_id_domain(id);
    size_t i;
    json_t *v;
    json_array_foreach(servers, i, v)
        if (d && strcmp(json_string_value(v), d) == 0)
            return 0;
    if (d)
        json_array_append_new(servers, json_string(d));
    return 0;
}

struct invite_done {
    const char *user_id, *room_id;
};

static int invite_done_fn(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    const struct invite_done *d = arg;
    return mxr_store_remote_invite_del(txn, d->user_id, d->room_id, err) < 0 ? -1 : 0;
}

int mxr_fedout_remote_leave(void *ctx, const char *room_id, const char *user_id, struct mxr_err *err)
{
    struct mxr_fedout *fo = fedout_of(ctx, err);
    if (!fo)
        return -1;
    if (!room_id || mxr_id_check_room(room_id, MXR_ID_ANY_FORMAT, NULL) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is not a room ID", room_id ? room_id : "(null)");
    /* leaving-v2.yaml: any resident will do. The inviter's server first
     * (it holds the invite we are rejecting), then the servers of the
     * room's members as far as we know them, then the server of its ID. */
    json_t *known = json_array();
    char key[2 * 256 + 2];
    snprintf(key, sizeof key, "%s\n%s", room_id, user_id);
    pthread_mutex_lock(&fo->stage_mu);
    const char *inviter = json_string_value(json_object_get(fo->invites, key));
    if (known && inviter)
        json_array_append_new(known, json_string(inviter));
    pthread_mutex_unlock(&fo->stage_mu);
    struct mxr_store_txn *txn;
    struct mxr_err e = { 0 };
    if (known && mxr_store_read_begin(fo->srv->store, &txn, &e) == 0) {
        /* The pending invite (relay/store/invites.h) names the inviter across restarts. */
        char invite_id[MXR_STORE_ID_MAX + 1];
        const char *json;
        size_t len;
        if (mxr_store_remote_invite_get(txn, user_id, room_id, invite_id, &e) == 0 &&
            mxr_store_event_json(txn, invite_id, &json, &len, &e) == 0) {
            json_t *inv = json_loadb(json, len, 0, NULL);
            const char *sender = json_string_value(json_object_get(inv, "sender"));
            if (sender && mxr_id_domain(sender))
                json_array_append_new(known, json_string(mxr_id_domain(sender)));
            json_decref(inv);
        }
        if (mxr_store_room_members(txn, room_id, NULL, joined_cb, known, &e) < 0)
            srv_log(fo->srv, MXR_LOG_WARN, NULL, "members of %s: %s", room_id, e.msg);
        mxr_store_read_end(txn);
    }
    const char *servers[MAX_SERVERS];
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(known); i++)
        add_server(servers, &n, json_string_value(json_array_get(known, i)));
    add_server(servers, &n, mxr_id_domain(room_id));
    int rc = n ? 0 : mxr_err_set(err, "M_NOT_FOUND", "no server of room %.100s is known here to leave it through",
                                 room_id);
    char event_id[MXR_ID_MAX + 1];
    if (rc == 0)
        rc = mxr_join_leave_remote(fo->join, room_id, user_id, servers, n, event_id, err);
    if (rc == 0) {
        pthread_mutex_lock(&fo->stage_mu);
        json_object_del(fo->invites, key);
        pthread_mutex_unlock(&fo->stage_mu);
        /* The invite is answered: /sync stops listing it. */
        struct invite_done d = {user_id, room_id};
        if (mxr_store_write(fo->srv->store, invite_done_fn, &d, &e) < 0)
            srv_log(fo->srv, MXR_LOG_WARN, NULL, "forgetting the invite of %s to %s: %s", user_id, room_id, e.msg);
    }
    json_decref(known);
    return rc;
}

int mxr_fedout_remote_profile(void *ctx, const char *user_id, const char *field, json_t **out, struct mxr_err *err)
{
    struct mxr_fedout *fo = fedout_of(ctx, err);
    *out = NULL;
    if (!fo)
        return -1;
    const char *at = user_id ? mxr_id_domain(user_id) : NULL;
    char uesc[3 * 256 + 1], fesc[3 * 256 + 1], path[2048];
    if (!at || mxr_fed_escape(user_id, uesc, sizeof uesc) < 0 || (field && mxr_fed_escape(field, fesc, sizeof fesc) < 0))
        return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is not a user ID", user_id ? user_id : "(null)");
    /* query.yaml /query/profile: all fields, or the one named. */
    snprintf(path, sizeof path, "/_matrix/federation/v1/query/profile?user_id=%s%s%s", uesc, field ? "&field=" : "",
             field ? fesc : "");
    json_t *body = mxr_fedclient_call(fo->fc, "GET", at, path, NULL, err);
    if (!body)
        return mxr_err_prefix(err, "profile of %.100s at %s", user_id, at);
    if (!json_is_object(body)) {
        json_decref(body);
        return mxr_err_set(err, "M_BAD_JSON", "%s answered the profile query of %.100s with a non-object", at, user_id);
    }
    *out = body;
    return 0;
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
