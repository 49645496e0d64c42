/* State groups (relay/store/state.c): lookups, whole state, diffs and the
 * compaction bounds, checked against an in-memory model of every group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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
    fx_close(*state);
    return 0;
}

#define E(t, k, id) ((struct mxr_store_state_entry){t, k, id})

static const char *get(struct fx *f, uint64_t g, const char *type, const char *sk, char *buf)
{
    struct mxr_err err = {0};
    int rc = mxr_store_state_get(fx_read(f), g, type, sk, buf, &err);
    fx_read_end(f);
    if (rc < 0)
        fail_msg("state_get: %s", err.msg);
    return rc == MXR_STORE_NOT_FOUND ? NULL : buf;
}

static size_t count(struct fx *f, uint64_t g)
{
    size_t n;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_state_count(fx_read(f), g, &n, &err), 0);
    fx_read_end(f);
    return n;
}

static void basics(void **state)
{
    struct fx *f = *state;
    char buf[MXR_STORE_ID_MAX + 1];
    uint64_t root, g1, g2, same;
    struct mxr_store_state_entry d0[] = {E("m.room.create", "", "$c"), E("m.room.member", "@a:x", "$ja"),
                                         E("m.room.member", "@b:x", "$jb")};
    assert_int_equal(fx_group(f, 0, d0, 3, &root, NULL), 0);
    assert_true(root != 0);
    assert_string_equal(get(f, root, "m.room.member", "@a:x", buf), "$ja");
    assert_null(get(f, root, "m.room.member", "@zz:x", buf));
    assert_null(get(f, root, "m.room.never.seen.type", "", buf));
    assert_int_equal(count(f, root), 3);
    /* The empty state is group 0. */
    assert_int_equal(count(f, 0), 0);
    assert_null(get(f, 0, "m.room.create", "", buf));

    /* Later entries of a key win; NULL removes. */
    struct mxr_store_state_entry d1[] = {E("m.room.member", "@a:x", "$la"), E("m.room.member", "@a:x", "$ja2"),
                                         E("m.room.member", "@b:x", NULL)};
    assert_int_equal(fx_group(f, root, d1, 3, &g1, NULL), 0);
    assert_true(g1 > root);
    assert_string_equal(get(f, g1, "m.room.member", "@a:x", buf), "$ja2");
    assert_null(get(f, g1, "m.room.member", "@b:x", buf));
    assert_string_equal(get(f, g1, "m.room.create", "", buf), "$c");
    assert_int_equal(count(f, g1), 2);
    /* The parent is untouched. */
    assert_string_equal(get(f, root, "m.room.member", "@a:x", buf), "$ja");

    /* A delta that changes nothing yields the parent, without a new group. */
    assert_int_equal(fx_group(f, g1, NULL, 0, &same, NULL), 0);
    assert_true(same == g1);
    struct mxr_store_state_entry noop[] = {E("m.room.create", "", "$c"), E("m.room.member", "@b:x", NULL)};
    assert_int_equal(fx_group(f, g1, noop, 2, &same, NULL), 0);
    assert_true(same == g1);
    struct mxr_store_state_entry one[] = {E("m.room.topic", "", "$t")};
    assert_int_equal(fx_group(f, g1, one, 1, &g2, NULL), 0);
    assert_true(g2 == g1 + 1);   /* the no-ops allocated no group number */

    /* Unknown groups are errors, not empty states. */
    struct mxr_err err = {0};
    assert_int_equal(fx_group(f, 12345, one, 1, &same, &err), -1);
    assert_non_null(strstr(err.msg, "does not exist"));
    assert_int_equal(mxr_store_state_get(fx_read(f), 999, "m.room.create", "", buf, &err), -1);
    fx_read_end(f);
    assert_int_equal(mxr_store_state_get(fx_read(f), 999, "m.unseen", "", buf, &err), -1);
    fx_read_end(f);
    fx_assert_consistent(f);
}

/* --- model-based: random trees of groups ------------------------------------- */

#define K 24            /* distinct state keys */
#define G 400           /* groups created */

struct model {
    int v[G + 1][K];    /* event number per key, -1 absent; index = model group */
    uint64_t id[G + 1]; /* store group of each model group; [0] = 0 (empty) */
    size_t n;
};

