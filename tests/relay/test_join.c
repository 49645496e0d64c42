/* relay/federation/join.c and gap.c: the requesting side of the membership
 * handshakes and of history fetching, between two real servers in-process:
 * a.test (us: a store and a rooms pipeline) and b.test (the resident: its
 * own store and pipeline). The federation calls of a.test are routed to
 * b.test's rooms API, as its endpoints would answer them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "relay/federation/join.h"
#include "relay/http/http.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

#define ALICE "@alice:a.test"
#define BOB "@bob:b.test"

struct srv {
    const char *name;
    char dir[256];
    struct mxr_store *store;
    struct mxr_rooms *rooms;
    struct mxr_signing_key key;
};

struct world {
    int64_t now;
    struct srv a, b;
    struct mxr_join *join;
    int calls;
    /* Tampering with b.test's answers. */
    bool bad_template;          /* make_join from c.test: a template for someone else */
    bool forge_state;           /* send_join: an extra state event with a bad signature */
    int missing_calls;
};

static int64_t clock_of(void *ctx)
{
    return ((struct world *)ctx)->now++;
}

static int keys_of(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32])
{
    (void)valid_at_ts;
    struct world *w = ctx;
    const struct mxr_signing_key *k = strcmp(server, "a.test") == 0   ? &w->a.key
                                      : strcmp(server, "b.test") == 0 ? &w->b.key
                                                                      : NULL;
    if (!k || strcmp(key_id, k->key_id) != 0)
        return -1;
    memcpy(pk, k->public_key, 32);
    return 0;
}

