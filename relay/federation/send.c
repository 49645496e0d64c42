/* PUT /_matrix/federation/v1/send/{txnId} (spec: server-server API
 * "Transactions", transactions.yaml; "Checks performed on receipt of a PDU";
 * "Server Access Control Lists (ACLs)"; "EDUs").
 *
 * Order of work for one transaction:
 *   1. the envelope: origin (must be the authenticated origin),
 *      origin_server_ts, pdus (at most 50), edus (at most 100); the origin
 *      is up: if our queue for it was backing off, the back-off ends and
 *      the queue is flushed (sender.h, mxr_sender_peer_alive);
 *   2. under the origin's /send lock: a transaction ID seen before from
 *      this origin is answered with the stored response, nothing redone;
 *   3. PDUs: the room's server ACL per PDU (denied: an error result, not
 *      processed), then every other PDU through the rooms pipeline (checks
 *      1-6 of the spec, in order, one result per PDU), which returns only
 *      after its durable commit;
 *   4. EDUs: validated and stored for the client API (edus.c); a bad EDU is
 *      ignored and fails nothing;
 *   5. the response is recorded for (origin, txnId), then sent.
 * A store failure in 3 answers 500 without recording anything: the sender
 * retries the same transaction, and PDUs stored meanwhile are answered from
 * their stored verdicts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/roomver.h"
#include "relay/client/client.h"
#include "relay/client/keys.h"
#include "relay/federation/edus.h"
#include "relay/federation/fedout.h"
#include "relay/federation/inbound.h"
#include "relay/federation/sender.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/store.h"

#define TXN_ID_MAX 255
#define TXN_KEEP_MS (7LL * 24 * 3600 * 1000)     /* a sender retries for hours, not weeks */
#define TXN_PRUNE_EVERY_MS (3600LL * 1000)

/* ---- step 1: the envelope ------------------------------------------------------ */

static int check_envelope(const struct mxr_request *req, struct mxr_err *err)
{
    const json_t *body = req->json;
    const json_t *origin = json_object_get(body, "origin"), *ts = json_object_get(body, "origin_server_ts"),
                 *pdus = json_object_get(body, "pdus"), *edus = json_object_get(body, "edus");
    if (!json_is_string(origin) || !json_is_integer(ts) || !json_is_array(pdus))
        return mxr_err_set(err, "M_BAD_JSON", "a transaction needs origin (string), origin_server_ts (integer) and "
                           "pdus (array) (transaction.yaml)");
    /* The body's origin names the sender; it must be the server that
     * signed the request, or a peer could speak for another. */
    if (strcmp(json_string_value(origin), req->origin))
        return mxr_err_set(err, "M_FORBIDDEN", "the transaction's origin '%.100s' is not the authenticated origin %.100s",
                           json_string_value(origin), req->origin);
    if (json_array_size(pdus) > MXR_TXN_MAX_PDUS)
        return mxr_err_set(err, "M_BAD_JSON", "%zu PDUs: a transaction carries at most %d (server-server API "
                           "\"Transactions\")", json_array_size(pdus), MXR_TXN_MAX_PDUS);
    if (edus && !json_is_array(edus))
        return mxr_err_set(err, "M_BAD_JSON", "edus must be an array when present (transactions.yaml)");
    if (json_array_size(edus) > MXR_TXN_MAX_EDUS)
        return mxr_err_set(err, "M_BAD_JSON", "%zu EDUs: a transaction carries at most %d (server-server API "
                           "\"Transactions\")", json_array_size(edus), MXR_TXN_MAX_EDUS);
    return 0;
}

/* ---- step 2: the transaction record ---------------------------------------------- */

/* The stored response of (origin, txn_id): new reference, NULL when unseen
 * (or unreadable: then the transaction is processed again, which the
 * pipeline makes harmless). */
