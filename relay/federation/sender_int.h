/* Internals of the delivery queue shared by sender.c (start-up,
 * transactions, the thread) and sender_queue.c (enqueueing, the queue
 * bound, the transport over the federation client). */
#ifndef MXR_RELAY_SENDER_INT_H
#define MXR_RELAY_SENDER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "relay/federation/sender.h"

struct dest {
    char *name;
    size_t n_pdus, n_edus;          /* queued, as counted here */
    bool pending;                   /* the queue may hold items */
    bool in_flight;
    uint64_t flight_last;           /* the transaction's last queue seq */
    size_t flight_pdus, flight_edus;
    uint32_t failures;
    int64_t last_failure_ts, next_attempt_ts;
    bool retry_in_store;            /* a back-off record exists in the store */
    uint64_t txns_sent, pdus_dropped, edus_dropped;
};

struct completion {
    struct completion *next;
    struct dest *d;
    long status;
    json_t *body;
    struct mxr_err err;
};

struct mxr_sender {
    struct mxr_sender_deps deps;
    struct mxr_sender_limits lim;
    char *own_name;
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* work, completions, stop */
    struct dest **dests;            /* stable pointers */
    size_t n, cap;
    struct completion *done_head, *done_tail;
    size_t in_flight;
    bool wake, stopping, started;
    pthread_t thread;
};

#define slog(s, level, ...)                                         \
    do {                                                            \
        if ((s)->deps.log)                                          \
            mxr_log((s)->deps.log, (level), NULL, __VA_ARGS__);     \
    } while (0)

/* The sender's clock (ms since the epoch). */
int64_t sender_now(const struct mxr_sender *s);

/* The destination named `name` (created when `create`). Under mu; NULL when
 * unknown, or out of memory. */
struct dest *sender_dest(struct mxr_sender *s, const char *name, bool create);

/* Whether d's queue is past its bound by enough to rewrite it. */
bool sender_over_bound(const struct mxr_sender *s, const struct dest *d);

/* Rewrites d's queue within the bound: the oldest EDUs go first, PDUs only
 * past their own bound (logged). Not under mu; d not in flight. */
void sender_compact(struct mxr_sender *s, struct dest *d);

#endif
