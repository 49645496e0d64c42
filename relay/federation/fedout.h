/* The outbound federation of the daemon, assembled: a federation client of
 * its own (full discovery, signed requests) driving the delivery queue
 * (sender.h) and the membership handshakes and history fetching (join.h),
 * fed by the rooms notify hook.
 *
 What is queued inside the commit that stores the event (mxr_fedout_in_commit,
 * the rooms pipeline's in-commit hook), so that no crash can separate an
 * event from its delivery:
 * - our accepted events (built here, or an invite the invitee's server
 *   signed) are queued for every other server joined to the room, and for
 *   the server of a membership event's subject;
 * - a remote membership event (join, leave, knock) of the only member of its
 *   server is sent on to the room's other servers: the resident's duty after
 *   send_join / send_leave / send_knock ("The resident server must also send
 *   the event to other servers participating in the room").
 *
 * What the notices trigger after the commit (mxr_fedout_notify):
 * - the sender is told of what was queued (and wakes);
 * - an event stored as an outlier for want of its prev events is handed to
 *   a worker thread that fills the gap (mxr_join_fill_gap), bounded;
 * - any notice delivered by a server means it is up: its back-off ends.
 *
 * Start after the store, rooms and keyring exist and before the listeners;
 * stop after the listeners and before the store closes. */
#ifndef MXR_RELAY_FEDOUT_H
#define MXR_RELAY_FEDOUT_H

#include <jansson.h>
#include <stddef.h>

#include "mxr/error.h"

struct mxr_server;
struct mxr_rooms_notice;
struct mxr_store_txn;
struct mxr_sender;
struct mxr_join;

#define MXR_FEDOUT_MAX_GAP_JOBS 1000   /* pending gap fills; more are dropped (logged) */
#define MXR_FEDOUT_JOIN_BACKFILL 1000  /* history fetched in the background after joining a remote room */
#define MXR_FEDOUT_MAX_INVITES 10000   /* inviters remembered for rejections (forgotten all at once past this) */
#define MXR_FEDOUT_MAX_STAGED 1000     /* queued in a commit, not yet told to the sender: past this, entries older than a minute go */

struct mxr_fedout;

/* Needs srv->cfg, key, log, store, rooms, keyring; sets the well-known
 * resolver and our signer on srv->fed too (key fetches use discovery). */
struct mxr_fedout *mxr_fedout_start(struct mxr_server *srv, struct mxr_err *err);

/* Stops the threads, completes the transactions in flight (as failures,
 * retried at the next start), frees. NULL is fine. */
void mxr_fedout_stop(struct mxr_fedout *fo);

/* The rooms in-commit hook (mxr_rooms_in_commit_fn; ctx: the struct
 * mxr_server): queues the event's deliveries in the event's own write
 * transaction. Works before the outbound side starts (the sender loads the
 * queue from the store). */
int mxr_fedout_in_commit(void *srv, struct mxr_store_txn *txn, const struct mxr_rooms_notice *n, struct mxr_err *err);

/* The rooms notice hook's share (fo may be NULL). Quick: no network. */
void mxr_fedout_notify(struct mxr_fedout *fo, const struct mxr_rooms_notice *n);

/* For the client API: the queue (EDUs such as typing and receipts) and the
 * handshakes (joins of remote rooms, invites of remote users, backfill). */
struct mxr_sender *mxr_fedout_sender(struct mxr_fedout *fo);
struct mxr_join *mxr_fedout_join(struct mxr_fedout *fo);

/* The client API's federation seams (struct mxr_client_deps remote_join and
 * remote_invite), with ctx the struct mxr_server (srv->fedout is looked up
 * at each call, so the order of start-up does not matter).
 * remote_join: a room ID is joined through `via` and the server of the ID;
 * an alias is resolved at its server first (/query/directory) and joined
 * through the servers it names. The history before the join is then
 * fetched in the background (up to MXR_FEDOUT_JOIN_BACKFILL events).
 * remote_invite: the /invite handshake with the invitee's server. */
int mxr_fedout_remote_join(void *srv, const char *room_id_or_alias, const char *user_id, const char *const *via,
                           size_t n_via, char room_id_out[256], struct mxr_err *err);
int mxr_fedout_remote_invite(void *srv, const char *room_id, const char *sender, const char *invitee,
                             const char *reason, struct mxr_err *err);
/* remote_knock: make_knock / send_knock (knocks.yaml) through the servers
 * found as for remote_join; room_id_out receives the room's ID. */
int mxr_fedout_remote_knock(void *srv, const char *room_id_or_alias, const char *user_id, const char *reason,
                            const char *const *via, size_t n_via, char room_id_out[256], struct mxr_err *err);
/* remote_leave: rejecting an invite or retracting a knock of a room no user
 * of ours is joined to (make_leave / send_leave, leaving-v2.yaml) through
 * the inviter's server (remembered from the /invite), the servers of the
 * members we know of, or the server of the room ID. */
int mxr_fedout_remote_leave(void *srv, const char *room_id, const char *user_id, struct mxr_err *err);
/* remote_profile: GET /query/profile at the user's server (query.yaml);
 * field NULL for every field. *out: the answer object (new reference). */
int mxr_fedout_remote_profile(void *srv, const char *user_id, const char *field, json_t **out, struct mxr_err *err);

#endif
