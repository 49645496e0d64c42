/* The event graph (relay/store/graph.c): edges in both directions, forward
 * extremities (including an event that closes two branches), and the
 * backwards walk used by /backfill and /get_missing_events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/store/store_fixture.h"

#define ROOM "!g:example.org"
#define P(...) ((const char *[]){__VA_ARGS__, NULL})

static int setup(void **state)
{
    static struct fx f;
    fx_open(&f, 0);
    assert_int_equal(fx_room(&f, ROOM, "10", NULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_close(*state);
    return 0;
}

/* Persists an accepted message event; state is irrelevant here. */
static void add(struct fx *f, const char *id, int64_t depth, const char *const *prevs, unsigned flags)
{
    struct fx_event x;
    fx_event(&x, id, ROOM, "m.room.message", NULL, depth, prevs);
    x.e.flags = flags;
    struct mxr_err err = {0};
    if (fx_persist(f, &x, NULL, &err))
        fail_msg("persist %s: %s", id, err.msg);
}

static const char *extremities(struct fx *f, struct fx_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_extremities(fx_read(f), ROOM, fx_ids_cb, ids, &err), 0);
    fx_read_end(f);
    return fx_ids_sorted(ids);
}

static const char *edges(struct fx *f, const char *id, enum mxr_store_edge kind, struct fx_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_edges(fx_read(f), id, kind, fx_ids_cb, ids, &err), 0);
    fx_read_end(f);
    return fx_ids_sorted(ids);
}

static void edges_both_ways(void **state)
{
    struct fx *f = *state;
    struct fx_event x;
    add(f, "$create", 1, NULL, 0);
    fx_event(&x, "$a", ROOM, "m.room.message", NULL, 2, P("$create"));
    x.auths[0] = "$create";
    assert_int_equal(fx_persist(f, &x, NULL, NULL), 0);
    fx_event(&x, "$b", ROOM, "m.room.message", NULL, 3, P("$a", "$missing"));
    x.auths[0] = "$create";
    x.auths[1] = "$a";
    assert_int_equal(fx_persist(f, &x, NULL, NULL), 0);

    struct fx_ids ids;
    assert_string_equal(edges(f, "$b", MXR_STORE_PREVS, &ids), "$a,$missing");
    assert_string_equal(edges(f, "$a", MXR_STORE_CHILDREN, &ids), "$b");
    assert_string_equal(edges(f, "$b", MXR_STORE_AUTHS, &ids), "$a,$create");
    assert_string_equal(edges(f, "$create", MXR_STORE_AUTH_CHILDREN, &ids), "$a,$b");
    assert_string_equal(edges(f, "$create", MXR_STORE_CHILDREN, &ids), "$a");
    assert_string_equal(edges(f, "$create", MXR_STORE_PREVS, &ids), "");
    /* A prev we never received: referenced, with its child, but not stored. */
    assert_string_equal(edges(f, "$missing", MXR_STORE_CHILDREN, &ids), "$b");
    struct mxr_err err = {0};
    struct mxr_store_txn *t = fx_read(f);
    assert_int_equal(mxr_store_event_exists(t, "$missing", &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_edges(t, "$never-heard-of", MXR_STORE_PREVS, fx_ids_cb, &ids, &err),
                     MXR_STORE_NOT_FOUND);
    fx_read_end(f);
    /* The missing prev stays an extremity-less hole: only $b is a tip. */
    assert_string_equal(extremities(f, &ids), "$b");
    fx_assert_consistent(f);
}

static void event_closing_two_branches(void **state)
{
    struct fx *f = *state;
    struct fx_ids ids;
    add(f, "$create", 1, NULL, 0);
    assert_string_equal(extremities(f, &ids), "$create");
    add(f, "$a", 2, P("$create"), 0);
    assert_string_equal(extremities(f, &ids), "$a");
    add(f, "$b", 3, P("$a"), 0);
    add(f, "$c", 3, P("$a"), 0);
    assert_string_equal(extremities(f, &ids), "$b,$c");
    add(f, "$d", 4, P("$b", "$c"), 0);
    assert_string_equal(extremities(f, &ids), "$d");
    /* Three branches from $d, closed two at a time. */
    add(f, "$e", 5, P("$d"), 0);
    add(f, "$f", 5, P("$d"), 0);
    add(f, "$g", 5, P("$d"), 0);
    assert_string_equal(extremities(f, &ids), "$e,$f,$g");
    add(f, "$h", 6, P("$e", "$f"), 0);
    assert_string_equal(extremities(f, &ids), "$g,$h");
    /* A prev that is not an extremity (old event) is simply not removed. */
    add(f, "$i", 7, P("$h", "$a"), 0);
    assert_string_equal(extremities(f, &ids), "$g,$i");
    fx_assert_consistent(f);
}

static void parent_arriving_after_child(void **state)
{
    struct fx *f = *state;
    struct fx_ids ids;
    add(f, "$create", 1, NULL, 0);
    add(f, "$child", 3, P("$parent"), 0);
    assert_string_equal(extremities(f, &ids), "$child,$create");
    add(f, "$parent", 2, P("$create"), 0);
    assert_string_equal(extremities(f, &ids), "$child");
    fx_assert_consistent(f);
}

static void unaccepted_events_do_not_move_extremities(void **state)
{
    struct fx *f = *state;
    struct fx_ids ids;
    add(f, "$create", 1, NULL, 0);
    add(f, "$rej", 2, P("$create"), MXR_STORE_REJECTED);
    add(f, "$soft", 2, P("$create"), MXR_STORE_SOFT_FAILED);
    add(f, "$out", 2, P("$create"), MXR_STORE_OUTLIER);
    assert_string_equal(extremities(f, &ids), "$create");
    /* An accepted event on top of a rejected one keeps... only itself. */
    add(f, "$ok", 3, P("$rej"), 0);
    assert_string_equal(extremities(f, &ids), "$create,$ok");
    add(f, "$ok2", 2, P("$create"), 0);
    assert_string_equal(extremities(f, &ids), "$ok,$ok2");
    fx_assert_consistent(f);
}

struct walked {
    char id[16][32];
    size_t n;
};
static int walk_cb(void *arg, const char *id)
{
    struct walked *w = arg;
    assert_true(w->n < 16);
    snprintf(w->id[w->n++], 32, "%s", id);
    return 0;
}

static void walk(struct fx *f, const char *const *from, size_t nf, const char *const *stop, size_t ns,
                 bool include, size_t limit, struct walked *w)
{
    memset(w, 0, sizeof *w);
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_walk_back(fx_read(f), from, nf, stop, ns, include, limit, walk_cb, w, &err), 0);
    fx_read_end(f);
}

