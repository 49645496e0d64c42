/* mxr resolve --room-version V: state resolution of hand-written or captured
 * state sets (spec: rooms/v1.md, rooms/fragments/v2-state-res.md,
 * rooms/v12.md "State resolution").
 *
 * Input:  {"state_sets": [{TYPE: {STATE_KEY: EVENT_ID}}, ...],
 *          "events": [PDU, ...]}  — every event the sets name and their auth
 *          chains. An `event_id` field is taken as the ID in any room
 *          version; otherwise the ID is computed. No hash or signature checks.
 * Output: the resolved state {TYPE: {STATE_KEY: EVENT_ID}}, canonical JSON.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/roomver.h"
#include "mxr/stateres.h"

#define USAGE "mxr resolve --room-version V < {\"state_sets\": [...], \"events\": [...]}"

struct event_table {
    struct mxr_event *events;
    size_t n;
    json_t *by_id;      /* event ID -> index */
};

static const struct mxr_event *fetch(void *ctx, const char *event_id)
{
    const struct event_table *t = ctx;
    json_t *i = json_object_get(t->by_id, event_id);
    return i ? &t->events[json_integer_value(i)] : NULL;
}

static int load_events(const char *verb, const struct mxr_room_version *rv, const json_t *arr,
                       struct event_table *t)
{
    size_t n = json_array_size(arr);
    t->events = calloc(n ? n : 1, sizeof *t->events);
    t->by_id = json_object();
    if (!t->events || !t->by_id)
        return cli_fail(verb, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct mxr_err err = {0};
        json_t *pdu = json_array_get(arr, i);
        if (!json_is_object(pdu))
            return cli_fail(verb, "events[%zu] is not a JSON object", i);
        if (mxr_event_load(&t->events[i], pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
            return cli_fail(verb, "events[%zu]: %s: %s", i, err.errcode, err.msg);
        t->n = i + 1;
        const char *id = t->events[i].event_id;
        if (json_object_get(t->by_id, id))
            return cli_fail(verb, "events[%zu]: event ID %s appears twice", i, id);
        if (json_object_set_new(t->by_id, id, json_integer((json_int_t)i)) != 0)
            return cli_fail(verb, "out of memory");
    }
    return CLI_OK;
}

int cmd_resolve(int argc, char **argv)
{
    const struct mxr_room_version *rv;
    int src = cli_room_version_only(argc, argv, USAGE, &rv);
    if (src != CLI_OK)
        return src;
    struct mxr_err err = {0};
    json_t *in = cli_read_json(MXR_JSON_NO_DUPLICATES);
    if (!in)
        return CLI_FAIL;

    int rc = CLI_FAIL;
    struct event_table t = {0};
    json_t **sets = NULL, *out = NULL;
    const json_t *state_sets = json_object_get(in, "state_sets");
    const json_t *events = json_object_get(in, "events");
    if (!json_is_object(in)) {
        cli_fail(argv[0], "input is not a JSON object");
        goto done;
    }
    if (!json_is_array(state_sets) || !json_is_array(events)) {
        cli_fail(argv[0], "input needs \"state_sets\" (array of {TYPE: {STATE_KEY: EVENT_ID}}) and "
                          "\"events\" (array of PDUs)");
        goto done;
    }
    if (load_events(argv[0], rv, events, &t) != CLI_OK)
        goto done;
    size_t n_sets = json_array_size(state_sets);
    sets = calloc(n_sets ? n_sets : 1, sizeof *sets);
    if (!sets) {
        cli_fail(argv[0], "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_sets; i++)
        sets[i] = json_array_get(state_sets, i);
    out = mxr_state_resolve(rv, sets, n_sets, fetch, &t, &err);
    rc = out ? cli_print_canonical(argv[0], out) : cli_fail_err(argv[0], &err);
done:
    json_decref(out);
    free(sets);
    for (size_t i = 0; i < t.n; i++)
        mxr_event_release(&t.events[i]);
    free(t.events);
    json_decref(t.by_id);
    json_decref(in);
    return rc;
}
