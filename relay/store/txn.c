/* The LMDB wrapper: environment open/close, read transactions, and the
 * get/put/del/cursor helpers with sticky errors (Knot's habit: a transaction
 * remembers its first error, later calls fail fast, the caller checks once). */
#include "relay/store/store_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Address space only: the file grows with the data (LMDB without
 * MDB_WRITEMAP does not preallocate), so a generous map costs nothing and
 * keeps growths, the one moment readers can delay the writer, rare. */
#define DEFAULT_MAP_SIZE ((size_t)1 << 30)

/* Read transactions held by the calling thread: a thread holding one must
 * not wait for a write (a map resize waits for all readers). */
static _Thread_local atomic_uint tls_reads;

struct read_txn {
    struct mxr_store_txn t;     /* first: the public handle */
    atomic_uint *owner_reads;   /* tls_reads of the thread that began it */
};

bool store_thread_holds_reads(void)
{
    return atomic_load(&tls_reads) != 0;
}

/* --- sticky errors ------------------------------------------------------- */

int st_fail_mdb(struct mxr_store_txn *t, int rc, const char *what, struct mxr_err *err)
{
    if (!t->failed) {
        t->failed = true;
        t->mdb_rc = rc;
        const char *hint = rc == MDB_MAP_FULL ? " (the map is grown and the write retried)" : "";
        mxr_err_set(&t->err, "M_UNKNOWN", "store: %s: %s%s", what, mdb_strerror(rc), hint);
    }
    if (err)
        *err = t->err;
    return -1;
}

int st_fail(struct mxr_store_txn *t, struct mxr_err *err, const char *errcode, const char *fmt, ...)
{
    if (!t->failed) {
        t->failed = true;
        t->mdb_rc = 0;
        t->err.errcode = errcode ? errcode : "M_UNKNOWN";
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->err.msg, sizeof t->err.msg, fmt, ap);
        va_end(ap);
    }
    if (err)
        *err = t->err;
    return -1;
}

int st_ok(struct mxr_store_txn *t, struct mxr_err *err)
{
    if (!t)
        return mxr_err_set(err, "M_UNKNOWN", "store: no transaction given");
    if (t->failed) {
        if (err)
            *err = t->err;
        return -1;
    }
    return 0;
}

int st_ok_write(struct mxr_store_txn *t, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    if (!t->write)
        return st_fail(t, err, "M_UNKNOWN", "store: write attempted in a read transaction "
                                            "(writes run in mxr_store_write callbacks)");
    return 0;
}

int st_key_ok(struct mxr_store_txn *t, const struct skey *k, const char *what, struct mxr_err *err)
{
    if (!k->bad)
        return 0;
    return st_fail(t, err, "M_TOO_LARGE",
                   "store: %s: a string over 255 bytes (spec appendices, \"Size limits\") or a key "
                   "over %d bytes cannot be stored", what, SKEY_MAX);
}

/* --- get/put/del/cursor -------------------------------------------------- */

int st_get(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, MDB_val *v,
           struct mxr_err *err)
{
    if (st_ok(t, err) || st_key_ok(t, k, store_tables[tb].name, err))
        return -1;
    MDB_val key = st_val(k);
    int rc = mdb_get(t->txn, t->s->dbi[tb], &key, v);
    if (rc == MDB_NOTFOUND)
        return MXR_STORE_NOT_FOUND;
    if (rc)
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    return 0;
}

int st_put(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, const void *v,
           size_t vlen, unsigned flags, struct mxr_err *err)
{
    if (st_ok_write(t, err) || st_key_ok(t, k, store_tables[tb].name, err))
        return -1;
    MDB_val key = st_val(k), val = {.mv_size = vlen, .mv_data = (void *)v};
    int rc = mdb_put(t->txn, t->s->dbi[tb], &key, &val, flags);
    if (rc == MDB_KEYEXIST && (flags & (MDB_NOOVERWRITE | MDB_NODUPDATA)))
        return ST_EXISTS;
    if (rc)
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    return 0;
}

