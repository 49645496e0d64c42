/* The relay's persistent state: one LMDB environment holding the event graph,
 * room state, federation bookkeeping and (later) homeserver data.
 *
 * This header is the only interface the daemon's other layers see; it does not
 * include <lmdb.h> (only the files of relay/store/ do). Design notes: relay/store/DESIGN.md.
 *
 * Conventions
 * - Functions that can fail take `struct mxr_err *err` and return -1 after
 *   filling it (errcode M_UNKNOWN for storage failures, so the daemon can hand
 *   it to a peer as is). Lookups return MXR_STORE_NOT_FOUND (1) for absence,
 *   which is not an error and does not poison a write transaction.
 * - Strings handed out by callbacks are NUL-terminated copies valid during the
 *   callback; byte pointers handed out by getters (PDU JSON, txn responses)
 *   point into the map and are valid until the transaction ends.
 * - Every read and write goes through a `struct mxr_store_txn`. Read
 *   transactions are cheap snapshots: take one per request and end it before
 *   any network I/O. Writes run inside callbacks that the store's writer
 *   thread batches into one LMDB transaction (group commit); see
 *   mxr_store_write().
 */
#ifndef MXR_RELAY_STORE_H
#define MXR_RELAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

struct mxr_event;

#define MXR_STORE_NOT_FOUND 1

/* Highest schema this build reads and writes. A store written by a newer
 * mxrelay is refused; an older one is migrated at open. */
#define MXR_STORE_SCHEMA_VERSION 1

/* Upper bounds of stored strings (spec appendices, "Size limits": IDs, type
 * and state_key are at most 255 bytes). */
#define MXR_STORE_ID_MAX 255
#define MXR_STORE_VERSION_MAX 64     /* room version identifier */
#define MXR_STORE_REASON_MAX 512     /* rejection reason */

/* ------------------------------------------------------------------------ */
/* Opening, closing, transactions                                            */

enum mxr_store_sync {
    /* Default: every commit is on disk (fsync) before it is reported. */
    MXR_STORE_SYNC_DURABLE = 0,
    /* No fsync at commit (MDB_NOSYNC). A process crash loses nothing, an OS
     * crash or power loss may lose recent commits. Tests and benchmarks only. */
    MXR_STORE_SYNC_NONE = 1,
};

struct mxr_store_options {
    const char *path;          /* directory of the environment; created 0700 if missing */
    size_t initial_map_size;   /* bytes, 0 = 1 GiB (address space, not disk); grows on demand */
    enum mxr_store_sync sync;
    unsigned max_readers;      /* concurrent read transactions, 0 = 126 */
    unsigned max_batch;        /* group commit: most write submissions per LMDB txn, 0 = 1024 */
    bool read_only;            /* open without the writer thread (inspection tools) */
};

struct mxr_store;
struct mxr_store_txn;

/* Opens (creating if needed) the store. Refuses a runtime LMDB whose
 * major.minor differs from the one mxrelay was built with, and a store whose
 * schema is newer than MXR_STORE_SCHEMA_VERSION; migrates an older one. */
struct mxr_store *mxr_store_open(const struct mxr_store_options *opt, struct mxr_err *err);

/* Drains pending writes (each still gets its answer), stops the writer and
 * closes the environment. All read transactions must have ended. */
void mxr_store_close(struct mxr_store *s);

/* A read snapshot. Never held across network I/O or while waiting for a
 * write: a thread holding one may not call mxr_store_write(). */
int mxr_store_read_begin(struct mxr_store *s, struct mxr_store_txn **out, struct mxr_err *err);
void mxr_store_read_end(struct mxr_store_txn *txn);

/* A unit of writing. Runs on the store's writer thread inside one LMDB write
 * transaction shared with other submissions. It must touch nothing but the
 * transaction and its own `arg`: after a map resize or a failure of another
 * submission in the same batch it is run again from the start on a fresh
 * transaction. Errors are sticky: after the first failing store call every
 * further call on the transaction fails, and the submission is rolled back
 * whatever fn returns. fn must not begin read transactions. */
typedef int (*mxr_store_write_fn)(struct mxr_store_txn *txn, void *arg, struct mxr_err *err);

/* Runs fn in the next group commit and returns once that transaction is
 * durably committed (0) or fn's work has been rolled back (-1, err says why).
 * Nothing may be acknowledged to a peer or client before this returns 0. */
int mxr_store_write(struct mxr_store *s, mxr_store_write_fn fn, void *arg, struct mxr_err *err);

