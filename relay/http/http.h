/* The HTTP layer: requests, responses, the route table and its dispatcher.
 *
 * Handlers see a request struct and fill a response struct; they never touch
 * a socket or <microhttpd.h>, so tests call them (and the dispatcher) with
 * requests built in memory. Only listener.c knows libmicrohttpd.
 *
 * The dispatcher is the one choke point for what every endpoint shares:
 * routing (404/405 M_UNRECOGNIZED), the body size limit (413 M_TOO_LARGE),
 * JSON bodies (400 M_NOT_JSON / M_BAD_JSON) and federation authentication
 * (X-Matrix, verified before the handler runs, so no handler can forget it).
 */
#ifndef MXR_RELAY_HTTP_H
#define MXR_RELAY_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mxr/error.h"

struct mxr_server;
struct mxr_route;

#define MXR_HTTP_MAX_PARAMS 8      /* {params} in one pattern */
#define MXR_HTTP_MAX_QUERY 64      /* query parameters kept; more is 400 M_INVALID_PARAM */
#define MXR_SERVER_NAME_MAX 255

struct mxr_kv {
    char *name;
    char *value;
};

struct mxr_request {
    struct mxr_server *srv;
    const char *method;                 /* as received: "GET", "PUT", ... */
    const char *target;                 /* raw request target as sent: path ["?" query], percent-encoded */
    const char *authorization;          /* Authorization header, or NULL */
    const char *body;                   /* raw body (not NUL-terminated), may be NULL */
    size_t body_len;
    json_t *json;                       /* the parsed body when there is one (always for BODY_JSON routes) */
    const struct mxr_route *route;      /* the matched route */
    struct mxr_kv params[MXR_HTTP_MAX_PARAMS]; /* path {params}, percent-decoded, in pattern order */
    size_t n_params;
    struct mxr_kv *query;               /* query parameters, decoded ('+' is a space), in order */
    size_t n_query;
    char origin[MXR_SERVER_NAME_MAX + 1]; /* FEDERATION_AUTH routes: the authenticated origin */
    char user_id[256];                  /* CLIENT_AUTH routes: the access token's user */
    char device_id[256];                /* CLIENT_AUTH routes: the access token's device */
    char id[24];                        /* request ID, for logs */
    const char *remote;                 /* peer address, for logs (may be NULL) */
};

struct mxr_response {
    int status;                         /* 0: not filled yet */
    json_t *json;                       /* the body (owned); NULL with a status is sent as {} */
    const char *errcode;                /* set by the error helpers, for the access log */
};

/* A handler fills resp (status and JSON body). Leaving it empty is a bug
 * answered with 500 M_UNKNOWN. */
typedef void (*mxr_handler_fn)(struct mxr_request *req, struct mxr_response *resp);

enum mxr_route_flags {
    MXR_ROUTE_FEDERATION_AUTH = 1u << 0,  /* X-Matrix verified before the handler; req->origin set */
    MXR_ROUTE_CLIENT_AUTH = 1u << 1,      /* access token verified by router.client_auth before the handler (401 without a hook) */
    MXR_ROUTE_BODY_JSON = 1u << 2,        /* body must be a JSON object; parsed into req->json */
};

struct mxr_route {
    const char *method;      /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern;     /* "/_matrix/key/v2/query/{serverName}": literal segments and {param} segments */
    mxr_handler_fn handler;
    unsigned flags;
};

/* Authentication hooks the dispatcher calls for flagged routes: 0 and
 * req->origin (or the user, later) filled, or -1 with err (errcode
 * M_UNAUTHORIZED, M_FORBIDDEN, ...). */
typedef int (*mxr_auth_fn)(struct mxr_request *req, struct mxr_err *err);

struct mxr_router {
    struct mxr_route *routes;
    size_t n;
    mxr_auth_fn federation_auth;
    mxr_auth_fn client_auth;
};

/* ---- router ------------------------------------------------------------- */

/* Appends a table of routes (the table is copied; patterns must outlive the router). */
int mxr_router_add(struct mxr_router *r, const struct mxr_route *routes, size_t n, struct mxr_err *err);
void mxr_router_free(struct mxr_router *r);

/* Matches a raw (percent-encoded) path against one pattern. Path segments
 * are split on '/' before decoding, so "%2F" inside a parameter stays part
 * of it. On a match fills params (decoded, malloc'd) and *n_params and
 * returns 1; returns 0 when the path does not match and -1 (err set,
 * M_INVALID_PARAM) when a matching segment is badly percent-encoded or
 * decodes to a NUL. */
int mxr_route_match(const char *pattern, const char *raw_path, struct mxr_kv params[MXR_HTTP_MAX_PARAMS],
                    size_t *n_params, struct mxr_err *err);

/* ---- dispatch -------------------------------------------------------------- */

/* Runs the whole pipeline for one request: target parsing, routing, limits,
 * body, authentication, handler. Always fills resp. req must have srv,
 * method, target, body, body_len (and authorization) set; the dispatcher
 * fills the rest. Call mxr_request_clear(req) and mxr_response_clear(resp)
 * when done. */
void mxr_http_dispatch(const struct mxr_router *r, struct mxr_request *req, struct mxr_response *resp);

void mxr_request_clear(struct mxr_request *req);
void mxr_response_clear(struct mxr_response *resp);

/* Decoded path parameter / first query parameter of that name, or NULL. */
const char *mxr_req_param(const struct mxr_request *req, const char *name);
const char *mxr_req_query(const struct mxr_request *req, const char *name);

/* Percent-decodes s[0..len) into a malloc'd string; form=true also turns
 * '+' into a space (query strings). NULL on bad encoding or a decoded NUL. */
char *mxr_http_decode(const char *s, size_t len, bool form);

/* ---- responses ---------------------------------------------------------- */

/* 200-style response with a JSON body (takes the reference). */
void mxr_resp_json(struct mxr_response *resp, int status, json_t *body);

/* A Matrix error {"errcode", "error"}; returns -1 for `return mxr_resp_error(...)`. */
int mxr_resp_error(struct mxr_response *resp, int status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error in err, with the HTTP status its errcode calls for. */
int mxr_resp_err(struct mxr_response *resp, const struct mxr_err *err);

/* The HTTP status for a Matrix errcode (400 for unknown client errors, 500 for M_UNKNOWN). */
int mxr_http_status_for(const char *errcode);

/* Serialises a response body: compact JSON, malloc'd. */
char *mxr_resp_body(const struct mxr_response *resp, size_t *len);

#endif
