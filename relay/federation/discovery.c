/* Server discovery: spec server-server API, "Resolving server names".
 * Step numbers in comments are the spec's. */
#include "discovery.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mxr/json.h"

static bool dns_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

int mxr_parse_server_name(const char *name, struct mxr_host_port *out, struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    out->port = -1;
    if (!name || !*name)
        return mxr_err_set(err, "M_INVALID_PARAM", "empty server name");
    size_t len = strlen(name);
    if (len > 255 + 2 + 6)
        return mxr_err_set(err, "M_INVALID_PARAM", "server name too long");
    const char *host = name, *port = NULL;
    size_t hostlen;
    if (name[0] == '[') {                    /* "[" IPv6address "]" */
        const char *close = strchr(name, ']');
        if (!close)
            return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': unterminated IPv6 literal", name);
        host = name + 1;
        hostlen = (size_t)(close - host);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': junk after IPv6 literal", name);
        out->is_ip = out->is_ipv6 = true;
    } else {
        const char *colon = strchr(name, ':');
        hostlen = colon ? (size_t)(colon - name) : len;
        if (colon)
            port = colon + 1;
    }
    if (hostlen == 0 || hostlen >= sizeof out->host)
        return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': bad host length", name);
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    if (out->is_ipv6) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': invalid IPv6 literal", name);
    } else {
        struct in_addr a4;
        if (!dns_name_ok(out->host, hostlen))
            return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': invalid character in host", name);
        out->is_ip = inet_pton(AF_INET, out->host, &a4) == 1;
    }
    if (port) {
        size_t pl = strlen(port);
        long v = 0;
        if (pl < 1 || pl > 5)
            return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': port must be 1-5 digits", name);
        for (size_t i = 0; i < pl; i++) {
            if (!isdigit((unsigned char)port[i]))
                return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': non-digit in port", name);
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535)
            return mxr_err_set(err, "M_INVALID_PARAM", "server name '%s': port %ld out of range", name, v);
        out->port = (int)v;
    }
    return 0;
}

long mxr_well_known_ttl(const char *cc, bool ok)
{
    long ttl = ok ? MXR_WELL_KNOWN_DEFAULT_TTL : MXR_WELL_KNOWN_ERROR_TTL;
    for (const char *p = cc; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t tl = strcspn(p, ",");
        if (!strncasecmp(p, "no-store", 8) || !strncasecmp(p, "no-cache", 8)) {
            ttl = 0;
        } else if (!strncasecmp(p, "max-age=", 8)) {
            char *end;
            long v = strtol(p + 8, &end, 10);
            if (end != p + 8 && v >= 0)
                ttl = v;
        }
        p += tl;
    }
    long cap = ok ? MXR_WELL_KNOWN_MAX_TTL : MXR_WELL_KNOWN_ERROR_TTL;
    return ttl > cap ? cap : ttl;
}

int mxr_parse_well_known(const char *body, size_t len, char out[256], struct mxr_err *err)
{
    json_t *v = mxr_json_parse(body, len, 0, err);
    if (!v)
        return mxr_err_prefix(err, "well-known");
    int rc = -1;
    json_t *s = json_is_object(v) ? json_object_get(v, "m.server") : NULL;
    struct mxr_host_port hp;
    if (!json_is_object(v))
        mxr_err_set(err, "M_BAD_JSON", "well-known: not a JSON object");
    else if (!json_is_string(s))
        mxr_err_set(err, "M_BAD_JSON", "well-known: m.server missing or not a string");
    else if (json_string_length(s) >= 256 || mxr_parse_server_name(json_string_value(s), &hp, err) < 0)
        mxr_err_set(err, "M_BAD_JSON", "well-known: m.server is not a valid server name");
    else {
        memcpy(out, json_string_value(s), json_string_length(s) + 1);
        rc = 0;
    }
    json_decref(v);
    return rc;
}

static uint32_t rnd(const struct mxr_discovery_ops *ops, uint32_t bound)
{
    if (bound <= 1)
        return 0;
    return ops && ops->random ? ops->random(ops->ctx, bound) % bound : randombytes_uniform(bound);
}

static int srv_cmp_priority(const void *a, const void *b)
{
    const struct mxr_srv_record *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    /* RFC 2782: weight-0 records first within a priority, before selection. */
    return (x->weight != 0) - (y->weight != 0);
}

size_t mxr_srv_order(struct mxr_srv_record *recs, size_t n, const struct mxr_discovery_ops *ops)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)          /* "." target: service decidedly not available */
        if (strcmp(recs[i].target, ".") && recs[i].target[0])
            recs[m++] = recs[i];
    qsort(recs, m, sizeof *recs, srv_cmp_priority);
    for (size_t start = 0; start < m;) {
        size_t end = start;
        while (end < m && recs[end].priority == recs[start].priority)
            end++;
        /* Weighted selection without replacement inside [start, end). */
        for (size_t pos = start; pos + 1 < end; pos++) {
            uint32_t sum = 0;
            for (size_t k = pos; k < end; k++)
                sum += recs[k].weight;
            uint32_t pick = rnd(ops, sum + 1), run = 0;
            size_t chosen = pos;
            for (size_t k = pos; k < end; k++) {
                run += recs[k].weight;
                if (run >= pick) {
                    chosen = k;
                    break;
                }
            }
            struct mxr_srv_record t = recs[pos];
            recs[pos] = recs[chosen];
            recs[chosen] = t;
        }
        start = end;
    }
    return m;
}

