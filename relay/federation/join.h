/* Rooms across servers, the requesting side: joining, leaving, knocking on
 * remote rooms and inviting remote users (server-server API "Joining
 * Rooms", "Leaving Rooms (Rejecting Invites)", "Knocking upon a room",
 * "Inviting to a room"), and filling holes in a room's history
 * ("Backfilling and retrieving missing events", "Retrieving events").
 *
 * Everything received goes through the rooms pipeline (relay/rooms): state
 * and auth chains as outliers (signatures, hashes and auth against their
 * own auth events checked), then the event that needs them with the state
 * given (mxr_rooms_ingest_with_state). Rejected and dropped events are left
 * out and logged with the reason.
 *
 * The federation calls are injected (synchronous; the daemon uses the
 * federation client), so the handshakes are tested against a resident
 * server played by a second rooms instance in-process. Thread-safe; the
 * calls block on the network: not for the store's writer thread or the
 * federation client's own threads. */
#ifndef MXR_RELAY_JOIN_H
#define MXR_RELAY_JOIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/keys.h"
#include "mxr/sign.h"
#include "relay/log.h"

struct mxr_store;
struct mxr_rooms;
struct mxr_fedclient;

#define MXR_JOIN_MISSING_LIMIT 50       /* events asked per /get_missing_events */
#define MXR_JOIN_GAP_MAX_PREVS 10       /* unknown prevs of one event filled through /state */
#define MXR_JOIN_BACKFILL_BATCH 100     /* events asked per /backfill */

/* A signed federation request: the 2xx JSON body (new reference) or NULL
 * with err (the peer's errcode when it answered with one). body may be
 * NULL; max_response 0 means the transport's default. */
typedef json_t *(*mxr_join_call_fn)(void *ctx, const char *method, const char *destination, const char *path,
                                    json_t *body, size_t max_response, struct mxr_err *err);

struct mxr_join_deps {
    const char *server_name;                /* ours */
    const struct mxr_signing_key *key;      /* our current key (copied) */
    struct mxr_store *store;
    struct mxr_rooms *rooms;
    struct mxr_verify_keys keys;            /* other servers' keys (the invitee's signature on an invite) */
    mxr_join_call_fn call;
    void *call_ctx;
    int64_t (*clock)(void *ctx);            /* NULL: the real clock */
    void *clock_ctx;
    const struct mxr_log *log;              /* may be NULL */
};

struct mxr_join;

struct mxr_join *mxr_join_new(const struct mxr_join_deps *deps, struct mxr_err *err);
void mxr_join_free(struct mxr_join *j);

/* mxr_join_call_fn over the federation client (ctx: struct mxr_fedclient). */
json_t *mxr_join_fedclient_call(void *fc, const char *method, const char *destination, const char *path,
                                json_t *body, size_t max_response, struct mxr_err *err);

/* ---- membership handshakes (join.c) -------------------------------------- */

/* Joins our user to a room this server is not in: make_join at each of
 * `servers` in turn (ours skipped) until one gives a valid template, sign,
 * send_join to that server, then verify and store what it returns (the
 * state before the join and its auth chain) and the join itself with that
 * state. 0 with the join's ID when the room is joined; -1 with err
 * (M_INCOMPATIBLE_ROOM_VERSION, M_FORBIDDEN, the last server's error...). */
int mxr_join_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *const *servers,
                    size_t n_servers, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err);

/* Rejects an invite (or retracts a knock) of a room we are not in:
 * make_leave / send_leave through one of `servers` (usually the inviter's).
 * The leave is kept as an outlier when its auth events are known here. */
int mxr_join_leave_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *const *servers,
                          size_t n_servers, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err);

/* Knocks on a remote room (room versions 7+): make_knock / send_knock.
 * reason may be NULL. Returns knock_room_state (new reference, the events
 * the client may see) or NULL with err. */
json_t *mxr_join_knock_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *reason,
                              const char *const *servers, size_t n_servers, char event_id_out[MXR_ID_MAX + 1],
                              struct mxr_err *err);

/* Invites a remote user into a room we are in: builds the invite, has the
 * invitee's server sign it (PUT /v2/invite with invite_room_state), checks
 * its signature, then runs it through the pipeline (notices: origin = us).
 * extra_content (may be NULL) is merged into the member content. */
int mxr_join_invite_remote(struct mxr_join *j, const char *room_id, const char *sender, const char *invitee,
                           json_t *extra_content, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err);

/* ---- history (gap.c) -------------------------------------------------------- */

/* An event stored as an outlier because prev events are unknown (the
 * notice's missing_prevs): /get_missing_events from `origin` between our
 * forward extremities and it, then, if still not connected, the state at
 * each missing prev (/state and /event) and the event again with those
 * states. 0 when the event is now in the room (accepted or soft-failed),
 * -1 with err otherwise. */
int mxr_join_fill_gap(struct mxr_join *j, const char *origin, const char *room_id, const char *event_id,
                      struct mxr_err *err);

/* Fetches up to `limit` earlier events of a room (/backfill from servers in
 * the room, oldest edge first) and stores them in the room's DAG; the edge
 * of what was fetched gets its state from /state. *added (may be NULL)
 * counts events newly accepted. 0, or -1 when no server could help. */
int mxr_join_backfill(struct mxr_join *j, const char *room_id, size_t limit, size_t *added, struct mxr_err *err);

/* Whether the calling thread is inside one of the operations above: the
 * notices they cause are this module's own doing (an outlier stored while
 * fetching history needs no gap fill of its own). */
bool mxr_join_busy_here(void);

/* ---- shared by join.c and gap.c ---------------------------------------------- */

void mxr_join_busy_enter(void);
void mxr_join_busy_leave(void);

/* The context's dependencies (as given to mxr_join_new, with copies of the
 * name and key). */
const struct mxr_join_deps *mxr_join_deps_of(const struct mxr_join *j);

/* Stores PDUs handed to us (state, auth chains) as outliers, auth events
 * first; logs the ones dropped or rejected. *ids_out (may be NULL) receives
 * the IDs of the PDUs as computed (a JSON array, new reference, in input
 * order; "" for unusable ones). -1 only when the store failed. */
int mxr_join_store_outliers(struct mxr_join *j, const char *origin, const char *room_id, json_t *pdus,
                            json_t **ids_out, struct mxr_err *err);

#endif
