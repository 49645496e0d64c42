/* relay/rooms/create.c: createRoom's event sequence in every room version,
 * the presets, initial_state, and atomicity; plus remote ingest in the
 * v1/v2 event format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/pdu.h"
#include "mxr/roomver.h"
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

static json_t *current_pdu(struct rfx *f, const char *room, const char *type, const char *sk)
{
    char id[MXR_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", rfx_current(f, room, type, sk));
    if (!id[0])
        fail_msg("no %s in room %s", type, room);
    return rfx_stored_pdu(f, id);
}

static const char *content_str(const json_t *pdu, const char *key)
{
    return json_string_value(json_object_get(json_object_get(pdu, "content"), key));
}

static int a_keys(void *ctx, const char *server, const char *key_id, int64_t ts, uint8_t pk[32])
{
    (void)ts;
    const struct mxr_signing_key *k = ctx;
    if (strcmp(server, "a.test") || strcmp(key_id, k->key_id))
        return -1;
    memcpy(pk, k->public_key, 32);
    return 0;
}

static size_t count_rooms_cb_n;
static int count_rooms_cb(void *arg, const char *room_id)
{
    (void)arg;
    (void)room_id;
    count_rooms_cb_n++;
    return 0;
}

static size_t room_count(struct rfx *f)
{
    struct mxr_err err = {0};
    count_rooms_cb_n = 0;
    assert_int_equal(mxr_store_rooms(rfx_read(f), count_rooms_cb, NULL, &err), 0);
    rfx_read_end(f);
    return count_rooms_cb_n;
}

static void test_every_version(void **state)
{
    struct rfx *f = *state;
    unsigned nv;
    const struct mxr_room_version *versions = mxr_room_versions(&nv);
    struct mxr_verify_keys keys = {a_keys, &f->a_key};
    for (unsigned i = 0; i < nv; i++) {
        const struct mxr_room_version *rv = &versions[i];
        char room[MXR_ID_MAX + 1];
        rfx_room(f, rv->id, NULL, room);
        struct mxr_err err = {0};
        char ver[MXR_STORE_VERSION_MAX + 1];
        assert_int_equal(mxr_store_room_version(rfx_read(f), room, ver, &err), 0);
        rfx_read_end(f);
        assert_string_equal(ver, rv->id);

        json_t *create = current_pdu(f, room, "m.room.create", "");
        assert_string_equal(content_str(create, "room_version"), rv->id);
        if (rv->implicit_room_creator)
            assert_null(content_str(create, "creator"));
        else
            assert_string_equal(content_str(create, "creator"), ALICE);
        if (rv->room_id_is_create_hash) {
            /* v12: the room ID is the create event's ID with '!'. */
            char id[MXR_ID_MAX + 1];
            assert_int_equal(mxr_event_compute_id(create, rv, id, &err), 0);
            assert_string_equal(room + 1, id + 1);
            assert_int_equal(room[0], '!');
            assert_null(json_object_get(create, "room_id"));
        } else {
            assert_non_null(strstr(room, ":a.test"));
        }
        if (mxr_pdu_check_signatures(create, rv, &keys, &err) < 0)
            fail_msg("v%s create: %s", rv->id, err.msg);
        json_decref(create);

        json_t *join = current_pdu(f, room, "m.room.member", ALICE);
        json_t *prev0 = json_array_get(json_object_get(join, "prev_events"), 0);
        if (rv->event_format == MXR_EVFMT_V1) {
            assert_true(json_is_array(prev0));   /* [id, {sha256}] */
            assert_non_null(json_object_get(json_array_get(prev0, 1), "sha256"));
            assert_non_null(json_object_get(join, "event_id"));
        } else {
            assert_true(json_is_string(prev0));
            assert_null(json_object_get(join, "event_id"));
        }
        assert_int_equal(json_array_size(json_object_get(join, "auth_events")), rv->room_id_is_create_hash ? 0 : 1);
        json_decref(join);

        json_t *pl = current_pdu(f, room, "m.room.power_levels", "");
        json_t *users = json_object_get(json_object_get(pl, "content"), "users");
        json_t *events = json_object_get(json_object_get(pl, "content"), "events");
        if (rv->privileged_creators) {
            assert_null(json_object_get(users, ALICE));
            assert_int_equal(json_integer_value(json_object_get(events, "m.room.tombstone")), 150);
        } else {
            assert_int_equal(json_integer_value(json_object_get(users, ALICE)), 100);
            assert_int_equal(json_integer_value(json_object_get(events, "m.room.tombstone")), 100);
        }
        assert_int_equal(json_integer_value(json_object_get(json_object_get(pl, "content"), "invite")), 0);
        json_decref(pl);

        json_t *jr = current_pdu(f, room, "m.room.join_rules", "");
        assert_string_equal(content_str(jr, "join_rule"), "invite");
        json_decref(jr);
        json_t *hv = current_pdu(f, room, "m.room.history_visibility", "");
        assert_string_equal(content_str(hv, "history_visibility"), "shared");
        json_decref(hv);
        json_t *ga = current_pdu(f, room, "m.room.guest_access", "");
        assert_string_equal(content_str(ga, "guest_access"), "can_join");
        json_decref(ga);

        /* The room works: alice can talk, and the store agrees with itself. */
        char msg[MXR_ID_MAX + 1];
        rfx_send(f, room, ALICE, "m.room.message", NULL, "{\"body\":\"hi\"}", msg);
        assert_string_equal(rfx_extremities(f, room), msg);
    }
    rfx_assert_consistent(f);
}

