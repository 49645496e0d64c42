/* Outbound HTTPS with libcurl: one multi handle on an I/O thread, discovery
 * on resolver threads. Spec: server-server API "API standards", "TLS",
 * "Resolving server names" (Host header and certificate name), "Request
 * Authentication" (X-Matrix on every request we send). */
#include "relay/federation/fedclient_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mxr/json.h"
#include "relay/federation/xmatrix.h"

#define RESOLVER_THREADS 2
#define AUTH_MAX 1024

struct job;

struct jobq {
    struct job *head, *tail;
};

struct mxr_fedclient {
    const struct mxr_config *cfg;
    const struct mxr_log *log;
    mxr_fed_resolve_fn resolve;
    void *resolve_ctx;
    char *origin;                      /* signer; NULL: signed requests refused */
    struct mxr_signing_key key;

    pthread_mutex_t mu;
    pthread_cond_t resolve_cv;
    struct jobq to_resolve, to_start;  /* under mu */
    bool started, stopping;
    pthread_t io_thread, resolver[RESOLVER_THREADS];
    CURLM *multi;                      /* owned by the I/O thread once started */
    struct job *active;                /* I/O thread only */
};

/* One request on its way: resolve -> attempts on targets in order -> done. */
struct job {
    struct job *next;
    struct mxr_fedclient *fc;
    char *method, *dest, *path;
    char *body;                        /* canonical JSON, NULL for GET */
    size_t body_len;
    char auth[AUTH_MAX];               /* "Authorization: X-Matrix ..." or "" */
    size_t max;
    long timeout_ms;
    mxr_fed_done_fn done;
    void *ctx;
    struct mxr_fed_target targets[MXR_DISCOVERY_MAX_TARGETS];
    size_t n_targets, cur;
    /* the current attempt */
    CURL *h;
    struct curl_slist *hdrs, *cto;
    char *buf;
    size_t len, cap;
    bool too_big;
    char blocked[INET6_ADDRSTRLEN];
    char errbuf[CURL_ERROR_SIZE];
    struct sink sink;
    struct job *aprev, *anext;         /* the I/O thread's list of transfers in progress */
};

/* Discovery without network lookups (steps 1, 2 and 6): the default until
 * wellknown.c's resolver is plugged in. */
static int resolve_offline(void *ctx, const char *server_name, struct mxr_fed_target *targets, size_t max,
                           size_t *n, struct mxr_err *err)
{
    (void)ctx;
    long ttl;
    return mxr_discover(server_name, NULL, targets, max, n, &ttl, err);
}

const struct mxr_config *fedclient_config(const struct mxr_fedclient *fc)
{
    return fc->cfg;
}

struct mxr_fedclient *mxr_fedclient_new(const struct mxr_config *cfg, const struct mxr_log *log,
                                        struct mxr_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        mxr_err_set(err, "M_UNKNOWN", "libcurl initialisation failed");
        return NULL;
    }
    struct mxr_fedclient *fc = calloc(1, sizeof *fc);
    if (!fc) {
        curl_global_cleanup();
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    fc->cfg = cfg;
    fc->log = log;
    fc->resolve = resolve_offline;
    pthread_mutex_init(&fc->mu, NULL);
    pthread_cond_init(&fc->resolve_cv, NULL);
    return fc;
}

void mxr_fedclient_set_resolver(struct mxr_fedclient *fc, mxr_fed_resolve_fn fn, void *ctx)
{
    pthread_mutex_lock(&fc->mu);
    fc->resolve = fn ? fn : resolve_offline;
    fc->resolve_ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&fc->mu);
}

void mxr_fedclient_set_signer(struct mxr_fedclient *fc, const char *origin, const struct mxr_signing_key *key)
{
    pthread_mutex_lock(&fc->mu);
    free(fc->origin);
    fc->origin = origin ? strdup(origin) : NULL;
    if (key)
        fc->key = *key;
    pthread_mutex_unlock(&fc->mu);
}

