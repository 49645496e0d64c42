/* Our own events: the skeleton (prev_events, depth, auth_events) from the
 * room as the store sees it, hashes and our signature (spec: server-server
 * API "Adding hashes and signatures to outgoing events", "Auth events
 * selection"; depth limits from pdu_v*.yaml), and then the same pipeline as
 * remote events (pipeline.c) inside the caller's write, so the event is
 * durable before anyone hears of it. */
#include "relay/rooms/rooms_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/ids.h"
#include "mxr/json.h"
#include "mxr/pdu.h"

struct ext {
    char id[MXR_ID_MAX + 1];
    int64_t depth;
};

struct ext_list {
    struct ext *v;
    size_t n, cap;
    bool oom;
};

static int collect_ext(void *arg, const char *id)
{
    struct ext_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct ext *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            l->oom = true;
            return 1;
        }
        l->v = nv;
        l->cap = cap;
    }
    snprintf(l->v[l->n].id, sizeof l->v[l->n].id, "%s", id);
    l->v[l->n++].depth = 0;
    return 0;
}

/* Deepest first; equal depths by ID so that the choice is reproducible. */
static int cmp_ext(const void *a, const void *b)
{
    const struct ext *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth > y->depth ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* An event reference in the room version's form: an ID (v3+) or, for v1/v2
 * (pdu_v1.yaml), [ID, {"sha256": reference hash}]. */
static json_t *event_ref(struct evcache *c, const struct mxr_room_version *rv, const char *id, struct mxr_err *err)
{
    if (rv->event_format != MXR_EVFMT_V1)
        return json_string(id);
    const struct evc_entry *e = evc_get(c, id);
    if (!e) {
        if (c->failed)
            *err = c->err;
        else
            mxr_err_set(err, "M_UNKNOWN", "event %.100s to reference is not stored", id);
        return NULL;
    }
    uint8_t h[32];
    char b64[48];
    if (mxr_event_reference_hash(e->ev.json, rv, h, err) < 0)
        return NULL;
    mxr_b64_encode(b64, sizeof b64, h, sizeof h, MXR_B64_STD);
    return json_pack("[s,{s:s}]", id, "sha256", b64);
}

/* "$" + 18 random letters + ":" + our name: event IDs of room versions 1
 * and 2, and room IDs before version 12 (appendices: opaque IDs). */
static void random_id(char *out, size_t cap, char sigil, const char *server)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint8_t rnd[18];
    randombytes_buf(rnd, sizeof rnd);
    char local[19];
    for (size_t i = 0; i < sizeof rnd; i++)
        local[i] = letters[rnd[i] % 52];
    local[18] = '\0';
    snprintf(out, cap, "%c%s:%s", sigil, local, server);
}

void rooms_random_id(char *out, size_t cap, char sigil, const char *server)
{
    random_id(out, cap, sigil, server);
}

static int set_prevs(struct evcache *c, const struct build_spec *spec, json_t *pdu, struct mxr_err *err)
{
    const struct mxr_room_version *rv = spec->rv;
    struct ext_list l = {0};
    int rc = mxr_store_extremities(c->txn, spec->room_id, collect_ext, &l, err);
    if (rc == MXR_STORE_NOT_FOUND || (rc == 0 && l.n == 0))
        rc = mxr_err_set(err, "M_NOT_FOUND", "room %.100s has no events here: this server is not in it",
                         spec->room_id);
    if (rc == 0 && l.oom)
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        struct mxr_store_event_meta meta;
        int r2 = mxr_store_event_meta(c->txn, l.v[i].id, &meta, err);
        if (r2 < 0)
            rc = -1;
        else
            l.v[i].depth = r2 == 0 ? meta.depth : 0;
    }
    json_t *prevs = json_array();
    if (rc == 0 && !prevs)
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    int64_t depth = 0;
    if (rc == 0) {
        qsort(l.v, l.n, sizeof *l.v, cmp_ext);
        size_t n = l.n < ROOMS_MAX_PREVS ? l.n : ROOMS_MAX_PREVS;
        depth = l.v[0].depth;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            json_t *ref = event_ref(c, rv, l.v[i].id, err);
            if (!ref || json_array_append_new(prevs, ref))
                rc = -1;
        }
    }
    /* depth: one more than the deepest prev, clamped to the format's limit
     * (pdu_v1/v3/v4.yaml: 2^63-1; depth_v6.yaml: 2^53-1 from v6 on). */
    int64_t max = rv->strict_canonical_json ? MXR_JSON_INT_MAX : INT64_MAX;
    depth = depth >= max ? max : depth + 1;
    if (rc == 0 && (json_object_set_new(pdu, "prev_events", prevs) ||
                    json_object_set_new(pdu, "depth", json_integer(depth))))
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    else if (rc)
        json_decref(prevs);
    free(l.v);
    return rc;
}

