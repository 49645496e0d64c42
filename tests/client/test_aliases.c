/* relay/client/aliases.c and the client /publicRooms (relay/client/directory.c):
 * PUT/GET/DELETE /directory/room/{roomAlias}, GET /rooms/{roomId}/aliases,
 * GET/POST /publicRooms, through the real dispatcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define R0 "/_matrix/client/r0"
/* "#" and ":" percent-encoded as a client sends them in a path */
#define ALIAS_PATH(local) V3 "/directory/room/%23" local "%3Ahs.test"

struct at {
    struct clfix f;
    char alice[128], bob[128], carol[128];
    char room[256];     /* alice's public room, bob joined, carol not */
};

static int setup(void **state)
{
    static struct at t;
    clfix_open(&t.f, NULL);
    clfix_user(&t.f, "alice", t.alice, NULL);
    clfix_user(&t.f, "bob", t.bob, NULL);
    clfix_user(&t.f, "carol", t.carol, NULL);
    json_t *b = clfix_ok(&t.f, 200, "POST", V3 "/createRoom", t.alice,
                         "{\"preset\":\"public_chat\",\"visibility\":\"public\",\"name\":\"Garden\","
                         "\"topic\":\"Roses and tulips\",\"room_alias_name\":\"garden\"}");
    snprintf(t.room, sizeof t.room, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    json_decref(clfix_ok(&t.f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", t.room), t.bob, "{}"));
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct at *)*state)->f);
    return 0;
}

static void put_alias(struct at *t, const char *path, const char *token, int status, const char *errcode,
                      const char *room)
{
    const char *body = clfix_fmt("{\"room_id\":\"%s\"}", room);
    if (errcode)
        clfix_error(&t->f, status, errcode, "PUT", path, token, body);
    else
        json_decref(clfix_ok(&t->f, status, "PUT", path, token, body));
}

static bool list_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return true;
    return false;
}

static void test_put_get(void **state)
{
    struct at *t = *state;
    put_alias(t, ALIAS_PATH("roses"), t->bob, 200, NULL, t->room);
    json_t *b = clfix_ok(&t->f, 200, "GET", ALIAS_PATH("roses"), NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "room_id")), t->room);
    assert_true(list_has(json_object_get(b, "servers"), "hs.test"));
    json_decref(b);
    /* r0 too, and the alias createRoom made */
    b = clfix_ok(&t->f, 200, "GET", R0 "/directory/room/%23garden%3Ahs.test", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "room_id")), t->room);
    json_decref(b);
    /* taken: 409 M_UNKNOWN (directory.yaml) */
    put_alias(t, ALIAS_PATH("roses"), t->carol, 409, "M_UNKNOWN", t->room);
    put_alias(t, ALIAS_PATH("garden"), t->alice, 409, "M_UNKNOWN", t->room);
}

static void test_put_errors(void **state)
{
    struct at *t = *state;
    put_alias(t, ALIAS_PATH("x1"), NULL, 401, "M_MISSING_TOKEN", t->room);
    put_alias(t, ALIAS_PATH("x1"), "mxr_bogus", 401, "M_UNKNOWN_TOKEN", t->room);
    put_alias(t, V3 "/directory/room/%23x1%3Aother.test", t->alice, 400, "M_INVALID_PARAM", t->room);
    put_alias(t, V3 "/directory/room/nohash", t->alice, 400, "M_INVALID_PARAM", t->room);
    put_alias(t, ALIAS_PATH("x1"), t->alice, 404, "M_NOT_FOUND", "!nowhere:hs.test");
    put_alias(t, ALIAS_PATH("x1"), t->alice, 400, "M_INVALID_PARAM", "not-a-room");
    clfix_error(&t->f, 400, "M_BAD_JSON", "PUT", ALIAS_PATH("x1"), t->alice, "{\"room_id\":7}");
    clfix_error(&t->f, 404, "M_NOT_FOUND", "GET", ALIAS_PATH("x1"), NULL, NULL);
}

