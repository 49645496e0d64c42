/* relay/federation/query.c and directory.c through the dispatcher: profile,
 * directory, devices and keys (answered from the client API's seams, empty
 * for now), publicRooms, hierarchy, openid/userinfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fedfix.h"
#include "relay/store/accounts.h"
#include "relay/store/e2ee.h"

#define FED "/_matrix/federation/v1"

static int setup(void **state)
{
    struct fedfix *f = calloc(1, sizeof *f);
    fedfix_open(f, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fedfix_close(*state);
    free(*state);
    return 0;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    if (!json_equal((json_t *)got, w)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s, want %s", g, want);
    }
    json_decref(w);
}

static void profile(void **state)
{
    struct fedfix *f = *state;
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/profile"), 400, "M_MISSING_PARAM", "user_id");
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/profile?user_id=%s", fedfix_q(BOB)), 400,
                        "M_INVALID_PARAM", "not a user of this server");
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/profile?user_id=nobody"), 400, "M_INVALID_PARAM", NULL);
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/profile?user_id=%s&field=displayname", fedfix_q(ALICE)),
                        404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(f, NULL, FED "/query/profile?user_id=%s", fedfix_q(ALICE)), 401, "M_UNAUTHORIZED",
                        NULL);
    /* unknown query types are unknown endpoints */
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/nonsense"), 404, "M_UNRECOGNIZED", NULL);
}

static void directory(void **state)
{
    struct fedfix *f = *state;
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/directory"), 400, "M_MISSING_PARAM", NULL);
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/directory?room_alias=nope"), 400, "M_INVALID_PARAM", NULL);
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/directory?room_alias=%s", fedfix_q("#x:b.test")), 400,
                        "M_INVALID_PARAM", "not one of this server's");
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/directory?room_alias=%s", fedfix_q("#x:a.test")), 404,
                        "M_NOT_FOUND", NULL);
}

static void devices_and_keys(void **state)
{
    struct fedfix *f = *state;
    struct mxr_response *r = fedfix_get(f, "b.test", FED "/user/devices/%s", fedfix_q(ALICE));
    assert_int_equal(r->status, 200);
    assert_json(r->json, "{\"user_id\":\"@alice:a.test\",\"stream_id\":0,\"devices\":[]}");
    assert_matrix_error(fedfix_get(f, "b.test", FED "/user/devices/%s", fedfix_q(BOB)), 400, "M_INVALID_PARAM", NULL);

    json_t *q = json_pack("{s:{s:[], s:[s]}}", "device_keys", ALICE, BOB, "PHONE");
    r = fedfix_req(f, "b.test", "POST", FED "/user/keys/query", q);
    json_decref(q);
    assert_int_equal(r->status, 200);
    assert_json(r->json, "{\"device_keys\":{\"@alice:a.test\":{}}}");
    q = json_pack("{s:{s:s}}", "device_keys", ALICE, "DEVICE");
    assert_matrix_error(fedfix_req(f, "b.test", "POST", FED "/user/keys/query", q), 400, "M_BAD_JSON", NULL);
    json_decref(q);
    q = json_object();
    assert_matrix_error(fedfix_req(f, "b.test", "POST", FED "/user/keys/query", q), 400, "M_MISSING_PARAM", NULL);
    assert_matrix_error(fedfix_req(f, "b.test", "POST", FED "/user/keys/claim", q), 400, "M_MISSING_PARAM", NULL);
    json_decref(q);

    q = json_pack("{s:{s:{s:s}}}", "one_time_keys", ALICE, "DEVICE", "signed_curve25519");
    r = fedfix_req(f, "b.test", "POST", FED "/user/keys/claim", q);
    json_decref(q);
    assert_int_equal(r->status, 200);
    assert_json(r->json, "{\"one_time_keys\":{}}");
    q = json_pack("{s:{s:{s:i}}}", "one_time_keys", ALICE, "DEVICE", 3);
    assert_matrix_error(fedfix_req(f, "b.test", "POST", FED "/user/keys/claim", q), 400, "M_BAD_JSON", NULL);
    json_decref(q);
}

struct seed {
    const char *room;
};

#define LAPTOP_KEYS "{\"user_id\":\"@alice:a.test\",\"device_id\":\"LAPTOP\",\"algorithms\":" \
                    "[\"m.olm.v1.curve25519-aes-sha2\"],\"keys\":{\"ed25519:LAPTOP\":\"k\"},\"signatures\":{}}"

/* What the client API would have stored: alice's profile, a device without
 * keys and one with, an alias. */
