/* Authorization rules for m.room.member (proto/auth_member.c). The member
 * rule is 5 in v1-v5 and v12, 4 in v6-v11; below it join/invite/leave/ban
 * are .2-.5 up to v7 and .3-.6 from v8 (which adds .2, the
 * join_authorised_via_users_server signature); knock is .6 (v7) / .7 (v8+). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/auth.h"
#include "mxr/keys.h"
#include "mxr/pdu.h"
#include "mxr/sign.h"
#include "tests/proto/test_auth_room.h"

#define DAVE "@dave:d.example"

/* Python signedjson's signature (see third_party_invite_python_vector). */
#define TPI_PY_SIG "WfFVVtmbC8WE3B71OiUl5bqnWpTMw7qAuTscsDm/7QLERf4cilHat/zeo0QIiNCS1OAH4f5jVbeY5hbueRJJCg"
#define TPI_PY_PUB "zLw9osQmfMhVO+DHtXkMx1oSEpdShGLD0sxnnRbrhoQ"

/* x.y.1: the creator's join right after the create event. */
static void first_join_of_creator(void **state)
{
    struct room r;
    room_open(&r, "6", NULL);
    struct ek_state only_create = {0};
    ek_state_put(&only_create, r.create);
    r.st = only_create;
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = ALICE, .state_key = ALICE,
                .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example")));
    /* Two prev events: no longer the first join; no join rules -> like invite. */
    DENY(&r, E(&r, .type = "m.room.member", .sender = ALICE, .state_key = ALICE,
               .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example", "$x:a.example")), "4.2.4");
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL,
               .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example")), "4.2.4");
    room_close(&r);

    /* v10: the creator is content.creator. */
    room_open_full(&r, "10", "{\"creator\":\"" BOB "\"}", "", NULL);
    struct ek_state s = {0};
    ek_state_put(&s, r.create);
    r.st = s;
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = BOB, .state_key = BOB, .content = "{\"membership\":\"join\"}",
                .prev = EK_IDS("$create:a.example")));
    DENY(&r, E(&r, .type = "m.room.member", .sender = ALICE, .state_key = ALICE,
               .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example")), "4.3.4");
    room_close(&r);

    /* v11: the create event's sender, content.creator ignored. */
    room_open_full(&r, "11", "{\"creator\":\"" BOB "\"}", "", NULL);
    r.st = s;
    r.st.ev[0] = r.create;
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = ALICE, .state_key = ALICE,
                .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example")));
    DENY(&r, E(&r, .type = "m.room.member", .sender = BOB, .state_key = BOB, .content = "{\"membership\":\"join\"}",
               .prev = EK_IDS("$create:a.example")), "4.3.4");
    room_close(&r);

    /* v12 5.3.1: "the sender of the m.room.create", not additional creators. */
    room_open_full(&r, "12", "{\"additional_creators\":[\"" BOB "\"]}", "", NULL);
    r.st = s;
    r.st.ev[0] = r.create;
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = ALICE, .state_key = ALICE,
                .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example")));
    DENY(&r, E(&r, .type = "m.room.member", .sender = BOB, .state_key = BOB, .content = "{\"membership\":\"join\"}",
               .prev = EK_IDS("$create:a.example")), "5.3.4");
    room_close(&r);
}

/* Join: sender must be the target (.2), not banned (.3). */
static void join_basics(void **state)
{
    static const struct { const char *ver, *join; } V[] = { { "1", "5.2" }, { "6", "4.2" }, { "8", "4.3" },
                                                            { "12", "5.3" } };
    for (size_t i = 0; i < 4; i++) {
        struct room r;
        char rule[16];
        room_open(&r, V[i].ver, "public");
        ALLOW(&r, room_member(&r, CAROL, CAROL, "join"));                  /* .6/.7 public */
        ALLOW(&r, room_member(&r, BOB, BOB, "join"));                      /* profile change */
        snprintf(rule, sizeof rule, "%s.2", V[i].join);
        DENY(&r, room_member(&r, ALICE, CAROL, "join"), rule);
        room_put(&r, room_member(&r, MOD, CAROL, "ban"));
        snprintf(rule, sizeof rule, "%s.3", V[i].join);
        DENY(&r, room_member(&r, CAROL, CAROL, "join"), rule);
        room_close(&r);
    }
}

/* Join rule invite (.4): invited or joined users only. */
static void join_rule_invite(void **state)
{
    struct room r;
    room_open(&r, "6", "invite");
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "4.2.4");
    room_put(&r, room_member(&r, BOB, CAROL, "invite"));
    ALLOW(&r, room_member(&r, CAROL, CAROL, "join"));
    ALLOW(&r, room_member(&r, BOB, BOB, "join"));
    room_close(&r);
    /* Join rules we do not implement ("private") reject: .6 in v6. */
    room_open(&r, "6", "private");
    room_put(&r, room_member(&r, BOB, CAROL, "invite"));
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "4.2.6");
    room_close(&r);
}

