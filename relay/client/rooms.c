/* Changing rooms (client-server API "Rooms", "Room membership", "Sending
 * events to a room"): createRoom, join, invite, leave, kick, ban, unban,
 * forget, send and state PUT. Every event goes through relay/rooms, which
 * builds, signs and authorises it like any other event. */
#include "relay/client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/roomver.h"
#include "relay/config.h"
#include "relay/rooms/rooms.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* The {roomId} parameter, checked as a room ID of any version's form. */
static const char *room_param(struct mxr_request *req, struct mxr_response *resp)
{
    const char *r = mxr_req_param(req, "roomId");
    if (!r || mxr_id_check_room(r, MXR_ID_ANY_FORMAT, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", r ? r : "");
        return NULL;
    }
    return r;
}

static bool room_known(struct mxr_client *c, const char *room_id, struct mxr_err *err, int *rc)
{
    struct mxr_store_txn *t;
    char ver[MXR_STORE_VERSION_MAX + 1];
    if (mxr_store_read_begin(c->store, &t, err) < 0) {
        *rc = -1;
        return false;
    }
    *rc = mxr_store_room_version(t, room_id, ver, err);
    mxr_store_read_end(t);
    return *rc == 0;
}

/* Sends one event of req->user_id and answers {event_id} (or {} when
 * empty_body), mapping the pipeline's refusals to their statuses. */
static int send_ev(struct mxr_client *c, struct mxr_request *req, struct mxr_response *resp, const char *room_id,
                const char *type, const char *state_key, json_t *content, char event_id[MXR_ID_MAX + 1])
{
    struct mxr_err err = {0};
    int rc = mxr_rooms_send_event(c->rooms, room_id, req->user_id, type, state_key, content, event_id, &err);
    if (rc < 0) {
        if (err.errcode && !strcmp(err.errcode, "M_UNKNOWN"))
            cl_store_error(req, resp, &err);
        else
            mxr_resp_err(resp, &err);
        return -1;
    }
    cl_wake(c);
    return 0;
}

/* The member event content for user: membership, and for our own users
 * their display name and avatar (client-server API "Events on Change of
 * Profile Information": include them so clients need no extra lookups). */
static json_t *member_content(struct mxr_client *c, const char *user_id, const char *membership, const char *reason)
{
    json_t *content = NULL;
    if (cl_is_local(c, user_id)) {
        struct mxr_store_txn *t;
        struct mxr_err err = {0};
        if (mxr_store_read_begin(c->store, &t, &err) == 0) {
            content = cl_profile_load(t, user_id, &err);
            mxr_store_read_end(t);
        }
    }
    if (!content)
        content = json_object();
    json_object_set_new(content, "membership", json_string(membership));
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    return content;
}

static int optional_reason(json_t *body, const char **reason, struct mxr_response *resp)
{
    return cl_opt_str(body, "reason", reason, resp);
}

/* ---- createRoom ------------------------------------------------------------------------- */

static int check_invites(json_t *invite, const char ***out, size_t *n, struct mxr_response *resp)
{
    *out = NULL;
    *n = 0;
    if (!invite)
        return 0;
    if (!json_is_array(invite))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "'invite' must be an array of user IDs");
    *n = json_array_size(invite);
    *out = calloc(*n + 1, sizeof **out);
    if (!*out)
        return mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    for (size_t i = 0; i < *n; i++) {
        const char *u = json_string_value(json_array_get(invite, i));
        if (!u || mxr_id_check_user(u, MXR_USER_HISTORICAL, NULL) < 0) {
            free(*out);
            *out = NULL;
            return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "invite[%zu] is not a user ID", i);
        }
        (*out)[i] = u;
    }
    return 0;
}

static int alias_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    const char *const *a = arg;
    bool created;
    return mxr_store_alias_create(t, a[0], a[1], &created, err);
}

