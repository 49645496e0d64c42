/* Authorization rules other than membership and power levels (proto/auth.c,
 * proto/auth_select.c): create, auth events, m.federate, aliases, the
 * sender-must-be-joined rule, third-party invite events, required power
 * level, '@' state keys, v1/v2 redactions. Rule numbers are those of the
 * version's page under content/rooms/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/auth.h"
#include "tests/proto/test_auth_room.h"

/* A create event alone: rule 1 needs no state. */
static const struct mxr_event *create_ev(struct ek_kit *k, const char *sender, const char *content, const char *extra,
                                         const char *room_id, const char *const *prev)
{
    const struct mxr_event *ev = EK(k, .id = "$c:a.example", .type = "m.room.create", .sender = sender,
                                    .state_key = "", .content = content, .extra = extra, .room_id = room_id,
                                    .prev = prev);
    if (!ev)
        fail_msg("%s", k->last_error);
    return ev;
}

static const struct mxr_event *no_lookup(void *ctx, const char *type, const char *state_key)
{
    (void)ctx, (void)type, (void)state_key;
    return NULL;
}

static void expect(const struct ek_kit *k, const struct mxr_event *ev, const char *rule)
{
    struct mxr_err err = {0};
    int rc = mxr_auth_check(k->rv, ev, no_lookup, NULL, &err);
    if (!rule) {
        if (rc != 0)
            fail_msg("v%s: create denied: %s", k->rv->id, err.msg);
        return;
    }
    if (rc == 0)
        fail_msg("v%s: create allowed, expected rule %s", k->rv->id, rule);
    char want[32];
    snprintf(want, sizeof want, "rule %s:", rule);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("v%s: got \"%s\", expected %s", k->rv->id, err.msg, want);
}

/* v1 rules 1.1-1.5. */
static void create_v1(void **state)
{
    struct ek_kit k;
    ek_init(&k, "1");
    expect(&k, create_ev(&k, ALICE, "{\"creator\":\"" ALICE "\"}", NULL, NULL, NULL), NULL);            /* 1.5 */
    expect(&k, create_ev(&k, ALICE, "{\"creator\":\"" ALICE "\"}", NULL, NULL, EK_IDS("$x:a.example")), "1.1");
    expect(&k, create_ev(&k, BOB, "{\"creator\":\"" BOB "\"}", NULL, NULL, NULL), "1.2");  /* room on a.example */
    expect(&k, create_ev(&k, ALICE, "{\"creator\":\"" ALICE "\",\"room_version\":\"13\"}", NULL, NULL, NULL), "1.3");
    expect(&k, create_ev(&k, ALICE, "{\"creator\":\"" ALICE "\",\"room_version\":1}", NULL, NULL, NULL), "1.3");
    expect(&k, create_ev(&k, ALICE, "{\"creator\":\"" ALICE "\",\"room_version\":\"1\"}", NULL, NULL, NULL), NULL);
    expect(&k, create_ev(&k, ALICE, "{}", NULL, NULL, NULL), "1.4");
    ek_free(&k);
}

/* v10 still needs creator (1.4); v11 dropped that rule ("1.4 Otherwise, allow"). */
static void create_creator_until_v10(void **state)
{
    struct ek_kit k;
    ek_init(&k, "10");
    expect(&k, create_ev(&k, ALICE, "{}", NULL, NULL, NULL), "1.4");
    ek_free(&k);
    ek_init(&k, "11");
    expect(&k, create_ev(&k, ALICE, "{}", NULL, NULL, NULL), NULL);
    expect(&k, create_ev(&k, BOB, "{}", NULL, NULL, NULL), "1.2"); /* room_id domain still checked */
    ek_free(&k);
}

