/* Server discovery against fixtures: every step of the spec's "Resolving
 * server names", with the Host header and certificate name each requires. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/federation/discovery.h"

/* A fake DNS + HTTP world. */
struct world {
    const char *wk_host;          /* which host serves a well-known */
    int wk_status;
    const char *wk_body;
    const char *wk_cc;
    int wk_transport_error;
    struct { const char *name; struct mxr_srv_record r[4]; int n; } srv[4];
    int srv_fail;                 /* every SRV lookup fails */
    char asked[8][300];           /* SRV names queried, in order */
    int n_asked;
    uint32_t next_random;         /* returned by random() */
};

static int fake_wk(void *ctx, const char *host, struct mxr_well_known_response *resp)
{
    struct world *w = ctx;
    if (w->wk_transport_error || !w->wk_host || strcmp(host, w->wk_host))
        return w->wk_transport_error ? -1 : (resp->status = 404, 0);
    resp->status = w->wk_status;
    resp->body = w->wk_body;
    resp->body_len = w->wk_body ? strlen(w->wk_body) : 0;
    resp->cache_control = w->wk_cc;
    return 0;
}

static int fake_srv(void *ctx, const char *name, struct mxr_srv_record *out, size_t max)
{
    struct world *w = ctx;
    if (w->n_asked < 8)
        snprintf(w->asked[w->n_asked++], sizeof w->asked[0], "%s", name);
    if (w->srv_fail)
        return -1;
    for (int i = 0; i < 4; i++)
        if (w->srv[i].name && !strcmp(w->srv[i].name, name)) {
            int n = w->srv[i].n < (int)max ? w->srv[i].n : (int)max;
            memcpy(out, w->srv[i].r, (size_t)n * sizeof *out);
            return n;
        }
    return 0;
}

static uint32_t fake_random(void *ctx, uint32_t bound)
{
    struct world *w = ctx;
    return w->next_random % bound;
}

static size_t discover(struct world *w, const char *name, struct mxr_fed_target *t, long *ttl)
{
    struct mxr_discovery_ops ops = { fake_wk, fake_srv, fake_random, w };
    struct mxr_err err = {0};
    size_t n = 0;
    assert_int_equal(mxr_discover(name, &ops, t, MXR_DISCOVERY_MAX_TARGETS, &n, ttl, &err), 0);
    assert_true(n >= 1);
    return n;
}

static void expect(const struct mxr_fed_target *t, const char *connect, int port, const char *host_header,
                   const char *tls, int is_ip)
{
    assert_string_equal(t->connect_host, connect);
    assert_int_equal(t->port, port);
    assert_string_equal(t->host_header, host_header);
    assert_string_equal(t->tls_name, tls);
    assert_int_equal(t->tls_name_is_ip, is_ip);
}

/* Step 1: IP literals, with and without port; no well-known, no SRV. */
static void step1_ip_literals(void **state)
{
    struct world w = {0};
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    discover(&w, "1.2.3.4", t, NULL);
    expect(&t[0], "1.2.3.4", 8448, "1.2.3.4", "1.2.3.4", 1);
    discover(&w, "1.2.3.4:1234", t, NULL);
    expect(&t[0], "1.2.3.4", 1234, "1.2.3.4:1234", "1.2.3.4", 1);
    discover(&w, "[::1]:8000", t, NULL);
    expect(&t[0], "::1", 8000, "[::1]:8000", "::1", 1);
    discover(&w, "[2001:db8::5]", t, NULL);
    expect(&t[0], "2001:db8::5", 8448, "[2001:db8::5]", "2001:db8::5", 1);
    assert_int_equal(w.n_asked, 0);
}

/* Step 2: hostname with explicit port: no well-known, Host includes the port. */
static void step2_explicit_port(void **state)
{
    struct world w = { .wk_host = "example.org", .wk_status = 200, .wk_body = "{\"m.server\":\"other.org\"}" };
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    discover(&w, "example.org:8000", t, NULL);
    expect(&t[0], "example.org", 8000, "example.org:8000", "example.org", 0);
    assert_int_equal(w.n_asked, 0);
}

