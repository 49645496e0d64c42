/* relay/client/pushrules.c: the server-default rules of the spec's
 * §Predefined Rules, user-defined rules with before/after placement,
 * /enabled and /actions, deletion, and m.push_rules in /sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"

struct fx {
    struct clfix f;
    char alice[128], bob[128];
};

static int setup(void **state)
{
    static struct fx x;
    clfix_open(&x.f, NULL);
    clfix_user(&x.f, "alice", x.alice, NULL);
    clfix_user(&x.f, "bob", x.bob, NULL);
    *state = &x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    clfix_close(&x->f);
    return 0;
}

/* The rule IDs of one kind, space-separated. */
static const char *ids(json_t *global, const char *kind)
{
    static char buf[2048];
    buf[0] = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(global, kind), i, r) {
        strcat(buf, json_string_value(json_object_get(r, "rule_id")));
        strcat(buf, " ");
    }
    return buf;
}

static json_t *rule(json_t *global, const char *kind, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(global, kind), i, r)
        if (!strcmp(json_string_value(json_object_get(r, "rule_id")), id))
            return r;
    return NULL;
}

static void server_defaults(void **state)
{
    struct fx *x = *state;
    json_t *b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/", x->alice, NULL);
    json_t *g = json_object_get(b, "global");
    /* §Predefined Rules, in the spec's order; v1.17 dropped the body-matching rules. */
    assert_string_equal(ids(g, "override"), ".m.rule.master .m.rule.suppress_notices .m.rule.invite_for_me "
                        ".m.rule.member_event .m.rule.is_user_mention .m.rule.is_room_mention .m.rule.tombstone "
                        ".m.rule.reaction .m.rule.room.server_acl .m.rule.suppress_edits ");
    assert_string_equal(ids(g, "underride"), ".m.rule.call .m.rule.encrypted_room_one_to_one "
                        ".m.rule.room_one_to_one .m.rule.message .m.rule.encrypted ");
    assert_string_equal(ids(g, "content"), "");
    assert_true(json_is_array(json_object_get(g, "room")) && json_is_array(json_object_get(g, "sender")));
    json_t *master = rule(g, "override", ".m.rule.master");
    assert_true(json_is_false(json_object_get(master, "enabled")));
    assert_true(json_is_true(json_object_get(master, "default")));
    /* "[the user's Matrix ID]" is the user's ID */
    json_t *inv = rule(g, "override", ".m.rule.invite_for_me");
    json_t *c2 = json_array_get(json_object_get(inv, "conditions"), 2);
    assert_string_equal(json_string_value(json_object_get(c2, "pattern")), "@alice:hs.test");
    json_t *men = rule(g, "override", ".m.rule.is_user_mention");
    json_t *c0 = json_array_get(json_object_get(men, "conditions"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "key")), "content.m\\.mentions.user_ids");
    assert_string_equal(json_string_value(json_object_get(c0, "value")), "@alice:hs.test");
    /* push_rule.yaml: actions, default, enabled, rule_id are required */
    const char *kinds[] = {"override", "underride"};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(g, kinds[k]), i, r) {
            assert_true(json_is_array(json_object_get(r, "actions")));
            assert_true(json_is_boolean(json_object_get(r, "default")));
            assert_true(json_is_boolean(json_object_get(r, "enabled")));
            assert_true(json_is_array(json_object_get(r, "conditions")));
        }
    }
    json_decref(b);
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/", x->alice, NULL);
    assert_non_null(rule(b, "underride", ".m.rule.message"));
    json_decref(b);
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/underride/.m.rule.message", x->alice, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "actions"), 0)), "notify");
    json_decref(b);

    clfix_error(&x->f, 401, "M_MISSING_TOKEN", "GET", V3 "/pushrules/", NULL, NULL);
    clfix_error(&x->f, 401, "M_UNKNOWN_TOKEN", "GET", V3 "/pushrules/", "mxr_nonsense", NULL);
    clfix_error(&x->f, 404, "M_NOT_FOUND", "GET", V3 "/pushrules/global/override/nope", x->alice, NULL);
    clfix_error(&x->f, 400, "M_INVALID_PARAM", "GET", V3 "/pushrules/global/bogus/x", x->alice, NULL);
}

