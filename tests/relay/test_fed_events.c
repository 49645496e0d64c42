/* relay/federation/events.c through the dispatcher: /event, /state,
 * /state_ids, /backfill, /get_missing_events, /event_auth,
 * /timestamp_to_event, with bob of b.test in the room and c.test outside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fedfix.h"

#define FED "/_matrix/federation/v1"

struct t {
    struct fedfix f;
    char room[MXR_ID_MAX + 1];
    char m1[MXR_ID_MAX + 1], m2[MXR_ID_MAX + 1], m3[MXR_ID_MAX + 1];   /* bob's messages at ts +1s, +2s, +3s */
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    fedfix_open(&t->f, NULL, NULL);
    fedfix_room_with_bob(&t->f, "11", "public_chat", t->room);
    char *ids[3] = { t->m1, t->m2, t->m3 };
    for (int i = 0; i < 3; i++) {
        t->f.rf.now += 1000;
        json_t *pdu = RFX_PDU(&t->f.rf, t->room, ids[i], .type = "m.room.message", .sender = BOB,
                              .content = "{\"msgtype\":\"m.text\",\"body\":\"hi\"}");
        char txn[16];
        snprintf(txn, sizeof txn, "s%d", i);
        assert_true(fedfix_ok(fedfix_send(&t->f, "b.test", txn, json_pack("[o]", pdu), NULL), ids[i]));
    }
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

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Whether a JSON array of PDUs has one of the given type. */
static bool has_type(const json_t *pdus, const char *type)
{
    size_t i;
    const json_t *p;
    json_array_foreach(pdus, i, p)
        if (str(p, "type") && !strcmp(str(p, "type"), type))
            return true;
    return false;
}

static void event(void **state)
{
    struct t *t = *state;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED "/event/%s", fedfix_q(t->m2));
    assert_int_equal(r->status, 200);
    /* single_pdu_transaction.yaml: origin, origin_server_ts, pdus (one) */
    assert_string_equal(str(r->json, "origin"), "a.test");
    assert_true(json_is_integer(json_object_get(r->json, "origin_server_ts")));
    assert_int_equal(json_array_size(json_object_get(r->json, "pdus")), 1);
    assert_null(json_object_get(json_array_get(json_object_get(r->json, "pdus"), 0), "unsigned"));
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/event/%s",
                                   fedfix_q("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/event/nonsense"), 404, "M_NOT_FOUND", NULL);
    /* c.test has nobody in the room */
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED "/event/%s", fedfix_q(t->m2)), 403, "M_FORBIDDEN", NULL);
    assert_matrix_error(fedfix_get(&t->f, NULL, FED "/event/%s", fedfix_q(t->m2)), 401, "M_UNAUTHORIZED", NULL);
}

static void history_visibility_hides_events(void **state)
{
    struct t *t = *state;
    /* joined-only history: c.test's carol joins after m3 and may not see it */
    rfx_send(&t->f.rf, t->room, ALICE, "m.room.history_visibility", "", "{\"history_visibility\":\"joined\"}", NULL);
    char hidden[MXR_ID_MAX + 1];
    rfx_send(&t->f.rf, t->room, ALICE, "m.room.message", NULL, "{\"body\":\"before carol\"}", hidden);
    char join[MXR_ID_MAX + 1];
    fedfix_join(&t->f, t->room, CAROL, join);
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED "/event/%s", fedfix_q(hidden)), 403, "M_FORBIDDEN",
                        "history visibility");
    assert_int_equal(fedfix_get(&t->f, "c.test", FED "/event/%s", fedfix_q(join))->status, 200);
    /* backfill serves it redacted, keeping the DAG connected */
    struct mxr_response *r = fedfix_get(&t->f, "c.test", FED "/backfill/%s?v=%s&limit=2", fedfix_q(t->room),
                                        fedfix_q(join));
    assert_int_equal(r->status, 200);
    json_t *pdus = json_object_get(r->json, "pdus");
    assert_int_equal(json_array_size(pdus), 2);
    assert_null(json_object_get(json_object_get(json_array_get(pdus, 1), "content"), "body"));
}

