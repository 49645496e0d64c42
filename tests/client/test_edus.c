/* Send-to-device, typing, receipts and read markers through the dispatcher
 * (relay/client/todevice.c, ephemeral.c, sync_eph.c), their durability
 * (relay/store/edus.c) and inbound federation EDUs landing in the same
 * tables (relay/federation/edus_durable.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/federation/edus.h"
#include "relay/store/edus.h"
#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define ALICE "@alice:hs.test"
#define BOB "@bob:hs.test"

struct st {
    struct clfix f;
    char alice[128], bob[128], bob2[128], carol[128];
    char alice_dev[160], bob_dev[160], bob2_dev[160];
    char room[256], event[256];
};

static void attach_edus(struct st *t)
{
    mxr_edu_store_attach(t->f.srv.edus, t->f.srv.store);
}

static int setup(void **state)
{
    static struct st t;
    memset(&t, 0, sizeof t);
    clfix_open(&t.f, NULL);
    struct mxr_err err = {0};
    t.f.srv.edus = mxr_edu_store_new(&err);
    assert_non_null(t.f.srv.edus);
    attach_edus(&t);
    clfix_user(&t.f, "alice", t.alice, t.alice_dev);
    clfix_user(&t.f, "bob", t.bob, t.bob_dev);
    clfix_user(&t.f, "carol", t.carol, NULL);
    /* bob's second device */
    json_t *b = clfix_ok(&t.f, 200, "POST", V3 "/login", NULL,
                         "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"bob\"},"
                         "\"password\":\"pw-bob\"}");
    snprintf(t.bob2, sizeof t.bob2, "%s", json_string_value(json_object_get(b, "access_token")));
    snprintf(t.bob2_dev, sizeof t.bob2_dev, "%s", json_string_value(json_object_get(b, "device_id")));
    json_decref(b);
    b = clfix_ok(&t.f, 200, "POST", V3 "/createRoom", t.alice, "{\"preset\":\"public_chat\"}");
    snprintf(t.room, sizeof t.room, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    json_decref(clfix_ok(&t.f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", t.room), t.bob, "{}"));
    b = clfix_ok(&t.f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/e1", t.room), t.alice,
                 "{\"msgtype\":\"m.text\",\"body\":\"hi\"}");
    snprintf(t.event, sizeof t.event, "%s", json_string_value(json_object_get(b, "event_id")));
    json_decref(b);
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    struct st *t = *state;
    mxr_edu_store_free(t->f.srv.edus);
    clfix_close(&t->f);
    return 0;
}

static json_t *sync(struct st *t, const char *token, const char *since)
{
    return clfix_ok(&t->f, 200, "GET", since ? clfix_fmt(V3 "/sync?since=%s", since) : V3 "/sync", token, NULL);
}

static const char *next_of(json_t *s, char out[160])
{
    snprintf(out, 160, "%s", json_string_value(json_object_get(s, "next_batch")));
    return out;
}

static json_t *to_device(json_t *s)
{
    return json_object_get(json_object_get(s, "to_device"), "events");
}

static json_t *room_of(json_t *s, const char *room)
{
    return json_object_get(json_object_get(json_object_get(s, "rooms"), "join"), room);
}

/* The room's ephemeral event of `type` in a sync answer, or NULL. */
static json_t *ephemeral(json_t *s, const char *room, const char *type)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(room_of(s, room), "ephemeral"), "events"), i, e)
        if (!strcmp(json_string_value(json_object_get(e, "type")), type))
            return json_object_get(e, "content");
    return NULL;
}

static json_t *receipt_of(json_t *content, const char *event, const char *type, const char *user)
{
    return json_object_get(json_object_get(json_object_get(content, event), type), user);
}

/* ---- send-to-device ------------------------------------------------------------------------ */

