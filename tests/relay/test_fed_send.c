/* relay/federation/send.c and edus.c through the dispatcher: PUT
 * /send/{txnId} with PDUs signed by b.test in a room of a.test that bob of
 * b.test joined over make_join/send_join. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fedfix.h"
#include "mxr/pdu.h"
#include "relay/federation/edus.h"

struct t {
    struct fedfix f;
    char room[MXR_ID_MAX + 1];
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    fedfix_open(&t->f, NULL, NULL);
    fedfix_room_with_bob(&t->f, "11", "public_chat", t->room);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    fedfix_close(&t->f);
    free(t);
    return 0;
}

static json_t *msg(struct t *t, const char *sender, const char *body, char id[MXR_ID_MAX + 1])
{
    char content[256];
    snprintf(content, sizeof content, "{\"msgtype\":\"m.text\",\"body\":\"%s\"}", body);
    return RFX_PDU(&t->f.rf, t->room, id, .type = "m.room.message", .sender = sender, .content = content);
}

static json_t *txn_body(const char *origin, json_t *pdus, json_t *edus)
{
    json_t *b = json_pack("{s:s, s:I, s:o}", "origin", origin, "origin_server_ts", (json_int_t)FIXTURE_T0, "pdus",
                          pdus ? pdus : json_array());
    if (edus)
        json_object_set_new(b, "edus", edus);
    return b;
}

/* ---- the envelope ------------------------------------------------------------------ */

static void empty_transaction(void **state)
{
    struct t *t = *state;
    json_t *res = fedfix_send(&t->f, "b.test", "e1", NULL, NULL);
    assert_int_equal(json_object_size(res), 0);
    assert_int_equal(json_object_size(t->f.r.json), 1);
}

static void unsigned_is_401(void **state)
{
    struct t *t = *state;
    json_t *b = txn_body("b.test", NULL, NULL);
    assert_matrix_error(fedfix_req(&t->f, NULL, "PUT", "/_matrix/federation/v1/send/u1", b), 401, "M_UNAUTHORIZED", NULL);
    json_decref(b);
}

static void origin_must_match(void **state)
{
    struct t *t = *state;
    json_t *b = txn_body("c.test", NULL, NULL);
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/o1", b), 403, "M_FORBIDDEN",
                        "authenticated origin");
    json_decref(b);
}

static void envelope_limits_and_shape(void **state)
{
    struct t *t = *state;
    json_t *pdus = json_array();
    for (int i = 0; i < 51; i++)
        json_array_append_new(pdus, json_object());
    json_t *b = txn_body("b.test", pdus, NULL);
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/l1", b), 400, "M_BAD_JSON",
                        "at most 50");
    json_decref(b);
    json_t *edus = json_array();
    for (int i = 0; i < 101; i++)
        json_array_append_new(edus, json_pack("{s:s, s:{}}", "edu_type", "m.x", "content"));
    b = txn_body("b.test", NULL, edus);
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/l2", b), 400, "M_BAD_JSON",
                        "at most 100");
    json_decref(b);
    /* exactly 50 PDUs and 100 EDUs are fine (all unusable, none fatal) */
    t->f.fx.cfg.max_request_bytes = 1 << 20;
    pdus = json_array();
    for (int i = 0; i < 50; i++)
        json_array_append_new(pdus, json_object());
    edus = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(edus, json_pack("{s:s, s:{}}", "edu_type", "org.example.unknown", "content"));
    b = txn_body("b.test", pdus, edus);
    assert_int_equal(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/l3", b)->status, 200);
    json_decref(b);
    /* missing pdus, pdus not an array, edus not an array */
    b = json_pack("{s:s, s:I}", "origin", "b.test", "origin_server_ts", (json_int_t)1);
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/l4", b), 400, "M_BAD_JSON", "pdus");
    json_decref(b);
    b = json_pack("{s:s, s:I, s:{}}", "origin", "b.test", "origin_server_ts", (json_int_t)1, "pdus");
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/l5", b), 400, "M_BAD_JSON", NULL);
    json_decref(b);
    b = json_pack("{s:s, s:I, s:[], s:{}}", "origin", "b.test", "origin_server_ts", (json_int_t)1, "pdus", "edus");
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", "/_matrix/federation/v1/send/l6", b), 400, "M_BAD_JSON", "edus");
    json_decref(b);
    /* not JSON at all: the dispatcher's 400 M_NOT_JSON */
    struct mxr_response r;
    fixture_request(&t->f.fx, "PUT", "/_matrix/federation/v1/send/l7", NULL, "{not json", &r, NULL);
    assert_matrix_error(&r, 400, "M_NOT_JSON", NULL);
    mxr_response_clear(&r);
}

