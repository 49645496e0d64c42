/* Presence (relay/client/presence.c: PUT/GET /presence/{userId}/status,
 * the /sync presence section) and lazy-loaded members in /sync
 * (relay/client/sync.c, client-server API "Lazy-loading room members"),
 * through the dispatcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/federation/edus.h"
#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define ALICE "@alice:hs.test"
#define BOB "@bob:hs.test"
#define CAROL "@carol:hs.test"

struct st {
    struct clfix f;
    char alice[128], bob[128], carol[128], dave[128];
    char room[256];
};

static int setup(void **state)
{
    static struct st t;
    memset(&t, 0, sizeof t);
    clfix_open(&t.f, NULL);
    struct mxr_err err = {0};
    t.f.srv.edus = mxr_edu_store_new(&err);
    assert_non_null(t.f.srv.edus);
    clfix_user(&t.f, "alice", t.alice, NULL);
    clfix_user(&t.f, "bob", t.bob, NULL);
    clfix_user(&t.f, "carol", t.carol, NULL);
    clfix_user(&t.f, "dave", t.dave, NULL);
    json_t *b = clfix_ok(&t.f, 200, "POST", V3 "/createRoom", t.alice, "{\"preset\":\"public_chat\"}");
    snprintf(t.room, sizeof t.room, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    json_decref(clfix_ok(&t.f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", t.room), t.bob, "{}"));
    json_decref(clfix_ok(&t.f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", t.room), t.carol, "{}"));
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

static const char *status_of(const char *user)
{
    return clfix_fmt(V3 "/presence/%s/status", user);
}

/* The m.presence content for `user` in a sync answer, or NULL. */
static json_t *presence_of(json_t *s, const char *user)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(s, "presence"), "events"), i, e)
        if (!strcmp(json_string_value(json_object_get(e, "sender")), user)) {
            assert_string_equal(json_string_value(json_object_get(e, "type")), "m.presence");
            return json_object_get(e, "content");
        }
    return NULL;
}

/* ---- PUT / GET ------------------------------------------------------------------------ */

static void set_and_get_own_presence(void **state)
{
    struct st *t = *state;
    json_decref(clfix_ok(&t->f, 200, "PUT", status_of(ALICE), t->alice,
                         "{\"presence\":\"online\",\"status_msg\":\"at lunch\"}"));
    t->f.now += 5000;
    json_t *g = clfix_ok(&t->f, 200, "GET", status_of(ALICE), t->bob, NULL);
    assert_string_equal(json_string_value(json_object_get(g, "presence")), "online");
    assert_string_equal(json_string_value(json_object_get(g, "status_msg")), "at lunch");
    assert_int_equal(json_integer_value(json_object_get(g, "last_active_ago")), 5000);
    assert_true(json_is_true(json_object_get(g, "currently_active")));
    json_decref(g);
    /* status_msg left out: cleared */
    json_decref(clfix_ok(&t->f, 200, "PUT", status_of(ALICE), t->alice, "{\"presence\":\"unavailable\"}"));
    g = clfix_ok(&t->f, 200, "GET", status_of(ALICE), t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(g, "presence")), "unavailable");
    assert_null(json_object_get(g, "status_msg"));
    assert_int_equal(json_integer_value(json_object_get(g, "last_active_ago")), 0);
    assert_true(json_is_false(json_object_get(g, "currently_active")));
    json_decref(g);
}

static void refusals(void **state)
{
    struct st *t = *state;
    clfix_error(&t->f, 401, "M_UNKNOWN_TOKEN", "PUT", status_of(ALICE), "not-a-token", "{\"presence\":\"online\"}");
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "GET", status_of(ALICE), NULL, NULL);
    clfix_error(&t->f, 403, "M_FORBIDDEN", "PUT", status_of(BOB), t->alice, "{\"presence\":\"online\"}");
    json_t *body = NULL;
    assert_int_equal(clfix_req(&t->f, "PUT", status_of(ALICE), t->alice, "{\"presence\":", &body), 400);
    assert_non_null(json_string_value(json_object_get(body, "errcode")));
    json_decref(body);
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", status_of(ALICE), t->alice, "{\"presence\":\"away\"}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", status_of(ALICE), t->alice, "{}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", status_of(ALICE), t->alice, "{\"presence\":true}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", status_of(ALICE), t->alice,
                "{\"presence\":\"online\",\"status_msg\":7}");
    /* never set, and not a user ID */
    clfix_error(&t->f, 404, "M_NOT_FOUND", "GET", status_of("@dave:hs.test"), t->alice, NULL);
    clfix_error(&t->f, 404, "M_NOT_FOUND", "GET", status_of("@zed:elsewhere.test"), t->alice, NULL);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", status_of("dave"), t->alice, NULL);
}

/* A remote user's presence comes from the m.presence EDUs received. */
static void remote_presence_from_edus(void **state)
{
    struct st *t = *state;
    struct mxr_err err = {0};
    json_t *edu = json_pack("{s:s, s:{s:[{s:s, s:s, s:i, s:s}]}}", "edu_type", "m.presence", "content", "push",
                            "user_id", "@zed:remote.test", "presence", "unavailable", "last_active_ago", 1000,
                            "status_msg", "afk");
    struct mxr_edu_ctx c = {"remote.test", "hs.test", t->f.now, NULL, NULL};
    assert_int_equal(mxr_edu_apply(t->f.srv.edus, &c, edu, &err), 0);
    json_decref(edu);
    t->f.now += 2000;
    json_t *g = clfix_ok(&t->f, 200, "GET", status_of("@zed:remote.test"), t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(g, "presence")), "unavailable");
    assert_string_equal(json_string_value(json_object_get(g, "status_msg")), "afk");
    assert_int_equal(json_integer_value(json_object_get(g, "last_active_ago")), 3000);
    json_decref(g);
}

