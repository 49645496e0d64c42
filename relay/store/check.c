/* mxr_store_check: the store's invariants, verified over every table (an
 * fsck). The crash test runs it after each SIGKILL; an operator can run it
 * on a suspicious store. Each violation names the table and the entry. */
#include "relay/store/store_int.h"

#include <inttypes.h>
#include <stdlib.h>

#define BAD(...) st_fail(t, err, "M_UNKNOWN", "store check: " __VA_ARGS__)

static int has_dup(struct mxr_store_txn *t, enum store_table tb, uint64_t key, uint64_t val,
                   struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, tb, &c, err))
        return -1;
    uint8_t kb[8], vb[8];
    be64_put(kb, key);
    be64_put(vb, val);
    MDB_val k = {8, kb}, v = {8, vb};
    int rc = st_cget(t, c, &k, &v, MDB_GET_BOTH, err);
    mdb_cursor_close(c);
    return rc;
}

/* Forward and reverse ID maps are inverse bijections. */
static int check_idmap(struct mxr_store_txn *t, enum store_table fwd, enum store_table back,
                       struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, fwd, &c, err))
        return -1;
    MDB_val k, v;
    size_t n = 0;
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    for (; rc == 0; rc = st_cget(t, c, &k, &v, MDB_NEXT, err), n++) {
        if (v.mv_size != 8) {
            rc = BAD("%s: value of %zu bytes", store_tables[fwd].name, v.mv_size);
            break;
        }
        struct skey rk;
        skey_init(&rk);
        skey_raw(&rk, v.mv_data, 8);
        MDB_val rv;
        int grc = st_get(t, back, &rk, &rv, err);
        if (grc < 0 || (grc == 0 && (rv.mv_size != k.mv_size || memcmp(rv.mv_data, k.mv_data, k.mv_size)))
            || grc == MXR_STORE_NOT_FOUND) {
            rc = t->failed ? -1 : BAD("%s entry %" PRIu64 " has no matching %s entry",
                                      store_tables[fwd].name, be64_get(v.mv_data), store_tables[back].name);
            break;
        }
    }
    mdb_cursor_close(c);
    if (rc < 0)
        return -1;
    MDB_stat st;
    if ((rc = mdb_stat(t->txn, t->s->dbi[back], &st)))
        return st_fail_mdb(t, rc, "stat", err);
    if (st.ms_entries != n)
        return BAD("%s has %zu entries, %s has %zu", store_tables[fwd].name, n, store_tables[back].name,
                   (size_t)st.ms_entries);
    return 0;
}

struct edge_check {
    enum store_table tb, rev;
    bool source_stored;
};

static int edge_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    const struct edge_check *ec = arg;
    if (k->mv_size != 8 || v->mv_size != 8)
        return BAD("%s: malformed edge", store_tables[ec->tb].name);
    uint64_t a = be64_get(k->mv_data), b = be64_get(v->mv_data);
    int rc = has_dup(t, ec->rev, b, a, err);
    if (rc)
        return rc < 0 ? -1 : BAD("edge %" PRIu64 " -> %" PRIu64 " of %s missing from %s", a, b,
                                 store_tables[ec->tb].name, store_tables[ec->rev].name);
    if (ec->source_stored) {
        struct ev_meta m;
        if ((rc = evmeta_get(t, a, &m, err)))
            return rc < 0 ? -1 : BAD("%s: event %" PRIu64 " has edges but is not stored",
                                     store_tables[ec->tb].name, a);
    }
    return 0;
}

/* Every edge appears in both directions; its source is a stored event. */
static int check_edges(struct mxr_store_txn *t, enum store_table tb, enum store_table rev,
                       bool source_stored, struct mxr_err *err)
{
    struct skey all;
    skey_init(&all);
    struct edge_check ec = {tb, rev, source_stored};
    return st_scan(t, tb, &all, edge_row, &ec, err);
}

struct accepted_child {
    struct mxr_store_txn *t;
    struct mxr_err *err;
    bool found;
    int rc;
};

static int accepted_child_cb(void *arg, uint64_t child)
{
    struct accepted_child *a = arg;
    struct ev_meta m;
    int rc = evmeta_get(a->t, child, &m, a->err);
    if (rc < 0) {
        a->rc = -1;
        return 1;
    }
    if (rc == 0 && evmeta_accepted(&m))
        a->found = true;
    return a->found;
}

static int has_accepted_child(struct mxr_store_txn *t, uint64_t sev, bool *found, struct mxr_err *err)
{
    struct accepted_child a = {t, err, false, 0};
    if (graph_dups(t, T_SHORTEVENTID_CHILDREN, sev, accepted_child_cb, &a, err) || a.rc)
        return -1;
    *found = a.found;
    return 0;
}

/* Per stored event: PDU, room, state groups, stream and timeline row,
 * extremity membership. */
