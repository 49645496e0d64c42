/* relay/store/backup.c: key backup versions (counter, latest, tombstones),
 * keys (prefix isolation of users, versions and rooms; long IDs), etag and
 * count bookkeeping, and NOT_FOUND leaving a transaction usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/store/backup.h"
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

#define INFO "{\"algorithm\":\"a\",\"auth_data\":{}}"

/* One write that records every call's result (asserting happens outside
 * the writer thread). */
struct ops {
    const char *user;
    uint64_t v[4];
    int rc[16];
    size_t n;
};

static void rec(struct ops *o, int rc)
{
    if (o->n < 16)
        o->rc[o->n++] = rc;
}

static int lifecycle_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ops *o = arg;
    o->n = 0;
    for (int i = 0; i < 3; i++)
        if (mxr_store_backup_create(t, o->user, INFO, strlen(INFO), &o->v[i], err) < 0)
            return -1;
    /* keys in version 3 of user, and of a user whose ID extends it */
    rec(o, mxr_store_backup_key_put(t, o->user, o->v[2], "!r:x", "s1", "{\"k\":1}", 7, err));
    rec(o, mxr_store_backup_key_put(t, o->user, o->v[2], "!r:xy", "s1", "{\"k\":2}", 7, err));
    rec(o, mxr_store_backup_key_put(t, o->user, o->v[2], "!r:x", "s1", "{\"k\":3}", 7, err));   /* replaces */
    rec(o, mxr_store_backup_delete(t, o->user, o->v[1], err));                                  /* 3: 0 */
    rec(o, mxr_store_backup_delete(t, o->user, o->v[1], err));                                  /* 4: 0 again */
    rec(o, mxr_store_backup_delete(t, o->user, 999999, err));                                   /* 5: NOT_FOUND */
    rec(o, mxr_store_backup_key_put(t, o->user, o->v[1], "!r:x", "s", "{}", 2, err));           /* 6: NOT_FOUND */
    rec(o, mxr_store_backup_update(t, o->user, o->v[1], INFO, strlen(INFO), err));             /* 7: NOT_FOUND */
    rec(o, mxr_store_backup_keys_delete(t, o->user, o->v[1], NULL, NULL, err));                /* 8: NOT_FOUND */
    /* the transaction still works after those answers */
    rec(o, mxr_store_backup_key_put(t, o->user, o->v[0], "!r:x", "s9", "{}", 2, err));          /* 9: 0 */
    return 0;
}

static int other_user_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ops *o = arg;
    return mxr_store_backup_create(t, o->user, INFO, strlen(INFO), &o->v[0], err);
}

struct seen {
    char rooms[8][300], sessions[8][300];
    size_t n;
};

static int see(void *arg, const char *room_id, const char *session_id, const char *json, size_t len)
{
    (void)json, (void)len;
    struct seen *s = arg;
    if (s->n < 8) {
        snprintf(s->rooms[s->n], sizeof s->rooms[0], "%s", room_id);
        snprintf(s->sessions[s->n], sizeof s->sessions[0], "%s", session_id);
    }
    s->n++;
    return 0;
}