static void test_trusted_private_chat(void **state)
{
    struct rfx *f = *state;
    const char *invite[] = {"@carol:a.test", "@dave:b.test"};
    for (int v12 = 0; v12 < 2; v12++) {
        struct mxr_rooms_create_opts o = {.room_version = v12 ? "12" : "11", .preset = "trusted_private_chat",
                                          .invite = invite, .n_invite = 2};
        char room[MXR_ID_MAX + 1];
        struct mxr_err err = {0};
        if (mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err) < 0)
            fail_msg("%s", err.msg);
        json_t *pl = current_pdu(f, room, "m.room.power_levels", "");
        json_t *users = json_object_get(json_object_get(pl, "content"), "users");
        json_t *create = current_pdu(f, room, "m.room.create", "");
        json_t *extra = json_object_get(json_object_get(create, "content"), "additional_creators");
        if (v12) {
            assert_int_equal(json_object_size(users), 0);
            assert_true(rfx_array_has(extra, invite[0]));
            assert_true(rfx_array_has(extra, invite[1]));
        } else {
            assert_int_equal(json_integer_value(json_object_get(users, invite[0])), 100);
            assert_int_equal(json_integer_value(json_object_get(users, invite[1])), 100);
            assert_null(extra);
        }
        json_decref(pl);
        json_decref(create);
        /* Our invitee got an invite; the remote one waits for /invite. */
        assert_string_equal(rfx_membership(f, room, invite[0]), "invite");
        assert_string_equal(rfx_membership(f, room, invite[1]), "");
    }
}

static void test_initial_state_name_topic(void **state)
{
    struct rfx *f = *state;
    json_t *initial = json_loads("[{\"type\":\"m.room.join_rules\",\"content\":{\"join_rule\":\"public\"}},"
                                 "{\"type\":\"m.room.name\",\"content\":{\"name\":\"overridden\"}},"
                                 "{\"type\":\"org.example.custom\",\"state_key\":\"k\",\"content\":{\"x\":1}}]",
                                 0, NULL);
    json_t *override = json_loads("{\"events_default\":10}", 0, NULL);
    struct mxr_rooms_create_opts o = {.preset = "private_chat", .initial_state = initial, .name = "The Room",
                                      .topic = "Things", .power_level_content_override = override};
    char room[MXR_ID_MAX + 1];
    struct mxr_err err = {0};
    if (mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err) < 0)
        fail_msg("%s", err.msg);
    json_t *jr = current_pdu(f, room, "m.room.join_rules", "");
    assert_string_equal(content_str(jr, "join_rule"), "public");
    json_t *name = current_pdu(f, room, "m.room.name", "");
    assert_string_equal(content_str(name, "name"), "The Room");
    json_t *topic = current_pdu(f, room, "m.room.topic", "");
    assert_string_equal(content_str(topic, "topic"), "Things");
    json_t *custom = current_pdu(f, room, "org.example.custom", "k");
    json_t *pl = current_pdu(f, room, "m.room.power_levels", "");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(pl, "content"), "events_default")), 10);
    /* The default for the new room version (11) was used. */
    json_t *create = current_pdu(f, room, "m.room.create", "");
    assert_string_equal(content_str(create, "room_version"), "11");
    json_decref(jr);
    json_decref(name);
    json_decref(topic);
    json_decref(custom);
    json_decref(pl);
    json_decref(create);
    json_decref(initial);
    json_decref(override);
}

