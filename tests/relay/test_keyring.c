/* relay/federation/keyring.c: validating key responses, caching, refetch
 * policy, validity periods, the notary view and a pluggable cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"
#include "mxr/sign.h"
#include "relay/federation/keyring.h"

#define HOUR (3600LL * 1000)
#define DAY (24 * HOUR)

static int setup(void **state)
{
    struct fixture *f = malloc(sizeof *f);
    fixture_init(f, "notary.example", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

static struct mxr_signing_key other_key(uint8_t b, const char *version)
{
    struct mxr_signing_key k;
    uint8_t seed[32] = { b };
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_key_from_seed(&k, seed, version, &err), 0);
    return k;
}

static void check_fails(json_t *resp, const char *server, const char *needle)
{
    struct mxr_err err = { 0 };
    if (mxr_keyring_check_response(resp, server, &err) == 0)
        fail_msg("accepted a bad response (%s)", needle);
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    json_decref(resp);
}

/* Re-signs r after an edit, with k as `server`. */
static json_t *resign(json_t *r, const struct mxr_signing_key *k, const char *server)
{
    json_object_del(r, "signatures");
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_sign_json(r, server, k, &err), 0);
    return r;
}

static void response_validation(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    const struct mxr_signing_key *k = &f->spec_key;
    json_t *good = fixture_key_response(k, "domain", FIXTURE_T0 + DAY);
    assert_int_equal(mxr_keyring_check_response(good, "domain", &err), 0);
    /* Keys of algorithms we do not know are ignored, not fatal. */
    json_t *r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "verify_keys"), "curve9:x", json_pack("{s:s}", "key", "whatever"));
    assert_int_equal(mxr_keyring_check_response(resign(r, k, "domain"), "domain", &err), 0);
    json_decref(r);

    check_fails(json_deep_copy(good), "other.example", "is for 'domain', not 'other.example'");
    check_fails(json_string("x"), "domain", "not a JSON object");
    r = json_deep_copy(good);
    json_object_del(r, "valid_until_ts");
    check_fails(resign(r, k, "domain"), "domain", "valid_until_ts");
    r = json_deep_copy(good);
    json_object_set_new(r, "valid_until_ts", json_string("soon"));
    check_fails(resign(r, k, "domain"), "domain", "valid_until_ts");
    r = json_deep_copy(good);
    json_object_del(r, "verify_keys");
    check_fails(resign(r, k, "domain"), "domain", "verify_keys");
    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "verify_keys"), "ed25519:bad", json_pack("{s:s}", "key", "AAAA"));
    check_fails(resign(r, k, "domain"), "domain", "ed25519:bad");
    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "verify_keys"), "ed25519:b-d", json_pack("{s:s}", "key", SPEC_PUBLIC_B64));
    check_fails(resign(r, k, "domain"), "domain", "verify_keys");
    r = json_deep_copy(good);
    json_object_set_new(r, "old_verify_keys", json_pack("{s:{s:s}}", "ed25519:0", "key", SPEC_PUBLIC_B64));
    check_fails(resign(r, k, "domain"), "domain", "expired_ts");
    r = json_deep_copy(good);
    json_object_del(r, "signatures");
    check_fails(r, "domain", "signatures");
    /* Edited after signing. */
    r = json_deep_copy(good);
    json_object_set_new(r, "valid_until_ts", json_integer(FIXTURE_T0 + 30 * DAY));
    check_fails(r, "domain", "does not verify");
    /* Signed, but by a key it does not publish. */
    struct mxr_signing_key stranger = other_key(9, "1");
    r = json_deep_copy(good);
    check_fails(resign(r, &stranger, "domain"), "domain", "not self-signed");
    /* Signed by someone else entirely. */
    r = json_deep_copy(good);
    check_fails(resign(r, k, "elsewhere"), "domain", "not self-signed");
    /* Two published keys: every signature by a published key must verify. */
    struct mxr_signing_key k2 = other_key(3, "2");
    char pk2[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(&k2, pk2);
    r = json_deep_copy(good);
    json_object_set_new(json_object_get(r, "verify_keys"), "ed25519:2", json_pack("{s:s}", "key", pk2));
    resign(r, k, "domain");
    assert_int_equal(mxr_keyring_check_response(r, "domain", &err), 0);
    json_object_set_new(json_object_get(json_object_get(r, "signatures"), "domain"), "ed25519:2",
                        json_string(json_string_value(json_object_get(json_object_get(json_object_get(r, "signatures"), "domain"), "ed25519:1"))));
    check_fails(r, "domain", "does not verify");
    json_decref(good);
}

