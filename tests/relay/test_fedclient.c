/* relay/federation/fedclient.c without a network: where requests go
 * (static map, then discovery) and which addresses are refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mxr/json.h"
#include "mxr/sign.h"
#include "relay/federation/fedclient.h"
#include "relay/federation/xmatrix.h"
#include "tests/relay/https_fixture.h"

static struct mxr_fedclient *client(struct mxr_config *cfg, const char *yaml, struct mxr_log *lg)
{
    struct mxr_err err = { 0 };
    if (mxr_config_load_string(cfg, yaml, strlen(yaml), "test", &err) < 0)
        fail_msg("%s", err.msg);
    *lg = (struct mxr_log){ MXR_LOG_ERROR, 2 };
    struct mxr_fedclient *fc = mxr_fedclient_new(cfg, lg, &err);
    assert_non_null(fc);
    return fc;
}

static void static_map_keeps_the_server_name(void **state)
{
    struct mxr_config cfg;
    struct mxr_log lg;
    struct mxr_fedclient *fc = client(&cfg, "server_name: me.test\n"
                                            "federation_static_map: {\"other.test\": \"127.0.0.1:28448\","
                                            " \"[::1]:9\": \"[::1]:10\", \"o.test:443\": \"backend.internal:8448\"}\n",
                                      &lg);
    struct mxr_fed_target t[4];
    size_t n = 0;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_fedclient_resolve(fc, "other.test", t, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].connect_host, "127.0.0.1");
    assert_int_equal(t[0].port, 28448);
    /* Host header and certificate name stay the server name's. */
    assert_string_equal(t[0].host_header, "other.test");
    assert_string_equal(t[0].tls_name, "other.test");
    assert_false(t[0].tls_name_is_ip);
    assert_int_equal(mxr_fedclient_resolve(fc, "[::1]:9", t, 4, &n, &err), 0);
    assert_string_equal(t[0].connect_host, "::1");
    assert_int_equal(t[0].port, 10);
    assert_string_equal(t[0].host_header, "[::1]:9");
    assert_string_equal(t[0].tls_name, "::1");
    assert_true(t[0].tls_name_is_ip);
    assert_int_equal(mxr_fedclient_resolve(fc, "o.test:443", t, 4, &n, &err), 0);
    assert_string_equal(t[0].connect_host, "backend.internal");
    assert_string_equal(t[0].host_header, "o.test:443");
    assert_string_equal(t[0].tls_name, "o.test");
    mxr_fedclient_free(fc);
    mxr_config_free(&cfg);
}

static void default_resolution_without_network(void **state)
{
    struct mxr_config cfg;
    struct mxr_log lg;
    struct mxr_fedclient *fc = client(&cfg, "server_name: me.test\n", &lg);
    struct mxr_fed_target t[4];
    size_t n = 0;
    struct mxr_err err = { 0 };
    /* Spec steps 1, 2 and 6 (no well-known/SRV resolver plugged in yet). */
    assert_int_equal(mxr_fedclient_resolve(fc, "1.2.3.4", t, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].connect_host, "1.2.3.4");
    assert_int_equal(t[0].port, 8448);
    assert_int_equal(mxr_fedclient_resolve(fc, "hs.example:1234", t, 4, &n, &err), 0);
    assert_string_equal(t[0].connect_host, "hs.example");
    assert_int_equal(t[0].port, 1234);
    assert_string_equal(t[0].host_header, "hs.example:1234");
    assert_int_equal(mxr_fedclient_resolve(fc, "hs.example", t, 4, &n, &err), 0);
    assert_int_equal(t[0].port, 8448);
    assert_int_equal(mxr_fedclient_resolve(fc, "bad name", t, 4, &n, &err), -1);
    mxr_fedclient_free(fc);
    mxr_config_free(&cfg);
}

static int fake_resolver_calls;
static int fake_resolver(void *ctx, const char *server_name, struct mxr_fed_target *t, size_t max, size_t *n,
                         struct mxr_err *err)
{
    fake_resolver_calls++;
    assert_string_equal(ctx, "ctx");
    memset(&t[0], 0, sizeof t[0]);
    strcpy(t[0].connect_host, "delegated.example");
    t[0].port = 443;
    *n = 1;
    return 0;
}

