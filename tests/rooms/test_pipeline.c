/* relay/rooms pipeline: local and remote events through the phases, with a
 * real store. Remote PDUs are built and signed in-test by b.test, whose key
 * reaches the pipeline through the injected key lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/pdu.h"
#include "tests/rooms/rooms_fixture.h"

#define ALICE "@alice:a.test"
#define BOB "@bob:b.test"
#define MSG "{\"msgtype\":\"m.text\",\"body\":\"hello\"}"

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

/* A public v11 room of alice that bob (b.test) joined over federation. */
static void joined_room(struct rfx *f, char room[MXR_ID_MAX + 1], char bob_join[MXR_ID_MAX + 1])
{
    rfx_room(f, "11", "public_chat", room);
    struct mxr_pdu_result res = rfx_ingest1(
        f, RFX_PDU(f, room, bob_join, .type = "m.room.member", .sender = BOB, .state_key = BOB,
                   .content = "{\"membership\":\"join\"}"));
    if (res.outcome != MXR_PDU_ACCEPTED)
        fail_msg("bob's join: %s at %s: %s", mxr_rooms_outcome_name(res.outcome), mxr_rooms_phase_name(res.phase),
                 res.reason);
    assert_string_equal(rfx_membership(f, room, BOB), "join");
}

static void copy_current(struct rfx *f, const char *room, const char *type, const char *sk, char out[MXR_ID_MAX + 1])
{
    snprintf(out, MXR_ID_MAX + 1, "%s", rfx_current(f, room, type, sk));
    assert_true(out[0] != '\0');
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

static void test_create_room_sequence(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1];
    rfx_room(f, "11", "public_chat", room);
    static const char *const types[] = {"m.room.create", "m.room.power_levels", "m.room.join_rules",
                                        "m.room.history_visibility", "m.room.guest_access"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        assert_true(rfx_current(f, room, types[i], "")[0]);
    assert_string_equal(rfx_membership(f, room, ALICE), "join");
    /* Six events, each notified once, local and accepted, one extremity. */
    assert_int_equal(f->n_notices, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_true(f->notices[i].local);
        assert_int_equal(f->notices[i].outcome, MXR_PDU_ACCEPTED);
    }
    char ga[MXR_ID_MAX + 1];
    copy_current(f, room, "m.room.guest_access", "", ga);
    assert_string_equal(rfx_extremities(f, room), ga);
    assert_int_equal(rfx_meta(f, ga).depth, 6);
    /* Our signature verifies with our public key alone. */
    json_t *pdu = rfx_stored_pdu(f, ga);
    struct mxr_verify_keys keys = {a_keys, &f->a_key};
    struct mxr_err err = {0};
    if (mxr_pdu_check_signatures(pdu, mxr_room_version_get("11", NULL), &keys, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 0);
    json_decref(pdu);
    rfx_assert_consistent(f);
}

static void test_remote_join_and_message(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    size_t before = f->n_notices;
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB,
                                                       .content = MSG));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_int_equal(res.phase, MXR_PHASE_NOTIFY);
    assert_string_equal(res.event_id, msg);
    assert_false(res.already);
    assert_true(res.stream > 0);
    assert_string_equal(rfx_extremities(f, room), msg);
    struct rfx_notice n;
    assert_int_equal(rfx_notices_for(f, msg, &n), 1);
    assert_false(n.local);
    assert_int_equal(f->n_notices, before + 1);
    rfx_assert_consistent(f);
}

static void test_bad_signature_dropped(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    size_t before = f->n_notices;
    struct mxr_pdu_result res = rfx_ingest1(
        f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = MSG, .key = &f->wrong_key));
    assert_int_equal(res.outcome, MXR_PDU_DROPPED);
    assert_int_equal(res.phase, MXR_PHASE_VERIFY_SIGNATURES);
    assert_string_equal(res.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(res.reason, "b.test"));
    assert_false(rfx_stored(f, msg));
    assert_int_equal(f->n_notices, before);
    assert_string_equal(rfx_extremities(f, room), join);
}