/* v7 4.2.4 adds knock to invite; before v7 "knock" is no join rule. */
static void join_rule_knock(void **state)
{
    struct room r;
    room_open(&r, "7", "knock");
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "4.2.4");
    room_put(&r, room_member(&r, BOB, CAROL, "invite"));
    ALLOW(&r, room_member(&r, CAROL, CAROL, "join"));
    room_close(&r);
    room_open(&r, "6", "knock");
    room_put(&r, room_member(&r, BOB, CAROL, "invite"));
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "4.2.6");
    room_close(&r);
}

#define VIA(u) "{\"membership\":\"join\",\"join_authorised_via_users_server\":\"" u "\"}"
#define SIGNED_BY(server) "{\"signatures\":{\"" server "\":{\"ed25519:x\":\"c2ln\"}}}"

/* v8 4.3.5: restricted joins; v10 4.3.5 adds knock_restricted. */
static void join_rule_restricted(void **state)
{
    struct room r;
    room_open(&r, "8", "restricted");
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD),
                .extra = SIGNED_BY("b.example")));
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "4.3.5.2");
    /* The authoriser must be joined ... */
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(DAVE),
               .extra = SIGNED_BY("d.example")), "4.3.5.2");
    room_put(&r, room_member(&r, BOB, DAVE, "invite"));
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(DAVE),
               .extra = SIGNED_BY("d.example")), "4.3.5.2");
    /* ... and able to invite. */
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(BOB),
                .extra = SIGNED_BY("b.example")));
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50},\"invite\":10}");
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(BOB),
               .extra = SIGNED_BY("b.example")), "4.3.5.2");
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD),
                .extra = SIGNED_BY("b.example")));
    /* 4.3.5.1: joined (a profile change) and invited users need no authoriser. */
    ALLOW(&r, room_member(&r, BOB, BOB, "join"));
    room_put(&r, room_member(&r, MOD, CAROL, "invite"));
    ALLOW(&r, room_member(&r, CAROL, CAROL, "join"));
    room_close(&r);

    /* v7 knows no "restricted": 4.2.6. */
    room_open(&r, "7", "restricted");
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD)), "4.2.6");
    room_close(&r);

    /* knock_restricted joins like restricted from v10; v9 rejects it (4.3.7). */
    room_open(&r, "10", "knock_restricted");
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD),
                .extra = SIGNED_BY("b.example")));
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "4.3.5.2");
    room_close(&r);
    room_open(&r, "9", "knock_restricted");
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD),
               .extra = SIGNED_BY("b.example")), "4.3.7");
    room_close(&r);

    /* v12: the creator (infinite power) may authorise; rule 5.3.5.2. */
    room_open(&r, "12", "restricted");
    ALLOW(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(ALICE),
                .extra = SIGNED_BY("a.example")));
    DENY(&r, room_member(&r, CAROL, CAROL, "join"), "5.3.5.2");
    room_close(&r);
}