/* ---- PDUs ------------------------------------------------------------------------------- */

static void accepted_and_served(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    json_t *res = fedfix_send(&t->f, "b.test", "a1", json_pack("[o]", msg(t, BOB, "hello", id)), NULL);
    assert_true(fedfix_ok(res, id));
    struct mxr_response *r = fedfix_get(&t->f, "b.test", "/_matrix/federation/v1/event/%s", fedfix_q(id));
    assert_int_equal(r->status, 200);
    json_t *pdu = json_array_get(json_object_get(r->json, "pdus"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pdu, "content"), "body")), "hello");
    assert_string_equal(json_string_value(json_object_get(r->json, "origin")), "a.test");
}

static void duplicate_transaction_gets_stored_response(void **state)
{
    struct t *t = *state;
    char a[MXR_ID_MAX + 1], b[MXR_ID_MAX + 1];
    json_t *first = json_pack("[o]", msg(t, BOB, "first", a));
    json_t *res = fedfix_send(&t->f, "b.test", "dup", first, NULL);
    char *r1 = json_dumps(t->f.r.json, JSON_SORT_KEYS);
    assert_true(fedfix_ok(res, a));
    /* The same txnId again, even with another body: the stored answer, nothing processed. */
    res = fedfix_send(&t->f, "b.test", "dup", json_pack("[o]", msg(t, BOB, "second", b)), NULL);
    char *r2 = json_dumps(t->f.r.json, JSON_SORT_KEYS);
    assert_string_equal(r1, r2);
    assert_false(rfx_stored(&t->f.rf, b));
    /* Another origin may use the same txnId. */
    res = fedfix_send(&t->f, "c.test", "dup", NULL, NULL);
    assert_int_equal(json_object_size(res), 0);
    free(r1);
    free(r2);
}

static void bad_pdus_fail_alone(void **state)
{
    struct t *t = *state;
    char good[MXR_ID_MAX + 1], badsig[MXR_ID_MAX + 1], forged[MXR_ID_MAX + 1], stranger[MXR_ID_MAX + 1],
        unsig[MXR_ID_MAX + 1];
    json_t *g = msg(t, BOB, "good", good);
    /* signed with another key under b.test's key ID */
    json_t *bs = RFX_PDU(&t->f.rf, t->room, badsig, .type = "m.room.message", .sender = BOB, .content = "{\"body\":\"x\"}",
                         .key = &t->f.rf.wrong_key);
    /* a user of c.test, signed (only) by b.test */
    json_t *fg = RFX_PDU(&t->f.rf, t->room, forged, .type = "m.room.message", .sender = CAROL,
                         .content = "{\"body\":\"forged\"}", .key = &t->f.rf.b_key);
    json_t *fg2 = json_deep_copy(fg);
    json_t *sigs = json_object_get(fg2, "signatures");
    json_object_set(sigs, "b.test", json_object_get(sigs, "c.test"));
    json_object_del(sigs, "c.test");
    json_decref(fg);
    /* a state event of a user who is not in the room: fails the auth rules */
    json_t *st = RFX_PDU(&t->f.rf, t->room, stranger, .type = "m.room.name", .sender = "@eve:b.test", .state_key = "",
                         .content = "{\"name\":\"eve's room\"}");
    json_t *us = msg(t, BOB, "unsigned", unsig);
    json_object_set_new(us, "signatures", json_object());
    json_t *res = fedfix_send(&t->f, "b.test", "bad1", json_pack("[o, o, o, o, o]", bs, g, fg2, st, us), NULL);
    assert_true(fedfix_ok(res, good));
    assert_false(fedfix_ok(res, badsig));
    assert_false(fedfix_ok(res, forged));
    assert_false(fedfix_ok(res, stranger));
    assert_false(fedfix_ok(res, unsig));
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(res, stranger), "error")), "rejected"));
    assert_false(rfx_stored(&t->f.rf, badsig));
    assert_false(rfx_stored(&t->f.rf, forged));
    assert_false(rfx_stored(&t->f.rf, unsig));
    assert_true(rfx_stored(&t->f.rf, good));
    /* The rejected name is not the room's name. */
    assert_string_not_equal(rfx_current(&t->f.rf, t->room, "m.room.name", ""), stranger);
}

