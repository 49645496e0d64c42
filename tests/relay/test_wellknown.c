/* relay/federation/wellknown.c: the discovery caches with an injected
 * well-known fetch, SRV lookup and clock; then discovery plugged into the
 * federation client against an in-process HTTPS server. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "relay/federation/wellknown.h"
#include "tests/relay/https_fixture.h"

#define T0 1700000000000LL

struct world {
    int64_t now;
    int fetches, srv_lookups;
    int fetch_rc;                 /* what the fake fetch returns: 0 or -1 */
    long status;
    const char *body;
    const char *cache_control;
    const char *srv_target;       /* answer for _matrix-fed._tcp.*, or NULL */
};

static int64_t clock_of(void *ctx)
{
    return ((struct world *)ctx)->now;
}

static int fake_fetch(void *ctx, const char *hostname, struct mxr_fed_raw *out, struct mxr_err *err)
{
    struct world *w = ctx;
    w->fetches++;
    assert_string_equal(hostname, "hs.example");
    memset(out, 0, sizeof *out);
    if (w->fetch_rc < 0)
        return mxr_err_set(err, "M_UNKNOWN", "connection refused");
    out->status = w->status;
    out->body = w->body ? strdup(w->body) : NULL;
    out->len = w->body ? strlen(w->body) : 0;
    out->cache_control = w->cache_control ? strdup(w->cache_control) : NULL;
    return 0;
}

static int fake_srv(void *ctx, const char *name, struct mxr_srv_record *out, size_t max)
{
    struct world *w = ctx;
    w->srv_lookups++;
    if (!w->srv_target || strncmp(name, "_matrix-fed._tcp.", 17) != 0 || max < 1)
        return 0;
    memset(out, 0, sizeof *out);
    snprintf(out->target, sizeof out->target, "%s", w->srv_target);
    out->port = 8000;
    out->priority = 10;
    return 1;
}

static struct mxr_wellknown *make(struct world *w)
{
    struct mxr_wellknown_deps d = { .fetch = fake_fetch, .fetch_ctx = w, .srv_lookup = fake_srv, .srv_ctx = w,
                                    .clock = clock_of, .clock_ctx = w };
    struct mxr_err err = { 0 };
    struct mxr_wellknown *wk = mxr_wellknown_new(&d, &err);
    assert_non_null(wk);
    return wk;
}

static void resolve(struct mxr_wellknown *wk, const char *name, struct mxr_fed_target *t, size_t *n)
{
    struct mxr_err err = { 0 };
    if (mxr_wellknown_resolve(wk, name, t, MXR_DISCOVERY_MAX_TARGETS, n, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(*n >= 1);
}

static void well_known_cached_per_cache_control(void **state)
{
    struct world w = { .now = T0, .status = 200, .body = "{\"m.server\": \"delegated.example\"}",
                       .cache_control = "max-age=600", .srv_target = "target.example" };
    struct mxr_wellknown *wk = make(&w);
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    size_t n;
    resolve(wk, "hs.example", t, &n);
    /* Step 3.3: SRV of the delegated name; Host and certificate stay it. */
    assert_string_equal(t[0].connect_host, "target.example");
    assert_int_equal(t[0].port, 8000);
    assert_string_equal(t[0].host_header, "delegated.example");
    assert_string_equal(t[0].tls_name, "delegated.example");
    assert_int_equal(w.fetches, 1);
    int lookups = w.srv_lookups;
    w.now += 599 * 1000;
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 1);
    assert_int_equal(w.srv_lookups, lookups);   /* the target list is cached too */
    w.now += 2 * 1000;
    w.body = "{\"m.server\": \"moved.example:9000\"}";
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 2);
    assert_string_equal(t[0].connect_host, "moved.example");
    assert_int_equal(t[0].port, 9000);
    assert_string_equal(t[0].host_header, "moved.example:9000");
    mxr_wellknown_free(wk);
}

static void default_and_maximum_lifetimes(void **state)
{
    struct world w = { .now = T0, .status = 200, .body = "{\"m.server\": \"d.example:1\"}" };
    struct mxr_wellknown *wk = make(&w);
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    size_t n;
    resolve(wk, "hs.example", t, &n);
    /* No Cache-Control: 24 h for the answer; the target list is redone
     * hourly, from the cached answer. */
    w.now += 3601 * 1000LL;
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 1);
    w.now = T0 + 24 * 3600 * 1000LL - 1000;
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 1);
    w.now = T0 + 24 * 3600 * 1000LL + 1000;
    w.cache_control = "max-age=31536000";   /* a year: capped at 48 h */
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 2);
    int64_t fetched = w.now;
    w.now = fetched + 48 * 3600 * 1000LL - 1000;
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 2);
    /* no-store: not cached at all. */
    w.cache_control = "no-store";
    w.now = fetched + 48 * 3600 * 1000LL + 1000;
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 3);
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 4);
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, 5);
    mxr_wellknown_free(wk);
}