/* ---- /sync ------------------------------------------------------------------------------- */

static void presence_in_incremental_sync(void **state)
{
    struct st *t = *state;
    json_t *s = clfix_ok(&t->f, 200, "GET", V3 "/sync", t->bob, NULL);
    char since[192];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s, "next_batch")));
    json_decref(s);
    json_decref(clfix_ok(&t->f, 200, "PUT", status_of(ALICE), t->alice,
                         "{\"presence\":\"online\",\"status_msg\":\"back\"}"));
    /* dave shares no room with bob: not shown to him */
    json_decref(clfix_ok(&t->f, 200, "PUT", status_of("@dave:hs.test"), t->dave, "{\"presence\":\"online\"}"));
    s = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync?timeout=0&since=%s", since), t->bob, NULL);
    json_t *p = presence_of(s, ALICE);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "presence")), "online");
    assert_string_equal(json_string_value(json_object_get(p, "status_msg")), "back");
    assert_true(json_is_integer(json_object_get(p, "last_active_ago")));
    assert_null(presence_of(s, "@dave:hs.test"));
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s, "next_batch")));
    json_decref(s);
    /* delivered once */
    s = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync?timeout=0&since=%s", since), t->bob, NULL);
    assert_null(presence_of(s, ALICE));
    json_decref(s);
    /* a six-field token of before the presence field still parses */
    char old[192];
    snprintf(old, sizeof old, "%s", since);
    *strrchr(old, '_') = '\0';
    s = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync?timeout=0&since=%s", old), t->bob, NULL);
    assert_non_null(presence_of(s, ALICE));   /* position 0: everything again */
    json_decref(s);
    /* a presence filter that leaves alice out */
    json_t *f = clfix_ok(&t->f, 200, "POST", V3 "/user/@bob:hs.test/filter", t->bob,
                         "{\"presence\":{\"not_senders\":[\"" ALICE "\"]}}");
    s = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync?filter=%s", json_string_value(json_object_get(f, "filter_id"))),
                 t->bob, NULL);
    assert_null(presence_of(s, ALICE));
    json_decref(s);
    json_decref(f);
}

/* ---- lazy-loading members ------------------------------------------------------------ */

/* The state_keys of the m.room.member events in the room's `state`. */
static int members_in_state(json_t *s, const char *room, const char *want[], size_t n_want)
{
    json_t *events = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(s, "rooms"), "join"), room), "state"),
        "events");
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "type")), "m.room.member"))
            continue;
        const char *key = json_string_value(json_object_get(e, "state_key"));
        bool wanted = false;
        for (size_t k = 0; k < n_want; k++)
            wanted |= !strcmp(key, want[k]);
        assert_true(wanted);
        n++;
    }
    return n;
}

static void lazy_loading_members(void **state)
{
    struct st *t = *state;
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/lz1", t->room), t->carol,
                         "{\"msgtype\":\"m.text\",\"body\":\"hello\"}"));
    json_t *f = clfix_ok(&t->f, 200, "POST", V3 "/user/@alice:hs.test/filter", t->alice,
                         "{\"room\":{\"state\":{\"lazy_load_members\":true},\"timeline\":{\"limit\":1}}}");
    char fid[64];
    snprintf(fid, sizeof fid, "%s", json_string_value(json_object_get(f, "filter_id")));
    json_decref(f);
    /* without lazy loading: all three members */
    f = clfix_ok(&t->f, 200, "POST", V3 "/user/@alice:hs.test/filter", t->alice,
                 "{\"room\":{\"timeline\":{\"limit\":1}}}");
    json_t *s = clfix_ok(&t->f, 200, "GET",
                         clfix_fmt(V3 "/sync?filter=%s", json_string_value(json_object_get(f, "filter_id"))), t->alice,
                         NULL);
    json_decref(f);
    const char *all[] = {ALICE, BOB, CAROL};
    assert_int_equal(members_in_state(s, t->room, all, 3), 3);
    json_decref(s);
    /* lazy: the timeline's one sender (carol) and alice herself */
    s = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync?filter=%s", fid), t->alice, NULL);
    const char *lazy[] = {ALICE, CAROL};
    assert_int_equal(members_in_state(s, t->room, lazy, 2), 2);
    bool create = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(s, "rooms"),
                                                                                      "join"), t->room), "state"),
                                       "events"), i, e)
        create |= !strcmp(json_string_value(json_object_get(e, "type")), "m.room.create");
    assert_true(create);   /* the other state stays */
    char since[192];
    snprintf(since, sizeof since, "%s", json_string_value(json_object_get(s, "next_batch")));
    json_decref(s);
    /* incremental: bob speaks; his member event comes with it */
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/lz2", t->room), t->bob,
                         "{\"msgtype\":\"m.text\",\"body\":\"hi\"}"));
    s = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/sync?timeout=0&filter=%s&since=%s", fid, since), t->alice, NULL);
    const char *inc[] = {ALICE, BOB};
    int n = members_in_state(s, t->room, inc, 2);
    assert_true(n >= 1);
    json_t *events = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(s, "rooms"), "join"), t->room), "state"),
        "events");
    bool bob = false;
    json_array_foreach(events, i, e) bob |= !strcmp(json_string_value(json_object_get(e, "state_key")), BOB);
    assert_true(bob);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_and_get_own_presence),
        cmocka_unit_test(refusals),
        cmocka_unit_test(remote_presence_from_edus),
        cmocka_unit_test(presence_in_incremental_sync),
        cmocka_unit_test(lazy_loading_members),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
