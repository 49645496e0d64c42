/* relay/client/sync.c: initial and incremental /sync, limited timelines and
 * prev_batch, invites, joins and leaves, account data, filters, and a
 * long-poll woken by a new event. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define R0 "/_matrix/client/r0"

struct st {
    struct clfix f;
    char alice[128], bob[128];
    char room[256];
};

static int setup(void **state)
{
    static struct st t;
    clfix_open(&t.f, NULL);
    clfix_user(&t.f, "alice", t.alice, NULL);
    clfix_user(&t.f, "bob", t.bob, NULL);
    json_t *b = clfix_ok(&t.f, 200, "POST", V3 "/createRoom", t.alice, "{\"preset\":\"public_chat\",\"name\":\"S\"}");
    snprintf(t.room, sizeof t.room, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct st *)*state)->f);
    return 0;
}

static void send_text(struct st *t, const char *token, const char *txn, const char *text)
{
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/%s", t->room, txn), token,
                         clfix_fmt("{\"msgtype\":\"m.text\",\"body\":\"%s\"}", text)));
}

static json_t *sync(struct st *t, const char *token, const char *query)
{
    return clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync%s", query), token, NULL);
}

static json_t *joined(json_t *s, const char *room)
{
    return json_object_get(json_object_get(json_object_get(s, "rooms"), "join"), room);
}

static const char *body_of(json_t *ev)
{
    return json_string_value(json_object_get(json_object_get(ev, "content"), "body"));
}

static bool has_state(json_t *events, const char *type, const char *key)
{
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) if (!strcmp(json_string_value(json_object_get(e, "type")), type) &&
                                         !strcmp(json_string_value(json_object_get(e, "state_key")), key)) return true;
    return false;
}

static void initial_sync_has_every_section(void **state)
{
    struct st *t = *state;
    send_text(t, t->alice, "i1", "first");
    json_t *s = sync(t, t->alice, "");
    assert_true(json_is_string(json_object_get(s, "next_batch")));
    json_t *rooms = json_object_get(s, "rooms");
    for (const char *k = "join"; k; k = !strcmp(k, "join") ? "invite" : !strcmp(k, "invite") ? "leave" : !strcmp(k, "leave") ? "knock" : NULL)
        assert_true(json_is_object(json_object_get(rooms, k)));
    assert_true(json_is_array(json_object_get(json_object_get(s, "presence"), "events")));
    assert_true(json_is_array(json_object_get(json_object_get(s, "account_data"), "events")));
    assert_true(json_is_array(json_object_get(json_object_get(s, "to_device"), "events")));
    assert_true(json_is_array(json_object_get(json_object_get(s, "device_lists"), "changed")));
    assert_true(json_is_array(json_object_get(json_object_get(s, "device_lists"), "left")));
    assert_true(json_is_object(json_object_get(s, "device_one_time_keys_count")));

    json_t *r = joined(s, t->room);
    assert_non_null(r);
    json_t *tl = json_object_get(r, "timeline");
    json_t *events = json_object_get(tl, "events");
    size_t n = json_array_size(events);
    assert_true(n >= 2);
    assert_string_equal(body_of(json_array_get(events, n - 1)), "first");
    assert_true(json_is_boolean(json_object_get(tl, "limited")));
    assert_true(json_is_string(json_object_get(tl, "prev_batch")));
    /* sync events carry no room_id (ClientEventWithoutRoomID) */
    assert_null(json_object_get(json_array_get(events, 0), "room_id"));
    /* The room is small: everything fits, and state + timeline hold the
     * whole current state. */
    assert_false(json_is_true(json_object_get(tl, "limited")));
    json_t *state_ev = json_object_get(json_object_get(r, "state"), "events");
    assert_true(has_state(state_ev, "m.room.create", "") || has_state(events, "m.room.create", ""));
    assert_true(has_state(state_ev, "m.room.name", "") || has_state(events, "m.room.name", ""));
    json_t *sum = json_object_get(r, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "m.joined_member_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "m.invited_member_count")), 0);
    assert_true(json_is_array(json_object_get(sum, "m.heroes")));
    assert_true(json_is_array(json_object_get(json_object_get(r, "ephemeral"), "events")));
    assert_true(json_is_array(json_object_get(json_object_get(r, "account_data"), "events")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "unread_notifications"), "notification_count")), 0);
    json_decref(s);
}

