/* Filling holes in a room's history, requesting side. Spec: server-server
 * API "Backfilling and retrieving missing events" (/get_missing_events: the
 * events between our latest and an event whose prevs we lack; /backfill:
 * history before what we have), "Retrieving events" (/event, /state: the
 * state at a point, to place an event whose predecessors stay unknown). */
#include "relay/federation/join.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"
#include "mxr/roomver.h"
#include "relay/federation/fedclient.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

#define jlog(j, level, ...)                                         \
    do {                                                            \
        if (j_log(j))                                               \
            mxr_log(j_log(j), (level), NULL, __VA_ARGS__);          \
    } while (0)

static const struct mxr_join_deps *deps_of(struct mxr_join *j)
{
    return mxr_join_deps_of(j);
}

static const struct mxr_log *j_log(struct mxr_join *j)
{
    return deps_of(j)->log;
}

static json_t *call(struct mxr_join *j, const char *method, const char *dest, const char *path, json_t *body,
                    struct mxr_err *err)
{
    const struct mxr_join_deps *d = deps_of(j);
    return d->call(d->call_ctx, method, dest, path, body, MXR_FED_LARGE_RESPONSE_BYTES, err);
}

static bool is_ours(struct mxr_join *j, const char *server)
{
    return strcmp(server, deps_of(j)->server_name) == 0;
}

/* Whether the event has state here (a stored non-outlier). */
static int has_state(struct mxr_store_txn *txn, const char *event_id, bool *yes, struct mxr_err *err)
{
    uint64_t b, a;
    int rc = mxr_store_event_state(txn, event_id, &b, &a, err);
    *yes = rc == 0;
    return rc < 0 ? -1 : 0;
}

static int collect_cb(void *arg, const char *id)
{
    json_t *arr = arg;
    return json_array_append_new(arr, json_string(id)) ? 1 : 0;
}

/* ---- the state at a missing event -------------------------------------------------- */

/* The state after event P (stored as an outlier meanwhile) as a JSON array
 * of IDs: /state at P (the state before it, with its auth chain), and P
 * itself from /event, all verified and stored as outliers. */
static json_t *state_after(struct mxr_join *j, const char *origin, const char *room_id, const char *p,
                           struct mxr_err *err)
{
    char room[3 * MXR_ID_MAX + 1], ev[3 * MXR_ID_MAX + 1], path[2048];
    if (mxr_fed_escape(room_id, room, sizeof room) < 0 || mxr_fed_escape(p, ev, sizeof ev) < 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "room or event ID too long");
        return NULL;
    }
    snprintf(path, sizeof path, "/_matrix/federation/v1/state/%s?event_id=%s", room, ev);
    json_t *st = call(j, "GET", origin, path, NULL, err);
    snprintf(path, sizeof path, "/_matrix/federation/v1/event/%s", ev);
    json_t *one = st ? call(j, "GET", origin, path, NULL, err) : NULL;
    json_t *pdus = json_object_get(st, "pdus"), *chain = json_object_get(st, "auth_chain");
    json_t *pev = json_array_get(json_object_get(one, "pdus"), 0);
    json_t *all = json_array(), *ids = NULL, *out = NULL;
    if (!st || !one)
        goto done;
    if (!json_is_array(pdus) || !json_is_array(chain) || !json_is_object(pev)) {
        mxr_err_set(err, "M_BAD_JSON", "%s's /state or /event answer for %.100s is malformed", origin, p);
        goto done;
    }
    if (!all || json_array_extend(all, chain) || json_array_extend(all, pdus) || json_array_append(all, pev)) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    if (mxr_join_store_outliers(j, origin, room_id, all, &ids, err) < 0)
        goto done;
    out = json_array();
    size_t first = json_array_size(chain);
    for (size_t i = first; out && i < json_array_size(all); i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        bool is_p = i + 1 == json_array_size(all);
        /* P changes the state only when it is a state event (a rejected one
         * is left out by the pipeline). */
        if (id && id[0] && (!is_p || json_is_string(json_object_get(pev, "state_key"))))
            json_array_append_new(out, json_string(id));
    }
    if (!out)
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
done:
    json_decref(st);
    json_decref(one);
    json_decref(all);
    json_decref(ids);
    return out;
}

