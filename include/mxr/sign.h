/* Signing JSON and checking signatures (spec: appendices "Signing JSON" >
 * "Signing Details" and "Checking for a Signature").
 *
 * Signatures cover the canonical JSON of the object without `signatures` and
 * `unsigned`; they live in signatures[entity][key_id] as unpadded standard
 * base64. Only the ed25519 algorithm is understood; key IDs of other
 * algorithms are ignored, as the spec asks.
 */
#ifndef MXR_SIGN_H
#define MXR_SIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/keys.h"

/* The bytes a signature covers: canonical JSON of obj (an object) without
 * `signatures` and `unsigned`. malloc'd, NUL-terminated, length in *len.
 * Integers beyond 2^53 are encoded as written (mxr_canonical_json_lax:
 * room versions 1-5 events carry them); floats are refused. */
char *mxr_sign_payload(const json_t *obj, size_t *len, struct mxr_err *err);

/* Signs obj in place as `entity` (a server name) with key: adds
 * signatures[entity][key->key_id], keeping every other signature and
 * `unsigned` untouched. */
int mxr_sign_json(json_t *obj, const char *entity, const struct mxr_signing_key *key, struct mxr_err *err);

/* Checks the one signature signatures[entity][key_id] with public key pk.
 * 0 when valid; -1 otherwise: M_FORBIDDEN (absent or wrong signature),
 * M_UNRECOGNIZED (algorithm other than ed25519), M_BAD_JSON (malformed
 * `signatures`, undecodable base64). */
int mxr_verify_json(const json_t *obj, const char *entity, const char *key_id, const uint8_t pk[32],
                    struct mxr_err *err);

/* The ed25519 key IDs entity signed obj with, in the object's order:
 * pointers into obj, the first `max` stored in ids. Returns how many exist
 * (may exceed max). Entries of other algorithms or non-string values are
 * skipped. */
size_t mxr_signature_key_ids(const json_t *obj, const char *entity, const char **ids, size_t max);

/* Where verification keys come from: the daemon plugs its key store in, the
 * `mxr` command a single key. lookup fills pk and returns 0 when the key of
 * (server, key_id) is known and usable for data stamped valid_at_ts (ms
 * since the epoch; MXR_KEY_ANY_TIME: no validity constraint), -1 when it is
 * unknown or expired, in which case the signature is skipped. */
#define MXR_KEY_ANY_TIME INT64_MIN
struct mxr_verify_keys {
    int (*lookup)(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32]);
    void *ctx;
};

/* "Checking for a signature" for one entity against a key source: there must
 * be an entry for entity, at least one ed25519 signature by a known key, and
 * every signature by a known key must verify (signatures by unknown or
 * expired keys are skipped, as the server-server API requires for events).
 * 0 or -1 (M_FORBIDDEN, message naming the entity and key). */
int mxr_verify_json_keys(const json_t *obj, const char *entity, const struct mxr_verify_keys *keys,
                         int64_t valid_at_ts, struct mxr_err *err);

/* A key source holding exactly one (server, key_id, public key). */
struct mxr_single_key {
    const char *server;
    const char *key_id;
    uint8_t public_key[32];
};
int mxr_single_key_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts,
                          uint8_t pk[32]);

#endif
