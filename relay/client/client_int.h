/* Internals shared by the relay/client/ sources. */
#ifndef MXR_RELAY_CLIENT_INT_H
#define MXR_RELAY_CLIENT_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "relay/client/client.h"
#include "relay/http/http.h"
#include "relay/log.h"
#include "relay/store/accounts.h"
#include "relay/store/store.h"

#define CL_ID_MAX 255
#define CL_TXN_LOCKS 64        /* stripes serialising one device's identical transaction IDs */
#define CL_NONCES 64           /* outstanding shared-secret registration nonces */
#define CL_SYNC_MAX_TIMEOUT_MS 30000

struct cl_nonce {
    char value[40];
    int64_t issued_ts;
};

struct mxr_client {
    const struct mxr_config *cfg;
    const char *server_name;
    struct mxr_store *store;
    struct mxr_rooms *rooms;
    const struct mxr_log *log;
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    int (*remote_join)(void *ctx, const char *room_id_or_alias, const char *user_id, const char *const *via,
                       size_t n_via, char room_id_out[256], struct mxr_err *err);
    int (*remote_invite)(void *ctx, const char *room_id, const char *sender, const char *invitee,
                         const char *reason, struct mxr_err *err);
    int (*remote_knock)(void *ctx, const char *room_id_or_alias, const char *user_id, const char *reason,
                        const char *const *via, size_t n_via, char room_id_out[256], struct mxr_err *err);
    int (*remote_leave)(void *ctx, const char *room_id, const char *user_id, struct mxr_err *err);
    int (*remote_profile)(void *ctx, const char *user_id, const char *field, json_t **out, struct mxr_err *err);
    void *remote_ctx;
    unsigned long long pw_ops;
    size_t pw_mem;
    char base_url[300];

    /* Long-poll wake-ups: `generation` moves on every stored event or
     * account-data change; /sync waits on cv until it moves. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t generation;
    atomic_bool stopping;                /* read without mu by /sync */

    pthread_mutex_t txn_locks[CL_TXN_LOCKS];

    pthread_mutex_t nonce_mu;
    struct cl_nonce nonces[CL_NONCES];
    size_t next_nonce;

    struct mxr_inbound *ratelimit[3];    /* ratelimit.c: one set of buckets per enum cl_rl_kind */
};

/* ---- client.c: context helpers --------------------------------------------- */

struct mxr_client *cl_of(const struct mxr_request *req);
int64_t cl_now(const struct mxr_client *c);
/* Wakes every /sync long-poll (after a write that clients may see). */
void cl_wake(struct mxr_client *c);
uint64_t cl_generation(struct mxr_client *c);
/* Waits until the generation moves past `seen`, the deadline (ms, cl_now
 * clock... real monotonic time) passes, or the client stops. */
void cl_wait(struct mxr_client *c, uint64_t seen, int64_t timeout_ms);

/* The request body as a JSON object: req->json for BODY_JSON routes, else
 * parsed here; an empty body is {}. NULL after filling resp (400). Borrowed:
 * kept in req->json and freed with the request. */
json_t *cl_body(struct mxr_request *req, struct mxr_response *resp);

/* A store failure to the client (500 M_UNKNOWN, or the errcode it carries). */
void cl_store_error(struct mxr_request *req, struct mxr_response *resp, const struct mxr_err *err);

/* Optional string member: 0 (absent: *out NULL), -1 after a 400 M_BAD_JSON
 * when present but not a string. */
int cl_opt_str(json_t *obj, const char *key, const char **out, struct mxr_response *resp);

/* A localpart of the current grammar (v1.8 user IDs: [a-z0-9._=/+-]+). */
bool cl_localpart_valid(const char *s);
/* "@" localpart ":" server_name into out (M_INVALID_USERNAME when too long). */
int cl_user_id(const struct mxr_client *c, const char *localpart, char out[CL_ID_MAX + 1], struct mxr_err *err);
/* Whether a user ID belongs to this server. */
bool cl_is_local(const struct mxr_client *c, const char *user_id);

/* Random identifiers from libsodium: n characters of [A-Z] (device IDs) or
 * of URL-safe base64 (sessions, nonces). */
void cl_random_upper(char *out, size_t n);
void cl_random_token(char *out, size_t n);

