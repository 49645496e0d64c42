/* The client API context: construction, long-poll wake-ups and the small
 * helpers every handler uses. */
#include "relay/federation/fedout.h"
#include "relay/client/client_int.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxr/base64.h"
#include "mxr/ids.h"
#include "mxr/json.h"
#include "relay/config.h"
#include "relay/rooms/rooms.h"
#include "relay/server.h"

struct mxr_client *mxr_client_new(const struct mxr_client_deps *d, struct mxr_err *err)
{
    /* rooms may be NULL for tools that only manage accounts (register-user);
     * the routes need it. */
    if (!d || !d->cfg || !d->cfg->server_name || !d->store) {
        mxr_err_set(err, "M_UNKNOWN", "client API: configuration and store are required");
        return NULL;
    }
    if (sodium_init() < 0) {
        mxr_err_set(err, "M_UNKNOWN", "client API: libsodium failed to initialise");
        return NULL;
    }
    struct mxr_client *c = calloc(1, sizeof *c);
    if (!c) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    c->cfg = d->cfg;
    c->server_name = d->cfg->server_name;
    c->store = d->store;
    c->rooms = d->rooms;
    c->log = d->log;
    c->clock = d->clock;
    c->clock_ctx = d->clock_ctx;
    c->remote_join = d->remote_join;
    c->remote_invite = d->remote_invite;
    c->remote_knock = d->remote_knock;
    c->remote_leave = d->remote_leave;
    c->remote_profile = d->remote_profile;
    c->remote_ctx = d->remote_ctx;
    c->pw_ops = d->pwhash_opslimit ? d->pwhash_opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    c->pw_mem = d->pwhash_memlimit ? d->pwhash_memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (d->cfg->public_baseurl) {
        size_t n = strlen(d->cfg->public_baseurl);
        while (n > 0 && d->cfg->public_baseurl[n - 1] == '/')   /* clients append /_matrix/... */
            n--;
        snprintf(c->base_url, sizeof c->base_url, "%.*s", (int)n, d->cfg->public_baseurl);
    } else {
        snprintf(c->base_url, sizeof c->base_url, "https://%s", c->server_name);
    }
    atomic_init(&c->stopping, false);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < CL_TXN_LOCKS; i++)
        pthread_mutex_init(&c->txn_locks[i], NULL);
    pthread_mutex_init(&c->nonce_mu, NULL);
    if (cl_rl_init(c, err) < 0) {
        mxr_client_free(c);
        return NULL;
    }
    return c;
}

