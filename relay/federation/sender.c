/* The delivery queue worker (see sender.h). Spec: server-server API
 * "Transactions" (at most 50 PDUs and 100 EDUs; transactions.yaml: wait for
 * the 200 before the next transaction to the same destination; the txnId
 * lets the receiver recognise a retry). */
#include "relay/federation/sender_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxr/json.h"
#include "relay/federation/fedclient.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

int64_t sender_now(const struct mxr_sender *s)
{
    if (s->deps.clock)
        return s->deps.clock(s->deps.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct dest *sender_dest(struct mxr_sender *s, const char *name, bool create)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->dests[i]->name, name) == 0)
            return s->dests[i];
    if (!create)
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        struct dest **nd = realloc(s->dests, cap * sizeof *nd);
        if (!nd)
            return NULL;
        s->dests = nd;
        s->cap = cap;
    }
    struct dest *d = calloc(1, sizeof *d);
    if (!d || !(d->name = strdup(name))) {
        free(d);
        return NULL;
    }
    s->dests[s->n++] = d;
    return d;
}

static int64_t backoff_ms(const struct mxr_sender *s, uint32_t failures)
{
    int64_t b = s->lim.backoff_base_ms;
    for (uint32_t i = 1; i < failures && b < s->lim.backoff_max_ms; i++)
        b *= 2;
    return b < s->lim.backoff_max_ms ? b : s->lim.backoff_max_ms;
}

/* ---- start-up: what the store holds ------------------------------------------------ */

struct counting {
    size_t pdus, edus;
};

static int count_cb(void *arg, uint64_t seq, enum mxr_store_queue_kind kind, const char *data, size_t len)
{
    (void)seq;
    (void)data;
    (void)len;
    struct counting *c = arg;
    if (kind == MXR_STORE_QUEUE_PDU)
        c->pdus++;
    else
        c->edus++;
    return 0;
}

struct loading {
    struct mxr_sender *s;
    struct mxr_store_txn *txn;
    struct mxr_err *err;
    int rc;
};

static int load_dest_cb(void *arg, const char *name)
{
    struct loading *l = arg;
    struct counting c = { 0 };
    struct mxr_store_retry r;
    int rr;
    if (mxr_store_queue_peek(l->txn, name, SIZE_MAX, count_cb, &c, l->err) < 0 ||
        (rr = mxr_store_retry_get(l->txn, name, &r, l->err)) < 0) {
        l->rc = -1;
        return 1;
    }
    struct dest *d = sender_dest(l->s, name, true);
    if (!d) {
        l->rc = mxr_err_set(l->err, "M_UNKNOWN", "out of memory");
        return 1;
    }
    d->n_pdus = c.pdus;
    d->n_edus = c.edus;
    d->pending = c.pdus + c.edus > 0;
    if (rr == 0) {
        d->failures = r.failures;
        d->last_failure_ts = r.last_failure_ts;
        d->next_attempt_ts = r.next_attempt_ts;
        d->retry_in_store = true;
    }
    return 0;
}

struct mxr_sender *mxr_sender_new(const struct mxr_sender_deps *deps, struct mxr_err *err)
{
    if (!deps || !deps->server_name || !deps->store || !deps->transport.send) {
        mxr_err_set(err, "M_UNKNOWN", "mxr_sender_new: server_name, store and transport are required");
        return NULL;
    }
    struct mxr_sender *s = calloc(1, sizeof *s);
    if (!s || !(s->own_name = strdup(deps->server_name))) {
        free(s);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    s->deps = *deps;
    s->deps.server_name = s->own_name;
    const struct mxr_sender_limits *l = &deps->limits;
    s->lim.max_pdus = l->max_pdus && l->max_pdus <= MXR_TXN_MAX_PDUS ? l->max_pdus : MXR_TXN_MAX_PDUS;
    s->lim.max_edus = l->max_edus && l->max_edus <= MXR_TXN_MAX_EDUS ? l->max_edus : MXR_TXN_MAX_EDUS;
    s->lim.backoff_base_ms = l->backoff_base_ms > 0 ? l->backoff_base_ms : MXR_SENDER_BACKOFF_BASE_MS;
    s->lim.backoff_max_ms = l->backoff_max_ms > 0 ? l->backoff_max_ms : MXR_SENDER_BACKOFF_MAX_MS;
    s->lim.max_queued_edus = l->max_queued_edus ? l->max_queued_edus : MXR_SENDER_MAX_QUEUED_EDUS;
    s->lim.max_queued_pdus = l->max_queued_pdus ? l->max_queued_pdus : MXR_SENDER_MAX_QUEUED_PDUS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);

    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(deps->store, &txn, err) < 0) {
        mxr_sender_free(s);
        return NULL;
    }
    struct loading ld = { s, txn, err, 0 };
    int rc = mxr_store_queue_destinations(txn, load_dest_cb, &ld, err);
    mxr_store_read_end(txn);
    if (rc < 0 || ld.rc < 0) {
        mxr_err_prefix(err, "loading the outbound queue");
        mxr_sender_free(s);
        return NULL;
    }
    size_t pdus = 0, edus = 0;
    for (size_t i = 0; i < s->n; i++)
        pdus += s->dests[i]->n_pdus, edus += s->dests[i]->n_edus;
    if (s->n)
        slog(s, MXR_LOG_INFO, "outbound queue: %zu PDU(s) and %zu EDU(s) waiting for %zu destination(s)", pdus, edus,
             s->n);
    return s;
}

