/* Creating rooms: the event sequence of the client-server API's createRoom
 * (create_room.yaml, steps 1-8), each event built and checked by the one
 * pipeline, all of them in one durable commit so a room never exists half
 * made. */
#include "relay/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"

struct preset {
    const char *name;
    const char *join_rule;
    const char *history_visibility;
    const char *guest_access;
    int64_t invite_level;        /* -1: keep the default (50) */
    bool invitees_are_creators;  /* trusted_private_chat */
};

/* create_room.yaml, "The available presets"; invite level 0 for the private
 * presets as Synapse does, so that members can invite. */
static const struct preset PRESETS[] = {
    {"private_chat", "invite", "shared", "can_join", 0, false},
    {"trusted_private_chat", "invite", "shared", "can_join", 0, true},
    {"public_chat", "public", "shared", "forbidden", -1, false},
};

static const struct preset *preset_get(const char *name)
{
    if (!name)
        name = "private_chat";
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        if (strcmp(PRESETS[i].name, name) == 0)
            return &PRESETS[i];
    return NULL;
}

struct create_arg {
    struct mxr_rooms *r;
    const char *creator;
    const struct mxr_rooms_create_opts *o;
    const struct mxr_room_version *rv;
    const struct preset *preset;
    int64_t ts;
    struct item_list list;
    char room_id[MXR_ID_MAX + 1];
};

/* Sends one event of the sequence; takes the reference to content. */
static int emit(struct run *run, struct create_arg *a, const char *type, const char *state_key, json_t *content,
                char out_id[MXR_ID_MAX + 1], struct mxr_err *err)
{
    if (!content)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    struct build_spec spec = {
        .room_id = a->room_id[0] ? a->room_id : NULL,
        .rv = a->rv,
        .sender = a->creator,
        .type = type,
        .state_key = state_key,
        .content = content,
        .ts = a->ts,
    };
    int rc = build_local_event(run, &spec, &a->list, out_id, err);
    json_decref(content);
    return rc;
}

static bool in_initial_state(const struct mxr_rooms_create_opts *o, const char *type, const char *state_key)
{
    size_t i;
    json_t *e;
    json_array_foreach(o->initial_state, i, e) {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *sk = json_string_value(json_object_get(e, "state_key"));
        if (t && strcmp(t, type) == 0 && strcmp(sk ? sk : "", state_key) == 0)
            return true;
    }
    return false;
}

static bool is_local_invitee(const struct create_arg *a, size_t i)
{
    return rooms_user_on(a->o->invite[i], a->r->server_name);
}

static json_t *create_content(const struct create_arg *a)
{
    const struct mxr_room_version *rv = a->rv;
    json_t *c = a->o->creation_content ? json_deep_copy(a->o->creation_content) : json_object();
    if (!c)
        return NULL;
    json_object_set_new(c, "room_version", json_string(rv->id));
    if (!rv->implicit_room_creator)
        json_object_set_new(c, "creator", json_string(a->creator));
    else
        json_object_del(c, "creator");
    if (rv->privileged_creators && a->preset->invitees_are_creators && a->o->n_invite) {
        /* create_room.yaml step 3: trusted_private_chat invitees SHOULD be
         * appended to additional_creators (v12: creators rank above all). */
        json_t *extra = json_object_get(c, "additional_creators");
        if (!json_is_array(extra)) {
            extra = json_array();
            json_object_set_new(c, "additional_creators", extra);
        }
        for (size_t i = 0; i < a->o->n_invite; i++) {
            bool have = strcmp(a->o->invite[i], a->creator) == 0;
            size_t k;
            json_t *u;
            json_array_foreach(extra, k, u) {
                have = have || (json_is_string(u) && !strcmp(json_string_value(u), a->o->invite[i]));
            }
            if (!have)
                json_array_append_new(extra, json_string(a->o->invite[i]));
        }
    }
    return c;
}

