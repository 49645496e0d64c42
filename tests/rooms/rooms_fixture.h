/* Test fixture for relay/rooms: a real store in a private temporary
 * directory, a rooms context for server "a.test" with a fixed clock, two
 * remote servers ("b.test", "c.test") whose keys are injected through the
 * key lookup, recorded notices, and one-line builders of signed remote PDUs. */
#ifndef MXR_TESTS_ROOMS_FIXTURE_H
#define MXR_TESTS_ROOMS_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/keys.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

#define RFX_IDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define RFX_NONE ((const char *const[]){NULL})

struct rfx_notice {
    char event_id[MXR_ID_MAX + 1];
    char room_id[MXR_ID_MAX + 1];
    enum mxr_pdu_outcome outcome;
    bool local, remote_invite;
    size_t n_missing;
    char first_missing[MXR_ID_MAX + 1];
};

struct rfx {
    char dir[512];
    struct mxr_store *store;
    struct mxr_rooms *rooms;
    struct mxr_signing_key a_key, b_key, c_key, wrong_key;
    int64_t now;                  /* the rooms clock */
    int64_t b_valid_until;        /* b.test's key validity (INT64_MAX by default) */
    struct rfx_notice notices[512];
    size_t n_notices;
    struct mxr_store_txn *r;      /* read transaction of rfx_read */
};

void rfx_open(struct rfx *f, const char *default_room_version);
/* Closes rooms and store and opens them again on the same directory. */
void rfx_reopen(struct rfx *f);
void rfx_close(struct rfx *f);

/* A read transaction kept in f->r (ending any previous one). */
struct mxr_store_txn *rfx_read(struct rfx *f);
void rfx_read_end(struct rfx *f);

/* A remote (or local) PDU, built and signed by the sender's server.
 * prev NULL: all current forward extremities; auth NULL: the auth events
 * selection over the current state (RFX_NONE for an empty list); depth 0:
 * deepest prev + 1; ts 0: the clock; key NULL: the sender's server key. */
struct rfx_ev {
    const char *type;
    const char *sender;
    const char *state_key;
    const char *content;          /* JSON text; NULL: {} */
    const char *const *prev;
    const char *const *auth;
    int64_t depth;
    int64_t ts;
    const struct mxr_signing_key *key;
};
json_t *rfx_pdu(struct rfx *f, const char *room_id, const struct rfx_ev *d, char id_out[MXR_ID_MAX + 1]);
#define RFX_PDU(f, room, id, ...) rfx_pdu((f), (room), &(struct rfx_ev){__VA_ARGS__}, (id))

/* Ingests one PDU from b.test and returns its result (asserts the call
 * itself succeeded); takes the reference to pdu. */
struct mxr_pdu_result rfx_ingest1(struct rfx *f, json_t *pdu);

/* Creates a room of alice (@alice:a.test) with the given version and preset. */
void rfx_room(struct rfx *f, const char *version, const char *preset, char room_id[MXR_ID_MAX + 1]);

/* Sends a local event; asserts success. state_key NULL: message. */
void rfx_send(struct rfx *f, const char *room_id, const char *sender, const char *type, const char *state_key,
              const char *content, char id_out[MXR_ID_MAX + 1]);

/* Current state lookups: the event ID ("" when absent). */
const char *rfx_current(struct rfx *f, const char *room_id, const char *type, const char *state_key);
/* Membership of user in the current state ("" when none). */
const char *rfx_membership(struct rfx *f, const char *room_id, const char *user);
/* Stored metadata; asserts the event is stored. */
struct mxr_store_event_meta rfx_meta(struct rfx *f, const char *event_id);
bool rfx_stored(struct rfx *f, const char *event_id);
/* The forward extremities, sorted and comma-joined. */
const char *rfx_extremities(struct rfx *f, const char *room_id);
/* The stored PDU as served (new reference). */
json_t *rfx_stored_pdu(struct rfx *f, const char *event_id);

/* Asserts mxr_store_check passes. */
void rfx_assert_consistent(struct rfx *f);

/* How many notices were recorded for event_id. */
size_t rfx_notices_for(struct rfx *f, const char *event_id, struct rfx_notice *last);

/* Whether a JSON array of strings contains s. */
bool rfx_array_has(const json_t *arr, const char *s);

#endif
