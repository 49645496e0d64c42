/* Per-room views (relay/store/rooms.c): registration and versions, the
 * timeline by stream position, current state and membership indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/store/store_fixture.h"

#define R1 "!one:example.org"
#define R2 "!two:example.org"
#define P(...) ((const char *[]){__VA_ARGS__, NULL})

static int setup(void **state)
{
    static struct fx f;
    fx_open(&f, 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_close(*state);
    return 0;
}

static int room_cb(void *arg, const char *room)
{
    struct fx_ids *ids = arg;
    return fx_ids_cb(ids, room);
}

static void registration(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    assert_int_equal(fx_room(f, R1, "10", NULL), 0);
    assert_int_equal(fx_room(f, R1, "10", NULL), 0);   /* idempotent */
    assert_int_equal(fx_room(f, R1, "11", &err), -1);
    assert_non_null(strstr(err.msg, "version 10, not 11"));
    assert_int_equal(fx_room(f, R2, "", &err), -1);
    assert_int_equal(fx_room(f, R2, "org.example.custom", NULL), 0);

    struct mxr_store_txn *t = fx_read(f);
    char v[MXR_STORE_VERSION_MAX + 1];
    assert_int_equal(mxr_store_room_version(t, R1, v, &err), 0);
    assert_string_equal(v, "10");
    assert_int_equal(mxr_store_room_version(t, R2, v, &err), 0);
    assert_string_equal(v, "org.example.custom");
    assert_int_equal(mxr_store_room_version(t, "!none:x", v, &err), MXR_STORE_NOT_FOUND);
    struct fx_ids ids = {0};
    assert_int_equal(mxr_store_rooms(t, room_cb, &ids, &err), 0);
    assert_string_equal(fx_ids_sorted(&ids), R1 "," R2);
    fx_read_end(f);
}

struct tl {
    char ids[16][32];
    uint64_t stream[16];
    size_t n;
};
static int tl_cb(void *arg, const char *id, uint64_t stream)
{
    struct tl *t = arg;
    snprintf(t->ids[t->n], 32, "%s", id);
    t->stream[t->n++] = stream;
    return 0;
}

static void timeline(struct fx *f, const char *room, uint64_t from, bool fwd, size_t limit, struct tl *out)
{
    memset(out, 0, sizeof *out);
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_timeline(fx_read(f), room, from, fwd, limit, tl_cb, out, &err), 0);
    fx_read_end(f);
}

static void timelines_interleave(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_room(f, R1, "10", NULL), 0);
    assert_int_equal(fx_room(f, R2, "10", NULL), 0);
    /* Alternate rooms: stream positions are global, timelines per room. */
    const char *ids1[] = {"$a1", "$a2", "$a3", "$a4"}, *ids2[] = {"$b1", "$b2", "$b3", "$b4"};
    for (int i = 0; i < 4; i++) {
        struct fx_event x;
        fx_event(&x, ids1[i], R1, "m.room.message", NULL, i + 1, i ? P(ids1[i - 1]) : NULL);
        assert_int_equal(fx_persist(f, &x, NULL, NULL), 0);
        fx_event(&x, ids2[i], R2, "m.room.message", NULL, i + 1, i ? P(ids2[i - 1]) : NULL);
        assert_int_equal(fx_persist(f, &x, NULL, NULL), 0);
    }
    struct tl t;
    timeline(f, R1, 0, false, 10, &t);   /* newest first */
    assert_int_equal(t.n, 4);
    assert_string_equal(t.ids[0], "$a4");
    assert_string_equal(t.ids[3], "$a1");
    assert_int_equal(t.stream[0], 7);
    assert_int_equal(t.stream[3], 1);
    timeline(f, R2, 0, true, 2, &t);     /* oldest first, limited */
    assert_int_equal(t.n, 2);
    assert_string_equal(t.ids[0], "$b1");
    assert_string_equal(t.ids[1], "$b2");
    assert_int_equal(t.stream[1], 4);
    timeline(f, R2, 4, true, 10, &t);    /* after position 4 (exclusive) */
    assert_int_equal(t.n, 2);
    assert_string_equal(t.ids[0], "$b3");
    timeline(f, R1, 5, false, 10, &t);   /* before position 5 (exclusive) */
    assert_int_equal(t.n, 2);
    assert_string_equal(t.ids[0], "$a2");
    timeline(f, R2, 0, false, 10, &t);   /* the last room in key order */
    assert_int_equal(t.n, 4);
    assert_string_equal(t.ids[0], "$b4");
    timeline(f, R1, UINT64_MAX, true, 10, &t);
    assert_int_equal(t.n, 0);
    struct mxr_err err = {0};
    uint64_t head;
    assert_int_equal(mxr_store_stream_head(fx_read(f), &head, &err), 0);
    assert_int_equal(head, 8);
    fx_read_end(f);
    fx_assert_consistent(f);
}

/* A member event and the state group after it. */
static uint64_t member(struct fx *f, const char *room, const char *id, const char *user,
                       const char *membership, uint64_t before, int64_t depth, const char *prev)
{
    struct fx_event x;
    fx_event(&x, id, room, "m.room.member", user, depth, prev ? P(prev) : NULL);
    x.e.membership = membership;
    x.e.state_before = before;
    struct mxr_store_persisted out;
    struct mxr_err err = {0};
    if (fx_persist(f, &x, &out, &err))
        fail_msg("persist %s: %s", id, err.msg);
    return out.state_after;
}

