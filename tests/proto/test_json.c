/* proto/json.c: parsing rules and canonical JSON (spec appendices.md,
 * "Canonical JSON"). Expected outputs are the spec's examples or were
 * produced by Python canonicaljson.encode_canonical_json (the oracle the
 * interop test runs at scale). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/json.h"

/* Canonical JSON of `in` (len bytes) parsed with `flags`; NULL on error. */
static char *canon_n(const char *in, size_t len, unsigned flags, size_t *outlen,
                     struct mxr_err *err)
{
    json_t *v = mxr_json_parse(in, len, flags, err);
    if (!v)
        return NULL;
    char *s = mxr_canonical_json(v, outlen, err);
    json_decref(v);
    return s;
}

static void assert_canon(const char *in, const char *want)
{
    struct mxr_err err = {0};
    size_t len = 0;
    char *got = canon_n(in, strlen(in), MXR_JSON_SIGNED, &len, &err);
    if (!got)
        fail_msg("%s: %s: %s", in, err.errcode, err.msg);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
    assert_int_equal(got[len], '\0');
    free(got);
}

/* Parse fails with errcode; returns the message for further checks. */
static struct mxr_err parse_fails_n(const char *in, size_t len, unsigned flags, const char *code)
{
    struct mxr_err err = {0};
    json_t *v = mxr_json_parse(in, len, flags, &err);
    if (v)
        fail_msg("accepted: %.*s", (int)(len > 200 ? 200 : len), in);
    assert_non_null(err.errcode);
    assert_string_equal(err.errcode, code);
    assert_null(strchr(err.msg, '\n'));
    return err;
}

static struct mxr_err parse_fails(const char *in, unsigned flags, const char *code)
{
    return parse_fails_n(in, strlen(in), flags, code);
}

/* ---- the spec's examples ------------------------------------------------ */

static void spec_examples(void **state)
{
    assert_canon("{}", "{}");
    assert_canon("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", "{\"one\":1,\"two\":\"Two\"}");
    assert_canon("{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", "{\"a\":\"1\",\"b\":\"2\"}");
    assert_canon("{\"b\":\"2\",\"a\":\"1\"}", "{\"a\":\"1\",\"b\":\"2\"}");
    assert_canon(
        "{\n"
        "    \"auth\": {\n"
        "        \"success\": true,\n"
        "        \"mxid\": \"@john.doe:example.com\",\n"
        "        \"profile\": {\n"
        "            \"display_name\": \"John Doe\",\n"
        "            \"three_pids\": [\n"
        "                {\n"
        "                    \"medium\": \"email\",\n"
        "                    \"address\": \"john.doe@example.org\"\n"
        "                },\n"
        "                {\n"
        "                    \"medium\": \"msisdn\",\n"
        "                    \"address\": \"123456789\"\n"
        "                }\n"
        "            ]\n"
        "        }\n"
        "    }\n"
        "}",
        "{\"auth\":{\"mxid\":\"@john.doe:example.com\",\"profile\":{\"display_name\":\"John Doe\","
        "\"three_pids\":[{\"address\":\"john.doe@example.org\",\"medium\":\"email\"},"
        "{\"address\":\"123456789\",\"medium\":\"msisdn\"}]},\"success\":true}}");
    assert_canon("{\n    \"a\": \"日本語\"\n}", "{\"a\":\"日本語\"}");
    assert_canon("{\n    \"本\": 2,\n    \"日\": 1\n}", "{\"日\":1,\"本\":2}");
    assert_canon("{\n    \"a\": \"\\u65E5\"\n}", "{\"a\":\"日\"}");
    assert_canon("{\n    \"a\": null\n}", "{\"a\":null}");
}

/* The last example, {"a": -0, "b": 1e10} -> {"a":0,"b":10000000000}: the
 * library keeps 1e10 a float and refuses it here, since signed data and v6+
 * events must not carry floats; the `mxr canonical` verb turns whole-number
 * floats into integers first and so reproduces the example (checked by
 * tests/proto/published/). -0 reads as the integer 0 and canonicalises to 0,
 * as the example says. */
