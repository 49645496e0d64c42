/* State resolution v1, v2, v2.1 (spec: rooms/fragments/v*-state-res.md), pure. */
#ifndef MXR_STATERES_H
#define MXR_STATERES_H

#include <jansson.h>
#include <stddef.h>

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/roomver.h"

/* Fetches any event by ID (NULL when unknown). Events stay valid for the
 * whole call. */
typedef const struct mxr_event *(*mxr_event_fetch_fn)(void *ctx, const char *event_id);

/* Resolves state sets, each a JSON object {TYPE: {STATE_KEY: EVENT_ID}}.
 * Returns the resolved state in the same form (new reference) or NULL.
 * Every event named by the sets and every event in their auth chains must
 * be fetchable (M_NOT_FOUND naming the event otherwise); events of another
 * room, a set filing an event under a key other than its own type and
 * state_key, or an auth_events cycle fail with M_BAD_JSON. In room version
 * 12 the create event named by the room ID must be fetchable too. The
 * algorithm is chosen by rv->state_res.
 *
 * Reading of the spec where it leaves room (see proto/stateres_v2.c):
 * - the auth difference is taken over the auth chains of the sets' events,
 *   an auth chain being an event's auth events, recursively, without the
 *   event itself (rooms/fragments/v2-state-res.md "Auth chain"); Synapse
 *   counts each state event as part of its own set's chain, which can put
 *   fewer unconflicted events into the full conflicted set;
 * - fetched events are taken as not rejected: an event whose auth events
 *   were rejected is rejected itself and cannot reach state resolution;
 * - the join_authorised_via_users_server signature rule is not re-checked
 *   (a signature check done on receipt, independent of state). */
json_t *mxr_state_resolve(const struct mxr_room_version *rv, json_t *const *state_sets, size_t n_sets,
                          mxr_event_fetch_fn fetch, void *ctx, struct mxr_err *err);

/* Figures of one resolution (for tests and benchmarks). */
struct mxr_stateres_stats {
    size_t events;            /* distinct events loaded (state sets + auth chains) */
    size_t conflicted_keys;   /* (type, state_key) keys not in the unconflicted state map */
    size_t conflicted;        /* events in the conflicted state set */
    size_t auth_difference;   /* v2/v2.1: events in the auth difference */
    size_t subgraph;          /* v2.1: events in the conflicted state subgraph */
    size_t full_conflicted;   /* v2/v2.1: events in the full conflicted set */
    size_t power_sorted;      /* v2/v2.1: events in X, sorted by reverse topological power order */
    size_t mainline_sorted;   /* v2/v2.1: remaining events, sorted by mainline order */
    size_t rejected;          /* events the iterative auth checks (v1: the passes) did not apply */
};

/* mxr_state_resolve, also filling *stats (may be NULL). */
json_t *mxr_state_resolve_stats(const struct mxr_room_version *rv, json_t *const *state_sets, size_t n_sets,
                                mxr_event_fetch_fn fetch, void *ctx, struct mxr_stateres_stats *stats,
                                struct mxr_err *err);

#endif