static json_t *stored_response(struct mxr_server *srv, const char *origin, const char *txn_id, const char *reqid)
{
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    if (mxr_store_read_begin(srv->store, &txn, &err) < 0) {
        srv_log(srv, MXR_LOG_ERROR, reqid, "store: %s", err.msg);
        return NULL;
    }
    const char *data;
    size_t len;
    json_t *out = NULL;
    int rc = mxr_store_txnid_get(txn, origin, txn_id, &data, &len, &err);
    if (rc == 0)
        out = mxr_json_parse(data, len, 0, &err);
    if (rc < 0 || (rc == 0 && !out))
        srv_log(srv, MXR_LOG_WARN, reqid, "transaction record of %s %s unreadable: %s", origin, txn_id, err.msg);
    mxr_store_read_end(txn);
    return out;
}

struct txn_record {
    const char *origin, *txn_id;
    char *response;
    size_t len;
    int64_t now;
};

static int record_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct txn_record *r = arg;
    return mxr_store_txnid_put(txn, r->origin, r->txn_id, r->response, r->len, r->now, err);
}

struct prune_arg {
    int64_t before;
    struct mxr_server *srv;
};

static int prune_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct prune_arg *p = arg;
    size_t removed = 0;
    return mxr_store_txnid_prune(txn, p->before, &removed, err);
}

static void prune_done(void *arg, int rc, const struct mxr_err *err)
{
    struct prune_arg *p = arg;
    if (rc < 0)
        srv_log(p->srv, MXR_LOG_WARN, NULL, "forgetting old transaction records failed: %s", err ? err->msg : "");
    free(p);
}

/* Old transaction records are forgotten now and then, off the request's path. */
static void maybe_prune(struct mxr_server *srv, int64_t now)
{
    if (!mxr_inbound_chore_due(srv->inbound, now, TXN_PRUNE_EVERY_MS))
        return;
    struct prune_arg *p = malloc(sizeof *p);
    if (!p)
        return;
    *p = (struct prune_arg){ now - TXN_KEEP_MS, srv };
    struct mxr_err err = { 0 };
    if (mxr_store_write_async(srv->store, prune_write, p, prune_done, p, &err) < 0) {
        srv_log(srv, MXR_LOG_WARN, NULL, "forgetting old transaction records: %s", err.msg);
        free(p);
    }
}

/* ---- step 3: PDUs ------------------------------------------------------------------ */

/* The ACL verdict for one PDU before it enters the pipeline: 0 to process
 * it, 1 when the origin is denied by the room's server ACL (*errmsg filled,
 * event_id filled when computable), -1 on a store failure. Unknown rooms
 * and malformed PDUs go to the pipeline, which reports them. */
static int pdu_acl(struct mxr_store_txn *txn, const json_t *pdu, const char *origin, char event_id[MXR_ID_MAX + 1],
                   struct mxr_err *deny, struct mxr_err *err)
{
    const char *room_id = json_string_value(json_object_get(pdu, "room_id"));
    char ver[MXR_STORE_VERSION_MAX + 1];
    if (!room_id)
        return 0;
    int rc = mxr_store_room_version(txn, room_id, ver, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND)
        return 0;
    if (mxr_acl_check(txn, room_id, origin, deny) == 0)
        return 0;
    if (!deny->errcode || strcmp(deny->errcode, "M_FORBIDDEN")) {
        *err = *deny;
        return -1;
    }
    const struct mxr_room_version *rv = mxr_room_version_get(ver, NULL);
    event_id[0] = '\0';
    if (!rv || mxr_event_compute_id(pdu, rv, event_id, NULL) < 0)
        event_id[0] = '\0';
    return 1;
}

struct pdu_counts {
    size_t by_outcome[MXR_PDU_DEFERRED + 1];
    size_t acl_denied;
};

/* Runs the PDUs; returns the /send response body or NULL (err set) when the
 * store failed. */