static void to_device_is_delivered_once_and_survives_a_restart(void **state)
{
    struct st *t = *state;
    const char *target = V3 "/sendToDevice/m.test/txn1";
    const char *body = clfix_fmt("{\"messages\":{\"" BOB "\":{\"%s\":{\"n\":1}}}}", t->bob_dev);
    json_decref(clfix_ok(&t->f, 200, "PUT", target, t->alice, body));
    json_decref(clfix_ok(&t->f, 200, "PUT", target, t->alice, body));   /* retry: not delivered again */
    json_decref(clfix_ok(&t->f, 200, "PUT", V3 "/sendToDevice/m.test/txn2", t->alice,
                         "{\"messages\":{\"" BOB "\":{\"*\":{\"n\":2}}, \"@nobody:hs.test\":{\"*\":{}}}}"));

    clfix_restart(&t->f);
    attach_edus(t);
    char next[160];
    json_t *s = sync(t, t->bob, NULL);
    json_t *td = to_device(s);
    assert_int_equal(json_array_size(td), 2);
    json_t *m = json_array_get(td, 0);
    assert_string_equal(json_string_value(json_object_get(m, "sender")), ALICE);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "m.test");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "content"), "n")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(td, 1), "content"), "n")), 2);
    next_of(s, next);
    json_decref(s);
    /* "*" reached the other device too, and only that one */
    s = sync(t, t->bob2, NULL);
    assert_int_equal(json_array_size(to_device(s)), 1);
    json_decref(s);
    /* a device logged out takes its undelivered messages along */
    json_decref(clfix_ok(&t->f, 200, "POST", V3 "/logout", t->bob2, "{}"));
    struct mxr_store_txn *txn;
    struct mxr_err err = {0};
    uint64_t oldest = 0;
    assert_int_equal(mxr_store_read_begin(t->f.srv.store, &txn, &err), 0);
    assert_int_equal(mxr_store_todevice_oldest(txn, BOB, t->bob2_dev, &oldest, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_todevice_oldest(txn, BOB, t->bob_dev, &oldest, &err), 0);
    mxr_store_read_end(txn);

    /* The next since acknowledges: gone, also after another restart. */
    s = sync(t, t->bob, next);
    assert_int_equal(json_array_size(to_device(s)), 0);
    json_decref(s);
    clfix_restart(&t->f);
    attach_edus(t);
    s = sync(t, t->bob, NULL);
    assert_int_equal(json_array_size(to_device(s)), 0);
    json_decref(s);
}

static void to_device_refusals(void **state)
{
    struct st *t = *state;
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "PUT", V3 "/sendToDevice/m.test/x1", NULL, "{\"messages\":{}}");
    clfix_error(&t->f, 401, "M_UNKNOWN_TOKEN", "PUT", V3 "/sendToDevice/m.test/x1", "mxr_nope", "{\"messages\":{}}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", V3 "/sendToDevice/m.test/x2", t->alice, "{}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", V3 "/sendToDevice/m.test/x3", t->alice, "{\"messages\":[]}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "PUT", V3 "/sendToDevice/m.test/x4", t->alice,
                "{\"messages\":{\"bob\":{\"*\":{}}}}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", V3 "/sendToDevice/m.test/x5", t->alice,
                "{\"messages\":{\"" BOB "\":{\"*\":\"text\"}}}");
    clfix_error(&t->f, 400, "M_NOT_JSON", "PUT", V3 "/sendToDevice/m.test/x6", t->alice, "{nope");
    /* none of these delivered anything */
    json_t *s = sync(t, t->bob2, NULL);
    assert_int_equal(json_array_size(to_device(s)), 0);
    json_decref(s);
}

/* Remote users' messages are not stored here (they go to the sender,
 * absent in these tests); the local part still is. */
static void to_device_mixed_recipients(void **state)
{
    struct st *t = *state;
    json_decref(clfix_ok(&t->f, 200, "PUT", V3 "/sendToDevice/m.mixed/m1", t->alice,
                         clfix_fmt("{\"messages\":{\"@zed:remote.test\":{\"D\":{}},\"" BOB "\":{\"%s\":{\"k\":\"v\"}}}}",
                                   t->bob2_dev)));
    json_t *s = sync(t, t->bob2, NULL);
    assert_int_equal(json_array_size(to_device(s)), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(to_device(s), 0), "type")), "m.mixed");
    json_decref(s);
}

