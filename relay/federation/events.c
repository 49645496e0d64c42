/* Retrieving events (spec: server-server API "Retrieving events",
 * "Backfilling and retrieving missing events", "Retrieving event
 * authorisation information"; events.yaml, backfill.yaml, event_auth.yaml).
 *
 * Every endpoint here reads room data, so the requesting server must be in
 * the room (a joined member in the current state: 403 M_FORBIDDEN otherwise,
 * as state_ids documents and as Synapse does for all of them) and allowed by
 * the room's server ACL. History visibility is applied per event by the
 * rooms views: /event refuses an event the server may not see (403),
 * /backfill and /get_missing_events serve such events redacted so the DAG
 * stays connected. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/federation/inbound.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/store.h"

/* The transaction envelope of /event and /backfill answers
 * (single_pdu_transaction.yaml, unlimited_pdu_transaction.yaml). */
static json_t *pdu_transaction(struct mxr_request *req, json_t *pdus)
{
    return json_pack("{s:s, s:I, s:o}", "origin", req->srv->cfg->server_name, "origin_server_ts",
                     (json_int_t)mxr_server_now(req->srv), "pdus", pdus);
}

static int fail(struct mxr_response *resp, struct mxr_store_txn *txn, const struct mxr_err *err)
{
    if (txn)
        mxr_store_read_end(txn);
    return mxr_resp_err(resp, err);
}

/* GET /event/{eventId} */
void mxr_handle_event(struct mxr_request *req, struct mxr_response *resp)
{
    const char *event_id = mxr_req_param(req, "eventId");
    struct mxr_err err = { 0 };
    /* An ID of no valid form names no event we know: 404 like any unknown
     * one (events.yaml has no 400 for /event). */
    if (!event_id || mxr_id_check_event(event_id, MXR_ID_ANY_FORMAT, &err) < 0) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "event %.100s is not known here (%s)", event_id ? event_id : "",
                       event_id ? err.msg : "missing");
        return;
    }
    struct mxr_store_txn *txn = mxr_fed_read(req, resp);
    if (!txn)
        return;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(txn, event_id, &meta, &err);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(&err, "M_NOT_FOUND", "event %.100s is not known here", event_id);
    if (rc != 0) {
        fail(resp, txn, &err);
        return;
    }
    bool in = false;
    if (mxr_acl_check(txn, meta.room_id, req->origin, &err) < 0 ||
        mxr_rooms_server_in_room(txn, meta.room_id, req->origin, &in, &err) < 0) {
        fail(resp, txn, &err);
        return;
    }
    if (!in) {
        mxr_err_set(&err, "M_FORBIDDEN", "server %.200s has no joined member in the room of %.100s", req->origin,
                    event_id);
        fail(resp, txn, &err);
        return;
    }
    json_t *pdu = mxr_rooms_event_for_server(txn, event_id, req->origin, &err);
    mxr_store_read_end(txn);
    if (!pdu) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, pdu_transaction(req, json_pack("[o]", pdu)));
}

/* GET /state/{roomId} and /state_ids/{roomId}?event_id= */
static void state_common(struct mxr_request *req, struct mxr_response *resp, bool ids)
{
    const char *room_id = mxr_req_param(req, "roomId"), *event_id = mxr_req_query(req, "event_id");
    struct mxr_err err = { 0 };
    if (!event_id) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "the query parameter 'event_id' is required");
        return;
    }
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, MXR_GATE_IN_ROOM);
    if (!txn)
        return;
    json_t *state = NULL, *chain = NULL;
    int rc = ids ? mxr_rooms_state_ids_at(txn, room_id, event_id, &state, &chain, &err)
                 : mxr_rooms_state_at(txn, room_id, event_id, &state, &chain, &err);
    mxr_store_read_end(txn);
    if (rc < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o, s:o}", ids ? "pdu_ids" : "pdus", state,
                                       ids ? "auth_chain_ids" : "auth_chain", chain));
}

void mxr_handle_state(struct mxr_request *req, struct mxr_response *resp)
{
    state_common(req, resp, false);
}

void mxr_handle_state_ids(struct mxr_request *req, struct mxr_response *resp)
{
    state_common(req, resp, true);
}

/* GET /backfill/{roomId}?v=...&v=...&limit=N */
void mxr_handle_backfill(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room_id = mxr_req_param(req, "roomId");
    struct mxr_err err = { 0 };
    int64_t limit = 0;
    if (mxr_fed_query_int(req, resp, "limit", true, &limit, NULL) < 0)
        return;
    if (limit < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "limit must not be negative");
        return;
    }
    const char **from = calloc(req->n_query ? req->n_query : 1, sizeof *from);
    size_t n_from = 0;
    if (!from) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
        return;
    }
    for (size_t i = 0; i < req->n_query; i++)
        if (!strcmp(req->query[i].name, "v"))
            from[n_from++] = req->query[i].value;
    if (!n_from) {
        free(from);
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "the query parameter 'v' (an event ID, repeatable) is required");
        return;
    }
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, MXR_GATE_IN_ROOM);
    if (!txn) {
        free(from);
        return;
    }
    size_t lim = (size_t)(limit > MXR_BACKFILL_MAX ? MXR_BACKFILL_MAX : limit);
    json_t *pdus = lim ? mxr_rooms_backfill(txn, room_id, req->origin, from, n_from, lim, &err) : json_array();
    mxr_store_read_end(txn);
    free(from);
    if (!pdus) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, pdu_transaction(req, pdus));
}

