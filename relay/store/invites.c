/* Pending invites to rooms this server is not in (invites.h). */
#include "relay/store/invites.h"
#include "relay/store/store_int.h"

static int invite_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *room_id,
                      struct mxr_err *err)
{
    skey_init(k);
    skey_str(k, user_id);
    if (room_id)
        skey_raw(k, room_id, strlen(room_id));
    return st_key_ok(t, k, "user or room ID", err);
}

int mxr_store_remote_invite_put(struct mxr_store_txn *t, const char *user_id, const char *room_id,
                                const char *event_id, const char *stripped_json, size_t len, struct mxr_err *err)
{
    struct skey k;
    uint64_t stream;
    if (st_ok_write(t, err) || invite_key(t, &k, user_id, room_id, err) ||
        st_next(t, META_NEXT_STREAM, &stream, err))
        return -1;
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u64(&b, stream);
    sbuf_str8(&b, event_id);
    sbuf_raw(&b, stripped_json, len);
    int rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: invite row too large or out of memory")
                   : st_put(t, T_USERROOM_REMOTEINVITE, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc < 0 ? -1 : 0;
}

int mxr_store_remote_invite_get(struct mxr_store_txn *t, const char *user_id, const char *room_id,
                                char event_id[MXR_STORE_ID_MAX + 1], struct mxr_err *err)
{
    struct skey k;
    MDB_val v;
    if (st_ok(t, err) || invite_key(t, &k, user_id, room_id, err))
        return -1;
    int rc = st_get(t, T_USERROOM_REMOTEINVITE, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    srd_u64(&r);
    srd_str8(&r, event_id, MXR_STORE_ID_MAX + 1);
    return r.bad ? st_fail(t, err, "M_UNKNOWN", "store: remote invite row malformed") : 0;
}

int mxr_store_remote_invite_del(struct mxr_store_txn *t, const char *user_id, const char *room_id,
                                struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || invite_key(t, &k, user_id, room_id, err))
        return -1;
    return st_del(t, T_USERROOM_REMOTEINVITE, &k, NULL, 0, err);
}

struct invite_scan {
    size_t prefix_len;
    mxr_store_remote_invite_cb cb;
    void *arg;
};

static int invite_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct invite_scan *is = arg;
    char room[MXR_STORE_ID_MAX + 1], event_id[MXR_STORE_ID_MAX + 1];
    struct srd r = srd_make(v->mv_data, v->mv_size);
    uint64_t stream = srd_u64(&r);
    srd_str8(&r, event_id, sizeof event_id);
    if (r.bad || !copy_str(room, sizeof room, (const uint8_t *)k->mv_data + is->prefix_len,
                           k->mv_size - is->prefix_len))
        return st_fail(t, err, "M_UNKNOWN", "store: remote invite row malformed");
    return is->cb(is->arg, room, event_id, stream, (const char *)r.p, r.n) ? 1 : 0;
}

int mxr_store_remote_invites(struct mxr_store_txn *t, const char *user_id, mxr_store_remote_invite_cb cb,
                             void *arg, struct mxr_err *err)
{
    struct skey prefix;
    if (st_ok(t, err) || invite_key(t, &prefix, user_id, NULL, err))
        return -1;
    struct invite_scan is = {prefix.n, cb, arg};
    return st_scan(t, T_USERROOM_REMOTEINVITE, &prefix, invite_row, &is, err);
}
