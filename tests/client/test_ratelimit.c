/* relay/client/ratelimit.c: login, registration and message rate limits
 * (client-server API "Rate limiting": 429 M_LIMIT_EXCEEDED with
 * retry_after_ms), through the dispatcher with the fixture's clock — time
 * only moves when a test moves it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/config.h"
#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"

/* 60 per minute: one token a second, so a drained bucket asks for 1001 ms
 * (whole milliseconds, rounded up). */
#define LIMITS "ratelimit_login_per_minute: 60\nratelimit_login_burst: 3\n" \
               "ratelimit_registration_per_minute: 60\nratelimit_registration_burst: 2\n" \
               "ratelimit_message_per_minute: 60\nratelimit_message_burst: 4\n" \
               "registration_enabled: true\n"

/* One request from a given client address; returns the status. */
static int req_from(struct clfix *f, const char *remote, const char *method, const char *target, const char *token,
                    const char *body, json_t **out)
{
    struct mxr_request req = {0};
    struct mxr_response resp = {0};
    char auth[300];
    if (token)
        snprintf(auth, sizeof auth, "Bearer %s", token);
    req.srv = &f->srv;
    req.method = method;
    req.target = target;
    req.authorization = token ? auth : NULL;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.remote = remote;
    mxr_http_dispatch(&f->router, &req, &resp);
    mxr_request_clear(&req);
    int status = resp.status;
    *out = json_incref(resp.json);
    mxr_response_clear(&resp);
    return status;
}

/* Asserts a 429 M_LIMIT_EXCEEDED and returns its retry_after_ms. */
static int64_t expect_limited(struct clfix *f, const char *remote, const char *method, const char *target,
                              const char *token, const char *body)
{
    json_t *out = NULL;
    int st = req_from(f, remote, method, target, token, body, &out);
    char *dump = out ? json_dumps(out, JSON_COMPACT) : NULL;
    if (st != 429 || strcmp(json_string_value(json_object_get(out, "errcode")) ?: "", "M_LIMIT_EXCEEDED") ||
        !json_is_string(json_object_get(out, "error")) || !json_is_integer(json_object_get(out, "retry_after_ms")))
        fail_msg("%s %s from %s: expected 429 M_LIMIT_EXCEEDED with retry_after_ms, got %d %s", method, target,
                 remote, st, dump ? dump : "");
    int64_t ms = json_integer_value(json_object_get(out, "retry_after_ms"));
    free(dump);
    json_decref(out);
    return ms;
}

static int expect_status(struct clfix *f, const char *remote, int status, const char *method, const char *target,
                         const char *token, const char *body)
{
    json_t *out = NULL;
    int st = req_from(f, remote, method, target, token, body, &out);
    if (st != status) {
        char *dump = out ? json_dumps(out, JSON_COMPACT) : NULL;
        fail_msg("%s %s from %s: expected %d, got %d %s", method, target, remote, status, st, dump ? dump : "");
    }
    json_decref(out);
    return st;
}

static const char *login_body(const char *user, const char *pw)
{
    return clfix_fmt("{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"%s\"},"
                     "\"password\":\"%s\"}", user, pw);
}

