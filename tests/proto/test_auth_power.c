/* Power levels (proto/auth_power.c): reading levels per room version and the
 * m.room.power_levels rule (10 in v1-v5 and v12, 9 in v6-v11; v10 adds two
 * sub-rules in front, v12 one more after users). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/auth.h"
#include "tests/proto/test_auth_room.h"

#define MOD2 "@mod2:b.example"

static const struct mxr_room_version *V(const char *id)
{
    const struct mxr_room_version *rv = mxr_room_version_get(id, NULL);
    assert_non_null(rv);
    return rv;
}

static int parse(const char *ver, const char *json, int64_t *out)
{
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    int rc = mxr_power_level_parse(V(ver), v, out);
    json_decref(v);
    return rc;
}

/* rooms/v1 "accept values as strings" (v1-v9) and "as floats" (v1-v5);
 * v10 "must be integers". */
static void value_parsing(void **state)
{
    int64_t v = 0;
    assert_int_equal(parse("10", "50", &v), 0);
    assert_int_equal(v, 50);
    assert_int_equal(parse("10", "-9007199254740991", &v), 0);
    assert_int_equal(v, -9007199254740991LL);
    assert_int_equal(parse("10", "\"50\"", &v), -1);
    assert_int_equal(parse("9", "\"50\"", &v), 0);
    assert_int_equal(v, 50);
    /* The fragment's examples: "100", "000100", "+100", "-100", " 100 ", " 00100 ", " +100 ", " -100 ". */
    static const struct { const char *in; int64_t want; } OK[] = {
        { "\"100\"", 100 },    { "\"000100\"", 100 }, { "\"+100\"", 100 }, { "\"-100\"", -100 },
        { "\" 100 \"", 100 }, { "\" 00100 \"", 100 }, { "\" +100 \"", 100 }, { "\" -100 \"", -100 },
        { "\"\\t7\\n\"", 7 },
    };
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        assert_int_equal(parse("1", OK[i].in, &v), 0);
        assert_int_equal(v, OK[i].want);
    }
    static const char *const BAD[] = { "\"\"", "\"abc\"", "\"1.5\"", "\"+-1\"", "\"1 0\"", "\"0x10\"", "\"1e3\"",
                                       "\"99999999999999999999\"", "\" \"", "\"+\"", "true", "null", "[1]", "{}" };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        if (parse("1", BAD[i], &v) == 0)
            fail_msg("%s accepted", BAD[i]);
    /* Floats: v1-v5 truncate ("50.57" -> 50, "5.114698E4" -> 51146). */
    assert_int_equal(parse("5", "50.57", &v), 0);
    assert_int_equal(v, 50);
    assert_int_equal(parse("5", "5.114698E4", &v), 0);
    assert_int_equal(v, 51146);
    assert_int_equal(parse("5", "-3.9", &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(parse("5", "1e300", &v), -1);
    assert_int_equal(parse("6", "50.57", &v), -1);
    assert_int_equal(parse("9", "50.0", &v), -1);
}

/* Levels with and without a power levels event (client-server
 * m.room.power_levels: defaults; creator 100 without the event in v1-v11;
 * v12 creators infinite). */
static void reading_levels(void **state)
{
    struct room r;
    room_open_full(&r, "9", NULL, "", "public");
    const struct mxr_room_version *rv = r.k.rv;
    assert_int_equal(mxr_auth_named_level(rv, NULL, "invite"), 0);
    assert_int_equal(mxr_auth_named_level(rv, NULL, "kick"), 50);
    assert_int_equal(mxr_auth_named_level(rv, NULL, "ban"), 50);
    assert_int_equal(mxr_auth_named_level(rv, NULL, "redact"), 50);
    assert_int_equal(mxr_auth_event_level(rv, NULL, "m.room.name", true), 50);
    assert_int_equal(mxr_auth_event_level(rv, NULL, "m.room.message", false), 0);
    assert_int_equal(mxr_auth_user_level(rv, r.create, NULL, ALICE), 100);
    assert_int_equal(mxr_auth_user_level(rv, r.create, NULL, BOB), 0);
    assert_true(mxr_auth_is_creator(rv, r.create, ALICE));
    assert_false(mxr_auth_is_creator(rv, r.create, BOB));

    room_set_pl(&r, "{\"users\":{\"" BOB "\":\"30\"},\"users_default\":\" 5\",\"ban\":\"abc\",\"kick\":7,"
                    "\"events\":{\"m.room.name\":\"12\",\"m.bad\":\"x\"},\"state_default\":40,\"events_default\":3}");
    assert_int_equal(mxr_auth_user_level(rv, r.create, r.pl, BOB), 30);
    assert_int_equal(mxr_auth_user_level(rv, r.create, r.pl, ALICE), 5); /* the creator is ordinary now */
    assert_int_equal(mxr_auth_named_level(rv, r.pl, "ban"), 50);         /* unreadable: default */
    assert_int_equal(mxr_auth_named_level(rv, r.pl, "kick"), 7);
    assert_int_equal(mxr_auth_event_level(rv, r.pl, "m.room.name", true), 12);
    assert_int_equal(mxr_auth_event_level(rv, r.pl, "m.bad", true), 40);
    assert_int_equal(mxr_auth_event_level(rv, r.pl, "m.other", false), 3);
    const struct mxr_event *msg = E(&r, .type = "m.room.message", .sender = BOB, .content = "{}");
    assert_int_equal(mxr_auth_sender_level(rv, msg, ek_state_lookup, &r.st), 30);
    room_close(&r);

    room_open_full(&r, "12", "{\"additional_creators\":[\"" CAROL "\"]}", "", "public");
    rv = r.k.rv;
    assert_true(mxr_auth_user_level(rv, r.create, NULL, ALICE) == MXR_POWER_INFINITE);
    assert_true(mxr_auth_user_level(rv, r.create, NULL, CAROL) == MXR_POWER_INFINITE);
    assert_int_equal(mxr_auth_user_level(rv, r.create, NULL, BOB), 0);
    room_set_pl(&r, "{\"users\":{\"" BOB "\":20},\"users_default\":1}");
    assert_true(mxr_auth_user_level(rv, r.create, r.pl, ALICE) == MXR_POWER_INFINITE);
    assert_int_equal(mxr_auth_user_level(rv, r.create, r.pl, BOB), 20);
    assert_int_equal(mxr_auth_user_level(rv, r.create, r.pl, MOD), 1);
    room_close(&r);
}

static const struct mxr_event *pl_ev(struct room *r, const char *sender, const char *content)
{
    return E(r, .type = "m.room.power_levels", .sender = sender, .state_key = "", .content = content);
}

/* v6 9.1-9.2: users validated, then the first power levels event passes. */
static void users_shape_and_first_event(void **state)
{
    struct room r;
    room_open_full(&r, "6", NULL, "", "public");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"users\":{\"" ALICE "\":100},\"ban\":1000}")); /* 9.2 */
    ALLOW(&r, pl_ev(&r, ALICE, "{}"));
    DENY(&r, pl_ev(&r, BOB, "{}"), "7"); /* state_default 50 without the event */
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":[]}"), "9.1");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"bob\":1}}"), "9.1");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" BOB "\":\"x\"}}"), "9.1");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" BOB "\":null}}"), "9.1");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"users\":{\"" BOB "\":\"7\"}}"));   /* stringy, v6 */
    room_close(&r);
    room_open_full(&r, "1", NULL, "", "public");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"bob\":1}}"), "10.1");
    room_close(&r);
    room_open_full(&r, "5", NULL, "", "public");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"users\":{\"" BOB "\":50.57}}"));  /* floaty, v1-v5 */
    room_close(&r);
}