static int check_events(struct mxr_store_txn *t, struct mxr_err *err)
{
    uint64_t head;
    if (st_counter(t, META_NEXT_STREAM, &head, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_SHORTEVENTID_META, &c, err))
        return -1;
    MDB_val k, v;
    size_t n = 0;
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    for (; rc == 0; rc = st_cget(t, c, &k, &v, MDB_NEXT, err), n++) {
        if (k.mv_size != 8) {
            rc = BAD("shorteventid_meta: malformed key");
            break;
        }
        uint64_t sev = be64_get(k.mv_data);
        struct ev_meta m;
        if ((rc = evmeta_get(t, sev, &m, err)))
            break;
        struct skey key;
        skey_init(&key);
        skey_u64(&key, sev);
        MDB_val x;
        char id[MXR_STORE_ID_MAX + 1];
        if ((rc = sid_event_str(t, sev, id, err)))
            break;
        if ((rc = st_get(t, T_SHORTEVENTID_PDU, &key, &x, err))) {
            rc = rc < 0 ? -1 : BAD("event %s has metadata but no PDU", id);
            break;
        }
        struct skey rk;
        skey_init(&rk);
        skey_u64(&rk, m.room);
        if ((rc = st_get(t, T_SHORTROOMID_VERSION, &rk, &x, err))) {
            rc = rc < 0 ? -1 : BAD("event %s is in an unregistered room", id);
            break;
        }
        char type[MXR_STORE_ID_MAX + 1], sk[MXR_STORE_ID_MAX + 1];
        if ((m.flags & EVM_STATE) && (rc = sid_statekey_str(t, m.ssk, type, sk, err)))
            break;
        int grc = st_get(t, T_SHORTEVENTID_STATEGROUPS, &key, &x, err);
        if (grc < 0) {
            rc = -1;
            break;
        }
        if (m.flags & MXR_STORE_OUTLIER) {
            if (m.stream || grc == 0) {
                rc = BAD("outlier %s has a stream position or state groups", id);
                break;
            }
            continue;
        }
        if (grc || x.mv_size != 16 || !m.stream || m.stream > head) {
            rc = BAD("event %s lacks state groups or a valid stream position", id);
            break;
        }
        if (sg_exists(t, be64_get(x.mv_data), err) || sg_exists(t, be64_get((uint8_t *)x.mv_data + 8), err)) {
            rc = t->failed ? -1 : BAD("event %s names a missing state group", id);
            break;
        }
        if (!evmeta_accepted(&m))
            continue;
        struct skey tk;
        skey_init(&tk);
        skey_u64(&tk, m.room);
        skey_u64(&tk, m.stream);
        int trc = st_get(t, T_ROOMSTREAM_SHORTEVENTID, &tk, &x, err);
        if (trc || x.mv_size != 8 || be64_get(x.mv_data) != sev) {
            rc = t->failed ? -1 : BAD("accepted event %s has no timeline row", id);
            break;
        }
        bool child;
        if (has_accepted_child(t, sev, &child, err)) {
            rc = -1;
            break;
        }
        int erc = has_dup(t, T_SHORTROOMID_EXTREMITIES, m.room, sev, err);
        if (erc < 0) {
            rc = -1;
            break;
        }
        if (child == (erc == 0)) {
            rc = BAD("event %s %s a forward extremity but %s an accepted child", id,
                     erc == 0 ? "is" : "is not", child ? "has" : "has no");
            break;
        }
    }
    mdb_cursor_close(c);
    if (rc < 0)
        return -1;
    MDB_stat st;
    if ((rc = mdb_stat(t->txn, t->s->dbi[T_SHORTEVENTID_PDU], &st)))
        return st_fail_mdb(t, rc, "stat", err);
    if (st.ms_entries != n)
        return BAD("%zu PDUs stored for %zu events with metadata", (size_t)st.ms_entries, n);
    return 0;
}

static int event_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    enum store_table tb = *(const enum store_table *)arg;
    bool timeline = tb == T_ROOMSTREAM_SHORTEVENTID;
    if (k->mv_size != (timeline ? 16u : 8u) || v->mv_size != 8)
        return BAD("%s: malformed row", store_tables[tb].name);
    uint64_t room = be64_get(k->mv_data), sev = be64_get(v->mv_data);
    struct ev_meta m;
    int rc = evmeta_get(t, sev, &m, err);
    if (rc || m.room != room || !evmeta_accepted(&m) ||
        (timeline && m.stream != be64_get((uint8_t *)k->mv_data + 8)))
        return t->failed ? -1 : BAD("%s: row for event %" PRIu64 " does not match its metadata",
                                    store_tables[tb].name, sev);
    return 0;
}

/* Extremities and timeline rows point at accepted events of their room. */
static int check_rows(struct mxr_store_txn *t, enum store_table tb, struct mxr_err *err)
{
    struct skey all;
    skey_init(&all);
    return st_scan(t, tb, &all, event_row, &tb, err);
}

static int group_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    (void)arg;
    if (k->mv_size != 8)
        return BAD("stategroup_delta: malformed key");
    return sg_check(t, be64_get(k->mv_data), v, err) ? -1 : 0;
}