struct poll {
    struct st *t;
    char since[160];
    json_t *out;
};

static void *poller(void *arg)
{
    struct poll *p = arg;
    json_t *out = NULL;
    int status = clfix_req(&p->t->f, "GET", clfix_fmt(V3 "/sync?since=%s&timeout=20000", p->since), p->t->alice, NULL,
                           &out);
    p->out = status == 200 ? out : NULL;
    return NULL;
}

static void long_poll_wakes_for_to_device(void **state)
{
    struct st *t = *state;
    json_t *s = sync(t, t->alice, NULL);
    struct poll p = {.t = t};
    next_of(s, p.since);
    json_decref(s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poller, &p), 0);
    json_decref(clfix_ok(&t->f, 200, "PUT", V3 "/sendToDevice/m.wake/w1", t->bob,
                         clfix_fmt("{\"messages\":{\"" ALICE "\":{\"%s\":{\"wake\":true}}}}", t->alice_dev)));
    pthread_join(th, NULL);
    assert_non_null(p.out);
    assert_int_equal(json_array_size(to_device(p.out)), 1);
    json_decref(p.out);
}

/* ---- typing ------------------------------------------------------------------------------------ */

static void typing_in_sync_and_timeout(void **state)
{
    struct st *t = *state;
    char next[160];
    json_t *s = sync(t, t->alice, NULL);
    assert_null(ephemeral(s, t->room, "m.typing"));
    next_of(s, next);
    json_decref(s);

    const char *target = clfix_fmt(V3 "/rooms/%s/typing/" BOB, t->room);
    json_decref(clfix_ok(&t->f, 200, "PUT", target, t->bob, "{\"typing\":true,\"timeout\":10000}"));
    s = sync(t, t->alice, next);
    json_t *ty = ephemeral(s, t->room, "m.typing");
    assert_non_null(ty);
    assert_int_equal(json_array_size(json_object_get(ty, "user_ids")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(ty, "user_ids"), 0)), BOB);
    next_of(s, next);
    json_decref(s);
    /* nothing changed: the room is not listed */
    s = sync(t, t->alice, next);
    assert_null(room_of(s, t->room));
    json_decref(s);

    /* the notice runs out */
    t->f.now += 10001;
    s = sync(t, t->alice, next);
    ty = ephemeral(s, t->room, "m.typing");
    assert_non_null(ty);
    assert_int_equal(json_array_size(json_object_get(ty, "user_ids")), 0);
    next_of(s, next);
    json_decref(s);

    /* explicit stop */
    json_decref(clfix_ok(&t->f, 200, "PUT", target, t->bob, "{\"typing\":true}"));
    json_decref(clfix_ok(&t->f, 200, "PUT", target, t->bob, "{\"typing\":false}"));
    s = sync(t, t->alice, next);
    ty = ephemeral(s, t->room, "m.typing");
    assert_non_null(ty);
    assert_int_equal(json_array_size(json_object_get(ty, "user_ids")), 0);
    json_decref(s);
}

static void typing_refusals(void **state)
{
    struct st *t = *state;
    const char *target = clfix_fmt(V3 "/rooms/%s/typing/" BOB, t->room);
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "PUT", target, NULL, "{\"typing\":true}");
    clfix_error(&t->f, 403, "M_FORBIDDEN", "PUT", target, t->alice, "{\"typing\":true}");   /* not her ID */
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", target, t->bob, "{}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", target, t->bob, "{\"typing\":\"yes\"}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", target, t->bob, "{\"typing\":true,\"timeout\":-1}");
    clfix_error(&t->f, 403, "M_FORBIDDEN", "PUT", clfix_fmt(V3 "/rooms/%s/typing/@carol:hs.test", t->room), t->carol,
                "{\"typing\":true}");   /* not joined */
    clfix_error(&t->f, 404, "M_NOT_FOUND", "PUT", V3 "/rooms/!nowhere:hs.test/typing/" BOB, t->bob,
                "{\"typing\":true}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "PUT", V3 "/rooms/nowhere/typing/" BOB, t->bob, "{\"typing\":true}");
}

