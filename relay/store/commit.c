/* Group commit. LMDB admits one write transaction at a time and a durable
 * commit costs an fsync; a single writer thread therefore takes every write
 * submission queued while the previous commit was running and commits them
 * together. A submitter learns its result only after mdb_txn_commit
 * returned: nothing is acknowledged before it is durable. */
#include "relay/store/store_int.h"

#include <stdlib.h>

#define GIB ((size_t)1 << 30)

static void req_fail(struct store_req *r, const struct mxr_err *e)
{
    r->rc = -1;
    r->failed_once = true;
    r->err = *e;
}

int store_grow_map(struct mxr_store *s, struct mxr_err *err)
{
    size_t old = s->map_size;
    /* Geometric: a store of any size grows a bounded number of times. */
    size_t grown = old < 8 * GIB ? old * 2 : old + old / 2;
    if (grown < old)
        return mxr_err_set(err, "M_UNKNOWN", "store: map size cannot grow past %zu bytes", old);
    /* Remapping invalidates every pointer into the map: wait until no read
     * transaction is open, and keep new ones waiting until it is done. */
    pthread_mutex_lock(&s->mu);
    s->resizing = true;
    while (s->readers)
        pthread_cond_wait(&s->cv_readers, &s->mu);
    pthread_mutex_unlock(&s->mu);
    int rc = mdb_env_set_mapsize(s->env, grown);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    pthread_mutex_lock(&s->mu);
    s->resizing = false;
    s->map_size = info.me_mapsize;
    if (!rc)
        s->stats.map_growths++;
    pthread_cond_broadcast(&s->cv_readers);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return mxr_err_set(err, "M_UNKNOWN", "store: growing the map from %zu to %zu bytes failed: %s "
                           "(disk or address space exhausted?)", old, grown, mdb_strerror(rc));
    return 0;
}

static void count_retry(struct mxr_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->stats.retries++;
    pthread_mutex_unlock(&s->mu);
}

static size_t count_live(struct store_req **reqs, size_t n)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += !reqs[i]->failed_once;
    return live;
}

static void run_batch(struct mxr_store *s, struct store_req **reqs, size_t n);

/* Runs the live submissions of reqs as two smaller batches (isolates a
 * submission that overflows a transaction or trips an LMDB error). */
static void split_batch(struct mxr_store *s, struct store_req **reqs, size_t n)
{
    size_t live = count_live(reqs, n);
    struct store_req **v = malloc(live * sizeof *v);
    if (!v) {
        struct mxr_err e;
        mxr_err_set(&e, "M_UNKNOWN", "store: out of memory splitting a write batch");
        for (size_t i = 0; i < n; i++)
            if (!reqs[i]->failed_once)
                req_fail(reqs[i], &e);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!reqs[i]->failed_once)
            v[m++] = reqs[i];
    run_batch(s, v, m / 2);
    run_batch(s, v + m / 2, m - m / 2);
    free(v);
}

/* One LMDB write transaction over the live submissions of reqs. A failing
 * submission is answered and the others re-run without it; MDB_MAP_FULL
 * grows the map and re-runs them all. */
static void run_batch(struct mxr_store *s, struct store_req **reqs, size_t n)
{
    struct mxr_err e;
    for (;;) {
        size_t live = count_live(reqs, n);
        if (!live)
            return;
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc) {
            mxr_err_set(&e, "M_UNKNOWN", "store: cannot begin a write transaction: %s", mdb_strerror(rc));
            for (size_t i = 0; i < n; i++)
                if (!reqs[i]->failed_once)
                    req_fail(reqs[i], &e);
            return;
        }
        struct mxr_store_txn t = {.s = s, .txn = txn, .write = true};
        bool rerun = false;
        for (size_t i = 0; i < n && !rerun; i++) {
            struct store_req *r = reqs[i];
            if (r->failed_once)
                continue;
            mxr_err_clear(&e);
            int frc = r->fn(&t, r->arg, &e);
            if (!frc && !t.failed)
                continue;
            mdb_txn_abort(txn);
            rerun = true;
            count_retry(s);
            if (t.failed && t.mdb_rc == MDB_MAP_FULL) {
                if (store_grow_map(s, &e)) {
                    for (size_t j = 0; j < n; j++)
                        if (!reqs[j]->failed_once)
                            req_fail(reqs[j], &e);
                    return;
                }
            } else if (t.failed && t.mdb_rc) {
                /* An LMDB error leaves the transaction unusable; it may be
                 * this submission's doing (MDB_TXN_FULL: too much for one
                 * transaction) or not: isolate it by halving. */
                if (live > 1) {
                    split_batch(s, reqs, n);
                    return;
                }
                req_fail(r, &t.err);
                return;
            } else {
                if (t.failed)
                    e = t.err;
                else if (!e.errcode)
                    mxr_err_set(&e, "M_UNKNOWN", "store: a write callback failed without saying why");
                req_fail(r, &e);
            }
        }
        if (rerun)
            continue;
        rc = mdb_txn_commit(txn);   /* frees txn whatever the outcome */
        if (rc == MDB_MAP_FULL) {
            count_retry(s);
            if (store_grow_map(s, &e) == 0)
                continue;
        } else if (rc) {
            mxr_err_set(&e, "M_UNKNOWN", "store: commit failed, nothing written: %s", mdb_strerror(rc));
        }
        if (rc) {
            if (rc == MDB_TXN_FULL && live > 1) {
                split_batch(s, reqs, n);
                return;
            }
            for (size_t i = 0; i < n; i++)
                if (!reqs[i]->failed_once)
                    req_fail(reqs[i], &e);
            return;
        }
        pthread_mutex_lock(&s->mu);
        s->stats.commits++;
        s->stats.submissions += live;
        if (live > s->stats.max_batch_seen)
            s->stats.max_batch_seen = live;
        pthread_mutex_unlock(&s->mu);
        for (size_t i = 0; i < n; i++)
            if (!reqs[i]->failed_once)
                reqs[i]->rc = 0;
        return;
    }
}

