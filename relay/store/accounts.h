/* Homeserver data of local users: accounts, devices and their access
 * tokens, profiles, sync filters, client transaction IDs, account data and
 * room aliases (client-server API). Same conventions as store.h: every call
 * takes a transaction, lookups return MXR_STORE_NOT_FOUND for absence,
 * getters hand out zero-copy pointers valid until the transaction ends.
 *
 * Secrets never reach the store in clear: passwords arrive as Argon2id
 * strings (crypto_pwhash_str) and access tokens as their SHA-256.
 */
#ifndef MXR_RELAY_STORE_ACCOUNTS_H
#define MXR_RELAY_STORE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/store/store.h"

#define MXR_STORE_PWHASH_MAX 255    /* crypto_pwhash_STRBYTES is 128 */
#define MXR_STORE_TOKEN_HASH 32     /* SHA-256 of an access token */
#define MXR_STORE_DEVICE_ID_MAX 128 /* keeps user + device + txn keys under LMDB's key size */

/* ------------------------------------------------------------------------ */
/* Accounts                                                                 */

enum mxr_account_flags {
    MXR_ACCOUNT_ADMIN = 1u << 0,
    MXR_ACCOUNT_DEACTIVATED = 1u << 1,
};

struct mxr_store_account {
    unsigned flags;                                   /* enum mxr_account_flags */
    int64_t created_ts;
    char password_hash[MXR_STORE_PWHASH_MAX + 1];     /* "" : no password login */
};

int mxr_store_account_get(struct mxr_store_txn *txn, const char *user_id, struct mxr_store_account *out,
                          struct mxr_err *err);
/* Creates the account unless the user ID is taken: *created tells which
 * (a taken ID is not an error and leaves the transaction usable). */
int mxr_store_account_create(struct mxr_store_txn *txn, const char *user_id, const struct mxr_store_account *a,
                             bool *created, struct mxr_err *err);
