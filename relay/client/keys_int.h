/* Internals of the E2EE key endpoints (keys.c, keys_xsign.c, keys_fed.c):
 * reading keys for answers, talking to other servers, telling them about
 * our users' changes. */
#ifndef MXR_RELAY_CLIENT_KEYS_INT_H
#define MXR_RELAY_CLIENT_KEYS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "relay/client/client_int.h"
#include "relay/store/e2ee.h"

#define CK_FED_TIMEOUT_MS 10000L   /* keys.yaml: `timeout` defaults to 10 seconds */
#define CK_MAX_SERVERS 64          /* remote servers asked in one /keys/query or /keys/claim */

/* A stored JSON value (new reference) or NULL (absent, unreadable). */
json_t *ck_parse(const char *json, size_t len);

/* The cross-signing key of `usage` of a user, new reference or NULL. */
json_t *ck_xsign_load(struct mxr_store_txn *txn, const char *user_id, const char *usage);

/* The devices' keys of a local user for a key query: {device_id: DeviceKeys
 * with unsigned.device_display_name} for the devices named in `devices`
 * (a JSON array of device IDs; empty or NULL: all devices) that uploaded
 * keys. New reference, NULL with err when the store fails. */
json_t *ck_local_device_keys(struct mxr_store_txn *txn, const char *user_id, const json_t *devices,
                             struct mxr_err *err);

/* Whether user `other` shares a joined room with `me` (or is `me`).
 * my_rooms: a JSON array of my joined room IDs. */
bool ck_shares_room(struct mxr_store_txn *txn, const json_t *my_rooms, const char *me, const char *other);
/* My joined rooms as a JSON array (new reference) or NULL with err. */
json_t *ck_joined_rooms(struct mxr_store_txn *txn, const char *user_id, struct mxr_err *err);

/* Callbacks shared by keys.c and keys_changes.c: room IDs into a JSON
 * array; one-time key counts into a JSON object. */
int ck_room_cb(void *arg, const char *room_id, const char *membership);
int ck_count_cb(void *arg, const char *algorithm, uint64_t n);

/* ---- keys_fed.c ------------------------------------------------------------ */

/* One federation request per server, run in parallel: POST path with
 * bodies[i] to servers[i]; results[i] receives the 2xx JSON body (new
 * reference) or NULL (errors[i] says why). Waits at most timeout_ms. */
void ck_fed_fanout(struct mxr_request *req, const char *path, const char *const *servers, json_t *const *bodies,
                   size_t n, long timeout_ms, json_t **results, struct mxr_err *errors);

/* Our user's devices or keys changed: queues the EDUs (an array of
 * {edu_type, content}, borrowed) to every other server sharing a room with
 * the user. Quietly nothing when there is no outbound federation (tests). */
void ck_announce(struct mxr_request *req, const char *user_id, const json_t *edus);

/* The m.device_list_update EDU of one device (keys NULL: deleted). */
json_t *ck_device_list_edu(const char *user_id, const char *device_id, const char *display_name,
                           const json_t *keys, uint64_t stream_id, uint64_t prev_id);

/* The device-list field D of a sync token "s<E>_<A>_<D>..." (0 when the
 * token has none). -1 when it is not a sync token of this server. */
int ck_token_devicelist(const char *token, uint64_t *d);

#endif
