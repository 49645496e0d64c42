/* Server-side key backups (relay/store/backup.h).
 *
 * userversion_backup: str8 user + u64 version -> u8 format (1) | u8 flags
 * (BK_DELETED) | u64 etag | u64 count | info JSON.
 * userversionroomsession_key: str8 user + u64 version + str8 room + session
 * (raw, the last component) -> KeyBackupData JSON. */
#include "relay/store/backup.h"

#include <stdio.h>

#include "relay/store/store_int.h"

#define BK_FORMAT 1
#define BK_DELETED 0x01u
#define BK_HEADER (1 + 1 + 8 + 8)

struct bk_rec {
    uint8_t flags;
    uint64_t etag, count;
    const char *info;
    size_t info_len;
};

static int user_ok(struct mxr_store_txn *t, const char *user_id, struct mxr_err *err)
{
    if (!user_id || !user_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: key backup call without a user ID");
    return 0;
}

static void version_key(struct skey *k, const char *user_id, uint64_t version)
{
    skey_init(k);
    skey_str(k, user_id);
    skey_u64(k, version);
}

/* The key prefix of a version's keys, of one room's, or one key. */
static int key_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, uint64_t version,
                   const char *room_id, const char *session_id, struct mxr_err *err)
{
    version_key(k, user_id, version);
    if (room_id)
        skey_str(k, room_id);
    if (room_id && session_id)
        skey_raw(k, session_id, strlen(session_id));
    return st_key_ok(t, k, "backup key (user, room or session ID too long)", err);
}

static int rec_decode(struct mxr_store_txn *t, const MDB_val *v, struct bk_rec *r, struct mxr_err *err)
{
    struct srd rd = srd_make(v->mv_data, v->mv_size);
    uint8_t format = srd_u8(&rd);
    r->flags = srd_u8(&rd);
    r->etag = srd_u64(&rd);
    r->count = srd_u64(&rd);
    if (rd.bad || format != BK_FORMAT)
        return st_fail(t, err, "M_UNKNOWN", "store: key backup record malformed (format %u)", format);
    r->info = (const char *)v->mv_data + BK_HEADER;
    r->info_len = v->mv_size - BK_HEADER;
    return 0;
}

static int rec_put(struct mxr_store_txn *t, const struct skey *k, const struct bk_rec *r, struct mxr_err *err)
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, BK_FORMAT);
    sbuf_u8(&b, r->flags);
    sbuf_u64(&b, r->etag);
    sbuf_u64(&b, r->count);
    sbuf_raw(&b, r->info, r->info_len);
    int rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: out of memory encoding a key backup")
                   : st_put(t, T_USERVERSION_BACKUP, k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc < 0 ? -1 : 0;
}

/* The record of user's version: 0, MXR_STORE_NOT_FOUND, -1 (deleted ones
 * included: callers look at BK_DELETED). */
static int rec_get(struct mxr_store_txn *t, const char *user_id, uint64_t version, struct skey *k, struct bk_rec *r,
                   struct mxr_err *err)
{
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    version_key(k, user_id, version);
    if (st_key_ok(t, k, "user ID", err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERVERSION_BACKUP, k, &v, err);
    if (rc)
        return rc;
    return rec_decode(t, &v, r, err);
}

/* A live version's record, for writing. */
static int live_get(struct mxr_store_txn *t, const char *user_id, uint64_t version, struct skey *k, struct bk_rec *r,
                    struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    int rc = rec_get(t, user_id, version, k, r, err);
    if (rc == 0 && (r->flags & BK_DELETED))
        rc = MXR_STORE_NOT_FOUND;
    return rc;
}

int mxr_store_backup_create(struct mxr_store_txn *t, const char *user_id, const char *info, size_t info_len,
                            uint64_t *version, struct mxr_err *err)
{
    if (st_ok_write(t, err) || user_ok(t, user_id, err))
        return -1;
    uint64_t v;
    if (st_next(t, META_NEXT_BACKUP, &v, err))
        return -1;
    struct skey k;
    version_key(&k, user_id, v);
    if (st_key_ok(t, &k, "user ID", err))
        return -1;
    struct bk_rec r = {.info = info, .info_len = info_len};
    if (rec_put(t, &k, &r, err) < 0)
        return -1;
    *version = v;
    return 0;
}

struct latest {
    MDB_val v;
    uint64_t version;
};

static int latest_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct latest *l = arg;
    if (v->mv_size < BK_HEADER || k->mv_size < 8)
        return st_fail(t, err, "M_UNKNOWN", "store: key backup record malformed");
    if (!(((const uint8_t *)v->mv_data)[1] & BK_DELETED)) {   /* keys ascend: the last live one wins */
        l->v = *v;
        l->version = be64_get((const uint8_t *)k->mv_data + k->mv_size - 8);
    }
    return 0;
}

int mxr_store_backup_get(struct mxr_store_txn *t, const char *user_id, uint64_t version,
                         struct mxr_store_backup *out, struct mxr_err *err)
{
    struct bk_rec r;
    struct skey k;
    if (version) {
        int rc = rec_get(t, user_id, version, &k, &r, err);
        if (rc)
            return rc;
        if (r.flags & BK_DELETED)
            return MXR_STORE_NOT_FOUND;
    } else {
        if (st_ok(t, err) || user_ok(t, user_id, err))
            return -1;
        skey_init(&k);
        skey_str(&k, user_id);
        struct latest l = {.version = 0};
        if (st_key_ok(t, &k, "user ID", err) || st_scan(t, T_USERVERSION_BACKUP, &k, latest_row, &l, err))
            return -1;
        if (!l.version)
            return MXR_STORE_NOT_FOUND;
        if (rec_decode(t, &l.v, &r, err))
            return -1;
        version = l.version;
    }
    out->version = version;
    out->etag = r.etag;
    out->count = r.count;
    out->info = r.info;
    out->info_len = r.info_len;
    return 0;
}

