/* Auth events: which state events a new event cites (server-server API,
 * "Auth events selection") and the rules about the list an event carries
 * (rooms/v*.md rule 2, v12 rules 2 and 3: "Considering the event's
 * auth_events"). */
#include "auth_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool same_key(const struct mxr_auth_key *k, const char *type, const char *state_key)
{
    return !strcmp(k->type, type) && auth_str_eq(k->state_key, state_key);
}

static size_t add_key(struct mxr_auth_key *keys, size_t n, const char *type, const char *state_key)
{
    if (!state_key)
        return n;
    for (size_t i = 0; i < n; i++)
        if (same_key(&keys[i], type, state_key))
            return n;
    keys[n].type = type;
    keys[n].state_key = state_key;
    return n + 1;
}

size_t mxr_auth_events_selection(const struct mxr_room_version *rv, const struct mxr_event *ev,
                                 struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX])
{
    if (auth_str_eq(ev->type, "m.room.create"))
        return 0;
    size_t n = 0;
    if (!rv->room_id_is_create_hash)
        n = add_key(keys, n, "m.room.create", "");
    n = add_key(keys, n, "m.room.power_levels", "");
    n = add_key(keys, n, "m.room.member", ev->sender);
    if (!auth_str_eq(ev->type, "m.room.member"))
        return n;

    const char *membership = mxr_event_content_str(ev, "membership");
    n = add_key(keys, n, "m.room.member", ev->state_key);
    if (auth_str_eq(membership, "join") || auth_str_eq(membership, "invite") || auth_str_eq(membership, "knock"))
        n = add_key(keys, n, "m.room.join_rules", "");
    if (auth_str_eq(membership, "invite")) {
        json_t *tpi = json_object_get(ev->content, "third_party_invite");
        const char *token = json_string_value(json_object_get(json_object_get(tpi, "signed"), "token"));
        n = add_key(keys, n, "m.room.third_party_invite", token);
    }
    if (auth_str_eq(membership, "join") && rv->restricted_join_rule)
        n = add_key(keys, n, "m.room.member", mxr_event_content_str(ev, "join_authorised_via_users_server"));
    return n;
}

static int deny(struct mxr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int deny(struct mxr_err *err, const char *fmt, ...)
{
    char msg[MXR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mxr_err_set(err, "M_FORBIDDEN", "rule %s", msg);
}

#define AUTH_EVENTS_MAX 64 /* the PDU format allows 10; leave room for older rooms */

int mxr_auth_check_auth_events(const struct mxr_room_version *rv, const struct mxr_event *ev,
                               mxr_auth_fetch_fn fetch, void *ctx, struct mxr_err *err)
{
    /* Rule 1 decides create events without looking further. */
    if (auth_str_eq(ev->type, "m.room.create"))
        return 0;
    struct auth_rules n;
    auth_rules_for(rv, &n);
    const int a = n.auth_events;
    if (!ev->room_id)
        return mxr_err_set(err, "M_BAD_JSON", "event has no room_id");

    if (rv->room_id_is_create_hash) {
        /* Rule 2: the room ID is "!" + the ID of an accepted create event. */
        char create_id[MXR_ID_MAX + 2];
        if (ev->room_id[0] != '!' || strlen(ev->room_id) > MXR_ID_MAX)
            return deny(err, "%d: room_id %.100s is not an event ID with sigil '!'", n.room_id, ev->room_id);
        snprintf(create_id, sizeof create_id, "$%s", ev->room_id + 1);
        bool rejected = false;
        const struct mxr_event *create = fetch(ctx, create_id, &rejected);
        if (!create)
            return mxr_err_set(err, "M_NOT_FOUND", "m.room.create event %.100s (from the room ID) is unknown",
                               create_id);
        if (!auth_str_eq(create->type, "m.room.create") || !auth_str_eq(create->state_key, ""))
            return deny(err, "%d: room_id does not name an m.room.create event", n.room_id);
        if (rejected)
            return deny(err, "%d: the m.room.create event %.100s was rejected", n.room_id, create_id);
    }

    if (ev->n_auth_events > AUTH_EVENTS_MAX)
        return deny(err, "%d.2: %zu auth_events is more than the selection algorithm can name", a,
                    ev->n_auth_events);
    const struct mxr_event *got[AUTH_EVENTS_MAX];
    bool rejected[AUTH_EVENTS_MAX];
    for (size_t i = 0; i < ev->n_auth_events; i++) {
        rejected[i] = false;
        got[i] = fetch(ctx, ev->auth_events[i], &rejected[i]);
        if (!got[i])
            return mxr_err_set(err, "M_NOT_FOUND", "auth event %.100s is unknown", ev->auth_events[i]);
    }

    for (size_t i = 0; i < ev->n_auth_events; i++)
        for (size_t j = 0; j < i; j++)
            if (got[i]->state_key && got[j]->state_key && auth_str_eq(got[i]->type, got[j]->type) &&
                !strcmp(got[i]->state_key, got[j]->state_key))
                return deny(err, "%d.1: auth_events has two entries for (\"%.60s\", \"%.80s\")", a, got[i]->type,
                            got[i]->state_key);

    struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX];
    size_t nk = mxr_auth_events_selection(rv, ev, keys);
    for (size_t i = 0; i < ev->n_auth_events; i++) {
        bool wanted = false;
        for (size_t k = 0; k < nk && !wanted; k++)
            wanted = got[i]->type && same_key(&keys[k], got[i]->type, got[i]->state_key);
        if (!wanted) {
            if (rv->room_id_is_create_hash && auth_str_eq(got[i]->type, "m.room.create"))
                return deny(err, "%d.2: auth_events lists the m.room.create event, which this room version "
                            "must not select", a);
            if (!got[i]->state_key)
                return deny(err, "%d.2: auth event %.80s is not a state event", a, got[i]->event_id);
            return deny(err, "%d.2: auth event %.80s (\"%.60s\", \"%.80s\") is not one the auth events selection "
                        "names", a, got[i]->event_id, got[i]->type, got[i]->state_key);
        }
    }

    for (size_t i = 0; i < ev->n_auth_events; i++)
        if (rejected[i])
            return deny(err, "%d.3: auth event %.100s was rejected", a, got[i]->event_id);

    if (!rv->room_id_is_create_hash) {
        bool have_create = false;
        for (size_t i = 0; i < ev->n_auth_events; i++)
            have_create = have_create || auth_str_eq(got[i]->type, "m.room.create");
        if (!have_create)
            return deny(err, "%d.4: no m.room.create event among the auth events", a);
    }

    for (size_t i = 0; i < ev->n_auth_events; i++)
        if (!auth_str_eq(auth_event_room_id(got[i]), ev->room_id))
            return deny(err, "%d.5: auth event %.100s belongs to another room", a, got[i]->event_id);
    return 0;
}

const struct mxr_event *mxr_auth_set_lookup(void *ctx, const char *type, const char *state_key)
{
    const struct mxr_auth_set *set = ctx;
    for (size_t i = 0; i < set->n; i++) {
        const struct mxr_event *e = set->events[i];
        if (e && e->state_key && auth_str_eq(e->type, type) && auth_str_eq(e->state_key, state_key))
            return e;
    }
    return NULL;
}
