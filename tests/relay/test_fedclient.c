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

#include "relay/federation/fedclient.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(static_map_keeps_the_server_name),
        cmocka_unit_test(default_resolution_without_network),
        cmocka_unit_test(resolver_plugs_in),
        cmocka_unit_test(denied_servers_are_not_contacted),
        cmocka_unit_test(private_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
