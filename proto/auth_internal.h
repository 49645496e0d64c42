/* Shared between proto/auth*.c: the rule numbering of a room version's page
 * and the events one check reads. Not installed. */
#ifndef MXR_AUTH_INTERNAL_H
#define MXR_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mxr/auth.h"

/* The numbers a room version's "Authorization rules" list gives each rule,
 * so a rejection names the rule as that version's page does. 0: the rule
 * does not exist in that version. */
struct auth_rules {
    int create;           /* 1 */
    int room_id;          /* v12: 2 (room ID is the create event's) */
    int auth_events;      /* 2, v12 3 */
    int federate;         /* 3, v12 4 */
    int aliases;          /* v1-v5: 4 */
    int member;           /* 5 (v1-v5), 4 (v6-v11), 5 (v12) */
    int joined;           /* sender must be joined */
    int tpi;              /* m.room.third_party_invite */
    int required;         /* required power level */
    int at_state_key;     /* state_key starting with '@' */
    int power_levels;
    int redaction;        /* v1-v2: 11 */
    int otherwise;
    /* under `member` */
    int m_signed;         /* v8+: 2 (join_authorised_via_users_server signature) */
    int m_join, m_invite, m_leave, m_ban, m_knock, m_unknown;
    /* under m_join */
    int j_invite, j_restricted, j_public, j_reject;
    /* under power_levels */
    int pl_named_int, pl_maps_int; /* v10+ */
    int pl_users, pl_creators;     /* pl_creators: v12 */
    int pl_no_prev, pl_named, pl_maps_old, pl_maps_new, pl_users_old, pl_users_new, pl_allow;
};

void auth_rules_for(const struct mxr_room_version *rv, struct auth_rules *n);

/* One evaluation of the rules for `ev`: the selected state, looked up once. */
struct auth_run {
    const struct mxr_room_version *rv;
    const struct mxr_event *ev;
    const struct mxr_auth_opts *opts;
    struct auth_rules n;
    const char *room_id;                    /* ev's room */
    const struct mxr_event *create, *power_levels, *join_rules;
    const struct mxr_event *sender_member, *target_member, *authoriser_member, *tpi;
    struct mxr_err *err;
};

/* Sets M_FORBIDDEN "rule ...: ..." and returns -1. */
int auth_deny(struct auth_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Membership of a member event (NULL: "leave", the spec's absent state). */
const char *auth_membership(const struct mxr_event *member);

/* The room an event belongs to: room_id, or for a v12 create event the ID
 * derived from it. NULL when neither is known. */
const char *auth_event_room_id(const struct mxr_event *ev);

/* Rules for m.room.member (proto/auth_member.c) and m.room.power_levels
 * (proto/auth_power.c): 0 allow, -1 reject. */
int auth_member_rules(struct auth_run *r);
int auth_power_levels_rules(struct auth_run *r);

/* Whether `signed` (content.third_party_invite.signed) carries a signature
 * that verifies with one of the third-party invite's public keys. */
bool auth_tpi_signature_ok(const json_t *signed_obj, const struct mxr_event *tpi);

static inline bool auth_str_eq(const char *a, const char *b)
{
    return a && b && __builtin_strcmp(a, b) == 0;
}

#endif
