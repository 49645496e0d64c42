/* mxr auth --room-version V: the authorization rules for one event (spec:
 * rooms/v*.md "Authorization rules"; server-server API "Auth events
 * selection").
 *
 * Input:  {"event": PDU, "auth_events": [PDU, ...]}
 * Output: {"allowed":true} or {"allowed":false,"reason":"rule 4.3.2: ..."},
 *         canonical JSON and a newline. Exit 0 for either verdict, 1 for
 *         malformed input (one line on stderr), 2 for a usage error.
 *
 * An `event_id` field is the event's ID in any room version; without one the
 * ID is computed. Only the fields the rules read are required (no hashes,
 * no signatures), and no hash or signature is checked: the rule that a
 * join_authorised_via_users_server event be signed by that user's server
 * (v8+ rule 4.2) is skipped, as signatures are not this verb's business.
 *
 * The given auth_events are the state the rules read, (type, state_key) ->
 * event. Two given state events with the same (type, state_key) make that
 * state ambiguous: malformed input, unless the event itself lists both (see
 * below), which the spec rejects.
 *
 * The rules about the event's own `auth_events` list (v1-v11 rule 2, v12
 * rules 2 and 3: duplicates, kinds the selection does not name, the create
 * event present / absent, same room) are applied when the list can be
 * judged: when it is non-empty and every ID it names is among the given
 * events. Then a bad list is a verdict ({"allowed":false}), as for a server
 * receiving the PDU. When the event lists nothing, or names IDs that were not
 * given (hand-written scenarios often carry placeholder IDs), only the
 * rules over the given state run: the verb cannot tell a wrong list from an
 * incomplete input, and the state is what the caller gave.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mxr/auth.h"
#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/roomver.h"

#define USAGE "mxr auth --room-version V < {\"event\": PDU, \"auth_events\": [PDU, ...]}"

struct given {
    struct mxr_event *events;
    const struct mxr_event **ptrs;
    size_t n;
};

static const struct mxr_event *fetch(void *ctx, const char *event_id, bool *rejected)
{
    const struct given *g = ctx;
    *rejected = false;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->events[i].event_id, event_id))
            return &g->events[i];
    return NULL;
}

static bool all_listed_given(const struct mxr_event *ev, const struct given *g)
{
    bool rejected;
    if (ev->n_auth_events == 0)
        return false;
    for (size_t i = 0; i < ev->n_auth_events; i++)
        if (!fetch((void *)g, ev->auth_events[i], &rejected))
            return false;
    return true;
}

static int load_given(const char *verb, const struct mxr_room_version *rv, const json_t *arr, struct given *g)
{
    size_t n = json_array_size(arr);
    g->events = calloc(n ? n : 1, sizeof *g->events);
    g->ptrs = calloc(n ? n : 1, sizeof *g->ptrs);
    if (!g->events || !g->ptrs)
        return cli_fail(verb, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct mxr_err err = {0};
        json_t *pdu = json_array_get(arr, i);
        if (!json_is_object(pdu))
            return cli_fail(verb, "auth_events[%zu] is not a JSON object", i);
        if (mxr_event_load(&g->events[i], pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
            return cli_fail(verb, "auth_events[%zu]: %s: %s", i, err.errcode, err.msg);
        g->ptrs[i] = &g->events[i];
        g->n = i + 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(g->events[j].event_id, g->events[i].event_id))
                return cli_fail(verb, "auth_events[%zu] and [%zu] have the same event ID %s", j, i,
                                g->events[i].event_id);
    }
    return CLI_OK;
}

/* Two state events for one (type, state_key): the state is ambiguous. */
static int check_unambiguous(const char *verb, const struct given *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = 0; j < i; j++) {
            const struct mxr_event *a = &g->events[j], *b = &g->events[i];
            if (a->state_key && b->state_key && !strcmp(a->type, b->type) && !strcmp(a->state_key, b->state_key))
                return cli_fail(verb, "auth_events[%zu] and [%zu] are both (\"%s\", \"%s\"): the state is ambiguous",
                                j, i, a->type, a->state_key);
        }
    return CLI_OK;
}

static int verdict(const char *verb, const struct mxr_err *denied)
{
    json_t *out = denied ? json_pack("{s:b,s:s}", "allowed", 0, "reason", denied->msg)
                         : json_pack("{s:b}", "allowed", 1);
    if (!out)
        return cli_fail(verb, "out of memory");
    int rc = cli_print_canonical(verb, out);
    json_decref(out);
    return rc;
}

static int run(const char *verb, const struct mxr_room_version *rv, const json_t *in)
{
    if (!json_is_object(in))
        return cli_fail(verb, "input is not a JSON object");
    json_t *pdu = json_object_get(in, "event");
    json_t *list = json_object_get(in, "auth_events");
    if (!json_is_object(pdu))
        return cli_fail(verb, "'event' is %s", pdu ? "not a JSON object" : "missing");
    if (list && !json_is_array(list))
        return cli_fail(verb, "'auth_events' is not an array");

    struct mxr_event ev;
    struct mxr_err err = {0};
    if (mxr_event_load(&ev, pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
        return cli_fail(verb, "event: %s: %s", err.errcode, err.msg);
    struct given g = {0};
    int rc = load_given(verb, rv, list, &g);
    if (rc != CLI_OK)
        goto out;

    if (all_listed_given(&ev, &g) && mxr_auth_check_auth_events(rv, &ev, fetch, &g, &err) != 0 &&
        strcmp(err.errcode, "M_NOT_FOUND") != 0) {
        /* (M_NOT_FOUND: a v12 create event not given; the state rules report it.) */
        rc = verdict(verb, &err);
        goto out;
    }
    if ((rc = check_unambiguous(verb, &g)) != CLI_OK)
        goto out;
    struct mxr_auth_set set = { g.ptrs, g.n };
    struct mxr_auth_opts opts = { .skip_server_signatures = true };
    mxr_err_clear(&err);
    if (mxr_auth_check_opts(rv, &ev, mxr_auth_set_lookup, &set, &opts, &err) == 0)
        rc = verdict(verb, NULL);
    else if (!strcmp(err.errcode, "M_FORBIDDEN"))
        rc = verdict(verb, &err);
    else
        rc = cli_fail_err(verb, &err);
out:
    for (size_t i = 0; i < g.n; i++)
        mxr_event_release(&g.events[i]);
    free(g.events);
    free(g.ptrs);
    mxr_event_release(&ev);
    return rc;
}

int cmd_auth(int argc, char **argv)
{
    const struct mxr_room_version *rv;
    int rc = cli_room_version_only(argc, argv, USAGE, &rv);
    if (rc != CLI_OK)
        return rc;
    json_t *in = cli_read_json(MXR_JSON_NO_DUPLICATES);
    if (!in)
        return CLI_FAIL;
    rc = run(argv[0], rv, in);
    json_decref(in);
    return rc;
}
