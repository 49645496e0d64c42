/* Discovery with the network and its caches. Spec: server-server API,
 * "Resolving server names" (step 3: "Responses (successful or otherwise) to
 * the /.well-known endpoint should be cached ... respect the cache control
 * headers ... 24 hours ... maximum ... 48 hours ... Errors are recommended
 * to be cached for up to an hour, and servers are encouraged to
 * exponentially back off for repeated failures"). */
#include "relay/federation/wellknown.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/federation/dns.h"

/* A cached well-known outcome for one hostname. */
struct wk_entry {
    char *host;
    long status;                  /* 0: no response */
    char *body;
    size_t len;
    char *cache_control;
    int64_t expires_ms;
    unsigned failures;            /* consecutive unusable answers (for the error back-off) */
};

/* A cached target list for one server name. */
struct tg_entry {
    char *name;
    struct mxr_fed_target targets[MXR_DISCOVERY_MAX_TARGETS];
    size_t n;
    int64_t expires_ms;
};

struct mxr_wellknown {
    struct mxr_wellknown_deps deps;
    pthread_mutex_t mu;
    struct wk_entry *wk;
    size_t n_wk;
    struct tg_entry *tg;
    size_t n_tg;
};

static int64_t now_ms(const struct mxr_wellknown *w)
{
    if (w->deps.clock)
        return w->deps.clock(w->deps.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mxr_wellknown_fetch_https(void *fc, const char *hostname, struct mxr_fed_raw *out, struct mxr_err *err)
{
    char url[320];
    if (snprintf(url, sizeof url, "https://%s/.well-known/matrix/server", hostname) >= (int)sizeof url)
        return mxr_err_set(err, "M_INVALID_PARAM", "hostname too long for a well-known URL");
    return mxr_fedclient_get_url(fc, url, MXR_WELL_KNOWN_MAX_BYTES, MXR_WELL_KNOWN_MAX_REDIRECTS, out, err);
}

struct mxr_wellknown *mxr_wellknown_new(const struct mxr_wellknown_deps *deps, struct mxr_err *err)
{
    struct mxr_wellknown *w = calloc(1, sizeof *w);
    if (!w) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    w->deps = *deps;
    if (!w->deps.fetch) {
        if (!w->deps.fetch_ctx) {
            free(w);
            mxr_err_set(err, "M_UNKNOWN", "well-known resolver: neither a fetch function nor a federation client");
            return NULL;
        }
        w->deps.fetch = mxr_wellknown_fetch_https;
    }
    if (!w->deps.srv_lookup)
        w->deps.srv_lookup = mxr_dns_srv_lookup;
    pthread_mutex_init(&w->mu, NULL);
    return w;
}

static void wk_clear(struct wk_entry *e)
{
    free(e->host);
    free(e->body);
    free(e->cache_control);
    memset(e, 0, sizeof *e);
}

void mxr_wellknown_free(struct mxr_wellknown *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_wk; i++)
        wk_clear(&w->wk[i]);
    for (size_t i = 0; i < w->n_tg; i++)
        free(w->tg[i].name);
    free(w->wk);
    free(w->tg);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ---- the caches (under mu) -------------------------------------------------------- */

static void tg_clear(struct tg_entry *e)
{
    free(e->name);
    memset(e, 0, sizeof *e);
}

/* The entry for host, or a new one (the array grows up to
 * MXR_DISCOVERY_CACHE_MAX; past that the entry soonest to expire is
 * reused). NULL when out of memory. */
static struct wk_entry *wk_slot(struct mxr_wellknown *w, const char *host)
{
    for (size_t i = 0; i < w->n_wk; i++)
        if (strcmp(w->wk[i].host, host) == 0)
            return &w->wk[i];
    char *copy = strdup(host);
    if (!copy)
        return NULL;
    struct wk_entry *e;
    if (w->n_wk < MXR_DISCOVERY_CACHE_MAX) {
        struct wk_entry *nb = realloc(w->wk, (w->n_wk + 1) * sizeof *nb);
        if (!nb) {
            free(copy);
            return NULL;
        }
        w->wk = nb;
        e = &w->wk[w->n_wk++];
        memset(e, 0, sizeof *e);
    } else {
        e = &w->wk[0];
        for (size_t i = 1; i < w->n_wk; i++)
            if (w->wk[i].expires_ms < e->expires_ms)
                e = &w->wk[i];
        wk_clear(e);
    }
    e->host = copy;
    return e;
}

static struct tg_entry *tg_slot(struct mxr_wellknown *w, const char *name)
{
    for (size_t i = 0; i < w->n_tg; i++)
        if (strcmp(w->tg[i].name, name) == 0)
            return &w->tg[i];
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    struct tg_entry *e;
    if (w->n_tg < MXR_DISCOVERY_CACHE_MAX) {
        struct tg_entry *nb = realloc(w->tg, (w->n_tg + 1) * sizeof *nb);
        if (!nb) {
            free(copy);
            return NULL;
        }
        w->tg = nb;
        e = &w->tg[w->n_tg++];
        memset(e, 0, sizeof *e);
    } else {
        e = &w->tg[0];
        for (size_t i = 1; i < w->n_tg; i++)
            if (w->tg[i].expires_ms < e->expires_ms)
                e = &w->tg[i];
        tg_clear(e);
    }
    e->name = copy;
    return e;
}

static struct wk_entry *wk_find(struct mxr_wellknown *w, const char *host)
{
    for (size_t i = 0; i < w->n_wk; i++)
        if (strcmp(w->wk[i].host, host) == 0)
            return &w->wk[i];
    return NULL;
}

/* ---- one resolution ------------------------------------------------------------------ */

/* What the discovery ops of one resolution share: the answer used (copied
 * out of the cache, which other threads may change meanwhile). */
struct call {
    struct mxr_wellknown *w;
    struct mxr_fed_raw raw;
    bool had_response;
    int64_t wk_expires_ms;        /* when the well-known answer used goes stale; 0: no well-known step */
};

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static bool usable(const struct mxr_fed_raw *r)
{
    char delegated[256];
    return r->status == 200 && r->body && mxr_parse_well_known(r->body, r->len, delegated, NULL) == 0;
}

/* Caches a fresh outcome; *expires receives when it goes stale. */
static void wk_store(struct mxr_wellknown *w, const char *host, const struct mxr_fed_raw *r, bool had, int64_t now,
                     int64_t *expires)
{
    bool ok = had && usable(r);
    pthread_mutex_lock(&w->mu);
    struct wk_entry *e = wk_slot(w, host);
    unsigned failures = ok ? 0 : (e ? e->failures : 0) + 1;
    long ttl = mxr_well_known_ttl(had ? r->cache_control : NULL, ok);
    if (!ok) {
        long backoff = MXR_WELL_KNOWN_ERROR_MIN_TTL;
        for (unsigned i = 1; i < failures && backoff < MXR_WELL_KNOWN_ERROR_TTL; i++)
            backoff *= 2;
        if (backoff > MXR_WELL_KNOWN_ERROR_TTL)
            backoff = MXR_WELL_KNOWN_ERROR_TTL;
        /* A Cache-Control asking for less (no-store, a short max-age) is honoured. */
        if (!(had && r->cache_control && ttl < backoff))
            ttl = backoff;
    }
    *expires = now + (int64_t)ttl * 1000;
    if (e) {
        free(e->body);
        free(e->cache_control);
        e->status = had ? r->status : 0;
        e->body = had && r->body ? dup_n(r->body, r->len) : NULL;
        e->len = e->body ? r->len : 0;
        e->cache_control = had && r->cache_control ? strdup(r->cache_control) : NULL;
        e->expires_ms = *expires;   /* ttl 0 (no-store): stale at once, only the failure count is kept */
        e->failures = failures;
    }
    pthread_mutex_unlock(&w->mu);
}

/* mxr_discovery_ops.fetch_well_known: the cache when fresh, else the network. */
static int op_fetch(void *ctx, const char *hostname, struct mxr_well_known_response *resp)
{
    struct call *c = ctx;
    struct mxr_wellknown *w = c->w;
    int64_t now = now_ms(w);
    mxr_fed_raw_clear(&c->raw);
    c->had_response = false;
    pthread_mutex_lock(&w->mu);
    struct wk_entry *e = wk_find(w, hostname);
    bool hit = e && now < e->expires_ms;
    if (hit) {
        c->had_response = e->status != 0;
        c->raw.status = e->status;
        c->raw.body = e->body ? dup_n(e->body, e->len) : NULL;
        c->raw.len = e->body ? e->len : 0;
        c->raw.cache_control = e->cache_control ? strdup(e->cache_control) : NULL;
        c->wk_expires_ms = e->expires_ms;
    }
    pthread_mutex_unlock(&w->mu);
    if (!hit) {
        struct mxr_err err = { 0 };
        c->had_response = w->deps.fetch(w->deps.fetch_ctx, hostname, &c->raw, &err) == 0;
        if (!c->had_response) {
            mxr_fed_raw_clear(&c->raw);
            if (w->deps.log)
                mxr_log(w->deps.log, MXR_LOG_DEBUG, NULL, "well-known of %s: %s", hostname, err.msg);
        } else if (w->deps.log) {
            mxr_log(w->deps.log, MXR_LOG_DEBUG, NULL, "well-known of %s: HTTP %ld", hostname, c->raw.status);
        }
        wk_store(w, hostname, &c->raw, c->had_response, now, &c->wk_expires_ms);
    }
    if (!c->had_response)
        return -1;
    resp->status = (int)c->raw.status;
    resp->body = c->raw.body;
    resp->body_len = c->raw.len;
    resp->cache_control = c->raw.cache_control;
    return 0;
}

static int op_srv(void *ctx, const char *name, struct mxr_srv_record *out, size_t max)
{
    struct call *c = ctx;
    return c->w->deps.srv_lookup(c->w->deps.srv_ctx, name, out, max);
}

int mxr_wellknown_resolve(void *ctx, const char *server_name, struct mxr_fed_target *targets, size_t max,
                          size_t *n, struct mxr_err *err)
{
    struct mxr_wellknown *w = ctx;
    *n = 0;
    int64_t now = now_ms(w);
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n_tg; i++) {
        struct tg_entry *e = &w->tg[i];
        if (strcmp(e->name, server_name) == 0 && now < e->expires_ms) {
            *n = e->n < max ? e->n : max;
            memcpy(targets, e->targets, *n * sizeof *targets);
            pthread_mutex_unlock(&w->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&w->mu);

    struct call c = { .w = w };
    struct mxr_discovery_ops ops = { .fetch_well_known = op_fetch, .srv_lookup = op_srv, .ctx = &c };
    long ttl = 0;
    struct mxr_fed_target found[MXR_DISCOVERY_MAX_TARGETS];
    size_t nf = 0;
    int rc = mxr_discover(server_name, &ops, found, MXR_DISCOVERY_MAX_TARGETS, &nf, &ttl, err);
    mxr_fed_raw_clear(&c.raw);
    if (rc < 0)
        return -1;
    if (w->deps.log && nf)
        mxr_log(w->deps.log, MXR_LOG_DEBUG, NULL, "discovery of %s: %zu target(s), first %s:%u (step %s)",
                server_name, nf, found[0].connect_host, (unsigned)found[0].port, found[0].step);
    /* Steps 1 and 2 need no network: nothing to cache. Otherwise the list
     * lives as long as the well-known answer it came from, at most an hour. */
    if (c.wk_expires_ms && nf) {
        int64_t exp = now + (int64_t)MXR_DISCOVERY_TARGETS_MAX_TTL * 1000;
        if (c.wk_expires_ms < exp)
            exp = c.wk_expires_ms;
        if (exp > now) {
            pthread_mutex_lock(&w->mu);
            struct tg_entry *e = tg_slot(w, server_name);
            if (e) {
                memcpy(e->targets, found, nf * sizeof *found);
                e->n = nf;
                e->expires_ms = exp;
            }
            pthread_mutex_unlock(&w->mu);
        }
    }
    *n = nf < max ? nf : max;
    memcpy(targets, found, *n * sizeof *targets);
    return 0;
}
