/* Room state for the pipeline: the state before an event from the states
 * after its prev_events (spec: server-server API "Room State Resolution",
 * S(E) = resolve({S'(p) : p in prev_events(E)})), and the room's current
 * state, the resolution across all forward extremities (spec "Soft failure":
 * "the current state of the room (i.e. the resolved state across all forward
 * extremities)"). Resolution itself is proto/stateres (mxr_state_resolve);
 * this file turns stored state groups into its inputs and its result back
 * into a group. */
#include "relay/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/stateres.h"

static void cache_fail(struct evcache *c, const struct mxr_err *err)
{
    if (c->failed)
        return;
    c->failed = true;
    c->err = *err;
}

int sview_get(struct mxr_store_txn *txn, const struct sview *sv, const char *type, const char *state_key,
              char out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    if (sv->resolved) {
        const char *id = json_string_value(json_object_get(json_object_get(sv->resolved, type), state_key));
        if (!id)
            return MXR_STORE_NOT_FOUND;
        snprintf(out, MXR_ID_MAX + 1, "%s", id);
        return 0;
    }
    if (sv->group == 0)
        return MXR_STORE_NOT_FOUND;
    return mxr_store_state_get(txn, sv->group, type, state_key, out, err);
}

const struct mxr_event *sview_lookup_fn(void *ctx, const char *type, const char *state_key)
{
    struct sview_lookup *l = ctx;
    if (l->cache->failed)
        return NULL;
    char id[MXR_ID_MAX + 1];
    struct mxr_err err = {0};
    int rc = sview_get(l->cache->txn, l->sv, type, state_key, id, &err);
    if (rc < 0) {
        cache_fail(l->cache, &err);
        return NULL;
    }
    if (rc)
        return NULL;
    /* A state entry naming an event that is not stored cannot happen: the
     * store only files stored events in groups. */
    return evc_fetch(l->cache, id);
}

void sview_clear(struct sview *sv)
{
    json_decref(sv->resolved);
    sv->resolved = NULL;
    sv->group = 0;
}

static int collect_state(void *arg, const char *type, const char *state_key, const char *event_id)
{
    json_t *obj = arg;
    json_t *by_key = json_object_get(obj, type);
    if (!by_key) {
        by_key = json_object();
        if (!by_key || json_object_set_new(obj, type, by_key))
            return 1;
    }
    return json_object_set_new(by_key, state_key, json_string(event_id)) != 0;
}