/* v10 9.1-9.3: integers only, checked even for the first event. */
static void v10_integers_only(void **state)
{
    struct room r;
    room_open_full(&r, "10", NULL, "", "public");
    DENY(&r, pl_ev(&r, ALICE, "{\"ban\":\"50\"}"), "9.1");
    DENY(&r, pl_ev(&r, ALICE, "{\"invite\":null}"), "9.1");
    DENY(&r, pl_ev(&r, ALICE, "{\"events\":{\"m.room.name\":\"50\"}}"), "9.2");
    DENY(&r, pl_ev(&r, ALICE, "{\"events\":[]}"), "9.2");
    DENY(&r, pl_ev(&r, ALICE, "{\"notifications\":{\"room\":true}}"), "9.2");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" BOB "\":\"50\"}}"), "9.3");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"ban\":50,\"events\":{\"m.room.name\":50},\"notifications\":{\"room\":50},"
                                "\"users\":{\"" BOB "\":50},\"extra\":\"ignored\"}"));
    room_close(&r);
    /* v9 accepts what v10 refuses. */
    room_open_full(&r, "9", NULL, "", "public");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"ban\":\"50\",\"events\":{\"m.room.name\":\"50\"},\"users\":{\"" BOB "\":\"50\"}}"));
    room_close(&r);
    /* v12 numbering: 10.1-10.3. */
    room_open_full(&r, "12", NULL, "", "public");
    DENY(&r, pl_ev(&r, ALICE, "{\"kick\":\"50\"}"), "10.1");
    DENY(&r, pl_ev(&r, ALICE, "{\"events\":{\"x\":1.5}}"), "10.2");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" BOB "\":\"50\"}}"), "10.3");
    room_close(&r);
}