static void srv_open(struct world *w, struct srv *s, const char *name, uint8_t fill)
{
    s->name = name;
    snprintf(s->dir, sizeof s->dir, "/tmp/mxr-test-join-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_key_from_seed(&s->key, seed, "k1", &err), 0);
    struct mxr_store_options o = { .path = s->dir, .sync = MXR_STORE_SYNC_NONE };
    s->store = mxr_store_open(&o, &err);
    assert_non_null(s->store);
    struct mxr_rooms_deps d = { .server_name = name, .key = &s->key, .store = s->store, .keys = { keys_of, w },
                                .clock = clock_of, .clock_ctx = w };
    s->rooms = mxr_rooms_new(&d, &err);
    if (!s->rooms)
        fail_msg("%s", err.msg);
}

static void srv_close(struct srv *s)
{
    mxr_rooms_free(s->rooms);
    mxr_store_close(s->store);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- b.test's endpoints, over its rooms API --------------------------------- */

/* Splits "/_matrix/federation/vN/a/b/c?x=1&y=2": decoded segments after
 * the version and the raw query. */
static size_t split(const char *path, char seg[8][512], char *query, size_t qcap)
{
    const char *q = strchr(path, '?');
    snprintf(query, qcap, "%s", q ? q + 1 : "");
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    size_t n = 0;
    const char *p = path + strlen("/_matrix/federation/");
    p = strchr(p, '/') + 1;   /* skip v1/v2 */
    while (p < path + plen && n < 8) {
        const char *e = memchr(p, '/', (size_t)(path + plen - p));
        size_t l = e ? (size_t)(e - p) : (size_t)(path + plen - p);
        char *d = mxr_http_decode(p, l, false);
        snprintf(seg[n++], 512, "%s", d ? d : "");
        free(d);
        p += l + 1;
    }
    return n;
}

/* All values of a query parameter, decoded. */
static size_t query_all(const char *query, const char *name, char out[16][300])
{
    size_t n = 0, nl = strlen(name);
    for (const char *p = query; *p && n < 16;) {
        const char *amp = strchr(p, '&');
        size_t l = amp ? (size_t)(amp - p) : strlen(p);
        if (l > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *d = mxr_http_decode(p + nl + 1, l - nl - 1, true);
            snprintf(out[n++], 300, "%s", d ? d : "");
            free(d);
        }
        p += l + (amp ? 1 : 0);
    }
    return n;
}

static json_t *fake_call(void *ctx, const char *method, const char *dest, const char *path, json_t *body,
                         size_t max_response, struct mxr_err *err)
{
    (void)max_response;
    struct world *w = ctx;
    w->calls++;
    struct mxr_rooms *rb = w->b.rooms;
    char seg[8][512], query[4096], vals[16][300];
    size_t n = split(path, seg, query, sizeof query);
    const char *vers[16];
    size_t nv = query_all(query, "ver", vals);
    for (size_t i = 0; i < nv; i++)
        vers[i] = vals[i];
    if (strcmp(dest, "c.test") == 0 && w->bad_template && strncmp(seg[0], "make_", 5) == 0) {
        return json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:{s:s}, s:[], s:[], s:i}}", "room_version", "11", "event",
                         "type", "m.room.member", "room_id", seg[1], "sender", "@mallory:c.test", "state_key",
                         "@mallory:c.test", "content", "membership", "join", "prev_events", "auth_events", "depth", 5);
    }
    if (strcmp(dest, "b.test") != 0) {
        mxr_err_set(err, "M_UNKNOWN", "connection refused");
        return NULL;
    }
    if (n == 3 && strncmp(seg[0], "make_", 5) == 0)
        return mxr_rooms_make_membership(rb, "a.test", seg[1], seg[2], seg[0] + 5, vers, nv, NULL, err);
    if (n == 3 && strncmp(seg[0], "send_", 5) == 0) {
        json_t *r = mxr_rooms_send_membership(rb, "a.test", seg[1], seg[2], seg[0] + 5, body, NULL, err);
        if (r && w->forge_state && strcmp(seg[0], "send_join") == 0) {
            /* A topic "signed" by b.test with a.test's key: must be dropped. */
            json_t *state = json_object_get(r, "state"), *topic = NULL;
            size_t i;
            json_t *p;
            json_array_foreach(state, i, p) if (strcmp(json_string_value(json_object_get(p, "type")),
                                                       "m.room.name") == 0) topic = json_deep_copy(p);
            assert_non_null(topic);
            json_object_set_new(topic, "type", json_string("m.room.topic"));
            json_object_set_new(topic, "content", json_pack("{s:s}", "topic", "forged"));
            json_object_del(topic, "signatures");
            json_object_del(topic, "hashes");
            struct mxr_err e = { 0 };
            assert_int_equal(mxr_pdu_sign(topic, mxr_room_version_get("11", NULL), "b.test", &w->a.key, &e), 0);
            json_array_append_new(state, topic);
        }
        return r;
    }
    if (n == 3 && strcmp(seg[0], "invite") == 0)
        return mxr_rooms_receive_invite(rb, "a.test", seg[1], seg[2], body, err);
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(w->b.store, &txn, err) < 0)
        return NULL;
    json_t *out = NULL;
    if (n == 2 && strcmp(seg[0], "get_missing_events") == 0) {
        w->missing_calls++;
        json_t *e = json_object_get(body, "earliest_events"), *l = json_object_get(body, "latest_events");
        const char *ea[64], *la[64];
        size_t ne = 0, nl = 0;
        for (size_t i = 0; i < json_array_size(e) && ne < 64; i++)
            ea[ne++] = json_string_value(json_array_get(e, i));
        for (size_t i = 0; i < json_array_size(l) && nl < 64; i++)
            la[nl++] = json_string_value(json_array_get(l, i));
        json_t *evs = mxr_rooms_missing_events(txn, seg[1], "a.test", ea, ne, la, nl,
                                               (size_t)json_integer_value(json_object_get(body, "limit")),
                                               json_integer_value(json_object_get(body, "min_depth")), err);
        out = evs ? json_pack("{s:o}", "events", evs) : NULL;
    } else if (n == 2 && strcmp(seg[0], "state") == 0) {
        char ids[16][300];
        json_t *state, *chain;
        if (query_all(query, "event_id", ids) == 1 &&
            mxr_rooms_state_at(txn, seg[1], ids[0], &state, &chain, err) == 0)
            out = json_pack("{s:o, s:o}", "pdus", state, "auth_chain", chain);
    } else if (n == 2 && strcmp(seg[0], "event") == 0) {
        json_t *p = mxr_rooms_event_for_server(txn, seg[1], "a.test", err);
        out = p ? json_pack("{s:s, s:I, s:[o]}", "origin", "b.test", "origin_server_ts", (json_int_t)w->now, "pdus", p)
                : NULL;
    } else if (n == 2 && strcmp(seg[0], "backfill") == 0) {
        char v[16][300], lim[16][300];
        const char *from[16];
        size_t nvv = query_all(query, "v", v);
        for (size_t i = 0; i < nvv; i++)
            from[i] = v[i];
        assert_int_equal(query_all(query, "limit", lim), 1);
        json_t *pdus = mxr_rooms_backfill(txn, seg[1], "a.test", from, nvv, (size_t)atoi(lim[0]), err);
        out = pdus ? json_pack("{s:s, s:I, s:o}", "origin", "b.test", "origin_server_ts", (json_int_t)w->now, "pdus",
                               pdus)
                   : NULL;
    } else {
        mxr_err_set(err, "M_UNRECOGNIZED", "fake b.test: no %s %s", method, path);
    }
    mxr_store_read_end(txn);
    return out;
}

