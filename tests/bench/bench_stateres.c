/* bench_stateres: state resolution of a 10,000-member room forked into two
 * branches that change 500 memberships, the power levels and the topic
 * (about 1,000 conflicted events), in room versions 1, 11 (v2) and 12
 * (v2.1). Prints events in the input, conflicted counts, time per
 * resolution and events per second. Not a test: figures only.
 *
 * Usage: bench_stateres [MEMBERS [CHANGES_PER_BRANCH [RUNS]]]
 *        (defaults 10000, 250, 5)
 *
 * The room: create, Alice joins, power levels {Alice 100, mod 50}, public
 * join rules, MEMBERS joins (mod among them), each with its proper auth
 * events. Branch A: Alice kicks or users leave (CHANGES targets), with a
 * power levels change every 10 and a topic every 5 steps. Branch B: the
 * same with mod banning, on other users.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxr/event.h"
#include "mxr/roomver.h"
#include "mxr/stateres.h"

#define DOMAIN "bench.example"
#define ALICE "@alice:" DOMAIN
#define MOD "@mod:" DOMAIN

struct room {
    const struct mxr_room_version *rv;
    struct mxr_event *ev;
    size_t n, cap;
    json_t *by_id;          /* event ID -> index */
    int64_t ts;
    char room_id[64];
    char last[64];          /* previous event, for prev_events */
};

static void die(const char *what)
{
    fprintf(stderr, "bench_stateres: %s\n", what);
    exit(1);
}

static const struct mxr_event *fetch(void *ctx, const char *id)
{
    const struct room *r = ctx;
    json_t *i = json_object_get(r->by_id, id);
    return i ? &r->ev[json_integer_value(i)] : NULL;
}

/* Adds an event; auth is a NULL-terminated list of IDs (the create event is
 * left out in v12, where the room ID names it). Returns its ID (static
 * storage inside r->ev: copy it before the next add). */
static const char *add(struct room *r, const char *id, const char *type, const char *state_key,
                       const char *sender, json_t *content, const char *const *auth)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16384;
        if (!(r->ev = realloc(r->ev, r->cap * sizeof *r->ev)))
            die("out of memory");
    }
    json_t *pdu = json_object();
    json_object_set_new(pdu, "event_id", json_string(id));
    json_object_set_new(pdu, "type", json_string(type));
    if (state_key)
        json_object_set_new(pdu, "state_key", json_string(state_key));
    json_object_set_new(pdu, "sender", json_string(sender));
    json_object_set_new(pdu, "content", content);
    bool is_create = strcmp(type, "m.room.create") == 0;
    if (!(is_create && r->rv->room_id_is_create_hash))
        json_object_set_new(pdu, "room_id", json_string(r->room_id));
    json_t *a = json_array();
    for (size_t i = 0; auth[i]; i++)
        if (!(r->rv->room_id_is_create_hash && strncmp(auth[i], "$create", 7) == 0))
            json_array_append_new(a, json_string(auth[i]));
    json_object_set_new(pdu, "auth_events", a);
    json_object_set_new(pdu, "prev_events", r->last[0] ? json_pack("[s]", r->last) : json_array());
    json_object_set_new(pdu, "origin_server_ts", json_integer(r->ts));
    json_object_set_new(pdu, "depth", json_integer(r->ts + 1));
    r->ts++;
    struct mxr_err err = {0};
    if (mxr_event_load(&r->ev[r->n], pdu, r->rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0) {
        fprintf(stderr, "bench_stateres: %s: %s: %s\n", id, err.errcode, err.msg);
        exit(1);
    }
    json_decref(pdu);
    json_object_set_new(r->by_id, id, json_integer((json_int_t)r->n));
    snprintf(r->last, sizeof r->last, "%s", id);
    return r->ev[r->n++].event_id;
}

static void set_state(json_t *state, const struct mxr_event *ev)
{
    json_t *t = json_object_get(state, ev->type);
    if (!t)
        json_object_set_new(state, ev->type, t = json_object());
    json_object_set_new(t, ev->state_key, json_string(ev->event_id));
}

static json_t *power_levels(const struct room *r, const char *extra_user, int extra_level)
{
    json_t *users = json_object();
    if (!r->rv->privileged_creators)
        json_object_set_new(users, ALICE, json_integer(100));
    json_object_set_new(users, MOD, json_integer(50));
    if (extra_user)
        json_object_set_new(users, extra_user, json_integer(extra_level));
    return json_pack("{s:o}", "users", users);
}

