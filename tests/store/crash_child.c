/* Child of tests/store/crash_test.sh.
 *
 *   crash_child write DIR ROOMS     write events forever, one thread per room,
 *                                   printing "E room index" for each event once
 *                                   the commit that holds it has returned
 *   crash_child verify DIR ROOMS REPORT...
 *                                   after a SIGKILL: every reported event is
 *                                   stored with its PDU, edges and state; each
 *                                   room holds a gap-free prefix of its events;
 *                                   current state matches; mxr_store_check passes
 *
 * Every event is a deterministic function of (room, index) so the verifier
 * can rebuild what must be there. Rooms branch and merge: index%10 == 2 forks
 * from index-2, index%10 == 3 closes both branches. Submissions hold 1-3
 * events so atomicity of multi-event commits is exercised too. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/store/store.h"

#define MAX_ROOMS 8
#define USERS 16
#define SLOTS (2 + USERS)   /* create, topic, members */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "crash_child: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* --- the deterministic room ------------------------------------------------ */

struct gen {
    char id[64], room[64], prev[2][64], json[512], sk[64];
    const char *prevs[2];
    size_t n_prev;
    const char *type, *state_key, *membership;
    int slot;          /* state slot it sets, -1 for none */
    long first_prev;   /* index of prev_events[0], -1 for none */
};

static void room_id(int r, char *out)
{
    snprintf(out, 64, "!room%d:crash.test", r);
}

static void event_id(int r, long i, char *out)
{
    snprintf(out, 64, "$r%de%ld", r, i);
}

static void gen(int r, long i, struct gen *g)
{
    memset(g, 0, sizeof *g);
    room_id(r, g->room);
    event_id(r, i, g->id);
    g->slot = -1;
    g->first_prev = -1;
    if (i == 0) {
        g->type = "m.room.create";
        g->state_key = "";
        g->slot = 0;
    } else {
        long p0 = i % 10 == 2 && i >= 2 ? i - 2 : i - 1;
        g->first_prev = p0;
        event_id(r, p0, g->prev[0]);
        g->prevs[0] = g->prev[0];
        g->n_prev = 1;
        if (i % 10 == 3 && i >= 3) {
            event_id(r, i - 2, g->prev[1]);
            g->prevs[1] = g->prev[1];
            g->n_prev = 2;
        }
        if (i % 3 == 1) {
            int u = (int)((i / 3) % USERS);
            snprintf(g->sk, sizeof g->sk, "@u%d:crash.test", u);
            g->type = "m.room.member";
            g->state_key = g->sk;
            g->membership = (i / 48) % 2 ? "leave" : "join";
            g->slot = 2 + u;
        } else if (i % 7 == 5) {
            g->type = "m.room.topic";
            g->state_key = "";
            g->slot = 1;
        } else {
            g->type = "m.room.message";
        }
    }
    snprintf(g->json, sizeof g->json,
             "{\"depth\":%ld,\"event_id\":\"%s\",\"room_id\":\"%s\",\"type\":\"%s\",\"pad\":\"%.*s\"}",
             i + 1, g->id, g->room, g->type, (int)(i % 200),
             "................................................................................"
             "................................................................................"
             "........................................");
}

static void to_store_event(const struct gen *g, long i, struct mxr_store_event *e)
{
    memset(e, 0, sizeof *e);
    e->event_id = g->id;
    e->room_id = g->room;
    e->type = g->type;
    e->state_key = g->state_key;
    e->membership = g->membership;
    e->depth = i + 1;
    e->origin_server_ts = 1000 + i;
    e->prev_events = g->prevs;
    e->n_prev_events = g->n_prev;
    e->auth_events = g->n_prev ? g->prevs : NULL;   /* any edges will do for the test */
    e->n_auth_events = g->n_prev ? 1 : 0;
    e->json = g->json;
    e->json_len = strlen(g->json);
    e->received_ts = 2000 + i;
    e->state_after = MXR_STORE_STATE_DERIVE;
}

/* --- write mode -------------------------------------------------------------- */

struct batch {
    int room;
    long first, n;
};

static int batch_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct batch *b = arg;
    uint64_t after = 0;
    char room[64];
    room_id(b->room, room);
    for (long i = b->first; i < b->first + b->n; i++) {
        struct gen g;
        gen(b->room, i, &g);
        struct mxr_store_event e;
        to_store_event(&g, i, &e);
        if (g.first_prev >= 0 && mxr_store_event_state(t, g.prev[0], NULL, &e.state_before, err))
            return -1;
        struct mxr_store_persisted out;
        if (mxr_store_event_persist(t, &e, &out, err))
            return -1;
        after = out.state_after;
    }
    char txn[32];
    snprintf(txn, sizeof txn, "t%ld", b->first);
    return mxr_store_room_set_current(t, room, after, err) ||
           mxr_store_txnid_put(t, room, txn, "{}", 2, b->first, err);
}

