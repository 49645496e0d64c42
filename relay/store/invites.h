/* Invites of our users to rooms this server is not in (client-server API
 * §Syncing: rooms.invite with invite_state; server-server API §Inviting to a
 * room). The invite itself is stored as an outlier event; this table says
 * that it is pending for the user, where it sits in the event stream (so an
 * incremental /sync shows it once) and what the inviting server told us of
 * the room (stripped state events, JSON array). The row goes when the user
 * joins or rejects the invite. Same conventions as store.h. */
#ifndef MXR_RELAY_STORE_INVITES_H
#define MXR_RELAY_STORE_INVITES_H

#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/store/store.h"

/* Records (or replaces) the pending invite, at a new position of the event
 * stream (mxr_store_stream_head moves past it). */
int mxr_store_remote_invite_put(struct mxr_store_txn *txn, const char *user_id, const char *room_id,
                                const char *event_id, const char *stripped_json, size_t len, struct mxr_err *err);
/* The pending invite's event ID: 0, MXR_STORE_NOT_FOUND, or -1. */
int mxr_store_remote_invite_get(struct mxr_store_txn *txn, const char *user_id, const char *room_id,
                                char event_id[MXR_STORE_ID_MAX + 1], struct mxr_err *err);
/* 0, MXR_STORE_NOT_FOUND, or -1. */
int mxr_store_remote_invite_del(struct mxr_store_txn *txn, const char *user_id, const char *room_id,
                                struct mxr_err *err);

/* Every pending invite of user_id; cb returns non-zero to stop. Pointers are
 * valid during the call. */
typedef int (*mxr_store_remote_invite_cb)(void *arg, const char *room_id, const char *event_id, uint64_t stream,
                                          const char *stripped_json, size_t len);
int mxr_store_remote_invites(struct mxr_store_txn *txn, const char *user_id, mxr_store_remote_invite_cb cb,
                             void *arg, struct mxr_err *err);

#endif