/* ---- helpers ------------------------------------------------------------------- */

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    w->now = 1700000000000LL;
    srv_open(w, &w->a, "a.test", 1);
    srv_open(w, &w->b, "b.test", 2);
    struct mxr_join_deps d = { .server_name = "a.test", .key = &w->a.key, .store = w->a.store, .rooms = w->a.rooms,
                               .keys = { keys_of, w }, .call = fake_call, .call_ctx = w, .clock = clock_of,
                               .clock_ctx = w };
    struct mxr_err err = { 0 };
    w->join = mxr_join_new(&d, &err);
    assert_non_null(w->join);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    mxr_join_free(w->join);
    srv_close(&w->a);
    srv_close(&w->b);
    free(w);
    return 0;
}

static void b_room(struct world *w, const char *preset, const char *version, char room[MXR_ID_MAX + 1])
{
    struct mxr_rooms_create_opts o = { .preset = preset, .room_version = version, .name = "The room" };
    struct mxr_err err = { 0 };
    if (mxr_rooms_create_room(w->b.rooms, BOB, &o, room, &err) < 0)
        fail_msg("%s", err.msg);
}

static void send(struct srv *s, const char *room, const char *sender, const char *type, const char *sk,
                 const char *content, char id[MXR_ID_MAX + 1])
{
    json_t *c = json_loads(content, 0, NULL);
    struct mxr_err err = { 0 };
    if (mxr_rooms_send_event(s->rooms, room, sender, type, sk, c, id, &err) < 0)
        fail_msg("%s: %s", s->name, err.msg);
    json_decref(c);
}

static json_t *pdu_of(struct srv *s, const char *id)
{
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_read_begin(s->store, &txn, &err), 0);
    json_t *p = mxr_rooms_event_pdu(txn, id, &err);
    mxr_store_read_end(txn);
    assert_non_null(p);
    return p;
}

/* Delivers one event from one server to the other, as /send would. */
static struct mxr_pdu_result deliver(struct srv *from, struct srv *to, const char *id)
{
    json_t *p = pdu_of(from, id);
    struct mxr_pdu_result r;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_rooms_ingest_pdus(to->rooms, from->name, &p, 1, 0, &r, &err), 0);
    json_decref(p);
    return r;
}

static int state_cb(void *arg, const char *type, const char *sk, const char *id)
{
    char key[600];
    snprintf(key, sizeof key, "%s|%s", type, sk);
    json_object_set_new(arg, key, json_string(id));
    return 0;
}

static json_t *current_state(struct srv *s, const char *room)
{
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_read_begin(s->store, &txn, &err), 0);
    json_t *m = json_object();
    assert_int_equal(mxr_store_room_current_all(txn, room, state_cb, m, &err), 0);
    mxr_store_read_end(txn);
    return m;
}

static const char *membership(struct srv *s, const char *room, const char *user)
{
    static char out[32];
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_read_begin(s->store, &txn, &err), 0);
    if (mxr_store_membership(txn, room, user, out, &err) != 0)
        out[0] = '\0';
    mxr_store_read_end(txn);
    return out;
}

static struct mxr_store_event_meta meta_of(struct srv *s, const char *id, int *rc)
{
    struct mxr_store_event_meta m;
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_read_begin(s->store, &txn, &err), 0);
    *rc = mxr_store_event_meta(txn, id, &m, &err);
    mxr_store_read_end(txn);
    return m;
}

static void assert_same_state(struct world *w, const char *room)
{
    json_t *sa = current_state(&w->a, room), *sb = current_state(&w->b, room);
    if (!json_equal(sa, sb)) {
        char *x = json_dumps(sa, JSON_SORT_KEYS), *y = json_dumps(sb, JSON_SORT_KEYS);
        fail_msg("state differs:\na.test %s\nb.test %s", x, y);
    }
    json_decref(sa);
    json_decref(sb);
}

