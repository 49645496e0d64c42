/* The event graph state resolution walks: events loaded once by ID, auth
 * edges as indices, interned state keys, and the per-event facts every
 * algorithm needs (the sender's power level from the event's own auth
 * events, the auth-rule lookup of "iterative auth checks"). */
#include "stateres_int.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/auth.h"

/* ---- string-pair hash map ---------------------------------------------- */

static uint64_t map_hash(const struct sr_map *m, const char *a, const char *b)
{
    uint64_t ha, hb = 0x5bd1e9955bd1e995ULL;
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)a, strlen(a), m->key);
    memcpy(&ha, out, sizeof ha);
    if (b) {
        crypto_shorthash(out, (const unsigned char *)b, strlen(b), m->key);
        memcpy(&hb, out, sizeof hb);
    }
    return ha ^ (hb * 0x9e3779b97f4a7c15ULL + 0x7f4a7c159e3779b9ULL);
}

static bool map_eq(const struct sr_map_slot *s, uint64_t h, const char *a, const char *b)
{
    if (s->hash != h || strcmp(s->a, a) != 0)
        return false;
    if (!s->b || !b)
        return s->b == b;
    return strcmp(s->b, b) == 0;
}

int sr_map_init(struct sr_map *m, size_t hint, struct mxr_err *err)
{
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium initialisation failed");
    size_t cap = 16;
    while (cap < hint * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    m->cap = cap;
    m->len = 0;
    crypto_shorthash_keygen(m->key);
    return 0;
}

void sr_map_free(struct sr_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}

int32_t sr_map_get(const struct sr_map *m, const char *a, const char *b)
{
    if (!m->slots || !a)
        return SR_NONE;
    uint64_t h = map_hash(m, a, b);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const struct sr_map_slot *s = &m->slots[i];
        if (!s->a)
            return SR_NONE;
        if (map_eq(s, h, a, b))
            return s->value;
    }
}

static void map_insert_slot(struct sr_map_slot *slots, size_t cap, const struct sr_map_slot *src)
{
    size_t i = src->hash & (cap - 1);
    while (slots[i].a)
        i = (i + 1) & (cap - 1);
    slots[i] = *src;
}

int sr_map_put(struct sr_map *m, const char *a, const char *b, int32_t value, struct mxr_err *err)
{
    uint64_t h = map_hash(m, a, b);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct sr_map_slot *s = &m->slots[i];
        if (!s->a)
            break;
        if (map_eq(s, h, a, b)) {
            s->value = value;
            return 0;
        }
    }
    if ((m->len + 1) * 2 > m->cap) {    /* keep the load factor at most 1/2 */
        size_t cap = m->cap * 2;
        struct sr_map_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].a)
                map_insert_slot(slots, cap, &m->slots[i]);
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    struct sr_map_slot s = { .a = a, .b = b, .hash = h, .value = value };
    map_insert_slot(m->slots, m->cap, &s);
    m->len++;
    return 0;
}

/* ---- graph -------------------------------------------------------------- */

int sr_graph_init(struct sr_graph *g, const struct mxr_room_version *rv, mxr_event_fetch_fn fetch,
                  void *ctx, size_t hint, struct mxr_err *err)
{
    memset(g, 0, sizeof *g);
    g->rv = rv;
    g->fetch = fetch;
    g->fetch_ctx = ctx;
    g->room_create = SR_NONE;
    if (sr_map_init(&g->ids, hint, err) != 0)
        return -1;
    if (sr_map_init(&g->keymap, hint, err) != 0) {
        sr_map_free(&g->ids);
        return -1;
    }
    return 0;
}

void sr_graph_free(struct sr_graph *g)
{
    free(g->nodes);
    free(g->edges);
    free(g->keys);
    free(g->stack);
    sr_map_free(&g->ids);
    sr_map_free(&g->keymap);
    memset(g, 0, sizeof *g);
}

uint32_t sr_graph_stamp(struct sr_graph *g)
{
    if (++g->stamp == 0) {      /* wrapped: forget every old mark */
        for (size_t i = 0; i < g->n_nodes; i++)
            g->nodes[i].mark = 0;
        g->stamp = 1;
    }
    return g->stamp;
}

int sr_stack_reserve(struct sr_graph *g, size_t n, struct mxr_err *err)
{
    if (n <= g->cap_stack)
        return 0;
    size_t cap = g->cap_stack ? g->cap_stack : 256;
    while (cap < n)
        cap *= 2;
    int32_t *s = realloc(g->stack, cap * sizeof *s);
    if (!s)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    g->stack = s;
    g->cap_stack = cap;
    return 0;
}

