/* EDUs received in /send transactions (server-server API "EDUs", "Typing
 * Notifications", "Presence", "Receipts", "Device Management", "End-to-End
 * Encryption", "Send-to-device messaging"; the schemas of
 * definitions/event-schemas/): validation, the receiver rules of the spec,
 * and the store the client API reads them from.
 *
 * Typing and presence are ephemeral by nature and live in memory (local
 * users' typing too: mxr_edu_typing_set). Receipts and to-device messages
 * must outlive a restart: once the store is attached
 * (mxr_edu_store_attach, the daemon does) they go to the relay/store/edus.h
 * tables, shared with the local users' own, and the client API reads them
 * there; without a store (unit tests) they stay in memory. Device lists and
 * cross-signing keys are still in memory only. Thread-safe. */
#ifndef MXR_RELAY_EDUS_H
#define MXR_RELAY_EDUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

#define MXR_TYPING_TIMEOUT_MS 30000       /* a remote typing notice holds this long unless renewed */
#define MXR_TO_DEVICE_MAX_PER_USER 1000   /* oldest dropped beyond this */
#define MXR_TO_DEVICE_MESSAGE_ID_MAX 32   /* m.direct_to_device: message_id at most 32 codepoints */

struct mxr_edu_store;

struct mxr_edu_store *mxr_edu_store_new(struct mxr_err *err);
void mxr_edu_store_free(struct mxr_edu_store *s);

/* Keeps to-device messages and receipts in store from now on (NULL: in
 * memory). Call before the listeners start. */
struct mxr_store;
void mxr_edu_store_attach(struct mxr_edu_store *s, struct mxr_store *store);

/* Writes the durable EDUs applied so far (attached store only; else a
 * no-op). mxr_edu_apply only validates and queues them, since its caller
 * holds a read transaction: run this after ending it and before answering
 * the transaction. 0, or -1 when the write failed (the updates are lost). */
int mxr_edu_flush(struct mxr_edu_store *s, struct mxr_err *err);

/* What the validator needs from the daemon. */
struct mxr_edu_ctx {
    const char *origin;        /* the authenticated sending server */
    const char *server_name;   /* ours: to-device recipients must be our users */
    int64_t now;               /* ms since the epoch */
    /* Room-scoped EDUs (m.typing, m.receipt): 0 when origin may act in
     * room_id (the room is known and its server ACL allows origin) and, when
     * user_id is not NULL, that user is joined; -1 with err otherwise. */
    int (*room_check)(void *ctx, const char *room_id, const char *user_id, struct mxr_err *err);
    void *room_ctx;
};

/* Validates one EDU ({edu_type, content}) and applies what is valid.
 * Returns 0 when applied (for receipts and presence: when every entry was;
 * the valid ones are applied in any case), 1 for an edu_type we do not
 * handle (ignored, as unknown EDUs must be), -1 with err naming the field
 * or rule when (part of) it was refused. Refusals never fail a transaction. */
int mxr_edu_apply(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *edu, struct mxr_err *err);

/* ---- reading (the client API) --------------------------------------------- */

/* Increases with every change: a sync loop can wait for it to move. */
uint64_t mxr_edu_position(struct mxr_edu_store *s);

/* The users typing in room_id at now: a JSON array of user IDs (new
 * reference; empty when none). */
json_t *mxr_edu_typing(struct mxr_edu_store *s, const char *room_id, int64_t now);

/* Sets or clears a typing notice (local users; remote ones through
 * mxr_edu_apply), held until `until` (ms since the epoch). */
int mxr_edu_typing_set(struct mxr_edu_store *s, const char *room_id, const char *user_id, bool typing,
                       int64_t until, struct mxr_err *err);

/* The typists as mxr_edu_typing, and whether they changed after position
 * `since` of mxr_edu_position (a position ahead of ours, from before a
 * restart, counts as changed). */
json_t *mxr_edu_typing_since(struct mxr_edu_store *s, const char *room_id, uint64_t since, int64_t now,
                             bool *changed);

/* The room's receipts (remote ones; with a store, all) as the content of a client m.receipt event:
 * {event_id: {receipt_type: {user_id: {ts[, thread_id]}}}} (new reference). */
json_t *mxr_edu_receipts(struct mxr_edu_store *s, const char *room_id);

/* A remote user's presence {presence, last_active_ago (aged to now)[,
 * status_msg][, currently_active]}, or NULL when unknown. */
json_t *mxr_edu_presence(struct mxr_edu_store *s, const char *user_id, int64_t now);

/* A remote user's device list as learnt from m.device_list_update:
 * {stream_id, stale, devices: {device_id: {keys?, device_display_name?}}},
 * or NULL when no update was received. `stale` is true when an update named
 * a prev_id we never saw: the list must be fetched again with
 * GET /user/devices/{userId} (the outbound side's job). */
json_t *mxr_edu_device_list(struct mxr_edu_store *s, const char *user_id);

/* A remote user's cross-signing keys {master_key?, self_signing_key?} from
 * m.signing_key_update, or NULL. */
json_t *mxr_edu_signing_keys(struct mxr_edu_store *s, const char *user_id);

/* To-device messages for our user's device (device_id, or "*" entries for
 * all devices) with a sequence number above `since`, oldest first, at most
 * `limit`: an array of {sender, type, content} (new reference). *next
 * receives the sequence number to pass as `since` next time. Passing `since`
 * acknowledges the earlier messages addressed to that device only, which
 * are then forgotten. With a store attached this reads the durable inbox
 * (where "*" was expanded to the user's devices on arrival, and which
 * /sync reads too). */
json_t *mxr_edu_to_device(struct mxr_edu_store *s, const char *user_id, const char *device_id, uint64_t since,
                          size_t limit, uint64_t *next);

#endif