/* ---- transactions ------------------------------------------------------------------- */

struct batch {
    struct mxr_sender *s;
    struct mxr_store_txn *txn;
    json_t *pdus, *edus;
    size_t n_pdus, n_edus;
    uint64_t first, last;
    size_t items;
    struct mxr_err *err;
    int rc;
};

/* Takes the longest prefix within the per-transaction limits. */
static int batch_cb(void *arg, uint64_t seq, enum mxr_store_queue_kind kind, const char *data, size_t len)
{
    struct batch *b = arg;
    struct mxr_sender *s = b->s;
    if (kind == MXR_STORE_QUEUE_PDU ? b->n_pdus >= s->lim.max_pdus : b->n_edus >= s->lim.max_edus)
        return 1;
    if (!b->items)
        b->first = seq;
    b->last = seq;
    b->items++;
    struct mxr_err e = { 0 };
    if (kind == MXR_STORE_QUEUE_PDU) {
        b->n_pdus++;
        json_t *pdu = mxr_rooms_event_pdu(b->txn, data, &e);
        if (!pdu) {
            if (e.errcode && strcmp(e.errcode, "M_NOT_FOUND") == 0) {
                slog(s, MXR_LOG_WARN, "queued PDU %s is not in the store: skipped", data);
                return 0;
            }
            *b->err = e;
            b->rc = -1;
            return 1;
        }
        json_array_append_new(b->pdus, pdu);
    } else {
        b->n_edus++;
        json_t *edu = mxr_json_parse(data, len, 0, &e);
        if (!json_is_object(edu)) {
            json_decref(edu);
            slog(s, MXR_LOG_WARN, "queued EDU for a transaction is not a JSON object: skipped");
            return 0;
        }
        json_array_append_new(b->edus, edu);
    }
    return 0;
}

static void handle_completion(struct mxr_sender *s, struct completion *c, int64_t now);

struct flight {
    struct mxr_sender *s;
    struct dest *d;
};

static void on_txn_done(void *ctx, long status, json_t *body, const struct mxr_err *err)
{
    struct flight *f = ctx;
    struct mxr_sender *s = f->s;
    struct completion *c = calloc(1, sizeof *c);
    pthread_mutex_lock(&s->mu);
    if (c) {
        c->d = f->d;
        c->status = status;
        c->body = json_incref(body);
        if (err)
            c->err = *err;
        if (s->done_tail)
            s->done_tail->next = c;
        else
            s->done_head = c;
        s->done_tail = c;
    } else {   /* no memory for the news: as a failure, retried later */
        f->d->in_flight = false;
        s->in_flight--;
    }
    s->wake = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    free(f);
}

