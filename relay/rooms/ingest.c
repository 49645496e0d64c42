/* Ingest of remote PDUs (a /send transaction, a send_join, an invite, a
 * backfill response): phases CONFORM, VERIFY_SIGNATURES and CHECK_HASHES
 * (spec: "Checks performed on receipt of a PDU", steps 1-3) before any
 * write, since the key lookups may go to the network and no store
 * transaction may be open then; then one write for the whole batch in which
 * pipeline.c runs the remaining phases in an order where prev events come
 * first; then the notify hook. ("Persist, then process" holds per event:
 * nothing is acknowledged or announced before the batch is durable.) */
#include "relay/rooms/rooms_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/pdu.h"

/* Batches from this many PDUs on (a send_join answer: the whole state of a
 * room) run phases 2-3 on two threads. */
#define VERIFY_PARALLEL_MIN 64

/* A v12 create event has no room_id (pdu_v12.yaml): its room is "!" + its
 * own ID, computed for the version its content names (spec: "a room_id may
 * also be required ... to determine the room version"; for the create event
 * the content says it). 0 with the room ID, -1 when it is not such an event. */
static int derive_v12_room(const json_t *pdu, char out[MXR_ID_MAX + 1])
{
    const char *type = json_string_value(json_object_get(pdu, "type"));
    const char *ver = json_string_value(json_object_get(json_object_get(pdu, "content"), "room_version"));
    const struct mxr_room_version *rv = ver ? mxr_room_version_get(ver, NULL) : NULL;
    if (!type || strcmp(type, "m.room.create") != 0 || !rv || !rv->room_id_is_create_hash)
        return -1;
    char id[MXR_ID_MAX + 1];
    if (mxr_event_compute_id(pdu, rv, id, NULL) < 0)
        return -1;
    snprintf(out, MXR_ID_MAX + 1, "!%s", id + 1);
    return 0;
}

/* Phase CONFORM (step 1) and the "stored before" check, in a read
 * transaction. -1 only for a store failure. */
static int conform(struct mxr_store_txn *txn, json_t *pdu, unsigned flags, struct item *it, struct mxr_err *err)
{
    struct mxr_pdu_result *res = it->res;
    struct mxr_err e = {0};
    if (!json_is_object(pdu)) {
        result_set(res, MXR_PDU_DROPPED, MXR_PHASE_CONFORM, "M_BAD_JSON", "step 1: the PDU is not a JSON object");
        return 0;
    }
    const char *room_id = json_string_value(json_object_get(pdu, "room_id"));
    char derived[MXR_ID_MAX + 1];
    if (!json_object_get(pdu, "room_id") && derive_v12_room(pdu, derived) == 0)
        room_id = derived;
    if (!room_id || strlen(room_id) > MXR_ID_MAX) {
        result_set(res, MXR_PDU_DROPPED, MXR_PHASE_CONFORM, "M_BAD_JSON",
                   "step 1: 'room_id' is missing, not a string or over %d bytes: the room and its version cannot "
                   "be known", MXR_ID_MAX);
        return 0;
    }
    snprintf(res->room_id, sizeof res->room_id, "%s", room_id);
    const struct mxr_room_version *rv;
    int rc = rooms_room_version(txn, room_id, &rv, &e);
    if (rc < 0) {
        *err = e;
        return -1;
    }
    if (rc == MXR_STORE_NOT_FOUND) {
        result_set(res, MXR_PDU_DROPPED, MXR_PHASE_CONFORM, "M_NOT_FOUND",
                   "step 1: room %.100s is not known to this server, so neither is its room version", room_id);
        return 0;
    }
    unsigned fflags =
        (flags & (MXR_INGEST_NO_COUNT_LIMITS | MXR_INGEST_BACKFILL | MXR_INGEST_OUTLIER)) ? MXR_PDU_NO_COUNT_LIMITS : 0;
    it->backfilled = flags & MXR_INGEST_BACKFILL;
    it->as_outlier = flags & MXR_INGEST_OUTLIER;
    if (mxr_pdu_check_format(pdu, rv, fflags, &e) < 0) {
        result_set(res, MXR_PDU_DROPPED, MXR_PHASE_CONFORM, e.errcode,
                   "step 1: not a valid event for room version %s: %s", rv->id, e.msg);
        return 0;
    }
    /* `unsigned` is not covered by hashes or signatures and is the
     * sender's local view (age, ...): it is not stored. A shallow copy is
     * enough: only top-level members of a loaded PDU are ever changed (here;
     * evcache lends `event_id` to its own copies), nested values are shared
     * read-only with the request (refcounts are atomic). The deep copy was
     * 3.5% of the relay's CPU per ingested PDU (tests/bench/RESULTS.md). */
    json_t *copy = json_copy(pdu);
    if (!copy) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return -1;
    }
    json_object_del(copy, "unsigned");
    rc = item_load(it, copy, rv, &e);
    json_decref(copy);
    if (rc < 0) {
        result_set(res, MXR_PDU_DROPPED, MXR_PHASE_CONFORM, e.errcode ? e.errcode : "M_BAD_JSON",
                   "step 1: %s", e.msg);
        return 0;
    }
    snprintf(res->event_id, sizeof res->event_id, "%s", it->ev.event_id);

    struct mxr_store_event_meta meta;
    rc = mxr_store_event_meta(txn, it->ev.event_id, &meta, &e);
    if (rc < 0) {
        *err = e;
        return -1;
    }
    if (rc == 0 && (!(meta.flags & MXR_STORE_OUTLIER) || (meta.flags & MXR_STORE_REJECTED))) {
        result_from_meta(res, &meta);
        return 0;
    }
    it->live = true;
    return 0;
}

