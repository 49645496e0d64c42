/* relay/client: discovery, registration (user-interactive auth), login,
 * access tokens, logout, devices, password changes, shared-secret
 * registration refusals. Requests go through the real dispatcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define R0 "/_matrix/client/r0"

static int setup_closed(void **state)
{
    static struct clfix f;
    clfix_open(&f, NULL);
    *state = &f;
    return 0;
}

static int setup_open(void **state)
{
    static struct clfix f;
    clfix_open(&f, "registration_enabled: true\nregistration_shared_secret: \"s3cret\"\n"
                   "public_baseurl: \"https://matrix.hs.test/\"\n");
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(*state);
    return 0;
}

static bool array_has(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

static void versions_and_discovery(void **state)
{
    struct clfix *f = *state;
    json_t *b = clfix_ok(f, 200, "GET", "/_matrix/client/versions", NULL, NULL);
    json_t *v = json_object_get(b, "versions");
    assert_true(array_has(v, "v1.1") && array_has(v, "v1.5") && array_has(v, "r0.6.1"));
    /* v1.11 would send clients to authenticated media, which is not served */
    assert_false(array_has(v, "v1.11"));
    assert_true(json_is_object(json_object_get(b, "unstable_features")));
    json_decref(b);

    b = clfix_ok(f, 200, "GET", "/.well-known/matrix/client", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "m.homeserver"), "base_url")),
                        "https://hs.test");
    json_decref(b);

    for (int i = 0; i < 2; i++) {
        b = clfix_ok(f, 200, "GET", i ? R0 "/login" : V3 "/login", NULL, NULL);
        json_t *flows = json_object_get(b, "flows");
        assert_int_equal(json_array_size(flows), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(flows, 0), "type")), "m.login.password");
        json_decref(b);
    }
}

static void capabilities_need_a_token(void **state)
{
    struct clfix *f = *state;
    clfix_error(f, 401, "M_MISSING_TOKEN", "GET", V3 "/capabilities", NULL, NULL);
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/capabilities", "mxr_nosuchtoken", NULL);
    char tok[128];
    clfix_user(f, "cap", tok, NULL);
    json_t *b = clfix_ok(f, 200, "GET", V3 "/capabilities", tok, NULL);
    json_t *caps = json_object_get(b, "capabilities");
    assert_true(json_is_true(json_object_get(json_object_get(caps, "m.change_password"), "enabled")));
    json_t *rv = json_object_get(caps, "m.room_versions");
    assert_string_equal(json_string_value(json_object_get(rv, "default")), "11");
    json_t *avail = json_object_get(rv, "available");
    assert_int_equal(json_object_size(avail), 12);
    for (int i = 1; i <= 12; i++)
        assert_string_equal(json_string_value(json_object_get(avail, clfix_fmt("%d", i))), "stable");
    json_decref(b);
    /* the legacy query parameter, and the r0 prefix */
    b = clfix_ok(f, 200, "GET", clfix_fmt(R0 "/account/whoami?access_token=%s", tok), NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "user_id")), "@cap:hs.test");
    json_decref(b);
}

static void registration_is_off_by_default(void **state)
{
    struct clfix *f = *state;
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/register", NULL,
                "{\"username\":\"eve\",\"password\":\"x\",\"auth\":{\"type\":\"m.login.dummy\"}}");
    /* and the shared-secret API without a secret */
    clfix_error(f, 400, "M_UNKNOWN", "GET", "/_synapse/admin/v1/register", NULL, NULL);
}

