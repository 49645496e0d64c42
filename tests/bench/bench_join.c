/* bench_join: issue 9, benchmark 2. A fake resident homeserver (libmicrohttpd
 * over TLS) serves a generated room of MEMBERS members, every event signed
 * and hashed with libmxrproto, and a relay started by the bench joins it
 * through the client API (POST /join/{roomId}?server_name=...). Prints the
 * time from the relay's make_join to the join's answer, the relay's RSS
 * during the join, and, in the same run, the time that verifying the same
 * events' signatures takes alone; the ratio of the two is the target
 * ("join ratio (100k): X (goal <= 3)"). Not a test: figures only.
 *
 * Usage: bench_join [MEMBERS ...]     (default: 10000 100000)
 * Environment: MXRELAY (the relay binary; default ../../mxrelay from this
 * program), BENCH_JOIN_KEEP=1 keeps the scratch directory,
 * BENCH_JOIN_PERF=CMD runs the relay under CMD (e.g. "perf record -g -o F").
 *
 * The room (version 11, on the fake server "fake.bench"): create, the
 * admin's join, power levels, public join rules, then MEMBERS-1 joins, a
 * linear DAG, each with its proper auth events (create, power levels, join
 * rules). send_join (v2) answers the whole state (MEMBERS + 3 events) and
 * its auth chain (4 events).
 *
 * The baseline is what the relay's step 2 does per event
 * (mxr_pdu_check_signatures: redact, canonical JSON, one ed25519
 * verification) over the same distinct events, on one thread and on two;
 * the bare ed25519 verifications of the same payloads are printed too. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "mxr/base64.h"
#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/keys.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"

#define FAKE "fake.bench"
#define RELAY "relay.bench"
#define ROOM "!bench:" FAKE
#define ADMIN "@admin:" FAKE
#define ROOM_VERSION "11"

static pid_t relay_pid;   /* stopped by die() too */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    if (relay_pid > 0)
        kill(relay_pid, SIGTERM);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_join: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the room ------------------------------------------------------------------ */

struct room {
    const struct mxr_room_version *rv;
    struct mxr_signing_key key;
    json_t *events;          /* every event, DAG order */
    char create[MXR_ID_MAX + 1], pl[MXR_ID_MAX + 1], jr[MXR_ID_MAX + 1];
    char last[MXR_ID_MAX + 1];
    int64_t depth, ts;
    char *send_join_body;    /* the send_join answer, serialised once */
    size_t send_join_len;
};

static const char *add_event(struct room *r, const char *type, const char *state_key, const char *sender,
                             json_t *content, const char *const *auth, char out[MXR_ID_MAX + 1])
{
    json_t *authj = json_array(), *prev = json_array();
    for (size_t i = 0; auth[i]; i++)
        json_array_append_new(authj, json_string(auth[i]));
    if (r->last[0])
        json_array_append_new(prev, json_string(r->last));
    json_t *pdu = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:s}", "room_id", ROOM, "sender", sender,
                            "type", type, "state_key", state_key, "content", content, "origin_server_ts",
                            (json_int_t)r->ts++, "depth", (json_int_t)++r->depth, "prev_events", prev,
                            "auth_events", authj, "origin", FAKE);
    struct mxr_err e = { 0 };
    if (!pdu || mxr_pdu_sign(pdu, r->rv, FAKE, &r->key, &e) < 0 || mxr_event_compute_id(pdu, r->rv, out, &e) < 0)
        die("building an event: %s", e.msg);
    snprintf(r->last, sizeof r->last, "%s", out);
    json_array_append_new(r->events, pdu);
    return out;
}

