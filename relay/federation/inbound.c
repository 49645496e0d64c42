/* What the inbound endpoints share: the per-origin token buckets and /send
 * locks, the admission check, the room gate (server ACLs, residency). */
#include "relay/federation/inbound.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/store.h"

#define N_SLOTS 256
#define MAX_ORIGINS 20000   /* above this, idle entries are forgotten */

struct origin {
    char *name;
    double tokens;
    int64_t last_ms;
    bool busy;          /* a /send of this origin is being processed */
    unsigned waiters;
    struct origin *next;
};

struct mxr_inbound {
    struct mxr_inbound_limits lim;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* signalled when an origin's /send lock is released */
    struct origin *slots[N_SLOTS];
    size_t n;
    int64_t last_chore_ms;
    bool chore_ran;
};

struct mxr_inbound *mxr_inbound_new(const struct mxr_inbound_limits *limits, struct mxr_err *err)
{
    struct mxr_inbound *in = calloc(1, sizeof *in);
    if (!in) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    in->lim = limits ? *limits
                     : (struct mxr_inbound_limits){ MXR_INBOUND_DEFAULT_RATE, MXR_INBOUND_DEFAULT_BURST };
    if (in->lim.burst < 1)
        in->lim.burst = 1;
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    return in;
}

void mxr_inbound_free(struct mxr_inbound *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < N_SLOTS; i++) {
        for (struct origin *o = in->slots[i], *next; o; o = next) {
            next = o->next;
            free(o->name);
            free(o);
        }
    }
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->mu);
    free(in);
}

static unsigned slot_of(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % N_SLOTS;
}

/* Forgets origins that hold nothing: no /send in progress, nobody waiting,
 * and a bucket that has refilled (so forgetting them changes no decision). */
static void evict_idle(struct mxr_inbound *in, int64_t now_ms)
{
    for (size_t i = 0; i < N_SLOTS; i++) {
        for (struct origin **pp = &in->slots[i]; *pp;) {
            struct origin *o = *pp;
            double refill = (double)(now_ms - o->last_ms) / 1000.0 * in->lim.rate;
            if (!o->busy && !o->waiters && (in->lim.rate <= 0 || o->tokens + refill >= in->lim.burst)) {
                *pp = o->next;
                free(o->name);
                free(o);
                in->n--;
            } else {
                pp = &o->next;
            }
        }
    }
}

/* The entry of origin, created when missing (caller holds mu). */
static struct origin *origin_get(struct mxr_inbound *in, const char *name, int64_t now_ms)
{
    unsigned h = slot_of(name);
    for (struct origin *o = in->slots[h]; o; o = o->next)
        if (!strcmp(o->name, name))
            return o;
    if (in->n >= MAX_ORIGINS)
        evict_idle(in, now_ms);
    struct origin *o = calloc(1, sizeof *o);
    if (!o || !(o->name = strdup(name))) {
        free(o);
        return NULL;
    }
    o->tokens = in->lim.burst;
    o->last_ms = now_ms;
    o->next = in->slots[h];
    in->slots[h] = o;
    in->n++;
    return o;
}

int64_t mxr_inbound_take(struct mxr_inbound *in, const char *origin, int64_t now_ms)
{
    if (!in || in->lim.rate <= 0)
        return 0;
    pthread_mutex_lock(&in->mu);
    int64_t wait = 0;
    struct origin *o = origin_get(in, origin, now_ms);
    if (o) {
        if (now_ms > o->last_ms) {
            double t = o->tokens + (double)(now_ms - o->last_ms) / 1000.0 * in->lim.rate;
            o->tokens = t < in->lim.burst ? t : in->lim.burst;
            o->last_ms = now_ms;
        }
        if (o->tokens >= 1) {
            o->tokens -= 1;
        } else {
            /* whole milliseconds, rounded up, at least one */
            wait = (int64_t)((1 - o->tokens) / in->lim.rate * 1000.0) + 1;
        }
    }
    pthread_mutex_unlock(&in->mu);
    return wait;
}

int mxr_inbound_origin_lock(struct mxr_inbound *in, const char *origin)
{
    if (!in)
        return 0;
    pthread_mutex_lock(&in->mu);
    struct origin *o = origin_get(in, origin, 0);
    if (!o) {
        pthread_mutex_unlock(&in->mu);
        return -1;
    }
    if (o->busy && o->waiters >= MXR_ORIGIN_MAX_WAITERS) {
        pthread_mutex_unlock(&in->mu);
        return 1;
    }
    o->waiters++;
    while (o->busy)
        pthread_cond_wait(&in->cv, &in->mu);
    o->waiters--;
    o->busy = true;
    pthread_mutex_unlock(&in->mu);
    return 0;
}