static void bad_hash_is_redacted(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    json_t *pdu = msg(t, BOB, "original", id);
    json_object_set_new(json_object_get(pdu, "content"), "body", json_string("changed after signing"));
    json_t *res = fedfix_send(&t->f, "b.test", "h1", json_pack("[o]", pdu), NULL);
    assert_true(fedfix_ok(res, id));
    struct mxr_response *r = fedfix_get(&t->f, "b.test", "/_matrix/federation/v1/event/%s", fedfix_q(id));
    assert_int_equal(r->status, 200);
    json_t *served = json_array_get(json_object_get(r->json, "pdus"), 0);
    assert_null(json_object_get(json_object_get(served, "content"), "body"));
}

static void oversized_pdu_is_dropped(void **state)
{
    struct t *t = *state;
    char *big = malloc(70000);
    memset(big, 'x', 69999);
    big[69999] = '\0';
    char *content = malloc(70100);
    snprintf(content, 70100, "{\"msgtype\":\"m.text\",\"body\":\"%s\"}", big);
    char id[MXR_ID_MAX + 1];
    json_t *pdu = RFX_PDU(&t->f.rf, t->room, id, .type = "m.room.message", .sender = BOB, .content = content);
    free(big);
    free(content);
    /* The relay's body limit must let the transaction in for the PDU check to speak. */
    t->f.fx.cfg.max_request_bytes = 1 << 20;
    json_t *res = fedfix_send(&t->f, "b.test", "big1", json_pack("[o]", pdu), NULL);
    assert_false(fedfix_ok(res, id));
    assert_false(rfx_stored(&t->f.rf, id));
}

static void unknown_room_is_not_accepted(void **state)
{
    struct t *t = *state;
    json_t *pdu = json_pack("{s:s, s:s, s:s, s:{}, s:I, s:[], s:[], s:I}", "room_id", "!nowhere:b.test", "type",
                            "m.room.message", "sender", BOB, "content", "origin_server_ts", (json_int_t)FIXTURE_T0,
                            "prev_events", "auth_events", "depth", (json_int_t)3);
    struct mxr_err err = { 0 };
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    assert_int_equal(mxr_pdu_sign(pdu, rv, "b.test", &t->f.rf.b_key, &err), 0);
    char id[MXR_ID_MAX + 1];
    assert_int_equal(mxr_event_compute_id(pdu, rv, id, &err), 0);
    json_t *res = fedfix_send(&t->f, "b.test", "nr1", json_pack("[o]", pdu), NULL);
    assert_false(fedfix_ok(res, id));
    assert_false(rfx_stored(&t->f.rf, id));
}

static void unknown_prevs_make_an_outlier(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    const char *missing = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    json_t *pdu = RFX_PDU(&t->f.rf, t->room, id, .type = "m.room.message", .sender = BOB, .content = "{\"body\":\"gap\"}",
                          .prev = RFX_IDS(missing), .depth = 40);
    json_t *res = fedfix_send(&t->f, "b.test", "gap1", json_pack("[o]", pdu), NULL);
    assert_true(fedfix_ok(res, id));
    assert_true(rfx_meta(&t->f.rf, id).flags & MXR_STORE_OUTLIER);
}

static void acknowledged_pdus_survive_a_restart(void **state)
{
    struct t *t = *state;
    char topic[MXR_ID_MAX + 1], m[MXR_ID_MAX + 1];
    /* a state event bob may send: his own membership, renamed */
    json_t *a = RFX_PDU(&t->f.rf, t->room, topic, .type = "m.room.member", .sender = BOB, .state_key = BOB,
                        .content = "{\"membership\":\"join\",\"displayname\":\"Bob 2\"}");
    json_t *res = fedfix_send(&t->f, "b.test", "r1", json_pack("[o]", a), NULL);
    if (!fedfix_ok(res, topic))
        fail_msg("%s", json_dumps(res, 0));
    res = fedfix_send(&t->f, "b.test", "r2", json_pack("[o]", msg(t, BOB, "after", m)), NULL);
    assert_true(fedfix_ok(res, m));
    fedfix_reopen(&t->f);
    assert_int_equal(fedfix_get(&t->f, "b.test", "/_matrix/federation/v1/event/%s", fedfix_q(topic))->status, 200);
    struct mxr_response *r = fedfix_get(&t->f, "b.test", "/_matrix/federation/v1/state_ids/%s?event_id=%s",
                                        fedfix_q(t->room), fedfix_q(m));
    assert_int_equal(r->status, 200);
    assert_true(rfx_array_has(json_object_get(r->json, "pdu_ids"), topic));
    /* The transaction record survived too. */
    res = fedfix_send(&t->f, "b.test", "r2", NULL, NULL);
    assert_true(fedfix_ok(res, m));
}

