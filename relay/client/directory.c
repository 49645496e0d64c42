/* The published room directory, client side (client-server API "Published
 * room directory": GET/PUT /directory/list/room/{roomId}). createRoom with
 * visibility "public" publishes too. Listing (publicRooms) is served from
 * the same table (mxr_store_published_rooms). */
#include "relay/client/client_int.h"

#include <string.h>

#include "mxr/ids.h"
#include "relay/client/aliases.h"
#include "relay/federation/inbound.h"

struct publish_arg {
    const char *room_id;
    bool published;
    int64_t now;
};

static int publish_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct publish_arg *a = arg;
    return mxr_store_room_publish(t, a->room_id, a->published, a->now, err);
}

int cl_publish_room(struct mxr_client *c, const char *room_id, bool published, struct mxr_err *err)
{
    struct publish_arg a = {room_id, published, cl_now(c)};
    return cl_write(c, publish_fn, &a, err);
}

void cl_h_directory_get(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = mxr_req_param(req, "roomId");
    if (!room || mxr_id_check_room(room, MXR_ID_ANY_FORMAT, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", room ? room : "");
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
    int pub = known == 0 ? mxr_store_room_published(t, room, &err) : MXR_STORE_NOT_FOUND;
    mxr_store_read_end(t);
    if (known < 0 || pub < 0)
        cl_store_error(req, resp, &err);
    else if (known == MXR_STORE_NOT_FOUND)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown room");
    else
        mxr_resp_json(resp, 200, json_pack("{s:s}", "visibility", pub == 0 ? "public" : "private"));
}

/* Whether user may change the room's directory listing: as Synapse, a
 * joined member able to send m.room.canonical_alias. */
static int may_publish(struct mxr_store_txn *t, const char *room_id, const char *user_id, bool *ok,
                       struct mxr_err *err)
{
    char m[32];
    *ok = false;
    if (cl_membership(t, room_id, user_id, m, NULL, NULL, err) < 0)
        return -1;
    if (strcmp(m, "join"))
        return 0;
    return cl_room_power(t, room_id, user_id, NULL, "m.room.canonical_alias", ok, err);
}

void cl_h_directory_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *room = mxr_req_param(req, "roomId");
    json_t *body = cl_body(req, resp);
    const char *vis;
    if (!body || cl_opt_str(body, "visibility", &vis, resp) < 0)
        return;
    if (vis && strcmp(vis, "public") && strcmp(vis, "private")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "visibility must be 'public' or 'private'");
        return;
    }
    if (!room || mxr_id_check_room(room, MXR_ID_ANY_FORMAT, NULL) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'%s' is not a room ID", room ? room : "");
        return;
    }
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    char ver[MXR_STORE_VERSION_MAX + 1];
    bool ok = false;
    int known = mxr_store_room_version(t, room, ver, &err);
    int rc = known == 0 ? may_publish(t, room, req->user_id, &ok, &err) : 0;
    mxr_store_read_end(t);
    if (known < 0 || rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (known == MXR_STORE_NOT_FOUND) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown room");
        return;
    }
    if (!ok) {
        mxr_resp_error(resp, 403, "M_FORBIDDEN", "publishing needs membership and the power to set the "
                       "room's canonical alias");
        return;
    }
    /* directory.yaml: visibility defaults to public */
    if (cl_publish_room(c, room, !vis || !strcmp(vis, "public"), &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_object());
}

/* The `server` query parameter of /publicRooms (list_public_rooms.yaml):
 * absent or this server lists ours. SEAM: there is no outbound federation
 * publicRooms, so another server's directory is answered 502. */
static bool server_is_local(struct mxr_request *req, struct mxr_response *resp)
{
    const struct mxr_client *c = cl_of(req);
    const char *server = mxr_req_query(req, "server");
    if (!server || !strcmp(server, c->server_name))
        return true;
    if (!mxr_id_valid_server_name(server))
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "server '%s' is not a server name", server);
    else
        mxr_resp_error(resp, 502, "M_UNKNOWN", "listing the directory of %s (federation publicRooms) is not "
                       "supported by this server", server);
    return false;
}

/* GET /publicRooms?limit=&since=&server= (getPublicRooms). The chunk entries
 * (public_rooms_chunk.yaml) and pagination are those the federation
 * publicRooms serves (relay/federation/directory.c), built once there. */
void cl_h_public_rooms_get(struct mxr_request *req, struct mxr_response *resp)
{
    if (server_is_local(req, resp))
        mxr_handle_public_rooms_get(req, resp);
}

/* POST /publicRooms?server= {limit, since, filter, ...} (queryPublicRooms). */
void cl_h_public_rooms_post(struct mxr_request *req, struct mxr_response *resp)
{
    if (server_is_local(req, resp))
        mxr_handle_public_rooms_post(req, resp);
}
