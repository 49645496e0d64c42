/* Outbound GETs over HTTPS with libcurl. Spec: server-server API "TLS",
 * "Resolving server names" (Host header and certificate name). */
#include "relay/federation/fedclient.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <config.h>   /* autoconf's (PACKAGE_VERSION) */
#include "mxr/json.h"

struct mxr_fedclient {
    const struct mxr_config *cfg;
    const struct mxr_log *log;
    mxr_fed_resolve_fn resolve;
    void *resolve_ctx;
};

/* Discovery without network lookups (steps 1, 2 and 6) until the
 * well-known and SRV fetchers are plugged in. */
static int resolve_offline(void *ctx, const char *server_name, struct mxr_fed_target *targets, size_t max,
                           size_t *n, struct mxr_err *err)
{
    long ttl;
    return mxr_discover(server_name, NULL, targets, max, n, &ttl, err);
}

struct mxr_fedclient *mxr_fedclient_new(const struct mxr_config *cfg, const struct mxr_log *log,
                                        struct mxr_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        mxr_err_set(err, "M_UNKNOWN", "libcurl initialisation failed");
        return NULL;
    }
    struct mxr_fedclient *fc = calloc(1, sizeof *fc);
    if (!fc) {
        curl_global_cleanup();
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    fc->cfg = cfg;
    fc->log = log;
    fc->resolve = resolve_offline;
    return fc;
}

void mxr_fedclient_free(struct mxr_fedclient *fc)
{
    if (!fc)
        return;
    free(fc);
    curl_global_cleanup();
}

void mxr_fedclient_set_resolver(struct mxr_fedclient *fc, mxr_fed_resolve_fn fn, void *ctx)
{
    fc->resolve = fn ? fn : resolve_offline;
    fc->resolve_ctx = fn ? ctx : NULL;
}

int mxr_fedclient_resolve(struct mxr_fedclient *fc, const char *server_name, struct mxr_fed_target *targets,
                          size_t max, size_t *n, struct mxr_err *err)
{
    *n = 0;
    struct mxr_host_port name, to;
    if (mxr_parse_server_name(server_name, &name, err) < 0)
        return -1;
    const char *mapped = mxr_config_static_target(fc->cfg, server_name);
    if (!mapped)
        return fc->resolve(fc->resolve_ctx, server_name, targets, max, n, err);
    if (max == 0)
        return 0;
    if (mxr_parse_server_name(mapped, &to, err) < 0 || to.port < 1)
        return mxr_err_set(err, "M_UNKNOWN", "federation_static_map: '%s' is not host:port", mapped);
    /* Connect where the map says, but present the server name as discovery
     * would for a name without delegation. */
    struct mxr_fed_target *t = &targets[0];
    memset(t, 0, sizeof *t);
    snprintf(t->connect_host, sizeof t->connect_host, "%s", to.host);
    t->port = (uint16_t)to.port;
    snprintf(t->host_header, sizeof t->host_header, "%s", server_name);
    snprintf(t->tls_name, sizeof t->tls_name, "%s", name.host);
    t->tls_name_is_ip = name.is_ip;
    t->step = "federation_static_map";
    *n = 1;
    return 0;
}

/* ---- private addresses ----------------------------------------------------------- */

static bool v4_private(uint32_t a)   /* host byte order */
{
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a & 0xffc00000u) == 0x64400000u /* 100.64/10 */
           || (a & 0xffff0000u) == 0xa9fe0000u /* 169.254/16 */ || (a & 0xfff00000u) == 0xac100000u /* 172.16/12 */
           || (a & 0xffff0000u) == 0xc0a80000u /* 192.168/16 */ || (a & 0xffffff00u) == 0xc0000000u /* 192.0.0/24 */
           || (a & 0xfffe0000u) == 0xc6120000u /* 198.18/15 */ || (a >> 28) >= 0xe /* multicast, reserved */;
}

int mxr_address_is_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return 1;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    const uint8_t *b = a->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || (b[0] & 0xfe) == 0xfc /* fc00::/7 */
           || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */ || b[0] == 0xff /* multicast */;
}

/* ---- one request ------------------------------------------------------------------- */

