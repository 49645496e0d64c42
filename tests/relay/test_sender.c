/* relay/federation/sender.c: the delivery queue with a real store (the
 * rooms fixture, whose events are real signed PDUs), an injected clock and
 * a fake transport the test answers by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/federation/sender.h"
#include "tests/rooms/rooms_fixture.h"

#define BOB "@bob:b.test"

/* ---- the fake transport ---------------------------------------------------- */

struct call {
    char dest[64];
    char txn_id[64];
    json_t *body;
    mxr_sender_done_fn done;
    void *done_ctx;
    bool answered;
};

struct net {
    struct call calls[256];
    size_t n;
    bool refuse_start;      /* send() fails to start */
};

static int fake_send(void *ctx, const char *dest, const char *txn_id, json_t *body, mxr_sender_done_fn done,
                     void *done_ctx, struct mxr_err *err)
{
    struct net *net = ctx;
    if (net->refuse_start)
        return mxr_err_set(err, "M_UNKNOWN", "cannot connect");
    assert_true(net->n < 256);
    struct call *c = &net->calls[net->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->dest, sizeof c->dest, "%s", dest);
    snprintf(c->txn_id, sizeof c->txn_id, "%s", txn_id);
    c->body = json_incref(body);
    c->done = done;
    c->done_ctx = done_ctx;
    return 0;
}

/* Answers call i: status 200 with {"pdus": {}} or a failure. */
static void answer(struct net *net, size_t i, long status)
{
    struct call *c = &net->calls[i];
    assert_false(c->answered);
    c->answered = true;
    if (status == 200) {
        json_t *b = json_pack("{s:{}}", "pdus");
        c->done(c->done_ctx, 200, b, NULL);
        json_decref(b);
    } else {
        struct mxr_err e = { 0 };
        if (status)
            mxr_err_set(&e, "M_UNKNOWN", "HTTP %ld", status);
        else
            mxr_err_set(&e, "M_UNKNOWN", "connection refused");
        c->done(c->done_ctx, status, NULL, &e);
    }
}

static void net_clear(struct net *net)
{
    for (size_t i = 0; i < net->n; i++)
        json_decref(net->calls[i].body);
    net->n = 0;
}

/* ---- fixture --------------------------------------------------------------- */

struct t {
    struct rfx f;
    struct net net;
    struct mxr_sender *s;
    struct mxr_sender_limits lim;
    char room[MXR_ID_MAX + 1];
};

static int64_t clock_of(void *ctx)
{
    return ((struct rfx *)ctx)->now;
}

static void sender_open(struct t *t)
{
    rfx_read_end(&t->f);
    struct mxr_sender_deps d = {
        .server_name = "a.test",
        .store = t->f.store,
        .transport = { fake_send, &t->net },
        .clock = clock_of,
        .clock_ctx = &t->f,
        .limits = t->lim,
    };
    struct mxr_err err = { 0 };
    t->s = mxr_sender_new(&d, &err);
    if (!t->s)
        fail_msg("%s", err.msg);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    rfx_open(&t->f, NULL);
    rfx_room(&t->f, "11", "public_chat", t->room);
    sender_open(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    for (size_t i = 0; i < t->net.n; i++)   /* the sender waits for answers when freed */
        if (!t->net.calls[i].answered)
            answer(&t->net, i, 0);
    mxr_sender_free(t->s);
    net_clear(&t->net);
    rfx_close(&t->f);
    free(t);
    return 0;
}

static void run(struct t *t)
{
    rfx_read_end(&t->f);
    mxr_sender_run_once(t->s);
}

static void msg(struct t *t, char id[MXR_ID_MAX + 1])
{
    rfx_send(&t->f, t->room, "@alice:a.test", "m.room.message", NULL, "{\"body\":\"hi\",\"msgtype\":\"m.text\"}",
             id);
}

static void queue_to(struct t *t, const char *id, const char *dest)
{
    struct mxr_err err = { 0 };
    rfx_read_end(&t->f);
    if (mxr_sender_queue_pdu(t->s, id, (const char *const[]){ dest }, 1, &err) < 0)
        fail_msg("%s", err.msg);
}

static void queue_edu(struct t *t, int n, const char *dest)
{
    json_t *edu = json_pack("{s:s, s:{s:s, s:s, s:b, s:i}}", "edu_type", "m.typing", "content", "room_id", t->room,
                            "user_id", "@alice:a.test", "typing", 1, "n", n);
    struct mxr_err err = { 0 };
    rfx_read_end(&t->f);
    if (mxr_sender_queue_edu(t->s, edu, (const char *const[]){ dest }, 1, &err) < 0)
        fail_msg("%s", err.msg);
    json_decref(edu);
}

static int64_t pdu_depth(const json_t *body, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(body, "pdus"), i), "depth"));
}