static void build_room(struct room *r, size_t members)
{
    struct mxr_err e = { 0 };
    memset(r, 0, sizeof *r);
    r->rv = mxr_room_version_get(ROOM_VERSION, &e);
    if (!r->rv || mxr_key_generate(&r->key, "bench", &e) < 0)
        die("setup: %s", e.msg);
    r->events = json_array();
    r->ts = now_ms() - 86400000;
    char admin_join[MXR_ID_MAX + 1], id[MXR_ID_MAX + 1];
    add_event(r, "m.room.create", "", ADMIN, json_pack("{s:s}", "room_version", ROOM_VERSION),
              (const char *[]){ NULL }, r->create);
    add_event(r, "m.room.member", ADMIN, ADMIN, json_pack("{s:s}", "membership", "join"),
              (const char *[]){ r->create, NULL }, admin_join);
    add_event(r, "m.room.power_levels", "", ADMIN, json_pack("{s:{s:i}, s:i}", "users", ADMIN, 100, "users_default", 0),
              (const char *[]){ r->create, admin_join, NULL }, r->pl);
    add_event(r, "m.room.join_rules", "", ADMIN, json_pack("{s:s}", "join_rule", "public"),
              (const char *[]){ r->create, r->pl, admin_join, NULL }, r->jr);
    for (size_t i = 1; i < members; i++) {
        char user[64];
        snprintf(user, sizeof user, "@u%07zu:%s", i, FAKE);
        add_event(r, "m.room.member", user, user, json_pack("{s:s, s:s}", "membership", "join", "displayname", user + 1),
                  (const char *[]){ r->create, r->pl, r->jr, NULL }, id);
    }
    /* state: every event (all are state, each key once); auth chain: the
     * first four (create, admin join, power levels, join rules). */
    json_t *chain = json_array();
    for (size_t i = 0; i < 4; i++)
        json_array_append(chain, json_array_get(r->events, i));
    json_t *body = json_pack("{s:s, s:O, s:o, s:b, s:[s]}", "origin", FAKE, "state", r->events, "auth_chain", chain,
                             "members_omitted", 0, "servers_in_room", FAKE);
    r->send_join_body = json_dumps(body, JSON_COMPACT);
    if (!r->send_join_body)
        die("serialising the send_join answer");
    r->send_join_len = strlen(r->send_join_body);
    json_decref(body);
}

/* ---- the fake resident server --------------------------------------------------- */

struct fake {
    struct MHD_Daemon *d;
    struct room *room;
    uint16_t port;
    char *keys_body;
    _Atomic double t_make_join, t_send_join_in, t_send_join_sent;
    atomic_int n_requests, n_other;
};

struct conn {
    bool is_send_join;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return MHD_NO;
    return reply(c, status, s, strlen(s), MHD_RESPMEM_MUST_FREE);
}

static bool prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct fake *f = cls;
    (void)version;
    (void)upload;
    if (!*con_cls) {   /* first call: headers only */
        struct conn *cn = calloc(1, sizeof *cn);
        if (!cn)
            return MHD_NO;
        cn->is_send_join = prefix(url, "/_matrix/federation/v2/send_join/");
        *con_cls = cn;
        atomic_fetch_add(&f->n_requests, 1);
        if (prefix(url, "/_matrix/federation/v1/make_join/"))
            f->t_make_join = mono();
        return MHD_YES;
    }
    if (*upload_size) {   /* bodies are not needed */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/_matrix/key/v2/server") == 0)
        return reply(c, 200, f->keys_body, strlen(f->keys_body), MHD_RESPMEM_PERSISTENT);
    if (strcmp(method, "GET") == 0 && prefix(url, "/_matrix/federation/v1/make_join/")) {
        /* URL already unescaped by MHD: ROOM "/" USER (neither has '/'). */
        const char *rest = url + strlen("/_matrix/federation/v1/make_join/");
        const char *slash = strchr(rest, '/');
        if (!slash || (size_t)(slash - rest) != strlen(ROOM) || strncmp(rest, ROOM, strlen(ROOM)) != 0)
            return reply_json(c, 404, json_pack("{s:s, s:s}", "errcode", "M_NOT_FOUND", "error", "no such room"));
        const char *user = slash + 1;
        struct room *r = f->room;
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:I, s:I, s:[s], s:[s,s,s], s:s}", "room_id", ROOM,
                               "sender", user, "type", "m.room.member", "state_key", user, "content", "membership",
                               "join", "origin_server_ts", (json_int_t)now_ms(), "depth", (json_int_t)(r->depth + 1),
                               "prev_events", r->last, "auth_events", r->create, r->pl, r->jr, "origin", FAKE);
        return reply_json(c, 200, json_pack("{s:s, s:o}", "room_version", ROOM_VERSION, "event", ev));
    }
    if (strcmp(method, "PUT") == 0 && prefix(url, "/_matrix/federation/v2/send_join/")) {
        f->t_send_join_in = mono();
        return reply(c, 200, f->room->send_join_body, f->room->send_join_len, MHD_RESPMEM_PERSISTENT);
    }
    atomic_fetch_add(&f->n_other, 1);
    if (getenv("BENCH_JOIN_VERBOSE"))
        fprintf(stderr, "bench_join: fake server: %s %s (404)\n", method, url);
    if (strcmp(method, "PUT") == 0 && prefix(url, "/_matrix/federation/v1/send/"))
        return reply_json(c, 200, json_pack("{s:{}}", "pdus"));
    return reply_json(c, 404, json_pack("{s:s, s:s}", "errcode", "M_UNRECOGNIZED", "error", "not served by the bench"));
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct fake *f = cls;
    struct conn *cn = *con_cls;
    (void)c;
    if (cn && cn->is_send_join && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        f->t_send_join_sent = mono();
    free(cn);
    *con_cls = NULL;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        die("reading %s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, fp) != (size_t)n)
        die("reading %s", path);
    s[n] = '\0';
    fclose(fp);
    return s;
}

static void fake_start(struct fake *f, struct room *r, const char *dir)
{
    memset(f, 0, sizeof *f);
    f->room = r;
    char b64[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(&r->key, b64);
    json_t *keys = json_pack("{s:s, s:I, s:{s:{s:s}}, s:{}}", "server_name", FAKE, "valid_until_ts",
                             (json_int_t)(now_ms() + 7 * 86400000LL), "verify_keys", r->key.key_id, "key", b64,
                             "old_verify_keys");
    struct mxr_err e = { 0 };
    if (!keys || mxr_sign_json(keys, FAKE, &r->key, &e) < 0)
        die("signing the key response: %s", e.msg);
    f->keys_body = json_dumps(keys, JSON_COMPACT);
    json_decref(keys);
    char kpath[512], cpath[512];
    snprintf(kpath, sizeof kpath, "%s/fake.key", dir);
    snprintf(cpath, sizeof cpath, "%s/fake.crt", dir);
    char *key = slurp(kpath), *crt = slurp(cpath);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0 };
    f->d = MHD_start_daemon(MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, handler, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, crt,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, f, MHD_OPTION_CONNECTION_TIMEOUT, 600u,
                            MHD_OPTION_END);
    if (!f->d)
        die("starting the fake server (libmicrohttpd with TLS)");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port)
        die("fake server port");
    f->port = info->port;
    free(key);
    free(crt);
}

