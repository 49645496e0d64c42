/* Read views for the federation endpoints (server-server API "Retrieving
 * events", "Backfilling and retrieving missing events", "Retrieving event
 * authorisation information"): pure functions over a read transaction the
 * caller holds (and ends before any network I/O). */
#include "relay/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- auth chains ------------------------------------------------------------ */

struct bfs {
    char **q;
    size_t head, n, cap;
    json_t *seen;   /* object used as a set */
    bool oom;
};

static void bfs_push(struct bfs *b, const char *id)
{
    if (b->oom || json_object_get(b->seen, id))
        return;
    if (json_object_set_new(b->seen, id, json_true())) {
        b->oom = true;
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char **nq = realloc(b->q, cap * sizeof *nq);
        if (!nq) {
            b->oom = true;
            return;
        }
        b->q = nq;
        b->cap = cap;
    }
    if (!(b->q[b->n] = strdup(id))) {
        b->oom = true;
        return;
    }
    b->n++;
}

static int bfs_edge_cb(void *arg, const char *id)
{
    bfs_push(arg, id);
    return 0;
}

static void bfs_free(struct bfs *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->q[i]);
    free(b->q);
    json_decref(b->seen);
}

int views_auth_chain_into(struct mxr_store_txn *txn, const char *const *ids, size_t n, bool pdus, json_t *skip,
                          json_t *out, struct mxr_err *err)
{
    struct bfs b = {.seen = json_object()};
    int rc = b.seen ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    /* The given events seed the walk but are only listed when another
     * event of the chain names them as an auth event. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int r2 = mxr_store_edges(txn, ids[i], MXR_STORE_AUTHS, bfs_edge_cb, &b, err);
        if (r2 < 0)
            rc = -1;
    }
    while (rc == 0 && !b.oom && b.head < b.n) {
        const char *id = b.q[b.head++];
        int r2 = mxr_store_event_exists(txn, id, err);
        if (r2 < 0) {
            rc = -1;
            break;
        }
        if (r2 == MXR_STORE_NOT_FOUND)
            continue;   /* named but never received: nothing to send, nothing behind it */
        if (mxr_store_edges(txn, id, MXR_STORE_AUTHS, bfs_edge_cb, &b, err) < 0) {
            rc = -1;
            break;
        }
        if (skip && json_object_get(skip, id))
            continue;
        json_t *v = pdus ? rooms_stored_pdu(txn, id, err) : json_string(id);
        if (!v || json_array_append_new(out, v))
            rc = v ? mxr_err_set(err, "M_UNKNOWN", "out of memory") : -1;
    }
    if (rc == 0 && b.oom)
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    bfs_free(&b);
    return rc;
}

