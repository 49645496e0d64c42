/* proto/sign.c: the spec's JSON signing vectors (appendices "Cryptographic
 * Test Vectors" > "JSON Signing") and "Checking for a Signature". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "mxr/sign.h"
#include "events_fixture.h"

#define SIG_EMPTY "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
#define SIG_ONE_TWO "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"

static uint8_t spec_pk[32];

static int setup(void **state)
{
    return mxr_key_decode_public(SPEC_PUBLIC_B64, spec_pk, NULL);
}

static void spec_vectors(void **state)
{
    struct mxr_signing_key k;
    spec_key(&k);
    json_t *o = J("{}");
    assert_int_equal(mxr_sign_json(o, "domain", &k, NULL), 0);
    assert_json_eq(o, "{\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_EMPTY "\"}}}");
    assert_int_equal(mxr_verify_json(o, "domain", "ed25519:1", spec_pk, NULL), 0);
    json_decref(o);

    o = J("{\"two\":\"Two\",\"one\":1}");
    assert_int_equal(mxr_sign_json(o, "domain", &k, NULL), 0);
    assert_json_eq(o, "{\"one\":1,\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_ONE_TWO "\"}},\"two\":\"Two\"}");
    json_decref(o);
}

/* The spec's signed objects verify as given, and stop verifying when any
 * covered byte changes. */