json_t *state_group_json(struct mxr_store_txn *txn, uint64_t group, struct mxr_err *err)
{
    json_t *obj = json_object();
    if (!obj) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    if (group != 0 && mxr_store_state_all(txn, group, collect_state, obj, err) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int sview_store(struct mxr_store_txn *txn, struct sview *sv, struct mxr_err *err)
{
    if (!sv->resolved)
        return 0;
    json_t *parent = state_group_json(txn, sv->group, err);
    if (!parent)
        return -1;
    size_t cap = 16, n = 0;
    struct mxr_store_state_entry *d = malloc(cap * sizeof *d);
    int rc = d ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    const char *type, *sk;
    json_t *by_key, *id;
    /* Keys changed or added, then keys the resolved state lacks. */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        json_t *from = pass == 0 ? sv->resolved : parent;
        json_t *other = pass == 0 ? parent : sv->resolved;
        json_object_foreach(from, type, by_key) {
            json_object_foreach(by_key, sk, id) {
                const char *there = json_string_value(json_object_get(json_object_get(other, type), sk));
                if (pass == 0 ? (there && strcmp(there, json_string_value(id)) == 0) : there != NULL)
                    continue;
                if (n == cap) {
                    struct mxr_store_state_entry *nd = realloc(d, 2 * cap * sizeof *nd);
                    if (!nd) {
                        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
                        break;
                    }
                    d = nd;
                    cap *= 2;
                }
                d[n++] = (struct mxr_store_state_entry){type, sk, pass == 0 ? json_string_value(id) : NULL};
            }
            if (rc)
                break;
        }
    }
    uint64_t group = 0;
    if (rc == 0)
        rc = mxr_store_state_group_new(txn, sv->group, d, n, &group, err);
    free(d);
    json_decref(parent);
    if (rc)
        return -1;
    json_decref(sv->resolved);
    sv->resolved = NULL;
    sv->group = group;
    return 0;
}

int state_resolve_groups(struct evcache *c, const struct mxr_room_version *rv, const uint64_t *groups, size_t n,
                         struct sview *out, struct mxr_err *err)
{
    uint64_t *uniq = malloc((n ? n : 1) * sizeof *uniq);
    if (!uniq)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = uniq[j] == groups[i];
        if (!seen)
            uniq[k++] = groups[i];
    }
    out->resolved = NULL;
    out->group = k ? uniq[0] : 0;
    if (k <= 1) {
        free(uniq);
        return 0;
    }
    json_t **sets = calloc(k, sizeof *sets);
    int rc = sets ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    for (size_t i = 0; i < k && rc == 0; i++)
        if (!(sets[i] = state_group_json(c->txn, uniq[i], err)))
            rc = -1;
    if (rc == 0) {
        json_t *res = mxr_state_resolve(rv, sets, k, evc_fetch, c, err);
        if (c->failed) {
            *err = c->err;
            json_decref(res);
            rc = -1;
        } else if (!res) {
            rc = mxr_err_prefix(err, "state resolution over %zu states", k);
        } else {
            out->resolved = res;
        }
    }
    for (size_t i = 0; sets && i < k; i++)
        json_decref(sets[i]);
    free(sets);
    free(uniq);
    return rc;
}

struct ids {
    char **v;
    size_t n, cap;
    bool oom;
};

static int collect_id(void *arg, const char *id)
{
    struct ids *ids = arg;
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 8;
        char **nv = realloc(ids->v, cap * sizeof *nv);
        if (!nv) {
            ids->oom = true;
            return 1;
        }
        ids->v = nv;
        ids->cap = cap;
    }
    if (!(ids->v[ids->n] = strdup(id))) {
        ids->oom = true;
        return 1;
    }
    ids->n++;
    return 0;
}

static void ids_free(struct ids *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    free(ids->v);
}

int state_update_current(struct evcache *c, const char *room_id, const struct mxr_room_version *rv,
                         struct mxr_err *err)
{
    struct ids ext = {0};
    int rc = mxr_store_extremities(c->txn, room_id, collect_id, &ext, err);
    if (rc == MXR_STORE_NOT_FOUND)
        rc = 0;
    if (rc == 0 && ext.oom)
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    uint64_t *groups = NULL;
    size_t ng = 0;
    if (rc == 0 && ext.n) {
        groups = malloc(ext.n * sizeof *groups);
        if (!groups)
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < ext.n; i++) {
        uint64_t before, after;
        int r2 = mxr_store_event_state(c->txn, ext.v[i], &before, &after, err);
        if (r2 < 0)
            rc = -1;
        else if (r2 == 0)
            groups[ng++] = after;
    }
    if (rc == 0 && ng) {
        struct sview sv = {0};
        struct mxr_err rerr = {0};
        if (state_resolve_groups(c, rv, groups, ng, &sv, &rerr) < 0) {
            if (c->failed) {
                *err = rerr;
                rc = -1;
            } else {
                /* The forks cannot be resolved with what is stored (an
                 * event of an auth chain is missing): keep the state of one
                 * extremity rather than none; the next event that merges
                 * the forks resolves them again. */
                sv.group = groups[0];
            }
        }
        if (rc == 0 && (sview_store(c->txn, &sv, err) < 0 || mxr_store_room_set_current(c->txn, room_id, sv.group, err) < 0))
            rc = -1;
        sview_clear(&sv);
    }
    free(groups);
    ids_free(&ext);
    return rc;
}
