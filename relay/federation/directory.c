/* The published room directory and space hierarchies over federation
 * (spec: server-server API "Published Room Directory", "Spaces";
 * public_rooms.yaml, space_hierarchy.yaml), and the room summaries both
 * answer with (client-server definitions public_rooms_chunk.yaml,
 * room_summary.yaml), built from a room's current state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxr/ids.h"
#include "relay/federation/inbound.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/accounts.h"
#include "relay/store/store.h"

#define PUBLIC_ROOMS_MAX 500    /* a page never holds more, whatever `limit` asks */

/* ---- room summaries ------------------------------------------------------------- */

/* The content of the current state event (type, ""), new reference or NULL. */
static json_t *state_content(struct mxr_store_txn *txn, const char *room_id, const char *type, const char *state_key)
{
    char id[MXR_STORE_ID_MAX + 1];
    if (mxr_store_room_current_get(txn, room_id, type, state_key, id, NULL) != 0)
        return NULL;
    json_t *pdu = mxr_rooms_event_pdu(txn, id, NULL);
    json_t *c = json_incref(json_object_get(pdu, "content"));
    json_decref(pdu);
    if (!json_is_object(c)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static const char *content_str(const json_t *content, const char *key)
{
    return json_string_value(json_object_get(content, key));
}

static int count_cb(void *arg, const char *id, const char *membership)
{
    (void)id;
    (void)membership;
    (*(size_t *)arg)++;
    return 0;
}

/* The plain-text topic: content.topic, else (m.topic, v1.15) the first
 * text/plain representation; public_rooms_chunk.yaml omits the field when
 * there is none. */
static const char *plain_topic(const json_t *topic)
{
    const char *t = content_str(topic, "topic");
    if (t)
        return t;
    size_t i;
    const json_t *rep;
    json_array_foreach(json_object_get(json_object_get(topic, "m.topic"), "m.text"), i, rep) {
        const char *mime = content_str(rep, "mimetype");
        if ((!mime || !strcmp(mime, "text/plain")) && content_str(rep, "body"))
            return content_str(rep, "body");
    }
    return NULL;
}

struct summary_facts {
    char join_rule[32];
    bool world_readable;
    json_t *allowed;   /* allowed_room_ids (restricted rooms) */
};

/* A room summary (room_summary.yaml, a superset of public_rooms_chunk.yaml)
 * from the current state; NULL for an unknown room. facts (may be NULL)
 * receives what access checks need. */
static json_t *room_summary(struct mxr_store_txn *txn, const char *room_id, struct summary_facts *facts)
{
    char ver[MXR_STORE_VERSION_MAX + 1];
    if (mxr_store_room_version(txn, room_id, ver, NULL) != 0)
        return NULL;
    size_t joined = 0;
    mxr_store_room_members(txn, room_id, "join", count_cb, &joined, NULL);
    json_t *hv = state_content(txn, room_id, "m.room.history_visibility", "");
    json_t *ga = state_content(txn, room_id, "m.room.guest_access", "");
    const char *hvs = content_str(hv, "history_visibility"), *gas = content_str(ga, "guest_access");
    bool world_readable = hvs && !strcmp(hvs, "world_readable");
    json_t *s = json_pack("{s:s, s:I, s:b, s:b, s:s}", "room_id", room_id, "num_joined_members", (json_int_t)joined,
                          "world_readable", world_readable, "guest_can_join", gas && !strcmp(gas, "can_join"),
                          "room_version", ver);
    json_decref(hv);
    json_decref(ga);
    if (!s)
        return NULL;
    static const struct {
        const char *type, *key, *field;
    } strings[] = {
        { "m.room.name", "name", "name" },
        { "m.room.canonical_alias", "alias", "canonical_alias" },
        { "m.room.avatar", "url", "avatar_url" },
        { "m.room.create", "type", "room_type" },
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        json_t *c = state_content(txn, room_id, strings[i].type, "");
        const char *v = content_str(c, strings[i].key);
        if (v && *v)
            json_object_set_new(s, strings[i].field, json_string(v));
        json_decref(c);
    }
    json_t *topic = state_content(txn, room_id, "m.room.topic", "");
    const char *t = plain_topic(topic);
    if (t)
        json_object_set_new(s, "topic", json_string(t));
    json_decref(topic);
    json_t *enc = state_content(txn, room_id, "m.room.encryption", "");
    const char *alg = content_str(enc, "algorithm");
    if (alg && !strcmp(alg, "m.megolm.v1.aes-sha2"))   /* the schema's only value */
        json_object_set_new(s, "encryption", json_string(alg));
    json_decref(enc);

    json_t *jr = state_content(txn, room_id, "m.room.join_rules", "");
    const char *rule = content_str(jr, "join_rule");
    json_t *allowed = json_array();
    if (rule) {
        json_object_set_new(s, "join_rule", json_string(rule));
        if (!strcmp(rule, "restricted") || !strcmp(rule, "knock_restricted")) {
            size_t i;
            const json_t *a;
            json_array_foreach(json_object_get(jr, "allow"), i, a) {
                const char *type = content_str(a, "type"), *rid = content_str(a, "room_id");
                if (type && !strcmp(type, "m.room_membership") && rid)
                    json_array_append_new(allowed, json_string(rid));
            }
            json_object_set(s, "allowed_room_ids", allowed);
        }
    }
    if (facts) {
        /* "When not present, the room is assumed to be public" is for the
         * directory display; for access, no join rules means invite-only
         * (the auth rules' default). */
        snprintf(facts->join_rule, sizeof facts->join_rule, "%s", rule ? rule : "invite");
        facts->world_readable = world_readable;
        facts->allowed = json_incref(allowed);
    }
    json_decref(allowed);
    json_decref(jr);
    return s;
}

/* ---- publicRooms ------------------------------------------------------------------ */

/* The rooms published in our directory, in directory order (new reference:
 * an array of room IDs). SEAM: the client API's room directory
 * (PUT /directory/list/room, createRoom visibility "public") has no table
 * yet, so nothing is published. */
static int add_published(void *arg, const char *room_id)
{
    return json_array_append_new(arg, json_string(room_id)) == 0 ? 0 : 1;
}

/* The rooms local users published to the directory (createRoom visibility
 * "public", PUT /directory/list/room); a read failure lists none. */
static json_t *published_rooms(struct mxr_store_txn *txn)
{
    json_t *ids = json_array();
    struct mxr_err err = {0};
    if (ids && mxr_store_published_rooms(txn, add_published, ids, &err) < 0)
        json_array_clear(ids);
    return ids;
}

static bool icontains(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

struct pr_query {
    int64_t limit;          /* 0: no limit */
    int64_t offset;         /* from `since` */
    const char *search;     /* filter.generic_search_term */
    const json_t *types;    /* filter.room_types */
    bool other_network;     /* third_party_instance_id: no third-party networks here */
};

static bool chunk_matches(const json_t *chunk, const struct pr_query *q)
{
    if (q->search && *q->search && !icontains(content_str(chunk, "name"), q->search) &&
        !icontains(content_str(chunk, "topic"), q->search) &&
        !icontains(content_str(chunk, "canonical_alias"), q->search))
        return false;
    if (json_is_array(q->types)) {
        const char *type = content_str(chunk, "room_type");
        size_t i;
        const json_t *t;
        json_array_foreach(q->types, i, t)
            if ((json_is_null(t) && !type) || (type && json_is_string(t) && !strcmp(json_string_value(t), type)))
                return true;
        return false;
    }
    return true;
}

/* Pagination tokens are "o<offset>" into the filtered list. */
static int parse_since(const char *since, int64_t *offset)
{
    if (!since)
        return 0;
    if (since[0] != 'o' || !since[1] || strspn(since + 1, "0123456789") != strlen(since + 1) || strlen(since) > 12)
        return -1;
    *offset = strtoll(since + 1, NULL, 10);
    return 0;
}

static void public_rooms(struct mxr_request *req, struct mxr_response *resp, const struct pr_query *q)
{
    struct mxr_store_txn *txn = mxr_fed_read(req, resp);
    if (!txn)
        return;
    json_t *ids = q->other_network ? json_array() : published_rooms(txn);
    json_t *matching = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *chunk = room_summary(txn, json_string_value(id), NULL);
        if (!chunk)
            continue;
        /* public_rooms_chunk.yaml has no room_version, allowed_room_ids or encryption */
        json_object_del(chunk, "room_version");
        json_object_del(chunk, "allowed_room_ids");
        json_object_del(chunk, "encryption");
        if (chunk_matches(chunk, q))
            json_array_append(matching, chunk);
        json_decref(chunk);
    }
    mxr_store_read_end(txn);
    size_t total = json_array_size(matching);
    size_t start = q->offset > (int64_t)total ? total : (size_t)q->offset;
    size_t lim = q->limit > 0 && q->limit < PUBLIC_ROOMS_MAX ? (size_t)q->limit : PUBLIC_ROOMS_MAX;
    size_t end = total - start > lim ? start + lim : total;
    json_t *page = json_array();
    for (size_t k = start; k < end; k++)
        json_array_append(page, json_array_get(matching, k));
    json_t *body = json_pack("{s:o, s:I}", "chunk", page, "total_room_count_estimate",
                             (json_int_t)json_array_size(ids));
    char tok[32];
    if (end < total) {
        snprintf(tok, sizeof tok, "o%zu", end);
        json_object_set_new(body, "next_batch", json_string(tok));
    }
    if (start > 0) {
        snprintf(tok, sizeof tok, "o%zu", start > lim ? start - lim : 0);
        json_object_set_new(body, "prev_batch", json_string(tok));
    }
    json_decref(ids);
    json_decref(matching);
    mxr_resp_json(resp, 200, body);
}

/* GET /publicRooms?limit=&since=&include_all_networks=&third_party_instance_id= */
void mxr_handle_public_rooms_get(struct mxr_request *req, struct mxr_response *resp)
{
    struct pr_query q = { 0 };
    if (mxr_fed_query_int(req, resp, "limit", false, &q.limit, NULL) < 0)
        return;
    if (q.limit < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "limit must not be negative");
        return;
    }
    if (parse_since(mxr_req_query(req, "since"), &q.offset) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "since is not a pagination token of this server");
        return;
    }
    const char *all = mxr_req_query(req, "include_all_networks");
    if (all && strcmp(all, "true") && strcmp(all, "false")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "include_all_networks must be true or false");
        return;
    }
    q.other_network = mxr_req_query(req, "third_party_instance_id") != NULL;
    public_rooms(req, resp, &q);
}