/* v12 rules 1.2 (no room_id), 1.4 (additional_creators). */
static void create_v12(void **state)
{
    struct ek_kit k;
    ek_init(&k, "12");
    expect(&k, create_ev(&k, BOB, "{}", NULL, NULL, NULL), NULL); /* no domain rule any more */
    expect(&k, create_ev(&k, ALICE, "{}", NULL, "!room:a.example", NULL), "1.2");
    expect(&k, create_ev(&k, ALICE, "{}", NULL, NULL, EK_IDS("$x")), "1.1");
    expect(&k, create_ev(&k, ALICE, "{\"room_version\":\"99\"}", NULL, NULL, NULL), "1.3");
    expect(&k, create_ev(&k, ALICE, "{\"additional_creators\":[\"" BOB "\",\"" CAROL "\"]}", NULL, NULL, NULL), NULL);
    expect(&k, create_ev(&k, ALICE, "{\"additional_creators\":[]}", NULL, NULL, NULL), NULL);
    expect(&k, create_ev(&k, ALICE, "{\"additional_creators\":\"" BOB "\"}", NULL, NULL, NULL), "1.4");
    expect(&k, create_ev(&k, ALICE, "{\"additional_creators\":[\"bob\"]}", NULL, NULL, NULL), "1.4");
    expect(&k, create_ev(&k, ALICE, "{\"additional_creators\":[\"@bob\"]}", NULL, NULL, NULL), "1.4");
    expect(&k, create_ev(&k, ALICE, "{\"additional_creators\":[7]}", NULL, NULL, NULL), "1.4");
    ek_free(&k);
}

/* Rule 2.4 (v1-v11) / rule 2 (v12) seen through the lookup. */
static void create_must_be_in_state(void **state)
{
    struct room r;
    room_open(&r, "9", "public");
    const struct mxr_event *msg = E(&r, .type = "m.room.message", .sender = BOB, .content = "{\"body\":\"hi\"}");
    ALLOW(&r, msg);
    ek_state_del(&r.st, "m.room.create", "");
    DENY(&r, msg, "2.4");
    room_close(&r);

    room_open(&r, "12", "public");
    msg = E(&r, .type = "m.room.message", .sender = BOB, .content = "{}");
    ALLOW(&r, msg);
    /* A message naming another room's create event. */
    const struct mxr_event *other =
        E(&r, .type = "m.room.message", .sender = BOB, .room_id = "!other", .content = "{}");
    DENY(&r, other, "2");
    ek_state_del(&r.st, "m.room.create", "");
    DENY(&r, msg, "2");
    room_close(&r);
}

