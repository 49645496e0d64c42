/* mxrelay: the daemon's entry point.
 *
 *   mxrelay [--config FILE]          run (without --config: the embedded default,
 *                                    localhost:8448 with data under ./data)
 *   mxrelay --generate-config --server-name NAME --data-dir DIR [--config FILE]
 *   mxrelay --help | --version
 *
 * Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 on a start-up or
 * runtime failure, 2 on a usage error. */
#include <config.h>   /* autoconf's (PACKAGE_VERSION) */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/client/client.h"
#include "relay/config.h"
#include "relay/federation/edus.h"
#include "relay/federation/federation.h"
#include "relay/federation/fedclient.h"
#include "relay/federation/fedout.h"
#include "relay/federation/inbound.h"
#include "relay/federation/keyfetch.h"
#include "relay/federation/keyring.h"
#include "relay/federation/keystore.h"
#include "relay/federation/xmatrix.h"
#include "relay/http/http.h"
#include "relay/http/listener.h"
#include "relay/http/tls.h"
#include "relay/log.h"
#include "relay/realm/realm.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"
#include "relay/store/store.h"

#define EMBEDDED_SERVER_NAME "localhost:8448"
#define EMBEDDED_DATA_DIR "./data"
#define DRAIN_MS 10000u

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mxrelay [--config FILE]\n"
            "       mxrelay --generate-config --server-name NAME --data-dir DIR [--config FILE]\n"
            "       mxrelay --config FILE register-user USER [--password P | --password-file F] [--admin]\n"
            "       mxrelay --help | --version\n"
            "\n"
            "Without --config, mxrelay runs with the embedded default: server name %s,\n"
            "data in %s, HTTPS on 127.0.0.1:8448 (self-signed) and HTTP on 127.0.0.1:8008.\n"
            "--generate-config writes a commented configuration (to FILE, or stdout) and\n"
            "creates DIR and its signing key. Configuration options (YAML):\n\n",
            EMBEDDED_SERVER_NAME, EMBEDDED_DATA_DIR);
    mxr_config_print_reference(out);
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *path, struct mxr_err *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return mxr_err_set(err, "M_UNKNOWN", "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return mxr_err_set(err, "M_UNKNOWN", "cannot create %s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return mxr_err_set(err, "M_UNKNOWN", "%s is not a directory", path);
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Loads the signing key, generating it (mode 0600) on first start. */
static int ensure_signing_key(const char *path, const struct mxr_log *lg, struct mxr_signing_key *key,
                              struct mxr_err *err)
{
    if (access(path, F_OK) == 0)
        return mxr_key_load(key, path, err) < 0 ? mxr_err_prefix(err, "%s", path) : 0;
    if (mxr_key_generate(key, NULL, err) < 0 || mxr_key_save(key, path, err) < 0)
        return mxr_err_prefix(err, "generating %s", path);
    mxr_log(lg, MXR_LOG_INFO, NULL, "generated a new signing key in %s", path);
    return 0;
}

static int generate_config(const char *server_name, const char *data_dir, const char *out_path)
{
    struct mxr_err err = { 0 };
    struct mxr_log lg = { MXR_LOG_INFO, 2 };
    char abs[PATH_MAX];
    if (make_dirs(data_dir, &err) < 0 || !realpath(data_dir, abs)) {
        fprintf(stderr, "mxrelay: %s\n", err.msg[0] ? err.msg : strerror(errno));
        return 1;
    }
    char *text = mxr_config_generate(server_name, abs, &err);
    struct mxr_config cfg;
    if (!text || mxr_config_load_string(&cfg, text, strlen(text), "generated configuration", &err) < 0) {
        fprintf(stderr, "mxrelay: %s\n", err.msg);
        free(text);
        return 1;
    }
    struct mxr_signing_key key = { 0 };
    int rc = ensure_signing_key(cfg.signing_key_path, &lg, &key, &err);
    if (rc == 0) {
        FILE *out = stdout;
        int fd = -1;
        if (out_path) {
            fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
            out = fd >= 0 ? fdopen(fd, "w") : NULL;
            if (!out)
                rc = mxr_err_set(&err, "M_UNKNOWN", "cannot create %s: %s", out_path, strerror(errno));
        }
        if (out && (fputs(text, out) < 0 || (out_path ? fclose(out) : fflush(out)) != 0))
            rc = mxr_err_set(&err, "M_UNKNOWN", "cannot write the configuration: %s", strerror(errno));
        if (rc == 0 && out_path)
            fprintf(stderr, "mxrelay: wrote %s; signing key %s in %s\n", out_path, key.key_id, cfg.signing_key_path);
    }
    if (rc < 0)
        fprintf(stderr, "mxrelay: %s\n", err.msg);
    mxr_key_wipe(&key);
    mxr_config_free(&cfg);
    free(text);
    return rc < 0 ? 1 : 0;
}

static int64_t clock_of_server(void *ctx)
{
    return mxr_server_now(ctx);
}

/* Other servers' keys: fetched directly, then through the notaries of
 * trusted_key_servers (keyfetch.h), cached in the store (keystore.h). */
struct key_services {
    struct mxr_keyfetch *fetch;
    struct mxr_keystore *cache;
};

static int open_keyring(struct mxr_server *srv, struct key_services *ks, struct mxr_err *err)
{
    const struct mxr_config *cfg = srv->cfg;
    if (!(ks->fetch = mxr_keyfetch_new(srv->fed, (const char *const *)cfg->trusted_key_servers.items,
                                       cfg->trusted_key_servers.n, err)) ||
        !(ks->cache = mxr_keystore_new(srv->store, &srv->log, err)))
        return -1;
    struct mxr_keyring_deps deps = {
        .server_name = cfg->server_name, .key = &srv->key, .clock = clock_of_server, .clock_ctx = srv,
        .fetch = mxr_keyfetch_fetch, .fetch_ctx = ks->fetch, .cache = mxr_keystore_ops(ks->cache),
    };
    if (!(srv->keyring = mxr_keyring_new(&deps, err)))
        return -1;
    if (cfg->trusted_key_servers.n)
        mxr_log(&srv->log, MXR_LOG_INFO, NULL, "key notaries: %zu (first %s)", cfg->trusted_key_servers.n,
                cfg->trusted_key_servers.items[0]);
    return 0;
}

/* The store under data_dir/store, and the services over it: the keyring
 * (its cache is in the store), the rooms pipeline (event keys from the
 * keyring, notices to the server's hook, outbound PDUs queued in the
 * commit of their event), the inbound federation context and the EDU
 * store. */
static int open_services(struct mxr_server *srv, struct key_services *ks, struct mxr_err *err)
{
    const struct mxr_config *cfg = srv->cfg;
    char *path = join(cfg->data_dir, "store");
    if (!path)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    struct mxr_store_options so = { .path = path };
    srv->store = mxr_store_open(&so, err);
    if (!srv->store) {
        mxr_err_prefix(err, "store %s", path);
        free(path);
        return -1;
    }
    mxr_log(&srv->log, MXR_LOG_INFO, NULL, "store: %s", path);
    free(path);
    if (open_keyring(srv, ks, err) < 0)
        return -1;
    struct mxr_rooms_deps rd = {
        .server_name = cfg->server_name, .key = &srv->key, .store = srv->store,
        .keys = { mxr_keyring_lookup, srv->keyring }, .clock = clock_of_server, .clock_ctx = srv,
        .notify = mxr_server_rooms_notify, .notify_ctx = srv, .default_room_version = cfg->default_room_version,
        .in_commit = mxr_fedout_in_commit, .in_commit_ctx = srv,
    };
    if (!(srv->rooms = mxr_rooms_new(&rd, err)) || !(srv->inbound = mxr_inbound_new(NULL, err)) ||
        !(srv->edus = mxr_edu_store_new(err)))
        return -1;
    mxr_edu_store_attach(srv->edus, srv->store);   /* receipts and to-device messages outlive restarts */
    return 0;
}

/* After the listeners stopped: nothing uses the services any more. */
static void close_services(struct mxr_server *srv)
{
    mxr_edu_store_free(srv->edus);
    mxr_inbound_free(srv->inbound);
    mxr_rooms_free(srv->rooms);
    mxr_store_close(srv->store);   /* drains pending writes first */
    srv->edus = NULL;
    srv->inbound = NULL;
    srv->rooms = NULL;
    srv->store = NULL;
}

static bool any_https(const struct mxr_config *cfg)
{
    for (size_t i = 0; i < cfg->n_listeners; i++)
        if (cfg->listeners[i].type == MXR_LISTEN_HTTPS)
            return true;
    return false;
}

/* Reads (or first generates) the TLS pair of the https listeners. */
static int load_tls(const struct mxr_config *cfg, const struct mxr_log *lg, char **cert, char **key,
                    struct mxr_err *err)
{
    *cert = *key = NULL;
    if (!any_https(cfg))
        return 0;
    char *cert_path = cfg->tls_certificate ? strdup(cfg->tls_certificate) : join(cfg->data_dir, "tls-selfsigned.crt");
    char *key_path = cfg->tls_private_key ? strdup(cfg->tls_private_key) : join(cfg->data_dir, "tls-selfsigned.key");
    int rc = -1;
    if (!cert_path || !key_path) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    if (!cfg->tls_certificate) {
        int generated = 0;
        if (mxr_tls_ensure_selfsigned(cert_path, key_path, cfg->server_name, &generated, err) < 0)
            goto out;
        mxr_log(lg, generated ? MXR_LOG_WARN : MXR_LOG_INFO, NULL,
                "%s self-signed certificate %s: other servers refuse it unless told to trust it (set tls_certificate for production)",
                generated ? "generated a" : "using the", cert_path);
    }
    if (!(*cert = mxr_read_small_file(cert_path, NULL, err)) || !(*key = mxr_read_small_file(key_path, NULL, err)))
        goto out;
    rc = 0;
out:
    free(cert_path);
    free(key_path);
    return rc;
}

static int run(const char *config_path)
{
    struct mxr_err err = { 0 };
    struct mxr_config cfg;
    int rc;
    if (config_path) {
        rc = mxr_config_load_file(&cfg, config_path, &err);
    } else {
        char *text = mxr_config_generate(EMBEDDED_SERVER_NAME, EMBEDDED_DATA_DIR, &err);
        rc = text ? mxr_config_load_string(&cfg, text, strlen(text), "embedded default configuration", &err) : -1;
        free(text);
    }
    if (rc < 0) {
        fprintf(stderr, "mxrelay: %s\n", err.msg);
        return 1;
    }

    struct mxr_server srv = { .cfg = &cfg, .log = { (enum mxr_log_level)cfg.log_level, 2 } };
    atomic_init(&srv.next_request_id, 0);
    struct mxr_router router = { .federation_auth = mxr_xmatrix_authenticate };
    char *cert = NULL, *key = NULL;
    struct key_services keys = { NULL, NULL };
    int status = 1;
    const struct mxr_log *lg = &srv.log;

    mxr_log(lg, MXR_LOG_INFO, NULL, "mxrelay %s starting (%s)", PACKAGE_VERSION,
            config_path ? config_path : "embedded default configuration");
    mxr_log(lg, MXR_LOG_INFO, NULL, "server name: %s", cfg.server_name);
    if (make_dirs(cfg.data_dir, &err) < 0 || ensure_signing_key(cfg.signing_key_path, lg, &srv.key, &err) < 0 ||
        load_tls(&cfg, lg, &cert, &key, &err) < 0)
        goto out;
    struct stat st;
    if (stat(cfg.data_dir, &st) == 0 && (st.st_mode & 077))
        mxr_log(lg, MXR_LOG_WARN, NULL, "data directory %s is accessible to other users (mode %03o); 0700 is advised",
                cfg.data_dir, (unsigned)(st.st_mode & 0777));
    char pk[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(&srv.key, pk);
    mxr_log(lg, MXR_LOG_INFO, NULL, "signing key: %s %s", srv.key.key_id, pk);

    if (!(srv.fed = mxr_fedclient_new(&cfg, lg, &err)))
        goto out;
    if (open_services(&srv, &keys, &err) < 0 ||
        mxr_router_add(&router, MXR_FEDERATION_ROUTES, MXR_FEDERATION_N_ROUTES, &err) < 0 ||
        mxr_client_start(&srv, &router, &err) < 0 || mxr_realm_start(&srv, &router, &err) < 0)
        goto out;

    /* Signals go to sigwait() below, not to handlers on random threads:
     * block them before any thread starts so every thread inherits it. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(srv.fedout = mxr_fedout_start(&srv, &err)))   /* after the signal mask: it starts threads */
        goto out;
    struct mxr_http_tls tls = { cert, key };
    if (!(srv.http = mxr_http_start(&srv, &router, &tls, &err)))
        goto out;
    mxr_log(lg, MXR_LOG_INFO, NULL, "ready");
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    mxr_log(lg, MXR_LOG_INFO, NULL, "%s received: finishing requests in flight, then stopping", strsignal(sig));
    mxr_client_shutdown(srv.client);
    mxr_http_stop(srv.http, DRAIN_MS);
    srv.http = NULL;
    status = 0;
out:
    if (status)
        mxr_log(lg, MXR_LOG_ERROR, NULL, "%s", err.msg[0] ? err.msg : "start-up failed");
    mxr_http_stop(srv.http, 0);
    mxr_client_free(srv.client);
    mxr_realm_free(srv.realm);
    struct mxr_fedout *fo = srv.fedout;
    srv.fedout = NULL;   /* writes still running queue into the store only */
    mxr_fedout_stop(fo);   /* before the store closes: it completes what is in flight */
    close_services(&srv);
    mxr_keyring_free(srv.keyring);
    mxr_keystore_free(keys.cache);
    mxr_keyfetch_free(keys.fetch);
    mxr_fedclient_free(srv.fed);
    mxr_router_free(&router);
    mxr_key_wipe(&srv.key);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    free(cert);
    if (status == 0)
        mxr_log(lg, MXR_LOG_INFO, NULL, "stopped");
    mxr_config_free(&cfg);
    return status;
}

int main(int argc, char **argv)
{
    /* A closed pipe is an error to report, not a signal to die of (also for
     * `mxrelay --help | grep -q ...`, which stops reading early). */
    signal(SIGPIPE, SIG_IGN);
    if (mxr_client_cli_wants(argc, argv))   /* mxrelay --config F register-user USER ... */
        return mxr_client_cli_main(argc, argv);
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },       { "generate-config", no_argument, NULL, 'g' },
        { "server-name", required_argument, NULL, 's' },  { "data-dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },               { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *server_name = NULL, *data_dir = NULL;
    bool generate = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'g': generate = true; break;
        case 's': server_name = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("mxrelay %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mxrelay: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (generate) {
        if (!server_name || !data_dir) {
            fprintf(stderr, "mxrelay: --generate-config needs --server-name NAME and --data-dir DIR\n");
            return 2;
        }
        return generate_config(server_name, data_dir, config);
    }
    if (server_name || data_dir) {
        fprintf(stderr, "mxrelay: --server-name and --data-dir go with --generate-config\n");
        return 2;
    }
    return run(config);
}
