#include "mxr/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mxr_err_set(struct mxr_err *err, const char *errcode, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->errcode = errcode ? errcode : "M_UNKNOWN";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int mxr_err_prefix(struct mxr_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[MXR_ERR_MSG_MAX], old[MXR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strnlen(prefix, sizeof err->msg - 1);
    memcpy(err->msg, prefix, n);
    size_t room = sizeof err->msg - n - 1;
    if (room >= 2) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
        room -= 2;
        size_t m = strnlen(old, room);
        memcpy(err->msg + n, old, m);
        n += m;
    }
    err->msg[n] = '\0';
    if (!err->errcode)
        err->errcode = "M_UNKNOWN";
    return -1;
}

void mxr_err_clear(struct mxr_err *err)
{
    if (err) {
        err->errcode = NULL;
        err->msg[0] = '\0';
    }
}