/* Rule 2.5: an auth event from another room (seen through the lookup). */
static void auth_events_from_another_room(void **state)
{
    struct room r;
    room_open(&r, "6", "public");
    room_put(&r, E(&r, .type = "m.room.power_levels", .sender = ALICE, .state_key = "", .room_id = "!else:a.example",
                   .content = "{}"));
    DENY(&r, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"), "2.5");
    room_close(&r);
}

/* Rule 3 (v12: 4): m.federate false keeps other servers out. */
static void federate_false(void **state)
{
    static const struct { const char *ver, *rule; } V[] = { { "1", "3" }, { "11", "3" }, { "12", "4" } };
    for (size_t i = 0; i < 3; i++) {
        struct room r;
        bool v11 = !strcmp(V[i].ver, "11") || !strcmp(V[i].ver, "12");
        room_open_full(&r, V[i].ver,
                       v11 ? "{\"m.federate\":false}" : "{\"creator\":\"" ALICE "\",\"m.federate\":false}", NULL,
                       "public");
        DENY(&r, room_member(&r, CAROL, CAROL, "join"), V[i].rule);
        ALLOW(&r, room_member(&r, "@dave:a.example", "@dave:a.example", "join"));
        room_close(&r);
        room_open_full(&r, V[i].ver, v11 ? "{\"m.federate\":true}" : "{\"creator\":\"" ALICE "\",\"m.federate\":true}",
                       NULL, "public");
        ALLOW(&r, room_member(&r, CAROL, CAROL, "join"));
        room_close(&r);
    }
}

/* v1-v5 rule 4: m.room.aliases only needs the sender's domain as state_key,
 * even from a non-member; v6 removed it, so the usual rules apply. */
static void aliases_special_case(void **state)
{
    struct room r;
    room_open(&r, "5", "invite");
    ALLOW(&r, E(&r, .type = "m.room.aliases", .sender = CAROL, .state_key = "c.example",
                .content = "{\"aliases\":[]}"));
    DENY(&r, E(&r, .type = "m.room.aliases", .sender = CAROL, .state_key = "a.example", .content = "{}"), "4.2");
    DENY(&r, E(&r, .type = "m.room.aliases", .sender = CAROL, .content = "{}"), "4.1");
    room_close(&r);

    room_open(&r, "6", "invite");
    DENY(&r, E(&r, .type = "m.room.aliases", .sender = CAROL, .state_key = "c.example", .content = "{}"), "5");
    /* alice (100) may set any aliases state now, domain or not. */
    ALLOW(&r, E(&r, .type = "m.room.aliases", .sender = ALICE, .state_key = "b.example", .content = "{}"));
    room_close(&r);
}

/* Sender must be joined: v1 rule 6, v6 rule 5, v12 rule 6. */
static void sender_must_be_joined(void **state)
{
    static const struct { const char *ver, *rule; } V[] = { { "1", "6" }, { "6", "5" }, { "11", "5" }, { "12", "6" } };
    for (size_t i = 0; i < 4; i++) {
        struct room r;
        room_open(&r, V[i].ver, "public");
        ALLOW(&r, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"));
        DENY(&r, E(&r, .type = "m.room.message", .sender = CAROL, .content = "{}"), V[i].rule);
        room_put(&r, room_member(&r, BOB, BOB, "leave"));
        DENY(&r, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"), V[i].rule);
        room_put(&r, room_member(&r, ALICE, CAROL, "invite"));
        DENY(&r, E(&r, .type = "m.room.message", .sender = CAROL, .content = "{}"), V[i].rule);
        room_close(&r);
    }
}

/* m.room.third_party_invite: v1 rule 7.1, v6 rule 6.1: invite level decides,
 * not state_default. */
static void third_party_invite_event(void **state)
{
    struct room r;
    room_open(&r, "6", "invite");
    ALLOW(&r, E(&r, .type = "m.room.third_party_invite", .sender = BOB, .state_key = "tok", .content = "{}"));
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50},\"invite\":50}");
    DENY(&r, E(&r, .type = "m.room.third_party_invite", .sender = BOB, .state_key = "tok", .content = "{}"), "6.1");
    ALLOW(&r, E(&r, .type = "m.room.third_party_invite", .sender = MOD, .state_key = "tok", .content = "{}"));
    room_close(&r);
    room_open(&r, "1", "invite");
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100},\"invite\":50}");
    DENY(&r, E(&r, .type = "m.room.third_party_invite", .sender = BOB, .state_key = "tok", .content = "{}"), "7.1");
    room_close(&r);
}