/* Builds and starts the next transaction of d. Not under mu. */
static void start_txn(struct mxr_sender *s, struct dest *d, int64_t now)
{
    struct mxr_err err = { 0 };
    struct batch b = { .s = s, .pdus = json_array(), .edus = json_array(), .err = &err };
    int rc = -1;
    if (b.pdus && b.edus && mxr_store_read_begin(s->deps.store, &b.txn, &err) == 0) {
        rc = mxr_store_queue_peek(b.txn, d->name, s->lim.max_pdus + s->lim.max_edus, batch_cb, &b, &err);
        mxr_store_read_end(b.txn);
        if (b.rc < 0)
            rc = -1;
    }
    if (rc < 0) {
        slog(s, MXR_LOG_ERROR, "building a transaction for %s: %s", d->name, err.msg[0] ? err.msg : "out of memory");
        json_decref(b.pdus);
        json_decref(b.edus);
        pthread_mutex_lock(&s->mu);
        d->next_attempt_ts = now + s->lim.backoff_base_ms;   /* try again shortly */
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (b.items == 0) {
        json_decref(b.pdus);
        json_decref(b.edus);
        pthread_mutex_lock(&s->mu);
        d->pending = false;
        d->n_pdus = d->n_edus = 0;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:o}", "origin", s->own_name, "origin_server_ts", (json_int_t)now, "pdus",
                             b.pdus);
    if (body && json_array_size(b.edus))
        json_object_set(body, "edus", b.edus);
    json_decref(b.edus);
    char txn_id[48];
    snprintf(txn_id, sizeof txn_id, "%" PRIu64 "-%" PRIu64, b.first, b.last);
    struct flight *f = malloc(sizeof *f);
    pthread_mutex_lock(&s->mu);
    d->in_flight = true;
    d->flight_last = b.last;
    d->flight_pdus = b.n_pdus;
    d->flight_edus = b.n_edus;
    s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    slog(s, MXR_LOG_DEBUG, "transaction %s to %s: %zu PDU(s), %zu EDU(s)", txn_id, d->name, b.n_pdus, b.n_edus);
    if (f)
        *f = (struct flight){ s, d };
    if (!body || !f || s->deps.transport.send(s->deps.transport.ctx, d->name, txn_id, body, on_txn_done, f, &err) < 0) {
        if (!body || !f)
            mxr_err_set(&err, "M_UNKNOWN", "out of memory");
        free(f);
        /* As an answer that failed, so the back-off applies. */
        struct completion c = { .d = d, .err = err };
        handle_completion(s, &c, now);
    }
    json_decref(body);
}

struct ack {
    const char *dest;
    uint64_t upto;
    bool clear_retry;
    struct mxr_store_retry retry;   /* when !clear_retry and failures: the record to write */
    bool write_retry;
};

static int ack_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct ack *a = arg;
    if (a->upto && mxr_store_queue_ack(txn, a->dest, a->upto, err) < 0)
        return -1;
    if (a->clear_retry) {
        struct mxr_store_retry none = { 0 };
        return mxr_store_retry_set(txn, a->dest, &none, err);
    }
    if (a->write_retry)
        return mxr_store_retry_set(txn, a->dest, &a->retry, err);
    return 0;
}

static void log_pdu_errors(struct mxr_sender *s, const char *dest, const json_t *body)
{
    const char *id;
    json_t *v;
    json_object_foreach(json_object_get(body, "pdus"), id, v) {
        const char *e = json_string_value(json_object_get(v, "error"));
        if (e)
            slog(s, MXR_LOG_INFO, "%s did not accept %s: %.300s", dest, id, e);
    }
}

