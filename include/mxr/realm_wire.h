/* The PIN realm's wire format, shared by the realm (relay/realm/) and its
 * clients (proto/realm_client.c): the sealed transport envelope and the
 * JSON encoding of binary fields (design: pin-recovery-and-payments.md §6.3
 * "HTTP endpoints", §6.7 "Transport envelope").
 *
 * Envelope (Noise-NK-like, libsodium only). The client makes a fresh X25519
 * pair per request and computes k = crypto_box_beforenm(realm_pk, esk); the
 * request is {"v":1, "key_id", "epk", "nonce", "ct"} with
 * ct = crypto_box_easy_afternm(inner JSON, nonce, k). The realm answers
 * {"nonce", "ct"} sealed under the same k with a fresh nonce. Only the holder
 * of the realm's X25519 secret key and the client see the inner JSON, so a
 * TLS terminator or proxy in front of the realm sees neither shares nor tags.
 *
 * Inner request: {"op", "realm_id", "ts_ms", "session"?, ...}. Inner reply:
 * {"status": HTTP status, "body": {...}}; the status travels sealed so that a
 * proxy cannot turn an answer into another one.
 *
 * Binary fields are unpadded base64url (§6.3). Pure functions, no I/O.
 */
#ifndef MXR_REALM_WIRE_H
#define MXR_REALM_WIRE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

#define MXR_REALM_API_PREFIX "/_relay/realm/v1"
#define MXR_REALM_BOX_PUBLIC_BYTES 32
#define MXR_REALM_BOX_SECRET_BYTES 32
#define MXR_REALM_BOX_NONCE_BYTES 24
#define MXR_REALM_SESSION_BYTES 32
#define MXR_REALM_KEY_ID_MAX 64
#define MXR_REALM_ENVELOPE_VERSION 1
/* §6.3: requests larger than this are refused before anything else. */
#define MXR_REALM_BODY_LIMIT 4096
/* §6.3: a request's ts_ms may differ from the realm's clock by this much. */
#define MXR_REALM_TS_WINDOW_MS (5 * 60 * 1000LL)

/* Sizes of the register2 / recover fields (§6.3 table). */
#define MXR_REALM_ENCRYPTED_SECRET_BYTES 145   /* ChaCha20-Poly1305 of len ‖ secret ‖ pad to 129 */
#define MXR_REALM_SECRET_MAX 128
#define MXR_REALM_TAG_BYTES 16                  /* unlock_key_tag, encrypted_secret_commitment */
#define MXR_REALM_DEFAULT_MAX_GUESSES 10        /* §6.4 item 1: the default cap */

/* Errcodes of the realm beyond Matrix's (Java package naming, as the
 * client-server API asks of custom codes). */
#define MXR_REALM_E_NOT_REGISTERED "ORG.MXRELAY.REALM.NOT_REGISTERED"
#define MXR_REALM_E_NO_GUESSES "ORG.MXRELAY.REALM.NO_GUESSES"
#define MXR_REALM_E_VERSION_MISMATCH "ORG.MXRELAY.REALM.VERSION_MISMATCH"
#define MXR_REALM_E_BAD_TAG "ORG.MXRELAY.REALM.BAD_UNLOCK_KEY_TAG"
#define MXR_REALM_E_BAD_ENVELOPE "ORG.MXRELAY.REALM.BAD_ENVELOPE"

/* ---- binary fields --------------------------------------------------------- */

/* Reads obj[field] as unpadded base64url of exactly len bytes. 0, or -1 with
 * M_MISSING_PARAM (absent) / M_INVALID_PARAM (not a string, bad base64,
 * wrong length) naming the field. */
int mxr_realm_json_get_bytes(const json_t *obj, const char *field, uint8_t *out, size_t len, struct mxr_err *err);

/* obj[field] = base64url(in[0..len)). 0 or -1 (M_UNKNOWN: out of memory). */
int mxr_realm_json_set_bytes(json_t *obj, const char *field, const uint8_t *in, size_t len, struct mxr_err *err);

/* ---- envelope ---------------------------------------------------------------- */

/* The key both directions of one request are sealed under. Wipe it after
 * the reply (mxr_realm_channel_wipe). */
struct mxr_realm_channel {
    uint8_t k[32];
};
void mxr_realm_channel_wipe(struct mxr_realm_channel *ch);

/* Client: seals the inner request to the realm's box key. Returns the
 * envelope (new reference) and the channel for opening the reply, or NULL
 * with err. */
json_t *mxr_realm_seal_request(struct mxr_realm_channel *ch, const uint8_t realm_pk[MXR_REALM_BOX_PUBLIC_BYTES],
                               const char *key_id, const json_t *inner, struct mxr_err *err);

/* Realm: opens an envelope addressed to key_id with the box secret key.
 * Returns the inner request object (new reference; parsed with no float and
 * no duplicate keys) and fills ch, or NULL with err: M_BAD_JSON (shape),
 * M_INVALID_PARAM (undecodable fields), MXR_REALM_E_BAD_ENVELOPE (unknown
 * key_id, version, or a ciphertext that does not open — tampered or sealed
 * to another key). When non-NULL, *epk_out receives the sender's ephemeral
 * key (for replay detection). */
json_t *mxr_realm_open_request(struct mxr_realm_channel *ch, const json_t *envelope,
                               const uint8_t box_sk[MXR_REALM_BOX_SECRET_BYTES], const char *key_id,
                               uint8_t epk_out[MXR_REALM_BOX_PUBLIC_BYTES], struct mxr_err *err);

/* Realm: seals the reply {"status", "body"} (body borrowed). */
json_t *mxr_realm_seal_reply(const struct mxr_realm_channel *ch, int status, const json_t *body, struct mxr_err *err);

/* Client: opens a reply. Returns the body (new reference) and the sealed
 * status, or NULL with err (MXR_REALM_E_BAD_ENVELOPE when it does not open:
 * tampered, or not from the realm). */
json_t *mxr_realm_open_reply(const struct mxr_realm_channel *ch, const json_t *envelope, int *status,
                             struct mxr_err *err);

/* The key_id a realm publishes for its box key: "x25519:" + the first 8
 * bytes of SHA-256(pk) in unpadded base64url. */
void mxr_realm_box_key_id(char out[MXR_REALM_KEY_ID_MAX + 1], const uint8_t pk[MXR_REALM_BOX_PUBLIC_BYTES]);

#endif
