/* A tiny room builder for the state resolution tests: events are named
 * ("PA", "MB"), get the ID "$NAME:example.com" (loaded with
 * MXR_EVENT_TRUST_GIVEN_ID), and list auth/prev events by name. In room
 * version 12 the room ID is "!CREATE:example.com" and CREATE is left out of
 * auth_events lists (the room ID names the create event instead). */
#ifndef MXR_TEST_STATERES_KIT_H
#define MXR_TEST_STATERES_KIT_H

#include <jansson.h>
#include <stdint.h>

#include "mxr/event.h"
#include "mxr/roomver.h"
#include "mxr/stateres.h"

#define ALICE "@alice:example.com"
#define BOB "@bob:example.com"
#define CHARLIE "@charlie:example.com"
#define EVELYN "@evelyn:example.com"
#define ZARA "@zara:example.com"

#define KIT_MAX_EVENTS 64

struct kit {
    const struct mxr_room_version *rv;
    char room_id[MXR_ID_MAX + 1];
    struct mxr_event events[KIT_MAX_EVENTS];
    size_t n;
    int64_t ts;       /* origin_server_ts of the next event; incremented per event */
    int64_t depth;    /* depth of the next event (unchanged by kit_event) */
};

void kit_init(struct kit *k, const char *room_version);
void kit_free(struct kit *k);

/* Adds an event. state_key NULL: not a state event. content is JSON text;
 * auth and prev are space-separated event names ("" for none). */
void kit_event(struct kit *k, const char *name, const char *type, const char *state_key, const char *sender,
               const char *content, const char *auth, const char *prev);

/* "$NAME:example.com" (static buffer, valid until the next call). */
const char *kit_id(const char *name);

/* {TYPE: {STATE_KEY: EVENT_ID}} made of the named events (new reference). */
json_t *kit_state(struct kit *k, const char *names);

/* Resolves the states given as name lists; fails the test on error. */
json_t *kit_resolve(struct kit *k, const char *const *states, size_t n, struct mxr_stateres_stats *stats);

/* Asserts that `got` is exactly the state made of the named events. */
void kit_assert_state(struct kit *k, json_t *got, const char *names);

#define KIT_JOIN "{\"membership\":\"join\"}"

/* The room the v2 scenarios start from, origin_server_ts 0-6 in this order:
 *   CREATE  m.room.create by Alice (v1-v10: content.creator Alice)
 *   IMA     Alice joins                      auth CREATE
 *   IPOWER  power levels, users {Alice: 100}  auth CREATE IMA
 *           (v12: users {} - Alice is the creator, with infinite power)
 *   IJR     join_rule public                 auth CREATE IMA IPOWER
 *   IMB, IMC, IMZ: Bob, Charlie, Zara join   auth CREATE IJR IPOWER */
void kit_base_room(struct kit *k);
#define KIT_BASE "CREATE IMA IPOWER IJR IMB IMC IMZ"

/* Power levels content {"users": {Alice: 100 (not in v12), USERS}, EXTRA}
 * where USERS and EXTRA are JSON members ("" for none). Static buffer
 * rotated over 4 calls. */
const char *kit_pl(const struct kit *k, const char *users, const char *extra);

/* The fetch function over k's events (ctx = k). */
const struct mxr_event *kit_fetch(void *ctx, const char *event_id);

#endif