static int setup(void **state)
{
    static struct clfix f;
    clfix_open(&f, LIMITS);
    struct mxr_err err = {0};
    char uid[256];
    assert_int_equal(mxr_client_create_account(f.srv.client, "alice", "pw-alice", false, uid, &err), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(*state);
    return 0;
}

/* login.yaml: 429. Every attempt counts (wrong passwords first of all), per
 * client address; the bucket refills at the configured rate. */
static void login_is_limited_per_address(void **state)
{
    struct clfix *f = *state;
    expect_status(f, "10.0.0.1", 403, "POST", V3 "/login", NULL, login_body("alice", "guess1"));
    expect_status(f, "10.0.0.1", 403, "POST", V3 "/login", NULL, login_body("alice", "guess2"));
    expect_status(f, "10.0.0.1", 200, "POST", V3 "/login", NULL, login_body("alice", "pw-alice"));
    /* burst of 3 spent: even the right password waits now */
    int64_t ms = expect_limited(f, "10.0.0.1", "POST", V3 "/login", NULL, login_body("alice", "pw-alice"));
    assert_int_equal(ms, 1001);
    /* another address has its own bucket */
    expect_status(f, "10.0.0.2", 200, "POST", V3 "/login", NULL, login_body("alice", "pw-alice"));
    /* not yet: 1000 ms in, the token is not whole */
    f->now += 999;
    ms = expect_limited(f, "10.0.0.1", "POST", V3 "/login", NULL, login_body("alice", "pw-alice"));
    assert_true(ms > 0 && ms <= 2);
    /* a 429 takes no token: after the wait one login goes through, then one more second */
    f->now += ms;
    expect_status(f, "10.0.0.1", 200, "POST", V3 "/login", NULL, login_body("alice", "pw-alice"));
    expect_limited(f, "10.0.0.1", "POST", V3 "/login", NULL, login_body("alice", "pw-alice"));
    /* a long pause refills the burst, no more */
    f->now += 3600 * 1000;
    for (int i = 0; i < 3; i++)
        expect_status(f, "10.0.0.1", 403, "POST", V3 "/login", NULL, login_body("alice", "nope"));
    expect_limited(f, "10.0.0.1", "POST", V3 "/login", NULL, login_body("alice", "nope"));
}

/* registration.yaml: 429. Counted per address on account creation: the
 * 401 answer that lists the flows is free. */
static void registration_is_limited_per_address(void **state)
{
    struct clfix *f = *state;
    for (int i = 0; i < 5; i++)
        expect_status(f, "10.1.0.1", 401, "POST", V3 "/register", NULL, "{\"username\":\"u0\",\"password\":\"p\"}");
    for (int i = 1; i <= 2; i++)
        expect_status(f, "10.1.0.1", 200, "POST", V3 "/register", NULL,
                      clfix_fmt("{\"username\":\"u%d\",\"password\":\"p\",\"auth\":{\"type\":\"m.login.dummy\"}}",
                                i));
    int64_t ms = expect_limited(f, "10.1.0.1", "POST", V3 "/register", NULL,
                                "{\"username\":\"u3\",\"password\":\"p\",\"auth\":{\"type\":\"m.login.dummy\"}}");
    assert_int_equal(ms, 1001);
    /* the refused name was not taken */
    expect_status(f, "10.1.0.1", 200, "GET", V3 "/register/available?username=u3", NULL, NULL);
    expect_status(f, "10.1.0.9", 200, "POST", V3 "/register", NULL,
                  "{\"username\":\"u3\",\"password\":\"p\",\"auth\":{\"type\":\"m.login.dummy\"}}");
    f->now += ms;
    expect_status(f, "10.1.0.1", 200, "POST", V3 "/register", NULL,
                  "{\"username\":\"u4\",\"password\":\"p\",\"auth\":{\"type\":\"m.login.dummy\"}}");
}

/* The token of a new login from a fresh address (not to spend alice's
 * login bucket of the other tests). */
static void login_as(struct clfix *f, const char *remote, const char *user, const char *pw, char token[128])
{
    json_t *out = NULL;
    assert_int_equal(req_from(f, remote, "POST", V3 "/login", NULL, login_body(user, pw), &out), 200);
    snprintf(token, 128, "%s", json_string_value(json_object_get(out, "access_token")));
    json_decref(out);
}

/* room_send.yaml: 429. Per user, whatever the address; a retried
 * transaction ID is answered from the record, not counted; server admins are
 * not limited. */
static void messages_are_limited_per_user(void **state)
{
    struct clfix *f = *state;
    struct mxr_err err = {0};
    char uid[256], bob[128], root[128], bob2[128];
    assert_int_equal(mxr_client_create_account(f->srv.client, "bob", "pw-bob", false, uid, &err), 0);
    assert_int_equal(mxr_client_create_account(f->srv.client, "root", "pw-root", true, uid, &err), 0);
    login_as(f, "10.2.0.1", "bob", "pw-bob", bob);
    login_as(f, "10.2.0.2", "bob", "pw-bob", bob2);
    login_as(f, "10.2.0.3", "root", "pw-root", root);
    json_t *out = NULL;
    assert_int_equal(req_from(f, "10.2.0.1", "POST", V3 "/createRoom", bob, "{\"preset\":\"public_chat\"}", &out),
                     200);
    char room[256];
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(out, "room_id")));
    json_decref(out);
    expect_status(f, "10.2.0.3", 200, "POST", clfix_fmt(V3 "/join/%s", room), root, "{}");

    const char *msg = "{\"msgtype\":\"m.text\",\"body\":\"hi\"}";
    for (int i = 0; i < 4; i++)
        expect_status(f, "10.2.0.1", 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/b%d", room, i), bob,
                      msg);
    int64_t ms = expect_limited(f, "10.2.0.1", "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/b4", room), bob,
                                msg);
    assert_int_equal(ms, 1001);
    /* the same user on another device and address: the same bucket */
    expect_limited(f, "10.2.0.2", "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/c0", room), bob2, msg);
    /* a retry of a sent transaction is not a new message */
    json_t *again = NULL;
    assert_int_equal(req_from(f, "10.2.0.1", "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/b0", room), bob,
                              msg, &again), 200);
    assert_non_null(json_string_value(json_object_get(again, "event_id")));
    json_decref(again);
    /* state events are not messages */
    expect_status(f, "10.2.0.1", 200, "PUT", clfix_fmt(V3 "/rooms/%s/state/m.room.topic", room), bob,
                  "{\"topic\":\"t\"}");
    /* an admin is never limited */
    for (int i = 0; i < 10; i++)
        expect_status(f, "10.2.0.3", 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/r%d", room, i), root,
                      msg);
    f->now += ms;
    expect_status(f, "10.2.0.1", 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/b4", room), bob, msg);
}

