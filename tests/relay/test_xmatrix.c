/* relay/federation/xmatrix.c: the Authorization header grammar (RFC 9110
 * section 11.4 as the spec words it) and request signature checks, with the
 * spec's test key and signatures checked with Python's signedjson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"
#include "relay/federation/xmatrix.h"

/* Signatures of the spec test key ("domain", ed25519:1) over
 *   {"destination":"remote.example","method":"GET","origin":"domain","uri":"/_matrix/federation/v1/version"}
 * and the PUT /send/1234 object with content {"origin":"domain","origin_server_ts":1000000,"pdus":[]},
 * as computed by signedjson.sign.sign_json (spec-digest section 2). */
#define SIG_GET "wR1E4UZ3G3F2knf0x+RNgxQ2N/hCiZ/ZdOktAey0wSvTWc/nHH8YPJaOvRhipwX46AZPntLZhHd0DFjZ7H7iDQ"
#define SIG_PUT "dr73hN7zolZwMYNxUTLfimadLNobMc7Qhl5WROk+Wz6SkqI3C+87EXV1BIEK/Nun5/NeEK8RayFZOdyGFjyDBw"

/* ---- parsing ------------------------------------------------------------------------------- */

static struct mxr_xmatrix parse_ok(const char *h)
{
    struct mxr_xmatrix x;
    struct mxr_err err = { 0 };
    if (mxr_xmatrix_parse(h, &x, &err) < 0)
        fail_msg("'%s' refused: %s", h, err.msg);
    return x;
}