static void verify_spec_objects(void **state)
{
    struct mxr_err err = {0};
    json_t *o = J("{\"one\":1,\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_ONE_TWO "\"}},\"two\":\"Two\"}");
    assert_int_equal(mxr_verify_json(o, "domain", "ed25519:1", spec_pk, &err), 0);
    /* unsigned is not covered; other entities' signatures neither. */
    json_object_set_new(o, "unsigned", json_pack("{s:i}", "age", 3));
    json_object_set_new(json_object_get(o, "signatures"), "other", json_pack("{s:s}", "ed25519:x", "AAAA"));
    assert_int_equal(mxr_verify_json(o, "domain", "ed25519:1", spec_pk, &err), 0);
    json_object_set_new(o, "one", json_integer(2));
    assert_int_equal(mxr_verify_json(o, "domain", "ed25519:1", spec_pk, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    json_decref(o);
}

static void verify_failures(void **state)
{
    struct mxr_err err = {0};
    static const struct {
        const char *json, *entity, *key_id, *errcode;
    } cases[] = {
        { "{}", "domain", "ed25519:1", "M_FORBIDDEN" },
        { "{\"signatures\":{}}", "domain", "ed25519:1", "M_FORBIDDEN" },
        { "{\"signatures\":{\"domain\":{}}}", "domain", "ed25519:1", "M_FORBIDDEN" },
        { "{\"signatures\":{\"domain\":{\"ed25519:2\":\"" SIG_EMPTY "\"}}}", "domain", "ed25519:1", "M_FORBIDDEN" },
        { "{\"signatures\":{\"other\":{\"ed25519:1\":\"" SIG_EMPTY "\"}}}", "domain", "ed25519:1", "M_FORBIDDEN" },
        { "{\"signatures\":[]}", "domain", "ed25519:1", "M_BAD_JSON" },
        { "{\"signatures\":{\"domain\":\"x\"}}", "domain", "ed25519:1", "M_BAD_JSON" },
        { "{\"signatures\":{\"domain\":{\"ed25519:1\":5}}}", "domain", "ed25519:1", "M_BAD_JSON" },
        /* Bad base64: wrong alphabet, wrong length, garbage. */
        { "{\"signatures\":{\"domain\":{\"ed25519:1\":\"K8280_U9SSy9IVtjBuVeLr-HpOB4BQFWbg-UZaADMtTdGYI7Geitb76LTrr5QV_7Xg4ahLwYGYZzuHGZKM5ZAQ\"}}}",
          "domain", "ed25519:1", "M_BAD_JSON" },
        { "{\"signatures\":{\"domain\":{\"ed25519:1\":\"K8280/U9SSy9\"}}}", "domain", "ed25519:1", "M_BAD_JSON" },
        { "{\"signatures\":{\"domain\":{\"ed25519:1\":\"!!!\"}}}", "domain", "ed25519:1", "M_BAD_JSON" },
        { "{\"signatures\":{\"domain\":{\"ed25519:1\":\"\"}}}", "domain", "ed25519:1", "M_BAD_JSON" },
        /* A valid signature of another object. */
        { "{\"x\":1,\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_EMPTY "\"}}}", "domain", "ed25519:1", "M_FORBIDDEN" },
        /* Algorithms other than ed25519 are not understood. */
        { "{\"signatures\":{\"domain\":{\"curve:1\":\"" SIG_EMPTY "\"}}}", "domain", "curve:1", "M_UNRECOGNIZED" },
        { "{\"signatures\":{\"domain\":{\"ed25519:\":\"" SIG_EMPTY "\"}}}", "domain", "ed25519:", "M_UNRECOGNIZED" },
        { "[]", "domain", "ed25519:1", "M_BAD_JSON" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = J(cases[i].json);
        err.errcode = NULL;
        if (mxr_verify_json(o, cases[i].entity, cases[i].key_id, spec_pk, &err) != -1)
            fail_msg("case %zu verified", i);
        if (strcmp(err.errcode, cases[i].errcode) != 0)
            fail_msg("case %zu: %s (%s), want %s", i, err.errcode, err.msg, cases[i].errcode);
        json_decref(o);
    }
    /* The padded form of a good signature is accepted (decoders SHOULD). */
    json_t *o = J("{\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_EMPTY "==\"}}}");
    assert_int_equal(mxr_verify_json(o, "domain", "ed25519:1", spec_pk, &err), 0);
    json_decref(o);
}

/* Signing merges into existing signatures and leaves unsigned alone. */
static void sign_merges(void **state)
{
    struct mxr_signing_key k;
    spec_key(&k);
    json_t *o = J("{\"one\":1,\"two\":\"Two\",\"unsigned\":{\"age_ts\":5},"
                  "\"signatures\":{\"domain\":{\"ed25519:0\":\"old\"},\"other\":{\"ed25519:z\":\"o\"}}}");
    assert_int_equal(mxr_sign_json(o, "domain", &k, NULL), 0);
    assert_json_eq(o, "{\"one\":1,\"two\":\"Two\",\"unsigned\":{\"age_ts\":5},"
                      "\"signatures\":{\"domain\":{\"ed25519:0\":\"old\",\"ed25519:1\":\"" SIG_ONE_TWO "\"},"
                      "\"other\":{\"ed25519:z\":\"o\"}}}");
    json_decref(o);

    struct mxr_err err = {0};
    o = J("{\"signatures\":[]}");
    assert_int_equal(mxr_sign_json(o, "domain", &k, &err), -1);
    json_decref(o);
    o = J("{\"signatures\":{\"domain\":1}}");
    assert_int_equal(mxr_sign_json(o, "domain", &k, &err), -1);
    json_decref(o);
    o = J("{\"f\":0.5}");
    assert_int_equal(mxr_sign_json(o, "domain", &k, &err), -1);
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(o);
    o = J("\"str\"");
    assert_int_equal(mxr_sign_json(o, "domain", &k, &err), -1);
    json_decref(o);
}

static void key_ids(void **state)
{
    json_t *o = J("{\"signatures\":{\"d\":{\"ed25519:a\":\"x\",\"curve25519:b\":\"y\",\"ed25519:c\":\"z\","
                  "\"ed25519:n\":5,\"ed25519:\":\"e\"},\"e\":[]}}");
    const char *ids[4];
    assert_int_equal(mxr_signature_key_ids(o, "d", ids, 4), 2);
    assert_string_equal(ids[0], "ed25519:a");
    assert_string_equal(ids[1], "ed25519:c");
    assert_int_equal(mxr_signature_key_ids(o, "d", ids, 1), 2);
    assert_int_equal(mxr_signature_key_ids(o, "e", ids, 4), 0);
    assert_int_equal(mxr_signature_key_ids(o, "f", ids, 4), 0);
    assert_int_equal(mxr_signature_key_ids(NULL, "d", ids, 4), 0);
    json_decref(o);
}

/* A key source with two keys of "domain": ed25519:1 (the spec key) known,
 * everything else unknown; "expired" when asked for a time after 5000. */
static int two_keys(void *ctx, const char *server, const char *key_id, int64_t at, uint8_t pk[32])
{
    if (strcmp(server, "domain") != 0 || strcmp(key_id, "ed25519:1") != 0)
        return -1;
    if (at != MXR_KEY_ANY_TIME && at > 5000)
        return -1;
    memcpy(pk, spec_pk, 32);
    return 0;
}

static void verify_with_key_source(void **state)
{
    struct mxr_verify_keys keys = { .lookup = two_keys };
    struct mxr_err err = {0};
    json_t *o = J("{\"one\":1,\"two\":\"Two\",\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_ONE_TWO "\"}}}");
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, MXR_KEY_ANY_TIME, &err), 0);
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, 4000, &err), 0);
    /* Expired: the only signature is skipped, so none is left. */
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, 6000, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    /* Unknown keys and unknown algorithms are skipped. */
    json_t *mine = json_object_get(json_object_get(o, "signatures"), "domain");
    json_object_set_new(mine, "ed25519:unknown", json_string("garbage"));
    json_object_set_new(mine, "rsa:1", json_string("garbage"));
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, MXR_KEY_ANY_TIME, &err), 0);
    /* Not signed by that entity at all. */
    assert_int_equal(mxr_verify_json_keys(o, "other", &keys, MXR_KEY_ANY_TIME, &err), -1);
    /* A known key's bad signature fails even when others are fine. */
    json_object_set_new(o, "one", json_integer(9));
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, MXR_KEY_ANY_TIME, &err), -1);
    json_decref(o);

    /* Only unknown keys: fails. */
    o = J("{\"signatures\":{\"domain\":{\"ed25519:2\":\"" SIG_EMPTY "\"}}}");
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, MXR_KEY_ANY_TIME, &err), -1);
    json_decref(o);
    o = J("{\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_EMPTY "\"}}}");
    assert_int_equal(mxr_verify_json_keys(o, "domain", NULL, MXR_KEY_ANY_TIME, &err), -1);
    json_decref(o);
}