#define BASE_USERS "\"users\":{\"" ALICE "\":100,\"" MOD "\":50,\"" MOD2 "\":50}"

/* v6 9.3: users_default, events_default, state_default, ban, redact, kick, invite. */
static void named_levels(void **state)
{
    struct room r;
    room_open_full(&r, "6", NULL, "{" BASE_USERS ",\"events_default\":100}", "public");
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events_default\":100,\"kick\":40}"));
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events_default\":100,\"ban\":50}"));
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events_default\":100,\"ban\":51}"), "9.3.2");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events_default\":50}"), "9.3.1");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS "}"), "9.3.1");           /* removed */
    ALLOW(&r, pl_ev(&r, ALICE, "{" BASE_USERS ",\"events_default\":30,\"users_default\":100}"));
    room_close(&r);
    room_open_full(&r, "1", NULL, "{" BASE_USERS ",\"redact\":80}", "public");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"redact\":50}"), "10.3.1");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"redact\":80,\"invite\":60}"), "10.3.2");
    room_close(&r);
}

/* "changed": by value; v1-v9 strings and integers of the same value are the same. */
static void unchanged_values_need_no_power(void **state)
{
    struct room r;
    room_open_full(&r, "9", NULL,
                   "{\"users\":{\"" ALICE "\":100},\"events\":{\"m.room.power_levels\":0,\"m.x\":\"90\"},"
                   "\"ban\":\"70\"}",
                   "public");
    ALLOW(&r, pl_ev(&r, BOB, "{\"users\":{\"" ALICE "\":\"100\"},\"events\":{\"m.room.power_levels\":0,\"m.x\":90},"
                             "\"ban\":70}"));
    DENY(&r, pl_ev(&r, BOB, "{\"users\":{\"" ALICE "\":100},\"events\":{\"m.room.power_levels\":0,\"m.x\":90},"
                            "\"ban\":71}"), "9.3.1");
    room_close(&r);
    /* An unreadable old value counts as absent; an unreadable new one is refused. */
    room_open_full(&r, "9", NULL, "{" BASE_USERS ",\"ban\":\"abc\"}", "public");
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"ban\":40}"));
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"ban\":\"abc\"}"));   /* unchanged */
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"ban\":\"xyz\"}"), "9.3.2");
    room_close(&r);
}