/* ---- tests ------------------------------------------------------------------ */

/* 120 PDUs and 130 EDUs go out in order, at most 50 PDUs and 100 EDUs per
 * transaction, one transaction in flight at a time. */
static void batches_in_order(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    int64_t first_depth = -1;
    for (int i = 0; i < 120; i++) {
        msg(t, id);
        json_t *p = rfx_stored_pdu(&t->f, id);
        if (first_depth < 0)
            first_depth = json_integer_value(json_object_get(p, "depth"));
        json_decref(p);
        queue_to(t, id, "b.test");
        if (i % 2 == 0)
            queue_edu(t, i, "b.test");
    }
    for (int i = 0; i < 70; i++)
        queue_edu(t, 1000 + i, "b.test");
    struct mxr_sender_dest_info info;
    assert_int_equal(mxr_sender_dest_info(t->s, "b.test", &info), 0);
    assert_int_equal(info.queued_pdus, 120);
    assert_int_equal(info.queued_edus, 130);

    size_t pdus_seen = 0, edus_seen = 0;
    int64_t expect_depth = first_depth;
    int expect_edu = 0;
    for (int round = 0; round < 10 && (pdus_seen < 120 || edus_seen < 130); round++) {
        run(t);
        assert_int_equal(t->net.n, (size_t)round + 1);
        run(t);   /* one in flight: nothing new before the answer */
        assert_int_equal(t->net.n, (size_t)round + 1);
        struct call *c = &t->net.calls[round];
        assert_string_equal(c->dest, "b.test");
        assert_string_equal(json_string_value(json_object_get(c->body, "origin")), "a.test");
        assert_int_equal(json_integer_value(json_object_get(c->body, "origin_server_ts")), t->f.now);
        json_t *pdus = json_object_get(c->body, "pdus"), *edus = json_object_get(c->body, "edus");
        assert_true(json_array_size(pdus) <= 50);
        assert_true(json_array_size(edus) <= 100);
        for (size_t i = 0; i < json_array_size(pdus); i++) {
            assert_int_equal(pdu_depth(c->body, i), expect_depth++);
            assert_null(json_object_get(json_array_get(pdus, i), "unsigned"));
        }
        for (size_t i = 0; i < json_array_size(edus); i++) {
            json_t *content = json_object_get(json_array_get(edus, i), "content");
            int n = (int)json_integer_value(json_object_get(content, "n"));
            int want = expect_edu < 60 ? expect_edu * 2 : 1000 + (expect_edu - 60);
            assert_int_equal(n, want);
            expect_edu++;
        }
        pdus_seen += json_array_size(pdus);
        edus_seen += json_array_size(edus);
        answer(&t->net, round, 200);
    }
    assert_int_equal(pdus_seen, 120);
    assert_int_equal(edus_seen, 130);
    run(t);
    assert_int_equal(mxr_sender_dest_info(t->s, "b.test", &info), 0);
    assert_int_equal(info.queued_pdus, 0);
    assert_int_equal(info.queued_edus, 0);
    assert_false(info.in_flight);
    /* Transaction IDs are distinct. */
    for (size_t i = 0; i < t->net.n; i++)
        for (size_t j = i + 1; j < t->net.n; j++)
            assert_string_not_equal(t->net.calls[i].txn_id, t->net.calls[j].txn_id);
    /* Nothing further to send. */
    size_t before = t->net.n;
    run(t);
    assert_int_equal(t->net.n, before);
}

/* Failures back off exponentially (2 s, 4 s, 8 s ... capped) and retry the
 * same transaction; hearing from the destination retries at once. */
