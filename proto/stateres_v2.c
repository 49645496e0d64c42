/* State resolution v2 (room versions 2-11, spec rooms/fragments/v2-state-res.md)
 * and v2.1 (room version 12, spec rooms/v12.md "State resolution", MSC4297).
 *
 * v2.1 differs in exactly three places, each marked "v2.1" below: the
 * conflicted state subgraph, its inclusion in the full conflicted set, and
 * the empty state map the first iterative auth checks start from.
 */
#include <stdlib.h>
#include <string.h>

#include "stateres_int.h"

/* Growable int32 list. */
struct ilist {
    int32_t *v;
    size_t n, cap;
};

static int ilist_push(struct ilist *l, int32_t x, struct mxr_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

/* Spec "Power events": m.room.power_levels, m.room.join_rules, or an
 * m.room.member leave/ban whose sender is not its state_key. */
static bool is_power_event(const struct mxr_event *ev)
{
    if (!ev->state_key)
        return false;
    if (strcmp(ev->type, "m.room.power_levels") == 0 || strcmp(ev->type, "m.room.join_rules") == 0)
        return true;
    if (strcmp(ev->type, "m.room.member") != 0)
        return false;
    const char *m = json_string_value(json_object_get(ev->content, "membership"));
    return m && (strcmp(m, "leave") == 0 || strcmp(m, "ban") == 0) && strcmp(ev->sender, ev->state_key) != 0;
}

/* Marks (stamp) every event in the auth chain of `from` — its auth events,
 * theirs, and so on, not `from` itself unless a cycle leads back to it — and
 * calls visit(node) once per newly marked node. */
static int walk_auth_chain(struct sr_graph *g, int32_t from, uint32_t stamp,
                           void (*visit)(struct sr_graph *, int32_t, void *), void *arg, struct mxr_err *err)
{
    size_t depth = 0;
    const struct sr_node *f = &g->nodes[from];
    if (sr_stack_reserve(g, f->n_auth, err) != 0)
        return -1;
    for (uint32_t i = 0; i < f->n_auth; i++)
        g->stack[depth++] = f->auth[i];
    while (depth) {
        int32_t v = g->stack[--depth];
        struct sr_node *nd = &g->nodes[v];
        if (nd->mark == stamp)
            continue;
        nd->mark = stamp;
        visit(g, v, arg);
        if (sr_stack_reserve(g, depth + nd->n_auth, err) != 0)
            return -1;
        for (uint32_t i = 0; i < nd->n_auth; i++)
            if (g->nodes[nd->auth[i]].mark != stamp)
                g->stack[depth++] = nd->auth[i];
    }
    return 0;
}

static void count_visit(struct sr_graph *g, int32_t v, void *arg)
{
    (void)arg;
    g->nodes[v].count++;
}

/* Spec "Auth difference": with C_i the union of the auth chains of the
 * events of S_i, the events in some but not all C_i. An auth chain holds an
 * event's auth events, recursively, not the event itself ("Auth chain"), so
 * an unconflicted event that only some sets' events cite is in the
 * difference (Synapse counts each state event in its own set's chain and
 * leaves such events out; the results differ only through the ordering and,
 * in v2.1, the replay of those events). One walk per state set with a fresh
 * stamp counts how many C_i hold each event. */
static int auth_difference(struct sr_graph *g, const struct sr_set *sets, size_t n_sets, struct mxr_err *err)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i].count = 0;
    for (size_t s = 0; s < n_sets; s++) {
        uint32_t stamp = sr_graph_stamp(g);
        for (size_t e = 0; e < sets[s].n; e++)
            if (walk_auth_chain(g, sets[s].entries[e].node, stamp, count_visit, NULL, err) != 0)
                return -1;
    }
    return 0;
}

/* v2.1, spec rooms/v12.md "Conflicted state subgraph": every event on an
 * auth_events path between two conflicted events, endpoints included. An
 * event lies on such a path iff it is reached from a conflicted event and
 * itself reaches one; `aux` holds "reaches a conflicted event through its
 * auth events", computed in post-order over the ancestors of the conflicted
 * set. */
