/* The membership handshakes, requesting side. Spec: server-server API
 * "Joining Rooms" (make_join: the template's type, room_id, sender,
 * state_key and content.membership must be as expected; the joining server
 * adds origin, origin_server_ts (and event_id in v1/v2) and signs;
 * send_join to the same resident), joins-v2.yaml, "Leaving Rooms
 * (Rejecting Invites)", "Knocking upon a room", "Inviting to a room"
 * (invites-v2.yaml, invite_room_state as full PDUs since v1.16). */
#include "relay/federation/join.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxr/ids.h"
#include "mxr/json.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "relay/federation/fedclient.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

#define JOIN_TIMEOUT_MS 180000L   /* send_join of a large room: the resident gathers the whole state */

struct mxr_join {
    struct mxr_join_deps deps;
    struct mxr_signing_key key;
    char own[256];
};

#define jlog(j, level, ...)                                         \
    do {                                                            \
        if ((j)->deps.log)                                          \
            mxr_log((j)->deps.log, (level), NULL, __VA_ARGS__);     \
    } while (0)

static int64_t now_ms(const struct mxr_join *j)
{
    if (j->deps.clock)
        return j->deps.clock(j->deps.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct mxr_join *mxr_join_new(const struct mxr_join_deps *deps, struct mxr_err *err)
{
    if (!deps || !deps->server_name || !deps->key || !deps->store || !deps->rooms || !deps->call ||
        strlen(deps->server_name) >= 256) {
        mxr_err_set(err, "M_UNKNOWN", "mxr_join_new: server_name, key, store, rooms and call are required");
        return NULL;
    }
    struct mxr_join *j = calloc(1, sizeof *j);
    if (!j) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    j->deps = *deps;
    j->key = *deps->key;
    j->deps.key = &j->key;
    snprintf(j->own, sizeof j->own, "%s", deps->server_name);
    j->deps.server_name = j->own;
    return j;
}

/* Operations in progress on this thread: their notices are ours. */
static _Thread_local int busy;

bool mxr_join_busy_here(void)
{
    return busy > 0;
}

void mxr_join_busy_enter(void)
{
    busy++;
}

void mxr_join_busy_leave(void)
{
    busy--;
}

const struct mxr_join_deps *mxr_join_deps_of(const struct mxr_join *j)
{
    return &j->deps;
}

void mxr_join_free(struct mxr_join *j)
{
    if (!j)
        return;
    mxr_key_wipe(&j->key);
    free(j);
}

json_t *mxr_join_fedclient_call(void *fc, const char *method, const char *destination, const char *path,
                                json_t *body, size_t max_response, struct mxr_err *err)
{
    struct mxr_fed_request req = { .method = method, .destination = destination, .path = path, .body = body,
                                   .max_response = max_response, .timeout_ms = JOIN_TIMEOUT_MS };
    struct mxr_fed_response resp;
    if (mxr_fedclient_request(fc, &req, &resp) < 0) {
        if (err)
            *err = resp.err;
        mxr_fed_response_clear(&resp);
        return NULL;
    }
    return resp.body;
}

/* ---- helpers ------------------------------------------------------------------------ */

/* An entry of prev_events/auth_events: an ID (v3+) or [ID, hashes] (v1/v2). */
static const char *ref_id(const json_t *entry)
{
    if (json_is_string(entry))
        return json_string_value(entry);
    return json_string_value(json_array_get(entry, 0));
}

static int register_room_cb(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    const char *const *a = arg;
    return mxr_store_room_add(txn, a[0], a[1], err);
}

/* The room is known with this version (a known room with another version
 * is refused by the store). */
static int register_room(struct mxr_join *j, const char *room_id, const char *version, struct mxr_err *err)
{
    const char *a[2] = { room_id, version };
    return mxr_store_write(j->deps.store, register_room_cb, (void *)a, err);
}

static const struct mxr_room_version *stored_version(struct mxr_join *j, const char *room_id, struct mxr_err *err)
{
    struct mxr_store_txn *txn;
    char ver[MXR_STORE_VERSION_MAX + 1];
    if (mxr_store_read_begin(j->deps.store, &txn, err) < 0)
        return NULL;
    int rc = mxr_store_room_version(txn, room_id, ver, err);
    mxr_store_read_end(txn);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", room_id);
    return rc == 0 ? mxr_room_version_get(ver, err) : NULL;
}

#define JOIN_PARALLEL_MIN 64   /* PDUs from which the event IDs are computed on two threads */

struct id_span {
    json_t *pdus;
    const struct mxr_room_version *rv;
    json_t **ids;
    size_t from, to;
};

static void *id_span_run(void *arg)
{
    struct id_span *s = arg;
    for (size_t i = s->from; i < s->to; i++) {
        char id[MXR_ID_MAX + 1] = "";
        json_t *p = json_array_get(s->pdus, i);
        if (!json_is_object(p) || mxr_event_compute_id(p, s->rv, id, NULL) < 0)
            id[0] = '\0';
        s->ids[i] = json_string(id);   /* NULL when out of memory */
    }
    return NULL;
}

/* The event ID of each PDU as a JSON string ("" when it has none), a
 * reference hash each: on two threads for a large set (a send_join
 * answer). false when out of memory (the strings made are freed). */
static bool compute_ids(json_t *pdus, const struct mxr_room_version *rv, size_t n, json_t **ids)
{
    struct id_span first = { pdus, rv, ids, 0, n }, second = { pdus, rv, ids, n / 2, n };
    pthread_t th;
    if (n >= JOIN_PARALLEL_MIN && pthread_create(&th, NULL, id_span_run, &second) == 0) {
        first.to = n / 2;
        id_span_run(&first);
        pthread_join(th, NULL);
    } else {
        id_span_run(&first);
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok = ok && ids[i];
    for (size_t i = 0; !ok && i < n; i++)
        json_decref(ids[i]);
    return ok;
}

/* Min-heap of input indices: the ready event with the lowest index first. */
static void heap_push(size_t *h, size_t *len, size_t v)
{
    size_t i = (*len)++;
    while (i && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *len)
{
    size_t top = h[0], v = h[--*len], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *len)
            break;
        if (c + 1 < *len && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

/* An order of the usable PDUs (use[i]) in which each one's auth events
 * from the set come before it: Kahn's algorithm over auth_events inside
 * the set, the lowest input index first among the ready ones (a given
 * order that already works is kept); events on an auth cycle follow in
 * input order (the pipeline rejects or defers them). Linear in the number
 * of auth references (a send_join answer holds the whole state of the
 * room). Fills order; returns its length, or (size_t)-1 out of memory. */
static size_t auth_first_order(json_t *pdus, json_t *index, const bool *use, size_t n, size_t *order)
{
    size_t one = n ? n : 1, m = 0, nheap = 0, nref = 0;
    size_t *indeg = calloc(one, sizeof *indeg), *first = calloc(one + 1, sizeof *first);
    size_t *heap = malloc(one * sizeof *heap);
    bool *done = calloc(one, sizeof *done);
    size_t *child = NULL;
    if (!indeg || !first || !heap || !done)
        goto fail;
    /* Two passes over the references: count the children of each auth
     * event, then fill them (CSR). A reference listed twice counts twice,
     * as it is released twice. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (!use[i])
                continue;
            size_t k;
            json_t *a;
            json_array_foreach(json_object_get(json_array_get(pdus, i), "auth_events"), k, a) {
                const char *aid = ref_id(a);
                json_t *ix = aid ? json_object_get(index, aid) : NULL;
                size_t p = ix ? (size_t)json_integer_value(ix) : i;
                if (p == i)
                    continue;
                if (pass == 0) {
                    indeg[i]++;
                    first[p + 1]++;
                    nref++;
                } else {
                    child[first[p]++] = i;
                }
            }
        }
        if (pass == 0) {
            for (size_t i = 0; i < n; i++)
                first[i + 1] += first[i];
            if (!(child = malloc((nref ? nref : 1) * sizeof *child)))
                goto fail;
        } else {
            for (size_t i = n; i > 0; i--)   /* first[p] advanced to the next list's start: shift back */
                first[i] = first[i - 1];
            first[0] = 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (use[i] && !indeg[i])
            heap_push(heap, &nheap, i);
    while (nheap) {
        size_t i = heap_pop(heap, &nheap);
        done[i] = true;
        order[m++] = i;
        for (size_t c = first[i]; c < first[i + 1]; c++)
            if (--indeg[child[c]] == 0)
                heap_push(heap, &nheap, child[c]);
    }
    for (size_t i = 0; i < n; i++)
        if (use[i] && !done[i])
            order[m++] = i;
    free(indeg);
    free(first);
    free(heap);
    free(done);
    free(child);
    return m;
fail:
    free(indeg);
    free(first);
    free(heap);
    free(done);
    free(child);
    return (size_t)-1;
}

int mxr_join_store_outliers(struct mxr_join *j, const char *origin, const char *room_id, json_t *pdus,
                            json_t **ids_out, struct mxr_err *err)
{
    if (ids_out)
        *ids_out = NULL;
    const struct mxr_room_version *rv = stored_version(j, room_id, err);
    if (!rv)
        return -1;
    size_t n = json_array_size(pdus);
    json_t *ids = json_array(), *index = json_object();
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    bool *use = calloc(n ? n : 1, sizeof *use);
    json_t **batch = malloc((n ? n : 1) * sizeof *batch);
    struct mxr_pdu_result *res = calloc(n ? n : 1, sizeof *res);
    json_t **idbuf = NULL;   /* the IDs as made, then owned by ids */
    int rc = 0;
    if (!ids || !index || !order || !use || !batch || !res) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    /* IDs, each event once. */
    if (!(idbuf = malloc((n ? n : 1) * sizeof *idbuf)) || !compute_ids(pdus, rv, n, idbuf)) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(idbuf[i]);
        json_array_append_new(ids, idbuf[i]);
        if (id[0] && !json_object_get(index, id)) {
            json_object_set_new(index, id, json_integer((json_int_t)i));
            use[i] = true;
        }
    }
    /* Auth events first (Kahn over auth_events inside the set, in input
     * order among the ready ones): an outlier needs its auth events stored. */
    size_t m = auth_first_order(pdus, index, use, n, order);
    if (m == (size_t)-1) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    for (size_t k = 0; k < m; k++)
        batch[k] = json_array_get(pdus, order[k]);
    if (m && mxr_rooms_ingest_pdus(j->deps.rooms, origin, batch, m, MXR_INGEST_OUTLIER, res, err) < 0) {
        rc = -1;
        goto out;
    }
    size_t bad = 0;
    for (size_t k = 0; k < m; k++) {
        enum mxr_pdu_outcome o = res[k].outcome;
        if (o == MXR_PDU_DROPPED || o == MXR_PDU_REJECTED || o == MXR_PDU_DEFERRED) {
            bad++;
            jlog(j, MXR_LOG_WARN, "event %s of %s from %s left out: %s at %s: %s",
                 res[k].event_id[0] ? res[k].event_id : "(no ID)", room_id, origin, mxr_rooms_outcome_name(o),
                 mxr_rooms_phase_name(res[k].phase), res[k].reason);
        }
    }
    jlog(j, MXR_LOG_DEBUG, "%zu state/auth event(s) of %s from %s stored as outliers, %zu left out", m - bad,
         room_id, origin, bad);
out:
    if (rc == 0 && ids_out)
        *ids_out = json_incref(ids);
    json_decref(ids);
    json_decref(index);
    free(idbuf);
    free(order);
    free(use);
    free(batch);
    free(res);
    return rc;
}

/* ---- the make_* / send_* handshake ------------------------------------------------ */

/* "&ver=1&ver=2..." for every room version we support (joins-v1.yaml:
 * list them all, not only the stable ones). */
static void ver_query(char *out, size_t cap)
{
    unsigned n;
    const struct mxr_room_version *v = mxr_room_versions(&n);
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%sver=%s", i ? "&" : "?", v[i].id);
}

struct signed_member {
    char dest[256];                        /* the resident that gave the template */
    const struct mxr_room_version *rv;
    json_t *pdu;                           /* signed */
    char event_id[MXR_ID_MAX + 1];
};

/* Checks a make_* answer and turns the template into our signed event. */
static int sign_template(struct mxr_join *j, const json_t *resp, const char *room_id, const char *user_id,
                         const char *membership, const json_t *extra, struct signed_member *out, struct mxr_err *err)
{
    const char *ver = json_string_value(json_object_get(resp, "room_version"));
    json_t *tmpl = json_object_get(resp, "event");
    if (!ver || !json_is_object(tmpl))
        return mxr_err_set(err, "M_BAD_JSON", "the make_%s answer lacks room_version or event", membership);
    const struct mxr_room_version *rv = mxr_room_version_get(ver, NULL);
    if (!rv)
        return mxr_err_set(err, "M_INCOMPATIBLE_ROOM_VERSION", "the room's version %.40s is not supported here", ver);
    const json_t *content = json_object_get(tmpl, "content");
    const char *s;
    /* joins-v1.yaml: "the joining server MUST also verify that the type,
     * room_id, sender, state_key and content.membership fields have the
     * expected values". */
    if (!(s = json_string_value(json_object_get(tmpl, "type"))) || strcmp(s, "m.room.member") != 0 ||
        !(s = json_string_value(json_object_get(tmpl, "room_id"))) || strcmp(s, room_id) != 0 ||
        !(s = json_string_value(json_object_get(tmpl, "sender"))) || strcmp(s, user_id) != 0 ||
        !(s = json_string_value(json_object_get(tmpl, "state_key"))) || strcmp(s, user_id) != 0 ||
        !json_is_object(content) || !(s = json_string_value(json_object_get(content, "membership"))) ||
        strcmp(s, membership) != 0)
        return mxr_err_set(err, "M_BAD_JSON", "the make_%s template is not a %s of %.100s in %.100s (type, room_id, "
                           "sender, state_key or content.membership differ)", membership, membership, user_id, room_id);
    if (!json_is_array(json_object_get(tmpl, "prev_events")) || !json_is_array(json_object_get(tmpl, "auth_events")) ||
        !json_is_integer(json_object_get(tmpl, "depth")))
        return mxr_err_set(err, "M_BAD_JSON", "the make_%s template lacks prev_events, auth_events or depth",
                           membership);
    json_t *pdu = json_deep_copy(tmpl);
    if (!pdu)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    json_object_del(pdu, "signatures");
    json_object_del(pdu, "hashes");
    json_object_del(pdu, "unsigned");
    json_object_del(pdu, "event_id");
    if (extra)
        json_object_update(json_object_get(pdu, "content"), (json_t *)extra);
    int rc = json_object_set_new(pdu, "origin", json_string(j->own)) ||
                     json_object_set_new(pdu, "origin_server_ts", json_integer(now_ms(j)))
                 ? mxr_err_set(err, "M_UNKNOWN", "out of memory")
                 : 0;
    if (rc == 0 && rv->event_format == MXR_EVFMT_V1) {
        /* v1/v2: the event ID is ours to choose ("$" opaque ":" our name). */
        static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        char id[300];
        id[0] = '$';
        for (int i = 1; i <= 18; i++)
            id[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
        snprintf(id + 19, sizeof id - 19, ":%s", j->own);
        rc = json_object_set_new(pdu, "event_id", json_string(id)) ? mxr_err_set(err, "M_UNKNOWN", "out of memory") : 0;
    }
    struct mxr_err e = { 0 };
    if (rc == 0 && mxr_pdu_sign(pdu, rv, j->own, &j->key, err) < 0)
        rc = -1;
    if (rc == 0 && mxr_pdu_check_format(pdu, rv, 0, &e) < 0)
        rc = mxr_err_set(err, "M_BAD_JSON", "our %s from the template is not a valid event: %s", membership, e.msg);
    if (rc == 0 && mxr_event_compute_id(pdu, rv, out->event_id, err) < 0)
        rc = -1;
    if (rc < 0) {
        json_decref(pdu);
        return -1;
    }
    out->rv = rv;
    out->pdu = pdu;
    return 0;
}

/* make_<membership> at each server in turn; the first valid template,
 * signed. */
static int make_member(struct mxr_join *j, const char *membership, const char *room_id, const char *user_id,
                       const json_t *extra, const char *const *servers, size_t n_servers, struct signed_member *out,
                       struct mxr_err *err)
{
    char room[3 * MXR_ID_MAX + 1], user[3 * MXR_ID_MAX + 1], vers[512] = "", path[2048];
    if (mxr_fed_escape(room_id, room, sizeof room) < 0 || mxr_fed_escape(user_id, user, sizeof user) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "room or user ID too long");
    if (strcmp(membership, "leave") != 0)   /* make_leave takes no versions */
        ver_query(vers, sizeof vers);
    snprintf(path, sizeof path, "/_matrix/federation/v1/make_%s/%s/%s%s", membership, room, user, vers);
    memset(out, 0, sizeof *out);
    struct mxr_err last = { 0 };
    mxr_err_set(&last, "M_UNKNOWN", "no server to ask (all candidates are us or none were given)");
    for (size_t i = 0; i < n_servers; i++) {
        if (!servers[i] || !servers[i][0] || strcmp(servers[i], j->own) == 0)
            continue;
        struct mxr_err e = { 0 };
        json_t *resp = j->deps.call(j->deps.call_ctx, "GET", servers[i], path, NULL, 0, &e);
        if (resp && sign_template(j, resp, room_id, user_id, membership, extra, out, &e) == 0) {
            json_decref(resp);
            snprintf(out->dest, sizeof out->dest, "%s", servers[i]);
            return 0;
        }
        json_decref(resp);
        jlog(j, MXR_LOG_INFO, "make_%s for %s in %s at %s: %s", membership, user_id, room_id, servers[i], e.msg);
        last = e;
        /* The room's version is the same everywhere: no other server helps. */
        if (e.errcode && strcmp(e.errcode, "M_INCOMPATIBLE_ROOM_VERSION") == 0)
            break;
    }
    *err = last;
    return mxr_err_prefix(err, "make_%s", membership);
}

static json_t *send_member(struct mxr_join *j, const char *api, const char *membership, const struct signed_member *sm,
                           const char *room_id, size_t max_response, struct mxr_err *err)
{
    char room[3 * MXR_ID_MAX + 1], ev[3 * MXR_ID_MAX + 1], path[2048];
    if (mxr_fed_escape(room_id, room, sizeof room) < 0 || mxr_fed_escape(sm->event_id, ev, sizeof ev) < 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "room or event ID too long");
        return NULL;
    }
    snprintf(path, sizeof path, "/_matrix/federation/%s/send_%s/%s/%s", api, membership, room, ev);
    json_t *resp = j->deps.call(j->deps.call_ctx, "PUT", sm->dest, path, sm->pdu, max_response, err);
    if (!resp)
        mxr_err_prefix(err, "send_%s to %s", membership, sm->dest);
    return resp;
}

/* ---- join ------------------------------------------------------------------------------ */

static bool has_create(const json_t *state, const char *const *ids, const char *room_id)
{
    size_t i;
    json_t *p;
    (void)ids;
    json_array_foreach(state, i, p) {
        const char *type = json_string_value(json_object_get(p, "type"));
        const char *sk = json_string_value(json_object_get(p, "state_key"));
        if (type && sk && strcmp(type, "m.room.create") == 0 && !sk[0]) {
            const char *rid = json_string_value(json_object_get(p, "room_id"));
            return !rid || strcmp(rid, room_id) == 0;   /* v12: no room_id in the create event */
        }
    }
    return false;
}

static int join_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *const *servers,
                    size_t n_servers, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    if (!room_id || !user_id || mxr_id_check_room(room_id, MXR_ID_ANY_FORMAT, NULL) < 0 || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, NULL) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "a room ID and one of our user IDs are required");
    struct signed_member sm;
    if (make_member(j, "join", room_id, user_id, NULL, servers, n_servers, &sm, err) < 0)
        return -1;
    int rc = -1;
    json_t *resp = send_member(j, "v2", "join", &sm, room_id, MXR_FED_LARGE_RESPONSE_BYTES, err);
    json_t *state = json_object_get(resp, "state"), *chain = json_object_get(resp, "auth_chain");
    json_t *all = NULL, *ids = NULL, *state_ids = NULL, *join_pdu = sm.pdu;
    if (!resp)
        goto out;
    if (!json_is_array(state) || !json_is_array(chain)) {
        mxr_err_set(err, "M_BAD_JSON", "send_join answer from %s lacks the state or auth_chain array", sm.dest);
        goto out;
    }
    if (json_is_true(json_object_get(resp, "members_omitted")))
        jlog(j, MXR_LOG_WARN, "%s omitted members from the state of %s though we did not ask (omit_members); "
             "membership may be incomplete", sm.dest, room_id);
    if (!has_create(state, NULL, room_id)) {
        mxr_err_set(err, "M_BAD_JSON", "the state %s returned for %.100s has no m.room.create event", sm.dest, room_id);
        goto out;
    }
    /* Restricted joins (v8+): the resident's signed copy of our join. */
    json_t *ev = json_object_get(resp, "event");
    if (json_is_object(ev)) {
        char id[MXR_ID_MAX + 1];
        if (mxr_event_compute_id(ev, sm.rv, id, NULL) == 0 && strcmp(id, sm.event_id) == 0)
            join_pdu = ev;
        else
            jlog(j, MXR_LOG_WARN, "send_join answer from %s carries an event that is not our join: ignored", sm.dest);
    }
    if (register_room(j, room_id, sm.rv->id, err) < 0)
        goto out;
    /* Verify and keep the state and its auth chain, then the join with
     * that state ("before the room is marked joined"). */
    all = json_array();
    if (!all || json_array_extend(all, chain) || json_array_extend(all, state)) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    if (mxr_join_store_outliers(j, sm.dest, room_id, all, &ids, err) < 0)
        goto out;
    state_ids = json_array();
    for (size_t i = json_array_size(chain); state_ids && i < json_array_size(all); i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (id && id[0])
            json_array_append_new(state_ids, json_string(id));
    }
    if (!state_ids) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    struct mxr_pdu_result res;
    if (mxr_rooms_ingest_with_state(j->deps.rooms, sm.dest, join_pdu, &state_ids, 1, 0, &res, err) < 0)
        goto out;
    if (res.outcome != MXR_PDU_ACCEPTED && res.outcome != MXR_PDU_SOFT_FAILED) {
        mxr_err_set(err, res.errcode ? res.errcode : "M_FORBIDDEN",
                    "our join of %.100s is %s at %s against the state %s returned: %s", room_id,
                    mxr_rooms_outcome_name(res.outcome), mxr_rooms_phase_name(res.phase), sm.dest, res.reason);
        goto out;
    }
    if (res.reason[0])
        jlog(j, MXR_LOG_WARN, "join of %s: %s", room_id, res.reason);
    jlog(j, MXR_LOG_INFO, "%s joined %s through %s (%zu state events)", user_id, room_id, sm.dest,
         json_array_size(state_ids));
    if (event_id_out)
        snprintf(event_id_out, MXR_ID_MAX + 1, "%s", sm.event_id);
    rc = 0;
out:
    json_decref(resp);
    json_decref(all);
    json_decref(ids);
    json_decref(state_ids);
    json_decref(sm.pdu);
    return rc;
}

/* ---- leave, knock ------------------------------------------------------------------------ */

/* Keeps our own membership event of a room we are not in (an outlier). */
static void keep_outlier(struct mxr_join *j, const struct signed_member *sm, const char *room_id)
{
    struct mxr_err e = { 0 };
    json_t *one = json_pack("[O]", sm->pdu);
    if (register_room(j, room_id, sm->rv->id, &e) < 0 || !one ||
        mxr_join_store_outliers(j, j->own, room_id, one, NULL, &e) < 0)
        jlog(j, MXR_LOG_WARN, "keeping %s of %s: %s", sm->event_id, room_id, e.msg);
    json_decref(one);
}

static int leave_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *const *servers,
                          size_t n_servers, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    struct signed_member sm;
    if (make_member(j, "leave", room_id, user_id, NULL, servers, n_servers, &sm, err) < 0)
        return -1;
    json_t *resp = send_member(j, "v2", "leave", &sm, room_id, 0, err);
    int rc = resp ? 0 : -1;
    json_decref(resp);
    if (rc == 0) {
        keep_outlier(j, &sm, room_id);
        if (event_id_out)
            snprintf(event_id_out, MXR_ID_MAX + 1, "%s", sm.event_id);
    }
    json_decref(sm.pdu);
    return rc;
}

static json_t *knock_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *reason,
                              const char *const *servers, size_t n_servers, char event_id_out[MXR_ID_MAX + 1],
                              struct mxr_err *err)
{
    json_t *extra = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    struct signed_member sm;
    int rc = make_member(j, "knock", room_id, user_id, extra, servers, n_servers, &sm, err);
    json_decref(extra);
    if (rc < 0)
        return NULL;
    json_t *resp = send_member(j, "v1", "knock", &sm, room_id, MXR_FED_MAX_RESPONSE_BYTES, err);
    json_t *krs = json_incref(json_object_get(resp, "knock_room_state"));
    if (resp && !json_is_array(krs)) {
        json_decref(krs);
        krs = NULL;
        mxr_err_set(err, "M_BAD_JSON", "send_knock answer from %s lacks knock_room_state", sm.dest);
    }
    json_decref(resp);
    if (krs) {
        keep_outlier(j, &sm, room_id);
        if (event_id_out)
            snprintf(event_id_out, MXR_ID_MAX + 1, "%s", sm.event_id);
    }
    json_decref(sm.pdu);
    return krs;
}