static void test_expired_key_dropped(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    /* v5+ (v5-signing-requirements.md): the key must be valid at the
     * event's origin_server_ts. */
    f->b_valid_until = f->now - 1;
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB,
                                                       .content = MSG));
    assert_int_equal(res.outcome, MXR_PDU_DROPPED);
    assert_int_equal(res.phase, MXR_PHASE_VERIFY_SIGNATURES);
    /* An event stamped while the key was valid passes. */
    res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = MSG,
                                 .ts = f->now - 10));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    f->b_valid_until = INT64_MAX;
}

static void test_bad_hash_redacted(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    json_t *pdu = RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = MSG);
    /* The content is not covered by the signature of a message (it is
     * redacted away), only by the content hash. */
    json_object_set_new(json_object_get(pdu, "content"), "body", json_string("tampered"));
    struct mxr_pdu_result res = rfx_ingest1(f, pdu);
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_true(res.redacted);
    assert_string_equal(res.event_id, msg);
    assert_non_null(strstr(res.reason, "hash"));
    json_t *stored = rfx_stored_pdu(f, msg);
    assert_int_equal(json_object_size(json_object_get(stored, "content")), 0);
    json_decref(stored);
}

static void test_rejected_against_auth_events(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1], create[MXR_ID_MAX + 1],
        pl[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    copy_current(f, room, "m.room.create", "", create);
    copy_current(f, room, "m.room.power_levels", "", pl);
    size_t before = f->n_notices;
    /* Without bob's membership among its auth events, bob is not joined. */
    json_t *pdu = RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = MSG,
                          .auth = RFX_IDS(create, pl));
    json_t *again = json_deep_copy(pdu);
    struct mxr_pdu_result res = rfx_ingest1(f, pdu);
    assert_int_equal(res.outcome, MXR_PDU_REJECTED);
    assert_int_equal(res.phase, MXR_PHASE_AUTH_EVENTS);
    assert_string_equal(res.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(res.reason, "not joined"));
    struct mxr_store_event_meta m = rfx_meta(f, msg);
    assert_true(m.flags & MXR_STORE_REJECTED);
    assert_string_equal(rfx_extremities(f, room), join);
    /* Refused again, as recorded, without reprocessing. */
    res = rfx_ingest1(f, again);
    assert_int_equal(res.outcome, MXR_PDU_REJECTED);
    assert_int_equal(res.phase, MXR_PHASE_AUTH_EVENTS);
    assert_true(res.already);
    assert_non_null(strstr(res.reason, "not joined"));
    /* Rejections are reported to the hook once, and never as accepted. */
    struct rfx_notice n;
    assert_int_equal(rfx_notices_for(f, msg, &n), 1);
    assert_int_equal(n.outcome, MXR_PDU_REJECTED);
    assert_int_equal(f->n_notices, before + 1);
    rfx_assert_consistent(f);
}

