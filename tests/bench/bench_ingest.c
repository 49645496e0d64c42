/* Benchmarks 1, 3 and 5 of issue 9 against a running relay (the harness
 * starts one from the build tree, bench_fed.c):
 *
 *   5. idle memory: the relay's RSS with one user and one room;
 *   1. ingest: K remote servers, each with its own key and user in one room,
 *      send /send transactions of 50 signed m.room.message PDUs over C
 *      concurrent connections; PDUs accepted per second, transaction
 *      latency, the relay's CPU per 1,000 PDUs and its peak RSS. The same
 *      PDUs then go through the bound: ed25519 verification, SHA-256 and
 *      canonical JSON of the same bytes and LMDB puts batched as the
 *      transactions are, in this process, on this machine (RESULTS.md
 *      defines the ratio);
 *   3. sync: the user in R rooms (default 1,000); initial /sync latency, then
 *      incremental /sync latency while ingest runs at half its measured
 *      maximum rate.
 *
 * Usage: bench_ingest [-k servers] [-c connections] [-n txns per server]
 *                     [-r rooms] [-s] [-t threads]
 * -s: skip the sync benchmark; -t: the relay's thread_pool_size (default:
 * the relay's own default).
 * MXR_BENCH_PERF=FILE records `perf record --call-graph dwarf` of the relay during the
 * ingest run into FILE; MXR_BENCH_DEBUG=1 prints curl's timings of every
 * transaction; MXR_BENCH_KEEP=1 keeps the scratch dir (config, relay log). */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mxr/json.h"
#include "mxr/pdu.h"
#include "mxr/sign.h"
#include "tests/bench/bench_bound.h"
#include "tests/bench/bench_fed.h"

#define PDUS_PER_TXN 50

struct txn {
    char uri[128];
    char *body;
    size_t len;
    char auth[600];
};

/* One remote server's chain of messages: each PDU's prev is its previous
 * one, the first's the last join (so every chain shares the state after the
 * joins and no resolution is needed). */
struct lane {
    char prev[MXR_ID_MAX + 1];
    int64_t depth;
    struct txn *txns;
    size_t n;
};

struct room {
    char id[MXR_ID_MAX + 1];
    char create[MXR_ID_MAX + 1], power[MXR_ID_MAX + 1];
    const struct mxr_room_version *rv;
};

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- generation ----------------------------------------------------------------- */

/* Appends n transactions of 50 messages to every lane; copies of the PDUs
 * go to *copies when given (the bound runs over them). */
static int generate(struct bf_env *e, const struct room *rm, struct lane *lanes, size_t n, const char *tag,
                    struct pdu_copy **copies, size_t *n_copies)
{
    size_t k = e->n_srv;
    if (copies) {
        *copies = calloc(k * n * PDUS_PER_TXN, sizeof **copies);
        *n_copies = 0;
        if (!*copies)
            return -1;
    }
    for (size_t s = 0; s < k; s++) {
        struct lane *l = &lanes[s];
        struct bf_server *sv = &e->srv[s];
        struct txn *nt = realloc(l->txns, (l->n + n) * sizeof *nt);
        if (!nt)
            return -1;
        l->txns = nt;
        for (size_t t = 0; t < n; t++) {
            json_t *pdus = json_array();
            for (size_t p = 0; p < PDUS_PER_TXN; p++) {
                struct mxr_err err = {0};
                l->depth++;
                json_t *pdu = json_pack("{s:[s,s,s], s:{s:s, s:s}, s:I, s:I, s:[s], s:s, s:s, s:s}", "auth_events",
                                        rm->create, rm->power, sv->join_id, "content", "msgtype", "m.text", "body",
                                        "a benchmark message of about the size of a short chat line",
                                        "depth", (json_int_t)l->depth, "origin_server_ts", (json_int_t)bf_now_ms(),
                                        "prev_events", l->prev, "room_id", rm->id, "sender", sv->user, "type",
                                        "m.room.message");
                if (!pdu || mxr_pdu_sign(pdu, rm->rv, sv->name, &sv->key, &err) < 0 ||
                    mxr_event_compute_id(pdu, rm->rv, l->prev, &err) < 0) {
                    fprintf(stderr, "bench: building a PDU: %s\n", err.msg);
                    json_decref(pdu);
                    json_decref(pdus);
                    return -1;
                }
                if (copies) {
                    struct pdu_copy *c = &(*copies)[(*n_copies)++];
                    snprintf(c->id, sizeof c->id, "%s", l->prev);
                    if (bb_copy_fill(c, pdu, rm->rv, sv) < 0)
                        return -1;
                }
                json_array_append_new(pdus, pdu);
            }
            struct txn *x = &l->txns[l->n];
            snprintf(x->uri, sizeof x->uri, "/_matrix/federation/v1/send/%s-%zu-%zu", tag, s, l->n);
            json_t *body = json_pack("{s:s, s:I, s:o}", "origin", sv->name, "origin_server_ts",
                                     (json_int_t)bf_now_ms(), "pdus", pdus);
            x->body = json_dumps(body, JSON_COMPACT);
            x->len = x->body ? strlen(x->body) : 0;
            int rc = x->body ? bf_xmatrix(e, s, "PUT", x->uri, body, x->auth, sizeof x->auth) : -1;
            json_decref(body);
            if (rc < 0)
                return -1;
            l->n++;
        }
    }
    return 0;
}

