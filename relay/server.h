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
struct mxr_client;
struct mxr_store;
struct mxr_rooms;
struct mxr_inbound;
struct mxr_edu_store;
struct mxr_realm;
struct mxr_fedout;

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
    struct mxr_client *client;           /* the client-server API (relay/client); NULL when not served */
    struct mxr_store *store;             /* the LMDB store under data_dir (thread-safe) */
    struct mxr_rooms *rooms;             /* the event pipeline over the store (thread-safe) */
    struct mxr_inbound *inbound;         /* inbound federation: rate limits, /send order */
    struct mxr_edu_store *edus;          /* EDUs received, for the client API (thread-safe) */
    struct mxr_realm *realm;             /* the PIN realm (relay/realm); NULL when not served */
    struct mxr_fedout *fedout;           /* outbound federation: queue, handshakes (relay/federation/fedout.h) */
    atomic_uint_fast64_t next_request_id;
};

/* The server's clock (ms since the epoch). */
int64_t mxr_server_now(const struct mxr_server *srv);

/* A fresh request ID for logs ("r" + counter in base 36). */
void mxr_server_request_id(struct mxr_server *srv, char out[24]);

/* The rooms notify hook of the daemon (ctx: the server): runs after each
 * commit for every event stored by it. Logs; the outbound sender and the
 * client API's sync wake-ups hook in here. */
struct mxr_rooms_notice;
void mxr_server_rooms_notify(void *ctx, const struct mxr_rooms_notice *n);

/* Shorthands for logging from the server context. */
#define srv_log(srv, level, reqid, ...) mxr_log(&(srv)->log, (level), (reqid), __VA_ARGS__)

#endif