static void resolver_plugs_in(void **state)
{
    struct mxr_config cfg;
    struct mxr_log lg;
    struct mxr_fedclient *fc = client(&cfg, "server_name: me.test\nfederation_static_map: {\"m.test\": \"10.0.0.1:1\"}\n",
                                      &lg);
    mxr_fedclient_set_resolver(fc, fake_resolver, "ctx");
    struct mxr_fed_target t[4];
    size_t n = 0;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_fedclient_resolve(fc, "hs.example", t, 4, &n, &err), 0);
    assert_string_equal(t[0].connect_host, "delegated.example");
    assert_int_equal(fake_resolver_calls, 1);
    /* The static map still comes first. */
    assert_int_equal(mxr_fedclient_resolve(fc, "m.test", t, 4, &n, &err), 0);
    assert_string_equal(t[0].connect_host, "10.0.0.1");
    assert_int_equal(fake_resolver_calls, 1);
    mxr_fedclient_free(fc);
    mxr_config_free(&cfg);
}

static void denied_servers_are_not_contacted(void **state)
{
    struct mxr_config cfg;
    struct mxr_log lg;
    struct mxr_fedclient *fc = client(&cfg, "server_name: me.test\nfederation_deny: [\"*.bad\"]\n", &lg);
    struct mxr_err err = { 0 };
    assert_null(mxr_fedclient_get_json(fc, "x.bad", "/_matrix/key/v2/server", &err));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(err.msg, "federation_deny"));
    mxr_fedclient_free(fc);
    mxr_config_free(&cfg);
}

static int is_private(const char *addr)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1)
        return mxr_address_is_private((struct sockaddr *)&sin);
    assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
    return mxr_address_is_private((struct sockaddr *)&sin6);
}

static void private_addresses(void **state)
{
    static const char *const private[] = {
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.0.8", "198.18.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    };
    static const char *const public[] = {
        "1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "192.169.0.1", "100.128.0.1", "93.184.216.34",
        "2001:4860:4860::8888", "2a00:1450::1", "::ffff:8.8.8.8",
    };
    for (size_t i = 0; i < sizeof private / sizeof private[0]; i++)
        if (!is_private(private[i]))
            fail_msg("%s should be private", private[i]);
    for (size_t i = 0; i < sizeof public / sizeof public[0]; i++)
        if (is_private(public[i]))
            fail_msg("%s should be public", public[i]);
}

/* ---- against an in-process HTTPS server ----------------------------------------- */

struct seen {
    pthread_mutex_t mu;
    char method[16], target[512], host[300], auth[1024], body[4096];
    int requests;
};

