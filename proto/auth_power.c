/* Power levels: reading them (client-server API, m.room.power_levels; the
 * "Definitions" of the server-server API's checks on receipt) and the
 * authorization rule for m.room.power_levels events (rule 10 in v1-v5 and
 * v12, 9 in v6-v11).
 *
 * Values are read per room version: integers everywhere, integer strings in
 * v1-v9, floats in v1-v5 (rooms/v1 "Deprecated event content schemas").
 * A value that does not parse counts as absent when reading an existing
 * event, so the defaults apply; in a new power levels event it is rejected
 * once a rule has to compare it.
 */
#include "auth_internal.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "mxr/ids.h"

static int parse_int_string(const char *s, int64_t *out)
{
    /* "a single base 10 integer ... optionally prefixed with a single - or
     * + ... optionally with any number of leading or trailing whitespace". */
    while (*s && isspace((unsigned char)*s))
        s++;
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return -1;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > (uint64_t)INT64_MAX)
            return -1;
    }
    while (*s && isspace((unsigned char)*s))
        s++;
    if (*s)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

int mxr_power_level_parse(const struct mxr_room_version *rv, const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (!rv->enforce_int_power_levels && json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) /* embedded NUL */
            return -1;
        return parse_int_string(s, out);
    }
    if (!rv->strict_canonical_json && json_is_real(v)) {
        double d = trunc(json_real_value(v));
        if (!isfinite(d) || d >= 9223372036854775807.0 || d < -9223372036854775807.0)
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    return -1;
}

static bool content_level(const struct mxr_room_version *rv, const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return v && mxr_power_level_parse(rv, v, out) == 0;
}

static int64_t default_named(const char *name)
{
    static const struct { const char *name; int64_t level; } D[] = {
        { "users_default", 0 }, { "events_default", 0 }, { "state_default", 50 }, { "ban", 50 },
        { "redact", 50 },       { "kick", 50 },          { "invite", 0 },
    };
    for (size_t i = 0; i < sizeof D / sizeof D[0]; i++)
        if (!strcmp(D[i].name, name))
            return D[i].level;
    return 0;
}

int64_t mxr_auth_named_level(const struct mxr_room_version *rv, const struct mxr_event *power_levels,
                             const char *name)
{
    int64_t v;
    if (power_levels && content_level(rv, power_levels->content, name, &v))
        return v;
    return default_named(name);
}

int64_t mxr_auth_event_level(const struct mxr_room_version *rv, const struct mxr_event *power_levels,
                             const char *type, bool is_state)
{
    int64_t v;
    if (power_levels && type && content_level(rv, json_object_get(power_levels->content, "events"), type, &v))
        return v;
    return mxr_auth_named_level(rv, power_levels, is_state ? "state_default" : "events_default");
}

bool mxr_auth_is_creator(const struct mxr_room_version *rv, const struct mxr_event *create, const char *user_id)
{
    if (!create || !user_id)
        return false;
    if (!rv->implicit_room_creator)
        return auth_str_eq(mxr_event_content_str(create, "creator"), user_id);
    if (auth_str_eq(create->sender, user_id))
        return true;
    if (rv->privileged_creators) {
        json_t *extra = json_object_get(create->content, "additional_creators");
        size_t i;
        json_t *u;
        if (json_is_array(extra))
            json_array_foreach(extra, i, u)
                if (auth_str_eq(json_string_value(u), user_id))
                    return true;
    }
    return false;
}

int64_t mxr_auth_user_level(const struct mxr_room_version *rv, const struct mxr_event *create,
                            const struct mxr_event *power_levels, const char *user_id)
{
    if (rv->privileged_creators && mxr_auth_is_creator(rv, create, user_id))
        return MXR_POWER_INFINITE;
    if (power_levels) {
        int64_t v;
        if (user_id && content_level(rv, json_object_get(power_levels->content, "users"), user_id, &v))
            return v;
        return mxr_auth_named_level(rv, power_levels, "users_default");
    }
    /* No power levels event: the creator 100, everyone else 0 (v1-v11). */
    if (!rv->privileged_creators && mxr_auth_is_creator(rv, create, user_id))
        return 100;
    return 0;
}

/* ---- rule 10 (9 in v6-v11): m.room.power_levels ------------------------- */

static const char *const NAMED[] = {
    "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite",
};

/* One entry as both events hold it: *present tells whether the key exists,
 * *valid whether its value parsed. */
struct pl_value {
    bool present, valid;
    int64_t level;
    const json_t *raw;
};

static struct pl_value pl_value_of(const struct mxr_room_version *rv, const json_t *obj, const char *key)
{
    struct pl_value v = {0};
    v.raw = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    v.present = v.raw != NULL;
    v.valid = v.present && mxr_power_level_parse(rv, v.raw, &v.level) == 0;
    return v;
}

/* "added, changed or removed": by value, so "50" and 50 are the same. */
static bool altered(const struct pl_value *old, const struct pl_value *new)
{
    if (old->present != new->present)
        return true;
    if (!old->present || json_equal((json_t *)old->raw, (json_t *)new->raw))
        return false;
    return !old->valid || !new->valid || old->level != new->level;
}

static int check_v10_types(struct auth_run *r, const json_t *content)
{
    for (size_t i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++) {
        json_t *v = json_object_get(content, NAMED[i]);
        if (v && !json_is_integer(v))
            return auth_deny(r, "%d.%d: %s is not an integer", r->n.power_levels, r->n.pl_named_int, NAMED[i]);
    }
    static const char *const MAPS[] = { "events", "notifications" };
    for (size_t i = 0; i < 2; i++) {
        json_t *m = json_object_get(content, MAPS[i]);
        if (!m)
            continue;
        if (!json_is_object(m))
            return auth_deny(r, "%d.%d: %s is not an object", r->n.power_levels, r->n.pl_maps_int, MAPS[i]);
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v)
            if (!json_is_integer(v))
                return auth_deny(r, "%d.%d: %s[%.100s] is not an integer", r->n.power_levels, r->n.pl_maps_int,
                                 MAPS[i], k);
    }
    return 0;
}

