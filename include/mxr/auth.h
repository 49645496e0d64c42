/* Authorization rules (spec: rooms/v*.md "Authorization rules"), pure.
 *
 * How the daemon runs the spec's checks on receipt of a PDU
 * (server-server API, "Checks performed on receipt of a PDU"), after the
 * format (1), signature (2) and hash (3) checks:
 *
 *   4. mxr_auth_check_auth_events(rv, ev, fetch, ...) -- the rules about the
 *      event's own auth_events list (v1-v11 rule 2, v12 rules 2 and 3), then
 *      mxr_auth_check(rv, ev, mxr_auth_set_lookup, &set, ...) where `set`
 *      holds those auth events (v12: plus the room's create event, which is
 *      never listed). Failure: reject. M_NOT_FOUND from the first call means
 *      an auth event is unknown: fetch it (/event_auth) and retry.
 *   5. mxr_auth_check(rv, ev, <state before ev>, ...): failure rejects.
 *   6. mxr_auth_check(rv, ev, <current state>, ...): failure soft-fails.
 *
 * mxr_auth_check looks up only the (type, state_key) pairs the auth events
 * selection names for ev (mxr_auth_events_selection), so a lookup over the
 * whole room state and one over the auth events give the same answer when
 * they agree on those pairs.
 *
 * Event size limits (65,536 bytes, type/state_key <= 255 bytes) are format
 * checks (mxr_event_load with MXR_EVENT_STRICT_FORMAT), not auth rules; the
 * functions here accept any size.
 */
#ifndef MXR_AUTH_H
#define MXR_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"

/* The state the rules are evaluated against: (type, state_key) -> event, or
 * NULL when absent. For "auth against auth_events" the caller maps the
 * event's auth events; for "auth against state" the room state. In room
 * version 12 the room's create event is not among the auth events, but the
 * lookup must still return it for ("m.room.create", ""). */
typedef const struct mxr_event *(*mxr_state_lookup_fn)(void *ctx, const char *type, const char *state_key);

/* 0 when ev is allowed; -1 with errcode M_FORBIDDEN and a message naming the
 * failed rule, numbered as the room version's page does (e.g. v8-v11
 * "rule 4.3.3: sender is banned"), otherwise; M_BAD_JSON when ev has no
 * type, sender or (except m.room.create) room_id. */
int mxr_auth_check(const struct mxr_room_version *rv, const struct mxr_event *ev,
                   mxr_state_lookup_fn lookup, void *ctx, struct mxr_err *err);

/* Options of mxr_auth_check_opts. */
struct mxr_auth_opts {
    /* Rule "join_authorised_via_users_server" (v8+, rule 4.2; v12: 5.2): the
     * member event must be validly signed by the homeserver of that user.
     * With keys, mxr_pdu_check_server_signature checks the redacted
     * event's signatures by that server (key validity at origin_server_ts
     * in v5+). Without keys
     * (mxr_auth_check), only the presence of a signature entry for that
     * server is checked: the caller must then have verified every
     * signature the event carries (step 2 of the checks on receipt). */
    const struct mxr_verify_keys *keys;
    /* Skip that rule entirely (the `mxr auth` verb, which does no signature
     * checks). */
    bool skip_server_signatures;
};

/* mxr_auth_check with options (NULL: the defaults described above). */
int mxr_auth_check_opts(const struct mxr_room_version *rv, const struct mxr_event *ev,
                        mxr_state_lookup_fn lookup, void *ctx, const struct mxr_auth_opts *opts,
                        struct mxr_err *err);

/* ---- auth events selection (server-server API, "Auth events selection") --- */

struct mxr_auth_key {
    const char *type;
    const char *state_key;
};

/* create, power levels, sender, target, join rules, 3pid invite or authoriser */
#define MXR_AUTH_KEYS_MAX 7

/* The (type, state_key) pairs whose current events belong in ev's
 * auth_events: m.room.create (not in v12), m.room.power_levels, the sender's
 * m.room.member; for member events also the target's member event,
 * m.room.join_rules for join/invite/knock, the m.room.third_party_invite whose
 * state_key is content.third_party_invite.signed.token for 3pid invites, and
 * (v8+) the member event of content.join_authorised_via_users_server for
 * joins. None for m.room.create itself. No pair appears twice. The strings
 * point into ev (or are static). Returns the count (<= MXR_AUTH_KEYS_MAX). */