static json_t *process_pdus(struct mxr_request *req, const json_t *pdus, struct pdu_counts *counts,
                            struct mxr_err *err)
{
    struct mxr_server *srv = req->srv;
    size_t n = json_array_size(pdus);
    json_t **live = calloc(n ? n : 1, sizeof *live);
    struct mxr_pdu_result *results = calloc(n ? n : 1, sizeof *results);
    json_t *denied = json_object();
    json_t *body = NULL;
    size_t n_live = 0;
    if (!live || !results || !denied) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    if (n) {
        struct mxr_store_txn *txn;
        if (mxr_store_read_begin(srv->store, &txn, err) < 0)
            goto out;
        int rc = 0;
        for (size_t i = 0; i < n && rc >= 0; i++) {
            json_t *pdu = json_array_get(pdus, i);
            char eid[MXR_ID_MAX + 1];
            struct mxr_err deny = { 0 };
            rc = pdu_acl(txn, pdu, req->origin, eid, &deny, err);
            if (rc == 0) {
                live[n_live++] = pdu;
            } else if (rc == 1) {
                counts->acl_denied++;
                /* "the PDU MUST be ignored with an appropriate error included
                 * in the response for the respective event ID" */
                if (eid[0])
                    json_object_set_new(denied, eid, json_pack("{s:s}", "error", deny.msg));
            }
        }
        mxr_store_read_end(txn);
        if (rc < 0)
            goto out;
    }
    if (n_live && mxr_rooms_ingest_pdus(srv->rooms, req->origin, live, n_live, 0, results, err) < 0)
        goto out;
    body = mxr_rooms_send_response(results, n_live);
    json_t *map = json_object_get(body, "pdus");
    if (!body || json_object_update(map, denied) < 0) {
        json_decref(body);
        body = NULL;
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_live; i++) {
        enum mxr_pdu_outcome o = results[i].outcome;
        if (o >= MXR_PDU_ACCEPTED && o <= MXR_PDU_DEFERRED)
            counts->by_outcome[o]++;
        if (o != MXR_PDU_ACCEPTED && o != MXR_PDU_OUTLIER)
            srv_log(srv, MXR_LOG_INFO, req->id, "PDU %s of %s from %s: %s at %s: %s",
                    results[i].event_id[0] ? results[i].event_id : "(no ID)", results[i].room_id[0] ? results[i].room_id : "?",
                    req->origin, mxr_rooms_outcome_name(o), mxr_rooms_phase_name(results[i].phase), results[i].reason);
    }
out:
    free(live);
    free(results);
    json_decref(denied);
    return body;
}

/* ---- step 4: EDUs -------------------------------------------------------------------- */

struct edu_rooms {
    struct mxr_store_txn *txn;
    const char *origin;
};

/* mxr_edu_ctx.room_check: the room is known, the origin passes its ACL, and
 * the user (when given) is joined. */
static int edu_room_check(void *ctx, const char *room_id, const char *user_id, struct mxr_err *err)
{
    struct edu_rooms *er = ctx;
    char ver[MXR_STORE_VERSION_MAX + 1];
    int rc = mxr_store_room_version(er->txn, room_id, ver, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND)
        return mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", room_id);
    if (mxr_acl_check(er->txn, room_id, er->origin, err) < 0)
        return -1;
    if (!user_id)
        return 0;
    char m[32];
    rc = mxr_store_membership(er->txn, room_id, user_id, m, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND || strcmp(m, "join"))
        return mxr_err_set(err, "M_FORBIDDEN", "%.100s is not joined to %.100s", user_id, room_id);
    return 0;
}

static size_t process_edus(struct mxr_request *req, const json_t *edus, size_t *ignored)
{
    struct mxr_server *srv = req->srv;
    size_t applied = 0;
    *ignored = 0;
    if (!json_array_size(edus) || !srv->edus)
        return 0;
    struct mxr_err err = { 0 };
    struct edu_rooms er = { NULL, req->origin };
    if (mxr_store_read_begin(srv->store, &er.txn, &err) < 0) {
        srv_log(srv, MXR_LOG_ERROR, req->id, "store: %s: EDUs of this transaction ignored", err.msg);
        *ignored = json_array_size(edus);
        return 0;
    }
    struct mxr_edu_ctx c = { req->origin, srv->cfg->server_name, mxr_server_now(srv), edu_room_check, &er };
    size_t i;
    const json_t *edu;
    json_array_foreach(edus, i, edu) {
        mxr_err_clear(&err);
        int rc = mxr_edu_apply(srv->edus, &c, edu, &err);
        if (rc == 0) {
            applied++;
        } else {
            (*ignored)++;
            if (rc < 0)
                srv_log(srv, MXR_LOG_INFO, req->id, "EDU %zu from %s ignored (in part): %s", i, req->origin, err.msg);
        }
    }
    mxr_store_read_end(er.txn);
    mxr_keys_remote_changed(srv, req->origin, edus);   /* our clients re-query those users' keys */
    /* receipts and to-device messages are durable before the 200 (edus.h) */
    if (mxr_edu_flush(srv->edus, &err) < 0)
        srv_log(srv, MXR_LOG_ERROR, req->id, "store: %s", err.msg);
    if (applied)   /* typing, receipts, to-device: wake /sync long-polls */
        mxr_client_rooms_notify(srv->client, NULL);
    return applied;
}