void cl_h_create_room(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    const char *visibility, *alias_name, *name, *topic, *version, *preset;
    if (cl_opt_str(body, "visibility", &visibility, resp) < 0 || cl_opt_str(body, "room_alias_name", &alias_name, resp) < 0 ||
        cl_opt_str(body, "name", &name, resp) < 0 || cl_opt_str(body, "topic", &topic, resp) < 0 ||
        cl_opt_str(body, "room_version", &version, resp) < 0 || cl_opt_str(body, "preset", &preset, resp) < 0)
        return;
    if (visibility && strcmp(visibility, "public") && strcmp(visibility, "private")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "visibility must be 'public' or 'private'");
        return;
    }
    if (preset && strcmp(preset, "private_chat") && strcmp(preset, "public_chat") &&
        strcmp(preset, "trusted_private_chat")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "unknown preset '%s'", preset);
        return;
    }
    if (!preset)   /* create_room.yaml: the visibility decides */
        preset = visibility && !strcmp(visibility, "public") ? "public_chat" : "private_chat";
    struct mxr_err err = {0};
    if (version && !mxr_room_version_get(version, &err)) {
        mxr_resp_error(resp, 400, "M_UNSUPPORTED_ROOM_VERSION", "room version '%s' is not supported (1-12 are)",
                       version);
        return;
    }
    json_t *cc = json_object_get(body, "creation_content"), *plo = json_object_get(body, "power_level_content_override");
    json_t *initial = json_object_get(body, "initial_state");
    if ((cc && !json_is_object(cc)) || (plo && !json_is_object(plo)) || (initial && !json_is_array(initial))) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "creation_content and power_level_content_override must be objects, "
                       "initial_state an array");
        return;
    }
    json_t *is_direct = json_object_get(body, "is_direct");
    if (is_direct && !json_is_boolean(is_direct)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'is_direct' must be a boolean");
        return;
    }
    const char **invite;
    size_t n_invite;
    if (check_invites(json_object_get(body, "invite"), &invite, &n_invite, resp) < 0)
        return;

    char alias[CL_ID_MAX + 2] = "";
    json_t *state = initial ? json_deep_copy(initial) : json_array();
    if (alias_name) {
        /* create_room.yaml step 4: the alias is the canonical alias. It goes
         * first in initial_state (relay/rooms runs initial_state after the
         * preset events; the order of these independent events does not
         * change the resulting state). */
        int n = snprintf(alias, sizeof alias, "#%s:%s", alias_name, c->server_name);
        if (n > CL_ID_MAX || !*alias_name || strchr(alias_name, ':') || mxr_id_check_alias(alias, NULL) < 0) {
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "room_alias_name '%s' does not make a valid alias", alias_name);
            goto out;
        }
        struct mxr_store_txn *t;
        char existing[MXR_STORE_ID_MAX + 1];
        if (mxr_store_read_begin(c->store, &t, &err) < 0) {
            cl_store_error(req, resp, &err);
            goto out;
        }
        int rc = mxr_store_alias_get(t, alias, existing, &err);
        mxr_store_read_end(t);
        if (rc < 0) {
            cl_store_error(req, resp, &err);
            goto out;
        }
        if (rc == 0) {
            mxr_resp_error(resp, 400, "M_ROOM_IN_USE", "Room alias %s already taken", alias);
            goto out;
        }
        json_array_insert_new(state, 0, json_pack("{s:s, s:s, s:{s:s}}", "type", "m.room.canonical_alias",
                                                  "state_key", "", "content", "alias", alias));
    }
    struct mxr_rooms_create_opts o = {
        .room_version = version ? version : c->cfg->default_room_version,
        .preset = preset,
        .creation_content = cc,
        .power_level_content_override = plo,
        .initial_state = state,
        .name = name,
        .topic = topic,
        .invite = invite,
        .n_invite = n_invite,
        .is_direct = json_is_true(is_direct),
        /* the creator's join carries their profile, as every join sent here */
        .creator_content = member_content(c, req->user_id, "join", NULL),
    };
    char room_id[MXR_ID_MAX + 1];
    int created = mxr_rooms_create_room(c->rooms, req->user_id, &o, room_id, &err);
    json_decref(o.creator_content);
    if (created < 0) {
        if (err.errcode && !strcmp(err.errcode, "M_FORBIDDEN"))
            err.errcode = "M_INVALID_ROOM_STATE";   /* create_room.yaml: the request's state is not allowed */
        mxr_resp_err(resp, &err);
        goto out;
    }
    cl_wake(c);
    if (visibility && !strcmp(visibility, "public") && cl_publish_room(c, room_id, true, &err) < 0 && c->log)
        mxr_log(c->log, MXR_LOG_WARN, req->id, "room %s: publishing it failed: %s", room_id, err.msg);
    if (alias[0]) {
        const char *pair[2] = {alias, room_id};
        if (cl_write(c, alias_fn, pair, &err) < 0 && c->log)
            mxr_log(c->log, MXR_LOG_WARN, req->id, "room %s: storing alias %s failed: %s", room_id, alias, err.msg);
    }
    for (size_t i = 0; i < n_invite; i++) {
        if (cl_is_local(c, invite[i]))
            continue;
        struct mxr_err e2 = {0};
        if (!c->remote_invite)
            mxr_err_set(&e2, "M_UNRECOGNIZED", "inviting users of other servers is not available yet");
        if (!c->remote_invite || c->remote_invite(c->remote_ctx, room_id, req->user_id, invite[i], NULL, &e2) < 0)
            if (c->log)
                mxr_log(c->log, MXR_LOG_WARN, req->id, "room %s: inviting %s failed: %s", room_id, invite[i], e2.msg);
    }
    mxr_resp_json(resp, 200, json_pack("{s:s}", "room_id", room_id));
