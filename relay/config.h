/* The daemon's configuration.
 *
 * Every option is described once, in the table in config.c (name, type,
 * default, validator, documentation); the YAML loader, the defaults, the
 * commented file written by --generate-config and --help all come from it.
 * A loaded configuration is read-only for the life of the daemon. */
#ifndef MXR_RELAY_CONFIG_H
#define MXR_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mxr/error.h"

enum mxr_listener_type { MXR_LISTEN_HTTP = 0, MXR_LISTEN_HTTPS };

struct mxr_listener {
    enum mxr_listener_type type;
    char *bind_address;          /* numeric IPv4 or IPv6 address */
    int port;                    /* 0: any free port (the bound port is logged at start) */
};

struct mxr_strlist {
    char **items;
    size_t n;
};

/* An ordered map of strings (federation_static_map: server name -> host:port). */
struct mxr_strmap {
    char **keys;
    char **values;
    size_t n;
};

struct mxr_config {
    char *server_name;
    struct mxr_listener *listeners;
    size_t n_listeners;
    char *tls_certificate;               /* NULL: self-signed pair generated in data_dir */
    char *tls_private_key;
    char *data_dir;
    char *signing_key_path;              /* NULL in the file: data_dir/signing.key (filled by the loader) */
    bool federation_verify_certificates;
    char *federation_ca_file;            /* NULL: the system's trust store */
    struct mxr_strmap federation_static_map;
    struct mxr_strlist federation_allow; /* fnmatch(3) patterns; empty = every server */
    struct mxr_strlist federation_deny;
    bool federation_allow_private_addresses;
    struct mxr_strlist trusted_key_servers; /* notaries asked for keys a server cannot give us itself */
    long max_request_bytes;
    long thread_pool_size;
    int log_level;                       /* enum mxr_log_level */
    bool registration_enabled;
    char *default_room_version;
    char *registration_shared_secret;    /* NULL: the shared-secret registration API is off */
    char *public_baseurl;                /* NULL: https://server_name */
    /* Client API rate limits (relay/client/ratelimit.c): per minute and
     * burst of a token bucket; per_minute 0 turns one off. */
    long ratelimit_login_per_minute, ratelimit_login_burst;
    long ratelimit_registration_per_minute, ratelimit_registration_burst;
    long ratelimit_message_per_minute, ratelimit_message_burst;
};

/* Parses YAML text (source names the origin in messages, e.g. the file
 * name). Unknown options, wrong types and invalid values fail with a message
 * "SOURCE:LINE: ..." naming the option. On failure *cfg holds nothing to free. */
int mxr_config_load_string(struct mxr_config *cfg, const char *yaml, size_t len, const char *source,
                           struct mxr_err *err);
int mxr_config_load_file(struct mxr_config *cfg, const char *path, struct mxr_err *err);
void mxr_config_free(struct mxr_config *cfg);

/* The commented YAML configuration with every option at its default, for
 * the given server name and data directory (malloc'd). The embedded default
 * of `mxrelay` without --config is this text for localhost:8448 and ./data. */
char *mxr_config_generate(const char *server_name, const char *data_dir, struct mxr_err *err);

/* The option reference printed by --help. */
void mxr_config_print_reference(FILE *out);

/* Whether federation with server_name is allowed by federation_allow/deny. */
bool mxr_config_server_allowed(const struct mxr_config *cfg, const char *server_name);

/* The static map's host:port for server_name, or NULL. */
const char *mxr_config_static_target(const struct mxr_config *cfg, const char *server_name);

#endif