static void register_with_dummy_auth(void **state)
{
    struct clfix *f = *state;
    const char *req = "{\"username\":\"alice\",\"password\":\"wonderland\",\"initial_device_display_name\":\"laptop\"}";
    /* Stage 0: no auth -> 401 with the flows and a session (UIA). */
    json_t *b = clfix_ok(f, 401, "POST", V3 "/register", NULL, req);
    json_t *flows = json_object_get(b, "flows");
    assert_int_equal(json_array_size(flows), 1);
    json_t *stages = json_object_get(json_array_get(flows, 0), "stages");
    assert_int_equal(json_array_size(stages), 1);
    assert_string_equal(json_string_value(json_array_get(stages, 0)), "m.login.dummy");
    assert_true(json_is_object(json_object_get(b, "params")));
    const char *session = json_string_value(json_object_get(b, "session"));
    assert_non_null(session);
    assert_null(json_object_get(b, "errcode"));
    char body[512];
    snprintf(body, sizeof body,
             "{\"username\":\"alice\",\"password\":\"wonderland\",\"initial_device_display_name\":\"laptop\","
             "\"auth\":{\"type\":\"m.login.dummy\",\"session\":\"%s\"}}", session);
    json_decref(b);
    b = clfix_ok(f, 200, "POST", V3 "/register", NULL, body);
    assert_string_equal(json_string_value(json_object_get(b, "user_id")), "@alice:hs.test");
    const char *tok = json_string_value(json_object_get(b, "access_token"));
    assert_non_null(tok);
    assert_int_equal(strncmp(tok, "mxr_", 4), 0);
    assert_int_equal(strlen(tok), 4 + 43);
    const char *dev = json_string_value(json_object_get(b, "device_id"));
    assert_non_null(dev);
    json_t *who = clfix_ok(f, 200, "GET", V3 "/account/whoami", tok, NULL);
    assert_string_equal(json_string_value(json_object_get(who, "user_id")), "@alice:hs.test");
    assert_string_equal(json_string_value(json_object_get(who, "device_id")), dev);
    assert_true(json_is_false(json_object_get(who, "is_guest")));
    json_decref(who);
    json_t *d = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/devices/%s", dev), tok, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "display_name")), "laptop");
    json_decref(d);
    /* a new user's display name is the localpart */
    d = clfix_ok(f, 200, "GET", V3 "/profile/@alice:hs.test/displayname", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "displayname")), "alice");
    json_decref(d);
    json_decref(b);

    /* Taken, invalid, guest, and a direct request carrying dummy auth. */
    clfix_error(f, 400, "M_USER_IN_USE", "POST", V3 "/register", NULL, "{\"username\":\"alice\",\"password\":\"x\"}");
    clfix_error(f, 400, "M_INVALID_USERNAME", "POST", V3 "/register", NULL, "{\"username\":\"Al ice\",\"password\":\"x\"}");
    clfix_error(f, 403, "M_GUEST_ACCESS_FORBIDDEN", "POST", V3 "/register?kind=guest", NULL, "{}");
    b = clfix_ok(f, 200, "POST", R0 "/register", NULL,
                 "{\"username\":\"bob\",\"password\":\"builder\",\"inhibit_login\":true,\"auth\":{\"type\":\"m.login.dummy\"}}");
    assert_string_equal(json_string_value(json_object_get(b, "user_id")), "@bob:hs.test");
    assert_null(json_object_get(b, "access_token"));
    assert_null(json_object_get(b, "device_id"));
    json_decref(b);

    b = clfix_ok(f, 200, "GET", V3 "/register/available?username=carol", NULL, NULL);
    assert_true(json_is_true(json_object_get(b, "available")));
    json_decref(b);
    clfix_error(f, 400, "M_USER_IN_USE", "GET", V3 "/register/available?username=bob", NULL, NULL);
    clfix_error(f, 400, "M_INVALID_USERNAME", "GET", V3 "/register/available?username=B%21", NULL, NULL);

    b = clfix_ok(f, 200, "GET", "/.well-known/matrix/client", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "m.homeserver"), "base_url")),
                        "https://matrix.hs.test");
    json_decref(b);
}

static const char *login_body(const char *user, const char *pw, const char *device)
{
    if (device)
        return clfix_fmt("{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"%s\"},"
                         "\"password\":\"%s\",\"device_id\":\"%s\"}", user, pw, device);
    return clfix_fmt("{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"%s\"},"
                     "\"password\":\"%s\"}", user, pw);
}

