/* Discovery: GET /_matrix/client/versions, /.well-known/matrix/client,
 * /capabilities and the login flows (client-server API "Server Discovery",
 * "API Versions", "Capabilities negotiation", "Login"). */
#include "relay/client/client_int.h"

#include "mxr/roomver.h"
#include "relay/config.h"

/* The versions whose endpoints real clients need from us are served; v1.11
 * is not advertised because it makes clients switch to authenticated media
 * (/_matrix/client/v1/media), which this server does not have. matrix-js-sdk
 * needs at least v1.5 (its MINIMUM_MATRIX_VERSION); matrix-nio 0.20 does not
 * look. The r0 releases are listed for older clients, which use the r0
 * prefix served as an alias of v3. */
static const char *const VERSIONS[] = {
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
    "v1.1",   "v1.2",   "v1.3",   "v1.4",   "v1.5",   "v1.6",   "v1.7",   "v1.8", "v1.9", "v1.10",
};

void cl_h_versions(struct mxr_request *req, struct mxr_response *resp)
{
    (void)req;
    json_t *v = json_array();
    for (size_t i = 0; i < sizeof VERSIONS / sizeof VERSIONS[0]; i++)
        json_array_append_new(v, json_string(VERSIONS[i]));
    mxr_resp_json(resp, 200, json_pack("{s:o, s:{}}", "versions", v, "unstable_features"));
}

void cl_h_wellknown(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    mxr_resp_json(resp, 200, json_pack("{s:{s:s}}", "m.homeserver", "base_url", c->base_url));
}

static json_t *enabled(bool on)
{
    return json_pack("{s:b}", "enabled", on);
}

void cl_h_capabilities(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    unsigned n = 0;
    const struct mxr_room_version *rv = mxr_room_versions(&n);
    json_t *avail = json_object();
    for (unsigned i = 0; i < n; i++)
        json_object_set_new(avail, rv[i].id, json_string("stable"));
    const char *def = c->cfg->default_room_version ? c->cfg->default_room_version : MXR_DEFAULT_ROOM_VERSION;
    json_t *caps = json_object();
    json_object_set_new(caps, "m.change_password", enabled(true));
    json_object_set_new(caps, "m.room_versions", json_pack("{s:s, s:o}", "default", def, "available", avail));
    json_object_set_new(caps, "m.set_displayname", enabled(true));
    json_object_set_new(caps, "m.set_avatar_url", enabled(true));
    json_object_set_new(caps, "m.3pid_changes", enabled(false));
    json_object_set_new(caps, "m.get_login_token", enabled(false));
    mxr_resp_json(resp, 200, json_pack("{s:o}", "capabilities", caps));
}

void cl_h_login_flows(struct mxr_request *req, struct mxr_response *resp)
{
    (void)req;
    mxr_resp_json(resp, 200, json_pack("{s:[{s:s}]}", "flows", "type", "m.login.password"));
}