static void single_key_source(void **state)
{
    struct mxr_single_key one = { .server = "domain", .key_id = "ed25519:1" };
    memcpy(one.public_key, spec_pk, 32);
    struct mxr_verify_keys keys = { .lookup = mxr_single_key_lookup, .ctx = &one };
    json_t *o = J("{\"signatures\":{\"domain\":{\"ed25519:1\":\"" SIG_EMPTY "\"}}}");
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, 123, NULL), 0);
    one.key_id = "ed25519:2";
    assert_int_equal(mxr_verify_json_keys(o, "domain", &keys, 123, NULL), -1);
    json_decref(o);
}

static void payload(void **state)
{
    json_t *o = J("{\"b\":1,\"a\":{\"y\":[],\"x\":null},\"signatures\":{},\"unsigned\":{}}");
    size_t len;
    char *p = mxr_sign_payload(o, &len, NULL);
    assert_string_equal(p, "{\"a\":{\"x\":null,\"y\":[]},\"b\":1}");
    assert_int_equal(len, strlen(p));
    free(p);
    /* The caller's object is untouched. */
    assert_non_null(json_object_get(o, "signatures"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_vectors),
        cmocka_unit_test(verify_spec_objects),
        cmocka_unit_test(verify_failures),
        cmocka_unit_test(sign_merges),
        cmocka_unit_test(key_ids),
        cmocka_unit_test(verify_with_key_source),
        cmocka_unit_test(single_key_source),
        cmocka_unit_test(payload),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