/* auth_events: the selection (server-server API "Auth events selection")
 * for this event, filled from the room's current state. */
static int set_auth_events(struct evcache *c, const struct build_spec *spec, json_t *pdu, struct mxr_err *err)
{
    const struct mxr_room_version *rv = spec->rv;
    /* Load the skeleton to let the selection read it; an ID is lent so
     * that loading does not hash the incomplete event. */
    json_object_set_new(pdu, "event_id", json_string("$skeleton"));
    struct mxr_event ev;
    int rc = mxr_event_load(&ev, pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, err);
    json_object_del(pdu, "event_id");
    if (rc < 0)
        return -1;
    struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX];
    size_t nk = mxr_auth_events_selection(rv, &ev, keys);
    json_t *auth = json_array();
    rc = auth ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    for (size_t i = 0; rc == 0 && i < nk; i++) {
        char id[MXR_ID_MAX + 1];
        int r2 = mxr_store_room_current_get(c->txn, spec->room_id, keys[i].type, keys[i].state_key, id, err);
        if (r2 < 0)
            rc = -1;
        else if (r2 == 0) {
            json_t *ref = event_ref(c, rv, id, err);
            if (!ref || json_array_append_new(auth, ref))
                rc = -1;
        }
    }
    mxr_event_release(&ev);
    if (rc == 0 && json_object_set_new(pdu, "auth_events", auth))
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    if (rc)
        json_decref(auth);
    return rc;
}