int32_t sr_key_find(const struct sr_graph *g, const char *type, const char *state_key)
{
    return sr_map_get(&g->keymap, type, state_key);
}

int32_t sr_key_intern(struct sr_graph *g, const char *type, const char *state_key, struct mxr_err *err)
{
    int32_t k = sr_map_get(&g->keymap, type, state_key);
    if (k >= 0)
        return k;
    if (g->n_keys >= INT32_MAX)
        return mxr_err_set(err, "M_UNKNOWN", "too many state keys");
    if (g->n_keys == g->cap_keys) {
        size_t cap = g->cap_keys ? g->cap_keys * 2 : 256;
        struct sr_key *keys = realloc(g->keys, cap * sizeof *keys);
        if (!keys)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        g->keys = keys;
        g->cap_keys = cap;
    }
    k = (int32_t)g->n_keys;
    if (sr_map_put(&g->keymap, type, state_key, k, err) != 0)
        return -1;
    g->keys[g->n_keys++] = (struct sr_key){ type, state_key };
    return k;
}

static const char *event_room(const struct mxr_event *ev)
{
    return ev->room_id ? ev->room_id : ev->room_id_buf;
}

/* Fetches `id` and appends its node (auth edges still unresolved). */
static int32_t add_node(struct sr_graph *g, const char *id, const char *what, const char *referrer,
                        struct mxr_err *err)
{
    const struct mxr_event *ev = g->fetch(g->fetch_ctx, id);
    if (!ev) {
        if (referrer)
            return mxr_err_set(err, "M_NOT_FOUND", "event %.100s (auth event of %.100s) is unknown",
                               id, referrer);
        return mxr_err_set(err, "M_NOT_FOUND", "event %.100s (%.150s) is unknown", id, what);
    }
    if (strcmp(ev->event_id, id) != 0)
        return mxr_err_set(err, "M_BAD_JSON", "fetching %.100s returned event %.100s", id, ev->event_id);
    const char *room = event_room(ev);
    if (!g->room_id)
        g->room_id = room;
    else if (strcmp(room, g->room_id) != 0)
        return mxr_err_set(err, "M_BAD_JSON", "event %.100s is in room %.80s, not %.80s", id, room,
                           g->room_id);
    if (g->n_nodes >= INT32_MAX)
        return mxr_err_set(err, "M_UNKNOWN", "too many events");
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 1024;
        struct sr_node *nodes = realloc(g->nodes, cap * sizeof *nodes);
        if (!nodes)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    int32_t key = SR_NONE;
    if (ev->state_key && (key = sr_key_intern(g, ev->type, ev->state_key, err)) < 0)
        return -1;
    int32_t n = (int32_t)g->n_nodes;
    if (sr_map_put(&g->ids, ev->event_id, NULL, n, err) != 0)
        return -1;
    g->nodes[g->n_nodes++] = (struct sr_node){ .ev = ev, .key = key, .pl_auth = SR_NONE, .aux = SR_NONE };
    return n;
}

static bool is_type(const struct mxr_event *ev, const char *type)
{
    return ev->state_key && ev->state_key[0] == '\0' && strcmp(ev->type, type) == 0;
}

int32_t sr_graph_load(struct sr_graph *g, const char *id, const char *what, struct mxr_err *err)
{
    int32_t n = sr_map_get(&g->ids, id, NULL);
    if (n >= 0)
        return n;
    if ((n = add_node(g, id, what, NULL, err)) < 0)
        return -1;
    /* Worklist of nodes whose auth edges are unresolved; every node enters
     * it once, when added, so this is linear in the auth graph. */
    if (sr_stack_reserve(g, 1, err) != 0)
        return -1;
    size_t depth = 0;
    g->stack[depth++] = n;
    while (depth) {
        int32_t cur = g->stack[--depth];
        const struct mxr_event *ev = g->nodes[cur].ev;
        if (g->n_edges + ev->n_auth_events > g->cap_edges) {
            size_t cap = g->cap_edges ? g->cap_edges : 4096;
            while (cap < g->n_edges + ev->n_auth_events)
                cap *= 2;
            int32_t *edges = realloc(g->edges, cap * sizeof *edges);
            if (!edges)
                return mxr_err_set(err, "M_UNKNOWN", "out of memory");
            g->edges = edges;
            g->cap_edges = cap;
        }
        if (g->n_edges + ev->n_auth_events > UINT32_MAX)
            return mxr_err_set(err, "M_UNKNOWN", "too many auth edges");
        g->nodes[cur].auth_off = (uint32_t)g->n_edges;
        g->nodes[cur].n_auth = 0;
        g->n_edges += ev->n_auth_events;
        for (size_t i = 0; i < ev->n_auth_events; i++) {
            int32_t a = sr_map_get(&g->ids, ev->auth_events[i], NULL);
            if (a < 0) {
                if ((a = add_node(g, ev->auth_events[i], NULL, ev->event_id, err)) < 0)
                    return -1;
                if (sr_stack_reserve(g, depth + 1, err) != 0)
                    return -1;
                g->stack[depth++] = a;
            }
            g->edges[g->nodes[cur].auth_off + g->nodes[cur].n_auth++] = a;
            /* Spec "mainline ordering": "the m.room.power_levels event in the
             * auth_events"; the first one counts if a broken event lists two. */
            if (g->nodes[cur].pl_auth == SR_NONE && is_type(g->nodes[a].ev, "m.room.power_levels"))
                g->nodes[cur].pl_auth = a;
        }
    }
    return n;
}

