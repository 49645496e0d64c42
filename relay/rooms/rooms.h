/* Rooms: the one event pipeline for local and remote events, building and
 * signing our own events, creating rooms, and the read views and membership
 * handshakes the federation endpoints need.
 *
 * Every event, whether it arrives in a /send transaction, a send_join or a
 * backfill response, or is built here for a local user, runs through the same
 * named phases (enum mxr_rooms_phase), which follow the spec's "Checks
 * performed on receipt of a PDU" (server-server API) in order. Design notes,
 * including the decisions the spec leaves to the implementation (unknown auth
 * events, unknown prev events, redactions before their target):
 * relay/rooms/DESIGN.md.
 *
 * Layering: this sits on relay/store (it never includes <lmdb.h>) and the pure
 * protocol library; the HTTP handlers call it and never touch the store for
 * event logic. All functions are thread-safe: struct mxr_rooms is immutable
 * after mxr_rooms_new, and all writes go through the store's single writer
 * (mxr_store_write), which also orders events per room.
 */
#ifndef MXR_RELAY_ROOMS_H
#define MXR_RELAY_ROOMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/event.h"
#include "mxr/keys.h"
#include "mxr/sign.h"

struct mxr_store;
struct mxr_store_txn;
struct mxr_rooms;

/* ------------------------------------------------------------------------ */
/* The pipeline's vocabulary                                                */

/* The phases, in the order every event runs through them. */
enum mxr_rooms_phase {
    MXR_PHASE_CONFORM = 1,        /* step 1: room known, valid event for its room version */
    MXR_PHASE_VERIFY_SIGNATURES,  /* step 2: sender's server (v1/v2: event ID's too; v8+: authorising server) */
    MXR_PHASE_CHECK_HASHES,       /* step 3: content hash; mismatch continues with the redacted copy */
    MXR_PHASE_AUTH_EVENTS,        /* step 4: auth rules against the event's own auth_events */
    MXR_PHASE_STATE_BEFORE,       /* the state before the event from its prev_events (resolved when several) */
    MXR_PHASE_AUTH_STATE,         /* step 5: auth rules against the state before the event */
    MXR_PHASE_SOFT_FAIL,          /* step 6: auth rules against the room's current state */
    MXR_PHASE_PERSIST,            /* durable commit (one per batch) */
    MXR_PHASE_NOTIFY,             /* the notify hook, after the commit */
};

/* "conform", "verify_signatures", ... */
const char *mxr_rooms_phase_name(enum mxr_rooms_phase p);

enum mxr_pdu_outcome {
    /* In the room: timeline, state, forward extremities. */
    MXR_PDU_ACCEPTED = 1,
    /* Passed the auth rules against its auth events, but a prev event (or
     * the state after one) is unknown: stored as an outlier (no state, not in
     * the timeline), the gap is reported to the notify hook for
     * /get_missing_events. Stored again when re-delivered with its prevs known. */
    MXR_PDU_OUTLIER,
    /* Spec "Soft failure": stored with its state, not shown to clients, not a
     * forward extremity. */
    MXR_PDU_SOFT_FAILED,
    /* Spec "Rejection": stored with the rejected flag and the rule, so it is
     * refused again and never used as a prev or auth event. */
    MXR_PDU_REJECTED,
    /* Not stored: unknown room, invalid format, bad signatures. */
    MXR_PDU_DROPPED,
    /* Not stored: an auth event is unknown. Nothing about the event is
     * recorded, so a resend once its auth chain was fetched (/event_auth) is
     * processed in full. */
    MXR_PDU_DEFERRED,
};

/* "accepted", "outlier", ... */
const char *mxr_rooms_outcome_name(enum mxr_pdu_outcome o);

/* The verdict on one PDU. */
struct mxr_pdu_result {
    char event_id[MXR_ID_MAX + 1];   /* "" when it could not be computed (malformed PDU) */
    char room_id[MXR_ID_MAX + 1];    /* "" when absent */
    enum mxr_pdu_outcome outcome;
    enum mxr_rooms_phase phase;      /* where the outcome was decided (NOTIFY for accepted events) */
    bool redacted;                   /* content hash mismatch: the redacted copy was processed and stored */
    bool already;                    /* stored before this call: outcome as recorded then, nothing redone */
    uint64_t stream;                 /* stream position (0: none, e.g. outliers and dropped PDUs) */
    const char *errcode;             /* NULL unless rejected/dropped/deferred: M_FORBIDDEN for auth failures, ... */
    char reason[MXR_ERR_MSG_MAX];    /* names the spec step or rule; for accepted events "" or the hash note */
};

