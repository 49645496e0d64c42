/* The dispatcher: the steps every request goes through before its handler.
 * Spec: server-server API "API standards" and "Unsupported endpoints",
 * client-server API "Standard error response". */
#include "relay/http/http.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"
#include "relay/server.h"

const char *mxr_req_param(const struct mxr_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (!strcmp(req->params[i].name, name))
            return req->params[i].value;
    return NULL;
}

const char *mxr_req_query(const struct mxr_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_query; i++)
        if (!strcmp(req->query[i].name, name))
            return req->query[i].value;
    return NULL;
}

void mxr_request_clear(struct mxr_request *req)
{
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->params[i].name);
        free(req->params[i].value);
        req->params[i].name = req->params[i].value = NULL;
    }
    req->n_params = 0;
    for (size_t i = 0; i < req->n_query; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    free(req->query);
    req->query = NULL;
    req->n_query = 0;
    json_decref(req->json);
    req->json = NULL;
    req->route = NULL;
    req->origin[0] = '\0';
}

/* application/x-www-form-urlencoded query: name[=value] separated by '&'. */
static int parse_query(struct mxr_request *req, const char *q, struct mxr_err *err)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n > 0) {
            if (req->n_query == MXR_HTTP_MAX_QUERY)
                return mxr_err_set(err, "M_INVALID_PARAM", "more than %d query parameters", MXR_HTTP_MAX_QUERY);
            if (!req->query && !(req->query = calloc(MXR_HTTP_MAX_QUERY, sizeof *req->query)))
                return mxr_err_set(err, "M_UNKNOWN", "out of memory");
            const char *eq = memchr(q, '=', n);
            size_t nl = eq ? (size_t)(eq - q) : n;
            char *name = mxr_http_decode(q, nl, true);
            char *value = eq ? mxr_http_decode(eq + 1, n - nl - 1, true) : strdup("");
            if (!name || !value) {
                free(name);
                free(value);
                return mxr_err_set(err, "M_INVALID_PARAM", "query parameter '%.*s' is not valid percent-encoding",
                                   (int)(nl > 64 ? 64 : nl), q);
            }
            req->query[req->n_query].name = name;
            req->query[req->n_query].value = value;
            req->n_query++;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* Finds the route for (method, path). HEAD is served by GET routes. Returns
 * the route, or NULL with *status 404 (unknown path), 405 (known path, other
 * method) or 400 (a parameter that does not decode). */
static const struct mxr_route *route_for(const struct mxr_router *r, struct mxr_request *req, const char *path,
                                         int *status, struct mxr_err *err)
{
    const char *method = strcmp(req->method, "HEAD") ? req->method : "GET";
    bool path_known = false;
    for (size_t i = 0; i < r->n; i++) {
        int m = mxr_route_match(r->routes[i].pattern, path, req->params, &req->n_params, err);
        if (m < 0) {
            *status = 400;
            return NULL;
        }
        if (m == 0)
            continue;
        if (!strcmp(r->routes[i].method, method))
            return &r->routes[i];
        path_known = true;
        for (size_t k = 0; k < req->n_params; k++) {
            free(req->params[k].name);
            free(req->params[k].value);
            req->params[k].name = req->params[k].value = NULL;
        }
        req->n_params = 0;
    }
    *status = path_known ? 405 : 404;
    return NULL;
}

/* Parses the body for routes that take JSON, and for authenticated routes
 * whose body the X-Matrix signature covers. */
static int parse_body(struct mxr_request *req, struct mxr_response *resp)
{
    unsigned flags = req->route->flags;
    bool want = (flags & MXR_ROUTE_BODY_JSON) || ((flags & MXR_ROUTE_FEDERATION_AUTH) && req->body_len > 0);
    if (!want)
        return 0;
    if (req->body_len == 0)
        return mxr_resp_error(resp, 400, "M_NOT_JSON", "%s %s needs a JSON object body (spec: POST and PUT bodies are JSON objects)",
                              req->method, req->route->pattern);
    struct mxr_err err = { 0 };
    /* Not MXR_JSON_STRICT: bodies can carry events of room versions 1-5,
     * whose content may hold floats and big integers. */
    req->json = mxr_json_parse(req->body, req->body_len, 0, &err);
    if (!req->json)
        return mxr_resp_error(resp, 400, err.errcode ? err.errcode : "M_NOT_JSON", "request body: %s", err.msg);
    if ((flags & MXR_ROUTE_BODY_JSON) && !json_is_object(req->json))
        return mxr_resp_error(resp, 400, "M_NOT_JSON", "request body must be a JSON object");
    return 0;
}

static void dispatch(const struct mxr_router *r, struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_err err = { 0 };
    const char *t = req->target;
    if (!req->method || !t || t[0] != '/') {
        mxr_resp_error(resp, 400, "M_UNRECOGNIZED", "the request target must be an absolute path");
        return;
    }
    if (!strcmp(req->method, "OPTIONS")) {   /* CORS preflight: the headers are on every response */
        mxr_resp_json(resp, 200, json_object());
        return;
    }
    size_t plen = strcspn(t, "?");
    char *path = strndup(t, plen);
    if (!path) {
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
        return;
    }
    int status = 0;
    if (t[plen] == '?' && parse_query(req, t + plen + 1, &err) < 0) {
        mxr_resp_err(resp, &err);
    } else if (!(req->route = route_for(r, req, path, &status, &err))) {
        if (status == 400)
            mxr_resp_err(resp, &err);
        else
            mxr_resp_error(resp, status, "M_UNRECOGNIZED", status == 405 ? "Unsupported method %s for %s"
                                                                         : "Unrecognized request: %s %s",
                           req->method, path);
    }
    free(path);
    if (resp->status)
        return;

    const struct mxr_config *cfg = req->srv ? req->srv->cfg : NULL;
    if (cfg && req->body_len > (size_t)cfg->max_request_bytes) {
        mxr_resp_error(resp, 413, "M_TOO_LARGE", "request body of %zu bytes exceeds the limit of %ld bytes",
                       req->body_len, cfg->max_request_bytes);
        return;
    }
    if (parse_body(req, resp) < 0)
        return;

    unsigned flags = req->route->flags;
    if (flags & MXR_ROUTE_FEDERATION_AUTH) {
        if (!r->federation_auth) {
            mxr_resp_error(resp, 500, "M_UNKNOWN", "federation authentication is not configured");
            return;
        }
        if (r->federation_auth(req, &err) < 0) {
            mxr_resp_err(resp, &err);
            return;
        }
    }
    if (flags & MXR_ROUTE_CLIENT_AUTH) {
        if (!r->client_auth) {
            mxr_resp_error(resp, 401, "M_MISSING_TOKEN", "client authentication is not available yet");
            return;
        }
        if (r->client_auth(req, &err) < 0) {
            mxr_resp_err(resp, &err);
            /* client-server API "Soft logout": M_UNKNOWN_TOKEN carries
             * soft_logout; tokens here are only ever revoked outright. */
            if (err.errcode && !strcmp(err.errcode, "M_UNKNOWN_TOKEN") && json_is_object(resp->json))
                json_object_set_new(resp->json, "soft_logout", json_false());
            return;
        }
    }
    req->route->handler(req, resp);
    if (!resp->status)
        mxr_resp_error(resp, 500, "M_UNKNOWN", "the handler for %s %s gave no response", req->method,
                       req->route->pattern);
}

void mxr_http_dispatch(const struct mxr_router *r, struct mxr_request *req, struct mxr_response *resp)
{
    if (!req->id[0] && req->srv)
        mxr_server_request_id(req->srv, req->id);
    dispatch(r, req, resp);
}