/* Step 3.1 and 3.2: well-known delegating to an IP literal / to host:port. */
static void step3_delegation_ip_and_port(void **state)
{
    struct world w = { .wk_host = "example.org", .wk_status = 200, .wk_body = "{\"m.server\":\"5.6.7.8\"}" };
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    discover(&w, "example.org", t, NULL);
    expect(&t[0], "5.6.7.8", 8448, "5.6.7.8", "5.6.7.8", 1);
    w.wk_body = "{\"m.server\":\"[::2]:9000\"}";
    discover(&w, "example.org", t, NULL);
    expect(&t[0], "::2", 9000, "[::2]:9000", "::2", 1);
    w.wk_body = "{\"m.server\":\"matrix.example.org:443\"}";
    discover(&w, "example.org", t, NULL);
    expect(&t[0], "matrix.example.org", 443, "matrix.example.org:443", "matrix.example.org", 0);
    assert_int_equal(w.n_asked, 0);
}

/* Step 3.3: delegated host without port → SRV _matrix-fed on the DELEGATED
 * name; Host and certificate are the delegated hostname, not the SRV target. */
static void step3_3_srv_on_delegated_name(void **state)
{
    struct world w = { .wk_host = "example.org", .wk_status = 200, .wk_body = "{\"m.server\":\"deleg.example.org\"}",
                       .srv = { { "_matrix-fed._tcp.deleg.example.org", { { "srv-target.net", 8999, 10, 0 } }, 1 } } };
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    discover(&w, "example.org", t, NULL);
    expect(&t[0], "srv-target.net", 8999, "deleg.example.org", "deleg.example.org", 0);
    assert_string_equal(w.asked[0], "_matrix-fed._tcp.deleg.example.org");
}

/* Step 3.4 then 3.5: deprecated _matrix SRV is consulted after _matrix-fed;
 * with neither, port 8448 on the delegated name. */
static void step3_4_and_3_5(void **state)
{
    struct world w = { .wk_host = "example.org", .wk_status = 200, .wk_body = "{\"m.server\":\"deleg.example.org\"}",
                       .srv = { { "_matrix._tcp.deleg.example.org", { { "old.net", 8010, 0, 0 } }, 1 } } };
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    discover(&w, "example.org", t, NULL);
    expect(&t[0], "old.net", 8010, "deleg.example.org", "deleg.example.org", 0);
    assert_int_equal(w.n_asked, 2);
    assert_string_equal(w.asked[0], "_matrix-fed._tcp.deleg.example.org");
    assert_string_equal(w.asked[1], "_matrix._tcp.deleg.example.org");

    struct world w2 = { .wk_host = "example.org", .wk_status = 200, .wk_body = "{\"m.server\":\"deleg.example.org\"}" };
    discover(&w2, "example.org", t, NULL);
    expect(&t[0], "deleg.example.org", 8448, "deleg.example.org", "deleg.example.org", 0);
}

/* Step 3 "invalid response → skip to step 4": bad JSON, missing m.server,
 * non-200, invalid server name, transport error. SRV then uses the ORIGINAL
 * hostname for Host and certificate. */