/* per_minute 0 turns a limit off. */
static void zero_turns_limits_off(void **state)
{
    (void)state;
    struct clfix f;
    clfix_open(&f, "ratelimit_login_per_minute: 0\nratelimit_login_burst: 1\n");
    struct mxr_err err = {0};
    char uid[256];
    assert_int_equal(mxr_client_create_account(f.srv.client, "zed", "pw-zed", false, uid, &err), 0);
    for (int i = 0; i < 50; i++)
        expect_status(&f, "10.3.0.1", 403, "POST", V3 "/login", NULL, login_body("zed", "wrong"));
    clfix_close(&f);
}

/* The options are documented in the generated configuration, and checked. */
static void options_are_declared(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    char *text = mxr_config_generate("example.org", "./data", &err);
    assert_non_null(text);
    const char *names[] = {"ratelimit_login_per_minute", "ratelimit_login_burst",
                           "ratelimit_registration_per_minute", "ratelimit_registration_burst",
                           "ratelimit_message_per_minute", "ratelimit_message_burst"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(text, names[i]))
            fail_msg("generate-config does not document %s", names[i]);
    free(text);
    struct mxr_config cfg;
    const char *bad = "server_name: a.test\nratelimit_message_burst: 0\n";
    assert_int_equal(mxr_config_load_string(&cfg, bad, strlen(bad), "t", &err), -1);
    assert_non_null(strstr(err.msg, "ratelimit_message_burst"));
    const char *good = "server_name: a.test\n";
    assert_int_equal(mxr_config_load_string(&cfg, good, strlen(good), "t", &err), 0);
    assert_int_equal(cfg.ratelimit_message_per_minute, 600);
    assert_int_equal(cfg.ratelimit_login_burst, 10);
    mxr_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(login_is_limited_per_address),
        cmocka_unit_test(registration_is_limited_per_address),
        cmocka_unit_test(messages_are_limited_per_user),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(zero_turns_limits_off),
        cmocka_unit_test(options_are_declared),
    };
    int rc = cmocka_run_group_tests_name("client rate limits", tests, setup, teardown);
    return rc | cmocka_run_group_tests_name("client rate limit options", alone, NULL, NULL);
}
