/* Membership handshakes as the resident server: make_join / make_leave /
 * make_knock templates and send_join / send_leave / send_knock (server-server
 * API "Joining Rooms", "Restricted rooms", "Knocking upon a room", "Leaving
 * Rooms"; joins-v1/v2.yaml, leaving-v2.yaml, knocks.yaml). The events
 * themselves go through the one pipeline (mxr_rooms_ingest_pdus). /invite is
 * in invite.c. */
#include "relay/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/pdu.h"

static bool known_membership(const char *m)
{
    return m && (!strcmp(m, "join") || !strcmp(m, "leave") || !strcmp(m, "knock"));
}

/* ---- restricted joins (v8+) ------------------------------------------------ */

static bool restricted_rule(const struct mxr_room_version *rv, const char *rule)
{
    return rule && ((rv->restricted_join_rule && !strcmp(rule, "restricted")) ||
                    (rv->knock_restricted_join_rule && !strcmp(rule, "knock_restricted")));
}

/* The allow conditions of a restricted room (client-server "Restricted
 * rooms"): m.room_membership entries name rooms whose joined members may
 * join. Only rooms we hold state for can be checked: none checkable is
 * M_UNABLE_TO_AUTHORISE_JOIN, all checked and failed M_FORBIDDEN. */
static int restricted_allow(struct mxr_store_txn *txn, const struct mxr_event *join_rules, const char *user_id,
                            struct mxr_err *err)
{
    json_t *allow = json_object_get(join_rules->content, "allow");
    size_t i, checkable = 0;
    json_t *cond;
    json_array_foreach(allow, i, cond) {
        const char *type = json_string_value(json_object_get(cond, "type"));
        const char *other = json_string_value(json_object_get(cond, "room_id"));
        if (!type || strcmp(type, "m.room_membership") != 0 || !other)
            continue;
        uint64_t cur = 0;
        int rc = mxr_store_room_current(txn, other, &cur, err);
        if (rc < 0)
            return -1;
        if (rc == MXR_STORE_NOT_FOUND || cur == 0)
            continue;
        checkable++;
        char m[32];
        rc = mxr_store_membership(txn, other, user_id, m, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && strcmp(m, "join") == 0)
            return 0;
    }
    if (!checkable)
        return mxr_err_set(err, "M_UNABLE_TO_AUTHORISE_JOIN", "this server cannot check any allow condition of "
                           "the restricted room (it holds none of the rooms named)");
    return mxr_err_set(err, "M_FORBIDDEN", "%.100s meets none of the room's allow conditions", user_id);
}

struct authoriser_scan {
    struct mxr_rooms *r;
    struct sview_lookup *l;
    const struct mxr_room_version *rv;
    char *out;
    bool found;
};

static int authoriser_cb(void *arg, const char *user_id, const char *membership)
{
    (void)membership;
    struct authoriser_scan *a = arg;
    if (!rooms_user_on(user_id, a->r->server_name))
        return 0;
    const struct mxr_event *create = sview_lookup_fn(a->l, "m.room.create", "");
    const struct mxr_event *pl = sview_lookup_fn(a->l, "m.room.power_levels", "");
    if (mxr_auth_user_level(a->rv, create, pl, user_id) >= mxr_auth_named_level(a->rv, pl, "invite")) {
        snprintf(a->out, MXR_ID_MAX + 1, "%s", user_id);
        a->found = true;
        return 1;
    }
    return 0;
}

/* One of our joined users able to invite (the auth rule for
 * join_authorised_via_users_server), or M_UNABLE_TO_GRANT_JOIN. */
