/* relay/rooms/views.c and visibility.c: /state(_ids), auth chains,
 * /backfill and /get_missing_events walks, history visibility for servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/event.h"
#include "mxr/roomver.h"
#include "tests/rooms/rooms_fixture.h"

#define ALICE "@alice:a.test"
#define BOB "@bob:b.test"

struct vfx {
    struct rfx f;
    char room[MXR_ID_MAX + 1];
    char create[MXR_ID_MAX + 1], alice[MXR_ID_MAX + 1], pl[MXR_ID_MAX + 1], join[MXR_ID_MAX + 1];
    char m[6][MXR_ID_MAX + 1];   /* m[1]..m[5]: alice's messages after bob joined */
};

static int setup(void **state)
{
    static struct vfx v;
    struct rfx *f = &v.f;
    rfx_open(f, NULL);
    rfx_room(f, "11", "public_chat", v.room);
    snprintf(v.create, sizeof v.create, "%s", rfx_current(f, v.room, "m.room.create", ""));
    snprintf(v.alice, sizeof v.alice, "%s", rfx_current(f, v.room, "m.room.member", ALICE));
    snprintf(v.pl, sizeof v.pl, "%s", rfx_current(f, v.room, "m.room.power_levels", ""));
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, v.room, v.join, .type = "m.room.member", .sender = BOB,
                                                       .state_key = BOB, .content = "{\"membership\":\"join\"}"));
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    for (int i = 1; i <= 5; i++)
        rfx_send(f, v.room, ALICE, "m.room.message", NULL, "{\"body\":\"m\"}", v.m[i]);
    *state = &v;
    return 0;
}

static int teardown(void **state)
{
    struct vfx *v = *state;
    rfx_close(&v->f);
    return 0;
}

/* The IDs of an array of v11 PDUs, computed (the PDUs carry none). */
static void ids_of(const json_t *pdus, char ids[][MXR_ID_MAX + 1], size_t max, size_t *n)
{
    const struct mxr_room_version *rv = mxr_room_version_get("11", NULL);
    *n = json_array_size(pdus);
    assert_true(*n <= max);
    for (size_t i = 0; i < *n; i++) {
        struct mxr_err err = {0};
        assert_int_equal(mxr_event_compute_id(json_array_get(pdus, i), rv, ids[i], &err), 0);
    }
}

static void test_backfill(void **state)
{
    struct vfx *v = *state;
    struct mxr_err err = {0};
    const char *from[] = {v->m[5]};
    json_t *pdus = mxr_rooms_backfill(rfx_read(&v->f), v->room, "b.test", from, 1, 3, &err);
    rfx_read_end(&v->f);
    assert_non_null(pdus);
    char ids[64][MXR_ID_MAX + 1];
    size_t n;
    ids_of(pdus, ids, 64, &n);
    /* The given event and its predecessors, deepest first, up to limit. */
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], v->m[5]);
    assert_string_equal(ids[1], v->m[4]);
    assert_string_equal(ids[2], v->m[3]);
    json_decref(pdus);

    /* Everything: the six creation events, bob's join and five messages. */
    pdus = mxr_rooms_backfill(rfx_read(&v->f), v->room, "b.test", from, 1, 100, &err);
    rfx_read_end(&v->f);
    ids_of(pdus, ids, 64, &n);
    assert_int_equal(n, 12);
    assert_string_equal(ids[n - 1], v->create);
    json_decref(pdus);

    /* Events of another room are not served through this one. */
    char other[MXR_ID_MAX + 1];
    rfx_room(&v->f, "11", NULL, other);
    pdus = mxr_rooms_backfill(rfx_read(&v->f), other, "b.test", from, 1, 100, &err);
    rfx_read_end(&v->f);
    assert_int_equal(json_array_size(pdus), 0);
    json_decref(pdus);
}

