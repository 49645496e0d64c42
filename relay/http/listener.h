/* The listeners: one libmicrohttpd daemon per configured listener, all
 * feeding the same dispatcher. This header exposes no libmicrohttpd type. */
#ifndef MXR_RELAY_LISTENER_H
#define MXR_RELAY_LISTENER_H

#include <stddef.h>

#include "mxr/error.h"
#include "relay/http/http.h"

struct mxr_server;

/* PEM certificate chain and key for the https listeners (NULL if none). */
struct mxr_http_tls {
    const char *cert_pem;
    const char *key_pem;
};

/* Starts every listener of srv->cfg, each with an internal thread pool of
 * cfg->thread_pool_size; logs "listening on ..." per listener with the bound
 * port. The router and TLS strings must outlive the listeners. */
struct mxr_http *mxr_http_start(struct mxr_server *srv, const struct mxr_router *router,
                                const struct mxr_http_tls *tls, struct mxr_err *err);

/* The port listener i is bound to (useful with port 0), or -1. */
int mxr_http_port(const struct mxr_http *h, size_t i);

/* Graceful stop: stop accepting, wait up to drain_ms for the requests in
 * flight to finish, then close every connection and free h. */
void mxr_http_stop(struct mxr_http *h, unsigned drain_ms);

#endif