/* ---- the load ----------------------------------------------------------------- */

struct stats {
    size_t txns, pdus_ok, pdus_err, retries;
    double *lat;       /* ms, one per transaction */
    double wall, relay_cpu, self_cpu, relay_wait;
};

struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    char *resp;
    size_t resp_len;
    size_t lane;
    double t0;
};

static size_t on_resp(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    char *np = realloc(x->resp, x->resp_len + n + 1);
    if (!np)
        return 0;
    memcpy(np + x->resp_len, data, n);
    x->resp_len += n;
    np[x->resp_len] = '\0';
    x->resp = np;
    return n;
}

/* Counts the per-PDU results of a /send response; 0 or -1 (not a /send
 * response). */
static int count_results(const char *body, size_t len, struct stats *st)
{
    json_t *r = json_loadb(body ? body : "", len, 0, NULL);
    json_t *pdus = json_object_get(r, "pdus");
    if (!json_is_object(pdus)) {
        json_decref(r);
        return -1;
    }
    const char *id;
    json_t *v;
    json_object_foreach(pdus, id, v) {
        if (json_object_get(v, "error")) {
            if (st->pdus_err++ < 3)
                fprintf(stderr, "bench: PDU %s: %s\n", id, json_string_value(json_object_get(v, "error")));
        } else {
            st->pdus_ok++;
        }
    }
    json_decref(r);
    return 0;
}

/* The load generator's connections: a multi handle (whose connection
 * cache keeps them open between runs) and `conc` easy handles. */
struct loader {
    CURLM *m;
    struct xfer *xs;
    size_t conc;
};

