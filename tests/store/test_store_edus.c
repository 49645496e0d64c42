/* relay/store/edus.c: the to-device inbox (order, per-device bound,
 * acknowledgement, reopen) and receipts (latest per key, the change
 * stream, threads, unknown rooms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/store/edus.h"
#include "tests/store/store_fixture.h"

#define ROOM "!r:hs.test"

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

/* ---- to-device ----------------------------------------------------------------------- */

struct add {
    const char *device;
    int n;        /* messages to add, content {"i": first + k} */
    int first;
};

static int add_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct add *a = arg;
    for (int k = 0; k < a->n; k++) {
        char c[32];
        snprintf(c, sizeof c, "{\"i\":%d}", a->first + k);
        if (mxr_store_todevice_add(t, "@bob:hs.test", a->device, "@alice:hs.test", "m.t", c, strlen(c), NULL, err))
            return -1;
    }
    return 0;
}

struct seen {
    int n, first, last;
    uint64_t last_seq;
};

static int seen_cb(void *arg, uint64_t seq, const char *sender, const char *type, const char *content, size_t len)
{
    struct seen *s = arg;
    assert_string_equal(sender, "@alice:hs.test");
    assert_string_equal(type, "m.t");
    int i = -1;
    assert_int_equal(sscanf(content, "{\"i\":%d}", &i), 1);
    assert_true(len == strlen(content) || content[len - 1] == '}');
    if (!s->n)
        s->first = i;
    s->last = i;
    s->n++;
    assert_true(seq > s->last_seq);   /* delivery order */
    s->last_seq = seq;
    return 0;
}

static struct seen inbox(struct fx *f, const char *device, uint64_t since)
{
    struct seen s = {0};
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_todevice_since(fx_read(f), "@bob:hs.test", device, since, seen_cb, &s, &err), 0);
    fx_read_end(f);
    return s;
}

struct ack {
    const char *device;
    uint64_t upto;
    size_t deleted;
};

static int ack_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ack *a = arg;
    return mxr_store_todevice_ack(t, "@bob:hs.test", a->device, a->upto, &a->deleted, err);
}

static void to_device_inbox(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct add a = {"D1", 3, 0}, b = {"D2", 1, 100};
    assert_int_equal(mxr_store_write(f->s, add_fn, &a, &err), 0);
    assert_int_equal(mxr_store_write(f->s, add_fn, &b, &err), 0);
    struct seen s = inbox(f, "D1", 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.first, 0);
    assert_int_equal(s.last, 2);
    /* since skips, without deleting */
    uint64_t mid = s.last_seq - 1;
    assert_int_equal(inbox(f, "D1", mid).n, 1);
    assert_int_equal(inbox(f, "D1", 0).n, 3);

    /* acknowledging deletes only that device's messages up to the position */
    struct ack k = {"D1", mid, 0};
    assert_int_equal(mxr_store_write(f->s, ack_fn, &k, &err), 0);
    assert_int_equal(k.deleted, 2);
    uint64_t oldest = 0;
    assert_int_equal(mxr_store_todevice_oldest(fx_read(f), "@bob:hs.test", "D1", &oldest, &err), 0);
    assert_int_equal(oldest, s.last_seq);
    assert_int_equal(mxr_store_todevice_oldest(f->r, "@bob:hs.test", "D3", &oldest, &err), MXR_STORE_NOT_FOUND);
    uint64_t head = 0;
    assert_int_equal(mxr_store_todevice_head(f->r, &head, &err), 0);
    assert_int_equal(head, 4);
    fx_read_end(f);
    assert_int_equal(inbox(f, "D2", 0).n, 1);

    /* kept across a reopen */
    fx_close_keep(f);
    fx_reopen(f);
    s = inbox(f, "D1", 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.first, 2);
    assert_int_equal(inbox(f, "D2", 0).n, 1);
}