/* ---- ACLs -------------------------------------------------------------------------------- */

static void server_acl_applies_per_pdu_and_edu(void **state)
{
    struct t *t = *state;
    rfx_send(&t->f.rf, t->room, ALICE, "m.room.server_acl", "",
             "{\"allow\":[\"*\"],\"deny\":[\"b.*\"],\"allow_ip_literals\":false}", NULL);
    char id[MXR_ID_MAX + 1];
    json_t *edus = json_pack("[{s:s, s:{s:s, s:s, s:b}}]", "edu_type", "m.typing", "content", "room_id", t->room,
                             "user_id", BOB, "typing", 1);
    json_t *res = fedfix_send(&t->f, "b.test", "acl1", json_pack("[o]", msg(t, BOB, "denied", id)), edus);
    json_decref(edus);
    json_t *e = json_object_get(json_object_get(res, id), "error");
    assert_non_null(strstr(json_string_value(e), "server ACL"));
    assert_false(rfx_stored(&t->f.rf, id));
    json_t *typing = mxr_edu_typing(t->f.fx.srv.edus, t->room, FIXTURE_T0);
    assert_int_equal(json_array_size(typing), 0);
    json_decref(typing);
    /* Room-scoped reads and handshakes are refused too. */
    assert_matrix_error(fedfix_get(&t->f, "b.test", "/_matrix/federation/v1/state_ids/%s?event_id=%s",
                                   fedfix_q(t->room), fedfix_q(id)), 403, "M_FORBIDDEN", "server ACL");
    assert_matrix_error(fedfix_get(&t->f, "b.test", "/_matrix/federation/v1/make_join/%s/%s?ver=11",
                                   fedfix_q(t->room), fedfix_q("@new:b.test")), 403, "M_FORBIDDEN", "server ACL");
}

/* ---- EDUs -------------------------------------------------------------------------------- */

