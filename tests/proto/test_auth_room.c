/* See test_auth_room.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/proto/test_auth_room.h"

const struct mxr_event *room_event(struct room *r, struct ek_def *d)
{
    static const char *const default_prev[] = { "$prev:a.example", NULL };
    char id[64];
    if (!d->id) {
        snprintf(id, sizeof id, "$e%d:a.example", ++r->next_id);
        d->id = id;
    }
    if (!d->prev)
        d->prev = default_prev;
    const struct mxr_event *ev = ek_add(&r->k, d);
    if (!ev)
        fail_msg("eventkit: %s", r->k.last_error);
    return ev;
}

const struct mxr_event *room_put(struct room *r, const struct mxr_event *ev)
{
    return ek_state_put(&r->st, ev);
}

const struct mxr_event *room_member_c(struct room *r, const char *sender, const char *target, const char *content)
{
    return E(r, .type = "m.room.member", .sender = sender, .state_key = target, .content = content);
}

const struct mxr_event *room_member(struct room *r, const char *sender, const char *target, const char *membership)
{
    char content[128];
    snprintf(content, sizeof content, "{\"membership\":\"%s\"}", membership);
    return room_member_c(r, sender, target, content);
}

void room_set_pl(struct room *r, const char *content)
{
    r->pl = room_put(r, E(r, .type = "m.room.power_levels", .sender = ALICE, .state_key = "", .content = content));
}

void room_set_join_rule(struct room *r, const char *join_rule)
{
    char content[128];
    snprintf(content, sizeof content, "{\"join_rule\":\"%s\"}", join_rule);
    r->jr = room_put(r, E(r, .type = "m.room.join_rules", .sender = ALICE, .state_key = "", .content = content));
}

void room_open_full(struct room *r, const char *version, const char *create_content, const char *pl_content,
                    const char *join_rule)
{
    memset(r, 0, sizeof *r);
    ek_init(&r->k, version);
    if (!create_content)
        create_content = r->k.rv->implicit_room_creator ? "{}" : "{\"creator\":\"" ALICE "\"}";
    r->create = room_put(r, E(r, .id = "$create:a.example", .type = "m.room.create", .sender = ALICE,
                              .state_key = "", .content = create_content, .prev = EK_IDS(NULL)));
    room_put(r, E(r, .type = "m.room.member", .sender = ALICE, .state_key = ALICE,
                  .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create:a.example")));
    if (!pl_content)
        pl_content = r->k.rv->privileged_creators ? "{\"users\":{\"" MOD "\":50}}"
                                                  : "{\"users\":{\"" ALICE "\":100,\"" MOD "\":50}}";
    if (pl_content[0])
        room_set_pl(r, pl_content);
    if (join_rule)
        room_set_join_rule(r, join_rule);
    room_put(r, room_member(r, MOD, MOD, "join"));
    room_put(r, room_member(r, BOB, BOB, "join"));
}

void room_open(struct room *r, const char *version, const char *join_rule)
{
    room_open_full(r, version, NULL, NULL, join_rule);
}

void room_close(struct room *r)
{
    ek_free(&r->k);
}

bool room_allows(struct room *r, const struct mxr_event *ev)
{
    mxr_err_clear(&r->err);
    return mxr_auth_check(r->k.rv, ev, ek_state_lookup, &r->st, &r->err) == 0;
}

void assert_allowed_at(struct room *r, const struct mxr_event *ev, const char *file, int line)
{
    if (!ev)
        _fail(file, line);
    if (!room_allows(r, ev)) {
        print_error("v%s: %s (%s) denied: %s\n", r->k.rv->id, ev->event_id, ev->type, r->err.msg);
        _fail(file, line);
    }
}

void assert_denied_at(struct room *r, const struct mxr_event *ev, const char *rule, const char *file, int line)
{
    if (!ev)
        _fail(file, line);
    if (room_allows(r, ev)) {
        print_error("v%s: %s (%s) allowed, expected rule %s to deny it\n", r->k.rv->id, ev->event_id, ev->type,
                    rule);
        _fail(file, line);
    }
    char want[32];
    snprintf(want, sizeof want, "rule %s:", rule);
    if (strncmp(r->err.msg, want, strlen(want)) != 0 || strcmp(r->err.errcode, "M_FORBIDDEN") != 0) {
        print_error("v%s: %s denied by \"%s: %s\", expected %s\n", r->k.rv->id, ev->event_id, r->err.errcode,
                    r->err.msg, want);
        _fail(file, line);
    }
}