static int room_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    char room[64];
    room_id(*(int *)arg, room);
    return mxr_store_room_add(t, room, "10", err);
}

/* The number of events of room r stored (they are a prefix). */
static long stored_count(struct mxr_store *s, int r)
{
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    if (mxr_store_read_begin(s, &t, &err))
        die("read: %s", err.msg);
    long i = 0;
    char id[64];
    for (;; i++) {
        event_id(r, i, id);
        int rc = mxr_store_event_exists(t, id, &err);
        if (rc < 0)
            die("exists: %s", err.msg);
        if (rc)
            break;
    }
    mxr_store_read_end(t);
    return i;
}

struct writer {
    struct mxr_store *s;
    int room;
};

static void *writer_main(void *p)
{
    struct writer *w = p;
    struct mxr_err err = {0};
    if (mxr_store_write(w->s, room_fn, &w->room, &err))
        die("room: %s", err.msg);
    long next = stored_count(w->s, w->room);
    for (;;) {
        struct batch b = {w->room, next, 1 + next % 3};
        if (mxr_store_write(w->s, batch_fn, &b, &err))
            die("room %d events %ld..: %s", w->room, next, err.msg);
        /* Committed durably: only now may anyone hear of these events. */
        pthread_mutex_lock(&out_mu);
        for (long i = next; i < next + b.n; i++)
            printf("E %d %ld\n", w->room, i);
        fflush(stdout);
        pthread_mutex_unlock(&out_mu);
        next += b.n;
    }
    return NULL;
}

static int run_writer(const char *dir, int rooms)
{
    struct mxr_store_options o = {.path = dir, .initial_map_size = 256 << 10};   /* durable default */
    struct mxr_err err = {0};
    struct mxr_store *s = mxr_store_open(&o, &err);
    if (!s)
        die("open: %s", err.msg);
    pthread_t th[MAX_ROOMS];
    struct writer w[MAX_ROOMS];
    for (int r = 0; r < rooms; r++) {
        w[r] = (struct writer){s, r};
        if (pthread_create(&th[r], NULL, writer_main, &w[r]))
            die("thread");
    }
    for (int r = 0; r < rooms; r++)
        pthread_join(th[r], NULL);
    return 0;
}

/* --- verify mode --------------------------------------------------------------- */

struct slots {
    long v[SLOTS];
    int seen;
    int bad;
};

static int slot_of(const char *type, const char *sk)
{
    if (!strcmp(type, "m.room.create") && !*sk)
        return 0;
    if (!strcmp(type, "m.room.topic") && !*sk)
        return 1;
    int u;
    if (!strcmp(type, "m.room.member") && sscanf(sk, "@u%d:crash.test", &u) == 1 && u >= 0 && u < USERS)
        return 2 + u;
    return -1;
}

static int slots_cb(void *arg, const char *type, const char *sk, const char *id)
{
    struct slots *s = arg;
    int slot = slot_of(type, sk);
    const char *e = strchr(id, 'e');
    if (slot < 0 || !e || s->v[slot] != -2) {
        s->bad = 1;
        return 1;
    }
    s->v[slot] = atol(e + 1);
    s->seen++;
    return 0;
}

static void expect_state(struct mxr_store_txn *t, uint64_t group, const long *want, const char *what,
                         const char *id)
{
    struct slots got;
    for (int k = 0; k < SLOTS; k++)
        got.v[k] = -2;
    got.seen = got.bad = 0;
    struct mxr_err err = {0};
    if (mxr_store_state_all(t, group, slots_cb, &got, &err))
        die("%s: state of %s: %s", id, what, err.msg);
    if (got.bad)
        die("%s: unexpected entry in the state %s", id, what);
    for (int k = 0; k < SLOTS; k++) {
        long w = want[k];
        long g = got.v[k] == -2 ? -1 : got.v[k];
        if (w != g)
            die("%s: state %s slot %d is %ld, expected %ld", id, what, k, g, w);
    }
}

struct edges {
    char v[4][64];
    int n;
};
static int edge_cb(void *arg, const char *id)
{
    struct edges *e = arg;
    if (e->n < 4)
        snprintf(e->v[e->n], 64, "%s", id);
    e->n++;
    return 0;
}

