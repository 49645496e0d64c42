/* The PIN-protected key-recovery realm every relay runs (design:
 * pin-recovery-and-payments.md §2.4 realm algorithms, §6 feature spec).
 *
 * A realm holds one Shamir share of a user's PIN-protected secret and the
 * matching OPRF key share, and answers at most `allowed_guesses` OPRF
 * evaluations before it wipes them. Clients spread a secret over realms of
 * independent relays (t-of-n, t > n/2), so no single operator can recover it
 * or test PINs offline.
 *
 * Endpoints under /_relay/realm/v1 (§6.3): GET info (signed with the relay's
 * federation key), POST session, register1, register2, recover1, recover2,
 * recover3, delete, audit. Every POST body is a sealed envelope
 * (mxr/realm_wire.h). Guess-limit semantics are §6.4's, normative: a guess
 * is counted and durably committed before the OPRF answer is computed.
 *
 * Handlers reach the realm through req->srv->realm. State lives in the
 * store's realm tables (relay/store/realm.h), each record sealed with a key
 * kept in a 0600 key file outside the LMDB environment.
 */
#ifndef MXR_RELAY_REALM_H
#define MXR_RELAY_REALM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/keys.h"
#include "relay/http/http.h"
#include "relay/log.h"

struct mxr_store;
struct mxr_server;
struct mxr_realm;

/* Rate limits (§6.9). Every rejection is a 429 M_LIMIT_EXCEEDED with
 * retry_after_ms and never touches a guess counter. A zero field disables
 * that limit. */
struct mxr_realm_limits {
    double ip_per_second;            /* per source IP, all realm endpoints (token bucket) */
    unsigned ip_burst;
    int64_t recover2_interval_ms;    /* per user: recover2 calls at least this far apart */
    int64_t recover3_grace_ms;       /* a recover3 this soon after the user's recover2 skips the IP bucket */
    unsigned register_per_day;       /* per user: register2 calls per 24 h */
    unsigned delete_per_day;         /* per user: delete calls per 24 h */
    double sessions_per_minute_per_server;   /* per homeserver: session attempts (OpenID lookups) */
    unsigned sessions_burst_per_server;
};

/* The defaults of §6.9: 10 req/s burst 20 per IP; recover2 1 s apart;
 * recover3 grace 60 s; 10 register2 and 10 delete a day; 60 sessions a
 * minute per homeserver, burst 30. */
void mxr_realm_limits_default(struct mxr_realm_limits *l);

/* Verifies an OpenID token against the user's homeserver (§6.6 step 3): 0
 * and the user ID (which the realm then checks belongs to matrix_server),
 * or -1 with err (M_UNKNOWN_TOKEN for a token the homeserver does not know). */
typedef int (*mxr_realm_openid_fn)(void *ctx, const char *matrix_server, const char *token, char user_out[256],
                                   struct mxr_err *err);

struct mxr_realm_deps {
    const char *server_name;                 /* ours: info and its signature */
    const struct mxr_signing_key *key;       /* the federation signing key that signs info */
    struct mxr_store *store;
    const char *key_path;                    /* the 0600 key file (created on first start) */
    const struct mxr_log *log;               /* may be NULL */
    int64_t (*clock)(void *ctx);             /* ms since the epoch; NULL: the real clock */
    void *clock_ctx;
    mxr_realm_openid_fn openid;
    void *openid_ctx;
    unsigned max_allowed_guesses;            /* 0: MXR_REALM_DEFAULT_MAX_GUESSES */
    const struct mxr_realm_limits *limits;   /* NULL: mxr_realm_limits_default */
};

/* Loads (or on first start creates) the realm's keys and identity. */
struct mxr_realm *mxr_realm_new(const struct mxr_realm_deps *deps, struct mxr_err *err);
void mxr_realm_free(struct mxr_realm *r);

/* The realm's public identity, for tests and logs. */
void mxr_realm_identity(const struct mxr_realm *r, uint8_t realm_id[16], uint8_t box_pk[32]);

/* The realm's routes (GET info; POST session .. audit). */
int mxr_realm_add_routes(struct mxr_router *router, struct mxr_err *err);

/* The daemon's wiring in one call: a realm over srv->store with its key
 * file in data_dir/realm.key, OpenID tokens checked locally for our own
 * users and over federation (GET /_matrix/federation/v1/openid/userinfo)
 * for others; stored in srv->realm; adds the realm routes and the OpenID
 * request_token routes (relay/realm/openid.h). */
int mxr_realm_start(struct mxr_server *srv, struct mxr_router *router, struct mxr_err *err);

#endif
