/* proto/realm_shamir.c: Shamir sharing over the ristretto255 scalar field.
 * Known answers were computed with Python integers mod l (/usr/bin/python3,
 * no crypto library): secret, a_1, a_2 = SHA-512("mxr shamir secret" / "mxr
 * shamir a1" / "mxr shamir a2") mod l, f(x) = secret + a_1·x + a_2·x². */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "mxr/realm_crypto.h"

static void unhex32(uint8_t out[32], const char *hex)
{
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(out, 32, hex, strlen(hex), NULL, &len, NULL), 0);
    assert_int_equal(len, 32);
}

static void seed_scalar(uint8_t out[32], const char *label)
{
    uint8_t h[64];
    crypto_hash_sha512(h, (const uint8_t *)label, strlen(label));
    mxr_realm_scalar_from_seed(out, h);
}

static const char *const KAT_SHARES[5] = {
    "a734fd3afc7789be1c225c936441eca63b301e573df05a4e55b02f4c4c7b9a09",
    "4d111e0c8c8433fb07e1cd9cfc62e3058d34234a8a3b9fe836771172438ef00e",
    "7897b35e40f3073cb4236ca6eeaccf7e73e219bd6836086b8e199b205dfbc80d",
    "28c7bd3219c4068121ea36b03a1fb111ef3902b0d8e095d55b97cc5799c22306",
    "4a7432e5305a422226d1255dbfb366d3ff3adc22da3a48289ff0a517f8e30008",
};
#define KAT_SECRET "73d54648ab301cdec8830e2d0542c9767fd50ae481543b9ce9c4f5ae77c2c60d"