json_t *build_skeleton(struct mxr_rooms *r, struct evcache *c, const struct build_spec *spec, bool with_id,
                       struct mxr_err *err)
{
    const struct mxr_room_version *rv = spec->rv;
    bool create = strcmp(spec->type, "m.room.create") == 0 && spec->state_key && !spec->state_key[0];
    if (!create && !spec->room_id) {
        mxr_err_set(err, "M_UNKNOWN", "build_skeleton: no room ID for a %.100s event", spec->type);
        return NULL;
    }
    json_t *content = spec->content ? json_deep_copy(spec->content) : json_object();
    json_t *pdu = json_pack("{s:s, s:s, s:o, s:I}", "type", spec->type, "sender", spec->sender, "content", content,
                            "origin_server_ts", (json_int_t)spec->ts);
    if (!pdu || (spec->state_key && json_object_set_new(pdu, "state_key", json_string(spec->state_key))) ||
        (spec->room_id && json_object_set_new(pdu, "room_id", json_string(spec->room_id)))) {
        json_decref(pdu);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    /* Callers give a redaction's target in content (the v11 form); room
     * versions 1-10 carry it at the top level (pdu_v1..v6 `redacts`), where
     * content has no place for it (as Synapse builds them). */
    json_t *target = json_object_get(content, "redacts");
    if (!rv->redacts_in_content && strcmp(spec->type, "m.room.redaction") == 0 && json_is_string(target)) {
        if (json_object_set(pdu, "redacts", target)) {
            json_decref(pdu);
            mxr_err_set(err, "M_UNKNOWN", "out of memory");
            return NULL;
        }
        json_object_del(content, "redacts");
    }
    int rc;
    if (create) {
        /* Auth rule 1: no prev_events; auth_events empty ("Auth events selection"). */
        rc = json_object_set_new(pdu, "prev_events", json_array()) ||
                     json_object_set_new(pdu, "auth_events", json_array()) ||
                     json_object_set_new(pdu, "depth", json_integer(1))
                 ? mxr_err_set(err, "M_UNKNOWN", "out of memory")
                 : 0;
    } else {
        rc = set_prevs(c, spec, pdu, err);
        if (rc == 0)
            rc = set_auth_events(c, spec, pdu, err);
    }
    if (rc == 0 && with_id && rv->event_format == MXR_EVFMT_V1) {
        char id[MXR_ID_MAX + 1];
        random_id(id, sizeof id, '$', r->server_name);
        if (json_object_set_new(pdu, "event_id", json_string(id)))
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    if (rc) {
        json_decref(pdu);
        return NULL;
    }
    return pdu;
}

int build_local_event(struct run *run, const struct build_spec *spec, struct item_list *kept,
                      char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    struct mxr_rooms *r = run->r;
    const struct mxr_room_version *rv = spec->rv;
    json_t *pdu = build_skeleton(r, &run->cache, spec, true, err);
    if (!pdu)
        return -1;
    struct mxr_err e = {0};
    if (mxr_pdu_sign(pdu, rv, r->server_name, &r->key, err) < 0) {
        json_decref(pdu);
        return -1;
    }
    /* Step 1 applies to our events too: what we would refuse from others
     * (too large, bad IDs) must not leave here. */
    if (mxr_pdu_check_format(pdu, rv, 0, &e) < 0) {
        json_decref(pdu);
        return mxr_err_set(err, e.errcode ? e.errcode : "M_BAD_JSON", "the %.100s event is not valid for room "
                           "version %s: %s", spec->type, rv->id, e.msg);
    }
    if (kept->n == kept->cap) {
        size_t cap = kept->cap ? kept->cap * 2 : 8;
        struct item **nv = realloc(kept->v, cap * sizeof *nv);
        if (!nv) {
            json_decref(pdu);
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        }
        kept->v = nv;
        kept->cap = cap;
    }
    struct item *it = calloc(1, sizeof *it);
    struct mxr_pdu_result *res = calloc(1, sizeof *res);
    if (!it || !res) {
        free(it);
        free(res);
        json_decref(pdu);
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    it->res = res;
    it->local = true;
    kept->v[kept->n++] = it;
    int rc = item_load(it, pdu, rv, err);
    json_decref(pdu);
    if (rc < 0)
        return -1;
    const char *room_id = rooms_room_of(&it->ev);
    snprintf(res->event_id, sizeof res->event_id, "%s", it->ev.event_id);
    snprintf(res->room_id, sizeof res->room_id, "%s", room_id);
    /* A new room is registered with its create event (the version is what
     * every later event of the room is parsed by). */
    if (strcmp(it->ev.type, "m.room.create") == 0 && it->ev.n_prev_events == 0 &&
        mxr_store_room_add(run->txn, room_id, rv->id, err) < 0)
        return -1;
    if (pipeline_process(run, it, err) < 0)
        return -1;
    if (res->outcome != MXR_PDU_ACCEPTED)
        return mxr_err_set(err, res->errcode ? res->errcode : "M_FORBIDDEN", "%s refused at %s: %s", spec->type,
                           mxr_rooms_phase_name(res->phase), res->reason);
    if (event_id_out)
        snprintf(event_id_out, MXR_ID_MAX + 1, "%s", it->ev.event_id);
    return 0;
}

/* ---- mxr_rooms_send_event -------------------------------------------------- */

struct send_arg {
    struct mxr_rooms *r;
    struct build_spec spec;
    struct item_list list;
    char event_id[MXR_ID_MAX + 1];
};

static int send_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct send_arg *a = arg;
    item_list_clear(&a->list);
    struct run run = {.r = a->r, .txn = txn, .now = a->spec.ts};
    evc_init(&run.cache, txn);
    int rc = rooms_room_version(txn, a->spec.room_id, &a->spec.rv, err);
    if (rc == MXR_STORE_NOT_FOUND)
        rc = mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", a->spec.room_id);
    if (rc == 0)
        rc = build_local_event(&run, &a->spec, &a->list, a->event_id, err);
    evc_free(&run.cache);
    return rc;
}

int rooms_check_local_sender(const struct mxr_rooms *r, const char *sender, struct mxr_err *err)
{
    if (!sender || mxr_id_check_user(sender, MXR_USER_HISTORICAL, NULL) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "sender '%.100s' is not a user ID", sender ? sender : "(null)");
    if (!rooms_user_on(sender, r->server_name))
        return mxr_err_set(err, "M_INVALID_PARAM", "sender %.100s is not a user of this server (%s)", sender,
                           r->server_name);
    return 0;
}

int mxr_rooms_send_event(struct mxr_rooms *r, const char *room_id, const char *sender, const char *type,
                         const char *state_key, json_t *content, char event_id_out[MXR_ID_MAX + 1],
                         struct mxr_err *err)
{
    if (rooms_check_local_sender(r, sender, err) < 0)
        return -1;
    if (!room_id || !type || !*type)
        return mxr_err_set(err, "M_INVALID_PARAM", "an event needs a room ID and a type");
    if (content && !json_is_object(content))
        return mxr_err_set(err, "M_BAD_JSON", "event content must be a JSON object");
    struct send_arg a = {
        .r = r,
        .spec = {.room_id = room_id, .sender = sender, .type = type, .state_key = state_key,
                 .content = content, .ts = rooms_now(r)},
    };
    int rc = mxr_store_write(r->store, send_write, &a, err);
    if (rc == 0) {
        for (size_t i = 0; i < a.list.n; i++)
            pipeline_notify(r, NULL, a.list.v[i]);
        if (event_id_out)
            snprintf(event_id_out, MXR_ID_MAX + 1, "%s", a.event_id);
    }
    item_list_clear(&a.list);
    return rc;
}

/* ---- mxr_rooms_build_event ------------------------------------------------- */

json_t *mxr_rooms_build_event(struct mxr_rooms *r, const char *room_id, const char *sender, const char *type,
                              const char *state_key, json_t *content, struct mxr_err *err)
{
    if (rooms_check_local_sender(r, sender, err) < 0)
        return NULL;
    if (!room_id || !type || !*type || (content && !json_is_object(content))) {
        mxr_err_set(err, "M_INVALID_PARAM", "an event needs a room ID, a type and object content");
        return NULL;
    }
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(r->store, &txn, err) < 0)
        return NULL;
    struct build_spec spec = {.room_id = room_id, .sender = sender, .type = type, .state_key = state_key,
                              .content = content, .ts = rooms_now(r)};
    struct evcache c;
    evc_init(&c, txn);
    json_t *pdu = NULL;
    struct mxr_event ev;
    bool loaded = false;
    uint64_t cur = 0;
    int rc = rooms_room_version(txn, room_id, &spec.rv, err);
    if (rc == MXR_STORE_NOT_FOUND)
        rc = mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", room_id);
    if (rc == 0 && mxr_store_room_current(txn, room_id, &cur, err) < 0)
        rc = -1;
    if (rc == 0 && !(pdu = build_skeleton(r, &c, &spec, true, err)))
        rc = -1;
    if (rc == 0 && mxr_pdu_sign(pdu, spec.rv, r->server_name, &r->key, err) < 0)
        rc = -1;
    struct mxr_err e = {0};
    if (rc == 0 && mxr_pdu_check_format(pdu, spec.rv, 0, &e) < 0)
        rc = mxr_err_set(err, e.errcode ? e.errcode : "M_BAD_JSON", "the %.100s event is not valid for room version "
                         "%s: %s", type, spec.rv->id, e.msg);
    if (rc == 0 && mxr_event_load(&ev, pdu, spec.rv, 0, err) < 0)
        rc = -1;
    loaded = rc == 0;
    /* The rules against the current state: what the pipeline will check
     * once the event comes back signed. */
    if (rc == 0) {
        struct sview sv = {cur, NULL};
        struct sview_lookup l = {&c, &sv};
        struct mxr_err why = {0};
        if (mxr_auth_check(spec.rv, &ev, sview_lookup_fn, &l, &why) < 0)
            rc = c.failed ? (*err = c.err, -1)
                          : mxr_err_set(err, why.errcode ? why.errcode : "M_FORBIDDEN", "%.100s refused: %s", type,
                                        why.msg);
    }
    if (loaded)
        mxr_event_release(&ev);
    evc_free(&c);
    mxr_store_read_end(txn);
    if (rc < 0) {
        json_decref(pdu);
        return NULL;
    }
    return pdu;
}
