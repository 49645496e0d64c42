/* Server discovery with the network: the resolver the federation client
 * uses (mxr_fed_resolve_fn) on top of the pure decision tree in
 * discovery.c, with the /.well-known/matrix/server fetch (redirects bounded,
 * size-limited) and SRV lookups (dns.c).
 *
 * Caching (spec: server-server API "Resolving server names", step 3):
 * well-known responses, successful or not, are cached per hostname for what
 * their Cache-Control allows (mxr_well_known_ttl: default 24 h, at most
 * 48 h); errors for at most an hour, backing off exponentially from five
 * minutes for repeated failures. The resulting target list is cached for
 * the same time, but at most an hour, so SRV changes are seen. The fetch, the
 * SRV lookup and the clock are injected, so the cache policy is tested
 * without a network. Thread-safe. */
#ifndef MXR_RELAY_WELLKNOWN_H
#define MXR_RELAY_WELLKNOWN_H

#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/federation/discovery.h"
#include "relay/federation/fedclient.h"
#include "relay/log.h"

#define MXR_WELL_KNOWN_ERROR_MIN_TTL 300     /* first failure: five minutes, doubling up to the hour */
#define MXR_DISCOVERY_TARGETS_MAX_TTL 3600   /* target lists (SRV answers) are looked up again after an hour */
#define MXR_DISCOVERY_CACHE_MAX 4096         /* entries per cache; the soonest to expire goes first */

struct mxr_wellknown_deps {
    /* Fetches https://<hostname>/.well-known/matrix/server: 0 when a
     * response was had (any status; out filled, freed by the caller with
     * mxr_fed_raw_clear), -1 otherwise. NULL: mxr_wellknown_fetch_https
     * with fetch_ctx the federation client. */
    int (*fetch)(void *ctx, const char *hostname, struct mxr_fed_raw *out, struct mxr_err *err);
    void *fetch_ctx;
    /* mxr_discovery_ops.srv_lookup; NULL: mxr_dns_srv_lookup. */
    int (*srv_lookup)(void *ctx, const char *name, struct mxr_srv_record *out, size_t max);
    void *srv_ctx;
    int64_t (*clock)(void *ctx);   /* ms since the epoch; NULL: the real clock */
    void *clock_ctx;
    const struct mxr_log *log;     /* may be NULL */
};

struct mxr_wellknown;

struct mxr_wellknown *mxr_wellknown_new(const struct mxr_wellknown_deps *deps, struct mxr_err *err);
void mxr_wellknown_free(struct mxr_wellknown *wk);

/* mxr_fed_resolve_fn (ctx: the struct mxr_wellknown): the targets for
 * server_name per the spec's steps, from the caches when fresh. */
int mxr_wellknown_resolve(void *wk, const char *server_name, struct mxr_fed_target *targets, size_t max,
                          size_t *n, struct mxr_err *err);

/* The default fetch: GET https://<hostname>/.well-known/matrix/server with
 * the federation client's TLS and address rules (ctx: struct mxr_fedclient),
 * at most MXR_WELL_KNOWN_MAX_REDIRECTS redirects (https only) and
 * MXR_WELL_KNOWN_MAX_BYTES. */
int mxr_wellknown_fetch_https(void *fc, const char *hostname, struct mxr_fed_raw *out, struct mxr_err *err);

#endif
