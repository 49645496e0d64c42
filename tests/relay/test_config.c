/* relay/config.c: the option table, the YAML loader and --generate-config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "relay/config.h"
#include "relay/log.h"

static const char MINIMAL[] = "server_name: example.org\n";

static void load_ok(struct mxr_config *cfg, const char *yaml)
{
    struct mxr_err err = { 0 };
    if (mxr_config_load_string(cfg, yaml, strlen(yaml), "test.yaml", &err) < 0)
        fail_msg("unexpected error: %s", err.msg);
}

/* Loading fails and the message contains every needle (NULL-terminated). */
static void load_fails(const char *yaml, ...)
{
    struct mxr_config cfg;
    struct mxr_err err = { 0 };
    if (mxr_config_load_string(&cfg, yaml, strlen(yaml), "test.yaml", &err) == 0) {
        mxr_config_free(&cfg);
        fail_msg("loaded although invalid:\n%s", yaml);
    }
    va_list ap;
    va_start(ap, yaml);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        if (!strstr(err.msg, needle))
            fail_msg("message '%s' lacks '%s'", err.msg, needle);
    va_end(ap);
    /* A failed load leaves nothing allocated. */
    assert_null(cfg.server_name);
    assert_null(cfg.listeners);
}

static void defaults_fill_everything(void **state)
{
    struct mxr_config cfg;
    load_ok(&cfg, MINIMAL);
    assert_string_equal(cfg.server_name, "example.org");
    assert_int_equal(cfg.n_listeners, 2);
    assert_int_equal(cfg.listeners[0].type, MXR_LISTEN_HTTPS);
    assert_string_equal(cfg.listeners[0].bind_address, "127.0.0.1");
    assert_int_equal(cfg.listeners[0].port, 8448);
    assert_int_equal(cfg.listeners[1].type, MXR_LISTEN_HTTP);
    assert_int_equal(cfg.listeners[1].port, 8008);
    assert_null(cfg.tls_certificate);
    assert_null(cfg.tls_private_key);
    assert_string_equal(cfg.data_dir, "./data");
    assert_string_equal(cfg.signing_key_path, "./data/signing.key");
    assert_true(cfg.federation_verify_certificates);
    assert_null(cfg.federation_ca_file);
    assert_int_equal(cfg.federation_static_map.n, 0);
    assert_int_equal(cfg.federation_allow.n, 0);
    assert_int_equal(cfg.federation_deny.n, 0);
    assert_false(cfg.federation_allow_private_addresses);
    assert_int_equal(cfg.max_request_bytes, 10485760);
    assert_int_equal(cfg.thread_pool_size, 4);
    assert_int_equal(cfg.log_level, MXR_LOG_INFO);
    assert_false(cfg.registration_enabled);
    assert_string_equal(cfg.default_room_version, "11");
    mxr_config_free(&cfg);
}

static void every_option_set(void **state)
{
    struct mxr_config cfg;
    load_ok(&cfg, "server_name: \"hs.example.org:8448\"\n"
                  "listeners:\n"
                  "  - type: https\n"
                  "    bind_address: \"::\"\n"
                  "    port: 443\n"
                  "  - {type: http, bind_address: 0.0.0.0, port: 0}\n"
                  "tls_certificate: /etc/c.pem\n"
                  "tls_private_key: /etc/k.pem\n"
                  "data_dir: /var/lib/mxrelay\n"
                  "signing_key_path: /etc/mxrelay/signing.key\n"
                  "federation_verify_certificates: false\n"
                  "federation_ca_file: /etc/ca.pem\n"
                  "federation_static_map:\n"
                  "  \"other.test:8448\": \"127.0.0.1:28448\"\n"
                  "  \"[::1]:9\": \"[::1]:10\"\n"
                  "federation_allow: [\"*.example.org\", other.test]\n"
                  "federation_deny:\n  - evil.example.org\n"
                  "federation_allow_private_addresses: True\n"
                  "max_request_bytes: 2048\n"
                  "thread_pool_size: 1\n"
                  "log_level: debug\n"
                  "registration_enabled: TRUE\n"
                  "default_room_version: 12\n");
    assert_string_equal(cfg.server_name, "hs.example.org:8448");
    assert_int_equal(cfg.n_listeners, 2);
    assert_string_equal(cfg.listeners[0].bind_address, "::");
    assert_int_equal(cfg.listeners[0].port, 443);
    assert_int_equal(cfg.listeners[1].type, MXR_LISTEN_HTTP);
    assert_int_equal(cfg.listeners[1].port, 0);
    assert_string_equal(cfg.tls_certificate, "/etc/c.pem");
    assert_string_equal(cfg.tls_private_key, "/etc/k.pem");
    assert_string_equal(cfg.signing_key_path, "/etc/mxrelay/signing.key");
    assert_false(cfg.federation_verify_certificates);
    assert_string_equal(cfg.federation_ca_file, "/etc/ca.pem");
    assert_int_equal(cfg.federation_static_map.n, 2);
    assert_string_equal(mxr_config_static_target(&cfg, "other.test:8448"), "127.0.0.1:28448");
    assert_string_equal(mxr_config_static_target(&cfg, "[::1]:9"), "[::1]:10");
    assert_null(mxr_config_static_target(&cfg, "other.test"));
    assert_true(cfg.federation_allow_private_addresses);
    assert_int_equal(cfg.max_request_bytes, 2048);
    assert_int_equal(cfg.thread_pool_size, 1);
    assert_int_equal(cfg.log_level, MXR_LOG_DEBUG);
    assert_true(cfg.registration_enabled);
    assert_string_equal(cfg.default_room_version, "12");
    /* Deny wins over allow; allow is a whitelist; matching ignores case. */
    assert_true(mxr_config_server_allowed(&cfg, "a.example.org"));
    assert_true(mxr_config_server_allowed(&cfg, "A.Example.ORG"));
    assert_true(mxr_config_server_allowed(&cfg, "other.test"));
    assert_false(mxr_config_server_allowed(&cfg, "evil.example.org"));
    assert_false(mxr_config_server_allowed(&cfg, "example.net"));
    mxr_config_free(&cfg);
}

