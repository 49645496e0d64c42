/* Federation bookkeeping (relay/store/federation.c): /send transaction IDs,
 * server keys, the outbound queue and retry state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* --- transactions ---------------------------------------------------------- */

struct txn_put {
    const char *origin, *id, *resp;
    int64_t ts;
};
static int txn_put_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct txn_put *p = arg;
    return mxr_store_txnid_put(t, p->origin, p->id, p->resp, strlen(p->resp), p->ts, err);
}
struct prune {
    int64_t before;
    size_t removed;
};
static int prune_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct prune *p = arg;
    return mxr_store_txnid_prune(t, p->before, &p->removed, err);
}

static void transactions_are_remembered(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct txn_put puts[] = {
        {"a.example", "t1", "{\"pdus\":{}}", 100},
        {"a.example", "t2", "{\"pdus\":{\"$x\":{}}}", 200},
        {"b.example", "t1", "{}", 300},
        {"a.example.evil", "t1", "{\"evil\":1}", 400},
    };
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(mxr_store_write(f->s, txn_put_fn, &puts[i], &err), 0);
    struct mxr_store_txn *t = fx_read(f);
    const char *resp;
    size_t len;
    assert_int_equal(mxr_store_txnid_get(t, "a.example", "t2", &resp, &len, &err), 0);
    assert_int_equal(len, strlen(puts[1].resp));
    assert_memory_equal(resp, puts[1].resp, len);
    assert_int_equal(mxr_store_txnid_get(t, "a.example", "t1", &resp, &len, &err), 0);
    assert_memory_equal(resp, "{\"pdus\":{}}", len);
    assert_int_equal(mxr_store_txnid_get(t, "a.example", "t3", &resp, &len, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_txnid_get(t, "c.example", "t1", &resp, &len, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);

    struct prune p = {250, 0};
    assert_int_equal(mxr_store_write(f->s, prune_fn, &p, &err), 0);
    assert_int_equal(p.removed, 2);
    t = fx_read(f);
    assert_int_equal(mxr_store_txnid_get(t, "a.example", "t1", &resp, &len, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_txnid_get(t, "b.example", "t1", &resp, &len, &err), 0);
    assert_int_equal(mxr_store_txnid_get(t, "a.example.evil", "t1", &resp, &len, &err), 0);
    fx_read_end(f);
    p.before = 1000;
    assert_int_equal(mxr_store_write(f->s, prune_fn, &p, &err), 0);
    assert_int_equal(p.removed, 2);   /* and the table is empty now */
    assert_int_equal(mxr_store_write(f->s, prune_fn, &p, &err), 0);
    assert_int_equal(p.removed, 0);
}

/* --- server keys ------------------------------------------------------------------ */

struct key_put {
    const char *server, *id;
    struct mxr_store_server_key k;
};
static int key_put_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct key_put *p = arg;
    return mxr_store_server_key_put(t, p->server, p->id, &p->k, err);
}
struct keys_seen {
    char ids[8][32];
    int64_t until[8];
    int n;
};
static int keys_cb(void *arg, const char *key_id, const struct mxr_store_server_key *k)
{
    struct keys_seen *s = arg;
    snprintf(s->ids[s->n], 32, "%s", key_id);
    s->until[s->n++] = k->valid_until_ts;
    return 0;
}

static void server_keys(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct key_put p[] = {
        {"s.example", "ed25519:a", {{1}, 5000, 0, 10}},
        {"s.example", "ed25519:old", {{2}, 3000, 2500, 11}},
        {"s.example.other", "ed25519:a", {{3}, 9000, 0, 12}},
    };
    for (int i = 0; i < 3; i++) {
        memset(p[i].k.key, 0x10 * (i + 1), 32);
        assert_int_equal(mxr_store_write(f->s, key_put_fn, &p[i], &err), 0);
    }
    /* A refetch replaces the record. */
    p[0].k.valid_until_ts = 7000;
    assert_int_equal(mxr_store_write(f->s, key_put_fn, &p[0], &err), 0);

    struct mxr_store_txn *t = fx_read(f);
    struct mxr_store_server_key k;
    assert_int_equal(mxr_store_server_key_get(t, "s.example", "ed25519:old", &k, &err), 0);
    uint8_t want[32];
    memset(want, 0x20, 32);
    assert_memory_equal(k.key, want, 32);
    assert_int_equal(k.valid_until_ts, 3000);
    assert_int_equal(k.expired_ts, 2500);
    assert_int_equal(k.fetched_ts, 11);
    assert_int_equal(mxr_store_server_key_get(t, "s.example", "ed25519:b", &k, &err), MXR_STORE_NOT_FOUND);
    struct keys_seen s = {0};
    assert_int_equal(mxr_store_server_keys(t, "s.example", keys_cb, &s, &err), 0);
    assert_int_equal(s.n, 2);   /* not s.example.other's */
    assert_string_equal(s.ids[0], "ed25519:a");
    assert_int_equal(s.until[0], 7000);
    assert_string_equal(s.ids[1], "ed25519:old");
    fx_read_end(f);
}

/* --- outbound queue ----------------------------------------------------------------- */

struct enqueue {
    const char *dest, *pdu, *edu;
};
static int enqueue_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct enqueue *e = arg;
    return e->pdu ? mxr_store_queue_pdu(t, e->dest, e->pdu, err)
                  : mxr_store_queue_edu(t, e->dest, e->edu, strlen(e->edu), err);
}
struct ack {
    const char *dest;
    uint64_t upto;
};
static int ack_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ack *a = arg;
    return mxr_store_queue_ack(t, a->dest, a->upto, err);
}
struct items {
    char v[16][64];
    uint64_t seq[16];
    int n;
};
static int items_cb(void *arg, uint64_t seq, enum mxr_store_queue_kind kind, const char *data, size_t len)
{
    struct items *it = arg;
    snprintf(it->v[it->n], 64, "%s:%.*s", kind == MXR_STORE_QUEUE_PDU ? "pdu" : "edu", (int)len, data);
    it->seq[it->n++] = seq;
    return 0;
}
static int dest_cb(void *arg, const char *dest)
{
    return fx_ids_cb(arg, dest);
}