static void test_refusals_are_atomic(void **state)
{
    struct rfx *f = *state;
    size_t rooms = room_count(f);
    char room[MXR_ID_MAX + 1];
    struct mxr_err err = {0};
    struct mxr_rooms_create_opts o = {.room_version = "13"};
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err), -1);
    assert_string_equal(err.errcode, "M_UNSUPPORTED_ROOM_VERSION");
    o = (struct mxr_rooms_create_opts){.preset = "party"};
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_rooms_create_room(f->rooms, BOB, NULL, room, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    /* Power levels that leave the creator powerless: the join rules event
     * (state_default 50) is refused and nothing of the room remains. */
    json_t *override = json_loads("{\"users\":{\"@alice:a.test\":0}}", 0, NULL);
    o = (struct mxr_rooms_create_opts){.power_level_content_override = override};
    assert_int_equal(mxr_rooms_create_room(f->rooms, ALICE, &o, room, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(err.msg, "m.room.join_rules"));
    json_decref(override);
    assert_int_equal(room_count(f), rooms);
    assert_int_equal(f->n_notices, 0);
    rfx_assert_consistent(f);
}

/* Remote events in the v1 format: given event IDs, [id, {sha256}] refs,
 * and the event ID's server must have signed. */
static void test_v1_remote_ingest(void **state)
{
    struct rfx *f = *state;
    for (int v = 1; v <= 2; v++) {
        char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
        rfx_room(f, v == 1 ? "1" : "2", "public_chat", room);
        struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, join, .type = "m.room.member", .sender = BOB,
                                                           .state_key = BOB, .content = "{\"membership\":\"join\"}"));
        if (res.outcome != MXR_PDU_ACCEPTED)
            fail_msg("v%d join: %s", v, res.reason);
        assert_non_null(strstr(join, ":b.test"));
        res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB,
                                     .content = "{\"body\":\"hi\"}"));
        assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
        assert_string_equal(rfx_extremities(f, room), msg);
        char reply[MXR_ID_MAX + 1];
        rfx_send(f, room, ALICE, "m.room.message", NULL, "{\"body\":\"yo\"}", reply);
        json_t *pdu = rfx_stored_pdu(f, reply);
        json_t *prev = json_array_get(json_object_get(pdu, "prev_events"), 0);
        assert_string_equal(json_string_value(json_array_get(prev, 0)), msg);
        json_decref(pdu);
    }
    rfx_assert_consistent(f);
}

/* v12: room IDs are create hashes, the create event is never an auth event,
 * and a create event (no room_id) can still be ingested. */
static void test_v12_remote_ingest(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    rfx_room(f, "12", "public_chat", room);
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, join, .type = "m.room.member", .sender = BOB,
                                                       .state_key = BOB, .content = "{\"membership\":\"join\"}"));
    if (res.outcome != MXR_PDU_ACCEPTED)
        fail_msg("v12 join: %s", res.reason);
    json_t *pdu = rfx_stored_pdu(f, join);
    assert_int_equal(json_array_size(json_object_get(pdu, "auth_events")), 2);   /* PL, join rules */
    json_decref(pdu);
    res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = "{}"));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    /* Listing the create event is refused in v12 (auth rule 3.2). */
    char create[MXR_ID_MAX + 1], pl[MXR_ID_MAX + 1];
    snprintf(create, sizeof create, "%s", rfx_current(f, room, "m.room.create", ""));
    snprintf(pl, sizeof pl, "%s", rfx_current(f, room, "m.room.power_levels", ""));
    res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = "{\"a\":1}",
                                 .auth = RFX_IDS(create, pl, join)));
    assert_int_equal(res.outcome, MXR_PDU_REJECTED);
    assert_int_equal(res.phase, MXR_PHASE_AUTH_EVENTS);
    /* The create event, delivered again (it has no room_id), is known. */
    res = rfx_ingest1(f, rfx_stored_pdu(f, create));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_true(res.already);
    assert_string_equal(res.room_id, room);
    rfx_assert_consistent(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trusted_private_chat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initial_state_name_topic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_are_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_remote_ingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v12_remote_ingest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