static void test_missing_events(void **state)
{
    struct vfx *v = *state;
    struct mxr_err err = {0};
    const char *earliest[] = {v->m[2]};
    const char *latest[] = {v->m[5]};
    json_t *pdus = mxr_rooms_missing_events(rfx_read(&v->f), v->room, "b.test", earliest, 1, latest, 1, 10, 0, &err);
    rfx_read_end(&v->f);
    char ids[64][MXR_ID_MAX + 1];
    size_t n;
    ids_of(pdus, ids, 64, &n);
    /* Between the two: not latest itself, nothing from earliest back. */
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], v->m[4]);
    assert_string_equal(ids[1], v->m[3]);
    json_decref(pdus);

    /* limit and min_depth cut the walk. */
    pdus = mxr_rooms_missing_events(rfx_read(&v->f), v->room, "b.test", NULL, 0, latest, 1, 1, 0, &err);
    rfx_read_end(&v->f);
    assert_int_equal(json_array_size(pdus), 1);
    json_decref(pdus);
    int64_t d4 = rfx_meta(&v->f, v->m[4]).depth;
    pdus = mxr_rooms_missing_events(rfx_read(&v->f), v->room, "b.test", NULL, 0, latest, 1, 10, d4, &err);
    rfx_read_end(&v->f);
    ids_of(pdus, ids, 64, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], v->m[4]);
    json_decref(pdus);
}

static void test_state_ids_before_event(void **state)
{
    struct vfx *v = *state;
    struct mxr_err err = {0};
    json_t *ids, *chain;
    /* At the power levels event: the state before it, so not itself. */
    assert_int_equal(mxr_rooms_state_ids_at(rfx_read(&v->f), v->room, v->pl, &ids, &chain, &err), 0);
    rfx_read_end(&v->f);
    assert_int_equal(json_array_size(ids), 2);
    assert_true(rfx_array_has(ids, v->create));
    assert_true(rfx_array_has(ids, v->alice));
    assert_false(rfx_array_has(ids, v->pl));
    assert_true(rfx_array_has(chain, v->create));   /* alice's join is authorised by the create event */
    json_decref(ids);
    json_decref(chain);

    /* At a message after bob joined: the full state, and its auth chain. */
    assert_int_equal(mxr_rooms_state_ids_at(rfx_read(&v->f), v->room, v->m[3], &ids, &chain, &err), 0);
    rfx_read_end(&v->f);
    assert_int_equal(json_array_size(ids), 7);
    assert_true(rfx_array_has(ids, v->join));
    for (int i = 1; i <= 5; i++) {
        assert_false(rfx_array_has(ids, v->m[i]));
        assert_false(rfx_array_has(chain, v->m[i]));
    }
    assert_true(rfx_array_has(chain, v->pl));
    json_t *pdus, *chain_pdus;
    assert_int_equal(mxr_rooms_state_at(rfx_read(&v->f), v->room, v->m[3], &pdus, &chain_pdus, &err), 0);
    rfx_read_end(&v->f);
    assert_int_equal(json_array_size(pdus), json_array_size(ids));
    assert_int_equal(json_array_size(chain_pdus), json_array_size(chain));
    assert_true(json_is_object(json_array_get(pdus, 0)));
    json_decref(pdus);
    json_decref(chain_pdus);
    json_decref(ids);
    json_decref(chain);

    /* Unknown event, or an event of another room: M_NOT_FOUND. */
    assert_int_equal(mxr_rooms_state_ids_at(rfx_read(&v->f), v->room, "$nope", &ids, &chain, &err), -1);
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    assert_int_equal(mxr_rooms_state_ids_at(rfx_read(&v->f), "!other:a.test", v->m[3], &ids, &chain, &err), -1);
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    rfx_read_end(&v->f);
}

static void test_auth_chain(void **state)
{
    struct vfx *v = *state;
    struct mxr_err err = {0};
    const char *one[] = {v->m[5]};
    json_t *chain = mxr_rooms_auth_chain(rfx_read(&v->f), one, 1, false, &err);
    rfx_read_end(&v->f);
    /* create, alice's join, power levels: nothing else authorises a message. */
    assert_int_equal(json_array_size(chain), 3);
    assert_true(rfx_array_has(chain, v->create));
    assert_true(rfx_array_has(chain, v->alice));
    assert_true(rfx_array_has(chain, v->pl));
    json_decref(chain);
}