static void user_rules_and_placement(void **state)
{
    struct fx *x = *state;
    const char *a = x->alice;
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/content/cake", a,
                         "{\"pattern\":\"cake*lie\",\"actions\":[\"notify\"]}"));
    json_t *b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/content/cake", a, NULL);
    assert_string_equal(json_string_value(json_object_get(b, "pattern")), "cake*lie");
    assert_true(json_is_false(json_object_get(b, "default")));
    assert_true(json_is_true(json_object_get(b, "enabled")));   /* "MUST be enabled by default" */
    json_decref(b);

    /* A new rule is the most important user-defined one; master stays first. */
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/override/o1", a,
                         "{\"conditions\":[{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"x\"}],"
                         "\"actions\":[]}"));
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/override/o2", a, "{\"actions\":[]}"));
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/override/o3?after=o1", a, "{\"actions\":[]}"));
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/override/o4?before=o2", a, "{\"actions\":[]}"));
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/", a, NULL);
    const char *want = ".m.rule.master o4 o2 o1 o3 .m.rule.suppress_notices ";
    assert_memory_equal(ids(json_object_get(b, "global"), "override"), want, strlen(want));
    json_decref(b);
    /* An update keeps the rule's place and replaces its actions. */
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/override/o2", a, "{\"actions\":[\"notify\"]}"));
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/", a, NULL);
    json_t *g = json_object_get(b, "global");
    assert_memory_equal(ids(g, "override"), want, strlen(want));
    assert_int_equal(json_array_size(json_object_get(rule(g, "override", "o2"), "actions")), 1);
    json_decref(b);

    /* bob's rules are his own */
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/", x->bob, NULL);
    assert_null(rule(json_object_get(b, "global"), "override", "o1"));
    json_decref(b);

    /* refusals */
    clfix_error(&x->f, 400, "M_UNKNOWN", "PUT", V3 "/pushrules/global/override/o5?before=.m.rule.master", a,
                "{\"actions\":[]}");
    clfix_error(&x->f, 400, "M_UNKNOWN", "PUT", V3 "/pushrules/global/override/o5?after=missing", a,
                "{\"actions\":[]}");
    clfix_error(&x->f, 400, "M_INVALID_PARAM", "PUT", V3 "/pushrules/global/override/.mine", a, "{\"actions\":[]}");
    clfix_error(&x->f, 400, "M_MISSING_PARAM", "PUT", V3 "/pushrules/global/override/o6", a, "{}");
    clfix_error(&x->f, 400, "M_MISSING_PARAM", "PUT", V3 "/pushrules/global/content/c2", a, "{\"actions\":[]}");
    clfix_error(&x->f, 400, "M_INVALID_PARAM", "PUT", V3 "/pushrules/global/override/o7", a,
                "{\"actions\":[\"explode\"]}");
    clfix_error(&x->f, 400, "M_BAD_JSON", "PUT", V3 "/pushrules/global/override/o8", a,
                "{\"actions\":[],\"conditions\":{}}");
    clfix_error(&x->f, 400, "M_INVALID_PARAM", "PUT", V3 "/pushrules/global/room/notaroom", a, "{\"actions\":[]}");
    clfix_error(&x->f, 400, "M_INVALID_PARAM", "PUT", V3 "/pushrules/global/nokind/x", a, "{\"actions\":[]}");
    clfix_error(&x->f, 400, "M_NOT_JSON", "PUT", V3 "/pushrules/global/override/o9", a, "{nope");
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/room/%21r%3Ahs.test", a,
                         "{\"actions\":[\"notify\"]}"));
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/sender/%40bob%3Ahs.test", a,
                         "{\"actions\":[]}"));

    /* deletion */
    json_decref(clfix_ok(&x->f, 200, "DELETE", V3 "/pushrules/global/content/cake", a, NULL));
    clfix_error(&x->f, 404, "M_NOT_FOUND", "DELETE", V3 "/pushrules/global/content/cake", a, NULL);
    clfix_error(&x->f, 400, "M_INVALID_PARAM", "DELETE", V3 "/pushrules/global/override/.m.rule.master", a, NULL);
}

static void enabled_and_actions(void **state)
{
    struct fx *x = *state;
    const char *a = x->alice;
    json_t *b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/override/.m.rule.master/enabled", a, NULL);
    assert_true(json_is_false(json_object_get(b, "enabled")));
    json_decref(b);
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/override/.m.rule.master/enabled", a,
                         "{\"enabled\":true}"));
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/override/.m.rule.master/enabled", a, NULL);
    assert_true(json_is_true(json_object_get(b, "enabled")));
    json_decref(b);
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/underride/.m.rule.message/actions", a,
                         "{\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"bing\"}]}"));
    b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/underride/.m.rule.message/actions", a, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "actions")), 2);
    json_decref(b);
    clfix_error(&x->f, 400, "M_BAD_JSON", "PUT", V3 "/pushrules/global/override/.m.rule.master/enabled", a,
                "{\"enabled\":\"yes\"}");
    clfix_error(&x->f, 400, "M_MISSING_PARAM", "PUT", V3 "/pushrules/global/override/.m.rule.master/actions", a,
                "{}");
    clfix_error(&x->f, 404, "M_NOT_FOUND", "PUT", V3 "/pushrules/global/override/nope/enabled", a,
                "{\"enabled\":true}");
    clfix_error(&x->f, 404, "M_NOT_FOUND", "GET", V3 "/pushrules/global/override/nope/actions", a, NULL);
}

static void sync_and_account_data(void **state)
{
    struct fx *x = *state;
    const char *b_ = x->bob;
    json_t *s = clfix_ok(&x->f, 200, "GET", V3 "/sync", b_, NULL);
    const char *since = json_string_value(json_object_get(s, "next_batch"));
    char tok[256];
    snprintf(tok, sizeof tok, "%s", since);
    json_decref(s);
    json_decref(clfix_ok(&x->f, 200, "PUT", V3 "/pushrules/global/underride/.m.rule.call/enabled", b_,
                         "{\"enabled\":false}"));
    /* §Push Rules: Events: the next /sync carries the whole ruleset as m.push_rules. */
    s = clfix_ok(&x->f, 200, "GET", clfix_fmt(V3 "/sync?since=%s&timeout=0", tok), b_, NULL);
    json_t *events = json_object_get(json_object_get(s, "account_data"), "events");
    json_t *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
        if (!strcmp(json_string_value(json_object_get(e, "type")), "m.push_rules"))
            found = e;
    assert_non_null(found);
    json_t *g = json_object_get(json_object_get(found, "content"), "global");
    assert_true(json_is_false(json_object_get(rule(g, "underride", ".m.rule.call"), "enabled")));
    json_decref(s);
    /* and survives a restart */
    clfix_restart(&x->f);
    json_t *b = clfix_ok(&x->f, 200, "GET", V3 "/pushrules/global/underride/.m.rule.call/enabled", b_, NULL);
    assert_true(json_is_false(json_object_get(b, "enabled")));
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_defaults),
        cmocka_unit_test(user_rules_and_placement),
        cmocka_unit_test(enabled_and_actions),
        cmocka_unit_test(sync_and_account_data),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