/* ---- receipts and read markers ------------------------------------------------------------------ */

static void receipts_in_sync_private_hidden(void **state)
{
    struct st *t = *state;
    char next[160];
    json_t *s = sync(t, t->alice, NULL);
    next_of(s, next);
    json_decref(s);

    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.read/%s", t->room, t->event), t->bob,
                         "{\"thread_id\":\"main\"}"));
    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.read.private/%s", t->room, t->event),
                         t->bob, "{}"));
    s = sync(t, t->alice, next);
    json_t *rc = ephemeral(s, t->room, "m.receipt");
    assert_non_null(rc);
    json_t *r = receipt_of(rc, t->event, "m.read", BOB);
    assert_int_equal(json_integer_value(json_object_get(r, "ts")), t->f.now);
    assert_string_equal(json_string_value(json_object_get(r, "thread_id")), "main");
    assert_null(json_object_get(json_object_get(rc, t->event), "m.read.private"));   /* not alice's */
    next_of(s, next);
    json_decref(s);

    /* bob sees his private receipt; alice, on a fresh sync, still not */
    s = sync(t, t->bob, NULL);
    assert_non_null(receipt_of(ephemeral(s, t->room, "m.receipt"), t->event, "m.read.private", BOB));
    json_decref(s);
    s = sync(t, t->alice, NULL);
    rc = ephemeral(s, t->room, "m.receipt");
    assert_non_null(receipt_of(rc, t->event, "m.read", BOB));
    assert_null(json_object_get(json_object_get(rc, t->event), "m.read.private"));
    json_decref(s);

    /* only the private receipt changes: alice's incremental sync is empty */
    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.read.private/%s", t->room, t->event),
                         t->bob, "{}"));
    s = sync(t, t->alice, next);
    assert_null(room_of(s, t->room));
    json_decref(s);

    /* durable */
    clfix_restart(&t->f);
    attach_edus(t);
    s = sync(t, t->alice, NULL);
    assert_non_null(receipt_of(ephemeral(s, t->room, "m.receipt"), t->event, "m.read", BOB));
    json_decref(s);
}

static bool has_fully_read(json_t *s, const char *room, const char *event)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(room_of(s, room), "account_data"), "events"), i, e)
        if (!strcmp(json_string_value(json_object_get(e, "type")), "m.fully_read") &&
            !strcmp(json_string_value(json_object_get(json_object_get(e, "content"), "event_id")), event))
            return true;
    return false;
}

static void fully_read_and_read_markers(void **state)
{
    struct st *t = *state;
    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.fully_read/%s", t->room, t->event),
                         t->bob, NULL));
    json_t *s = sync(t, t->bob, NULL);
    assert_true(has_fully_read(s, t->room, t->event));
    /* m.fully_read is account data, never a receipt */
    assert_null(json_object_get(json_object_get(ephemeral(s, t->room, "m.receipt"), t->event), "m.fully_read"));
    json_decref(s);
    json_t *b = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/user/" BOB "/rooms/%s/account_data/m.fully_read", t->room),
                         t->bob, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "event_id")), t->event);
    json_decref(b);

    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/read_markers", t->room), t->alice,
                         clfix_fmt("{\"m.fully_read\":\"%s\",\"m.read\":\"%s\"}", t->event, t->event)));
    s = sync(t, t->bob, NULL);
    assert_non_null(receipt_of(ephemeral(s, t->room, "m.receipt"), t->event, "m.read", ALICE));
    json_decref(s);
    s = sync(t, t->alice, NULL);
    assert_true(has_fully_read(s, t->room, t->event));
    json_decref(s);
}

