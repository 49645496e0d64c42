/* relay/client/backup.c and relay/store/backup.c: server-side key backups
 * (key_backup.yaml) through the real dispatcher: versions, keys, the
 * replacement rule, etag and count, and the error answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define R0 "/_matrix/client/r0"
#define ALGO "m.megolm_backup.v1.curve25519-aes-sha2"
#define ROOM1 "!r1:hs.test"
#define ROOM2 "!r2:hs.test"

struct bt {
    struct clfix f;
    char alice[128], bob[128];
};

static int setup(void **state)
{
    static struct bt t;
    clfix_open(&t.f, NULL);
    clfix_user(&t.f, "alice", t.alice, NULL);
    clfix_user(&t.f, "bob", t.bob, NULL);
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct bt *)*state)->f);
    return 0;
}

/* Creates a backup with auth_data {public_key: pk}; returns its version. */
static void create(struct clfix *f, const char *token, const char *pk, char version[32])
{
    json_t *b = clfix_ok(f, 200, "POST", V3 "/room_keys/version", token,
                         clfix_fmt("{\"algorithm\":\"%s\",\"auth_data\":{\"public_key\":\"%s\"}}", ALGO, pk));
    const char *v = json_string_value(json_object_get(b, "version"));
    assert_non_null(v);
    assert_true(strlen(v) > 0 && strspn(v, "0123456789") == strlen(v));   /* a string of an integer */
    snprintf(version, 32, "%s", v);
    json_decref(b);
}

static const char *key_data(int fmi, int fc, bool verified, const char *tag)
{
    return clfix_fmt("{\"first_message_index\":%d,\"forwarded_count\":%d,\"is_verified\":%s,"
                     "\"session_data\":{\"ephemeral\":\"e\",\"ciphertext\":\"%s\",\"mac\":\"m\"}}",
                     fmi, fc, verified ? "true" : "false", tag);
}

/* The ciphertext tag of the stored key of (room, session). */
static char *stored_tag(struct clfix *f, const char *token, const char *version, const char *room, const char *session)
{
    json_t *b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/keys/%s/%s?version=%s", room, session, version), token,
                         NULL);
    char *tag = strdup(json_string_value(json_object_get(json_object_get(b, "session_data"), "ciphertext")));
    json_decref(b);
    return tag;
}

static void assert_count(json_t *b, long long count)
{
    assert_true(json_is_string(json_object_get(b, "etag")));
    assert_int_equal(json_integer_value(json_object_get(b, "count")), count);
}