out:
    json_decref(state);
    free(invite);
}

/* ---- membership ---------------------------------------------------------------------------- */

/* Whether this server holds the room's current state (1: it is or was in
 * the room), else 0 (the room is known only from an invite or a knock of
 * ours: server-server API "Leaving Rooms (Rejecting Invites)" goes
 * through a resident server then, and so does a join); -1 on a store
 * failure. */
static int has_state(struct mxr_client *c, const char *room_id, struct mxr_err *err)
{
    struct mxr_store_txn *t;
    uint64_t group = 0;
    if (mxr_store_read_begin(c->store, &t, err) < 0)
        return -1;
    int rc = mxr_store_room_current(t, room_id, &group, err);
    mxr_store_read_end(t);
    return rc < 0 ? -1 : group != 0;
}

/* Joins req->user_id to a room by ID: a local join when the room's state
 * is here, else the federation seam (the room may be known here only from
 * an invite). */
static void join_room(struct mxr_client *c, struct mxr_request *req, struct mxr_response *resp, const char *room_id,
                      const char *via_target)
{
    json_t *body = cl_body(req, resp);
    const char *reason;
    if (!body || optional_reason(body, &reason, resp) < 0)
        return;
    struct mxr_err err = {0};
    int rc;
    bool known = room_known(c, room_id, &err, &rc);
    if (known && c->remote_join && (rc = has_state(c, room_id, &err)) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (!known || (c->remote_join && rc == 0)) {
        if (rc < 0) {
            cl_store_error(req, resp, &err);
            return;
        }
        char joined[256];
        if (!c->remote_join) {
            mxr_resp_error(resp, 404, "M_NOT_FOUND", "room %s is not known to this server, and joining over "
                           "federation is not available yet", room_id);
            return;
        }
        const char *via[MXR_HTTP_MAX_QUERY];
        size_t n_via = 0;
        for (size_t i = 0; i < req->n_query && n_via < MXR_HTTP_MAX_QUERY; i++)
            if (!strcmp(req->query[i].name, "via") || !strcmp(req->query[i].name, "server_name"))
                via[n_via++] = req->query[i].value;
        /* A room ID that names us (or no server, room version 12) and no
         * `via`: nobody to send make_join to, so the room is unknown
         * (joining.yaml: 404), not a server failure. */
        const char *dom = via_target[0] == '!' ? strchr(via_target, ':') : NULL;
        if (via_target[0] == '!' && !known && n_via == 0 && (!dom || !strcmp(dom + 1, c->server_name))) {
            mxr_resp_error(resp, 404, "M_NOT_FOUND", "room %s is not known to this server and no server to join "
                           "it through was given (via)", room_id);
            return;
        }
        if (c->remote_join(c->remote_ctx, via_target, req->user_id, via, n_via, joined, &err) < 0) {
            mxr_resp_err(resp, &err);
            return;
        }
        cl_wake(c);
        mxr_resp_json(resp, 200, json_pack("{s:s}", "room_id", joined));
        return;
    }
    /* Already joined: nothing to send (Synapse does the same). */
    struct mxr_store_txn *t;
    char m[32] = "";
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    rc = cl_membership(t, room_id, req->user_id, m, NULL, NULL, &err);
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (strcmp(m, "join")) {
        json_t *content = member_content(c, req->user_id, "join", reason);
        char id[MXR_ID_MAX + 1];
        rc = send_ev(c, req, resp, room_id, "m.room.member", req->user_id, content, id);
        json_decref(content);
        if (rc < 0)
            return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:s}", "room_id", room_id));
}

void cl_h_room_join(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room = room_param(req, resp);
    if (room)
        join_room(cl_of(req), req, resp, room, room);
}

void cl_h_join(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *target = mxr_req_param(req, "roomIdOrAlias");
    if (target && target[0] == '!' && mxr_id_check_room(target, MXR_ID_ANY_FORMAT, NULL) == 0) {
        join_room(c, req, resp, target, target);
        return;
    }
    if (!target || target[0] != '#' || mxr_id_check_alias(target, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is neither a room ID nor a room alias", target ? target : "");
        return;
    }
    struct mxr_err err = {0};
    char room_id[MXR_STORE_ID_MAX + 1];
    int rc = cl_alias_room(c, target, room_id, &err);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (rc == MXR_STORE_NOT_FOUND) {
        const char *d = mxr_id_domain(target);
        if (d && strcmp(d, c->server_name) && c->remote_join) {
            join_room(c, req, resp, target, target);   /* unknown here: the seam resolves the alias */
            return;
        }
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Room alias %s not found", target);
        return;
    }
    join_room(c, req, resp, room_id, room_id);
}

/* A membership change of req->user_id on `target` (invite, kick, ban, unban). */
static void membership_change(struct mxr_request *req, struct mxr_response *resp, const char *membership)
{
    struct mxr_client *c = cl_of(req);
    const char *room = room_param(req, resp);
    json_t *body = room ? cl_body(req, resp) : NULL;
    const char *target, *reason;
    if (!body || cl_opt_str(body, "user_id", &target, resp) < 0 || optional_reason(body, &reason, resp) < 0)
        return;
    if (!target) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "'user_id' is required");
        return;
    }
    if (mxr_id_check_user(target, MXR_USER_HISTORICAL, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'user_id' must be a user ID");
        return;
    }
    if (!strcmp(membership, "invite") && !cl_is_local(c, target)) {
        struct mxr_err err = {0};
        if (!c->remote_invite) {
            mxr_resp_error(resp, 403, "M_FORBIDDEN", "inviting %s needs the federation invite handshake, which is "
                           "not available yet", target);
            return;
        }
        if (c->remote_invite(c->remote_ctx, room, req->user_id, target, reason, &err) < 0) {
            mxr_resp_err(resp, &err);
            return;
        }
        cl_wake(c);
        mxr_resp_json(resp, 200, json_object());
        return;
    }
    json_t *content = !strcmp(membership, "invite") ? member_content(c, target, membership, reason)
                                                     : json_pack("{s:s}", "membership", membership);
    if (reason && strcmp(membership, "invite"))
        json_object_set_new(content, "reason", json_string(reason));
    char id[MXR_ID_MAX + 1];
    int rc = send_ev(c, req, resp, room, "m.room.member", target, content, id);
    json_decref(content);
    if (rc == 0)
        mxr_resp_json(resp, 200, json_object());
}

void cl_h_invite(struct mxr_request *req, struct mxr_response *resp)
{
    membership_change(req, resp, "invite");
}

void cl_h_kick(struct mxr_request *req, struct mxr_response *resp)
{
    membership_change(req, resp, "leave");
}

void cl_h_ban(struct mxr_request *req, struct mxr_response *resp)
{
    membership_change(req, resp, "ban");
}

void cl_h_unban(struct mxr_request *req, struct mxr_response *resp)
{
    /* An unban is a leave of the banned user (spec "Banning users in a room"). */
    membership_change(req, resp, "leave");
}

void cl_h_leave(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = room_param(req, resp);
    json_t *body = room ? cl_body(req, resp) : NULL;
    const char *reason;
    if (!body || optional_reason(body, &reason, resp) < 0)
        return;
    struct mxr_err err = {0};
    int rc;
    if (!room_known(c, room, &err, &rc)) {
        if (rc < 0)
            cl_store_error(req, resp, &err);
        else
            mxr_resp_error(resp, 404, "M_NOT_FOUND", "room %s is not known to this server", room);
        return;
    }
    if (c->remote_leave && (rc = has_state(c, room, &err)) <= 0) {
        if (rc < 0 || c->remote_leave(c->remote_ctx, room, req->user_id, &err) < 0) {
            mxr_resp_err(resp, &err);
            return;
        }
        cl_wake(c);
        mxr_resp_json(resp, 200, json_object());
        return;
    }
    json_t *content = json_pack("{s:s}", "membership", "leave");
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    char id[MXR_ID_MAX + 1];
    rc = send_ev(c, req, resp, room, "m.room.member", req->user_id, content, id);
    json_decref(content);
    if (rc == 0)
        mxr_resp_json(resp, 200, json_object());
}

void cl_h_forget(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = room_param(req, resp);
    if (!room)
        return;
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    char m[32];
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    int rc = cl_membership(t, room, req->user_id, m, NULL, NULL, &err);
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (!strcmp(m, "join") || !strcmp(m, "invite") || !strcmp(m, "knock")) {
        mxr_resp_error(resp, 400, "M_UNKNOWN", "leave the room before forgetting it");
        return;
    }
    /* Nothing is kept per user about left rooms yet (sync does not list them
     * after the leave), so forgetting has nothing to remove. */
    mxr_resp_json(resp, 200, json_object());
}

/* Knocks through the federation seam (make_knock / send_knock) on a room
 * this server is not in; target is the room ID or the alias as given. */
static void knock_remote(struct mxr_client *c, struct mxr_request *req, struct mxr_response *resp, const char *target,
                         const char *reason)
{
    struct mxr_err err = {0};
    if (!c->remote_knock) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "room %s is not known to this server, and knocking over "
                       "federation is not available", target);
        return;
    }
    const char *via[MXR_HTTP_MAX_QUERY];
    size_t n_via = 0;
    for (size_t i = 0; i < req->n_query && n_via < MXR_HTTP_MAX_QUERY; i++)
        if (!strcmp(req->query[i].name, "via") || !strcmp(req->query[i].name, "server_name"))
            via[n_via++] = req->query[i].value;
    char room_id[256];
    if (c->remote_knock(c->remote_ctx, target, req->user_id, reason, via, n_via, room_id, &err) < 0) {
        mxr_resp_err(resp, &err);
        return;
    }
    cl_wake(c);
    mxr_resp_json(resp, 200, json_pack("{s:s}", "room_id", room_id));
}

