/* relay/rooms/membership.c: make_join/send_join round trips (public,
 * invited, restricted, partial state), leave, knock, and /invite. The
 * joining server's side (b.test) is played in-test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/event.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "relay/store/invites.h"
#include "tests/rooms/rooms_fixture.h"

#define ALICE "@alice:a.test"
#define BOB "@bob:b.test"

static int setup(void **state)
{
    static struct rfx f;
    rfx_open(&f, NULL);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    rfx_close(*state);
    return 0;
}

static const char *const V11[] = {"10", "11", "12"};

static json_t *make(struct rfx *f, const char *room, const char *user, const char *membership,
                    const char *const *ver, size_t n_ver, struct mxr_err *err, char rv_out[65])
{
    rfx_read_end(f);
    return mxr_rooms_make_membership(f->rooms, "b.test", room, user, membership, ver, n_ver, rv_out, err);
}

/* The joining server's part: checks the template as joins-v1.yaml says,
 * stamps and signs it as b.test. */
static json_t *sign_template(struct rfx *f, const json_t *resp, const char *room, const char *user,
                             const char *membership, char id[MXR_ID_MAX + 1])
{
    const char *ver = json_string_value(json_object_get(resp, "room_version"));
    const struct mxr_room_version *rv = mxr_room_version_get(ver, NULL);
    assert_non_null(rv);
    json_t *ev = json_deep_copy(json_object_get(resp, "event"));
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "room_id")), room);
    assert_string_equal(json_string_value(json_object_get(ev, "sender")), user);
    assert_string_equal(json_string_value(json_object_get(ev, "state_key")), user);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "m.room.member");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "content"), "membership")), membership);
    assert_null(json_object_get(ev, "signatures"));
    assert_null(json_object_get(ev, "hashes"));
    json_object_set_new(ev, "origin", json_string("b.test"));
    json_object_set_new(ev, "origin_server_ts", json_integer(f->now + 1));
    struct mxr_err err = {0};
    if (mxr_pdu_sign(ev, rv, "b.test", &f->b_key, &err) < 0 || mxr_event_compute_id(ev, rv, id, &err) < 0)
        fail_msg("%s", err.msg);
    return ev;
}

static json_t *send(struct rfx *f, const char *room, const char *id, const char *membership, json_t *pdu, bool omit,
                    struct mxr_err *err)
{
    rfx_read_end(f);
    struct mxr_rooms_send_membership_opts o = {.omit_members = omit};
    return mxr_rooms_send_membership(f->rooms, "b.test", room, id, membership, pdu, &o, err);
}

static bool pdus_have_type(const json_t *pdus, const char *type)
{
    size_t i;
    json_t *p;
    json_array_foreach(pdus, i, p) {
        const char *t = json_string_value(json_object_get(p, "type"));
        if (t && strcmp(t, type) == 0)
            return true;
    }
    return false;
}

static bool pdus_have_id(const json_t *pdus, const char *id)
{
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    size_t i;
    json_t *p;
    json_array_foreach(pdus, i, p) {
        char pid[MXR_ID_MAX + 1];
        struct mxr_err err = {0};
        assert_int_equal(mxr_event_compute_id(p, rv, pid, &err), 0);
        if (strcmp(pid, id) == 0)
            return true;
    }
    return false;
}