static void spec_example_minus_zero_and_exponent(void **state)
{
    assert_canon("{\n    \"a\": -0\n}", "{\"a\":0}");
    struct mxr_err err = parse_fails("{\n    \"a\": -0,\n    \"b\": 1e10\n}", MXR_JSON_STRICT,
                                     "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "b: "));

    /* Non-strict (room versions 1-5): parses, the float stays a float, and
     * canonical JSON refuses it. */
    json_t *v = mxr_json_parse("{\"a\":-0,\"b\":1e10}", 17, 0, &err);
    assert_non_null(v);
    assert_true(json_is_integer(json_object_get(v, "a")));
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 0);
    assert_true(json_is_real(json_object_get(v, "b")));
    assert_null(mxr_canonical_json(v, NULL, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "b: "));
    json_decref(v);
}

/* ---- strings ------------------------------------------------------------ */

static void escapes_match_python(void **state)
{
    /* Python: encode_canonical_json(json.loads(input)). */
    assert_canon("[\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u000b\\u000e\\u007f/\\u2028\\u2029"
                 "\\u00e9\\ud83d\\ude00\"]",
                 "[\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u000b\\u000e\x7f/\xe2\x80\xa8"
                 "\xe2\x80\xa9\xc3\xa9\xf0\x9f\x98\x80\"]");
    /* Redundant escapes in the input disappear. */
    assert_canon("\"\\/\\u0041\\u00E9\"", "\"/A\xc3\xa9\"");
}

/* The grammar's escaped rule: b t n f r, and u000X / u001X with lowercase
 * hex for the other controls. */
static void every_control_character(void **state)
{
    static const char *const want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    };
    for (int c = 0; c < 32; c++) {
        char raw[1] = { (char)c };
        json_t *s = json_stringn(raw, 1);
        assert_non_null(s);
        struct mxr_err err = {0};
        size_t len;
        char *got = mxr_canonical_json(s, &len, &err);
        assert_non_null(got);
        char exp[16];
        snprintf(exp, sizeof exp, "\"%s\"", want[c]);
        assert_string_equal(got, exp);
        free(got);
        json_decref(s);
    }
}

static void nul_in_strings(void **state)
{
    struct mxr_err err = {0};
    json_t *v = mxr_json_parse("{\"k\":\"a\\u0000b\"}", 16, MXR_JSON_SIGNED, &err);
    assert_non_null(v);
    assert_int_equal(json_string_length(json_object_get(v, "k")), 3);
    size_t len;
    char *s = mxr_canonical_json(v, &len, &err);
    assert_non_null(s);
    assert_string_equal(s, "{\"k\":\"a\\u0000b\"}");
    free(s);
    json_decref(v);

    /* jansson cannot hold NUL in a parsed key: refused as valid-but-unsupported. */
    parse_fails("{\"a\\u0000\":1}", 0, "M_BAD_JSON");

    /* Keys built in memory with NUL are serialised whole and sorted as bytes
     * ("a" < "a\0" < "a\1" < "b"), as Python orders them. */
    json_t *o = json_object();
    json_object_setn_new(o, "b", 1, json_integer(4));
    json_object_setn_new(o, "a\x01", 2, json_integer(3));
    json_object_setn_new(o, "a\0", 2, json_integer(2));
    json_object_setn_new(o, "a", 1, json_integer(1));
    s = mxr_canonical_json(o, &len, &err);
    assert_non_null(s);
    static const char want[] = "{\"a\":1,\"a\\u0000\":2,\"a\\u0001\":3,\"b\":4}";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(s, want, len);
    free(s);
    json_decref(o);
}

/* Code point order == UTF-8 byte order; differs from UTF-16 order (where
 * U+10000, a surrogate pair D800 DC00, sorts before U+FF61). */
static void key_order_is_code_point_order(void **state)
{
    assert_canon("{\"\\uffff\":1,\"\\ud800\\udc00\":2,\"\\uff61\":3,\"\":0,\"aa\":4,\"a\":5,\"b\":6}",
                 "{\"\":0,\"a\":5,\"aa\":4,\"b\":6,\"\xef\xbd\xa1\":3,\"\xef\xbf\xbf\":1,"
                 "\"\xf0\x90\x80\x80\":2}");
    assert_canon("{\"B\":1,\"a\":2,\"_\":3,\"\\u00e9\":4,\"~\":5}",
                 "{\"B\":1,\"_\":3,\"a\":2,\"~\":5,\"\xc3\xa9\":4}");
}

