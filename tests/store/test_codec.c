/* Key codec and value encoders (relay/store/codec.c): byte order must equal
 * numeric order, composite keys must be unambiguous, overflows detected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/store/codec.h"

static int key_cmp(const struct skey *a, const struct skey *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->b, b->b, n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

static void u64_byte_order_is_numeric_order(void **state)
{
    static const uint64_t v[] = {0, 1, 255, 256, 65535, 65536, 1ull << 32, (1ull << 32) + 1,
                                 0x00ff00ff00ff00ffull, 0xff00000000000000ull, UINT64_MAX - 1, UINT64_MAX};
    size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            struct skey a, b;
            skey_init(&a);
            skey_init(&b);
            skey_u64(&a, v[i]);
            skey_u64(&b, v[j]);
            int c = key_cmp(&a, &b);
            assert_true(i < j ? c < 0 : i > j ? c > 0 : c == 0);
        }
        uint8_t buf[8];
        be64_put(buf, v[i]);
        assert_true(be64_get(buf) == v[i]);
    }
    /* Known bytes: big-endian. */
    struct skey k;
    skey_init(&k);
    skey_u64(&k, 0x0102030405060708ull);
    assert_memory_equal(k.b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    uint8_t b4[4];
    be32_put(b4, 0xA1B2C3D4u);
    assert_memory_equal(b4, "\xA1\xB2\xC3\xD4", 4);
    assert_int_equal(be32_get(b4), 0xA1B2C3D4u);
}

static void composite_strings_are_unambiguous(void **state)
{
    struct skey a, b;
    skey_init(&a);
    skey_str(&a, "ab");
    skey_raw(&a, "c", 1);
    skey_init(&b);
    skey_str(&b, "a");
    skey_raw(&b, "bc", 2);
    assert_int_equal(a.n, b.n);
    assert_true(key_cmp(&a, &b) != 0);
    assert_memory_equal(a.b, "\x02" "abc", 4);

    /* A string component is a prefix of every key that starts with it and of
     * no key whose first component merely starts with the same bytes. */
    struct skey p, k1, k2;
    skey_init(&p);
    skey_str(&p, "a.com");
    skey_init(&k1);
    skey_str(&k1, "a.com");
    skey_u64(&k1, 7);
    skey_init(&k2);
    skey_str(&k2, "a.com.evil");
    skey_u64(&k2, 7);
    assert_memory_equal(k1.b, p.b, p.n);
    assert_true(memcmp(k2.b, p.b, p.n) != 0);
}

static void overflow_is_recorded(void **state)
{
    char s[300];
    memset(s, 'x', sizeof s - 1);
    s[299] = '\0';
    struct skey k;
    skey_init(&k);
    skey_strn(&k, s, 255);
    assert_false(k.bad);
    assert_int_equal(k.n, 256);
    skey_init(&k);
    skey_str(&k, s);   /* 299 bytes: over a one-byte length */
    assert_true(k.bad);

    /* Two maximal strings fit (1 + 255 + 255 = 511 = SKEY_MAX), a byte more does not. */
    skey_init(&k);
    skey_strn(&k, s, 255);
    skey_raw(&k, s, 255);
    assert_false(k.bad);
    assert_int_equal(k.n, SKEY_MAX);
    skey_u8(&k, 1);
    assert_true(k.bad);
    skey_u64(&k, 1);   /* stays bad, no write past the end */
    assert_true(k.bad);
    assert_int_equal(k.n, SKEY_MAX);
}

static void values_round_trip(void **state)
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, 7);
    sbuf_u32(&b, 0xDEADBEEFu);
    sbuf_u64(&b, 0x1122334455667788ull);
    sbuf_str8(&b, "join");
    sbuf_str16(&b, "");
    char big[2000];
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sbuf_str16(&b, big);   /* past the inline buffer */
    assert_false(b.oom);
    assert_true(b.p != b.inl);

    struct srd r = srd_make(b.p, b.n);
    assert_int_equal(srd_u8(&r), 7);
    assert_int_equal(srd_u32(&r), 0xDEADBEEFu);
    assert_true(srd_u64(&r) == 0x1122334455667788ull);
    char s8[256], s16[2100];
    srd_str8(&r, s8, sizeof s8);
    assert_string_equal(s8, "join");
    srd_str16(&r, s16, sizeof s16);
    assert_string_equal(s16, "");
    srd_str16(&r, s16, sizeof s16);
    assert_string_equal(s16, big);
    assert_false(r.bad);
    assert_int_equal(r.n, 0);
    /* Reading past the end marks the reader bad and yields zeros. */
    assert_int_equal(srd_u64(&r), 0);
    assert_true(r.bad);
    sbuf_free(&b);

    /* A string that does not fit the output is refused, not truncated. */
    sbuf_init(&b);
    sbuf_str8(&b, "membership");
    r = srd_make(b.p, b.n);
    char small[4];
    srd_str8(&r, small, sizeof small);
    assert_true(r.bad);
    assert_string_equal(small, "");
    sbuf_free(&b);

    /* Over-long strings set oom rather than writing a wrong length. */
    sbuf_init(&b);
    char s300[301];
    memset(s300, 'y', 300);
    s300[300] = '\0';
    sbuf_str8(&b, s300);
    assert_true(b.oom);
    sbuf_free(&b);
}

static void copy_str_bounds(void **state)
{
    char out[4];
    assert_true(copy_str(out, sizeof out, "abc", 3));
    assert_string_equal(out, "abc");
    assert_false(copy_str(out, sizeof out, "abcd", 4));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u64_byte_order_is_numeric_order),
        cmocka_unit_test(composite_strings_are_unambiguous),
        cmocka_unit_test(overflow_is_recorded),
        cmocka_unit_test(values_round_trip),
        cmocka_unit_test(copy_str_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