int mxr_store_backup_update(struct mxr_store_txn *t, const char *user_id, uint64_t version, const char *info,
                            size_t info_len, struct mxr_err *err)
{
    struct skey k;
    struct bk_rec r;
    int rc = live_get(t, user_id, version, &k, &r, err);
    if (rc)
        return rc;
    r.info = info;
    r.info_len = info_len;
    return rec_put(t, &k, &r, err);
}

/* Deletes every key row under prefix p; *n counts them. */
static int del_prefix(struct mxr_store_txn *t, const struct skey *p, uint64_t *n, struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, T_USERVERSIONROOMSESSION_KEY, &c, err))
        return -1;
    int rc;
    for (;;) {
        MDB_val k = st_val(p), v;
        rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
        if (rc || !st_prefix(&k, p))
            break;
        int drc = mdb_cursor_del(c, 0);
        if (drc) {
            rc = st_fail_mdb(t, drc, store_tables[T_USERVERSIONROOMSESSION_KEY].name, err);
            break;
        }
        (*n)++;
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_backup_delete(struct mxr_store_txn *t, const char *user_id, uint64_t version, struct mxr_err *err)
{
    struct skey k, p;
    struct bk_rec r;
    if (st_ok_write(t, err))
        return -1;
    int rc = rec_get(t, user_id, version, &k, &r, err);
    if (rc || (r.flags & BK_DELETED))
        return rc;
    uint64_t n = 0;
    if (key_key(t, &p, user_id, version, NULL, NULL, err) || del_prefix(t, &p, &n, err))
        return -1;
    /* The tombstone keeps no info: the backup's auth_data is gone. */
    struct bk_rec dead = {.flags = BK_DELETED, .etag = r.etag + 1};
    return rec_put(t, &k, &dead, err);
}

int mxr_store_backup_key_get(struct mxr_store_txn *t, const char *user_id, uint64_t version, const char *room_id,
                             const char *session_id, const char **json, size_t *len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    if (!room_id || !session_id)
        return st_fail(t, err, "M_UNKNOWN", "store: a backup key needs a room and a session ID");
    if (key_key(t, &k, user_id, version, room_id, session_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERVERSIONROOMSESSION_KEY, &k, &v, err);
    if (rc)
        return rc;
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int mxr_store_backup_key_put(struct mxr_store_txn *t, const char *user_id, uint64_t version, const char *room_id,
                             const char *session_id, const char *json, size_t len, struct mxr_err *err)
{
    struct skey bk, k;
    struct bk_rec r;
    int rc = live_get(t, user_id, version, &bk, &r, err);
    if (rc)
        return rc;
    if (!room_id || !session_id)
        return st_fail(t, err, "M_UNKNOWN", "store: a backup key needs a room and a session ID");
    if (key_key(t, &k, user_id, version, room_id, session_id, err))
        return -1;
    MDB_val old;
    rc = st_get(t, T_USERVERSIONROOMSESSION_KEY, &k, &old, err);
    if (rc < 0 || st_put(t, T_USERVERSIONROOMSESSION_KEY, &k, json, len, 0, err) < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND)
        r.count++;
    r.etag++;
    return rec_put(t, &bk, &r, err);
}

int mxr_store_backup_keys_delete(struct mxr_store_txn *t, const char *user_id, uint64_t version,
                                 const char *room_id, const char *session_id, struct mxr_err *err)
{
    struct skey bk, p;
    struct bk_rec r;
    int rc = live_get(t, user_id, version, &bk, &r, err);
    if (rc)
        return rc;
    uint64_t n = 0;
    if (key_key(t, &p, user_id, version, room_id, room_id ? session_id : NULL, err))
        return -1;
    if (room_id && session_id) {
        rc = st_del(t, T_USERVERSIONROOMSESSION_KEY, &p, NULL, 0, err);
        if (rc < 0)
            return -1;
        n = rc == 0;
    } else if (del_prefix(t, &p, &n, err)) {
        return -1;
    }
    if (!n)
        return 0;
    r.count = r.count > n ? r.count - n : 0;
    r.etag++;
    return rec_put(t, &bk, &r, err);
}

struct keys_scan {
    mxr_store_backup_key_cb cb;
    void *arg;
    size_t skip;   /* bytes of the user + version prefix */
};

static int key_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct keys_scan *s = arg;
    const uint8_t *p = (const uint8_t *)k->mv_data + s->skip;
    size_t left = k->mv_size - s->skip;
    char room[MXR_STORE_ID_MAX + 1], session[SKEY_MAX + 1];
    if (left < 1 || left < 1u + p[0] || !copy_str(room, sizeof room, p + 1, p[0]) ||
        !copy_str(session, sizeof session, p + 1 + p[0], left - 1 - p[0]))
        return st_fail(t, err, "M_UNKNOWN", "store: backup key row malformed");
    return s->cb(s->arg, room, session, v->mv_data, v->mv_size) ? 1 : 0;
}

int mxr_store_backup_keys(struct mxr_store_txn *t, const char *user_id, uint64_t version, const char *room_id,
                          mxr_store_backup_key_cb cb, void *arg, struct mxr_err *err)
{
    struct skey p;
    if (st_ok(t, err) || user_ok(t, user_id, err))
        return -1;
    if (key_key(t, &p, user_id, version, room_id, NULL, err))
        return -1;
    struct keys_scan s = {.cb = cb, .arg = arg, .skip = 1 + strlen(user_id) + 8};
    return st_scan(t, T_USERVERSIONROOMSESSION_KEY, &p, key_row, &s, err);
}