/* v8 4.2.1 (v12 5.2.1): an event naming join_authorised_via_users_server
 * must be signed by that user's server, whatever the membership. */
static void authoriser_signature(void **state)
{
    struct room r;
    room_open(&r, "8", "restricted");
    DENY(&r, room_member_c(&r, CAROL, CAROL, VIA(MOD)), "4.2.1");
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD),
               .extra = "{\"signatures\":{\"b.example\":{}}}"), "4.2.1");
    DENY(&r, E(&r, .type = "m.room.member", .sender = CAROL, .state_key = CAROL, .content = VIA(MOD),
               .extra = SIGNED_BY("c.example")), "4.2.1");
    DENY(&r, room_member_c(&r, BOB, BOB, "{\"membership\":\"leave\",\"join_authorised_via_users_server\":\"" MOD "\"}"),
         "4.2.1");
    DENY(&r, room_member_c(&r, CAROL, CAROL, "{\"membership\":\"join\",\"join_authorised_via_users_server\":5}"),
         "4.2.1");

    /* With keys: a real signature by b.example's key. */
    struct mxr_signing_key key, other;
    struct mxr_err err = {0};
    uint8_t seed[32] = { 1, 2, 3 }, seed2[32] = { 9 };
    assert_int_equal(mxr_key_from_seed(&key, seed, "k1", &err), 0);
    assert_int_equal(mxr_key_from_seed(&other, seed2, "k1", &err), 0);
    struct mxr_single_key one = { .server = "b.example", .key_id = key.key_id };
    memcpy(one.public_key, key.public_key, 32);
    struct mxr_verify_keys keys = { mxr_single_key_lookup, &one };
    struct mxr_auth_opts opts = { .keys = &keys };

    json_t *pdu = ek_pdu(&r.k, &(struct ek_def){ .id = "$signed:c.example", .type = "m.room.member", .sender = CAROL,
                                                 .state_key = CAROL, .content = VIA(MOD), .prev = EK_IDS("$p") });
    assert_int_equal(mxr_pdu_sign(pdu, r.k.rv, "b.example", &key, &err), 0);
    const struct mxr_event *good = ek_add_pdu(&r.k, pdu);
    json_decref(pdu);
    assert_int_equal(mxr_auth_check_opts(r.k.rv, good, ek_state_lookup, &r.st, &opts, &err), 0);

    pdu = ek_pdu(&r.k, &(struct ek_def){ .id = "$forged:c.example", .type = "m.room.member", .sender = CAROL,
                                         .state_key = CAROL, .content = VIA(MOD), .prev = EK_IDS("$p") });
    assert_int_equal(mxr_pdu_sign(pdu, r.k.rv, "b.example", &other, &err), 0);
    const struct mxr_event *forged = ek_add_pdu(&r.k, pdu);
    json_decref(pdu);
    assert_int_equal(mxr_auth_check_opts(r.k.rv, forged, ek_state_lookup, &r.st, &opts, &err), -1);
    assert_memory_equal(err.msg, "rule 4.2.1:", 11);
    /* Presence alone satisfies the keyless check. */
    assert_int_equal(mxr_auth_check(r.k.rv, forged, ek_state_lookup, &r.st, &err), 0);

    /* skip_server_signatures (the `mxr auth` verb). */
    struct mxr_auth_opts skip = { .skip_server_signatures = true };
    const struct mxr_event *bare = room_member_c(&r, CAROL, CAROL, VIA(MOD));
    assert_int_equal(mxr_auth_check_opts(r.k.rv, bare, ek_state_lookup, &r.st, &skip, &err), 0);
    room_close(&r);

    /* v7: the key means nothing. */
    room_open(&r, "7", "public");
    ALLOW(&r, room_member_c(&r, CAROL, CAROL, VIA(MOD)));
    room_close(&r);
    room_open(&r, "12", "public");
    DENY(&r, room_member_c(&r, CAROL, CAROL, VIA(MOD)), "5.2.1");
    room_close(&r);
}

