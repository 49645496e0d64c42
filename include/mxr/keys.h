/* Server signing keys: ed25519 (spec: appendices "Signing JSON", server-server
 * API "Retrieving server keys"; key IDs per definitions/keys.yaml).
 *
 * On disk a key is one line in Synapse's signing.key format:
 *     ed25519 <version> <unpadded standard base64 of the 32-byte seed>
 * where <version> is [A-Za-z0-9_]+. The key ID is "ed25519:<version>".
 */
#ifndef MXR_KEYS_H
#define MXR_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

#define MXR_KEY_VERSION_MAX 64                       /* our own limit; the spec sets none */
#define MXR_KEY_ID_MAX (8 + MXR_KEY_VERSION_MAX)     /* "ed25519:" + version */
#define MXR_KEY_B64_LEN 43                           /* unpadded base64 of 32 bytes */
#define MXR_SIG_B64_LEN 86                           /* unpadded base64 of 64 bytes */

struct mxr_signing_key {
    uint8_t seed[32];
    uint8_t public_key[32];
    uint8_t secret_key[64];                 /* libsodium form: seed || public key */
    char version[MXR_KEY_VERSION_MAX + 1];  /* "a_AbCd" */
    char key_id[MXR_KEY_ID_MAX + 1];        /* "ed25519:a_AbCd" */
};

/* true when v is a valid key version: 1..MXR_KEY_VERSION_MAX of [A-Za-z0-9_]. */
bool mxr_key_version_valid(const char *v);

/* A fresh random key. version NULL picks "a_" + 4 random letters (as Synapse
 * does), so that a regenerated key never reuses a key ID (a reused ID with a
 * new key breaks verification of old events everywhere). */
int mxr_key_generate(struct mxr_signing_key *k, const char *version, struct mxr_err *err);

/* The key for a given seed (test vectors, loading). */
int mxr_key_from_seed(struct mxr_signing_key *k, const uint8_t seed[32], const char *version,
                      struct mxr_err *err);

/* Parses signing.key text: the first non-blank line is the key; fields are
 * separated by blanks; later lines are ignored (Synapse reads older keys there). */
int mxr_key_parse(struct mxr_signing_key *k, const char *text, size_t len, struct mxr_err *err);

/* Reads and parses a signing.key file. */
int mxr_key_load(struct mxr_signing_key *k, const char *path, struct mxr_err *err);

/* The signing.key line for k, with a trailing newline. Returns the length or -1. */
long mxr_key_format(const struct mxr_signing_key *k, char *out, size_t cap, struct mxr_err *err);

/* Writes k to a new file with mode 0600; refuses to replace an existing file. */
int mxr_key_save(const struct mxr_signing_key *k, const char *path, struct mxr_err *err);

/* Unpadded standard base64 of the public key (43 chars + NUL). */
void mxr_key_public_b64(const struct mxr_signing_key *k, char out[MXR_KEY_B64_LEN + 1]);

/* Decodes a public key given in (padded or unpadded) standard base64. */
int mxr_key_decode_public(const char *b64, uint8_t out[32], struct mxr_err *err);

/* Zeroes the secret parts of k. */
void mxr_key_wipe(struct mxr_signing_key *k);

#endif