static void login_and_tokens(void **state)
{
    struct clfix *f = *state;
    clfix_user(f, "dave", NULL, NULL);
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/login", NULL, login_body("dave", "wrong", NULL));
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/login", NULL, login_body("nobody", "pw-dave", NULL));
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/login", NULL, login_body("@dave:other.test", "pw-dave", NULL));
    clfix_error(f, 400, "M_UNKNOWN", "POST", V3 "/login", NULL, "{\"type\":\"m.login.token\",\"token\":\"x\"}");
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/login", NULL,
                "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.thirdparty\",\"medium\":\"email\","
                "\"address\":\"d@x\"},\"password\":\"pw-dave\"}");

    /* full user ID, upper-case localpart, and the deprecated `user` field */
    json_t *a = clfix_ok(f, 200, "POST", V3 "/login", NULL, login_body("@DAVE:hs.test", "pw-dave", "PHONE"));
    assert_string_equal(json_string_value(json_object_get(a, "user_id")), "@dave:hs.test");
    assert_string_equal(json_string_value(json_object_get(a, "device_id")), "PHONE");
    assert_string_equal(json_string_value(json_object_get(a, "home_server")), "hs.test");
    assert_non_null(json_object_get(json_object_get(a, "well_known"), "m.homeserver"));
    json_t *b = clfix_ok(f, 200, "POST", R0 "/login", NULL,
                         "{\"type\":\"m.login.password\",\"user\":\"dave\",\"password\":\"pw-dave\"}");
    const char *ta = json_string_value(json_object_get(a, "access_token"));
    const char *tb = json_string_value(json_object_get(b, "access_token"));
    assert_string_not_equal(ta, tb);
    json_decref(clfix_ok(f, 200, "GET", V3 "/account/whoami", ta, NULL));

    /* Logging in again on the same device revokes its previous token. */
    json_t *a2 = clfix_ok(f, 200, "POST", V3 "/login", NULL, login_body("dave", "pw-dave", "PHONE"));
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/account/whoami", ta, NULL);
    const char *ta2 = json_string_value(json_object_get(a2, "access_token"));
    json_decref(clfix_ok(f, 200, "GET", V3 "/account/whoami", ta2, NULL));

    /* logout: the token and its device are gone */
    json_t *out = clfix_ok(f, 200, "POST", V3 "/logout", ta2, NULL);
    assert_int_equal(json_object_size(out), 0);   /* matrix-nio: exactly {} */
    json_decref(out);
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/account/whoami", ta2, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/devices/PHONE", tb, NULL);

    /* logout/all: every token */
    json_t *c = clfix_ok(f, 200, "POST", V3 "/login", NULL, login_body("dave", "pw-dave", NULL));
    const char *tc = json_string_value(json_object_get(c, "access_token"));
    json_decref(clfix_ok(f, 200, "POST", V3 "/logout/all", tb, NULL));
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/account/whoami", tb, NULL);
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/account/whoami", tc, NULL);
    json_decref(a);
    json_decref(a2);
    json_decref(b);
    json_decref(c);
}

static void tokens_survive_a_restart(void **state)
{
    struct clfix *f = *state;
    char tok[128];
    clfix_user(f, "erin", tok, NULL);
    clfix_restart(f);
    json_t *b = clfix_ok(f, 200, "GET", V3 "/account/whoami", tok, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "user_id")), "@erin:hs.test");
    json_decref(b);
}

static void devices_and_uia_password(void **state)
{
    struct clfix *f = *state;
    char t1[128], d1[160];
    clfix_user(f, "frank", t1, d1);
    json_t *l = clfix_ok(f, 200, "POST", V3 "/login", NULL, login_body("frank", "pw-frank", NULL));
    const char *t2 = json_string_value(json_object_get(l, "access_token"));
    const char *d2 = json_string_value(json_object_get(l, "device_id"));

    json_t *b = clfix_ok(f, 200, "GET", V3 "/devices", t1, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "devices")), 2);
    json_decref(b);
    json_decref(clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/devices/%s", d2), t1, "{\"display_name\":\"tablet\"}"));
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/devices/%s", d2), t1, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "device_id")), d2);
    assert_string_equal(json_string_value(json_object_get(b, "display_name")), "tablet");
    json_decref(b);
    clfix_error(f, 404, "M_NOT_FOUND", "PUT", V3 "/devices/NOSUCH", t1, "{\"display_name\":\"x\"}");
    clfix_error(f, 404, "M_NOT_FOUND", "GET", V3 "/devices/NOSUCH", t1, NULL);

    /* DELETE: 401 with the password flow, then a wrong, then the right password */
    const char *target = clfix_fmt(V3 "/devices/%s", d2);
    b = clfix_ok(f, 401, "DELETE", target, t1, "{}");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_array_get(json_object_get(b, "flows"), 0), "stages"), 0)),
                        "m.login.password");
    const char *session = json_string_value(json_object_get(b, "session"));
    assert_non_null(session);
    json_t *bad = clfix_ok(f, 401, "DELETE", target, t1,
                           clfix_fmt("{\"auth\":{\"type\":\"m.login.password\",\"session\":\"%s\",\"identifier\":"
                                     "{\"type\":\"m.id.user\",\"user\":\"frank\"},\"password\":\"nope\"}}", session));
    assert_string_equal(json_string_value(json_object_get(bad, "errcode")), "M_FORBIDDEN");
    assert_non_null(json_object_get(bad, "flows"));
    json_decref(bad);
    /* another user's password does not authenticate frank */
    clfix_user(f, "grace", NULL, NULL);
    bad = clfix_ok(f, 401, "DELETE", target, t1,
                   "{\"auth\":{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"grace\"},"
                   "\"password\":\"pw-grace\"}}");
    json_decref(bad);
    json_decref(clfix_ok(f, 200, "DELETE", target, t1,
                         clfix_fmt("{\"auth\":{\"type\":\"m.login.password\",\"session\":\"%s\",\"identifier\":"
                                   "{\"type\":\"m.id.user\",\"user\":\"frank\"},\"password\":\"pw-frank\"}}", session)));
    json_decref(b);
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/account/whoami", t2, NULL);
    b = clfix_ok(f, 200, "GET", V3 "/devices", t1, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "devices")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(b, "devices"), 0), "device_id")), d1);
    json_decref(b);
    json_decref(l);
}

