/* Store benchmark (not a test: prints figures).
 *
 *   bench_store [DIR]    DIR: where scratch stores go (default $TMPDIR or /tmp)
 *
 * 1. Events persisted per second, each a state event with its full write
 *    path (PDU, metadata, edges, new state group, stream, timeline,
 *    extremities, current state and membership), at 1, 50 and 1,000 events
 *    per commit, next to raw LMDB puts per second at the same batch sizes
 *    measured in the same run on the same disk. Commits are durable (fsync).
 * 2. Group commit: many threads each submitting one event at a time.
 * 3. Bytes per event of a room with 10,000 members. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay/store/store.h"

static const char *base_dir;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct mxr_err *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void rmrf(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: could not remove %s\n", dir);
}

static struct mxr_store *open_scratch(char *dir, size_t dir_size, enum mxr_store_sync sync)
{
    snprintf(dir, dir_size, "%s/mxr-bench-XXXXXX", base_dir);
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    struct mxr_store_options o = {.path = dir, .sync = sync, .initial_map_size = (size_t)1 << 30};
    struct mxr_err err = {0};
    struct mxr_store *s = mxr_store_open(&o, &err);
    if (!s)
        die("open", &err);
    return s;
}

/* A member-join PDU of about `size` bytes (a signed v10 join is ~800). */
static void member_json(char *buf, size_t bufsize, const char *id, const char *room, const char *user,
                        size_t size)
{
    int n = snprintf(buf, bufsize,
                     "{\"auth_events\":[\"$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"],\"content\":"
                     "{\"membership\":\"join\"},\"depth\":1,\"event_id\":\"%s\",\"hashes\":{\"sha256\":"
                     "\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"},\"origin_server_ts\":1700000000000,"
                     "\"room_id\":\"%s\",\"sender\":\"%s\",\"state_key\":\"%s\",\"type\":\"m.room.member\","
                     "\"signatures\":{\"example.org\":{\"ed25519:a\":\"",
                     id, room, user, user);
    while ((size_t)n + 3 < size && (size_t)n + 3 < bufsize)
        buf[n++] = 'S';
    snprintf(buf + n, bufsize - (size_t)n, "\"}}}");
}

/* --- persist rate ------------------------------------------------------------- */

struct run {
    const char *room;
    long first, n;
    uint64_t *state;   /* state group after the previous event, updated */
    bool member;       /* state events (joins) or messages */
};

static int run_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct run *r = arg;
    uint64_t state = *r->state;
    char prev[64], id[64], user[64], json[1024];
    for (long i = r->first; i < r->first + r->n; i++) {
        snprintf(id, sizeof id, "$ev%ld-%s", i, r->room + 1);
        snprintf(prev, sizeof prev, "$ev%ld-%s", i - 1, r->room + 1);
        snprintf(user, sizeof user, "@user%ld:example.org", i);
        member_json(json, sizeof json, id, r->room, user, r->member ? 800 : 600);
        const char *prevs[] = {prev};
        struct mxr_store_event e = {
            .event_id = id, .room_id = r->room, .depth = i + 1, .origin_server_ts = i,
            .prev_events = prevs, .n_prev_events = i > 0, .auth_events = prevs, .n_auth_events = i > 0,
            .json = json, .json_len = strlen(json), .received_ts = i,
            .state_before = state, .state_after = MXR_STORE_STATE_DERIVE,
        };
        if (r->member) {
            e.type = "m.room.member";
            e.state_key = user;
            e.membership = "join";
        } else {
            e.type = "m.room.message";
        }
        struct mxr_store_persisted out;
        if (mxr_store_event_persist(t, &e, &out, err) ||
            (out.state_after != state && mxr_store_room_set_current(t, r->room, out.state_after, err)))
            return -1;
        state = out.state_after;
    }
    *r->state = state;   /* re-runs start from the caller's value: see below */
    return 0;
}

static int room_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    return mxr_store_room_add(t, arg, "10", err);
}

/* Writes n events into room in submissions of `batch`. */
static void write_events(struct mxr_store *s, const char *room, long first, long n, long batch,
                         bool member, uint64_t *state)
{
    struct mxr_err err = {0};
    for (long i = first; i < first + n; i += batch) {
        uint64_t st = *state;   /* a re-run (map growth) must start from the same state */
        struct run r = {room, i, i + batch <= first + n ? batch : first + n - i, &st, member};
        if (mxr_store_write(s, run_fn, &r, &err))
            die("write", &err);
        *state = st;
    }
}

static double persist_rate(long batch, long n)
{
    char dir[600];
    struct mxr_store *s = open_scratch(dir, sizeof dir, MXR_STORE_SYNC_DURABLE);
    struct mxr_err err = {0};
    const char *room = "!bench:example.org";
    if (mxr_store_write(s, room_fn, (void *)room, &err))
        die("room", &err);
    uint64_t state = 0;
    write_events(s, room, 0, 200, 200, true, &state);   /* warm: some state already */
    double t0 = now_s();
    write_events(s, room, 200, n, batch, true, &state);
    double rate = (double)n / (now_s() - t0);
    mxr_store_close(s);
    rmrf(dir);
    return rate;
}

/* --- group commit -------------------------------------------------------------------- */

struct submitter {
    struct mxr_store *s;
    char room[64];
    long n;
};

static void *submitter_main(void *p)
{
    struct submitter *a = p;
    uint64_t state = 0;
    write_events(a->s, a->room, 0, a->n, 1, true, &state);
    return NULL;
}

