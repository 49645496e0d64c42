/* libFuzzer target for state resolution (proto/stateres*.c) as `mxr
 * resolve` drives it. Input: one byte choosing the room version (1-12), then
 * {"state_sets": [{TYPE: {STATE_KEY: EVENT_ID}}, ...], "events": [PDU, ...]}
 * (at most 200 events). Events load leniently. No crash; a resolved state
 * is an object of objects of strings, each naming a given event. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/roomver.h"
#include "mxr/stateres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 200
#define MAX_SETS 16

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_resolve: invariant failed: %s (room v%s)\n", #cond, rv->id); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

struct table {
    struct mxr_event events[MAX_EVENTS];
    size_t n;
    json_t *by_id;
};

static const struct mxr_event *fetch(void *ctx, const char *event_id)
{
    const struct table *t = ctx;
    json_t *i = json_object_get(t->by_id, event_id);
    return i ? &t->events[json_integer_value(i)] : NULL;
}

static void check_state(const struct mxr_room_version *rv, const json_t *out, const struct table *t)
{
    const char *type, *key;
    json_t *inner, *id;
    CHECK(json_is_object(out));
    json_object_foreach((json_t *)out, type, inner) {
        CHECK(json_is_object(inner));
        json_object_foreach(inner, key, id) {
            CHECK(json_is_string(id));
            CHECK(fetch((void *)t, json_string_value(id)) != NULL);
        }
    }
}

static void run(const struct mxr_room_version *rv, json_t *in)
{
    json_t *state_sets = json_object_get(in, "state_sets");
    json_t *events = json_object_get(in, "events");
    if (!json_is_array(state_sets) || !json_is_array(events))
        return;
    if (json_array_size(events) > MAX_EVENTS || json_array_size(state_sets) > MAX_SETS)
        return;
    static struct table t;
    t.n = 0;
    t.by_id = json_object();
    if (!t.by_id)
        return;
    size_t i;
    json_t *item;
    json_array_foreach(events, i, item) {
        struct mxr_err err = {0};
        if (!json_is_object(item))
            goto out;
        if (mxr_event_load(&t.events[t.n], item, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
            goto out;
        t.n++;
        const char *id = t.events[t.n - 1].event_id;
        if (json_object_get(t.by_id, id))
            goto out;
        if (json_object_set_new(t.by_id, id, json_integer((json_int_t)(t.n - 1))) != 0)
            goto out;
    }
    json_t *sets[MAX_SETS];
    size_t n_sets = json_array_size(state_sets);
    for (i = 0; i < n_sets; i++)
        sets[i] = json_array_get(state_sets, i);
    struct mxr_err err = {0};
    json_t *res = mxr_state_resolve(rv, sets, n_sets, fetch, &t, &err);
    if (res)
        check_state(rv, res, &t);
    else
        CHECK(err.errcode != NULL);
    json_decref(res);
out:
    for (i = 0; i < t.n; i++)
        mxr_event_release(&t.events[i]);
    json_decref(t.by_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned n;
    const struct mxr_room_version *all = mxr_room_versions(&n);
    const struct mxr_room_version *rv = &all[data[0] % n];
    json_t *in = mxr_json_parse((const char *)data + 1, size - 1, MXR_JSON_NO_DUPLICATES, NULL);
    if (json_is_object(in))
        run(rv, in);
    json_decref(in);
    return 0;
}