static void test_join_round_trip(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], rv_out[65];
    rfx_room(f, "11", "public_chat", room);
    struct mxr_err err = {0};
    json_t *resp = make(f, room, BOB, "join", V11, 3, &err, rv_out);
    if (!resp)
        fail_msg("make_join: %s: %s", err.errcode, err.msg);
    assert_string_equal(rv_out, "11");
    assert_string_equal(json_string_value(json_object_get(resp, "room_version")), "11");
    json_t *tmpl = json_object_get(resp, "event");
    assert_string_equal(json_string_value(json_object_get(tmpl, "origin")), "a.test");
    assert_true(json_array_size(json_object_get(tmpl, "prev_events")) == 1);
    assert_true(json_array_size(json_object_get(tmpl, "auth_events")) == 3);   /* create, PL, join rules */
    assert_true(json_integer_value(json_object_get(tmpl, "depth")) > 1);

    json_t *pdu = sign_template(f, resp, room, BOB, "join", id);
    json_decref(resp);
    json_t *again = json_deep_copy(pdu);
    resp = send(f, room, id, "join", pdu, false, &err);
    if (!resp)
        fail_msg("send_join: %s: %s", err.errcode, err.msg);
    /* The state before the join (without bob), the auth chain, the event. */
    json_t *st = json_object_get(resp, "state");
    assert_int_equal(json_array_size(st), 6);
    assert_true(pdus_have_type(st, "m.room.create"));
    assert_true(pdus_have_type(st, "m.room.member"));
    assert_false(pdus_have_id(st, id));
    assert_true(pdus_have_type(json_object_get(resp, "auth_chain"), "m.room.create"));
    assert_true(pdus_have_id(json_object_get(resp, "auth_chain"), rfx_current(f, room, "m.room.member", ALICE)));
    assert_null(json_object_get(resp, "members_omitted"));
    json_t *ev = json_object_get(resp, "event");
    assert_non_null(json_object_get(json_object_get(ev, "signatures"), "b.test"));
    json_decref(resp);
    assert_string_equal(rfx_membership(f, room, BOB), "join");
    assert_string_equal(rfx_extremities(f, room), id);
    struct rfx_notice n;
    assert_int_equal(rfx_notices_for(f, id, &n), 1);
    assert_string_equal(n.room_id, room);

    /* A retry gets the same answer; nothing is stored twice. */
    resp = send(f, room, id, "join", again, false, &err);
    assert_non_null(resp);
    assert_int_equal(json_array_size(json_object_get(resp, "state")), 6);
    json_decref(resp);
    json_decref(pdu);
    json_decref(again);
    assert_int_equal(rfx_notices_for(f, id, NULL), 1);

    /* Leaving again. */
    resp = make(f, room, BOB, "leave", NULL, 0, &err, rv_out);
    assert_non_null(resp);
    pdu = sign_template(f, resp, room, BOB, "leave", id);
    json_decref(resp);
    resp = send(f, room, id, "leave", pdu, false, &err);
    if (!resp)
        fail_msg("send_leave: %s", err.msg);
    assert_int_equal(json_object_size(resp), 0);
    json_decref(resp);
    json_decref(pdu);
    assert_string_equal(rfx_membership(f, room, BOB), "leave");
    rfx_assert_consistent(f);
}

static void test_join_omit_members(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], rv_out[65];
    struct mxr_rooms_create_opts o = {.preset = "public_chat", .name = "Named"};
    struct mxr_err err = {0};
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err), 0);
    rfx_send(f, room, "@carol:a.test", "m.room.member", "@carol:a.test", "{\"membership\":\"join\"}", NULL);
    json_t *resp = make(f, room, BOB, "join", V11, 3, &err, rv_out);
    json_t *pdu = sign_template(f, resp, room, BOB, "join", id);
    json_decref(resp);
    resp = send(f, room, id, "join", pdu, true, &err);
    if (!resp)
        fail_msg("send_join: %s", err.msg);
    json_t *st = json_object_get(resp, "state"), *chain = json_object_get(resp, "auth_chain");
    /* A named room: no heroes needed, so no member events at all. */
    assert_false(pdus_have_type(st, "m.room.member"));
    assert_true(pdus_have_type(st, "m.room.name"));
    assert_true(json_is_true(json_object_get(resp, "members_omitted")));
    json_t *servers = json_object_get(resp, "servers_in_room");
    assert_int_equal(json_array_size(servers), 1);
    assert_true(rfx_array_has(servers, "a.test"));
    /* Nothing twice: what `state` holds is not repeated in auth_chain. */
    size_t i, k;
    json_t *p, *q;
    json_array_foreach(chain, i, p) {
        json_array_foreach(st, k, q) {
            assert_false(json_equal(p, q));
        }
    }
    assert_false(pdus_have_type(chain, "m.room.create"));
    /* Alice's join authorises the power levels: it is in the chain. */
    assert_true(pdus_have_id(chain, rfx_current(f, room, "m.room.member", ALICE)));
    json_decref(resp);
    json_decref(pdu);

    /* Unnamed: the heroes' member events stay. */
    char room2[MXR_ID_MAX + 1];
    rfx_room(f, "11", "public_chat", room2);
    resp = make(f, room2, BOB, "join", V11, 3, &err, rv_out);
    pdu = sign_template(f, resp, room2, BOB, "join", id);
    json_decref(resp);
    resp = send(f, room2, id, "join", pdu, true, &err);
    assert_non_null(resp);
    assert_true(pdus_have_id(json_object_get(resp, "state"), rfx_current(f, room2, "m.room.member", ALICE)));
    json_decref(resp);
    json_decref(pdu);
}