/* Phases VERIFY_SIGNATURES (step 2: drop) and CHECK_HASHES (step 3:
 * continue with the redacted copy), outside any transaction. */
static void verify(struct mxr_rooms *r, struct item *it)
{
    struct mxr_err e = {0};
    if (mxr_pdu_check_signatures(it->pdu, it->rv, &r->keys, &e) < 0) {
        it->live = false;
        result_set(it->res, MXR_PDU_DROPPED, MXR_PHASE_VERIFY_SIGNATURES, "M_FORBIDDEN", "step 2: %s", e.msg);
        return;
    }
    int h = mxr_pdu_check_hash(it->pdu, &e);
    if (h < 0) {
        it->live = false;
        result_set(it->res, MXR_PDU_DROPPED, MXR_PHASE_CHECK_HASHES, e.errcode, "step 3: %s", e.msg);
        return;
    }
    if (h == 1) {
        struct mxr_err e2 = {0};
        json_t *red = mxr_event_redact(it->pdu, it->rv, &e2);
        if (!red || item_load(it, red, it->rv, &e2) < 0) {
            json_decref(red);
            it->live = false;
            result_set(it->res, MXR_PDU_DROPPED, MXR_PHASE_CHECK_HASHES, "M_BAD_JSON",
                       "step 3: content hash mismatch and the redacted copy is unusable: %s", e2.msg);
            return;
        }
        json_decref(red);
        it->res->redacted = true;
    }
}

struct verify_span {
    struct mxr_rooms *r;
    struct item *items;
    size_t from, to;
};

static void *verify_span_run(void *arg)
{
    struct verify_span *s = arg;
    for (size_t i = s->from; i < s->to; i++)
        if (s->items[i].live)
            verify(s->r, &s->items[i]);
    return NULL;
}

/* Phases 2-3 for every live item. Each item is checked on its own (it
 * writes only to itself) and the key source is thread-safe (the keyring;
 * our own key is read-only), so a large batch is split over two threads:
 * signature checks dominate a join of a large room. Same checks either way. */
static void verify_all(struct mxr_rooms *r, struct item *items, size_t n)
{
    struct verify_span first = {r, items, 0, n}, second = {r, items, n / 2, n};
    pthread_t th;
    if (n >= VERIFY_PARALLEL_MIN && pthread_create(&th, NULL, verify_span_run, &second) == 0) {
        first.to = n / 2;
        verify_span_run(&first);
        pthread_join(th, NULL);
        return;
    }
    verify_span_run(&first);
}