static void handle_completion(struct mxr_sender *s, struct completion *c, int64_t now)
{
    struct dest *d = c->d;
    bool ok = c->status == 200;
    /* 400 and 413 say the transaction itself is bad: the same bytes will
     * never be accepted, so it is dropped (loudly) rather than block the
     * queue forever. */
    bool refused = c->status == 400 || c->status == 413;
    /* Cut short by our own shutdown: not the destination's failure. */
    pthread_mutex_lock(&s->mu);
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    if (!ok && !refused && stopping) {
        pthread_mutex_lock(&s->mu);
        d->in_flight = false;
        s->in_flight--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    struct ack a = { .dest = d->name };
    if (ok || refused) {
        a.upto = d->flight_last;
        a.clear_retry = d->retry_in_store;
    } else {
        a.write_retry = true;
        a.retry.failures = d->failures + 1;
        a.retry.last_failure_ts = now;
        a.retry.next_attempt_ts = now + backoff_ms(s, a.retry.failures);
    }
    struct mxr_err err = { 0 };
    int rc = mxr_store_write(s->deps.store, ack_write, &a, &err);
    if (rc < 0)
        slog(s, MXR_LOG_ERROR, "recording the outcome of a transaction to %s: %s", d->name, err.msg);
    if (ok)
        log_pdu_errors(s, d->name, c->body);
    else if (refused)
        slog(s, MXR_LOG_ERROR, "%s refused a transaction (HTTP %ld): dropped its %zu PDU(s) and %zu EDU(s): %s",
             d->name, c->status, d->flight_pdus, d->flight_edus, c->err.msg);
    else
        slog(s, d->failures ? MXR_LOG_DEBUG : MXR_LOG_WARN, "transaction to %s failed (%s); retrying in %" PRId64 " s",
             d->name, c->err.msg[0] ? c->err.msg : "no answer", backoff_ms(s, d->failures + 1) / 1000);

    pthread_mutex_lock(&s->mu);
    d->in_flight = false;
    s->in_flight--;
    if (ok || refused) {
        if (rc == 0) {
            d->n_pdus = d->n_pdus > d->flight_pdus ? d->n_pdus - d->flight_pdus : 0;
            d->n_edus = d->n_edus > d->flight_edus ? d->n_edus - d->flight_edus : 0;
            d->retry_in_store = false;
        }
        d->txns_sent += ok;
        d->failures = 0;
        d->next_attempt_ts = 0;
        d->pending = true;   /* there may be more */
    } else {
        d->failures = a.retry.failures;
        d->last_failure_ts = now;
        d->next_attempt_ts = a.retry.next_attempt_ts;
        d->retry_in_store = d->retry_in_store || rc == 0;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int64_t mxr_sender_run_once(struct mxr_sender *s)
{
    int64_t now = sender_now(s);
    pthread_mutex_lock(&s->mu);
    struct completion *done = s->done_head;
    s->done_head = s->done_tail = NULL;
    s->wake = false;
    pthread_mutex_unlock(&s->mu);
    while (done) {
        struct completion *next = done->next;
        handle_completion(s, done, now);
        json_decref(done->body);
        free(done);
        done = next;
    }

    /* The destinations to work on now (pointers are stable; new ones may
     * be appended meanwhile and wait for the next round): the due ones, and
     * those over their bound, which shrink now even while backing off. */
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    struct dest **work = malloc((n ? n : 1) * sizeof *work);
    bool *due = malloc((n ? n : 1) * sizeof *due);
    size_t n_work = 0;
    for (size_t i = 0; work && due && i < n; i++) {
        struct dest *d = s->dests[i];
        if (d->in_flight || s->stopping)
            continue;
        bool is_due = d->pending && d->next_attempt_ts <= now;
        if (is_due || sender_over_bound(s, d)) {
            due[n_work] = is_due;
            work[n_work++] = d;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n_work; i++) {
        if (sender_over_bound(s, work[i]))
            sender_compact(s, work[i]);
        if (due[i])
            start_txn(s, work[i], now);
    }
    free(work);
    free(due);

    int64_t next = INT64_MAX;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        struct dest *d = s->dests[i];
        if (!d->in_flight && d->pending && d->next_attempt_ts < next)
            next = d->next_attempt_ts;
    }
    pthread_mutex_unlock(&s->mu);
    return next;
}

/* ---- the thread --------------------------------------------------------------------- */

static void *sender_main(void *arg)
{
    struct mxr_sender *s = arg;
    for (;;) {
        int64_t next = mxr_sender_run_once(s);
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        if (!s->wake && !s->done_head) {
            int64_t now = sender_now(s);
            if (next == INT64_MAX) {
                pthread_cond_wait(&s->cv, &s->mu);
            } else if (next > now) {
                /* The condition variable runs on CLOCK_REALTIME, like sender_now
                 * without an injected clock (with one, waits are short). */
                int64_t wait = next - now;
                if (wait > 60000)
                    wait = 60000;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait / 1000;
                ts.tv_nsec += (long)(wait % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

int mxr_sender_start(struct mxr_sender *s, struct mxr_err *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (!s->started) {
        if (pthread_create(&s->thread, NULL, sender_main, s) != 0)
            rc = mxr_err_set(err, "M_UNKNOWN", "cannot start the federation sender thread");
        else
            s->started = true;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void mxr_sender_stop(struct mxr_sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    bool started = s->started;
    s->started = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (started)
        pthread_join(s->thread, NULL);
}

void mxr_sender_free(struct mxr_sender *s)
{
    if (!s)
        return;
    mxr_sender_stop(s);
    pthread_mutex_lock(&s->mu);
    while (s->in_flight) {
        /* Completions arrive on the transport's threads; record them. */
        while (!s->done_head && s->in_flight)
            pthread_cond_wait(&s->cv, &s->mu);
        struct completion *c = s->done_head;
        s->done_head = s->done_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        int64_t now = sender_now(s);
        while (c) {
            struct completion *next = c->next;
            handle_completion(s, c, now);
            json_decref(c->body);
            free(c);
            c = next;
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    for (struct completion *c = s->done_head; c;) {
        struct completion *next = c->next;
        json_decref(c->body);
        free(c);
        c = next;
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->dests[i]->name);
        free(s->dests[i]);
    }
    free(s->dests);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->own_name);
    free(s);
}

int mxr_sender_dest_info(struct mxr_sender *s, const char *dest, struct mxr_sender_dest_info *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    struct dest *d = sender_dest(s, dest, false);
    if (d) {
        out->queued_pdus = d->n_pdus;
        out->queued_edus = d->n_edus;
        out->failures = d->failures;
        out->next_attempt_ts = d->next_attempt_ts;
        out->in_flight = d->in_flight;
        out->txns_sent = d->txns_sent;
        out->pdus_dropped = d->pdus_dropped;
        out->edus_dropped = d->edus_dropped;
    }
    pthread_mutex_unlock(&s->mu);
    return d ? 0 : -1;
}