/* Places an event whose prevs stay unknown with the states after them. */
static int place_with_state(struct mxr_join *j, const char *origin, const char *room_id, json_t *pdu,
                            const json_t *missing, struct mxr_pdu_result *res, struct mxr_err *err)
{
    size_t n = json_array_size(missing);
    if (n == 0 || n > MXR_JOIN_GAP_MAX_PREVS)
        return mxr_err_set(err, "M_UNKNOWN", "%zu unknown prev events: not fetching the state of that many", n);
    json_t **states = calloc(n, sizeof *states);
    if (!states)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(states[i] = state_after(j, origin, room_id, json_string_value(json_array_get(missing, i)), err)))
            rc = -1;
    if (rc == 0)
        rc = mxr_rooms_ingest_with_state(deps_of(j)->rooms, origin, pdu, states, n, 0, res, err);
    for (size_t i = 0; i < n; i++)
        json_decref(states[i]);
    free(states);
    return rc;
}

/* The prevs of pdu without state here (a JSON array). */
static json_t *unknown_prevs(struct mxr_join *j, const json_t *pdu, struct mxr_err *err)
{
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(deps_of(j)->store, &txn, err) < 0)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pdu, "prev_events"), i, p) {
        const char *id = json_is_string(p) ? json_string_value(p) : json_string_value(json_array_get(p, 0));
        bool yes = false;
        if (!id || has_state(txn, id, &yes, err) < 0) {
            json_decref(out);
            out = NULL;
            break;
        }
        if (!yes)
            json_array_append_new(out, json_string(id));
    }
    mxr_store_read_end(txn);
    return out;
}

/* ---- /get_missing_events ----------------------------------------------------------------- */

static int fill_gap(struct mxr_join *j, const char *origin, const char *room_id, const char *event_id,
                      struct mxr_err *err)
{
    const struct mxr_join_deps *d = deps_of(j);
    if (!origin || is_ours(j, origin))
        return mxr_err_set(err, "M_INVALID_PARAM", "no other server to ask");
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(d->store, &txn, err) < 0)
        return -1;
    struct mxr_store_event_meta meta;
    json_t *pdu = NULL, *earliest = json_array();
    int64_t min_depth = INT64_MAX;
    int rc = mxr_store_event_meta(txn, event_id, &meta, err);
    if (rc == 0 && (!(meta.flags & MXR_STORE_OUTLIER) || (meta.flags & MXR_STORE_REJECTED)))
        rc = 2;   /* in the room already (or refused for good): nothing to fill */
    if (rc == 0 && !(pdu = mxr_rooms_event_pdu(txn, event_id, err)))
        rc = -1;
    if (rc == 0 && (!earliest || mxr_store_extremities(txn, room_id, collect_cb, earliest, err) < 0))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < json_array_size(earliest); i++) {
        struct mxr_store_event_meta m;
        if (mxr_store_event_meta(txn, json_string_value(json_array_get(earliest, i)), &m, err) == 0 &&
            m.depth < min_depth)
            min_depth = m.depth;
    }
    mxr_store_read_end(txn);
    if (rc == MXR_STORE_NOT_FOUND)
        rc = mxr_err_set(err, "M_NOT_FOUND", "event %.100s is not stored", event_id);
    if (rc != 0) {
        json_decref(pdu);
        json_decref(earliest);
        return rc == 2 ? 0 : -1;
    }

    char room[3 * MXR_ID_MAX + 1], path[1024];
    json_t *resp = NULL, *body = NULL, *missing = NULL;
    json_t **batch = NULL;
    struct mxr_pdu_result *res = NULL;
    rc = -1;
    if (mxr_fed_escape(room_id, room, sizeof room) < 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "room ID too long");
        goto out;
    }
    snprintf(path, sizeof path, "/_matrix/federation/v1/get_missing_events/%s", room);
    body = json_pack("{s:O, s:[s], s:i, s:I}", "earliest_events", earliest, "latest_events", event_id, "limit",
                     MXR_JOIN_MISSING_LIMIT, "min_depth", (json_int_t)(min_depth == INT64_MAX ? 0 : min_depth));
    struct mxr_err ge = { 0 };
    resp = body ? call(j, "POST", origin, path, body, &ge) : NULL;
    json_t *events = json_object_get(resp, "events");
    size_t n = json_array_size(events);
    if (!resp)
        jlog(j, MXR_LOG_INFO, "get_missing_events for %s at %s: %s", event_id, origin, ge.msg);
    /* The events between, then the event itself again: the batch is put
     * in prev order by the pipeline. */
    batch = calloc(n + 1, sizeof *batch);
    res = calloc(n + 1, sizeof *res);
    if (!batch || !res) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (json_is_object(json_array_get(events, i)))
            batch[m++] = json_array_get(events, i);
    batch[m++] = pdu;
    if (mxr_rooms_ingest_pdus(d->rooms, origin, batch, m, MXR_INGEST_NO_COUNT_LIMITS, res, err) < 0)
        goto out;
    enum mxr_pdu_outcome o = res[m - 1].outcome;
    if (o == MXR_PDU_ACCEPTED || o == MXR_PDU_SOFT_FAILED) {
        jlog(j, MXR_LOG_INFO, "gap before %s in %s filled with %zu event(s) from %s", event_id, room_id, m - 1,
             origin);
        rc = 0;
        goto out;
    }
    /* Still not connected: the state at each missing prev, then the event
     * with those states (the rest of the gap stays unfetched history). */
    if (!(missing = unknown_prevs(j, pdu, err)))
        goto out;
    struct mxr_pdu_result one;
    if (place_with_state(j, origin, room_id, pdu, missing, &one, err) < 0)
        goto out;
    if (one.outcome != MXR_PDU_ACCEPTED && one.outcome != MXR_PDU_SOFT_FAILED) {
        mxr_err_set(err, one.errcode ? one.errcode : "M_UNKNOWN", "%.100s is %s at %s with the state from %s: %s",
                    event_id, mxr_rooms_outcome_name(one.outcome), mxr_rooms_phase_name(one.phase), origin, one.reason);
        goto out;
    }
    jlog(j, MXR_LOG_INFO, "gap before %s in %s bridged with the state at %zu prev event(s) from %s", event_id,
         room_id, json_array_size(missing), origin);
    rc = 0;
