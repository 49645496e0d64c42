/* relay/http: route matching (router.c), the dispatcher (dispatch.c) and
 * Matrix error bodies (response.c), without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"
#include "relay/http/http.h"

/* ---- mxr_route_match ------------------------------------------------------------------- */

static int match(const char *pattern, const char *path, struct mxr_kv params[MXR_HTTP_MAX_PARAMS], size_t *n)
{
    struct mxr_err err = { 0 };
    return mxr_route_match(pattern, path, params, n, &err);
}

static void free_kv(struct mxr_kv *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
}

static void literal_paths(void **state)
{
    struct mxr_kv p[MXR_HTTP_MAX_PARAMS];
    size_t n = 99;
    assert_int_equal(match("/_matrix/key/v2/server", "/_matrix/key/v2/server", p, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(match("/_matrix/key/v2/server", "/_matrix/key/v2/server/", p, &n), 0);
    assert_int_equal(match("/_matrix/key/v2/server", "/_matrix/key/v2/serve", p, &n), 0);
    assert_int_equal(match("/_matrix/key/v2/server", "/_matrix/key/v2/server/x", p, &n), 0);
    assert_int_equal(match("/_matrix/key/v2/server", "/_matrix/key/v2", p, &n), 0);
    assert_int_equal(match("/_matrix/key/v2/server", "//_matrix/key/v2/server", p, &n), 0);
    /* Literal segments compare as sent: an encoded letter is another path. */
    assert_int_equal(match("/_matrix/key/v2/server", "/_matrix/key/v2/%73erver", p, &n), 0);
    assert_int_equal(match("/", "/", p, &n), 1);
}

static void params_are_decoded_per_segment(void **state)
{
    struct mxr_kv p[MXR_HTTP_MAX_PARAMS];
    size_t n = 0;
    assert_int_equal(match("/_matrix/federation/v1/event/{eventId}", "/_matrix/federation/v1/event/%24abc%2Fdef+g%3D",
                           p, &n),
                     1);
    assert_int_equal(n, 1);
    assert_string_equal(p[0].name, "eventId");
    /* %2F stays inside the parameter, '+' is not a space in a path. */
    assert_string_equal(p[0].value, "$abc/def+g=");
    free_kv(p, n);

    assert_int_equal(match("/_matrix/federation/v1/state_ids/{roomId}/{x}", "/_matrix/federation/v1/state_ids/!r:h%3A1/y",
                           p, &n),
                     1);
    assert_int_equal(n, 2);
    assert_string_equal(p[0].value, "!r:h:1");
    assert_string_equal(p[1].name, "x");
    assert_string_equal(p[1].value, "y");
    free_kv(p, n);

    /* Parameters are never empty; unencoded '/' splits segments. */
    assert_int_equal(match("/a/{x}", "/a/", p, &n), 0);
    assert_int_equal(match("/a/{x}", "/a/b/c", p, &n), 0);
    assert_int_equal(match("/a/{x}/b", "/a/1/c", p, &n), 0);
}

static void bad_encoding_in_params(void **state)
{
    struct mxr_kv p[MXR_HTTP_MAX_PARAMS];
    size_t n = 0;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_route_match("/a/{x}", "/a/%zz", p, &n, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_route_match("/a/{x}", "/a/%4", p, &n, &err), -1);
    assert_int_equal(mxr_route_match("/a/{x}", "/a/a%00b", p, &n, &err), -1);
    assert_int_equal(n, 0);
}

static void decode_form_and_path(void **state)
{
    char *s = mxr_http_decode("a+b%20c%2B", 10, true);
    assert_string_equal(s, "a b c+");
    free(s);
    s = mxr_http_decode("a+b", 3, false);
    assert_string_equal(s, "a+b");
    free(s);
    assert_null(mxr_http_decode("%G0", 3, false));
    assert_null(mxr_http_decode("%", 1, false));
}

/* ---- the dispatcher ---------------------------------------------------------------------- */

static void echo(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *params = json_object(), *query = json_array();
    for (size_t i = 0; i < req->n_params; i++)
        json_object_set_new(params, req->params[i].name, json_string(req->params[i].value));
    for (size_t i = 0; i < req->n_query; i++)
        json_array_append_new(query, json_pack("[s,s]", req->query[i].name, req->query[i].value));
    mxr_resp_json(resp, 200, json_pack("{s:o, s:o, s:O?, s:s}", "params", params, "query", query, "json", req->json,
                                       "route", req->route->pattern));
}

static void silent(struct mxr_request *req, struct mxr_response *resp)
{
}

static const struct mxr_route TEST_ROUTES[] = {
    { "GET", "/t/echo/{a}/{b}", echo, 0 },
    { "PUT", "/t/echo/{a}/{b}", echo, MXR_ROUTE_BODY_JSON },
    { "POST", "/t/json", echo, MXR_ROUTE_BODY_JSON },
    { "GET", "/t/silent", silent, 0 },
    { "GET", "/t/client", echo, MXR_ROUTE_CLIENT_AUTH },
};

static int setup(void **state)
{
    struct fixture *f = malloc(sizeof *f);
    fixture_init(f, "hs.test", NULL);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_router_add(&f->router, TEST_ROUTES, sizeof TEST_ROUTES / sizeof TEST_ROUTES[0], &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

static void routes_params_and_query(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/t/echo/x%2Fy/%21z?a=1&b=two+words&a=%26&flag&=v&&", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    char *got = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got, "{\"json\":null,\"params\":{\"a\":\"x/y\",\"b\":\"!z\"},"
                             "\"query\":[[\"a\",\"1\"],[\"b\",\"two words\"],[\"a\",\"&\"],[\"flag\",\"\"],[\"\",\"v\"]],"
                             "\"route\":\"/t/echo/{a}/{b}\"}");
    free(got);
    mxr_response_clear(&r);
    /* HEAD is served by the GET route. */
    fixture_request(f, "HEAD", "/t/echo/1/2", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    mxr_response_clear(&r);
}

static void unknown_path_and_wrong_method(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/_matrix/federation/v1/nothing_here", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 404, "M_UNRECOGNIZED", "/_matrix/federation/v1/nothing_here");
    mxr_response_clear(&r);
    fixture_request(f, "DELETE", "/t/echo/1/2", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 405, "M_UNRECOGNIZED", "DELETE");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/_matrix/federation/v1/version", NULL, "{}", &r, NULL);
    assert_matrix_error(&r, 405, "M_UNRECOGNIZED", NULL);
    mxr_response_clear(&r);
    fixture_request(f, "GET", "/t/echo/%zz/1", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 400, "M_INVALID_PARAM", "percent-encoding");
    mxr_response_clear(&r);
    fixture_request(f, "GET", "/t/echo/1/2?x=%", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 400, "M_INVALID_PARAM", "query parameter");
    mxr_response_clear(&r);
    fixture_request(f, "GET", "*", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 400, "M_UNRECOGNIZED", NULL);
    mxr_response_clear(&r);
}

static void options_preflight(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "OPTIONS", "/_matrix/anything/at/all", NULL, NULL, &r, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_object(r.json));
    assert_int_equal(json_object_size(r.json), 0);
    mxr_response_clear(&r);
}

static void json_bodies(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "POST", "/t/json", NULL, "{\"a\": [1, \"\\u00e9\"]}", &r, NULL);
    assert_int_equal(r.status, 200);
    json_t *echoed = json_object_get(r.json, "json");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(echoed, "a"), 0)), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(echoed, "a"), 1)), "\xc3\xa9");
    mxr_response_clear(&r);

    fixture_request(f, "POST", "/t/json", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 400, "M_NOT_JSON", "JSON object");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/t/json", NULL, "{\"a\":", &r, NULL);
    assert_matrix_error(&r, 400, "M_NOT_JSON", "request body");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/t/json", NULL, "{} trailing", &r, NULL);
    assert_int_equal(r.status, 400);
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/t/json", NULL, "[1,2]", &r, NULL);
    assert_matrix_error(&r, 400, "M_NOT_JSON", "must be a JSON object");
    mxr_response_clear(&r);
    fixture_request(f, "POST", "/t/json", NULL, "{\"a\":\"\xff\"}", &r, NULL);
    assert_int_equal(r.status, 400);
    mxr_response_clear(&r);
    /* Floats are legal in request bodies (events of room versions 1-5). */
    fixture_request(f, "PUT", "/t/echo/1/2", NULL, "{\"f\": 1.5}", &r, NULL);
    assert_int_equal(r.status, 200);
    mxr_response_clear(&r);
}