static void backfill_and_missing_events(void **state)
{
    struct fx *f = *state;
    /* create(1) <- a(2) <- b(3) <- c(4) <- d(5); a <- x(3) <- d */
    add(f, "$create", 1, NULL, 0);
    add(f, "$a", 2, P("$create"), 0);
    add(f, "$b", 3, P("$a"), 0);
    add(f, "$c", 4, P("$b"), 0);
    add(f, "$x", 3, P("$a"), 0);
    add(f, "$d", 5, P("$c", "$x"), 0);
    struct walked w;

    /* /backfill from d: deepest first, d itself included. */
    walk(f, P("$d"), 1, NULL, 0, true, 100, &w);
    assert_int_equal(w.n, 6);
    assert_string_equal(w.id[0], "$d");
    assert_string_equal(w.id[1], "$c");
    assert_true((!strcmp(w.id[2], "$b") && !strcmp(w.id[3], "$x")) ||
                (!strcmp(w.id[2], "$x") && !strcmp(w.id[3], "$b")));
    assert_string_equal(w.id[4], "$a");
    assert_string_equal(w.id[5], "$create");

    walk(f, P("$d"), 1, NULL, 0, true, 2, &w);
    assert_int_equal(w.n, 2);
    assert_string_equal(w.id[1], "$c");
    walk(f, P("$d"), 1, NULL, 0, true, 0, &w);
    assert_int_equal(w.n, 0);

    /* /get_missing_events: latest d, earliest a: what lies between. */
    walk(f, P("$d"), 1, P("$a"), 1, false, 10, &w);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.id[0], "$c");
    /* Unknown starting points contribute nothing. */
    walk(f, P("$zzz"), 1, NULL, 0, true, 10, &w);
    assert_int_equal(w.n, 0);
    /* Two starting points sharing history: each event once. */
    walk(f, P("$c", "$x"), 2, NULL, 0, true, 10, &w);
    assert_int_equal(w.n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(edges_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(event_closing_two_branches, setup, teardown),
        cmocka_unit_test_setup_teardown(parent_arriving_after_child, setup, teardown),
        cmocka_unit_test_setup_teardown(unaccepted_events_do_not_move_extremities, setup, teardown),
        cmocka_unit_test_setup_teardown(backfill_and_missing_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