/* Runs fn in a store write transaction. */
int cl_write(struct mxr_client *c, mxr_store_write_fn fn, void *arg, struct mxr_err *err);
/* The room a local alias names, in its own read transaction: 0,
 * MXR_STORE_NOT_FOUND or -1 with err. */
int cl_alias_room(struct mxr_client *c, const char *alias, char room_id[MXR_STORE_ID_MAX + 1], struct mxr_err *err);

/* ---- auth.c: passwords, tokens, user-interactive auth ------------------------- */

#define CL_TOKEN_PREFIX "mxr_"
#define CL_TOKEN_LEN (4 + 43)       /* "mxr_" + 32 bytes in unpadded base64url */

/* A new access token (NUL-terminated) and its SHA-256. */
void cl_token_new(char token[CL_TOKEN_LEN + 1], uint8_t hash[MXR_STORE_TOKEN_HASH]);
void cl_token_hash(const char *token, uint8_t hash[MXR_STORE_TOKEN_HASH]);

/* Argon2id string of a password (crypto_pwhash_str). */
int cl_password_hash(const struct mxr_client *c, const char *password, char out[MXR_STORE_PWHASH_MAX + 1],
                     struct mxr_err *err);
/* Whether password matches the user's stored hash (false for unknown and
 * deactivated users, and for accounts without a password). *deactivated
 * (may be NULL) tells the latter apart. */
int cl_password_check(struct mxr_client *c, const char *user_id, const char *password, bool *ok,
                      bool *deactivated, struct mxr_err *err);

/* Logs user_id in on device_id (NULL: a new random one): creates/updates the
 * device, binds a fresh access token. Fills token and device_out. */
int cl_login_device(struct mxr_client *c, const char *user_id, const char *device_id, const char *display_name,
                    const char *ip, char token[CL_TOKEN_LEN + 1], char device_out[MXR_STORE_DEVICE_ID_MAX + 1],
                    struct mxr_err *err);

/* The user ID an m.id.user identifier (or the legacy `user` field) names:
 * a localpart (lower-cased) or a full user ID. 0, or -1 after filling resp. */
int cl_identifier_user(const struct mxr_client *c, json_t *body, char out[CL_ID_MAX + 1], struct mxr_response *resp);

/* Deletes one device (with its token), or all of the user's devices but
 * `keep` (NULL: none kept). Logout, logout/all, password changes, devices. */
int cl_delete_devices(struct mxr_client *c, const char *user_id, const char *device_id, const char *keep,
                      struct mxr_err *err);

/* User-interactive authentication (client-server API, "User-Interactive
 * Authentication API") with one single-stage flow `stage`
 * ("m.login.password" or "m.login.dummy"). Returns 1 when body.auth
 * completes the stage for `user_id` (password stages), 0 after filling resp
 * with the 401 flows answer (with errcode when an attempt failed), -1
 * after another error response. */
int cl_uia(struct mxr_client *c, struct mxr_request *req, json_t *body, const char *stage, const char *user_id,
           struct mxr_response *resp);

/* ---- events.c: the client event format ------------------------------------------ */

struct cl_viewer {
    const char *user_id;
    const char *device_id;     /* for unsigned.transaction_id */
    int64_t now;               /* for unsigned.age */
};

enum cl_event_flags {
    CL_EV_ROOM_ID = 1u << 0,   /* ClientEvent (with room_id) rather than ClientEventWithoutRoomID */
    CL_EV_NO_PREV = 1u << 1,   /* skip unsigned.prev_content */
};

/* A stored event in the client format (client-server API "Room Event
 * Format"): content, event_id, origin_server_ts, sender, type, state_key
 * for state events, room_id when asked, unsigned {age, transaction_id,
 * prev_content, replaces_state, redacted_because}. Redacted events come
 * pruned. New reference or NULL (M_NOT_FOUND for unknown events). */
json_t *cl_client_event(struct mxr_store_txn *txn, const char *event_id, const struct cl_viewer *v, unsigned flags,
                        struct mxr_err *err);
/* Stripped state (type, state_key, content, sender) of a stored event. */
json_t *cl_stripped_event(struct mxr_store_txn *txn, const char *event_id, struct mxr_err *err);

/* The membership of user in room per current state, "" when none; and the
 * stream position of that member event (0 when none). */
int cl_membership(struct mxr_store_txn *txn, const char *room_id, const char *user_id, char out[32],
                  uint64_t *stream, char event_id[CL_ID_MAX + 1], struct mxr_err *err);