static void test_make_join_refusals(void **state)
{
    struct rfx *f = *state;
    char pub[MXR_ID_MAX + 1], priv[MXR_ID_MAX + 1], rv_out[65];
    rfx_room(f, "11", "public_chat", pub);
    rfx_room(f, "11", "private_chat", priv);
    struct mxr_err err = {0};
    const char *const old[] = {"9", "10"};
    assert_null(make(f, pub, BOB, "join", old, 2, &err, rv_out));
    assert_string_equal(err.errcode, "M_INCOMPATIBLE_ROOM_VERSION");
    assert_string_equal(rv_out, "11");
    assert_null(make(f, pub, BOB, "join", NULL, 0, &err, rv_out));   /* defaults to ["1"] */
    assert_string_equal(err.errcode, "M_INCOMPATIBLE_ROOM_VERSION");
    assert_null(make(f, pub, "@bob:c.test", "join", V11, 3, &err, rv_out));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_null(make(f, "!unknown:a.test", BOB, "join", V11, 3, &err, rv_out));
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    assert_null(make(f, priv, BOB, "join", V11, 3, &err, rv_out));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(err.msg, "rule"));
    /* Once invited, bob may join the private room. */
    rfx_send(f, priv, ALICE, "m.room.member", BOB, "{\"membership\":\"invite\"}", NULL);
    json_t *resp = make(f, priv, BOB, "join", V11, 3, &err, rv_out);
    if (!resp)
        fail_msg("%s", err.msg);
    char id[MXR_ID_MAX + 1];
    json_t *pdu = sign_template(f, resp, priv, BOB, "join", id);
    json_decref(resp);
    resp = send(f, priv, id, "join", pdu, false, &err);
    assert_non_null(resp);
    json_decref(resp);
    json_decref(pdu);
    assert_string_equal(rfx_membership(f, priv, BOB), "join");
}

