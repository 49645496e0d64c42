/* Room versions 1-12 as a table of flags (spec: rooms/v1.md ... v12.md).
 * Every version-dependent decision in the library reads one of these flags;
 * no code compares version strings. */
#ifndef MXR_ROOMVER_H
#define MXR_ROOMVER_H

#include <stdbool.h>

#include "mxr/error.h"

enum mxr_event_format {
    MXR_EVFMT_V1 = 1,  /* v1-v2: event_id on the wire ($opaque:domain); prev/auth as [id, {sha256}] pairs */
    MXR_EVFMT_V2,      /* v3: ID = $ + std base64 reference hash; prev/auth as ID lists */
    MXR_EVFMT_V3,      /* v4-v11: ID = $ + URL-safe base64 reference hash */
    MXR_EVFMT_V4,      /* v12: as V3, and room_id = ! + create event's ID body; create has no room_id */
};

enum mxr_stateres_algo {
    MXR_STATERES_V1 = 1,   /* room version 1 */
    MXR_STATERES_V2,       /* room versions 2-11 */
    MXR_STATERES_V2_1,     /* room version 12 (MSC4297) */
};

enum mxr_redaction_rules {
    MXR_REDACT_V1 = 1,  /* v1-v5: keeps m.room.aliases content */
    MXR_REDACT_V6,      /* v6-v7: aliases no longer special */
    MXR_REDACT_V8,      /* v8: join_rules keeps allow */
    MXR_REDACT_V9,      /* v9-v10: member keeps join_authorised_via_users_server */
    MXR_REDACT_V11,     /* v11-v12: drops origin/membership/prev_state; create keeps all;
                           power_levels keeps invite; redaction keeps redacts; member keeps
                           third_party_invite.signed */
};

struct mxr_room_version {
    const char *id;                         /* "1" ... "12" */
    enum mxr_event_format event_format;
    enum mxr_stateres_algo state_res;
    enum mxr_redaction_rules redaction;
    bool enforce_key_validity;              /* v5+: signing key valid_until_ts checked for events */
    bool special_case_aliases_auth;         /* v1-v5: m.room.aliases auth special case */
    bool strict_canonical_json;             /* v6+: ints in range, no floats */
    bool limit_notifications_power_levels;  /* v6+: notifications.* changes need that power */
    bool knock_join_rule;                   /* v7+ */
    bool restricted_join_rule;              /* v8+ */
    bool knock_restricted_join_rule;        /* v10+ */
    bool enforce_int_power_levels;          /* v10+: power level values must be JSON integers */
    bool implicit_room_creator;             /* v11+: create has no `creator`; sender is the creator */
    bool redacts_in_content;                /* v11+: m.room.redaction's `redacts` lives in content */
    bool privileged_creators;               /* v12: creators (sender + additional_creators) have infinite power */
    bool room_id_is_create_hash;            /* v12: room ID derived from the create event; create not in auth_events */
    bool event_id_needs_signature_of_domain;/* v1-v2: the event_id's domain must also have signed */
    bool redaction_auth_rule;               /* v1-v2: auth rule 11 (redact level, or same event_id domain);
                                               v3+ moved it to "Handling redactions" */
};

/* The version, or NULL with M_UNSUPPORTED_ROOM_VERSION. */
const struct mxr_room_version *mxr_room_version_get(const char *id, struct mxr_err *err);

/* All known versions, in order; *n receives the count. */
const struct mxr_room_version *mxr_room_versions(unsigned *n);

/* Default for new rooms (v11; see the developers' guide on v12 and older clients). */
#define MXR_DEFAULT_ROOM_VERSION "11"

#endif