/* ---- the handler ------------------------------------------------------------------- */

void mxr_handle_send(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_server *srv = req->srv;
    const char *txn_id = mxr_req_param(req, "txnId");
    struct mxr_err err = { 0 };
    if (!srv->store || !srv->rooms) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "this server has no room store");
        return;
    }
    if (!txn_id || !*txn_id || strlen(txn_id) > TXN_ID_MAX) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "txnId must be 1 to %d bytes", TXN_ID_MAX);
        return;
    }
    if (check_envelope(req, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    mxr_sender_peer_alive(mxr_fedout_sender(srv->fedout), req->origin);
    int lk = mxr_inbound_origin_lock(srv->inbound, req->origin);
    if (lk != 0) {
        if (lk < 0) {
            mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
        } else {
            mxr_resp_error(resp, 429, "M_LIMIT_EXCEEDED", "%d transactions of %s are already waiting: send one at a "
                           "time (server-server API \"Transactions\")", MXR_ORIGIN_MAX_WAITERS, req->origin);
            json_object_set_new(resp->json, "retry_after_ms", json_integer(1000));
        }
        return;
    }
    json_t *body = stored_response(srv, req->origin, txn_id, req->id);
    if (body) {
        mxr_inbound_origin_unlock(srv->inbound, req->origin);
        srv_log(srv, MXR_LOG_INFO, req->id, "transaction %s from %s seen before: stored response", txn_id, req->origin);
        mxr_resp_json(resp, 200, body);
        return;
    }
    struct pdu_counts counts = { 0 };
    const json_t *pdus = json_object_get(req->json, "pdus");
    body = process_pdus(req, pdus, &counts, &err);
    if (!body) {
        mxr_inbound_origin_unlock(srv->inbound, req->origin);
        srv_log(srv, MXR_LOG_ERROR, req->id, "transaction %s from %s failed: %s", txn_id, req->origin, err.msg);
        mxr_resp_error(resp, 500, "M_UNKNOWN", "the transaction could not be stored (%s): retry it", err.msg);
        return;
    }
    size_t ignored = 0;
    size_t applied = process_edus(req, json_object_get(req->json, "edus"), &ignored);

    int64_t now = mxr_server_now(srv);
    struct txn_record rec = { req->origin, txn_id, NULL, 0, now };
    rec.response = mxr_canonical_json_lax(body, &rec.len, &err);
    if (!rec.response || mxr_store_write(srv->store, record_write, &rec, &err) < 0)
        srv_log(srv, MXR_LOG_WARN, req->id, "transaction %s from %s not recorded (a retry is processed again): %s",
                txn_id, req->origin, err.msg);
    free(rec.response);
    mxr_inbound_origin_unlock(srv->inbound, req->origin);
    maybe_prune(srv, now);

    srv_log(srv, MXR_LOG_INFO, req->id,
            "transaction %s from %s: %zu PDUs (%zu accepted, %zu outliers, %zu soft-failed, %zu rejected, %zu dropped, "
            "%zu deferred, %zu denied by ACL), %zu EDUs (%zu ignored)",
            txn_id, req->origin, json_array_size(pdus), counts.by_outcome[MXR_PDU_ACCEPTED],
            counts.by_outcome[MXR_PDU_OUTLIER], counts.by_outcome[MXR_PDU_SOFT_FAILED],
            counts.by_outcome[MXR_PDU_REJECTED], counts.by_outcome[MXR_PDU_DROPPED],
            counts.by_outcome[MXR_PDU_DEFERRED], counts.acl_denied, applied + ignored, ignored);
    mxr_resp_json(resp, 200, body);
}