/* Required power level: v1 rule 8, v6 rule 7, v12 rule 8. */
static void required_power_level(void **state)
{
    static const struct { const char *ver, *rule; } V[] = { { "1", "8" }, { "6", "7" }, { "12", "8" } };
    for (size_t i = 0; i < 3; i++) {
        struct room r;
        room_open(&r, V[i].ver, "public");
        /* state_default 50 */
        DENY(&r, E(&r, .type = "m.room.topic", .sender = BOB, .state_key = "", .content = "{}"), V[i].rule);
        ALLOW(&r, E(&r, .type = "m.room.topic", .sender = MOD, .state_key = "", .content = "{}"));
        /* events_default 0 */
        ALLOW(&r, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"));
        room_set_pl(&r, "{\"users\":{\"" MOD "\":50},\"events\":{\"m.room.message\":10,\"m.room.topic\":0},"
                        "\"events_default\":5}");
        DENY(&r, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"), V[i].rule);
        DENY(&r, E(&r, .type = "m.custom", .sender = BOB, .content = "{}"), V[i].rule);
        ALLOW(&r, E(&r, .type = "m.room.topic", .sender = BOB, .state_key = "", .content = "{}"));
        ALLOW(&r, E(&r, .type = "m.custom", .sender = MOD, .content = "{}"));
        room_close(&r);
    }
}

/* With no power levels event (v1-v11) the creator has 100, others 0, and
 * state_default is 50. */
static void no_power_levels_event(void **state)
{
    struct room r;
    room_open_full(&r, "10", NULL, "", "public");
    ALLOW(&r, E(&r, .type = "m.room.name", .sender = ALICE, .state_key = "", .content = "{}"));
    DENY(&r, E(&r, .type = "m.room.name", .sender = BOB, .state_key = "", .content = "{}"), "7");
    ALLOW(&r, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"));
    room_close(&r);
    /* v10: the creator is content.creator, whoever sent the create. */
    room_open_full(&r, "10", "{\"creator\":\"" BOB "\"}", "", "public");
    ALLOW(&r, E(&r, .type = "m.room.name", .sender = BOB, .state_key = "", .content = "{}"));
    DENY(&r, E(&r, .type = "m.room.name", .sender = ALICE, .state_key = "", .content = "{}"), "7");
    room_close(&r);
    /* v11: the create event's sender. */
    room_open_full(&r, "11", "{\"creator\":\"" BOB "\"}", "", "public");
    ALLOW(&r, E(&r, .type = "m.room.name", .sender = ALICE, .state_key = "", .content = "{}"));
    DENY(&r, E(&r, .type = "m.room.name", .sender = BOB, .state_key = "", .content = "{}"), "7");
    room_close(&r);
}

/* '@' state keys: v1 rule 9, v6 rule 8, v12 rule 9. */
static void at_state_keys(void **state)
{
    static const struct { const char *ver, *rule; } V[] = { { "1", "9" }, { "6", "8" }, { "12", "9" } };
    for (size_t i = 0; i < 3; i++) {
        struct room r;
        room_open(&r, V[i].ver, "public");
        ALLOW(&r, E(&r, .type = "m.custom", .sender = MOD, .state_key = MOD, .content = "{}"));
        DENY(&r, E(&r, .type = "m.custom", .sender = MOD, .state_key = BOB, .content = "{}"), V[i].rule);
        /* A suffix is not the sender (MSC3757 is not in the spec). */
        DENY(&r, E(&r, .type = "m.custom", .sender = MOD, .state_key = MOD "_x", .content = "{}"), V[i].rule);
        ALLOW(&r, E(&r, .type = "m.custom", .sender = MOD, .state_key = "x" BOB, .content = "{}"));
        room_close(&r);
    }
}

/* v1/v2 rule 11: redactions need the redact level or the same event_id
 * domain; v3+ leave that to "Handling redactions" (rule 11 is "allow"). */
static void redactions(void **state)
{
    const char *vers[] = { "1", "2" };
    for (size_t i = 0; i < 2; i++) {
        struct room r;
        room_open(&r, vers[i], "public");
        ALLOW(&r, E(&r, .id = "$r1:b.example", .type = "m.room.redaction", .sender = BOB, .content = "{}",
                    .extra = "{\"redacts\":\"$target:b.example\"}"));
        DENY(&r, E(&r, .id = "$r2:b.example", .type = "m.room.redaction", .sender = BOB, .content = "{}",
                   .extra = "{\"redacts\":\"$target:a.example\"}"), "11.3");
        DENY(&r, E(&r, .id = "$r3:b.example", .type = "m.room.redaction", .sender = BOB, .content = "{}"), "11.3");
        ALLOW(&r, E(&r, .id = "$r4:b.example", .type = "m.room.redaction", .sender = MOD, .content = "{}",
                    .extra = "{\"redacts\":\"$target:a.example\"}"));
        room_close(&r);
    }
    struct room r;
    room_open(&r, "3", "public");
    ALLOW(&r, E(&r, .id = "$r2", .type = "m.room.redaction", .sender = BOB, .content = "{}",
                .extra = "{\"redacts\":\"$target\"}"));
    room_close(&r);
    room_open(&r, "11", "public");
    ALLOW(&r, E(&r, .type = "m.room.redaction", .sender = BOB, .content = "{\"redacts\":\"$t\"}"));
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50},\"events\":{\"m.room.redaction\":50}}");
    DENY(&r, E(&r, .type = "m.room.redaction", .sender = BOB, .content = "{\"redacts\":\"$t\"}"), "7");
    room_close(&r);
}

/* ---- auth events selection ------------------------------------------------ */

static bool has_key(const struct mxr_auth_key *keys, size_t n, const char *type, const char *sk)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].type, type) && !strcmp(keys[i].state_key, sk))
            return true;
    return false;
}

