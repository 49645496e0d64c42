/* The minimal outbound federation client (libcurl): unauthenticated GETs
 * such as key fetches. The only file that includes <curl/curl.h>.
 *
 * Where to connect comes from a resolver: federation_static_map first, then
 * the resolver set with mxr_fedclient_set_resolver (by default the
 * discovery steps that need no network: IP literals, explicit ports, port
 * 8448; full well-known/SRV discovery plugs in here). The request always
 * presents the server name (Host header, SNI, certificate name) the
 * resolver says, so the static map never weakens certificate checks. */
#ifndef MXR_RELAY_FEDCLIENT_H
#define MXR_RELAY_FEDCLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "mxr/error.h"
#include "relay/config.h"
#include "relay/federation/discovery.h"
#include "relay/log.h"

#define MXR_FED_MAX_RESPONSE_BYTES (1u << 20)   /* for key responses and other small JSON */

typedef int (*mxr_fed_resolve_fn)(void *ctx, const char *server_name, struct mxr_fed_target *targets, size_t max,
                                  size_t *n, struct mxr_err *err);

struct mxr_fedclient;

/* Call before any thread starts (it initialises libcurl). cfg and log must
 * outlive the client. */
struct mxr_fedclient *mxr_fedclient_new(const struct mxr_config *cfg, const struct mxr_log *log,
                                        struct mxr_err *err);
void mxr_fedclient_free(struct mxr_fedclient *fc);

void mxr_fedclient_set_resolver(struct mxr_fedclient *fc, mxr_fed_resolve_fn fn, void *ctx);

/* Targets for server_name: the static map's entry, else the resolver's. */
int mxr_fedclient_resolve(struct mxr_fedclient *fc, const char *server_name, struct mxr_fed_target *targets,
                          size_t max, size_t *n, struct mxr_err *err);

/* GET https://server_name/path (path starts with '/', already encoded).
 * Tries the targets in order; returns the parsed body of a 200 response
 * (new reference) or NULL with err naming the server, target and cause. */
json_t *mxr_fedclient_get_json(struct mxr_fedclient *fc, const char *server_name, const char *path,
                               struct mxr_err *err);

/* mxr_key_fetch_fn for the keyring: GET /_matrix/key/v2/server. */
json_t *mxr_fedclient_fetch_keys(void *fc, const char *server_name, struct mxr_err *err);

/* Whether an outbound connection to this address is refused when
 * federation_allow_private_addresses is false (loopback, private,
 * link-local, unique-local, multicast, unspecified, ...). addr is a
 * struct sockaddr_in or sockaddr_in6. */
struct sockaddr;
int mxr_address_is_private(const struct sockaddr *addr);

#endif