/* ---- the relay ------------------------------------------------------------------- */

static uint16_t free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0 };
    socklen_t len = sizeof sa;
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(s, (struct sockaddr *)&sa, &len) < 0)
        die("free port: %s", strerror(errno));
    close(s);
    return ntohs(sa.sin_port);
}

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t k = size * nmemb;
    char *q = realloc(b->p, b->n + k + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, ptr, k);
    b->p = q;
    b->n += k;
    b->p[b->n] = '\0';
    return k;
}

/* A client API call; the parsed body (or NULL) and the status. */
static json_t *http(uint16_t port, const char *method, const char *path, const char *token, json_t *body,
                    long timeout_s, long *status)
{
    CURL *c = curl_easy_init();
    char url[1024], auth[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct buf b = { 0 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (payload)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    *status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
    if (!j && b.p && *status >= 400)
        fprintf(stderr, "bench_join: %s %s: %ld %s\n", method, path, *status, b.p);
    free(b.p);
    free(payload);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return j;
}

static void write_config(const char *dir, uint16_t client_port, uint16_t fake_port)
{
    char path[512];
    snprintf(path, sizeof path, "%s/relay.yaml", dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        die("writing %s", path);
    fprintf(fp,
            "server_name: \"%s\"\n"
            "data_dir: \"%s/data\"\n"
            "listeners:\n"
            "  - type: http\n"
            "    bind_address: 127.0.0.1\n"
            "    port: %u\n"
            "federation_verify_certificates: true\n"
            "federation_ca_file: \"%s/fake.crt\"\n"
            "federation_allow_private_addresses: true\n"
            "registration_enabled: true\n"
            "log_level: warn\n"
            "federation_static_map:\n"
            "  \"%s\": \"127.0.0.1:%u\"\n",
            RELAY, dir, client_port, dir, FAKE, fake_port);
    fclose(fp);
}

static pid_t start_relay(const char *relay_bin, const char *dir)
{
    char cfg[512], logp[512];
    snprintf(cfg, sizeof cfg, "%s/relay.yaml", dir);
    snprintf(logp, sizeof logp, "%s/relay.log", dir);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        FILE *lf = freopen(logp, "a", stderr);
        (void)lf;
        const char *wrap = getenv("BENCH_JOIN_PERF");
        if (wrap && *wrap) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd, "exec %s %s --config %s", wrap, relay_bin, cfg);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        } else {
            execl(relay_bin, relay_bin, "--config", cfg, (char *)NULL);
        }
        _exit(127);
    }
    return pid;
}