/* An order of the live items in which an item's prev events from the batch
 * come before it (Kahn's algorithm, smallest batch index first among the
 * ready ones, so an already ordered batch keeps its order). Items on a
 * cycle (only possible with given event IDs, v1/v2) follow in batch order. */
static size_t *topo_order(struct item *items, size_t n, size_t *n_out)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
    size_t *nchild = calloc(n ? n : 1, sizeof *nchild);
    size_t **child = calloc(n ? n : 1, sizeof *child);
    bool *done = calloc(n ? n : 1, sizeof *done);
    json_t *index = json_object();
    size_t k = 0;
    bool ok = order && indeg && nchild && child && done && index;
    for (size_t i = 0; ok && i < n; i++)
        if (items[i].live && !json_object_get(index, items[i].ev.event_id))
            ok = json_object_set_new(index, items[i].ev.event_id, json_integer((json_int_t)i)) == 0;
    for (size_t pass = 0; ok && pass < 2; pass++) {
        for (size_t j = 0; j < n; j++) {
            if (!items[j].live)
                continue;
            for (size_t p = 0; p < items[j].ev.n_prev_events; p++) {
                json_t *ix = json_object_get(index, items[j].ev.prev_events[p]);
                if (!ix || (size_t)json_integer_value(ix) == j)
                    continue;
                size_t i = (size_t)json_integer_value(ix);
                if (pass == 0) {
                    nchild[i]++;
                    indeg[j]++;
                } else {
                    child[i][nchild[i]++] = j;
                }
            }
        }
        if (pass == 0) {
            for (size_t i = 0; ok && i < n; i++) {
                child[i] = nchild[i] ? malloc(nchild[i] * sizeof **child) : NULL;
                ok = !nchild[i] || child[i];
                nchild[i] = 0;
            }
        }
    }
    if (ok) {
        for (;;) {
            size_t pick = n;
            for (size_t i = 0; i < n && pick == n; i++)
                if (items[i].live && !done[i] && indeg[i] == 0)
                    pick = i;
            if (pick == n)
                break;
            done[pick] = true;
            order[k++] = pick;
            for (size_t c = 0; c < nchild[pick]; c++)
                indeg[child[pick][c]]--;
        }
        for (size_t i = 0; i < n; i++)
            if (items[i].live && !done[i])
                order[k++] = i;
    }
    for (size_t i = 0; child && i < n; i++)
        free(child[i]);
    free(child);
    free(nchild);
    free(indeg);
    free(done);
    json_decref(index);
    if (!ok) {
        free(order);
        return NULL;
    }
    *n_out = k;
    return order;
}

struct ingest_arg {
    struct mxr_rooms *r;
    const char *origin;
    struct item *items;
    const size_t *order;
    size_t n_order;
    int64_t now;
};

static int ingest_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct ingest_arg *a = arg;
    struct run run = {.r = a->r, .origin = a->origin, .txn = txn, .now = a->now};
    evc_init(&run.cache, txn);
    int rc = 0;
    for (size_t k = 0; k < a->n_order; k++)
        item_reset_outputs(&a->items[a->order[k]]);
    for (size_t k = 0; k < a->n_order && rc == 0; k++)
        rc = pipeline_process(&run, &a->items[a->order[k]], err);
    evc_free(&run.cache);
    return rc;
}

/* The batch as given, for MXR_INGEST_OUTLIER (the caller's order puts auth
 * events first; prev events do not matter for outliers). */
static size_t *given_order(struct item *items, size_t n, size_t *n_out)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t k = 0;
    for (size_t i = 0; order && i < n; i++)
        if (items[i].live)
            order[k++] = i;
    *n_out = k;
    return order;
}

/* mxr_rooms_ingest_pdus, with given states for the first PDU
 * (mxr_rooms_ingest_with_state). */