static void test_get_errors(void **state)
{
    struct at *t = *state;
    clfix_error(&t->f, 404, "M_NOT_FOUND", "GET", ALIAS_PATH("never"), NULL, NULL);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/directory/room/garden", NULL, NULL);
    clfix_error(&t->f, 404, "M_NOT_FOUND", "GET", V3 "/directory/room/%23a%3Aother.test", NULL, NULL);
}

static void test_delete(void **state)
{
    struct at *t = *state;
    /* carol made it in a room she is not in: she may delete it as its creator */
    put_alias(t, ALIAS_PATH("c1"), t->carol, 200, NULL, t->room);
    json_decref(clfix_ok(&t->f, 200, "DELETE", ALIAS_PATH("c1"), t->carol, NULL));
    clfix_error(&t->f, 404, "M_NOT_FOUND", "GET", ALIAS_PATH("c1"), NULL, NULL);
    /* bob's alias: carol (not a member) and bob... bob is its creator */
    put_alias(t, ALIAS_PATH("b1"), t->bob, 200, NULL, t->room);
    clfix_error(&t->f, 403, "M_FORBIDDEN", "DELETE", ALIAS_PATH("b1"), t->carol, NULL);
    /* alice (room creator, power 100) may delete anyone's */
    json_decref(clfix_ok(&t->f, 200, "DELETE", ALIAS_PATH("b1"), t->alice, NULL));
    /* bob (joined, power 0 < 50 for m.room.canonical_alias) may not delete the createRoom alias */
    clfix_error(&t->f, 403, "M_FORBIDDEN", "DELETE", ALIAS_PATH("garden"), t->bob, NULL);
    clfix_error(&t->f, 404, "M_NOT_FOUND", "DELETE", ALIAS_PATH("b1"), t->alice, NULL);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "DELETE", V3 "/directory/room/%23b1%3Aother.test", t->alice, NULL);
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "DELETE", ALIAS_PATH("garden"), NULL, NULL);
    /* deleted aliases can be made again */
    put_alias(t, ALIAS_PATH("b1"), t->bob, 200, NULL, t->room);
}

static void test_room_aliases(void **state)
{
    struct at *t = *state;
    put_alias(t, ALIAS_PATH("tulips"), t->alice, 200, NULL, t->room);
    const char *path = clfix_fmt(V3 "/rooms/%s/aliases", t->room);
    json_t *b = clfix_ok(&t->f, 200, "GET", path, t->bob, NULL);
    json_t *list = json_object_get(b, "aliases");
    assert_true(list_has(list, "#garden:hs.test"));
    assert_true(list_has(list, "#tulips:hs.test"));
    json_decref(b);
    json_decref(clfix_ok(&t->f, 200, "DELETE", "/_matrix/client/v3/directory/room/%23tulips%3Ahs.test", t->alice, NULL));
    b = clfix_ok(&t->f, 200, "GET", path, t->alice, NULL);
    assert_false(list_has(json_object_get(b, "aliases"), "#tulips:hs.test"));
    assert_true(list_has(json_object_get(b, "aliases"), "#garden:hs.test"));
    json_decref(b);
    clfix_error(&t->f, 403, "M_FORBIDDEN", "GET", path, t->carol, NULL);
    clfix_error(&t->f, 403, "M_FORBIDDEN", "GET", V3 "/rooms/!nowhere:hs.test/aliases", t->alice, NULL);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/rooms/nowhere/aliases", t->alice, NULL);
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "GET", path, NULL, NULL);
    /* world_readable history opens the list to non-members */
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/state/m.room.history_visibility/", t->room),
                         t->alice, "{\"history_visibility\":\"world_readable\"}"));
    b = clfix_ok(&t->f, 200, "GET", path, t->carol, NULL);
    assert_true(list_has(json_object_get(b, "aliases"), "#garden:hs.test"));
    json_decref(b);
    json_decref(clfix_ok(&t->f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/state/m.room.history_visibility/", t->room),
                         t->alice, "{\"history_visibility\":\"shared\"}"));
    clfix_error(&t->f, 403, "M_FORBIDDEN", "GET", path, t->carol, NULL);
}

static json_t *find_room(json_t *chunk, const char *room)
{
    size_t i;
    json_t *c;
    json_array_foreach(chunk, i, c)
        if (!strcmp(json_string_value(json_object_get(c, "room_id")), room))
            return c;
    return NULL;
}