int st_put_seq(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, const void *v,
               size_t vlen, struct mxr_err *err)
{
    if (st_ok_write(t, err) || st_key_ok(t, k, store_tables[tb].name, err))
        return -1;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c);
    if (rc)
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    MDB_val last, lv;
    unsigned flags = 0;
    rc = mdb_cursor_get(c, &last, &lv, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        flags = MDB_APPEND;
    } else if (rc == 0) {
        size_t n = last.mv_size < k->n ? last.mv_size : k->n;
        int cmp = memcmp(k->b, last.mv_data, n);
        if (cmp > 0 || (cmp == 0 && k->n > last.mv_size))
            flags = MDB_APPEND;
    } else {
        mdb_cursor_close(c);
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    }
    MDB_val key = st_val(k), val = {.mv_size = vlen, .mv_data = (void *)v};
    rc = mdb_cursor_put(c, &key, &val, flags);
    mdb_cursor_close(c);
    if (rc)
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    return 0;
}

int st_del(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, const void *dupval,
           size_t duplen, struct mxr_err *err)
{
    if (st_ok_write(t, err) || st_key_ok(t, k, store_tables[tb].name, err))
        return -1;
    MDB_val key = st_val(k), val = {.mv_size = duplen, .mv_data = (void *)dupval};
    int rc = mdb_del(t->txn, t->s->dbi[tb], &key, dupval ? &val : NULL);
    if (rc == MDB_NOTFOUND)
        return MXR_STORE_NOT_FOUND;
    if (rc)
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    return 0;
}

int st_cursor(struct mxr_store_txn *t, enum store_table tb, MDB_cursor **c, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[tb], c);
    if (rc)
        return st_fail_mdb(t, rc, store_tables[tb].name, err);
    return 0;
}

int st_cget(struct mxr_store_txn *t, MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op,
            struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    int rc = mdb_cursor_get(c, k, v, op);
    if (rc == MDB_NOTFOUND)
        return MXR_STORE_NOT_FOUND;
    if (rc)
        return st_fail_mdb(t, rc, "cursor", err);
    return 0;
}

int st_scan(struct mxr_store_txn *t, enum store_table tb, const struct skey *prefix, st_row_fn fn, void *arg,
            struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, tb, &c, err))
        return -1;
    MDB_val k = st_val(prefix), v;
    /* LMDB refuses an empty key for MDB_SET_RANGE: an empty prefix is the whole table. */
    int rc = st_cget(t, c, &k, &v, prefix->n ? MDB_SET_RANGE : MDB_FIRST, err);
    while (rc == 0 && st_prefix(&k, prefix)) {
        if ((rc = fn(arg, t, &k, &v, err)) != 0)
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    if (rc < 0 && !t->failed)   /* fn failed without making it sticky */
        st_fail(t, err, err && err->errcode ? err->errcode : "M_UNKNOWN", "%s",
                err && err->msg[0] ? err->msg : "store: a row could not be read");
    return rc < 0 ? -1 : 0;
}

int st_counter(struct mxr_store_txn *t, const char *counter, uint64_t *out, struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_raw(&k, counter, strlen(counter));
    MDB_val v;
    int rc = st_get(t, T_META, &k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND) {
        *out = 0;
        return 0;
    }
    if (v.mv_size != 8)
        return st_fail(t, err, "M_UNKNOWN", "store: counter %s is %zu bytes, not 8: store damaged",
                       counter, v.mv_size);
    *out = be64_get(v.mv_data);
    return 0;
}