/* kB of a /proc/PID/status field, -1 if gone. */
static long proc_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return v;
}

static double proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double loadavg(void)
{
    double l = -1;
    FILE *fp = fopen("/proc/loadavg", "r");
    if (fp) {
        if (fscanf(fp, "%lf", &l) != 1)
            l = -1;
        fclose(fp);
    }
    return l;
}

struct sampler {
    pid_t pid;
    atomic_bool stop;
    long peak_kb;
    pthread_t th;
};

static void *sample(void *arg)
{
    struct sampler *s = arg;
    while (!atomic_load(&s->stop)) {
        long v = proc_kb(s->pid, "VmRSS");
        if (v > s->peak_kb)
            s->peak_kb = v;
        usleep(10000);
    }
    return NULL;
}

/* ---- the baseline: the same events' signatures, alone ----------------------------- */

struct vjob {
    json_t *events;
    const struct room *room;
    size_t from, to;
    bool raw;
    unsigned char **payload;
    size_t *plen;
    unsigned char (*sig)[64];
    size_t bad;
};

static void *verify_range(void *arg)
{
    struct vjob *v = arg;
    struct mxr_single_key sk = { .server = FAKE, .key_id = v->room->key.key_id };
    memcpy(sk.public_key, v->room->key.public_key, 32);
    struct mxr_verify_keys keys = { mxr_single_key_lookup, &sk };
    for (size_t i = v->from; i < v->to; i++) {
        if (v->raw) {
            if (crypto_sign_verify_detached(v->sig[i], v->payload[i], v->plen[i], v->room->key.public_key) != 0)
                v->bad++;
        } else if (mxr_pdu_check_signatures(json_array_get(v->events, i), v->room->rv, &keys, NULL) < 0) {
            v->bad++;
        }
    }
    return NULL;
}

