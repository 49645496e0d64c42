/* Fetching other servers' signing keys for the keyring (mxr_key_fetch_fn):
 * directly from the server's key server, then, when it cannot be reached,
 * through the configured notaries (spec: server-server API "Retrieving
 * server keys", "Querying Keys Through Another Server").
 *
 * A notary's answer is believed only when signed by the notary itself with
 * one of its current keys, which are fetched from it and checked for their
 * own self-signature; the keyring then checks the origin's self-signature
 * and valid_until_ts as for a direct answer, and caches it. */
#ifndef MXR_RELAY_KEYFETCH_H
#define MXR_RELAY_KEYFETCH_H

#include <jansson.h>
#include <stddef.h>

#include "mxr/error.h"

struct mxr_fedclient;
struct mxr_keyfetch;

/* notaries: server names, in the order to ask them (copied; may be empty). */
struct mxr_keyfetch *mxr_keyfetch_new(struct mxr_fedclient *fc, const char *const *notaries, size_t n,
                                      struct mxr_err *err);
void mxr_keyfetch_free(struct mxr_keyfetch *kf);

/* mxr_key_fetch_fn (ctx: the struct mxr_keyfetch): the server's
 * /_matrix/key/v2/server answer, directly or from a notary. */
json_t *mxr_keyfetch_fetch(void *kf, const char *server_name, struct mxr_err *err);

/* The entry for server_name in a notary's {"server_keys": [...]} answer,
 * verified to carry a valid signature of `notary` by one of the keys in
 * notary_keys (the notary's own checked key response). New reference or
 * NULL with err. Exposed for tests. */
json_t *mxr_keyfetch_from_notary_answer(const json_t *answer, const char *server_name, const char *notary,
                                        const json_t *notary_keys, struct mxr_err *err);

#endif
