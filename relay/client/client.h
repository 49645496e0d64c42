/* The client-server API: the endpoints real Matrix clients (matrix-nio,
 * matrix-js-sdk) need from an operator-run homeserver — discovery, accounts
 * and devices, access-token authentication, rooms, profiles and /sync.
 *
 * Handlers reach the context through req->srv->client; they read the store
 * in short read transactions and change rooms only through relay/rooms (one
 * event pipeline for local and remote events). Every route is served under
 * /_matrix/client/v3 and, for older clients such as matrix-nio 0.20, the
 * legacy /_matrix/client/r0 prefix.
 */
#ifndef MXR_RELAY_CLIENT_H
#define MXR_RELAY_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

struct mxr_config;
struct mxr_log;
struct mxr_router;
struct mxr_request;
struct mxr_rooms;
struct mxr_rooms_notice;
struct mxr_server;
struct mxr_store;
struct mxr_client;

struct mxr_client_deps {
    const struct mxr_config *cfg;          /* server_name, registration_*, default_room_version, public_baseurl */
    struct mxr_store *store;
    struct mxr_rooms *rooms;               /* NULL: accounts only (no routes) */
    const struct mxr_log *log;             /* may be NULL */
    int64_t (*clock)(void *ctx);           /* ms since the epoch; NULL: the real clock */
    void *clock_ctx;
    /* Seams for the federation side (NULL until it lands): joining a room
     * this server is not in (make_join/send_join over `via`), and inviting
     * a user of another server (the /invite handshake). Both return 0 or -1
     * with err; remote_join fills room_id_out. */
    int (*remote_join)(void *ctx, const char *room_id_or_alias, const char *user_id, const char *const *via,
                       size_t n_via, char room_id_out[256], struct mxr_err *err);
    int (*remote_invite)(void *ctx, const char *room_id, const char *sender, const char *invitee,
                         const char *reason, struct mxr_err *err);
    /* Knocking on a room this server is not in (make_knock/send_knock),
     * by ID or alias with `via` as for remote_join; fills room_id_out. */
    int (*remote_knock)(void *ctx, const char *room_id_or_alias, const char *user_id, const char *reason,
                        const char *const *via, size_t n_via, char room_id_out[256], struct mxr_err *err);
    /* Rejecting an invite or retracting a knock of a room no user of ours
     * is joined to (make_leave/send_leave). */
    int (*remote_leave)(void *ctx, const char *room_id, const char *user_id, struct mxr_err *err);
    /* The profile of a user of another server (federation /query/profile):
     * every field (field NULL) or one; *out a new reference. */
    int (*remote_profile)(void *ctx, const char *user_id, const char *field, json_t **out, struct mxr_err *err);
    void *remote_ctx;
    /* Argon2id cost of new password hashes; 0: libsodium's INTERACTIVE
     * limits. Tests lower them (verification reads the cost from the hash). */
    unsigned long long pwhash_opslimit;
    size_t pwhash_memlimit;
};

struct mxr_client *mxr_client_new(const struct mxr_client_deps *deps, struct mxr_err *err);
/* Ends pending /sync long-polls at once (they answer with what they have)
 * and makes new ones return without waiting: call before stopping the
 * listeners, so that draining does not wait out sync timeouts. */
void mxr_client_shutdown(struct mxr_client *c);
/* After the listeners stopped (no handler runs any more). */
void mxr_client_free(struct mxr_client *c);

/* Adds the client-server routes (v3 and r0) and sets r->client_auth. */
int mxr_client_add_routes(struct mxr_router *r, struct mxr_err *err);

/* The daemon's wiring in one call: builds the client context over
 * srv->store and srv->rooms, stores it in srv->client and adds the routes.
 * mxr_client_free(srv->client) after the listeners stopped. */
int mxr_client_start(struct mxr_server *srv, struct mxr_router *r, struct mxr_err *err);

/* The access-token hook of the dispatcher (MXR_ROUTE_CLIENT_AUTH): an
 * `Authorization: Bearer` header or the legacy `access_token` query
 * parameter; fills req->user_id and req->device_id. 401 M_MISSING_TOKEN /
 * M_UNKNOWN_TOKEN. */
int mxr_client_authenticate(struct mxr_request *req, struct mxr_err *err);

/* For the rooms notify hook (has the mxr_rooms_notify_fn signature): wakes
 * /sync long-polls when events were stored. ctx is the struct mxr_client
 * (NULL is ignored). */
void mxr_client_rooms_notify(void *ctx, const struct mxr_rooms_notice *n);

/* Creates a local account with a password (NULL: no password login),
 * optionally admin. `user` is a localpart or a user ID of this server.
 * M_USER_IN_USE when taken, M_INVALID_USERNAME for a bad localpart. */
int mxr_client_create_account(struct mxr_client *c, const char *user, const char *password, bool admin,
                              char user_id_out[256], struct mxr_err *err);

/* The `register-user` sub-command of mxrelay:
 *   mxrelay --config FILE register-user USER [--password P | --password-file F] [--admin]
 * mxr_client_cli_wants() tells whether argv names it; mxr_client_cli_main()
 * runs it and returns the exit code (0, 1 failure, 2 usage). */
bool mxr_client_cli_wants(int argc, char **argv);
int mxr_client_cli_main(int argc, char **argv);

#endif