static struct seen seen = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void handler(void *ctx, const struct https_request *req, struct https_reply *reply)
{
    (void)ctx;
    pthread_mutex_lock(&seen.mu);
    seen.requests++;
    snprintf(seen.method, sizeof seen.method, "%s", req->method);
    snprintf(seen.target, sizeof seen.target, "%s", req->target);
    snprintf(seen.host, sizeof seen.host, "%s", req->host ? req->host : "");
    snprintf(seen.auth, sizeof seen.auth, "%s", req->authorization ? req->authorization : "");
    snprintf(seen.body, sizeof seen.body, "%s", req->body);
    pthread_mutex_unlock(&seen.mu);
    const char *t = req->target;
    if (strncmp(t, "/status/", 8) == 0) {
        reply->status = atoi(t + 8);
        reply->body = strdup("{\"errcode\":\"M_FORBIDDEN\",\"error\":\"not you\"}");
    } else if (strcmp(t, "/big") == 0) {
        size_t n = (2u << 20) + 10;
        reply->body = malloc(n + 1);
        memset(reply->body, ' ', n);
        reply->body[0] = '{';
        reply->body[n - 1] = '}';
        reply->body[n] = '\0';
    } else if (strcmp(t, "/dup") == 0) {
        reply->body = strdup("{\"a\":1,\"a\":2}");
    } else if (strcmp(t, "/array") == 0) {
        reply->body = strdup("[1]");
    } else if (strncmp(t, "/r/", 3) == 0) {   /* /r/N redirects N times, then answers */
        int left = atoi(t + 3);
        if (left > 0) {
            static __thread char loc[64];
            snprintf(loc, sizeof loc, "/r/%d", left - 1);
            reply->status = 302;
            reply->headers[0][0] = "Location";
            reply->headers[0][1] = loc;
            reply->headers[1][0] = "Cache-Control";
            reply->headers[1][1] = "max-age=1";   /* of a redirect: not the answer's */
        } else {
            reply->body = strdup("{\"m.server\":\"delegated.example:443\"}");
            reply->headers[0][0] = "Cache-Control";
            reply->headers[0][1] = "public, max-age=600";
        }
    } else if (strcmp(t, "/loop") == 0) {
        reply->status = 301;
        reply->headers[0][0] = "Location";
        reply->headers[0][1] = "/loop";
    } else if (strcmp(t, "/to-http") == 0) {
        reply->status = 302;
        reply->headers[0][0] = "Location";
        reply->headers[0][1] = "http://localhost:1/";
    } else {
        reply->body = strdup("{\"ok\":true}");
    }
}

struct env {
    char dir[64];
    struct https_server *srv;
    struct mxr_config cfg;
    struct mxr_log lg;
    struct mxr_fedclient *fc;
    struct mxr_signing_key key;
    char dest[64];                 /* "localhost:PORT" */
};

static void env_up(struct env *e, const char *extra_yaml)
{
    strcpy(e->dir, "/tmp/mxr-test-fedclient-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    e->srv = https_start(e->dir, handler, NULL);
    assert_non_null(e->srv);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "server_name: me.test\nfederation_ca_file: \"%s\"\n%s%s", https_ca_file(e->srv),
             strstr(extra_yaml ? extra_yaml : "", "allow_private") ? "" : "federation_allow_private_addresses: true\n",
             extra_yaml ? extra_yaml : "");
    e->fc = client(&e->cfg, yaml, &e->lg);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_key_from_seed(&e->key, seed, "t1", &err), 0);
    mxr_fedclient_set_signer(e->fc, "me.test", &e->key);
    snprintf(e->dest, sizeof e->dest, "localhost:%d", https_port(e->srv));
    pthread_mutex_lock(&seen.mu);
    seen.requests = 0;
    pthread_mutex_unlock(&seen.mu);
}