static void known_answers(void **state)
{
    (void)state;
    uint8_t secret[32], expect[32], coeffs[2][32];
    seed_scalar(secret, "mxr shamir secret");
    seed_scalar(coeffs[0], "mxr shamir a1");
    seed_scalar(coeffs[1], "mxr shamir a2");
    unhex32(expect, KAT_SECRET);
    assert_memory_equal(secret, expect, 32);
    unhex32(expect, "68f476e0cb47618ade2ab3b721e897adf1851ab3f2430dbeb0fde558c38b1207");
    assert_memory_equal(coeffs[0], expect, 32);

    struct mxr_err err = {0};
    struct mxr_realm_share shares[5];
    assert_int_equal(mxr_realm_shamir_split_with(shares, 5, 3, secret, (const uint8_t(*)[32])coeffs, &err), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(shares[i].index, i + 1);
        unhex32(expect, KAT_SHARES[i]);
        assert_memory_equal(shares[i].value, expect, 32);
    }

    /* Lagrange coefficients of {2,4,5} at 0. */
    static const uint32_t idx[3] = {2, 4, 5};
    static const char *const lambdas[3] = {
        "4c8d4e9311420c903913a56c94a694b8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0a",
        "e8d3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010",
        "a746a7c9082106c89c8952364a534a5c55555555555555555555555555555505",
    };
    for (size_t i = 0; i < 3; i++) {
        uint8_t lambda[32];
        assert_int_equal(mxr_realm_lagrange_at_zero(lambda, idx, 3, i, &err), 0);
        unhex32(expect, lambdas[i]);
        assert_memory_equal(lambda, expect, 32);
    }
    uint8_t lambda[32];
    assert_int_equal(mxr_realm_lagrange_at_zero(lambda, idx, 3, 3, &err), -1);

    /* Recovery from {2,4,5}; and what two shares {1,2} give instead. */
    struct mxr_realm_share subset[3] = {shares[1], shares[3], shares[4]};
    uint8_t got[32];
    assert_int_equal(mxr_realm_shamir_recover(got, subset, 3, &err), 0);
    unhex32(expect, KAT_SECRET);
    assert_memory_equal(got, expect, 32);
    assert_int_equal(mxr_realm_shamir_recover(got, shares, 2, &err), 0);
    unhex32(expect, "0158dc696c6bdf813163ea89cc1ff547ea2b1964f0a416b473e94d2655684404");
    assert_memory_equal(got, expect, 32);

    /* t = 1: every share is the secret. */
    assert_int_equal(mxr_realm_shamir_split_with(shares, 3, 1, secret, NULL, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_memory_equal(shares[i].value, secret, 32);
}

/* Every subset of size >= t recovers; every subset of size t-1 does not. */
static void all_subsets(unsigned t, unsigned n)
{
    struct mxr_err err = {0};
    for (int round = 0; round < 4; round++) {
        uint8_t secret[32], got[32];
        assert_int_equal(mxr_realm_scalar_random(secret, &err), 0);
        struct mxr_realm_share shares[5];
        assert_int_equal(mxr_realm_shamir_split(shares, n, t, secret, &err), 0);
        for (unsigned i = 0; i < n; i++) {
            assert_int_equal(shares[i].index, i + 1);
            assert_true(mxr_realm_scalar_is_canonical(shares[i].value));
            assert_false(sodium_is_zero(shares[i].value, 32));
            assert_memory_not_equal(shares[i].value, secret, 32);
        }
        unsigned recovered = 0, short_sets = 0;
        for (unsigned mask = 1; mask < (1u << n); mask++) {
            struct mxr_realm_share subset[5];
            unsigned count = 0;
            /* Reversed order: recovery must not depend on share order. */
            for (unsigned i = n; i-- > 0;)
                if (mask & (1u << i))
                    subset[count++] = shares[i];
            assert_int_equal(mxr_realm_shamir_recover(got, subset, count, &err), 0);
            if (count >= t) {
                assert_memory_equal(got, secret, 32);
                recovered++;
            } else {
                assert_memory_not_equal(got, secret, 32);
                short_sets += count == t - 1;
            }
        }
        assert_true(recovered >= 1);
        assert_true(short_sets >= 1);

        /* A share of another split (same index) spoils the result. */
        struct mxr_realm_share other[5];
        assert_int_equal(mxr_realm_shamir_split(other, n, t, secret, &err), 0);
        struct mxr_realm_share mixed[5];
        memcpy(mixed, shares, sizeof mixed);
        mixed[0] = other[0];
        assert_int_equal(mxr_realm_shamir_recover(got, mixed, t, &err), 0);
        assert_memory_not_equal(got, secret, 32);
    }
}

static void two_of_three(void **state)
{
    (void)state;
    all_subsets(2, 3);
}

static void three_of_five(void **state)
{
    (void)state;
    all_subsets(3, 5);
}

static void bad_indices(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t secret[32], got[32];
    assert_int_equal(mxr_realm_scalar_random(secret, &err), 0);
    struct mxr_realm_share shares[3], bad[3];
    assert_int_equal(mxr_realm_shamir_split(shares, 3, 2, secret, &err), 0);

    memcpy(bad, shares, sizeof bad);
    bad[1].index = bad[0].index;
    assert_int_equal(mxr_realm_shamir_recover(got, bad, 2, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_non_null(strstr(err.msg, "twice"));

    memcpy(bad, shares, sizeof bad);
    bad[2].index = 0;
    assert_int_equal(mxr_realm_shamir_recover(got, bad, 3, &err), -1);
    assert_non_null(strstr(err.msg, "outside"));
    bad[2].index = MXR_REALM_MAX_SHARES + 1;
    assert_int_equal(mxr_realm_shamir_recover(got, bad, 3, &err), -1);
    bad[2].index = 0xffffffffu;
    assert_int_equal(mxr_realm_shamir_recover(got, bad, 3, &err), -1);

    assert_int_equal(mxr_realm_shamir_recover(got, shares, 0, &err), -1);

    /* A non-canonical share value from a realm. */
    memcpy(bad, shares, sizeof bad);
    memset(bad[0].value, 0xff, 32);
    assert_int_equal(mxr_realm_shamir_recover(got, bad, 2, &err), -1);
    assert_non_null(strstr(err.msg, "canonical"));

    uint32_t idx[2] = {3, 3};
    uint8_t lambda[32];
    assert_int_equal(mxr_realm_lagrange_at_zero(lambda, idx, 2, 0, &err), -1);
}

static void bad_split(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t secret[32], zero[32] = {0}, big[32];
    memset(big, 0xff, sizeof big);
    assert_int_equal(mxr_realm_scalar_random(secret, &err), 0);
    struct mxr_realm_share shares[MXR_REALM_MAX_SHARES + 1];
    assert_int_equal(mxr_realm_shamir_split(shares, 3, 0, secret, &err), -1);
    assert_int_equal(mxr_realm_shamir_split(shares, 3, 4, secret, &err), -1);
    assert_int_equal(mxr_realm_shamir_split(shares, 0, 0, secret, &err), -1);
    assert_int_equal(mxr_realm_shamir_split(shares, MXR_REALM_MAX_SHARES + 1, 2, secret, &err), -1);
    assert_int_equal(mxr_realm_shamir_split(shares, 3, 2, zero, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_realm_shamir_split(shares, 3, 2, big, &err), -1);
    assert_non_null(strstr(err.msg, "canonical"));
    assert_int_equal(mxr_realm_shamir_split_with(shares, 3, 2, secret, NULL, &err), -1);
    uint8_t coeffs[1][32];
    memset(coeffs[0], 0xff, 32);
    assert_int_equal(mxr_realm_shamir_split_with(shares, 3, 2, secret, (const uint8_t(*)[32])coeffs, &err), -1);

    /* The largest split works and recovers from its last t shares. */
    assert_int_equal(mxr_realm_shamir_split(shares, MXR_REALM_MAX_SHARES, 4, secret, &err), 0);
    uint8_t got[32];
    assert_int_equal(mxr_realm_shamir_recover(got, shares + MXR_REALM_MAX_SHARES - 4, 4, &err), 0);
    assert_memory_equal(got, secret, 32);
    assert_int_equal(shares[MXR_REALM_MAX_SHARES - 1].index, MXR_REALM_MAX_SHARES);
}

static void threshold_policy(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    assert_int_equal(mxr_realm_threshold_check(2, 3, &err), 0);
    assert_int_equal(mxr_realm_threshold_check(3, 5, &err), 0);
    assert_int_equal(mxr_realm_threshold_check(3, 4, &err), 0);
    assert_int_equal(mxr_realm_threshold_check(2, 2, &err), 0);
    assert_int_equal(mxr_realm_threshold_check(2, 4, &err), -1);
    assert_non_null(strstr(err.msg, "majority"));
    assert_int_equal(mxr_realm_threshold_check(1, 1, &err), -1);
    assert_int_equal(mxr_realm_threshold_check(1, 2, &err), -1);
    assert_int_equal(mxr_realm_threshold_check(4, 3, &err), -1);
    assert_int_equal(mxr_realm_threshold_check(200, MXR_REALM_MAX_SHARES + 1, &err), -1);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answers), cmocka_unit_test(two_of_three), cmocka_unit_test(three_of_five),
        cmocka_unit_test(bad_indices),   cmocka_unit_test(bad_split),    cmocka_unit_test(threshold_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