static void incremental_and_limited(void **state)
{
    struct st *t = *state;
    json_t *s0 = sync(t, t->alice, "");
    char since[64];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s0, "next_batch")));
    json_decref(s0);

    /* nothing new: an empty answer with the same position */
    json_t *s = sync(t, t->alice, clfix_fmt("?since=%s&timeout=0", since));
    assert_int_equal(json_object_size(json_object_get(json_object_get(s, "rooms"), "join")), 0);
    assert_string_equal(json_string_value(json_object_get(s, "next_batch")), since);
    json_decref(s);

    send_text(t, t->alice, "n1", "one");
    s = sync(t, t->alice, clfix_fmt("?since=%s", since));
    json_t *tl = json_object_get(joined(s, t->room), "timeline");
    assert_int_equal(json_array_size(json_object_get(tl, "events")), 1);
    json_t *ev = json_array_get(json_object_get(tl, "events"), 0);
    assert_string_equal(body_of(ev), "one");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "unsigned"), "transaction_id")), "n1");
    assert_true(json_is_false(json_object_get(tl, "limited")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(joined(s, t->room), "state"), "events")), 0);
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s, "next_batch")));
    json_decref(s);

    /* 8 messages and a name change in the gap, limit 3: the last 3, limited,
     * the name change in `state`, and prev_batch leading to the rest */
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/state/m.room.name", t->room), t->alice,
                         "{\"name\":\"Gap\"}"));
    for (int i = 0; i < 8; i++)
        send_text(t, t->alice, clfix_fmt("g%d", i), clfix_fmt("gap%d", i));
    s = sync(t, t->alice, clfix_fmt("?since=%s&filter=%%7B%%22room%%22:%%7B%%22timeline%%22:%%7B%%22limit%%22:3%%7D%%7D%%7D", since));
    tl = json_object_get(joined(s, t->room), "timeline");
    json_t *events = json_object_get(tl, "events");
    assert_int_equal(json_array_size(events), 3);
    assert_string_equal(body_of(json_array_get(events, 0)), "gap5");
    assert_string_equal(body_of(json_array_get(events, 2)), "gap7");
    assert_true(json_is_true(json_object_get(tl, "limited")));
    json_t *st = json_object_get(json_object_get(joined(s, t->room), "state"), "events");
    assert_true(has_state(st, "m.room.name", ""));
    const char *prev = json_string_value(json_object_get(tl, "prev_batch"));
    json_t *m = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/rooms/%s/messages?dir=b&limit=2&from=%s", t->room, prev),
                         t->alice, NULL);
    assert_string_equal(body_of(json_array_get(json_object_get(m, "chunk"), 0)), "gap4");
    assert_string_equal(body_of(json_array_get(json_object_get(m, "chunk"), 1)), "gap3");
    json_decref(m);
    json_decref(s);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/sync?since=garbage", t->alice, NULL);
}

static void invites_joins_and_leaves(void **state)
{
    struct st *t = *state;
    json_t *s0 = sync(t, t->bob, "");
    char since[64];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s0, "next_batch")));
    assert_null(joined(s0, t->room));
    json_decref(s0);

    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/invite", t->room), t->alice,
                         "{\"user_id\":\"@bob:hs.test\"}"));
    json_t *s = sync(t, t->bob, clfix_fmt("?since=%s", since));
    json_t *inv = json_object_get(json_object_get(json_object_get(s, "rooms"), "invite"), t->room);
    assert_non_null(inv);
    json_t *ist = json_object_get(json_object_get(inv, "invite_state"), "events");
    assert_true(has_state(ist, "m.room.create", ""));
    assert_true(has_state(ist, "m.room.join_rules", ""));
    assert_true(has_state(ist, "m.room.member", "@bob:hs.test"));
    json_t *e0 = json_array_get(ist, 0);
    assert_non_null(json_object_get(e0, "sender"));
    assert_non_null(json_object_get(e0, "content"));
    assert_null(json_object_get(e0, "event_id"));   /* stripped state */
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s, "next_batch")));
    json_decref(s);

    /* joining: the room comes with its full state */
    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(R0 "/join/%s", t->room), t->bob, NULL));
    s = sync(t, t->bob, clfix_fmt("?since=%s&filter=%%7B%%22room%%22:%%7B%%22timeline%%22:%%7B%%22limit%%22:1%%7D%%7D%%7D", since));
    json_t *r = joined(s, t->room);
    assert_non_null(r);
    json_t *st = json_object_get(json_object_get(r, "state"), "events");
    assert_true(has_state(st, "m.room.create", ""));
    assert_true(has_state(st, "m.room.power_levels", ""));
    json_t *tl = json_object_get(json_object_get(r, "timeline"), "events");
    assert_int_equal(json_array_size(tl), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tl, 0), "state_key")), "@bob:hs.test");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "summary"), "m.joined_member_count")), 2);
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s, "next_batch")));
    json_decref(s);

    /* leaving: the room moves to `leave` with the leave in its timeline */
    json_decref(clfix_ok(&t->f, 200, "POST", clfix_fmt(V3 "/rooms/%s/leave", t->room), t->bob, NULL));
    send_text(t, t->alice, "after", "after bob left");
    s = sync(t, t->bob, clfix_fmt("?since=%s", since));
    assert_null(joined(s, t->room));
    json_t *lv = json_object_get(json_object_get(json_object_get(s, "rooms"), "leave"), t->room);
    assert_non_null(lv);
    tl = json_object_get(json_object_get(lv, "timeline"), "events");
    json_t *last = json_array_get(tl, json_array_size(tl) - 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "content"), "membership")), "leave");
    size_t i;
    json_t *e;
    json_array_foreach(tl, i, e) assert_true(!body_of(e) || strcmp(body_of(e), "after bob left"));
    json_decref(s);
    /* an initial sync lists left rooms only when the filter asks */
    s = sync(t, t->bob, "");
    assert_null(json_object_get(json_object_get(json_object_get(s, "rooms"), "leave"), t->room));
    json_decref(s);
    s = sync(t, t->bob, "?filter=%7B%22room%22:%7B%22include_leave%22:true%7D%7D");
    assert_non_null(json_object_get(json_object_get(json_object_get(s, "rooms"), "leave"), t->room));
    json_decref(s);
}