static void group_commit(int threads, long per_thread)
{
    char dir[600];
    struct mxr_store *s = open_scratch(dir, sizeof dir, MXR_STORE_SYNC_DURABLE);
    struct submitter a[64];
    pthread_t th[64];
    struct mxr_err err = {0};
    for (int i = 0; i < threads; i++) {
        a[i].s = s;
        a[i].n = per_thread;
        snprintf(a[i].room, sizeof a[i].room, "!gc%d:example.org", i);
        if (mxr_store_write(s, room_fn, a[i].room, &err))
            die("room", &err);
    }
    struct mxr_store_stats before, after;
    mxr_store_get_stats(s, &before);
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, submitter_main, &a[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    mxr_store_get_stats(s, &after);
    double commits = (double)(after.commits - before.commits);
    printf("  %2d threads x %ld single-event submissions: %8.0f events/s, %.1f submissions per commit "
           "(largest %llu)\n", threads, per_thread, threads * per_thread / dt,
           (double)(after.submissions - before.submissions) / commits,
           (unsigned long long)after.max_batch_seen);
    mxr_store_close(s);
    rmrf(dir);
}

/* --- bytes per event ------------------------------------------------------------------- */

struct usage {
    size_t total, pdu, state, ids, graph, room;
};

static void usage_cb(void *arg, const char *table, size_t bytes, size_t entries)
{
    struct usage *u = arg;
    u->total += bytes;
    if (!strcmp(table, "shorteventid_pdu"))
        u->pdu += bytes;
    else if (!strcmp(table, "stategroup_delta") || !strcmp(table, "shorteventid_stategroups") ||
             !strncmp(table, "statekey", 8) || !strncmp(table, "shortstatekey", 13))
        u->state += bytes;
    else if (!strcmp(table, "eventid_shorteventid") || !strcmp(table, "shorteventid_eventid") ||
             !strcmp(table, "shorteventid_meta"))
        u->ids += bytes;
    else if (strstr(table, "prevs") || strstr(table, "children") || strstr(table, "auths") ||
             strstr(table, "extremities"))
        u->graph += bytes;
    else
        u->room += bytes;
}

static void bytes_per_event(long members, long messages)
{
    char dir[600];
    struct mxr_store *s = open_scratch(dir, sizeof dir, MXR_STORE_SYNC_NONE);   /* size only */
    struct mxr_err err = {0};
    const char *room = "!big:example.org";
    if (mxr_store_write(s, room_fn, (void *)room, &err))
        die("room", &err);
    uint64_t state = 0;
    write_events(s, room, 0, members, 1000, true, &state);
    struct mxr_store_txn *t;
    struct usage u1 = {0}, u2 = {0};
    if (mxr_store_read_begin(s, &t, &err) || mxr_store_table_usage(t, usage_cb, &u1, &err))
        die("usage", &err);
    size_t count;
    if (mxr_store_state_count(t, state, &count, &err))
        die("count", &err);
    mxr_store_read_end(t);
    write_events(s, room, members, messages, 1000, false, &state);
    if (mxr_store_read_begin(s, &t, &err) || mxr_store_table_usage(t, usage_cb, &u2, &err))
        die("usage", &err);
    mxr_store_read_end(t);
    long events = members + messages;
    printf("  after %ld joins (state: %zu members):  %6.0f bytes/event  (PDU %4.0f, state %4.0f, IDs+meta "
           "%4.0f, graph %4.0f, room indexes %4.0f)\n", members, count, (double)u1.total / members,
           (double)u1.pdu / members, (double)u1.state / members, (double)u1.ids / members,
           (double)u1.graph / members, (double)u1.room / members);
    printf("  after %ld more messages:               %6.0f bytes/event  (PDU %4.0f, state %4.0f, IDs+meta "
           "%4.0f, graph %4.0f, room indexes %4.0f)\n", messages, (double)u2.total / events,
           (double)u2.pdu / events, (double)u2.state / events, (double)u2.ids / events,
           (double)u2.graph / events, (double)u2.room / events);
    printf("  a full state snapshot per event would be >= %ld bytes/event (16 bytes x %zu entries)\n",
           (long)count * 16, count);
    mxr_store_close(s);
    rmrf(dir);
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    base_dir = argc > 1 ? argv[1] : tmp && *tmp ? tmp : "/tmp";
    printf("mxrelay store benchmark (scratch stores under %s; durable commits unless noted)\n\n", base_dir);

    printf("persist rate: state events with PDU (~800 B), metadata, edges, state group, timeline,\n"
           "extremities, current state and membership, all in the commit\n");
    printf("  %6s %8s %14s %18s %10s\n", "batch", "events", "store ev/s", "raw LMDB puts/s", "store/raw");
    static const long batches[] = {1, 50, 1000}, counts[] = {300, 5000, 30000};
    for (int i = 0; i < 3; i++) {
        struct mxr_err err = {0};
        double store = persist_rate(batches[i], counts[i]);
        double raw = mxr_store_probe_put_rate(base_dir, (unsigned)counts[i], (unsigned)batches[i], 800,
                                              MXR_STORE_SYNC_DURABLE, &err);
        if (raw < 0)
            die("raw LMDB probe", &err);
        printf("  %6ld %8ld %14.0f %18.0f %10.2f\n", batches[i], counts[i], store, raw, store / raw);
        fflush(stdout);
    }
    printf("\ngroup commit (one event per submission, durable):\n");
    group_commit(1, 200);
    group_commit(16, 100);
    group_commit(64, 50);

    printf("\nbytes per event, room with 10,000 members (each join a state event):\n");
    bytes_per_event(10000, 10000);
    return 0;
}
