/* Responses and Matrix errors (client-server API "Standard error response";
 * every error body is {"errcode", "error"}). */
#include "relay/http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mxr_resp_json(struct mxr_response *resp, int status, json_t *body)
{
    json_decref(resp->json);
    resp->status = status;
    resp->json = body;
    resp->errcode = NULL;
}

static int set_error(struct mxr_response *resp, int status, const char *errcode, const char *msg)
{
    json_t *body = json_pack("{s:s, s:s}", "errcode", errcode, "error", msg);
    if (!body) /* the message was not UTF-8: keep the errcode, drop the text */
        body = json_pack("{s:s, s:s}", "errcode", errcode, "error", "(message not representable)");
    mxr_resp_json(resp, status, body);
    resp->errcode = errcode;
    return -1;
}

int mxr_resp_error(struct mxr_response *resp, int status, const char *errcode, const char *fmt, ...)
{
    char msg[MXR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return set_error(resp, status, errcode, msg);
}

int mxr_http_status_for(const char *errcode)
{
    static const struct {
        const char *errcode;
        int status;
    } map[] = {
        { "M_FORBIDDEN", 403 },        { "M_UNAUTHORIZED", 401 },   { "M_MISSING_TOKEN", 401 },
        { "M_UNKNOWN_TOKEN", 401 },    { "M_NOT_FOUND", 404 },      { "M_UNRECOGNIZED", 404 },
        { "M_TOO_LARGE", 413 },        { "M_LIMIT_EXCEEDED", 429 }, { "M_UNKNOWN", 500 },
    };
    if (!errcode)
        return 500;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].errcode, errcode))
            return map[i].status;
    return 400;   /* M_BAD_JSON, M_NOT_JSON, M_INVALID_PARAM, M_MISSING_PARAM, room version errors, ... */
}

int mxr_resp_err(struct mxr_response *resp, const struct mxr_err *err)
{
    const char *code = err && err->errcode ? err->errcode : "M_UNKNOWN";
    return set_error(resp, mxr_http_status_for(code), code, err && err->msg[0] ? err->msg : "internal error");
}

char *mxr_resp_body(const struct mxr_response *resp, size_t *len)
{
    char *s = resp->json ? json_dumps(resp->json, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
    if (s && len)
        *len = strlen(s);
    return s;
}

void mxr_response_clear(struct mxr_response *resp)
{
    json_decref(resp->json);
    memset(resp, 0, sizeof *resp);
}
