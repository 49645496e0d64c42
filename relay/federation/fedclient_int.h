/* Internals of the federation client shared by fedclient.c (the engine)
 * and fedclient_transfer.c (what every transfer shares, and the plain
 * GET). These two files are the only ones that include <curl/curl.h>. */
#ifndef MXR_RELAY_FEDCLIENT_INT_H
#define MXR_RELAY_FEDCLIENT_INT_H

#include <curl/curl.h>
#include <stdbool.h>

#include "relay/federation/fedclient.h"

/* The body sink and the private-address guard of one transfer. */
struct sink {
    const struct mxr_fedclient *fc;
    char **buf;
    size_t *len, *cap, max;
    bool *too_big;
    char *blocked;                     /* INET6_ADDRSTRLEN */
};

const struct mxr_config *fedclient_config(const struct mxr_fedclient *fc);

/* TLS, protocols, limits, keep-alive, the body sink and the private-address
 * guard, as configured. errbuf: CURL_ERROR_SIZE bytes. */
void fedclient_common_options(const struct mxr_fedclient *fc, CURL *h, struct sink *s, char *errbuf);

/* The error of a failed transfer (private address, size limit, curl's). -1. */
int fedclient_transfer_error(CURLcode rc, const struct sink *s, const char *errbuf, struct mxr_err *err);

#endif