static void join_alice(struct world *w, const char *room, const char *const *servers, size_t n)
{
    char id[MXR_ID_MAX + 1];
    struct mxr_err err = { 0 };
    if (mxr_join_remote(w->join, room, ALICE, servers, n, id, &err) < 0)
        fail_msg("join: %s: %s", err.errcode, err.msg);
    int rc;
    struct mxr_store_event_meta m = meta_of(&w->a, id, &rc);
    assert_int_equal(rc, 0);
    assert_false(m.flags & MXR_STORE_OUTLIER);
}

/* ---- tests ------------------------------------------------------------------------ */

/* A room created on b.test, joined from a.test: the join is in both rooms,
 * the states are identical, events flow both ways. */
static void join_and_converse(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1];
    b_room(w, "public_chat", NULL, room);
    for (int i = 0; i < 5; i++)
        send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"before\",\"msgtype\":\"m.text\"}", id);
    send(&w->b, room, BOB, "m.room.topic", "", "{\"topic\":\"hello\"}", id);
    join_alice(w, room, (const char *const[]){ "a.test", "b.test" }, 2);
    assert_string_equal(membership(&w->a, room, ALICE), "join");
    assert_string_equal(membership(&w->b, room, ALICE), "join");
    assert_string_equal(membership(&w->a, room, BOB), "join");
    assert_same_state(w, room);

    send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"hi alice\",\"msgtype\":\"m.text\"}", id);
    assert_int_equal(deliver(&w->b, &w->a, id).outcome, MXR_PDU_ACCEPTED);
    send(&w->a, room, ALICE, "m.room.message", NULL, "{\"body\":\"hi bob\",\"msgtype\":\"m.text\"}", id);
    assert_int_equal(deliver(&w->a, &w->b, id).outcome, MXR_PDU_ACCEPTED);
    send(&w->a, room, ALICE, "m.room.member", ALICE, "{\"membership\":\"join\",\"displayname\":\"Alice\"}", id);
    assert_int_equal(deliver(&w->a, &w->b, id).outcome, MXR_PDU_ACCEPTED);
    assert_same_state(w, room);

    /* Joining again is refused by nobody and changes nothing. */
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_join_remote(w->join, room, ALICE, (const char *const[]){ "b.test" }, 1, id, &err), 0);
    assert_same_state(w, room);
}

/* Bad templates and unreachable servers are skipped; forged state events
 * are left out and the join still happens. */
static void templates_checked_and_state_verified(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1];
    b_room(w, "public_chat", NULL, room);
    w->bad_template = true;
    w->forge_state = true;
    join_alice(w, room, (const char *const[]){ "down.test", "c.test", "b.test" }, 3);
    w->forge_state = false;
    json_t *sa = current_state(&w->a, room);
    assert_null(json_object_get(sa, "m.room.topic|"));   /* the forged topic is not in the state */
    json_decref(sa);
    assert_same_state(w, room);
    /* With no usable server, the last error is reported. */
    struct mxr_err err = { 0 };
    char id[MXR_ID_MAX + 1];
    assert_int_equal(mxr_join_remote(w->join, "!nowhere:b.test", "@zed:a.test",
                                     (const char *const[]){ "down.test" }, 1, id, &err), -1);
    assert_non_null(strstr(err.msg, "connection refused"));
    /* An invite-only room refuses us at make_join. */
    char priv[MXR_ID_MAX + 1];
    b_room(w, "private_chat", NULL, priv);
    assert_int_equal(mxr_join_remote(w->join, priv, "@zed:a.test", (const char *const[]){ "b.test" }, 1, id, &err),
                     -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
}

/* An event whose prevs are unknown is connected by /get_missing_events. */
static void gap_filled_by_missing_events(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], ids[30][MXR_ID_MAX + 1];
    b_room(w, "public_chat", NULL, room);
    join_alice(w, room, (const char *const[]){ "b.test" }, 1);
    for (int i = 0; i < 30; i++)
        send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"lost\",\"msgtype\":\"m.text\"}", ids[i]);
    send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"latest\",\"msgtype\":\"m.text\"}", id);
    assert_int_equal(deliver(&w->b, &w->a, id).outcome, MXR_PDU_OUTLIER);
    struct mxr_err err = { 0 };
    if (mxr_join_fill_gap(w->join, "b.test", room, id, &err) < 0)
        fail_msg("%s", err.msg);
    int rc;
    assert_false(meta_of(&w->a, id, &rc).flags & MXR_STORE_OUTLIER);
    for (int i = 0; i < 30; i++) {
        struct mxr_store_event_meta m = meta_of(&w->a, ids[i], &rc);
        assert_int_equal(rc, 0);
        assert_false(m.flags & MXR_STORE_OUTLIER);
    }
    assert_same_state(w, room);
    /* Filling an event that is already in the room does nothing. */
    int before = w->calls;
    assert_int_equal(mxr_join_fill_gap(w->join, "b.test", room, id, &err), 0);
    assert_int_equal(w->calls, before);
}