/* POST /publicRooms {limit?, since?, filter?, include_all_networks?, third_party_instance_id?} */
void mxr_handle_public_rooms_post(struct mxr_request *req, struct mxr_response *resp)
{
    const json_t *b = req->json, *limit = json_object_get(b, "limit"), *since = json_object_get(b, "since"),
                 *filter = json_object_get(b, "filter"), *all = json_object_get(b, "include_all_networks"),
                 *tp = json_object_get(b, "third_party_instance_id");
    struct pr_query q = { 0 };
    if ((limit && !json_is_integer(limit)) || (since && !json_is_string(since)) || (filter && !json_is_object(filter) &&
        !json_is_null(filter)) || (all && !json_is_boolean(all)) || (tp && !json_is_string(tp))) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "limit must be an integer, since and third_party_instance_id strings, "
                       "filter an object, include_all_networks a boolean (public_rooms.yaml)");
        return;
    }
    q.limit = limit ? json_integer_value(limit) : 0;
    if (q.limit < 0 || parse_since(json_string_value(since), &q.offset) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "limit must not be negative and since a token of this server");
        return;
    }
    const json_t *term = json_object_get(filter, "generic_search_term"), *types = json_object_get(filter, "room_types");
    if ((term && !json_is_string(term) && !json_is_null(term)) || (types && !json_is_array(types))) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "filter.generic_search_term must be a string, filter.room_types an array");
        return;
    }
    size_t i;
    const json_t *t;
    json_array_foreach(types, i, t) {
        if (!json_is_string(t) && !json_is_null(t)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "filter.room_types[%zu] must be a string or null", i);
            return;
        }
    }
    q.search = json_string_value(term);
    q.types = types;
    q.other_network = tp != NULL;
    public_rooms(req, resp, &q);
}

