/* The federation route table. Flags say what the dispatcher does before
 * the handler: MXR_ROUTE_FEDERATION_AUTH verifies X-Matrix, BODY_JSON parses
 * the body. The key endpoints and openid/userinfo are unauthenticated by
 * spec. Every authenticated inbound endpoint goes through the per-origin
 * rate limiter first (the ADMITTED wrappers below), so none can forget it. */
#include "relay/federation/federation.h"
#include "relay/federation/inbound.h"

#define ADMITTED(fn)                                                              \
    static void fn##_admitted(struct mxr_request *req, struct mxr_response *resp) \
    {                                                                             \
        if (mxr_fed_admit(req, resp))                                             \
            fn(req, resp);                                                        \
    }

ADMITTED(mxr_handle_send)
ADMITTED(mxr_handle_event)
ADMITTED(mxr_handle_state)
ADMITTED(mxr_handle_state_ids)
ADMITTED(mxr_handle_backfill)
ADMITTED(mxr_handle_get_missing_events)
ADMITTED(mxr_handle_event_auth)
ADMITTED(mxr_handle_timestamp_to_event)
ADMITTED(mxr_handle_make_join)
ADMITTED(mxr_handle_send_join)
ADMITTED(mxr_handle_make_leave)
ADMITTED(mxr_handle_send_leave)
ADMITTED(mxr_handle_send_join_v1)
ADMITTED(mxr_handle_send_leave_v1)
ADMITTED(mxr_handle_invite)
ADMITTED(mxr_handle_make_knock)
ADMITTED(mxr_handle_send_knock)
ADMITTED(mxr_handle_query_profile)
ADMITTED(mxr_handle_query_directory)
ADMITTED(mxr_handle_user_devices)
ADMITTED(mxr_handle_user_keys_query)
ADMITTED(mxr_handle_user_keys_claim)
ADMITTED(mxr_handle_public_rooms_get)
ADMITTED(mxr_handle_public_rooms_post)
ADMITTED(mxr_handle_hierarchy)

#define FED "/_matrix/federation"
#define AUTH MXR_ROUTE_FEDERATION_AUTH
#define BODY MXR_ROUTE_BODY_JSON

const struct mxr_route MXR_FEDERATION_ROUTES[] = {
    { "GET", FED "/v1/version", mxr_handle_version, 0 },
    { "GET", "/_matrix/key/v2/server", mxr_handle_key_server, 0 },
    /* Removed from the spec (matrix-spec#1350) but still asked for by old servers. */
    { "GET", "/_matrix/key/v2/server/{keyId}", mxr_handle_key_server, 0 },
    { "GET", "/_matrix/key/v2/query/{serverName}", mxr_handle_key_query_get, 0 },
    { "GET", "/_matrix/key/v2/query/{serverName}/{keyId}", mxr_handle_key_query_get, 0 },   /* likewise */
    { "POST", "/_matrix/key/v2/query", mxr_handle_key_query_post, MXR_ROUTE_BODY_JSON },

    /* transactions.yaml */
    { "PUT", FED "/v1/send/{txnId}", mxr_handle_send_admitted, AUTH | BODY },
    /* events.yaml, backfill.yaml, event_auth.yaml */
    { "GET", FED "/v1/event/{eventId}", mxr_handle_event_admitted, AUTH },
    { "GET", FED "/v1/state/{roomId}", mxr_handle_state_admitted, AUTH },
    { "GET", FED "/v1/state_ids/{roomId}", mxr_handle_state_ids_admitted, AUTH },
    { "GET", FED "/v1/backfill/{roomId}", mxr_handle_backfill_admitted, AUTH },
    { "POST", FED "/v1/get_missing_events/{roomId}", mxr_handle_get_missing_events_admitted, AUTH | BODY },
    { "GET", FED "/v1/event_auth/{roomId}/{eventId}", mxr_handle_event_auth_admitted, AUTH },
    /* The yaml says accessToken security, a slip: it is a server-server endpoint. */
    { "GET", FED "/v1/timestamp_to_event/{roomId}", mxr_handle_timestamp_to_event_admitted, AUTH },
    /* joins-v1.yaml (make_join), joins-v2.yaml, leaving-v1/v2.yaml, invites-v2.yaml, knocks.yaml */
    { "GET", FED "/v1/make_join/{roomId}/{userId}", mxr_handle_make_join_admitted, AUTH },
    { "PUT", FED "/v2/send_join/{roomId}/{eventId}", mxr_handle_send_join_admitted, AUTH | BODY },
    { "GET", FED "/v1/make_leave/{roomId}/{userId}", mxr_handle_make_leave_admitted, AUTH },
    /* The v1 forms (removed from the spec in v1.18, still used by older
     * servers): the same work, answered as [200, body]. */
    { "PUT", FED "/v1/send_join/{roomId}/{eventId}", mxr_handle_send_join_v1_admitted, AUTH | BODY },
    { "PUT", FED "/v1/send_leave/{roomId}/{eventId}", mxr_handle_send_leave_v1_admitted, AUTH | BODY },
    { "PUT", FED "/v2/send_leave/{roomId}/{eventId}", mxr_handle_send_leave_admitted, AUTH | BODY },
    { "PUT", FED "/v2/invite/{roomId}/{eventId}", mxr_handle_invite_admitted, AUTH | BODY },
    { "GET", FED "/v1/make_knock/{roomId}/{userId}", mxr_handle_make_knock_admitted, AUTH },
    { "PUT", FED "/v1/send_knock/{roomId}/{eventId}", mxr_handle_send_knock_admitted, AUTH | BODY },
    /* query.yaml, user_devices.yaml, user_keys.yaml, public_rooms.yaml, space_hierarchy.yaml, openid.yaml */
    { "GET", FED "/v1/query/profile", mxr_handle_query_profile_admitted, AUTH },
    { "GET", FED "/v1/query/directory", mxr_handle_query_directory_admitted, AUTH },
    { "GET", FED "/v1/user/devices/{userId}", mxr_handle_user_devices_admitted, AUTH },
    { "POST", FED "/v1/user/keys/query", mxr_handle_user_keys_query_admitted, AUTH | BODY },
    { "POST", FED "/v1/user/keys/claim", mxr_handle_user_keys_claim_admitted, AUTH | BODY },
    { "GET", FED "/v1/publicRooms", mxr_handle_public_rooms_get_admitted, AUTH },
    { "POST", FED "/v1/publicRooms", mxr_handle_public_rooms_post_admitted, AUTH | BODY },
    { "GET", FED "/v1/hierarchy/{roomId}", mxr_handle_hierarchy_admitted, AUTH },
    { "GET", FED "/v1/openid/userinfo", mxr_handle_openid_userinfo, 0 },
};
const size_t MXR_FEDERATION_N_ROUTES = sizeof MXR_FEDERATION_ROUTES / sizeof MXR_FEDERATION_ROUTES[0];
