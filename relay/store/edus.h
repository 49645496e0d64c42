/* Ephemeral data that must outlive a restart (client-server API
 * "Send-to-device messaging" and "Receipts"; server-server API "EDUs"):
 * the to-device inbox of local devices and the latest receipts of every
 * room, local and remote users alike. Typing and presence stay in memory
 * (relay/federation/edus.c). Same conventions as store.h and accounts.h:
 * every call takes a transaction, absence is MXR_STORE_NOT_FOUND, strings
 * handed to callbacks live until the callback returns.
 *
 * To-device: one row per (user, device, seq); seq is one server-wide
 * counter, so a device's messages are in delivery order and a sync token
 * carries one number. A message stays until the device acknowledges it by
 * syncing with a token past it (mxr_store_todevice_ack); a device holds at
 * most MXR_STORE_TODEVICE_MAX, the oldest dropped beyond.
 *
 * Receipts: the latest per (room, receipt type, user, thread); every
 * change gets a position on the receipt stream so an incremental sync
 * reads only what changed. */
#ifndef MXR_RELAY_STORE_EDUS_H
#define MXR_RELAY_STORE_EDUS_H

#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/store/store.h"

#define MXR_STORE_TODEVICE_MAX 1000   /* undelivered messages kept per device */

/* ---- to-device ------------------------------------------------------------ */

/* Appends a message (content: JSON object text) to the device's inbox;
 * *seq (may be NULL) receives its position. */
int mxr_store_todevice_add(struct mxr_store_txn *txn, const char *user_id, const char *device_id, const char *sender,
                           const char *type, const char *content, size_t len, uint64_t *seq, struct mxr_err *err);

/* Appends the message to device_id's inbox, or for "*" to every device of
 * the user; a device the store does not know gets nothing (no one could
 * fetch it). *n (may be NULL) counts the inboxes reached. */
int mxr_store_todevice_deliver(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                               const char *sender, const char *type, const char *content, size_t len, size_t *n,
                               struct mxr_err *err);

/* The device's messages with seq > since, oldest first; cb returns nonzero
 * to stop. */
typedef int (*mxr_store_todevice_cb)(void *arg, uint64_t seq, const char *sender, const char *type,
                                     const char *content, size_t len);
int mxr_store_todevice_since(struct mxr_store_txn *txn, const char *user_id, const char *device_id, uint64_t since,
                             mxr_store_todevice_cb cb, void *arg, struct mxr_err *err);

/* The device's oldest message position (MXR_STORE_NOT_FOUND: inbox empty):
 * lets a reader tell whether an acknowledgement has work to do. */
int mxr_store_todevice_oldest(struct mxr_store_txn *txn, const char *user_id, const char *device_id, uint64_t *seq,
                              struct mxr_err *err);

/* Deletes the device's messages with seq <= upto (delivered and
 * acknowledged); *deleted (may be NULL) counts them. */
int mxr_store_todevice_ack(struct mxr_store_txn *txn, const char *user_id, const char *device_id, uint64_t upto,
                           size_t *deleted, struct mxr_err *err);

/* Deletes every message of the device (the device was deleted). */
int mxr_store_todevice_clear(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                             struct mxr_err *err);

/* The last to-device position handed out (0: none). */
int mxr_store_todevice_head(struct mxr_store_txn *txn, uint64_t *out, struct mxr_err *err);

/* ---- receipts -------------------------------------------------------------- */

/* Sets user's receipt of `type` in room_id (thread_id NULL or "": the
 * unthreaded receipt) to event_id at ts, replacing the previous one.
 * MXR_STORE_NOT_FOUND when the room is unknown to the store. *stream (may
 * be NULL) receives the change's receipt-stream position. */
int mxr_store_receipt_put(struct mxr_store_txn *txn, const char *room_id, const char *type, const char *user_id,
                          const char *thread_id, const char *event_id, int64_t ts, uint64_t *stream,
                          struct mxr_err *err);

/* thread_id is "" for unthreaded receipts. cb returns nonzero to stop. */
typedef int (*mxr_store_receipt_cb)(void *arg, const char *room_id, const char *type, const char *user_id,
                                    const char *thread_id, const char *event_id, int64_t ts, uint64_t stream);
/* Every current receipt of the room (type, user, thread order). */
int mxr_store_receipts_room(struct mxr_store_txn *txn, const char *room_id, mxr_store_receipt_cb cb, void *arg,
                            struct mxr_err *err);
/* The receipts changed after stream position `since`, in stream order
 * (a receipt changed twice is visited once, at its latest position). */
int mxr_store_receipts_since(struct mxr_store_txn *txn, uint64_t since, mxr_store_receipt_cb cb, void *arg,
                             struct mxr_err *err);
/* The last receipt-stream position handed out (0: none). */
int mxr_store_receipt_head(struct mxr_store_txn *txn, uint64_t *out, struct mxr_err *err);

#endif