static void body_size_limit(void **state)
{
    struct fixture *f = *state;   /* max_request_bytes: 4096 */
    char *big = malloc(5000);
    memset(big, ' ', 4999);
    big[0] = '{';
    big[4997] = '}';
    big[4998] = '\0';
    struct mxr_response r;
    fixture_request(f, "POST", "/t/json", NULL, big, &r, NULL);
    assert_matrix_error(&r, 413, "M_TOO_LARGE", "4096");
    mxr_response_clear(&r);
    big[4096] = '\0';
    big[4095] = '}';
    fixture_request(f, "POST", "/t/json", NULL, big, &r, NULL);
    assert_int_equal(r.status, 200);
    mxr_response_clear(&r);
    free(big);
}

static void handler_without_response_is_500(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/t/silent", NULL, NULL, &r, NULL);
    assert_matrix_error(&r, 500, "M_UNKNOWN", "/t/silent");
    mxr_response_clear(&r);
}

static void client_auth_not_available_yet(void **state)
{
    struct fixture *f = *state;
    struct mxr_response r;
    fixture_request(f, "GET", "/t/client", "Bearer abc", NULL, &r, NULL);
    assert_matrix_error(&r, 401, "M_MISSING_TOKEN", NULL);
    mxr_response_clear(&r);
}