static void state_and_state_ids(void **state)
{
    struct t *t = *state;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED "/state_ids/%s?event_id=%s", fedfix_q(t->room),
                                        fedfix_q(t->m2));
    assert_int_equal(r->status, 200);
    json_t *ids = json_object_get(r->json, "pdu_ids"), *chain = json_object_get(r->json, "auth_chain_ids");
    assert_true(json_is_array(ids) && json_is_array(chain));
    assert_string_not_equal(rfx_current(&t->f.rf, t->room, "m.room.create", ""), "");
    assert_true(rfx_array_has(ids, rfx_current(&t->f.rf, t->room, "m.room.create", "")));
    assert_true(rfx_array_has(ids, rfx_current(&t->f.rf, t->room, "m.room.member", BOB)));
    assert_false(rfx_array_has(ids, t->m2));
    size_t n_ids = json_array_size(ids);
    r = fedfix_get(&t->f, "b.test", FED "/state/%s?event_id=%s", fedfix_q(t->room), fedfix_q(t->m2));
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(json_object_get(r->json, "pdus")), n_ids);
    assert_true(has_type(json_object_get(r->json, "pdus"), "m.room.power_levels"));
    assert_true(json_is_array(json_object_get(r->json, "auth_chain")));
    /* the state before a state event excludes its own change */
    char name[MXR_ID_MAX + 1];
    rfx_send(&t->f.rf, t->room, ALICE, "m.room.name", "", "{\"name\":\"n\"}", name);
    r = fedfix_get(&t->f, "b.test", FED "/state_ids/%s?event_id=%s", fedfix_q(t->room), fedfix_q(name));
    assert_false(rfx_array_has(json_object_get(r->json, "pdu_ids"), name));
    /* failures */
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/state_ids/%s", fedfix_q(t->room)), 400, "M_MISSING_PARAM",
                        "event_id");
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/state_ids/%s?event_id=%s", fedfix_q("!unknown:a.test"),
                                   fedfix_q(t->m2)), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/state_ids/%s?event_id=%s", fedfix_q(t->room),
                                   fedfix_q("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED "/state/%s?event_id=%s", fedfix_q(t->room), fedfix_q(t->m2)),
                        403, "M_FORBIDDEN", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/state_ids/not-a-room?event_id=%s", fedfix_q(t->m2)), 400,
                        "M_INVALID_PARAM", NULL);
}

static void backfill(void **state)
{
    struct t *t = *state;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED "/backfill/%s?v=%s&limit=2", fedfix_q(t->room),
                                        fedfix_q(t->m3));
    assert_int_equal(r->status, 200);
    json_t *pdus = json_object_get(r->json, "pdus");
    assert_string_equal(str(r->json, "origin"), "a.test");
    assert_int_equal(json_array_size(pdus), 2);
    /* the given event and its predecessor, deepest first */
    char id[MXR_ID_MAX + 1];
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    assert_int_equal(mxr_event_compute_id(json_array_get(pdus, 0), rv, id, NULL), 0);
    assert_string_equal(id, t->m3);
    assert_int_equal(mxr_event_compute_id(json_array_get(pdus, 1), rv, id, NULL), 0);
    assert_string_equal(id, t->m2);
    /* the whole room, with a large limit */
    r = fedfix_get(&t->f, "b.test", FED "/backfill/%s?v=%s&limit=1000", fedfix_q(t->room), fedfix_q(t->m3));
    assert_true(has_type(json_object_get(r->json, "pdus"), "m.room.create"));
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/backfill/%s?v=%s", fedfix_q(t->room), fedfix_q(t->m3)), 400,
                        "M_MISSING_PARAM", "limit");
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/backfill/%s?limit=3", fedfix_q(t->room)), 400,
                        "M_MISSING_PARAM", "'v'");
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/backfill/%s?v=%s&limit=x", fedfix_q(t->room),
                                   fedfix_q(t->m3)), 400, "M_INVALID_PARAM", NULL);
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED "/backfill/%s?v=%s&limit=3", fedfix_q(t->room),
                                   fedfix_q(t->m3)), 403, "M_FORBIDDEN", NULL);
}

