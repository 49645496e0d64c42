/* The event graph: prev_events and auth_events edges in both directions
 * (DUPSORT tables of short IDs), forward extremities per room, and the
 * backwards walk behind /backfill and /get_missing_events. */
#include "relay/store/store_int.h"

#include <stdlib.h>

static const enum store_table edge_table[] = {
    [MXR_STORE_PREVS] = T_SHORTEVENTID_PREVS,
    [MXR_STORE_CHILDREN] = T_SHORTEVENTID_CHILDREN,
    [MXR_STORE_AUTHS] = T_SHORTEVENTID_AUTHS,
    [MXR_STORE_AUTH_CHILDREN] = T_SHORTEVENTID_AUTHCHILDREN,
};

static int put_dup(struct mxr_store_txn *t, enum store_table tb, uint64_t key, uint64_t val,
                   struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, key);
    uint8_t b[8];
    be64_put(b, val);
    return st_put(t, tb, &k, b, 8, MDB_NODUPDATA, err) < 0 ? -1 : 0;
}

static int del_dup(struct mxr_store_txn *t, enum store_table tb, uint64_t key, uint64_t val,
                   struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, key);
    uint8_t b[8];
    be64_put(b, val);
    return st_del(t, tb, &k, b, 8, err) < 0 ? -1 : 0;
}

int graph_add_edges(struct mxr_store_txn *t, uint64_t sev, const char *const *ids, size_t n,
                    bool auth, struct mxr_err *err)
{
    enum store_table fwd = auth ? T_SHORTEVENTID_AUTHS : T_SHORTEVENTID_PREVS;
    enum store_table back = auth ? T_SHORTEVENTID_AUTHCHILDREN : T_SHORTEVENTID_CHILDREN;
    for (size_t i = 0; i < n; i++) {
        uint64_t other;
        if (sid_event(t, ids[i], true, &other, err) || put_dup(t, fwd, sev, other, err) ||
            put_dup(t, back, other, sev, err))
            return -1;
    }
    return 0;
}

int graph_dups(struct mxr_store_txn *t, enum store_table tb, uint64_t key,
               int (*cb)(void *arg, uint64_t v), void *arg, struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, tb, &c, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, key);
    MDB_val mk = st_val(&k), mv;
    int rc = st_cget(t, c, &mk, &mv, MDB_SET_KEY, err);
    while (rc == 0) {
        if (mv.mv_size != 8) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: %s holds a %zu-byte value: store damaged",
                         store_tables[tb].name, mv.mv_size);
            break;
        }
        if (cb(arg, be64_get(mv.mv_data)))
            break;
        rc = st_cget(t, c, &mk, &mv, MDB_NEXT_DUP, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

struct child_scan {
    struct mxr_store_txn *t;
    struct mxr_err *err;
    bool found;     /* an accepted non-outlier child exists */
    int rc;
};

static int child_cb(void *arg, uint64_t child)
{
    struct child_scan *cs = arg;
    struct ev_meta m;
    int rc = evmeta_get(cs->t, child, &m, cs->err);
    if (rc < 0) {
        cs->rc = -1;
        return 1;
    }
    if (rc == 0 && evmeta_accepted(&m)) {
        cs->found = true;
        return 1;
    }
    return 0;
}

struct prev_scan {
    struct mxr_store_txn *t;
    struct mxr_err *err;
    uint64_t room;
    int rc;
};

static int prev_cb(void *arg, uint64_t prev)
{
    struct prev_scan *ps = arg;
    if (del_dup(ps->t, T_SHORTROOMID_EXTREMITIES, ps->room, prev, ps->err)) {
        ps->rc = -1;
        return 1;
    }
    return 0;
}

/* Forward extremities (spec: server-server API, "Forward extremities" are
 * the events with no successors): an accepted event removes its prevs from
 * the set and joins it unless an accepted event already names it as prev
 * (it arrived after its child). Outliers, rejected and soft-failed events
 * neither join nor remove anything: new events must not point at them. */
int graph_extremities_update(struct mxr_store_txn *t, uint64_t room, uint64_t sev, struct mxr_err *err)
{
    struct prev_scan ps = {t, err, room, 0};
    if (graph_dups(t, T_SHORTEVENTID_PREVS, sev, prev_cb, &ps, err) || ps.rc)
        return -1;
    struct child_scan cs = {t, err, false, 0};
    if (graph_dups(t, T_SHORTEVENTID_CHILDREN, sev, child_cb, &cs, err) || cs.rc)
        return -1;
    if (cs.found)
        return 0;
    return put_dup(t, T_SHORTROOMID_EXTREMITIES, room, sev, err);
}

struct id_emit {
    struct mxr_store_txn *t;
    struct mxr_err *err;
    mxr_store_id_cb cb;
    void *arg;
    int rc;
};

static int emit_cb(void *arg, uint64_t sev)
{
    struct id_emit *ie = arg;
    char id[MXR_STORE_ID_MAX + 1];
    if (sid_event_str(ie->t, sev, id, ie->err)) {
        ie->rc = -1;
        return 1;
    }
    return ie->cb(ie->arg, id);
}

int mxr_store_edges(struct mxr_store_txn *t, const char *event_id, enum mxr_store_edge kind,
                    mxr_store_id_cb cb, void *arg, struct mxr_err *err)
{
    if ((unsigned)kind > MXR_STORE_AUTH_CHILDREN)
        return st_fail(t, err, "M_UNKNOWN", "store: unknown edge kind %d", (int)kind);
    uint64_t sev;
    int rc = sid_event(t, event_id, false, &sev, err);
    if (rc)
        return rc;
    struct id_emit ie = {t, err, cb, arg, 0};
    if (graph_dups(t, edge_table[kind], sev, emit_cb, &ie, err) || ie.rc)
        return -1;
    return 0;
}

int mxr_store_extremities(struct mxr_store_txn *t, const char *room_id, mxr_store_id_cb cb, void *arg,
                          struct mxr_err *err)
{
    uint64_t room;
    int rc = sid_room(t, room_id, false, &room, err);
    if (rc)
        return rc;
    struct id_emit ie = {t, err, cb, arg, 0};
    if (graph_dups(t, T_SHORTROOMID_EXTREMITIES, room, emit_cb, &ie, err) || ie.rc)
        return -1;
    return 0;
}

/* --- walking backwards -------------------------------------------------------- */

/* Open-addressing set of short IDs (0 is never an ID). */
struct idset {
    uint64_t *slot;
    size_t cap, n;
};

static bool idset_add(struct idset *s, uint64_t v, bool *oom)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *ns = calloc(cap, sizeof *ns);
        if (!ns) {
            *oom = true;
            return false;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i])
                continue;
            size_t h = (size_t)(s->slot[i] * 0x9E3779B97F4A7C15ull) & (cap - 1);
            while (ns[h])
                h = (h + 1) & (cap - 1);
            ns[h] = s->slot[i];
        }
        free(s->slot);
        s->slot = ns;
        s->cap = cap;
    }
    size_t h = (size_t)(v * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slot[h]) {
        if (s->slot[h] == v)
            return false;
        h = (h + 1) & (s->cap - 1);
    }
    s->slot[h] = v;
    s->n++;
    return true;
}