static void test_send_join_validation(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], rv_out[65];
    rfx_room(f, "11", "public_chat", room);
    struct mxr_err err = {0};
    json_t *resp = make(f, room, BOB, "join", V11, 3, &err, rv_out);
    json_t *pdu = sign_template(f, resp, room, BOB, "join", id);
    json_decref(resp);
    /* The expected membership, the path's event ID, the origin's user. */
    assert_null(send(f, room, id, "leave", pdu, false, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_null(send(f, room, "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "join", pdu, false, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    rfx_read_end(f);
    assert_null(mxr_rooms_send_membership(f->rooms, "c.test", room, id, "join", pdu, NULL, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    /* Signed by someone else: dropped by the pipeline, refused. */
    json_t *forged = json_deep_copy(pdu);
    json_object_del(forged, "signatures");
    mxr_pdu_sign(forged, mxr_room_version_get("11", NULL), "b.test", &f->wrong_key, &err);
    assert_null(send(f, room, id, "join", forged, false, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_non_null(strstr(err.msg, "verify_signatures"));
    json_decref(forged);
    json_decref(pdu);
    assert_string_equal(rfx_membership(f, room, BOB), "");
}

static void test_knock(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], rv_out[65];
    json_t *initial = json_loads("[{\"type\":\"m.room.join_rules\",\"content\":{\"join_rule\":\"knock\"}}]", 0, NULL);
    struct mxr_rooms_create_opts o = {.initial_state = initial, .name = "Knock here"};
    struct mxr_err err = {0};
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err), 0);
    json_decref(initial);
    /* make_knock requires `ver`. */
    assert_null(make(f, room, BOB, "knock", NULL, 0, &err, rv_out));
    assert_string_equal(err.errcode, "M_INCOMPATIBLE_ROOM_VERSION");
    json_t *resp = make(f, room, BOB, "knock", V11, 3, &err, rv_out);
    if (!resp)
        fail_msg("make_knock: %s", err.msg);
    json_t *pdu = sign_template(f, resp, room, BOB, "knock", id);
    json_decref(resp);
    resp = send(f, room, id, "knock", pdu, false, &err);
    if (!resp)
        fail_msg("send_knock: %s", err.msg);
    json_t *krs = json_object_get(resp, "knock_room_state");
    assert_true(pdus_have_type(krs, "m.room.create"));
    assert_true(pdus_have_type(krs, "m.room.join_rules"));
    assert_true(pdus_have_type(krs, "m.room.name"));
    assert_false(pdus_have_type(krs, "m.room.member"));
    json_decref(resp);
    json_decref(pdu);
    assert_string_equal(rfx_membership(f, room, BOB), "knock");
    /* Joining a knock room needs an invite first. */
    assert_null(make(f, room, BOB, "join", V11, 3, &err, rv_out));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
}

static void test_restricted_join(void **state)
{
    struct rfx *f = *state;
    char space[MXR_ID_MAX + 1], room[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1], rv_out[65];
    rfx_room(f, "11", "public_chat", space);
    assert_int_equal(rfx_ingest1(f, RFX_PDU(f, space, id, .type = "m.room.member", .sender = BOB, .state_key = BOB,
                                            .content = "{\"membership\":\"join\"}")).outcome,
                     MXR_PDU_ACCEPTED);
    char jr[600];
    snprintf(jr, sizeof jr, "[{\"type\":\"m.room.join_rules\",\"content\":{\"join_rule\":\"restricted\","
             "\"allow\":[{\"type\":\"m.room_membership\",\"room_id\":\"%s\"}]}}]", space);
    json_t *initial = json_loads(jr, 0, NULL);
    struct mxr_rooms_create_opts o = {.initial_state = initial};
    struct mxr_err err = {0};
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err), 0);
    json_decref(initial);

    /* bob is in the allowed room: alice authorises his join. */
    json_t *resp = make(f, room, BOB, "join", V11, 3, &err, rv_out);
    if (!resp)
        fail_msg("make_join: %s: %s", err.errcode, err.msg);
    json_t *content = json_object_get(json_object_get(resp, "event"), "content");
    assert_string_equal(json_string_value(json_object_get(content, "join_authorised_via_users_server")), ALICE);
    json_t *pdu = sign_template(f, resp, room, BOB, "join", id);
    json_decref(resp);
    resp = send(f, room, id, "join", pdu, false, &err);
    if (!resp)
        fail_msg("send_join: %s: %s", err.errcode, err.msg);
    /* Returned and stored with our signature added. */
    json_t *sigs = json_object_get(json_object_get(resp, "event"), "signatures");
    assert_non_null(json_object_get(sigs, "a.test"));
    assert_non_null(json_object_get(sigs, "b.test"));
    json_decref(resp);
    json_decref(pdu);
    assert_string_equal(rfx_membership(f, room, BOB), "join");

    /* dave is in none of the allowed rooms. */
    assert_null(make(f, room, "@dave:b.test", "join", V11, 3, &err, rv_out));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    /* A room allowing members of a room we do not hold: cannot tell. */
    initial = json_loads("[{\"type\":\"m.room.join_rules\",\"content\":{\"join_rule\":\"restricted\","
                         "\"allow\":[{\"type\":\"m.room_membership\",\"room_id\":\"!far:z.test\"}]}}]", 0, NULL);
    o.initial_state = initial;
    char room2[MXR_ID_MAX + 1];
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room2, &err), 0);
    json_decref(initial);
    assert_null(make(f, room2, BOB, "join", V11, 3, &err, rv_out));
    assert_string_equal(err.errcode, "M_UNABLE_TO_AUTHORISE_JOIN");
}

/* An invite for our user dave into a room of b.test we know nothing of. */
static json_t *remote_invite(struct rfx *f, const char *invitee, const char *membership, char id[MXR_ID_MAX + 1])
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:I, s:i, s:[s], s:[s], s:{s:i}}", "room_id",
                           "!remote:b.test", "type", "m.room.member", "sender", BOB, "state_key", invitee, "content",
                           "membership", membership, "origin_server_ts", (json_int_t)f->now, "depth", 7,
                           "prev_events", "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "auth_events",
                           "$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA", "unsigned", "age", 5);
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    struct mxr_err err = {0};
    if (mxr_pdu_sign(ev, rv, "b.test", &f->b_key, &err) < 0 || mxr_event_compute_id(ev, rv, id, &err) < 0)
        fail_msg("%s", err.msg);
    return ev;
}

static int a_keys(void *ctx, const char *server, const char *key_id, int64_t ts, uint8_t pk[32])
{
    (void)ts;
    const struct rfx *f = ctx;
    const struct mxr_signing_key *k = !strcmp(server, "a.test") ? &f->a_key : !strcmp(server, "b.test") ? &f->b_key
                                                                                                         : NULL;
    if (!k || strcmp(key_id, k->key_id))
        return -1;
    memcpy(pk, k->public_key, 32);
    return 0;
}

