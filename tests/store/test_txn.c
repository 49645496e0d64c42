/* The environment, transactions and group commit (relay/store/txn.c,
 * commit.c, schema.c): permissions, schema refusal and migration, map
 * growth, batching, failure isolation, sticky errors, misuse refusals. */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "relay/store/schema.h"
#include "tests/store/store_fixture.h"

static int setup(void **state)
{
    static struct fx f;
    fx_open(&f, 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->s)
        fx_close(f);
    else
        fx_rmrf(f->dir);
    return 0;
}

static struct mxr_store *open_at(const char *path, bool ro, struct mxr_err *err)
{
    struct mxr_store_options o = {.path = path, .sync = MXR_STORE_SYNC_NONE, .read_only = ro};
    return mxr_store_open(&o, err);
}

static void private_directories(void **state)
{
    struct fx *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/data/store", f->dir);
    struct mxr_err err = {0};
    struct mxr_store *s = open_at(path, false, &err);
    assert_non_null(s);
    mxr_store_close(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char parent[620];
    snprintf(parent, sizeof parent, "%s/data", f->dir);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char file[640];
    snprintf(file, sizeof file, "%s/data.mdb", path);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    /* An existing directory open to others is tightened. */
    assert_int_equal(chmod(path, 0755), 0);
    s = open_at(path, false, &err);
    assert_non_null(s);
    mxr_store_close(s);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

/* --- schema ---------------------------------------------------------------------- */

static unsigned fake_version;
static int set_version_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    return store_schema_set_version(t, fake_version, err);
}

static void newer_schema_refused(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    unsigned v;
    assert_int_equal(store_schema_version(fx_read(f), &v, &err), 0);
    assert_int_equal(v, MXR_STORE_SCHEMA_VERSION);
    fx_read_end(f);
    fake_version = MXR_STORE_SCHEMA_VERSION + 1;
    assert_int_equal(mxr_store_write(f->s, set_version_fn, NULL, &err), 0);
    fx_close_keep(f);
    assert_null(open_at(f->dir, false, &err));
    char want[128];
    snprintf(want, sizeof want, "schema version %u, newer than the %u", MXR_STORE_SCHEMA_VERSION + 1,
             MXR_STORE_SCHEMA_VERSION);
    if (!strstr(err.msg, want))
        fail_msg("message: %s", err.msg);
    assert_null(open_at(f->dir, true, &err));
    assert_non_null(strstr(err.msg, want));
}

static char mig_log[64];
static int step1(struct mxr_store_txn *t, struct mxr_err *err)
{
    strcat(mig_log, "1");
    return mxr_store_txnid_put(t, "migration", "1", "x", 1, 0, err);
}
static int step2(struct mxr_store_txn *t, struct mxr_err *err)
{
    strcat(mig_log, "2");
    return mxr_store_txnid_put(t, "migration", "2", "y", 1, 0, err);
}
static const struct store_migration steps[] = {{2, step2}, {1, step1}};
struct mig {
    unsigned have, want;
};
static int migrate_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct mig *m = arg;
    return store_schema_migrate(t, m->have, m->want, steps, 2, err);
}

static void migration_steps_run_in_order_in_one_transaction(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    mig_log[0] = '\0';
    assert_int_equal(mxr_store_write(f->s, migrate_fn, &(struct mig){1, 3}, &err), 0);
    assert_string_equal(mig_log, "12");
    const char *r;
    size_t n;
    assert_int_equal(mxr_store_txnid_get(fx_read(f), "migration", "2", &r, &n, &err), 0);
    fx_read_end(f);

    /* A missing step fails the whole migration: nothing of it stays. */
    mig_log[0] = '\0';
    assert_int_equal(mxr_store_write(f->s, migrate_fn, &(struct mig){2, 4}, &err), -1);
    assert_non_null(strstr(err.msg, "no migration from schema version 3"));
    mig_log[0] = '\0';
    assert_int_equal(mxr_store_write(f->s, migrate_fn, &(struct mig){0, 2}, &err), -1);
    assert_string_equal(mig_log, "");
    assert_int_equal(mxr_store_write(f->s, migrate_fn, &(struct mig){3, 3}, &err), 0);
}