out:
    json_decref(pdu);
    json_decref(earliest);
    json_decref(body);
    json_decref(resp);
    json_decref(missing);
    free(batch);
    free(res);
    return rc;
}

/* ---- /backfill ---------------------------------------------------------------------------- */

struct edge_scan {
    struct mxr_store_txn *txn;
    json_t *edge;          /* prev IDs without state: the backward extremities */
    json_t *seen;
    struct mxr_err *err;
    int rc;
};

static int edge_prev_cb(void *arg, const char *id)
{
    struct edge_scan *s = arg;
    if (json_object_get(s->seen, id))
        return 0;
    json_object_set_new(s->seen, id, json_true());
    bool yes = false;
    if (has_state(s->txn, id, &yes, s->err) < 0) {
        s->rc = -1;
        return 1;
    }
    if (!yes)
        json_array_append_new(s->edge, json_string(id));
    return json_array_size(s->edge) >= 20;
}

static int edge_event_cb(void *arg, const char *event_id, uint64_t stream)
{
    (void)stream;
    struct edge_scan *s = arg;
    if (mxr_store_edges(s->txn, event_id, MXR_STORE_PREVS, edge_prev_cb, s, s->err) < 0)
        s->rc = -1;
    return s->rc < 0 || json_array_size(s->edge) >= 20;
}