static void backoff_and_peer_alive(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    msg(t, id);
    queue_to(t, id, "b.test");
    run(t);
    assert_int_equal(t->net.n, 1);
    char txn[64];
    snprintf(txn, sizeof txn, "%s", t->net.calls[0].txn_id);
    answer(&t->net, 0, 0);
    run(t);
    struct mxr_sender_dest_info info;
    mxr_sender_dest_info(t->s, "b.test", &info);
    assert_int_equal(info.failures, 1);
    assert_int_equal(info.next_attempt_ts, t->f.now + 2000);
    int64_t waits[] = { 2000, 4000, 8000, 16000 };
    for (int i = 0; i < 4; i++) {
        t->f.now += waits[i] - 1;
        run(t);
        assert_int_equal(t->net.n, (size_t)i + 1);   /* not yet */
        t->f.now += 1;
        run(t);
        assert_int_equal(t->net.n, (size_t)i + 2);
        assert_string_equal(t->net.calls[i + 1].txn_id, txn);   /* the same transaction again */
        answer(&t->net, (size_t)i + 1, 503);
        run(t);
    }
    mxr_sender_dest_info(t->s, "b.test", &info);
    assert_int_equal(info.failures, 5);
    assert_int_equal(info.next_attempt_ts, t->f.now + 32000);
    /* b.test talks to us: retried now, and on success the back-off is gone. */
    mxr_sender_peer_alive(t->s, "b.test");
    run(t);
    assert_int_equal(t->net.n, 6);
    assert_string_equal(t->net.calls[5].txn_id, txn);
    answer(&t->net, 5, 200);
    run(t);
    mxr_sender_dest_info(t->s, "b.test", &info);
    assert_int_equal(info.failures, 0);
    assert_int_equal(info.queued_pdus, 0);
    /* Other destinations were not affected by b.test's trouble. */
    assert_int_equal(mxr_sender_dest_info(t->s, "c.test", &info), -1);
}

static void backoff_is_capped(void **state)
{
    struct t *t = *state;
    mxr_sender_free(t->s);
    t->lim.backoff_max_ms = 10000;
    sender_open(t);
    char id[MXR_ID_MAX + 1];
    msg(t, id);
    queue_to(t, id, "c.test");
    t->net.refuse_start = true;   /* the transport cannot even start: a failure too */
    for (int i = 0; i < 8; i++) {
        run(t);
        struct mxr_sender_dest_info info;
        mxr_sender_dest_info(t->s, "c.test", &info);
        int64_t expect = i == 0 ? 2000 : i == 1 ? 4000 : i == 2 ? 8000 : 10000;
        assert_int_equal(info.next_attempt_ts - t->f.now, expect);
        t->f.now = info.next_attempt_ts;
    }
}

/* The queue and the back-off survive a restart; the retried transaction
 * has the same ID and content; nothing is lost or sent twice. */
static void survives_restart(void **state)
{
    struct t *t = *state;
    char ids[5][MXR_ID_MAX + 1];
    for (int i = 0; i < 5; i++) {
        msg(t, ids[i]);
        queue_to(t, ids[i], "b.test");
    }
    queue_edu(t, 7, "b.test");
    run(t);
    assert_int_equal(t->net.n, 1);
    char txn[64];
    snprintf(txn, sizeof txn, "%s", t->net.calls[0].txn_id);
    json_t *first = json_incref(json_object_get(t->net.calls[0].body, "pdus"));
    answer(&t->net, 0, 0);
    run(t);
    mxr_sender_free(t->s);
    rfx_reopen(&t->f);
    sender_open(t);
    struct mxr_sender_dest_info info;
    assert_int_equal(mxr_sender_dest_info(t->s, "b.test", &info), 0);
    assert_int_equal(info.queued_pdus, 5);
    assert_int_equal(info.queued_edus, 1);
    assert_int_equal(info.failures, 1);
    run(t);
    assert_int_equal(t->net.n, 1);   /* still backing off */
    t->f.now += 2000;
    run(t);
    assert_int_equal(t->net.n, 2);
    assert_string_equal(t->net.calls[1].txn_id, txn);
    assert_true(json_equal(json_object_get(t->net.calls[1].body, "pdus"), first));
    assert_int_equal(json_array_size(json_object_get(t->net.calls[1].body, "edus")), 1);
    json_decref(first);
    answer(&t->net, 1, 200);
    run(t);
    assert_int_equal(t->net.n, 2);
    /* Restart again: nothing is left to send. */
    mxr_sender_free(t->s);
    rfx_reopen(&t->f);
    sender_open(t);
    assert_int_equal(mxr_sender_dest_info(t->s, "b.test", &info), -1);
    run(t);
    assert_int_equal(t->net.n, 2);
}