static int pick_authoriser(struct mxr_rooms *r, struct evcache *c, const struct sview *cur,
                           const struct mxr_room_version *rv, const char *room_id, char out[MXR_ID_MAX + 1],
                           struct mxr_err *err)
{
    struct sview_lookup l = {c, cur};
    struct authoriser_scan a = {r, &l, rv, out, false};
    if (mxr_store_room_members(c->txn, room_id, "join", authoriser_cb, &a, err) < 0)
        return -1;
    if (c->failed) {
        *err = c->err;
        return -1;
    }
    if (!a.found)
        return mxr_err_set(err, "M_UNABLE_TO_GRANT_JOIN", "no user of %s in the room may invite: try another "
                           "server", r->server_name);
    return 0;
}

/* Whether a join of user_id needs an authorising user: the room's join rule
 * is restricted (or knock_restricted) and the user is neither joined nor
 * invited (those joins pass the auth rules on their own). */
static int needs_authoriser(struct evcache *c, const struct sview *cur, const struct mxr_room_version *rv,
                            const char *user_id, const struct mxr_event **join_rules, bool *needs,
                            struct mxr_err *err)
{
    struct sview_lookup l = {c, cur};
    *join_rules = sview_lookup_fn(&l, "m.room.join_rules", "");
    if (c->failed) {
        *err = c->err;
        return -1;
    }
    *needs = false;
    if (!*join_rules || !restricted_rule(rv, mxr_event_content_str(*join_rules, "join_rule")))
        return 0;
    char m[32];
    if (rooms_membership_in(c->txn, cur, user_id, m, err) < 0)
        return -1;
    *needs = strcmp(m, "join") != 0 && strcmp(m, "invite") != 0;
    return 0;
}

/* ---- make_join / make_leave / make_knock ---------------------------------- */

static int check_ver(const struct mxr_room_version *rv, const char *membership, const char *const *ver,
                     size_t n_ver, struct mxr_err *err)
{
    if (strcmp(membership, "leave") == 0)
        return 0;
    static const char *const v1[] = {"1"};
    if (n_ver == 0 && strcmp(membership, "join") == 0) {
        ver = v1;   /* joins-v1.yaml: ver defaults to [1] */
        n_ver = 1;
    }
    for (size_t i = 0; i < n_ver; i++)
        if (ver[i] && strcmp(ver[i], rv->id) == 0)
            return 0;
    return mxr_err_set(err, "M_INCOMPATIBLE_ROOM_VERSION", "the room is version %s, which the requesting "
                       "server did not list in 'ver'", rv->id);
}

static json_t *make_in_txn(struct mxr_rooms *r, struct evcache *c, const char *room_id, const char *user_id,
                           const char *membership, const char *const *ver, size_t n_ver, char *rv_out,
                           struct mxr_err *err)
{
    const struct mxr_room_version *rv;
    int rc = rooms_room_version(c->txn, room_id, &rv, err);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", room_id);
    if (rc)
        return NULL;
    if (rv_out)
        snprintf(rv_out, 65, "%s", rv->id);
    if (check_ver(rv, membership, ver, n_ver, err) < 0)
        return NULL;
    bool in = false;
    if (mxr_rooms_server_in_room(c->txn, room_id, r->server_name, &in, err) < 0)
        return NULL;
    if (!in) {
        mxr_err_set(err, "M_NOT_FOUND", "this server has no joined member in room %.100s", room_id);
        return NULL;
    }
    struct sview cur = {0};
    if (mxr_store_room_current(c->txn, room_id, &cur.group, err) < 0)
        return NULL;

    json_t *content = json_pack("{s:s}", "membership", membership);
    if (!content) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    if (strcmp(membership, "join") == 0) {
        const struct mxr_event *jr;
        bool needs;
        char authoriser[MXR_ID_MAX + 1];
        if (needs_authoriser(c, &cur, rv, user_id, &jr, &needs, err) < 0 ||
            (needs && (restricted_allow(c->txn, jr, user_id, err) < 0 ||
                       pick_authoriser(r, c, &cur, rv, room_id, authoriser, err) < 0))) {
            json_decref(content);
            return NULL;
        }
        if (needs)
            json_object_set_new(content, "join_authorised_via_users_server", json_string(authoriser));
    }
    struct build_spec spec = {
        .room_id = room_id, .rv = rv, .sender = user_id, .type = "m.room.member", .state_key = user_id,
        .content = content, .ts = rooms_now(r),
    };
    json_t *tmpl = build_skeleton(r, c, &spec, false, err);
    json_decref(content);
    if (!tmpl)
        return NULL;
    /* joins-v1.yaml: origin is the resident server in the template. */
    json_object_set_new(tmpl, "origin", json_string(r->server_name));