static int backfill(struct mxr_join *j, const char *room_id, size_t limit, size_t *added, struct mxr_err *err)
{
    const struct mxr_join_deps *d = deps_of(j);
    size_t total = 0;
    if (added)
        *added = 0;
    char room[3 * MXR_ID_MAX + 1];
    if (mxr_fed_escape(room_id, room, sizeof room) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "room ID too long");
    while (total < limit) {
        struct mxr_store_txn *txn;
        if (mxr_store_read_begin(d->store, &txn, err) < 0)
            return -1;
        struct edge_scan s = { txn, json_array(), json_object(), err, 0 };
        json_t *servers = NULL;
        if (s.edge && s.seen &&
            mxr_store_timeline(txn, room_id, 0, true, SIZE_MAX, edge_event_cb, &s, err) == 0 && s.rc == 0)
            servers = mxr_rooms_joined_servers(txn, room_id, err);
        mxr_store_read_end(txn);
        json_decref(s.seen);
        if (!servers) {
            json_decref(s.edge);
            return -1;
        }
        if (json_array_size(s.edge) == 0) {   /* the room's beginning is here */
            json_decref(s.edge);
            json_decref(servers);
            break;
        }
        char path[8192];
        size_t o = (size_t)snprintf(path, sizeof path, "/_matrix/federation/v1/backfill/%s?limit=%zu", room,
                                    limit - total < MXR_JOIN_BACKFILL_BATCH ? limit - total : MXR_JOIN_BACKFILL_BATCH);
        for (size_t i = 0; i < json_array_size(s.edge) && o < sizeof path - 800; i++) {
            char ev[3 * MXR_ID_MAX + 1];
            if (mxr_fed_escape(json_string_value(json_array_get(s.edge, i)), ev, sizeof ev) == 0)
                o += (size_t)snprintf(path + o, sizeof path - o, "&v=%s", ev);
        }
        json_t *resp = NULL;
        const char *from = NULL;
        struct mxr_err last = { 0 };
        mxr_err_set(&last, "M_NOT_FOUND", "no other server is in room %.100s", room_id);
        for (size_t i = 0; i < json_array_size(servers) && !resp; i++) {
            from = json_string_value(json_array_get(servers, i));
            if (from && !is_ours(j, from))
                resp = call(j, "GET", from, path, NULL, &last);
        }
        json_t *pdus = json_object_get(resp, "pdus");
        size_t n = json_array_size(pdus), fresh = 0;
        if (!resp || n == 0) {
            json_decref(s.edge);
            json_decref(servers);
            json_decref(resp);
            if (total > 0 || resp)
                break;   /* what there was is here, or the server has no more */
            *err = last;
            return mxr_err_prefix(err, "backfill of %.100s", room_id);
        }
        struct mxr_pdu_result *res = calloc(n, sizeof *res);
        json_t **batch = calloc(n, sizeof *batch);
        int rc = res && batch ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
        for (size_t i = 0; rc == 0 && i < n; i++)
            batch[i] = json_array_get(pdus, i);
        if (rc == 0)
            rc = mxr_rooms_ingest_pdus(d->rooms, from, batch, n, MXR_INGEST_BACKFILL, res, err);
        bool *in_room = rc == 0 ? calloc(n, sizeof *in_room) : NULL;
        if (rc == 0 && !in_room)
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        for (size_t i = 0; rc == 0 && i < n; i++) {
            in_room[i] = res[i].outcome == MXR_PDU_ACCEPTED || res[i].outcome == MXR_PDU_SOFT_FAILED;
            fresh += in_room[i] && !res[i].already;
        }
        /* The oldest events of the batch have prevs we still lack: place them
         * with the state at their prevs, then run the batch again so their
         * descendants find their state. */
        bool placed = false;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (res[i].outcome != MXR_PDU_OUTLIER)
                continue;
            json_t *missing = unknown_prevs(j, batch[i], err);
            bool bottom = missing != NULL;
            for (size_t k = 0; bottom && k < json_array_size(missing); k++)
                for (size_t b = 0; bottom && b < n; b++)
                    bottom = strcmp(res[b].event_id, json_string_value(json_array_get(missing, k))) != 0;
            struct mxr_pdu_result one;
            struct mxr_err pe = { 0 };
            if (bottom && json_array_size(missing) &&
                place_with_state(j, from, room_id, batch[i], missing, &one, &pe) == 0 &&
                (one.outcome == MXR_PDU_ACCEPTED || one.outcome == MXR_PDU_SOFT_FAILED)) {
                placed = true;
                in_room[i] = true;
                fresh++;
            } else if (bottom && pe.errcode) {
                jlog(j, MXR_LOG_INFO, "backfill of %s: placing %s: %s", room_id, res[i].event_id, pe.msg);
            }
            json_decref(missing);
        }
        if (rc == 0 && placed)
            rc = mxr_rooms_ingest_pdus(d->rooms, from, batch, n, MXR_INGEST_BACKFILL, res, err);
        for (size_t i = 0; rc == 0 && placed && i < n; i++)
            if (!in_room[i] && (res[i].outcome == MXR_PDU_ACCEPTED || res[i].outcome == MXR_PDU_SOFT_FAILED))
                fresh++;
        if (rc == 0)
            jlog(j, MXR_LOG_INFO, "backfill of %s from %s: %zu event(s) received, %zu new in the room", room_id,
                 from ? from : "?", n, fresh);
        free(in_room);
        free(res);
        free(batch);
        json_decref(s.edge);
        json_decref(servers);   /* `from` points into it */
        json_decref(resp);
        if (rc < 0)
            return -1;
        total += fresh;
        if (fresh == 0)
            break;   /* no progress: the server has nothing older we can place */
    }
    if (added)
        *added = total;
    return 0;
}

int mxr_join_fill_gap(struct mxr_join *j, const char *origin, const char *room_id, const char *event_id,
                      struct mxr_err *err)
{
    mxr_join_busy_enter();
    int rc = fill_gap(j, origin, room_id, event_id, err);
    mxr_join_busy_leave();
    return rc;
}

int mxr_join_backfill(struct mxr_join *j, const char *room_id, size_t limit, size_t *added, struct mxr_err *err)
{
    mxr_join_busy_enter();
    int rc = backfill(j, room_id, limit, added, err);
    mxr_join_busy_leave();
    return rc;
}
