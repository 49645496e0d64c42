/* Other servers' keys kept in the store (the keyring's cache,
 * struct mxr_keycache_ops): what a key server answered survives restarts,
 * and is trusted until its valid_until_ts as the keyring decides (spec:
 * server-server API "Retrieving server keys"; keys.yaml: the lesser of
 * valid_until_ts and 7 days after the fetch).
 *
 * Each validated response is kept whole in memory (the notary view serves
 * it, self-signature included) and key by key in the store
 * (mxr_store_server_key_put: key, valid_until_ts, expired_ts, fetched_ts).
 * After a restart a server's keys come back from those rows as a response
 * without "signatures": good for checking signatures (the keys were
 * verified when fetched), not for serving as a notary, which the keyring
 * refetches for (mxr_keyring_query). Thread-safe. */
#ifndef MXR_RELAY_KEYSTORE_H
#define MXR_RELAY_KEYSTORE_H

#include "mxr/error.h"
#include "relay/federation/keyring.h"
#include "relay/log.h"

struct mxr_store;
struct mxr_keystore;

struct mxr_keystore *mxr_keystore_new(struct mxr_store *store, const struct mxr_log *log, struct mxr_err *err);
void mxr_keystore_free(struct mxr_keystore *ks);

/* The cache operations for struct mxr_keyring_deps (valid while ks lives). */
const struct mxr_keycache_ops *mxr_keystore_ops(struct mxr_keystore *ks);

/* A response rebuilt from the store rows of server_name: verify_keys from
 * the latest fetch, old_verify_keys from rows marked expired and from keys
 * of earlier fetches no longer listed (expired at their valid_until_ts);
 * no signatures. New reference and *fetched_ts, NULL when no row. Exposed
 * for tests. */
json_t *mxr_keystore_load(struct mxr_store *store, const char *server_name, int64_t *fetched_ts,
                          struct mxr_err *err);

#endif