/* Invites without third_party_invite. */
static void invites(void **state)
{
    static const struct { const char *ver, *inv; } V[] = { { "1", "5.3" }, { "6", "4.3" }, { "8", "4.4" },
                                                           { "12", "5.4" } };
    for (size_t i = 0; i < 4; i++) {
        struct room r;
        char rule[16];
        room_open(&r, V[i].ver, "invite");
        ALLOW(&r, room_member(&r, BOB, CAROL, "invite"));                 /* .4: invite level 0 */
        snprintf(rule, sizeof rule, "%s.2", V[i].inv);
        DENY(&r, room_member(&r, CAROL, DAVE, "invite"), rule);
        snprintf(rule, sizeof rule, "%s.3", V[i].inv);
        DENY(&r, room_member(&r, BOB, MOD, "invite"), rule);              /* already joined */
        room_put(&r, room_member(&r, MOD, CAROL, "ban"));
        DENY(&r, room_member(&r, MOD, CAROL, "invite"), rule);            /* banned */
        ALLOW(&r, room_member(&r, BOB, DAVE, "invite"));
        room_set_pl(&r, r.k.rv->privileged_creators ? "{\"users\":{\"" MOD "\":50},\"invite\":50}"
                                                     : "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50},\"invite\":50}");
        snprintf(rule, sizeof rule, "%s.5", V[i].inv);
        DENY(&r, room_member(&r, BOB, DAVE, "invite"), rule);
        ALLOW(&r, room_member(&r, MOD, DAVE, "invite"));
        room_close(&r);
    }
}

/* ---- third-party invites (v8: rule 4.4.1) --------------------------------- */

struct tpi_fixture {
    struct room r;
    struct mxr_signing_key id_key, other_key;
    char pub[MXR_KEY_B64_LEN + 1];
};

static void tpi_open(struct tpi_fixture *f, const char *version)
{
    struct mxr_err err = {0};
    uint8_t seed[32] = { 0x42 }, seed2[32] = { 0x43 };
    assert_int_equal(mxr_key_from_seed(&f->id_key, seed, "0", &err), 0);
    assert_int_equal(mxr_key_from_seed(&f->other_key, seed2, "0", &err), 0);
    mxr_key_public_b64(&f->id_key, f->pub);
    room_open(&f->r, version, "invite");
}

/* The member content for an invite of `mxid` with token `token`, its signed
 * block signed by `key` as identity server id.example. */
