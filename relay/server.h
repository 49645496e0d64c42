/* The server context: everything the daemon shares between requests.
 *
 * This is the only mutable state of the daemon; there are no other globals.
 * main() builds one, tests build their own (with a fake clock and a fake
 * outbound fetcher) and drive the handlers without sockets. Fields are set
 * up before the listeners start and read-only afterwards, except the parts
 * that are thread-safe objects (keyring) or atomics. */
#ifndef MXR_RELAY_SERVER_H
#define MXR_RELAY_SERVER_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "mxr/keys.h"
#include "relay/config.h"
#include "relay/log.h"

struct mxr_keyring;
struct mxr_fedclient;
struct mxr_http;

struct mxr_server {
    const struct mxr_config *cfg;
    struct mxr_log log;
    struct mxr_signing_key key;          /* our current signing key */
    /* Wall clock in ms since the epoch; NULL means the real clock. Tests
     * inject theirs so that validity periods are deterministic. */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    struct mxr_keyring *keyring;         /* other servers' keys (thread-safe) */
    struct mxr_fedclient *fed;           /* outbound requests; NULL in tests */
    struct mxr_http *http;               /* the listeners; NULL in tests */
    atomic_uint_fast64_t next_request_id;
};

/* The server's clock (ms since the epoch). */
int64_t mxr_server_now(const struct mxr_server *srv);

/* A fresh request ID for logs ("r" + counter in base 36). */
void mxr_server_request_id(struct mxr_server *srv, char out[24]);

/* Shorthands for logging from the server context. */
#define srv_log(srv, level, reqid, ...) mxr_log(&(srv)->log, (level), (reqid), __VA_ARGS__)

#endif
