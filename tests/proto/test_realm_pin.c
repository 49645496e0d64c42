/* proto/realm_pin.c: PIN hashing profiles. The jb1 salt layout is the one
 * that reproduces Juicebox's PIN KAT (design §6.11 item 2) through libargon2;
 * the sodium1 expected values come from /usr/bin/python3 (hashlib.blake2b for
 * the salt, nacl.pwhash.argon2id.kdf for Argon2id) with the same inputs:
 * PIN "1234", version 16×0x05, info "artemis". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "mxr/realm_crypto.h"

static void unhex(uint8_t *out, size_t want, const char *hex)
{
    size_t len = 0;
    assert_int_equal(sodium_hex2bin(out, want, hex, strlen(hex), NULL, &len, NULL), 0);
    assert_int_equal(len, want);
}

static const uint8_t VERSION[16] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
#define INFO ((const uint8_t *)"artemis")

static void salts(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t salt[64], expect[31];
    long len = mxr_realm_pin_salt_jb1(salt, sizeof salt, VERSION, INFO, 7, &err);
    assert_int_equal(len, 31);
    unhex(expect, 31, "000000100505050505050505050505050505050500000007617274656d6973");
    assert_memory_equal(salt, expect, 31);
    assert_int_equal(mxr_realm_pin_salt_jb1(salt, 30, VERSION, INFO, 7, &err), -1);
    assert_int_equal(mxr_realm_pin_salt_jb1(salt, sizeof salt, VERSION, NULL, 3, &err), -1);

    uint8_t s16[16], e16[16];
    assert_int_equal(mxr_realm_pin_salt_sodium1(s16, VERSION, INFO, 7, &err), 0);
    unhex(e16, 16, "c2ea37937c0958538efdc62155b54e93");
    assert_memory_equal(s16, e16, 16);
    assert_int_equal(mxr_realm_pin_salt_sodium1(s16, VERSION, NULL, 0, &err), 0);
    unhex(e16, 16, "0639860698b7b221bbde4f67fd2b969d");
    assert_memory_equal(s16, e16, 16);

    static uint8_t long_info[MXR_REALM_PIN_INFO_MAX + 1];
    assert_int_equal(mxr_realm_pin_salt_sodium1(s16, VERSION, long_info, sizeof long_info, &err), -1);
    assert_int_equal(mxr_realm_pin_salt_sodium1(s16, VERSION, long_info, sizeof long_info - 1, &err), 0);
}

static void sodium1_hash(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t access[32], enc[32], expect[32];
    assert_int_equal(mxr_realm_pin_hash(access, enc, MXR_REALM_PROFILE_SODIUM1, (const uint8_t *)"1234", 4, VERSION,
                                        INFO, 7, &err),
                     0);
    unhex(expect, 32, "83fae170efe7ffcbea137ab41fa6f452f46ccb2876f3ececd94dfb8eba412d4b");
    assert_memory_equal(access, expect, 32);
    unhex(expect, 32, "0b847a9064fc2dd01e26f3e419c9f7fb89c43d6575b70af1971a46da462e3aad");
    assert_memory_equal(enc, expect, 32);
}

/* jb1 through libargon2: Juicebox's PIN KAT (rust/sdk/src/pin.rs; design
 * §6.11 item 2). */
static void jb1_hash(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t access[32], enc[32], expect[32];
    assert_int_equal(mxr_realm_pin_hash(access, enc, MXR_REALM_PROFILE_JB1, (const uint8_t *)"1234", 4, VERSION, INFO,
                                        7, &err),
                     0);
    unhex(expect, 32, "2935da84c97423b37f3457231b877ce6ac2093501d7255dbee1deb09a5d8821b");
    assert_memory_equal(access, expect, 32);
    unhex(expect, 32, "87c8c9b5d3ea9fea83b6ac6a64e25b97c4722ca4e40bea2523efea262125e22a");
    assert_memory_equal(enc, expect, 32);
}

static void refusals(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t access[32], enc[32];
    assert_int_equal(mxr_realm_pin_hash(access, enc, MXR_REALM_PROFILE_JB1, (const uint8_t *)"", 0, VERSION, INFO, 7,
                                        &err),
                     -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_realm_pin_hash(access, enc, MXR_REALM_PROFILE_SODIUM1, (const uint8_t *)"", 0, VERSION, INFO,
                                        7, &err),
                     -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_realm_pin_hash(access, enc, MXR_REALM_PROFILE_SODIUM1, NULL, 4, VERSION, INFO, 7, &err), -1);
    static uint8_t long_pin[MXR_REALM_PIN_MAX + 1];
    assert_int_equal(mxr_realm_pin_hash(access, enc, MXR_REALM_PROFILE_SODIUM1, long_pin, sizeof long_pin, VERSION,
                                        INFO, 7, &err),
                     -1);
    assert_int_equal(mxr_realm_pin_hash(access, enc, (enum mxr_realm_profile)7, (const uint8_t *)"1", 1, VERSION,
                                        INFO, 7, &err),
                     -1);
}

static void profiles(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    enum mxr_realm_profile p;
    assert_int_equal(mxr_realm_profile_parse("jb1", &p, &err), 0);
    assert_int_equal(p, MXR_REALM_PROFILE_JB1);
    assert_int_equal(mxr_realm_profile_parse("sodium1", &p, &err), 0);
    assert_int_equal(p, MXR_REALM_PROFILE_SODIUM1);
    assert_string_equal(mxr_realm_profile_name(p), "sodium1");
    assert_string_equal(mxr_realm_profile_name(MXR_REALM_PROFILE_JB1), "jb1");
    assert_int_equal(mxr_realm_profile_parse("JB1", &p, &err), -1);
    assert_int_equal(mxr_realm_profile_parse(NULL, &p, &err), -1);
    assert_int_equal(mxr_realm_profile_parse("", &p, &err), -1);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(salts),
        cmocka_unit_test(sodium1_hash),
        cmocka_unit_test(jb1_hash),
        cmocka_unit_test(refusals),
        cmocka_unit_test(profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
