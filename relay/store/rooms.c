/* Per-room views: registration and version, the timeline by stream
 * position, the current state (expanded per key for O(1) lookups) and the
 * membership indexes derived from it. */
#include "relay/store/store_int.h"

#include <stdio.h>
#include <stdlib.h>

int mxr_store_room_add(struct mxr_store_txn *t, const char *room_id, const char *version,
                       struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    if (!version || !*version || strlen(version) > MXR_STORE_VERSION_MAX)
        return st_fail(t, err, "M_UNKNOWN", "store: room %s: room version missing or over %d bytes",
                       room_id ? room_id : "(null)", MXR_STORE_VERSION_MAX);
    uint64_t room;
    if (sid_room(t, room_id, true, &room, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    MDB_val v;
    int rc = st_get(t, T_SHORTROOMID_VERSION, &k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (v.mv_size == strlen(version) && memcmp(v.mv_data, version, v.mv_size) == 0)
            return 0;
        return st_fail(t, err, "M_UNKNOWN", "store: room %s is registered with version %.*s, not %s "
                       "(a room's version never changes)", room_id, (int)v.mv_size,
                       (const char *)v.mv_data, version);
    }
    return st_put(t, T_SHORTROOMID_VERSION, &k, version, strlen(version), 0, err);
}

int mxr_store_room_version(struct mxr_store_txn *t, const char *room_id,
                           char out[MXR_STORE_VERSION_MAX + 1], struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    MDB_val v;
    if ((rc = st_get(t, T_SHORTROOMID_VERSION, &k, &v, err)))
        return rc;
    if (!copy_str(out, MXR_STORE_VERSION_MAX + 1, v.mv_data, v.mv_size))
        return st_fail(t, err, "M_UNKNOWN", "store: room version of %s malformed", room_id);
    return 0;
}

int mxr_store_rooms(struct mxr_store_txn *t, int (*cb)(void *arg, const char *room_id), void *arg,
                    struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, T_SHORTROOMID_VERSION, &c, err))
        return -1;
    MDB_val k, v;
    char id[MXR_STORE_ID_MAX + 1];
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    while (rc == 0) {
        if (k.mv_size != 8 || sid_room_str(t, be64_get(k.mv_data), id, err)) {
            rc = t->failed ? -1 : st_fail(t, err, "M_UNKNOWN", "store: malformed room key");
            break;
        }
        if (cb(arg, id))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

/* --- timeline --------------------------------------------------------------- */

int room_timeline_add(struct mxr_store_txn *t, uint64_t room, uint64_t stream, uint64_t sev,
                      struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    skey_u64(&k, stream);
    uint8_t b[8];
    be64_put(b, sev);
    return st_put_seq(t, T_ROOMSTREAM_SHORTEVENTID, &k, b, 8, err);
}

int mxr_store_timeline(struct mxr_store_txn *t, const char *room_id, uint64_t from, bool forwards,
                       size_t limit, mxr_store_timeline_cb cb, void *arg, struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    MDB_cursor *c;
    if (st_cursor(t, T_ROOMSTREAM_SHORTEVENTID, &c, err))
        return -1;
    struct skey prefix, start;
    skey_init(&prefix);
    skey_u64(&prefix, room);
    skey_init(&start);
    skey_u64(&start, room);
    MDB_val k, v;
    if (forwards) {
        if (from == UINT64_MAX)
            goto done;
        skey_u64(&start, from + 1);
        k = st_val(&start);
        rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    } else {
        /* Position after the last wanted key, then step back. */
        skey_u64(&start, from ? from : UINT64_MAX);
        k = st_val(&start);
        rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
        if (rc >= 0)   /* (stream UINT64_MAX is never handed out) */
            rc = st_cget(t, c, &k, &v, rc == MXR_STORE_NOT_FOUND ? MDB_LAST : MDB_PREV, err);
    }
    char id[MXR_STORE_ID_MAX + 1];
    for (size_t n = 0; rc == 0 && n < limit && st_prefix(&k, &prefix); n++) {
        if (k.mv_size != 16 || v.mv_size != 8) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: malformed timeline row: store damaged");
            break;
        }
        if (sid_event_str(t, be64_get(v.mv_data), id, err)) {
            rc = -1;
            break;
        }
        if (cb(arg, id, be64_get((uint8_t *)k.mv_data + 8)))
            break;
        rc = st_cget(t, c, &k, &v, forwards ? MDB_NEXT : MDB_PREV, err);
    }
done:
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int mxr_store_stream_head(struct mxr_store_txn *t, uint64_t *out, struct mxr_err *err)
{
    return st_counter(t, META_NEXT_STREAM, out, err);
}

/* --- current state and membership ------------------------------------------- */

static int current_group(struct mxr_store_txn *t, uint64_t room, uint64_t *group, struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    MDB_val v;
    int rc = st_get(t, T_SHORTROOMID_STATEGROUP, &k, &v, err);
    if (rc < 0)
        return -1;
    *group = 0;
    if (rc == 0) {
        if (v.mv_size != 8)
            return st_fail(t, err, "M_UNKNOWN", "store: current state group record malformed");
        *group = be64_get(v.mv_data);
    }
    return 0;
}

/* Updates both membership indexes for user in room; sev 0 removes. */
static int membership_set(struct mxr_store_txn *t, uint64_t room, const char *user, uint64_t sev,
                          struct mxr_err *err)
{
    struct skey ru, ur;
    skey_init(&ru);
    skey_u64(&ru, room);
    skey_raw(&ru, user, strlen(user));
    skey_init(&ur);
    skey_str(&ur, user);
    skey_u64(&ur, room);
    if (!sev) {
        if (st_del(t, T_ROOMUSER_MEMBERSHIP, &ru, NULL, 0, err) < 0 ||
            st_del(t, T_USERROOM_MEMBERSHIP, &ur, NULL, 0, err) < 0)
            return -1;
        return 0;
    }
    struct ev_meta m;
    int rc = evmeta_get(t, sev, &m, err);
    if (rc == MXR_STORE_NOT_FOUND)
        return st_fail(t, err, "M_UNKNOWN", "store: current state names member event %llu of %s, which "
                       "is not stored", (unsigned long long)sev, user);
    if (rc)
        return -1;
    size_t ml = strlen(m.membership);
    uint8_t b[8 + 1 + sizeof m.membership];
    be64_put(b, sev);
    b[8] = (uint8_t)ml;
    memcpy(b + 9, m.membership, ml);
    if (st_put(t, T_ROOMUSER_MEMBERSHIP, &ru, b, 9 + ml, 0, err) ||
        st_put(t, T_USERROOM_MEMBERSHIP, &ur, m.membership, ml, 0, err))
        return -1;
    return 0;
}

int mxr_store_room_set_current(struct mxr_store_txn *t, const char *room_id, uint64_t group,
                               struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    uint64_t room, old;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc == MXR_STORE_NOT_FOUND)
        return st_fail(t, err, "M_UNKNOWN", "store: room %s is not registered", room_id);
    if (rc || current_group(t, room, &old, err))
        return -1;
    if (old == group)
        return sg_exists(t, group, err) ? st_fail(t, err, "M_UNKNOWN", "store: no state group %llu",
                                                   (unsigned long long)group) : 0;
    struct sg_entry *d;
    size_t n;
    if (sg_diff(t, old, group, &d, &n, err))
        return -1;
    char type[MXR_STORE_ID_MAX + 1], sk[MXR_STORE_ID_MAX + 1];
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct skey k;
        skey_init(&k);
        skey_u64(&k, room);
        skey_u64(&k, d[i].ssk);
        if (d[i].sev) {
            uint8_t b[8];
            be64_put(b, d[i].sev);
            rc = st_put(t, T_ROOMSTATEKEY_SHORTEVENTID, &k, b, 8, 0, err);
        } else {
            rc = st_del(t, T_ROOMSTATEKEY_SHORTEVENTID, &k, NULL, 0, err) < 0 ? -1 : 0;
        }
        if (!rc)
            rc = sid_statekey_str(t, d[i].ssk, type, sk, err);
        if (!rc && strcmp(type, "m.room.member") == 0)
            rc = membership_set(t, room, sk, d[i].sev, err);
    }
    free(d);
    if (rc)
        return -1;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    uint8_t b[8];
    be64_put(b, group);
    return st_put(t, T_SHORTROOMID_STATEGROUP, &k, b, 8, 0, err);
}