int st_next(struct mxr_store_txn *t, const char *counter, uint64_t *out, struct mxr_err *err)
{
    uint64_t last;
    if (st_counter(t, counter, &last, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_raw(&k, counter, strlen(counter));
    uint8_t b[8];
    be64_put(b, last + 1);
    if (st_put(t, T_META, &k, b, 8, 0, err))
        return -1;
    *out = last + 1;
    return 0;
}

bool mxr_store_txn_writable(const struct mxr_store_txn *txn)
{
    return txn && txn->write;
}

/* --- read transactions --------------------------------------------------- */

int mxr_store_read_begin(struct mxr_store *s, struct mxr_store_txn **out, struct mxr_err *err)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    while (s->resizing)
        pthread_cond_wait(&s->cv_readers, &s->mu);
    s->readers++;
    struct read_txn *r = (struct read_txn *)s->pool;
    if (r)
        s->pool = r->t.pool_next;
    pthread_mutex_unlock(&s->mu);

    int rc;
    if (r) {
        rc = mdb_txn_renew(r->t.txn);
    } else {
        r = calloc(1, sizeof *r);
        rc = r ? mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->t.txn) : ENOMEM;
    }
    if (rc) {
        if (r) {
            if (r->t.txn)
                mdb_txn_abort(r->t.txn);
            free(r);
        }
        pthread_mutex_lock(&s->mu);
        if (--s->readers == 0)
            pthread_cond_broadcast(&s->cv_readers);
        pthread_mutex_unlock(&s->mu);
        const char *hint = rc == MDB_READERS_FULL ? " (raise max_readers or end read transactions sooner)"
                           : rc == MDB_MAP_RESIZED ? " (another process grew the map: reopen the store)"
                                                   : "";
        return mxr_err_set(err, "M_UNKNOWN", "store: cannot begin a read transaction: %s%s",
                           mdb_strerror(rc), hint);
    }
    r->t.s = s;
    r->t.write = false;
    r->t.failed = false;
    r->t.mdb_rc = 0;
    r->t.pool_next = NULL;
    mxr_err_clear(&r->t.err);
    r->owner_reads = &tls_reads;
    atomic_fetch_add(&tls_reads, 1);
    *out = &r->t;
    return 0;
}

void mxr_store_read_end(struct mxr_store_txn *txn)
{
    if (!txn)
        return;
    struct read_txn *r = (struct read_txn *)txn;
    struct mxr_store *s = txn->s;
    mdb_txn_reset(txn->txn);
    atomic_fetch_sub(r->owner_reads, 1);
    pthread_mutex_lock(&s->mu);
    txn->pool_next = s->pool;
    s->pool = txn;
    if (--s->readers == 0)
        pthread_cond_broadcast(&s->cv_readers);
    pthread_mutex_unlock(&s->mu);
}

/* --- open / close ---------------------------------------------------------- */

/* mkdir -p with 0700 for the components it creates; an existing final
 * directory readable by others is tightened to 0700. */
static int make_private_dir(const char *path, struct mxr_err *err)
{
    size_t len = strlen(path);
    char *p = strdup(path);
    if (!p)
        return mxr_err_set(err, "M_UNKNOWN", "store: out of memory");
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            mxr_err_set(err, "M_UNKNOWN", "store: cannot create directory %s: %s", p, strerror(e));
            free(p);
            return -1;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return mxr_err_set(err, "M_UNKNOWN", "store: %s is not a directory", path);
    if ((st.st_mode & 077) && chmod(path, 0700) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "store: %s is accessible to other users and chmod 0700 "
                           "failed: %s", path, strerror(errno));
    return 0;
}

static void store_free(struct mxr_store *s)
{
    while (s->pool) {
        struct mxr_store_txn *t = s->pool;
        s->pool = t->pool_next;
        mdb_txn_abort(t->txn);
        free(t);
    }
    if (s->env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_queue);
    pthread_cond_destroy(&s->cv_done);
    pthread_cond_destroy(&s->cv_readers);
    free(s->path);
    free(s);
}

