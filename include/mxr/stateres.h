/* State resolution v1, v2, v2.1 (spec: rooms/fragments/v*-state-res.md), pure. */
#ifndef MXR_STATERES_H
#define MXR_STATERES_H

#include <jansson.h>

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/roomver.h"

/* Fetches any event by ID (NULL when unknown). Events stay valid for the
 * whole call. */
typedef const struct mxr_event *(*mxr_event_fetch_fn)(void *ctx, const char *event_id);

/* Resolves state sets, each a JSON object {TYPE: {STATE_KEY: EVENT_ID}}.
 * Returns the resolved state in the same form (new reference) or NULL. */
json_t *mxr_state_resolve(const struct mxr_room_version *rv, json_t *const *state_sets, size_t n_sets,
                          mxr_event_fetch_fn fetch, void *ctx, struct mxr_err *err);

#endif