static void selection(void **state)
{
    struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX];
    struct room r;
    room_open(&r, "8", "public");
    assert_int_equal(mxr_auth_events_selection(r.k.rv, r.create, keys), 0);

    size_t n = mxr_auth_events_selection(r.k.rv, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"), keys);
    assert_int_equal(n, 3);
    assert_true(has_key(keys, n, "m.room.create", ""));
    assert_true(has_key(keys, n, "m.room.power_levels", ""));
    assert_true(has_key(keys, n, "m.room.member", BOB));

    n = mxr_auth_events_selection(r.k.rv, room_member(&r, BOB, BOB, "join"), keys);
    assert_int_equal(n, 4); /* self: sender = target */
    assert_true(has_key(keys, n, "m.room.join_rules", ""));

    n = mxr_auth_events_selection(r.k.rv, room_member(&r, MOD, BOB, "ban"), keys);
    assert_int_equal(n, 4);
    assert_false(has_key(keys, n, "m.room.join_rules", ""));
    assert_true(has_key(keys, n, "m.room.member", MOD));
    assert_true(has_key(keys, n, "m.room.member", BOB));

    n = mxr_auth_events_selection(r.k.rv, room_member(&r, BOB, BOB, "knock"), keys);
    assert_true(has_key(keys, n, "m.room.join_rules", ""));

    const struct mxr_event *tpi = room_member_c(&r, MOD, CAROL, "{\"membership\":\"invite\",\"third_party_invite\":"
                                                "{\"signed\":{\"mxid\":\"" CAROL "\",\"token\":\"tok\"}}}");
    n = mxr_auth_events_selection(r.k.rv, tpi, keys);
    assert_int_equal(n, 6);
    assert_true(has_key(keys, n, "m.room.third_party_invite", "tok"));
    assert_true(has_key(keys, n, "m.room.join_rules", ""));

    const char *restricted = "{\"membership\":\"join\",\"join_authorised_via_users_server\":\"" MOD "\"}";
    n = mxr_auth_events_selection(r.k.rv, room_member_c(&r, CAROL, CAROL, restricted), keys);
    assert_int_equal(n, 5);
    assert_true(has_key(keys, n, "m.room.member", MOD));
    room_close(&r);

    /* v7 has no restricted joins: the authoriser is not selected. */
    room_open(&r, "7", "public");
    n = mxr_auth_events_selection(r.k.rv, room_member_c(&r, CAROL, CAROL, restricted), keys);
    assert_int_equal(n, 4);
    assert_false(has_key(keys, n, "m.room.member", MOD));
    room_close(&r);

    /* v12: never the create event. */
    room_open(&r, "12", "public");
    n = mxr_auth_events_selection(r.k.rv, E(&r, .type = "m.room.message", .sender = BOB, .content = "{}"), keys);
    assert_int_equal(n, 2);
    assert_false(has_key(keys, n, "m.room.create", ""));
    room_close(&r);
}