/* Step 3: the default power levels (Synapse's defaults), then the override. */
static json_t *power_levels_content(const struct create_arg *a)
{
    const struct mxr_room_version *rv = a->rv;
    /* v12: "the power level for sending m.room.tombstone events MUST
     * explicitly be higher than state_default" and creators are not listed. */
    json_t *pl = json_pack("{s:{}, s:i, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}, s:i, s:i, s:i, s:i, s:i, s:i}",
                           "users", "users_default", 0, "events", "m.room.name", 50, "m.room.power_levels", 100,
                           "m.room.history_visibility", 100, "m.room.canonical_alias", 50, "m.room.avatar", 50,
                           "m.room.tombstone", rv->privileged_creators ? 150 : 100, "m.room.server_acl", 100,
                           "m.room.encryption", 100, "events_default", 0, "state_default", 50, "ban", 50, "kick",
                           50, "redact", 50, "invite", a->preset->invite_level >= 0 ? (int)a->preset->invite_level : 50);
    if (!pl)
        return NULL;
    json_t *users = json_object_get(pl, "users");
    if (!rv->privileged_creators) {
        json_object_set_new(users, a->creator, json_integer(100));
        if (a->preset->invitees_are_creators)
            for (size_t i = 0; i < a->o->n_invite; i++)
                json_object_set_new(users, a->o->invite[i], json_integer(100));
    }
    if (a->o->power_level_content_override)
        json_object_update(pl, a->o->power_level_content_override);
    return pl;
}

static json_t *topic_content(const char *topic)
{
    /* m.room.topic: `topic`, and since v1.15 the same text in m.topic. */
    return json_pack("{s:s, s:{s:[{s:s, s:s}]}}", "topic", topic, "m.topic", "m.text", "mimetype", "text/plain",
                     "body", topic);
}

/* A member event's content: `extra` (the creator's profile) with the
 * membership, and is_direct on the invites of a direct chat
 * (create_room.yaml "is_direct"). New reference. */
static json_t *member_content(const json_t *extra, const char *membership, bool is_direct)
{
    json_t *c = json_is_object(extra) ? json_deep_copy(extra) : json_object();
    if (c) {
        json_object_set_new(c, "membership", json_string(membership));
        if (is_direct)
            json_object_set_new(c, "is_direct", json_true());
    }
    return c;
}

static int create_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct create_arg *a = arg;
    const struct mxr_rooms_create_opts *o = a->o;
    item_list_clear(&a->list);
    a->room_id[0] = '\0';
    struct run run = {.r = a->r, .txn = txn, .now = a->ts};
    evc_init(&run.cache, txn);
    int rc = 0;

    /* 1. m.room.create. Before v12 the room ID is ours to pick; in v12 it
     * is derived from the create event. */
    if (!a->rv->room_id_is_create_hash)
        rooms_random_id(a->room_id, sizeof a->room_id, '!', a->r->server_name);
    char create_id[MXR_ID_MAX + 1];
    rc = emit(&run, a, "m.room.create", "", create_content(a), create_id, err);
    if (rc == 0 && a->rv->room_id_is_create_hash)
        snprintf(a->room_id, sizeof a->room_id, "!%s", create_id + 1);

    /* 2. The creator joins. */
    if (rc == 0)
        rc = emit(&run, a, "m.room.member", a->creator, member_content(o->creator_content, "join", false), NULL,
                  err);
    /* 3. Power levels. */
    if (rc == 0)
        rc = emit(&run, a, "m.room.power_levels", "", power_levels_content(a), NULL, err);
    /* 4. (m.room.canonical_alias: aliases are not ours; callers pass it in
     * initial_state.) 5. The preset's events, unless initial_state sets them. */
    const struct {
        const char *type, *key, *value;
    } preset_events[] = {
        {"m.room.join_rules", "join_rule", a->preset->join_rule},
        {"m.room.history_visibility", "history_visibility", a->preset->history_visibility},
        {"m.room.guest_access", "guest_access", a->preset->guest_access},
    };
    for (size_t i = 0; rc == 0 && i < sizeof preset_events / sizeof preset_events[0]; i++)
        if (!in_initial_state(o, preset_events[i].type, ""))
            rc = emit(&run, a, preset_events[i].type, "",
                      json_pack("{s:s}", preset_events[i].key, preset_events[i].value), NULL, err);
    /* 6. initial_state in order; name and topic given directly win. */
    size_t i;
    json_t *e;
    json_array_foreach(o->initial_state, i, e) {
        if (rc)
            break;
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *sk = json_string_value(json_object_get(e, "state_key"));
        if ((o->name && strcmp(type, "m.room.name") == 0) || (o->topic && strcmp(type, "m.room.topic") == 0))
            continue;
        rc = emit(&run, a, type, sk ? sk : "", json_deep_copy(json_object_get(e, "content")), NULL, err);
    }
    /* 7. name, topic. */
    if (rc == 0 && o->name)
        rc = emit(&run, a, "m.room.name", "", json_pack("{s:s}", "name", o->name), NULL, err);
    if (rc == 0 && o->topic)
        rc = emit(&run, a, "m.room.topic", "", topic_content(o->topic), NULL, err);
    /* 8. Invites of our own users (remote ones need the /invite handshake). */
    for (size_t k = 0; rc == 0 && k < o->n_invite; k++)
        if (is_local_invitee(a, k))
            rc = emit(&run, a, "m.room.member", o->invite[k], member_content(NULL, "invite", o->is_direct), NULL,
                      err);
    evc_free(&run.cache);
    return rc;
}