static void parse_fails(const char *h, const char *needle)
{
    struct mxr_xmatrix x;
    struct mxr_err err = { 0 };
    if (mxr_xmatrix_parse(h, &x, &err) == 0)
        fail_msg("'%s' accepted", h ? h : "(null)");
    assert_string_equal(err.errcode, "M_UNAUTHORIZED");
    if (needle && !strstr(err.msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", h, err.msg, needle);
}

static void spec_example_header(void **state)
{
    struct mxr_xmatrix x = parse_ok("X-Matrix origin=\"origin.hs.example.com\",destination=\"destination.hs.example.com\","
                                    "key=\"ed25519:key1\",sig=\"ABCDEF...\"");
    assert_string_equal(x.origin, "origin.hs.example.com");
    assert_true(x.has_destination);
    assert_string_equal(x.destination, "destination.hs.example.com");
    assert_string_equal(x.key, "ed25519:key1");
    assert_string_equal(x.sig, "ABCDEF...");
}

static void lenient_forms(void **state)
{
    /* Unquoted values, colons included (compatibility rule), base64 characters. */
    struct mxr_xmatrix x = parse_ok("X-Matrix origin=origin.example:8448,destination=[::1]:8448,key=ed25519:k_1,sig=ab+/cd==");
    assert_string_equal(x.origin, "origin.example:8448");
    assert_string_equal(x.destination, "[::1]:8448");
    assert_string_equal(x.key, "ed25519:k_1");
    assert_string_equal(x.sig, "ab+/cd==");
    /* Names and scheme are case-insensitive; order does not matter. */
    x = parse_ok("x-matrix SIG=\"s\",Key=\"ed25519:1\",ORIGIN=\"a.example\"");
    assert_string_equal(x.origin, "a.example");
    assert_string_equal(x.sig, "s");
    assert_false(x.has_destination);
    /* Spaces and tabs around commas (and '='), several spaces after the scheme. */
    x = parse_ok("X-Matrix   origin = \"a\" ,\tkey=\"ed25519:1\"\t, sig=\"s\"  ");
    assert_string_equal(x.origin, "a");
    assert_string_equal(x.key, "ed25519:1");
    /* Empty list elements and unknown parameters are ignored. */
    x = parse_ok("X-Matrix ,origin=\"a\",,foo=\"bar, baz\",key=\"ed25519:1\",x=y,sig=\"s\",");
    assert_string_equal(x.origin, "a");
    assert_string_equal(x.sig, "s");
    /* Backslash escapes are unescaped. */
    x = parse_ok("X-Matrix origin=\"a\\\"b\\\\c\\d\",key=\"ed25519:1\",sig=\"s\"");
    assert_string_equal(x.origin, "a\"b\\cd");
    /* Longest accepted values. */
    char h[700], name[256];
    memset(name, 'a', 255);
    name[255] = '\0';
    snprintf(h, sizeof h, "X-Matrix origin=\"%s\",key=\"ed25519:1\",sig=\"s\"", name);
    x = parse_ok(h);
    assert_int_equal(strlen(x.origin), 255);
}

static void malformed_headers(void **state)
{
    parse_fails(NULL, "missing Authorization");
    parse_fails("", "scheme");
    parse_fails("Bearer abc", "scheme is 'Bearer'");
    parse_fails("X-Matrixorigin=\"a\",key=\"ed25519:1\",sig=\"s\"", "scheme");
    parse_fails("X-Matrix,origin=\"a\",key=\"ed25519:1\",sig=\"s\"", "space");
    parse_fails("X-Matrix key=\"ed25519:1\",sig=\"s\"", "missing parameter 'origin'");
    parse_fails("X-Matrix origin=\"a\",sig=\"s\"", "missing parameter 'key'");
    parse_fails("X-Matrix origin=\"a\",key=\"ed25519:1\"", "missing parameter 'sig'");
    parse_fails("X-Matrix origin=\"\",key=\"ed25519:1\",sig=\"s\"", "missing parameter 'origin'");
    parse_fails("X-Matrix origin=\"a\",origin=\"b\",key=\"ed25519:1\",sig=\"s\"", "twice");
    parse_fails("X-Matrix origin=\"a\",ORIGIN=\"a\",key=\"ed25519:1\",sig=\"s\"", "twice");
    parse_fails("X-Matrix origin=\"a,key=\"ed25519:1\",sig=\"s\"", NULL);
    parse_fails("X-Matrix origin=\"a\",key=\"ed25519:1\",sig=\"s", "unterminated");
    parse_fails("X-Matrix origin=\"a\"b,key=\"ed25519:1\",sig=\"s\"", "expected ','");
    parse_fails("X-Matrix origin=a b,key=\"ed25519:1\",sig=\"s\"", "expected ','");
    parse_fails("X-Matrix origin=,key=\"ed25519:1\",sig=\"s\"", "empty");
    parse_fails("X-Matrix origin,key=\"ed25519:1\",sig=\"s\"", "no '=value'");
    parse_fails("X-Matrix =a,origin=\"a\",key=\"ed25519:1\",sig=\"s\"", "parameter name");
    parse_fails("X-Matrix origin=\"a\x01\",key=\"ed25519:1\",sig=\"s\"", "control character");
    parse_fails("X-Matrix origin=\"a\\", "escape");
    char h[700], name[257];
    memset(name, 'a', 256);
    name[256] = '\0';
    snprintf(h, sizeof h, "X-Matrix origin=\"%s\",key=\"ed25519:1\",sig=\"s\"", name);
    parse_fails(h, "longer than 255");
}

/* ---- signing ---------------------------------------------------------------------------------- */

static void signs_like_signedjson(void **state)
{
    struct fixture f;
    fixture_init(&f, "remote.example", NULL);
    char h[512];
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_xmatrix_sign(&f.spec_key, "domain", "remote.example", "GET", "/_matrix/federation/v1/version",
                                      NULL, h, sizeof h, &err),
                     0);
    assert_string_equal(h, "X-Matrix origin=\"domain\",destination=\"remote.example\",key=\"ed25519:1\",sig=\"" SIG_GET "\"");
    json_t *content = json_pack("{s:s, s:I, s:[]}", "origin", "domain", "origin_server_ts", (json_int_t)1000000, "pdus");
    assert_int_equal(mxr_xmatrix_sign(&f.spec_key, "domain", "remote.example", "PUT", "/_matrix/federation/v1/send/1234",
                                      content, h, sizeof h, &err),
                     0);
    assert_non_null(strstr(h, "sig=\"" SIG_PUT "\""));
    json_decref(content);
    assert_int_equal(mxr_xmatrix_sign(&f.spec_key, "domain", "remote.example", "GET", "/x", NULL, h, 20, &err), -1);
    fixture_free(&f);
}

/* ---- verification ------------------------------------------------------------------------------ */

static void echo_origin(struct mxr_request *req, struct mxr_response *resp)
{
    mxr_resp_json(resp, 200, json_pack("{s:s}", "origin", req->origin));
}

static const struct mxr_route AUTH_ROUTES[] = {
    { "GET", "/t/auth/{x}", echo_origin, MXR_ROUTE_FEDERATION_AUTH },
    { "PUT", "/_matrix/federation/v1/send/{txnId}", echo_origin, MXR_ROUTE_FEDERATION_AUTH | MXR_ROUTE_BODY_JSON },
    { "POST", "/t/auth", echo_origin, MXR_ROUTE_FEDERATION_AUTH },
};

static struct fixture *new_fixture(const char *extra_yaml)
{
    struct fixture *f = malloc(sizeof *f);
    fixture_init(f, "remote.example", extra_yaml);
    /* First: the echo route for /send/{txnId} shadows the real /send. */
    fixture_routes_first(f, AUTH_ROUTES, sizeof AUTH_ROUTES / sizeof AUTH_ROUTES[0]);
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", FIXTURE_T0 + 3600 * 1000));
    return f;
}

static int setup(void **state)
{
    *state = new_fixture(NULL);
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

/* Calls the hook directly, as the dispatcher would for a GET. */
static int auth_get(struct fixture *f, const char *target, const char *header, struct mxr_err *err)
{
    struct mxr_request req = { 0 };
    req.srv = &f->srv;
    req.method = "GET";
    req.target = target;
    req.authorization = header;
    int rc = mxr_xmatrix_authenticate(&req, err);
    if (rc == 0)
        assert_string_equal(req.origin, "domain");
    else
        assert_string_equal(req.origin, "");
    return rc;
}

static void auth_fails(struct fixture *f, const char *target, const char *header, const char *errcode,
                       const char *needle)
{
    struct mxr_err err = { 0 };
    if (auth_get(f, target, header, &err) == 0)
        fail_msg("accepted: %s", header ? header : "(no header)");
    assert_string_equal(err.errcode, errcode);
    if (needle && !strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

#define VERSION "/_matrix/federation/v1/version"
#define H_GET "X-Matrix origin=\"domain\",destination=\"remote.example\",key=\"ed25519:1\",sig=\"" SIG_GET "\""

static void spec_vector_get(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    assert_int_equal(auth_get(f, VERSION, H_GET, &err), 0);
    assert_int_equal(f->fetches, 1);
    /* The key is cached: no second fetch. */
    assert_int_equal(auth_get(f, VERSION, H_GET, &err), 0);
    assert_int_equal(f->fetches, 1);
    /* Older senders leave destination out; they signed our name all the same. */
    assert_int_equal(auth_get(f, VERSION, "X-Matrix origin=domain,key=ed25519:1,sig=" SIG_GET, &err), 0);
    /* Padded base64 is accepted too. */
    assert_int_equal(auth_get(f, VERSION, "X-Matrix origin=domain,key=ed25519:1,sig=\"" SIG_GET "==\"", &err), 0);
}

static void spec_vector_put_through_dispatcher(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    char origin[256];
    const char *h = "X-Matrix origin=\"domain\",destination=\"remote.example\",key=\"ed25519:1\",sig=\"" SIG_PUT "\"";
    /* The signature covers the parsed body, not its bytes. */
    fixture_request(f, "PUT", "/_matrix/federation/v1/send/1234", h,
                    "{ \"pdus\" : [ ], \"origin_server_ts\": 1000000, \"origin\": \"domain\" }", &r, origin);
    assert_int_equal(r.status, 200);
    assert_string_equal(origin, "domain");
    assert_string_equal(json_string_value(json_object_get(r.json, "origin")), "domain");
    mxr_response_clear(&r);
    /* Another body, same header. */
    fixture_request(f, "PUT", "/_matrix/federation/v1/send/1234", h,
                    "{\"pdus\":[],\"origin_server_ts\":1000001,\"origin\":\"domain\"}", &r, origin);
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", "does not verify");
    assert_string_equal(origin, "");
    mxr_response_clear(&r);
    /* Another transaction ID (the signed uri). */
    fixture_request(f, "PUT", "/_matrix/federation/v1/send/1235", h,
                    "{\"pdus\":[],\"origin_server_ts\":1000000,\"origin\":\"domain\"}", &r, NULL);
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", "does not verify");
    mxr_response_clear(&r);
    /* No Authorization at all. */
    fixture_request(f, "PUT", "/_matrix/federation/v1/send/1234", NULL, "{}", &r, NULL);
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", "missing Authorization");
    mxr_response_clear(&r);
}

static void raw_target_is_signed(void **state)
{
    struct fixture *f = *state;
    char h[512];
    struct mxr_err err = { 0 };
    const char *target = "/t/auth/%24ev%2Fx+y?a=b+c&d=%2F";
    assert_int_equal(mxr_xmatrix_sign(&f->spec_key, "domain", "remote.example", "GET", target, NULL, h, sizeof h, &err),
                     0);
    struct mxr_response r;
    char origin[256];
    fixture_request(f, "GET", target, h, NULL, &r, origin);
    assert_int_equal(r.status, 200);
    assert_string_equal(origin, "domain");
    mxr_response_clear(&r);
    /* The same request with its target written differently is another request. */
    fixture_request(f, "GET", "/t/auth/$ev%2Fx+y?a=b+c&d=%2F", h, NULL, &r, NULL);
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", "does not verify");
    mxr_response_clear(&r);
    fixture_request(f, "GET", "/t/auth/%24ev%2Fx+y?a=b+c", h, NULL, &r, NULL);
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", NULL);
    mxr_response_clear(&r);
    /* A POST without a body signs no content. */
    assert_int_equal(mxr_xmatrix_sign(&f->spec_key, "domain", "remote.example", "POST", "/t/auth", NULL, h, sizeof h,
                                      &err),
                     0);
    fixture_request(f, "POST", "/t/auth", h, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/t/auth", h, "{}", &r, NULL);   /* content {} was not signed */
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", NULL);
    mxr_response_clear(&r);
}

static void wrong_request_fields(void **state)
{
    struct fixture *f = *state;
    auth_fails(f, VERSION "?x=1", H_GET, "M_UNAUTHORIZED", "does not verify");
    auth_fails(f, "/_matrix/federation/v1/Version", H_GET, "M_UNAUTHORIZED", "does not verify");
    auth_fails(f, VERSION, "X-Matrix origin=\"domain\",destination=\"other.example\",key=\"ed25519:1\",sig=\"" SIG_GET "\"",
               "M_UNAUTHORIZED", "destination 'other.example' is not this server");
    /* Valid signature bytes by another origin name. */
    auth_fails(f, VERSION, "X-Matrix origin=\"domain2\",destination=\"remote.example\",key=\"ed25519:1\",sig=\"" SIG_GET "\"",
               "M_UNAUTHORIZED", "cannot check");
    auth_fails(f, VERSION, "X-Matrix origin=\"domain\",key=\"ed25519:1\",sig=\"AAAA\"", "M_UNAUTHORIZED", "does not verify");
    auth_fails(f, VERSION, "X-Matrix origin=\"domain\",key=\"ed25519:1\",sig=\"!!\"", "M_UNAUTHORIZED", NULL);
    auth_fails(f, VERSION, "X-Matrix origin=\"dom ain\",key=\"ed25519:1\",sig=\"s\"", "M_UNAUTHORIZED", "origin");
    auth_fails(f, VERSION, "X-Matrix origin=\"domain\",key=\"rsa:1\",sig=\"s\"", "M_UNAUTHORIZED", "key");
    auth_fails(f, VERSION, NULL, "M_UNAUTHORIZED", "missing Authorization");
    auth_fails(f, VERSION, "Bearer secret", "M_UNAUTHORIZED", "X-Matrix");
}

static void unknown_key_refetches_once(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    assert_int_equal(auth_get(f, VERSION, H_GET, &err), 0);
    assert_int_equal(f->fetches, 1);
    const char *h2 = "X-Matrix origin=\"domain\",key=\"ed25519:2\",sig=\"" SIG_GET "\"";
    /* Within MXR_KEY_REFETCH_MIN_MS of the last fetch: the cached answer. */
    auth_fails(f, VERSION, h2, "M_UNAUTHORIZED", "publishes no key ed25519:2");
    assert_int_equal(f->fetches, 1);
    f->now += 11 * 1000;
    auth_fails(f, VERSION, h2, "M_UNAUTHORIZED", "publishes no key ed25519:2");
    assert_int_equal(f->fetches, 2);
    /* Not again right away... */
    auth_fails(f, VERSION, h2, "M_UNAUTHORIZED", "ed25519:2");
    assert_int_equal(f->fetches, 2);
    /* ...but after the pause, and a rotated key is then found. */
    f->now += 11 * 1000;
    struct mxr_signing_key k2;
    uint8_t seed[32] = { 7 };
    assert_int_equal(mxr_key_from_seed(&k2, seed, "2", &err), 0);
    json_t *resp = fixture_key_response(&k2, "domain", f->now + 3600 * 1000);
    fixture_serve_keys(f, "domain", resp);
    char h[512];
    assert_int_equal(mxr_xmatrix_sign(&k2, "domain", "remote.example", "GET", VERSION, NULL, h, sizeof h, &err), 0);
    assert_int_equal(auth_get(f, VERSION, h, &err), 0);
    assert_int_equal(f->fetches, 3);
}

static void expired_keys_are_refetched(void **state)
{
    struct fixture *f = *state;
    struct mxr_err err = { 0 };
    assert_int_equal(auth_get(f, VERSION, H_GET, &err), 0);
    f->now += 3600 * 1000 + 1;   /* past valid_until_ts; the origin still serves the old response */
    auth_fails(f, VERSION, H_GET, "M_UNAUTHORIZED", "expired");
    assert_int_equal(f->fetches, 2);
    fixture_serve_keys(f, "domain", fixture_key_response(&f->spec_key, "domain", f->now + 3600 * 1000));
    f->now += 11 * 1000;
    assert_int_equal(auth_get(f, VERSION, H_GET, &err), 0);
    assert_int_equal(f->fetches, 3);
}

static void unreachable_origin(void **state)
{
    struct fixture *f = *state;
    fixture_serve_keys(f, "domain", NULL);
    auth_fails(f, VERSION, H_GET, "M_UNAUTHORIZED", "unreachable");
}

static void denied_origin_is_forbidden(void **state)
{
    struct fixture *f = new_fixture("federation_deny: [\"DOM*\"]\n");
    auth_fails(f, VERSION, H_GET, "M_FORBIDDEN", "not allowed");
    assert_int_equal(f->fetches, 0);
    fixture_free(f);
    free(f);
    f = new_fixture("federation_allow: [\"*.example\"]\n");
    auth_fails(f, VERSION, H_GET, "M_FORBIDDEN", "not allowed");
    fixture_free(f);
    free(f);
}

static void our_own_key_needs_no_fetch(void **state)
{
    struct fixture *f = *state;
    char h[512];
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_xmatrix_sign(&f->srv.key, "remote.example", "remote.example", "GET", "/t/auth/1", NULL, h,
                                      sizeof h, &err),
                     0);
    struct mxr_response r;
    char origin[256];
    fixture_request(f, "GET", "/t/auth/1", h, NULL, &r, origin);
    assert_int_equal(r.status, 200);
    assert_string_equal(origin, "remote.example");
    assert_int_equal(f->fetches, 0);
    mxr_response_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_example_header),
        cmocka_unit_test(lenient_forms),
        cmocka_unit_test(malformed_headers),
        cmocka_unit_test(signs_like_signedjson),
        cmocka_unit_test_setup_teardown(spec_vector_get, setup, teardown),
        cmocka_unit_test_setup_teardown(spec_vector_put_through_dispatcher, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_target_is_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_request_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_key_refetches_once, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_keys_are_refetched, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_origin, setup, teardown),
        cmocka_unit_test(denied_origin_is_forbidden),
        cmocka_unit_test_setup_teardown(our_own_key_needs_no_fetch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