static char *tpi_content(const char *mxid, const char *token, const struct mxr_signing_key *key)
{
    json_t *signed_obj = json_pack("{s:s,s:s}", "mxid", mxid, "token", token);
    struct mxr_err err = {0};
    if (key && mxr_sign_json(signed_obj, "id.example", key, &err))
        fail_msg("%s", err.msg);
    json_t *c = json_pack("{s:s,s:{s:s,s:o}}", "membership", "invite", "third_party_invite", "display_name", "c...",
                          "signed", signed_obj);
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

static const struct mxr_event *tpi_invite(struct tpi_fixture *f, const char *sender, const char *target,
                                          const char *mxid, const char *token, const struct mxr_signing_key *key)
{
    char *content = tpi_content(mxid, token, key);
    const struct mxr_event *ev = room_member_c(&f->r, sender, target, content);
    free(content);
    return ev;
}

static void tpi_event(struct tpi_fixture *f, const char *sender, const char *token, const char *content)
{
    room_put(&f->r, E(&f->r, .type = "m.room.third_party_invite", .sender = sender, .state_key = token,
                      .content = content));
}

static void third_party_invites(void **state)
{
    struct tpi_fixture f;
    char content[256];
    tpi_open(&f, "8");
    snprintf(content, sizeof content, "{\"display_name\":\"c...\",\"public_key\":\"%s\"}", f.pub);
    tpi_event(&f, MOD, "tok", content);

    ALLOW(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.id_key));                /* 4.4.1.7 */
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.other_key), "4.4.1.8");
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", NULL), "4.4.1.8");            /* no signatures */
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, DAVE, "tok", &f.id_key), "4.4.1.4");
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "other", &f.id_key), "4.4.1.5");
    DENY(&f.r, tpi_invite(&f, BOB, CAROL, CAROL, "tok", &f.id_key), "4.4.1.6");
    DENY(&f.r, room_member_c(&f.r, MOD, CAROL, "{\"membership\":\"invite\",\"third_party_invite\":{}}"), "4.4.1.2");
    DENY(&f.r, room_member_c(&f.r, MOD, CAROL, "{\"membership\":\"invite\",\"third_party_invite\":5}"), "4.4.1.2");
    DENY(&f.r, room_member_c(&f.r, MOD, CAROL, "{\"membership\":\"invite\",\"third_party_invite\":"
                                               "{\"signed\":{\"mxid\":\"" CAROL "\"}}}"), "4.4.1.3");
    /* The 3pid path does not ask for the invite level (rule 6.1 gated the
     * m.room.third_party_invite event instead). */
    room_set_pl(&f.r, "{\"users\":{\"" ALICE "\":100},\"invite\":100}");
    ALLOW(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.id_key));
    room_put(&f.r, room_member(&f.r, ALICE, CAROL, "ban"));
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.id_key), "4.4.1.1");
    room_close(&f.r);

    /* Keys from public_keys, and URL-safe base64. */
    tpi_open(&f, "10");
    char url[MXR_KEY_B64_LEN + 1];
    strcpy(url, f.pub);
    for (char *p = url; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    snprintf(content, sizeof content, "{\"public_key\":\"AAAA\",\"public_keys\":[{\"public_key\":\"%s\"}]}", url);
    tpi_event(&f, MOD, "tok", content);
    ALLOW(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.id_key));
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.other_key), "4.4.1.8");
    room_close(&f.r);

    /* v1 numbering: 5.3.1.x. */
    tpi_open(&f, "1");
    snprintf(content, sizeof content, "{\"public_key\":\"%s\"}", f.pub);
    tpi_event(&f, MOD, "tok", content);
    ALLOW(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.id_key));
    DENY(&f.r, tpi_invite(&f, MOD, CAROL, CAROL, "tok", &f.other_key), "5.3.1.8");
    room_close(&f.r);
}

/* The signature check against an independent oracle: a signed block made by
 * Python's signedjson (seed 0x42 then zeros, key ed25519:0, server
 * id.example, {"mxid":"@carol:c.example","token":"tok"}). */
static void third_party_invite_python_vector(void **state)
{
    struct tpi_fixture f;
    tpi_open(&f, "9");
    assert_string_equal(f.pub, TPI_PY_PUB);
    tpi_event(&f, MOD, "tok", "{\"public_key\":\"" TPI_PY_PUB "\"}");
    ALLOW(&f.r, room_member_c(&f.r, MOD, CAROL,
                              "{\"membership\":\"invite\",\"third_party_invite\":{\"display_name\":\"c\",\"signed\":"
                              "{\"mxid\":\"" CAROL "\",\"token\":\"tok\",\"signatures\":{\"id.example\":{\"ed25519:0\":"
                              "\"" TPI_PY_SIG "\"}}}}}"));
    room_close(&f.r);
}

