/* What every outbound transfer shares (TLS and certificate checks as
 * configured, the body size limit, the private-address guard), and the
 * plain blocking GET the well-known fetch uses. Spec: server-server API
 * "TLS", "Resolving server names" step 3 (30x followed, loops avoided). */
#include "relay/federation/fedclient_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <config.h>   /* autoconf's (PACKAGE_VERSION) */

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

/* ---- what every transfer shares -------------------------------------------------- */

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (*s->len + n > s->max) {
        *s->too_big = true;
        return 0;
    }
    if (*s->len + n + 1 > *s->cap) {
        size_t cap = *s->cap ? *s->cap : 8192;
        while (cap < *s->len + n + 1)
            cap *= 2;
        char *nb = realloc(*s->buf, cap);
        if (!nb)
            return 0;
        *s->buf = nb;
        *s->cap = cap;
    }
    memcpy(*s->buf + *s->len, data, n);
    *s->len += n;
    (*s->buf)[*s->len] = '\0';
    return n;
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    struct sink *s = ud;
    if (!fedclient_config(s->fc)->federation_allow_private_addresses && mxr_address_is_private(&addr->addr)) {
        const void *a = addr->family == AF_INET ? (const void *)&((struct sockaddr_in *)(void *)&addr->addr)->sin_addr
                                                : (const void *)&((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr;
        inet_ntop(addr->family, a, s->blocked, INET6_ADDRSTRLEN);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* TLS, protocols, limits and keep-alive, as configured. */
void fedclient_common_options(const struct mxr_fedclient *fc, CURL *h, struct sink *s, char *errbuf)
{
    const struct mxr_config *cfg = fedclient_config(fc);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mxrelay/" PACKAGE_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, MXR_FED_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 60L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 30L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cfg->federation_verify_certificates ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cfg->federation_verify_certificates ? 2L : 0L);
    if (cfg->federation_ca_file) {   /* instead of the system's store, not in addition */
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->federation_ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

int fedclient_transfer_error(CURLcode rc, const struct sink *s, const char *errbuf, struct mxr_err *err)
{
    if (s->blocked[0])
        return mxr_err_set(err, "M_FORBIDDEN",
                           "refusing to connect to private address %s (federation_allow_private_addresses is false)",
                           s->blocked);
    if (*s->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return mxr_err_set(err, "M_TOO_LARGE", "response larger than %zu bytes", s->max);
    return mxr_err_set(err, "M_UNKNOWN", "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* ---- plain GET (well-known) ---------------------------------------------------------- */

void mxr_fed_raw_clear(struct mxr_fed_raw *r)
{
    free(r->body);
    free(r->cache_control);
    memset(r, 0, sizeof *r);
}

/* Keeps the Cache-Control of the last response (redirects start over). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct mxr_fed_raw *r = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        free(r->cache_control);
        r->cache_control = NULL;
    } else if (n > 14 && strncasecmp(data, "Cache-Control:", 14) == 0) {
        const char *v = data + 14;
        size_t vl = n - 14;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        size_t old = r->cache_control ? strlen(r->cache_control) : 0;
        char *nb = realloc(r->cache_control, old + vl + 3);
        if (nb) {   /* repeated headers are one comma-separated list (RFC 9110 5.3) */
            if (old)
                memcpy(nb + old, ", ", 2), old += 2;
            memcpy(nb + old, v, vl);
            nb[old + vl] = '\0';
            r->cache_control = nb;
        }
    }
    return n;
}

int mxr_fedclient_get_url(struct mxr_fedclient *fc, const char *url, size_t max, int max_redirects,
                          struct mxr_fed_raw *out, struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    bool too_big = false;
    char blocked[INET6_ADDRSTRLEN] = "", errbuf[CURL_ERROR_SIZE];
    struct sink s = { fc, &out->body, &out->len, &cap, max, &too_big, blocked };
    CURL *h = curl_easy_init();
    if (!h)
        return mxr_err_set(err, "M_UNKNOWN", "curl_easy_init failed");
    fedclient_common_options(fc, h, &s, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)max_redirects);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2 * MXR_FED_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_cleanup(h);
    if (rc == CURLE_OK)
        return 0;
    fedclient_transfer_error(rc, &s, errbuf, err);
    mxr_err_prefix(err, "GET %.300s", url);
    mxr_fed_raw_clear(out);
    return -1;
}