struct pending {
    int n;
    char room[256], event_id[256], stripped[512];
    uint64_t stream;
};

static int pending_cb(void *arg, const char *room_id, const char *event_id, uint64_t stream, const char *stripped,
                      size_t len)
{
    struct pending *pd = arg;
    pd->n++;
    snprintf(pd->room, sizeof pd->room, "%s", room_id);
    snprintf(pd->event_id, sizeof pd->event_id, "%s", event_id);
    snprintf(pd->stripped, sizeof pd->stripped, "%.*s", (int)len, stripped);
    pd->stream = stream;
    return 0;
}

static void test_receive_invite(void **state)
{
    struct rfx *f = *state;
    char id[MXR_ID_MAX + 1];
    json_t *ev = remote_invite(f, "@dave:a.test", "invite", id);
    /* invite_room_state: a stripped name event, and an entry without content (left out). */
    json_t *body = json_pack("{s:s, s:O, s:[{s:s, s:s, s:s, s:{s:s}, s:s}, {s:s, s:s, s:s}]}", "room_version", "11",
                             "event", ev, "invite_room_state", "type", "m.room.name", "state_key", "", "sender",
                             "@bob:b.test", "content", "name", "Remote room", "origin_server_ts", "junk",
                             "type", "m.room.topic", "state_key", "", "sender", "@bob:b.test");
    struct mxr_err err = {0};
    json_t *resp = mxr_rooms_receive_invite(f->rooms, "b.test", "!remote:b.test", id, body, &err);
    if (!resp)
        fail_msg("invite: %s: %s", err.errcode, err.msg);
    json_t *signed_ev = json_object_get(resp, "event");
    /* Both signatures check out; everything else is as sent. */
    struct mxr_verify_keys keys = {a_keys, f};
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    assert_int_equal(mxr_pdu_check_server_signature(signed_ev, rv, "a.test", &keys, &err), 0);
    assert_int_equal(mxr_pdu_check_server_signature(signed_ev, rv, "b.test", &keys, &err), 0);
    json_t *stripped = json_deep_copy(signed_ev);
    json_object_del(json_object_get(stripped, "signatures"), "a.test");
    assert_true(json_equal(stripped, ev));
    json_decref(stripped);
    json_decref(resp);
    /* Kept as an outlier, announced as a remote invite. */
    assert_true(rfx_meta(f, id).flags & MXR_STORE_OUTLIER);
    struct rfx_notice n;
    assert_int_equal(rfx_notices_for(f, id, &n), 1);
    assert_true(n.remote_invite);
    /* Pending for dave (relay/client/sync.c lists it), with the stripped state. */
    struct pending pd = {0};
    assert_int_equal(mxr_store_remote_invites(rfx_read(f), "@dave:a.test", pending_cb, &pd, &err), 0);
    rfx_read_end(f);
    assert_int_equal(pd.n, 1);
    assert_string_equal(pd.room, "!remote:b.test");
    assert_string_equal(pd.event_id, id);
    assert_true(pd.stream > 0);
    assert_string_equal(pd.stripped, "[{\"type\":\"m.room.name\",\"state_key\":\"\",\"sender\":\"@bob:b.test\","
                                     "\"content\":{\"name\":\"Remote room\"}}]");
    json_decref(body);
    json_decref(ev);

    /* Refusals. */
    ev = remote_invite(f, "@dave:a.test", "join", id);
    body = json_pack("{s:s, s:O}", "room_version", "11", "event", ev);
    assert_null(mxr_rooms_receive_invite(f->rooms, "b.test", "!remote:b.test", id, body, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    json_decref(body);
    json_decref(ev);
    ev = remote_invite(f, "@dave:c.test", "invite", id);
    body = json_pack("{s:s, s:O}", "room_version", "11", "event", ev);
    assert_null(mxr_rooms_receive_invite(f->rooms, "b.test", "!remote:b.test", id, body, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_null(mxr_rooms_receive_invite(f->rooms, "c.test", "!remote:b.test", id, body, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    json_decref(body);
    body = json_pack("{s:s, s:O}", "room_version", "99", "event", ev);
    assert_null(mxr_rooms_receive_invite(f->rooms, "b.test", "!remote:b.test", id, body, &err));
    assert_string_equal(err.errcode, "M_INCOMPATIBLE_ROOM_VERSION");
    json_decref(body);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_omit_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_make_join_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_join_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_knock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restricted_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_invite, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
