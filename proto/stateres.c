/* State resolution entry point: checks and parses the state sets, loads
 * every event they name with its auth chain, and runs the algorithm of the
 * room version (spec: rooms/v1.md "State resolution" for v1,
 * rooms/fragments/v2-state-res.md for v2-v11, rooms/v12.md for v2.1). */
#include "mxr/stateres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateres_int.h"

static int parse_set(struct sr_graph *g, const json_t *set, size_t idx, struct sr_set *out, struct mxr_err *err)
{
    if (!json_is_object(set))
        return mxr_err_set(err, "M_BAD_JSON", "state set %zu is not an object {TYPE: {STATE_KEY: EVENT_ID}}", idx);
    size_t n = 0;
    const char *type;
    const json_t *by_key;
    json_object_foreach((json_t *)set, type, by_key) {
        if (!json_is_object(by_key))
            return mxr_err_set(err, "M_BAD_JSON", "state set %zu: '%.100s' is not an object {STATE_KEY: EVENT_ID}",
                               idx, type);
        n += json_object_size(by_key);
    }
    out->entries = n ? malloc(n * sizeof *out->entries) : NULL;
    if (n && !out->entries)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    out->n = 0;
    json_object_foreach((json_t *)set, type, by_key) {
        const char *state_key;
        const json_t *id;
        json_object_foreach((json_t *)by_key, state_key, id) {
            if (!json_is_string(id))
                return mxr_err_set(err, "M_BAD_JSON", "state set %zu: (%.100s, %.100s) is not an event ID string",
                                   idx, type, state_key);
            char what[200];
            snprintf(what, sizeof what, "state set %zu, (%.80s, %.80s)", idx, type, state_key);
            int32_t node = sr_graph_load(g, json_string_value(id), what, err);
            if (node < 0)
                return -1;
            const struct mxr_event *ev = g->nodes[node].ev;
            if (!ev->state_key || strcmp(ev->type, type) != 0 || strcmp(ev->state_key, state_key) != 0)
                return mxr_err_set(err, "M_BAD_JSON",
                                   "state set %zu files event %.100s under (%.60s, %.60s) but it is (%.60s, %.60s)",
                                   idx, ev->event_id, type, state_key, ev->type,
                                   ev->state_key ? ev->state_key : "(no state_key)");
            out->entries[out->n++] = (struct sr_entry){ g->nodes[node].key, node };
        }
    }
    return 0;
}

/* v12: auth rules and power levels need the create event named by the room
 * ID ("!" + the create event ID without "$"), which events do not list. */
static int load_room_create(struct sr_graph *g, struct mxr_err *err)
{
    if (!g->rv->room_id_is_create_hash || !g->room_id || g->room_id[0] != '!')
        return 0;
    char id[MXR_ID_MAX + 2];
    if (snprintf(id, sizeof id, "$%s", g->room_id + 1) >= (int)sizeof id)
        return mxr_err_set(err, "M_BAD_JSON", "room ID %.100s is too long", g->room_id);
    int32_t n = sr_graph_load(g, id, "the create event named by the room ID", err);
    if (n < 0)
        return -1;
    g->room_create = n;
    return 0;
}

json_t *mxr_state_resolve_stats(const struct mxr_room_version *rv, json_t *const *state_sets, size_t n_sets,
                                mxr_event_fetch_fn fetch, void *ctx, struct mxr_stateres_stats *stats,
                                struct mxr_err *err)
{
    struct mxr_stateres_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!rv || !fetch || (n_sets && !state_sets)) {
        mxr_err_set(err, "M_INVALID_PARAM", "mxr_state_resolve needs a room version, a fetch function and the sets");
        return NULL;
    }
    /* Size the maps for the sets' events (auth chains add a few more). */
    size_t hint = 0;
    for (size_t i = 0; i < n_sets; i++) {
        const char *type;
        const json_t *by_key;
        json_object_foreach((json_t *)state_sets[i], type, by_key)
            hint += json_object_size(by_key);
    }
    struct sr_graph g;
    if (sr_graph_init(&g, rv, fetch, ctx, hint / (n_sets ? n_sets : 1) + 1024, err) != 0)
        return NULL;
    json_t *out = NULL;
    struct sr_set *sets = calloc(n_sets ? n_sets : 1, sizeof *sets);
    if (!sets) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_sets; i++)
        if (parse_set(&g, state_sets[i], i, &sets[i], err) != 0)
            goto done;
    if (load_room_create(&g, err) != 0)
        goto done;
    sr_graph_seal(&g);
    stats->events = g.n_nodes;
    switch (rv->state_res) {
    case MXR_STATERES_V1:
        out = sr_resolve_v1(&g, sets, n_sets, stats, err);
        break;
    case MXR_STATERES_V2:
        out = sr_resolve_v2(&g, sets, n_sets, false, stats, err);
        break;
    case MXR_STATERES_V2_1:
        out = sr_resolve_v2(&g, sets, n_sets, true, stats, err);
        break;
    default:
        mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "room version %s has no known state resolution algorithm",
                    rv->id);
    }
done:
    if (sets)
        for (size_t i = 0; i < n_sets; i++)
            free(sets[i].entries);
    free(sets);
    sr_graph_free(&g);
    return out;
}

json_t *mxr_state_resolve(const struct mxr_room_version *rv, json_t *const *state_sets, size_t n_sets,
                          mxr_event_fetch_fn fetch, void *ctx, struct mxr_err *err)
{
    return mxr_state_resolve_stats(rv, state_sets, n_sets, fetch, ctx, NULL, err);
}
