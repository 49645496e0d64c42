/* The membership handshakes (spec: server-server API "Joining Rooms",
 * "Knocking upon a room", "Inviting to a room", "Leaving Rooms"; joins-v1.yaml
 * make_join, joins-v2.yaml send_join, leaving-v1/v2.yaml, knocks.yaml,
 * invites-v2.yaml). The rooms layer builds templates, checks and runs the
 * events; here are the HTTP shapes, the server ACL (every one of these
 * endpoints is on the spec's list of ACL-protected prefixes) and the error
 * bodies (M_INCOMPATIBLE_ROOM_VERSION carries room_version). send_join and
 * send_leave are served in v2 and, for servers that still call them, in
 * their v1 form (removed from the spec in v1.18; the v1 answer is the array
 * [200, body], and send_join's body has only origin, state and
 * auth_chain). v1 invite is for room versions 1-2 senders only: not here. */
#include <string.h>

#include "mxr/ids.h"
#include "relay/federation/inbound.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/store.h"

/* Applies the ACL of a known room (unknown rooms pass: the rooms layer
 * answers them). true to go on, false with resp filled. */
static bool acl_gate(struct mxr_request *req, struct mxr_response *resp, const char *room_id)
{
    struct mxr_store_txn *txn = mxr_fed_room_gate(req, resp, room_id, 0);
    if (!txn)
        return false;
    mxr_store_read_end(txn);
    return true;
}

/* An error body; M_INCOMPATIBLE_ROOM_VERSION adds the room's version, which
 * joins-v1.yaml, knocks.yaml and invites-v2.yaml require. */
static void error_with_version(struct mxr_response *resp, const struct mxr_err *err, const char *room_version)
{
    mxr_resp_err(resp, err);
    if (err->errcode && !strcmp(err->errcode, "M_INCOMPATIBLE_ROOM_VERSION") && room_version && room_version[0])
        json_object_set_new(resp->json, "room_version", json_string(room_version));
}

/* GET /make_{join,leave,knock}/{roomId}/{userId}[?ver=...] */
static void make_membership(struct mxr_request *req, struct mxr_response *resp, const char *membership)
{
    const char *room_id = mxr_req_param(req, "roomId"), *user_id = mxr_req_param(req, "userId");
    struct mxr_err err = { 0 };
    if (!user_id || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "userId: %s", user_id ? err.msg : "missing");
        return;
    }
    if (!acl_gate(req, resp, room_id))
        return;
    const char *ver[MXR_HTTP_MAX_QUERY];
    size_t n_ver = 0;
    for (size_t i = 0; i < req->n_query && n_ver < MXR_HTTP_MAX_QUERY; i++)
        if (!strcmp(req->query[i].name, "ver"))
            ver[n_ver++] = req->query[i].value;
    char room_version[65] = "";
    json_t *body = mxr_rooms_make_membership(req->srv->rooms, req->origin, room_id, user_id, membership, ver, n_ver,
                                             room_version, &err);
    if (!body) {
        error_with_version(resp, &err, room_version);
        return;
    }
    mxr_resp_json(resp, 200, body);
}

void mxr_handle_make_join(struct mxr_request *req, struct mxr_response *resp)
{
    make_membership(req, resp, "join");
}

void mxr_handle_make_leave(struct mxr_request *req, struct mxr_response *resp)
{
    make_membership(req, resp, "leave");
}

void mxr_handle_make_knock(struct mxr_request *req, struct mxr_response *resp)
{
    make_membership(req, resp, "knock");
}

/* PUT /v2/send_join, /v2/send_leave, /v1/send_knock /{roomId}/{eventId};
 * v1: the /v1/send_join and /v1/send_leave forms. */
static void send_membership(struct mxr_request *req, struct mxr_response *resp, const char *membership, bool v1)
{
    const char *room_id = mxr_req_param(req, "roomId"), *event_id = mxr_req_param(req, "eventId");
    struct mxr_err err = { 0 };
    struct mxr_rooms_send_membership_opts opts = { 0 };
    /* joins-v2.yaml: omit_members is a boolean query parameter. */
    const char *omit = mxr_req_query(req, "omit_members");
    if (omit && strcmp(omit, "true") && strcmp(omit, "false")) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "omit_members must be true or false");
        return;
    }
    opts.omit_members = !v1 && omit && !strcmp(omit, "true") && !strcmp(membership, "join");
    if (!event_id || mxr_id_check_event(event_id, MXR_ID_ANY_FORMAT, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "eventId: %s", event_id ? err.msg : "missing");
        return;
    }
    if (!acl_gate(req, resp, room_id))
        return;
    json_t *body = mxr_rooms_send_membership(req->srv->rooms, req->origin, room_id, event_id, membership, req->json,
                                             &opts, &err);
    if (!body) {
        srv_log(req->srv, MXR_LOG_INFO, req->id, "send_%s %s in %s from %s refused: %s", membership, event_id, room_id,
                req->origin, err.msg);
        mxr_resp_err(resp, &err);
        return;
    }
    if (v1) {
        /* joins-v1 / leaving-v1 (as last specified): [200, {origin,
         * auth_chain, state}] for a join, [200, {}] for a leave. */
        if (!strcmp(membership, "join")) {
            json_t *keep = json_pack("{s:O?, s:O?, s:O?}", "origin", json_object_get(body, "origin"), "auth_chain",
                                     json_object_get(body, "auth_chain"), "state", json_object_get(body, "state"));
            json_decref(body);
            body = keep;
        }
        json_t *arr = body ? json_pack("[i, o]", 200, body) : NULL;
        if (!arr) {
            mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
            return;
        }
        body = arr;
    }
    mxr_resp_json(resp, 200, body);
}

void mxr_handle_send_join(struct mxr_request *req, struct mxr_response *resp)
{
    send_membership(req, resp, "join", false);
}

void mxr_handle_send_leave(struct mxr_request *req, struct mxr_response *resp)
{
    send_membership(req, resp, "leave", false);
}

void mxr_handle_send_join_v1(struct mxr_request *req, struct mxr_response *resp)
{
    send_membership(req, resp, "join", true);
}

void mxr_handle_send_leave_v1(struct mxr_request *req, struct mxr_response *resp)
{
    send_membership(req, resp, "leave", true);
}

void mxr_handle_send_knock(struct mxr_request *req, struct mxr_response *resp)
{
    send_membership(req, resp, "knock", false);
}

/* PUT /v2/invite/{roomId}/{eventId} */
void mxr_handle_invite(struct mxr_request *req, struct mxr_response *resp)
{
    const char *room_id = mxr_req_param(req, "roomId"), *event_id = mxr_req_param(req, "eventId");
    struct mxr_err err = { 0 };
    if (!event_id || mxr_id_check_event(event_id, MXR_ID_ANY_FORMAT, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "eventId: %s", event_id ? err.msg : "missing");
        return;
    }
    if (!acl_gate(req, resp, room_id))
        return;
    json_t *body = mxr_rooms_receive_invite(req->srv->rooms, req->origin, room_id, event_id, req->json, &err);
    if (!body) {
        srv_log(req->srv, MXR_LOG_INFO, req->id, "invite %s in %s from %s refused: %s", event_id, room_id, req->origin,
                err.msg);
        error_with_version(resp, &err, json_string_value(json_object_get(req->json, "room_version")));
        return;
    }
    mxr_resp_json(resp, 200, body);
}