    /* Would the auth rules allow it against the current state? The
     * authorising server's signature cannot be there yet: we add it at
     * send_join. */
    json_object_set_new(tmpl, "event_id", json_string("$template"));
    struct mxr_event ev;
    rc = mxr_event_load(&ev, tmpl, rv, MXR_EVENT_TRUST_GIVEN_ID, err);
    json_object_del(tmpl, "event_id");
    if (rc < 0) {
        json_decref(tmpl);
        return NULL;
    }
    struct sview_lookup l = {c, &cur};
    struct mxr_auth_opts opts = {.skip_server_signatures = true};
    struct mxr_err why = {0};
    rc = mxr_auth_check_opts(rv, &ev, sview_lookup_fn, &l, &opts, &why);
    mxr_event_release(&ev);
    if (c->failed) {
        *err = c->err;
        json_decref(tmpl);
        return NULL;
    }
    if (rc < 0) {
        mxr_err_set(err, "M_FORBIDDEN", "the room's current state does not allow this %s: %s", membership, why.msg);
        json_decref(tmpl);
        return NULL;
    }
    json_t *resp = json_pack("{s:s, s:o}", "room_version", rv->id, "event", tmpl);
    if (!resp)
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
    return resp;
}

json_t *mxr_rooms_make_membership(struct mxr_rooms *r, const char *origin, const char *room_id, const char *user_id,
                                  const char *membership, const char *const *ver, size_t n_ver,
                                  char room_version_out[65], struct mxr_err *err)
{
    if (room_version_out)
        room_version_out[0] = '\0';
    if (!known_membership(membership)) {
        mxr_err_set(err, "M_INVALID_PARAM", "membership must be join, leave or knock");
        return NULL;
    }
    if (!room_id || !user_id || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, NULL) < 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "'%.100s' is not a user ID", user_id ? user_id : "(null)");
        return NULL;
    }
    if (!rooms_user_on(user_id, origin)) {
        mxr_err_set(err, "M_FORBIDDEN", "user %.100s is not a user of the requesting server %.100s", user_id,
                    origin ? origin : "(null)");
        return NULL;
    }
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(r->store, &txn, err) < 0)
        return NULL;
    struct evcache c;
    evc_init(&c, txn);
    json_t *resp = make_in_txn(r, &c, room_id, user_id, membership, ver, n_ver, room_version_out, err);
    evc_free(&c);
    mxr_store_read_end(txn);
    return resp;
}

/* ---- send_join / send_leave / send_knock ----------------------------------- */

/* The stripped-state types offered to knockers and invitees (client-server
 * "Stripped state": the recommended set). */
static const char *const STRIPPED_TYPES[] = {
    "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias",
    "m.room.encryption", "m.room.topic",
};

static json_t *knock_room_state(struct mxr_store_txn *txn, const char *room_id, struct mxr_err *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < sizeof STRIPPED_TYPES / sizeof STRIPPED_TYPES[0]; i++) {
        char id[MXR_ID_MAX + 1];
        int rc = mxr_store_room_current_get(txn, room_id, STRIPPED_TYPES[i], "", id, err);
        if (rc < 0) {
            json_decref(arr);
            return NULL;
        }
        if (rc)
            continue;
        json_t *pdu = rooms_stored_pdu(txn, id, err);
        if (!pdu || json_array_append_new(arr, pdu)) {
            json_decref(arr);
            return NULL;
        }
    }
    if (!arr)
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
    return json_pack("{s:o}", "knock_room_state", arr);
}

