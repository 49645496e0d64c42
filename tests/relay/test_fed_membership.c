/* relay/federation/membership.c through the dispatcher: make/send join,
 * leave and knock, invite v2; the HTTP shapes, the ACL gate and the error
 * bodies. The handshake logic itself is tested in tests/rooms. */
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

#define FED1 "/_matrix/federation/v1"
#define FED2 "/_matrix/federation/v2"

struct t {
    struct fedfix f;
    char room[MXR_ID_MAX + 1];
    json_t *empty;   /* {} as a request body */
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    fedfix_open(&t->f, NULL, NULL);
    rfx_room(&t->f.rf, "11", "public_chat", t->room);
    t->empty = json_object();
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    fedfix_close(&t->f);
    json_decref(t->empty);
    free(t);
    return 0;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Fills, signs (as b.test) and identifies a template from make_*. */
static json_t *finish(struct t *t, json_t *tmpl, char id[MXR_ID_MAX + 1])
{
    json_t *ev = json_deep_copy(tmpl);
    json_object_set_new(ev, "origin", json_string("b.test"));
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_pdu_sign(ev, rv, "b.test", &t->f.rf.b_key, &err), 0);
    assert_int_equal(mxr_event_compute_id(ev, rv, id, &err), 0);
    return ev;
}

static void join_handshake(void **state)
{
    struct t *t = *state;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/%s?ver=10&ver=11", fedfix_q(t->room),
                                        fedfix_q(BOB));
    assert_int_equal(r->status, 200);
    assert_string_equal(str(r->json, "room_version"), "11");
    json_t *tmpl = json_object_get(r->json, "event");
    assert_string_equal(str(tmpl, "room_id"), t->room);
    assert_string_equal(str(tmpl, "sender"), BOB);
    assert_string_equal(str(tmpl, "state_key"), BOB);
    assert_string_equal(str(tmpl, "type"), "m.room.member");
    assert_string_equal(str(json_object_get(tmpl, "content"), "membership"), "join");
    char id[MXR_ID_MAX + 1], target[1024];
    json_t *ev = finish(t, tmpl, id);
    /* the event ID in the path must be the event's */
    snprintf(target, sizeof target, FED2 "/send_join/%s/%s", fedfix_q(t->room),
             fedfix_q("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", target, ev), 400, "M_INVALID_PARAM", NULL);
    /* a join sent by another server than the user's */
    snprintf(target, sizeof target, FED2 "/send_join/%s/%s", fedfix_q(t->room), fedfix_q(id));
    assert_matrix_error(fedfix_req(&t->f, "c.test", "PUT", target, ev), 400, "M_INVALID_PARAM", NULL);
    snprintf(target, sizeof target, FED2 "/send_join/%s/%s?omit_members=true", fedfix_q(t->room), fedfix_q(id));
    r = fedfix_req(&t->f, "b.test", "PUT", target, ev);
    assert_int_equal(r->status, 200);
    assert_true(json_is_array(json_object_get(r->json, "state")));
    assert_true(json_is_array(json_object_get(r->json, "auth_chain")));
    /* joins-v2.yaml: servers_in_room is required when members_omitted */
    if (json_is_true(json_object_get(r->json, "members_omitted")))
        assert_true(rfx_array_has(json_object_get(r->json, "servers_in_room"), "a.test"));
    assert_string_equal(rfx_membership(&t->f.rf, t->room, BOB), "join");
    /* omit_members must be a boolean */
    snprintf(target, sizeof target, FED2 "/send_join/%s/%s?omit_members=maybe", fedfix_q(t->room), fedfix_q(id));
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", target, t->empty), 400, "M_INVALID_PARAM", NULL);
    /* v1 send_join (removed in v1.18, still called by older servers): the
     * same join, answered [200, {origin, auth_chain, state}] */
    snprintf(target, sizeof target, FED1 "/send_join/%s/%s", fedfix_q(t->room), fedfix_q(id));
    r = fedfix_req(&t->f, "b.test", "PUT", target, ev);
    assert_int_equal(r->status, 200);
    assert_true(json_is_array(r->json));
    assert_int_equal(json_array_size(r->json), 2);
    assert_int_equal(json_integer_value(json_array_get(r->json, 0)), 200);
    json_t *v1 = json_array_get(r->json, 1);
    assert_true(json_is_array(json_object_get(v1, "state")));
    assert_true(json_is_array(json_object_get(v1, "auth_chain")));
    assert_null(json_object_get(v1, "members_omitted"));
    json_decref(ev);
}

