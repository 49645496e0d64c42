/* Other servers' signing keys: fetched from their key server, validated,
 * cached (spec: server-server API "Retrieving server keys").
 *
 * The cache sits behind struct mxr_keycache_ops so that the LMDB store can
 * back it later; the default is in memory. The fetcher and the clock are
 * injected, so tests run the whole policy without a network. Thread-safe. */
#ifndef MXR_RELAY_KEYRING_H
#define MXR_RELAY_KEYRING_H

#include <jansson.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/keys.h"

#define MXR_KEY_MAX_VALIDITY_MS (7LL * 24 * 3600 * 1000)  /* keys.yaml: lesser of valid_until_ts and now + 7 days */
#define MXR_KEY_REFETCH_MIN_MS (10LL * 1000)              /* no refetch of one server more often than this */

/* GET /_matrix/key/v2/server of server_name: the parsed response (new
 * reference; not yet validated) or NULL with err. */
typedef json_t *(*mxr_key_fetch_fn)(void *ctx, const char *server_name, struct mxr_err *err);

/* Storage of the last validated key response per server. */
struct mxr_keycache_ops {
    /* New reference to the stored response and its fetch time, or NULL. */
    json_t *(*get)(void *ctx, const char *server_name, int64_t *fetched_ts);
    /* Stores (replaces) the response of server_name. */
    int (*put)(void *ctx, const char *server_name, json_t *response, int64_t fetched_ts, struct mxr_err *err);
    void *ctx;
};

struct mxr_keyring_deps {
    const char *server_name;                /* ours: our own keys are never fetched */
    const struct mxr_signing_key *key;      /* our current key */
    int64_t (*clock)(void *ctx);            /* ms since the epoch */
    void *clock_ctx;
    mxr_key_fetch_fn fetch;
    void *fetch_ctx;
    const struct mxr_keycache_ops *cache;   /* NULL: in memory */
};

struct mxr_keyring;

struct mxr_keyring *mxr_keyring_new(const struct mxr_keyring_deps *deps, struct mxr_err *err);
void mxr_keyring_free(struct mxr_keyring *kr);

/* Validates a key server response for server_name (keys.yaml): the required
 * fields with their types, server_name equal to the one asked for, ed25519
 * keys of 32 bytes, and self-signed: at least one signature of server_name
 * by one of its verify_keys, and every such signature valid. */
int mxr_keyring_check_response(const json_t *resp, const char *server_name, struct mxr_err *err);

/* The public key to check a request signature of server with key_id: a key
 * of verify_keys (old_verify_keys are for events only) still valid now.
 * Fetches when the key is unknown or expired. 0 or -1 with err. */
int mxr_keyring_request_key(struct mxr_keyring *kr, const char *server, const char *key_id, uint8_t pk[32],
                            struct mxr_err *err);

/* struct mxr_verify_keys lookup (ctx is the keyring), for events: a current
 * key valid at valid_at_ts, or an old key that expired after it. */
int mxr_keyring_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32]);

/* Notary view: server's own signed response (new reference, to be treated
 * as read-only), fetched again when it is not valid until
 * minimum_valid_until_ts or past half of its lifetime. If the server cannot
 * be reached, the last response is returned even if stale; NULL (err set)
 * when there is none (a cached response without signatures, such as keys
 * rebuilt from the store, does not count: it is never served). */
json_t *mxr_keyring_query(struct mxr_keyring *kr, const char *server, int64_t minimum_valid_until_ts,
                          struct mxr_err *err);

#endif