struct member_entry {
    char id[MXR_ID_MAX + 1];
    char user[MXR_ID_MAX + 1];
    uint64_t stream;
};

struct join_state {
    struct mxr_store_txn *txn;
    const char *joiner;
    json_t *ids;                 /* state event IDs, in the group's order */
    json_t *servers;             /* set of servers with joined members */
    struct member_entry *heroes; /* joined or invited members but the joiner */
    size_t n_heroes, cap_heroes;
    bool has_name;
    struct mxr_err *err;
    int rc;
};

static int join_state_cb(void *arg, const char *type, const char *state_key, const char *event_id)
{
    struct join_state *js = arg;
    if (!strcmp(type, "m.room.name") || !strcmp(type, "m.room.canonical_alias"))
        js->has_name = true;
    if (json_array_append_new(js->ids, json_string(event_id)))
        goto oom;
    if (strcmp(type, "m.room.member") != 0)
        return 0;
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(js->txn, event_id, &meta, js->err);
    if (rc) {
        js->rc = rc < 0 ? -1 : mxr_err_set(js->err, "M_UNKNOWN", "state event %.100s not stored", event_id);
        return 1;
    }
    bool joined = strcmp(meta.membership, "join") == 0;
    if (joined) {
        const char *d = mxr_id_domain(state_key);
        if (d && json_object_set_new(js->servers, d, json_true()))
            goto oom;
    }
    if ((joined || !strcmp(meta.membership, "invite")) && strcmp(state_key, js->joiner) != 0) {
        if (js->n_heroes == js->cap_heroes) {
            size_t cap = js->cap_heroes ? js->cap_heroes * 2 : 16;
            struct member_entry *nh = realloc(js->heroes, cap * sizeof *nh);
            if (!nh)
                goto oom;
            js->heroes = nh;
            js->cap_heroes = cap;
        }
        struct member_entry *h = &js->heroes[js->n_heroes++];
        snprintf(h->id, sizeof h->id, "%s", event_id);
        snprintf(h->user, sizeof h->user, "%s", state_key);
        h->stream = meta.stream;
    }
    return 0;
oom:
    js->rc = mxr_err_set(js->err, "M_UNKNOWN", "out of memory");
    return 1;
}

static int cmp_hero(const void *a, const void *b)
{
    const struct member_entry *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return strcmp(x->user, y->user);
}

#define HEROES_MAX 5   /* client-server /sync m.heroes: up to 5 members */

/* The send_join response (joins-v2.yaml): the state before the join, the
 * auth chain of the join and of the state returned, the join as we stored
 * it; with omit_members, member events are left out of `state` except the
 * room's heroes when it has no name or canonical alias, events already in
 * `state` are left out of `auth_chain`, and servers_in_room lists the
 * servers with joined members before the join. */
