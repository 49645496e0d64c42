#include "relay/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const LEVEL_NAMES[] = { "error", "warn", "info", "debug" };
static const char *const LEVEL_TAGS[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };

int mxr_log_level_parse(const char *name)
{
    for (int i = 0; i <= MXR_LOG_DEBUG; i++)
        if (name && !strcmp(name, LEVEL_NAMES[i]))
            return i;
    return -1;
}

const char *mxr_log_level_name(enum mxr_log_level level)
{
    return (unsigned)level <= MXR_LOG_DEBUG ? LEVEL_NAMES[level] : "?";
}

void mxr_vlog(const struct mxr_log *lg, enum mxr_log_level level, const char *request_id, const char *fmt,
              va_list ap)
{
    if (!lg || level > lg->level)
        return;
    int saved_errno = errno;
    char line[MXR_LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s] ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     LEVEL_TAGS[(unsigned)level <= MXR_LOG_DEBUG ? level : MXR_LOG_ERROR],
                     request_id && *request_id ? request_id : "-");
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof line - 1) {
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        n = m < 0 ? n : (size_t)n + (size_t)m >= sizeof line - 1 ? (int)sizeof line - 2 : n + m;
    }
    /* One event, one line: peers' strings may carry newlines or terminal escapes. */
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t w = write(lg->fd, line, (size_t)n);
    (void)w;
    errno = saved_errno;
}

void mxr_log(const struct mxr_log *lg, enum mxr_log_level level, const char *request_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mxr_vlog(lg, level, request_id, fmt, ap);
    va_end(ap);
}
