/* The federation route table. Flags say what the dispatcher does before
 * the handler: MXR_ROUTE_FEDERATION_AUTH verifies X-Matrix, BODY_JSON parses
 * the body. The key endpoints are unauthenticated by spec. */
#include "relay/federation/federation.h"

const struct mxr_route MXR_FEDERATION_ROUTES[] = {
    { "GET", "/_matrix/federation/v1/version", mxr_handle_version, 0 },
    { "GET", "/_matrix/key/v2/server", mxr_handle_key_server, 0 },
    /* Removed from the spec (matrix-spec#1350) but still asked for by old servers. */
    { "GET", "/_matrix/key/v2/server/{keyId}", mxr_handle_key_server, 0 },
    { "GET", "/_matrix/key/v2/query/{serverName}", mxr_handle_key_query_get, 0 },
    { "GET", "/_matrix/key/v2/query/{serverName}/{keyId}", mxr_handle_key_query_get, 0 },   /* likewise */
    { "POST", "/_matrix/key/v2/query", mxr_handle_key_query_post, MXR_ROUTE_BODY_JSON },
};
const size_t MXR_FEDERATION_N_ROUTES = sizeof MXR_FEDERATION_ROUTES / sizeof MXR_FEDERATION_ROUTES[0];
