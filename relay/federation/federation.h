/* The federation API's inbound endpoints and their route table. */
#ifndef MXR_RELAY_FEDERATION_H
#define MXR_RELAY_FEDERATION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/http/http.h"

struct mxr_server;

/* Our key responses are valid for a day: notaries cache them for half of
 * that, and the spec asks origins not to serve keys that expire within the
 * hour (keys_server.yaml). */
#define MXR_OWN_KEYS_VALIDITY_MS (24LL * 3600 * 1000)

/* Every route served on the federation listeners: version, keys, notary. */
extern const struct mxr_route MXR_FEDERATION_ROUTES[];
extern const size_t MXR_FEDERATION_N_ROUTES;

/* Our /_matrix/key/v2/server response, self-signed (new reference). */
json_t *mxr_own_server_keys(struct mxr_server *srv, struct mxr_err *err);

/* Handlers (one file per endpoint group). */
void mxr_handle_version(struct mxr_request *req, struct mxr_response *resp);     /* version.c */
void mxr_handle_key_server(struct mxr_request *req, struct mxr_response *resp);  /* keys_server.c */
void mxr_handle_key_query_get(struct mxr_request *req, struct mxr_response *resp);  /* notary.c */
void mxr_handle_key_query_post(struct mxr_request *req, struct mxr_response *resp); /* notary.c */

#endif
