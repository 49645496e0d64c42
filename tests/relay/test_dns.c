/* SRV answer parsing on a hand-assembled DNS message (RFC 1035 wire format,
 * RFC 2782 SRV RDATA), including name compression and the "." target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "relay/federation/dns.h"

static const unsigned char ANSWER[] = {
    0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0,              /* header: QD 1, AN 3 */
    11, '_', 'm', 'a', 't', 'r', 'i', 'x', '-', 'f', 'e', 'd',    /* offset 12 */
    4, '_', 't', 'c', 'p',                                        /* offset 24 */
    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0,   /* offset 29 */
    0, 33, 0, 1,                                                  /* QTYPE SRV, QCLASS IN */
    /* answer 1: SRV 10 5 8448 fed.example.org (compressed) */
    0xC0, 12, 0, 33, 0, 1, 0, 0, 1, 44, 0, 12,
    0, 10, 0, 5, 0x21, 0x00, 3, 'f', 'e', 'd', 0xC0, 29,
    /* answer 2: a CNAME record in the chain, skipped */
    0xC0, 12, 0, 5, 0, 1, 0, 0, 1, 44, 0, 2, 0xC0, 29,
    /* answer 3: SRV 0 0 0 "." */
    0xC0, 12, 0, 33, 0, 1, 0, 0, 1, 44, 0, 7, 0, 0, 0, 0, 0, 0, 0,
};

static void parses_srv_records(void **state)
{
    struct mxr_srv_record r[4];
    int n = mxr_dns_parse_srv_answer(ANSWER, sizeof ANSWER, r, 4);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].target, "fed.example.org");
    assert_int_equal(r[0].priority, 10);
    assert_int_equal(r[0].weight, 5);
    assert_int_equal(r[0].port, 8448);
    assert_string_equal(r[1].target, ".");
}

static void truncated_messages_fail_cleanly(void **state)
{
    struct mxr_srv_record r[4];
    for (int len = 0; len < (int)sizeof ANSWER; len++)
        assert_true(mxr_dns_parse_srv_answer(ANSWER, len, r, 4) <= 2);
    unsigned char bad[sizeof ANSWER];
    memcpy(bad, ANSWER, sizeof bad);
    bad[sizeof ANSWER - 20] = 0xC0;   /* a compression pointer into nowhere */
    bad[sizeof ANSWER - 19] = 0xFF;
    assert_true(mxr_dns_parse_srv_answer(bad, sizeof bad, r, 4) <= 2);
}

static void respects_capacity(void **state)
{
    struct mxr_srv_record r[1];
    assert_int_equal(mxr_dns_parse_srv_answer(ANSWER, sizeof ANSWER, r, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_srv_records),
        cmocka_unit_test(truncated_messages_fail_cleanly),
        cmocka_unit_test(respects_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