void mxr_client_shutdown(struct mxr_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stopping, true);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void mxr_client_free(struct mxr_client *c)
{
    if (!c)
        return;
    mxr_client_shutdown(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    for (int i = 0; i < CL_TXN_LOCKS; i++)
        pthread_mutex_destroy(&c->txn_locks[i]);
    pthread_mutex_destroy(&c->nonce_mu);
    cl_rl_free(c);
    sodium_memzero(c->nonces, sizeof c->nonces);
    free(c);
}

int mxr_client_start(struct mxr_server *srv, struct mxr_router *r, struct mxr_err *err)
{
    struct mxr_client_deps d = {
        .cfg = srv->cfg, .store = srv->store, .rooms = srv->rooms, .log = &srv->log,
        /* joins and invites across servers go through the outbound federation side */
        .remote_join = mxr_fedout_remote_join, .remote_invite = mxr_fedout_remote_invite,
        .remote_knock = mxr_fedout_remote_knock, .remote_leave = mxr_fedout_remote_leave,
        .remote_profile = mxr_fedout_remote_profile, .remote_ctx = srv,
    };
    if (!srv->rooms)
        return mxr_err_set(err, "M_UNKNOWN", "client API: the rooms service must be started first");
    if (!(srv->client = mxr_client_new(&d, err)))
        return -1;
    if (mxr_client_add_routes(r, err) < 0) {
        mxr_client_free(srv->client);
        srv->client = NULL;
        return -1;
    }
    return 0;
}

void mxr_client_rooms_notify(void *ctx, const struct mxr_rooms_notice *n)
{
    (void)n;
    if (ctx)
        cl_wake(ctx);
}

/* ---- helpers ---------------------------------------------------------------- */

struct mxr_client *cl_of(const struct mxr_request *req)
{
    return req->srv ? req->srv->client : NULL;
}

int64_t cl_now(const struct mxr_client *c)
{
    if (c->clock)
        return c->clock(c->clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cl_wake(struct mxr_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->generation++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

uint64_t cl_generation(struct mxr_client *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t g = c->generation;
    pthread_mutex_unlock(&c->mu);
    return g;
}

void cl_wait(struct mxr_client *c, uint64_t seen, int64_t timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (c->generation == seen && !atomic_load(&c->stopping))
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->mu);
}

json_t *cl_body(struct mxr_request *req, struct mxr_response *resp)
{
    if (req->json) {
        if (json_is_object(req->json))
            return req->json;
        mxr_resp_error(resp, 400, "M_NOT_JSON", "request body must be a JSON object");
        return NULL;
    }
    if (req->body_len == 0) {
        req->json = json_object();
        if (!req->json)
            mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
        return req->json;
    }
    struct mxr_err err = {0};
    req->json = mxr_json_parse(req->body, req->body_len, 0, &err);
    if (!req->json) {
        mxr_resp_error(resp, 400, "M_NOT_JSON", "request body: %s", err.msg);
        return NULL;
    }
    if (!json_is_object(req->json)) {
        mxr_resp_error(resp, 400, "M_NOT_JSON", "request body must be a JSON object");
        return NULL;
    }
    return req->json;
}

void cl_store_error(struct mxr_request *req, struct mxr_response *resp, const struct mxr_err *err)
{
    struct mxr_client *c = cl_of(req);
    if (c && c->log)
        mxr_log(c->log, MXR_LOG_ERROR, req->id, "%s %s: %s", req->method, req->target,
                err && err->msg[0] ? err->msg : "store failure");
    mxr_resp_err(resp, err);
}

int cl_opt_str(json_t *obj, const char *key, const char **out, struct mxr_response *resp)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return mxr_resp_error(resp, 400, "M_BAD_JSON", "'%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}

bool cl_localpart_valid(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || strchr("._=/+-", *s)))
            return false;
    return true;
}

int cl_user_id(const struct mxr_client *c, const char *localpart, char out[CL_ID_MAX + 1], struct mxr_err *err)
{
    int n = snprintf(out, CL_ID_MAX + 1, "@%s:%s", localpart, c->server_name);
    if (n < 0 || n > CL_ID_MAX)
        return mxr_err_set(err, "M_INVALID_USERNAME", "user ID @%s:%s is over 255 bytes (spec appendices, "
                           "\"User Identifiers\")", localpart, c->server_name);
    return 0;
}

bool cl_is_local(const struct mxr_client *c, const char *user_id)
{
    const char *d = user_id && user_id[0] == '@' ? mxr_id_domain(user_id) : NULL;
    return d && !strcmp(d, c->server_name);
}

void cl_random_upper(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('A' + randombytes_uniform(26));
    out[n] = '\0';
}

void cl_random_token(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[randombytes_uniform(64)];
    out[n] = '\0';
}

int cl_write(struct mxr_client *c, mxr_store_write_fn fn, void *arg, struct mxr_err *err)
{
    return mxr_store_write(c->store, fn, arg, err);
}

int cl_alias_room(struct mxr_client *c, const char *alias, char room_id[MXR_STORE_ID_MAX + 1], struct mxr_err *err)
{
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, err) < 0)
        return -1;
    int rc = mxr_store_alias_get(t, alias, room_id, err);
    mxr_store_read_end(t);
    return rc;
}
