/* OpenID tokens (client-server API "OpenID"; server-server API "OpenID"):
 * a user asks their homeserver for a short-lived token that proves their
 * identity to a third party, which checks it with the homeserver's
 * GET /_matrix/federation/v1/openid/userinfo. The PIN realm of every relay
 * is such a third party (design pin-recovery-and-payments.md §6.6).
 *
 * The tokens are stored as their SHA-256 with an expiry (one hour) in the
 * store's openidtoken_user table. */
#ifndef MXR_RELAY_REALM_OPENID_H
#define MXR_RELAY_REALM_OPENID_H

#include <stdbool.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/http/http.h"

struct mxr_server;
struct mxr_store;

#define MXR_OPENID_TTL_MS (60 * 60 * 1000LL)

/* POST /_matrix/client/{v3,r0}/user/{userId}/openid/request_token
 * (access-token authenticated: needs the client API's auth hook). */
int mxr_openid_add_routes(struct mxr_router *r, struct mxr_err *err);

/* The user an unexpired token was issued to: 0 with user_out filled,
 * MXR_STORE_NOT_FOUND (1) for an unknown or expired token, -1 on a store
 * failure. */
int mxr_openid_lookup(struct mxr_store *store, int64_t now_ms, const char *token, char user_out[256],
                      struct mxr_err *err);

/* For GET /_matrix/federation/v1/openid/userinfo (relay/federation/query.c,
 * its openid_token_user seam): true and user_out filled for a valid token
 * of srv's store at srv's clock. */
bool mxr_openid_token_user(struct mxr_server *srv, const char *token, char user_out[256]);

#endif
