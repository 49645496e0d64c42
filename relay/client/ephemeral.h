/* Ephemeral client traffic: send-to-device, typing, receipts and read
 * markers (client-server API "Send-to-Device messaging", "Typing
 * Notifications", "Receipts", "Fully read markers"), and their share of
 * /sync. Local and remote data meet in the same places: to-device messages
 * and receipts in the store (relay/store/edus.h), typing in the server's
 * EDU store (relay/federation/edus.h, req->srv->edus). What goes to other
 * servers is queued on the outbound sender (req->srv->fedout; none in unit
 * tests, where it is skipped). */
#ifndef MXR_RELAY_CLIENT_EPHEMERAL_H
#define MXR_RELAY_CLIENT_EPHEMERAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxr/error.h"

struct mxr_client;
struct mxr_edu_store;
struct mxr_request;
struct mxr_response;
struct mxr_store_txn;

#define CL_TYPING_DEFAULT_MS 30000   /* a typing notice without timeout */
#define CL_TYPING_MAX_MS 120000      /* longer timeouts are cut: clients renew */
#define CL_TO_DEVICE_SYNC_MAX 100    /* to-device messages per /sync answer */

/* todevice.c: PUT /sendToDevice/{eventType}/{txnId} */
void cl_h_send_to_device(struct mxr_request *req, struct mxr_response *resp);

/* ephemeral.c */
void cl_h_typing(struct mxr_request *req, struct mxr_response *resp);
void cl_h_receipt(struct mxr_request *req, struct mxr_response *resp);
void cl_h_read_markers(struct mxr_request *req, struct mxr_response *resp);

/* ---- sync_eph.c: the /sync share -------------------------------------------- */

/* Positions are those of the since token (`_<T>_<R>_<Y>` after the
 * fields of sync.c): T the to-device position delivered to this device,
 * R the receipt stream, Y the EDU store's position (typing). */
struct cl_eph {
    uint64_t since_td, since_rc, since_ty;
    uint64_t head_td, head_rc, head_ty;   /* for next_batch, after cl_eph_collect */
    json_t *to_device;                    /* to_device.events */
    json_t *receipts;                     /* room -> m.receipt content changed since since_rc */
};

/* Before computing: the device acknowledged what since_td covers, so
 * those messages are deleted (spec: "once the client has received them,
 * they are removed"). No write when there is nothing to delete. */
int cl_eph_ack(struct mxr_client *c, const char *user_id, const char *device_id, uint64_t since_td,
               struct mxr_err *err);

/* One sync pass, in the pass's read transaction: the device's to-device
 * messages and the receipts changed since the token (initial: none; rooms
 * take all theirs). Returns 1 when there are to-device messages, 0, -1. */
int cl_eph_collect(struct cl_eph *e, struct mxr_store_txn *t, struct mxr_edu_store *edus, const char *user_id,
                   const char *device_id, bool initial, struct mxr_err *err);

/* A joined room's ephemeral events (m.typing, m.receipt): everything for a
 * fresh room (initial sync, newly joined), else what changed. m.read.private
 * receipts of others are never shown. A new array (maybe empty), NULL on
 * a store failure. */
json_t *cl_eph_room(struct cl_eph *e, struct mxr_store_txn *t, struct mxr_edu_store *edus, const char *room_id,
                    const char *user_id, bool fresh, int64_t now, struct mxr_err *err);

/* Frees what a pass collected (the positions stay). */
void cl_eph_release(struct cl_eph *e);

#endif
