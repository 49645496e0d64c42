/* X-Matrix request authentication (spec: server-server API "Request
 * Authentication"). */
#ifndef MXR_RELAY_XMATRIX_H
#define MXR_RELAY_XMATRIX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mxr/error.h"
#include "mxr/keys.h"
#include "relay/http/http.h"

#define MXR_XMATRIX_SIG_MAX 128

struct mxr_xmatrix {
    char origin[MXR_SERVER_NAME_MAX + 1];
    char destination[MXR_SERVER_NAME_MAX + 1];
    bool has_destination;                 /* added in v1.3; older senders omit it */
    char key[MXR_KEY_ID_MAX + 1];
    char sig[MXR_XMATRIX_SIG_MAX + 1];
};

/* Parses an Authorization header value per RFC 9110 section 11.4 as the spec
 * asks: scheme "X-Matrix" (case-insensitive), one or more spaces, then
 * comma-separated name=value pairs with optional spaces/tabs around commas
 * (and '='); names are case-insensitive, in any order; values are tokens or
 * quoted strings with backslash escapes; unquoted values may contain ':'.
 * Unknown parameters are ignored, a repeated known one is an error; origin,
 * key and sig are required. Errors are M_UNAUTHORIZED naming the problem. */
int mxr_xmatrix_parse(const char *header, struct mxr_xmatrix *out, struct mxr_err *err);

/* The object a request signature covers (step 1): {method, uri, origin,
 * destination[, content]}; content is left out when NULL (no body). New
 * reference. */
json_t *mxr_xmatrix_signed_object(const char *method, const char *uri, const char *origin, const char *destination,
                                  json_t *content);

/* The Authorization header value for a request we send, in the form the spec
 * recommends to senders (lower-case names, no spaces, quoted values). */
int mxr_xmatrix_sign(const struct mxr_signing_key *key, const char *origin, const char *destination,
                     const char *method, const char *uri, json_t *content, char *out, size_t cap,
                     struct mxr_err *err);

/* The dispatcher's federation_auth hook: checks req's Authorization header
 * against the destination (us), the federation_allow/deny lists and the
 * origin's current keys (fetched through srv->keyring), then fills
 * req->origin. -1 with M_UNAUTHORIZED (401) or M_FORBIDDEN (403). */
int mxr_xmatrix_authenticate(struct mxr_request *req, struct mxr_err *err);

#endif
