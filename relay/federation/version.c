/* GET /_matrix/federation/v1/version (spec: version.yaml). */
#include <config.h>   /* autoconf's (PACKAGE_NAME, PACKAGE_VERSION) */

#include "relay/federation/federation.h"

void mxr_handle_version(struct mxr_request *req, struct mxr_response *resp)
{
    mxr_resp_json(resp, 200, json_pack("{s:{s:s, s:s}}", "server", "name", PACKAGE_NAME, "version", PACKAGE_VERSION));
}
