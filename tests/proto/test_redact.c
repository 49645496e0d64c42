/* proto/redact.c against the spec's redaction lists, written out by hand per
 * room version from rooms/fragments/v1-redactions.md (v1-v5),
 * v6-redactions.md (v6-v7), rooms/v8.md (v8), v9-redactions.md (v9-v10) and
 * v11-redactions.md (v11-v12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "mxr/event.h"
#include "events_fixture.h"

/* Every top-level key any version keeps, plus ones none keeps. */
#define TOP_KEYS                                                                                         \
    "\"event_id\":\"$e:d\",\"room_id\":\"!r:d\",\"sender\":\"@a:d\",\"hashes\":{\"sha256\":\"h\"},"         \
    "\"signatures\":{\"d\":{\"ed25519:1\":\"s\"}},\"depth\":4,\"prev_events\":[\"$p\"],\"prev_state\":[],"  \
    "\"auth_events\":[\"$a\"],\"origin\":\"d\",\"origin_server_ts\":5,\"membership\":\"join\","             \
    "\"unsigned\":{\"age\":1},\"redacts\":\"$r\",\"extra\":{\"x\":1}"

#define TOP_KEPT_V1                                                                                      \
    "\"event_id\":\"$e:d\",\"room_id\":\"!r:d\",\"sender\":\"@a:d\",\"hashes\":{\"sha256\":\"h\"},"         \
    "\"signatures\":{\"d\":{\"ed25519:1\":\"s\"}},\"depth\":4,\"prev_events\":[\"$p\"],\"prev_state\":[],"  \
    "\"auth_events\":[\"$a\"],\"origin\":\"d\",\"origin_server_ts\":5,\"membership\":\"join\""

#define TOP_KEPT_V11                                                                                     \
    "\"event_id\":\"$e:d\",\"room_id\":\"!r:d\",\"sender\":\"@a:d\",\"hashes\":{\"sha256\":\"h\"},"         \
    "\"signatures\":{\"d\":{\"ed25519:1\":\"s\"}},\"depth\":4,\"prev_events\":[\"$p\"],"                   \
    "\"auth_events\":[\"$a\"],\"origin_server_ts\":5"

/* Redacts `type`/`content` (+ state_key "") in version v and compares the
 * content with want_content; the top-level keys are checked too. */
static void check(const char *v, const char *type, const char *content, const char *want_content)
{
    char in[4096], want[4096];
    snprintf(in, sizeof in, "{" TOP_KEYS ",\"type\":\"%s\",\"state_key\":\"\",\"content\":%s}", type, content);
    int vn = atoi(v);
    snprintf(want, sizeof want, "{%s,\"type\":\"%s\",\"state_key\":\"\",\"content\":%s}",
             vn >= 11 ? TOP_KEPT_V11 : TOP_KEPT_V1, type, want_content);
    json_t *ev = J(in);
    struct mxr_err err = {0};
    json_t *r = mxr_event_redact(ev, rv_of(v), &err);
    if (!r)
        fail_msg("v%s %s: %s", v, type, err.msg);
    assert_json_eq(r, want);
    json_decref(r);
    json_decref(ev);
}

/* check() for each version in [from, to]. */
static void check_range(int from, int to, const char *type, const char *content, const char *want)
{
    for (int v = from; v <= to; v++) {
        char name[12];
        snprintf(name, sizeof name, "%d", v);
        check(name, type, content, want);
    }
}

#define MEMBER                                                                                            \
    "{\"membership\":\"join\",\"join_authorised_via_users_server\":\"@b:e\",\"displayname\":\"A\","           \
    "\"avatar_url\":\"mxc://d/x\",\"third_party_invite\":{\"display_name\":\"t\",\"signed\":{\"mxid\":\"@a:d\"," \
    "\"token\":\"tok\",\"signatures\":{}}}}"