static void env_down(struct env *e)
{
    mxr_fedclient_free(e->fc);
    mxr_config_free(&e->cfg);
    https_stop(e->srv);
    char p[128];
    snprintf(p, sizeof p, "%s/cert.pem", e->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/key.pem", e->dir);
    unlink(p);
    rmdir(e->dir);
}

/* The request the server saw carries a valid X-Matrix signature over
 * {method, uri, origin, destination, content} (spec: Request Authentication),
 * with the raw target as uri and the server name as Host (spec step 2). */
static void signed_put_is_verifiable(void **state)
{
    struct env e;
    env_up(&e, NULL);
    char room[128], path[300];
    assert_int_equal(mxr_fed_escape("!r/o+o m:ex.org", room, sizeof room), 0);
    assert_string_equal(room, "%21r%2Fo%2Bo%20m%3Aex.org");
    snprintf(path, sizeof path, "/_matrix/federation/v1/send/%s?x=1", room);
    json_t *body = json_pack("{s:s, s:I, s:[]}", "origin", "me.test", "origin_server_ts", (json_int_t)1000, "pdus");
    struct mxr_err err = { 0 };
    json_t *r = mxr_fedclient_call(e.fc, "PUT", e.dest, path, body, &err);
    if (!r)
        fail_msg("%s", err.msg);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);

    assert_string_equal(seen.method, "PUT");
    assert_string_equal(seen.target, path);
    assert_string_equal(seen.host, e.dest);
    /* The body is canonical JSON of what was given. */
    assert_string_equal(seen.body, "{\"origin\":\"me.test\",\"origin_server_ts\":1000,\"pdus\":[]}");
    struct mxr_xmatrix xm;
    assert_true(strncmp(seen.auth, "X-Matrix ", 9) == 0);
    assert_int_equal(mxr_xmatrix_parse(seen.auth, &xm, &err), 0);
    assert_string_equal(xm.origin, "me.test");
    assert_true(xm.has_destination);
    assert_string_equal(xm.destination, e.dest);
    assert_string_equal(xm.key, "ed25519:t1");
    json_t *obj = mxr_xmatrix_signed_object("PUT", path, "me.test", e.dest, body);
    json_t *sigs = json_pack("{s:{s:s}}", "me.test", "ed25519:t1", xm.sig);
    json_object_set_new(obj, "signatures", sigs);
    assert_int_equal(mxr_verify_json(obj, "me.test", "ed25519:t1", e.key.public_key, &err), 0);
    /* A different uri does not verify. */
    json_object_set_new(obj, "uri", json_string("/_matrix/federation/v1/send/other"));
    assert_int_equal(mxr_verify_json(obj, "me.test", "ed25519:t1", e.key.public_key, &err), -1);
    json_decref(obj);
    json_decref(body);

    /* A POST without a body sends (and signs) an empty object. */
    r = mxr_fedclient_call(e.fc, "POST", e.dest, "/_matrix/federation/v1/x", NULL, &err);
    assert_non_null(r);
    json_decref(r);
    assert_string_equal(seen.body, "{}");
    assert_int_equal(mxr_xmatrix_parse(seen.auth, &xm, &err), 0);
    json_t *empty = json_object();
    obj = mxr_xmatrix_signed_object("POST", "/_matrix/federation/v1/x", "me.test", e.dest, empty);
    json_decref(empty);
    json_object_set_new(obj, "signatures", json_pack("{s:{s:s}}", "me.test", "ed25519:t1", xm.sig));
    assert_int_equal(mxr_verify_json(obj, "me.test", "ed25519:t1", e.key.public_key, &err), 0);
    json_decref(obj);

    /* Unsigned requests carry no Authorization header. */
    r = mxr_fedclient_get_json(e.fc, e.dest, "/_matrix/key/v2/server", &err);
    assert_non_null(r);
    json_decref(r);
    assert_string_equal(seen.auth, "");
    env_down(&e);
}

static void connections_are_reused(void **state)
{
    struct env e;
    env_up(&e, NULL);
    struct mxr_err err = { 0 };
    for (int i = 0; i < 6; i++) {
        json_t *r = mxr_fedclient_call(e.fc, "GET", e.dest, "/_matrix/federation/v1/version", NULL, &err);
        if (!r)
            fail_msg("%s", err.msg);
        json_decref(r);
    }
    assert_int_equal(seen.requests, 6);
    assert_int_equal(https_connections(e.srv), 1);
    env_down(&e);
}

static void errors_and_limits(void **state)
{
    struct env e;
    env_up(&e, NULL);
    struct mxr_fed_request req = { .method = "GET", .destination = e.dest, .path = "/status/403" };
    struct mxr_fed_response resp;
    assert_int_equal(mxr_fedclient_request(e.fc, &req, &resp), -1);
    assert_int_equal(resp.status, 403);
    assert_false(resp.ok);
    assert_string_equal(resp.err.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(resp.err.msg, "not you"));
    assert_non_null(json_object_get(resp.body, "errcode"));   /* the body is there for callers */
    mxr_fed_response_clear(&resp);

    req.path = "/big";   /* over the 1 MiB default */
    assert_int_equal(mxr_fedclient_request(e.fc, &req, &resp), -1);
    assert_string_equal(resp.err.errcode, "M_TOO_LARGE");
    mxr_fed_response_clear(&resp);
    req.max_response = 4u << 20;
    assert_int_equal(mxr_fedclient_request(e.fc, &req, &resp), 0);
    mxr_fed_response_clear(&resp);
    req.max_response = 0;

    req.path = "/dup";   /* strict parsing: duplicate keys */
    assert_int_equal(mxr_fedclient_request(e.fc, &req, &resp), -1);
    assert_string_equal(resp.err.errcode, "M_NOT_JSON");
    assert_int_equal(resp.status, 200);
    mxr_fed_response_clear(&resp);
    req.path = "/array";
    assert_int_equal(mxr_fedclient_request(e.fc, &req, &resp), -1);
    assert_string_equal(resp.err.errcode, "M_NOT_JSON");
    mxr_fed_response_clear(&resp);

    /* Never to ourselves. */
    struct mxr_err err = { 0 };
    assert_null(mxr_fedclient_call(e.fc, "GET", "me.test", "/x", NULL, &err));
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    env_down(&e);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    close(fd);
    return ntohs(sa.sin_port);
}