static void xfer_setup(struct bf_env *e, struct xfer *x, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", e->base_url, path);
    x->resp_len = 0;
    curl_easy_reset(x->h);
    curl_easy_setopt(x->h, CURLOPT_URL, url);
    curl_easy_setopt(x->h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(x->h, CURLOPT_CAINFO, e->ca);
    curl_easy_setopt(x->h, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(x->h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_resp);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
}

/* Opens the connections (TLS handshakes are not part of the figures). */
static int loader_open(struct bf_env *e, struct loader *L, size_t conc)
{
    L->m = curl_multi_init();
    L->xs = calloc(conc, sizeof *L->xs);
    L->conc = conc;
    if (!L->m || !L->xs)
        return -1;
    curl_multi_setopt(L->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
    for (size_t i = 0; i < conc; i++) {
        if (!(L->xs[i].h = curl_easy_init()))
            return -1;
        xfer_setup(e, &L->xs[i], "/_matrix/federation/v1/version");
        curl_multi_add_handle(L->m, L->xs[i].h);
    }
    int running = 1;
    double until = bf_now() + 30;
    while (running && bf_now() < until) {
        curl_multi_perform(L->m, &running);
        if (running)
            curl_multi_poll(L->m, NULL, 0, 50, NULL);
    }
    for (size_t i = 0; i < conc; i++)
        curl_multi_remove_handle(L->m, L->xs[i].h);
    return running ? -1 : 0;
}

static void loader_close(struct loader *L)
{
    for (size_t i = 0; L->xs && i < L->conc; i++) {
        if (L->xs[i].hdrs) {
            curl_multi_remove_handle(L->m, L->xs[i].h);
            curl_slist_free_all(L->xs[i].hdrs);
        }
        curl_easy_cleanup(L->xs[i].h);
        free(L->xs[i].resp);
    }
    free(L->xs);
    if (L->m)
        curl_multi_cleanup(L->m);
    memset(L, 0, sizeof *L);
}

/* Sends lanes[*].txns[from..from+n) with at most L->conc transactions in
 * flight and at most one per server (a server sends its transactions one at
 * a time: spec "Transactions"); `rate` > 0 spaces the transaction starts to
 * that many per second. */
static int run_load(struct bf_env *e, struct loader *L, struct lane *lanes, size_t from, size_t n, double rate,
                    struct stats *st)
{
    size_t k = e->n_srv, total = k * n, done = 0, in_flight = 0, rr = 0, conc = L->conc;
    size_t *next = calloc(k, sizeof *next);
    bool *busy = calloc(k, sizeof *busy);
    struct xfer *xs = L->xs;
    CURLM *m = L->m;
    memset(st, 0, sizeof *st);
    st->lat = calloc(total ? total : 1, sizeof *st->lat);
    if (!next || !busy || !st->lat) {
        free(next);
        free(busy);
        return -1;
    }
    int rc = 0;
    double t_start = bf_now(), next_release = t_start, cpu0 = bf_cpu_seconds(e->relay_pid), self0 = cpu_self();
    double wait0 = bf_runqueue_seconds(e->relay_pid);
    while (done < total && rc == 0) {
        while (in_flight < conc) {
            if (rate > 0 && bf_now() < next_release)
                break;
            size_t lane = k;
            for (size_t j = 0; j < k && lane == k; j++) {
                size_t c = (rr + j) % k;
                if (!busy[c] && next[c] < n)
                    lane = c;
            }
            if (lane == k)
                break;
            rr = lane + 1;
            struct xfer *x = NULL;
            for (size_t i = 0; i < conc && !x; i++)
                if (!xs[i].hdrs)
                    x = &xs[i];
            struct txn *t = &lanes[lane].txns[from + next[lane]];
            char hdr[700];
            snprintf(hdr, sizeof hdr, "Authorization: %s", t->auth);
            /* "Expect:" off: curl would otherwise wait for 100-continue. */
            x->hdrs = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), hdr);
            x->hdrs = curl_slist_append(x->hdrs, "Expect:");
            x->lane = lane;
            xfer_setup(e, x, t->uri);
            curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, "PUT");
            curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
            curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, t->body);
            curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->len);
            x->t0 = bf_now();
            curl_multi_add_handle(m, x->h);
            busy[lane] = true;
            in_flight++;
            next_release += rate > 0 ? 1.0 / rate : 0;
        }
        int running;
        curl_multi_perform(m, &running);
        int wait_ms = 50;
        if (rate > 0) {
            double dt = next_release - bf_now();
            wait_ms = dt <= 0 ? 0 : dt < 0.05 ? (int)(dt * 1000) + 1 : 50;
        }
        curl_multi_poll(m, NULL, 0, wait_ms, NULL);
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            long status = 0;
            curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(m, x->h);
            busy[x->lane] = false;
            in_flight--;
            if (getenv("MXR_BENCH_DEBUG")) {
                curl_off_t con = 0, tls = 0, pre = 0, first = 0, tot = 0;
                curl_easy_getinfo(x->h, CURLINFO_CONNECT_TIME_T, &con);
                curl_easy_getinfo(x->h, CURLINFO_APPCONNECT_TIME_T, &tls);
                curl_easy_getinfo(x->h, CURLINFO_PRETRANSFER_TIME_T, &pre);
                curl_easy_getinfo(x->h, CURLINFO_STARTTRANSFER_TIME_T, &first);
                curl_easy_getinfo(x->h, CURLINFO_TOTAL_TIME_T, &tot);
                fprintf(stderr, "lane %zu: connect %ld tls %ld pre %ld first %ld total %ld us\n", x->lane, (long)con,
                        (long)tls, (long)pre, (long)first, (long)tot);
            }
            if (msg->data.result == CURLE_OK && status == 200 && count_results(x->resp, x->resp_len, st) == 0) {
                st->lat[st->txns++] = (bf_now() - x->t0) * 1000;
                next[x->lane]++;
                done++;
            } else if (++st->retries > 20) {
                fprintf(stderr, "bench: /send failed: %s, HTTP %ld: %.300s\n", curl_easy_strerror(msg->data.result),
                        status, x->resp ? x->resp : "");
                rc = -1;
            }
            curl_slist_free_all(x->hdrs);
            x->hdrs = NULL;
        }
    }
    st->wall = bf_now() - t_start;
    st->relay_cpu = bf_cpu_seconds(e->relay_pid) - cpu0;
    st->self_cpu = cpu_self() - self0;
    st->relay_wait = bf_runqueue_seconds(e->relay_pid) - wait0;
    for (size_t i = 0; i < conc; i++)
        if (xs[i].hdrs) {
            curl_multi_remove_handle(m, xs[i].h);
            curl_slist_free_all(xs[i].hdrs);
            xs[i].hdrs = NULL;
        }
    free(next);
    free(busy);
    return rc;
}