/* ---- responses ----------------------------------------------------------------------------- */

static void error_bodies_and_statuses(void **state)
{
    struct mxr_response r = { 0 };
    assert_int_equal(mxr_resp_error(&r, 403, "M_FORBIDDEN", "no %s", "way"), -1);
    size_t len;
    char *body = mxr_resp_body(&r, &len);
    assert_string_equal(body, "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"no way\"}");
    assert_int_equal(len, strlen(body));
    free(body);
    assert_string_equal(r.errcode, "M_FORBIDDEN");

    /* Messages that are not UTF-8 still give a valid error body. */
    mxr_resp_error(&r, 400, "M_BAD_JSON", "bad byte \xff");
    assert_matrix_error(&r, 400, "M_BAD_JSON", NULL);

    struct mxr_err err = { 0 };
    mxr_err_set(&err, "M_UNAUTHORIZED", "bad signature");
    mxr_resp_err(&r, &err);
    assert_matrix_error(&r, 401, "M_UNAUTHORIZED", "bad signature");
    mxr_response_clear(&r);
    assert_null(r.json);
    assert_int_equal(r.status, 0);

    /* No body at all serialises as {}. */
    body = mxr_resp_body(&r, &len);
    assert_string_equal(body, "{}");
    free(body);

    assert_int_equal(mxr_http_status_for("M_FORBIDDEN"), 403);
    assert_int_equal(mxr_http_status_for("M_UNAUTHORIZED"), 401);
    assert_int_equal(mxr_http_status_for("M_NOT_FOUND"), 404);
    assert_int_equal(mxr_http_status_for("M_TOO_LARGE"), 413);
    assert_int_equal(mxr_http_status_for("M_LIMIT_EXCEEDED"), 429);
    assert_int_equal(mxr_http_status_for("M_BAD_JSON"), 400);
    assert_int_equal(mxr_http_status_for("M_NOT_JSON"), 400);
    assert_int_equal(mxr_http_status_for("M_INVALID_PARAM"), 400);
    assert_int_equal(mxr_http_status_for("M_UNKNOWN"), 500);
    assert_int_equal(mxr_http_status_for(NULL), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_paths),
        cmocka_unit_test(params_are_decoded_per_segment),
        cmocka_unit_test(bad_encoding_in_params),
        cmocka_unit_test(decode_form_and_path),
        cmocka_unit_test_setup_teardown(routes_params_and_query, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_path_and_wrong_method, setup, teardown),
        cmocka_unit_test_setup_teardown(options_preflight, setup, teardown),
        cmocka_unit_test_setup_teardown(json_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(body_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(handler_without_response_is_500, setup, teardown),
        cmocka_unit_test_setup_teardown(client_auth_not_available_yet, setup, teardown),
        cmocka_unit_test(error_bodies_and_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
