/* Authorization rules, the top level (spec: rooms/v1.md ... v12.md,
 * "Authorization rules"; rooms/fragments/v1-, v3-, v8-auth-rules.md).
 *
 * The rules are one ordered list per room version; versions differ by rules
 * added or removed, which shifts the numbering. Every rejection names the
 * rule with the number that version's page gives it (struct auth_rules), so
 * a peer's developer can find it. Membership rules live in auth_member.c,
 * power level rules in auth_power.c, the auth events list in auth_select.c.
 */
#include "auth_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mxr/ids.h"

void auth_rules_for(const struct mxr_room_version *rv, struct auth_rules *n)
{
    memset(n, 0, sizeof *n);
    int k = 1;
    n->create = k++;
    if (rv->room_id_is_create_hash)
        n->room_id = k++;
    n->auth_events = k++;
    n->federate = k++;
    if (rv->special_case_aliases_auth)
        n->aliases = k++;
    n->member = k++;
    n->joined = k++;
    n->tpi = k++;
    n->required = k++;
    n->at_state_key = k++;
    n->power_levels = k++;
    if (rv->redaction_auth_rule)
        n->redaction = k++;
    n->otherwise = k;

    int m = 2; /* .1: state_key and membership present */
    if (rv->restricted_join_rule)
        n->m_signed = m++;
    n->m_join = m++;
    n->m_invite = m++;
    n->m_leave = m++;
    n->m_ban = m++;
    if (rv->knock_join_rule)
        n->m_knock = m++;
    n->m_unknown = m;

    int j = 4; /* .1 first join of the creator, .2 sender = state_key, .3 banned */
    n->j_invite = j++;
    if (rv->restricted_join_rule)
        n->j_restricted = j++;
    n->j_public = j++;
    n->j_reject = j;

    int p = 1;
    if (rv->enforce_int_power_levels) {
        n->pl_named_int = p++;
        n->pl_maps_int = p++;
    }
    n->pl_users = p++;
    if (rv->privileged_creators)
        n->pl_creators = p++;
    n->pl_no_prev = p++;
    n->pl_named = p++;
    n->pl_maps_old = p++;
    n->pl_maps_new = p++;
    n->pl_users_old = p++;
    n->pl_users_new = p++;
    n->pl_allow = p;
}

