/* Errors of the protocol library.
 *
 * Every function that can fail takes a `struct mxr_err *` (may be NULL) and
 * returns -1 / NULL on failure after filling it. The errcode is a Matrix
 * errcode (static string) so that the daemon can hand it to a peer as is;
 * the message is one line a peer's developer can act on.
 */
#ifndef MXR_ERROR_H
#define MXR_ERROR_H

#include <stddef.h>

#define MXR_ERR_MSG_MAX 320

struct mxr_err {
    const char *errcode;           /* "M_BAD_JSON", "M_FORBIDDEN", ...; never NULL once set */
    char msg[MXR_ERR_MSG_MAX];     /* one line, no trailing newline */
};

/* Sets errcode and a printf-style message; always returns -1 so callers can
 * `return mxr_err_set(err, "M_BAD_JSON", "...")`. err may be NULL. */
int mxr_err_set(struct mxr_err *err, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (for adding context while an
 * error travels up). Returns -1. */
int mxr_err_prefix(struct mxr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void mxr_err_clear(struct mxr_err *err);

#endif