static void unknown_keys_name_key_and_line(void **state)
{
    load_fails("server_name: example.org\n\nthread_pool_size: 2\nlisten_port: 8448\n", "test.yaml:4:",
               "unknown option 'listen_port'", NULL);
    load_fails("server_name: example.org\nlisteners:\n  - {type: http, bind_address: 127.0.0.1, port: 1, tls: yes}\n",
               "test.yaml:3:", "unknown key 'tls'", NULL);
}

static void bad_types(void **state)
{
    load_fails("server_name: example.org\nthread_pool_size: four\n", "test.yaml:2:", "thread_pool_size",
               "integer", NULL);
    load_fails("server_name: example.org\nthread_pool_size: \"4\"\n", "thread_pool_size", "integer", NULL);
    load_fails("server_name: example.org\nthread_pool_size: 0\n", "between 1 and 256", NULL);
    load_fails("server_name: example.org\nmax_request_bytes: 99999999999999999999\n", "max_request_bytes", NULL);
    load_fails("server_name: example.org\nfederation_verify_certificates: yes\n", "test.yaml:2:", "true or false",
               NULL);
    load_fails("server_name: example.org\nfederation_verify_certificates: [true]\n", "true or false", NULL);
    load_fails("server_name: example.org\nlog_level: verbose\n", "log_level", NULL);
    load_fails("server_name: example.org\nlisteners: {type: http}\n", "listeners must be a list", NULL);
    load_fails("server_name: example.org\nlisteners: []\n", "at least one listener", NULL);
    load_fails("server_name: example.org\nlisteners: [{type: ftp, bind_address: 127.0.0.1, port: 1}]\n",
               "https or http", NULL);
    load_fails("server_name: example.org\nlisteners: [{type: http, bind_address: localhost, port: 1}]\n",
               "not a numeric IPv4 or IPv6 address", NULL);
    load_fails("server_name: example.org\nlisteners: [{type: http, bind_address: 127.0.0.1}]\n",
               "type, bind_address and port are all required", NULL);
    load_fails("server_name: example.org\nlisteners: [{type: http, bind_address: 127.0.0.1, port: 65536}]\n",
               "between 0 and 65535", NULL);
    load_fails("server_name: example.org\nlisteners: [{type: http, bind_address: 127.0.0.1, port: 80},"
               " {type: https, bind_address: 127.0.0.1, port: 80}]\n",
               "both bind", NULL);
    load_fails("server_name: example.org\nfederation_allow: example.org\n", "list of strings", NULL);
    load_fails("server_name: example.org\nfederation_allow: [[a]]\n", "item 1", NULL);
    load_fails("server_name: example.org\nfederation_deny: [\"\"]\n", "empty pattern", NULL);
    load_fails("server_name: example.org\nfederation_static_map: [a]\n", "map of strings", NULL);
    load_fails("server_name: example.org\nfederation_static_map: {a.test: 127.0.0.1}\n", "not host:port", NULL);
    load_fails("server_name: example.org\nfederation_static_map: {\"bad name!\": \"127.0.0.1:1\"}\n",
               "federation_static_map", NULL);
    load_fails("server_name: example.org\ndefault_room_version: \"13\"\n", "default_room_version", NULL);
    load_fails("server_name: example.org\ndata_dir: \"\"\n", "must not be empty", NULL);
    load_fails("server_name: example.org\ndata_dir: \"a\\0b\"\n", "NUL", NULL);
}