static void foreign_version_zero_refused(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    fake_version = 0;
    assert_int_equal(mxr_store_write(f->s, set_version_fn, NULL, &err), 0);
    fx_close_keep(f);
    assert_null(open_at(f->dir, false, &err));
    assert_non_null(strstr(err.msg, "not an mxrelay store"));
}

/* --- map growth --------------------------------------------------------------------- */

struct reader_arg {
    struct mxr_store *s;
    atomic_int stop;
    long reads;
};
static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    while (!a->stop) {
        struct mxr_store_txn *t;
        struct mxr_err err = {0};
        if (mxr_store_read_begin(a->s, &t, &err))
            continue;
        const char *json;
        size_t len;
        mxr_store_event_json(t, "$e0", &json, &len, &err);
        mxr_store_read_end(t);
        a->reads++;
    }
    return NULL;
}

static void map_grows_under_readers(void **state)
{
    struct fx *f = *state;
    fx_close(f);
    fx_open(f, 64 << 10);   /* 64 KiB: full after a few dozen events */
    assert_int_equal(fx_room(f, "!big:x", "10", NULL), 0);
    struct reader_arg ra = {f->s, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &ra), 0);
    enum { N = 400 };
    static char ids[N][16];
    static struct fx_event x[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "$e%d", i);
        fx_event(&x[i], ids[i], "!big:x", "m.room.message", NULL, i + 1, NULL);
        memset(x[i].json + x[i].e.json_len, ' ', 900);   /* ~1 KiB PDUs */
        x[i].e.json_len += 900;
        struct mxr_err err = {0};
        if (fx_persist(f, &x[i], NULL, &err))
            fail_msg("event %d: %s", i, err.msg);
    }
    ra.stop = 1;
    pthread_join(th, NULL);
    struct mxr_store_stats st;
    mxr_store_get_stats(f->s, &st);
    assert_true(st.map_growths >= 1);
    assert_true(st.map_size > (64 << 10));
    assert_true(st.used_bytes > N * 1000u);
    assert_int_equal(st.failed, 0);
    fx_close_keep(f);
    fx_reopen(f);
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    for (int i = 0; i < N; i++) {
        const char *json;
        size_t len;
        assert_int_equal(mxr_store_event_json(t, ids[i], &json, &len, &err), 0);
        assert_int_equal(len, x[i].e.json_len);
    }
    fx_read_end(f);
    fx_assert_consistent(f);
}

/* --- group commit -------------------------------------------------------------------- */

static sem_t started, release;
static int blocker_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    sem_post(&started);
    sem_wait(&release);
    return 0;
}

struct item {
    int i, runs, fail_at;
    int rc;
    bool done;
    char msg[400];
};
static int item_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct item *it = arg;
    it->runs++;
    char id[16];
    snprintf(id, sizeof id, "t%d", it->i);
    if (mxr_store_txnid_put(t, "origin", id, "{}", 2, it->i, err))
        return -1;
    if (it->i == it->fail_at)
        return mxr_err_set(err, "M_FORBIDDEN", "item %d refuses", it->i);
    return 0;
}
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static int done_count;
static void item_done(void *arg, int rc, const struct mxr_err *err)
{
    struct item *it = arg;
    it->rc = rc;
    if (err)
        snprintf(it->msg, sizeof it->msg, "%s %s", err->errcode, err->msg);
    pthread_mutex_lock(&done_mu);
    it->done = true;
    done_count++;
    pthread_mutex_unlock(&done_mu);
}
static void noop_done(void *arg, int rc, const struct mxr_err *err)
{
    pthread_mutex_lock(&done_mu);
    done_count++;
    pthread_mutex_unlock(&done_mu);
}