static void versions_keys_and_tombstones(void **state)
{
    struct fx *f = *state;
    struct ops o = {.user = "@a:x"}, p = {.user = "@a:xy"};
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, lifecycle_fn, &o, &err), 0);
    assert_int_equal(mxr_store_write(f->s, other_user_fn, &p, &err), 0);
    assert_true(o.v[0] < o.v[1] && o.v[1] < o.v[2] && o.v[2] < p.v[0]);   /* one server-wide counter */
    int want[] = {0, 0, 0, 0, 0, MXR_STORE_NOT_FOUND, MXR_STORE_NOT_FOUND, MXR_STORE_NOT_FOUND, MXR_STORE_NOT_FOUND, 0};
    assert_int_equal(o.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < o.n; i++)
        assert_int_equal(o.rc[i], want[i]);

    struct mxr_store_txn *t = fx_read(f);
    struct mxr_store_backup b;
    assert_int_equal(mxr_store_backup_get(t, "@a:x", 0, &b, &err), 0);
    assert_int_equal(b.version, o.v[2]);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.etag, 3);   /* three writes of keys */
    assert_int_equal(b.info_len, strlen(INFO));
    assert_memory_equal(b.info, INFO, b.info_len);
    assert_int_equal(mxr_store_backup_get(t, "@a:x", o.v[1], &b, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_backup_get(t, "@a:x", o.v[0], &b, &err), 0);
    assert_int_equal(b.count, 1);
    assert_int_equal(mxr_store_backup_get(t, "@a:xy", 0, &b, &err), 0);
    assert_int_equal(b.version, p.v[0]);
    assert_int_equal(b.count, 0);
    assert_int_equal(mxr_store_backup_get(t, "@a:xyz", 0, &b, &err), MXR_STORE_NOT_FOUND);

    struct seen s = {.n = 0};
    assert_int_equal(mxr_store_backup_keys(t, "@a:x", o.v[2], NULL, see, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.rooms[0], "!r:x");
    assert_string_equal(s.rooms[1], "!r:xy");
    memset(&s, 0, sizeof s);
    assert_int_equal(mxr_store_backup_keys(t, "@a:x", o.v[2], "!r:x", see, &s, &err), 0);   /* not !r:xy */
    assert_int_equal(s.n, 1);
    assert_string_equal(s.sessions[0], "s1");
    const char *json;
    size_t len;
    assert_int_equal(mxr_store_backup_key_get(t, "@a:x", o.v[2], "!r:x", "s1", &json, &len, &err), 0);
    assert_memory_equal(json, "{\"k\":3}", len);
    assert_int_equal(mxr_store_backup_key_get(t, "@a:x", o.v[2], "!r:x", "s", &json, &len, &err), MXR_STORE_NOT_FOUND);
    memset(&s, 0, sizeof s);
    assert_int_equal(mxr_store_backup_keys(t, "@a:xy", p.v[0], NULL, see, &s, &err), 0);
    assert_int_equal(s.n, 0);
    fx_read_end(f);
}

struct long_arg {
    char room[256], session[300];
    uint64_t v;
    int rc_ok, rc_long;
};

static int long_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct long_arg *a = arg;
    if (mxr_store_backup_create(t, "@long:x", INFO, strlen(INFO), &a->v, err) < 0)
        return -1;
    a->rc_ok = mxr_store_backup_key_put(t, "@long:x", a->v, a->room, a->session, "{}", 2, err);
    return a->rc_ok;
}

static int too_long_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct long_arg *a = arg;
    char user[256];
    memset(user, 'u', 255);
    user[0] = '@';
    user[255] = '\0';
    uint64_t v;
    if (mxr_store_backup_create(t, user, INFO, strlen(INFO), &v, err) < 0)
        return -1;
    a->rc_long = mxr_store_backup_key_put(t, user, v, a->room, a->session, "{}", 2, err);
    return a->rc_long;
}

static void long_ids(void **state)
{
    struct fx *f = *state;
    struct long_arg a;
    memset(a.room, 'r', 255);
    a.room[0] = '!';
    a.room[255] = '\0';
    memset(a.session, 's', 200);
    a.session[200] = '\0';
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, long_fn, &a, &err), 0);
    struct mxr_store_txn *t = fx_read(f);
    struct seen s = {.n = 0};
    assert_int_equal(mxr_store_backup_keys(t, "@long:x", a.v, NULL, see, &s, &err), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.rooms[0], a.room);
    assert_string_equal(s.sessions[0], a.session);
    fx_read_end(f);
    /* a key past LMDB's key size is refused, and nothing of that write stays */
    assert_int_equal(mxr_store_write(f->s, too_long_fn, &a, &err), -1);
    assert_non_null(err.errcode);
    t = fx_read(f);
    struct mxr_store_backup b;
    char user[256];
    memset(user, 'u', 255);
    user[0] = '@';
    user[255] = '\0';
    assert_int_equal(mxr_store_backup_get(t, user, 0, &b, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_keys_and_tombstones),
        cmocka_unit_test(long_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