static int check_groups(struct mxr_store_txn *t, struct mxr_err *err)
{
    struct skey all;
    skey_init(&all);
    return st_scan(t, T_STATEGROUP_DELTA, &all, group_row, NULL, err);
}

/* The expanded current state and the membership rows agree with each room's
 * current state group. */
static int check_current(struct mxr_store_txn *t, struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, T_SHORTROOMID_STATEGROUP, &c, err))
        return -1;
    MDB_val k, v;
    size_t rows = 0, members = 0;
    int rc = st_cget(t, c, &k, &v, MDB_FIRST, err);
    for (; rc == 0; rc = st_cget(t, c, &k, &v, MDB_NEXT, err)) {
        if (k.mv_size != 8 || v.mv_size != 8) {
            rc = BAD("shortroomid_stategroup: malformed row");
            break;
        }
        uint64_t room = be64_get(k.mv_data), group = be64_get(v.mv_data);
        struct sg_entry *e;
        size_t n;
        if ((rc = sg_full(t, group, &e, &n, err)))
            break;
        char type[MXR_STORE_ID_MAX + 1], sk[MXR_STORE_ID_MAX + 1];
        for (size_t i = 0; i < n && !rc; i++) {
            struct skey rk;
            skey_init(&rk);
            skey_u64(&rk, room);
            skey_u64(&rk, e[i].ssk);
            MDB_val x;
            int grc = st_get(t, T_ROOMSTATEKEY_SHORTEVENTID, &rk, &x, err);
            if (grc || x.mv_size != 8 || be64_get(x.mv_data) != e[i].sev) {
                rc = t->failed ? -1 : BAD("room %" PRIu64 ": current state row for key %" PRIu64
                                          " disagrees with state group %" PRIu64, room, e[i].ssk, group);
                break;
            }
            if ((rc = sid_statekey_str(t, e[i].ssk, type, sk, err)))
                break;
            if (strcmp(type, "m.room.member"))
                continue;
            members++;
            struct skey mk;
            skey_init(&mk);
            skey_u64(&mk, room);
            skey_raw(&mk, sk, strlen(sk));
            grc = st_get(t, T_ROOMUSER_MEMBERSHIP, &mk, &x, err);
            if (grc || x.mv_size < 9 || be64_get(x.mv_data) != e[i].sev) {
                rc = t->failed ? -1 : BAD("room %" PRIu64 ": membership row of %s disagrees with the "
                                          "current state", room, sk);
                break;
            }
        }
        rows += n;
        free(e);
        if (rc)
            break;
    }
    mdb_cursor_close(c);
    if (rc < 0)
        return -1;
    MDB_stat st;
    if ((rc = mdb_stat(t->txn, t->s->dbi[T_ROOMSTATEKEY_SHORTEVENTID], &st)))
        return st_fail_mdb(t, rc, "stat", err);
    if (st.ms_entries != rows)
        return BAD("roomstatekey_shorteventid has %zu rows, the current state groups %zu",
                   (size_t)st.ms_entries, rows);
    if ((rc = mdb_stat(t->txn, t->s->dbi[T_ROOMUSER_MEMBERSHIP], &st)))
        return st_fail_mdb(t, rc, "stat", err);
    size_t ru = st.ms_entries;
    if ((rc = mdb_stat(t->txn, t->s->dbi[T_USERROOM_MEMBERSHIP], &st)))
        return st_fail_mdb(t, rc, "stat", err);
    if (ru != members || st.ms_entries != members)
        return BAD("%zu member events in current state, %zu roomuser and %zu userroom rows", members, ru,
                   (size_t)st.ms_entries);
    return 0;
}

int mxr_store_check(struct mxr_store_txn *t, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    if (check_idmap(t, T_EVENTID_SHORTEVENTID, T_SHORTEVENTID_EVENTID, err) ||
        check_idmap(t, T_ROOMID_SHORTROOMID, T_SHORTROOMID_ROOMID, err) ||
        check_idmap(t, T_STATEKEY_SHORTSTATEKEY, T_SHORTSTATEKEY_STATEKEY, err) ||
        check_events(t, err) ||
        check_edges(t, T_SHORTEVENTID_PREVS, T_SHORTEVENTID_CHILDREN, true, err) ||
        check_edges(t, T_SHORTEVENTID_CHILDREN, T_SHORTEVENTID_PREVS, false, err) ||
        check_edges(t, T_SHORTEVENTID_AUTHS, T_SHORTEVENTID_AUTHCHILDREN, true, err) ||
        check_edges(t, T_SHORTEVENTID_AUTHCHILDREN, T_SHORTEVENTID_AUTHS, false, err) ||
        check_rows(t, T_SHORTROOMID_EXTREMITIES, err) ||
        check_rows(t, T_ROOMSTREAM_SHORTEVENTID, err) ||
        check_groups(t, err) ||
        check_current(t, err))
        return -1;
    return 0;
}