/* Leave: v6 4.4.x, v7 adds knock to 4.4.1. */
static void leaves(void **state)
{
    struct room r;
    room_open(&r, "6", "invite");
    ALLOW(&r, room_member(&r, BOB, BOB, "leave"));                         /* 4.4.1 */
    DENY(&r, room_member(&r, CAROL, CAROL, "leave"), "4.4.1");
    room_put(&r, room_member(&r, BOB, CAROL, "invite"));
    ALLOW(&r, room_member(&r, CAROL, CAROL, "leave"));                     /* rejecting an invite */
    ALLOW(&r, room_member(&r, MOD, BOB, "leave"));                         /* 4.4.4 kick */
    DENY(&r, room_member(&r, BOB, MOD, "leave"), "4.4.5");
    DENY(&r, room_member(&r, DAVE, BOB, "leave"), "4.4.2");
    DENY(&r, room_member(&r, MOD, ALICE, "leave"), "4.4.5");
    room_put(&r, room_member(&r, "@mod2:b.example", "@mod2:b.example", "join"));
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50,\"@mod2:b.example\":50}}");
    DENY(&r, room_member(&r, MOD, "@mod2:b.example", "leave"), "4.4.5"); /* equal levels */
    room_put(&r, room_member(&r, MOD, DAVE, "ban"));
    ALLOW(&r, room_member(&r, MOD, DAVE, "leave"));                        /* unban: 50 >= ban and kick */
    DENY(&r, room_member(&r, DAVE, DAVE, "leave"), "4.4.1");               /* banned users cannot leave */
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50},\"ban\":60}");
    DENY(&r, room_member(&r, MOD, DAVE, "leave"), "4.4.3");
    ALLOW(&r, room_member(&r, ALICE, DAVE, "leave"));
    room_set_pl(&r, "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50},\"kick\":60}");
    DENY(&r, room_member(&r, MOD, BOB, "leave"), "4.4.5");
    /* A knock in the state (impossible in v6, but the rule is the rule). */
    room_put(&r, room_member(&r, CAROL, CAROL, "knock"));
    DENY(&r, room_member(&r, CAROL, CAROL, "leave"), "4.4.1");
    room_close(&r);

    room_open(&r, "7", "knock");
    room_put(&r, room_member(&r, CAROL, CAROL, "knock"));
    ALLOW(&r, room_member(&r, CAROL, CAROL, "leave"));
    room_close(&r);
    room_open(&r, "8", "invite");
    DENY(&r, room_member(&r, BOB, MOD, "leave"), "4.5.5");
    room_close(&r);
}

/* Ban: v6 4.5.x, v8 4.6.x. */
static void bans(void **state)
{
    struct room r;
    room_open(&r, "6", "invite");
    ALLOW(&r, room_member(&r, MOD, BOB, "ban"));
    ALLOW(&r, room_member(&r, MOD, CAROL, "ban"));                         /* never in the room */
    DENY(&r, room_member(&r, BOB, CAROL, "ban"), "4.5.3");
    DENY(&r, room_member(&r, CAROL, BOB, "ban"), "4.5.1");
    DENY(&r, room_member(&r, MOD, ALICE, "ban"), "4.5.3");
    ALLOW(&r, room_member(&r, ALICE, MOD, "ban"));
    room_close(&r);
    room_open(&r, "8", "invite");
    DENY(&r, room_member(&r, BOB, CAROL, "ban"), "4.6.3");
    room_close(&r);
}

/* Knock: v7 4.6.x; v8+ 4.7.x; v10 adds knock_restricted. */
static void knocks(void **state)
{
    struct room r;
    room_open(&r, "7", "knock");
    ALLOW(&r, room_member(&r, CAROL, CAROL, "knock"));
    DENY(&r, room_member(&r, BOB, CAROL, "knock"), "4.6.2");
    DENY(&r, room_member(&r, BOB, BOB, "knock"), "4.6.4");                 /* joined */
    room_put(&r, room_member(&r, BOB, DAVE, "invite"));
    DENY(&r, room_member(&r, DAVE, DAVE, "knock"), "4.6.4");
    room_put(&r, room_member(&r, MOD, CAROL, "ban"));
    DENY(&r, room_member(&r, CAROL, CAROL, "knock"), "4.6.4");
    room_put(&r, room_member(&r, MOD, CAROL, "leave"));
    ALLOW(&r, room_member(&r, CAROL, CAROL, "knock"));
    room_close(&r);

    room_open(&r, "7", "invite");
    DENY(&r, room_member(&r, CAROL, CAROL, "knock"), "4.6.1");
    room_close(&r);
    room_open(&r, "7", NULL);
    DENY(&r, room_member(&r, CAROL, CAROL, "knock"), "4.6.1");
    room_close(&r);
    room_open(&r, "9", "knock_restricted");
    DENY(&r, room_member(&r, CAROL, CAROL, "knock"), "4.7.1");
    room_close(&r);
    room_open(&r, "10", "knock_restricted");
    ALLOW(&r, room_member(&r, CAROL, CAROL, "knock"));
    room_close(&r);
    room_open(&r, "12", "knock");
    ALLOW(&r, room_member(&r, CAROL, CAROL, "knock"));
    DENY(&r, room_member(&r, CAROL, DAVE, "knock"), "5.7.2");
    room_close(&r);
    /* v6 has no knock membership: unknown (4.6). */
    room_open(&r, "6", "knock");
    DENY(&r, room_member(&r, CAROL, CAROL, "knock"), "4.6");
    room_close(&r);
}