struct members {
    char v[8][80];
    size_t n;
};
static int member_cb(void *arg, const char *id, const char *membership)
{
    struct members *m = arg;
    snprintf(m->v[m->n++], 80, "%s=%s", id, membership);
    return 0;
}

static void current_state_and_membership(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_room(f, R1, "10", NULL), 0);
    assert_int_equal(fx_room(f, R2, "10", NULL), 0);
    struct fx_event c;
    fx_event(&c, "$create", R1, "m.room.create", "", 1, NULL);
    struct mxr_store_persisted pc;
    assert_int_equal(fx_persist(f, &c, &pc, NULL), 0);
    uint64_t g1 = member(f, R1, "$ja", "@a:x", "join", pc.state_after, 2, "$create");
    uint64_t g2 = member(f, R1, "$ib", "@b:x", "invite", g1, 3, "$ja");
    uint64_t g3 = member(f, R1, "$jb", "@b:x", "join", g2, 4, "$ib");
    uint64_t g4 = member(f, R1, "$la", "@a:x", "leave", g3, 5, "$jb");
    uint64_t h1 = member(f, R2, "$r2a", "@a:x", "join", 0, 1, NULL);
    struct mxr_err err = {0};
    assert_int_equal(fx_set_current(f, R1, g3, NULL), 0);
    assert_int_equal(fx_set_current(f, R2, h1, NULL), 0);

    struct mxr_store_txn *t = fx_read(f);
    char buf[MXR_STORE_ID_MAX + 1], ms[32];
    uint64_t g;
    assert_int_equal(mxr_store_room_current(t, R1, &g, &err), 0);
    assert_true(g == g3);
    assert_int_equal(mxr_store_room_current_get(t, R1, "m.room.member", "@b:x", buf, &err), 0);
    assert_string_equal(buf, "$jb");
    assert_int_equal(mxr_store_room_current_get(t, R1, "m.room.create", "", buf, &err), 0);
    assert_string_equal(buf, "$create");
    assert_int_equal(mxr_store_room_current_get(t, R1, "m.room.topic", "", buf, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_membership(t, R1, "@a:x", ms, &err), 0);
    assert_string_equal(ms, "join");
    assert_int_equal(mxr_store_membership(t, R1, "@c:x", ms, &err), MXR_STORE_NOT_FOUND);
    struct members m = {0};
    assert_int_equal(mxr_store_room_members(t, R1, NULL, member_cb, &m, &err), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.v[0], "@a:x=join");
    assert_string_equal(m.v[1], "@b:x=join");
    memset(&m, 0, sizeof m);
    assert_int_equal(mxr_store_user_rooms(t, "@a:x", "join", member_cb, &m, &err), 0);
    assert_int_equal(m.n, 2);
    fx_read_end(f);
    fx_assert_consistent(f);

    /* Forward: a leaves. */
    assert_int_equal(fx_set_current(f, R1, g4, NULL), 0);
    t = fx_read(f);
    assert_int_equal(mxr_store_membership(t, R1, "@a:x", ms, &err), 0);
    assert_string_equal(ms, "leave");
    memset(&m, 0, sizeof m);
    assert_int_equal(mxr_store_room_members(t, R1, "join", member_cb, &m, &err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.v[0], "@b:x=join");
    memset(&m, 0, sizeof m);
    assert_int_equal(mxr_store_user_rooms(t, "@a:x", "join", member_cb, &m, &err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.v[0], R2 "=join");
    fx_read_end(f);
    fx_assert_consistent(f);

    /* Backwards to a state where b had no member event: rows disappear. */
    assert_int_equal(fx_set_current(f, R1, g1, NULL), 0);
    t = fx_read(f);
    assert_int_equal(mxr_store_membership(t, R1, "@b:x", ms, &err), MXR_STORE_NOT_FOUND);
    memset(&m, 0, sizeof m);
    assert_int_equal(mxr_store_user_rooms(t, "@b:x", NULL, member_cb, &m, &err), 0);
    assert_int_equal(m.n, 0);
    fx_read_end(f);
    fx_assert_consistent(f);

    /* Unknown group or room: refused. */
    assert_int_equal(fx_set_current(f, R1, 9999, &err), -1);
    assert_int_equal(fx_set_current(f, "!nope:x", g1, &err), -1);
    assert_non_null(strstr(err.msg, "not registered"));
}

struct kv {
    int n;
    char s[8][96];
};
static int kv_cb(void *arg, const char *type, const char *sk, const char *id)
{
    struct kv *k = arg;
    snprintf(k->s[k->n++], 96, "%s|%s|%s", type, sk, id);
    return 0;
}

static void current_index_equals_group(void **state)
{
    current_state_and_membership(state);
    struct fx *f = *state;
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    uint64_t g;
    assert_int_equal(mxr_store_room_current(t, R1, &g, &err), 0);
    struct kv a = {0}, b = {0};
    assert_int_equal(mxr_store_room_current_all(t, R1, kv_cb, &a, &err), 0);
    assert_int_equal(mxr_store_state_all(t, g, kv_cb, &b, &err), 0);
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.n, 2);
    for (int i = 0; i < a.n; i++)
        assert_string_equal(a.s[i], b.s[i]);
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registration, setup, teardown),
        cmocka_unit_test_setup_teardown(timelines_interleave, setup, teardown),
        cmocka_unit_test_setup_teardown(current_state_and_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(current_index_equals_group, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