/* ---- sync ------------------------------------------------------------------------ */

struct syncer {
    struct bf_env *e;
    char since[256];
    volatile bool stop;
    double *lat;
    size_t n, cap;
    size_t failures;
};

static void *sync_loop(void *arg)
{
    struct syncer *s = arg;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    while (h && !s->stop) {
        char path[400];
        long st;
        snprintf(path, sizeof path, "/_matrix/client/v3/sync?timeout=0&since=%s", s->since);
        double t0 = bf_now();
        json_t *r = bf_client_on(s->e, h, "GET", path, NULL, &st);
        double ms = (bf_now() - t0) * 1000;
        const char *nb = json_string_value(json_object_get(r, "next_batch"));
        if (st == 200 && nb) {
            snprintf(s->since, sizeof s->since, "%s", nb);
            if (s->n == s->cap) {
                size_t nc = s->cap ? 2 * s->cap : 256;
                double *nl = realloc(s->lat, nc * sizeof *nl);
                if (nl) {
                    s->lat = nl;
                    s->cap = nc;
                }
            }
            if (s->n < s->cap)
                s->lat[s->n++] = ms;
        } else {
            s->failures++;
        }
        json_decref(r);
        usleep(20 * 1000);   /* a client polling busily, not a long-poll */
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- setup ------------------------------------------------------------------------ */

static int create_room(struct bf_env *e, const char *preset, char out[MXR_ID_MAX + 1])
{
    long st;
    json_t *b = json_pack("{s:s}", "preset", preset);
    json_t *r = bf_client(e, "POST", "/_matrix/client/v3/createRoom", b, &st);
    json_decref(b);
    const char *id = json_string_value(json_object_get(r, "room_id"));
    int rc = st == 200 && id ? 0 : -1;
    if (rc == 0)
        snprintf(out, MXR_ID_MAX + 1, "%s", id);
    else
        fprintf(stderr, "bench: createRoom: HTTP %ld\n", st);
    json_decref(r);
    return rc;
}

/* The IDs of the room's create and power-levels events (the auth events of
 * every message besides the sender's join). */
static int room_auth_ids(struct bf_env *e, struct room *rm)
{
    char path[400];
    long st;
    char *q = curl_easy_escape(e->curl, rm->id, 0);
    snprintf(path, sizeof path, "/_matrix/client/v3/rooms/%s/state", q);
    curl_free(q);
    json_t *r = bf_client(e, "GET", path, NULL, &st);
    size_t i;
    json_t *ev;
    json_array_foreach(r, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *id = json_string_value(json_object_get(ev, "event_id"));
        if (type && id && !strcmp(type, "m.room.create"))
            snprintf(rm->create, sizeof rm->create, "%s", id);
        if (type && id && !strcmp(type, "m.room.power_levels"))
            snprintf(rm->power, sizeof rm->power, "%s", id);
    }
    json_decref(r);
    return rm->create[0] && rm->power[0] ? 0 : -1;
}

static void print_load(const char *what, const struct stats *st, size_t total)
{
    double p50 = bf_percentile(st->lat, st->txns, 50), p99 = bf_percentile(st->lat, st->txns, 99);
    printf("%-34s %8.0f PDUs/s accepted (%zu of %zu; %zu errors, %zu retried)\n", what,
           (double)st->pdus_ok / st->wall, st->pdus_ok, total, st->pdus_err, st->retries);
    printf("%-34s %8.1f ms p50, %.1f ms p99 (%zu transactions)\n", "  transaction latency", p50, p99, st->txns);
    printf("%-34s %8.3f s per 1,000 PDUs (%.1f s over %.1f s wall; load generator %.1f s)\n",
           "  relay CPU", st->pdus_ok ? st->relay_cpu * 1000 / (double)st->pdus_ok : 0, st->relay_cpu, st->wall,
           st->self_cpu);
    double load[1] = {0};
    getloadavg(load, 1);
    printf("%-34s %8.1f s runnable but waiting for a CPU, summed over its threads (load average %.1f)\n",
           "  relay run-queue wait", st->relay_wait, load[0]);
}

static pid_t start_perf(pid_t relay)
{
    const char *out = getenv("MXR_BENCH_PERF");
    if (!out || !*out)
        return 0;
    pid_t p = fork();
    if (p == 0) {
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)relay);
        execlp("perf", "perf", "record", "-q", "--call-graph", "dwarf,32768", "-F", "1999", "-o", out, "-p", pid,
               (char *)NULL);
        _exit(127);
    }
    usleep(300 * 1000);
    return p;
}

