/* The daemon's log: one line per event on stderr,
 *   2026-07-01T12:00:00.123Z INFO  [r1a2b] message
 * with a UTC timestamp, the level and the request ID ("-" outside requests).
 * A logger is a plain value kept in the server context (no global state);
 * lines are written with one write(2) so threads never interleave. */
#ifndef MXR_RELAY_LOG_H
#define MXR_RELAY_LOG_H

#include <stdarg.h>

enum mxr_log_level { MXR_LOG_ERROR = 0, MXR_LOG_WARN, MXR_LOG_INFO, MXR_LOG_DEBUG };

struct mxr_log {
    enum mxr_log_level level;   /* lines above this level are dropped */
    int fd;                     /* 2 (stderr) in the daemon; tests may point it elsewhere */
};

#define MXR_LOG_LINE_MAX 2048

/* "error", "warn", "info", "debug" <-> level. Parse returns -1 for an unknown name. */
int mxr_log_level_parse(const char *name);
const char *mxr_log_level_name(enum mxr_log_level level);

void mxr_log(const struct mxr_log *lg, enum mxr_log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void mxr_vlog(const struct mxr_log *lg, enum mxr_log_level level, const char *request_id, const char *fmt,
              va_list ap) __attribute__((format(printf, 4, 0)));

#define log_error(lg, ...) mxr_log((lg), MXR_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(lg, ...) mxr_log((lg), MXR_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(lg, ...) mxr_log((lg), MXR_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(lg, ...) mxr_log((lg), MXR_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
