/* libmicrohttpd glue: the only file that includes <microhttpd.h>.
 *
 * It collects the raw request target (for X-Matrix, which signs the target
 * exactly as sent: MHD would hand the handler a percent-decoded path), the
 * Authorization header and the body, enforces the body limit while the body
 * arrives, runs the dispatcher and sends its response with the headers every
 * response carries (JSON content type, CORS). */
#include "relay/http/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay/server.h"

#define MAX_LISTENERS 16

struct mxr_http {
    struct mxr_server *srv;
    const struct mxr_router *router;
    struct MHD_Daemon *daemons[MAX_LISTENERS];
    int ports[MAX_LISTENERS];
    size_t n;
    atomic_int in_flight;   /* requests between their complete headers and their completion */
};

/* One request being received. Created when MHD has the request line. */
struct pending {
    struct mxr_http *h;
    char *target;
    char *body;
    size_t len, cap;
    bool started;
    bool too_large;
    bool answered;
    int status;
    char errcode[40];
    char errmsg[160];
    char method[16];
    char id[24];
    char remote[INET6_ADDRSTRLEN + 8];
    struct timespec t0;
};

static void remote_of(struct MHD_Connection *con, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* MHD_OPTION_URI_LOG_CALLBACK: called with the raw target before MHD parses
 * or decodes it; what it returns becomes the request's context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct mxr_http *h = cls;
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->h = h;
    p->target = strdup(uri ? uri : "");
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    mxr_server_request_id(h->srv, p->id);
    remote_of(con, p->remote, sizeof p->remote);
    return p;
}

static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    /* Client-server API "Web Browser Clients": CORS on every response. */
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "X-Requested-With, Content-Type, Authorization, Date");
}