static void receipt_refusals(void **state)
{
    struct st *t = *state;
    const char *ok = clfix_fmt(V3 "/rooms/%s/receipt/m.read/%s", t->room, t->event);
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "POST", ok, NULL, "{}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.seen/%s", t->room, t->event),
                t->bob, "{}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.read/nope", t->room), t->bob,
                "{}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "POST", ok, t->bob, "{\"thread_id\":\"\"}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "POST", ok, t->bob, "{\"thread_id\":5}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "POST",
                clfix_fmt(V3 "/rooms/%s/receipt/m.fully_read/%s", t->room, t->event), t->bob, "{\"thread_id\":\"main\"}");
    clfix_error(&t->f, 400, "M_NOT_JSON", "POST", ok, t->bob, "[1]");
    clfix_error(&t->f, 404, "M_NOT_FOUND", "POST", clfix_fmt(V3 "/rooms/%s/receipt/m.read/$unknown", t->room), t->bob,
                "{}");
    clfix_error(&t->f, 403, "M_FORBIDDEN", "POST", ok, t->carol, "{}");
    clfix_error(&t->f, 404, "M_NOT_FOUND", "POST", clfix_fmt(V3 "/rooms/!nowhere:hs.test/receipt/m.read/%s", t->event),
                t->bob, "{}");
    const char *rm = clfix_fmt(V3 "/rooms/%s/read_markers", t->room);
    clfix_error(&t->f, 400, "M_BAD_JSON", "POST", rm, t->bob, "{\"m.read\":7}");
    clfix_error(&t->f, 400, "M_NOT_JSON", "POST", rm, t->bob, NULL);
    clfix_error(&t->f, 403, "M_FORBIDDEN", "POST", rm, t->carol, clfix_fmt("{\"m.read\":\"%s\"}", t->event));
}

/* ---- inbound federation EDUs land in the same durable tables -------------------------------------- */

static int apply(struct st *t, const char *json)
{
    struct mxr_err err = {0};
    json_t *edu = json_loads(json, 0, NULL);
    assert_non_null(edu);
    struct mxr_edu_ctx c = {"remote.test", "hs.test", t->f.now, NULL, NULL};
    int rc = mxr_edu_apply(t->f.srv.edus, &c, edu, &err);
    json_decref(edu);
    if (rc == 0)
        assert_int_equal(mxr_edu_flush(t->f.srv.edus, &err), 0);
    return rc;
}

static void remote_edus_are_durable(void **state)
{
    struct st *t = *state;
    const char *td = "{\"edu_type\":\"m.direct_to_device\",\"content\":{\"sender\":\"@zed:remote.test\","
                     "\"type\":\"m.room_key_request\",\"message_id\":\"mid-1\",\"messages\":{\"" BOB "\":"
                     "{\"*\":{\"from\":\"afar\"}}}}}";
    assert_int_equal(apply(t, td), 0);
    assert_int_equal(apply(t, td), 0);   /* the same (origin, message_id): once */
    assert_int_equal(apply(t, clfix_fmt("{\"edu_type\":\"m.receipt\",\"content\":{\"%s\":{\"m.read\":{"
                                        "\"@zed:remote.test\":{\"event_ids\":[\"%s\"],\"data\":{\"ts\":42}}}}}}",
                                        t->room, t->event)), 0);
    clfix_restart(&t->f);
    attach_edus(t);
    json_t *s = sync(t, t->bob, NULL);
    assert_int_equal(json_array_size(to_device(s)), 1);
    json_t *m = json_array_get(to_device(s), 0);
    assert_string_equal(json_string_value(json_object_get(m, "sender")), "@zed:remote.test");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "content"), "from")), "afar");
    json_t *r = receipt_of(ephemeral(s, t->room, "m.receipt"), t->event, "m.read", "@zed:remote.test");
    assert_int_equal(json_integer_value(json_object_get(r, "ts")), 42);
    json_decref(s);
    s = sync(t, t->bob2, NULL);
    assert_int_equal(json_array_size(to_device(s)), 1);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(to_device_is_delivered_once_and_survives_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(to_device_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(to_device_mixed_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(long_poll_wakes_for_to_device, setup, teardown),
        cmocka_unit_test_setup_teardown(typing_in_sync_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(typing_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(receipts_in_sync_private_hidden, setup, teardown),
        cmocka_unit_test_setup_teardown(fully_read_and_read_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(receipt_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(remote_edus_are_durable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
