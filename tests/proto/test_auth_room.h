/* A small room for the authorization rule tests (tests/proto/test_auth*.c):
 * alice created it, mod has power 50, bob 0 (all three joined); carol is
 * outside. Expectations in the tests come from the rooms/v*.md pages; each
 * test names the rule it exercises by that version's numbering. */
#ifndef MXR_TEST_AUTH_ROOM_H
#define MXR_TEST_AUTH_ROOM_H

#include <stdbool.h>

#include "mxr/auth.h"
#include "tests/support/eventkit.h"

#define ALICE "@alice:a.example"  /* creator: 100 (v12: infinite, not in users) */
#define MOD   "@mod:b.example"    /* 50 */
#define BOB   "@bob:b.example"    /* 0 */
#define CAROL "@carol:c.example"  /* not in the room */

struct room {
    struct ek_kit k;
    struct ek_state st;
    const struct mxr_event *create, *pl, *jr;
    struct mxr_err err;
    int next_id;
};

/* Creates the room: create (id $create:a.example), alice's join, power
 * levels (pl_content, or NULL for {"users":{alice:100, mod:50}}, alice left
 * out in v12; "" for no power levels event), join rules (join_rule, or NULL
 * for none), then mod's and bob's joins. create_content NULL: creator alice
 * (v1-v10) / {} (v11+). */
void room_open_full(struct room *r, const char *version, const char *create_content, const char *pl_content,
                    const char *join_rule);
void room_open(struct room *r, const char *version, const char *join_rule);
void room_close(struct room *r);

/* A new event (not added to the state); auto ID "$eN:a.example" unless
 * d->id, default prev_events [$prev:a.example]. Fails the test if the kit
 * cannot load it. */
const struct mxr_event *room_event(struct room *r, struct ek_def *d);
#define E(r, ...) room_event((r), &(struct ek_def){ __VA_ARGS__ })

/* Shorthands: a member event with the given content; one with {"membership": m}. */
const struct mxr_event *room_member_c(struct room *r, const char *sender, const char *target, const char *content);
const struct mxr_event *room_member(struct room *r, const char *sender, const char *target, const char *membership);

/* Adds ev to the room state (returns it). */
const struct mxr_event *room_put(struct room *r, const struct mxr_event *ev);
/* Replaces the power levels / join rules in the state. */
void room_set_pl(struct room *r, const char *content);
void room_set_join_rule(struct room *r, const char *join_rule);

/* mxr_auth_check against the room state. */
bool room_allows(struct room *r, const struct mxr_event *ev);

/* Test assertions: allowed; denied by the rule numbered `rule` ("4.3.2"). */
void assert_allowed_at(struct room *r, const struct mxr_event *ev, const char *file, int line);
void assert_denied_at(struct room *r, const struct mxr_event *ev, const char *rule, const char *file, int line);
#define ALLOW(r, ev) assert_allowed_at((r), (ev), __FILE__, __LINE__)
#define DENY(r, ev, rule) assert_denied_at((r), (ev), (rule), __FILE__, __LINE__)

#endif