static int conflicted_subgraph(struct sr_graph *g, const struct ilist *conflicted, size_t *n_out,
                               struct mxr_err *err)
{
    if (g->n_nodes >= (size_t)1 << 30)      /* node*2+1 must fit the int32 stack */
        return mxr_err_set(err, "M_UNKNOWN", "too many events for the conflicted state subgraph");
    uint32_t stamp = sr_graph_stamp(g);
    size_t depth = 0, n = 0;
    for (size_t c = 0; c < conflicted->n; c++) {
        if (g->nodes[conflicted->v[c]].mark == stamp)
            continue;
        if (sr_stack_reserve(g, 1, err) != 0)
            return -1;
        g->stack[depth++] = conflicted->v[c] * 2;     /* node*2 + phase */
        while (depth) {
            int32_t top = g->stack[--depth];
            int32_t v = top / 2;
            struct sr_node *nd = &g->nodes[v];
            if (top % 2 == 0) {
                if (nd->mark == stamp)
                    continue;
                nd->mark = stamp;
                nd->aux = 0;
                if (sr_stack_reserve(g, depth + 1 + nd->n_auth, err) != 0)
                    return -1;
                g->stack[depth++] = v * 2 + 1;
                for (uint32_t i = 0; i < nd->n_auth; i++)
                    if (g->nodes[nd->auth[i]].mark != stamp)
                        g->stack[depth++] = nd->auth[i] * 2;
                continue;
            }
            /* Post-order: every auth event is done (or, in a malformed
             * cyclic graph, in progress with aux 0). */
            int32_t reaches = 0;
            for (uint32_t i = 0; i < nd->n_auth && !reaches; i++) {
                const struct sr_node *a = &g->nodes[nd->auth[i]];
                reaches = (a->flags & SR_F_CONFLICTED) || a->aux == 1;
            }
            nd->aux = reaches;
            if ((nd->flags & SR_F_CONFLICTED) || reaches) {
                nd->flags |= SR_F_SUBGRAPH;
                n++;
            }
        }
    }
    *n_out = n;
    return 0;
}

static void mark_power_set(struct sr_graph *g, int32_t v, void *arg)
{
    size_t *n = arg;
    struct sr_node *nd = &g->nodes[v];
    if ((nd->flags & SR_F_FULL) && !(nd->flags & SR_F_POWER_SET)) {
        nd->flags |= SR_F_POWER_SET;
        (*n)++;
    }
}

/* Spec "reverse topological power ordering", comparison: greater sender
 * power first, then smaller origin_server_ts, then smaller event ID. */
static int power_cmp(const struct sr_graph *g, int32_t a, int32_t b)
{
    const struct sr_node *x = &g->nodes[a], *y = &g->nodes[b];
    if (x->power != y->power)
        return x->power > y->power ? -1 : 1;
    if (x->ev->origin_server_ts != y->ev->origin_server_ts)
        return x->ev->origin_server_ts < y->ev->origin_server_ts ? -1 : 1;
    return strcmp(x->ev->event_id, y->ev->event_id);
}

static void heap_push(const struct sr_graph *g, int32_t *heap, size_t *n, int32_t v)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (power_cmp(g, heap[p], v) <= 0)
            break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i] = v;
}

static int32_t heap_pop(const struct sr_graph *g, int32_t *heap, size_t *n)
{
    int32_t top = heap[0], last = heap[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && power_cmp(g, heap[c + 1], heap[c]) < 0)
            c++;
        if (power_cmp(g, last, heap[c]) <= 0)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (*n)
        heap[i] = last;
    return top;
}

/* Sorts X (nodes flagged SR_F_POWER_SET, listed in xs) by the reverse
 * topological power ordering: Kahn's algorithm over the auth DAG restricted
 * to X, taking the smallest candidate at every step (one global heap).
 * X's order comes from the auth DAG, so an event follows every member of
 * X in its auth chain even when the path passes outside X: each event's
 * predecessors are the nearest members of X along its auth edges. */