/* A gap wider than /get_missing_events gives: the state at the missing
 * prev places the event anyway; a state change inside the gap is seen. */
static void gap_bridged_with_state(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1];
    b_room(w, "public_chat", NULL, room);
    join_alice(w, room, (const char *const[]){ "b.test" }, 1);
    send(&w->b, room, BOB, "m.room.topic", "", "{\"topic\":\"changed in the gap\"}", id);
    for (int i = 0; i < MXR_JOIN_MISSING_LIMIT + 20; i++)
        send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"lost\",\"msgtype\":\"m.text\"}", id);
    send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"latest\",\"msgtype\":\"m.text\"}", id);
    assert_int_equal(deliver(&w->b, &w->a, id).outcome, MXR_PDU_OUTLIER);
    struct mxr_err err = { 0 };
    if (mxr_join_fill_gap(w->join, "b.test", room, id, &err) < 0)
        fail_msg("%s", err.msg);
    int rc;
    assert_false(meta_of(&w->a, id, &rc).flags & MXR_STORE_OUTLIER);
    assert_int_equal(w->missing_calls, 1);
    assert_same_state(w, room);
    /* The conversation goes on from there. */
    send(&w->a, room, ALICE, "m.room.message", NULL, "{\"body\":\"back\",\"msgtype\":\"m.text\"}", id);
    assert_int_equal(deliver(&w->a, &w->b, id).outcome, MXR_PDU_ACCEPTED);
}

/* A late joiner fetches the history before its join with /backfill, down to
 * the room's creation. */
static void backfill_to_the_beginning(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], first[MXR_ID_MAX + 1];
    b_room(w, "public_chat", NULL, room);
    send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"first\",\"msgtype\":\"m.text\"}", first);
    for (int i = 0; i < 250; i++)
        send(&w->b, room, BOB, "m.room.message", NULL, "{\"body\":\"old\",\"msgtype\":\"m.text\"}", id);
    join_alice(w, room, (const char *const[]){ "b.test" }, 1);
    int rc;
    meta_of(&w->a, first, &rc);
    assert_int_equal(rc, MXR_STORE_NOT_FOUND);
    size_t added = 0;
    struct mxr_err err = { 0 };
    if (mxr_join_backfill(w->join, room, 1000, &added, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(added >= 251);
    struct mxr_store_event_meta m = meta_of(&w->a, first, &rc);
    assert_int_equal(rc, 0);
    assert_false(m.flags & (MXR_STORE_OUTLIER | MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED));
    /* Everything is there: nothing more to fetch. */
    assert_int_equal(mxr_join_backfill(w->join, room, 1000, &added, &err), 0);
    assert_int_equal(added, 0);
    assert_same_state(w, room);
    struct mxr_store_txn *txn;
    assert_int_equal(mxr_store_read_begin(w->a.store, &txn, &err), 0);
    assert_int_equal(mxr_store_check(txn, &err), 0);
    mxr_store_read_end(txn);
}

/* Our user invites one of b.test's: b.test signs, the invite enters the
 * room on both sides. */
static void invite_remote_user(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1];
    b_room(w, "public_chat", NULL, room);
    join_alice(w, room, (const char *const[]){ "b.test" }, 1);
    send(&w->b, room, BOB, "m.room.power_levels", "", "{\"users\":{\"@bob:b.test\":100,\"@alice:a.test\":50}}", id);
    assert_int_equal(deliver(&w->b, &w->a, id).outcome, MXR_PDU_ACCEPTED);
    struct mxr_err err = { 0 };
    if (mxr_join_invite_remote(w->join, room, ALICE, "@carol:b.test", NULL, id, &err) < 0)
        fail_msg("%s", err.msg);
    assert_string_equal(membership(&w->a, room, "@carol:b.test"), "invite");
    json_t *p = pdu_of(&w->a, id);
    assert_non_null(json_object_get(json_object_get(p, "signatures"), "b.test"));
    assert_non_null(json_object_get(json_object_get(p, "signatures"), "a.test"));
    json_decref(p);
    /* b.test received it by /invite (an outlier there); /send brings it in. */
    assert_int_equal(deliver(&w->a, &w->b, id).outcome, MXR_PDU_ACCEPTED);
    assert_string_equal(membership(&w->b, room, "@carol:b.test"), "invite");
    assert_same_state(w, room);
    /* Not for our own users, nor for rooms we do not know. */
    assert_int_equal(mxr_join_invite_remote(w->join, room, ALICE, "@dan:a.test", NULL, id, &err), -1);
    assert_int_equal(mxr_join_invite_remote(w->join, "!unknown:b.test", ALICE, "@carol:b.test", NULL, id, &err), -1);
}