/* Asynchronous form: done(done_arg, rc, err) runs on the writer thread after
 * the commit (or the rollback); it must be quick and must not write. */
typedef void (*mxr_store_done_fn)(void *done_arg, int rc, const struct mxr_err *err);
int mxr_store_write_async(struct mxr_store *s, mxr_store_write_fn fn, void *arg,
                          mxr_store_done_fn done, void *done_arg, struct mxr_err *err);

/* True for a transaction obtained in a write callback. */
bool mxr_store_txn_writable(const struct mxr_store_txn *txn);

struct mxr_store_stats {
    uint64_t commits;          /* LMDB write transactions committed */
    uint64_t submissions;      /* write submissions committed */
    uint64_t failed;           /* write submissions rolled back */
    uint64_t retries;          /* batch re-runs (map growth, a failed member) */
    uint64_t max_batch_seen;   /* most submissions in one commit */
    uint64_t map_growths;
    size_t map_size;           /* current map size, bytes */
    size_t used_bytes;         /* pages in use x page size */
};
void mxr_store_get_stats(struct mxr_store *s, struct mxr_store_stats *out);

/* Per-table space (pages x page size), for capacity planning and the
 * benchmark. cb gets each created table's name and bytes in catalogue order. */
int mxr_store_table_usage(struct mxr_store_txn *txn,
                          void (*cb)(void *arg, const char *table, size_t bytes, size_t entries),
                          void *arg, struct mxr_err *err);

/* Full consistency check of the store (like fsck): every event has its PDU,
 * metadata and ID mappings; graph edges exist in both directions; state
 * groups are well formed; extremities, timeline, current state and
 * membership agree with the events. 0 when consistent, else -1 naming the
 * first violation. Walks everything: for tests and operators, not hot paths. */
int mxr_store_check(struct mxr_store_txn *txn, struct mxr_err *err);

/* Measures raw LMDB put throughput in a scratch environment under dir
 * (created and removed): n puts of value_size bytes with 44-byte keys,
 * `batch` puts per transaction, with the given sync mode. Used by the
 * benchmark (and by operators judging a disk's fsync rate). Returns puts/s
 * or a negative value on failure. */