static void key_of(int k, char *type, char *sk)
{
    snprintf(type, 32, k % 3 ? "m.room.member" : "m.room.custom%d", k % 5);
    snprintf(sk, 32, k % 3 ? "@u%d:x" : "%d", k);
}

struct collect {
    int v[K];
    int n;
};
static int collect_cb(void *arg, const char *type, const char *sk, const char *id)
{
    struct collect *c = arg;
    for (int k = 0; k < K; k++) {
        char t[32], s[32];
        key_of(k, t, s);
        if (!strcmp(t, type) && !strcmp(s, sk)) {
            c->v[k] = id ? atoi(id + 2) : -1;
            c->n++;
            return 0;
        }
    }
    fail_msg("unexpected key %s/%s", type, sk);
    return 1;
}

static void model_compare(struct fx *f, const struct model *m, size_t i)
{
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    struct collect c;
    for (int k = 0; k < K; k++)
        c.v[k] = -1;
    c.n = 0;
    assert_int_equal(mxr_store_state_all(t, m->id[i], collect_cb, &c, &err), 0);
    int present = 0;
    for (int k = 0; k < K; k++) {
        present += m->v[i][k] >= 0;
        assert_int_equal(c.v[k], m->v[i][k]);
        char type[32], sk[32], buf[MXR_STORE_ID_MAX + 1];
        key_of(k, type, sk);
        int rc = mxr_store_state_get(t, m->id[i], type, sk, buf, &err);
        if (m->v[i][k] < 0) {
            assert_int_equal(rc, MXR_STORE_NOT_FOUND);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(atoi(buf + 2), m->v[i][k]);
        }
    }
    assert_int_equal(c.n, present);
    struct mxr_store_group_info info;
    assert_int_equal(mxr_store_state_group_info(t, m->id[i], &info, &err), 0);
    assert_true(info.chain_length <= (unsigned)__builtin_popcountll(info.depth) + 1);
    fx_read_end(f);
}

static void model_diff(struct fx *f, const struct model *m, size_t a, size_t b)
{
    struct collect c;
    for (int k = 0; k < K; k++)
        c.v[k] = -2;   /* -2: not reported */
    c.n = 0;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_state_diff(fx_read(f), m->id[a], m->id[b], collect_cb, &c, &err), 0);
    fx_read_end(f);
    for (int k = 0; k < K; k++) {
        if (m->v[a][k] == m->v[b][k])
            assert_int_equal(c.v[k], -2);
        else
            assert_int_equal(c.v[k], m->v[b][k]);
    }
}

static void random_trees_match_the_model(void **state)
{
    struct fx *f = *state;
    static struct model m;
    memset(&m, 0, sizeof m);
    for (int k = 0; k < K; k++)
        m.v[0][k] = -1;
    m.n = 1;
    srand(4242);
    int next_event = 1;
    while (m.n <= G) {
        /* Mostly extend a recent group (a room's linear history), sometimes
         * fork from anywhere, sometimes start a new root. */
        int r = rand() % 100;
        size_t parent = r < 75 ? m.n - 1 : r < 97 ? (size_t)rand() % m.n : 0;
        int nd = 1 + rand() % 3;
        struct mxr_store_state_entry d[3];
        char types[3][32], sks[3][32], ids[3][16];
        int next[K];
        memcpy(next, m.v[parent], sizeof next);
        for (int j = 0; j < nd; j++) {
            int k = rand() % K;
            key_of(k, types[j], sks[j]);
            bool remove = rand() % 8 == 0;
            snprintf(ids[j], sizeof ids[j], "$e%d", next_event);
            d[j] = E(types[j], sks[j], remove ? NULL : ids[j]);
            next[k] = remove ? -1 : next_event;
            next_event++;
        }
        uint64_t g;
        assert_int_equal(fx_group(f, m.id[parent], d, (size_t)nd, &g, NULL), 0);
        if (!memcmp(next, m.v[parent], sizeof next)) {
            assert_true(g == m.id[parent]);
            continue;
        }
        m.id[m.n] = g;
        memcpy(m.v[m.n], next, sizeof next);
        m.n++;
    }
    for (size_t i = 0; i < m.n; i++)
        model_compare(f, &m, i);
    for (int j = 0; j < 300; j++)
        model_diff(f, &m, (size_t)rand() % m.n, (size_t)rand() % m.n);
    for (size_t i = 1; i < m.n; i++)   /* neighbours: the cheap path */
        model_diff(f, &m, i - 1, i);
    fx_assert_consistent(f);
}