static void test_history_visibility(void **state)
{
    struct vfx *v = *state;
    struct rfx *f = &v->f;
    struct mxr_err err = {0};
    char hv[MXR_ID_MAX + 1], hidden[MXR_ID_MAX + 1], inv[MXR_ID_MAX + 1], seen[MXR_ID_MAX + 1];
    rfx_send(f, v->room, ALICE, "m.room.history_visibility", "", "{\"history_visibility\":\"joined\"}", hv);
    rfx_send(f, v->room, ALICE, "m.room.message", NULL, "{\"body\":\"secret\"}", hidden);

    bool in;
    assert_int_equal(mxr_rooms_server_in_room(rfx_read(f), v->room, "b.test", &in, &err), 0);
    assert_true(in);
    assert_int_equal(mxr_rooms_server_in_room(f->r, v->room, "c.test", &in, &err), 0);
    assert_false(in);

    /* c.test has nobody in the room: the message is hidden from it, while
     * bob's server sees it, and history from when it was shared stays
     * visible. */
    json_t *pdu = mxr_rooms_event_for_server(f->r, hidden, "c.test", &err);
    assert_null(pdu);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    pdu = mxr_rooms_event_for_server(f->r, hidden, "b.test", &err);
    assert_non_null(pdu);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pdu, "content"), "body")), "secret");
    json_decref(pdu);
    pdu = mxr_rooms_event_for_server(f->r, v->m[1], "c.test", &err);
    assert_non_null(pdu);
    json_decref(pdu);
    /* The change itself is visible: the state before it allowed it. */
    bool can;
    assert_int_equal(mxr_rooms_server_can_see(f->r, hv, "c.test", &can, &err), 0);
    assert_true(can);

    /* Backfill gives c.test the hidden event redacted, so its DAG holds. */
    const char *from[] = {hidden};
    json_t *pdus = mxr_rooms_backfill(f->r, v->room, "c.test", from, 1, 1, &err);
    assert_int_equal(json_array_size(pdus), 1);
    assert_int_equal(json_object_size(json_object_get(json_array_get(pdus, 0), "content")), 0);
    json_decref(pdus);
    rfx_read_end(f);

    /* `invited`: an invited user's server may see events from then on. */
    rfx_send(f, v->room, ALICE, "m.room.history_visibility", "", "{\"history_visibility\":\"invited\"}", NULL);
    assert_int_equal(mxr_rooms_event_for_server(rfx_read(f), hidden, "c.test", &err), NULL);
    rfx_read_end(f);
    rfx_send(f, v->room, ALICE, "m.room.member", "@carol:c.test", "{\"membership\":\"invite\"}", inv);
    rfx_send(f, v->room, ALICE, "m.room.message", NULL, "{\"body\":\"for carol\"}", seen);
    assert_int_equal(mxr_rooms_server_can_see(rfx_read(f), seen, "c.test", &can, &err), 0);
    assert_true(can);
    assert_int_equal(mxr_rooms_server_can_see(f->r, hidden, "c.test", &can, &err), 0);
    assert_false(can);
    rfx_read_end(f);
}

static void test_rejected_and_outliers_not_served(void **state)
{
    struct vfx *v = *state;
    struct rfx *f = &v->f;
    struct mxr_err err = {0};
    char bad[MXR_ID_MAX + 1], gap[MXR_ID_MAX + 1];
    /* Rejected: bob claims to be joined with the wrong auth events. */
    struct mxr_pdu_result res = rfx_ingest1(f, RFX_PDU(f, v->room, bad, .type = "m.room.message", .sender = BOB,
                                                       .auth = RFX_IDS(v->create, v->pl)));
    assert_int_equal(res.outcome, MXR_PDU_REJECTED);
    assert_null(mxr_rooms_event_for_server(rfx_read(f), bad, "b.test", &err));
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    rfx_read_end(f);
    /* An outlier: no state to answer /state_ids with. */
    res = rfx_ingest1(f, RFX_PDU(f, v->room, gap, .type = "m.room.message", .sender = BOB,
                                 .prev = RFX_IDS("$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA"), .depth = 50));
    assert_int_equal(res.outcome, MXR_PDU_OUTLIER);
    json_t *ids, *chain;
    assert_int_equal(mxr_rooms_state_ids_at(rfx_read(f), v->room, gap, &ids, &chain, &err), -1);
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    bool can = true;
    assert_int_equal(mxr_rooms_server_can_see(f->r, gap, "b.test", &can, &err), 0);
    assert_false(can);
    rfx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backfill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_ids_before_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_and_outliers_not_served, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