/* Unknown membership: v1 5.6, v7 4.7, v8 4.8, v12 5.8; missing: x.1. */
static void unknown_membership(void **state)
{
    static const struct { const char *ver, *rule, *missing; } V[] = {
        { "1", "5.6", "5.1" }, { "7", "4.7", "4.1" }, { "8", "4.8", "4.1" }, { "12", "5.8", "5.1" },
    };
    for (size_t i = 0; i < 4; i++) {
        struct room r;
        room_open(&r, V[i].ver, "public");
        DENY(&r, room_member(&r, BOB, BOB, "foo"), V[i].rule);
        DENY(&r, room_member(&r, BOB, BOB, "JOIN"), V[i].rule);
        DENY(&r, room_member_c(&r, BOB, BOB, "{}"), V[i].missing);
        room_close(&r);
    }
}

/* v12: creators have infinite power: nobody can kick or ban them, they can
 * kick anyone else, also without any power levels event. */
static void v12_creators(void **state)
{
    struct room r;
    room_open_full(&r, "12", "{\"additional_creators\":[\"" BOB "\"]}", NULL, "public");
    DENY(&r, room_member(&r, MOD, ALICE, "leave"), "5.5.5");
    DENY(&r, room_member(&r, MOD, ALICE, "ban"), "5.6.3");
    ALLOW(&r, room_member(&r, ALICE, MOD, "ban"));
    ALLOW(&r, room_member(&r, BOB, MOD, "leave"));     /* bob is a creator, not in users */
    DENY(&r, room_member(&r, BOB, ALICE, "leave"), "5.5.5"); /* infinite is not below infinite */
    ALLOW(&r, E(&r, .type = "m.room.name", .sender = BOB, .state_key = "", .content = "{}"));
    room_close(&r);

    room_open_full(&r, "12", "{\"additional_creators\":[\"" BOB "\"]}", "", "public");
    ALLOW(&r, E(&r, .type = "m.room.name", .sender = BOB, .state_key = "", .content = "{}"));
    ALLOW(&r, room_member(&r, BOB, MOD, "ban"));
    DENY(&r, E(&r, .type = "m.room.name", .sender = MOD, .state_key = "", .content = "{}"), "8");
    room_close(&r);

    /* v11: the creator is an ordinary user once power levels exist. */
    room_open_full(&r, "11", NULL, "{\"users\":{\"" MOD "\":50}}", "public");
    ALLOW(&r, room_member(&r, MOD, ALICE, "leave"));
    room_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_join_of_creator),
        cmocka_unit_test(join_basics),
        cmocka_unit_test(join_rule_invite),
        cmocka_unit_test(join_rule_knock),
        cmocka_unit_test(join_rule_restricted),
        cmocka_unit_test(authoriser_signature),
        cmocka_unit_test(invites),
        cmocka_unit_test(third_party_invites),
        cmocka_unit_test(third_party_invite_python_vector),
        cmocka_unit_test(leaves),
        cmocka_unit_test(bans),
        cmocka_unit_test(knocks),
        cmocka_unit_test(unknown_membership),
        cmocka_unit_test(v12_creators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
