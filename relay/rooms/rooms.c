/* The rooms context: our identity, the store, the injected key source,
 * clock and notify hook; and small helpers shared by the other files. */
#include "relay/rooms/rooms_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxr/ids.h"

/* Keys for events: our own current key without asking anyone, the others
 * from the injected source (the keyring in the daemon). */
static int keys_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32])
{
    struct mxr_rooms *r = ctx;
    if (strcmp(server, r->server_name) == 0 && strcmp(key_id, r->key.key_id) == 0) {
        memcpy(pk, r->key.public_key, 32);
        return 0;
    }
    if (!r->remote_keys.lookup)
        return -1;
    return r->remote_keys.lookup(r->remote_keys.ctx, server, key_id, valid_at_ts, pk);
}

struct mxr_rooms *mxr_rooms_new(const struct mxr_rooms_deps *deps, struct mxr_err *err)
{
    if (!deps || !deps->server_name || !deps->key || !deps->store) {
        mxr_err_set(err, "M_UNKNOWN", "mxr_rooms_new: server_name, key and store are required");
        return NULL;
    }
    if (!mxr_id_valid_server_name(deps->server_name) || strlen(deps->server_name) >= 256) {
        mxr_err_set(err, "M_INVALID_PARAM", "mxr_rooms_new: '%.100s' is not a valid server name", deps->server_name);
        return NULL;
    }
    if (sodium_init() < 0) {
        mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
        return NULL;
    }
    const char *ver = deps->default_room_version ? deps->default_room_version : MXR_DEFAULT_ROOM_VERSION;
    if (!mxr_room_version_get(ver, err))
        return NULL;
    struct mxr_rooms *r = calloc(1, sizeof *r);
    if (!r) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    snprintf(r->server_name, sizeof r->server_name, "%s", deps->server_name);
    r->key = *deps->key;
    r->store = deps->store;
    r->remote_keys = deps->keys;
    r->keys = (struct mxr_verify_keys){keys_lookup, r};
    r->clock = deps->clock;
    r->clock_ctx = deps->clock_ctx;
    r->notify = deps->notify;
    r->notify_ctx = deps->notify_ctx;
    r->in_commit = deps->in_commit;
    r->in_commit_ctx = deps->in_commit_ctx;
    snprintf(r->default_version, sizeof r->default_version, "%s", ver);
    return r;
}

void mxr_rooms_free(struct mxr_rooms *r)
{
    if (!r)
        return;
    mxr_key_wipe(&r->key);
    free(r);
}

const char *mxr_rooms_server_name(const struct mxr_rooms *r)
{
    return r->server_name;
}

int64_t rooms_now(const struct mxr_rooms *r)
{
    if (r->clock)
        return r->clock(r->clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rooms_user_on(const char *user_id, const char *server)
{
    const char *d = user_id && user_id[0] == '@' ? mxr_id_domain(user_id) : NULL;
    return d && server && strcmp(d, server) == 0;
}

int rooms_membership_in(struct mxr_store_txn *txn, const struct sview *sv, const char *user_id, char out[32],
                        struct mxr_err *err)
{
    char id[MXR_ID_MAX + 1];
    snprintf(out, 32, "leave");
    int rc = sview_get(txn, sv, "m.room.member", user_id, id, err);
    if (rc)
        return rc < 0 ? -1 : 0;
    struct mxr_store_event_meta meta;
    rc = mxr_store_event_meta(txn, id, &meta, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && meta.membership[0])
        snprintf(out, 32, "%s", meta.membership);
    return 0;
}

static int add_server(void *arg, const char *user_id, const char *membership)
{
    (void)membership;
    json_t *set = arg;
    const char *d = mxr_id_domain(user_id);
    if (d && *d && json_object_set_new(set, d, json_true()))
        return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *mxr_rooms_joined_servers(struct mxr_store_txn *txn, const char *room_id, struct mxr_err *err)
{
    json_t *set = json_object();
    if (!set) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    int rc = mxr_store_room_members(txn, room_id, "join", add_server, set, err);
    if (rc < 0) {
        json_decref(set);
        return NULL;
    }
    size_t n = json_object_size(set), k = 0;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    json_t *arr = json_array();
    if (!names || !arr) {
        free(names);
        json_decref(arr);
        json_decref(set);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(set, key, v)
        names[k++] = key;
    qsort(names, k, sizeof *names, cmp_str);
    for (size_t i = 0; i < k; i++)
        json_array_append_new(arr, json_string(names[i]));
    free(names);
    json_decref(set);
    return arr;
}
