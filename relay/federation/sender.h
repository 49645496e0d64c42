/* Outbound delivery: a persistent queue per destination server, drained by
 * /send transactions (spec: server-server API "Transactions").
 *
 * - Queued PDUs (by event ID) and EDUs (JSON) are in the store
 *   (mxr_store_queue_*) before an enqueue returns, so they survive restarts.
 * - One transaction in flight per destination (transactions.yaml: a sender
 *   waits for the 200 before sending another), each a prefix of the queue in
 *   order: at most 50 PDUs and 100 EDUs. Its txnId names the queue range
 *   ("<first seq>-<last seq>"), so a retry after a restart resends the same
 *   content under the same ID and the receiver's deduplication holds.
 * - A failing destination backs off exponentially (capped) and is retried;
 *   the state is in the store (mxr_store_retry_*). When the destination is
 *   heard from (it sends to us), the back-off is reset and its queue flushed.
 * - The queue is bounded: over the bound the oldest EDUs go first; PDUs
 *   only past their own bound, oldest first and with a warning in the log
 *   (the destination fetches what it misses with /get_missing_events or
 *   /backfill when later PDUs reference them).
 *
 * The transport and the clock are injected: tests drive the sender with
 * mxr_sender_run_once and a fake transport; the daemon starts a thread
 * (mxr_sender_start) and uses the federation client. */
#ifndef MXR_RELAY_SENDER_H
#define MXR_RELAY_SENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/log.h"

struct mxr_store;
struct mxr_fedclient;

#define MXR_TXN_MAX_PDUS 50          /* transactions.yaml */
#define MXR_TXN_MAX_EDUS 100
#define MXR_SENDER_BACKOFF_BASE_MS 2000LL
#define MXR_SENDER_BACKOFF_MAX_MS (3600LL * 1000)
#define MXR_SENDER_MAX_QUEUED_EDUS 5000
#define MXR_SENDER_MAX_QUEUED_PDUS 50000

/* The answer to one transaction: status 200 with body the /send response,
 * or status 0 / non-200 with err. Called exactly once, from any thread. */
typedef void (*mxr_sender_done_fn)(void *done_ctx, long status, json_t *body, const struct mxr_err *err);

struct mxr_sender_transport {
    /* Starts PUT /_matrix/federation/v1/send/{txn_id} to dest with body
     * (borrowed); done later. -1 when it could not start (done not called). */
    int (*send)(void *ctx, const char *dest, const char *txn_id, json_t *body, mxr_sender_done_fn done,
                void *done_ctx, struct mxr_err *err);
    void *ctx;
};

struct mxr_sender_limits {          /* 0: the defaults above */
    size_t max_pdus, max_edus;      /* per transaction */
    int64_t backoff_base_ms, backoff_max_ms;
    size_t max_queued_edus, max_queued_pdus;
};

struct mxr_sender_deps {
    const char *server_name;        /* ours: the transactions' origin; never a destination */
    struct mxr_store *store;
    struct mxr_sender_transport transport;
    int64_t (*clock)(void *ctx);    /* ms since the epoch; NULL: the real clock */
    void *clock_ctx;
    const struct mxr_log *log;      /* may be NULL */
    struct mxr_sender_limits limits;
};

struct mxr_sender;

/* Loads the destinations with queued items and their retry state. */
struct mxr_sender *mxr_sender_new(const struct mxr_sender_deps *deps, struct mxr_err *err);
/* Stops the thread (if started): no transaction starts after this. */
void mxr_sender_stop(struct mxr_sender *s);
/* Waits for the transactions in flight to complete (the transport must
 * complete them: the federation client does when it is freed, so free it
 * between mxr_sender_stop and this), then frees. What is still queued stays
 * in the store for the next start. */
void mxr_sender_free(struct mxr_sender *s);

/* A thread running mxr_sender_run_once whenever there is work or a retry
 * is due. */
int mxr_sender_start(struct mxr_sender *s, struct mxr_err *err);

/* The transport over the federation client (ctx: struct mxr_fedclient). */
struct mxr_sender_transport mxr_sender_fedclient_transport(struct mxr_fedclient *fc);

/* ---- enqueueing (any thread; durable when it returns 0) ------------------- */

/* The PDU event_id to each of dests (our own name and duplicates skipped). */
int mxr_sender_queue_pdu(struct mxr_sender *s, const char *event_id, const char *const *dests, size_t n,
                         struct mxr_err *err);
/* An EDU {edu_type, content} to each of dests. */
int mxr_sender_queue_edu(struct mxr_sender *s, const json_t *edu, const char *const *dests, size_t n,
                         struct mxr_err *err);
/* The PDU to every other server with a joined member in the room's current
 * state (spec: the sending server sends to all servers in the room), plus
 * `also` (may be NULL: for a membership event, the server of its state_key,
 * which may just have left). */
int mxr_sender_queue_room_pdu(struct mxr_sender *s, const char *room_id, const char *event_id, const char *also,
                              struct mxr_err *err);
/* An EDU to the other servers of a room (typing, receipts). */
int mxr_sender_queue_room_edu(struct mxr_sender *s, const char *room_id, const json_t *edu, struct mxr_err *err);

/* PDUs queued for dests by another store write (mxr_store_queue_pdu inside
 * the commit of their event, so the event and its delivery commit
 * together): after that commit, count them (n_pdus each) and wake the
 * thread. Our own name is skipped. */
void mxr_sender_note_queued(struct mxr_sender *s, const char *const *dests, size_t n, size_t n_pdus);

/* We heard from server (an authenticated request): if it was backing off,
 * it is up again: reset its back-off and send what is queued. */
void mxr_sender_peer_alive(struct mxr_sender *s, const char *server);

/* ---- driving it (tests; the thread does this) ------------------------------ */

/* Handles finished transactions, compacts over-full queues, starts the due
 * transactions. Returns the time (ms) of the next due retry, INT64_MAX when
 * none; -1 never (store failures are logged and retried later). */
int64_t mxr_sender_run_once(struct mxr_sender *s);

struct mxr_sender_dest_info {
    size_t queued_pdus, queued_edus;   /* as counted in memory (exact after a compaction or restart) */
    uint32_t failures;
    int64_t next_attempt_ts;
    bool in_flight;
    uint64_t txns_sent, pdus_dropped, edus_dropped;
};
/* 0, or -1 when the destination is not known to the sender. */
int mxr_sender_dest_info(struct mxr_sender *s, const char *dest, struct mxr_sender_dest_info *out);

#endif