static int two_targets_port;
static int two_targets(void *ctx, const char *server_name, struct mxr_fed_target *t, size_t max, size_t *n,
                       struct mxr_err *err)
{
    (void)ctx;
    (void)server_name;
    (void)max;
    (void)err;
    memset(t, 0, 2 * sizeof *t);
    strcpy(t[0].connect_host, "127.0.0.1");
    t[0].port = (uint16_t)closed_port();
    strcpy(t[1].connect_host, "127.0.0.1");
    t[1].port = (uint16_t)two_targets_port;
    for (int i = 0; i < 2; i++) {
        strcpy(t[i].host_header, "localhost");
        strcpy(t[i].tls_name, "localhost");
    }
    *n = 2;
    return 0;
}

static void next_target_after_connect_failure(void **state)
{
    struct env e;
    env_up(&e, NULL);
    two_targets_port = https_port(e.srv);
    mxr_fedclient_set_resolver(e.fc, two_targets, NULL);
    struct mxr_err err = { 0 };
    json_t *r = mxr_fedclient_call(e.fc, "GET", "delegating.example", "/_matrix/federation/v1/version", NULL, &err);
    if (!r)
        fail_msg("%s", err.msg);
    json_decref(r);
    assert_string_equal(seen.host, "localhost");
    env_down(&e);
}

static void private_addresses_refused_unless_allowed(void **state)
{
    struct env e;
    env_up(&e, "federation_allow_private_addresses: false\n");
    struct mxr_err err = { 0 };
    assert_null(mxr_fedclient_call(e.fc, "GET", e.dest, "/_matrix/federation/v1/version", NULL, &err));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_non_null(strstr(err.msg, "private address"));
    assert_int_equal(seen.requests, 0);
    struct mxr_fed_raw raw;
    char url[128];
    snprintf(url, sizeof url, "https://%s/r/0", e.dest);
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), -1);
    assert_non_null(strstr(err.msg, "private address"));
    env_down(&e);
}

static void certificates_are_checked(void **state)
{
    struct env e;
    env_up(&e, NULL);
    /* Trusted CA, but the certificate is for "localhost", not this name. */
    struct mxr_config cfg2;
    struct mxr_log lg2;
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "server_name: me.test\nfederation_ca_file: \"%s\"\nfederation_allow_private_addresses: true\n"
             "federation_static_map: {\"other.test\": \"127.0.0.1:%d\"}\n",
             https_ca_file(e.srv), https_port(e.srv));
    struct mxr_fedclient *fc2 = client(&cfg2, yaml, &lg2);
    mxr_fedclient_set_signer(fc2, "me.test", &e.key);
    struct mxr_err err = { 0 };
    assert_null(mxr_fedclient_call(fc2, "GET", "other.test", "/x", NULL, &err));
    assert_int_equal(seen.requests, 0);
    mxr_fedclient_free(fc2);
    mxr_config_free(&cfg2);
    /* The same without verification (federation_verify_certificates: false). */
    snprintf(yaml, sizeof yaml,
             "server_name: me.test\nfederation_verify_certificates: false\nfederation_allow_private_addresses: true\n"
             "federation_static_map: {\"other.test\": \"127.0.0.1:%d\"}\n", https_port(e.srv));
    fc2 = client(&cfg2, yaml, &lg2);
    mxr_fedclient_set_signer(fc2, "me.test", &e.key);
    json_t *r = mxr_fedclient_call(fc2, "GET", "other.test", "/x", NULL, &err);
    if (!r)
        fail_msg("%s", err.msg);
    json_decref(r);
    assert_string_equal(seen.host, "other.test");
    mxr_fedclient_free(fc2);
    mxr_config_free(&cfg2);
    env_down(&e);
}

struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok;
};

static void count_done(void *ctx, struct mxr_fed_response *resp)
{
    struct counter *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->done++;
    c->ok += resp->ok;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void many_async_requests(void **state)
{
    struct env e;
    env_up(&e, NULL);
    struct counter c = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    struct mxr_err err = { 0 };
    for (int i = 0; i < 40; i++) {
        char path[64];
        snprintf(path, sizeof path, "/_matrix/federation/v1/send/%d", i);
        struct mxr_fed_request req = { .method = "PUT", .destination = e.dest, .path = path };
        assert_int_equal(mxr_fedclient_submit(e.fc, &req, count_done, &c, &err), 0);
    }
    pthread_mutex_lock(&c.mu);
    while (c.done < 40)
        pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    assert_int_equal(c.ok, 40);
    assert_int_equal(seen.requests, 40);
    assert_true(https_connections(e.srv) <= 8);   /* CURLMOPT_MAX_HOST_CONNECTIONS */
    /* Requests still pending at shutdown complete (with an error). */
    struct counter c2 = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    struct mxr_fed_request req = { .method = "GET", .destination = e.dest, .path = "/x" };
    for (int i = 0; i < 5; i++)
        assert_int_equal(mxr_fedclient_submit(e.fc, &req, count_done, &c2, &err), 0);
    mxr_fedclient_free(e.fc);
    e.fc = NULL;
    assert_int_equal(c2.done, 5);
    env_down(&e);
}

static void get_url_follows_bounded_https_redirects(void **state)
{
    struct env e;
    env_up(&e, NULL);
    struct mxr_fed_raw raw;
    struct mxr_err err = { 0 };
    char url[128];
    snprintf(url, sizeof url, "https://%s/r/3", e.dest);
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), 0);
    assert_int_equal(raw.status, 200);
    assert_string_equal(raw.body, "{\"m.server\":\"delegated.example:443\"}");
    assert_string_equal(raw.cache_control, "public, max-age=600");
    mxr_fed_raw_clear(&raw);
    snprintf(url, sizeof url, "https://%s/r/6", e.dest);   /* one too many */
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), -1);
    snprintf(url, sizeof url, "https://%s/loop", e.dest);
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), -1);
    snprintf(url, sizeof url, "https://%s/to-http", e.dest);
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), -1);
    snprintf(url, sizeof url, "https://%s/big", e.dest);
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), -1);
    assert_string_equal(err.errcode, "M_TOO_LARGE");
    snprintf(url, sizeof url, "https://%s/status/404", e.dest);   /* any status is a response */
    assert_int_equal(mxr_fedclient_get_url(e.fc, url, 4096, 5, &raw, &err), 0);
    assert_int_equal(raw.status, 404);
    assert_null(raw.cache_control);
    mxr_fed_raw_clear(&raw);
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(static_map_keeps_the_server_name),
        cmocka_unit_test(default_resolution_without_network),
        cmocka_unit_test(resolver_plugs_in),
        cmocka_unit_test(denied_servers_are_not_contacted),
        cmocka_unit_test(private_addresses),
        cmocka_unit_test(signed_put_is_verifiable),
        cmocka_unit_test(connections_are_reused),
        cmocka_unit_test(errors_and_limits),
        cmocka_unit_test(next_target_after_connect_failure),
        cmocka_unit_test(private_addresses_refused_unless_allowed),
        cmocka_unit_test(certificates_are_checked),
        cmocka_unit_test(many_async_requests),
        cmocka_unit_test(get_url_follows_bounded_https_redirects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