static int seed_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct seed *sd = arg;
    const char *profile = "{\"displayname\":\"Alice\",\"avatar_url\":\"mxc://a.test/x\"}";
    uint8_t hash2[MXR_STORE_TOKEN_HASH] = { 2 };
    if (mxr_store_device_login(txn, ALICE, "LAPTOP", NULL, hash2, FIXTURE_T0, "127.0.0.1", err) < 0 ||
        mxr_store_device_keys_put(txn, ALICE, "LAPTOP", LAPTOP_KEYS, strlen(LAPTOP_KEYS), err) < 0)
        return -1;
    uint8_t hash[MXR_STORE_TOKEN_HASH] = { 1 };
    bool created;
    if (mxr_store_profile_put(txn, ALICE, profile, strlen(profile), err) < 0 ||
        mxr_store_device_login(txn, ALICE, "PHONE", "alice's phone", hash, FIXTURE_T0, "127.0.0.1", err) < 0 ||
        mxr_store_alias_create(txn, "#hall:a.test", sd->room, &created, err) < 0)
        return -1;
    return 0;
}

static void from_the_client_tables(void **state)
{
    struct fedfix *f = *state;
    char room[MXR_ID_MAX + 1];
    fedfix_room_with_bob(f, "11", "public_chat", room);
    struct seed sd = { room };
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_write(f->rf.store, seed_write, &sd, &err), 0);

    struct mxr_response *r = fedfix_get(f, "b.test", FED "/query/profile?user_id=%s", fedfix_q(ALICE));
    assert_int_equal(r->status, 200);
    assert_json(r->json, "{\"displayname\":\"Alice\",\"avatar_url\":\"mxc://a.test/x\"}");
    r = fedfix_get(f, "b.test", FED "/query/profile?user_id=%s&field=displayname", fedfix_q(ALICE));
    assert_json(r->json, "{\"displayname\":\"Alice\"}");
    assert_matrix_error(fedfix_get(f, "b.test", FED "/query/profile?user_id=%s&field=m.tz", fedfix_q(ALICE)), 404,
                        "M_NOT_FOUND", "m.tz");

    r = fedfix_get(f, "b.test", FED "/query/directory?room_alias=%s", fedfix_q("#hall:a.test"));
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "room_id")), room);
    json_t *servers = json_object_get(r->json, "servers");
    assert_string_equal(json_string_value(json_array_get(servers, 0)), "a.test");   /* ours first */
    assert_true(rfx_array_has(servers, "b.test"));
    assert_int_equal(json_array_size(servers), 2);

    r = fedfix_get(f, "b.test", FED "/user/devices/%s", fedfix_q(ALICE));
    assert_int_equal(r->status, 200);
    /* user_devices.yaml: keys is a required DeviceKeys object, so PHONE,
     * which has none yet, is not listed */
    assert_json(r->json, "{\"user_id\":\"@alice:a.test\",\"stream_id\":0,\"devices\":[{\"device_id\":\"LAPTOP\","
                         "\"keys\":" LAPTOP_KEYS "}]}");
    json_t *q = json_pack("{s:{s:[]}}", "device_keys", ALICE);
    r = fedfix_req(f, "b.test", "POST", FED "/user/keys/query", q);
    json_decref(q);
    assert_json(r->json, "{\"device_keys\":{\"@alice:a.test\":{\"LAPTOP\":" LAPTOP_KEYS "}}}");
}

static void public_rooms(void **state)
{
    struct fedfix *f = *state;
    struct mxr_response *r = fedfix_get(f, "b.test", FED "/publicRooms?limit=10");
    assert_int_equal(r->status, 200);
    assert_json(r->json, "{\"chunk\":[],\"total_room_count_estimate\":0}");
    assert_matrix_error(fedfix_get(f, "b.test", FED "/publicRooms?limit=-1"), 400, "M_INVALID_PARAM", NULL);
    assert_matrix_error(fedfix_get(f, "b.test", FED "/publicRooms?since=zz"), 400, "M_INVALID_PARAM", NULL);
    json_t *b = json_pack("{s:i, s:{s:s, s:[n, s]}}", "limit", 5, "filter", "generic_search_term", "x", "room_types",
                          "m.space");
    r = fedfix_req(f, "b.test", "POST", FED "/publicRooms", b);
    json_decref(b);
    assert_int_equal(r->status, 200);
    assert_json(r->json, "{\"chunk\":[],\"total_room_count_estimate\":0}");
    b = json_pack("{s:{s:[i]}}", "filter", "room_types", 3);
    assert_matrix_error(fedfix_req(f, "b.test", "POST", FED "/publicRooms", b), 400, "M_BAD_JSON", NULL);
    json_decref(b);
    b = json_pack("{s:s}", "limit", "ten");
    assert_matrix_error(fedfix_req(f, "b.test", "POST", FED "/publicRooms", b), 400, "M_BAD_JSON", NULL);
    json_decref(b);
}

