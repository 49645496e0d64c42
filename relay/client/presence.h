/* Presence (client-server API "Presence", presence.yaml; server-server API
 * "Presence"): local users' presence, set with PUT /presence/{userId}/status
 * and kept in memory (presence is ephemeral by nature: a restart forgets
 * it), remote users' from the inbound EDU store (relay/federation/edus.h),
 * the m.presence EDU to the servers sharing a room with the user, and the
 * top-level `presence` section of /sync. */
#ifndef MXR_RELAY_CLIENT_PRESENCE_H
#define MXR_RELAY_CLIENT_PRESENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxr/error.h"

struct cl_event_filter;
struct mxr_edu_store;
struct mxr_request;
struct mxr_response;
struct mxr_store_txn;

void cl_h_presence_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_presence_get(struct mxr_request *req, struct mxr_response *resp);

/* The /sync share. `since` is the token's presence position (its P field);
 * after cl_presence_sync, `head` is the position for next_batch and
 * `events` the m.presence events ({type, sender, content}) of the users
 * sharing a joined room with user_id (the user included) whose presence
 * changed after `since` (initial: every known one), passing `filter`
 * (NULL: all). A position ahead of ours (a token from before a restart)
 * counts as "everything changed". 0, or -1 on a store failure. */
struct cl_presence_sync {
    uint64_t since, head;
    json_t *events;
};
int cl_presence_sync(struct cl_presence_sync *p, struct mxr_store_txn *t, struct mxr_edu_store *edus,
                     const char *server_name, const char *user_id, bool initial, int64_t now,
                     const struct cl_event_filter *filter, struct mxr_err *err);
void cl_presence_sync_free(struct cl_presence_sync *p);

#endif