json_t *mxr_rooms_auth_chain(struct mxr_store_txn *txn, const char *const *event_ids, size_t n, bool pdus,
                             struct mxr_err *err)
{
    json_t *out = json_array();
    if (!out) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    if (views_auth_chain_into(txn, event_ids, n, pdus, NULL, out, err) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- state at an event ------------------------------------------------------- */

struct state_collect {
    json_t *ids;
    struct mxr_store_txn *txn;
    json_t *pdus;         /* NULL: IDs only */
    struct mxr_err *err;
    int rc;
};

static int state_collect_cb(void *arg, const char *type, const char *state_key, const char *event_id)
{
    (void)type;
    (void)state_key;
    struct state_collect *sc = arg;
    if (json_array_append_new(sc->ids, json_string(event_id))) {
        sc->rc = mxr_err_set(sc->err, "M_UNKNOWN", "out of memory");
        return 1;
    }
    if (sc->pdus) {
        json_t *pdu = rooms_stored_pdu(sc->txn, event_id, sc->err);
        if (!pdu || json_array_append_new(sc->pdus, pdu)) {
            sc->rc = -1;
            return 1;
        }
    }
    return 0;
}

static int state_at(struct mxr_store_txn *txn, const char *room_id, const char *event_id, bool pdus,
                    json_t **state, json_t **auth_chain, struct mxr_err *err)
{
    *state = *auth_chain = NULL;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(txn, event_id, &meta, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND || strcmp(meta.room_id, room_id) != 0)
        return mxr_err_set(err, "M_NOT_FOUND", "event %.100s is not known in room %.100s", event_id, room_id);
    uint64_t before, after;
    rc = mxr_store_event_state(txn, event_id, &before, &after, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND)
        return mxr_err_set(err, "M_NOT_FOUND", "the state at event %.100s is not known here (an outlier)",
                           event_id);
    /* events.yaml: "the fully resolved state for the room, prior to
     * considering any state changes induced by the requested event". */
    struct state_collect sc = {json_array(), txn, pdus ? json_array() : NULL, err, 0};
    json_t *chain = json_array();
    if (!sc.ids || (pdus && !sc.pdus) || !chain)
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    if (rc == 0 && before != 0 && (mxr_store_state_all(txn, before, state_collect_cb, &sc, err) < 0 || sc.rc))
        rc = -1;
    if (rc == 0) {
        size_t n = json_array_size(sc.ids);
        const char **ids = malloc((n ? n : 1) * sizeof *ids);
        if (!ids)
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        for (size_t i = 0; ids && i < n; i++)
            ids[i] = json_string_value(json_array_get(sc.ids, i));
        if (rc == 0)
            rc = views_auth_chain_into(txn, ids, n, pdus, NULL, chain, err);
        free(ids);
    }
    if (rc) {
        json_decref(sc.ids);
        json_decref(sc.pdus);
        json_decref(chain);
        return -1;
    }
    if (pdus) {
        json_decref(sc.ids);
        *state = sc.pdus;
    } else {
        *state = sc.ids;
    }
    *auth_chain = chain;
    return 0;
}

int mxr_rooms_state_ids_at(struct mxr_store_txn *txn, const char *room_id, const char *event_id, json_t **state,
                           json_t **auth_chain, struct mxr_err *err)
{
    return state_at(txn, room_id, event_id, false, state, auth_chain, err);
}

int mxr_rooms_state_at(struct mxr_store_txn *txn, const char *room_id, const char *event_id, json_t **state,
                       json_t **auth_chain, struct mxr_err *err)
{
    return state_at(txn, room_id, event_id, true, state, auth_chain, err);
}

json_t *mxr_rooms_event_pdu(struct mxr_store_txn *txn, const char *event_id, struct mxr_err *err)
{
    return rooms_stored_pdu(txn, event_id, err);
}

/* ---- backfill and missing events -------------------------------------------- */

struct walk_out {
    struct mxr_store_txn *txn;
    const char *room_id;
    const char *server;
    json_t *out;
    size_t limit;
    int64_t min_depth;
    struct mxr_err *err;
    int rc;
};

static int walk_cb(void *arg, const char *id)
{
    struct walk_out *w = arg;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(w->txn, id, &meta, w->err);
    if (rc < 0) {
        w->rc = -1;
        return 1;
    }
    if (rc == MXR_STORE_NOT_FOUND || strcmp(meta.room_id, w->room_id) != 0 || (meta.flags & MXR_STORE_REJECTED))
        return 0;
    /* Deepest first: once below min_depth, everything left is too. */
    if (meta.depth < w->min_depth)
        return 1;
    json_t *pdu = NULL;
    if (views_served_pdu(w->txn, id, w->server, &pdu, w->err) < 0 || json_array_append_new(w->out, pdu)) {
        w->rc = -1;
        return 1;
    }
    return json_array_size(w->out) >= w->limit;
}

static json_t *walk(struct mxr_store_txn *txn, const char *room_id, const char *server, const char *const *from,
                    size_t n_from, const char *const *stop, size_t n_stop, bool include_from, size_t limit,
                    int64_t min_depth, struct mxr_err *err)
{
    struct walk_out w = {txn, room_id, server, json_array(), limit, min_depth, err, 0};
    const char **starts = malloc((n_from ? n_from : 1) * sizeof *starts);
    if (!w.out || !starts) {
        free(starts);
        json_decref(w.out);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    /* Only walk from events of this room: a requester must not make us
     * traverse (or reveal) another room's history. */
    size_t n = 0;
    for (size_t i = 0; i < n_from && limit; i++) {
        struct mxr_store_event_meta meta;
        int rc = mxr_store_event_meta(txn, from[i], &meta, err);
        if (rc < 0) {
            free(starts);
            json_decref(w.out);
            return NULL;
        }
        if (rc == 0 && strcmp(meta.room_id, room_id) == 0)
            starts[n++] = from[i];
    }
    /* The walk's own limit counts events it emits; ours skips some
     * (rejected, other rooms), so it stops through the callback. */
    if (n && (mxr_store_walk_back(txn, starts, n, stop, n_stop, include_from, SIZE_MAX, walk_cb, &w, err) < 0 ||
              w.rc)) {
        free(starts);
        json_decref(w.out);
        return NULL;
    }
    free(starts);
    return w.out;
}

json_t *mxr_rooms_backfill(struct mxr_store_txn *txn, const char *room_id, const char *server,
                           const char *const *from, size_t n_from, size_t limit, struct mxr_err *err)
{
    return walk(txn, room_id, server, from, n_from, NULL, 0, true, limit, INT64_MIN, err);
}

json_t *mxr_rooms_missing_events(struct mxr_store_txn *txn, const char *room_id, const char *server,
                                 const char *const *earliest, size_t n_earliest, const char *const *latest,
                                 size_t n_latest, size_t limit, int64_t min_depth, struct mxr_err *err)
{
    return walk(txn, room_id, server, latest, n_latest, earliest, n_earliest, false, limit, min_depth, err);
}