/* ---- the event's auth_events list ----------------------------------------- */

struct fetch_ctx {
    struct room *r;
    const char *rejected_id;
};

static const struct mxr_event *fetch(void *vctx, const char *id, bool *rejected)
{
    struct fetch_ctx *c = vctx;
    *rejected = c->rejected_id && !strcmp(c->rejected_id, id);
    for (size_t i = 0; i < c->r->k.n; i++)
        if (!strcmp(c->r->k.events[i]->event_id, id))
            return c->r->k.events[i];
    return NULL;
}

static void expect_list(struct room *r, const struct mxr_event *ev, const char *rejected_id, const char *want)
{
    struct fetch_ctx c = { .r = r, .rejected_id = rejected_id };
    struct mxr_err err = {0};
    int rc = mxr_auth_check_auth_events(r->k.rv, ev, fetch, &c, &err);
    if (!want) {
        if (rc)
            fail_msg("v%s: auth_events refused: %s", r->k.rv->id, err.msg);
        return;
    }
    if (!rc)
        fail_msg("v%s: auth_events accepted, expected %s", r->k.rv->id, want);
    if (!strcmp(want, "M_NOT_FOUND")) {
        assert_string_equal(err.errcode, "M_NOT_FOUND");
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rule %s:", want);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("v%s: got \"%s\", expected %s", r->k.rv->id, err.msg, prefix);
}

/* v9 rules 2.1-2.5. */
static void auth_events_list_v9(void **state)
{
    struct room r;
    room_open(&r, "9", "public");
    const char *create = r.create->event_id, *pl = r.pl->event_id, *jr = r.jr->event_id;
    const char *bob = ek_state_lookup(&r.st, "m.room.member", BOB)->event_id;
    const struct mxr_event *old_pl = E(&r, .type = "m.room.power_levels", .sender = ALICE, .state_key = "",
                                       .content = "{}");
    const struct mxr_event *foreign = E(&r, .type = "m.room.power_levels", .sender = ALICE, .state_key = "",
                                        .room_id = "!else:a.example", .content = "{}");

    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, pl, bob)), NULL, NULL);
    /* Listing fewer than the selection is not a rule. */
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, bob)), NULL, NULL);
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, pl, old_pl->event_id, bob)),
                NULL, "2.1");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, pl, pl, bob)), NULL, "2.1");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, pl, jr, bob)), NULL, "2.2");
    const struct mxr_event *msg = E(&r, .type = "m.room.message", .sender = BOB, .content = "{}");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, msg->event_id)), NULL, "2.2");
    /* The member event of someone else than the sender. */
    const char *mod = ek_state_lookup(&r.st, "m.room.member", MOD)->event_id;
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, mod)), NULL, "2.2");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, pl, bob)), pl, "2.3");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(pl, bob)), NULL, "2.4");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, foreign->event_id, bob)),
                NULL, "2.5");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, "$nope:a.example")), NULL,
                "M_NOT_FOUND");
    /* join rules are selected for a join. */
    expect_list(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL,
                      .content = "{\"membership\":\"join\"}", .auth = EK_IDS(create, pl, jr)), NULL, NULL);
    /* and not for a leave. */
    expect_list(&r, E(&r, .type = "m.room.member", .sender = BOB, .state_key = BOB,
                      .content = "{\"membership\":\"leave\"}", .auth = EK_IDS(create, pl, jr, bob)), NULL, "2.2");
    /* The create event itself: rule 1 decides alone. */
    expect_list(&r, r.create, NULL, NULL);
    room_close(&r);
}

