/* Shared harness of the federation benchmarks (tests/bench/): a scratch
 * relay started from the build tree, K simulated remote servers (own
 * ed25519 keys, served over HTTPS through the relay's
 * federation_static_map), client-API and signed federation requests, and
 * the relay's CPU time and memory read from /proc. */
#ifndef MXR_BENCH_FED_H
#define MXR_BENCH_FED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mxr/event.h"
#include "mxr/keys.h"

#define BF_NAME_MAX 64

/* One simulated remote server and its user's place in the bench room. */
struct bf_server {
    char name[BF_NAME_MAX];            /* "r3.bench.test" */
    char user[BF_NAME_MAX + 16];       /* "@u:r3.bench.test" */
    struct mxr_signing_key key;
    char *key_response;                /* signed GET /_matrix/key/v2/server body */
    char join_id[MXR_ID_MAX + 1];
};

struct bf_env {
    char dir[256];                     /* scratch directory, removed by bf_stop */
    char ca[300], crt[300], key[300];
    char relay_name[BF_NAME_MAX];
    char base_url[64];                 /* https://127.0.0.1:PORT */
    pid_t relay_pid;
    bool starting;                     /* connection errors expected */
    struct bf_server *srv;
    size_t n_srv;
    void *mhd;                         /* the remote servers' HTTPS responder */
    char *mhd_cert, *mhd_key;          /* its TLS material (MHD keeps pointers) */
    void *curl;                        /* easy handle for setup requests */
    char token[256], user_id[MXR_ID_MAX + 1];
};

/* Creates the scratch dir, a CA and one certificate for every name, the
 * remote servers' keys and responder, writes the relay's config (plus
 * `extra_config` lines) and starts the relay; returns once it answers. */
int bf_start(struct bf_env *e, size_t n_servers, const char *extra_config);
/* Stops the relay and the responder and removes the scratch dir. */
void bf_stop(struct bf_env *e);

/* A client-API request as the registered user (token set) or anonymous;
 * *status is the HTTP status; the parsed body (new reference) or NULL. */
json_t *bf_client(struct bf_env *e, const char *method, const char *path, json_t *body, long *status);
/* The same on a caller's curl easy handle (another thread). */
json_t *bf_client_on(struct bf_env *e, void *curl, const char *method, const char *path, json_t *body,
                     long *status);
/* A signed federation request as remote server `s`. */
json_t *bf_fed(struct bf_env *e, size_t s, const char *method, const char *uri, json_t *content, long *status);

/* Registers user `localpart` (m.login.dummy) and keeps its token. */
int bf_register(struct bf_env *e, const char *localpart);
/* Joins remote server s's user to room_id through make_join/send_join;
 * fills *depth with the join's depth. */
int bf_join(struct bf_env *e, size_t s, const char *room_id, const struct mxr_room_version **rv, int64_t *depth);

/* The Authorization header value for a request of server s. */
int bf_xmatrix(struct bf_env *e, size_t s, const char *method, const char *uri, json_t *content, char *out,
               size_t cap);

/* The relay's CPU seconds (all threads, user + system) and a memory field
 * of /proc/PID/status ("VmRSS:", "VmHWM:") in KiB; -1 when unreadable. */
double bf_cpu_seconds(pid_t pid);
long bf_status_kib(pid_t pid, const char *field);
/* Resets the peak RSS (VmHWM) of pid to its current RSS; 0 or -1. */
int bf_reset_peak_rss(pid_t pid);
/* Seconds the relay's live threads spent runnable but waiting for a CPU
 * (/proc/PID/task/TID/schedstat, field 2): what a shared machine costs. */
double bf_runqueue_seconds(pid_t pid);

double bf_now(void);               /* monotonic seconds */
int64_t bf_now_ms(void);           /* wall clock, ms */
double bf_percentile(double *v, size_t n, double p);   /* sorts v */

#endif