static void *writer_main(void *arg)
{
    struct mxr_store *s = arg;
    struct store_req **batch = malloc(s->opt.max_batch * sizeof *batch);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->q_head && !s->stopping)
            pthread_cond_wait(&s->cv_queue, &s->mu);
        if (!s->q_head)
            break;   /* stopping and drained */
        size_t n = 0;
        unsigned cap = batch ? s->opt.max_batch : 1;
        struct store_req *one = NULL;
        while (s->q_head && n < cap) {
            struct store_req *r = s->q_head;
            s->q_head = r->next;
            r->next = NULL;
            r->failed_once = false;
            r->rc = 0;
            if (batch)
                batch[n] = r;
            else
                one = r;
            n++;
        }
        if (!s->q_head)
            s->q_tail = NULL;
        pthread_mutex_unlock(&s->mu);

        struct store_req **v = batch ? batch : &one;
        run_batch(s, v, n);
        size_t failed = 0;
        for (size_t i = 0; i < n; i++)
            failed += v[i]->rc != 0;

        /* Answer: async ones after the lock is dropped (their requests are
         * ours to free); sync ones are on their submitters' stacks and must
         * not be touched once marked finished. */
        struct store_req *async = NULL;
        pthread_mutex_lock(&s->mu);
        s->stats.failed += failed;
        for (size_t i = 0; i < n; i++) {
            if (v[i]->done) {
                v[i]->next = async;
                async = v[i];
            } else {
                v[i]->finished = true;
            }
        }
        pthread_cond_broadcast(&s->cv_done);
        pthread_mutex_unlock(&s->mu);
        while (async) {
            struct store_req *r = async;
            async = r->next;
            r->done(r->done_arg, r->rc, r->rc ? &r->err : NULL);
            free(r);
        }
        pthread_mutex_lock(&s->mu);
    }
    s->writer_running = false;
    pthread_mutex_unlock(&s->mu);
    free(batch);
    return NULL;
}

int store_writer_start(struct mxr_store *s, struct mxr_err *err)
{
    s->writer_running = true;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        s->writer_running = false;
        return mxr_err_set(err, "M_UNKNOWN", "store: cannot start the writer thread");
    }
    return 0;
}

void store_writer_stop(struct mxr_store *s)
{
    pthread_mutex_lock(&s->mu);
    bool had = s->writer_running || s->stopping;
    s->stopping = true;
    pthread_cond_broadcast(&s->cv_queue);
    pthread_mutex_unlock(&s->mu);
    if (had && !s->opt.read_only)
        pthread_join(s->writer, NULL);
}

static int submit(struct mxr_store *s, struct store_req *r, struct mxr_err *err)
{
    if (s->opt.read_only)
        return mxr_err_set(err, "M_UNKNOWN", "store: opened read-only, writes are refused");
    if (!r->fn)
        return mxr_err_set(err, "M_UNKNOWN", "store: write submitted without a callback");
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return mxr_err_set(err, "M_UNKNOWN", "store: closing, write refused");
    }
    if (pthread_equal(pthread_self(), s->writer)) {
        pthread_mutex_unlock(&s->mu);
        return mxr_err_set(err, "M_UNKNOWN", "store: write submitted from the writer thread (a write "
                           "callback or completion); it would wait for itself");
    }
    r->next = NULL;
    if (s->q_tail)
        s->q_tail->next = r;
    else
        s->q_head = r;
    s->q_tail = r;
    pthread_cond_signal(&s->cv_queue);
    if (!r->done) {
        while (!r->finished)
            pthread_cond_wait(&s->cv_done, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int mxr_store_write(struct mxr_store *s, mxr_store_write_fn fn, void *arg, struct mxr_err *err)
{
    if (store_thread_holds_reads())
        return mxr_err_set(err, "M_UNKNOWN", "store: write submitted while this thread holds a read "
                           "transaction; end it first (a map resize would wait for it forever)");
    struct store_req r = {.fn = fn, .arg = arg};
    if (submit(s, &r, err))
        return -1;
    if (r.rc) {
        if (err)
            *err = r.err;
        return -1;
    }
    return 0;
}

int mxr_store_write_async(struct mxr_store *s, mxr_store_write_fn fn, void *arg,
                          mxr_store_done_fn done, void *done_arg, struct mxr_err *err)
{
    if (!done)
        return mxr_err_set(err, "M_UNKNOWN", "store: asynchronous write without a completion");
    struct store_req *r = calloc(1, sizeof *r);
    if (!r)
        return mxr_err_set(err, "M_UNKNOWN", "store: out of memory");
    r->fn = fn;
    r->arg = arg;
    r->done = done;
    r->done_arg = done_arg;
    if (submit(s, r, err)) {
        free(r);
        return -1;
    }
    return 0;
}