void sr_graph_seal(struct sr_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i].auth = g->edges ? g->edges + g->nodes[i].auth_off : NULL;
}

/* ---- per-event facts ---------------------------------------------------- */

int32_t sr_create_of(struct sr_graph *g, int32_t node)
{
    const struct sr_node *nd = &g->nodes[node];
    for (uint32_t i = 0; i < nd->n_auth; i++)
        if (is_type(g->nodes[nd->auth[i]].ev, "m.room.create"))
            return nd->auth[i];
    if (g->rv->room_id_is_create_hash)
        return g->room_create;
    return SR_NONE;
}

int64_t sr_sender_power(struct sr_graph *g, int32_t node)
{
    /* Spec: the sender's power level "when looking at their respective
     * auth_events": the auth events' power levels and create events (v12:
     * the create event the room ID names), read by the auth rules' own
     * definition (creators, users, users_default, defaults). */
    const struct mxr_event *ev = g->nodes[node].ev;
    int32_t create = sr_create_of(g, node), pl = g->nodes[node].pl_auth;
    return mxr_auth_user_level(g->rv, create == SR_NONE ? NULL : g->nodes[create].ev,
                               pl == SR_NONE ? NULL : g->nodes[pl].ev, ev->sender);
}

const struct mxr_event *sr_lookup(void *vctx, const char *type, const char *state_key)
{
    const struct sr_lookup_ctx *c = vctx;
    struct sr_graph *g = c->g;
    if (!type || !state_key)
        return NULL;
    int32_t k = sr_key_find(g, type, state_key);
    if (k >= 0 && c->state && c->state[k] != SR_NONE)
        return g->nodes[c->state[k]].ev;
    if (!c->fallback_auth)
        return NULL;
    /* Spec "iterative auth checks": a key missing from the state is taken
     * from the event's own auth events. */
    const struct sr_node *nd = &g->nodes[c->node];
    if (k >= 0)
        for (uint32_t i = 0; i < nd->n_auth; i++)
            if (g->nodes[nd->auth[i]].key == k)
                return g->nodes[nd->auth[i]].ev;
    /* v12: the create event is implied by the room ID, never listed. */
    if (g->rv->room_id_is_create_hash && g->room_create != SR_NONE && strcmp(type, "m.room.create") == 0 &&
        state_key[0] == '\0')
        return g->nodes[g->room_create].ev;
    return NULL;
}

int sr_auth_allows(struct sr_graph *g, const int32_t *state, int32_t node, bool fallback_auth)
{
    struct sr_lookup_ctx c = { .g = g, .state = state, .node = node, .fallback_auth = fallback_auth };
    /* The join_authorised_via_users_server signature rule is a signature
     * check, done when the event was accepted; it does not depend on state. */
    static const struct mxr_auth_opts opts = { .skip_server_signatures = true };
    struct mxr_err e = {0};
    return mxr_auth_check_opts(g->rv, g->nodes[node].ev, sr_lookup, &c, &opts, &e) == 0;
}

json_t *sr_state_to_json(const struct sr_graph *g, const int32_t *state, struct mxr_err *err)
{
    json_t *out = json_object();
    if (!out)
        goto oom;
    for (size_t k = 0; k < g->n_keys; k++) {
        if (state[k] == SR_NONE)
            continue;
        json_t *by_type = json_object_get(out, g->keys[k].type);
        if (!by_type) {
            by_type = json_object();
            if (!by_type || json_object_set_new(out, g->keys[k].type, by_type) != 0)
                goto oom;
        }
        if (json_object_set_new(by_type, g->keys[k].state_key, json_string(g->nodes[state[k]].ev->event_id)) != 0)
            goto oom;
    }
    return out;
oom:
    json_decref(out);
    mxr_err_set(err, "M_UNKNOWN", "out of memory");
    return NULL;
}