static void to_device_bound(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct add a = {"D1", MXR_STORE_TODEVICE_MAX + 5, 0};
    assert_int_equal(mxr_store_write(f->s, add_fn, &a, &err), 0);
    struct seen s = inbox(f, "D1", 0);
    assert_int_equal(s.n, MXR_STORE_TODEVICE_MAX);
    assert_int_equal(s.first, 5);   /* the oldest went */
    assert_int_equal(s.last, MXR_STORE_TODEVICE_MAX + 4);
}

/* ---- receipts -------------------------------------------------------------------------- */

struct put {
    const char *room, *type, *user, *thread, *event;
    int64_t ts;
    int rc;
};

static int put_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct put *p = arg;
    p->rc = mxr_store_receipt_put(t, p->room ? p->room : ROOM, p->type, p->user, p->thread, p->event, p->ts, NULL, err);
    return p->rc < 0 ? -1 : 0;
}

struct list {
    char buf[2048];
};

static int list_cb(void *arg, const char *room_id, const char *type, const char *user_id, const char *thread_id,
                   const char *event_id, int64_t ts, uint64_t stream)
{
    (void)stream;
    struct list *l = arg;
    size_t n = strlen(l->buf);
    snprintf(l->buf + n, sizeof l->buf - n, "%s%s %s %s [%s] %s %lld", n ? "; " : "", room_id, type, user_id,
             thread_id, event_id, (long long)ts);
    return 0;
}

static void receipts(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct put p[] = {
        {NULL, "m.read", "@bob:hs.test", NULL, "$1", 10, 0},
        {NULL, "m.read", "@carol:hs.test", NULL, "$1", 11, 0},
        {NULL, "m.read", "@bob:hs.test", "main", "$2", 12, 0},
        {NULL, "m.read.private", "@bob:hs.test", NULL, "$2", 13, 0},
        {NULL, "m.read", "@bob:hs.test", NULL, "$3", 14, 0},   /* replaces bob's first */
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        assert_int_equal(mxr_store_write(f->s, put_fn, &p[i], &err), 0);
    struct list l = {""};
    assert_int_equal(mxr_store_receipts_room(fx_read(f), ROOM, list_cb, &l, &err), 0);
    assert_string_equal(l.buf, ROOM " m.read @bob:hs.test [] $3 14; " ROOM " m.read @bob:hs.test [main] $2 12; " ROOM
                               " m.read @carol:hs.test [] $1 11; " ROOM " m.read.private @bob:hs.test [] $2 13");
    /* the stream: each receipt once, at its latest change */
    struct list s = {""};
    assert_int_equal(mxr_store_receipts_since(f->r, 0, list_cb, &s, &err), 0);
    assert_string_equal(s.buf, ROOM " m.read @carol:hs.test [] $1 11; " ROOM " m.read @bob:hs.test [main] $2 12; " ROOM
                               " m.read.private @bob:hs.test [] $2 13; " ROOM " m.read @bob:hs.test [] $3 14");
    struct list s4 = {""};
    assert_int_equal(mxr_store_receipts_since(f->r, 4, list_cb, &s4, &err), 0);
    assert_string_equal(s4.buf, ROOM " m.read @bob:hs.test [] $3 14");
    uint64_t head = 0;
    assert_int_equal(mxr_store_receipt_head(f->r, &head, &err), 0);
    assert_int_equal(head, 5);
    /* a room the store does not know has none, and takes none */
    struct list none = {""};
    assert_int_equal(mxr_store_receipts_room(f->r, "!other:hs.test", list_cb, &none, &err), 0);
    assert_string_equal(none.buf, "");
    fx_read_end(f);
    struct put q = {"!other:hs.test", "m.read", "@bob:hs.test", NULL, "$1", 1, 0};
    assert_int_equal(mxr_store_write(f->s, put_fn, &q, &err), 0);
    assert_int_equal(q.rc, MXR_STORE_NOT_FOUND);
    fx_assert_consistent(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(to_device_inbox, setup, teardown),
        cmocka_unit_test_setup_teardown(to_device_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(receipts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
