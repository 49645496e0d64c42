/* Events (relay/store/events.c): PDU and metadata round trips, idempotence,
 * outliers and their de-outliering, rejected and soft-failed events,
 * redactions, and refusal of what must not be stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "mxr/event.h"
#include "tests/store/store_fixture.h"

#define ROOM "!r:example.org"

static int setup(void **state)
{
    static struct fx f;
    fx_open(&f, 0);
    assert_int_equal(fx_room(&f, ROOM, "10", NULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_close(*state);
    return 0;
}

static void persist_and_read_back(void **state)
{
    struct fx *f = *state;
    struct fx_event c, m, msg;
    fx_event(&c, "$create", ROOM, "m.room.create", "", 1, NULL);
    struct mxr_store_persisted out;
    assert_int_equal(fx_persist(f, &c, &out, NULL), 0);
    assert_false(out.already);
    assert_true(out.stream > 0);
    assert_true(out.state_after != 0);

    fx_event(&m, "$join", ROOM, "m.room.member", "@alice:example.org", 2,
             (const char *[]){"$create", NULL});
    m.e.membership = "join";
    m.auths[0] = "$create";
    m.e.state_before = out.state_after;
    struct mxr_store_persisted out2;
    assert_int_equal(fx_persist(f, &m, &out2, NULL), 0);
    assert_true(out2.stream > out.stream);

    fx_event(&msg, "$msg", ROOM, "m.room.message", NULL, 3, (const char *[]){"$join", NULL});
    msg.e.state_before = out2.state_after;
    struct mxr_store_persisted out3;
    assert_int_equal(fx_persist(f, &msg, &out3, NULL), 0);
    assert_true(out3.state_after == out2.state_after);   /* a message changes no state */

    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    const char *json;
    size_t len;
    assert_int_equal(mxr_store_event_json(t, "$join", &json, &len, &err), 0);
    assert_int_equal(len, strlen(m.json));
    assert_memory_equal(json, m.json, len);

    struct mxr_store_event_meta meta;
    assert_int_equal(mxr_store_event_meta(t, "$join", &meta, &err), 0);
    assert_string_equal(meta.room_id, ROOM);
    assert_int_equal(meta.depth, 2);
    assert_int_equal(meta.origin_server_ts, 1002);
    assert_int_equal(meta.received_ts, 2002);
    assert_int_equal(meta.stream, out2.stream);
    assert_int_equal(meta.flags, 0);
    assert_true(meta.is_state);
    assert_string_equal(meta.type, "m.room.member");
    assert_string_equal(meta.state_key, "@alice:example.org");
    assert_string_equal(meta.membership, "join");
    assert_string_equal(meta.redacted_by, "");

    assert_int_equal(mxr_store_event_meta(t, "$msg", &meta, &err), 0);
    assert_false(meta.is_state);
    assert_string_equal(meta.type, "");
    assert_string_equal(meta.membership, "");

    uint64_t before, after;
    assert_int_equal(mxr_store_event_state(t, "$join", &before, &after, &err), 0);
    assert_true(before == out.state_after);
    assert_true(after == out2.state_after);
    char id[MXR_STORE_ID_MAX + 1];
    assert_int_equal(mxr_store_state_get(t, after, "m.room.member", "@alice:example.org", id, &err), 0);
    assert_string_equal(id, "$join");
    assert_int_equal(mxr_store_state_get(t, before, "m.room.member", "@alice:example.org", id, &err),
                     MXR_STORE_NOT_FOUND);

    assert_int_equal(mxr_store_event_exists(t, "$msg", &err), 0);
    assert_int_equal(mxr_store_event_exists(t, "$nope", &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_event_json(t, "$nope", &json, &len, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_event_meta(t, "$nope", &meta, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
    fx_assert_consistent(f);
}

static void persisting_twice_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct fx_event c;
    fx_event(&c, "$create", ROOM, "m.room.create", "", 1, NULL);
    struct mxr_store_persisted a, b;
    assert_int_equal(fx_persist(f, &c, &a, NULL), 0);
    assert_int_equal(fx_persist(f, &c, &b, NULL), 0);
    assert_true(b.already);
    assert_true(b.stream == a.stream);
    assert_true(b.state_after == a.state_after);
    struct mxr_store_txn *t = fx_read(f);
    uint64_t head;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_stream_head(t, &head, &err), 0);
    assert_true(head == a.stream);
    fx_read_end(f);
    fx_assert_consistent(f);
}

static void outlier_then_deoutliered(void **state)
{
    struct fx *f = *state;
    struct fx_event c, o;
    fx_event(&c, "$create", ROOM, "m.room.create", "", 1, NULL);
    struct mxr_store_persisted pc;
    assert_int_equal(fx_persist(f, &c, &pc, NULL), 0);
    fx_event(&o, "$out", ROOM, "m.room.join_rules", "", 2, (const char *[]){"$create", NULL});
    o.e.flags = MXR_STORE_OUTLIER;
    struct mxr_store_persisted po;
    assert_int_equal(fx_persist(f, &o, &po, NULL), 0);
    assert_int_equal(po.stream, 0);
    assert_int_equal(po.state_after, 0);

    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    struct mxr_store_event_meta meta;
    assert_int_equal(mxr_store_event_meta(t, "$out", &meta, &err), 0);
    assert_int_equal(meta.flags, MXR_STORE_OUTLIER);
    assert_int_equal(meta.stream, 0);
    uint64_t b, a;
    assert_int_equal(mxr_store_event_state(t, "$out", &b, &a, &err), MXR_STORE_NOT_FOUND);
    struct fx_ids ids = {0};
    assert_int_equal(mxr_store_extremities(t, ROOM, fx_ids_cb, &ids, &err), 0);
    assert_string_equal(fx_ids_sorted(&ids), "$create");
    fx_read_end(f);
    fx_assert_consistent(f);

    /* Stored again as an outlier: nothing changes. */
    assert_int_equal(fx_persist(f, &o, &po, NULL), 0);
    assert_true(po.already);

    /* Its state became known: it joins the timeline and the extremities. */
    o.e.flags = 0;
    o.e.state_before = pc.state_after;
    assert_int_equal(fx_persist(f, &o, &po, NULL), 0);
    assert_false(po.already);
    assert_true(po.stream > pc.stream);
    t = fx_read(f);
    assert_int_equal(mxr_store_event_meta(t, "$out", &meta, &err), 0);
    assert_int_equal(meta.flags, 0);
    assert_true(meta.stream == po.stream);
    assert_int_equal(mxr_store_event_state(t, "$out", &b, &a, &err), 0);
    assert_true(b == pc.state_after && a == po.state_after);
    struct fx_ids ex = {0};
    assert_int_equal(mxr_store_extremities(t, ROOM, fx_ids_cb, &ex, &err), 0);
    assert_string_equal(fx_ids_sorted(&ex), "$out");
    fx_read_end(f);
    fx_assert_consistent(f);
}

static void rejected_and_soft_failed(void **state)
{
    struct fx *f = *state;
    struct fx_event c, r, s;
    fx_event(&c, "$create", ROOM, "m.room.create", "", 1, NULL);
    struct mxr_store_persisted pc, pr, ps;
    assert_int_equal(fx_persist(f, &c, &pc, NULL), 0);

    fx_event(&r, "$rej", ROOM, "m.room.power_levels", "", 2, (const char *[]){"$create", NULL});
    r.e.flags = MXR_STORE_REJECTED;
    r.e.rejected_reason = "auth rule 10.2: sender lacks power";
    r.e.state_before = pc.state_after;
    assert_int_equal(fx_persist(f, &r, &pr, NULL), 0);
    assert_true(pr.stream > 0);
    assert_true(pr.state_after == pc.state_after);   /* spec: rejected events change no state */

    fx_event(&s, "$soft", ROOM, "m.room.topic", "", 2, (const char *[]){"$create", NULL});
    s.e.flags = MXR_STORE_SOFT_FAILED;
    s.e.state_before = pc.state_after;
    assert_int_equal(fx_persist(f, &s, &ps, NULL), 0);
    assert_true(ps.state_after != pc.state_after);   /* soft failure passed auth at its own state */

    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    struct mxr_store_event_meta meta;
    assert_int_equal(mxr_store_event_meta(t, "$rej", &meta, &err), 0);
    assert_int_equal(meta.flags, MXR_STORE_REJECTED);
    assert_string_equal(meta.rejected_reason, "auth rule 10.2: sender lacks power");
    assert_int_equal(mxr_store_event_meta(t, "$soft", &meta, &err), 0);
    assert_int_equal(meta.flags, MXR_STORE_SOFT_FAILED);
    assert_string_equal(meta.rejected_reason, "");
    /* Neither is in the timeline nor a forward extremity. */
    struct fx_ids ex = {0};
    assert_int_equal(mxr_store_extremities(t, ROOM, fx_ids_cb, &ex, &err), 0);
    assert_string_equal(fx_ids_sorted(&ex), "$create");
    fx_read_end(f);
    fx_assert_consistent(f);
}

struct tl {
    char ids[8][64];
    size_t n;
};
static int tl_cb(void *arg, const char *id, uint64_t stream)
{
    struct tl *t = arg;
    snprintf(t->ids[t->n++], 64, "%s", id);
    return t->n == 8;
}

static void timeline_holds_accepted_events_only(void **state)
{
    rejected_and_soft_failed(state);
    struct fx *f = *state;
    struct mxr_store_txn *t = fx_read(f);
    struct tl tl = {0};
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_timeline(t, ROOM, 0, true, 10, tl_cb, &tl, &err), 0);
    assert_int_equal(tl.n, 1);
    assert_string_equal(tl.ids[0], "$create");
    fx_read_end(f);
}