static json_t *send_join_response(struct mxr_store_txn *txn, const char *join_id, const char *joiner, bool omit,
                                  struct mxr_err *err)
{
    uint64_t before, after;
    int rc = mxr_store_event_state(txn, join_id, &before, &after, err);
    if (rc) {
        if (rc == MXR_STORE_NOT_FOUND)
            mxr_err_set(err, "M_UNKNOWN", "the accepted join %.100s has no state", join_id);
        return NULL;
    }
    struct join_state js = {.txn = txn, .joiner = joiner, .ids = json_array(), .servers = json_object(),
                            .err = err};
    json_t *state = json_array(), *chain = json_array(), *in_state = json_object(), *resp = NULL;
    const char **seeds = NULL;
    if (!js.ids || !js.servers || !state || !chain || !in_state) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    if (before && (mxr_store_state_all(txn, before, join_state_cb, &js, err) < 0 || js.rc))
        goto out;
    qsort(js.heroes, js.n_heroes, sizeof *js.heroes, cmp_hero);
    json_t *heroes = json_object();
    for (size_t i = 0; heroes && !js.has_name && i < js.n_heroes && i < HEROES_MAX; i++)
        json_object_set_new(heroes, js.heroes[i].id, json_true());
    size_t n = json_array_size(js.ids), k = 0;
    seeds = malloc((n + 1) * sizeof *seeds);
    if (!heroes || !seeds) {
        json_decref(heroes);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(js.ids, i));
        if (omit) {
            struct mxr_store_event_meta meta;
            if (mxr_store_event_meta(txn, id, &meta, err) != 0) {
                json_decref(heroes);
                goto out;
            }
            if (!strcmp(meta.type, "m.room.member") && !json_object_get(heroes, id))
                continue;
        }
        json_t *pdu = rooms_stored_pdu(txn, id, err);
        if (!pdu || json_array_append_new(state, pdu)) {
            json_decref(heroes);
            goto out;
        }
        json_object_set_new(in_state, id, json_true());
        seeds[k++] = id;
    }
    json_decref(heroes);
    seeds[k++] = join_id;
    if (views_auth_chain_into(txn, seeds, k, true, omit ? in_state : NULL, chain, err) < 0)
        goto out;
    json_t *event = rooms_stored_pdu(txn, join_id, err);
    if (!event)
        goto out;
    resp = json_pack("{s:O, s:O, s:o}", "state", state, "auth_chain", chain, "event", event);
    if (resp && omit) {
        json_t *servers = json_array();
        const char *name;
        json_t *v;
        json_object_foreach(js.servers, name, v) {
            json_array_append_new(servers, json_string(name));
        }
        json_object_set_new(resp, "members_omitted", json_true());
        json_object_set_new(resp, "servers_in_room", servers);
    }
    if (!resp)
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
out:
    free(seeds);
    free(js.heroes);
    json_decref(js.ids);
    json_decref(js.servers);
    json_decref(state);
    json_decref(chain);
    json_decref(in_state);
    return resp;
}

/* The checks joins-v2.yaml, leaving-v2.yaml and knocks.yaml ask for
 * (M_INVALID_PARAM): the event is an m.room.member of the expected
 * membership, for the path's room and event ID, sent by a user of the
 * origin for themselves. */
static int check_membership_event(const struct mxr_event *ev, const char *origin, const char *room_id,
                                  const char *event_id, const char *membership, struct mxr_err *err)
{
    if (strcmp(ev->event_id, event_id) != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "the event's ID is %.100s, not %.100s as in the path",
                           ev->event_id, event_id);
    if (strcmp(rooms_room_of(ev), room_id) != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "the event is for room %.100s, not %.100s as in the path",
                           rooms_room_of(ev), room_id);
    if (strcmp(ev->type, "m.room.member") != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "the event type is %.100s, not m.room.member", ev->type);
    const char *m = mxr_event_content_str(ev, "membership");
    if (!m || strcmp(m, membership) != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "content.membership is '%.40s', not '%s'", m ? m : "(none)",
                           membership);
    if (!rooms_user_on(ev->sender, origin))
        return mxr_err_set(err, "M_INVALID_PARAM", "the sender %.100s is not a user of %.100s", ev->sender, origin);
    if (!ev->state_key || strcmp(ev->state_key, ev->sender) != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "state_key must equal the sender %.100s", ev->sender);
    return 0;
}

/* A restricted join authorised by one of our users: we check it and sign
 * it before it is persisted or sent anywhere (joins-v2.yaml). */