static bool idset_has(const struct idset *s, uint64_t v)
{
    if (!s->cap)
        return false;
    size_t h = (size_t)(v * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slot[h]) {
        if (s->slot[h] == v)
            return true;
        h = (h + 1) & (s->cap - 1);
    }
    return false;
}

/* Max-heap of (depth, sev). */
struct wnode {
    int64_t depth;
    uint64_t sev;
};
struct wheap {
    struct wnode *v;
    size_t n, cap;
};

static bool wless(struct wnode a, struct wnode b)
{
    return a.depth != b.depth ? a.depth < b.depth : a.sev < b.sev;
}

static bool wheap_push(struct wheap *h, struct wnode x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct wnode *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv)
            return false;
        h->v = nv;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = x;
    while (i && wless(h->v[(i - 1) / 2], h->v[i])) {
        struct wnode tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
    return true;
}

static struct wnode wheap_pop(struct wheap *h)
{
    struct wnode top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && wless(h->v[m], h->v[l]))
            m = l;
        if (r < h->n && wless(h->v[m], h->v[r]))
            m = r;
        if (m == i)
            break;
        struct wnode tmp = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = tmp;
        i = m;
    }
    return top;
}

struct walk {
    struct mxr_store_txn *t;
    struct mxr_err *err;
    struct idset seen, stop;
    struct wheap heap;
    bool oom;
    int rc;
};

/* Queues a stored, unseen, non-stop event. */
static int walk_push(void *arg, uint64_t sev)
{
    struct walk *w = arg;
    if (idset_has(&w->stop, sev) || !idset_add(&w->seen, sev, &w->oom))
        return w->oom;
    struct ev_meta m;
    int rc = evmeta_get(w->t, sev, &m, w->err);
    if (rc < 0) {
        w->rc = -1;
        return 1;
    }
    if (rc == MXR_STORE_NOT_FOUND)
        return 0;   /* known only by reference: nothing to send, nothing behind it */
    if (!wheap_push(&w->heap, (struct wnode){m.depth, sev}))
        w->oom = true;
    return w->oom;
}

int mxr_store_walk_back(struct mxr_store_txn *t, const char *const *from, size_t n_from,
                        const char *const *stop, size_t n_stop, bool include_from, size_t limit,
                        mxr_store_id_cb cb, void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    struct walk w = {.t = t, .err = err};
    int rc = 0;
    for (size_t i = 0; i < n_stop && !rc; i++) {
        uint64_t sev;
        rc = sid_event(t, stop[i], false, &sev, err);
        if (rc == 0)
            idset_add(&w.stop, sev, &w.oom);
        rc = rc < 0 ? -1 : 0;
    }
    for (size_t i = 0; i < n_from && !rc && !w.oom && !w.rc; i++) {
        uint64_t sev;
        rc = sid_event(t, from[i], false, &sev, err);
        if (rc == MXR_STORE_NOT_FOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        if (include_from)
            walk_push(&w, sev);
        else if (idset_add(&w.seen, sev, &w.oom))
            rc = graph_dups(t, T_SHORTEVENTID_PREVS, sev, walk_push, &w, err);
    }
    size_t emitted = 0;
    char id[MXR_STORE_ID_MAX + 1];
    while (!rc && !w.oom && !w.rc && w.heap.n && emitted < limit) {
        struct wnode x = wheap_pop(&w.heap);
        if (sid_event_str(t, x.sev, id, err)) {
            rc = -1;
            break;
        }
        emitted++;
        if (cb(arg, id))
            break;
        rc = graph_dups(t, T_SHORTEVENTID_PREVS, x.sev, walk_push, &w, err);
    }
    if (!rc && w.oom)
        rc = st_fail(t, err, "M_UNKNOWN", "store: out of memory walking the event graph");
    if (w.rc)
        rc = -1;
    free(w.seen.slot);
    free(w.stop.slot);
    free(w.heap.v);
    return rc;
}
