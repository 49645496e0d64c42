/* Short IDs: each event ID, room ID and (type, state_key) pair is numbered
 * once (Dendrite's NIDs, Conduit's short IDs), so that edges, timelines and
 * state entries are 8-byte integers. Both directions are stored. */
#include "relay/store/store_int.h"

/* Looks up str_key in `fwd`; if absent and create, allocates the next value
 * of `counter` and stores both directions (the reverse value is `rev`). */
static int sid_get(struct mxr_store_txn *t, enum store_table fwd, enum store_table back,
                   const char *counter, const struct skey *k, const void *rev, size_t rev_len,
                   bool create, uint64_t *out, struct mxr_err *err)
{
    MDB_val v;
    int rc = st_get(t, fwd, k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (v.mv_size != 8)
            return st_fail(t, err, "M_UNKNOWN", "store: %s holds a %zu-byte ID: store damaged",
                           store_tables[fwd].name, v.mv_size);
        *out = be64_get(v.mv_data);
        return 0;
    }
    if (!create)
        return MXR_STORE_NOT_FOUND;
    uint64_t id;
    if (st_next(t, counter, &id, err))
        return -1;
    uint8_t b[8];
    be64_put(b, id);
    struct skey rk;
    skey_init(&rk);
    skey_u64(&rk, id);
    /* IDs only grow: MDB_APPEND fills pages completely and skips the search. */
    if (st_put(t, fwd, k, b, 8, 0, err) || st_put(t, back, &rk, rev, rev_len, MDB_APPEND, err))
        return -1;
    *out = id;
    return 0;
}

static int sid_reverse(struct mxr_store_txn *t, enum store_table back, uint64_t id, MDB_val *v,
                       struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, id);
    int rc = st_get(t, back, &k, v, err);
    if (rc == MXR_STORE_NOT_FOUND)
        return st_fail(t, err, "M_UNKNOWN", "store: %s has no entry %llu: store damaged",
                       store_tables[back].name, (unsigned long long)id);
    return rc;
}

int sid_event(struct mxr_store_txn *t, const char *event_id, bool create, uint64_t *out,
              struct mxr_err *err)
{
    if (!event_id)
        return st_fail(t, err, "M_UNKNOWN", "store: NULL event ID");
    size_t n = strlen(event_id);
    if (n > MXR_STORE_ID_MAX)
        return st_fail(t, err, "M_TOO_LARGE", "store: event ID of %zu bytes (over 255, spec appendices "
                       "\"Size limits\")", n);
    struct skey k;
    skey_init(&k);
    skey_raw(&k, event_id, n);
    return sid_get(t, T_EVENTID_SHORTEVENTID, T_SHORTEVENTID_EVENTID, META_NEXT_EVENT, &k, event_id,
                   n, create, out, err);
}

int st_get_by_event(struct mxr_store_txn *t, enum store_table table, const char *event_id, MDB_val *v,
                    struct mxr_err *err)
{
    uint64_t sev;
    int rc = sid_event(t, event_id, false, &sev, err);
    if (rc)
        return rc;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, sev);
    return st_get(t, table, &k, v, err);
}

int sid_event_str(struct mxr_store_txn *t, uint64_t sev, char out[MXR_STORE_ID_MAX + 1],
                  struct mxr_err *err)
{
    MDB_val v;
    if (sid_reverse(t, T_SHORTEVENTID_EVENTID, sev, &v, err))
        return -1;
    if (!copy_str(out, MXR_STORE_ID_MAX + 1, v.mv_data, v.mv_size))
        return st_fail(t, err, "M_UNKNOWN", "store: oversized event ID stored: store damaged");
    return 0;
}

int sid_room(struct mxr_store_txn *t, const char *room_id, bool create, uint64_t *out,
             struct mxr_err *err)
{
    if (!room_id)
        return st_fail(t, err, "M_UNKNOWN", "store: NULL room ID");
    size_t n = strlen(room_id);
    if (n > MXR_STORE_ID_MAX)
        return st_fail(t, err, "M_TOO_LARGE", "store: room ID of %zu bytes (over 255)", n);
    struct skey k;
    skey_init(&k);
    skey_raw(&k, room_id, n);
    return sid_get(t, T_ROOMID_SHORTROOMID, T_SHORTROOMID_ROOMID, META_NEXT_ROOM, &k, room_id, n,
                   create, out, err);
}

int sid_room_str(struct mxr_store_txn *t, uint64_t room, char out[MXR_STORE_ID_MAX + 1],
                 struct mxr_err *err)
{
    MDB_val v;
    if (sid_reverse(t, T_SHORTROOMID_ROOMID, room, &v, err))
        return -1;
    if (!copy_str(out, MXR_STORE_ID_MAX + 1, v.mv_data, v.mv_size))
        return st_fail(t, err, "M_UNKNOWN", "store: oversized room ID stored: store damaged");
    return 0;
}

int sid_statekey(struct mxr_store_txn *t, const char *type, const char *state_key, bool create,
                 uint64_t *out, struct mxr_err *err)
{
    if (!type || !state_key)
        return st_fail(t, err, "M_UNKNOWN", "store: state entry without type or state_key");
    size_t tn = strlen(type), sn = strlen(state_key);
    if (tn > MXR_STORE_ID_MAX || sn > MXR_STORE_ID_MAX)
        return st_fail(t, err, "M_TOO_LARGE", "store: state type or state_key over 255 bytes "
                       "(spec appendices \"Size limits\")");
    struct skey k;
    skey_init(&k);
    skey_strn(&k, type, tn);
    skey_raw(&k, state_key, sn);
    return sid_get(t, T_STATEKEY_SHORTSTATEKEY, T_SHORTSTATEKEY_STATEKEY, META_NEXT_STATEKEY, &k, k.b,
                   k.n, create, out, err);
}

int sid_statekey_str(struct mxr_store_txn *t, uint64_t ssk, char type[MXR_STORE_ID_MAX + 1],
                     char state_key[MXR_STORE_ID_MAX + 1], struct mxr_err *err)
{
    MDB_val v;
    if (sid_reverse(t, T_SHORTSTATEKEY_STATEKEY, ssk, &v, err))
        return -1;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    srd_str8(&r, type, MXR_STORE_ID_MAX + 1);
    if (r.bad || !copy_str(state_key, MXR_STORE_ID_MAX + 1, r.p, r.n))
        return st_fail(t, err, "M_UNKNOWN", "store: malformed state key %llu: store damaged",
                       (unsigned long long)ssk);
    return 0;
}