/* ---- hierarchy ---------------------------------------------------------------------- */

/* Whether `server` could peek or join the room (space_hierarchy.yaml:
 * children the requesting server "cannot peek/join" are not described):
 * public or knockable rooms, world-readable history, a server already in
 * the room, or, for restricted rooms, one resident in an allowed room. */
static bool accessible(struct mxr_store_txn *txn, const char *room_id, const struct summary_facts *f,
                       const char *server)
{
    const char *r = f->join_rule;
    if (!strcmp(r, "public") || !strcmp(r, "knock") || !strcmp(r, "knock_restricted") || f->world_readable)
        return true;
    bool in = false;
    if (mxr_rooms_server_in_room(txn, room_id, server, &in, NULL) == 0 && in)
        return true;
    if (!strcmp(r, "restricted")) {
        size_t i;
        const json_t *a;
        json_array_foreach(f->allowed, i, a)
            if (mxr_rooms_server_in_room(txn, json_string_value(a), server, &in, NULL) == 0 && in)
                return true;
    }
    return false;
}

struct children {
    struct mxr_store_txn *txn;
    const char *room_id;
    bool suggested_only;
    json_t *state;     /* stripped m.space.child events + origin_server_ts */
};

static int child_cb(void *arg, const char *type, const char *state_key, const char *event_id)
{
    struct children *c = arg;
    if (strcmp(type, "m.space.child"))
        return 0;
    json_t *pdu = mxr_rooms_event_pdu(c->txn, event_id, NULL);
    json_t *content = json_object_get(pdu, "content");
    const json_t *via = json_object_get(content, "via");
    /* m.space.child: a child without a non-empty `via` is not a child. */
    bool valid = json_is_array(via) && json_array_size(via) > 0 && mxr_id_check_room(state_key, MXR_ID_ANY_FORMAT, NULL) == 0;
    if (valid && c->suggested_only && !json_is_true(json_object_get(content, "suggested")))
        valid = false;
    if (valid)
        json_array_append_new(c->state, json_pack("{s:s, s:s, s:O, s:O, s:O}", "type", type, "state_key", state_key,
                                                  "sender", json_object_get(pdu, "sender"), "content", content,
                                                  "origin_server_ts", json_object_get(pdu, "origin_server_ts")));
    json_decref(pdu);
    return 0;
}