/* POST /knock/{roomIdOrAlias} (knocking.yaml). In a room with a user of
 * ours joined: a knock member event with the user's profile and the
 * reason, which the auth rules decide (join_rule knock or knock_restricted,
 * room versions 7+, not joined, invited or banned: else 403). Elsewhere:
 * the federation seam. */
void cl_h_knock(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *target = mxr_req_param(req, "roomIdOrAlias");
    json_t *body = cl_body(req, resp);
    const char *reason;
    if (!body || optional_reason(body, &reason, resp) < 0)
        return;
    char room_id[MXR_STORE_ID_MAX + 1];
    struct mxr_err err = {0};
    int rc;
    if (target && target[0] == '!' && mxr_id_check_room(target, MXR_ID_ANY_FORMAT, NULL) == 0) {
        snprintf(room_id, sizeof room_id, "%s", target);
    } else if (target && target[0] == '#' && mxr_id_check_alias(target, NULL) == 0) {
        rc = cl_alias_room(c, target, room_id, &err);
        if (rc < 0) {
            cl_store_error(req, resp, &err);
            return;
        }
        if (rc == MXR_STORE_NOT_FOUND) {
            const char *d = mxr_id_domain(target);
            if (d && strcmp(d, c->server_name) && c->remote_knock)
                knock_remote(c, req, resp, target, reason);   /* the seam resolves the alias */
            else
                mxr_resp_error(resp, 404, "M_NOT_FOUND", "Room alias %s not found", target);
            return;
        }
    } else {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is neither a room ID nor a room alias", target ? target : "");
        return;
    }
    bool known = room_known(c, room_id, &err, &rc);
    if (rc < 0 || (known && (rc = has_state(c, room_id, &err)) < 0)) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (!known || rc == 0) {
        knock_remote(c, req, resp, room_id, reason);
        return;
    }
    json_t *content = member_content(c, req->user_id, "knock", reason);
    char id[MXR_ID_MAX + 1];
    rc = send_ev(c, req, resp, room_id, "m.room.member", req->user_id, content, id);
    json_decref(content);
    if (rc == 0)
        mxr_resp_json(resp, 200, json_pack("{s:s}", "room_id", room_id));
}

