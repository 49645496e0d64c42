/* The outbound federation client (libcurl). Only fedclient.c and
 * fedclient_transfer.c include <curl/curl.h>.
 *
 * One I/O thread drives a curl multi handle: every request of the daemon
 * (transactions, joins, key fetches, backfill) shares its connection cache,
 * so connections to a server are reused and kept alive. Where to connect is
 * decided on resolver threads (discovery may block on the network): the
 * federation_static_map first, then the resolver set with
 * mxr_fedclient_set_resolver (by default the discovery steps that need no
 * network: IP literals, explicit ports, port 8448; wellknown.c plugs in the
 * full well-known/SRV discovery). The request always presents the server
 * name (Host header, SNI, certificate name) the resolver says, so the static
 * map never weakens certificate checks. Targets are tried in order until one
 * answers at the HTTP level.
 *
 * Requests are signed with X-Matrix (spec: server-server API "Request
 * Authentication") unless MXR_FED_UNSIGNED; responses are size-limited and
 * parsed strictly (one JSON value, valid UTF-8, no duplicate keys). Outbound
 * connections to loopback, private and link-local addresses are refused
 * unless federation_allow_private_addresses is set. */
#ifndef MXR_RELAY_FEDCLIENT_H
#define MXR_RELAY_FEDCLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mxr/error.h"
#include "mxr/keys.h"
#include "relay/config.h"
#include "relay/federation/discovery.h"
#include "relay/log.h"

#define MXR_FED_MAX_RESPONSE_BYTES (1u << 20)        /* default: keys and other small JSON */
#define MXR_FED_LARGE_RESPONSE_BYTES (256u << 20)    /* send_join, /state: a room's whole state */
#define MXR_FED_DEFAULT_TIMEOUT_MS 60000L
#define MXR_FED_CONNECT_TIMEOUT_MS 10000L
#define MXR_WELL_KNOWN_MAX_BYTES (64u << 10)
#define MXR_WELL_KNOWN_MAX_REDIRECTS 5

typedef int (*mxr_fed_resolve_fn)(void *ctx, const char *server_name, struct mxr_fed_target *targets, size_t max,
                                  size_t *n, struct mxr_err *err);

struct mxr_fedclient;

/* Call before any thread starts (it initialises libcurl). cfg and log must
 * outlive the client. The threads start with the first request. */
struct mxr_fedclient *mxr_fedclient_new(const struct mxr_config *cfg, const struct mxr_log *log,
                                        struct mxr_err *err);
/* Stops the threads; requests still pending complete with M_UNKNOWN
 * "shutting down" (their callbacks run), later ones fail at once. The
 * client stays valid until freed. Idempotent. */
void mxr_fedclient_shutdown(struct mxr_fedclient *fc);
/* mxr_fedclient_shutdown, then frees. No other thread may still use fc. */
void mxr_fedclient_free(struct mxr_fedclient *fc);

/* fn NULL restores the default. Resolutions already running finish with
 * the previous resolver, which must stay valid until they do. */
void mxr_fedclient_set_resolver(struct mxr_fedclient *fc, mxr_fed_resolve_fn fn, void *ctx);

/* Our name and key for X-Matrix (the key is copied). Before the first
 * signed request; without it signed requests fail. */
void mxr_fedclient_set_signer(struct mxr_fedclient *fc, const char *origin, const struct mxr_signing_key *key);

/* Targets for server_name: the static map's entry, else the resolver's. */
int mxr_fedclient_resolve(struct mxr_fedclient *fc, const char *server_name, struct mxr_fed_target *targets,
                          size_t max, size_t *n, struct mxr_err *err);

/* ---- requests ----------------------------------------------------------- */

enum mxr_fed_flags {
    MXR_FED_UNSIGNED = 1u << 0,   /* no Authorization header (key server, notary, well-known) */
};

