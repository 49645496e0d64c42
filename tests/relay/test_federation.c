/* relay/federation: version.c, keys_server.c, notary.c through the
 * dispatcher with the real route table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <config.h>   /* PACKAGE_VERSION */

#include "fixture.h"
#include "mxr/sign.h"
#include "relay/federation/federation.h"
#include "relay/federation/keyring.h"

#define DAY (24LL * 3600 * 1000)

static int setup(void **state)
{
    struct fixture *f = malloc(sizeof *f);
    fixture_init(f, "notary.example:8448", NULL);
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + DAY));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

static void version(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/_matrix/federation/v1/version", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    char *s = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"server\":{\"name\":\"mxrelay\",\"version\":\"" PACKAGE_VERSION "\"}}");
    free(s);
    mxr_response_clear(&r);
}

/* Checks a Server Keys object of ours (keys.yaml), signed by us. */
static void assert_our_keys(struct fixture *f, json_t *keys)
{
    struct mxr_err err = { 0 };
    assert_string_equal(json_string_value(json_object_get(keys, "server_name")), "notary.example:8448");
    json_t *vk = json_object_get(keys, "verify_keys");
    assert_int_equal(json_object_size(vk), 1);
    char pk[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(&f->srv.key, pk);
    assert_string_equal(json_string_value(json_object_get(json_object_get(vk, f->srv.key.key_id), "key")), pk);
    assert_true(json_is_object(json_object_get(keys, "old_verify_keys")));
    assert_int_equal(json_integer_value(json_object_get(keys, "valid_until_ts")), f->now + DAY);
    assert_int_equal(mxr_verify_json(keys, "notary.example:8448", f->srv.key.key_id, f->srv.key.public_key, &err), 0);
}

static void key_server(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/_matrix/key/v2/server", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    assert_our_keys(f, r.json);
    mxr_response_clear(&r);
    /* The key server's own validation accepts it. */
    struct mxr_err err = { 0 };
    json_t *own = mxr_own_server_keys(&f->srv, &err);
    assert_int_equal(mxr_keyring_check_response(own, "notary.example:8448", &err), 0);
    json_decref(own);
    /* Legacy form with a key ID: the same answer. */
    f->now += 5000;
    fixture_request(f, "GET", "/_matrix/key/v2/server/ed25519%3Aanything", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    assert_our_keys(f, r.json);
    mxr_response_clear(&r);
}

/* server_keys[i] is domain's response, signed by domain and by us. */
static void assert_notarised_domain(struct fixture *f, json_t *keys)
{
    struct mxr_err err = { 0 };
    assert_string_equal(json_string_value(json_object_get(keys, "server_name")), "domain");
    assert_int_equal(mxr_verify_json(keys, "domain", "ed25519:1", f->spec_key.public_key, &err), 0);
    assert_int_equal(mxr_verify_json(keys, "notary.example:8448", f->srv.key.key_id, f->srv.key.public_key, &err), 0);
    assert_int_equal(mxr_keyring_check_response(keys, "domain", &err), 0);
}

static void notary_get(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/_matrix/key/v2/query/domain", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "server_keys");
    assert_int_equal(json_array_size(list), 1);
    assert_notarised_domain(f, json_array_get(list, 0));
    mxr_response_clear(&r);
    /* From the cache the second time, still countersigned (the cache keeps the origin's version). */
    fixture_request(f, "GET", "/_matrix/key/v2/query/domain/ed25519%3A1?minimum_valid_until_ts=1", NULL, NULL, &r, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "server_keys")), 1);
    assert_notarised_domain(f, json_array_get(json_object_get(r.json, "server_keys"), 0));
    assert_int_equal(f->fetches, 1);
    mxr_response_clear(&r);
    /* Ourselves: our own keys, no fetch. */
    fixture_request(f, "GET", "/_matrix/key/v2/query/notary.example%3A8448", NULL, NULL, &r, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "server_keys")), 1);
    assert_our_keys(f, json_array_get(json_object_get(r.json, "server_keys"), 0));
    assert_int_equal(f->fetches, 1);
    mxr_response_clear(&r);
    /* Unreachable and unknown: an empty list, not an error. */
    fixture_request(f, "GET", "/_matrix/key/v2/query/gone.example", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_array(json_object_get(r.json, "server_keys")));
    assert_int_equal(json_array_size(json_object_get(r.json, "server_keys")), 0);
    mxr_response_clear(&r);
    fixture_request(f, "GET", "/_matrix/key/v2/query/bad%20name", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 400, "M_INVALID_PARAM", "serverName");
    mxr_response_clear(&r);
    fixture_request(f, "GET", "/_matrix/key/v2/query/domain?minimum_valid_until_ts=soon", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 400, "M_INVALID_PARAM", "minimum_valid_until_ts");
    mxr_response_clear(&r);
}

static void notary_post(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL,
                    "{\"server_keys\":{\"domain\":{\"ed25519:1\":{\"minimum_valid_until_ts\":1700000000000}},"
                    "\"gone.example\":{},\"notary.example:8448\":{}}}",
                    &r, NULL);
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "server_keys");
    assert_int_equal(json_array_size(list), 2);   /* the unreachable server is left out */
    size_t i;
    json_t *k;
    int seen = 0;
    json_array_foreach(list, i, k) {
        const char *name = json_string_value(json_object_get(k, "server_name"));
        if (!strcmp(name, "domain"))
            assert_notarised_domain(f, k), seen |= 1;
        else
            assert_our_keys(f, k), seen |= 2;
    }
    assert_int_equal(seen, 3);
    mxr_response_clear(&r);

    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL, "{\"server_keys\":{}}", &r, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "server_keys")), 0);
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL, "{}", &r, NULL);
    assert_matrix_error(&r, 400, "M_MISSING_PARAM", "server_keys");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL, "{\"server_keys\":[]}", &r, NULL);
    assert_matrix_error(&r, 400, "M_BAD_JSON", "server_keys");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL, "{\"server_keys\":{\"domain\":[]}}", &r, NULL);
    assert_matrix_error(&r, 400, "M_BAD_JSON", "server_keys.domain");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL,
                    "{\"server_keys\":{\"domain\":{\"ed25519:1\":{\"minimum_valid_until_ts\":\"x\"}}}}", &r, NULL);
    assert_matrix_error(&r, 400, "M_BAD_JSON", "minimum_valid_until_ts");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL, "{\"server_keys\":{\"bad name\":{}}}", &r, NULL);
    assert_matrix_error(&r, 400, "M_INVALID_PARAM", "server_keys");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/key/v2/query", NULL, "not json", &r, NULL);
    assert_matrix_error(&r, 400, "M_NOT_JSON", NULL);
    mxr_response_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(version, setup, teardown),
        cmocka_unit_test_setup_teardown(key_server, setup, teardown),
        cmocka_unit_test_setup_teardown(notary_get, setup, teardown),
        cmocka_unit_test_setup_teardown(notary_post, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