static void versions_lifecycle(void **state)
{
    struct bt *t = *state;
    struct clfix *f = &t->f;
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/room_keys/version", t->alice, NULL);
    clfix_error(f, 401, "M_MISSING_TOKEN", "POST", V3 "/room_keys/version", NULL, "{}");
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/room_keys/version", "mxr_nope", NULL);
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/room_keys/version", t->alice, "{\"algorithm\":\"" ALGO "\"}");
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/room_keys/version", t->alice,
                "{\"algorithm\":7,\"auth_data\":{}}");
    clfix_error(f, 400, "M_NOT_JSON", "POST", V3 "/room_keys/version", t->alice, "{nope");

    char v1[32], v2[32];
    create(f, t->alice, "pk1", v1);
    json_t *b = clfix_ok(f, 200, "GET", V3 "/room_keys/version", t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "version")), v1);
    assert_string_equal(json_string_value(json_object_get(b, "algorithm")), ALGO);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "auth_data"), "public_key")), "pk1");
    assert_count(b, 0);
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(R0 "/room_keys/version/%s", v1), t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "version")), v1);
    json_decref(b);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/room_keys/version/99999", t->alice, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/room_keys/version/abc", t->alice, NULL);
    /* bob sees none of alice's backups */
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/room_keys/version", t->bob, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/room_keys/version/%s", v1), t->bob, NULL);

    /* PUT: only auth_data changes; body version and algorithm must match */
    clfix_error(f, 400, "M_INVALID_PARAM", "PUT", clfix_fmt(V3 "/room_keys/version/%s", v1), t->alice,
                "{\"algorithm\":\"" ALGO "\",\"auth_data\":{},\"version\":\"424242\"}");
    clfix_error(f, 400, "M_INVALID_PARAM", "PUT", clfix_fmt(V3 "/room_keys/version/%s", v1), t->alice,
                "{\"algorithm\":\"m.other\",\"auth_data\":{}}");
    clfix_error(f, 400, "M_BAD_JSON", "PUT", clfix_fmt(V3 "/room_keys/version/%s", v1), t->alice,
                "{\"algorithm\":\"" ALGO "\",\"auth_data\":[]}");
    clfix_error(f, 404, "M_NOT_FOUND", "PUT", V3 "/room_keys/version/99999", t->alice,
                "{\"algorithm\":\"" ALGO "\",\"auth_data\":{}}");
    clfix_error(f, 404, "M_NOT_FOUND", "PUT", clfix_fmt(V3 "/room_keys/version/%s", v1), t->bob,
                "{\"algorithm\":\"" ALGO "\",\"auth_data\":{}}");
    json_decref(clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/room_keys/version/%s", v1), t->alice,
                         clfix_fmt("{\"algorithm\":\"" ALGO "\",\"auth_data\":{\"public_key\":\"pk1b\"},"
                                   "\"version\":\"%s\"}", v1)));
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/version/%s", v1), t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "auth_data"), "public_key")), "pk1b");
    json_decref(b);

    /* A second backup is the latest; deleting it brings back the first. */
    create(f, t->alice, "pk2", v2);
    assert_true(strtoull(v2, NULL, 10) > strtoull(v1, NULL, 10));
    b = clfix_ok(f, 200, "GET", V3 "/room_keys/version", t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "version")), v2);
    json_decref(b);
    json_decref(clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/version/%s", v2), t->alice, NULL));
    /* deleting a deleted backup succeeds (key_backup.yaml); unknown ones are 404 */
    json_decref(clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/version/%s", v2), t->alice, NULL));
    clfix_error(f, 404, "M_NOT_FOUND", "DELETE", V3 "/room_keys/version/99999", t->alice, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "DELETE", clfix_fmt(V3 "/room_keys/version/%s", v1), t->bob, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/room_keys/version/%s", v2), t->alice, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "PUT", clfix_fmt(V3 "/room_keys/version/%s", v2), t->alice,
                "{\"algorithm\":\"" ALGO "\",\"auth_data\":{}}");
    b = clfix_ok(f, 200, "GET", V3 "/room_keys/version", t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "version")), v1);
    json_decref(b);

    /* versions are never reused, and survive a restart */
    char v3[32];
    create(f, t->alice, "pk3", v3);
    assert_true(strtoull(v3, NULL, 10) > strtoull(v2, NULL, 10));
    clfix_restart(f);
    b = clfix_ok(f, 200, "GET", V3 "/room_keys/version", t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "version")), v3);
    json_decref(b);
    json_decref(clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/version/%s", v3), t->alice, NULL));
    json_decref(clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/version/%s", v1), t->alice, NULL));
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/room_keys/version", t->alice, NULL);
}

static void keys_and_replacement_rule(void **state)
{
    struct bt *t = *state;
    struct clfix *f = &t->f;
    /* bob has no backup: writing keys is 404 */
    clfix_error(f, 404, "M_NOT_FOUND", "PUT", V3 "/room_keys/keys/" ROOM1 "/s1?version=1", t->bob,
                key_data(0, 0, false, "a"));
    char old[32], v[32];
    create(f, t->bob, "old", old);
    create(f, t->bob, "cur", v);
    char k1[256];
    snprintf(k1, sizeof k1, V3 "/room_keys/keys/" ROOM1 "/s1?version=%s", v);

    clfix_error(f, 400, "M_MISSING_PARAM", "PUT", V3 "/room_keys/keys/" ROOM1 "/s1", t->bob, key_data(0, 0, false, "a"));
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "PUT", k1, "mxr_nope", key_data(0, 0, false, "a"));
    clfix_error(f, 400, "M_BAD_JSON", "PUT", k1, t->bob, "{\"first_message_index\":0}");
    clfix_error(f, 400, "M_BAD_JSON", "PUT", k1, t->bob,
                "{\"first_message_index\":\"0\",\"forwarded_count\":0,\"is_verified\":false,\"session_data\":{}}");
    clfix_error(f, 400, "M_INVALID_PARAM", "PUT", clfix_fmt(V3 "/room_keys/keys/notaroom/s1?version=%s", v), t->bob,
                key_data(0, 0, false, "a"));
    /* the old version is not the current one: 403 with current_version */
    json_t *b = clfix_ok(f, 403, "PUT", clfix_fmt(V3 "/room_keys/keys/" ROOM1 "/s1?version=%s", old), t->bob,
                         key_data(0, 0, false, "a"));
    assert_string_equal(json_string_value(json_object_get(b, "errcode")), "M_WRONG_ROOM_KEYS_VERSION");
    assert_string_equal(json_string_value(json_object_get(b, "current_version")), v);
    json_decref(b);
    b = clfix_ok(f, 403, "PUT", V3 "/room_keys/keys?version=x", t->bob, "{\"rooms\":{}}");
    assert_string_equal(json_string_value(json_object_get(b, "current_version")), v);
    json_decref(b);

    /* First key: stored. */
    b = clfix_ok(f, 200, "PUT", k1, t->bob, key_data(3, 1, false, "unverified-3-1"));
    assert_count(b, 1);
    char *etag1 = strdup(json_string_value(json_object_get(b, "etag")));
    json_decref(b);
    /* Replacement rule ("Server-side key backups"): */
    struct {
        int fmi, fc;
        bool verified;
        const char *tag;
        const char *kept;
    } steps[] = {
        {5, 5, false, "unverified-5-5", "unverified-3-1"},   /* higher index: kept the old */
        {3, 0, false, "unverified-3-0", "unverified-3-0"},   /* same index, fewer forwards: replaced */
        {3, 0, false, "unverified-3-0b", "unverified-3-0"},  /* a full tie keeps the stored key */
        {9, 9, true, "verified-9-9", "verified-9-9"},        /* verified beats unverified */
        {0, 0, false, "unverified-0-0", "verified-9-9"},     /* unverified never beats verified */
        {2, 4, true, "verified-2-4", "verified-2-4"},        /* lower index among verified */
        {2, 3, true, "verified-2-3", "verified-2-3"},        /* then fewer forwards */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        b = clfix_ok(f, 200, "PUT", k1, t->bob, key_data(steps[i].fmi, steps[i].fc, steps[i].verified, steps[i].tag));
        assert_count(b, 1);
        json_decref(b);
        char *tag = stored_tag(f, t->bob, v, ROOM1, "s1");
        assert_string_equal(tag, steps[i].kept);
        free(tag);
    }
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/version/%s", v), t->bob, NULL);
    assert_count(b, 1);
    assert_string_not_equal(json_string_value(json_object_get(b, "etag")), etag1);   /* keys changed */
    char *etag2 = strdup(json_string_value(json_object_get(b, "etag")));
    json_decref(b);
    /* A key that loses changes nothing, not even the etag. */
    b = clfix_ok(f, 200, "PUT", k1, t->bob, key_data(50, 0, false, "loser"));
    assert_string_equal(json_string_value(json_object_get(b, "etag")), etag2);
    json_decref(b);
    free(etag1);
    free(etag2);

    /* Several rooms at once, one room's sessions. */
    b = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob,
                 clfix_fmt("{\"rooms\":{\"" ROOM1 "\":{\"sessions\":{\"s2\":%s}},\"" ROOM2 "\":{\"sessions\":{\"s3\":%s}}}}",
                           key_data(0, 0, true, "r1s2"), key_data(0, 0, true, "r2s3")));
    assert_count(b, 3);
    json_decref(b);
    b = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/room_keys/keys/" ROOM2 "?version=%s", v), t->bob,
                 clfix_fmt("{\"sessions\":{\"s4\":%s}}", key_data(0, 0, false, "r2s4")));
    assert_count(b, 4);
    json_decref(b);
    clfix_error(f, 400, "M_BAD_JSON", "PUT", clfix_fmt(V3 "/room_keys/keys/" ROOM2 "?version=%s", v), t->bob,
                "{\"sessions\":[]}");
    clfix_error(f, 400, "M_BAD_JSON", "PUT", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob,
                "{\"rooms\":{\"" ROOM1 "\":{\"sessions\":{\"s9\":{}}}}}");
    clfix_error(f, 400, "M_BAD_JSON", "PUT", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob, "{}");

    /* Reading. */
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob, NULL);
    json_t *rooms = json_object_get(b, "rooms");
    assert_int_equal(json_object_size(rooms), 2);
    assert_int_equal(json_object_size(json_object_get(json_object_get(rooms, ROOM1), "sessions")), 2);
    assert_int_equal(json_object_size(json_object_get(json_object_get(rooms, ROOM2), "sessions")), 2);
    json_t *s3 = json_object_get(json_object_get(json_object_get(rooms, ROOM2), "sessions"), "s3");
    assert_true(json_is_true(json_object_get(s3, "is_verified")));
    assert_int_equal(json_integer_value(json_object_get(s3, "first_message_index")), 0);
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/keys/" ROOM2 "?version=%s", v), t->bob, NULL);
    assert_int_equal(json_object_size(json_object_get(b, "sessions")), 2);
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/keys/!empty:hs.test?version=%s", v), t->bob, NULL);
    assert_true(json_is_object(json_object_get(b, "sessions")));
    assert_int_equal(json_object_size(json_object_get(b, "sessions")), 0);
    json_decref(b);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/room_keys/keys/" ROOM1 "/nope?version=%s", v), t->bob, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/room_keys/keys?version=99999", t->bob, NULL);
    clfix_error(f, 400, "M_MISSING_PARAM", "GET", V3 "/room_keys/keys", t->bob, NULL);
    /* the old version is readable (and empty) */
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/keys?version=%s", old), t->bob, NULL);
    assert_int_equal(json_object_size(json_object_get(b, "rooms")), 0);
    json_decref(b);
    /* alice cannot read bob's keys */
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->alice, NULL);

    /* Deleting: one, a room, all. */
    b = clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/keys/" ROOM2 "/s4?version=%s", v), t->bob, NULL);
    assert_count(b, 3);
    json_decref(b);
    b = clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/keys/" ROOM2 "/s4?version=%s", v), t->bob, NULL);
    assert_count(b, 3);   /* already gone: nothing changes */
    json_decref(b);
    b = clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/keys/" ROOM1 "?version=%s", v), t->bob, NULL);
    assert_count(b, 1);
    json_decref(b);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/room_keys/keys/" ROOM1 "/s1?version=%s", v), t->bob, NULL);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/room_keys/version/%s", v), t->bob, NULL);
    assert_count(b, 1);
    json_decref(b);
    clfix_error(f, 404, "M_NOT_FOUND", "DELETE", V3 "/room_keys/keys?version=99999", t->bob, NULL);
    clfix_error(f, 400, "M_MISSING_PARAM", "DELETE", V3 "/room_keys/keys", t->bob, NULL);
    b = clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob, NULL);
    assert_count(b, 0);
    json_decref(b);

    /* Deleting the version drops its keys; the old one becomes current. */
    json_decref(clfix_ok(f, 200, "PUT", k1, t->bob, key_data(0, 0, true, "again")));
    json_decref(clfix_ok(f, 200, "DELETE", clfix_fmt(V3 "/room_keys/version/%s", v), t->bob, NULL));
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "DELETE", clfix_fmt(V3 "/room_keys/keys?version=%s", v), t->bob, NULL);
    b = clfix_ok(f, 403, "PUT", k1, t->bob, key_data(0, 0, true, "late"));
    assert_string_equal(json_string_value(json_object_get(b, "current_version")), old);
    json_decref(b);
    b = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/room_keys/keys/" ROOM1 "/s1?version=%s", old), t->bob,
                 key_data(0, 0, true, "old-now-current"));
    assert_count(b, 1);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_lifecycle),
        cmocka_unit_test(keys_and_replacement_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