static void test_rejected_against_state_and_soft_failed(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], m1[MXR_ID_MAX + 1], ban[MXR_ID_MAX + 1];
    char create[MXR_ID_MAX + 1], pl[MXR_ID_MAX + 1], m2[MXR_ID_MAX + 1], m3[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    copy_current(f, room, "m.room.create", "", create);
    copy_current(f, room, "m.room.power_levels", "", pl);
    assert_int_equal(rfx_ingest1(f, RFX_PDU(f, room, m1, .type = "m.room.message", .sender = BOB,
                                            .content = MSG)).outcome, MXR_PDU_ACCEPTED);
    rfx_send(f, room, ALICE, "m.room.member", BOB, "{\"membership\":\"ban\"}", ban);
    assert_string_equal(rfx_membership(f, room, BOB), "ban");

    /* After the ban: its auth events still show bob joined (step 4 passes),
     * the state before it has him banned (step 5 fails). */
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, m2, .type = "m.room.message", .sender = BOB,
                                                       .content = MSG, .prev = RFX_IDS(ban),
                                                       .auth = RFX_IDS(create, pl, join)));
    assert_int_equal(res.outcome, MXR_PDU_REJECTED);
    assert_int_equal(res.phase, MXR_PHASE_AUTH_STATE);
    assert_true(rfx_meta(f, m2).flags & MXR_STORE_REJECTED);
    assert_int_equal(rfx_meta(f, m2).flags & MXR_STORE_OUTLIER, 0);

    /* Evading the ban by pointing at the DAG before it: allowed by the state
     * before it (step 5), not by the current state (step 6): soft-failed. */
    res = rfx_ingest1(f, RFX_PDU(f, room, m3, .type = "m.room.message", .sender = BOB, .content = MSG,
                                 .prev = RFX_IDS(m1), .auth = RFX_IDS(create, pl, join)));
    assert_int_equal(res.outcome, MXR_PDU_SOFT_FAILED);
    assert_int_equal(res.phase, MXR_PHASE_SOFT_FAIL);
    assert_null(res.errcode);
    struct mxr_store_event_meta m = rfx_meta(f, m3);
    assert_true(m.flags & MXR_STORE_SOFT_FAILED);
    /* Not a forward extremity: new events will not reference it. */
    assert_string_equal(rfx_extremities(f, room), ban);
    assert_string_equal(rfx_membership(f, room, BOB), "ban");
    /* The /send answer: {} for the soft-failed one, an error for the rejected. */
    struct mxr_pdu_result pair[2];
    memset(pair, 0, sizeof pair);
    snprintf(pair[0].event_id, sizeof pair[0].event_id, "%s", m2);
    pair[0].outcome = MXR_PDU_REJECTED;
    pair[0].phase = MXR_PHASE_AUTH_STATE;
    snprintf(pair[0].reason, sizeof pair[0].reason, "rule 5: sender is banned");
    snprintf(pair[1].event_id, sizeof pair[1].event_id, "%s", m3);
    pair[1].outcome = MXR_PDU_SOFT_FAILED;
    json_t *body = mxr_rooms_send_response(pair, 2);
    json_t *pdus = json_object_get(body, "pdus");
    assert_int_equal(json_object_size(json_object_get(pdus, m3)), 0);
    const char *e = json_string_value(json_object_get(json_object_get(pdus, m2), "error"));
    assert_non_null(e);
    assert_non_null(strstr(e, "auth_state"));
    json_decref(body);
    rfx_assert_consistent(f);
}

/* Two topics on branches from the same event, then a merge. later_is_t1:
 * which branch has the later origin_server_ts. */
static void fork_and_merge(struct rfx *f, bool later_is_t1)
{
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], plid[MXR_ID_MAX + 1], t1[MXR_ID_MAX + 1], t2[MXR_ID_MAX + 1],
        merge[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    rfx_send(f, room, ALICE, "m.room.power_levels", "",
             "{\"users\":{\"@alice:a.test\":100,\"@bob:b.test\":100}}", plid);
    /* Two topics on two branches from the same event, in one transaction,
     * later one first. */
    json_t *batch[2];
    batch[1] = RFX_PDU(f, room, t1, .type = "m.room.topic", .sender = BOB, .state_key = "",
                       .content = "{\"topic\":\"one\"}", .prev = RFX_IDS(plid),
                       .ts = f->now + (later_is_t1 ? 2000 : 1000));
    batch[0] = RFX_PDU(f, room, t2, .type = "m.room.topic", .sender = BOB, .state_key = "",
                       .content = "{\"topic\":\"two\"}", .prev = RFX_IDS(plid),
                       .ts = f->now + (later_is_t1 ? 1000 : 2000));
    const char *winner = later_is_t1 ? t1 : t2, *loser = later_is_t1 ? t2 : t1;
    struct mxr_pdu_result res[2];
    struct mxr_err err = {0};
    assert_int_equal(mxr_rooms_ingest_pdus(f->rooms, "b.test", batch, 2, 0, res, &err), 0);
    json_decref(batch[0]);
    json_decref(batch[1]);
    assert_int_equal(res[0].outcome, MXR_PDU_ACCEPTED);
    assert_int_equal(res[1].outcome, MXR_PDU_ACCEPTED);
    char both[2 * MXR_ID_MAX + 2];
    snprintf(both, sizeof both, "%s,%s", strcmp(t1, t2) < 0 ? t1 : t2, strcmp(t1, t2) < 0 ? t2 : t1);
    assert_string_equal(rfx_extremities(f, room), both);
    /* State resolution v2: same power, same mainline position; the later
     * origin_server_ts is applied last and wins. */
    assert_string_equal(rfx_current(f, room, "m.room.topic", ""), winner);

    /* An event with both as prevs merges the branches. */
    struct mxr_pdu_result r = rfx_ingest1(f, RFX_PDU(f, room, merge, .type = "m.room.message", .sender = BOB,
                                                     .content = MSG, .prev = RFX_IDS(t1, t2)));
    assert_int_equal(r.outcome, MXR_PDU_ACCEPTED);
    assert_string_equal(rfx_extremities(f, room), merge);
    json_t *ids, *chain;
    assert_int_equal(mxr_rooms_state_ids_at(rfx_read(f), room, merge, &ids, &chain, &err), 0);
    rfx_read_end(f);
    assert_true(rfx_array_has(ids, winner));
    assert_false(rfx_array_has(ids, loser));
    assert_true(rfx_array_has(ids, plid));
    assert_true(rfx_array_has(chain, plid) || rfx_array_has(ids, plid));
    json_decref(ids);
    json_decref(chain);
    assert_string_equal(rfx_current(f, room, "m.room.topic", ""), winner);
    rfx_assert_consistent(f);
}