static int power_sort(struct sr_graph *g, struct ilist *xs, struct mxr_err *err)
{
    size_t nx = xs->n;
    int rc = -1;
    uint32_t *indeg = calloc(nx ? nx : 1, sizeof *indeg);
    size_t *first = calloc(nx + 1, sizeof *first);
    int32_t *heap = malloc((nx ? nx : 1) * sizeof *heap);
    int32_t *out = malloc((nx ? nx : 1) * sizeof *out);
    struct ilist edge_from = {0}, edge_to = {0};
    int32_t *succ = NULL;
    if (!indeg || !first || !heap || !out) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nx; i++) {
        g->nodes[xs->v[i]].aux = (int32_t)i;
        g->nodes[xs->v[i]].power = sr_sender_power(g, xs->v[i]);
    }
    for (size_t i = 0; i < nx; i++) {
        uint32_t stamp = sr_graph_stamp(g);
        const struct sr_node *x = &g->nodes[xs->v[i]];
        size_t depth = 0;
        if (sr_stack_reserve(g, x->n_auth, err) != 0)
            goto done;
        for (uint32_t a = 0; a < x->n_auth; a++)
            g->stack[depth++] = x->auth[a];
        while (depth) {
            struct sr_node *nd = &g->nodes[g->stack[--depth]];
            if (nd->mark == stamp)
                continue;
            nd->mark = stamp;
            if (nd->flags & SR_F_POWER_SET) {
                if (ilist_push(&edge_from, nd->aux, err) != 0 || ilist_push(&edge_to, (int32_t)i, err) != 0)
                    goto done;
                continue;
            }
            if (sr_stack_reserve(g, depth + nd->n_auth, err) != 0)
                goto done;
            for (uint32_t a = 0; a < nd->n_auth; a++)
                g->stack[depth++] = nd->auth[a];
        }
    }
    /* Successor lists, grouped by predecessor (counting sort). */
    size_t ne = edge_from.n;
    succ = malloc((ne ? ne : 1) * sizeof *succ);
    if (!succ) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    for (size_t e = 0; e < ne; e++) {
        first[edge_from.v[e] + 1]++;
        indeg[edge_to.v[e]]++;
    }
    for (size_t i = 0; i < nx; i++)
        first[i + 1] += first[i];
    {
        size_t *fill = calloc(nx ? nx : 1, sizeof *fill);
        if (!fill) {
            mxr_err_set(err, "M_UNKNOWN", "out of memory");
            goto done;
        }
        for (size_t e = 0; e < ne; e++) {
            int32_t p = edge_from.v[e];
            succ[first[p] + fill[p]++] = edge_to.v[e];
        }
        free(fill);
    }
    size_t nh = 0, no = 0;
    for (size_t i = 0; i < nx; i++)
        if (indeg[i] == 0)
            heap_push(g, heap, &nh, xs->v[i]);
    while (nh) {
        int32_t v = heap_pop(g, heap, &nh);
        out[no++] = v;
        int32_t i = g->nodes[v].aux;
        for (size_t e = first[i]; e < first[i + 1]; e++)
            if (--indeg[succ[e]] == 0)
                heap_push(g, heap, &nh, xs->v[succ[e]]);
    }
    if (no != nx) {
        mxr_err_set(err, "M_BAD_JSON", "the auth_events of the conflicted power events form a cycle");
        goto done;
    }
    if (nx)
        memcpy(xs->v, out, nx * sizeof *out);
    rc = 0;
done:
    free(indeg);
    free(first);
    free(heap);
    free(out);
    free(succ);
    free(edge_from.v);
    free(edge_to.v);
    return rc;
}

/* Spec "iterative auth checks": each state event that passes the auth rules
 * against the state so far (keys missing from it taken from the event's own
 * auth events) replaces its key; the others are ignored. */
static void iterative_auth_checks(struct sr_graph *g, int32_t *state, const int32_t *events, size_t n,
                                  size_t *rejected)
{
    for (size_t i = 0; i < n; i++) {
        int32_t v = events[i];
        if (g->nodes[v].key == SR_NONE)
            continue;
        if (sr_auth_allows(g, state, v, true))
            state[g->nodes[v].key] = v;
        else
            (*rejected)++;
    }
}

#define POS_INFINITE INT64_MAX

struct mainline_item {
    int64_t pos;
    int64_t ts;
    const char *id;
    int32_t node;
};

