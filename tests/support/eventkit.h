/* eventkit: build events for tests in a line each.
 *
 *     struct ek_kit k;
 *     ek_init(&k, "10");
 *     const struct mxr_event *create = EK(&k, .id = "$create", .type = "m.room.create",
 *         .sender = "@alice:a.example", .state_key = "", .content = "{\"creator\":\"@alice:a.example\"}");
 *     const struct mxr_event *join = EK(&k, .id = "$join", .type = "m.room.member",
 *         .sender = "@alice:a.example", .state_key = "@alice:a.example",
 *         .content = "{\"membership\":\"join\"}", .prev = EK_IDS("$create"), .auth = EK_IDS("$create"));
 *     ...
 *     ek_free(&k);
 *
 * Events are loaded with mxr_event_load(MXR_EVENT_TRUST_GIVEN_ID): an explicit
 * .id is the event ID in any room version, without one the ID is computed.
 * No hashes or signatures are added (give them through .extra). The kit
 * owns the events until ek_free. In room version 12 the kit's room ID
 * becomes "!" + the create event's ID when a create event is added without
 * an explicit .room_id.
 *
 * ek_state is a mutable (type, state_key) -> event map with a
 * mxr_state_lookup_fn-compatible lookup, for auth checks and resolution
 * scenarios.
 */
#ifndef MXR_TESTS_EVENTKIT_H
#define MXR_TESTS_EVENTKIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/event.h"
#include "mxr/roomver.h"

#define EK_MAX_EVENTS 256
#define EK_MAX_STATE 128

/* A NULL-terminated list of event IDs. */
#define EK_IDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct ek_def {
    const char *id;             /* explicit event_id; NULL: computed by the room version */
    const char *type;
    const char *sender;
    const char *state_key;      /* NULL: not a state event */
    const char *content;        /* JSON object text; NULL: {} */
    const char *const *prev;    /* EK_IDS(...); NULL: none */
    const char *const *auth;    /* EK_IDS(...); NULL: none */
    const char *extra;          /* JSON object text merged into the top level (redacts, signatures...) */
    const char *room_id;        /* NULL: the kit's room (v12 create: none) */
    int64_t depth;              /* 0: one more than the previous event's */
    int64_t origin_server_ts;   /* 0: a fixed clock advancing by 1000 ms */
};

struct ek_kit {
    const struct mxr_room_version *rv;
    char room_id[MXR_ID_MAX + 1];
    struct mxr_event *events[EK_MAX_EVENTS];
    size_t n;
    int64_t depth, ts;
    char last_error[MXR_ERR_MSG_MAX + 32];
};

/* room_version: "1" ... "12" (aborts on an unknown one). The room ID starts
 * as "!room:a.example" (v12: set by the create event). */
void ek_init(struct ek_kit *k, const char *room_version);
void ek_free(struct ek_kit *k);

/* The PDU for d (new reference), or NULL if d's JSON texts do not parse
 * (k->last_error says why). Advances the kit's depth and clock. */
json_t *ek_pdu(struct ek_kit *k, const struct ek_def *d);

/* Builds and loads the event; NULL on failure (k->last_error says why). */
const struct mxr_event *ek_add(struct ek_kit *k, const struct ek_def *d);

/* Loads a hand-made PDU (takes its own reference). */
const struct mxr_event *ek_add_pdu(struct ek_kit *k, json_t *pdu);

#define EK(kit, ...) ek_add((kit), &(struct ek_def){ __VA_ARGS__ })

struct ek_state {
    const struct mxr_event *ev[EK_MAX_STATE];
    size_t n;
};

/* Sets (ev->type, ev->state_key) to ev, replacing any previous event there.
 * Non-state events are ignored. Returns ev. */
const struct mxr_event *ek_state_put(struct ek_state *s, const struct mxr_event *ev);

/* Removes (type, state_key). */
void ek_state_del(struct ek_state *s, const char *type, const char *state_key);

/* mxr_state_lookup_fn with ctx = struct ek_state *. */
const struct mxr_event *ek_state_lookup(void *ctx, const char *type, const char *state_key);

#endif
