/* State resolution internals shared by stateres*.c (not installed).
 *
 * Every event the resolution touches becomes a node of one graph, found by
 * event ID through a hash map and linked to its auth events by index, so
 * each event is fetched and parsed once per call and every later walk (auth
 * chains, difference, subgraph, sorts) runs over integers. State maps are
 * dense arrays indexed by an interned (type, state_key) key.
 */
#ifndef MXR_STATERES_INT_H
#define MXR_STATERES_INT_H

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/roomver.h"
#include "mxr/stateres.h"

#define SR_NONE (-1)

/* (a, b) string pair -> int32, open addressing. Keys are borrowed and must
 * outlive the map. b == NULL and b == "" are different keys. Hashes are
 * keyed SipHash (libsodium crypto_shorthash) with a random per-map key so
 * chosen event IDs cannot degrade lookups. */
struct sr_map_slot {
    const char *a;      /* NULL: empty slot */
    const char *b;
    uint64_t hash;
    int32_t value;
};

struct sr_map {
    struct sr_map_slot *slots;
    size_t cap;         /* power of two */
    size_t len;
    unsigned char key[crypto_shorthash_KEYBYTES];
};

int sr_map_init(struct sr_map *m, size_t hint, struct mxr_err *err);
void sr_map_free(struct sr_map *m);
int32_t sr_map_get(const struct sr_map *m, const char *a, const char *b);
int sr_map_put(struct sr_map *m, const char *a, const char *b, int32_t value, struct mxr_err *err);

/* Node flags used by the algorithms (scratch, cleared per phase as needed). */
enum {
    SR_F_CONFLICTED = 1u << 0,   /* in the conflicted state set */
    SR_F_FULL = 1u << 1,         /* in the full conflicted set */
    SR_F_POWER_SET = 1u << 2,    /* in X (v2 step 1) */
    SR_F_SUBGRAPH = 1u << 3,     /* in the conflicted state subgraph (v2.1) */
};

struct sr_node {
    const struct mxr_event *ev;
    int32_t *auth;          /* nodes of ev->auth_events, in order (into g->edges; set by sr_graph_seal) */
    uint32_t n_auth;
    uint32_t auth_off;      /* index of auth[0] in g->edges */
    int32_t key;            /* interned (type, state_key); SR_NONE for non-state events */
    int32_t pl_auth;        /* the (m.room.power_levels, "") event among auth events, or SR_NONE */
    /* scratch for the algorithms */
    uint32_t flags;
    uint32_t mark;          /* traversal stamp */
    uint32_t count;
    int32_t aux;
    int64_t power;
};

struct sr_key {
    const char *type;
    const char *state_key;
};

struct sr_graph {
    const struct mxr_room_version *rv;
    mxr_event_fetch_fn fetch;
    void *fetch_ctx;
    struct sr_node *nodes;
    size_t n_nodes, cap_nodes;
    struct sr_map ids;      /* event ID -> node */
    struct sr_key *keys;
    size_t n_keys, cap_keys;
    struct sr_map keymap;   /* (type, state_key) -> key */
    uint32_t stamp;         /* last traversal stamp handed out */
    int32_t room_create;    /* v12: the create event named by room_id; SR_NONE until loaded */
    const char *room_id;    /* of the first event; every event must match */
    int32_t *edges;         /* every node's auth events, one pool (fewer allocations) */
    size_t n_edges, cap_edges;
    int32_t *stack;         /* scratch worklist */
    size_t cap_stack;
};

/* `hint`: the expected number of events (maps are sized for it). */
int sr_graph_init(struct sr_graph *g, const struct mxr_room_version *rv, mxr_event_fetch_fn fetch,
                  void *ctx, size_t hint, struct mxr_err *err);
void sr_graph_free(struct sr_graph *g);

/* The node of event `id` with its whole auth chain loaded (fetching as
 * needed). `what` names where the ID came from, for the error message. */
int32_t sr_graph_load(struct sr_graph *g, const char *id, const char *what, struct mxr_err *err);

/* Points every node's `auth` into the edge pool; call once all events are
 * loaded, before reading `auth`. */
void sr_graph_seal(struct sr_graph *g);

/* Interned key index, or SR_NONE when no loaded event or state set uses it. */
int32_t sr_key_find(const struct sr_graph *g, const char *type, const char *state_key);
int32_t sr_key_intern(struct sr_graph *g, const char *type, const char *state_key, struct mxr_err *err);

/* A fresh traversal stamp (marks of older traversals read as unvisited). */
uint32_t sr_graph_stamp(struct sr_graph *g);

/* Pushes onto g->stack (grown as needed); the stack depth is tracked by the caller. */
int sr_stack_reserve(struct sr_graph *g, size_t n, struct mxr_err *err);

/* The create event an event's auth rules see: its (m.room.create, "") auth
 * event, or in room versions whose room ID is the create event's hash (v12)
 * the event named by the room ID. SR_NONE if there is none. */
int32_t sr_create_of(struct sr_graph *g, int32_t node);

/* Power level of `node`'s sender according to the node's own auth events
 * (spec v2 state res, "reverse topological power ordering", rule 1). */
int64_t sr_sender_power(struct sr_graph *g, int32_t node);

/* Auth rule lookup over a state array: the state's event for the key, else
 * (when `fallback_auth`) the event's own auth event for that key — spec
 * "iterative auth checks". */
struct sr_lookup_ctx {
    struct sr_graph *g;
    const int32_t *state;   /* key -> node or SR_NONE */
    int32_t node;           /* the event being checked */
    bool fallback_auth;
};
const struct mxr_event *sr_lookup(void *ctx, const char *type, const char *state_key);

/* 1 when the event passes the auth rules against `state` (+ fallback), 0 otherwise. */
int sr_auth_allows(struct sr_graph *g, const int32_t *state, int32_t node, bool fallback_auth);

/* One input state set, parsed: (key, node) pairs. */
struct sr_entry {
    int32_t key;
    int32_t node;
};
struct sr_set {
    struct sr_entry *entries;
    size_t n;
};

/* The resolved state array as {TYPE: {STATE_KEY: EVENT_ID}} (new reference). */
json_t *sr_state_to_json(const struct sr_graph *g, const int32_t *state, struct mxr_err *err);

/* Algorithms. `sets` are parsed state sets over g's keys (all events loaded). */
json_t *sr_resolve_v1(struct sr_graph *g, const struct sr_set *sets, size_t n_sets,
                      struct mxr_stateres_stats *stats, struct mxr_err *err);
json_t *sr_resolve_v2(struct sr_graph *g, const struct sr_set *sets, size_t n_sets, bool v2_1,
                      struct mxr_stateres_stats *stats, struct mxr_err *err);

/* The 20-byte SHA-1 digest (FIPS 180-4) of data; room version 1 orders
 * events by sha1(event_id). */
int sr_sha1(const void *data, size_t len, uint8_t out[20]);

#endif