static int check_users(struct auth_run *r, const json_t *users)
{
    const struct auth_rules *n = &r->n;
    if (!users)
        return 0;
    if (!json_is_object(users))
        return auth_deny(r, "%d.%d: users is not an object", n->power_levels, n->pl_users);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)users, k, v) {
        int64_t level;
        if (mxr_id_check_user(k, MXR_USER_HISTORICAL, NULL))
            return auth_deny(r, "%d.%d: users key %.100s is not a valid user ID", n->power_levels, n->pl_users, k);
        if (mxr_power_level_parse(r->rv, v, &level))
            return auth_deny(r, "%d.%d: users[%.100s] is not an integer", n->power_levels, n->pl_users, k);
    }
    if (n->pl_creators)
        json_object_foreach((json_t *)users, k, v)
            if (mxr_auth_is_creator(r->rv, r->create, k))
                return auth_deny(r, "%d.%d: users contains room creator %.100s", n->power_levels, n->pl_creators, k);
    return 0;
}

/* Rules "changed in, or removed from" (old side) for the keys of old_map,
 * and "added to, or changed in" (new side) for the keys of new_map. `users`
 * differ: the sender's own entry is exempt from the old side, whose bound is
 * ">=" instead of ">". */
static int check_map_old(struct auth_run *r, const json_t *old_map, const json_t *new_map, const char *name,
                         int sub, bool users, int64_t sender_level)
{
    if (!json_is_object(old_map))
        return 0;
    const char *k;
    json_t *raw;
    json_object_foreach((json_t *)old_map, k, raw) {
        struct pl_value o = pl_value_of(r->rv, old_map, k), nv = pl_value_of(r->rv, new_map, k);
        if (!altered(&o, &nv) || !o.valid)
            continue;
        if (users && auth_str_eq(k, r->ev->sender))
            continue;
        if (users ? o.level >= sender_level : o.level > sender_level)
            return auth_deny(r, "%d.%d.1: %s[%.100s] is changed or removed and its current value %s the sender's "
                             "power level", r->n.power_levels, sub, name, k,
                             users ? "is not below" : "is above");
    }
    return 0;
}

static int check_map_new(struct auth_run *r, const json_t *old_map, const json_t *new_map, const char *name,
                         int sub, int64_t sender_level)
{
    if (!json_is_object(new_map))
        return 0;
    const char *k;
    json_t *raw;
    json_object_foreach((json_t *)new_map, k, raw) {
        struct pl_value o = pl_value_of(r->rv, old_map, k), nv = pl_value_of(r->rv, new_map, k);
        if (!altered(&o, &nv))
            continue;
        if (!nv.valid)
            return auth_deny(r, "%d.%d.1: %s[%.100s] is not a valid power level", r->n.power_levels, sub, name, k);
        if (nv.level > sender_level)
            return auth_deny(r, "%d.%d.1: new value of %s[%.100s] is above the sender's power level",
                             r->n.power_levels, sub, name, k);
    }
    return 0;
}

int auth_power_levels_rules(struct auth_run *r)
{
    const struct mxr_room_version *rv = r->rv;
    const struct auth_rules *n = &r->n;
    const json_t *content = r->ev->content;

    if (n->pl_named_int && check_v10_types(r, content))
        return -1;
    if (check_users(r, json_object_get(content, "users")))
        return -1;
    if (!r->power_levels)
        return 0;

    const json_t *old = r->power_levels->content;
    int64_t sender_level = mxr_auth_user_level(rv, r->create, r->power_levels, r->ev->sender);
    for (size_t i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++) {
        struct pl_value o = pl_value_of(rv, old, NAMED[i]), nv = pl_value_of(rv, content, NAMED[i]);
        if (!altered(&o, &nv))
            continue;
        if (o.valid && o.level > sender_level)
            return auth_deny(r, "%d.%d.1: current value of %s is above the sender's power level", n->power_levels,
                             n->pl_named, NAMED[i]);
        if (nv.present && !nv.valid)
            return auth_deny(r, "%d.%d.2: %s is not a valid power level", n->power_levels, n->pl_named, NAMED[i]);
        if (nv.present && nv.level > sender_level)
            return auth_deny(r, "%d.%d.2: new value of %s is above the sender's power level", n->power_levels,
                             n->pl_named, NAMED[i]);
    }

    /* v6+ adds notifications to the events rules. */
    const char *maps[2] = { "events", "notifications" };
    size_t nmaps = rv->limit_notifications_power_levels ? 2 : 1;
    for (size_t i = 0; i < nmaps; i++)
        if (check_map_old(r, json_object_get(old, maps[i]), json_object_get(content, maps[i]), maps[i],
                          n->pl_maps_old, false, sender_level))
            return -1;
    for (size_t i = 0; i < nmaps; i++)
        if (check_map_new(r, json_object_get(old, maps[i]), json_object_get(content, maps[i]), maps[i],
                          n->pl_maps_new, sender_level))
            return -1;
    const json_t *old_users = json_object_get(old, "users"), *new_users = json_object_get(content, "users");
    if (check_map_old(r, old_users, new_users, "users", n->pl_users_old, true, sender_level))
        return -1;
    if (check_map_new(r, old_users, new_users, "users", n->pl_users_new, sender_level))
        return -1;
    return 0;
}