static const char *member_key(char *buf, size_t n, int i)
{
    snprintf(buf, n, "@u%05d:" DOMAIN, i);
    return buf;
}

struct branch {
    const char *actor;      /* kicks (Alice) or bans (mod) */
    const char *membership; /* "leave" or "ban" */
    char tag;
    int first_target;
    int extra_base;         /* users given level 10 by the branch's PL changes */
};

/* Builds the room and the two state sets; returns the number of events. */
static size_t build(struct room *r, int members, int changes, json_t **s_a, json_t **s_b)
{
    char id[64], user[64], extra[64];
    char **member_ev = calloc((size_t)members, sizeof *member_ev);   /* join event of each user */
    if (!member_ev)
        die("out of memory");
    char create[64];    /* copies: r->ev moves as it grows */
    snprintf(create, sizeof create, "%s",
             add(r, "$create:" DOMAIN, "m.room.create", "", ALICE,
                 r->rv->implicit_room_creator ? json_object() : json_pack("{s:s}", "creator", ALICE),
                 (const char *[]){ NULL }));
    if (r->rv->room_id_is_create_hash)
        snprintf(r->room_id, sizeof r->room_id, "!%s", create + 1);
    char ima[64], pl0[64], jr[64], mod[64];
    snprintf(ima, sizeof ima, "%s",
             add(r, "$ima:" DOMAIN, "m.room.member", ALICE, ALICE, json_pack("{s:s}", "membership", "join"),
                 (const char *[]){ create, NULL }));
    snprintf(pl0, sizeof pl0, "%s",
             add(r, "$pl0:" DOMAIN, "m.room.power_levels", "", ALICE, power_levels(r, NULL, 0),
                 (const char *[]){ create, ima, NULL }));
    snprintf(jr, sizeof jr, "%s",
             add(r, "$jr:" DOMAIN, "m.room.join_rules", "", ALICE, json_pack("{s:s}", "join_rule", "public"),
                 (const char *[]){ create, ima, pl0, NULL }));
    snprintf(mod, sizeof mod, "%s",
             add(r, "$jmod:" DOMAIN, "m.room.member", MOD, MOD, json_pack("{s:s}", "membership", "join"),
                 (const char *[]){ create, jr, pl0, NULL }));
    json_t *base = json_object();
    for (size_t i = 0; i < r->n; i++)
        set_state(base, &r->ev[i]);
    for (int i = 0; i < members; i++) {
        snprintf(id, sizeof id, "$j%05d:" DOMAIN, i);
        add(r, id, "m.room.member", member_key(user, sizeof user, i), user,
            json_pack("{s:s}", "membership", "join"), (const char *[]){ create, jr, pl0, NULL });
        member_ev[i] = strdup(id);
        set_state(base, &r->ev[r->n - 1]);
    }
    char fork[64];
    snprintf(fork, sizeof fork, "%s", r->last);

    const struct branch branches[2] = {
        { ALICE, "leave", 'a', 0, members - 200 },
        { MOD, "ban", 'b', members / 2, members - 100 },
    };
    json_t *sets[2];
    for (int b = 0; b < 2; b++) {
        const struct branch *br = &branches[b];
        json_t *state = json_deep_copy(base);
        snprintf(r->last, sizeof r->last, "%s", fork);
        char pl[64], actor_member[64];
        snprintf(pl, sizeof pl, "%s", pl0);
        snprintf(actor_member, sizeof actor_member, "%s", b == 0 ? ima : mod);
        for (int i = 0; i < changes; i++) {
            if (i % 10 == 0) {
                snprintf(id, sizeof id, "$%cpl%d:" DOMAIN, br->tag, i);
                member_key(extra, sizeof extra, br->extra_base + i / 10);
                add(r, id, "m.room.power_levels", "", br->actor, power_levels(r, extra, 10),
                    (const char *[]){ create, pl, actor_member, NULL });
                snprintf(pl, sizeof pl, "%s", id);
                set_state(state, &r->ev[r->n - 1]);
            }
            if (i % 5 == 0) {
                snprintf(id, sizeof id, "$%ct%d:" DOMAIN, br->tag, i);
                char topic[32];
                snprintf(topic, sizeof topic, "topic %d", i);
                add(r, id, "m.room.topic", "", br->actor, json_pack("{s:s}", "topic", topic),
                    (const char *[]){ create, pl, actor_member, NULL });
                set_state(state, &r->ev[r->n - 1]);
            }
            int t = br->first_target + i;
            member_key(user, sizeof user, t);
            snprintf(id, sizeof id, "$%cm%d:" DOMAIN, br->tag, i);
            if (i % 2 == 0)     /* kick / ban by the branch's actor */
                add(r, id, "m.room.member", user, br->actor, json_pack("{s:s}", "membership", br->membership),
                    (const char *[]){ create, pl, actor_member, member_ev[t], NULL });
            else                /* the user leaves */
                add(r, id, "m.room.member", user, user, json_pack("{s:s}", "membership", "leave"),
                    (const char *[]){ create, pl, member_ev[t], NULL });
            set_state(state, &r->ev[r->n - 1]);
        }
        sets[b] = state;
    }
    *s_a = sets[0];
    *s_b = sets[1];
    json_decref(base);
    for (int i = 0; i < members; i++)
        free(member_ev[i]);
    free(member_ev);
    return r->n;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *version, int members, int changes, int runs)
{
    struct room r = { 0 };
    struct mxr_err err = {0};
    if (!(r.rv = mxr_room_version_get(version, &err)))
        die(err.msg);
    r.by_id = json_object();
    snprintf(r.room_id, sizeof r.room_id, "!bench:" DOMAIN);
    json_t *sets[2];
    size_t n = build(&r, members, changes, &sets[0], &sets[1]);

    struct mxr_stateres_stats st;
    double best = 1e99, total = 0, best_cpu = 1e99;
    char *first = NULL;
    /* One warm-up run (not counted), then `runs` timed ones. Wall and CPU
     * time both: on a shared machine the CPU time is the steadier figure. */
    for (int i = -1; i < runs; i++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        json_t *out = mxr_state_resolve_stats(r.rv, sets, 2, fetch, &r, &st, &err);
        double dt = clock_s(CLOCK_MONOTONIC) - t0, dc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (!out) {
            fprintf(stderr, "bench_stateres: v%s: %s: %s\n", version, err.errcode, err.msg);
            exit(1);
        }
        char *s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
        if (!first)
            first = s;
        else {
            if (strcmp(first, s) != 0)
                die("two runs gave different results");
            free(s);
        }
        json_decref(out);
        if (i < 0)
            continue;
        total += dt;
        if (dt < best)
            best = dt;
        if (dc < best_cpu)
            best_cpu = dc;
    }
    json_t *res = json_loads(first, 0, NULL);
    size_t members_left = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(res, "m.room.member"), k, v) {
        const struct mxr_event *e = fetch(&r, json_string_value(v));
        if (e && strcmp(json_string_value(json_object_get(e->content, "membership")), "join") == 0)
            members_left++;
    }
    double mean = total / runs;
    printf("room version %-3s events in input %zu  conflicted keys %zu  conflicted events %zu  "
           "auth difference %zu  subgraph %zu  full conflicted set %zu  (power-sorted %zu, mainline-sorted %zu, "
           "rejected %zu)\n",
           version, n, st.conflicted_keys, st.conflicted, st.auth_difference, st.subgraph, st.full_conflicted,
           st.power_sorted, st.mainline_sorted, st.rejected);
    printf("  %d runs: wall best %.1f ms, mean %.1f ms; CPU best %.1f ms per resolution; "
           "%.0f input events/s (CPU best); resolved: %zu member keys, %zu joined\n",
           runs, best * 1e3, mean * 1e3, best_cpu * 1e3, (double)n / best_cpu,
           json_object_size(json_object_get(res, "m.room.member")), members_left);
    json_decref(res);
    free(first);
    json_decref(sets[0]);
    json_decref(sets[1]);
    for (size_t i = 0; i < r.n; i++)
        mxr_event_release(&r.ev[i]);
    free(r.ev);
    json_decref(r.by_id);
}

int main(int argc, char **argv)
{
    int members = argc > 1 ? atoi(argv[1]) : 10000;
    int changes = argc > 2 ? atoi(argv[2]) : 250;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (members < 1000 || changes < 1 || changes > members / 4 || runs < 1) {
        fprintf(stderr, "usage: bench_stateres [MEMBERS>=1000 [CHANGES_PER_BRANCH<=MEMBERS/4 [RUNS]]]\n");
        return 2;
    }
    printf("state resolution: %d members, 2 branches x %d membership changes (+ power levels, topics), "
           "%d runs, one core\n", members, changes, runs);
    run("1", members, changes, runs);
    run("11", members, changes, runs);
    run("12", members, changes, runs);
    return 0;
}
