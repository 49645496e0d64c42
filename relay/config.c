/* Configuration: the declarative option table (everything else derives
 * from it: config_yaml.c loads files, config_gen.c writes the commented
 * default file and the --help reference), validators and queries. */
#include "relay/config.h"

#include <fnmatch.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/roomver.h"
#include "relay/config_table.h"

const char *const MXR_CONFIG_TYPE_NAMES[] = {
    [OPT_STRING] = "string", [OPT_PATH] = "path", [OPT_BOOL] = "boolean", [OPT_INT] = "integer",
    [OPT_LOGLEVEL] = "error|warn|info|debug", [OPT_LISTENERS] = "list of listeners",
    [OPT_STRLIST] = "list of strings", [OPT_STRMAP] = "map of strings",
};

static int check_server_name(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);
static int check_listeners(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);
static int check_static_map(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);
static int check_patterns(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);
static int check_room_version(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);
static int check_server_names(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);

#define F(field) offsetof(struct mxr_config, field)

const struct mxr_opt MXR_CONFIG_OPTIONS[] = {
    { "server_name", OPT_STRING, F(server_name), NULL, "example.org", 0, 0, check_server_name,
      OPT_REQUIRED | OPT_GENERATED,
      "The server name: the domain part of this server's user IDs and the name other\n"
      "servers know it by (hostname[:port], spec appendices \"Server Name\").\n"
      "It cannot change once rooms exist." },
    { "listeners", OPT_LISTENERS, F(listeners),
      "\n  - {type: https, bind_address: \"127.0.0.1\", port: 8448}\n"
      "  - {type: http, bind_address: \"127.0.0.1\", port: 8008}",
      NULL, 0, 0, check_listeners, 0,
      "Where to accept connections: a list of {type: https|http, bind_address: IP, port}.\n"
      "Federation needs HTTPS (port 8448 unless delegated); plain HTTP is for clients\n"
      "and reverse proxies. Use bind_address \"::\" or \"0.0.0.0\" to listen publicly.\n"
      "Port 0 takes any free port (logged at start)." },
    { "tls_certificate", OPT_PATH, F(tls_certificate), NULL, "/etc/mxrelay/fullchain.pem", 0, 0, NULL, 0,
      "PEM certificate chain for the https listeners. When unset, a self-signed\n"
      "certificate is generated in data_dir at first start: fine for tests, but other\n"
      "servers refuse it unless they trust it explicitly (spec: CA-signed required)." },
    { "tls_private_key", OPT_PATH, F(tls_private_key), NULL, "/etc/mxrelay/privkey.pem", 0, 0, NULL, 0,
      "PEM private key of tls_certificate." },
    { "data_dir", OPT_PATH, F(data_dir), "\"./data\"", NULL, 0, 0, NULL, OPT_GENERATED,
      "Directory of the database, the signing key and generated certificates.\n"
      "Created with mode 0700 if missing." },
    { "signing_key_path", OPT_PATH, F(signing_key_path), NULL, "/etc/mxrelay/signing.key", 0, 0, NULL, 0,
      "The server's ed25519 signing key in signing.key format (\"ed25519 VERSION SEED\").\n"
      "When unset: data_dir/signing.key, generated (mode 0600) if missing." },
    { "federation_verify_certificates", OPT_BOOL, F(federation_verify_certificates), "true", NULL, 0, 0, NULL, 0,
      "Verify other servers' TLS certificates. Only turn off for tests." },
    { "federation_ca_file", OPT_PATH, F(federation_ca_file), NULL, "/etc/mxrelay/test-ca.pem", 0, 0, NULL, 0,
      "PEM file of the authorities trusted for federation instead of the system's." },
    { "federation_static_map", OPT_STRMAP, F(federation_static_map), "{}", NULL, 0, 0, check_static_map, 0,
      "Server name -> host:port to connect to, consulted before normal discovery\n"
      "(well-known, SRV). The certificate must still be valid for the server name.\n"
      "Example: {\"other.test:8448\": \"127.0.0.1:28448\"}" },
    { "federation_allow", OPT_STRLIST, F(federation_allow), "[]", NULL, 0, 0, check_patterns, 0,
      "If not empty, federate only with servers matching one of these patterns\n"
      "(shell wildcards, case-insensitive, e.g. \"*.example.org\")." },
    { "federation_deny", OPT_STRLIST, F(federation_deny), "[]", NULL, 0, 0, check_patterns, 0,
      "Never federate with servers matching one of these patterns." },
    { "federation_allow_private_addresses", OPT_BOOL, F(federation_allow_private_addresses), "false", NULL, 0, 0,
      NULL, 0,
      "Allow outbound federation connections to loopback, private and link-local\n"
      "addresses. Off by default so peers cannot aim us at internal services." },
    { "trusted_key_servers", OPT_STRLIST, F(trusted_key_servers), "[]", NULL, 0, 0, check_server_names, 0,
      "Notary servers asked, in this order, for another server's signing keys when\n"
      "that server cannot be reached itself (spec: \"Querying Keys Through Another\n"
      "Server\"). Their answers are believed only when signed by the notary and by\n"
      "the origin. Example: [\"matrix.org\"]; empty: ask the servers only." },
    { "max_request_bytes", OPT_INT, F(max_request_bytes), "10485760", NULL, 1024, 1L << 30, NULL, 0,
      "Largest request body accepted; bigger ones get 413 M_TOO_LARGE." },
    { "thread_pool_size", OPT_INT, F(thread_pool_size), "4", NULL, 1, 256, NULL, 0,
      "Unused since every connection has a thread of its own (so that a /sync long-poll holds up no other "
      "request); still accepted so that older configuration files load." },
    { "log_level", OPT_LOGLEVEL, F(log_level), "info", NULL, 0, 0, NULL, 0,
      "error, warn, info or debug. Logs go to stderr, one line per event." },
    { "registration_enabled", OPT_BOOL, F(registration_enabled), "false", NULL, 0, 0, NULL, 0,
      "Open registration (POST /register); off: register-user, shared secret." },
    { "registration_shared_secret", OPT_STRING, F(registration_shared_secret), NULL, "\"long random\"", 0, 0,
      NULL, 0, "Enables Synapse-style shared-secret registration (/_synapse/admin)." },
    { "public_baseurl", OPT_STRING, F(public_baseurl), NULL, "\"https://m.example.org\"", 0, 0, NULL, 0,
      "Client API URL for .well-known; unset: https://SERVER_NAME." },
    { "default_room_version", OPT_STRING, F(default_room_version), "\"" MXR_DEFAULT_ROOM_VERSION "\"", NULL, 0, 0,
      check_room_version, 0,
      "Room version of rooms created here (spec: keep using 11 for now)." },
    { "ratelimit_login_per_minute", OPT_INT, F(ratelimit_login_per_minute), "30", NULL, 0, 100000, NULL, 0,
      "Client API rate limit of POST /login, per client IP address: requests per\n"
      "minute on average (0: no limit). Over it: 429 M_LIMIT_EXCEEDED, Retry-After.\n"
      "Behind a reverse proxy every client has the proxy's address (X-Forwarded-For\n"
      "is not read): raise the login and registration limits or turn them off." },
    { "ratelimit_login_burst", OPT_INT, F(ratelimit_login_burst), "10", NULL, 1, 100000, NULL, 0,
      "Logins one IP address may make at once before the rate applies." },
    { "ratelimit_registration_per_minute", OPT_INT, F(ratelimit_registration_per_minute), "20", NULL, 0, 100000,
      NULL, 0, "Rate limit of POST /register (accounts created), per client IP address\n"
      "(0: no limit). Shared-secret registration is not limited." },
    { "ratelimit_registration_burst", OPT_INT, F(ratelimit_registration_burst), "10", NULL, 1, 100000, NULL, 0,
      "Registrations one IP address may make at once." },
    { "ratelimit_message_per_minute", OPT_INT, F(ratelimit_message_per_minute), "600", NULL, 0, 1000000, NULL, 0,
      "Rate limit of PUT /rooms/{roomId}/send, per user (0: no limit). Server\n"
      "admins (register-user --admin) are not limited." },
    { "ratelimit_message_burst", OPT_INT, F(ratelimit_message_burst), "100", NULL, 1, 1000000, NULL, 0,
      "Messages one user may send at once before the rate applies." },
};
const size_t MXR_CONFIG_N_OPTIONS = sizeof MXR_CONFIG_OPTIONS / sizeof MXR_CONFIG_OPTIONS[0];
_Static_assert(sizeof MXR_CONFIG_OPTIONS / sizeof MXR_CONFIG_OPTIONS[0] <= MXR_CONFIG_MAX_OPTIONS,
               "raise MXR_CONFIG_MAX_OPTIONS");