static double cpu_self(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of `runs` wall times (and CPU times, *cpu_best) for verifying every
 * event on `threads` threads. */
static double verify_time(struct room *r, unsigned threads, bool raw, unsigned char **payload, size_t *plen,
                          unsigned char (*sig)[64], int runs, double *cpu_best)
{
    size_t n = json_array_size(r->events);
    double best = 1e30;
    for (int run = 0; run < runs; run++) {
        struct vjob jobs[2];
        pthread_t th[2];
        double c0 = cpu_self();
        double t0 = mono();
        for (unsigned t = 0; t < threads; t++) {
            jobs[t] = (struct vjob){ r->events, r, n * t / threads, n * (t + 1) / threads, raw, payload, plen, sig, 0 };
            if (pthread_create(&th[t], NULL, verify_range, &jobs[t]) != 0)
                die("pthread_create");
        }
        for (unsigned t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            if (jobs[t].bad)
                die("baseline: %zu signatures did not verify", jobs[t].bad);
        }
        double dt = mono() - t0, dc = cpu_self() - c0;
        if (dt < best)
            best = dt;
        if (dc < *cpu_best)
            *cpu_best = dc;
    }
    return best;
}

struct baseline {
    double v1, v2, raw1, raw2;   /* best wall times */
    double cpu1, cpu_raw1;       /* best CPU times, one thread */
};

static void measure_baseline(struct room *r, struct baseline *b)
{
    size_t n_events = json_array_size(r->events);
    unsigned char **payload = calloc(n_events, sizeof *payload);
    size_t *plen = calloc(n_events, sizeof *plen);
    unsigned char(*sig)[64] = calloc(n_events, sizeof *sig);
    for (size_t i = 0; i < n_events; i++) {
        struct mxr_err e = { 0 };
        json_t *ev = json_array_get(r->events, i);
        json_t *red = mxr_event_redact(ev, r->rv, &e);
        payload[i] = red ? (unsigned char *)mxr_sign_payload(red, &plen[i], &e) : NULL;
        const char *s = json_string_value(json_object_get(json_object_get(json_object_get(ev, "signatures"), FAKE),
                                                          r->key.key_id));
        if (!payload[i] || !s || mxr_b64_decode(sig[i], sizeof sig[i], s, strlen(s), MXR_B64_STD, &e) != 64)
            die("baseline payload: %s", e.msg);
        json_decref(red);
    }
    double ignore = 1e30, t;
    int runs = n_events >= 50000 ? 1 : 3;
    if ((t = verify_time(r, 1, false, payload, plen, sig, runs, &b->cpu1)) < b->v1)
        b->v1 = t;
    if ((t = verify_time(r, 2, false, payload, plen, sig, runs, &ignore)) < b->v2)
        b->v2 = t;
    if ((t = verify_time(r, 1, true, payload, plen, sig, runs, &b->cpu_raw1)) < b->raw1)
        b->raw1 = t;
    if ((t = verify_time(r, 2, true, payload, plen, sig, runs, &ignore)) < b->raw2)
        b->raw2 = t;
    for (size_t i = 0; i < n_events; i++)
        free(payload[i]);
    free(payload);
    free(plen);
    free(sig);
}

/* ---- one size ------------------------------------------------------------------------ */

static void run_size(const char *relay_bin, size_t members)
{
    char dir[] = "/tmp/bench_join.XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/fake.key "
             "-out %s/fake.crt -days 2 -subj /CN=%s -addext subjectAltName=DNS:%s,IP:127.0.0.1 "
             "-addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1",
             dir, dir, FAKE, FAKE);
    if (system(cmd) != 0)
        die("openssl could not make the fake server's certificate");

    double g0 = mono();
    struct room r;
    build_room(&r, members);
    size_t n_events = json_array_size(r.events);
    printf("room: %zu members, version %s; send_join answer: %zu state + 4 auth chain events, %.1f MB JSON "
           "(generated and signed in %.1f s)\n",
           members, ROOM_VERSION, n_events, (double)r.send_join_len / 1e6, mono() - g0);

    /* Baseline before and after the join (the relay idle or stopped: the
     * cores are ours); the best of both, as the machine may be shared. */
    struct baseline base = { .cpu1 = 1e30, .cpu_raw1 = 1e30, .v1 = 1e30, .v2 = 1e30, .raw1 = 1e30, .raw2 = 1e30 };
    measure_baseline(&r, &base);
    struct fake f;
    fake_start(&f, &r, dir);
    uint16_t cport = free_port();
    write_config(dir, cport, f.port);
    pid_t pid = start_relay(relay_bin, dir);
    relay_pid = pid;
    long st = 0;
    json_t *j = NULL;
    for (double t0 = mono(); mono() - t0 < 60;) {
        int wst;
        if (waitpid(pid, &wst, WNOHANG) == pid)
            die("the relay exited at start (see %s/relay.log)", dir);
        j = http(cport, "GET", "/_matrix/client/versions", NULL, NULL, 5, &st);
        json_decref(j);
        if (st == 200)
            break;
        usleep(50000);
    }
    if (st != 200)
        die("the relay did not answer on port %u", cport);

    /* A user: registration with the dummy stage. */
    json_t *reg = json_pack("{s:s, s:s, s:b}", "username", "joiner", "password", "bench-join-password-1",
                            "inhibit_login", 0);
    j = http(cport, "POST", "/_matrix/client/v3/register", NULL, reg, 30, &st);
    if (st == 401 && j) {
        json_object_set_new(reg, "auth", json_pack("{s:s, s:O}", "type", "m.login.dummy", "session",
                                                   json_object_get(j, "session")));
        json_decref(j);
        j = http(cport, "POST", "/_matrix/client/v3/register", NULL, reg, 30, &st);
    }
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    if (st != 200 || !tok)
        die("register: status %ld", st);
    char *token = strdup(tok);
    json_decref(j);
    json_decref(reg);

    double load0 = loadavg();
    long rss_before = proc_kb(pid, "VmRSS");
    double cpu0 = proc_cpu_s(pid);
    struct sampler smp = { .pid = pid, .peak_kb = rss_before };
    pthread_create(&smp.th, NULL, sample, &smp);
    double t_call = mono();
    json_t *empty = json_object();
    j = http(cport, "POST", "/_matrix/client/v3/join/%21bench%3A" FAKE "?server_name=" FAKE, token, empty, 1800,
             &st);
    double t_joined = mono();
    atomic_store(&smp.stop, true);
    pthread_join(smp.th, NULL);
    double cpu1 = proc_cpu_s(pid);
    json_decref(empty);
    if (st != 200 || !json_is_string(json_object_get(j, "room_id")))
        die("join: status %ld (see %s/relay.log)", st, dir);
    json_decref(j);
    j = http(cport, "GET", "/_matrix/client/v3/joined_rooms", token, NULL, 30, &st);
    bool listed = false;
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(j, "joined_rooms"), k, v) listed = listed || strcmp(json_string_value(v), ROOM) == 0;
    json_decref(j);
    if (!listed)
        die("the join returned 200 but /joined_rooms does not list the room");
    long hwm = proc_kb(pid, "VmHWM");
    kill(pid, SIGTERM);
    int wst;
    waitpid(pid, &wst, 0);
    relay_pid = 0;
    MHD_stop_daemon(f.d);

    measure_baseline(&r, &base);
    double v1 = base.v1, v2 = base.v2, raw1 = base.raw1, raw2 = base.raw2;
    double t_mj = f.t_make_join, t_in = f.t_send_join_in, t_sent = f.t_send_join_sent;
    double join = t_joined - t_mj;
    printf("join: client call to make_join %.3f s; make_join to send_join %.3f s; send_join answer sent %.2f s "
           "later; then %.2f s to the join's answer\n",
           t_mj - t_call, t_in - t_mj, t_sent - t_in, t_joined - t_sent);
    printf("join time (make_join to joined): %.2f s; relay CPU during the join %.2f s (%.2f cores); "
           "%d other requests to the fake server\n",
           join, cpu1 - cpu0, (cpu1 - cpu0) / (t_joined - t_call), atomic_load(&f.n_other));
    printf("machine load average (1 min) at the join's start %.1f, at its end %.1f (%ld cores): wall times stretch "
           "with it, CPU times do not\n",
           load0, loadavg(), sysconf(_SC_NPROCESSORS_ONLN));
    printf("relay RSS: %.1f MiB before, peak %.1f MiB sampled during the join, VmHWM %.1f MiB\n",
           (double)rss_before / 1024, (double)smp.peak_kb / 1024, (double)hwm / 1024);
    printf("signatures alone (%zu events, mxr_pdu_check_signatures: redact + canonical JSON + ed25519): "
           "1 thread %.2f s, 2 threads %.2f s\n",
           n_events, v1, v2);
    printf("bare ed25519 verifications of the same payloads: 1 thread %.2f s, 2 threads %.2f s\n", raw1, raw2);
    printf("ratio join / signatures alone: %.2f (vs 1 thread), %.2f (vs 2 threads); vs bare ed25519: %.2f / %.2f\n",
           join / v1, join / v2, join / raw1, join / raw2);
    printf("CPU: relay %.2f s during the join vs %.2f s CPU for the signature checks alone (%.2f bare ed25519): "
           "CPU ratio %.2f\n",
           cpu1 - cpu0, base.cpu1, base.cpu_raw1, (cpu1 - cpu0) / base.cpu1);
    printf("join ratio (%zuk): %.1f (goal <= 3)  [wall, vs the 2-thread signature check; %.1f vs 1 thread; "
           "CPU ratio %.1f]\n",
           members / 1000, join / v2, join / v1, (cpu1 - cpu0) / base.cpu1);
    fflush(stdout);
    free(token);
    free(f.keys_body);
    free(r.send_join_body);
    json_decref(r.events);
    mxr_key_wipe(&r.key);
    if (!getenv("BENCH_JOIN_KEEP")) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_join: could not remove %s\n", dir);
    } else {
        printf("kept %s\n", dir);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        die("library init");
    signal(SIGPIPE, SIG_IGN);
    char relay_bin[1024];
    const char *env = getenv("MXRELAY");
    if (env && *env) {
        snprintf(relay_bin, sizeof relay_bin, "%s", env);
    } else {
        char self[900];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            die("readlink /proc/self/exe");
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        *slash = '\0';
        snprintf(relay_bin, sizeof relay_bin, "%s/../../mxrelay", self);
    }
    if (access(relay_bin, X_OK) != 0)
        die("relay binary %s not found (set MXRELAY)", relay_bin);
    printf("join of a remote room through the client API: fake resident server over TLS (libmicrohttpd), "
           "relay %s, %ld cores\n", relay_bin, sysconf(_SC_NPROCESSORS_ONLN));
    size_t sizes[16] = { 10000, 100000 }, n = 2;
    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < 16; i++)
            sizes[n++] = strtoul(argv[i], NULL, 10);
    }
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] < 2)
            die("MEMBERS must be at least 2");
        printf("\n");
        run_size(relay_bin, sizes[i]);
    }
    curl_global_cleanup();
    return 0;
}