static void invalid_well_known_falls_to_step4(void **state)
{
    static const struct { int status; const char *body; int transport; } cases[] = {
        { 200, "not json", 0 }, { 200, "{}", 0 }, { 200, "{\"m.server\":5}", 0 },
        { 404, "{\"m.server\":\"x.org\"}", 0 }, { 200, "{\"m.server\":\"bad host!\"}", 0 },
        { 200, "{\"m.server\":\"x.org:99999\"}", 0 }, { 200, "[]", 0 }, { 0, NULL, 1 },
        { 500, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct world w = { .wk_host = "example.org", .wk_status = cases[i].status, .wk_body = cases[i].body,
                           .wk_transport_error = cases[i].transport,
                           .srv = { { "_matrix-fed._tcp.example.org", { { "fed.example.net", 8443, 1, 1 } }, 1 } } };
        struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
        long ttl = 0;
        discover(&w, "example.org", t, &ttl);
        expect(&t[0], "fed.example.net", 8443, "example.org", "example.org", 0);
        assert_true(ttl <= MXR_WELL_KNOWN_ERROR_TTL);  /* errors cached at most an hour */
    }
}

/* Steps 5 and 6: deprecated _matrix on the original name, then 8448. A
 * failing SRV lookup is treated like no record. */
static void steps5_and_6(void **state)
{
    struct world w = { .srv = { { "_matrix._tcp.example.org", { { "legacy.net", 8448, 0, 0 } }, 1 } } };
    struct mxr_fed_target t[MXR_DISCOVERY_MAX_TARGETS];
    discover(&w, "example.org", t, NULL);
    expect(&t[0], "legacy.net", 8448, "example.org", "example.org", 0);
    struct world w2 = { .srv_fail = 1 };
    discover(&w2, "example.org", t, NULL);
    expect(&t[0], "example.org", 8448, "example.org", "example.org", 0);
    assert_int_equal(w2.n_asked, 2);
}

/* RFC 2782: lower priority first; "." means no service; weighted choice within
 * a priority (deterministic with an injected random source). */
static void srv_ordering(void **state)
{
    struct world w = {0};
    struct mxr_discovery_ops ops = { NULL, NULL, fake_random, &w };
    struct mxr_srv_record r[5] = {
        { "c.net", 1, 20, 5 }, { "a.net", 1, 10, 0 }, { "b.net", 1, 10, 60 }, { ".", 1, 0, 0 }, { "d.net", 1, 10, 40 },
    };
    w.next_random = 0;   /* picks the first record whose running sum >= 0: the weight-0 one */
    size_t n = mxr_srv_order(r, 5, &ops);
    assert_int_equal(n, 4);
    assert_string_equal(r[0].target, "a.net");
    assert_int_equal(r[3].priority, 20);
    assert_string_equal(r[3].target, "c.net");

    struct mxr_srv_record r2[3] = { { "x.net", 1, 5, 10 }, { "y.net", 1, 5, 90 }, { "z.net", 1, 7, 0 } };
    w.next_random = 50;  /* running sums 10, 100: 50 falls in y.net's share */
    mxr_srv_order(r2, 3, &ops);
    assert_string_equal(r2[0].target, "y.net");
    assert_string_equal(r2[1].target, "x.net");
    assert_string_equal(r2[2].target, "z.net");
}

static void well_known_cache_ttl(void **state)
{
    assert_int_equal(mxr_well_known_ttl(NULL, true), 24 * 3600);
    assert_int_equal(mxr_well_known_ttl("max-age=600", true), 600);
    assert_int_equal(mxr_well_known_ttl("public, max-age=3600", true), 3600);
    assert_int_equal(mxr_well_known_ttl("max-age=999999999", true), 48 * 3600);  /* capped */
    assert_int_equal(mxr_well_known_ttl("no-store", true), 0);
    assert_int_equal(mxr_well_known_ttl("max-age=junk", true), 24 * 3600);
    assert_int_equal(mxr_well_known_ttl(NULL, false), 3600);
    assert_int_equal(mxr_well_known_ttl("max-age=86400", false), 3600);
}

static void server_name_grammar(void **state)
{
    struct mxr_host_port hp;
    struct mxr_err err = {0};
    static const char *const bad[] = { "", ":80", "a.org:", "a.org:0", "a.org:65536", "a.org:123456", "a_b.org",
                                       "[::1", "[zz::1]", "[::1]x", "a.org:8a", "a org" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mxr_parse_server_name(bad[i], &hp, &err) == 0)
            fail_msg("accepted invalid server name '%s'", bad[i]);
    assert_int_equal(mxr_parse_server_name("Matrix.org:65535", &hp, &err), 0);
    assert_string_equal(hp.host, "Matrix.org");
    assert_int_equal(hp.port, 65535);
    assert_false(hp.is_ip);
    assert_int_equal(mxr_parse_server_name("[1234:5678::abcd]:5678", &hp, &err), 0);
    assert_true(hp.is_ipv6);
    assert_int_equal(hp.port, 5678);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(step1_ip_literals),
        cmocka_unit_test(step2_explicit_port),
        cmocka_unit_test(step3_delegation_ip_and_port),
        cmocka_unit_test(step3_3_srv_on_delegated_name),
        cmocka_unit_test(step3_4_and_3_5),
        cmocka_unit_test(invalid_well_known_falls_to_step4),
        cmocka_unit_test(steps5_and_6),
        cmocka_unit_test(srv_ordering),
        cmocka_unit_test(well_known_cache_ttl),
        cmocka_unit_test(server_name_grammar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