static void wait_done(int n)
{
    for (;;) {
        pthread_mutex_lock(&done_mu);
        int d = done_count;
        pthread_mutex_unlock(&done_mu);
        if (d >= n)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Holds the writer in a first submission, queues n items behind it, then
 * lets it go: the n items are one batch. */
static void run_blocked_batch(struct fx *f, struct item *items, int n)
{
    struct mxr_err err = {0};
    sem_init(&started, 0, 0);
    sem_init(&release, 0, 0);
    done_count = 0;
    assert_int_equal(mxr_store_write_async(f->s, blocker_fn, NULL, noop_done, NULL, &err), 0);
    sem_wait(&started);
    for (int i = 0; i < n; i++)
        assert_int_equal(mxr_store_write_async(f->s, item_fn, &items[i], item_done, &items[i], &err), 0);
    sem_post(&release);
    wait_done(n + 1);
    sem_destroy(&started);
    sem_destroy(&release);
}

static void queued_writes_share_one_commit(void **state)
{
    struct fx *f = *state;
    enum { N = 99 };
    static struct item items[N];
    for (int i = 0; i < N; i++)
        items[i] = (struct item){.i = i, .fail_at = -1};
    struct mxr_store_stats before, after;
    mxr_store_get_stats(f->s, &before);
    run_blocked_batch(f, items, N);
    mxr_store_get_stats(f->s, &after);
    assert_int_equal(after.commits - before.commits, 2);   /* the blocker, then all 99 */
    assert_int_equal(after.max_batch_seen, N);
    for (int i = 0; i < N; i++) {
        assert_true(items[i].done);
        assert_int_equal(items[i].rc, 0);
        assert_int_equal(items[i].runs, 1);
    }
}

static void a_failing_submission_is_isolated(void **state)
{
    struct fx *f = *state;
    enum { N = 10 };
    static struct item items[N];
    for (int i = 0; i < N; i++)
        items[i] = (struct item){.i = i, .fail_at = 5};
    run_blocked_batch(f, items, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].rc, i == 5 ? -1 : 0);
        /* Those before the failure ran again without it; it ran once. */
        assert_int_equal(items[i].runs, i < 5 ? 2 : 1);
    }
    assert_string_equal(items[5].msg, "M_FORBIDDEN item 5 refuses");
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    const char *r;
    size_t n;
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        assert_int_equal(mxr_store_txnid_get(t, "origin", id, &r, &n, &err), i == 5 ? MXR_STORE_NOT_FOUND : 0);
    }
    fx_read_end(f);
    struct mxr_store_stats st;
    mxr_store_get_stats(f->s, &st);
    assert_int_equal(st.failed, 1);
    assert_true(st.retries >= 1);
}

/* Sync submitters from several threads. */
struct thr {
    struct fx *f;
    int base, n, failures;
};
static int thr_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    int *v = arg;
    char id[16];
    snprintf(id, sizeof id, "c%d", *v);
    return mxr_store_txnid_put(t, "threads", id, "{}", 2, *v, err);
}
static void *thr_main(void *p)
{
    struct thr *a = p;
    for (int i = 0; i < a->n; i++) {
        int v = a->base + i;
        struct mxr_err err = {0};
        if (mxr_store_write(a->f->s, thr_fn, &v, &err))
            a->failures++;
    }
    return NULL;
}

static void concurrent_submitters(void **state)
{
    struct fx *f = *state;
    enum { T = 8, N = 50 };
    pthread_t th[T];
    struct thr a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (struct thr){f, i * N, N, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &a[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    for (int i = 0; i < T * N; i++) {
        char id[16];
        const char *r;
        size_t n;
        snprintf(id, sizeof id, "c%d", i);
        assert_int_equal(mxr_store_txnid_get(t, "threads", id, &r, &n, &err), 0);
    }
    fx_read_end(f);
    struct mxr_store_stats st;
    mxr_store_get_stats(f->s, &st);
    assert_int_equal(st.submissions, T * N);
}

/* --- sticky errors and misuse ------------------------------------------------------ */

static int ignores_error_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct mxr_err e2 = {0};
    assert_int_equal(mxr_store_txnid_put(t, "sticky", "before", "{}", 2, 0, &e2), 0);
    struct fx_event x;
    fx_event(&x, "$x", "!unregistered:x", "m.room.message", NULL, 1, NULL);
    assert_int_equal(mxr_store_event_persist(t, &x.e, NULL, &e2), -1);
    /* Every later call fails with the first error... */
    assert_int_equal(mxr_store_txnid_put(t, "sticky", "after", "{}", 2, 0, &e2), -1);
    assert_non_null(strstr(e2.msg, "not registered"));
    return 0;   /* ...and returning success does not commit anything. */
}

static void sticky_errors_and_misuse(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, ignores_error_fn, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "not registered"));
    const char *r;
    size_t n;
    struct mxr_store_txn *t = fx_read(f);
    assert_int_equal(mxr_store_txnid_get(t, "sticky", "before", &r, &n, &err), MXR_STORE_NOT_FOUND);
    /* Writing through a read transaction is refused. */
    assert_false(mxr_store_txn_writable(t));
    assert_int_equal(mxr_store_room_add(t, "!r:x", "10", &err), -1);
    assert_non_null(strstr(err.msg, "read transaction"));
    /* Waiting for a write while holding a read transaction is refused. */
    assert_int_equal(mxr_store_write(f->s, ignores_error_fn, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "holds a read transaction"));
    fx_read_end(f);
}

