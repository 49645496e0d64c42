/* libFuzzer target for the authorization rules (proto/auth*.c) as `mxr auth`
 * drives them. Input: one byte choosing the room version (1-12), then
 * {"event": PDU, "auth_events": [PDU, ...]}. Events load leniently (as
 * hand-written or captured scenarios do); then the rules over the given
 * state, the rules over the event's own auth_events list and the auth
 * events selection run. No crash; the selection names at most
 * MXR_AUTH_KEYS_MAX keys, each with a type and a state key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/auth.h"
#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/roomver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_GIVEN 64

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_auth: invariant failed: %s (room v%s)\n", #cond, rv->id); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

struct given {
    struct mxr_event events[MAX_GIVEN];
    const struct mxr_event *ptrs[MAX_GIVEN];
    size_t n;
};

static const struct mxr_event *fetch(void *ctx, const char *event_id, bool *rejected)
{
    const struct given *g = ctx;
    *rejected = false;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->ptrs[i]->event_id, event_id)) {
            /* Some rejected, so that the rejected paths run too. */
            *rejected = (i % 7) == 6;
            return g->ptrs[i];
        }
    return NULL;
}

static void run(const struct mxr_room_version *rv, json_t *in)
{
    json_t *pdu = json_object_get(in, "event");
    json_t *list = json_object_get(in, "auth_events");
    if (!json_is_object(pdu))
        return;
    struct mxr_event ev;
    struct mxr_err err = {0};
    if (mxr_event_load(&ev, pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
        return;

    static struct given g;
    g.n = 0;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        if (g.n == MAX_GIVEN)
            break;
        if (!json_is_object(item))
            continue;
        if (mxr_event_load(&g.events[g.n], item, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
            continue;
        g.ptrs[g.n] = &g.events[g.n];
        g.n++;
    }

    struct mxr_auth_set set = { g.ptrs, g.n };
    struct mxr_auth_opts opts = { .skip_server_signatures = true };
    (void)mxr_auth_check_opts(rv, &ev, mxr_auth_set_lookup, &set, &opts, &err);
    (void)mxr_auth_check(rv, &ev, mxr_auth_set_lookup, &set, &err);
    (void)mxr_auth_check_auth_events(rv, &ev, fetch, &g, &err);
    (void)mxr_auth_sender_level(rv, &ev, mxr_auth_set_lookup, &set);

    struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX];
    size_t nk = mxr_auth_events_selection(rv, &ev, keys);
    CHECK(nk <= MXR_AUTH_KEYS_MAX);
    for (size_t k = 0; k < nk; k++)
        CHECK(keys[k].type != NULL && keys[k].state_key != NULL);

    for (size_t k = 0; k < g.n; k++)
        mxr_event_release(&g.events[k]);
    mxr_event_release(&ev);
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