int mxr_fedclient_resolve(struct mxr_fedclient *fc, const char *server_name, struct mxr_fed_target *targets,
                          size_t max, size_t *n, struct mxr_err *err)
{
    *n = 0;
    struct mxr_host_port name, to;
    if (mxr_parse_server_name(server_name, &name, err) < 0)
        return -1;
    const char *mapped = mxr_config_static_target(fc->cfg, server_name);
    if (!mapped) {
        pthread_mutex_lock(&fc->mu);
        mxr_fed_resolve_fn fn = fc->resolve;
        void *ctx = fc->resolve_ctx;
        pthread_mutex_unlock(&fc->mu);
        return fn(ctx, server_name, targets, max, n, err);
    }
    if (max == 0)
        return 0;
    if (mxr_parse_server_name(mapped, &to, err) < 0 || to.port < 1)
        return mxr_err_set(err, "M_UNKNOWN", "federation_static_map: '%s' is not host:port", mapped);
    /* Connect where the map says, but present the server name as discovery
     * would for a name without delegation. */
    struct mxr_fed_target *t = &targets[0];
    memset(t, 0, sizeof *t);
    snprintf(t->connect_host, sizeof t->connect_host, "%s", to.host);
    t->port = (uint16_t)to.port;
    snprintf(t->host_header, sizeof t->host_header, "%s", server_name);
    snprintf(t->tls_name, sizeof t->tls_name, "%s", name.host);
    t->tls_name_is_ip = name.is_ip;
    t->step = "federation_static_map";
    *n = 1;
    return 0;
}

static void bracket(char *out, size_t cap, const char *host)
{
    snprintf(out, cap, strchr(host, ':') ? "[%s]" : "%s", host);
}

/* ---- jobs ------------------------------------------------------------------------- */

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->method);
    free(j->dest);
    free(j->path);
    free(j->body);
    free(j->buf);
    free(j);
}

static void q_push(struct jobq *q, struct job *j)
{
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static struct job *q_pop(struct jobq *q)
{
    struct job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        j->next = NULL;
    }
    return j;
}

/* Calls the job's callback with resp and frees the job. */
static void job_finish(struct job *j, struct mxr_fed_response *resp)
{
    j->done(j->ctx, resp);
    mxr_fed_response_clear(resp);
    job_free(j);
}

static void job_fail(struct job *j, const struct mxr_err *e)
{
    struct mxr_fed_response resp = { 0 };
    resp.err = *e;
    job_finish(j, &resp);
}

void mxr_fed_response_clear(struct mxr_fed_response *r)
{
    json_decref(r->body);
    r->body = NULL;
}

/* The easy handle for the job's current target. */
static int attempt_start(struct job *j, struct mxr_err *err)
{
    struct mxr_fedclient *fc = j->fc;
    const struct mxr_fed_target *t = &j->targets[j->cur];
    char name[300], conn[300], connect_to[700], host_hdr[300];
    bracket(name, sizeof name, t->tls_name);
    bracket(conn, sizeof conn, t->connect_host);
    size_t ul = strlen(name) + strlen(j->path) + 32;
    char *url = malloc(ul);
    if (!url)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    snprintf(url, ul, "https://%s:%u%s", name, (unsigned)t->port, j->path);
    snprintf(connect_to, sizeof connect_to, "%s:%u:%s:%u", name, (unsigned)t->port, conn, (unsigned)t->port);
    snprintf(host_hdr, sizeof host_hdr, "Host: %s", t->host_header);

    j->len = 0;
    j->too_big = false;
    j->blocked[0] = '\0';
    CURL *h = curl_easy_init();
    if (!h) {
        free(url);
        return mxr_err_set(err, "M_UNKNOWN", "curl_easy_init failed");
    }
    struct curl_slist *hdrs = curl_slist_append(NULL, host_hdr);
    if (j->auth[0])
        hdrs = curl_slist_append(hdrs, j->auth);
    if (j->body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "Expect:");
    }
    struct curl_slist *cto = curl_slist_append(NULL, connect_to);
    if (!hdrs || !cto) {
        curl_slist_free_all(hdrs);
        curl_slist_free_all(cto);
        curl_easy_cleanup(h);
        free(url);
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    j->sink = (struct sink){ fc, &j->buf, &j->len, &j->cap, j->max, &j->too_big, j->blocked };
    fedclient_common_options(fc, h, &j->sink, j->errbuf);
    j->h = h;
    j->hdrs = hdrs;
    j->cto = cto;
    curl_easy_setopt(h, CURLOPT_URL, url);
    free(url);   /* libcurl copies string options */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);   /* the X-Matrix uri is what we send, byte for byte */
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, cto);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, j->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PRIVATE, j);
    if (j->body) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, j->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
    } else if (strcmp(j->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, j->method);
    }
    return 0;
}