static void refusals_roll_back(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    struct fx_event x;

    fx_event(&x, "$elsewhere", "!unknown:example.org", "m.room.message", NULL, 1, NULL);
    assert_int_equal(fx_persist(f, &x, NULL, &err), -1);
    assert_string_equal(err.errcode, "M_UNKNOWN");
    assert_non_null(strstr(err.msg, "not registered"));

    fx_event(&x, "$m", ROOM, "m.room.member", "@bob:example.org", 1, NULL);
    x.e.membership = NULL;
    assert_int_equal(fx_persist(f, &x, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "content.membership"));

    char longid[300];
    memset(longid, 'a', sizeof longid - 1);
    longid[0] = '$';
    longid[299] = '\0';
    fx_event(&x, longid, ROOM, "m.room.message", NULL, 1, NULL);
    assert_int_equal(fx_persist(f, &x, NULL, &err), -1);
    assert_string_equal(err.errcode, "M_TOO_LARGE");

    fx_event(&x, "$badgroup", ROOM, "m.room.message", NULL, 1, NULL);
    x.e.state_before = 999;
    assert_int_equal(fx_persist(f, &x, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "does not exist"));

    /* Nothing of these attempts is visible, not even their short IDs. */
    struct mxr_store_txn *t = fx_read(f);
    assert_int_equal(mxr_store_event_exists(t, "$elsewhere", &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_event_exists(t, "$m", &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_event_exists(t, "$badgroup", &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
    fx_assert_consistent(f);
}

struct redact_arg {
    const char *target, *by;
};
static int redact_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct redact_arg *a = arg;
    return mxr_store_event_set_redacted_by(t, a->target, a->by, err);
}

static void redacted_by_first_wins(void **state)
{
    struct fx *f = *state;
    struct fx_event c;
    fx_event(&c, "$create", ROOM, "m.room.create", "", 1, NULL);
    assert_int_equal(fx_persist(f, &c, NULL, NULL), 0);
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, redact_fn, &(struct redact_arg){"$create", "$red1"}, &err), 0);
    assert_int_equal(mxr_store_write(f->s, redact_fn, &(struct redact_arg){"$create", "$red2"}, &err), 0);
    /* The target may not be stored yet. */
    assert_int_equal(mxr_store_write(f->s, redact_fn, &(struct redact_arg){"$later", "$red3"}, &err), 0);
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_store_event_meta meta;
    assert_int_equal(mxr_store_event_meta(t, "$create", &meta, &err), 0);
    assert_string_equal(meta.redacted_by, "$red1");
    fx_read_end(f);
    fx_assert_consistent(f);
}

static void fill_from_parsed_event(void **state)
{
    json_t *content = json_pack("{s:s}", "membership", "invite");
    const char *prev[] = {"$a", "$b"}, *auth[] = {"$c"};
    struct mxr_event ev = {0};
    snprintf(ev.event_id, sizeof ev.event_id, "%s", "$ev");
    ev.type = "m.room.member";
    ev.state_key = "@carol:example.org";
    ev.room_id = NULL;   /* v12 create: the derived ID lives in room_id_buf */
    snprintf(ev.room_id_buf, sizeof ev.room_id_buf, "%s", "!derived");
    ev.content = content;
    ev.depth = 12;
    ev.origin_server_ts = 99;
    ev.prev_events = prev;
    ev.n_prev_events = 2;
    ev.auth_events = auth;
    ev.n_auth_events = 1;
    struct mxr_store_event e;
    mxr_store_event_from(&e, &ev, "{}", 2);
    assert_string_equal(e.event_id, "$ev");
    assert_string_equal(e.room_id, "!derived");
    assert_string_equal(e.membership, "invite");
    assert_int_equal(e.depth, 12);
    assert_int_equal(e.n_prev_events, 2);
    assert_string_equal(e.prev_events[1], "$b");
    assert_int_equal(e.n_auth_events, 1);
    assert_true(e.state_after == MXR_STORE_STATE_DERIVE);
    json_decref(content);
}

/* A parsed PDU (proto/event.c) stored through mxr_store_event_from. */
static void store_a_loaded_pdu(void **state)
{
    struct fx *f = *state;
    static const char pdu[] =
        "{\"auth_events\":[\"$create\"],\"content\":{\"membership\":\"join\"},\"depth\":2,"
        "\"event_id\":\"$join:example.org\",\"origin_server_ts\":1700000000000,"
        "\"prev_events\":[\"$create\"],\"room_id\":\"" ROOM "\",\"sender\":\"@alice:example.org\","
        "\"state_key\":\"@alice:example.org\",\"type\":\"m.room.member\"}";
    struct mxr_err err = {0};
    const struct mxr_room_version *rv = mxr_room_version_get("10", &err);
    assert_non_null(rv);
    json_t *j = json_loads(pdu, 0, NULL);
    assert_non_null(j);
    struct mxr_event ev;
    if (mxr_event_load(&ev, j, rv, MXR_EVENT_TRUST_GIVEN_ID, &err))
        fail_msg("load: %s", err.msg);
    json_decref(j);
    struct mxr_store_event e;
    mxr_store_event_from(&e, &ev, pdu, strlen(pdu));
    e.received_ts = 5;
    struct fx_event x;
    x.e = e;
    memset(x.auths, 0, sizeof x.auths);   /* keep e's own auth list */
    struct mxr_store_persisted out;
    assert_int_equal(fx_persist(f, &x, &out, &err), 0);
    mxr_event_release(&ev);

    struct mxr_store_txn *t = fx_read(f);
    struct mxr_store_event_meta meta;
    assert_int_equal(mxr_store_event_meta(t, "$join:example.org", &meta, &err), 0);
    assert_string_equal(meta.membership, "join");
    assert_string_equal(meta.state_key, "@alice:example.org");
    assert_int_equal(meta.depth, 2);
    assert_int_equal(meta.origin_server_ts, 1700000000000LL);
    struct fx_ids ids = {0};
    assert_int_equal(mxr_store_edges(t, "$join:example.org", MXR_STORE_AUTHS, fx_ids_cb, &ids, &err), 0);
    assert_string_equal(fx_ids_sorted(&ids), "$create");
    const char *json;
    size_t len;
    assert_int_equal(mxr_store_event_json(t, "$join:example.org", &json, &len, &err), 0);
    assert_int_equal(len, strlen(pdu));
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(persist_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(persisting_twice_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(outlier_then_deoutliered, setup, teardown),
        cmocka_unit_test_setup_teardown(rejected_and_soft_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(timeline_holds_accepted_events_only, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_roll_back, setup, teardown),
        cmocka_unit_test_setup_teardown(redacted_by_first_wins, setup, teardown),
        cmocka_unit_test(fill_from_parsed_event),
        cmocka_unit_test_setup_teardown(store_a_loaded_pdu, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