static int run_verify(const char *dir, int rooms, int nreports, char **reports)
{
    long reported[MAX_ROOMS];
    for (int r = 0; r < MAX_ROOMS; r++)
        reported[r] = -1;
    long lines = 0;
    for (int f = 0; f < nreports; f++) {
        FILE *fp = fopen(reports[f], "r");
        if (!fp)
            continue;
        char line[128];
        while (fgets(line, sizeof line, fp)) {
            int r;
            long i;
            if (!strchr(line, '\n'))
                break;   /* a line cut by the kill: not a report */
            if (sscanf(line, "E %d %ld", &r, &i) != 2 || r < 0 || r >= rooms)
                die("%s: malformed report line: %s", reports[f], line);
            if (i > reported[r])
                reported[r] = i;
            lines++;
        }
        fclose(fp);
    }

    struct mxr_store_options o = {.path = dir};
    struct mxr_err err = {0};
    struct mxr_store *s = mxr_store_open(&o, &err);
    if (!s)
        die("reopen after kill: %s", err.msg);
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(s, &t, &err))
        die("read: %s", err.msg);
    if (mxr_store_check(t, &err))
        die("%s", err.msg);

    long total = 0;
    for (int r = 0; r < rooms; r++) {
        long n = 0;
        char id[64];
        for (;; n++) {
            event_id(r, n, id);
            int rc = mxr_store_event_exists(t, id, &err);
            if (rc < 0)
                die("exists: %s", err.msg);
            if (rc)
                break;
        }
        if (n <= reported[r])
            die("room %d: event %ld was reported committed but is missing (stored: %ld)", r, reported[r], n);
        /* Gap-free: nothing after the first missing index. */
        for (long i = n + 1; i < n + 8; i++) {
            event_id(r, i, id);
            if (mxr_store_event_exists(t, id, &err) == 0)
                die("room %d: event %ld stored although %ld is not (half-written batch)", r, i, n);
        }
        long(*after)[SLOTS] = malloc((size_t)(n ? n : 1) * sizeof *after);
        if (!after)
            die("oom");
        uint64_t last_after = 0;
        for (long i = 0; i < n; i++) {
            struct gen g;
            gen(r, i, &g);
            const char *json;
            size_t len;
            if (mxr_store_event_json(t, g.id, &json, &len, &err) || len != strlen(g.json) ||
                memcmp(json, g.json, len))
                die("%s: PDU missing or different", g.id);
            struct mxr_store_event_meta m;
            if (mxr_store_event_meta(t, g.id, &m, &err) || m.depth != i + 1 || m.flags || !m.stream)
                die("%s: metadata missing or different", g.id);
            struct edges e = {0};
            if (mxr_store_edges(t, g.id, MXR_STORE_PREVS, edge_cb, &e, &err) || (size_t)e.n != g.n_prev)
                die("%s: %d prev edges, expected %zu", g.id, e.n, g.n_prev);
            for (size_t k = 0; k < g.n_prev; k++)
                if (strcmp(e.v[0], g.prevs[k]) && (e.n < 2 || strcmp(e.v[1], g.prevs[k])))
                    die("%s: prev %s missing", g.id, g.prevs[k]);
            /* Model: after(i) = after(first prev) + this event's slot. */
            for (int k = 0; k < SLOTS; k++)
                after[i][k] = g.first_prev >= 0 ? after[g.first_prev][k] : -1;
            if (g.slot >= 0)
                after[i][g.slot] = i;
            uint64_t before, aft;
            if (mxr_store_event_state(t, g.id, &before, &aft, &err))
                die("%s: no state groups", g.id);
            expect_state(t, aft, after[i], "after", g.id);
            if (g.first_prev >= 0)
                expect_state(t, before, after[g.first_prev], "before", g.id);
            last_after = aft;
        }
        char room[64];
        room_id(r, room);
        uint64_t cur;
        if (n && (mxr_store_room_current(t, room, &cur, &err) || cur != last_after))
            die("room %d: current state is not the state after its last event", r);
        free(after);
        total += n;
    }
    mxr_store_read_end(t);
    mxr_store_close(s);
    printf("verified: %ld events stored, %ld reported\n", total, lines);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "write"))
        return run_writer(argv[2], atoi(argv[3]) > 0 && atoi(argv[3]) <= MAX_ROOMS ? atoi(argv[3]) : 1);
    if (argc >= 4 && !strcmp(argv[1], "verify")) {
        int rooms = atoi(argv[3]);
        if (rooms <= 0 || rooms > MAX_ROOMS)
            die("rooms: 1..%d", MAX_ROOMS);
        return run_verify(argv[2], rooms, argc - 4, argv + 4);
    }
    fprintf(stderr, "usage: crash_child write DIR ROOMS | verify DIR ROOMS REPORT...\n");
    return 2;
}