static void test_fork_resolved(void **state)
{
    fork_and_merge(*state, false);
}

static void test_fork_resolved_other_order(void **state)
{
    fork_and_merge(*state, true);
}

static void test_idempotent_reingest(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], a[MXR_ID_MAX + 1], b[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    json_t *batch[2];
    batch[0] = RFX_PDU(f, room, a, .type = "m.room.message", .sender = BOB, .content = MSG);
    batch[1] = RFX_PDU(f, room, b, .type = "m.room.message", .sender = BOB, .content = MSG, .prev = RFX_IDS(a),
                       .depth = rfx_meta(f, join).depth + 2);
    struct mxr_pdu_result r1[2], r2[2];
    struct mxr_err err = {0};
    assert_int_equal(mxr_rooms_ingest_pdus(f->rooms, "b.test", batch, 2, 0, r1, &err), 0);
    size_t notices = f->n_notices;
    assert_int_equal(mxr_rooms_ingest_pdus(f->rooms, "b.test", batch, 2, 0, r2, &err), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r1[i].outcome, MXR_PDU_ACCEPTED);
        assert_false(r1[i].already);
        assert_int_equal(r2[i].outcome, MXR_PDU_ACCEPTED);
        assert_true(r2[i].already);
        assert_int_equal(r2[i].stream, r1[i].stream);
        json_decref(batch[i]);
    }
    assert_true(r1[1].stream > r1[0].stream);
    assert_int_equal(f->n_notices, notices);
    assert_string_equal(rfx_extremities(f, room), b);
}

static void test_batch_out_of_order(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], p[MXR_ID_MAX + 1], q[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    json_t *batch[2];
    batch[1] = RFX_PDU(f, room, p, .type = "m.room.message", .sender = BOB, .content = MSG);
    batch[0] = RFX_PDU(f, room, q, .type = "m.room.message", .sender = BOB, .content = MSG, .prev = RFX_IDS(p),
                       .depth = rfx_meta(f, join).depth + 2);
    struct mxr_pdu_result res[2];
    struct mxr_err err = {0};
    assert_int_equal(mxr_rooms_ingest_pdus(f->rooms, "b.test", batch, 2, 0, res, &err), 0);
    json_decref(batch[0]);
    json_decref(batch[1]);
    assert_int_equal(res[0].outcome, MXR_PDU_ACCEPTED);
    assert_int_equal(res[1].outcome, MXR_PDU_ACCEPTED);
    assert_true(res[0].stream > res[1].stream);   /* q after its prev p */
    assert_string_equal(rfx_extremities(f, room), q);
}

static void test_unknown_room_dropped(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    json_t *pdu = RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = MSG);
    json_object_set_new(pdu, "room_id", json_string("!elsewhere:b.test"));
    struct mxr_pdu_result res = rfx_ingest1(f, pdu);
    assert_int_equal(res.outcome, MXR_PDU_DROPPED);
    assert_int_equal(res.phase, MXR_PHASE_CONFORM);
    assert_string_equal(res.errcode, "M_NOT_FOUND");
    assert_string_equal(res.room_id, "!elsewhere:b.test");
    /* Not JSON at all, and a bad format, are dropped at the same phase. */
    res = rfx_ingest1(f, json_string("nope"));
    assert_int_equal(res.outcome, MXR_PDU_DROPPED);
    assert_int_equal(res.phase, MXR_PHASE_CONFORM);
    pdu = RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB, .content = MSG);
    json_object_set_new(pdu, "depth", json_string("1"));
    res = rfx_ingest1(f, pdu);
    assert_int_equal(res.outcome, MXR_PDU_DROPPED);
    assert_int_equal(res.phase, MXR_PHASE_CONFORM);
    assert_non_null(strstr(res.reason, "depth"));
}