static void stop_perf(pid_t p)
{
    if (p <= 0)
        return;
    kill(p, SIGINT);
    int status;
    waitpid(p, &status, 0);
}

int main(int argc, char **argv)
{
    size_t k = 8, conc = 8, per = 25, rooms = 1000;
    long threads = 0;
    bool sync = true;
    int opt;
    while ((opt = getopt(argc, argv, "k:c:n:r:st:")) != -1) {
        switch (opt) {
        case 't': threads = strtol(optarg, NULL, 10); break;
        case 'k': k = strtoul(optarg, NULL, 10); break;
        case 'c': conc = strtoul(optarg, NULL, 10); break;
        case 'n': per = strtoul(optarg, NULL, 10); break;
        case 'r': rooms = strtoul(optarg, NULL, 10); break;
        case 's': sync = false; break;
        default:
            fprintf(stderr, "usage: %s [-k servers] [-c connections] [-n txns per server] [-r rooms] [-s] [-t threads]\n", argv[0]);
            return 2;
        }
    }
    if (k < 1 || conc < 1 || per < 2 || rooms < 1 || sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT))
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct bf_env e = {0};
    struct room rm = {0};
    struct lane *lanes = calloc(k, sizeof *lanes);
    struct pdu_copy *copies = NULL;
    size_t n_copies = 0;
    struct loader L = {0};
    int rc = 1;
    char extra[64] = "";
    if (threads > 0)
        snprintf(extra, sizeof extra, "thread_pool_size: %ld", threads);
    if (!lanes || bf_start(&e, k, extra) < 0)
        goto out;
    printf("relay: thread_pool_size %s, log_level %s; %zu remote servers, %zu connections, "
           "%zu transactions of %d PDUs per server\n",
           extra[0] ? extra + 18 : "default", getenv("MXR_LOG_LEVEL") ? getenv("MXR_LOG_LEVEL") : "info", k, conc, per,
           PDUS_PER_TXN);

    /* 5. idle memory: one user, one room. */
    if (bf_register(&e, "bench") < 0 || create_room(&e, "public_chat", rm.id) < 0 || room_auth_ids(&e, &rm) < 0)
        goto out;
    sleep(2);
    long idle_rss = bf_status_kib(e.relay_pid, "VmRSS:"), idle_hwm = bf_status_kib(e.relay_pid, "VmHWM:");
    printf("%-34s %8.1f MiB RSS (peak so far %.1f MiB: the registration's Argon2id)\n",
           "idle, one user and one room", idle_rss / 1024.0, idle_hwm / 1024.0);

    /* The remote servers join; their chains start at the last join. */
    int64_t depth = 0;
    for (size_t s = 0; s < k; s++)
        if (bf_join(&e, s, rm.id, &rm.rv, &depth) < 0)
            goto out;
    for (size_t s = 0; s < k; s++) {
        snprintf(lanes[s].prev, sizeof lanes[s].prev, "%s", e.srv[k - 1].join_id);
        lanes[s].depth = depth;
    }
    double g0 = bf_now();
    if (generate(&e, &rm, lanes, per, "max", &copies, &n_copies) < 0)
        goto out;
    printf("%-34s %8zu PDUs signed in %.1f s (room version %s)\n", "generated", n_copies, bf_now() - g0, rm.rv->id);

    /* 1. ingest at full speed. */
    struct stats st;
    /* The peak so far is the Argon2id hash of the registration (64 MiB,
     * crypto_pwhash_MEMLIMIT_INTERACTIVE): not ingest's. */
    bool hwm_reset = bf_reset_peak_rss(e.relay_pid) == 0;
    pid_t perf = start_perf(e.relay_pid);
    if (loader_open(&e, &L, conc) < 0)
        goto out;
    int lr = run_load(&e, &L, lanes, 0, per, 0, &st);
    stop_perf(perf);
    if (lr < 0)
        goto out;
    double max_rate = (double)st.pdus_ok / st.wall;
    print_load("ingest", &st, n_copies);
    double st_cpu_per_pdu = st.relay_cpu / (double)(st.pdus_ok ? st.pdus_ok : 1);
    long hwm = bf_status_kib(e.relay_pid, "VmHWM:");
    printf("%-34s %8.1f MiB%s\n", "  relay peak RSS", hwm / 1024.0,
           hwm_reset ? " (during ingest)" : " (since start: VmHWM could not be reset)");
    free(st.lat);

    uint8_t *pk = malloc(32 * k);
    struct bound b;
    for (size_t s = 0; pk && s < k; s++)
        memcpy(pk + 32 * s, e.srv[s].key.public_key, 32);
    if (!pk || bb_measure(e.dir, copies, n_copies, pk, per * PDUS_PER_TXN, PDUS_PER_TXN, &b) < 0) {
        free(pk);
        goto out;
    }
    free(pk);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double t_bound = b.verify + b.sha + b.canon + b.lmdb_cpu;
    printf("bound, CPU per PDU, one thread: ed25519 verify %.1f us, SHA-256 %.1f us, canonical JSON %.1f us, "
           "LMDB put %.1f us (durable commit per %d; %.1f us wall with the fsyncs)\n",
           b.verify * 1e6, b.sha * 1e6, b.canon * 1e6, b.lmdb_cpu * 1e6, PDUS_PER_TXN, b.lmdb * 1e6);
    printf("%-34s %8.0f PDUs/s (%ld cores / %.1f us, the sum of the four)\n", "bound", b.per_s, cores,
           t_bound * 1e6);
    double relay_us = st_cpu_per_pdu * 1e6;
    printf("%-34s %8.0f PDUs/s (%ld cores / the relay's %.1f us CPU per PDU)\n", "ingest if CPU-bound",
           (double)cores / st_cpu_per_pdu, cores, relay_us);
    double ratio = max_rate / b.per_s, ratio_cpu = t_bound / st_cpu_per_pdu;

    double sync_p50 = -1, sync_p99 = -1, init_p50 = -1;
    if (sync) {
        /* 3. the user in `rooms` rooms; initial sync; incremental syncs while
         * the servers send at half the rate just measured. */
        double c0 = bf_now();
        for (size_t i = 1; i < rooms; i++) {
            char id[MXR_ID_MAX + 1];
            if (create_room(&e, "private_chat", id) < 0)
                goto out;
        }
        printf("%-34s %8zu rooms in %.1f s\n", "sync: created", rooms, bf_now() - c0);
        double init[5];
        struct syncer sy = {.e = &e};
        for (int i = 0; i < 5; i++) {
            long sst;
            double t0 = bf_now();
            json_t *r = bf_client(&e, "GET", "/_matrix/client/v3/sync?timeout=0", NULL, &sst);
            init[i] = (bf_now() - t0) * 1000;
            const char *nb = json_string_value(json_object_get(r, "next_batch"));
            size_t joined = json_object_size(json_object_get(json_object_get(r, "rooms"), "join"));
            if (sst != 200 || !nb) {
                fprintf(stderr, "bench: initial /sync: HTTP %ld\n", sst);
                json_decref(r);
                goto out;
            }
            if (i == 0)
                printf("%-34s %8zu joined rooms in the response\n", "sync: initial", joined);
            snprintf(sy.since, sizeof sy.since, "%s", nb);
            json_decref(r);
        }
        init_p50 = bf_percentile(init, 5, 50);
        printf("%-34s %8.1f ms p50, %.1f ms max (5 runs)\n", "sync: initial /sync", init_p50, bf_percentile(init, 5, 100));
        size_t per2 = per / 2 > 1 ? per / 2 : 2;
        if (generate(&e, &rm, lanes, per2, "half", NULL, NULL) < 0)
            goto out;
        pthread_t th;
        if (pthread_create(&th, NULL, sync_loop, &sy) != 0)
            goto out;
        struct stats st2;
        lr = run_load(&e, &L, lanes, per, per2, max_rate / 2 / PDUS_PER_TXN, &st2);
        sy.stop = true;
        pthread_join(th, NULL);
        if (lr < 0) {
            free(sy.lat);
            goto out;
        }
        print_load("sync: ingest at half the maximum", &st2, k * per2 * PDUS_PER_TXN);
        free(st2.lat);
        sync_p50 = bf_percentile(sy.lat, sy.n, 50);
        sync_p99 = bf_percentile(sy.lat, sy.n, 99);
        printf("%-34s %8.1f ms p50, %.1f ms p99 (%zu syncs, %zu failed)\n", "sync: incremental /sync", sync_p50,
               sync_p99, sy.n, sy.failures);
        free(sy.lat);
    }

    printf("\nsummary:\n");
    printf("ingest ratio: %.2f (goal >= 0.5)   [%.0f PDUs/s accepted vs the bound's %.0f PDUs/s]\n", ratio, max_rate,
           b.per_s);
    printf("ingest ratio in CPU time: %.2f (goal >= 0.5)   [bound %.0f us vs the relay's %.0f us CPU per PDU]\n",
           ratio_cpu, t_bound * 1e6, relay_us);
    if (sync)
        printf("incremental /sync p99 while ingest runs at half its maximum: %.1f ms (goal < 50 ms)   "
               "[initial /sync in %zu rooms: %.0f ms p50]\n", sync_p99, rooms, init_p50);
    printf("idle RSS: %.1f MiB (goal < 20 MiB)\n", idle_rss / 1024.0);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench: failed; the relay's log was %s/relay.log (MXR_BENCH_KEEP=1 keeps it)\n", e.dir);
    loader_close(&L);
    bf_stop(&e);
    for (size_t i = 0; i < n_copies; i++)
        bb_copy_free(&copies[i]);
    free(copies);
    for (size_t s = 0; lanes && s < k; s++) {
        for (size_t t = 0; t < lanes[s].n; t++)
            free(lanes[s].txns[t].body);
        free(lanes[s].txns);
    }
    free(lanes);
    curl_global_cleanup();
    return rc;
}