static void errors_cached_with_backoff(void **state)
{
    struct world w = { .now = T0, .status = 404, .body = "{}" };
    struct mxr_wellknown *wk = make(&w);
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    size_t n;
    resolve(wk, "hs.example", t, &n);
    /* Step 6: the hostname itself on 8448. */
    assert_string_equal(t[0].connect_host, "hs.example");
    assert_int_equal(t[0].port, 8448);
    assert_string_equal(t[0].host_header, "hs.example");
    /* 5 min, then 10, 20, 40, 60, 60 (capped at the hour). */
    static const int minutes[] = { 5, 10, 20, 40, 60, 60 };
    for (int i = 0; i < 6; i++) {
        int before = w.fetches;
        w.now += minutes[i] * 60 * 1000LL - 1000;
        resolve(wk, "hs.example", t, &n);
        assert_int_equal(w.fetches, before);
        w.now += 2000;
        resolve(wk, "hs.example", t, &n);
        assert_int_equal(w.fetches, before + 1);
        w.now -= 1000;   /* the fetch happened at now: the next window starts here */
    }
    /* A transport failure is an error too; a success resets the back-off. */
    w.fetch_rc = -1;
    w.now += 3600 * 1000LL + 1000;
    resolve(wk, "hs.example", t, &n);
    assert_string_equal(t[0].connect_host, "hs.example");
    w.fetch_rc = 0;
    w.status = 200;
    w.body = "{\"m.server\": \"d.example:2\"}";
    w.now += 3600 * 1000LL + 1000;
    resolve(wk, "hs.example", t, &n);
    assert_string_equal(t[0].connect_host, "d.example");
    int before = w.fetches;
    w.status = 500;
    w.now += 24 * 3600 * 1000LL + 1000;
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, before + 1);
    w.now += 5 * 60 * 1000LL + 1000;   /* back to the five-minute step */
    resolve(wk, "hs.example", t, &n);
    assert_int_equal(w.fetches, before + 2);
    mxr_wellknown_free(wk);
}

static void no_network_for_ip_literals_and_ports(void **state)
{
    struct world w = { .now = T0 };
    struct mxr_wellknown *wk = make(&w);
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    size_t n;
    resolve(wk, "[2001:db8::1]", t, &n);
    assert_string_equal(t[0].connect_host, "2001:db8::1");
    assert_true(t[0].tls_name_is_ip);
    resolve(wk, "hs.example:443", t, &n);
    assert_int_equal(t[0].port, 443);
    assert_int_equal(w.fetches, 0);
    assert_int_equal(w.srv_lookups, 0);
    mxr_wellknown_free(wk);
}

/* ---- plugged into the client ---------------------------------------------------- */

static void answer(void *ctx, const struct https_request *req, struct https_reply *reply)
{
    char *host = ctx;
    snprintf(host, 300, "%s", req->host ? req->host : "");
    reply->body = strdup("{\"server\":{\"name\":\"fixture\"}}");
}

static void delegation_through_the_client(void **state)
{
    char dir[] = "/tmp/mxr-test-wellknown-XXXXXX", host[300] = "";
    assert_non_null(mkdtemp(dir));
    struct https_server *srv = https_start(dir, answer, host);
    assert_non_null(srv);
    char body[128], yaml[1024];
    snprintf(body, sizeof body, "{\"m.server\": \"localhost:%d\"}", https_port(srv));
    snprintf(yaml, sizeof yaml, "server_name: me.test\nfederation_ca_file: \"%s\"\n"
                                "federation_allow_private_addresses: true\n", https_ca_file(srv));
    struct mxr_config cfg;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_config_load_string(&cfg, yaml, strlen(yaml), "test", &err), 0);
    struct mxr_log lg = { MXR_LOG_ERROR, 2 };
    struct mxr_fedclient *fc = mxr_fedclient_new(&cfg, &lg, &err);
    struct world w = { .now = T0, .status = 200, .body = body };
    struct mxr_wellknown *wk = make(&w);
    mxr_fedclient_set_resolver(fc, mxr_wellknown_resolve, wk);
    json_t *r = mxr_fedclient_get_json(fc, "hs.example", "/_matrix/federation/v1/version", &err);
    if (!r)
        fail_msg("%s", err.msg);
    json_decref(r);
    /* Step 3.2: Host is the delegated name with its port. */
    char expect[64];
    snprintf(expect, sizeof expect, "localhost:%d", https_port(srv));
    assert_string_equal(host, expect);
    mxr_fedclient_free(fc);
    mxr_wellknown_free(wk);
    mxr_config_free(&cfg);
    https_stop(srv);
    char p[128];
    snprintf(p, sizeof p, "%s/cert.pem", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/key.pem", dir);
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(well_known_cached_per_cache_control),
        cmocka_unit_test(default_and_maximum_lifetimes),
        cmocka_unit_test(errors_cached_with_backoff),
        cmocka_unit_test(no_network_for_ip_literals_and_ports),
        cmocka_unit_test(delegation_through_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
