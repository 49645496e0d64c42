/* relay/client/rooms.c membership leftovers through the real dispatcher:
 * knocking on local rooms, unban, forget, createRoom's is_direct invites and
 * the creator's profile on the join, and soft_logout on M_UNKNOWN_TOKEN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/client/client_int.h"
#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"

struct mt {
    struct clfix f;
    char alice[128], bob[128], carol[128];
};

static int setup(void **state)
{
    static struct mt t;
    clfix_open(&t.f, NULL);
    clfix_user(&t.f, "alice", t.alice, NULL);
    clfix_user(&t.f, "bob", t.bob, NULL);
    clfix_user(&t.f, "carol", t.carol, NULL);
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct mt *)*state)->f);
    return 0;
}

static void create(struct clfix *f, const char *token, const char *body, char room_id[256])
{
    json_t *b = clfix_ok(f, 200, "POST", V3 "/createRoom", token, body);
    snprintf(room_id, 256, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
}

/* The content of user's member event in room, read by `token`. */
static json_t *member(struct clfix *f, const char *token, const char *room, const char *user)
{
    return clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/state/m.room.member/%s", room, user), token, NULL);
}

static void assert_membership(struct clfix *f, const char *token, const char *room, const char *user, const char *m)
{
    json_t *c = member(f, token, room, user);
    assert_string_equal(json_string_value(json_object_get(c, "membership")), m);
    json_decref(c);
}

#define KNOCK_ROOM "{\"room_version\":\"%s\",\"room_alias_name\":\"%s\",\"initial_state\":[{\"type\":" \
                   "\"m.room.join_rules\",\"state_key\":\"\",\"content\":{\"join_rule\":\"knock\"}}]}"

static void knocking(void **state)
{
    struct mt *t = *state;
    struct clfix *f = &t->f;
    char room[256], pub[256], old[256];
    create(f, t->alice, clfix_fmt(KNOCK_ROOM, "10", "knockers"), room);
    json_t *b = clfix_ok(f, 200, "POST", clfix_fmt(V3 "/knock/%s", room), t->bob, "{\"reason\":\"let me in\"}");
    assert_string_equal(json_string_value(json_object_get(b, "room_id")), room);
    json_decref(b);
    json_t *c = member(f, t->alice, room, "@bob:hs.test");
    assert_string_equal(json_string_value(json_object_get(c, "membership")), "knock");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "let me in");
    assert_string_equal(json_string_value(json_object_get(c, "displayname")), "bob");
    json_decref(c);
    /* by alias, with via (ignored for local rooms) */
    b = clfix_ok(f, 200, "POST", V3 "/knock/%23knockers:hs.test?via=hs.test", t->carol, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "room_id")), room);
    json_decref(b);
    /* the knock is answered by an invite, then bob joins */
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/invite", room), t->alice, "{\"user_id\":\"@bob:hs.test\"}"));
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", room), t->bob, NULL));
    assert_membership(f, t->alice, room, "@bob:hs.test", "join");
    /* a joined member cannot knock */
    clfix_error(f, 403, "M_FORBIDDEN", "POST", clfix_fmt(V3 "/knock/%s", room), t->bob, NULL);

    /* not a knock room; a room version without knocking (7+ has it) */
    create(f, t->alice, "{\"preset\":\"public_chat\"}", pub);
    clfix_error(f, 403, "M_FORBIDDEN", "POST", clfix_fmt(V3 "/knock/%s", pub), t->bob, NULL);
    create(f, t->alice, clfix_fmt(KNOCK_ROOM, "6", "oldknock"), old);
    clfix_error(f, 403, "M_FORBIDDEN", "POST", clfix_fmt(V3 "/knock/%s", old), t->bob, NULL);
    /* unknown rooms and aliases, bad targets, bad bodies, bad tokens */
    clfix_error(f, 404, "M_NOT_FOUND", "POST", V3 "/knock/!unknown:hs.test", t->bob, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "POST", V3 "/knock/%23nobody:hs.test", t->bob, NULL);
    clfix_error(f, 400, "M_INVALID_PARAM", "POST", V3 "/knock/nonsense", t->bob, NULL);
    clfix_error(f, 400, "M_BAD_JSON", "POST", clfix_fmt(V3 "/knock/%s", room), t->carol, "{\"reason\":5}");
    clfix_error(f, 400, "M_NOT_JSON", "POST", clfix_fmt(V3 "/knock/%s", room), t->carol, "[1]");
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "POST", clfix_fmt(V3 "/knock/%s", room), "mxr_nope", NULL);
}

