/* End-to-end encryption keys of local users (client-server API "End-to-End
 * Encryption", keys.yaml, cross_signing.yaml): device keys, one-time keys,
 * fallback keys, cross-signing keys, and the device-list stream that tells
 * /sync, /keys/changes and other servers whose keys changed. Same
 * conventions as store.h and accounts.h: every call takes a transaction,
 * lookups return MXR_STORE_NOT_FOUND for absence, getters hand out
 * zero-copy pointers valid until the transaction ends.
 *
 * Keys are stored as the JSON text the client uploaded (the handlers check
 * shape and signatures before): the store does not parse it.
 */
#ifndef MXR_RELAY_STORE_E2EE_H
#define MXR_RELAY_STORE_E2EE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/store/store.h"

#define MXR_STORE_KEY_ID_MAX 255   /* "<algorithm>:<key ID>" */

/* ---- device keys (DeviceKeys JSON) --------------------------------------- */

int mxr_store_device_keys_put(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                              const char *json, size_t len, struct mxr_err *err);
int mxr_store_device_keys_get(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                              const char **json, size_t *len, struct mxr_err *err);

/* ---- one-time keys --------------------------------------------------------- */

/* Stores the one-time key key_id ("signed_curve25519:AAAAHQ") unless the
 * device already has one of that ID: then *existing (may be NULL) points at
 * its JSON (*existing_len its length) and nothing is written, so that the
 * caller can tell a harmless re-upload from a conflicting one. */
int mxr_store_otk_add(struct mxr_store_txn *txn, const char *user_id, const char *device_id, const char *key_id,
                      const char *json, size_t len, const char **existing, size_t *existing_len,
                      struct mxr_err *err);
/* The device's unclaimed one-time keys, counted per algorithm (the part of
 * the key ID before ':'), in algorithm order. cb returns nonzero to stop. */
typedef int (*mxr_store_otk_count_cb)(void *arg, const char *algorithm, uint64_t count);
int mxr_store_otk_counts(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                         mxr_store_otk_count_cb cb, void *arg, struct mxr_err *err);

/* Claims one key of `algorithm` (write transaction): a one-time key, which
 * is removed, else the device's fallback key of that algorithm, which is
 * kept and marked used (*fallback true). key_id (MXR_STORE_KEY_ID_MAX + 1)
 * receives "alg:id"; *json a malloc'd NUL-terminated copy of the key (the
 * caller frees it). MXR_STORE_NOT_FOUND when the device has neither. */
int mxr_store_key_claim(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                        const char *algorithm, char *key_id, char **json, bool *fallback, struct mxr_err *err);

/* ---- fallback keys (one per algorithm and device) ------------------------- */

/* Sets the fallback key of key_id's algorithm. Re-uploading the same key
 * ID keeps its "used" flag; a new key starts unused. */
int mxr_store_fallback_put(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                           const char *key_id, const char *json, size_t len, struct mxr_err *err);
/* The algorithms of the device's fallback keys that were not claimed yet
 * (device_unused_fallback_key_types). cb returns nonzero to stop. */
typedef int (*mxr_store_alg_cb)(void *arg, const char *algorithm);
int mxr_store_fallback_unused(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                              mxr_store_alg_cb cb, void *arg, struct mxr_err *err);

/* ---- cross-signing keys: usage "master", "self_signing", "user_signing" ---- */

int mxr_store_xsign_put(struct mxr_store_txn *txn, const char *user_id, const char *usage, const char *json,
                        size_t len, struct mxr_err *err);
int mxr_store_xsign_get(struct mxr_store_txn *txn, const char *user_id, const char *usage, const char **json,
                        size_t *len, struct mxr_err *err);

/* ---- the device-list stream ------------------------------------------------- */

/* The user's devices or keys changed: gives the user the next position of
 * the stream (META_NEXT_DEVICELIST; *pos may be NULL). One row per user:
 * the earlier position of that user is dropped. */
int mxr_store_devicelist_bump(struct mxr_store_txn *txn, const char *user_id, uint64_t *pos, struct mxr_err *err);
/* The highest position handed out (0: none). */
int mxr_store_devicelist_head(struct mxr_store_txn *txn, uint64_t *out, struct mxr_err *err);
/* The user's latest position, 0 when it never changed. */
int mxr_store_devicelist_pos(struct mxr_store_txn *txn, const char *user_id, uint64_t *out, struct mxr_err *err);
/* The users whose latest change is in (since, upto] (upto 0: no bound), in
 * stream order. cb returns nonzero to stop. */
typedef int (*mxr_store_devicelist_cb)(void *arg, const char *user_id, uint64_t pos);
int mxr_store_devicelist_since(struct mxr_store_txn *txn, uint64_t since, uint64_t upto,
                               mxr_store_devicelist_cb cb, void *arg, struct mxr_err *err);

/* ---- device removal ------------------------------------------------------------ */

/* A device was deleted: drops its device keys, one-time and fallback keys
 * and moves the user on the device-list stream (called by
 * mxr_store_device_delete). */
int mxr_store_e2ee_device_delete(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                                 struct mxr_err *err);

#endif