static void test_outlier_then_filled(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], p[MXR_ID_MAX + 1], q[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    json_t *pp = RFX_PDU(f, room, p, .type = "m.room.message", .sender = BOB, .content = MSG);
    json_t *qq = RFX_PDU(f, room, q, .type = "m.room.message", .sender = BOB, .content = MSG, .prev = RFX_IDS(p),
                         .depth = rfx_meta(f, join).depth + 2);
    json_t *qq2 = json_deep_copy(qq);
    struct mxr_pdu_result res = rfx_ingest1(f, qq);
    assert_int_equal(res.outcome, MXR_PDU_OUTLIER);
    assert_int_equal(res.phase, MXR_PHASE_STATE_BEFORE);
    assert_int_equal(res.stream, 0);
    assert_true(rfx_meta(f, q).flags & MXR_STORE_OUTLIER);
    struct rfx_notice n;
    assert_int_equal(rfx_notices_for(f, q, &n), 1);
    assert_int_equal(n.outcome, MXR_PDU_OUTLIER);
    assert_int_equal(n.n_missing, 1);
    assert_string_equal(n.first_missing, p);
    assert_string_equal(rfx_extremities(f, room), join);

    /* The gap filled (as /get_missing_events would), q delivered again
     * becomes a regular event. */
    assert_int_equal(rfx_ingest1(f, pp).outcome, MXR_PDU_ACCEPTED);
    res = rfx_ingest1(f, qq2);
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_false(res.already);
    assert_true(res.stream > 0);
    assert_int_equal(rfx_meta(f, q).flags & MXR_STORE_OUTLIER, 0);
    assert_string_equal(rfx_extremities(f, room), q);
    assert_int_equal(rfx_notices_for(f, q, &n), 2);
    assert_int_equal(n.outcome, MXR_PDU_ACCEPTED);
    rfx_assert_consistent(f);
}

static void test_unknown_auth_event_deferred(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1], create[MXR_ID_MAX + 1],
        pl[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    copy_current(f, room, "m.room.create", "", create);
    copy_current(f, room, "m.room.power_levels", "", pl);
    const char *unknown = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB,
                                                       .content = MSG, .auth = RFX_IDS(create, pl, unknown)));
    assert_int_equal(res.outcome, MXR_PDU_DEFERRED);
    assert_int_equal(res.phase, MXR_PHASE_AUTH_EVENTS);
    assert_string_equal(res.errcode, "M_NOT_FOUND");
    assert_non_null(strstr(res.reason, unknown));
    assert_false(rfx_stored(f, msg));
    assert_int_equal(rfx_notices_for(f, msg, NULL), 0);
}

static void test_redactions(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], b1[MXR_ID_MAX + 1], b2[MXR_ID_MAX + 1], a1[MXR_ID_MAX + 1];
    char r1[MXR_ID_MAX + 1], r2[MXR_ID_MAX + 1], r3[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    assert_int_equal(rfx_ingest1(f, RFX_PDU(f, room, b1, .type = "m.room.message", .sender = BOB,
                                            .content = MSG)).outcome, MXR_PDU_ACCEPTED);
    /* A moderator (power 100 >= redact 50) redacts bob's message. */
    char content[400];
    snprintf(content, sizeof content, "{\"redacts\":\"%s\"}", b1);
    rfx_send(f, room, ALICE, "m.room.redaction", NULL, content, r1);
    assert_string_equal(rfx_meta(f, b1).redacted_by, r1);
    json_t *pdu = rfx_stored_pdu(f, b1);
    assert_int_equal(json_object_size(json_object_get(pdu, "content")), 0);
    json_decref(pdu);

    /* Bob (power 0, another server) may send a redaction of alice's
     * message, but it is not applied (v3-handling-redactions.md). */
    rfx_send(f, room, ALICE, "m.room.message", NULL, MSG, a1);
    snprintf(content, sizeof content, "{\"redacts\":\"%s\"}", a1);
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, room, r2, .type = "m.room.redaction", .sender = BOB,
                                                       .content = content));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_string_equal(rfx_meta(f, a1).redacted_by, "");
    pdu = rfx_stored_pdu(f, a1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pdu, "content"), "body")), "hello");
    json_decref(pdu);

    /* His own server's events he may redact. */
    assert_int_equal(rfx_ingest1(f, RFX_PDU(f, room, b2, .type = "m.room.message", .sender = BOB,
                                            .content = MSG)).outcome, MXR_PDU_ACCEPTED);
    snprintf(content, sizeof content, "{\"redacts\":\"%s\"}", b2);
    res = rfx_ingest1(f, RFX_PDU(f, room, r3, .type = "m.room.redaction", .sender = BOB, .content = content));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_string_equal(rfx_meta(f, b2).redacted_by, r3);
    rfx_assert_consistent(f);
}

