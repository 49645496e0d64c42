/* Room aliases, client side (client-server API "Room aliases";
 * directory.yaml): PUT/GET/DELETE /directory/room/{roomAlias} and
 * GET /rooms/{roomId}/aliases. Only this server's aliases are kept;
 * resolving another server's alias needs federation /query/directory,
 * which the client API has no seam for yet (answered 404). */
#include "relay/client/aliases.h"

#include <string.h>

#include "mxr/ids.h"
#include "relay/client/client_int.h"
#include "relay/rooms/rooms.h"
#include "relay/store/aliases.h"

/* The alias path parameter when it is a valid alias (appendices "Room
 * Aliases"); NULL after a 400 M_INVALID_PARAM. *local tells whether its
 * server part is ours. */
static const char *alias_param(struct mxr_request *req, struct mxr_response *resp, bool *local)
{
    const struct mxr_client *c = cl_of(req);
    const char *alias = mxr_req_param(req, "roomAlias");
    if (!alias || mxr_id_check_alias(alias, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room alias (#localpart:server_name)",
                       alias ? alias : "");
        return NULL;
    }
    const char *server = strchr(alias, ':');
    *local = server && !strcmp(server + 1, c->server_name);
    return alias;
}

struct create_arg {
    const char *alias, *room_id, *user_id;
    bool created;
};

static int create_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct create_arg *a = arg;
    return mxr_store_alias_create_by(t, a->alias, a->room_id, a->user_id, &a->created, err);
}

/* PUT /directory/room/{roomAlias} {room_id} (directory.yaml setRoomAlias):
 * 409 when the alias exists, 400 for another server's alias. */
void cl_h_alias_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    bool local;
    const char *alias = alias_param(req, resp, &local);
    if (!alias)
        return;
    if (!local) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "alias %s is not of this server (%s): only local aliases "
                       "can be created here", alias, c->server_name);
        return;
    }
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    const char *room = json_string_value(json_object_get(body, "room_id"));
    if (!room) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "room_id (a string) is required (directory.yaml setRoomAlias)");
        return;
    }
    if (mxr_id_check_room(room, MXR_ID_ANY_FORMAT, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "room_id '%s' is not a room ID", room);
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    char ver[MXR_STORE_VERSION_MAX + 1];
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    int known = mxr_store_room_version(t, room, ver, &err);
    mxr_store_read_end(t);
    if (known < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (known == MXR_STORE_NOT_FOUND) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown room %s", room);
        return;
    }
    struct create_arg a = {alias, room, req->user_id, false};
    if (cl_write(c, create_fn, &a, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (!a.created) {
        mxr_resp_error(resp, 409, "M_UNKNOWN", "Room alias %s already exists", alias);
        return;
    }
    mxr_resp_json(resp, 200, json_object());
}

/* GET /directory/room/{roomAlias} (getRoomIdByAlias): {room_id, servers}.
 * servers names this server, which holds the room's state. */
void cl_h_alias_get(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    bool local;
    const char *alias = alias_param(req, resp, &local);
    if (!alias)
        return;
    if (!local) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Room alias %s is not of this server; resolving other servers' "
                       "aliases (federation /query/directory) is not available here", alias);
        return;
    }
    struct mxr_err err = {0};
    char room[MXR_STORE_ID_MAX + 1];
    int rc = cl_alias_room(c, alias, room, &err);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (rc == MXR_STORE_NOT_FOUND)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
    else
        mxr_resp_json(resp, 200, json_pack("{s:s, s:[s]}", "room_id", room, "servers", c->server_name));
}

static int delete_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    int rc = mxr_store_alias_delete(t, arg, err);
    return rc == MXR_STORE_NOT_FOUND ? 0 : rc;
}

/* DELETE /directory/room/{roomAlias} (deleteRoomAlias). directory.yaml
 * leaves access control to the server: as Synapse, the alias's creator, or
 * a joined member able to send m.room.canonical_alias. */
void cl_h_alias_delete(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    bool local;
    const char *alias = alias_param(req, resp, &local);
    if (!alias)
        return;
    if (!local) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "alias %s is not of this server (%s)", alias, c->server_name);
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    char room[MXR_STORE_ID_MAX + 1], creator[MXR_STORE_ID_MAX + 1], m[32] = "";
    bool ok = false;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    int rc = mxr_store_alias_get(t, alias, room, &err);
    if (rc == 0)
        rc = mxr_store_alias_creator(t, alias, creator, &err);
    if (rc == 0 && strcmp(creator, req->user_id)) {
        rc = cl_membership(t, room, req->user_id, m, NULL, NULL, &err);
        if (rc == 0 && !strcmp(m, "join"))
            rc = cl_room_power(t, room, req->user_id, NULL, "m.room.canonical_alias", &ok, &err);
    } else if (rc == 0) {
        ok = true;
    }
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (rc == MXR_STORE_NOT_FOUND) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Room alias %s not found", alias);
        return;
    }
    if (!ok) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "deleting %s needs to be its creator, or a member with the power "
                       "to send m.room.canonical_alias in %s", alias, room);
        return;
    }
    if (cl_write(c, delete_fn, (void *)alias, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_object());
}

static int add_alias(void *arg, const char *alias)
{
    return json_array_append_new(arg, json_string(alias)) ? 1 : 0;
}

/* Whether the room's current m.room.history_visibility is world_readable;
 * 0 or -1. */
static int world_readable(struct mxr_store_txn *t, const char *room_id, bool *out, struct mxr_err *err)
{
    char id[MXR_STORE_ID_MAX + 1];
    *out = false;
    int rc = mxr_store_room_current_get(t, room_id, "m.room.history_visibility", "", id, err);
    if (rc)
        return rc == MXR_STORE_NOT_FOUND ? 0 : -1;
    json_t *pdu = mxr_rooms_event_pdu(t, id, err);
    if (!pdu)
        return -1;
    const char *v = json_string_value(json_object_get(json_object_get(pdu, "content"), "history_visibility"));
    *out = v && !strcmp(v, "world_readable");
    json_decref(pdu);
    return 0;
}

/* GET /rooms/{roomId}/aliases (getLocalAliases): the room's aliases of this
 * server, for joined members, or anyone when the room is world_readable. */
void cl_h_room_aliases(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = mxr_req_param(req, "roomId");
    if (!room || mxr_id_check_room(room, MXR_ID_ANY_FORMAT, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", room ? room : "");
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    char m[32] = "";
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    json_t *list = json_array();
    bool ok = false;
    int rc = cl_membership(t, room, req->user_id, m, NULL, NULL, &err);
    if (rc == 0 && strcmp(m, "join"))
        rc = world_readable(t, room, &ok, &err);
    else if (rc == 0)
        ok = true;
    if (rc == 0 && ok)
        rc = mxr_store_room_aliases(t, room, add_alias, list, &err);
    mxr_store_read_end(t);
    if (rc < 0) {
        json_decref(list);
        cl_store_error(req, resp, &err);
        return;
    }
    if (!ok) {
        json_decref(list);
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "You are not joined to %s, whose history is not world_readable", room);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "aliases", list));
}
