/* The federation benchmarks' harness (bench_fed.h). The remote servers are
 * played by this process: one HTTPS responder (libmicrohttpd) answers for
 * all of them, telling them apart by the Host header the relay sends (the
 * server name, spec: "Resolving server names"), and publishes each one's
 * signed key (spec: server-server API "Publishing Keys"); the relay reaches
 * it through federation_static_map and trusts it through the scratch CA. */
#include "tests/bench/bench_fed.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mxr/json.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"
#include "relay/federation/xmatrix.h"

double bf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t bf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bf_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bf_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is
     * field 3, utime 14, stime 15 (proc(5)). */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int bf_reset_peak_rss(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs("5", f) < 0 ? -1 : 0;   /* proc(5): "5" resets the peak RSS (VmHWM) */
    return fclose(f) == 0 ? rc : -1;
}

double bf_runqueue_seconds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    double sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p2[400];
        if (snprintf(p2, sizeof p2, "%s/%s/schedstat", path, de->d_name) >= (int)sizeof p2)
            continue;
        FILE *f = fopen(p2, "r");
        unsigned long long run = 0, wait = 0;
        if (f && fscanf(f, "%llu %llu", &run, &wait) == 2)
            sum += (double)wait / 1e9;
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

long bf_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f)
        return -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0) {
            v = strtol(line + fl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* ---- scratch files ------------------------------------------------------------ */

static int run_quiet(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "bench: command failed (%d): %s\n", rc, cmd);
    return rc == 0 ? 0 : -1;
}

/* A CA and one leaf certificate naming the relay, every remote server,
 * localhost and 127.0.0.1. */
static int make_certs(struct bf_env *e)
{
    char cmd[4096], ext[300];
    snprintf(e->ca, sizeof e->ca, "%s/ca.crt", e->dir);
    snprintf(e->crt, sizeof e->crt, "%s/tls.crt", e->dir);
    snprintf(e->key, sizeof e->key, "%s/tls.key", e->dir);
    snprintf(ext, sizeof ext, "%s/tls.ext", e->dir);
    FILE *f = fopen(ext, "w");
    if (!f)
        return -1;
    fprintf(f, "subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1", e->relay_name);
    for (size_t i = 0; i < e->n_srv; i++)
        fprintf(f, ",DNS:%s", e->srv[i].name);
    fprintf(f, "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
             "-out ca.crt -days 2 -subj /CN=bench-ca >/dev/null 2>&1 && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr "
             "-subj /CN=%s >/dev/null 2>&1 && "
             "openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 "
             "-extfile tls.ext >/dev/null 2>&1",
             e->dir, e->relay_name);
    return run_quiet(cmd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    return b;
}

/* ---- the remote servers' responder ---------------------------------------------- */

/* GET /_matrix/key/v2/server of server s, signed by its key, valid a day. */
static char *key_response(const struct bf_server *s)
{
    char pub[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(&s->key, pub);
    json_t *o = json_pack("{s:s, s:I, s:{s:{s:s}}, s:{}}", "server_name", s->name, "valid_until_ts",
                          (json_int_t)(bf_now_ms() + 24LL * 3600 * 1000), "verify_keys", s->key.key_id, "key", pub,
                          "old_verify_keys");
    struct mxr_err err = {0};
    char *out = NULL;
    if (o && mxr_sign_json(o, s->name, &s->key, &err) == 0)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static int marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    struct bf_env *e = cls;
    (void)version;
    (void)upload;
    (void)method;
    if (!*state) {
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;   /* bodies (the relay's /send to us) are not needed */
        return MHD_YES;
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (strncmp(url, "/_matrix/key/v2/server", 22) == 0) {
        for (size_t i = 0; host && i < e->n_srv; i++) {
            size_t n = strlen(e->srv[i].name);
            if (strncmp(host, e->srv[i].name, n) == 0 && (host[n] == '\0' || host[n] == ':'))
                return respond(c, 200, e->srv[i].key_response);
        }
        return respond(c, 404, "{\"errcode\":\"M_NOT_FOUND\",\"error\":\"no such bench server\"}");
    }
    if (strncmp(url, "/_matrix/federation/v1/send/", 28) == 0)
        return respond(c, 200, "{\"pdus\":{}}");
    if (strcmp(url, "/_matrix/federation/v1/version") == 0)
        return respond(c, 200, "{\"server\":{\"name\":\"mxrelay-bench\",\"version\":\"0\"}}");
    return respond(c, 404, "{\"errcode\":\"M_UNRECOGNIZED\",\"error\":\"the bench servers answer keys and /send only\"}");
}

static int start_responder(struct bf_env *e, int *port)
{
    char *cert = slurp(e->crt), *key = slurp(e->key);
    if (!cert || !key) {
        free(cert);
        free(key);
        return -1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, e,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_THREAD_POOL_SIZE, 2u,
        MHD_OPTION_END);
    e->mhd_cert = cert;   /* MHD copies neither: they live as long as the daemon */
    e->mhd_key = key;
    if (!d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    e->mhd = d;
    return *port ? 0 : -1;
}

/* ---- HTTP client ------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->n + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, data, n);
    b->n += n;
    np[b->n] = '\0';
    b->p = np;
    return n;
}

static json_t *request_on(struct bf_env *e, CURL *h, const char *method, const char *path, json_t *body,
                          const char *auth, long *status)
{
    char url[2048], hdr[2048];
    struct curl_slist *hdrs = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), "Expect:");
    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
        hdrs = curl_slist_append(hdrs, hdr);
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct buf b = {0};
    snprintf(url, sizeof url, "%s%s", e->base_url, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_CAINFO, e->ca);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (text)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    free(text);
    json_t *out = NULL;
    if (cc != CURLE_OK && e->relay_pid > 0 && !e->starting)
        fprintf(stderr, "bench: %s %s: %s\n", method, path, curl_easy_strerror(cc));
    else if (b.p)
        out = json_loadb(b.p, b.n, 0, NULL);
    free(b.p);
    return out;
}

static json_t *request(struct bf_env *e, const char *method, const char *path, json_t *body, const char *auth,
                       long *status)
{
    return request_on(e, e->curl, method, path, body, auth, status);
}

json_t *bf_client_on(struct bf_env *e, void *curl, const char *method, const char *path, json_t *body,
                     long *status)
{
    char auth[300];
    snprintf(auth, sizeof auth, "Bearer %s", e->token);
    return request_on(e, curl, method, path, body, e->token[0] ? auth : NULL, status);
}

json_t *bf_client(struct bf_env *e, const char *method, const char *path, json_t *body, long *status)
{
    return bf_client_on(e, e->curl, method, path, body, status);
}

int bf_xmatrix(struct bf_env *e, size_t s, const char *method, const char *uri, json_t *content, char *out,
               size_t cap)
{
    struct mxr_err err = {0};
    if (mxr_xmatrix_sign(&e->srv[s].key, e->srv[s].name, e->relay_name, method, uri, content, out, cap, &err) < 0) {
        fprintf(stderr, "bench: X-Matrix: %s\n", err.msg);
        return -1;
    }
    return 0;
}

json_t *bf_fed(struct bf_env *e, size_t s, const char *method, const char *uri, json_t *content, long *status)
{
    char auth[1024];
    *status = 0;
    if (bf_xmatrix(e, s, method, uri, content, auth, sizeof auth) < 0)
        return NULL;
    return request(e, method, uri, content, auth, status);
}

int bf_register(struct bf_env *e, const char *localpart)
{
    long st;
    json_t *b = json_pack("{s:s, s:s, s:{s:s}}", "username", localpart, "password", "bench-password-0123",
                          "auth", "type", "m.login.dummy");
    json_t *r = bf_client(e, "POST", "/_matrix/client/v3/register", b, &st);
    json_decref(b);
    const char *tok = json_string_value(json_object_get(r, "access_token"));
    const char *uid = json_string_value(json_object_get(r, "user_id"));
    int rc = -1;
    if (st == 200 && tok && uid) {
        snprintf(e->token, sizeof e->token, "%s", tok);
        snprintf(e->user_id, sizeof e->user_id, "%s", uid);
        rc = 0;
    } else {
        fprintf(stderr, "bench: register: HTTP %ld\n", st);
    }
    json_decref(r);
    return rc;
}

int bf_join(struct bf_env *e, size_t s, const char *room_id, const struct mxr_room_version **rvp, int64_t *depth)
{
    struct bf_server *sv = &e->srv[s];
    char *qr = curl_easy_escape(e->curl, room_id, 0), *qu = curl_easy_escape(e->curl, sv->user, 0);
    char uri[1024];
    snprintf(uri, sizeof uri, "/_matrix/federation/v1/make_join/%s/%s?ver=10&ver=11&ver=12", qr, qu);
    long st;
    json_t *r = bf_fed(e, s, "GET", uri, NULL, &st);
    json_t *tmpl = json_object_get(r, "event");
    const char *ver = json_string_value(json_object_get(r, "room_version"));
    const struct mxr_room_version *rv = ver ? mxr_room_version_get(ver, NULL) : NULL;
    int rc = -1;
    struct mxr_err err = {0};
    if (st != 200 || !json_is_object(tmpl) || !rv) {
        fprintf(stderr, "bench: make_join for %s: HTTP %ld\n", sv->user, st);
        goto out;
    }
    json_t *ev = json_deep_copy(tmpl);
    json_object_set_new(ev, "origin_server_ts", json_integer(bf_now_ms()));
    if (mxr_pdu_sign(ev, rv, sv->name, &sv->key, &err) < 0 || mxr_event_compute_id(ev, rv, sv->join_id, &err) < 0) {
        fprintf(stderr, "bench: signing the join of %s: %s\n", sv->user, err.msg);
        json_decref(ev);
        goto out;
    }
    *depth = json_integer_value(json_object_get(ev, "depth"));
    char *qe = curl_easy_escape(e->curl, sv->join_id, 0);
    snprintf(uri, sizeof uri, "/_matrix/federation/v2/send_join/%s/%s", qr, qe);
    curl_free(qe);
    json_t *r2 = bf_fed(e, s, "PUT", uri, ev, &st);
    json_decref(ev);
    json_decref(r2);
    if (st != 200) {
        fprintf(stderr, "bench: send_join for %s: HTTP %ld\n", sv->user, st);
        goto out;
    }
    *rvp = rv;
    rc = 0;
out:
    json_decref(r);
    curl_free(qr);
    curl_free(qu);
    return rc;
}

/* ---- the relay ------------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* MXRELAY, else $MXR_BUILDDIR/mxrelay, else the mxrelay two levels above
 * this program (build/tests/bench/bench_x -> build/mxrelay). */
static int find_relay(char *out, size_t cap)
{
    const char *env = getenv("MXRELAY");
    if (env && access(env, X_OK) == 0)
        return snprintf(out, cap, "%s", env) < (int)cap ? 0 : -1;
    env = getenv("MXR_BUILDDIR");
    if (env) {
        if (snprintf(out, cap, "%s/mxrelay", env) < (int)cap && access(out, X_OK) == 0)
            return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        for (int up = 0; up < 3; up++) {
            char *sl = strrchr(self, '/');
            if (sl)
                *sl = '\0';
        }
        if (snprintf(out, cap, "%s/mxrelay", self) < (int)cap && access(out, X_OK) == 0)
            return 0;
    }
    fprintf(stderr, "bench: mxrelay not found (set MXRELAY or MXR_BUILDDIR)\n");
    return -1;
}

static int write_config(struct bf_env *e, int port, int key_port, const char *extra)
{
    char path[300];
    snprintf(path, sizeof path, "%s/mxrelay.yaml", e->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "server_name: \"%s\"\ndata_dir: \"%s/data\"\nsigning_key_path: \"%s/signing.key\"\n"
            "tls_certificate: \"%s\"\ntls_private_key: \"%s\"\n"
            "listeners:\n  - type: https\n    bind_address: 127.0.0.1\n    port: %d\n"
            "federation_verify_certificates: true\nfederation_ca_file: \"%s\"\n"
            "federation_allow_private_addresses: true\nregistration_enabled: true\n"
            "log_level: \"%s\"\n%s\nfederation_static_map:\n",
            e->relay_name, e->dir, e->dir, e->crt, e->key, port, e->ca,
            getenv("MXR_LOG_LEVEL") ? getenv("MXR_LOG_LEVEL") : "info", extra ? extra : "");
    for (size_t i = 0; i < e->n_srv; i++)
        fprintf(f, "  \"%s\": \"127.0.0.1:%d\"\n", e->srv[i].name, key_port);
    fclose(f);
    return 0;
}

static int wait_ready(struct bf_env *e)
{
    double until = bf_now() + 30;
    while (bf_now() < until) {
        int status;
        if (waitpid(e->relay_pid, &status, WNOHANG) == e->relay_pid) {
            e->relay_pid = 0;
            fprintf(stderr, "bench: the relay exited during start-up (log: %s/relay.log)\n", e->dir);
            return -1;
        }
        long st = 0;
        json_t *r = request(e, "GET", "/_matrix/federation/v1/version", NULL, NULL, &st);
        json_decref(r);
        if (st == 200)
            return 0;
        usleep(100 * 1000);
    }
    fprintf(stderr, "bench: the relay did not answer in 30 s\n");
    return -1;
}

int bf_start(struct bf_env *e, size_t n_servers, const char *extra_config)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "%s/mxr-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(e->dir)) {
        perror("bench: mkdtemp");
        e->dir[0] = '\0';
        return -1;
    }
    snprintf(e->relay_name, sizeof e->relay_name, "hs.bench.test");
    e->srv = calloc(n_servers ? n_servers : 1, sizeof *e->srv);
    e->curl = curl_easy_init();
    if (!e->srv || !e->curl)
        return -1;
    e->n_srv = n_servers;
    for (size_t i = 0; i < n_servers; i++) {
        struct bf_server *s = &e->srv[i];
        struct mxr_err err = {0};
        snprintf(s->name, sizeof s->name, "r%zu.bench.test", i + 1);
        snprintf(s->user, sizeof s->user, "@u:%s", s->name);
        if (mxr_key_generate(&s->key, "bench", &err) < 0 || !(s->key_response = key_response(s)))
            return -1;
    }
    char relay[PATH_MAX];
    int key_port = 0, port = free_port();
    if (find_relay(relay, sizeof relay) < 0 || make_certs(e) < 0 || start_responder(e, &key_port) < 0 || port < 0 ||
        write_config(e, port, key_port, extra_config) < 0)
        return -1;
    snprintf(e->base_url, sizeof e->base_url, "https://127.0.0.1:%d", port);
    char cfg[300], log[300];
    snprintf(cfg, sizeof cfg, "%s/mxrelay.yaml", e->dir);
    snprintf(log, sizeof log, "%s/relay.log", e->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(relay, relay, "--config", cfg, (char *)NULL);
        _exit(127);
    }
    e->relay_pid = pid;
    e->starting = true;
    int rc = wait_ready(e);
    e->starting = false;
    return rc;
}

void bf_stop(struct bf_env *e)
{
    if (e->relay_pid > 0) {
        kill(e->relay_pid, SIGTERM);
        int status;
        for (int i = 0; i < 150 && waitpid(e->relay_pid, &status, WNOHANG) == 0; i++)
            usleep(100 * 1000);
        if (waitpid(e->relay_pid, &status, WNOHANG) == 0) {
            kill(e->relay_pid, SIGKILL);
            waitpid(e->relay_pid, &status, 0);
        }
        e->relay_pid = 0;
    }
    if (e->mhd)
        MHD_stop_daemon(e->mhd);
    e->mhd = NULL;
    free(e->mhd_cert);
    free(e->mhd_key);
    e->mhd_cert = e->mhd_key = NULL;
    if (e->curl)
        curl_easy_cleanup(e->curl);
    e->curl = NULL;
    for (size_t i = 0; i < e->n_srv; i++) {
        free(e->srv[i].key_response);
        mxr_key_wipe(&e->srv[i].key);
    }
    free(e->srv);
    e->srv = NULL;
    if (e->dir[0] && !getenv("MXR_BENCH_KEEP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", e->dir);
    } else if (e->dir[0]) {
        fprintf(stderr, "bench: scratch dir kept: %s\n", e->dir);
    }
}
