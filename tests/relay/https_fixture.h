/* A programmable HTTPS server for tests of the outbound client: one
 * libmicrohttpd daemon on 127.0.0.1 (any free port) with a fresh
 * self-signed certificate for "localhost" that the client is told to trust.
 * The test's handler sees each request (method, raw target, Authorization,
 * body) and answers with a status, optional headers and a body. It counts
 * TCP connections, so tests can assert connection reuse. */
#ifndef MXR_TEST_HTTPS_FIXTURE_H
#define MXR_TEST_HTTPS_FIXTURE_H

#include <stddef.h>

struct https_request {
    const char *method;
    const char *target;          /* raw, as sent (percent-encoded, with the query) */
    const char *host;            /* Host header */
    const char *authorization;   /* or NULL */
    const char *body;            /* NUL-terminated ("" when none) */
    size_t body_len;
};

struct https_reply {
    int status;
    char *body;                  /* malloc'd (the fixture frees it); NULL: empty */
    size_t body_len;             /* 0: strlen(body) */
    const char *headers[4][2];   /* extra headers {name, value}, NULL-terminated */
};

/* Runs on the server's thread. */
typedef void (*https_handler_fn)(void *ctx, const struct https_request *req, struct https_reply *reply);

struct https_server;

/* dir: a temporary directory for the certificate (cert.pem, key.pem). */
struct https_server *https_start(const char *dir, https_handler_fn fn, void *ctx);
void https_stop(struct https_server *s);
int https_port(const struct https_server *s);
const char *https_ca_file(const struct https_server *s);   /* the certificate, to trust */
unsigned https_connections(const struct https_server *s);  /* TCP connections accepted so far */

#endif