static void member(void **state)
{
    check_range(1, 8, "m.room.member", MEMBER, "{\"membership\":\"join\"}");
    check_range(9, 10, "m.room.member", MEMBER,
                "{\"membership\":\"join\",\"join_authorised_via_users_server\":\"@b:e\"}");
    check_range(11, 12, "m.room.member", MEMBER,
                "{\"membership\":\"join\",\"join_authorised_via_users_server\":\"@b:e\","
                "\"third_party_invite\":{\"signed\":{\"mxid\":\"@a:d\",\"token\":\"tok\",\"signatures\":{}}}}");
}

/* v11: only the `signed` key of third_party_invite survives; our reading for
 * an object without it ({}), and for a non-object (dropped). */
static void member_third_party_invite_edges(void **state)
{
    check("11", "m.room.member", "{\"membership\":\"invite\",\"third_party_invite\":{\"display_name\":\"t\"}}",
          "{\"membership\":\"invite\",\"third_party_invite\":{}}");
    check("12", "m.room.member", "{\"membership\":\"invite\",\"third_party_invite\":\"str\"}",
          "{\"membership\":\"invite\"}");
    check("10", "m.room.member", "{\"membership\":\"invite\",\"third_party_invite\":{\"signed\":{}}}",
          "{\"membership\":\"invite\"}");
}

#define CREATE "{\"creator\":\"@a:d\",\"room_version\":\"9\",\"m.federate\":false,\"predecessor\":{\"room_id\":\"!o:d\"}}"

static void create(void **state)
{
    check_range(1, 10, "m.room.create", CREATE, "{\"creator\":\"@a:d\"}");
    check_range(11, 12, "m.room.create", CREATE, CREATE);
}

static void join_rules(void **state)
{
    const char *c = "{\"join_rule\":\"restricted\",\"allow\":[{\"type\":\"m.room_membership\",\"room_id\":\"!x:d\"}],\"x\":1}";
    check_range(1, 7, "m.room.join_rules", c, "{\"join_rule\":\"restricted\"}");
    check_range(8, 12, "m.room.join_rules", c,
                "{\"join_rule\":\"restricted\",\"allow\":[{\"type\":\"m.room_membership\",\"room_id\":\"!x:d\"}]}");
}

#define PL                                                                                                  \
    "{\"ban\":50,\"events\":{\"m.room.name\":100},\"events_default\":0,\"invite\":0,\"kick\":50,\"redact\":50,"  \
    "\"state_default\":50,\"users\":{\"@a:d\":100},\"users_default\":0,\"notifications\":{\"room\":50},\"x\":1}"
#define PL_V1                                                                                               \
    "{\"ban\":50,\"events\":{\"m.room.name\":100},\"events_default\":0,\"kick\":50,\"redact\":50,"              \
    "\"state_default\":50,\"users\":{\"@a:d\":100},\"users_default\":0}"
#define PL_V11                                                                                              \
    "{\"ban\":50,\"events\":{\"m.room.name\":100},\"events_default\":0,\"invite\":0,\"kick\":50,\"redact\":50,"  \
    "\"state_default\":50,\"users\":{\"@a:d\":100},\"users_default\":0}"

static void power_levels(void **state)
{
    check_range(1, 10, "m.room.power_levels", PL, PL_V1);
    check_range(11, 12, "m.room.power_levels", PL, PL_V11);
}

static void history_visibility(void **state)
{
    check_range(1, 12, "m.room.history_visibility", "{\"history_visibility\":\"shared\",\"x\":1}",
                "{\"history_visibility\":\"shared\"}");
}

static void aliases(void **state)
{
    const char *c = "{\"aliases\":[\"#a:d\"],\"x\":1}";
    check_range(1, 5, "m.room.aliases", c, "{\"aliases\":[\"#a:d\"]}");
    check_range(6, 12, "m.room.aliases", c, "{}");
}