static int writer_self_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct mxr_store **s = arg;
    struct mxr_err e2 = {0};
    int rc = mxr_store_write(*s, writer_self_fn, arg, &e2);
    return rc == -1 && strstr(e2.msg, "writer thread") ? 0 : mxr_err_set(err, "M_UNKNOWN", "nested write ran");
}

static void write_from_the_writer_refused(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, writer_self_fn, &f->s, &err), 0);
}

static void read_only_open(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_room(f, "!ro:x", "9", NULL), 0);
    fx_close_keep(f);
    struct mxr_err err = {0};
    struct mxr_store *s = open_at(f->dir, true, &err);
    if (!s)
        fail_msg("%s", err.msg);
    struct mxr_store_txn *t;
    assert_int_equal(mxr_store_read_begin(s, &t, &err), 0);
    char v[MXR_STORE_VERSION_MAX + 1];
    assert_int_equal(mxr_store_room_version(t, "!ro:x", v, &err), 0);
    assert_string_equal(v, "9");
    mxr_store_read_end(t);
    assert_int_equal(mxr_store_write(s, set_version_fn, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "read-only"));
    mxr_store_close(s);
    fx_reopen(f);
}

struct usage {
    char names[2048];
};
static void usage_cb(void *arg, const char *table, size_t bytes, size_t entries)
{
    struct usage *u = arg;
    strcat(u->names, table);
    strcat(u->names, " ");
}

static void table_usage_lists_created_tables(void **state)
{
    struct fx *f = *state;
    struct usage u = {{0}};
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_table_usage(fx_read(f), usage_cb, &u, &err), 0);
    fx_read_end(f);
    assert_non_null(strstr(u.names, "shorteventid_pdu "));
    assert_non_null(strstr(u.names, "stategroup_delta "));
    assert_non_null(strstr(u.names, "destseq_queueitem "));
    assert_non_null(strstr(u.names, "roomtypeuser_receipt "));
    assert_non_null(strstr(u.names, "receiptstream_room "));   /* the last of the catalogue */
}

static void close_drains_pending_writes(void **state)
{
    struct fx *f = *state;
    enum { N = 30 };
    static struct item items[N];
    struct mxr_err err = {0};
    done_count = 0;
    for (int i = 0; i < N; i++) {
        items[i] = (struct item){.i = 100 + i, .fail_at = -1};
        assert_int_equal(mxr_store_write_async(f->s, item_fn, &items[i], item_done, &items[i], &err), 0);
    }
    fx_close_keep(f);
    assert_int_equal(done_count, N);
    fx_reopen(f);
    const char *r;
    size_t n;
    assert_int_equal(mxr_store_txnid_get(fx_read(f), "origin", "t129", &r, &n, &err), 0);
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(private_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(migration_steps_run_in_order_in_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(foreign_version_zero_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(map_grows_under_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(queued_writes_share_one_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failing_submission_is_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_submitters, setup, teardown),
        cmocka_unit_test_setup_teardown(sticky_errors_and_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(write_from_the_writer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_open, setup, teardown),
        cmocka_unit_test_setup_teardown(table_usage_lists_created_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(close_drains_pending_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