/* An invite of b.test's room to our user, rejected through make_leave /
 * send_leave; and a knock on a knockable room. */
static void reject_invite_and_knock(void **state)
{
    struct world *w = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1];
    b_room(w, "private_chat", NULL, room);
    /* b.test invites @dave:a.test (the handshake in the other direction). */
    json_t *c = json_pack("{s:s}", "membership", "invite");
    struct mxr_err err = { 0 };
    json_t *inv = mxr_rooms_build_event(w->b.rooms, room, BOB, "m.room.member", "@dave:a.test", c, &err);
    json_decref(c);
    assert_non_null(inv);
    char inv_id[MXR_ID_MAX + 1];
    assert_int_equal(mxr_event_compute_id(inv, mxr_room_version_get("11", NULL), inv_id, &err), 0);
    json_t *req = json_pack("{s:s, s:O, s:[]}", "room_version", "11", "event", inv, "invite_room_state");
    json_t *signed_inv = mxr_rooms_receive_invite(w->a.rooms, "b.test", room, inv_id, req, &err);
    if (!signed_inv)
        fail_msg("%s", err.msg);
    json_t *ev = json_object_get(signed_inv, "event");
    struct mxr_pdu_result r;
    assert_int_equal(mxr_rooms_ingest_pdus(w->b.rooms, "b.test", &ev, 1, 0, &r, &err), 0);
    assert_int_equal(r.outcome, MXR_PDU_ACCEPTED);
    json_decref(signed_inv);
    json_decref(req);
    json_decref(inv);
    assert_string_equal(membership(&w->b, room, "@dave:a.test"), "invite");
    /* dave says no. */
    if (mxr_join_leave_remote(w->join, room, "@dave:a.test", (const char *const[]){ "b.test" }, 1, id, &err) < 0)
        fail_msg("%s", err.msg);
    assert_string_equal(membership(&w->b, room, "@dave:a.test"), "leave");

    /* A knockable room (v7+). */
    char kroom[MXR_ID_MAX + 1];
    b_room(w, "private_chat", "11", kroom);
    send(&w->b, kroom, BOB, "m.room.join_rules", "", "{\"join_rule\":\"knock\"}", id);
    json_t *krs = mxr_join_knock_remote(w->join, kroom, "@erin:a.test", "let me in",
                                        (const char *const[]){ "b.test" }, 1, id, &err);
    if (!krs)
        fail_msg("%s", err.msg);
    assert_true(json_array_size(krs) >= 1);
    json_decref(krs);
    assert_string_equal(membership(&w->b, kroom, "@erin:a.test"), "knock");
    json_t *kp = pdu_of(&w->b, id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(kp, "content"), "reason")), "let me in");
    json_decref(kp);
    /* Knocking on a room that does not allow it fails at make_knock. */
    assert_null(mxr_join_knock_remote(w->join, room, "@erin:a.test", NULL, (const char *const[]){ "b.test" }, 1, id,
                                      &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(join_and_converse, setup, teardown),
        cmocka_unit_test_setup_teardown(templates_checked_and_state_verified, setup, teardown),
        cmocka_unit_test_setup_teardown(gap_filled_by_missing_events, setup, teardown),
        cmocka_unit_test_setup_teardown(gap_bridged_with_state, setup, teardown),
        cmocka_unit_test_setup_teardown(backfill_to_the_beginning, setup, teardown),
        cmocka_unit_test_setup_teardown(invite_remote_user, setup, teardown),
        cmocka_unit_test_setup_teardown(reject_invite_and_knock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