/* ---- sending events -------------------------------------------------------------------------- */

struct txn_arg {
    const char *user_id, *device_id, *scope, *txn_id, *event_id, *response;
};

static int txn_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct txn_arg *a = arg;
    if (mxr_store_client_txn_put(t, a->user_id, a->device_id, a->scope, a->txn_id, a->response,
                                 strlen(a->response), err) < 0)
        return -1;
    return mxr_store_event_txn_put(t, a->event_id, a->user_id, a->device_id, a->txn_id, err);
}

/* The transaction's lock stripe: the same (device, txnId) is serialised, so
 * a retry racing the original waits for it and then finds its answer. */
static pthread_mutex_t *txn_lock(struct mxr_client *c, const char *user, const char *device, const char *txn)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const char *parts[] = {user, device, txn}, **p = parts; p < parts + 3; p++) {
        for (const char *s = *p; *s; s++)
            h = (h ^ (uint8_t)*s) * 16777619u;
        h = (h ^ 0xffu) * 16777619u;
    }
    return &c->txn_locks[h % CL_TXN_LOCKS];
}

/* Sends an event under a client transaction ID (client-server API
 * "Transaction identifiers"): a retry of (device, scope, txnId) gets the
 * first answer again and sends nothing. */
static void send_txn(struct mxr_client *c, struct mxr_request *req, struct mxr_response *resp, const char *room,
                     const char *scope, const char *txn, const char *type, json_t *content)
{
    pthread_mutex_t *lock = txn_lock(c, req->user_id, req->device_id, txn);
    pthread_mutex_lock(lock);
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    const char *prev;
    size_t prev_len;
    json_t *again = NULL;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        goto out;
    }
    int rc = mxr_store_client_txn_get(t, req->user_id, req->device_id, scope, txn, &prev, &prev_len, &err);
    if (rc == 0)
        again = json_loadb(prev, prev_len, 0, NULL);
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        goto out;
    }
    if (again) {
        mxr_resp_json(resp, 200, again);
        goto out;
    }
    /* a retried transaction (answered above) is not a new message */
    if (!strcmp(scope, "send") && !cl_rl_admit(c, CL_RL_MESSAGE, req, resp))
        goto out;
    char event_id[MXR_ID_MAX + 1];
    if (send_ev(c, req, resp, room, type, NULL, content, event_id) < 0)
        goto out;
    json_t *answer = json_pack("{s:s}", "event_id", event_id);
    char *text = json_dumps(answer, JSON_COMPACT);
    struct txn_arg a = {req->user_id, req->device_id, scope, txn, event_id, text};
    if (!text || cl_write(c, txn_fn, &a, &err) < 0)
        /* The event is sent; only a retry would now send it twice. */
        if (c->log)
            mxr_log(c->log, MXR_LOG_WARN, req->id, "recording transaction %s failed: %s", txn, err.msg);
    free(text);
    mxr_resp_json(resp, 200, answer);