static int check_opts(const struct mxr_rooms_create_opts *o, struct mxr_err *err)
{
    if (o->creation_content && !json_is_object(o->creation_content))
        return mxr_err_set(err, "M_BAD_JSON", "creation_content must be an object");
    if (o->power_level_content_override && !json_is_object(o->power_level_content_override))
        return mxr_err_set(err, "M_BAD_JSON", "power_level_content_override must be an object");
    if (o->initial_state && !json_is_array(o->initial_state))
        return mxr_err_set(err, "M_BAD_JSON", "initial_state must be an array");
    size_t i;
    json_t *e;
    json_array_foreach(o->initial_state, i, e) {
        json_t *sk = json_object_get(e, "state_key");
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "type")) ||
            !json_is_object(json_object_get(e, "content")) || (sk && !json_is_string(sk)))
            return mxr_err_set(err, "M_BAD_JSON", "initial_state[%zu] must be {type: string, state_key?: string, "
                               "content: object}", i);
        if (strcmp(json_string_value(json_object_get(e, "type")), "m.room.create") == 0)
            return mxr_err_set(err, "M_BAD_JSON", "initial_state[%zu]: m.room.create comes from creation_content", i);
    }
    for (size_t k = 0; k < o->n_invite; k++)
        if (!o->invite[k] || mxr_id_check_user(o->invite[k], MXR_USER_HISTORICAL, NULL) < 0)
            return mxr_err_set(err, "M_INVALID_PARAM", "invite[%zu] is not a user ID", k);
    return 0;
}

int mxr_rooms_create_room(struct mxr_rooms *r, const char *creator, const struct mxr_rooms_create_opts *opts,
                          char room_id_out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    static const struct mxr_rooms_create_opts none;
    const struct mxr_rooms_create_opts *o = opts ? opts : &none;
    if (rooms_check_local_sender(r, creator, err) < 0 || check_opts(o, err) < 0)
        return -1;
    const struct mxr_room_version *rv = mxr_room_version_get(o->room_version ? o->room_version : r->default_version,
                                                             err);
    if (!rv)
        return -1;
    const struct preset *p = preset_get(o->preset);
    if (!p)
        return mxr_err_set(err, "M_INVALID_PARAM", "preset '%.60s' is not one of private_chat, public_chat, "
                           "trusted_private_chat", o->preset);
    struct create_arg a = {.r = r, .creator = creator, .o = o, .rv = rv, .preset = p, .ts = rooms_now(r)};
    int rc = mxr_store_write(r->store, create_write, &a, err);
    if (rc == 0) {
        for (size_t i = 0; i < a.list.n; i++)
            pipeline_notify(r, NULL, a.list.v[i]);
        if (room_id_out)
            snprintf(room_id_out, MXR_ID_MAX + 1, "%s", a.room_id);
    }
    item_list_clear(&a.list);
    return rc;
}