/* What the federation seam heard. */
static struct {
    char target[256], user[256], reason[64], via[2][64];
    size_t n_via;
    int calls;
} heard;

static int fake_remote_knock(void *ctx, const char *room_id_or_alias, const char *user_id, const char *reason,
                             const char *const *via, size_t n_via, char room_id_out[256], struct mxr_err *err)
{
    (void)ctx;
    heard.calls++;
    snprintf(heard.target, sizeof heard.target, "%s", room_id_or_alias);
    snprintf(heard.user, sizeof heard.user, "%s", user_id);
    snprintf(heard.reason, sizeof heard.reason, "%s", reason ? reason : "");
    heard.n_via = n_via;
    for (size_t i = 0; i < n_via && i < 2; i++)
        snprintf(heard.via[i], sizeof heard.via[i], "%s", via[i]);
    if (!strcmp(room_id_or_alias, "#refused:elsewhere.test"))
        return mxr_err_set(err, "M_FORBIDDEN", "the remote room refuses knocks");
    snprintf(room_id_out, 256, "%s", room_id_or_alias[0] == '!' ? room_id_or_alias : "!resolved:elsewhere.test");
    return 0;
}

/* Rooms this server is not in go through c->remote_knock with the via
 * servers. */
static void knocking_remote(void **state)
{
    struct mt *t = *state;
    struct clfix *f = &t->f;
    f->srv.client->remote_knock = fake_remote_knock;
    json_t *b = clfix_ok(f, 200, "POST", V3 "/knock/!far:elsewhere.test?via=elsewhere.test&via=other.test", t->bob,
                         "{\"reason\":\"hi\"}");
    assert_string_equal(json_string_value(json_object_get(b, "room_id")), "!far:elsewhere.test");
    json_decref(b);
    assert_int_equal(heard.calls, 1);
    assert_string_equal(heard.user, "@bob:hs.test");
    assert_string_equal(heard.reason, "hi");
    assert_int_equal(heard.n_via, 2);
    assert_string_equal(heard.via[1], "other.test");
    b = clfix_ok(f, 200, "POST", V3 "/knock/%23room:elsewhere.test?server_name=elsewhere.test", t->bob, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "room_id")), "!resolved:elsewhere.test");
    json_decref(b);
    assert_string_equal(heard.target, "#room:elsewhere.test");
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/knock/%23refused:elsewhere.test", t->bob, NULL);
    /* local aliases stay local */
    clfix_error(f, 404, "M_NOT_FOUND", "POST", V3 "/knock/%23nobody:hs.test", t->bob, NULL);
    assert_int_equal(heard.calls, 3);

    f->srv.client->remote_knock = NULL;
}

static void unban_and_forget(void **state)
{
    struct mt *t = *state;
    struct clfix *f = &t->f;
    char room[256];
    create(f, t->alice, "{\"preset\":\"public_chat\"}", room);
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", room), t->bob, NULL));
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/ban", room), t->alice,
                         "{\"user_id\":\"@carol:hs.test\",\"reason\":\"spam\"}"));
    clfix_error(f, 403, "M_FORBIDDEN", "POST", clfix_fmt(V3 "/rooms/%s/join", room), t->carol, NULL);
    /* bob has no ban power */
    clfix_error(f, 403, "M_FORBIDDEN", "POST", clfix_fmt(V3 "/rooms/%s/unban", room), t->bob,
                "{\"user_id\":\"@carol:hs.test\"}");
    clfix_error(f, 400, "M_MISSING_PARAM", "POST", clfix_fmt(V3 "/rooms/%s/unban", room), t->alice, "{}");
    clfix_error(f, 400, "M_BAD_JSON", "POST", clfix_fmt(V3 "/rooms/%s/unban", room), t->alice, "{\"user_id\":1}");
    clfix_error(f, 404, "M_NOT_FOUND", "POST", V3 "/rooms/!unknown:hs.test/unban", t->alice,
                "{\"user_id\":\"@carol:hs.test\"}");
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/unban", room), t->alice,
                         "{\"user_id\":\"@carol:hs.test\",\"reason\":\"sorry\"}"));
    json_t *c = member(f, t->alice, room, "@carol:hs.test");
    assert_string_equal(json_string_value(json_object_get(c, "membership")), "leave");
    assert_string_equal(json_string_value(json_object_get(c, "reason")), "sorry");
    json_decref(c);
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", room), t->carol, NULL));

    /* forget: refused while joined, fine after leaving */
    clfix_error(f, 400, "M_UNKNOWN", "POST", clfix_fmt(V3 "/rooms/%s/forget", room), t->bob, NULL);
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/leave", room), t->bob, NULL));
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/forget", room), t->bob, NULL));
    clfix_error(f, 400, "M_INVALID_PARAM", "POST", V3 "/rooms/nope/forget", t->bob, NULL);
    clfix_error(f, 401, "M_MISSING_TOKEN", "POST", clfix_fmt(V3 "/rooms/%s/forget", room), NULL, NULL);
}