/* The top-level `redacts` is never kept; content.redacts is from v11. */
static void redaction(void **state)
{
    const char *c = "{\"redacts\":\"$t\",\"reason\":\"spam\"}";
    check_range(1, 10, "m.room.redaction", c, "{}");
    check_range(11, 12, "m.room.redaction", c, "{\"redacts\":\"$t\"}");
}

static void other_types_keep_no_content(void **state)
{
    check_range(1, 12, "m.room.message", "{\"body\":\"hi\",\"msgtype\":\"m.text\"}", "{}");
    check_range(1, 12, "m.room.name", "{\"name\":\"n\"}", "{}");
    check_range(1, 12, "m.room.topic", "{\"topic\":\"t\"}", "{}");
    check_range(1, 12, "m.room.third_party_invite", "{\"display_name\":\"x\",\"public_key\":\"k\"}", "{}");
    /* Only exact type names match. */
    check_range(1, 12, "m.room.member.x", "{\"membership\":\"join\"}", "{}");
}

static void odd_shapes(void **state)
{
    struct mxr_err err = {0};
    /* content not an object: stripped to {}; absent: {} as well (Synapse's
     * and gomatrixserverlib's published signing vectors sign it so). */
    json_t *ev = J("{\"type\":\"m.room.member\",\"content\":\"join\",\"sender\":\"@a:d\"}");
    json_t *r = mxr_event_redact(ev, rv_of("9"), &err);
    assert_json_eq(r, "{\"type\":\"m.room.member\",\"content\":{},\"sender\":\"@a:d\"}");
    json_decref(r);
    json_decref(ev);
    ev = J("{\"type\":\"m.room.member\",\"sender\":\"@a:d\",\"unsigned\":{}}");
    r = mxr_event_redact(ev, rv_of("11"), &err);
    assert_json_eq(r, "{\"type\":\"m.room.member\",\"content\":{},\"sender\":\"@a:d\"}");
    json_decref(r);
    json_decref(ev);
    /* type not a string: no content survives. */
    ev = J("{\"type\":5,\"content\":{\"membership\":\"join\"}}");
    r = mxr_event_redact(ev, rv_of("11"), &err);
    assert_json_eq(r, "{\"type\":5,\"content\":{}}");
    json_decref(r);
    json_decref(ev);
    /* Not an object / no version. */
    ev = J("[1,2]");
    assert_null(mxr_event_redact(ev, rv_of("11"), &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(ev);
    assert_null(mxr_event_redact(NULL, rv_of("11"), &err));
    ev = J("{}");
    assert_null(mxr_event_redact(ev, NULL, &err));
    json_decref(ev);
}

/* The copy is deep: editing it leaves the original intact. */
static void copy_is_independent(void **state)
{
    json_t *ev = J("{\"type\":\"m.room.create\",\"content\":{\"creator\":\"@a:d\",\"p\":{\"k\":1}},"
                   "\"signatures\":{\"d\":{\"ed25519:1\":\"s\"}}}");
    json_t *r = mxr_event_redact(ev, rv_of("11"), NULL);
    json_object_set_new(json_object_get(json_object_get(r, "content"), "p"), "k", json_integer(2));
    json_object_set_new(json_object_get(json_object_get(r, "signatures"), "d"), "ed25519:1", json_string("t"));
    assert_json_eq(ev, "{\"type\":\"m.room.create\",\"content\":{\"creator\":\"@a:d\",\"p\":{\"k\":1}},"
                       "\"signatures\":{\"d\":{\"ed25519:1\":\"s\"}}}");
    json_decref(r);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(member),
        cmocka_unit_test(member_third_party_invite_edges),
        cmocka_unit_test(create),
        cmocka_unit_test(join_rules),
        cmocka_unit_test(power_levels),
        cmocka_unit_test(history_visibility),
        cmocka_unit_test(aliases),
        cmocka_unit_test(redaction),
        cmocka_unit_test(other_types_keep_no_content),
        cmocka_unit_test(odd_shapes),
        cmocka_unit_test(copy_is_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