static void account_data_and_stored_filters(void **state)
{
    struct st *t = *state;
    json_t *s0 = sync(t, t->alice, "");
    char since[64];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s0, "next_batch")));
    json_decref(s0);
    json_decref(clfix_ok(&t->f, 200, "PUT", V3 "/user/@alice:hs.test/account_data/org.example.x", t->alice, "{\"v\":1}"));
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/user/@alice:hs.test/rooms/%s/account_data/m.tag", t->room),
                         t->alice, "{\"tags\":{}}"));
    json_t *s = sync(t, t->alice, clfix_fmt("?since=%s", since));
    json_t *ad = json_object_get(json_object_get(s, "account_data"), "events");
    assert_int_equal(json_array_size(ad), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ad, 0), "type")), "org.example.x");
    json_t *rad = json_object_get(json_object_get(joined(s, t->room), "account_data"), "events");
    assert_int_equal(json_array_size(rad), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rad, 0), "type")), "m.tag");
    json_decref(s);

    json_t *f = clfix_ok(&t->f, 200, "POST", V3 "/user/@alice:hs.test/filter", t->alice,
                         "{\"room\":{\"timeline\":{\"limit\":1,\"not_types\":[\"m.room.member\"]}}}");
    const char *id = json_string_value(json_object_get(f, "filter_id"));
    s = sync(t, t->alice, clfix_fmt("?filter=%s", id));
    json_t *tl = json_object_get(json_object_get(joined(s, t->room), "timeline"), "events");
    assert_int_equal(json_array_size(tl), 1);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(tl, 0), "type")), "m.room.member");
    json_decref(s);
    json_decref(f);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/sync?filter=999999", t->alice, NULL);
    clfix_error(&t->f, 400, "M_BAD_JSON", "GET", V3 "/sync?filter=%7Bnot%20json", t->alice, NULL);
}

struct poll {
    struct st *t;
    char since[64];
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

static void long_poll_returns_the_new_event(void **state)
{
    struct st *t = *state;
    json_t *s0 = sync(t, t->alice, "");
    struct poll p = {.t = t};
    snprintf(p.since, sizeof p.since, "%s", json_string_value(json_object_get(s0, "next_batch")));
    json_decref(s0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poller, &p), 0);
    send_text(t, t->alice, "lp", "wake up");
    pthread_join(th, NULL);
    assert_non_null(p.out);
    json_t *tl = json_object_get(json_object_get(joined(p.out, t->room), "timeline"), "events");
    assert_int_equal(json_array_size(tl), 1);
    assert_string_equal(body_of(json_array_get(tl, 0)), "wake up");
    json_decref(p.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initial_sync_has_every_section),
        cmocka_unit_test(incremental_and_limited),
        cmocka_unit_test(invites_joins_and_leaves),
        cmocka_unit_test(account_data_and_stored_filters),
        cmocka_unit_test(long_poll_returns_the_new_event),
    };
    return cmocka_run_group_tests_name("client sync", tests, setup, teardown);
}