struct call {
    struct mxr_fedclient *fc;
    char *body;
    size_t len, cap, max;
    bool too_big;
    char blocked[INET6_ADDRSTRLEN];   /* an address refused by the private-address rule */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct call *c = ud;
    size_t n = size * nmemb;
    if (c->len + n > c->max) {
        c->too_big = true;
        return 0;
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 8192;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *nb = realloc(c->body, cap);
        if (!nb)
            return 0;
        c->body = nb;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    c->body[c->len] = '\0';
    return n;
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct call *c = ud;
    if (!c->fc->cfg->federation_allow_private_addresses && mxr_address_is_private(&addr->addr)) {
        const void *a = addr->family == AF_INET ? (const void *)&((struct sockaddr_in *)(void *)&addr->addr)->sin_addr
                                                : (const void *)&((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr;
        inet_ntop(addr->family, a, c->blocked, sizeof c->blocked);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void bracket(char *out, size_t cap, const char *host)
{
    snprintf(out, cap, strchr(host, ':') ? "[%s]" : "%s", host);
}

/* GET on one target. 0 with the body in c, or -1 with err. */
static int get_one(struct mxr_fedclient *fc, const struct mxr_fed_target *t, const char *path, struct call *c,
                   long *status, struct mxr_err *err)
{
    const struct mxr_config *cfg = fc->cfg;
    char name[300], conn[300], url[2400], connect_to[700], host_hdr[300];
    bracket(name, sizeof name, t->tls_name);
    bracket(conn, sizeof conn, t->connect_host);
    snprintf(url, sizeof url, "https://%s:%u%s", name, (unsigned)t->port, path);
    snprintf(connect_to, sizeof connect_to, "%s:%u:%s:%u", name, (unsigned)t->port, conn, (unsigned)t->port);
    snprintf(host_hdr, sizeof host_hdr, "Host: %s", t->host_header);

    CURL *h = curl_easy_init();
    if (!h)
        return mxr_err_set(err, "M_UNKNOWN", "curl_easy_init failed");
    struct curl_slist *hdrs = curl_slist_append(NULL, host_hdr);
    struct curl_slist *cto = curl_slist_append(NULL, connect_to);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, cto);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mxrelay/" PACKAGE_VERSION);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cfg->federation_verify_certificates ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cfg->federation_verify_certificates ? 2L : 0L);
    if (cfg->federation_ca_file) {   /* instead of the system's store, not in addition */
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->federation_ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(cto);
    if (rc == CURLE_OK)
        return 0;
    if (c->blocked[0])
        return mxr_err_set(err, "M_FORBIDDEN", "refusing to connect to private address %s (federation_allow_private_addresses is false)",
                           c->blocked);
    if (c->too_big)
        return mxr_err_set(err, "M_TOO_LARGE", "response larger than %zu bytes", c->max);
    return mxr_err_set(err, "M_UNKNOWN", "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

json_t *mxr_fedclient_get_json(struct mxr_fedclient *fc, const char *server_name, const char *path,
                               struct mxr_err *err)
{
    if (!mxr_config_server_allowed(fc->cfg, server_name)) {
        mxr_err_set(err, "M_FORBIDDEN", "%.200s is excluded by federation_allow/federation_deny", server_name);
        return NULL;
    }
    struct mxr_fed_target targets[MXR_DISCOVERY_MAX_TARGETS];
    size_t n = 0;
    if (mxr_fedclient_resolve(fc, server_name, targets, MXR_DISCOVERY_MAX_TARGETS, &n, err) < 0)
        return NULL;
    if (n == 0) {
        mxr_err_set(err, "M_UNKNOWN", "no address found for %.200s", server_name);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct mxr_fed_target *t = &targets[i];
        struct call c = { .fc = fc, .max = MXR_FED_MAX_RESPONSE_BYTES };
        long status = 0;
        struct mxr_err e = { 0 };
        mxr_log(fc->log, MXR_LOG_DEBUG, NULL, "GET https://%s%s via %s:%u (%s)", server_name, path, t->connect_host,
                (unsigned)t->port, t->step ? t->step : "?");
        json_t *v = NULL;
        if (get_one(fc, t, path, &c, &status, &e) == 0) {
            if (status != 200)
                mxr_err_set(&e, "M_UNKNOWN", "HTTP status %ld", status);
            else if ((v = mxr_json_parse(c.body ? c.body : "", c.len, 0, &e)) && !json_is_object(v)) {
                json_decref(v);
                v = NULL;
                mxr_err_set(&e, "M_NOT_JSON", "response is not a JSON object");
            }
        }
        free(c.body);
        if (v)
            return v;
        mxr_err_set(err, e.errcode ? e.errcode : "M_UNKNOWN", "GET https://%.200s%.200s via %s:%u: %s", server_name,
                    path, t->connect_host, (unsigned)t->port, e.msg);
        mxr_log(fc->log, MXR_LOG_DEBUG, NULL, "%s", err ? err->msg : e.msg);
    }
    return NULL;
}

json_t *mxr_fedclient_fetch_keys(void *fc, const char *server_name, struct mxr_err *err)
{
    return mxr_fedclient_get_json(fc, server_name, "/_matrix/key/v2/server", err);
}