/* Overwrites an existing account's record (password change, flags). */
int mxr_store_account_set(struct mxr_store_txn *txn, const char *user_id, const struct mxr_store_account *a,
                          struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Devices and access tokens                                                */

struct mxr_store_device {
    char device_id[MXR_STORE_DEVICE_ID_MAX + 1];
    bool has_display_name;
    char display_name[MXR_STORE_ID_MAX + 1];
    bool has_token;
    uint8_t token_hash[MXR_STORE_TOKEN_HASH];   /* the device's current access token */
    int64_t last_seen_ts;                       /* 0: unknown */
    char last_seen_ip[64];                      /* "": unknown */
};

/* Login / registration (client-server API "Relationship between access
 * tokens and devices"): creates the device or reuses the existing one (its
 * display name kept unless display_name is given), revokes the token it
 * had and binds token_hash to it. */
int mxr_store_device_login(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                           const char *display_name, const uint8_t token_hash[MXR_STORE_TOKEN_HASH],
                           int64_t now_ms, const char *ip, struct mxr_err *err);
int mxr_store_device_get(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                         struct mxr_store_device *out, struct mxr_err *err);
/* Sets the display name (NULL removes it). MXR_STORE_NOT_FOUND for an unknown device. */
int mxr_store_device_set_name(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                              const char *display_name, struct mxr_err *err);
/* Deletes the device and revokes its token. MXR_STORE_NOT_FOUND when unknown. */
int mxr_store_device_delete(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                            struct mxr_err *err);
/* The user's devices in device ID order; cb returns nonzero to stop. */
typedef int (*mxr_store_device_cb)(void *arg, const struct mxr_store_device *d);
int mxr_store_devices(struct mxr_store_txn *txn, const char *user_id, mxr_store_device_cb cb, void *arg,
                      struct mxr_err *err);

/* The user and device an access token (by its hash) belongs to. */
int mxr_store_token_lookup(struct mxr_store_txn *txn, const uint8_t token_hash[MXR_STORE_TOKEN_HASH],
                           char user_id[MXR_STORE_ID_MAX + 1], char device_id[MXR_STORE_DEVICE_ID_MAX + 1],
                           struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Profiles: one JSON object per user ({"displayname", "avatar_url", ...})  */

int mxr_store_profile_get(struct mxr_store_txn *txn, const char *user_id, const char **json, size_t *len,
                          struct mxr_err *err);
int mxr_store_profile_put(struct mxr_store_txn *txn, const char *user_id, const char *json, size_t len,
                          struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Sync filters (POST /user/{userId}/filter): IDs are decimal, per server    */

int mxr_store_filter_add(struct mxr_store_txn *txn, const char *user_id, const char *json, size_t len,
                         uint64_t *filter_id, struct mxr_err *err);
int mxr_store_filter_get(struct mxr_store_txn *txn, const char *user_id, uint64_t filter_id, const char **json,
                         size_t *len, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Client transaction IDs (client-server API "Transaction identifiers"):    */
/* scoped to one device and one endpoint (`scope`, e.g. "send").            */

int mxr_store_client_txn_get(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                             const char *scope, const char *txn_id, const char **response, size_t *len,
                             struct mxr_err *err);
int mxr_store_client_txn_put(struct mxr_store_txn *txn, const char *user_id, const char *device_id,
                             const char *scope, const char *txn_id, const char *response, size_t len,
                             struct mxr_err *err);

/* Which device and transaction sent an event (for unsigned.transaction_id,
 * given only to that device). */
int mxr_store_event_txn_put(struct mxr_store_txn *txn, const char *event_id, const char *user_id,
                            const char *device_id, const char *txn_id, struct mxr_err *err);
int mxr_store_event_txn_get(struct mxr_store_txn *txn, const char *event_id, char user_id[MXR_STORE_ID_MAX + 1],
                            char device_id[MXR_STORE_DEVICE_ID_MAX + 1], char txn_id[MXR_STORE_ID_MAX + 1],
                            struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Account data (global: room_id NULL or ""), with a stream position each    */

/* Stores content (JSON object text) and gives it the next account-data
 * stream position (*stream, may be NULL). */
int mxr_store_account_data_put(struct mxr_store_txn *txn, const char *user_id, const char *room_id,
                               const char *type, const char *json, size_t len, uint64_t *stream,
                               struct mxr_err *err);
int mxr_store_account_data_get(struct mxr_store_txn *txn, const char *user_id, const char *room_id,
                               const char *type, const char **json, size_t *len, struct mxr_err *err);
/* The user's account data changed after stream position `since` (0: all);
 * room_id is "" for global data. cb returns nonzero to stop. */
typedef int (*mxr_store_account_data_cb)(void *arg, const char *room_id, const char *type, const char *json,
                                         size_t len, uint64_t stream);
int mxr_store_account_data_since(struct mxr_store_txn *txn, const char *user_id, uint64_t since,
                                 mxr_store_account_data_cb cb, void *arg, struct mxr_err *err);
/* The highest account-data stream position handed out (0: none). */
int mxr_store_account_data_head(struct mxr_store_txn *txn, uint64_t *out, struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* Room aliases of this server                                              */

/* Maps alias to room_id unless the alias is taken (*created false then). */
int mxr_store_alias_create(struct mxr_store_txn *txn, const char *alias, const char *room_id, bool *created,
                           struct mxr_err *err);
int mxr_store_alias_get(struct mxr_store_txn *txn, const char *alias, char room_id[MXR_STORE_ID_MAX + 1],
                        struct mxr_err *err);

/* ------------------------------------------------------------------------ */
/* The published room directory (createRoom visibility, /directory/list)    */

/* Publishes (at now_ms) or unpublishes a room; idempotent. */
int mxr_store_room_publish(struct mxr_store_txn *txn, const char *room_id, bool published, int64_t now_ms,
                           struct mxr_err *err);
/* 0 (published), MXR_STORE_NOT_FOUND (not), -1. */
int mxr_store_room_published(struct mxr_store_txn *txn, const char *room_id, struct mxr_err *err);
/* Every published room, in room ID order; cb returns nonzero to stop. */
int mxr_store_published_rooms(struct mxr_store_txn *txn, int (*cb)(void *arg, const char *room_id), void *arg,
                              struct mxr_err *err);

#endif
