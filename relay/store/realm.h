/* The PIN realm's tables (design: pin-recovery-and-payments.md §6.5 "LMDB
 * layout") and the OpenID tokens the homeserver hands out for it
 * (client-server API "OpenID"). Same conventions as store.h: every call
 * takes a transaction, lookups return MXR_STORE_NOT_FOUND for absence.
 *
 * The store sees no secret in clear: realm records arrive sealed by the
 * realm (XChaCha20-Poly1305 under a key kept outside the environment),
 * records are keyed by a salted hash of the user ID, sessions and OpenID
 * tokens by the hash of the token.
 */
#ifndef MXR_RELAY_STORE_REALM_H
#define MXR_RELAY_STORE_REALM_H

#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/store/store.h"

#define MXR_STORE_REALM_KEY_BYTES 32     /* user_key, session hash, token hash */
#define MXR_STORE_REALM_META_MAX 64      /* bytes of one meta value */
#define MXR_STORE_REALM_RECORD_MAX 1024  /* bytes of one sealed record */

/* ---- meta: realm_id, user_key_salt, box_pk ---------------------------------- */

/* The value of `name`, which must be exactly len bytes. */
int mxr_store_realm_meta_get(struct mxr_store_txn *txn, const char *name, uint8_t *out, size_t len,
                             struct mxr_err *err);
int mxr_store_realm_meta_put(struct mxr_store_txn *txn, const char *name, const uint8_t *val, size_t len,
                             struct mxr_err *err);

/* ---- records: user_key -> sealed record ------------------------------------- */

/* Copies the sealed record into out (cap bytes); *len its size. Copying
 * (not pointing into the map) keeps the record out of LMDB's pages once the
 * caller wipes its buffer (§6.4 item 6). */
int mxr_store_realm_record_get(struct mxr_store_txn *txn, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               uint8_t *out, size_t cap, size_t *len, struct mxr_err *err);
int mxr_store_realm_record_put(struct mxr_store_txn *txn, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               const uint8_t *val, size_t len, struct mxr_err *err);
/* 0 or MXR_STORE_NOT_FOUND. */
int mxr_store_realm_record_del(struct mxr_store_txn *txn, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               struct mxr_err *err);
/* Number of records (for the operator and tests). */
int mxr_store_realm_record_count(struct mxr_store_txn *txn, size_t *out, struct mxr_err *err);

/* ---- sessions and OpenID tokens: hash(token) -> expiry, user ID -------------- */

enum mxr_store_realm_tokens {
    MXR_STORE_REALM_SESSIONS,   /* realm sessions (§6.6 step 4) */
    MXR_STORE_OPENID_TOKENS,    /* OpenID tokens of our users (request_token) */
};

int mxr_store_realm_token_put(struct mxr_store_txn *txn, enum mxr_store_realm_tokens which,
                              const uint8_t hash[MXR_STORE_REALM_KEY_BYTES], int64_t expires_ms,
                              const char *user_id, struct mxr_err *err);
int mxr_store_realm_token_get(struct mxr_store_txn *txn, enum mxr_store_realm_tokens which,
                              const uint8_t hash[MXR_STORE_REALM_KEY_BYTES], int64_t *expires_ms,
                              char user_id[MXR_STORE_ID_MAX + 1], struct mxr_err *err);
/* Deletes up to max entries that expired before now (lazy sweep): the table
 * is walked from a random point so that repeated sweeps cover it. */
int mxr_store_realm_token_sweep(struct mxr_store_txn *txn, enum mxr_store_realm_tokens which, int64_t now_ms,
                                unsigned max, struct mxr_err *err);

/* ---- audit: user_key ‖ be64 ts ‖ be32 seq -> u8 type ‖ be16 count ------------ */

struct mxr_store_realm_audit {
    int64_t ts_ms;
    uint8_t type;
    uint16_t count;
};

/* Appends an event and keeps only the newest `keep` of the user. */
int mxr_store_realm_audit_add(struct mxr_store_txn *txn, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                              const struct mxr_store_realm_audit *ev, unsigned keep, struct mxr_err *err);
/* The user's events with ts_ms >= since_ms, oldest first; cb returns
 * nonzero to stop. */
int mxr_store_realm_audit_list(struct mxr_store_txn *txn, const uint8_t user_key[MXR_STORE_REALM_KEY_BYTES],
                               int64_t since_ms, int (*cb)(void *arg, const struct mxr_store_realm_audit *ev),
                               void *arg, struct mxr_err *err);

#endif
