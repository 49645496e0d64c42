/* proto/ids.c: identifier grammar (spec appendices.md, "Identifier
 * Grammar"). Valid examples are the spec's own where it gives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/ids.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A string of n copies of c. */
static char *rep(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void assert_err_line(const struct mxr_err *err)
{
    assert_string_equal(err->errcode, "M_INVALID_PARAM");
    assert_true(err->msg[0] != '\0');
    for (const char *p = err->msg; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

/* ---- server names ------------------------------------------------------- */

static void server_names(void **state)
{
    static const struct {
        const char *s;
        enum mxr_host_kind kind;
        const char *host;
        int port;
    } good[] = {
        /* The spec's examples. */
        { "matrix.org", MXR_HOST_DNS, "matrix.org", -1 },
        { "matrix.org:8888", MXR_HOST_DNS, "matrix.org", 8888 },
        { "1.2.3.4", MXR_HOST_IPV4, "1.2.3.4", -1 },
        { "1.2.3.4:1234", MXR_HOST_IPV4, "1.2.3.4", 1234 },
        { "[1234:5678::abcd]", MXR_HOST_IPV6, "1234:5678::abcd", -1 },
        { "[1234:5678::abcd]:5678", MXR_HOST_IPV6, "1234:5678::abcd", 5678 },
        /* Edges of the grammar. */
        { "localhost", MXR_HOST_DNS, "localhost", -1 },
        { "a", MXR_HOST_DNS, "a", -1 },
        { "MATRIX.ORG", MXR_HOST_DNS, "MATRIX.ORG", -1 },  /* allowed, case kept */
        { "x-y.example", MXR_HOST_DNS, "x-y.example", -1 },
        { "example.org.", MXR_HOST_DNS, "example.org.", -1 },
        { "1234.1.1.1", MXR_HOST_DNS, "1234.1.1.1", -1 },  /* not dotted-quad shaped */
        { "1.2.3", MXR_HOST_DNS, "1.2.3", -1 },
        { "255.255.255.255", MXR_HOST_IPV4, "255.255.255.255", -1 },
        { "0.0.0.0:0", MXR_HOST_IPV4, "0.0.0.0", 0 },
        { "example.org:65535", MXR_HOST_DNS, "example.org", 65535 },
        { "example.org:08448", MXR_HOST_DNS, "example.org", 8448 },
        { "[::1]", MXR_HOST_IPV6, "::1", -1 },
        { "[::]:8448", MXR_HOST_IPV6, "::", 8448 },
        { "[::ffff:1.2.3.4]", MXR_HOST_IPV6, "::ffff:1.2.3.4", -1 },
        { "[2001:DB8::A]", MXR_HOST_IPV6, "2001:DB8::A", -1 },
    };
    for (size_t i = 0; i < N(good); i++) {
        struct mxr_server_name sn;
        struct mxr_err err = {0};
        if (mxr_server_name_parse(good[i].s, &sn, &err) != 0)
            fail_msg("refused %s: %s", good[i].s, err.msg);
        assert_int_equal(sn.kind, good[i].kind);
        assert_string_equal(sn.host, good[i].host);
        assert_int_equal(sn.port, good[i].port);
        assert_true(mxr_id_valid_server_name(good[i].s));
    }

    static const char *const bad[] = {
        "", ":8448", "matrix.org:", "matrix.org:123456", "matrix.org:65536", "matrix.org:99999",
        "matrix.org:-1", "matrix.org:+1", "matrix.org:80a", "matrix.org:80:80", "matrix.org :80",
        "under_score.org", "spa ce.org", "ex!ample.org", "ex\xc3\xa9mple.org", "matrix.org/",
        "1.2.3.256", "256.1.1.1", "1.2.3.999:80", "[1234:5678::abcd", "1234:5678::abcd",
        "[]", "[:]", "[1]", "[::1", "[::1]x", "[::1]:", "[::1]:123456", "[fe80::1%eth0]",
        "[::g]", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[1.2.3.4]", "[[::1]]",
        "[0000:0000:0000:0000:0000:0000:0000:0000:00]",
    };
    for (size_t i = 0; i < N(bad); i++) {
        struct mxr_err err = {0};
        if (mxr_server_name_parse(bad[i], NULL, &err) == 0)
            fail_msg("accepted '%s'", bad[i]);
        assert_err_line(&err);
        assert_false(mxr_id_valid_server_name(bad[i]));
    }
    assert_false(mxr_id_valid_server_name(NULL));

    /* dns-name = 1*255dns-char */
    char *h = rep('a', 255);
    assert_true(mxr_id_valid_server_name(h));
    free(h);
    h = rep('a', 256);
    assert_false(mxr_id_valid_server_name(h));
    free(h);
}

/* ---- user IDs ----------------------------------------------------------- */

static const struct uid_case {
    const char *s;
    bool strict, compat, historical;
} USER_IDS[] = {
    { "@alice:example.org", true, true, true },
    { "@a:b", true, true, true },
    { "@john.doe:example.com", true, true, true },
    { "@a-b_c=d/e+f.0:matrix.org:8448", true, true, true },
    { "@u:[1234:5678::abcd]:5678", true, true, true },
    { "@u:1.2.3.4", true, true, true },
    { "@Alice:example.org", false, true, true },   /* upper case: historical */
    { "@a*b:example.org", false, true, true },
    { "@~!#$%^&*()[]{}:example.org", false, true, true },
    { "@:example.org", false, false, true },       /* empty localpart: historical only */
    { "@a b:example.org", false, false, true },    /* space is U+0020 */
    { "@caf\xc3\xa9:example.org", false, false, true },
    { "@\xf0\x9f\x98\x80:example.org", false, false, true },
    { "@a\tb:example.org", false, false, true },   /* controls included */
    { "@a\x7f:example.org", false, false, true },
    /* Invalid in every grammar. */
    { "alice:example.org", false, false, false },
    { "!alice:example.org", false, false, false },
    { "@alice", false, false, false },
    { "@alice:", false, false, false },
    { "@alice:exa_mple.org", false, false, false },
    { "@alice:example.org:99999", false, false, false },
    { "@alice:example.org:", false, false, false },
    { "@a\xc0\xaf:example.org", false, false, false },  /* not UTF-8 */
    { "@a\xed\xa0\x80:example.org", false, false, false }, /* surrogate */
    { "", false, false, false },
    { "@", false, false, false },
};

static void user_ids(void **state)
{
    static const enum mxr_user_grammar g[3] = { MXR_USER_STRICT, MXR_USER_COMPAT,
                                                 MXR_USER_HISTORICAL };
    for (size_t i = 0; i < N(USER_IDS); i++) {
        const struct uid_case *c = &USER_IDS[i];
        bool want[3] = { c->strict, c->compat, c->historical };
        for (int k = 0; k < 3; k++) {
            struct mxr_err err = {0};
            int rc = mxr_id_check_user(c->s, g[k], &err);
            if ((rc == 0) != want[k])
                fail_msg("user ID case %zu grammar %d: got %d (%s)", i, k, rc, err.msg);
            if (rc)
                assert_err_line(&err);
        }
    }
    assert_int_equal(mxr_id_check_user(NULL, MXR_USER_HISTORICAL, NULL), -1);
}

/* "The length of a user ID, including the @ sigil and the domain, MUST NOT
 * exceed 255 bytes." */
static void id_length_255_vs_256(void **state)
{
    char buf[300];
    for (int len = 254; len <= 257; len++) {
        /* "@" + localpart + ":example.org" */
        size_t lp = (size_t)len - 1 - strlen(":example.org");
        buf[0] = '@';
        memset(buf + 1, 'a', lp);
        strcpy(buf + 1 + lp, ":example.org");
        assert_int_equal(strlen(buf), (size_t)len);
        int want = len <= 255 ? 0 : -1;
        assert_int_equal(mxr_id_check_user(buf, MXR_USER_STRICT, NULL), want);
        assert_int_equal(mxr_id_check_user(buf, MXR_USER_HISTORICAL, NULL), want);
        buf[0] = '!';
        assert_int_equal(mxr_id_check_room(buf, MXR_EVFMT_V1, NULL), want);
        buf[0] = '#';
        assert_int_equal(mxr_id_check_alias(buf, NULL), want);
        buf[0] = '$';
        assert_int_equal(mxr_id_check_event(buf, MXR_EVFMT_V1, NULL), want);
    }
    struct mxr_err err = {0};
    memset(buf, 'a', 299);
    buf[0] = '@';
    buf[299] = '\0';
    assert_int_equal(mxr_id_check_user(buf, MXR_USER_HISTORICAL, &err), -1);
    assert_non_null(strstr(err.msg, "299 bytes"));
}

/* ---- room IDs, event IDs, aliases ---------------------------------------- */

/* [derived] v12 create event ID from the digest's vectors (43 URL-safe chars). */
#define HASH_URL "P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM"
#define HASH_STD "P5+6WTYQ/woy6f4nmleE0XqxjtZcyKGza5/gDN+KAdM"
#define HASH_PLAIN "7y0SfeN7lCuq0GFF5UsMYZofIjJ7LrvPvsePVWSv450"   /* in both alphabets */

static void room_ids(void **state)
{
    static const struct {
        const char *s;
        int v1, v4, any;   /* expected: 1 valid, 0 invalid */
    } cases[] = {
        { "!opaque:example.org", 1, 0, 1 },
        { "!x:domain", 1, 0, 1 },
        { "!r:domain", 1, 0, 1 },
        { "!:example.org", 1, 0, 1 },           /* the spec does not forbid an empty opaque part */
        { "!AbC123:example.org:8448", 1, 0, 1 },
        { "!caf\xc3\xa9\t:example.org", 1, 0, 1 },
        { "!" HASH_URL, 0, 1, 1 },
        { "!" HASH_PLAIN, 0, 1, 1 },
        { "!" HASH_STD, 0, 0, 0 },                /* '+' '/' are not URL-safe */
        { "!" HASH_URL "A", 0, 0, 0 },            /* 44 characters */
        { "!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdN", 0, 0, 0 }, /* stray bits */
        { "!" HASH_URL ":example.org", 1, 0, 1 }, /* a domain form with a long opaque part */
        { "!opaque", 0, 0, 0 },
        { "!opaque:", 0, 0, 0 },
        { "!opaque:bad_domain", 0, 0, 0 },
        { "opaque:example.org", 0, 0, 0 },
        { "$opaque:example.org", 0, 0, 0 },
        { "!a\xff:example.org", 0, 0, 0 },
        { "", 0, 0, 0 },
        { "!", 0, 0, 0 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        int want[3] = { cases[i].v1, cases[i].v4, cases[i].any };
        enum mxr_event_format f[3] = { MXR_EVFMT_V1, MXR_EVFMT_V4, MXR_ID_ANY_FORMAT };
        for (int k = 0; k < 3; k++) {
            struct mxr_err err = {0};
            int rc = mxr_id_check_room(cases[i].s, f[k], &err);
            if ((rc == 0) != (want[k] == 1))
                fail_msg("room ID case %zu format %d: got %d (%s)", i, (int)f[k], rc, err.msg);
            if (rc)
                assert_err_line(&err);
        }
    }
    /* V2 and V3 event formats (room versions 3-11) use the domain form. */
    assert_int_equal(mxr_id_check_room("!a:b", MXR_EVFMT_V2, NULL), 0);
    assert_int_equal(mxr_id_check_room("!a:b", MXR_EVFMT_V3, NULL), 0);
    assert_int_equal(mxr_id_check_room("!" HASH_URL, MXR_EVFMT_V3, NULL), -1);
    assert_int_equal(mxr_id_check_room(NULL, MXR_ID_ANY_FORMAT, NULL), -1);
}

static void event_ids(void **state)
{
    static const struct {
        const char *s;
        int v1, v2, v3, any;
    } cases[] = {
        { "$0:domain", 1, 0, 0, 1 },
        { "$abc123:example.org:8448", 1, 0, 0, 1 },
        { "$:example.org", 1, 0, 0, 1 },
        { "$" HASH_STD, 0, 1, 0, 1 },
        { "$" HASH_URL, 0, 0, 1, 1 },
        { "$" HASH_PLAIN, 0, 1, 1, 1 },
        { "$" HASH_URL "=", 0, 0, 0, 0 },          /* padding makes it 44 characters */
        { "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAd", 0, 0, 0, 0 }, /* 42 */
        { "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdN", 0, 0, 0, 0 }, /* stray bits */
        { "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAd!", 0, 0, 0, 0 },
        { "$abc", 0, 0, 0, 0 },
        { "$abc:", 0, 0, 0, 0 },
        { "!" HASH_URL, 0, 0, 0, 0 },
        { "", 0, 0, 0, 0 },
        { "$", 0, 0, 0, 0 },
    };
    enum mxr_event_format f[4] = { MXR_EVFMT_V1, MXR_EVFMT_V2, MXR_EVFMT_V3, MXR_ID_ANY_FORMAT };
    for (size_t i = 0; i < N(cases); i++) {
        int want[4] = { cases[i].v1, cases[i].v2, cases[i].v3, cases[i].any };
        for (int k = 0; k < 4; k++) {
            struct mxr_err err = {0};
            int rc = mxr_id_check_event(cases[i].s, f[k], &err);
            if ((rc == 0) != (want[k] == 1))
                fail_msg("event ID case %zu format %d: got %d (%s)", i, (int)f[k], rc, err.msg);
            if (rc)
                assert_err_line(&err);
        }
        /* V4 (room version 12) event IDs are as V3. */
        assert_int_equal(mxr_id_check_event(cases[i].s, MXR_EVFMT_V4, NULL),
                         mxr_id_check_event(cases[i].s, MXR_EVFMT_V3, NULL));
    }
}

static void aliases(void **state)
{
    static const char *const good[] = {
        "#room:example.org", "#:example.org", "#Caf\xc3\xa9 room:example.org:8448",
        "#a:[::1]",
    };
    static const char *const bad[] = {
        "room:example.org", "#room", "#room:", "#room:ex ample.org", "@room:example.org",
        "#\xc3:example.org", "",
    };
    for (size_t i = 0; i < N(good); i++)
        assert_int_equal(mxr_id_check_alias(good[i], NULL), 0);
    for (size_t i = 0; i < N(bad); i++) {
        struct mxr_err err = {0};
        assert_int_equal(mxr_id_check_alias(bad[i], &err), -1);
        assert_err_line(&err);
    }
}

static void domains(void **state)
{
    assert_string_equal(mxr_id_domain("@alice:example.org"), "example.org");
    assert_string_equal(mxr_id_domain("@alice:example.org:8448"), "example.org:8448");
    assert_string_equal(mxr_id_domain("@u:[::1]:8448"), "[::1]:8448");
    assert_string_equal(mxr_id_domain("!r:domain"), "domain");
    assert_string_equal(mxr_id_domain("$0:domain"), "domain");
    assert_string_equal(mxr_id_domain("#a:b"), "b");
    assert_string_equal(mxr_id_domain("@:b"), "b");
    assert_null(mxr_id_domain("$" HASH_URL));
    assert_null(mxr_id_domain("!" HASH_URL));
    assert_null(mxr_id_domain(""));
    assert_null(mxr_id_domain(NULL));
    /* The sigil is never taken as the separator. */
    assert_null(mxr_id_domain(":"));
    assert_string_equal(mxr_id_domain("::x"), "x");
}

static void key_ids(void **state)
{
    static const char *const good[] = {
        "ed25519:1", "ed25519:abc123", "ed25519:0ldK3y", "ed25519:a_b", "ed25519:policy_server",
    };
    static const char *const bad[] = {
        "ed25519:", "ed25519", "ed25519:a-b", "ed25519:a.b", "ed25519:a b", "ed25519:a:b",
        "curve25519:abc", "ED25519:1", ":1", "", "ed25519:\xc3\xa9",
    };
    for (size_t i = 0; i < N(good); i++)
        assert_int_equal(mxr_id_check_key_id(good[i], NULL), 0);
    for (size_t i = 0; i < N(bad); i++) {
        struct mxr_err err = {0};
        assert_int_equal(mxr_id_check_key_id(bad[i], &err), -1);
        assert_err_line(&err);
    }
    assert_int_equal(mxr_id_check_key_id(NULL, NULL), -1);
}

/* Error messages quote untrusted IDs without control characters or bytes
 * that are not UTF-8. */
static void messages_are_one_clean_line(void **state)
{
    struct mxr_err err = {0};
    assert_int_equal(mxr_id_check_user("@a\n\xff:exa\nmple.org", MXR_USER_HISTORICAL, &err), -1);
    assert_err_line(&err);
    char *h = rep('x', 400);
    h[0] = '@';
    assert_int_equal(mxr_id_check_user(h, MXR_USER_STRICT, &err), -1);
    assert_err_line(&err);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_names),
        cmocka_unit_test(user_ids),
        cmocka_unit_test(id_length_255_vs_256),
        cmocka_unit_test(room_ids),
        cmocka_unit_test(event_ids),
        cmocka_unit_test(aliases),
        cmocka_unit_test(domains),
        cmocka_unit_test(key_ids),
        cmocka_unit_test(messages_are_one_clean_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