static void server_name_rules(void **state)
{
    load_fails("thread_pool_size: 2\n", "missing required option 'server_name'", NULL);
    load_fails("server_name: \"\"\n", "server_name", NULL);
    load_fails("server_name: \"exa mple.org\"\n", "server_name", NULL);
    load_fails("server_name: \"example.org:99999\"\n", "server_name", NULL);
    load_fails("server_name: ~\n", "server_name", NULL);
    struct mxr_config cfg;
    load_ok(&cfg, "server_name: \"[2001:db8::1]:8448\"\n");
    mxr_config_free(&cfg);
    load_ok(&cfg, "server_name: 1.2.3.4\n");
    mxr_config_free(&cfg);
}

static void document_shape(void **state)
{
    load_fails("", "missing required option 'server_name'", NULL);
    load_fails("- server_name: example.org\n", "map of option: value", NULL);
    load_fails("server_name: example.org\nserver_name: example.net\n", "test.yaml:2:", "set twice", NULL);
    load_fails("server_name: example.org\n---\nserver_name: example.net\n", "more than one YAML document", NULL);
    load_fails("server_name: [unclosed\n", "YAML syntax error", NULL);
    load_fails("server_name: example.org\ntls_certificate: /c.pem\n", "tls_certificate and tls_private_key", NULL);
    /* An explicit null leaves an optional path unset. */
    struct mxr_config cfg;
    load_ok(&cfg, "server_name: example.org\nfederation_ca_file: null\ntls_certificate: ~\ntls_private_key:\n");
    assert_null(cfg.federation_ca_file);
    assert_null(cfg.tls_certificate);
    mxr_config_free(&cfg);
}

static void generated_config_round_trips(void **state)
{
    struct mxr_err err = { 0 };
    char *text = mxr_config_generate("hs.example.org", "/srv/my \"data\"", &err);
    assert_non_null(text);
    /* Commented, with every option present (set or commented out). */
    assert_non_null(strstr(text, "# The server name"));
    assert_non_null(strstr(text, "#tls_certificate:"));
    assert_non_null(strstr(text, "\nfederation_allow_private_addresses: false\n"));
    struct mxr_config cfg;
    load_ok(&cfg, text);
    assert_string_equal(cfg.server_name, "hs.example.org");
    assert_string_equal(cfg.data_dir, "/srv/my \"data\"");
    assert_string_equal(cfg.signing_key_path, "/srv/my \"data\"/signing.key");
    assert_int_equal(cfg.n_listeners, 2);
    assert_int_equal(cfg.listeners[0].type, MXR_LISTEN_HTTPS);
    assert_string_equal(cfg.listeners[0].bind_address, "127.0.0.1");   /* loopback only by default */
    assert_string_equal(cfg.listeners[1].bind_address, "127.0.0.1");
    assert_true(cfg.federation_verify_certificates);
    assert_false(cfg.federation_allow_private_addresses);
    assert_false(cfg.registration_enabled);
    assert_string_equal(cfg.default_room_version, "11");
    mxr_config_free(&cfg);
    free(text);

    assert_null(mxr_config_generate("not a name", "/x", &err));
    assert_null(mxr_config_generate("ok.example", "/x\ny", &err));
}

static void loads_from_file(void **state)
{
    char path[] = "/tmp/mxr-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("server_name: file.example\nlog_level: warn\n", f);
    fclose(f);
    struct mxr_config cfg;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_config_load_file(&cfg, path, &err), 0);
    assert_string_equal(cfg.server_name, "file.example");
    assert_int_equal(cfg.log_level, MXR_LOG_WARN);
    mxr_config_free(&cfg);
    unlink(path);
    assert_int_equal(mxr_config_load_file(&cfg, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
}

static void reference_lists_every_option(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mxr_config_print_reference(f);
    fclose(f);
    static const char *const names[] = {
        "server_name", "listeners", "tls_certificate", "tls_private_key", "data_dir", "signing_key_path",
        "federation_verify_certificates", "federation_ca_file", "federation_static_map", "federation_allow",
        "federation_deny", "federation_allow_private_addresses", "max_request_bytes", "thread_pool_size",
        "log_level", "registration_enabled", "default_room_version",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "  %s (", names[i]);
        if (!strstr(buf, want))
            fail_msg("--help lacks %s", names[i]);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_fill_everything),
        cmocka_unit_test(every_option_set),
        cmocka_unit_test(unknown_keys_name_key_and_line),
        cmocka_unit_test(bad_types),
        cmocka_unit_test(server_name_rules),
        cmocka_unit_test(document_shape),
        cmocka_unit_test(generated_config_round_trips),
        cmocka_unit_test(loads_from_file),
        cmocka_unit_test(reference_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