/* Bounded copy; names were validated to fit, so truncation cannot happen. */
static void copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void add(struct mxr_fed_target *t, size_t max, size_t *n, const char *connect, int port,
                const char *host_header, const char *tls_name, bool is_ip, const char *step)
{
    if (*n >= max)
        return;
    struct mxr_fed_target *x = &t[(*n)++];
    memset(x, 0, sizeof *x);
    copy_name(x->connect_host, sizeof x->connect_host, connect);
    x->port = (uint16_t)port;
    copy_name(x->host_header, sizeof x->host_header, host_header);
    copy_name(x->tls_name, sizeof x->tls_name, tls_name);
    x->tls_name_is_ip = is_ip;
    x->step = step;
}

/* SRV steps for `host` (spec 3.3/3.4 and 4/5): _matrix-fed first, then the
 * deprecated _matrix. Host header and certificate stay `host`. Returns the
 * number of targets added. */
static size_t srv_steps(const char *host, const struct mxr_discovery_ops *ops, struct mxr_fed_target *t,
                        size_t max, size_t *n, const char *step_fed, const char *step_legacy)
{
    static const char *const services[] = { "_matrix-fed._tcp.", "_matrix._tcp." };
    if (!ops || !ops->srv_lookup)
        return 0;
    for (int s = 0; s < 2; s++) {
        char qname[300];
        struct mxr_srv_record recs[MXR_DISCOVERY_MAX_TARGETS];
        size_t sl = strlen(services[s]);
        memcpy(qname, services[s], sl);
        copy_name(qname + sl, sizeof qname - sl, host);
        int got = ops->srv_lookup(ops->ctx, qname, recs, MXR_DISCOVERY_MAX_TARGETS);
        if (got <= 0)
            continue;
        size_t m = mxr_srv_order(recs, (size_t)got, ops), before = *n;
        for (size_t i = 0; i < m; i++)
            add(t, max, n, recs[i].target, recs[i].port, host, host, false, s == 0 ? step_fed : step_legacy);
        if (*n > before)
            return *n - before;
    }
    return 0;
}

int mxr_discover(const char *server_name, const struct mxr_discovery_ops *ops,
                 struct mxr_fed_target *targets, size_t max, size_t *n, long *ttl, struct mxr_err *err)
{
    struct mxr_host_port hp;
    *n = 0;
    if (ttl)
        *ttl = MXR_WELL_KNOWN_DEFAULT_TTL;
    if (mxr_parse_server_name(server_name, &hp, err) < 0)
        return -1;
    char hostport[300];
    if (hp.is_ip) {                                         /* step 1 */
        add(targets, max, n, hp.host, hp.port > 0 ? hp.port : MXR_FED_DEFAULT_PORT, server_name, hp.host, true,
            "1 ip-literal");
        return 0;
    }
    if (hp.port > 0) {                                      /* step 2 */
        add(targets, max, n, hp.host, hp.port, server_name, hp.host, false, "2 explicit-port");
        return 0;
    }
    /* step 3: well-known */
    struct mxr_well_known_response wk = {0};
    char delegated[256];
    struct mxr_err wkerr = {0};
    bool ok = ops && ops->fetch_well_known && ops->fetch_well_known(ops->ctx, hp.host, &wk) == 0 &&
              wk.status == 200 && wk.body && mxr_parse_well_known(wk.body, wk.body_len, delegated, &wkerr) == 0;
    if (ttl)
        *ttl = mxr_well_known_ttl(wk.cache_control, ok);
    if (ok) {
        struct mxr_host_port d;
        if (mxr_parse_server_name(delegated, &d, &wkerr) < 0)
            ok = false;
        else if (d.is_ip) {                                 /* step 3.1 */
            add(targets, max, n, d.host, d.port > 0 ? d.port : MXR_FED_DEFAULT_PORT, delegated, d.host, true,
                "3.1 well-known ip-literal");
            return 0;
        } else if (d.port > 0) {                            /* step 3.2 */
            size_t hl = strnlen(d.host, sizeof d.host - 1);
            memcpy(hostport, d.host, hl);
            snprintf(hostport + hl, sizeof hostport - hl, ":%d", d.port);
            add(targets, max, n, d.host, d.port, hostport, d.host, false, "3.2 well-known explicit-port");
            return 0;
        } else {
            if (srv_steps(d.host, ops, targets, max, n, "3.3 well-known srv _matrix-fed",
                          "3.4 well-known srv _matrix (deprecated)"))
                return 0;
            add(targets, max, n, d.host, MXR_FED_DEFAULT_PORT, d.host, d.host, false,   /* step 3.5 */
                "3.5 well-known default-port");
            return 0;
        }
    }
    if (srv_steps(hp.host, ops, targets, max, n, "4 srv _matrix-fed", "5 srv _matrix (deprecated)"))
        return 0;
    add(targets, max, n, hp.host, MXR_FED_DEFAULT_PORT, hp.host, hp.host, false, "6 default-port");
    return 0;
}