size_t mxr_auth_events_selection(const struct mxr_room_version *rv, const struct mxr_event *ev,
                                 struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX]);

/* Fetches an event by ID (NULL when unknown); *rejected tells whether it was
 * itself rejected by the checks on receipt. Events stay valid for the call. */
typedef const struct mxr_event *(*mxr_auth_fetch_fn)(void *ctx, const char *event_id, bool *rejected);

/* The rules about ev's own auth_events list (v1-v11: rule 2.1-2.5; v12: rule
 * 2, the room ID naming an accepted create event, and rules 3.1-3.5): no two
 * entries with the same (type, state_key); every entry of a kind the
 * selection names for ev (v12: never the create event); none rejected; the
 * create event among them (v1-v11); all in ev's room. 0 when they hold; -1
 * with M_FORBIDDEN naming the rule, or M_NOT_FOUND when a listed event (or,
 * in v12, the create event) cannot be fetched. m.room.create events are
 * decided by rule 1 alone and always pass here. */
int mxr_auth_check_auth_events(const struct mxr_room_version *rv, const struct mxr_event *ev,
                               mxr_auth_fetch_fn fetch, void *ctx, struct mxr_err *err);

/* A state made of a list of events: for callers holding an event's auth
 * events (or a hand-written state) in an array. */
struct mxr_auth_set {
    const struct mxr_event *const *events;
    size_t n;
};

/* mxr_state_lookup_fn over a struct mxr_auth_set (ctx): the first state
 * event of that type and state_key, or NULL. */
const struct mxr_event *mxr_auth_set_lookup(void *ctx, const char *type, const char *state_key);

/* ---- power levels (client-server m.room.power_levels; rooms/v*.md) -------- */

/* Room creators' power level in room version 12: above every other level. */
#define MXR_POWER_INFINITE INT64_MAX

/* One power level value as the room version reads it: a JSON integer; in
 * v1-v9 also a string of an integer (optional surrounding whitespace, one
 * optional sign, leading zeroes; rooms/v1 "m.room.power_levels events
 * accept values as strings"); in v1-v5 also a float, truncated ("accept
 * values as floats"). 0 with *out set, or -1 when v is none of those or
 * outside the 64-bit range. */
int mxr_power_level_parse(const struct mxr_room_version *rv, const json_t *v, int64_t *out);

/* Whether user_id is a room creator: v12 the create event's sender or one of
 * content.additional_creators; v11 the sender; v1-v10 content.creator. */
bool mxr_auth_is_creator(const struct mxr_room_version *rv, const struct mxr_event *create,
                         const char *user_id);

/* user_id's power level given the room's create and m.room.power_levels
 * events (either may be NULL): v12 creators MXR_POWER_INFINITE; else
 * users[user_id], else users_default (0); with no power levels event the
 * creator has 100 (v1-v11) and everyone else 0. */
int64_t mxr_auth_user_level(const struct mxr_room_version *rv, const struct mxr_event *create,
                            const struct mxr_event *power_levels, const char *user_id);

/* The required power level to send an event of `type`: events[type], else
 * state_default (50) for state events or events_default (0) otherwise. */
int64_t mxr_auth_event_level(const struct mxr_room_version *rv, const struct mxr_event *power_levels,
                             const char *type, bool is_state);

/* A named level of the power levels event: "invite" (default 0), "kick",
 * "ban", "redact" (50), "users_default", "events_default" (0),
 * "state_default" (50). Unknown names give 0. */
int64_t mxr_auth_named_level(const struct mxr_room_version *rv, const struct mxr_event *power_levels,
                             const char *name);

/* ev's sender's power level in the state `lookup` describes (create and
 * power levels looked up there): what state resolution orders by. */
int64_t mxr_auth_sender_level(const struct mxr_room_version *rv, const struct mxr_event *ev,
                              mxr_state_lookup_fn lookup, void *ctx);

#endif
