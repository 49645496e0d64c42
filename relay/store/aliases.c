/* Room aliases (relay/store/aliases.h). alias_roomid: alias -> room ID
 * (accounts.c writes it too); roomid_aliases (DUPSORT): room ID -> alias,
 * or alias NUL creator when the alias was made through PUT
 * /directory/room/{roomAlias}, so DELETE can let the creator remove it. */
#include "relay/store/aliases.h"

#include <string.h>

#include "relay/store/store_int.h"

static void str_key(struct skey *k, const char *s)
{
    skey_init(k);
    skey_raw(k, s, strlen(s));
}

int mxr_store_alias_create_by(struct mxr_store_txn *t, const char *alias, const char *room_id,
                              const char *creator, bool *created, struct mxr_err *err)
{
    *created = false;
    if (st_ok_write(t, err))
        return -1;
    if (!alias || !room_id || !creator || !alias[0] || !room_id[0] || !creator[0])
        return st_fail(t, err, "M_UNKNOWN", "store: alias without alias, room ID or creator");
    size_t na = strlen(alias), nc = strlen(creator);
    if (na > MXR_STORE_ID_MAX || nc > MXR_STORE_ID_MAX)
        return st_fail(t, err, "M_UNKNOWN", "store: alias or creator over %d bytes", MXR_STORE_ID_MAX);
    struct skey k, rk;
    str_key(&k, alias);
    str_key(&rk, room_id);
    if (st_key_ok(t, &k, "alias", err) || st_key_ok(t, &rk, "room ID", err))
        return -1;
    int rc = st_put(t, T_ALIAS_ROOMID, &k, room_id, strlen(room_id), MDB_NOOVERWRITE, err);
    if (rc < 0)
        return -1;
    if (rc == ST_EXISTS)
        return 0;
    char v[2 * MXR_STORE_ID_MAX + 2];
    memcpy(v, alias, na);
    v[na] = '\0';
    memcpy(v + na + 1, creator, nc);
    if (st_put(t, T_ROOMID_ALIASES, &rk, v, na + 1 + nc, MDB_NODUPDATA, err) < 0)
        return -1;
    *created = true;
    return 0;
}

struct find_arg {
    size_t keylen;
    const char *alias;
    MDB_val found;           /* the room's dup value for alias */
    bool hit;
};

/* A roomid_aliases value names alias: "alias" or "alias" NUL creator. */
static bool value_is(const MDB_val *v, const char *alias)
{
    size_t n = strlen(alias);
    return v->mv_size >= n && !memcmp(v->mv_data, alias, n) &&
           (v->mv_size == n || ((const char *)v->mv_data)[n] == '\0');
}

static int find_fn(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    (void)t;
    (void)err;
    struct find_arg *a = arg;
    if (k->mv_size != a->keylen || !value_is(v, a->alias))
        return 0;
    a->found = *v;
    a->hit = true;
    return 1;
}

/* The room's dup value for alias (valid while t lives); room_id filled. */
static int find_value(struct mxr_store_txn *t, const char *alias, char room_id[MXR_STORE_ID_MAX + 1],
                      struct find_arg *fa, struct mxr_err *err)
{
    int rc = mxr_store_alias_get(t, alias, room_id, err);
    if (rc)
        return rc;
    struct skey rk;
    str_key(&rk, room_id);
    *fa = (struct find_arg){rk.n, alias, {0, NULL}, false};
    if (st_scan(t, T_ROOMID_ALIASES, &rk, find_fn, fa, err) < 0)
        return -1;
    return 0;
}

int mxr_store_alias_delete(struct mxr_store_txn *t, const char *alias, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    char room_id[MXR_STORE_ID_MAX + 1];
    struct find_arg fa;
    int rc = find_value(t, alias, room_id, &fa, err);
    if (rc)
        return rc;
    struct skey k, rk;
    str_key(&k, alias);
    str_key(&rk, room_id);
    if (fa.hit) {
        /* copy: the value points into the map, which the delete may move */
        char v[2 * MXR_STORE_ID_MAX + 2];
        size_t n = fa.found.mv_size < sizeof v ? fa.found.mv_size : sizeof v;
        memcpy(v, fa.found.mv_data, n);
        if (st_del(t, T_ROOMID_ALIASES, &rk, v, n, err) < 0)
            return -1;
    }
    return st_del(t, T_ALIAS_ROOMID, &k, NULL, 0, err) < 0 ? -1 : 0;
}

int mxr_store_alias_creator(struct mxr_store_txn *t, const char *alias, char creator[MXR_STORE_ID_MAX + 1],
                            struct mxr_err *err)
{
    char room_id[MXR_STORE_ID_MAX + 1];
    struct find_arg fa;
    creator[0] = '\0';
    int rc = find_value(t, alias, room_id, &fa, err);
    if (rc)
        return rc;
    size_t n = strlen(alias);
    if (fa.hit && fa.found.mv_size > n + 1 &&
        !copy_str(creator, MXR_STORE_ID_MAX + 1, (const char *)fa.found.mv_data + n + 1, fa.found.mv_size - n - 1))
        return st_fail(t, err, "M_UNKNOWN", "store: creator of alias %s malformed", alias);
    return 0;
}

struct list_arg {
    size_t keylen;
    int (*cb)(void *arg, const char *alias);
    void *arg;
};

static int list_fn(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct list_arg *a = arg;
    if (k->mv_size != a->keylen)
        return 0;
    const char *p = v->mv_data;
    const char *nul = memchr(p, '\0', v->mv_size);
    size_t n = nul ? (size_t)(nul - p) : v->mv_size;
    char alias[MXR_STORE_ID_MAX + 1];
    if (!copy_str(alias, sizeof alias, p, n))
        return st_fail(t, err, "M_UNKNOWN", "store: room alias record malformed");
    return a->cb(a->arg, alias) ? 1 : 0;
}

int mxr_store_room_aliases(struct mxr_store_txn *t, const char *room_id,
                           int (*cb)(void *arg, const char *alias), void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    if (!room_id || !room_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: no room ID");
    struct skey rk;
    str_key(&rk, room_id);
    if (st_key_ok(t, &rk, "room ID", err))
        return -1;
    struct list_arg a = {rk.n, cb, arg};
    return st_scan(t, T_ROOMID_ALIASES, &rk, list_fn, &a, err);
}