int auth_deny(struct auth_run *r, const char *fmt, ...)
{
    if (!r->err)
        return -1;
    char msg[MXR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mxr_err_set(r->err, "M_FORBIDDEN", "rule %s", msg);
}

const char *auth_membership(const struct mxr_event *member)
{
    const char *m = member ? mxr_event_content_str(member, "membership") : NULL;
    return m ? m : "leave";
}

const char *auth_event_room_id(const struct mxr_event *ev)
{
    if (ev->room_id)
        return ev->room_id;
    return ev->room_id_buf[0] ? ev->room_id_buf : NULL;
}

static bool is_type(const struct mxr_event *ev, const char *type)
{
    return auth_str_eq(ev->type, type);
}

/* Rule 1: the create event is judged on its own, before anything else. */
static int create_rules(struct auth_run *r)
{
    const struct mxr_event *ev = r->ev;
    int c = r->n.create;
    if (ev->n_prev_events > 0)
        return auth_deny(r, "%d.1: m.room.create has prev_events", c);
    if (r->rv->room_id_is_create_hash) {
        /* The ID is derived from the event, so the wire format must not carry one. */
        if (json_object_get(ev->json, "room_id"))
            return auth_deny(r, "%d.2: m.room.create has a room_id", c);
    } else {
        const char *room_dom = ev->room_id ? mxr_id_domain(ev->room_id) : NULL;
        const char *sender_dom = ev->sender ? mxr_id_domain(ev->sender) : NULL;
        if (!auth_str_eq(room_dom, sender_dom))
            return auth_deny(r, "%d.2: domain of room_id does not match the sender's domain", c);
    }
    json_t *ver = json_object_get(ev->content, "room_version");
    if (ver && (!json_is_string(ver) || !mxr_room_version_get(json_string_value(ver), NULL)))
        return auth_deny(r, "%d.3: content.room_version is not a recognised room version", c);
    if (r->rv->privileged_creators) {
        json_t *extra = json_object_get(ev->content, "additional_creators");
        if (extra) {
            if (!json_is_array(extra))
                return auth_deny(r, "%d.4: content.additional_creators is not an array", c);
            size_t i;
            json_t *u;
            json_array_foreach(extra, i, u) {
                /* "the same user ID validation applied to sender": the
                 * grammar servers must accept over federation. */
                if (!json_is_string(u) || mxr_id_check_user(json_string_value(u), MXR_USER_HISTORICAL, NULL))
                    return auth_deny(r, "%d.4: content.additional_creators[%zu] is not a valid user ID", c, i);
            }
        }
    } else if (!r->rv->implicit_room_creator) {
        if (!json_object_get(ev->content, "creator"))
            return auth_deny(r, "%d.4: m.room.create content has no creator", c);
    }
    return 0;
}

/* Looks up the selected state for ev and applies the rules about it that
 * hold whatever the lookup maps: the create event is there (v1-v11 rule
 * 2.4), names ev's room (v12 rule 2), and every event found is in ev's room
 * (rule 2.5 / 3.5). */
static int load_state(struct auth_run *r, mxr_state_lookup_fn lookup, void *ctx)
{
    const struct mxr_event *ev = r->ev;
    struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX];
    size_t nk = mxr_auth_events_selection(r->rv, ev, keys);
    const char *authoriser = NULL;
    if (r->rv->restricted_join_rule)
        authoriser = mxr_event_content_str(ev, "join_authorised_via_users_server");

    /* v12 rule 2 comes before the auth events rules; v1-v11 rule 2.4
     * (create present) before 2.5 (same room). */
    r->create = lookup(ctx, "m.room.create", "");
    if (r->rv->room_id_is_create_hash) {
        if (!r->create)
            return auth_deny(r, "%d: no m.room.create event for room %.100s", r->n.room_id, r->room_id);
        if (r->room_id[0] != '!' || strcmp(r->room_id + 1, r->create->event_id + 1) != 0)
            return auth_deny(r, "%d: room_id %.100s is not the m.room.create event's ID %.100s", r->n.room_id,
                             r->room_id, r->create->event_id);
    } else if (!r->create) {
        return auth_deny(r, "%d.4: no m.room.create event among the auth events", r->n.auth_events);
    }

    for (size_t i = 0; i < nk; i++) {
        const struct mxr_event *e = lookup(ctx, keys[i].type, keys[i].state_key);
        if (!e)
            continue;
        if (!strcmp(keys[i].type, "m.room.power_levels"))
            r->power_levels = e;
        else if (!strcmp(keys[i].type, "m.room.join_rules"))
            r->join_rules = e;
        else if (!strcmp(keys[i].type, "m.room.third_party_invite"))
            r->tpi = e;
        else if (!strcmp(keys[i].type, "m.room.member")) {
            /* One pair may be several roles (a self-join is sender and target). */
            if (auth_str_eq(keys[i].state_key, ev->sender))
                r->sender_member = e;
            if (auth_str_eq(keys[i].state_key, ev->state_key) && is_type(ev, "m.room.member"))
                r->target_member = e;
            if (auth_str_eq(keys[i].state_key, authoriser))
                r->authoriser_member = e;
        }
        if (!auth_str_eq(auth_event_room_id(e), r->room_id))
            return auth_deny(r, "%d.5: auth event %.80s (%.60s) belongs to another room", r->n.auth_events,
                             e->event_id, keys[i].type);
    }
    return 0;
}

static const char *domain_of(const char *id)
{
    return id ? mxr_id_domain(id) : NULL;
}