static void make_join_failures(void **state)
{
    struct t *t = *state;
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/%s?ver=1&ver=2", fedfix_q(t->room),
                                        fedfix_q(BOB));
    assert_int_equal(r->status, 400);
    assert_string_equal(str(r->json, "errcode"), "M_INCOMPATIBLE_ROOM_VERSION");
    assert_string_equal(str(r->json, "room_version"), "11");
    /* no ver at all means ["1"] */
    r = fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/%s", fedfix_q(t->room), fedfix_q(BOB));
    assert_string_equal(str(r->json, "errcode"), "M_INCOMPATIBLE_ROOM_VERSION");
    assert_matrix_error(fedfix_get(&t->f, "c.test", FED1 "/make_join/%s/%s?ver=11", fedfix_q(t->room), fedfix_q(BOB)),
                        403, "M_FORBIDDEN", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/%s?ver=11", fedfix_q("!nope:a.test"),
                                   fedfix_q(BOB)), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/bob?ver=11", fedfix_q(t->room)), 400,
                        "M_INVALID_PARAM", NULL);
    assert_matrix_error(fedfix_get(&t->f, NULL, FED1 "/make_join/%s/%s?ver=11", fedfix_q(t->room), fedfix_q(BOB)), 401,
                        "M_UNAUTHORIZED", NULL);
    /* an invite-only room refuses the join */
    char closed[MXR_ID_MAX + 1];
    rfx_room(&t->f.rf, "11", "private_chat", closed);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/%s?ver=11", fedfix_q(closed), fedfix_q(BOB)),
                        403, "M_FORBIDDEN", NULL);
}

static void leave_handshake(void **state)
{
    struct t *t = *state;
    fedfix_join(&t->f, t->room, BOB, NULL);
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED1 "/make_leave/%s/%s", fedfix_q(t->room), fedfix_q(BOB));
    assert_int_equal(r->status, 200);
    assert_string_equal(str(json_object_get(json_object_get(r->json, "event"), "content"), "membership"), "leave");
    char id[MXR_ID_MAX + 1], target[1024];
    json_t *ev = finish(t, json_object_get(r->json, "event"), id);
    snprintf(target, sizeof target, FED2 "/send_leave/%s/%s", fedfix_q(t->room), fedfix_q(id));
    r = fedfix_req(&t->f, "b.test", "PUT", target, ev);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_object_size(r->json), 0);
    /* v1 send_leave: [200, {}] */
    snprintf(target, sizeof target, FED1 "/send_leave/%s/%s", fedfix_q(t->room), fedfix_q(id));
    r = fedfix_req(&t->f, "b.test", "PUT", target, ev);
    assert_int_equal(r->status, 200);
    assert_true(json_is_array(r->json));
    assert_int_equal(json_integer_value(json_array_get(r->json, 0)), 200);
    assert_int_equal(json_object_size(json_array_get(r->json, 1)), 0);
    json_decref(ev);
    assert_string_equal(rfx_membership(&t->f.rf, t->room, BOB), "leave");
}

static void knock_handshake(void **state)
{
    struct t *t = *state;
    char room[MXR_ID_MAX + 1];
    rfx_room(&t->f.rf, "11", "private_chat", room);
    rfx_send(&t->f.rf, room, ALICE, "m.room.join_rules", "", "{\"join_rule\":\"knock\"}", NULL);
    /* knocks.yaml: ver is required */
    struct mxr_response *r = fedfix_get(&t->f, "b.test", FED1 "/make_knock/%s/%s", fedfix_q(room), fedfix_q(BOB));
    assert_int_equal(r->status, 400);
    assert_string_equal(str(r->json, "errcode"), "M_INCOMPATIBLE_ROOM_VERSION");
    assert_string_equal(str(r->json, "room_version"), "11");
    r = fedfix_get(&t->f, "b.test", FED1 "/make_knock/%s/%s?ver=11", fedfix_q(room), fedfix_q(BOB));
    assert_int_equal(r->status, 200);
    char id[MXR_ID_MAX + 1], target[1024];
    json_t *ev = finish(t, json_object_get(r->json, "event"), id);
    snprintf(target, sizeof target, FED1 "/send_knock/%s/%s", fedfix_q(room), fedfix_q(id));
    r = fedfix_req(&t->f, "b.test", "PUT", target, ev);
    assert_int_equal(r->status, 200);
    json_t *krs = json_object_get(r->json, "knock_room_state");
    assert_true(json_is_array(krs) && json_array_size(krs) > 0);
    json_decref(ev);
    assert_string_equal(rfx_membership(&t->f.rf, room, BOB), "knock");
}