/* Over the bound, the oldest EDUs go first; PDUs only past their own bound. */
static void bounded_queue(void **state)
{
    struct t *t = *state;
    mxr_sender_free(t->s);
    t->lim.max_queued_edus = 8;
    t->lim.max_queued_pdus = 4;
    sender_open(t);
    for (int i = 0; i < 20; i++)
        queue_edu(t, i, "b.test");
    char ids[7][MXR_ID_MAX + 1];
    int64_t depth[7];
    for (int i = 0; i < 7; i++) {
        msg(t, ids[i]);
        json_t *p = rfx_stored_pdu(&t->f, ids[i]);
        depth[i] = json_integer_value(json_object_get(p, "depth"));
        json_decref(p);
        queue_to(t, ids[i], "b.test");
    }
    t->net.refuse_start = true;   /* b.test is down */
    run(t);
    struct mxr_sender_dest_info info;
    mxr_sender_dest_info(t->s, "b.test", &info);
    assert_int_equal(info.queued_edus, 8);
    assert_int_equal(info.edus_dropped, 12);
    assert_int_equal(info.queued_pdus, 4);
    assert_int_equal(info.pdus_dropped, 3);
    t->net.refuse_start = false;
    t->f.now = info.next_attempt_ts;
    run(t);
    assert_int_equal(t->net.n, 1);
    json_t *edus = json_object_get(t->net.calls[0].body, "edus");
    json_t *pdus = json_object_get(t->net.calls[0].body, "pdus");
    assert_int_equal(json_array_size(edus), 8);
    for (size_t i = 0; i < 8; i++)   /* the newest, in order */
        assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(edus, i), "content"), "n")),
                         12 + (int)i);
    assert_int_equal(json_array_size(pdus), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(pdus, i), "depth")), depth[3 + i]);
    answer(&t->net, 0, 200);
    run(t);
}

/* A 400 means the transaction can never be accepted: dropped, not retried. */
static void refused_transaction_is_dropped(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    msg(t, id);
    queue_to(t, id, "b.test");
    run(t);
    answer(&t->net, 0, 400);
    run(t);
    struct mxr_sender_dest_info info;
    mxr_sender_dest_info(t->s, "b.test", &info);
    assert_int_equal(info.queued_pdus, 0);
    assert_int_equal(info.failures, 0);
    assert_int_equal(t->net.n, 1);
}

/* Room PDUs go to every other joined server, once; never to ourselves. */
static void room_destinations(void **state)
{
    struct t *t = *state;
    char join_id[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1];
    json_t *join = RFX_PDU(&t->f, t->room, join_id, .type = "m.room.member", .sender = BOB, .state_key = BOB,
                           .content = "{\"membership\":\"join\"}");
    struct mxr_pdu_result r = rfx_ingest1(&t->f, join);
    assert_int_equal(r.outcome, MXR_PDU_ACCEPTED);
    msg(t, id);
    struct mxr_err err = { 0 };
    rfx_read_end(&t->f);
    assert_int_equal(mxr_sender_queue_room_pdu(t->s, t->room, id, "c.test", &err), 0);
    json_t *edu = json_pack("{s:s, s:{}}", "edu_type", "m.receipt", "content");
    assert_int_equal(mxr_sender_queue_room_edu(t->s, t->room, edu, &err), 0);
    json_decref(edu);
    assert_int_equal(mxr_sender_queue_pdu(t->s, id, (const char *const[]){ "a.test", "b.test", "b.test" }, 3, &err),
                     0);
    run(t);
    assert_int_equal(t->net.n, 2);   /* b.test and c.test */
    struct mxr_sender_dest_info info;
    assert_int_equal(mxr_sender_dest_info(t->s, "a.test", &info), -1);
    for (size_t i = 0; i < 2; i++) {
        struct call *c = &t->net.calls[i];
        bool b = strcmp(c->dest, "b.test") == 0;
        assert_true(b || strcmp(c->dest, "c.test") == 0);
        assert_int_equal(json_array_size(json_object_get(c->body, "pdus")), b ? 2 : 1);
        assert_int_equal(json_array_size(json_object_get(c->body, "edus")), b ? 1 : 0);
        answer(&t->net, i, 200);
    }
    /* Bad EDUs are refused at the door. */
    json_t *bad = json_pack("{s:i}", "edu_type", 1);
    assert_int_equal(mxr_sender_queue_edu(t->s, bad, (const char *const[]){ "b.test" }, 1, &err), -1);
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(bad);
    run(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(batches_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(backoff_and_peer_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(backoff_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(bounded_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_transaction_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(room_destinations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
