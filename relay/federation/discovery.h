/* Server discovery (spec: server-server API, "Resolving server names").
 *
 * Pure logic: the well-known fetch and the SRV lookup are injected, so the
 * whole decision tree is tested against fixtures. The outbound client asks
 * for the ordered list of targets and tries them in order. */
#ifndef MXR_DISCOVERY_H
#define MXR_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

#define MXR_FED_DEFAULT_PORT 8448
#define MXR_WELL_KNOWN_DEFAULT_TTL (24 * 3600)  /* spec: recommended default */
#define MXR_WELL_KNOWN_MAX_TTL (48 * 3600)      /* spec: recommended maximum */
#define MXR_WELL_KNOWN_ERROR_TTL 3600           /* spec: errors cached up to an hour */
#define MXR_DISCOVERY_MAX_TARGETS 16

/* Where to send a request and how to present it. */
struct mxr_fed_target {
    char connect_host[256];   /* IP literal (no brackets) or hostname to resolve with AAAA/A */
    uint16_t port;
    char host_header[264];    /* value of the Host header */
    char tls_name[256];       /* name the certificate must be valid for (IP or hostname) */
    bool tls_name_is_ip;      /* no SNI is sent for IP literals */
    const char *step;         /* which spec step produced it (static string, for logs) */
};

struct mxr_srv_record {
    char target[256];
    uint16_t port;
    uint16_t priority;
    uint16_t weight;
};

/* Result of fetching https://<hostname>/.well-known/matrix/server. */
struct mxr_well_known_response {
    int status;               /* HTTP status after redirects, or 0 on a transport error */
    const char *body;         /* not NUL-terminated; may be NULL */
    size_t body_len;
    const char *cache_control;/* the Cache-Control header value, or NULL */
};

struct mxr_discovery_ops {
    /* Fills *resp; returns 0 (any HTTP outcome) or -1 when no response was had. */
    int (*fetch_well_known)(void *ctx, const char *hostname, struct mxr_well_known_response *resp);
    /* Looks up `name` (e.g. "_matrix-fed._tcp.example.org"); returns the number
     * of records written (0: none, NXDOMAIN) or -1 on a lookup failure. */
    int (*srv_lookup)(void *ctx, const char *name, struct mxr_srv_record *out, size_t max);
    /* Uniform random in [0, bound) for RFC 2782 weighted selection; NULL: libsodium. */
    uint32_t (*random)(void *ctx, uint32_t bound);
    void *ctx;
};

/* A parsed server name: host (brackets removed for IPv6), optional port. */
struct mxr_host_port {
    char host[256];
    int port;                 /* -1 when absent */
    bool is_ip;
    bool is_ipv6;
};

/* Splits and validates `name` per the appendix grammar (server_name). */
int mxr_parse_server_name(const char *name, struct mxr_host_port *out, struct mxr_err *err);

/* Seconds a well-known response may be cached: max-age / s-maxage from
 * Cache-Control (0 for no-store/no-cache), else the default, capped. */
long mxr_well_known_ttl(const char *cache_control, bool ok);

/* Parses a well-known body; on success writes the delegated server name. */
int mxr_parse_well_known(const char *body, size_t len, char out[256], struct mxr_err *err);

/* Orders SRV records per RFC 2782 (priority ascending, weighted random
 * within a priority); drops the "." target that means "no service". */
size_t mxr_srv_order(struct mxr_srv_record *recs, size_t n, const struct mxr_discovery_ops *ops);

/* Resolves server_name to targets in the order to try them. *ttl receives
 * how long the answer may be cached (from the well-known step). Returns 0,
 * or -1 for an invalid server name. */
int mxr_discover(const char *server_name, const struct mxr_discovery_ops *ops,
                 struct mxr_fed_target *targets, size_t max, size_t *n, long *ttl,
                 struct mxr_err *err);

#endif