static void edus_are_validated_and_stored(void **state)
{
    struct t *t = *state;
    struct mxr_edu_store *s = t->f.fx.srv.edus;
    char last[MXR_ID_MAX + 1];
    fedfix_send(&t->f, "b.test", "m1", json_pack("[o]", msg(t, BOB, "read me", last)), NULL);
    json_t *edus = json_pack(
        "[{s:s, s:{s:s, s:s, s:b}},"              /* typing: bob, joined */
        " {s:s, s:{s:s, s:s, s:b}},"              /* typing: eve, not joined: ignored */
        " {s:s, s:{s:{s:{s:{s:[s], s:{s:I}}}}}}," /* receipt */
        " {s:s, s:{s:[{s:s, s:s, s:I}]}},"        /* presence */
        " {s:s, s:{s:s, s:s, s:s, s:{s:{s:{s:s}}}}}," /* to-device for alice */
        " {s:s, s:{s:s, s:s, s:I, s:s}},"         /* device list update */
        " {s:s, s:{s:s}},"                        /* signing key update, no keys */
        " {s:s, s:{s:s, s:s, s:b}},"              /* typing of a user of c.test from b.test: refused */
        " {s:s, s:s}]",                           /* not an EDU */
        "edu_type", "m.typing", "content", "room_id", t->room, "user_id", BOB, "typing", 1,
        "edu_type", "m.typing", "content", "room_id", t->room, "user_id", "@eve:b.test", "typing", 1,
        "edu_type", "m.receipt", "content", t->room, "m.read", BOB, "event_ids", last, "data", "ts", (json_int_t)5,
        "edu_type", "m.presence", "content", "push", "user_id", BOB, "presence", "online", "last_active_ago",
        (json_int_t)1000,
        "edu_type", "m.direct_to_device", "content", "sender", BOB, "type", "m.room_key_request", "message_id", "mid1",
        "messages", ALICE, "DEVICE", "hello", "there",
        "edu_type", "m.device_list_update", "content", "user_id", BOB, "device_id", "PHONE", "stream_id", (json_int_t)7,
        "device_display_name", "bob's phone",
        "edu_type", "m.signing_key_update", "content", "user_id", BOB,
        "edu_type", "m.typing", "content", "room_id", t->room, "user_id", CAROL, "typing", 1,
        "edu_type", "m.typing", "content", "nope");
    assert_non_null(edus);
    json_t *res = fedfix_send(&t->f, "b.test", "edu1", NULL, edus);
    assert_int_equal(json_object_size(res), 0);
    json_t *v = mxr_edu_typing(s, t->room, FIXTURE_T0);
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(json_string_value(json_array_get(v, 0)), BOB);
    json_decref(v);
    /* typing notices time out */
    v = mxr_edu_typing(s, t->room, FIXTURE_T0 + MXR_TYPING_TIMEOUT_MS + 1);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    v = mxr_edu_receipts(s, t->room);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(json_object_get(v, last), "m.read"), BOB), "ts")), 5);
    json_decref(v);
    v = mxr_edu_presence(s, BOB, FIXTURE_T0 + 500);
    assert_string_equal(json_string_value(json_object_get(v, "presence")), "online");
    assert_int_equal(json_integer_value(json_object_get(v, "last_active_ago")), 1500);
    json_decref(v);
    uint64_t next = 0;
    v = mxr_edu_to_device(s, ALICE, "DEVICE", 0, 10, &next);
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "sender")), BOB);
    json_decref(v);
    v = mxr_edu_device_list(s, BOB);
    assert_int_equal(json_integer_value(json_object_get(v, "stream_id")), 7);
    assert_non_null(json_object_get(json_object_get(v, "devices"), "PHONE"));
    assert_false(json_is_true(json_object_get(v, "stale")));
    json_decref(v);
    v = mxr_edu_signing_keys(s, BOB);
    assert_non_null(v);
    json_decref(v);

    /* The same to-device message again (another transaction): delivered once. */
    json_t *again = json_pack("[{s:s, s:{s:s, s:s, s:s, s:{s:{s:{s:s}}}}}]", "edu_type", "m.direct_to_device",
                              "content", "sender", BOB, "type", "m.room_key_request", "message_id", "mid1", "messages",
                              ALICE, "DEVICE", "hello", "there");
    fedfix_send(&t->f, "b.test", "edu2", NULL, again);
    json_decref(again);
    v = mxr_edu_to_device(s, ALICE, "DEVICE", next, 10, &next);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    json_decref(edus);
}

/* ---- rate limit -------------------------------------------------------------------------- */

static void rate_limited_origin_gets_429(void **state)
{
    (void)state;
    struct fedfix f;
    struct mxr_inbound_limits lim = { 2.0, 3.0 };   /* 2 per second, bursts of 3 */
    fedfix_open(&f, NULL, &lim);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fedfix_get(&f, "b.test", "/_matrix/federation/v1/query/profile?user_id=%s",
                                    fedfix_q("@x:a.test"))->status, 404);
    struct mxr_response *r = fedfix_get(&f, "b.test", "/_matrix/federation/v1/query/profile?user_id=%s",
                                        fedfix_q("@x:a.test"));
    assert_int_equal(r->status, 429);
    assert_string_equal(json_string_value(json_object_get(r->json, "errcode")), "M_LIMIT_EXCEEDED");
    assert_int_equal(json_integer_value(json_object_get(r->json, "retry_after_ms")), 501);
    /* Another origin has its own bucket. */
    assert_int_equal(fedfix_get(&f, "c.test", "/_matrix/federation/v1/query/profile?user_id=%s",
                                fedfix_q("@x:a.test"))->status, 404);
    f.fx.now += 501;
    assert_int_equal(fedfix_get(&f, "b.test", "/_matrix/federation/v1/query/profile?user_id=%s",
                                fedfix_q("@x:a.test"))->status, 404);
    fedfix_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(empty_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(unsigned_is_401, setup, teardown),
        cmocka_unit_test_setup_teardown(origin_must_match, setup, teardown),
        cmocka_unit_test_setup_teardown(envelope_limits_and_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(accepted_and_served, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_transaction_gets_stored_response, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_pdus_fail_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_hash_is_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_pdu_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_room_is_not_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_prevs_make_an_outlier, setup, teardown),
        cmocka_unit_test_setup_teardown(acknowledged_pdus_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(server_acl_applies_per_pdu_and_edu, setup, teardown),
        cmocka_unit_test_setup_teardown(edus_are_validated_and_stored, setup, teardown),
        cmocka_unit_test(rate_limited_origin_gets_429),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