static void attempt_cleanup(struct job *j)
{
    if (j->h) {
        curl_multi_remove_handle(j->fc->multi, j->h);
        curl_easy_cleanup(j->h);
    }
    curl_slist_free_all(j->hdrs);
    curl_slist_free_all(j->cto);
    j->h = NULL;
    j->hdrs = j->cto = NULL;
}

static void active_add(struct mxr_fedclient *fc, struct job *j)
{
    j->aprev = NULL;
    j->anext = fc->active;
    if (fc->active)
        fc->active->aprev = j;
    fc->active = j;
}

static void active_del(struct mxr_fedclient *fc, struct job *j)
{
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        fc->active = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    j->aprev = j->anext = NULL;
}

/* Starts the current target's transfer; on failure moves on to the next
 * target, and fails the job when none is left. I/O thread. */
static void attempt_launch(struct mxr_fedclient *fc, struct job *j)
{
    for (;;) {
        struct mxr_err e = { 0 };
        if (attempt_start(j, &e) == 0) {
            CURLMcode mc = curl_multi_add_handle(fc->multi, j->h);
            if (mc == CURLM_OK) {
                active_add(fc, j);
                return;
            }
            mxr_err_set(&e, "M_UNKNOWN", "curl_multi_add_handle: %s", curl_multi_strerror(mc));
            curl_easy_cleanup(j->h);
            j->h = NULL;
            attempt_cleanup(j);
        }
        if (j->cur + 1 >= j->n_targets) {
            mxr_err_prefix(&e, "%s %.200s%.200s", j->method, j->dest, j->path);
            job_fail(j, &e);
            return;
        }
        j->cur++;
    }
}

/* Status of the errcode of an error body as a static string (struct
 * mxr_err holds static errcodes); anything else is M_UNKNOWN. */
static const char *static_errcode(const char *code)
{
    static const char *const known[] = {
        "M_FORBIDDEN", "M_NOT_FOUND", "M_UNAUTHORIZED", "M_UNRECOGNIZED", "M_BAD_JSON", "M_NOT_JSON",
        "M_INVALID_PARAM", "M_MISSING_PARAM", "M_TOO_LARGE", "M_LIMIT_EXCEEDED", "M_INCOMPATIBLE_ROOM_VERSION",
        "M_UNABLE_TO_AUTHORISE_JOIN", "M_UNABLE_TO_GRANT_JOIN", "M_INVITE_BLOCKED", "M_UNKNOWN_TOKEN",
        "M_USER_IN_USE", "M_ROOM_IN_USE", "M_BAD_STATE", "M_GUEST_ACCESS_FORBIDDEN", "M_NOT_YET_UPLOADED",
    };
    for (size_t i = 0; code && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(code, known[i]) == 0)
            return known[i];
    return "M_UNKNOWN";
}

/* A finished transfer: the next target after a transport failure, else the
 * answer. I/O thread. */