double mxr_store_probe_put_rate(const char *dir, unsigned n, unsigned batch,
                                size_t value_size, enum mxr_store_sync sync, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Rooms                                                                    */

/* Registers a room and its version (from its m.room.create event). Idempotent;
 * a different version for a known room is refused. Events of a room can only
 * be stored once the room is registered. */
int mxr_store_room_add(struct mxr_store_txn *txn, const char *room_id, const char *version,
                       struct mxr_err *err);
int mxr_store_room_version(struct mxr_store_txn *txn, const char *room_id,
                           char out[MXR_STORE_VERSION_MAX + 1], struct mxr_err *err);
/* Every registered room, in registration order. cb returns nonzero to stop. */
int mxr_store_rooms(struct mxr_store_txn *txn, int (*cb)(void *arg, const char *room_id), void *arg,
                    struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

enum mxr_store_event_flags {
    MXR_STORE_OUTLIER = 1u << 0,      /* no state, not in the timeline (spec: outliers) */
    MXR_STORE_REJECTED = 1u << 1,     /* failed authorization; kept to refuse it again */
    MXR_STORE_SOFT_FAILED = 1u << 2,  /* spec: "Soft failure"; not shown, not a prev */
};

/* An event as the store receives it: already validated and authorized by the
 * caller (the store is not the rules layer). Build it with
 * mxr_store_event_from() or by hand. */
struct mxr_store_event {
    const char *event_id;
    const char *room_id;
    const char *type;
    const char *state_key;          /* NULL for non-state events */
    const char *membership;         /* content.membership of m.room.member, else NULL */
    int64_t depth;
    int64_t origin_server_ts;
    const char *const *prev_events;
    size_t n_prev_events;
    const char *const *auth_events;
    size_t n_auth_events;
    const char *json;               /* the PDU's canonical JSON */
    size_t json_len;
    int64_t received_ts;            /* ms since the epoch, from the caller's clock */
    unsigned flags;                 /* enum mxr_store_event_flags */
    const char *rejected_reason;    /* when REJECTED: the rule that failed */
    /* State groups for a non-outlier (see "State" below): the state before the
     * event, and after it. MXR_STORE_STATE_DERIVE as state_after means
     * "before + this event" for a state event that is not rejected (a
     * soft-failed one passed auth at its own state), "before" otherwise. */
    uint64_t state_before;
    uint64_t state_after;
};

#define MXR_STORE_STATE_DERIVE UINT64_MAX

/* Fills e's strings from a parsed event (pointers borrow from ev, json from
 * the caller); flags, times and state groups are left to the caller. */
void mxr_store_event_from(struct mxr_store_event *e, const struct mxr_event *ev,
                          const char *json, size_t json_len);

struct mxr_store_persisted {
    uint64_t stream;        /* stream position (0 for an outlier) */
    uint64_t state_after;   /* the state group after the event (0 for an outlier) */
    bool already;           /* it was stored before in this form: nothing changed */
};

/* Stores an event with its metadata and graph edges; for a non-outlier also
 * its state groups, a stream position, its timeline entry (unless rejected or
 * soft-failed) and the room's forward extremities. Storing an event that is
 * already present is a no-op (out->already), except that an outlier may be
 * stored again as a non-outlier (it then gains state, stream and timeline). */
int mxr_store_event_persist(struct mxr_store_txn *txn, const struct mxr_store_event *e,
                            struct mxr_store_persisted *out, struct mxr_err *err);

/* 0 when the event's PDU is stored, MXR_STORE_NOT_FOUND otherwise (an ID
 * only mentioned as a prev/auth of a stored event is not stored). */
int mxr_store_event_exists(struct mxr_store_txn *txn, const char *event_id, struct mxr_err *err);

/* The stored canonical JSON (zero-copy: valid until the transaction ends). */
int mxr_store_event_json(struct mxr_store_txn *txn, const char *event_id,
                         const char **json, size_t *len, struct mxr_err *err);

struct mxr_store_event_meta {
    char room_id[MXR_STORE_ID_MAX + 1];
    int64_t depth;
    int64_t origin_server_ts;
    int64_t received_ts;
    uint64_t stream;                            /* 0 for an outlier */
    unsigned flags;                             /* enum mxr_store_event_flags */
    bool is_state;
    char type[MXR_STORE_ID_MAX + 1];            /* state events only, else "" */
    char state_key[MXR_STORE_ID_MAX + 1];       /* state events only, else "" */
    char membership[32];                        /* m.room.member only, else "" */
    char rejected_reason[MXR_STORE_REASON_MAX + 1];
    char redacted_by[MXR_STORE_ID_MAX + 1];     /* "" when not redacted */
};
int mxr_store_event_meta(struct mxr_store_txn *txn, const char *event_id,
                         struct mxr_store_event_meta *out, struct mxr_err *err);

/* Records that `redaction_id` redacts `event_id` (the caller has checked the
 * redaction is allowed; the target need not be stored yet). */
int mxr_store_event_set_redacted_by(struct mxr_store_txn *txn, const char *event_id,
                                    const char *redaction_id, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Graph                                                                    */

/* Callback over event IDs; return nonzero to stop the iteration. */
typedef int (*mxr_store_id_cb)(void *arg, const char *event_id);

enum mxr_store_edge {
    MXR_STORE_PREVS,          /* the event's prev_events */
    MXR_STORE_CHILDREN,       /* events listing it in prev_events */
    MXR_STORE_AUTHS,          /* the event's auth_events */
    MXR_STORE_AUTH_CHILDREN,  /* events listing it in auth_events */
};

/* The neighbours of an event along one kind of edge, whether stored or only
 * referenced. */
int mxr_store_edges(struct mxr_store_txn *txn, const char *event_id, enum mxr_store_edge kind,
                    mxr_store_id_cb cb, void *arg, struct mxr_err *err);

/* The room's forward extremities: accepted non-outlier events that no
 * accepted non-outlier event lists as a prev. */
int mxr_store_extremities(struct mxr_store_txn *txn, const char *room_id,
                          mxr_store_id_cb cb, void *arg, struct mxr_err *err);

/* Walks prev_events backwards from `from`, deepest first (ties: the most
 * recently numbered event first), emitting each stored event once, not descending past
 * the events in `stop` (which are not emitted), until `limit` events were
 * emitted. `from` events themselves are emitted when include_from. This is
 * /backfill (from = v, include_from) and /get_missing_events (from =
 * latest_events, stop = earliest_events) (spec: server-server API). */
int mxr_store_walk_back(struct mxr_store_txn *txn, const char *const *from, size_t n_from,
                        const char *const *stop, size_t n_stop, bool include_from, size_t limit,
                        mxr_store_id_cb cb, void *arg, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* State                                                                    */

/* State is stored as immutable state groups. Group 0 is the empty state;
 * every other group is "parent + delta". The caller (rooms layer) computes
 * the delta; the store keeps it compactly (see DESIGN.md) and answers
 * lookups of one key and of the whole state in O(log chain) gets. */
struct mxr_store_state_entry {
    const char *type;
    const char *state_key;
    const char *event_id;     /* NULL: the key is absent in the new state */
};

/* Creates "parent + delta" and returns its group in *out. When the delta
 * changes nothing, *out is parent and nothing is written. Later entries of
 * the same key override earlier ones. */
int mxr_store_state_group_new(struct mxr_store_txn *txn, uint64_t parent,
                              const struct mxr_store_state_entry *delta, size_t n,
                              uint64_t *out, struct mxr_err *err);

/* The event holding (type, state_key) in group, MXR_STORE_NOT_FOUND if none. */
int mxr_store_state_get(struct mxr_store_txn *txn, uint64_t group, const char *type,
                        const char *state_key, char out_event_id[MXR_STORE_ID_MAX + 1],
                        struct mxr_err *err);

/* The whole state of a group (order: by the store's key numbering). cb
 * returns nonzero to stop. */
typedef int (*mxr_store_state_cb)(void *arg, const char *type, const char *state_key,
                                  const char *event_id);
int mxr_store_state_all(struct mxr_store_txn *txn, uint64_t group, mxr_store_state_cb cb, void *arg,
                        struct mxr_err *err);
/* Number of entries in the group's state. */
int mxr_store_state_count(struct mxr_store_txn *txn, uint64_t group, size_t *out, struct mxr_err *err);

/* The differences from group a to group b: cb(type, state_key, event_id in
 * b or NULL when b lacks the key). Cost follows the groups' distance, not the
 * state size, when one derives from the other. */
int mxr_store_state_diff(struct mxr_store_txn *txn, uint64_t a, uint64_t b, mxr_store_state_cb cb,
                         void *arg, struct mxr_err *err);

/* How a group is stored (diagnostics, tests): its parent, its depth from
 * its root, the number of links a lookup walks, and its stored entries. */
struct mxr_store_group_info {
    uint64_t parent;
    uint64_t depth;
    unsigned chain_length;     /* <= popcount(depth) + 1 */
    size_t delta_entries;      /* entries stored for this group alone */
    size_t chain_entries;      /* entries over the whole chain */
};
int mxr_store_state_group_info(struct mxr_store_txn *txn, uint64_t group,
                               struct mxr_store_group_info *out, struct mxr_err *err);

/* The state groups before and after a stored non-outlier event. */
int mxr_store_event_state(struct mxr_store_txn *txn, const char *event_id, uint64_t *before,
                          uint64_t *after, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Per-room views: timeline, current state, membership                      */

/* Timeline events (accepted non-outliers) by stream position. Backwards
 * from `from` (exclusive; 0 = the end) or forwards from `from` (exclusive). */
typedef int (*mxr_store_timeline_cb)(void *arg, const char *event_id, uint64_t stream);
int mxr_store_timeline(struct mxr_store_txn *txn, const char *room_id, uint64_t from, bool forwards,
                       size_t limit, mxr_store_timeline_cb cb, void *arg, struct mxr_err *err);

/* The highest stream position handed out so far (0 when none). */
int mxr_store_stream_head(struct mxr_store_txn *txn, uint64_t *out, struct mxr_err *err);

/* Sets the room's current state to a state group (the caller resolved it
 * from the forward extremities) and updates the current-state and
 * membership indexes by the difference from the previous current state. */
int mxr_store_room_set_current(struct mxr_store_txn *txn, const char *room_id, uint64_t group,
                               struct mxr_err *err);
/* The current state group (0 when never set). */
int mxr_store_room_current(struct mxr_store_txn *txn, const char *room_id, uint64_t *group,
                           struct mxr_err *err);
int mxr_store_room_current_get(struct mxr_store_txn *txn, const char *room_id, const char *type,
                               const char *state_key, char out_event_id[MXR_STORE_ID_MAX + 1],
                               struct mxr_err *err);
/* The current state from the room's index (same content as
 * mxr_store_state_all on the current group, without walking the group). */
int mxr_store_room_current_all(struct mxr_store_txn *txn, const char *room_id,
                               mxr_store_state_cb cb, void *arg, struct mxr_err *err);

/* The membership of user in room per current state ("join", "leave", ...),
 * MXR_STORE_NOT_FOUND when there is no member event. */
int mxr_store_membership(struct mxr_store_txn *txn, const char *room_id, const char *user_id,
                         char out[32], struct mxr_err *err);
/* Members of a room, with membership == filter (NULL: all). */
typedef int (*mxr_store_member_cb)(void *arg, const char *id, const char *membership);
int mxr_store_room_members(struct mxr_store_txn *txn, const char *room_id, const char *filter,
                           mxr_store_member_cb cb, void *arg, struct mxr_err *err);
/* Rooms a user has a member event in (cb gets the room ID). */
int mxr_store_user_rooms(struct mxr_store_txn *txn, const char *user_id, const char *filter,
                         mxr_store_member_cb cb, void *arg, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Federation: transactions seen, server keys, outbound queue               */

/* /send idempotence (spec: server-server API, "Transactions"): the response
 * sent for (origin, txn_id), zero-copy, MXR_STORE_NOT_FOUND if unseen. */
int mxr_store_txnid_get(struct mxr_store_txn *txn, const char *origin, const char *txn_id,
                        const char **response, size_t *len, struct mxr_err *err);
int mxr_store_txnid_put(struct mxr_store_txn *txn, const char *origin, const char *txn_id,
                        const char *response, size_t len, int64_t now_ms, struct mxr_err *err);
/* Forgets transactions recorded before before_ms; *removed counts them. */
int mxr_store_txnid_prune(struct mxr_store_txn *txn, int64_t before_ms, size_t *removed,
                          struct mxr_err *err);

/* A verify key of another server (spec: "Retrieving server keys"). */
struct mxr_store_server_key {
    uint8_t key[32];          /* ed25519 public key */
    int64_t valid_until_ts;   /* from the key response */
    int64_t expired_ts;       /* old_verify_keys: when it expired; 0 for a current key */
    int64_t fetched_ts;
};
int mxr_store_server_key_put(struct mxr_store_txn *txn, const char *server, const char *key_id,
                             const struct mxr_store_server_key *k, struct mxr_err *err);
int mxr_store_server_key_get(struct mxr_store_txn *txn, const char *server, const char *key_id,
                             struct mxr_store_server_key *out, struct mxr_err *err);
typedef int (*mxr_store_server_key_cb)(void *arg, const char *key_id,
                                       const struct mxr_store_server_key *k);
int mxr_store_server_keys(struct mxr_store_txn *txn, const char *server, mxr_store_server_key_cb cb,
                          void *arg, struct mxr_err *err);

/* The outbound queue per destination: PDUs (by event ID) and EDUs (JSON)
 * not yet delivered, in enqueue order. */
enum mxr_store_queue_kind { MXR_STORE_QUEUE_PDU = 1, MXR_STORE_QUEUE_EDU = 2 };
int mxr_store_queue_pdu(struct mxr_store_txn *txn, const char *dest, const char *event_id,
                        struct mxr_err *err);
int mxr_store_queue_edu(struct mxr_store_txn *txn, const char *dest, const char *edu_json,
                        size_t len, struct mxr_err *err);
/* cb gets each queued item in order: for a PDU the event ID (data, len =
 * strlen), for an EDU its JSON (zero-copy). Return nonzero to stop. */
typedef int (*mxr_store_queue_cb)(void *arg, uint64_t seq, enum mxr_store_queue_kind kind,
                                  const char *data, size_t len);
int mxr_store_queue_peek(struct mxr_store_txn *txn, const char *dest, size_t limit,
                         mxr_store_queue_cb cb, void *arg, struct mxr_err *err);
/* Removes the destination's items with seq <= upto (delivered). */
int mxr_store_queue_ack(struct mxr_store_txn *txn, const char *dest, uint64_t upto,
                        struct mxr_err *err);
/* Destinations with queued items. */
int mxr_store_queue_destinations(struct mxr_store_txn *txn, int (*cb)(void *arg, const char *dest),
                                 void *arg, struct mxr_err *err);

/* Retry bookkeeping per destination (spec: back off on failures). */
struct mxr_store_retry {
    uint32_t failures;         /* consecutive failures, 0 = healthy */
    int64_t last_failure_ts;
    int64_t next_attempt_ts;   /* do not try before this time */
};
int mxr_store_retry_get(struct mxr_store_txn *txn, const char *dest, struct mxr_store_retry *out,
                        struct mxr_err *err);
/* A zero `failures` clears the record. */
int mxr_store_retry_set(struct mxr_store_txn *txn, const char *dest,
                        const struct mxr_store_retry *r, struct mxr_err *err);

#endif