static void outbound_queue(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct enqueue q[] = {
        {"b.example", "$p1", NULL}, {"a.example", "$p1", NULL}, {"b.example", NULL, "{\"edu_type\":\"m.typing\"}"},
        {"b.example", "$p2", NULL}, {"c.example", NULL, "{}"}, {"b.example.evil", "$p2", NULL},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        assert_int_equal(mxr_store_write(f->s, enqueue_fn, &q[i], &err), 0);

    struct mxr_store_txn *t = fx_read(f);
    struct items it = {0};
    assert_int_equal(mxr_store_queue_peek(t, "b.example", 10, items_cb, &it, &err), 0);
    assert_int_equal(it.n, 3);
    assert_string_equal(it.v[0], "pdu:$p1");
    assert_string_equal(it.v[1], "edu:{\"edu_type\":\"m.typing\"}");
    assert_string_equal(it.v[2], "pdu:$p2");
    assert_true(it.seq[0] < it.seq[1] && it.seq[1] < it.seq[2]);
    struct items lim = {0};
    assert_int_equal(mxr_store_queue_peek(t, "b.example", 2, items_cb, &lim, &err), 0);
    assert_int_equal(lim.n, 2);
    struct fx_ids d = {0};
    assert_int_equal(mxr_store_queue_destinations(t, dest_cb, &d, &err), 0);
    assert_string_equal(fx_ids_sorted(&d), "a.example,b.example,b.example.evil,c.example");
    fx_read_end(f);

    /* Delivered up to the EDU: only $p2 stays for b. */
    assert_int_equal(mxr_store_write(f->s, ack_fn, &(struct ack){"b.example", it.seq[1]}, &err), 0);
    t = fx_read(f);
    struct items rest = {0};
    assert_int_equal(mxr_store_queue_peek(t, "b.example", 10, items_cb, &rest, &err), 0);
    assert_int_equal(rest.n, 1);
    assert_string_equal(rest.v[0], "pdu:$p2");
    fx_read_end(f);
    assert_int_equal(mxr_store_write(f->s, ack_fn, &(struct ack){"b.example", UINT64_MAX}, &err), 0);
    assert_int_equal(mxr_store_write(f->s, ack_fn, &(struct ack){"c.example", UINT64_MAX}, &err), 0);
    t = fx_read(f);
    memset(&d, 0, sizeof d);
    assert_int_equal(mxr_store_queue_destinations(t, dest_cb, &d, &err), 0);
    assert_string_equal(fx_ids_sorted(&d), "a.example,b.example.evil");
    struct items other = {0};
    assert_int_equal(mxr_store_queue_peek(t, "b.example.evil", 10, items_cb, &other, &err), 0);
    assert_int_equal(other.n, 1);
    fx_read_end(f);

    struct enqueue bad = {"", "$p", NULL};
    assert_int_equal(mxr_store_write(f->s, enqueue_fn, &bad, &err), -1);
}

struct retry_set {
    const char *dest;
    struct mxr_store_retry r;
};
static int retry_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct retry_set *r = arg;
    return mxr_store_retry_set(t, r->dest, &r->r, err);
}

static void retry_state(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct retry_set r = {"slow.example", {3, 1000, 9000}};
    assert_int_equal(mxr_store_write(f->s, retry_fn, &r, &err), 0);
    struct mxr_store_retry got;
    assert_int_equal(mxr_store_retry_get(fx_read(f), "slow.example", &got, &err), 0);
    assert_int_equal(got.failures, 3);
    assert_int_equal(got.last_failure_ts, 1000);
    assert_int_equal(got.next_attempt_ts, 9000);
    assert_int_equal(mxr_store_retry_get(fx_read(f), "fast.example", &got, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(got.failures, 0);
    fx_read_end(f);
    r.r.failures = 0;   /* success clears */
    assert_int_equal(mxr_store_write(f->s, retry_fn, &r, &err), 0);
    assert_int_equal(mxr_store_retry_get(fx_read(f), "slow.example", &got, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(transactions_are_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(server_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(outbound_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