#undef F

/* ---- freeing ------------------------------------------------------------ */

static void strlist_free(struct mxr_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void strmap_free(struct mxr_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    m->keys = m->values = NULL;
    m->n = 0;
}

static void listeners_free(struct mxr_config *cfg)
{
    for (size_t i = 0; i < cfg->n_listeners; i++)
        free(cfg->listeners[i].bind_address);
    free(cfg->listeners);
    cfg->listeners = NULL;
    cfg->n_listeners = 0;
}

void mxr_opt_free(const struct mxr_opt *o, struct mxr_config *cfg)
{
    void *p = mxr_opt_field(o, cfg);
    switch (o->type) {
    case OPT_STRING:
    case OPT_PATH:
        free(*(char **)p);
        *(char **)p = NULL;
        break;
    case OPT_LISTENERS:
        listeners_free(cfg);
        break;
    case OPT_STRLIST:
        strlist_free(p);
        break;
    case OPT_STRMAP:
        strmap_free(p);
        break;
    default:
        break;
    }
}

void mxr_config_free(struct mxr_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < MXR_CONFIG_N_OPTIONS; i++)
        mxr_opt_free(&MXR_CONFIG_OPTIONS[i], cfg);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- validators -------------------------------------------------------- */

static int check_server_name(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err)
{
    const char *name = *(char *const *)mxr_opt_cfield(o, cfg);
    if (mxr_server_name_parse(name, NULL, err) < 0)
        return -1;
    if (strlen(name) > 230)   /* appendices: server names SHOULD NOT exceed 230 characters */
        return mxr_err_set(err, "M_INVALID_PARAM", "'%s' is longer than 230 characters", name);
    return 0;
}

static int check_listeners(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err)
{
    if (cfg->n_listeners == 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "at least one listener is needed");
    for (size_t i = 0; i < cfg->n_listeners; i++)
        for (size_t j = 0; j < i; j++)
            if (cfg->listeners[i].port && cfg->listeners[i].port == cfg->listeners[j].port &&
                !strcmp(cfg->listeners[i].bind_address, cfg->listeners[j].bind_address))
                return mxr_err_set(err, "M_INVALID_PARAM", "listeners %zu and %zu both bind %s port %d", j + 1,
                                   i + 1, cfg->listeners[i].bind_address, cfg->listeners[i].port);
    return 0;
}

static int check_static_map(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err)
{
    const struct mxr_strmap *m = mxr_opt_cfield(o, cfg);
    for (size_t i = 0; i < m->n; i++) {
        struct mxr_server_name sn;
        if (mxr_server_name_parse(m->keys[i], NULL, err) < 0)
            return mxr_err_prefix(err, "key '%s'", m->keys[i]);
        if (mxr_server_name_parse(m->values[i], &sn, err) < 0 || sn.port < 1)
            return mxr_err_set(err, "M_INVALID_PARAM", "'%s' maps to '%s', which is not host:port", m->keys[i],
                               m->values[i]);
    }
    return 0;
}

static int check_patterns(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err)
{
    const struct mxr_strlist *l = mxr_opt_cfield(o, cfg);
    for (size_t i = 0; i < l->n; i++)
        if (!l->items[i][0])
            return mxr_err_set(err, "M_INVALID_PARAM", "item %zu is an empty pattern", i + 1);
    return 0;
}

static int check_server_names(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err)
{
    const struct mxr_strlist *l = mxr_opt_cfield(o, cfg);
    for (size_t i = 0; i < l->n; i++)
        if (mxr_server_name_parse(l->items[i], NULL, err) < 0)
            return mxr_err_prefix(err, "item %zu", i + 1);
    return 0;
}

static int check_room_version(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err)
{
    return mxr_room_version_get(*(char *const *)mxr_opt_cfield(o, cfg), err) ? 0 : -1;
}

/* ---- queries -------------------------------------------------------------- */

static bool matches_any(const struct mxr_strlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (fnmatch(l->items[i], name, FNM_CASEFOLD) == 0)
            return true;
    return false;
}

bool mxr_config_server_allowed(const struct mxr_config *cfg, const char *server_name)
{
    if (matches_any(&cfg->federation_deny, server_name))
        return false;
    return cfg->federation_allow.n == 0 || matches_any(&cfg->federation_allow, server_name);
}

const char *mxr_config_static_target(const struct mxr_config *cfg, const char *server_name)
{
    for (size_t i = 0; i < cfg->federation_static_map.n; i++)
        if (!strcmp(cfg->federation_static_map.keys[i], server_name))
            return cfg->federation_static_map.values[i];
    return NULL;
}