static void invalid_utf8_is_refused(void **state)
{
    static const char *const bad[] = {
        "\"\xc0\xaf\"",             /* overlong '/' */
        "\"\xe0\x80\xaf\"",         /* overlong, 3 bytes */
        "\"\xed\xa0\x80\"",         /* surrogate U+D800 encoded in UTF-8 */
        "\"\xed\xbf\xbf\"",         /* surrogate U+DFFF */
        "\"\xe6\x97\"",             /* truncated */
        "\"\x80\"",                 /* lone continuation byte */
        "\"\xf4\x90\x80\x80\"",     /* above U+10FFFF */
        "\"\xf8\x88\x80\x80\x80\"", /* 5-byte form */
        "\"\xff\"",
        "{\"\xc3\":1}",             /* in a key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mxr_err err = parse_fails(bad[i], 0, "M_NOT_JSON");
        /* The message quotes nothing that is not UTF-8. */
        for (const unsigned char *p = (const unsigned char *)err.msg; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
    }
}

static void lone_surrogate_escapes_are_refused(void **state)
{
    parse_fails("\"\\ud800\"", 0, "M_NOT_JSON");
    parse_fails("\"\\udc00\"", 0, "M_NOT_JSON");
    parse_fails("\"\\udbff\"", 0, "M_NOT_JSON");
    parse_fails("\"\\ud800\\u0041\"", 0, "M_NOT_JSON");
    parse_fails("\"\\ude00\\ud83d\"", 0, "M_NOT_JSON");
    parse_fails("{\"\\ud800\":1}", 0, "M_NOT_JSON");
    assert_canon("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    assert_canon("\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\"");
}

static void one_mebibyte_strings(void **state)
{
    size_t n = 1u << 20;
    char *in = malloc(n + 3);
    assert_non_null(in);
    in[0] = '"';
    for (size_t i = 0; i < n; i++)
        in[1 + i] = (char)('a' + i % 26);
    in[n + 1] = '"';
    in[n + 2] = '\0';
    struct mxr_err err = {0};
    size_t len;
    char *out = canon_n(in, n + 2, MXR_JSON_SIGNED, &len, &err);
    assert_non_null(out);
    assert_int_equal(len, n + 2);
    assert_memory_equal(out, in, n + 2);
    free(out);

    /* Every byte needing an escape: 1 MiB of "\n" grows to 2 MiB of \n. */
    for (size_t i = 0; i < n; i++)
        in[1 + i] = (char)(i % 2 ? 'n' : '\\');
    out = canon_n(in, n + 2, MXR_JSON_SIGNED, &len, &err);
    assert_non_null(out);
    assert_int_equal(len, n + 2);
    assert_memory_equal(out, in, n + 2);
    free(out);
    free(in);
}

/* ---- numbers ------------------------------------------------------------ */

static void integer_range_edges(void **state)
{
    assert_canon("[9007199254740991,-9007199254740991,0,-0,1,-1]",
                 "[9007199254740991,-9007199254740991,0,0,1,-1]");

    struct mxr_err err = parse_fails("9007199254740992", MXR_JSON_STRICT, "M_BAD_JSON");
    assert_string_equal(err.msg, "(top level): 9007199254740992 outside canonical integer range "
                                 "[-(2^53)+1, 2^53-1] (appendices, Canonical JSON)");
    parse_fails("-9007199254740992", MXR_JSON_STRICT, "M_BAD_JSON");
    err = parse_fails("{\"content\":{\"ts\":9007199254740992}}", MXR_JSON_STRICT, "M_BAD_JSON");
    assert_string_equal(err.msg, "content.ts: 9007199254740992 outside canonical integer range "
                                 "[-(2^53)+1, 2^53-1] (appendices, Canonical JSON)");
    err = parse_fails("{\"prev_events\":[1,[2,-9007199254740992]]}", MXR_JSON_STRICT,
                      "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "prev_events[1][1]: -9007199254740992 outside"));

    /* Non-strict: 2^53 and 2^63-1 parse (room versions 1-5), canonical refuses. */
    json_t *v = mxr_json_parse("[9007199254740992,9223372036854775807]", 38, 0, &err);
    assert_non_null(v);
    assert_null(mxr_canonical_json(v, NULL, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "[0]: 9007199254740992"));
    /* ...while the lax encoder (v1-v5 hashes and signatures) writes them as
     * Python does, and still refuses floats. */
    size_t len;
    char *s = mxr_canonical_json_lax(v, &len, &err);
    assert_non_null(s);
    assert_string_equal(s, "[9007199254740992,9223372036854775807]");
    assert_int_equal(len, 38);
    free(s);
    json_array_append_new(v, json_real(0.5));
    assert_null(mxr_canonical_json_lax(v, NULL, &err));
    assert_non_null(strstr(err.msg, "[2]: float 0.5"));
    json_decref(v);

    /* Beyond 64 bits jansson cannot hold the number in any mode. */
    err = parse_fails("[9223372036854775808]", 0, "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "64 bits"));
    parse_fails("-9223372036854775809", 0, "M_BAD_JSON");
    parse_fails("1e400", 0, "M_BAD_JSON");
}

static void floats_are_refused_in_strict_mode(void **state)
{
    static const char *const floats[] = { "1.0", "1e10", "1E2", "-0.0", "0.5", "1e-3", "-1.5e+3" };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        struct mxr_err err = parse_fails(floats[i], MXR_JSON_STRICT, "M_BAD_JSON");
        assert_non_null(strstr(err.msg, "float"));
        json_t *v = mxr_json_parse(floats[i], strlen(floats[i]), 0, &err);
        assert_non_null(v);
        assert_null(mxr_canonical_json(v, NULL, &err));
        json_decref(v);
    }
    /* Not JSON at all, in any mode. */
    parse_fails("01", 0, "M_NOT_JSON");
    parse_fails("+1", 0, "M_NOT_JSON");
    parse_fails("1.", 0, "M_NOT_JSON");
    parse_fails(".5", 0, "M_NOT_JSON");
    parse_fails("NaN", 0, "M_NOT_JSON");
    parse_fails("Infinity", 0, "M_NOT_JSON");
}

static void check_strict_on_built_values(void **state)
{
    struct mxr_err err = {0};
    json_t *v = json_pack("{s:{s:I}, s:[i, f]}", "content", "n", (json_int_t)MXR_JSON_INT_MAX,
                          "a", 1, 2.5);
    assert_non_null(v);
    assert_int_equal(mxr_json_check_strict(v, &err), -1);
    assert_string_equal(err.errcode, "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "a[1]: float 2.5"));
    json_array_remove(json_object_get(v, "a"), 1);
    assert_int_equal(mxr_json_check_strict(v, &err), 0);
    json_object_set_new(json_object_get(v, "content"), "n", json_integer(MXR_JSON_INT_MIN - 1));
    assert_int_equal(mxr_json_check_strict(v, &err), -1);
    assert_non_null(strstr(err.msg, "content.n: -9007199254740992"));
    assert_int_equal(mxr_json_check_strict(NULL, &err), -1);
    json_decref(v);

    /* A key with a newline does not break the one-line message. */
    v = json_pack("{s:f}", "x\ny", 1.5);
    assert_int_equal(mxr_json_check_strict(v, &err), -1);
    assert_null(strchr(err.msg, '\n'));
    json_decref(v);
}

/* ---- documents ---------------------------------------------------------- */

static void duplicate_keys(void **state)
{
    parse_fails("{\"a\":1,\"a\":2}", MXR_JSON_NO_DUPLICATES, "M_BAD_JSON");
    parse_fails("{\"x\":{\"a\":1,\"b\":0,\"a\":1}}", MXR_JSON_SIGNED, "M_BAD_JSON");
    /* Without the flag the last value wins, as with Python's json.loads. */
    struct mxr_err err = {0};
    size_t len;
    char *s = canon_n("{\"a\":1,\"a\":2}", 13, MXR_JSON_STRICT, &len, &err);
    assert_non_null(s);
    assert_string_equal(s, "{\"a\":2}");
    free(s);
}

static void trailing_garbage_and_empty_input(void **state)
{
    parse_fails("{} x", 0, "M_NOT_JSON");
    parse_fails("{}{}", 0, "M_NOT_JSON");
    parse_fails("1 2", 0, "M_NOT_JSON");
    parse_fails("[1],", 0, "M_NOT_JSON");
    parse_fails_n("{}\0", 3, 0, "M_NOT_JSON");
    parse_fails_n("{\"a\":1}\0{}", 10, 0, "M_NOT_JSON");
    struct mxr_err err = parse_fails("", 0, "M_NOT_JSON");
    assert_string_equal(err.msg, "empty input");
    parse_fails(" \n\t", 0, "M_NOT_JSON");
    parse_fails_n(NULL, 0, 0, "M_NOT_JSON");
    assert_canon(" \r\n\t{ \"a\" : [ 1 , 2 ] } \n", "{\"a\":[1,2]}");
}

static void syntax_errors_give_position(void **state)
{
    struct mxr_err err = parse_fails("{\n  \"a\": }", 0, "M_NOT_JSON");
    assert_non_null(strstr(err.msg, "line 2 column"));
    parse_fails("{\"a\":1,}", 0, "M_NOT_JSON");
    parse_fails("[1,]", 0, "M_NOT_JSON");
    parse_fails("{'a':1}", 0, "M_NOT_JSON");
    parse_fails("\"tab\there\"", 0, "M_NOT_JSON"); /* raw control character in a string */
    parse_fails("\"\\x41\"", 0, "M_NOT_JSON");
    parse_fails("[true, nul]", 0, "M_NOT_JSON");
}

static void top_level_scalars(void **state)
{
    assert_canon("1", "1");
    assert_canon("\"x\"", "\"x\"");
    assert_canon("null", "null");
    assert_canon("[true,false]", "[true,false]");
    assert_canon("[]", "[]");
}

static char *nested(char open, char close, int depth, size_t *len)
{
    /* [[[...]]] or {"a":{"a":...{}}} */
    size_t unit = open == '{' ? 5 : 1;
    char *s = malloc((size_t)depth * (unit + 1) + 3);
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        if (open == '{' && i) {
            memcpy(s + n, "\"a\":", 4);
            n += 4;
        }
        s[n++] = open;
    }
    for (int i = 0; i < depth; i++)
        s[n++] = close;
    s[n] = '\0';
    *len = n;
    return s;
}

static void deep_nesting(void **state)
{
    size_t len, outlen;
    struct mxr_err err = {0};
    char *in = nested('[', ']', 2000, &len);
    char *out = canon_n(in, len, MXR_JSON_SIGNED, &outlen, &err);
    assert_non_null(out);
    assert_int_equal(outlen, len);
    assert_memory_equal(out, in, len);
    free(out);
    free(in);

    in = nested('{', '}', 2000, &len);
    out = canon_n(in, len, MXR_JSON_SIGNED, &outlen, &err);
    assert_non_null(out);
    assert_memory_equal(out, in, len);
    free(out);
    free(in);

    /* Past jansson's depth limit: an error, not a crash. */
    in = nested('[', ']', 100000, &len);
    parse_fails_n(in, len, 0, "M_BAD_JSON");
    free(in);
    in = nested('{', '}', 5000, &len);
    parse_fails_n(in, len, 0, "M_BAD_JSON");
    free(in);

    /* Built in memory deeper than any parse: the walkers stop, no crash. */
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 5000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    assert_null(mxr_canonical_json(root, NULL, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    assert_non_null(strstr(err.msg, "nested deeper"));
    assert_int_equal(mxr_json_check_strict(root, &err), -1);
    json_decref(root);
}

static void canonical_of_null_value(void **state)
{
    struct mxr_err err = {0};
    assert_null(mxr_canonical_json(NULL, NULL, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_t *v = json_pack("{s:i}", "a", 1);
    char *s = mxr_canonical_json(v, NULL, NULL);   /* len and err may be NULL */
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_examples),
        cmocka_unit_test(spec_example_minus_zero_and_exponent),
        cmocka_unit_test(escapes_match_python),
        cmocka_unit_test(every_control_character),
        cmocka_unit_test(nul_in_strings),
        cmocka_unit_test(key_order_is_code_point_order),
        cmocka_unit_test(invalid_utf8_is_refused),
        cmocka_unit_test(lone_surrogate_escapes_are_refused),
        cmocka_unit_test(one_mebibyte_strings),
        cmocka_unit_test(integer_range_edges),
        cmocka_unit_test(floats_are_refused_in_strict_mode),
        cmocka_unit_test(check_strict_on_built_values),
        cmocka_unit_test(duplicate_keys),
        cmocka_unit_test(trailing_garbage_and_empty_input),
        cmocka_unit_test(syntax_errors_give_position),
        cmocka_unit_test(top_level_scalars),
        cmocka_unit_test(deep_nesting),
        cmocka_unit_test(canonical_of_null_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