/* The strings of a JSON array field (borrowed), or -1 with resp filled. */
static int id_list(struct mxr_response *resp, const json_t *body, const char *field, const char ***out, size_t *n)
{
    const json_t *a = json_object_get(body, field);
    *out = NULL;
    *n = 0;
    if (!json_is_array(a))
        return mxr_resp_error(resp, 400, a ? "M_BAD_JSON" : "M_MISSING_PARAM", "'%s' (array of event IDs) is required",
                              field);
    *out = calloc(json_array_size(a) ? json_array_size(a) : 1, sizeof **out);
    if (!*out)
        return mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            free(*out);
            *out = NULL;
            return mxr_resp_error(resp, 400, "M_BAD_JSON", "%s[%zu] is not a string", field, i);
        }
        (*out)[(*n)++] = json_string_value(v);
    }
    return 0;
}

/* POST /get_missing_events/{roomId} */
void mxr_handle_get_missing_events(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room_id = mxr_req_param(req, "roomId");
    const json_t *body = req->json, *jlimit = json_object_get(body, "limit"), *jdepth = json_object_get(body, "min_depth");
    struct mxr_err err = { 0 };
    if ((jlimit && !json_is_integer(jlimit)) || (jdepth && !json_is_integer(jdepth))) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "limit and min_depth must be integers");
        return;
    }
    int64_t limit = jlimit ? json_integer_value(jlimit) : 10, min_depth = jdepth ? json_integer_value(jdepth) : 0;
    const char **earliest = NULL, **latest = NULL;
    size_t n_earliest = 0, n_latest = 0;
    if (id_list(resp, body, "earliest_events", &earliest, &n_earliest) < 0 ||
        id_list(resp, body, "latest_events", &latest, &n_latest) < 0) {
        free(earliest);
        return;
    }
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, MXR_GATE_IN_ROOM);
    json_t *events = NULL;
    if (txn) {
        size_t lim = limit <= 0 ? 0 : (size_t)(limit > MXR_MISSING_MAX ? MXR_MISSING_MAX : limit);
        events = lim ? mxr_rooms_missing_events(txn, room_id, req->origin, earliest, n_earliest, latest, n_latest, lim,
                                                min_depth, &err)
                     : json_array();
        mxr_store_read_end(txn);
        if (events)
            mxr_resp_json(resp, 200, json_pack("{s:o}", "events", events));
        else
            mxr_resp_err(resp, &err);
    }
    free(earliest);
    free(latest);
}

/* GET /event_auth/{roomId}/{eventId} */
void mxr_handle_event_auth(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room_id = mxr_req_param(req, "roomId"), *event_id = mxr_req_param(req, "eventId");
    struct mxr_err err = { 0 };
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, MXR_GATE_IN_ROOM);
    if (!txn)
        return;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(txn, event_id, &meta, &err);
    if (rc == 0 && strcmp(meta.room_id, room_id))
        rc = MXR_STORE_NOT_FOUND;
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(&err, "M_NOT_FOUND", "event %.100s is not known in room %.100s", event_id, room_id);
    if (rc != 0) {
        fail(resp, txn, &err);
        return;
    }
    const char *ids[1] = { event_id };
    json_t *chain = mxr_rooms_auth_chain(txn, ids, 1, true, &err);
    mxr_store_read_end(txn);
    if (!chain) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "auth_chain", chain));
}

/* ---- GET /timestamp_to_event/{roomId}?ts=&dir=f|b ------------------------------ */

struct closest {
    struct mxr_store_txn *txn;
    int64_t ts;
    bool forwards;
    char event_id[MXR_STORE_ID_MAX + 1];
    int64_t found_ts;
    bool found;
    struct mxr_err *err;
    int rc;
};

/* Keeps the event nearest ts in the wanted direction: forwards, the
 * earliest at or after ts; backwards, the latest at or before ts. Ties go
 * to the event first in the timeline (forwards) or last (backwards). */
static int closest_cb(void *arg, const char *event_id, uint64_t stream)
{
    (void)stream;
    struct closest *c = arg;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(c->txn, event_id, &meta, c->err);
    if (rc < 0) {
        c->rc = -1;
        return 1;
    }
    if (rc)
        return 0;
    int64_t t = meta.origin_server_ts;
    bool better = c->forwards ? (t >= c->ts && (!c->found || t < c->found_ts))
                              : (t <= c->ts && (!c->found || t >= c->found_ts));
    if (better) {
        c->found = true;
        c->found_ts = t;
        snprintf(c->event_id, sizeof c->event_id, "%s", event_id);
    }
    return 0;
}

void mxr_handle_timestamp_to_event(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room_id = mxr_req_param(req, "roomId"), *dir = mxr_req_query(req, "dir");
    int64_t ts = 0;
    struct mxr_err err = { 0 };
    if (mxr_fed_query_int(req, resp, "ts", true, &ts, NULL) < 0)
        return;
    if (!dir) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "the query parameter 'dir' (f or b) is required");
        return;
    }
    if (strcmp(dir, "f") && strcmp(dir, "b")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "dir must be 'f' or 'b'");
        return;
    }
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, MXR_GATE_IN_ROOM);
    if (!txn)
        return;
    struct closest c = { .txn = txn, .ts = ts, .forwards = dir[0] == 'f', .err = &err };
    int rc = mxr_store_timeline(txn, room_id, 0, true, SIZE_MAX, closest_cb, &c, &err);
    mxr_store_read_end(txn);
    if (rc < 0 || c.rc) {
        mxr_resp_err(resp, &err);
        return;
    }
    if (!c.found) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "no event at or %s %lld in room %.100s", c.forwards ? "after" : "before",
                       (long long)ts, room_id);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:s, s:I}", "event_id", c.event_id, "origin_server_ts", (json_int_t)c.found_ts));
}