/* --- compaction: a room gaining N members, one join per state group ------------ */

static void compaction_bounds(void **state)
{
    struct fx *f = *state;
    enum { N = 2048 };
    uint64_t g = 0, groups[N + 1] = {0};
    for (int i = 0; i <= N; i++) {
        char sk[32], id[32];
        snprintf(sk, sizeof sk, "@m%d:x", i);
        snprintf(id, sizeof id, "$j%d", i);
        struct mxr_store_state_entry d[] = {E("m.room.member", sk, id)};
        assert_int_equal(fx_group(f, g, d, 1, &g, NULL), 0);
        groups[i] = g;
    }
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    size_t stored = 0;
    for (int i = 0; i <= N; i++) {
        struct mxr_store_group_info info;
        assert_int_equal(mxr_store_state_group_info(t, groups[i], &info, &err), 0);
        uint64_t n = info.depth;
        assert_int_equal(n, i);
        /* The delta of depth n spans (n & (n-1), n]: lowbit(n) joins. */
        assert_int_equal(info.delta_entries, n ? (n & -n) : 1);
        assert_true(info.chain_length <= (unsigned)__builtin_popcountll(n) + 1);
        assert_int_equal(info.chain_entries, i + 1);   /* exactly the state, no overlap */
        stored += info.delta_entries;
    }
    /* ~ N/2 log2 N entries (12,288 for 2,048 groups) instead of N^2/2 (2.1M). */
    assert_true(stored <= (size_t)N / 2 * 11 + N + 1);
    size_t n;
    assert_int_equal(mxr_store_state_count(t, groups[N], &n, &err), 0);
    assert_int_equal(n, N + 1);
    char buf[MXR_STORE_ID_MAX + 1];
    assert_int_equal(mxr_store_state_get(t, groups[N], "m.room.member", "@m0:x", buf, &err), 0);
    assert_string_equal(buf, "$j0");
    assert_int_equal(mxr_store_state_get(t, groups[N], "m.room.member", "@m1500:x", buf, &err), 0);
    assert_string_equal(buf, "$j1500");
    assert_int_equal(mxr_store_state_get(t, groups[1000], "m.room.member", "@m1500:x", buf, &err),
                     MXR_STORE_NOT_FOUND);
    fx_read_end(f);
    fx_assert_consistent(f);
}

struct diffc {
    int n;
    char last[64];
};
static int diff_cb(void *arg, const char *type, const char *sk, const char *id)
{
    struct diffc *d = arg;
    d->n++;
    snprintf(d->last, sizeof d->last, "%s=%s", sk, id ? id : "-");
    return 0;
}

static void diffs_between_relatives(void **state)
{
    struct fx *f = *state;
    uint64_t base, a, b;
    struct mxr_store_state_entry d0[] = {E("m.room.create", "", "$c"), E("m.room.member", "@a:x", "$ja")};
    assert_int_equal(fx_group(f, 0, d0, 2, &base, NULL), 0);
    struct mxr_store_state_entry da[] = {E("m.room.member", "@b:x", "$jb")};
    struct mxr_store_state_entry db[] = {E("m.room.member", "@a:x", NULL)};
    assert_int_equal(fx_group(f, base, da, 1, &a, NULL), 0);
    assert_int_equal(fx_group(f, base, db, 1, &b, NULL), 0);
    struct diffc d = {0};
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_state_diff(fx_read(f), base, a, diff_cb, &d, &err), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.last, "@b:x=$jb");
    memset(&d, 0, sizeof d);
    assert_int_equal(mxr_store_state_diff(fx_read(f), a, b, diff_cb, &d, &err), 0);
    assert_int_equal(d.n, 2);   /* @a removed, @b absent in b */
    memset(&d, 0, sizeof d);
    assert_int_equal(mxr_store_state_diff(fx_read(f), 0, a, diff_cb, &d, &err), 0);
    assert_int_equal(d.n, 3);
    memset(&d, 0, sizeof d);
    assert_int_equal(mxr_store_state_diff(fx_read(f), a, a, diff_cb, &d, &err), 0);
    assert_int_equal(d.n, 0);
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(basics, setup, teardown),
        cmocka_unit_test_setup_teardown(random_trees_match_the_model, setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(diffs_between_relatives, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