/* ---- invite ------------------------------------------------------------------------------ */

/* invite_room_state (invites-v2.yaml, v1.16): full PDUs of the state a
 * client needs to show the invite, m.room.create included. */
static json_t *invite_room_state(struct mxr_join *j, const char *room_id, const char *sender, struct mxr_err *err)
{
    static const char *const types[] = { "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
                                         "m.room.canonical_alias", "m.room.encryption", "m.room.topic" };
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(j->deps.store, &txn, err) < 0)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; out && i <= sizeof types / sizeof types[0]; i++) {
        const char *type = i < sizeof types / sizeof types[0] ? types[i] : "m.room.member";
        const char *sk = i < sizeof types / sizeof types[0] ? "" : sender;
        char id[MXR_STORE_ID_MAX + 1];
        int rc = mxr_store_room_current_get(txn, room_id, type, sk, id, err);
        if (rc < 0) {
            json_decref(out);
            out = NULL;
        } else if (rc == 0) {
            json_t *p = mxr_rooms_event_pdu(txn, id, NULL);
            if (p)
                json_array_append_new(out, p);
        }
    }
    mxr_store_read_end(txn);
    return out;
}

static int invite_remote(struct mxr_join *j, const char *room_id, const char *sender, const char *invitee,
                           json_t *extra_content, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    const char *dest = invitee ? mxr_id_domain(invitee) : NULL;
    if (!dest || mxr_id_check_user(invitee, MXR_USER_HISTORICAL, NULL) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is not a user ID", invitee ? invitee : "(null)");
    if (strcmp(dest, j->own) == 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "%.100s is one of our users: no handshake needed", invitee);
    const struct mxr_room_version *rv = stored_version(j, room_id, err);
    if (!rv)
        return -1;
    json_t *content = extra_content ? json_deep_copy(extra_content) : json_object();
    if (!content || json_object_set_new(content, "membership", json_string("invite")))
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    json_t *pdu = mxr_rooms_build_event(j->deps.rooms, room_id, sender, "m.room.member", invitee, content, err);
    json_decref(content);
    if (!pdu)
        return -1;
    int rc = -1;
    char id[MXR_ID_MAX + 1], room[3 * MXR_ID_MAX + 1], ev[3 * MXR_ID_MAX + 1], path[2048];
    json_t *state = NULL, *body = NULL, *resp = NULL, *redacted = NULL;
    if (mxr_event_compute_id(pdu, rv, id, err) < 0 || mxr_fed_escape(room_id, room, sizeof room) < 0 ||
        mxr_fed_escape(id, ev, sizeof ev) < 0 || !(state = invite_room_state(j, room_id, sender, err)))
        goto out;
    body = json_pack("{s:s, s:O, s:O}", "room_version", rv->id, "event", pdu, "invite_room_state", state);
    snprintf(path, sizeof path, "/_matrix/federation/v2/invite/%s/%s", room, ev);
    if (!body || !(resp = j->deps.call(j->deps.call_ctx, "PUT", dest, path, body, 0, err))) {
        mxr_err_prefix(err, "invite of %.100s at %s", invitee, dest);
        goto out;
    }
    /* The invitee's server must have signed our event, unchanged. */
    json_t *back = json_object_get(resp, "event");
    char back_id[MXR_ID_MAX + 1];
    json_t *theirs = json_object_get(json_object_get(back, "signatures"), dest);
    if (!json_is_object(back) || mxr_event_compute_id(back, rv, back_id, NULL) < 0 || strcmp(back_id, id) != 0 ||
        !json_is_object(theirs)) {
        mxr_err_set(err, "M_BAD_JSON", "%s answered the invite without our event signed by it", dest);
        goto out;
    }
    json_t *sigs = json_object_get(pdu, "signatures");
    if (json_object_set(sigs, dest, theirs) < 0 || !(redacted = mxr_event_redact(pdu, rv, err)))
        goto out;
    struct mxr_err ve = { 0 };
    if (j->deps.keys.lookup &&
        mxr_verify_json_keys(redacted, dest, &j->deps.keys, json_integer_value(json_object_get(pdu, "origin_server_ts")),
                             &ve) < 0) {
        mxr_err_set(err, "M_FORBIDDEN", "%s's signature on the invite does not verify: %s", dest, ve.msg);
        goto out;
    }
    struct mxr_pdu_result res;
    if (mxr_rooms_ingest_pdus(j->deps.rooms, j->own, &pdu, 1, 0, &res, err) < 0)
        goto out;
    if (res.outcome != MXR_PDU_ACCEPTED) {
        mxr_err_set(err, res.errcode ? res.errcode : "M_FORBIDDEN", "the signed invite is %s at %s: %s",
                    mxr_rooms_outcome_name(res.outcome), mxr_rooms_phase_name(res.phase), res.reason);
        goto out;
    }
    if (event_id_out)
        snprintf(event_id_out, MXR_ID_MAX + 1, "%s", id);
    rc = 0;
out:
    json_decref(pdu);
    json_decref(state);
    json_decref(body);
    json_decref(resp);
    json_decref(redacted);
    return rc;
}

/* ---- the public entry points: marked busy for the notices they cause ---------------- */

int mxr_join_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *const *servers,
                    size_t n_servers, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    mxr_join_busy_enter();
    int rc = join_remote(j, room_id, user_id, servers, n_servers, event_id_out, err);
    mxr_join_busy_leave();
    return rc;
}

int mxr_join_leave_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *const *servers,
                          size_t n_servers, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    mxr_join_busy_enter();
    int rc = leave_remote(j, room_id, user_id, servers, n_servers, event_id_out, err);
    mxr_join_busy_leave();
    return rc;
}

json_t *mxr_join_knock_remote(struct mxr_join *j, const char *room_id, const char *user_id, const char *reason,
                              const char *const *servers, size_t n_servers, char event_id_out[MXR_ID_MAX + 1],
                              struct mxr_err *err)
{
    mxr_join_busy_enter();
    json_t *r = knock_remote(j, room_id, user_id, reason, servers, n_servers, event_id_out, err);
    mxr_join_busy_leave();
    return r;
}

int mxr_join_invite_remote(struct mxr_join *j, const char *room_id, const char *sender, const char *invitee,
                           json_t *extra_content, char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    mxr_join_busy_enter();
    int rc = invite_remote(j, room_id, sender, invitee, extra_content, event_id_out, err);
    mxr_join_busy_leave();
    return rc;
}