static int sign_restricted_join(struct mxr_rooms *r, const struct mxr_room_version *rv, json_t *pdu,
                                const struct mxr_event *ev, struct mxr_err *err)
{
    struct mxr_err e = {0};
    if (mxr_pdu_check_hash(pdu, &e) != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "the join's content hash does not match: %s", e.msg);
    const char *sender_server = mxr_id_domain(ev->sender);
    if (mxr_pdu_check_server_signature(pdu, rv, sender_server, &r->keys, &e) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "the join fails the signature check of %.100s: %s",
                           sender_server, e.msg);
    const char *room_id = rooms_room_of(ev);
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(r->store, &txn, err) < 0)
        return -1;
    struct evcache c;
    evc_init(&c, txn);
    struct sview cur = {0};
    const struct mxr_event *jr;
    bool needs = false;
    int rc = mxr_store_room_current(txn, room_id, &cur.group, err);
    if (rc == 0)
        rc = needs_authoriser(&c, &cur, rv, ev->sender, &jr, &needs, err);
    if (rc == 0 && needs)
        rc = restricted_allow(txn, jr, ev->sender, err);
    evc_free(&c);
    mxr_store_read_end(txn);
    if (rc < 0)
        return -1;
    return mxr_pdu_sign(pdu, rv, r->server_name, &r->key, err);
}

json_t *mxr_rooms_send_membership(struct mxr_rooms *r, const char *origin, const char *room_id,
                                  const char *event_id, const char *membership, json_t *pdu,
                                  const struct mxr_rooms_send_membership_opts *opts, struct mxr_err *err)
{
    if (!known_membership(membership) || !origin || !room_id || !event_id) {
        mxr_err_set(err, "M_INVALID_PARAM", "send_%s: bad arguments", membership ? membership : "(null)");
        return NULL;
    }
    if (!json_is_object(pdu)) {
        mxr_err_set(err, "M_BAD_JSON", "the request body must be the signed membership event");
        return NULL;
    }
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(r->store, &txn, err) < 0)
        return NULL;
    const struct mxr_room_version *rv;
    int rc = rooms_room_version(txn, room_id, &rv, err);
    mxr_store_read_end(txn);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_NOT_FOUND", "room %.100s is not known to this server", room_id);
    if (rc)
        return NULL;

    struct mxr_err e = {0};
    if (mxr_pdu_check_format(pdu, rv, 0, &e) < 0) {
        mxr_err_set(err, e.errcode ? e.errcode : "M_BAD_JSON", "not a valid event for room version %s: %s", rv->id,
                    e.msg);
        return NULL;
    }
    json_t *copy = json_deep_copy(pdu);
    struct mxr_event ev;
    if (!copy || mxr_event_load(&ev, copy, rv, 0, err) < 0) {
        json_decref(copy);
        return NULL;
    }
    json_t *resp = NULL;
    if (check_membership_event(&ev, origin, room_id, event_id, membership, err) < 0)
        goto out;
    const char *authoriser = mxr_event_content_str(&ev, "join_authorised_via_users_server");
    if (!strcmp(membership, "join") && rv->restricted_join_rule && authoriser &&
        rooms_user_on(authoriser, r->server_name) && sign_restricted_join(r, rv, copy, &ev, err) < 0)
        goto out;

    struct mxr_pdu_result res;
    if (mxr_rooms_ingest_pdus(r, origin, &copy, 1, 0, &res, err) < 0)
        goto out;
    if (res.outcome != MXR_PDU_ACCEPTED) {
        mxr_err_set(err, res.outcome == MXR_PDU_DROPPED ? "M_INVALID_PARAM" : "M_FORBIDDEN",
                    "the %s was not accepted (%s at %s): %s", membership, mxr_rooms_outcome_name(res.outcome),
                    mxr_rooms_phase_name(res.phase), res.reason);
        goto out;
    }
    if (mxr_store_read_begin(r->store, &txn, err) < 0)
        goto out;
    if (!strcmp(membership, "join"))
        resp = send_join_response(txn, ev.event_id, ev.sender, opts && opts->omit_members, err);
    else if (!strcmp(membership, "knock"))
        resp = knock_room_state(txn, room_id, err);
    else if (!(resp = json_object()))
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
    mxr_store_read_end(txn);
out:
    mxr_event_release(&ev);
    json_decref(copy);
    return resp;
}
