/* Authorization rules (spec: rooms/v*.md "Authorization rules"), pure. */
#ifndef MXR_AUTH_H
#define MXR_AUTH_H

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/roomver.h"

/* The state the rules are evaluated against: (type, state_key) -> event, or
 * NULL when absent. For "auth against auth_events" the caller maps the
 * event's auth events; for "auth against state" the room state. */
typedef const struct mxr_event *(*mxr_state_lookup_fn)(void *ctx, const char *type, const char *state_key);

/* 0 when ev is allowed; -1 with errcode M_FORBIDDEN and a message naming the
 * failed rule (e.g. "rule 4.3.2: sender is banned") otherwise. */
int mxr_auth_check(const struct mxr_room_version *rv, const struct mxr_event *ev,
                   mxr_state_lookup_fn lookup, void *ctx, struct mxr_err *err);

#endif