struct mxr_store *mxr_store_open(const struct mxr_store_options *opt, struct mxr_err *err)
{
    if (!opt || !opt->path || !*opt->path) {
        mxr_err_set(err, "M_UNKNOWN", "store: no path given");
        return NULL;
    }
    /* back-mdb's habit: the on-disk format and the lock protocol belong to
     * major.minor; a different runtime library could misread the file. */
    int maj, min, pat;
    mdb_version(&maj, &min, &pat);
    if (maj != MDB_VERSION_MAJOR || min != MDB_VERSION_MINOR) {
        mxr_err_set(err, "M_UNKNOWN", "store: runtime LMDB %d.%d.%d differs from the %d.%d.%d mxrelay was "
                    "built with: rebuild mxrelay against the installed liblmdb",
                    maj, min, pat, MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH);
        return NULL;
    }
    if (!opt->read_only && make_private_dir(opt->path, err))
        return NULL;

    struct mxr_store *s = calloc(1, sizeof *s);
    if (!s) {
        mxr_err_set(err, "M_UNKNOWN", "store: out of memory");
        return NULL;
    }
    s->opt = *opt;
    s->path = strdup(opt->path);
    s->opt.path = s->path;
    if (!s->opt.max_batch)
        s->opt.max_batch = 1024;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_queue, NULL);
    pthread_cond_init(&s->cv_done, NULL);
    pthread_cond_init(&s->cv_readers, NULL);

    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        goto fail_rc;
    }
    size_t map = opt->initial_map_size ? opt->initial_map_size : DEFAULT_MAP_SIZE;
    if ((rc = mdb_env_set_maxdbs(s->env, T_COUNT + 8)) ||
        (rc = mdb_env_set_maxreaders(s->env, opt->max_readers ? opt->max_readers : 126)) ||
        (rc = mdb_env_set_mapsize(s->env, map)))
        goto fail_rc;
    unsigned flags = MDB_NOTLS;
    if (opt->sync == MXR_STORE_SYNC_NONE)
        flags |= MDB_NOSYNC;
    if (opt->read_only)
        flags |= MDB_RDONLY;
    if ((rc = mdb_env_open(s->env, s->path, flags, 0600)))
        goto fail_rc;
    int dead = 0;
    mdb_reader_check(s->env, &dead);   /* slots of killed processes */

    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &st);
    s->map_size = info.me_mapsize;
    s->page_size = st.ms_psize;

    if (store_schema_open(s, err))
        goto fail;
    if (!opt->read_only && store_writer_start(s, err))
        goto fail;
    return s;

fail_rc:
    mxr_err_set(err, "M_UNKNOWN", "store: cannot open the LMDB environment in %s: %s", opt->path,
                mdb_strerror(rc));
fail:
    store_free(s);
    return NULL;
}

void mxr_store_close(struct mxr_store *s)
{
    if (!s)
        return;
    store_writer_stop(s);
    store_free(s);
}

void mxr_store_get_stats(struct mxr_store *s, struct mxr_store_stats *out)
{
    /* mdb_env_info reads the meta pages inside the map: count as a reader
     * so that a resize cannot unmap them underneath. */
    pthread_mutex_lock(&s->mu);
    while (s->resizing)
        pthread_cond_wait(&s->cv_readers, &s->mu);
    s->readers++;
    *out = s->stats;
    out->map_size = s->map_size;
    pthread_mutex_unlock(&s->mu);
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0)
        out->used_bytes = (size_t)(info.me_last_pgno + 1) * s->page_size;
    pthread_mutex_lock(&s->mu);
    if (--s->readers == 0)
        pthread_cond_broadcast(&s->cv_readers);
    pthread_mutex_unlock(&s->mu);
}

int mxr_store_table_usage(struct mxr_store_txn *t,
                          void (*cb)(void *arg, const char *table, size_t bytes, size_t entries),
                          void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    for (int i = 0; i < T_COUNT; i++) {
        if (!store_tables[i].since || store_tables[i].since > MXR_STORE_SCHEMA_VERSION)
            continue;
        MDB_stat st;
        int rc = mdb_stat(t->txn, t->s->dbi[i], &st);
        if (rc)
            return st_fail_mdb(t, rc, store_tables[i].name, err);
        size_t pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        cb(arg, store_tables[i].name, pages * st.ms_psize, st.ms_entries);
    }
    return 0;
}
