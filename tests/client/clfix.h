/* Test fixture for relay/client: a server context for "hs.test" with a real
 * store and rooms pipeline in a private temporary directory, the client API
 * routes behind the real dispatcher (no sockets), a clock the test sets, and
 * cheap Argon2id parameters. */
#ifndef MXR_TESTS_CLIENT_CLFIX_H
#define MXR_TESTS_CLIENT_CLFIX_H

#include <jansson.h>
#include <stdint.h>

#include "relay/client/client.h"
#include "relay/config.h"
#include "relay/http/http.h"
#include "relay/server.h"

#define CLFIX_SERVER "hs.test"
#define CLFIX_T0 1700000000000LL

struct clfix {
    char dir[512];
    struct mxr_config cfg;
    struct mxr_server srv;
    struct mxr_router router;
    int64_t now;
    char yaml_extra[1024];
};

/* extra_yaml (may be NULL) is appended to the configuration. */
void clfix_open(struct clfix *f, const char *extra_yaml);
void clfix_close(struct clfix *f);
/* Closes the services and opens them again on the same store. */
void clfix_restart(struct clfix *f);

/* One request through the dispatcher. token: sent as "Authorization:
 * Bearer" (NULL: none). Returns the status; *body (may be NULL) receives
 * the response body (owned). */
int clfix_req(struct clfix *f, const char *method, const char *target, const char *token, const char *body,
              json_t **out);
/* The same, asserting the status; returns the body (owned). */
json_t *clfix_ok(struct clfix *f, int status, const char *method, const char *target, const char *token,
                 const char *body);
/* Asserts a Matrix error response. */
void clfix_error(struct clfix *f, int status, const char *errcode, const char *method, const char *target,
                 const char *token, const char *body);

/* Creates @localpart:hs.test with password "pw-<localpart>" and logs it in
 * (token and device are filled; either may be NULL). */
void clfix_user(struct clfix *f, const char *localpart, char token[128], char device[160]);

/* printf into a static rotating buffer (for targets and bodies). */
const char *clfix_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