void mxr_inbound_origin_unlock(struct mxr_inbound *in, const char *origin)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->mu);
    for (struct origin *o = in->slots[slot_of(origin)]; o; o = o->next) {
        if (!strcmp(o->name, origin)) {
            o->busy = false;
            break;
        }
    }
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

bool mxr_inbound_chore_due(struct mxr_inbound *in, int64_t now_ms, int64_t every_ms)
{
    if (!in)
        return false;
    pthread_mutex_lock(&in->mu);
    bool due = !in->chore_ran || now_ms - in->last_chore_ms >= every_ms;
    if (due) {
        in->chore_ran = true;
        in->last_chore_ms = now_ms;
    }
    pthread_mutex_unlock(&in->mu);
    return due;
}

/* ---- helpers of the handlers ---------------------------------------------------- */

bool mxr_fed_admit(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_server *srv = req->srv;
    if (!srv || !srv->inbound || !req->origin[0])
        return true;
    int64_t wait = mxr_inbound_take(srv->inbound, req->origin, mxr_server_now(srv));
    if (!wait)
        return true;
    srv_log(srv, MXR_LOG_INFO, req->id, "rate limit: %s is over its request rate", req->origin);
    mxr_resp_error(resp, 429, "M_LIMIT_EXCEEDED", "too many requests from %s: retry in %lld ms", req->origin,
                   (long long)wait);
    /* client-server API "Rate limiting": retry_after_ms (the Retry-After
     * header is preferred since v1.10; our responses carry no headers). */
    json_object_set_new(resp->json, "retry_after_ms", json_integer(wait));
    return false;
}

struct mxr_store_txn *mxr_fed_read(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_server *srv = req->srv;
    struct mxr_store_txn *txn = NULL;
    struct mxr_err err = { 0 };
    if (!srv || !srv->store || !srv->rooms) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "this server has no room store");
        return NULL;
    }
    if (mxr_store_read_begin(srv->store, &txn, &err) < 0) {
        srv_log(srv, MXR_LOG_ERROR, req->id, "store: %s", err.msg);
        mxr_resp_err(resp, &err);
        return NULL;
    }
    return txn;
}

struct mxr_store_txn *mxr_fed_room_gate(struct mxr_request *req, struct mxr_response *resp, const char *room_id,
                                        unsigned flags)
{
    struct mxr_err err = { 0 };
    if (!room_id || mxr_id_check_room(room_id, MXR_ID_ANY_FORMAT, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "roomId: %s", room_id ? err.msg : "missing");
        return NULL;
    }
    struct mxr_store_txn *txn = mxr_fed_read(req, resp);
    if (!txn)
        return NULL;
    char ver[MXR_STORE_VERSION_MAX + 1];
    int rc = mxr_store_room_version(txn, room_id, ver, &err);
    if (rc < 0)
        goto fail;
    if (rc == MXR_STORE_NOT_FOUND) {
        if (!(flags & (MXR_GATE_ROOM_KNOWN | MXR_GATE_IN_ROOM)))
            return txn;
        mxr_err_set(&err, "M_NOT_FOUND", "room %.100s is not known to this server", room_id);
        goto fail;
    }
    if (mxr_acl_check(txn, room_id, req->origin, &err) < 0)
        goto fail;
    if (flags & MXR_GATE_IN_ROOM) {
        bool in = false;
        if (mxr_rooms_server_in_room(txn, room_id, req->origin, &in, &err) < 0)
            goto fail;
        if (!in) {
            mxr_err_set(&err, "M_FORBIDDEN", "server %.200s has no joined member in room %.100s", req->origin, room_id);
            goto fail;
        }
    }
    return txn;
fail:
    mxr_store_read_end(txn);
    mxr_resp_err(resp, &err);
    return NULL;
}

int mxr_fed_query_int(struct mxr_request *req, struct mxr_response *resp, const char *name, bool required,
                      int64_t *out, bool *present)
{
    const char *v = mxr_req_query(req, name);
    if (present)
        *present = v != NULL;
    if (!v) {
        if (required)
            return mxr_resp_error(resp, 400, "M_MISSING_PARAM", "the query parameter '%s' is required", name);
        return 0;
    }
    const char *p = v + (*v == '-');
    if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 16)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "the query parameter '%s' must be an integer", name);
    *out = strtoll(v, NULL, 10);
    return 0;
}

bool mxr_fed_user_of(const char *user_id, const char *server)
{
    if (!user_id || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, NULL) < 0)
        return false;
    const char *d = mxr_id_domain(user_id);
    return d && server && !strcmp(d, server);
}