int mxr_auth_check_opts(const struct mxr_room_version *rv, const struct mxr_event *ev,
                        mxr_state_lookup_fn lookup, void *ctx, const struct mxr_auth_opts *opts,
                        struct mxr_err *err)
{
    static const struct mxr_auth_opts no_opts;
    struct auth_run run = { .rv = rv, .ev = ev, .opts = opts ? opts : &no_opts, .err = err };
    struct auth_run *r = &run;
    auth_rules_for(rv, &r->n);
    if (!ev->type || !ev->sender)
        return mxr_err_set(err, "M_BAD_JSON", "event has no type or sender");

    if (is_type(ev, "m.room.create"))
        return create_rules(r);

    r->room_id = ev->room_id;
    if (!r->room_id)
        return mxr_err_set(err, "M_BAD_JSON", "event has no room_id");
    if (load_state(r, lookup, ctx))
        return -1;

    if (json_is_false(json_object_get(r->create->content, "m.federate")) &&
        !auth_str_eq(domain_of(ev->sender), domain_of(r->create->sender)))
        return auth_deny(r, "%d: the room is not federated (m.federate is false) and the sender's domain "
                         "is not the creator's", r->n.federate);

    if (r->n.aliases && is_type(ev, "m.room.aliases")) {
        if (!ev->state_key)
            return auth_deny(r, "%d.1: m.room.aliases has no state_key", r->n.aliases);
        if (!auth_str_eq(domain_of(ev->sender), ev->state_key))
            return auth_deny(r, "%d.2: m.room.aliases state_key is not the sender's domain", r->n.aliases);
        return 0;
    }

    if (is_type(ev, "m.room.member"))
        return auth_member_rules(r);

    if (strcmp(auth_membership(r->sender_member), "join") != 0)
        return auth_deny(r, "%d: sender is not joined to the room", r->n.joined);

    int64_t sender_level = mxr_auth_user_level(rv, r->create, r->power_levels, ev->sender);
    if (is_type(ev, "m.room.third_party_invite")) {
        if (sender_level >= mxr_auth_named_level(rv, r->power_levels, "invite"))
            return 0;
        return auth_deny(r, "%d.1: sender's power level is below the invite level", r->n.tpi);
    }

    if (mxr_auth_event_level(rv, r->power_levels, ev->type, ev->state_key != NULL) > sender_level)
        return auth_deny(r, "%d: sender's power level is below the level required for %.100s events",
                         r->n.required, ev->type);

    if (ev->state_key && ev->state_key[0] == '@' && strcmp(ev->state_key, ev->sender) != 0)
        return auth_deny(r, "%d: state_key starts with '@' and is not the sender", r->n.at_state_key);

    if (is_type(ev, "m.room.power_levels"))
        return auth_power_levels_rules(r);

    if (r->n.redaction && is_type(ev, "m.room.redaction")) {
        /* v1-v2 only; later versions decide this when applying the redaction. */
        if (sender_level >= mxr_auth_named_level(rv, r->power_levels, "redact"))
            return 0;
        const char *target_dom = domain_of(ev->redacts);
        if (target_dom && auth_str_eq(target_dom, mxr_id_domain(ev->event_id)))
            return 0;
        return auth_deny(r, "%d.3: sender's power level is below the redact level and the redacted event's "
                         "event_id domain is not the redaction's", r->n.redaction);
    }
    return 0;
}

int mxr_auth_check(const struct mxr_room_version *rv, const struct mxr_event *ev,
                   mxr_state_lookup_fn lookup, void *ctx, struct mxr_err *err)
{
    return mxr_auth_check_opts(rv, ev, lookup, ctx, NULL, err);
}

int64_t mxr_auth_sender_level(const struct mxr_room_version *rv, const struct mxr_event *ev,
                              mxr_state_lookup_fn lookup, void *ctx)
{
    const struct mxr_event *create = lookup(ctx, "m.room.create", "");
    const struct mxr_event *pl = lookup(ctx, "m.room.power_levels", "");
    return mxr_auth_user_level(rv, create, pl, ev->sender);
}