/* v12 rule 2 (room ID names an accepted create) and 3.x. */
static void auth_events_list_v12(void **state)
{
    struct room r;
    room_open(&r, "12", "public");
    const char *create = r.create->event_id, *pl = r.pl->event_id;
    const char *bob = ek_state_lookup(&r.st, "m.room.member", BOB)->event_id;
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(pl, bob)), NULL, NULL);
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(create, pl, bob)), NULL, "3.2");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(pl, pl)), NULL, "3.1");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(pl, bob)), pl, "3.3");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(pl, bob)), create, "2");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .room_id = "!e1:a.example", .auth = EK_IDS(pl)),
                NULL, "2"); /* $e1 is alice's join, not a create event */
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .room_id = "!unknown", .auth = EK_IDS(pl)), NULL,
                "M_NOT_FOUND");
    const struct mxr_event *foreign = E(&r, .type = "m.room.power_levels", .sender = ALICE, .state_key = "",
                                        .room_id = "!else", .content = "{}");
    expect_list(&r, E(&r, .type = "m.room.message", .sender = BOB, .auth = EK_IDS(foreign->event_id, bob)), NULL,
                "3.5");
    room_close(&r);
}

/* mxr_auth_set_lookup: a state from a list of events. */
static void auth_set(void **state)
{
    struct room r;
    room_open(&r, "10", "public");
    const struct mxr_event *msg = E(&r, .type = "m.room.message", .sender = BOB, .content = "{}");
    const struct mxr_event *list[] = { msg, r.create, r.pl, ek_state_lookup(&r.st, "m.room.member", BOB) };
    struct mxr_auth_set set = { list, 4 };
    assert_ptr_equal(mxr_auth_set_lookup(&set, "m.room.create", ""), r.create);
    assert_null(mxr_auth_set_lookup(&set, "m.room.message", ""));
    assert_null(mxr_auth_set_lookup(&set, "m.room.join_rules", ""));
    struct mxr_err err = {0};
    assert_int_equal(mxr_auth_check(r.k.rv, msg, mxr_auth_set_lookup, &set, &err), 0);
    set.n = 3;
    assert_int_equal(mxr_auth_check(r.k.rv, msg, mxr_auth_set_lookup, &set, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    room_close(&r);
}

/* Nothing crashes on oversize or odd fields: size limits are format checks. */
static void odd_events_do_not_crash(void **state)
{
    struct room r;
    room_open(&r, "10", "public");
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[0] = '@';
    big[sizeof big - 1] = '\0';
    DENY(&r, E(&r, .type = "m.custom", .sender = MOD, .state_key = big, .content = "{}"), "8");
    DENY(&r, E(&r, .type = big + 1, .sender = BOB, .state_key = "", .content = "{}"), "7");
    DENY(&r, E(&r, .type = "m.room.member", .sender = BOB, .state_key = BOB, .content = "{\"membership\":7}"), "4.1");
    DENY(&r, E(&r, .type = "m.room.member", .sender = BOB, .content = "{\"membership\":\"join\"}"), "4.1");
    DENY(&r, E(&r, .type = "m.room.message", .sender = "nobody", .content = "{}"), "5");
    room_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_v1),
        cmocka_unit_test(create_creator_until_v10),
        cmocka_unit_test(create_v12),
        cmocka_unit_test(create_must_be_in_state),
        cmocka_unit_test(auth_events_from_another_room),
        cmocka_unit_test(federate_false),
        cmocka_unit_test(aliases_special_case),
        cmocka_unit_test(sender_must_be_joined),
        cmocka_unit_test(third_party_invite_event),
        cmocka_unit_test(required_power_level),
        cmocka_unit_test(no_power_levels_event),
        cmocka_unit_test(at_state_keys),
        cmocka_unit_test(redactions),
        cmocka_unit_test(selection),
        cmocka_unit_test(auth_events_list_v9),
        cmocka_unit_test(auth_events_list_v12),
        cmocka_unit_test(auth_set),
        cmocka_unit_test(odd_events_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