/* An invite of b.test's room for our dave. */
static json_t *invite_body(struct t *t, const char *invitee, const char *version, char id[MXR_ID_MAX + 1])
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:I, s:i, s:[s], s:[s]}", "room_id", "!remote:b.test", "type",
                           "m.room.member", "sender", BOB, "state_key", invitee, "content", "membership", "invite",
                           "origin_server_ts", (json_int_t)t->f.rf.now, "depth", 7, "prev_events",
                           "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "auth_events",
                           "$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA");
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_pdu_sign(ev, rv, "b.test", &t->f.rf.b_key, &err), 0);
    assert_int_equal(mxr_event_compute_id(ev, rv, id, &err), 0);
    return json_pack("{s:s, s:o, s:[]}", "room_version", version, "event", ev, "invite_room_state");
}

static void invite(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1], target[1024];
    json_t *body = invite_body(t, "@dave:a.test", "11", id);
    snprintf(target, sizeof target, FED2 "/invite/%s/%s", fedfix_q("!remote:b.test"), fedfix_q(id));
    struct mxr_response *r = fedfix_req(&t->f, "b.test", "PUT", target, body);
    assert_int_equal(r->status, 200);
    json_t *sigs = json_object_get(json_object_get(r->json, "event"), "signatures");
    assert_non_null(json_object_get(sigs, "a.test"));
    assert_non_null(json_object_get(sigs, "b.test"));
    json_decref(body);
    /* an unknown room version: M_INCOMPATIBLE_ROOM_VERSION with room_version */
    body = invite_body(t, "@dave:a.test", "99", id);
    snprintf(target, sizeof target, FED2 "/invite/%s/%s", fedfix_q("!remote:b.test"), fedfix_q(id));
    r = fedfix_req(&t->f, "b.test", "PUT", target, body);
    assert_int_equal(r->status, 400);
    assert_string_equal(str(r->json, "errcode"), "M_INCOMPATIBLE_ROOM_VERSION");
    assert_string_equal(str(r->json, "room_version"), "99");
    json_decref(body);
    /* not our user */
    body = invite_body(t, "@dave:c.test", "11", id);
    snprintf(target, sizeof target, FED2 "/invite/%s/%s", fedfix_q("!remote:b.test"), fedfix_q(id));
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", target, body), 400, "M_INVALID_PARAM", NULL);
    json_decref(body);
    /* missing event */
    body = json_pack("{s:s}", "room_version", "11");
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", target, body), 400, "M_MISSING_PARAM", NULL);
    json_decref(body);
}

static void acl_protects_the_handshakes(void **state)
{
    struct t *t = *state;
    rfx_send(&t->f.rf, t->room, ALICE, "m.room.server_acl", "", "{\"allow\":[\"a.test\",\"c.*\"]}", NULL);
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED1 "/make_join/%s/%s?ver=11", fedfix_q(t->room), fedfix_q(BOB)),
                        403, "M_FORBIDDEN", "server ACL");
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED1 "/make_leave/%s/%s", fedfix_q(t->room), fedfix_q(BOB)), 403,
                        "M_FORBIDDEN", "server ACL");
    assert_matrix_error(fedfix_get(&t->f, "b.test", FED1 "/make_knock/%s/%s?ver=11", fedfix_q(t->room), fedfix_q(BOB)),
                        403, "M_FORBIDDEN", "server ACL");
    char target[1024];
    snprintf(target, sizeof target, FED2 "/send_join/%s/%s", fedfix_q(t->room),
             fedfix_q("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", target, t->empty), 403, "M_FORBIDDEN", "server ACL");
    snprintf(target, sizeof target, FED2 "/invite/%s/%s", fedfix_q(t->room),
             fedfix_q("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_matrix_error(fedfix_req(&t->f, "b.test", "PUT", target, t->empty), 403, "M_FORBIDDEN", "server ACL");
    /* c.test is allowed */
    fedfix_join(&t->f, t->room, CAROL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(join_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(make_join_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(leave_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(knock_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(invite, setup, teardown),
        cmocka_unit_test_setup_teardown(acl_protects_the_handshakes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