static void test_local_send(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    char create[MXR_ID_MAX + 1], pl[MXR_ID_MAX + 1], alice[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    copy_current(f, room, "m.room.create", "", create);
    copy_current(f, room, "m.room.power_levels", "", pl);
    copy_current(f, room, "m.room.member", ALICE, alice);
    f->now += 5000;
    rfx_send(f, room, ALICE, "m.room.message", NULL, MSG, msg);
    json_t *pdu = rfx_stored_pdu(f, msg);
    json_t *prev = json_object_get(pdu, "prev_events");
    assert_int_equal(json_array_size(prev), 1);
    assert_true(rfx_array_has(prev, join));
    assert_int_equal(json_integer_value(json_object_get(pdu, "depth")), rfx_meta(f, join).depth + 1);
    assert_int_equal(json_integer_value(json_object_get(pdu, "origin_server_ts")), f->now);
    json_t *auth = json_object_get(pdu, "auth_events");
    assert_int_equal(json_array_size(auth), 3);
    assert_true(rfx_array_has(auth, create));
    assert_true(rfx_array_has(auth, pl));
    assert_true(rfx_array_has(auth, alice));
    assert_null(json_object_get(pdu, "unsigned"));
    json_decref(pdu);

    /* Refusals store nothing. */
    const char *ext = rfx_extremities(f, room);
    char ext_before[4096];
    snprintf(ext_before, sizeof ext_before, "%s", ext);
    struct mxr_err err = {0};
    json_t *c = json_pack("{s:s}", "body", "x");
    assert_int_equal(mxr_rooms_send_event(f->rooms, room, BOB, "m.room.message", NULL, c, NULL, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_rooms_send_event(f->rooms, room, "@carol:a.test", "m.room.message", NULL, c, NULL, &err),
                     -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(err.msg, "not joined"));
    assert_int_equal(mxr_rooms_send_event(f->rooms, "!nowhere:a.test", ALICE, "m.room.message", NULL, c, NULL, &err),
                     -1);
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    json_decref(c);
    assert_string_equal(rfx_extremities(f, room), ext_before);

    /* Servers joined, for the outbound sender. */
    json_t *servers = mxr_rooms_joined_servers(rfx_read(f), room, &err);
    rfx_read_end(f);
    assert_int_equal(json_array_size(servers), 2);
    assert_string_equal(json_string_value(json_array_get(servers, 0)), "a.test");
    assert_string_equal(json_string_value(json_array_get(servers, 1)), "b.test");
    json_decref(servers);
}

static void test_durable_reopen(void **state)
{
    struct rfx *f = *state;
    char room[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1], msg[MXR_ID_MAX + 1];
    joined_room(f, room, join);
    assert_int_equal(rfx_ingest1(f, RFX_PDU(f, room, msg, .type = "m.room.message", .sender = BOB,
                                            .content = MSG)).outcome, MXR_PDU_ACCEPTED);
    rfx_reopen(f);
    assert_true(rfx_stored(f, msg));
    assert_string_equal(rfx_membership(f, room, BOB), "join");
    assert_string_equal(rfx_extremities(f, room), msg);
    rfx_assert_consistent(f);
    /* And the reopened context keeps going. */
    char msg2[MXR_ID_MAX + 1];
    rfx_send(f, room, ALICE, "m.room.message", NULL, MSG, msg2);
    assert_string_equal(rfx_extremities(f, room), msg2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_room_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_join_and_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_signature_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_key_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_hash_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_against_auth_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_against_state_and_soft_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_resolved_other_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_reingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_room_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outlier_then_filled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_auth_event_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
