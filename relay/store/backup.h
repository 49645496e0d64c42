/* Server-side key backups of local users (client-server API, end-to-end
 * encryption module, "Server-side key backups"; key_backup.yaml): backup
 * versions and the encrypted room keys stored in them. The store keeps the
 * bytes; which of two keys for one session wins is the caller's rule.
 *
 * Versions are numbered by one server-wide counter (meta
 * next_backup_version), so a version number is never handed out twice, not
 * even after its backup was deleted. A deleted version keeps a tombstone
 * (deleting it again succeeds, key_backup.yaml) and loses its keys. */
#ifndef MXR_RELAY_STORE_BACKUP_H
#define MXR_RELAY_STORE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/store/store.h"

/* A backup version. `info` is the JSON object {algorithm, auth_data} the
 * client gave (zero-copy: valid until the transaction ends). */
struct mxr_store_backup {
    uint64_t version;
    uint64_t etag;        /* moves on every change of the stored keys */
    uint64_t count;       /* number of keys stored */
    const char *info;
    size_t info_len;
};

/* A new backup version holding info (JSON {algorithm, auth_data}). */
int mxr_store_backup_create(struct mxr_store_txn *txn, const char *user_id, const char *info, size_t info_len,
                            uint64_t *version, struct mxr_err *err);
/* The backup `version` of user (0: the latest, i.e. highest, one not
 * deleted). 0, MXR_STORE_NOT_FOUND (no such version, or deleted), -1. */
int mxr_store_backup_get(struct mxr_store_txn *txn, const char *user_id, uint64_t version,
                         struct mxr_store_backup *out, struct mxr_err *err);
/* Replaces the info of a live version. 0, MXR_STORE_NOT_FOUND, -1. */
int mxr_store_backup_update(struct mxr_store_txn *txn, const char *user_id, uint64_t version, const char *info,
                            size_t info_len, struct mxr_err *err);
/* Deletes a version and its keys. 0 (deleted now or before),
 * MXR_STORE_NOT_FOUND (never existed), -1. */
int mxr_store_backup_delete(struct mxr_store_txn *txn, const char *user_id, uint64_t version, struct mxr_err *err);

/* One key (KeyBackupData JSON), zero-copy. 0, MXR_STORE_NOT_FOUND, -1. The
 * version is not checked here. */
int mxr_store_backup_key_get(struct mxr_store_txn *txn, const char *user_id, uint64_t version, const char *room_id,
                             const char *session_id, const char **json, size_t *len, struct mxr_err *err);
/* Stores (or replaces) one key of a live version, moving its etag and
 * count. MXR_STORE_NOT_FOUND when the version is not live. */
int mxr_store_backup_key_put(struct mxr_store_txn *txn, const char *user_id, uint64_t version, const char *room_id,
                             const char *session_id, const char *json, size_t len, struct mxr_err *err);
/* Deletes the keys of a live version: all (room_id NULL), a room's
 * (session_id NULL) or one. The etag moves when a key went.
 * MXR_STORE_NOT_FOUND when the version is not live. */
int mxr_store_backup_keys_delete(struct mxr_store_txn *txn, const char *user_id, uint64_t version,
                                 const char *room_id, const char *session_id, struct mxr_err *err);
/* Visits the keys of a version (all, or a room's when room_id is given), in
 * room then session order; cb returns nonzero to stop. */
typedef int (*mxr_store_backup_key_cb)(void *arg, const char *room_id, const char *session_id, const char *json,
                                       size_t len);
int mxr_store_backup_keys(struct mxr_store_txn *txn, const char *user_id, uint64_t version, const char *room_id,
                          mxr_store_backup_key_cb cb, void *arg, struct mxr_err *err);

#endif