static void test_public_rooms(void **state)
{
    struct at *t = *state;
    /* a private room is not listed; a second public one is */
    json_t *b = clfix_ok(&t->f, 200, "POST", V3 "/createRoom", t->carol, "{\"name\":\"Secret\"}");
    char priv[256];
    snprintf(priv, sizeof priv, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    json_decref(clfix_ok(&t->f, 200, "POST", V3 "/createRoom", t->carol,
                         "{\"preset\":\"public_chat\",\"visibility\":\"public\",\"name\":\"Kitchen\"}"));

    b = clfix_ok(&t->f, 200, "GET", V3 "/publicRooms", NULL, NULL);
    json_t *chunk = json_object_get(b, "chunk");
    assert_int_equal(json_array_size(chunk), 2);
    assert_null(find_room(chunk, priv));
    json_t *g = find_room(chunk, t->room);
    assert_non_null(g);
    assert_string_equal(json_string_value(json_object_get(g, "name")), "Garden");
    assert_string_equal(json_string_value(json_object_get(g, "topic")), "Roses and tulips");
    assert_string_equal(json_string_value(json_object_get(g, "canonical_alias")), "#garden:hs.test");
    assert_int_equal(json_integer_value(json_object_get(g, "num_joined_members")), 2);
    assert_true(json_is_boolean(json_object_get(g, "world_readable")));
    assert_true(json_is_boolean(json_object_get(g, "guest_can_join")));
    assert_string_equal(json_string_value(json_object_get(g, "join_rule")), "public");
    assert_int_equal(json_integer_value(json_object_get(b, "total_room_count_estimate")), 2);
    json_decref(b);

    /* limit and since paginate */
    b = clfix_ok(&t->f, 200, "GET", V3 "/publicRooms?limit=1&server=hs.test", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "chunk")), 1);
    const char *next = json_string_value(json_object_get(b, "next_batch"));
    assert_non_null(next);
    json_t *b2 = clfix_ok(&t->f, 200, "GET", clfix_fmt(V3 "/publicRooms?limit=1&since=%s", next), NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(b2, "chunk")), 1);
    assert_non_null(json_object_get(b2, "prev_batch"));
    assert_null(json_object_get(b2, "next_batch"));
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(json_object_get(b, "chunk"), 0), "room_id")),
                            json_string_value(json_object_get(json_array_get(json_object_get(b2, "chunk"), 0), "room_id")));
    json_decref(b);
    json_decref(b2);

    /* POST with a search term */
    b = clfix_ok(&t->f, 200, "POST", V3 "/publicRooms", t->bob, "{\"filter\":{\"generic_search_term\":\"TULIP\"}}");
    chunk = json_object_get(b, "chunk");
    assert_int_equal(json_array_size(chunk), 1);
    assert_non_null(find_room(chunk, t->room));
    json_decref(b);
    b = clfix_ok(&t->f, 200, "POST", R0 "/publicRooms", t->bob, "{\"filter\":{\"generic_search_term\":\"nothing\"}}");
    assert_int_equal(json_array_size(json_object_get(b, "chunk")), 0);
    json_decref(b);

    /* failures */
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "POST", V3 "/publicRooms", NULL, "{}");
    clfix_error(&t->f, 400, "M_BAD_JSON", "POST", V3 "/publicRooms", t->bob, "{\"limit\":\"ten\"}");
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/publicRooms?limit=-1", NULL, NULL);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/publicRooms?since=garbage", NULL, NULL);
    clfix_error(&t->f, 400, "M_INVALID_PARAM", "GET", V3 "/publicRooms?server=bad%20name", NULL, NULL);
    clfix_error(&t->f, 502, "M_UNKNOWN", "GET", V3 "/publicRooms?server=other.test", NULL, NULL);
    clfix_error(&t->f, 502, "M_UNKNOWN", "POST", V3 "/publicRooms?server=other.test", t->bob, "{}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_put_errors),
        cmocka_unit_test(test_get_errors),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_room_aliases),
        cmocka_unit_test(test_public_rooms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