static void attempt_done(struct mxr_fedclient *fc, struct job *j, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &status);
    active_del(fc, j);
    attempt_cleanup(j);
    const struct mxr_fed_target *t = &j->targets[j->cur];
    if (rc != CURLE_OK || status == 0) {
        struct mxr_err e = { 0 };
        fedclient_transfer_error(rc, &j->sink, j->errbuf, &e);
        mxr_log(fc->log, MXR_LOG_DEBUG, NULL, "%s https://%s%s via %s:%u (%s): %s", j->method, j->dest, j->path,
                t->connect_host, (unsigned)t->port, t->step ? t->step : "?", e.msg);
        if (!j->too_big && j->cur + 1 < j->n_targets) {
            j->cur++;
            attempt_launch(fc, j);
            return;
        }
        mxr_err_prefix(&e, "%s https://%.200s%.200s via %s:%u", j->method, j->dest, j->path, t->connect_host,
                       (unsigned)t->port);
        job_fail(j, &e);
        return;
    }
    struct mxr_fed_response resp = { .status = status };
    struct mxr_err pe = { 0 };
    if (j->len > 0)
        resp.body = mxr_json_parse(j->buf, j->len, MXR_JSON_NO_DUPLICATES, &pe);
    if (status >= 200 && status < 300) {
        if (json_is_object(resp.body))
            resp.ok = true;
        else
            mxr_err_set(&resp.err, "M_NOT_JSON", "%s https://%.200s%.200s: HTTP %ld but the body is not a JSON object%s%s",
                        j->method, j->dest, j->path, status, pe.errcode ? ": " : "", pe.errcode ? pe.msg : "");
    } else {
        const char *code = json_string_value(json_object_get(resp.body, "errcode"));
        const char *msg = json_string_value(json_object_get(resp.body, "error"));
        mxr_err_set(&resp.err, static_errcode(code), "%s https://%.200s%.200s: HTTP %ld %.60s%s%.200s", j->method,
                    j->dest, j->path, status, code ? code : "(no errcode)", msg ? ": " : "", msg ? msg : "");
    }
    mxr_log(fc->log, MXR_LOG_DEBUG, NULL, "%s https://%s%s via %s:%u: %ld", j->method, j->dest, j->path,
            t->connect_host, (unsigned)t->port, status);
    job_finish(j, &resp);
}