static void space(struct fedfix *f, const char *preset, char room[MXR_ID_MAX + 1])
{
    struct mxr_rooms_create_opts o = { .room_version = "11", .preset = preset, .name = "The Space",
                                       .creation_content = json_pack("{s:s}", "type", "m.space") };
    struct mxr_err err = { 0 };
    rfx_read_end(&f->rf);
    assert_int_equal(mxr_rooms_create_room(f->rf.rooms, ALICE, &o, room, &err), 0);
    json_decref(o.creation_content);
}

static void child(struct fedfix *f, const char *space_id, const char *child_id, const char *content)
{
    rfx_send(&f->rf, space_id, ALICE, "m.space.child", child_id, content, NULL);
}

static void hierarchy(void **state)
{
    struct fedfix *f = *state;
    char sp[MXR_ID_MAX + 1], open[MXR_ID_MAX + 1], closed[MXR_ID_MAX + 1];
    space(f, "public_chat", sp);
    rfx_room(&f->rf, "11", "public_chat", open);
    rfx_room(&f->rf, "11", "private_chat", closed);
    child(f, sp, open, "{\"via\":[\"a.test\"],\"suggested\":true}");
    child(f, sp, closed, "{\"via\":[\"a.test\"]}");
    child(f, sp, "!unknown:b.test", "{\"via\":[\"b.test\"]}");
    child(f, sp, "!removed:b.test", "{}");   /* no via: not a child */

    struct mxr_response *r = fedfix_get(f, "c.test", FED "/hierarchy/%s", fedfix_q(sp));
    assert_int_equal(r->status, 200);
    json_t *room = json_object_get(r->json, "room");
    assert_string_equal(json_string_value(json_object_get(room, "room_id")), sp);
    assert_string_equal(json_string_value(json_object_get(room, "room_type")), "m.space");
    assert_string_equal(json_string_value(json_object_get(room, "name")), "The Space");
    assert_string_equal(json_string_value(json_object_get(room, "join_rule")), "public");
    assert_int_equal(json_integer_value(json_object_get(room, "num_joined_members")), 1);
    assert_true(json_is_boolean(json_object_get(room, "world_readable")));
    assert_true(json_is_boolean(json_object_get(room, "guest_can_join")));
    json_t *cs = json_object_get(room, "children_state");
    assert_int_equal(json_array_size(cs), 3);
    json_t *c0 = json_array_get(cs, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "type")), "m.space.child");
    assert_true(json_is_integer(json_object_get(c0, "origin_server_ts")));
    assert_non_null(json_object_get(c0, "sender"));
    json_t *children = json_object_get(r->json, "children");
    assert_int_equal(json_array_size(children), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(children, 0), "room_id")), open);
    json_t *inacc = json_object_get(r->json, "inaccessible_children");
    assert_int_equal(json_array_size(inacc), 1);
    assert_string_equal(json_string_value(json_array_get(inacc, 0)), closed);

    r = fedfix_get(f, "c.test", FED "/hierarchy/%s?suggested_only=true", fedfix_q(sp));
    assert_int_equal(json_array_size(json_object_get(json_object_get(r->json, "room"), "children_state")), 1);

    /* a private space is not accessible to c.test: 404 */
    char priv[MXR_ID_MAX + 1];
    space(f, "private_chat", priv);
    assert_matrix_error(fedfix_get(f, "c.test", FED "/hierarchy/%s", fedfix_q(priv)), 404, "M_NOT_FOUND", NULL);
    assert_matrix_error(fedfix_get(f, "c.test", FED "/hierarchy/%s", fedfix_q("!nope:a.test")), 404, "M_NOT_FOUND",
                        NULL);
    assert_matrix_error(fedfix_get(f, "c.test", FED "/hierarchy/%s?suggested_only=1", fedfix_q(sp)), 400,
                        "M_INVALID_PARAM", NULL);
}

static void openid_userinfo(void **state)
{
    struct fedfix *f = *state;
    /* not X-Matrix: any third party holding a token may ask */
    assert_matrix_error(fedfix_get(f, NULL, FED "/openid/userinfo"), 401, "M_MISSING_TOKEN", NULL);
    assert_matrix_error(fedfix_get(f, NULL, FED "/openid/userinfo?access_token=abc"), 401, "M_UNKNOWN_TOKEN", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(profile, setup, teardown),
        cmocka_unit_test_setup_teardown(directory, setup, teardown),
        cmocka_unit_test_setup_teardown(devices_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(from_the_client_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(public_rooms, setup, teardown),
        cmocka_unit_test_setup_teardown(hierarchy, setup, teardown),
        cmocka_unit_test_setup_teardown(openid_userinfo, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