int mxr_store_room_current(struct mxr_store_txn *t, const char *room_id, uint64_t *group,
                           struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    return current_group(t, room, group, err);
}

int mxr_store_room_current_get(struct mxr_store_txn *t, const char *room_id, const char *type,
                               const char *state_key, char out_event_id[MXR_STORE_ID_MAX + 1],
                               struct mxr_err *err)
{
    uint64_t room, ssk;
    int rc = sid_room(t, room_id, false, &room, err);
    if (!rc)
        rc = sid_statekey(t, type, state_key, false, &ssk, err);
    if (rc)
        return rc;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    skey_u64(&k, ssk);
    MDB_val v;
    if ((rc = st_get(t, T_ROOMSTATEKEY_SHORTEVENTID, &k, &v, err)))
        return rc;
    if (v.mv_size != 8)
        return st_fail(t, err, "M_UNKNOWN", "store: current state row malformed");
    return sid_event_str(t, be64_get(v.mv_data), out_event_id, err);
}

struct current_scan {
    mxr_store_state_cb cb;
    void *arg;
};

static int current_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    struct current_scan *cs = arg;
    char type[MXR_STORE_ID_MAX + 1], sk[MXR_STORE_ID_MAX + 1], id[MXR_STORE_ID_MAX + 1];
    if (k->mv_size != 16 || v->mv_size != 8 ||
        sid_statekey_str(t, be64_get((uint8_t *)k->mv_data + 8), type, sk, err) ||
        sid_event_str(t, be64_get(v->mv_data), id, err))
        return t->failed ? -1 : st_fail(t, err, "M_UNKNOWN", "store: current state row malformed");
    return cs->cb(cs->arg, type, sk, id) ? 1 : 0;
}

