/* Room builder for the state resolution tests (see kit.h). */
#include "kit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void kit_init(struct kit *k, const char *room_version)
{
    memset(k, 0, sizeof *k);
    struct mxr_err err = {0};
    k->rv = mxr_room_version_get(room_version, &err);
    assert_non_null(k->rv);
    /* v12: the room ID is the create event's ID with "!" (the create event
     * is always named CREATE in these tests). */
    snprintf(k->room_id, sizeof k->room_id, "%s",
             k->rv->room_id_is_create_hash ? "!CREATE:example.com" : "!room:example.com");
    k->ts = 0;
    k->depth = 1;
}

void kit_free(struct kit *k)
{
    for (size_t i = 0; i < k->n; i++)
        mxr_event_release(&k->events[i]);
    k->n = 0;
}

const char *kit_id(const char *name)
{
    static char buf[MXR_ID_MAX + 1];
    snprintf(buf, sizeof buf, "$%s:example.com", name);
    return buf;
}

/* In room version 12 the create event is never listed (the room ID names
 * it), so scenarios shared with older versions drop CREATE there. */
static json_t *id_list(const struct kit *k, const char *names, bool is_auth)
{
    json_t *arr = json_array();
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", names ? names : "");
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        if (!(is_auth && k->rv->room_id_is_create_hash && strcmp(t, "CREATE") == 0))
            json_array_append_new(arr, json_string(kit_id(t)));
    return arr;
}

void kit_event(struct kit *k, const char *name, const char *type, const char *state_key, const char *sender,
               const char *content, const char *auth, const char *prev)
{
    assert_true(k->n < KIT_MAX_EVENTS);
    json_error_t jerr;
    json_t *c = json_loads(content, 0, &jerr);
    if (!c)
        fail_msg("kit_event %s: bad content JSON: %s", name, jerr.text);
    json_t *pdu = json_object();
    json_object_set_new(pdu, "event_id", json_string(kit_id(name)));
    json_object_set_new(pdu, "type", json_string(type));
    if (state_key)
        json_object_set_new(pdu, "state_key", json_string(state_key));
    json_object_set_new(pdu, "sender", json_string(sender));
    json_object_set_new(pdu, "content", c);
    bool v12_create = k->rv->room_id_is_create_hash && strcmp(type, "m.room.create") == 0;
    if (!v12_create)
        json_object_set_new(pdu, "room_id", json_string(k->room_id));
    json_object_set_new(pdu, "auth_events", id_list(k, auth, true));
    json_object_set_new(pdu, "prev_events", id_list(k, prev, false));
    json_object_set_new(pdu, "origin_server_ts", json_integer(k->ts++));
    json_object_set_new(pdu, "depth", json_integer(k->depth));
    json_object_set_new(pdu, "hashes", json_pack("{s:s}", "sha256", "not checked"));
    json_object_set_new(pdu, "signatures", json_object());
    struct mxr_err err = {0};
    if (mxr_event_load(&k->events[k->n], pdu, k->rv, MXR_EVENT_TRUST_GIVEN_ID, &err) != 0)
        fail_msg("kit_event %s: %s: %s", name, err.errcode, err.msg);
    json_decref(pdu);
    k->n++;
}

const struct mxr_event *kit_fetch(void *ctx, const char *event_id)
{
    struct kit *k = ctx;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->events[i].event_id, event_id) == 0)
            return &k->events[i];
    return NULL;
}

json_t *kit_state(struct kit *k, const char *names)
{
    json_t *state = json_object();
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", names);
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        const struct mxr_event *ev = kit_fetch(k, kit_id(t));
        if (!ev || !ev->state_key)
            fail_msg("kit_state: %s is not a known state event", t);
        json_t *by_type = json_object_get(state, ev->type);
        if (!by_type)
            json_object_set_new(state, ev->type, by_type = json_object());
        if (json_object_get(by_type, ev->state_key))
            fail_msg("kit_state: two events for (%s, %s)", ev->type, ev->state_key);
        json_object_set_new(by_type, ev->state_key, json_string(ev->event_id));
    }
    return state;
}

json_t *kit_resolve(struct kit *k, const char *const *states, size_t n, struct mxr_stateres_stats *stats)
{
    json_t *sets[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        sets[i] = kit_state(k, states[i]);
    struct mxr_err err = {0};
    json_t *out = mxr_state_resolve_stats(k->rv, sets, n, kit_fetch, k, stats, &err);
    for (size_t i = 0; i < n; i++)
        json_decref(sets[i]);
    if (!out)
        fail_msg("mxr_state_resolve: %s: %s", err.errcode, err.msg);
    return out;
}

void kit_assert_state(struct kit *k, json_t *got, const char *names)
{
    json_t *want = kit_state(k, names);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
        print_error("resolved state:\n%s\nexpected:\n%s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

void kit_base_room(struct kit *k)
{
    const char *create = k->rv->implicit_room_creator ? "{}" : "{\"creator\":\"" ALICE "\"}";
    kit_event(k, "CREATE", "m.room.create", "", ALICE, create, "", "");
    kit_event(k, "IMA", "m.room.member", ALICE, ALICE, KIT_JOIN, "CREATE", "CREATE");
    kit_event(k, "IPOWER", "m.room.power_levels", "", ALICE, kit_pl(k, "", ""), "CREATE IMA", "IMA");
    kit_event(k, "IJR", "m.room.join_rules", "", ALICE, "{\"join_rule\":\"public\"}", "CREATE IMA IPOWER",
              "IPOWER");
    kit_event(k, "IMB", "m.room.member", BOB, BOB, KIT_JOIN, "CREATE IJR IPOWER", "IJR");
    kit_event(k, "IMC", "m.room.member", CHARLIE, CHARLIE, KIT_JOIN, "CREATE IJR IPOWER", "IMB");
    kit_event(k, "IMZ", "m.room.member", ZARA, ZARA, KIT_JOIN, "CREATE IJR IPOWER", "IMC");
}

const char *kit_pl(const struct kit *k, const char *users, const char *extra)
{
    static char buf[4][512];
    static unsigned next;
    char *b = buf[next++ % 4];
    bool creators_listed = !k->rv->privileged_creators;
    snprintf(b, sizeof buf[0], "{\"users\":{%s%s%s}%s%s}", creators_listed ? "\"" ALICE "\":100" : "",
             creators_listed && *users ? "," : "", users, *extra ? "," : "", extra);
    return b;
}