/* v6 9.4/9.5: events and notifications; v5 ignores notifications. */
static void events_and_notifications(void **state)
{
    struct room r;
    room_open_full(&r, "6", NULL,
                   "{" BASE_USERS ",\"events\":{\"m.room.tombstone\":100},\"notifications\":{\"room\":100}}", "public");
#define KEEP "\"events\":{\"m.room.tombstone\":100},\"notifications\":{\"room\":100}"
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{\"m.room.tombstone\":100,\"m.room.name\":50},"
                              "\"notifications\":{\"room\":100}}"));
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{\"m.room.tombstone\":100,\"m.room.name\":60},"
                             "\"notifications\":{\"room\":100}}"), "9.5.1");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{\"m.room.tombstone\":50},\"notifications\":{\"room\":100}}"),
         "9.4.1");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{},\"notifications\":{\"room\":100}}"), "9.4.1");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{\"m.room.tombstone\":100}}"), "9.4.1");
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS "," KEEP ",\"x\":1,\"notifications\":{\"room\":100,\"other\":60}}"),
         "9.5.1");
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{\"m.room.tombstone\":100},"
                              "\"notifications\":{\"room\":100,\"other\":50}}"));
    room_close(&r);

    room_open_full(&r, "5", NULL, "{" BASE_USERS ",\"notifications\":{\"room\":100}}", "public");
    ALLOW(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"notifications\":{\"room\":0,\"other\":99}}"));
    DENY(&r, pl_ev(&r, MOD, "{" BASE_USERS ",\"events\":{\"m.x\":51}}"), "10.5.1");
    room_close(&r);
#undef KEEP
}

/* v6 9.6/9.7: users. */
static void users_entries(void **state)
{
    struct room r;
    room_open(&r, "6", "public");
    room_put(&r, room_member(&r, MOD2, MOD2, "join"));
    room_set_pl(&r, "{" BASE_USERS "}");
    ALLOW(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50,\"" MOD2 "\":50,\"" BOB "\":50}}"));
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50,\"" MOD2 "\":50,\"" BOB "\":51}}"), "9.7.1");
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":50,\"" MOD "\":50,\"" MOD2 "\":50}}"), "9.6.1");
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" MOD "\":50,\"" MOD2 "\":50}}"), "9.6.1");
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50,\"" MOD2 "\":10}}"), "9.6.1"); /* equal */
    ALLOW(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":10,\"" MOD2 "\":50}}"));  /* own entry */
    ALLOW(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":100,\"" MOD2 "\":50}}"));                 /* own removal */
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":60,\"" MOD2 "\":50}}"), "9.7.1");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"users\":{\"" ALICE "\":100,\"" BOB "\":99}}"));
    room_close(&r);
}

/* v12 10.4: creators may not be in users; they pass every comparison. */
static void v12_power_levels(void **state)
{
    struct room r;
    room_open_full(&r, "12", "{\"additional_creators\":[\"" CAROL "\"]}", NULL, "public");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" ALICE "\":100}}"), "10.4");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" CAROL "\":100}}"), "10.4");
    DENY(&r, pl_ev(&r, ALICE, "{\"users\":{\"" ALICE "\":100,\"" BOB "\":\"1\"}}"), "10.3"); /* 10.3 first */
    ALLOW(&r, pl_ev(&r, ALICE, "{\"users\":{\"" MOD "\":1000000,\"" BOB "\":99},\"state_default\":9000}"));
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" MOD "\":50,\"" BOB "\":60}}"), "10.10.1");
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" MOD "\":50},\"ban\":60}"), "10.6.2");
    DENY(&r, pl_ev(&r, MOD, "{\"users\":{\"" MOD "\":50},\"events\":{\"m.x\":60}}"), "10.8.1");
    ALLOW(&r, pl_ev(&r, MOD, "{\"users\":{\"" MOD "\":50,\"" BOB "\":50}}"));
    room_close(&r);
    /* Before v12 the creator may be listed (and usually is). */
    room_open_full(&r, "11", NULL, "", "public");
    ALLOW(&r, pl_ev(&r, ALICE, "{\"users\":{\"" ALICE "\":100}}"));
    room_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_parsing),
        cmocka_unit_test(reading_levels),
        cmocka_unit_test(users_shape_and_first_event),
        cmocka_unit_test(v10_integers_only),
        cmocka_unit_test(named_levels),
        cmocka_unit_test(unchanged_values_need_no_power),
        cmocka_unit_test(events_and_notifications),
        cmocka_unit_test(users_entries),
        cmocka_unit_test(v12_power_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