static void request_keys_cached_until_valid_until(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    uint8_t pk[32], want[32];
    memcpy(want, f->spec_key.public_key, 32);
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + DAY));
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), 0);
    assert_memory_equal(pk, want, 32);
    f->now += DAY - 1;
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), 0);
    assert_int_equal(f->fetches, 1);
    f->now += 1;   /* at valid_until_ts: no longer valid */
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), -1);
    assert_int_equal(f->fetches, 2);
    assert_non_null(strstr(err.msg, "expired"));
}

static void validity_capped_at_seven_days(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    uint8_t pk[32];
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + 365 * DAY));
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), 0);
    f->now += 7 * DAY - 1;
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), 0);
    assert_int_equal(f->fetches, 1);
    f->now += 2;
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), 0);
    assert_int_equal(f->fetches, 2);   /* refetched, valid again for 7 days from now */
    /* For events: a timestamp inside the capped period only. */
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "domain", "ed25519:1", f->now + 7 * DAY - 10, pk), 0);
    assert_int_equal(f->fetches, 2);
}

static void old_keys_only_for_events(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    struct mxr_signing_key cur = other_key(4, "new");
    json_t *r = fixture_key_response(&cur, "domain", FIXTURE_T0 + DAY);
    json_object_set_new(r, "old_verify_keys",
                        json_pack("{s:{s:s, s:I}}", "ed25519:1", "key", SPEC_PUBLIC_B64, "expired_ts", (json_int_t)(FIXTURE_T0 - HOUR)));
    fixture_serve_keys(f, "domain", resign(r, &cur, "domain"));
    uint8_t pk[32];
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), -1);
    assert_non_null(strstr(err.msg, "old_verify_keys"));
    /* An event from before the key expired may use it; one after may not. */
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "domain", "ed25519:1", FIXTURE_T0 - 2 * HOUR, pk), 0);
    assert_memory_equal(pk, f->spec_key.public_key, 32);
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "domain", "ed25519:1", FIXTURE_T0 - HOUR, pk), -1);
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "domain", "ed25519:1", MXR_KEY_ANY_TIME, pk), 0);
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "domain", "ed25519:new", FIXTURE_T0, pk), 0);
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "domain", "ed25519:none", FIXTURE_T0, pk), -1);
    /* The keyring plugs into the proto verifier. */
    json_t *ev = json_pack("{s:s}", "a", "b");
    assert_int_equal(mxr_sign_json(ev, "domain", &cur, &err), 0);
    struct mxr_verify_keys keys = { mxr_keyring_lookup, f->srv.keyring };
    assert_int_equal(mxr_verify_json_keys(ev, "domain", &keys, FIXTURE_T0, &err), 0);
    json_decref(ev);
    /* Our own key, without any fetch. */
    int before = f->fetches;
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "notary.example", f->srv.key.key_id, FIXTURE_T0, pk), 0);
    assert_memory_equal(pk, f->srv.key.public_key, 32);
    assert_int_equal(mxr_keyring_lookup(f->srv.keyring, "notary.example", "ed25519:old", FIXTURE_T0, pk), -1);
    assert_int_equal(f->fetches, before);
}

static void invalid_responses_are_not_cached(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    uint8_t pk[32];
    json_t *r = fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + DAY);
    json_object_set_new(r, "server_name", json_string("evil.example"));
    fixture_serve_keys(f, "domain", r);
    assert_int_equal(mxr_keyring_request_key(f->srv.keyring, "domain", "ed25519:1", pk, &err), -1);
    assert_non_null(strstr(err.msg, "evil.example"));
    assert_null(mxr_keyring_query(f->srv.keyring, "domain", FIXTURE_T0, &err));
}