/* What the notify hook hears after each commit, once per event stored by
 * that commit (never for events stored before). Soft-failed and rejected
 * events are reported too, so the hook can log them; only ACCEPTED events
 * are for clients and the outbound sender. */
struct mxr_rooms_notice {
    const char *room_id;
    const char *event_id;
    enum mxr_pdu_outcome outcome;
    bool local;                          /* built by this server */
    bool remote_invite;                  /* an invite for one of our users received by /invite (outlier) */
    const char *origin;                  /* the server that delivered it; NULL for local events */
    const json_t *pdu;                   /* as stored (no `unsigned`) */
    uint64_t stream;                     /* 0 for outliers */
    const char *const *missing_prevs;    /* OUTLIER: the prev events not known (the gap) */
    size_t n_missing_prevs;
};
/* Runs on the thread that made the call, after the commit, outside any
 * store transaction. */
typedef void (*mxr_rooms_notify_fn)(void *ctx, const struct mxr_rooms_notice *n);

/* Runs inside the write transaction that stores the event, once per event
 * stored (the same notice as the notify hook will get, with the verdict),
 * so that what must not be lost with the event commits with it: the
 * outbound queue (a crash between two commits would lose the delivery).
 * It may only read and write through txn (on the store's writer thread),
 * must be quick, and may be run again from the start when the store
 * retries the batch. -1 fails the whole write (nothing is stored). */