static void change_password(void **state)
{
    struct clfix *f = *state;
    char t1[128];
    clfix_user(f, "heidi", t1, NULL);
    json_t *l = clfix_ok(f, 200, "POST", V3 "/login", NULL, login_body("heidi", "pw-heidi", NULL));
    const char *t2 = json_string_value(json_object_get(l, "access_token"));
    json_decref(clfix_ok(f, 401, "POST", V3 "/account/password", t1, "{\"new_password\":\"n3w\"}"));
    json_decref(clfix_ok(f, 200, "POST", V3 "/account/password", t1,
                         "{\"new_password\":\"n3w\",\"auth\":{\"type\":\"m.login.password\",\"identifier\":"
                         "{\"type\":\"m.id.user\",\"user\":\"@heidi:hs.test\"},\"password\":\"pw-heidi\"}}"));
    /* the requesting device keeps its token, the others are logged out */
    json_decref(clfix_ok(f, 200, "GET", V3 "/account/whoami", t1, NULL));
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/account/whoami", t2, NULL);
    clfix_error(f, 403, "M_FORBIDDEN", "POST", V3 "/login", NULL, login_body("heidi", "pw-heidi", NULL));
    json_decref(clfix_ok(f, 200, "POST", V3 "/login", NULL, login_body("heidi", "n3w", NULL)));
    json_decref(l);
}

static void shared_secret_refusals(void **state)
{
    struct clfix *f = *state;
    json_t *n = clfix_ok(f, 200, "GET", "/_synapse/admin/v1/register", NULL, NULL);
    const char *nonce = json_string_value(json_object_get(n, "nonce"));
    assert_non_null(nonce);
    clfix_error(f, 403, "M_FORBIDDEN", "POST", "/_synapse/admin/v1/register", NULL,
                clfix_fmt("{\"nonce\":\"%s\",\"username\":\"ivan\",\"password\":\"p\",\"admin\":false,"
                          "\"mac\":\"0000000000000000000000000000000000000000\"}", nonce));
    /* a nonce is good for one attempt */
    clfix_error(f, 400, "M_UNKNOWN", "POST", "/_synapse/admin/v1/register", NULL,
                clfix_fmt("{\"nonce\":\"%s\",\"username\":\"ivan\",\"password\":\"p\",\"admin\":false,"
                          "\"mac\":\"0000000000000000000000000000000000000000\"}", nonce));
    json_decref(n);
}

int main(void)
{
    const struct CMUnitTest closed[] = {
        cmocka_unit_test(versions_and_discovery),
        cmocka_unit_test(capabilities_need_a_token),
        cmocka_unit_test(registration_is_off_by_default),
        cmocka_unit_test(login_and_tokens),
        cmocka_unit_test(tokens_survive_a_restart),
        cmocka_unit_test(devices_and_uia_password),
        cmocka_unit_test(change_password),
    };
    const struct CMUnitTest open[] = {
        cmocka_unit_test(register_with_dummy_auth),
        cmocka_unit_test(shared_secret_refusals),
    };
    int rc = cmocka_run_group_tests_name("accounts (registration off)", closed, setup_closed, teardown);
    return rc | cmocka_run_group_tests_name("accounts (registration on)", open, setup_open, teardown);
}