static void notary_view(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + DAY));
    json_t *r = mxr_keyring_query(f->srv.keyring, "domain", FIXTURE_T0, &err);
    assert_non_null(r);
    assert_int_equal(f->fetches, 1);
    json_decref(r);
    /* Cached for half of its lifetime... */
    f->now += DAY / 2 - 1;
    json_decref(mxr_keyring_query(f->srv.keyring, "domain", f->now, &err));
    assert_int_equal(f->fetches, 1);
    /* ...unless the asker wants it valid for longer than it is. */
    json_decref(mxr_keyring_query(f->srv.keyring, "domain", FIXTURE_T0 + DAY + 1, &err));
    assert_int_equal(f->fetches, 2);
    f->now = FIXTURE_T0 + DAY - 1000;   /* past half of the second response's lifetime */
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", f->now + DAY));
    r = mxr_keyring_query(f->srv.keyring, "domain", f->now, &err);
    assert_int_equal(f->fetches, 3);
    assert_int_equal(json_integer_value(json_object_get(r, "valid_until_ts")), f->now + DAY);
    json_decref(r);
    /* The origin goes away: its last response is still served, even stale. */
    fixture_serve_keys(f, "domain", NULL);
    f->now += 10 * DAY;
    r = mxr_keyring_query(f->srv.keyring, "domain", f->now, &err);
    assert_non_null(r);
    assert_int_equal(f->fetches, 4);
    json_decref(r);
    /* Never reached, nothing cached: nothing to return. */
    assert_null(mxr_keyring_query(f->srv.keyring, "unknown.example", f->now, &err));
    assert_non_null(strstr(err.msg, "unknown.example"));
}

/* A cache backend other than the built-in one, as the store will provide. */
struct counting_cache {
    json_t *entries;
    int gets, puts;
};

static json_t *cc_get(void *ctx, const char *server, int64_t *fetched)
{
    struct counting_cache *c = ctx;
    c->gets++;
    json_t *e = json_object_get(c->entries, server);
    if (!e)
        return NULL;
    *fetched = json_integer_value(json_array_get(e, 1));
    return json_incref(json_array_get(e, 0));
}

static int cc_put(void *ctx, const char *server, json_t *resp, int64_t fetched, struct mxr_err *err)
{
    struct counting_cache *c = ctx;
    c->puts++;
    json_object_set_new(c->entries, server, json_pack("[O,I]", resp, (json_int_t)fetched));
    return 0;
}

static void pluggable_cache(void **state)
{
    struct fixture *f = *state;
    struct counting_cache cc = { json_object(), 0, 0 };
    struct mxr_keycache_ops ops = { cc_get, cc_put, &cc };
    /* Pre-filled by "an earlier run": no fetch needed. */
    json_object_set_new(cc.entries, "domain",
                        json_pack("[o,I]", fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + DAY),
                                  (json_int_t)(FIXTURE_T0 - HOUR)));
    struct mxr_keyring_deps deps = { .server_name = "notary.example", .key = &f->srv.key, .clock_ctx = f,
                                     .clock = f->srv.clock, .fetch = NULL, .cache = &ops };
    struct mxr_err err = { 0 };
    struct mxr_keyring *kr = mxr_keyring_new(&deps, &err);
    assert_non_null(kr);
    uint8_t pk[32];
    assert_int_equal(mxr_keyring_request_key(kr, "domain", "ed25519:1", pk, &err), 0);
    assert_int_equal(cc.gets, 1);
    /* Without a fetcher a miss is an error, not a crash. */
    assert_int_equal(mxr_keyring_request_key(kr, "other.example", "ed25519:1", pk, &err), -1);
    assert_int_equal(cc.puts, 0);
    mxr_keyring_free(kr);
    json_decref(cc.entries);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(response_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(request_keys_cached_until_valid_until, setup, teardown),
        cmocka_unit_test_setup_teardown(validity_capped_at_seven_days, setup, teardown),
        cmocka_unit_test_setup_teardown(old_keys_only_for_events, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_responses_are_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(notary_view, setup, teardown),
        cmocka_unit_test_setup_teardown(pluggable_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