static void get_missing_events(void **state)
{
    struct t *t = *state;
    char target[512];
    snprintf(target, sizeof target, FED "/get_missing_events/%s", fedfix_q(t->room));
    json_t *body = json_pack("{s:[s], s:[s], s:i}", "earliest_events", t->m1, "latest_events", t->m3, "limit", 10);
    struct mxr_response *r = fedfix_req(&t->f, "b.test", "POST", target, body);
    json_decref(body);
    assert_int_equal(r->status, 200);
    json_t *events = json_object_get(r->json, "events");
    assert_int_equal(json_array_size(events), 1);   /* m2: between m1 (known) and m3 (excluded) */
    char id[MXR_ID_MAX + 1];
    assert_int_equal(mxr_event_compute_id(json_array_get(events, 0), mxr_room_version_get("11", NULL), id, NULL), 0);
    assert_string_equal(id, t->m2);
    body = json_pack("{s:[s]}", "latest_events", t->m3);
    assert_matrix_error(fedfix_req(&t->f, "b.test", "POST", target, body), 400, "M_MISSING_PARAM", "earliest_events");
    json_decref(body);
    body = json_pack("{s:[], s:[i]}", "earliest_events", "latest_events", 3);
    assert_matrix_error(fedfix_req(&t->f, "b.test", "POST", target, body), 400, "M_BAD_JSON", NULL);
    json_decref(body);
    body = json_pack("{s:[], s:[s]}", "earliest_events", "latest_events", t->m3);
    assert_matrix_error(fedfix_req(&t->f, "c.test", "POST", target, body), 403, "M_FORBIDDEN", NULL);
    json_decref(body);
}

static void event_auth(void **state)
{
    struct t *t = *state;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED "/event_auth/%s/%s", fedfix_q(t->room), fedfix_q(t->m2));
    assert_int_equal(r->status, 200);
    json_t *chain = json_object_get(r->json, "auth_chain");
    assert_true(has_type(chain, "m.room.create"));
    assert_true(has_type(chain, "m.room.power_levels"));
    assert_false(has_type(chain, "m.room.message"));
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/event_auth/%s/%s", fedfix_q(t->room),
                                   fedfix_q("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED "/event_auth/%s/%s", fedfix_q(t->room), fedfix_q(t->m2)), 403,
                        "M_FORBIDDEN", NULL);
}

static void timestamp_to_event(void **state)
{
    struct t *t = *state;
    int64_t t2 = FIXTURE_T0 + 2000;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED "/timestamp_to_event/%s?ts=%lld&dir=f", fedfix_q(t->room),
                                        (long long)(t2 - 500));
    assert_int_equal(r->status, 200);
    assert_string_equal(str(r->json, "event_id"), t->m2);
    assert_int_equal(json_integer_value(json_object_get(r->json, "origin_server_ts")), t2);
    r = fedfix_get(&t->f, "b.test", FED "/timestamp_to_event/%s?ts=%lld&dir=b", fedfix_q(t->room),
                   (long long)(t2 + 500));
    assert_string_equal(str(r->json, "event_id"), t->m2);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/timestamp_to_event/%s?ts=%lld&dir=f", fedfix_q(t->room),
                                   (long long)(t2 + 5000)), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/timestamp_to_event/%s?ts=1&dir=x", fedfix_q(t->room)), 400,
                        "M_INVALID_PARAM", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED "/timestamp_to_event/%s?dir=f", fedfix_q(t->room)), 400,
                        "M_MISSING_PARAM", NULL);
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED "/timestamp_to_event/%s?ts=1&dir=f", fedfix_q(t->room)), 403,
                        "M_FORBIDDEN", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(event, setup, teardown),
        cmocka_unit_test_setup_teardown(history_visibility_hides_events, setup, teardown),
        cmocka_unit_test_setup_teardown(state_and_state_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(backfill, setup, teardown),
        cmocka_unit_test_setup_teardown(get_missing_events, setup, teardown),
        cmocka_unit_test_setup_teardown(event_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(timestamp_to_event, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