int mxr_store_room_current_all(struct mxr_store_txn *t, const char *room_id, mxr_store_state_cb cb,
                               void *arg, struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    struct skey prefix;
    skey_init(&prefix);
    skey_u64(&prefix, room);
    struct current_scan cs = {cb, arg};
    return st_scan(t, T_ROOMSTATEKEY_SHORTEVENTID, &prefix, current_row, &cs, err);
}

int mxr_store_membership(struct mxr_store_txn *t, const char *room_id, const char *user_id,
                         char out[32], struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, room);
    skey_raw(&k, user_id, strlen(user_id));
    MDB_val v;
    if ((rc = st_get(t, T_ROOMUSER_MEMBERSHIP, &k, &v, err)))
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    srd_u64(&r);
    srd_str8(&r, out, 32);
    if (r.bad)
        return st_fail(t, err, "M_UNKNOWN", "store: membership row malformed");
    return 0;
}

struct member_scan {
    const char *filter;        /* membership to keep, NULL: all */
    size_t prefix_len;
    mxr_store_member_cb cb;
    void *arg;
};

/* T_ROOMUSER_MEMBERSHIP: room + user ID -> sev + str8 membership. */
static int room_member_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v,
                           struct mxr_err *err)
{
    struct member_scan *ms = arg;
    char user[MXR_STORE_ID_MAX + 1], m[32];
    struct srd r = srd_make(v->mv_data, v->mv_size);
    srd_u64(&r);
    srd_str8(&r, m, sizeof m);
    if (r.bad || !copy_str(user, sizeof user, (uint8_t *)k->mv_data + 8, k->mv_size - 8))
        return st_fail(t, err, "M_UNKNOWN", "store: membership row malformed");
    return (!ms->filter || strcmp(ms->filter, m) == 0) && ms->cb(ms->arg, user, m) ? 1 : 0;
}

int mxr_store_room_members(struct mxr_store_txn *t, const char *room_id, const char *filter,
                           mxr_store_member_cb cb, void *arg, struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    struct skey prefix;
    skey_init(&prefix);
    skey_u64(&prefix, room);
    struct member_scan ms = {filter, prefix.n, cb, arg};
    return st_scan(t, T_ROOMUSER_MEMBERSHIP, &prefix, room_member_row, &ms, err);
}

/* T_USERROOM_MEMBERSHIP: str8 user ID + room -> membership. */
static int user_room_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v,
                         struct mxr_err *err)
{
    struct member_scan *ms = arg;
    char room[MXR_STORE_ID_MAX + 1], m[32];
    if (k->mv_size != ms->prefix_len + 8 || !copy_str(m, sizeof m, v->mv_data, v->mv_size) ||
        sid_room_str(t, be64_get((uint8_t *)k->mv_data + ms->prefix_len), room, err))
        return t->failed ? -1 : st_fail(t, err, "M_UNKNOWN", "store: membership row malformed");
    return (!ms->filter || strcmp(ms->filter, m) == 0) && ms->cb(ms->arg, room, m) ? 1 : 0;
}

int mxr_store_user_rooms(struct mxr_store_txn *t, const char *user_id, const char *filter,
                         mxr_store_member_cb cb, void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    struct skey prefix;
    skey_init(&prefix);
    skey_str(&prefix, user_id);
    if (st_key_ok(t, &prefix, "user ID", err))
        return -1;
    struct member_scan ms = {filter, prefix.n, cb, arg};
    return st_scan(t, T_USERROOM_MEMBERSHIP, &prefix, user_room_row, &ms, err);
}