static int ingest(struct mxr_rooms *r, const char *origin, json_t *const *pdus, size_t n, unsigned flags,
                  json_t *const *given, size_t n_given, struct mxr_pdu_result *results, struct mxr_err *err)
{
    if (n == 0)
        return 0;
    memset(results, 0, n * sizeof *results);
    struct item *items = calloc(n, sizeof *items);
    if (!items)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    for (size_t i = 0; i < n; i++)
        items[i].res = &results[i];
    items[0].given_states = given;
    items[0].n_given = n_given;

    int rc = 0;
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(r->store, &txn, err) < 0) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = conform(txn, pdus[i], flags, &items[i], err);
    mxr_store_read_end(txn);
    if (rc)
        goto out;

    verify_all(r, items, n);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any = any || items[i].live;

    if (any) {
        size_t n_order = 0;
        size_t *order = (flags & MXR_INGEST_OUTLIER) ? given_order(items, n, &n_order) : topo_order(items, n, &n_order);
        if (!order) {
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
            goto out;
        }
        struct ingest_arg a = {r, origin, items, order, n_order, rooms_now(r)};
        rc = mxr_store_write(r->store, ingest_write, &a, err);
        free(order);
        if (rc) {
            for (size_t i = 0; i < n; i++)
                items[i].stored_now = false;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (results[i].redacted && !results[i].reason[0])
            snprintf(results[i].reason, sizeof results[i].reason,
                     "step 3: content hash mismatch: the redacted copy was processed and stored");
    if (items[0].given_left_out && results[0].outcome == MXR_PDU_ACCEPTED && !results[0].reason[0])
        snprintf(results[0].reason, sizeof results[0].reason,
                 "%zu event(s) of the given state left out (rejected, not stored or not state events), first %.100s",
                 items[0].given_left_out, items[0].given_first_left_out);
    for (size_t i = 0; i < n; i++)
        pipeline_notify(r, origin, &items[i]);
out:
    for (size_t i = 0; i < n; i++)
        item_release(&items[i]);
    free(items);
    return rc;
}

int mxr_rooms_ingest_pdus(struct mxr_rooms *r, const char *origin, json_t *const *pdus, size_t n,
                          unsigned flags, struct mxr_pdu_result *results, struct mxr_err *err)
{
    if (!r || (n && (!pdus || !results)))
        return mxr_err_set(err, "M_UNKNOWN", "mxr_rooms_ingest_pdus: missing arguments");
    return ingest(r, origin, pdus, n, flags, NULL, 0, results, err);
}

int mxr_rooms_ingest_with_state(struct mxr_rooms *r, const char *origin, json_t *pdu, json_t *const *states,
                                size_t n_states, unsigned flags, struct mxr_pdu_result *result, struct mxr_err *err)
{
    if (!r || !pdu || !result || !states || n_states == 0)
        return mxr_err_set(err, "M_UNKNOWN", "mxr_rooms_ingest_with_state: missing arguments");
    for (size_t i = 0; i < n_states; i++)
        if (!json_is_array(states[i]))
            return mxr_err_set(err, "M_UNKNOWN", "mxr_rooms_ingest_with_state: a state is not an array of IDs");
    return ingest(r, origin, &pdu, 1, flags & ~(unsigned)MXR_INGEST_OUTLIER, states, n_states, result, err);
}

json_t *mxr_rooms_send_response(const struct mxr_pdu_result *results, size_t n)
{
    json_t *pdus = json_object();
    json_t *body = json_pack("{s:o}", "pdus", pdus);
    if (!body)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct mxr_pdu_result *res = &results[i];
        if (!res->event_id[0])
            continue;
        json_t *entry;
        switch (res->outcome) {
        case MXR_PDU_ACCEPTED:
        case MXR_PDU_OUTLIER:
        case MXR_PDU_SOFT_FAILED:
            entry = json_object();
            break;
        default:
            entry = json_pack("{s:o}", "error",
                              json_sprintf("%s at %s%s%s", mxr_rooms_outcome_name(res->outcome),
                                           mxr_rooms_phase_name(res->phase), res->reason[0] ? ": " : "",
                                           res->reason));
        }
        if (!entry || json_object_set_new(pdus, res->event_id, entry)) {
            json_decref(body);
            return NULL;
        }
    }
    return body;
}