static enum MHD_Result send_response(struct MHD_Connection *con, struct pending *p, struct mxr_response *resp)
{
    size_t len = 0;
    char *body = mxr_resp_body(resp, &len);
    if (!body) {
        mxr_response_clear(resp);
        mxr_resp_error(resp, 500, "M_UNKNOWN", "response could not be serialised");
        if (!(body = mxr_resp_body(resp, &len)))
            return MHD_NO;
    }
    p->status = resp->status;
    p->answered = true;
    if (resp->errcode) {
        snprintf(p->errcode, sizeof p->errcode, "%s", resp->errcode);
        json_t *e = json_object_get(resp->json, "error");
        snprintf(p->errmsg, sizeof p->errmsg, "%s", json_is_string(e) ? json_string_value(e) : "");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    add_common_headers(r);
    /* Client-server API "Rate limiting" (v1.10+): a 429 carries Retry-After
     * (whole seconds, rounded up) next to the body's retry_after_ms. */
    json_t *retry = resp->status == 429 ? json_object_get(resp->json, "retry_after_ms") : NULL;
    if (json_is_integer(retry) && json_integer_value(retry) >= 0) {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", (long long)((json_integer_value(retry) + 999) / 1000));
        MHD_add_response_header(r, "Retry-After", secs);
    }
    enum MHD_Result rc = MHD_queue_response(con, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *con, struct pending *p, int status, const char *errcode,
                                  const char *msg)
{
    struct mxr_response resp = { 0 };
    mxr_resp_error(&resp, status, errcode, "%s", msg);
    enum MHD_Result rc = send_response(con, p, &resp);
    mxr_response_clear(&resp);
    return rc;
}

static bool append_body(struct pending *p, const char *data, size_t n, size_t max)
{
    if (p->len + n > max)
        return false;
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *nb = realloc(p->body, cap);
        if (!nb)
            return false;
        p->body = nb;
        p->cap = cap;
    }
    memcpy(p->body + p->len, data, n);
    p->len += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct mxr_http *h = cls;
    struct pending *p = *req_cls;
    if (!p)
        return MHD_NO;   /* out of memory in on_uri: drop the connection */
    size_t max = (size_t)h->srv->cfg->max_request_bytes;

    if (!p->started) {
        /* In flight from here: the headers are in. (A client that stalls
         * inside its headers is not waited for at shutdown.) */
        p->started = true;
        atomic_fetch_add(&h->in_flight, 1);
        snprintf(p->method, sizeof p->method, "%s", method);
        /* Refuse a declared oversized body before reading it. */
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(cl, &end, 10);
            if (errno || *end || v > max) {
                p->too_large = true;
                char msg[128];
                snprintf(msg, sizeof msg, "request body of %s bytes exceeds the limit of %zu bytes", cl, max);
                return send_error(con, p, 413, "M_TOO_LARGE", msg);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!p->too_large && !p->answered && !append_body(p, upload_data, *upload_data_size, max)) {
            p->too_large = true;
            free(p->body);
            p->body = NULL;
            p->len = p->cap = 0;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (p->answered)
        return MHD_YES;
    if (p->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", max);
        return send_error(con, p, 413, "M_TOO_LARGE", msg);
    }

    struct mxr_request req = { 0 };
    struct mxr_response resp = { 0 };
    req.srv = h->srv;
    req.method = method;
    req.target = p->target;
    req.authorization = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    req.body = p->body;
    req.body_len = p->len;
    req.remote = p->remote;
    memcpy(req.id, p->id, sizeof req.id);
    mxr_http_dispatch(h->router, &req, &resp);
    enum MHD_Result rc = send_response(con, p, &resp);
    mxr_request_clear(&req);
    mxr_response_clear(&resp);
    return rc;
}

/* MHD_OPTION_NOTIFY_COMPLETED: the access log line, then the request's memory. */
static void on_completed(void *cls, struct MHD_Connection *con, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    struct mxr_http *h = cls;
    struct pending *p = *req_cls;
    if (!p)
        return;
    *req_cls = NULL;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (long)((t1.tv_sec - p->t0.tv_sec) * 1000 + (t1.tv_nsec - p->t0.tv_nsec) / 1000000);
    /* The path only: query strings may carry access tokens. */
    size_t plen = strcspn(p->target, "?");
    if (!p->answered)
        mxr_log(&h->srv->log, MXR_LOG_INFO, p->id, "%s %s %.*s%s: connection ended before a response (code %d)",
                p->remote, p->method[0] ? p->method : "-", (int)plen, p->target, p->target[plen] ? "?..." : "",
                (int)toe);
    else
        mxr_log(&h->srv->log, p->status >= 500 ? MXR_LOG_WARN : MXR_LOG_INFO, p->id, "%s %s %.*s%s -> %d%s%s%s%s (%ld ms)",
                p->remote, p->method, (int)plen, p->target, p->target[plen] ? "?..." : "", p->status,
                p->errcode[0] ? " " : "", p->errcode, p->errmsg[0] ? ": " : "", p->errmsg, ms);
    if (p->started)
        atomic_fetch_sub(&h->in_flight, 1);
    free(p->target);
    free(p->body);
    free(p);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct mxr_http *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    mxr_log(&h->srv->log, MXR_LOG_WARN, NULL, "libmicrohttpd: %s", msg);
}

static struct MHD_Daemon *start_one(struct mxr_http *h, const struct mxr_listener *l, const struct mxr_http_tls *tls,
                                    struct mxr_err *err)
{
    struct sockaddr_in sin = { 0 };
    struct sockaddr_in6 sin6 = { 0 };
    const struct sockaddr *sa;
    /* A thread per connection, not a pool: a /sync long-poll waits in its
     * handler for up to 30 s, and with a pool it held a thread that other
     * connections' requests then queued behind (matrix-js-sdk's requests
     * stalled while its own /sync waited). CONNECTION_LIMIT bounds the threads. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (inet_pton(AF_INET, l->bind_address, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)l->port);
        sa = (const struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, l->bind_address, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)l->port);
        sa = (const struct sockaddr *)&sin6;
        /* "::" means every address, IPv4 included. */
        flags |= IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    } else {
        mxr_err_set(err, "M_UNKNOWN", "bind_address '%s' is not a numeric address", l->bind_address);
        return NULL;
    }
    const char *cert = NULL, *key = NULL;
    if (l->type == MXR_LISTEN_HTTPS) {
        if (!tls || !tls->cert_pem || !tls->key_pem) {
            mxr_err_set(err, "M_UNKNOWN", "https listener on %s:%d has no certificate", l->bind_address, l->port);
            return NULL;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            mxr_err_set(err, "M_UNKNOWN", "this libmicrohttpd was built without TLS support");
            return NULL;
        }
        flags |= MHD_USE_TLS;
        cert = tls->cert_pem;
        key = tls->key_pem;
    }
    struct MHD_OptionItem opts[] = {
        { MHD_OPTION_SOCK_ADDR, 0, (void *)sa },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
        { MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL },
        { MHD_OPTION_CONNECTION_LIMIT, 1000, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_Daemon *d;
    if (cert)
        d = MHD_start_daemon(flags, (uint16_t)l->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                             on_mhd_log, h, MHD_OPTION_HTTPS_MEM_CERT, cert,
                             MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES,
                             "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1", MHD_OPTION_ARRAY, opts,
                             MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, (uint16_t)l->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                             on_mhd_log, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d)
        mxr_err_set(err, "M_UNKNOWN", "cannot listen on %s port %d (%s): address in use, no permission or bad TLS material",
                    l->bind_address, l->port, l->type == MXR_LISTEN_HTTPS ? "https" : "http");
    return d;
}

struct mxr_http *mxr_http_start(struct mxr_server *srv, const struct mxr_router *router,
                                const struct mxr_http_tls *tls, struct mxr_err *err)
{
    const struct mxr_config *cfg = srv->cfg;
    if (cfg->n_listeners > MAX_LISTENERS) {
        mxr_err_set(err, "M_UNKNOWN", "at most %d listeners are supported", MAX_LISTENERS);
        return NULL;
    }
    struct mxr_http *h = calloc(1, sizeof *h);
    if (!h) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    h->srv = srv;
    h->router = router;
    atomic_init(&h->in_flight, 0);
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct mxr_listener *l = &cfg->listeners[i];
        struct MHD_Daemon *d = start_one(h, l, tls, err);
        if (!d) {
            mxr_http_stop(h, 0);
            return NULL;
        }
        h->daemons[h->n] = d;
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        h->ports[h->n] = di ? di->port : l->port;
        bool v6 = strchr(l->bind_address, ':') != NULL;
        mxr_log(&srv->log, MXR_LOG_INFO, NULL, "listening on %s://%s%s%s:%d", l->type == MXR_LISTEN_HTTPS ? "https" : "http",
                v6 ? "[" : "", l->bind_address, v6 ? "]" : "", h->ports[h->n]);
        h->n++;
    }
    return h;
}

int mxr_http_port(const struct mxr_http *h, size_t i)
{
    return h && i < h->n ? h->ports[i] : -1;
}

void mxr_http_stop(struct mxr_http *h, unsigned drain_ms)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        MHD_socket s = MHD_quiesce_daemon(h->daemons[i]);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
    struct timespec step = { 0, 10 * 1000000L };
    for (unsigned waited = 0; atomic_load(&h->in_flight) > 0 && waited < drain_ms; waited += 10)
        nanosleep(&step, NULL);
    if (atomic_load(&h->in_flight) > 0)
        mxr_log(&h->srv->log, MXR_LOG_WARN, NULL, "closing %d unfinished requests after %u ms",
                atomic_load(&h->in_flight), drain_ms);
    for (size_t i = 0; i < h->n; i++)
        MHD_stop_daemon(h->daemons[i]);
    free(h);
}