typedef int (*mxr_rooms_in_commit_fn)(void *ctx, struct mxr_store_txn *txn, const struct mxr_rooms_notice *n,
                                      struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */

struct mxr_rooms_deps {
    const char *server_name;              /* ours; events of our users are signed as it */
    const struct mxr_signing_key *key;    /* our current signing key (copied) */
    struct mxr_store *store;
    /* Other servers' keys for events (the daemon: mxr_keyring_lookup over
     * its keyring; tests inject a table). Must honour valid_at_ts: the
     * pipeline asks for keys valid at origin_server_ts in room versions 5+.
     * Our own key is answered without it. May do network I/O: it is never
     * called while a store transaction is open. */
    struct mxr_verify_keys keys;
    int64_t (*clock)(void *ctx);          /* ms since the epoch; NULL: the real clock */
    void *clock_ctx;
    mxr_rooms_notify_fn notify;           /* may be NULL */
    void *notify_ctx;
    mxr_rooms_in_commit_fn in_commit;     /* may be NULL */
    void *in_commit_ctx;
    const char *default_room_version;     /* for new rooms; NULL: MXR_DEFAULT_ROOM_VERSION ("11") */
};

struct mxr_rooms *mxr_rooms_new(const struct mxr_rooms_deps *deps, struct mxr_err *err);
void mxr_rooms_free(struct mxr_rooms *r);

const char *mxr_rooms_server_name(const struct mxr_rooms *r);

/* ------------------------------------------------------------------------ */
/* Ingest: remote PDUs                                                      */

enum mxr_rooms_ingest_flags {
    /* PDUs from /get_missing_events responses: the prev_events and
     * auth_events counts are not enforced (backfill.yaml). */
    MXR_INGEST_NO_COUNT_LIMITS = 1u << 0,
    /* PDUs from /backfill: history, not news. No count limits, and no
     * soft-fail check against the current state for events a stored
     * regular event already has as prev (as Synapse: an old message of a
     * user who left since evades nothing). Others are checked as usual. */
    MXR_INGEST_BACKFILL = 1u << 1,
    /* The state and auth chain of a send_join response, or events fetched
     * to fill a gap (server-server API "Joining Rooms", "Retrieving events"):
     * stored as outliers once they pass the auth rules against their own
     * auth events, whatever their prevs (no state, not in the timeline; the
     * notice carries no missing prevs). No count limits. Processed in the
     * order given: callers put auth events first. */
    MXR_INGEST_OUTLIER = 1u << 2,
};

/* Runs the PDUs of one /send transaction (or one PDU of send_join, invite,
 * backfill...) delivered by `origin` through the pipeline. PDUs of the batch
 * may reference each other: they are processed in an order where prev events
 * come first. All PDUs are stored by one durable commit before this returns;
 * then the notify hook runs. results[i] describes pdus[i]. Returns 0 when
 * every PDU has its verdict (whatever they are: a rejected PDU does not fail
 * the transaction), -1 when the store failed (nothing was stored; the peer
 * should retry). */
int mxr_rooms_ingest_pdus(struct mxr_rooms *r, const char *origin, json_t *const *pdus, size_t n,
                          unsigned flags, struct mxr_pdu_result *results, struct mxr_err *err);

/* One PDU whose prev events are not all known, with the state after each
 * unknown prev supplied by the caller: the remote join (the state a
 * send_join response gives is the state before the join) and the fallback
 * of gap filling (the state at each missing prev from /state_ids plus the
 * prev itself). Each of `states` is a JSON array of IDs of stored events
 * (outliers are fine); rejected events and events not stored are left out
 * (and named in the result's reason). These states and the stored states of
 * the known prevs are resolved together (the room version's algorithm) into
 * the state before the event, which then runs through the rest of the
 * pipeline as usual (auth against that state, soft failure, persist,
 * notify). n_states >= 1. Returns as mxr_rooms_ingest_pdus. */
int mxr_rooms_ingest_with_state(struct mxr_rooms *r, const char *origin, json_t *pdu, json_t *const *states,
                                size_t n_states, unsigned flags, struct mxr_pdu_result *result, struct mxr_err *err);

/* The /send response body {"pdus": {event_id: {} or {"error": "..."}}}
 * (transactions.yaml): accepted, outlier and soft-failed PDUs get {}; the
 * others the reason. PDUs without a computable event ID are left out. */
json_t *mxr_rooms_send_response(const struct mxr_pdu_result *results, size_t n);

/* ------------------------------------------------------------------------ */
/* Local events                                                             */

/* Builds, signs and runs through the pipeline an event of our user `sender`
 * (spec: "Adding hashes and signatures to outgoing events"): prev_events the
 * forward extremities (the 10 deepest), depth one more than the deepest prev
 * (clamped to the room version's limit), auth_events by the auth events
 * selection from the current state, origin_server_ts from the clock. Durably
 * stored before it returns; event_id_out (may be NULL) receives its ID.
 * state_key NULL for a non-state event. M_FORBIDDEN (naming the auth rule)
 * when the room's current state does not allow it: nothing is stored then.
 * M_NOT_FOUND for an unknown room, M_INVALID_PARAM for a sender that is not
 * ours. */
int mxr_rooms_send_event(struct mxr_rooms *r, const char *room_id, const char *sender, const char *type,
                         const char *state_key, json_t *content, char event_id_out[MXR_ID_MAX + 1],
                         struct mxr_err *err);

/* Builds and signs an event of our user as mxr_rooms_send_event would, and
 * checks it against the room's current state, but does not store it: for
 * the invite of a remote user (server-server API "Inviting to a room"),
 * which the invitee's server must sign before it enters the room (then
 * through mxr_rooms_ingest_pdus with origin = us). New reference or NULL
 * (M_FORBIDDEN naming the auth rule, M_NOT_FOUND for an unknown room). */
json_t *mxr_rooms_build_event(struct mxr_rooms *r, const char *room_id, const char *sender, const char *type,
                              const char *state_key, json_t *content, struct mxr_err *err);

/* The servers with joined members in the room's current state, sorted and
 * each once (the outbound sender's destinations; servers_in_room). New
 * reference to a JSON array, or NULL with err. */
json_t *mxr_rooms_joined_servers(struct mxr_store_txn *txn, const char *room_id, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Creating rooms (client-server API createRoom)                            */

struct mxr_rooms_create_opts {
    const char *room_version;              /* NULL: the context's default; "1".."12" */
    const char *preset;                    /* "private_chat" (NULL), "public_chat", "trusted_private_chat" */
    json_t *creation_content;              /* extra m.room.create content, may be NULL */
    json_t *power_level_content_override;  /* applied on top of the default power levels, may be NULL */
    json_t *initial_state;                 /* array of {type, state_key?, content}, may be NULL */
    const char *name;                      /* m.room.name, may be NULL */
    const char *topic;                     /* m.room.topic, may be NULL */
    /* Users to invite. trusted_private_chat gives them the creator's power
     * (v1-v11: power level 100; v12: additional_creators). Invite events are
     * sent here for our own users only; remote users need the /invite
     * handshake (the outbound side), which the caller runs afterwards. */
    const char *const *invite;
    size_t n_invite;
    bool is_direct;                        /* the invites carry content.is_direct: true (create_room.yaml) */
    json_t *creator_content;               /* extra content of the creator's join (displayname, avatar_url), may be NULL */
};

/* Creates a room for our user `creator` with createRoom's event sequence:
 * m.room.create (v1-v10 content.creator; v11+ none; v12 no room_id, the room
 * ID derived from the create event, additional_creators), the creator's join,
 * m.room.power_levels (creator 100; v12: creators not listed, m.room.tombstone
 * 150), join_rules / history_visibility / guest_access per preset (skipped
 * when initial_state sets them), initial_state in order, name, topic, local
 * invites. All events in one durable commit; room_id_out receives the ID. */
int mxr_rooms_create_room(struct mxr_rooms *r, const char *creator, const struct mxr_rooms_create_opts *opts,
                          char room_id_out[MXR_ID_MAX + 1], struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Read views over a read transaction (the federation endpoints)             */

/* GET /state_ids and /state (events.yaml): the resolved state of the room
 * before `event_id`, excluding the event's own change, and the auth chain of
 * those state events. M_NOT_FOUND when the event is unknown, in another room,
 * or has no known state (an outlier). The _ids form gives arrays of event
 * IDs, the other arrays of PDUs. New references in *state and *auth_chain. */
int mxr_rooms_state_ids_at(struct mxr_store_txn *txn, const char *room_id, const char *event_id,
                           json_t **state, json_t **auth_chain, struct mxr_err *err);
int mxr_rooms_state_at(struct mxr_store_txn *txn, const char *room_id, const char *event_id,
                       json_t **state, json_t **auth_chain, struct mxr_err *err);

/* The auth chain of events: every stored event reachable over auth_events
 * from them, each once (a given event appears only when another one's
 * chain holds it). As event IDs (pdus false) or PDUs. /event_auth is this
 * with one event. */
json_t *mxr_rooms_auth_chain(struct mxr_store_txn *txn, const char *const *event_ids, size_t n, bool pdus,
                             struct mxr_err *err);

/* A stored event as served over federation (no `unsigned`; pruned by the
 * redaction algorithm when a redaction of it was applied). New reference or
 * NULL (M_NOT_FOUND). */
json_t *mxr_rooms_event_pdu(struct mxr_store_txn *txn, const char *event_id, struct mxr_err *err);

/* History visibility for a server (client-server "Room History Visibility",
 * server behaviour, applied to the server's users as Synapse does): visible
 * when the visibility at the event is world_readable or shared (the default),
 * or `invited` and one of the server's users was invited or joined, or one of
 * its users was joined; judged on the state before and after the event (so
 * history_visibility and membership changes count either way). Outliers
 * (state unknown) are not visible. */
int mxr_rooms_server_can_see(struct mxr_store_txn *txn, const char *event_id, const char *server, bool *visible,
                             struct mxr_err *err);

/* Whether `server` has a joined member in the room's current state (the
 * federation endpoints answer 403 M_FORBIDDEN otherwise). */
int mxr_rooms_server_in_room(struct mxr_store_txn *txn, const char *room_id, const char *server, bool *in,
                             struct mxr_err *err);

/* GET /event: the event for a requesting server: M_NOT_FOUND when unknown
 * or rejected, M_FORBIDDEN when its history visibility hides it from the
 * server. (Whether the server is in the room at all is the handler's first
 * check: mxr_rooms_server_in_room.) */
json_t *mxr_rooms_event_for_server(struct mxr_store_txn *txn, const char *event_id, const char *server,
                                   struct mxr_err *err);

/* GET /backfill (backfill.yaml): the events `from` and their predecessors
 * along prev_events, deepest first, at most `limit` (the caller caps what a
 * peer may ask for), as PDUs. Events the server may not see are returned
 * redacted (so the DAG stays connected); rejected events are left out.
 * `from` events of other rooms are ignored. */
json_t *mxr_rooms_backfill(struct mxr_store_txn *txn, const char *room_id, const char *server,
                           const char *const *from, size_t n_from, size_t limit, struct mxr_err *err);

/* POST /get_missing_events: breadth-first by depth over the prev_events of
 * `latest` (not included), not crossing `earliest`, stopping at `limit`
 * events or below min_depth. Visibility as for backfill. */
json_t *mxr_rooms_missing_events(struct mxr_store_txn *txn, const char *room_id, const char *server,
                                 const char *const *earliest, size_t n_earliest, const char *const *latest,
                                 size_t n_latest, size_t limit, int64_t min_depth, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Membership handshakes                                                    */

/* GET /make_join, /make_leave, /make_knock: {room_version, event: template}
 * for user_id (who must be on `origin`: else M_FORBIDDEN), membership
 * "join", "leave" or "knock". The template has room_id, type, sender,
 * state_key, content.membership, origin (us), origin_server_ts, depth,
 * prev_events and auth_events filled; no hashes, signatures or event_id.
 * `ver` lists the room versions the requester supports: M_INCOMPATIBLE_ROOM_VERSION
 * when it lacks the room's (join: an empty list means ["1"]; knock: required;
 * leave: ignored). M_NOT_FOUND for an unknown room, M_FORBIDDEN when the auth
 * rules would refuse the event. Restricted rooms (v8+): the template carries
 * join_authorised_via_users_server (one of our joined users able to invite);
 * M_UNABLE_TO_AUTHORISE_JOIN when no allow condition can be checked,
 * M_UNABLE_TO_GRANT_JOIN when we have no such user. room_version_out (may be
 * NULL) receives the room's version whenever the room is known, for the
 * error body of M_INCOMPATIBLE_ROOM_VERSION. */
json_t *mxr_rooms_make_membership(struct mxr_rooms *r, const char *origin, const char *room_id, const char *user_id,
                                  const char *membership, const char *const *ver, size_t n_ver,
                                  char room_version_out[65], struct mxr_err *err);

struct mxr_rooms_send_membership_opts {
    bool omit_members;    /* send_join ?omit_members=true (joins-v2.yaml, partial state) */
};

/* PUT /v2/send_join, /v2/send_leave, /v1/send_knock: checks the event is the
 * expected membership (`membership`) of a user of `origin` for itself in
 * room_id with ID event_id (M_INVALID_PARAM otherwise, as the yaml asks),
 * signs restricted joins authorised by one of our users, runs it through the
 * pipeline and answers: send_join {state, auth_chain, event, members_omitted?,
 * servers_in_room?} with the state before the join; send_leave {};
 * send_knock {knock_room_state}. M_FORBIDDEN when the pipeline does not
 * accept the event. Re-sending an accepted event gives the same answer. */
json_t *mxr_rooms_send_membership(struct mxr_rooms *r, const char *origin, const char *room_id,
                                  const char *event_id, const char *membership, json_t *pdu,
                                  const struct mxr_rooms_send_membership_opts *opts, struct mxr_err *err);

/* PUT /v2/invite (invites-v2.yaml): checks the invite (format, ID, signatures,
 * m.room.member invite from a user of origin for one of our users; for
 * room version 12 also invite_room_state: present, includes m.room.create,
 * formatted, signed, same room), adds our signature, stores it as an
 * outlier (notify: remote_invite) and answers {"event": signed invite}.
 * M_INCOMPATIBLE_ROOM_VERSION for an unknown room_version, M_INVALID_PARAM /
 * M_MISSING_PARAM for a bad request. */
json_t *mxr_rooms_receive_invite(struct mxr_rooms *r, const char *origin, const char *room_id,
                                 const char *event_id, const json_t *body, struct mxr_err *err);

#endif