/* Spec "mainline ordering": greater mainline position first, then smaller
 * origin_server_ts, then smaller event ID. */
static int mainline_cmp(const void *pa, const void *pb)
{
    const struct mainline_item *a = pa, *b = pb;
    if (a->pos != b->pos)
        return a->pos > b->pos ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* Sorts `events` by the mainline ordering based on power levels event `pl`
 * (SR_NONE: no power levels event, so every position is infinite). A PL
 * event's position counts itself: memo[p] is the index in the mainline of
 * the first of p, p's PL auth event, ... found in it. The position of e is
 * that of e's own PL auth event, since e_0 = e itself is not in its list. */
static int mainline_sort(struct sr_graph *g, int32_t pl, int32_t *events, size_t n, struct mxr_err *err)
{
    int rc = -1;
    int64_t *memo = malloc((g->n_nodes ? g->n_nodes : 1) * sizeof *memo);
    struct mainline_item *items = malloc((n ? n : 1) * sizeof *items);
    if (!memo || !items) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        memo[i] = -1;
    /* The mainline P_0, P_1, ... P_n. The stamp stops at a (malformed) cycle. */
    uint32_t stamp = sr_graph_stamp(g);
    int64_t i = 0;
    for (int32_t p = pl; p != SR_NONE && g->nodes[p].mark != stamp; p = g->nodes[p].pl_auth) {
        g->nodes[p].mark = stamp;
        memo[p] = i++;
    }
    uint32_t onpath = sr_graph_stamp(g);
    for (size_t k = 0; k < n; k++) {
        int32_t start = g->nodes[events[k]].pl_auth;
        /* Walk until an event with a known position (or none), then write
         * the position back along the path. */
        int64_t pos = POS_INFINITE;
        size_t depth = 0;
        for (int32_t p = start; p != SR_NONE; p = g->nodes[p].pl_auth) {
            if (memo[p] >= 0) {
                pos = memo[p];
                break;
            }
            if (g->nodes[p].mark == onpath)
                break;          /* cycle: never reaches the mainline */
            g->nodes[p].mark = onpath;
            if (sr_stack_reserve(g, depth + 1, err) != 0)
                goto done;
            g->stack[depth++] = p;
        }
        while (depth)
            memo[g->stack[--depth]] = pos;
        const struct mxr_event *ev = g->nodes[events[k]].ev;
        items[k] = (struct mainline_item){ pos, ev->origin_server_ts, ev->event_id, events[k] };
    }
    qsort(items, n, sizeof *items, mainline_cmp);
    for (size_t k = 0; k < n; k++)
        events[k] = items[k].node;
    rc = 0;
done:
    free(memo);
    free(items);
    return rc;
}

json_t *sr_resolve_v2(struct sr_graph *g, const struct sr_set *sets, size_t n_sets, bool v2_1,
                      struct mxr_stateres_stats *stats, struct mxr_err *err)
{
    size_t nk = g->n_keys, nn = g->n_nodes;
    json_t *out = NULL;
    struct ilist conflicted = {0}, xs = {0}, rest = {0};
    int32_t *unconflicted = malloc((nk ? nk : 1) * sizeof *unconflicted);
    int32_t *first = malloc((nk ? nk : 1) * sizeof *first);
    int32_t *state = malloc((nk ? nk : 1) * sizeof *state);
    uint32_t *count = calloc(nk ? nk : 1, sizeof *count);
    uint8_t *differs = calloc(nk ? nk : 1, 1);
    if (!unconflicted || !first || !state || !count || !differs) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nn; i++)
        g->nodes[i].flags = 0;

    /* Unconflicted state map: keys present in every set with the same event;
     * every other value is in the conflicted state set. */
    for (size_t s = 0; s < n_sets; s++)
        for (size_t e = 0; e < sets[s].n; e++) {
            int32_t k = sets[s].entries[e].key;
            if (count[k]++ == 0)
                first[k] = sets[s].entries[e].node;
            else if (first[k] != sets[s].entries[e].node)
                differs[k] = 1;
        }
    for (size_t k = 0; k < nk; k++) {
        unconflicted[k] = SR_NONE;
        if (count[k] == n_sets && !differs[k])
            unconflicted[k] = first[k];
        else if (count[k])
            stats->conflicted_keys++;
    }
    for (size_t s = 0; s < n_sets; s++)
        for (size_t e = 0; e < sets[s].n; e++) {
            const struct sr_entry *en = &sets[s].entries[e];
            struct sr_node *nd = &g->nodes[en->node];
            if (unconflicted[en->key] == SR_NONE && !(nd->flags & SR_F_CONFLICTED)) {
                nd->flags |= SR_F_CONFLICTED | SR_F_FULL;
                if (ilist_push(&conflicted, en->node, err) != 0)
                    goto done;
            }
        }
    stats->conflicted = conflicted.n;
    if (conflicted.n == 0) {
        out = sr_state_to_json(g, unconflicted, err);
        goto done;
    }

    /* Full conflicted set = conflicted state set + auth difference
     * (+ conflicted state subgraph in v2.1). */
    if (auth_difference(g, sets, n_sets, err) != 0)
        goto done;
    for (size_t i = 0; i < nn; i++)
        if (g->nodes[i].count > 0 && g->nodes[i].count < n_sets) {
            g->nodes[i].flags |= SR_F_FULL;
            stats->auth_difference++;
        }
    if (v2_1) {
        if (conflicted_subgraph(g, &conflicted, &stats->subgraph, err) != 0)
            goto done;
        for (size_t i = 0; i < nn; i++)
            if (g->nodes[i].flags & SR_F_SUBGRAPH)
                g->nodes[i].flags |= SR_F_FULL;
    }

    /* Step 1: X = power events of the full conflicted set plus the events of
     * their auth chains that are in the full conflicted set. */
    size_t n_x = 0;
    uint32_t stamp = sr_graph_stamp(g);
    for (size_t i = 0; i < nn; i++) {
        struct sr_node *nd = &g->nodes[i];
        if (!(nd->flags & SR_F_FULL))
            continue;
        stats->full_conflicted++;
        if (!is_power_event(nd->ev))
            continue;
        if (!(nd->flags & SR_F_POWER_SET)) {
            nd->flags |= SR_F_POWER_SET;
            n_x++;
        }
        if (walk_auth_chain(g, (int32_t)i, stamp, mark_power_set, &n_x, err) != 0)
            goto done;
    }
    for (size_t i = 0; i < nn; i++) {
        uint32_t f = g->nodes[i].flags;
        if ((f & SR_F_POWER_SET) && ilist_push(&xs, (int32_t)i, err) != 0)
            goto done;
        if ((f & SR_F_FULL) && !(f & SR_F_POWER_SET) && ilist_push(&rest, (int32_t)i, err) != 0)
            goto done;
    }
    stats->power_sorted = xs.n;
    stats->mainline_sorted = rest.n;
    if (power_sort(g, &xs, err) != 0)
        goto done;

    /* Step 2: iterative auth checks from the unconflicted state map (v2) or
     * from an empty state map (v2.1). */
    for (size_t k = 0; k < nk; k++)
        state[k] = v2_1 ? SR_NONE : unconflicted[k];
    iterative_auth_checks(g, state, xs.v, xs.n, &stats->rejected);

    /* Step 3: the remaining events by the mainline of the partially
     * resolved power levels; step 4: iterative auth checks on top. */
    int32_t pl_key = sr_key_find(g, "m.room.power_levels", "");
    int32_t pl = pl_key == SR_NONE ? SR_NONE : state[pl_key];
    if (mainline_sort(g, pl, rest.v, rest.n, err) != 0)
        goto done;
    iterative_auth_checks(g, state, rest.v, rest.n, &stats->rejected);

    /* Step 5: the unconflicted state map wins. */
    for (size_t k = 0; k < nk; k++)
        if (unconflicted[k] != SR_NONE)
            state[k] = unconflicted[k];
    out = sr_state_to_json(g, state, err);
done:
    free(unconflicted);
    free(first);
    free(state);
    free(count);
    free(differs);
    free(conflicted.v);
    free(xs.v);
    free(rest.v);
    return out;
}
