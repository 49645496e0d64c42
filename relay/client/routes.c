/* The client-server route table. Every versioned route is served under
 * /_matrix/client/v3 and under the legacy /_matrix/client/r0 prefix, which
 * older clients (matrix-nio 0.20) still use; r0 and v3 share their shapes
 * for everything served here. */
#include "relay/client/aliases.h"
#include "relay/client/client_int.h"
#include "relay/client/ephemeral.h"
#include "relay/client/presence.h"
#include "relay/client/pushrules.h"

#define AUTH MXR_ROUTE_CLIENT_AUTH
#define JSON MXR_ROUTE_BODY_JSON

#define CS(method, path, handler, flags)                                                                     \
    {method, "/_matrix/client/v3" path, handler, flags}, {method, "/_matrix/client/r0" path, handler, flags}

static const struct mxr_route ROUTES[] = {
    {"GET", "/_matrix/client/versions", cl_h_versions, 0},
    {"GET", "/.well-known/matrix/client", cl_h_wellknown, 0},
    {"GET", "/_synapse/admin/v1/register", cl_h_admin_register_nonce, 0},
    {"POST", "/_synapse/admin/v1/register", cl_h_admin_register, 0},

    CS("GET", "/capabilities", cl_h_capabilities, AUTH),
    CS("GET", "/login", cl_h_login_flows, 0),
    CS("POST", "/login", cl_h_login, 0),
    CS("POST", "/logout", cl_h_logout, AUTH),
    CS("POST", "/logout/all", cl_h_logout_all, AUTH),
    CS("POST", "/register", cl_h_register, 0),
    CS("GET", "/register/available", cl_h_register_available, 0),
    CS("GET", "/account/whoami", cl_h_whoami, AUTH),
    CS("POST", "/account/password", cl_h_password, AUTH),

    CS("GET", "/devices", cl_h_devices, AUTH),
    CS("GET", "/devices/{deviceId}", cl_h_device_get, AUTH),
    CS("PUT", "/devices/{deviceId}", cl_h_device_put, AUTH),
    CS("DELETE", "/devices/{deviceId}", cl_h_device_delete, AUTH),
    CS("POST", "/delete_devices", cl_h_delete_devices, AUTH),

    CS("POST", "/createRoom", cl_h_create_room, AUTH | JSON),
    CS("POST", "/join/{roomIdOrAlias}", cl_h_join, AUTH),
    CS("POST", "/rooms/{roomId}/join", cl_h_room_join, AUTH),
    CS("POST", "/rooms/{roomId}/invite", cl_h_invite, AUTH | JSON),
    CS("POST", "/rooms/{roomId}/leave", cl_h_leave, AUTH),
    CS("POST", "/rooms/{roomId}/forget", cl_h_forget, AUTH),
    CS("POST", "/knock/{roomIdOrAlias}", cl_h_knock, AUTH),
    CS("POST", "/rooms/{roomId}/kick", cl_h_kick, AUTH | JSON),
    CS("POST", "/rooms/{roomId}/ban", cl_h_ban, AUTH | JSON),
    CS("POST", "/rooms/{roomId}/unban", cl_h_unban, AUTH | JSON),
    CS("PUT", "/rooms/{roomId}/send/{eventType}/{txnId}", cl_h_send, AUTH | JSON),
    CS("PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}", cl_h_redact, AUTH),
    CS("PUT", "/rooms/{roomId}/state/{eventType}/{stateKey}", cl_h_state_put, AUTH | JSON),
    CS("PUT", "/rooms/{roomId}/state/{eventType}", cl_h_state_put, AUTH | JSON),
    CS("PUT", "/rooms/{roomId}/state/{eventType}/", cl_h_state_put, AUTH | JSON),
    CS("GET", "/rooms/{roomId}/state/{eventType}/{stateKey}", cl_h_state_get, AUTH),
    CS("GET", "/rooms/{roomId}/state/{eventType}", cl_h_state_get, AUTH),
    CS("GET", "/rooms/{roomId}/state/{eventType}/", cl_h_state_get, AUTH),
    CS("GET", "/rooms/{roomId}/state", cl_h_state_all, AUTH),
    CS("GET", "/rooms/{roomId}/members", cl_h_members, AUTH),
    CS("GET", "/rooms/{roomId}/joined_members", cl_h_joined_members, AUTH),
    CS("GET", "/rooms/{roomId}/event/{eventId}", cl_h_event, AUTH),
    CS("GET", "/rooms/{roomId}/messages", cl_h_messages, AUTH),
    CS("GET", "/rooms/{roomId}/context/{eventId}", cl_h_context, AUTH),
    CS("GET", "/joined_rooms", cl_h_joined_rooms, AUTH),
    CS("GET", "/directory/list/room/{roomId}", cl_h_directory_get, 0),
    CS("PUT", "/directory/list/room/{roomId}", cl_h_directory_put, AUTH),
    CS("PUT", "/directory/room/{roomAlias}", cl_h_alias_put, AUTH | JSON),
    CS("GET", "/directory/room/{roomAlias}", cl_h_alias_get, 0),
    CS("DELETE", "/directory/room/{roomAlias}", cl_h_alias_delete, AUTH),
    CS("GET", "/rooms/{roomId}/aliases", cl_h_room_aliases, AUTH),
    CS("GET", "/publicRooms", cl_h_public_rooms_get, 0),
    CS("POST", "/publicRooms", cl_h_public_rooms_post, AUTH | JSON),

    CS("GET", "/profile/{userId}", cl_h_profile, 0),
    CS("GET", "/profile/{userId}/{keyName}", cl_h_profile_get_field, 0),
    CS("PUT", "/profile/{userId}/{keyName}", cl_h_profile_put_field, AUTH | JSON),
    CS("GET", "/user/{userId}/account_data/{type}", cl_h_account_data_get, AUTH),
    CS("PUT", "/user/{userId}/account_data/{type}", cl_h_account_data_put, AUTH | JSON),
    CS("GET", "/user/{userId}/rooms/{roomId}/account_data/{type}", cl_h_room_account_data_get, AUTH),
    CS("PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}", cl_h_room_account_data_put, AUTH | JSON),
    CS("POST", "/user/{userId}/filter", cl_h_filter_post, AUTH | JSON),
    CS("GET", "/user/{userId}/filter/{filterId}", cl_h_filter_get, AUTH),
    CS("GET", "/sync", cl_h_sync, AUTH),

    CS("GET", "/pushrules/", cl_h_pushrules_all, AUTH),
    CS("GET", "/pushrules/global/", cl_h_pushrules_global, AUTH),
    CS("GET", "/pushrules/global/{kind}/{ruleId}", cl_h_pushrule_get, AUTH),
    CS("PUT", "/pushrules/global/{kind}/{ruleId}", cl_h_pushrule_put, AUTH | JSON),
    CS("DELETE", "/pushrules/global/{kind}/{ruleId}", cl_h_pushrule_delete, AUTH),
    CS("GET", "/pushrules/global/{kind}/{ruleId}/enabled", cl_h_pushrule_enabled_get, AUTH),
    CS("PUT", "/pushrules/global/{kind}/{ruleId}/enabled", cl_h_pushrule_enabled_put, AUTH | JSON),
    CS("GET", "/pushrules/global/{kind}/{ruleId}/actions", cl_h_pushrule_actions_get, AUTH),
    CS("PUT", "/pushrules/global/{kind}/{ruleId}/actions", cl_h_pushrule_actions_put, AUTH | JSON),

    CS("PUT", "/sendToDevice/{eventType}/{txnId}", cl_h_send_to_device, AUTH | JSON),
    CS("PUT", "/rooms/{roomId}/typing/{userId}", cl_h_typing, AUTH | JSON),
    CS("POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}", cl_h_receipt, AUTH),
    CS("POST", "/rooms/{roomId}/read_markers", cl_h_read_markers, AUTH | JSON),
    CS("PUT", "/presence/{userId}/status", cl_h_presence_put, AUTH | JSON),
    CS("GET", "/presence/{userId}/status", cl_h_presence_get, AUTH),

    CS("POST", "/keys/upload", cl_h_keys_upload, AUTH | JSON),
    CS("POST", "/keys/query", cl_h_keys_query, AUTH | JSON),
    CS("POST", "/keys/claim", cl_h_keys_claim, AUTH | JSON),
    CS("GET", "/keys/changes", cl_h_keys_changes, AUTH),
    CS("POST", "/keys/device_signing/upload", cl_h_keys_device_signing, AUTH | JSON),
    CS("POST", "/keys/signatures/upload", cl_h_keys_signatures, AUTH | JSON),

    CS("POST", "/room_keys/version", cl_h_backup_create, AUTH | JSON),
    CS("GET", "/room_keys/version", cl_h_backup_latest, AUTH),
    CS("GET", "/room_keys/version/{version}", cl_h_backup_get, AUTH),
    CS("PUT", "/room_keys/version/{version}", cl_h_backup_put, AUTH | JSON),
    CS("DELETE", "/room_keys/version/{version}", cl_h_backup_delete, AUTH),
    CS("PUT", "/room_keys/keys", cl_h_backup_keys_put, AUTH | JSON),
    CS("GET", "/room_keys/keys", cl_h_backup_keys_get, AUTH),
    CS("DELETE", "/room_keys/keys", cl_h_backup_keys_delete, AUTH),
    CS("PUT", "/room_keys/keys/{roomId}", cl_h_backup_keys_put, AUTH | JSON),
    CS("GET", "/room_keys/keys/{roomId}", cl_h_backup_keys_get, AUTH),
    CS("DELETE", "/room_keys/keys/{roomId}", cl_h_backup_keys_delete, AUTH),
    CS("PUT", "/room_keys/keys/{roomId}/{sessionId}", cl_h_backup_keys_put, AUTH | JSON),
    CS("GET", "/room_keys/keys/{roomId}/{sessionId}", cl_h_backup_keys_get, AUTH),
    CS("DELETE", "/room_keys/keys/{roomId}/{sessionId}", cl_h_backup_keys_delete, AUTH),
};

int mxr_client_add_routes(struct mxr_router *r, struct mxr_err *err)
{
    if (mxr_router_add(r, ROUTES, sizeof ROUTES / sizeof ROUTES[0], err) < 0)
        return -1;
    r->client_auth = mxr_client_authenticate;
    return 0;
}