static void direct_chats_and_creator_profile(void **state)
{
    struct mt *t = *state;
    struct clfix *f = &t->f;
    json_decref(clfix_ok(f, 200, "PUT", V3 "/profile/@alice:hs.test/displayname", t->alice,
                         "{\"displayname\":\"Alice A.\"}"));
    json_decref(clfix_ok(f, 200, "PUT", V3 "/profile/@alice:hs.test/avatar_url", t->alice,
                         "{\"avatar_url\":\"mxc://hs.test/alice\"}"));
    char dm[256], group[256];
    create(f, t->alice, "{\"is_direct\":true,\"preset\":\"trusted_private_chat\",\"invite\":[\"@bob:hs.test\"]}", dm);
    json_t *c = member(f, t->alice, dm, "@bob:hs.test");
    assert_string_equal(json_string_value(json_object_get(c, "membership")), "invite");
    assert_true(json_is_true(json_object_get(c, "is_direct")));
    json_decref(c);
    /* the creator's join carries the profile */
    c = member(f, t->alice, dm, "@alice:hs.test");
    assert_string_equal(json_string_value(json_object_get(c, "membership")), "join");
    assert_string_equal(json_string_value(json_object_get(c, "displayname")), "Alice A.");
    assert_string_equal(json_string_value(json_object_get(c, "avatar_url")), "mxc://hs.test/alice");
    json_decref(c);
    json_t *b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/joined_members", dm), t->alice, NULL);
    json_t *me = json_object_get(json_object_get(b, "joined"), "@alice:hs.test");
    assert_string_equal(json_string_value(json_object_get(me, "display_name")), "Alice A.");
    json_decref(b);
    /* not direct: no is_direct on the invite */
    create(f, t->alice, "{\"invite\":[\"@carol:hs.test\"],\"is_direct\":false}", group);
    c = member(f, t->alice, group, "@carol:hs.test");
    assert_null(json_object_get(c, "is_direct"));
    json_decref(c);
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/createRoom", t->alice, "{\"is_direct\":\"yes\"}");
}

static void soft_logout(void **state)
{
    struct mt *t = *state;
    json_t *b = clfix_ok(&t->f, 401, "GET", V3 "/account/whoami", "mxr_unknown", NULL);
    assert_string_equal(json_string_value(json_object_get(b, "errcode")), "M_UNKNOWN_TOKEN");
    assert_true(json_is_false(json_object_get(b, "soft_logout")));
    json_decref(b);
    b = clfix_ok(&t->f, 401, "GET", V3 "/account/whoami", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "errcode")), "M_MISSING_TOKEN");
    assert_null(json_object_get(b, "soft_logout"));
    json_decref(b);
    /* a logged-out token is unknown too */
    char tok[128];
    clfix_user(&t->f, "dave", tok, NULL);
    json_decref(clfix_ok(&t->f, 200, "POST", V3 "/logout", tok, NULL));
    b = clfix_ok(&t->f, 401, "GET", V3 "/account/whoami", tok, NULL);
    assert_true(json_is_false(json_object_get(b, "soft_logout")));
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(knocking),
        cmocka_unit_test(knocking_remote),
        cmocka_unit_test(unban_and_forget),
        cmocka_unit_test(direct_chats_and_creator_profile),
        cmocka_unit_test(soft_logout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