/* power.c: whether user's power level in the room's current state reaches
 * the named level (`level_name`: "redact", "kick", ...) or, with level_name
 * NULL, the level to send state events of state_type. */
int cl_room_power(struct mxr_store_txn *txn, const char *room_id, const char *user_id, const char *level_name,
                  const char *state_type, bool *ok, struct mxr_err *err);

/* ---- ratelimit.c: client-server API "Rate limiting" ------------------------------ */

enum cl_rl_kind { CL_RL_LOGIN, CL_RL_REGISTRATION, CL_RL_MESSAGE };

/* The token buckets of the ratelimit_* options (mxr_client_new). */
int cl_rl_init(struct mxr_client *c, struct mxr_err *err);
void cl_rl_free(struct mxr_client *c);
/* Takes a token of the requester's bucket (req->user_id, else the client's
 * IP address): true to go on; false after filling resp with 429
 * M_LIMIT_EXCEEDED and retry_after_ms. Server admins are never limited. */
bool cl_rl_admit(struct mxr_client *c, enum cl_rl_kind kind, struct mxr_request *req, struct mxr_response *resp);

/* ---- handlers ----------------------------------------------------------------- */

/* versions.c */
void cl_h_versions(struct mxr_request *req, struct mxr_response *resp);
void cl_h_wellknown(struct mxr_request *req, struct mxr_response *resp);
void cl_h_capabilities(struct mxr_request *req, struct mxr_response *resp);
void cl_h_login_flows(struct mxr_request *req, struct mxr_response *resp);

/* account.c */
void cl_h_register(struct mxr_request *req, struct mxr_response *resp);
void cl_h_register_available(struct mxr_request *req, struct mxr_response *resp);
void cl_h_login(struct mxr_request *req, struct mxr_response *resp);
void cl_h_logout(struct mxr_request *req, struct mxr_response *resp);
void cl_h_logout_all(struct mxr_request *req, struct mxr_response *resp);
void cl_h_whoami(struct mxr_request *req, struct mxr_response *resp);
void cl_h_password(struct mxr_request *req, struct mxr_response *resp);

/* devices.c */
void cl_h_devices(struct mxr_request *req, struct mxr_response *resp);
void cl_h_device_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_device_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_device_delete(struct mxr_request *req, struct mxr_response *resp);
void cl_h_delete_devices(struct mxr_request *req, struct mxr_response *resp);

/* admin.c */
void cl_h_admin_register_nonce(struct mxr_request *req, struct mxr_response *resp);
void cl_h_admin_register(struct mxr_request *req, struct mxr_response *resp);

/* rooms.c */
void cl_h_create_room(struct mxr_request *req, struct mxr_response *resp);
void cl_h_join(struct mxr_request *req, struct mxr_response *resp);
void cl_h_room_join(struct mxr_request *req, struct mxr_response *resp);
void cl_h_invite(struct mxr_request *req, struct mxr_response *resp);
void cl_h_leave(struct mxr_request *req, struct mxr_response *resp);
void cl_h_forget(struct mxr_request *req, struct mxr_response *resp);
void cl_h_kick(struct mxr_request *req, struct mxr_response *resp);
void cl_h_ban(struct mxr_request *req, struct mxr_response *resp);
void cl_h_unban(struct mxr_request *req, struct mxr_response *resp);
void cl_h_send(struct mxr_request *req, struct mxr_response *resp);
void cl_h_redact(struct mxr_request *req, struct mxr_response *resp);
void cl_h_state_put(struct mxr_request *req, struct mxr_response *resp);

/* roomread.c */
void cl_h_state_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_state_all(struct mxr_request *req, struct mxr_response *resp);
void cl_h_members(struct mxr_request *req, struct mxr_response *resp);
void cl_h_joined_members(struct mxr_request *req, struct mxr_response *resp);
void cl_h_joined_rooms(struct mxr_request *req, struct mxr_response *resp);
void cl_h_event(struct mxr_request *req, struct mxr_response *resp);
void cl_h_messages(struct mxr_request *req, struct mxr_response *resp);

/* profile.c */
void cl_h_profile(struct mxr_request *req, struct mxr_response *resp);
void cl_h_profile_get_field(struct mxr_request *req, struct mxr_response *resp);
void cl_h_profile_put_field(struct mxr_request *req, struct mxr_response *resp);
void cl_h_account_data_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_account_data_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_room_account_data_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_room_account_data_put(struct mxr_request *req, struct mxr_response *resp);