out:
    pthread_mutex_unlock(lock);
}

void cl_h_send(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = room_param(req, resp);
    const char *type = mxr_req_param(req, "eventType"), *txn = mxr_req_param(req, "txnId");
    json_t *body = room ? cl_body(req, resp) : NULL;
    if (!body)
        return;
    if (!type || !*type || strlen(type) > CL_ID_MAX || !txn || strlen(txn) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "event type and transaction ID must be 1 to 255 bytes");
        return;
    }
    send_txn(c, req, resp, room, "send", txn, type, body);
}

/* PUT /rooms/{roomId}/redact/{eventId}/{txnId} (redaction.yaml). */
void cl_h_redact(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = room_param(req, resp);
    const char *target = mxr_req_param(req, "eventId"), *txn = mxr_req_param(req, "txnId");
    json_t *body = room ? cl_body(req, resp) : NULL;
    const char *reason;
    if (!body || cl_opt_str(body, "reason", &reason, resp) < 0)
        return;
    if (!target || target[0] != '$' || strlen(target) > CL_ID_MAX || !txn || strlen(txn) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "an event ID and a transaction ID of at most 255 bytes are needed");
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    char ver[MXR_STORE_VERSION_MAX + 1];
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    /* Like Synapse: a redaction of someone else's event needs the redact
     * level here (from room version 3 the auth rules let any member send
     * one, and only applying it depends on the power). */
    struct mxr_store_event_meta m;
    bool allowed = false;
    char sender[MXR_STORE_ID_MAX + 1] = "";
    /* Every room version: relay/rooms moves `redacts` from content to the
     * top level for versions 1-10. */
    int rc = mxr_store_room_version(t, room, ver, &err);
    int found = rc == 0 ? mxr_store_event_meta(t, target, &m, &err) : MXR_STORE_NOT_FOUND;
    if (found == 0 && !strcmp(m.room_id, room)) {
        const char *json;
        size_t len;
        json_t *pdu = mxr_store_event_json(t, target, &json, &len, &err) == 0 ? json_loadb(json, len, 0, NULL) : NULL;
        const char *who = json_string_value(json_object_get(pdu, "sender"));
        snprintf(sender, sizeof sender, "%s", who ? who : "");
        json_decref(pdu);
        allowed = !strcmp(sender, req->user_id);
        if (!allowed && cl_room_power(t, room, req->user_id, "redact", NULL, &allowed, &err) < 0)
            rc = -1;
    } else if (found < 0) {
        rc = -1;
    }
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (rc == MXR_STORE_NOT_FOUND || found != 0 || strcmp(m.room_id, room)) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "event %s is not known in room %s", target, room);
        return;
    }
    if (!allowed) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "You don't have permission to redact events of %s", sender);
        return;
    }
    json_t *content = json_pack("{s:s}", "redacts", target);
    if (reason)
        json_object_set_new(content, "reason", json_string(reason));
    send_txn(c, req, resp, room, "redact", txn, "m.room.redaction", content);
    json_decref(content);
}

void cl_h_state_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = room_param(req, resp);
    const char *type = mxr_req_param(req, "eventType"), *key = mxr_req_param(req, "stateKey");
    json_t *body = room ? cl_body(req, resp) : NULL;
    if (!body)
        return;
    if (!key)
        key = "";   /* .../state/{eventType} and .../state/{eventType}/: the empty state key */
    if (!type || !*type || strlen(type) > CL_ID_MAX || strlen(key) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "event type and state key must be at most 255 bytes");
        return;
    }
    char event_id[MXR_ID_MAX + 1];
    if (send_ev(c, req, resp, room, type, key, body, event_id) == 0)
        mxr_resp_json(resp, 200, json_pack("{s:s}", "event_id", event_id));
}