struct mxr_fed_request {
    const char *method;           /* "GET", "PUT", "POST" */
    const char *destination;      /* server name (pre-delegation: it is what X-Matrix signs) */
    const char *path;             /* request target: "/_matrix/..." [?query], already percent-encoded */
    json_t *body;                 /* borrowed; NULL: none for GET, {} for PUT/POST (spec: API standards) */
    unsigned flags;               /* enum mxr_fed_flags */
    size_t max_response;          /* 0: MXR_FED_MAX_RESPONSE_BYTES */
    long timeout_ms;              /* whole request; 0: MXR_FED_DEFAULT_TIMEOUT_MS */
};

struct mxr_fed_response {
    long status;                  /* HTTP status; 0 when no server answered */
    json_t *body;                 /* the parsed body whatever the status (NULL if none or not JSON) */
    struct mxr_err err;           /* set unless 2xx with a JSON object body: the errcode of an error body,
                                   * M_UNKNOWN for transport failures, M_TOO_LARGE, M_NOT_JSON ... */
    bool ok;                      /* 2xx and body is a JSON object */
};

void mxr_fed_response_clear(struct mxr_fed_response *r);

/* Completion of an asynchronous request: runs once on one of the client's
 * threads; it must be quick and must not make synchronous requests. It may
 * take resp->body (set it to NULL); the client frees the rest. */
typedef void (*mxr_fed_done_fn)(void *ctx, struct mxr_fed_response *resp);

/* Starts a request. -1 (done not called) when it cannot even start: the
 * destination is excluded by federation_allow/deny (M_FORBIDDEN), we are it,
 * a signed request without a signer, a bad argument, shutdown. */
int mxr_fedclient_submit(struct mxr_fedclient *fc, const struct mxr_fed_request *req, mxr_fed_done_fn done,
                         void *ctx, struct mxr_err *err);

/* Synchronous form: 0 when resp->ok, else -1 with resp->err (resp is always
 * filled; clear it). Not from the client's own threads. */
int mxr_fedclient_request(struct mxr_fedclient *fc, const struct mxr_fed_request *req,
                          struct mxr_fed_response *resp);

/* Shorthand: a signed request; the body of a 2xx JSON object response (new
 * reference) or NULL with err. */
json_t *mxr_fedclient_call(struct mxr_fedclient *fc, const char *method, const char *destination, const char *path,
                           json_t *body, struct mxr_err *err);

/* Unsigned GET https://server_name/path (path already encoded): the parsed
 * body of a 200 response (new reference) or NULL with err naming the server,
 * target and cause. */
json_t *mxr_fedclient_get_json(struct mxr_fedclient *fc, const char *server_name, const char *path,
                               struct mxr_err *err);

/* mxr_key_fetch_fn for the keyring: GET /_matrix/key/v2/server. */
json_t *mxr_fedclient_fetch_keys(void *fc, const char *server_name, struct mxr_err *err);

/* Percent-encodes a path segment (an ID) for a request target: everything
 * but ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 unreserved), so that
 * '/', ':', '+', '#', '!', '$', '@' of IDs survive any proxy. -1 when out is
 * too small. */
int mxr_fed_escape(const char *in, char *out, size_t cap);

/* ---- plain HTTPS GET (the well-known fetch) ----------------------------- */

struct mxr_fed_raw {
    long status;                  /* of the last response after redirects; 0: no response */
    char *body;                   /* malloc'd, NUL-terminated (may be NULL) */
    size_t len;
    char *cache_control;          /* Cache-Control of the last response, malloc'd, or NULL */
};
void mxr_fed_raw_clear(struct mxr_fed_raw *r);

/* Blocking GET of an https URL following at most max_redirects redirects
 * (https only; a loop ends there), body limited to max bytes, with the
 * certificate and private-address rules of federation requests. 0 when a
 * response was had (any status), -1 with err otherwise. Any thread but the
 * client's I/O thread. */
int mxr_fedclient_get_url(struct mxr_fedclient *fc, const char *url, size_t max, int max_redirects,
                          struct mxr_fed_raw *out, struct mxr_err *err);

/* Whether an outbound connection to this address is refused when
 * federation_allow_private_addresses is false (loopback, private,
 * link-local, unique-local, multicast, unspecified, ...). addr is a
 * struct sockaddr_in or sockaddr_in6. */
struct sockaddr;
int mxr_address_is_private(const struct sockaddr *addr);

#endif