/* The user's profile as {displayname?, avatar_url?} (new reference; {}
 * when none). */
json_t *cl_profile_load(struct mxr_store_txn *txn, const char *user_id, struct mxr_err *err);

/* directory.c */
void cl_h_directory_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_directory_put(struct mxr_request *req, struct mxr_response *resp);
int cl_publish_room(struct mxr_client *c, const char *room_id, bool published, struct mxr_err *err);

/* filter.c */
void cl_h_filter_post(struct mxr_request *req, struct mxr_response *resp);
void cl_h_filter_get(struct mxr_request *req, struct mxr_response *resp);

struct cl_event_filter {
    json_t *types, *not_types, *senders, *not_senders;   /* borrowed arrays or NULL */
    long limit;                                           /* -1: unset */
};
struct cl_filter {
    json_t *json;                                         /* owned */
    json_t *rooms, *not_rooms;                            /* room filter */
    bool include_leave;
    struct cl_event_filter timeline, state, account_data, room_account_data, presence;
};
/* The filter of a /sync request (?filter=ID or inline JSON; NULL: none).
 * 0, or -1 after filling resp. */
int cl_filter_load(struct mxr_client *c, struct mxr_store_txn *txn, const char *user_id, const char *param,
                   struct cl_filter *f, struct mxr_response *resp);
void cl_filter_free(struct cl_filter *f);
bool cl_filter_room(const struct cl_filter *f, const char *room_id);
bool cl_filter_event(const struct cl_event_filter *ef, const char *type, const char *sender);

/* sync.c */
void cl_h_sync(struct mxr_request *req, struct mxr_response *resp);

/* keys.c, keys_xsign.c: end-to-end encryption keys (relay/store/e2ee.h) */
void cl_h_keys_upload(struct mxr_request *req, struct mxr_response *resp);
void cl_h_keys_query(struct mxr_request *req, struct mxr_response *resp);
void cl_h_keys_claim(struct mxr_request *req, struct mxr_response *resp);
void cl_h_keys_changes(struct mxr_request *req, struct mxr_response *resp);
void cl_h_keys_device_signing(struct mxr_request *req, struct mxr_response *resp);
void cl_h_keys_signatures(struct mxr_request *req, struct mxr_response *resp);

/* The E2EE fields of /sync for the requesting device: the device-list
 * stream head (the token's D field), device_lists.changed (device lists
 * moved since since_dl, users who came to share a room in the event stream
 * gap (since_ev, head_ev]) and left (users no longer sharing any room),
 * both empty for an initial sync, device_one_time_keys_count and
 * device_unused_fallback_key_types. New references; cl_keys_sync_free. */
struct cl_keys_sync {
    uint64_t head;
    json_t *changed, *left, *otk_counts, *fallback_types;
};
int cl_keys_sync(struct mxr_store_txn *txn, const char *user_id, const char *device_id, bool initial,
                 uint64_t since_dl, uint64_t since_ev, uint64_t head_ev, struct cl_keys_sync *out,
                 struct mxr_err *err);
void cl_keys_sync_free(struct cl_keys_sync *k);
/* A device of req's user was deleted: wakes /sync and tells the other
 * servers of the user's rooms (m.device_list_update, deleted). */
void cl_keys_device_deleted(struct mxr_request *req, const char *device_id);
/* The same for several devices: the user's device IDs before a deletion
 * (empty when there is no outbound federation), then, after it, every one
 * of them but `keep` (NULL: none); the second call frees `ids`. */
json_t *cl_keys_device_ids(struct mxr_request *req);
void cl_keys_devices_deleted(struct mxr_request *req, json_t *ids, const char *keep);

/* backup.c: server-side key backups (/room_keys/...) */
void cl_h_backup_create(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_latest(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_delete(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_keys_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_keys_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_backup_keys_delete(struct mxr_request *req, struct mxr_response *resp);

/* roomread.c: GET /rooms/{roomId}/context/{eventId}; rooms.c: POST /knock/{roomIdOrAlias} */
void cl_h_context(struct mxr_request *req, struct mxr_response *resp);
void cl_h_knock(struct mxr_request *req, struct mxr_response *resp);

#endif