/* The room's summary with children_state, or NULL. */
static json_t *space_summary(struct mxr_store_txn *txn, const char *room_id, bool suggested_only,
                             struct summary_facts *facts)
{
    json_t *s = room_summary(txn, room_id, facts);
    if (!s)
        return NULL;
    struct children c = { txn, room_id, suggested_only, json_array() };
    mxr_store_room_current_all(txn, room_id, child_cb, &c, NULL);
    json_object_set_new(s, "children_state", c.state);
    return s;
}

/* GET /hierarchy/{roomId}?suggested_only= */
void mxr_handle_hierarchy(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room_id = mxr_req_param(req, "roomId"), *so = mxr_req_query(req, "suggested_only");
    if (so && strcmp(so, "true") && strcmp(so, "false")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "suggested_only must be true or false");
        return;
    }
    bool suggested_only = so && !strcmp(so, "true");
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, MXR_GATE_ROOM_KNOWN);
    if (!txn)
        return;
    struct summary_facts f = { 0 };
    json_t *room = space_summary(txn, room_id, suggested_only, &f);
    if (!room || !accessible(txn, room_id, &f, req->origin)) {
        json_decref(room);
        json_decref(f.allowed);
        mxr_store_read_end(txn);
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "room %.100s is not known here or not accessible to %.100s", room_id,
                       req->origin);
        return;
    }
    json_decref(f.allowed);
    json_t *children = json_array(), *inaccessible = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(room, "children_state"), i, ev) {
        const char *child = json_string_value(json_object_get(ev, "state_key"));
        struct summary_facts cf = { 0 };
        json_t *cs = space_summary(txn, child, false, &cf);
        /* Children we know nothing about are left out ("Rooms which the
         * responding server cannot provide details on will be outright
         * excluded"); known but closed ones are listed as inaccessible. */
        if (cs && accessible(txn, child, &cf, req->origin))
            json_array_append(children, cs);
        else if (cs)
            json_array_append_new(inaccessible, json_string(child));
        json_decref(cs);
        json_decref(cf.allowed);
    }
    mxr_store_read_end(txn);
    mxr_resp_json(resp, 200, json_pack("{s:o, s:o, s:o}", "room", room, "children", children, "inaccessible_children",
                                       inaccessible));
}