static void *io_main(void *arg)
{
    struct mxr_fedclient *fc = arg;
    for (;;) {
        pthread_mutex_lock(&fc->mu);
        bool stop = fc->stopping;
        struct jobq start = fc->to_start;
        fc->to_start = (struct jobq){ 0 };
        pthread_mutex_unlock(&fc->mu);
        struct mxr_err down = { 0 };
        mxr_err_set(&down, "M_UNKNOWN", "the federation client is shutting down");
        for (struct job *j = q_pop(&start); j; j = q_pop(&start)) {
            if (stop)
                job_fail(j, &down);
            else
                attempt_launch(fc, j);
        }
        if (stop) {
            while (fc->active) {
                struct job *j = fc->active;
                active_del(fc, j);
                attempt_cleanup(j);
                job_fail(j, &down);
            }
            return NULL;
        }
        int running = 0;
        curl_multi_perform(fc->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(fc->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            if (j)
                attempt_done(fc, j, m->data.result);
        }
        curl_multi_poll(fc->multi, NULL, 0, 1000, NULL);
    }
}

static void *resolver_main(void *arg)
{
    struct mxr_fedclient *fc = arg;
    for (;;) {
        pthread_mutex_lock(&fc->mu);
        while (!fc->to_resolve.head && !fc->stopping)
            pthread_cond_wait(&fc->resolve_cv, &fc->mu);
        if (fc->stopping) {
            pthread_mutex_unlock(&fc->mu);
            return NULL;
        }
        struct job *j = q_pop(&fc->to_resolve);
        pthread_mutex_unlock(&fc->mu);

        struct mxr_err e = { 0 };
        size_t n = 0;
        if (mxr_fedclient_resolve(fc, j->dest, j->targets, MXR_DISCOVERY_MAX_TARGETS, &n, &e) < 0 || n == 0) {
            if (n == 0 && !e.errcode)
                mxr_err_set(&e, "M_UNKNOWN", "no address found");
            mxr_err_prefix(&e, "%s https://%.200s%.200s", j->method, j->dest, j->path);
            job_fail(j, &e);
            continue;
        }
        j->n_targets = n;
        pthread_mutex_lock(&fc->mu);
        q_push(&fc->to_start, j);
        pthread_mutex_unlock(&fc->mu);
        curl_multi_wakeup(fc->multi);
    }
}

/* Starts the threads on first use. Under fc->mu. */
static int start_locked(struct mxr_fedclient *fc, struct mxr_err *err)
{
    if (fc->started)
        return 0;
    if (!(fc->multi = curl_multi_init()))
        return mxr_err_set(err, "M_UNKNOWN", "curl_multi_init failed");
    curl_multi_setopt(fc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    curl_multi_setopt(fc->multi, CURLMOPT_MAXCONNECTS, 256L);
    if (pthread_create(&fc->io_thread, NULL, io_main, fc) != 0) {
        curl_multi_cleanup(fc->multi);
        fc->multi = NULL;
        return mxr_err_set(err, "M_UNKNOWN", "cannot start the federation client's I/O thread");
    }
    fc->started = true;
    for (int i = 0; i < RESOLVER_THREADS; i++)
        if (pthread_create(&fc->resolver[i], NULL, resolver_main, fc) != 0)
            fc->resolver[i] = fc->io_thread;   /* marks "not started" (joined once, below) */
    return 0;
}

void mxr_fedclient_shutdown(struct mxr_fedclient *fc)
{
    if (!fc)
        return;
    pthread_mutex_lock(&fc->mu);
    bool was = fc->stopping;
    fc->stopping = true;
    bool started = fc->started;
    pthread_cond_broadcast(&fc->resolve_cv);
    pthread_mutex_unlock(&fc->mu);
    if (was)
        return;
    if (started) {
        curl_multi_wakeup(fc->multi);
        for (int i = 0; i < RESOLVER_THREADS; i++)
            if (!pthread_equal(fc->resolver[i], fc->io_thread))
                pthread_join(fc->resolver[i], NULL);
        pthread_join(fc->io_thread, NULL);
    }
    struct mxr_err down = { 0 };
    mxr_err_set(&down, "M_UNKNOWN", "the federation client is shutting down");
    pthread_mutex_lock(&fc->mu);
    struct jobq a = fc->to_resolve, b = fc->to_start;
    fc->to_resolve = fc->to_start = (struct jobq){ 0 };
    pthread_mutex_unlock(&fc->mu);
    for (struct job *j = q_pop(&a); j; j = q_pop(&a))
        job_fail(j, &down);
    for (struct job *j = q_pop(&b); j; j = q_pop(&b))
        job_fail(j, &down);
}

void mxr_fedclient_free(struct mxr_fedclient *fc)
{
    if (!fc)
        return;
    mxr_fedclient_shutdown(fc);
    if (fc->multi)
        curl_multi_cleanup(fc->multi);
    pthread_cond_destroy(&fc->resolve_cv);
    pthread_mutex_destroy(&fc->mu);
    free(fc->origin);
    mxr_key_wipe(&fc->key);
    free(fc);
    curl_global_cleanup();
}

/* ---- the request API -------------------------------------------------------------- */

int mxr_fedclient_submit(struct mxr_fedclient *fc, const struct mxr_fed_request *req, mxr_fed_done_fn done,
                         void *ctx, struct mxr_err *err)
{
    if (!fc || !req || !req->method || !req->destination || !req->path || req->path[0] != '/' || !done)
        return mxr_err_set(err, "M_UNKNOWN", "mxr_fedclient_submit: missing method, destination, path or callback");
    if (!mxr_config_server_allowed(fc->cfg, req->destination))
        return mxr_err_set(err, "M_FORBIDDEN", "%.200s is excluded by federation_allow/federation_deny",
                           req->destination);
    if (fc->cfg->server_name && strcmp(req->destination, fc->cfg->server_name) == 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "%.200s is this server: no federation request to ourselves",
                           req->destination);
    bool signed_req = !(req->flags & MXR_FED_UNSIGNED);
    char origin[256] = "";
    struct mxr_signing_key key;
    if (signed_req) {
        pthread_mutex_lock(&fc->mu);
        if (fc->origin) {
            snprintf(origin, sizeof origin, "%s", fc->origin);
            key = fc->key;
        }
        pthread_mutex_unlock(&fc->mu);
        if (!origin[0])
            return mxr_err_set(err, "M_UNKNOWN", "signed federation request without a signing key configured");
    }

    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    j->fc = fc;
    j->done = done;
    j->ctx = ctx;
    j->max = req->max_response ? req->max_response : MXR_FED_MAX_RESPONSE_BYTES;
    j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : MXR_FED_DEFAULT_TIMEOUT_MS;
    j->method = strdup(req->method);
    j->dest = strdup(req->destination);
    j->path = strdup(req->path);
    if (!j->method || !j->dest || !j->path) {
        job_free(j);
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    json_t *content = req->body;
    json_t *empty = NULL;
    if (!content && strcmp(req->method, "GET") != 0 && strcmp(req->method, "DELETE") != 0)
        content = empty = json_object();   /* spec "API standards": POST and PUT carry a JSON object */
    if (content && !(j->body = mxr_canonical_json_lax(content, &j->body_len, err))) {
        json_decref(empty);
        job_free(j);
        return mxr_err_prefix(err, "request body");
    }
    if (signed_req) {
        static const char prefix[] = "Authorization: ";
        memcpy(j->auth, prefix, sizeof prefix);
        int src = mxr_xmatrix_sign(&key, origin, req->destination, req->method, req->path, content,
                                   j->auth + sizeof prefix - 1, sizeof j->auth - (sizeof prefix - 1), err);
        mxr_key_wipe(&key);
        if (src < 0) {
            json_decref(empty);
            job_free(j);
            return mxr_err_prefix(err, "signing the request");
        }
    }
    json_decref(empty);

    pthread_mutex_lock(&fc->mu);
    int rc = fc->stopping ? mxr_err_set(err, "M_UNKNOWN", "the federation client is shutting down")
                          : start_locked(fc, err);
    if (rc == 0) {
        q_push(&fc->to_resolve, j);
        pthread_cond_signal(&fc->resolve_cv);
    }
    pthread_mutex_unlock(&fc->mu);
    if (rc < 0)
        job_free(j);
    return rc;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct mxr_fed_response *out;
};

static void wake_waiter(void *ctx, struct mxr_fed_response *r)
{
    struct waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    *w->out = *r;
    r->body = NULL;   /* moved */
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static bool on_own_thread(struct mxr_fedclient *fc)
{
    pthread_mutex_lock(&fc->mu);
    bool own = false;
    if (fc->started) {
        own = pthread_equal(pthread_self(), fc->io_thread);
        for (int i = 0; i < RESOLVER_THREADS; i++)
            own = own || pthread_equal(pthread_self(), fc->resolver[i]);
    }
    pthread_mutex_unlock(&fc->mu);
    return own;
}

int mxr_fedclient_request(struct mxr_fedclient *fc, const struct mxr_fed_request *req,
                          struct mxr_fed_response *resp)
{
    memset(resp, 0, sizeof *resp);
    if (on_own_thread(fc))
        return mxr_err_set(&resp->err, "M_UNKNOWN", "synchronous federation request from the client's own thread");
    struct waiter w = { .out = resp };
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = mxr_fedclient_submit(fc, req, wake_waiter, &w, &resp->err);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (rc < 0)
        return -1;
    return resp->ok ? 0 : -1;
}

json_t *mxr_fedclient_call(struct mxr_fedclient *fc, const char *method, const char *destination, const char *path,
                           json_t *body, struct mxr_err *err)
{
    struct mxr_fed_request req = { .method = method, .destination = destination, .path = path, .body = body };
    struct mxr_fed_response resp;
    if (mxr_fedclient_request(fc, &req, &resp) < 0) {
        if (err)
            *err = resp.err;
        mxr_fed_response_clear(&resp);
        return NULL;
    }
    return resp.body;
}

json_t *mxr_fedclient_get_json(struct mxr_fedclient *fc, const char *server_name, const char *path,
                               struct mxr_err *err)
{
    struct mxr_fed_request req = { .method = "GET", .destination = server_name, .path = path,
                                   .flags = MXR_FED_UNSIGNED };
    struct mxr_fed_response resp;
    if (mxr_fedclient_request(fc, &req, &resp) < 0) {
        if (err)
            *err = resp.err;
        mxr_fed_response_clear(&resp);
        return NULL;
    }
    return resp.body;
}

json_t *mxr_fedclient_fetch_keys(void *fc, const char *server_name, struct mxr_err *err)
{
    return mxr_fedclient_get_json(fc, server_name, "/_matrix/key/v2/server", err);
}

int mxr_fed_escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                     *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (o + need + 1 > cap)
            return -1;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o + 1 > cap)
        return -1;
    out[o] = '\0';
    return 0;
}
