/* The realm context, its routes and the daemon's wiring (relay/realm/realm.h). */
#include "relay/realm/realm.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/federation/fedclient.h"
#include "relay/realm/openid.h"
#include "relay/realm/realm_int.h"
#include "relay/server.h"
#include "relay/store/store.h"

#define P MXR_REALM_API_PREFIX
#define SEALED MXR_ROUTE_BODY_JSON

static const struct mxr_route ROUTES[] = {
    { "GET", P "/info", realm_h_info, 0 },
    { "POST", P "/session", realm_h_session, SEALED },
    { "POST", P "/register1", realm_h_register1, SEALED },
    { "POST", P "/register2", realm_h_register2, SEALED },
    { "POST", P "/recover1", realm_h_recover1, SEALED },
    { "POST", P "/recover2", realm_h_recover2, SEALED },
    { "POST", P "/recover3", realm_h_recover3, SEALED },
    { "POST", P "/delete", realm_h_delete, SEALED },
    { "POST", P "/audit", realm_h_audit, SEALED },
};

int mxr_realm_add_routes(struct mxr_router *router, struct mxr_err *err)
{
    return mxr_router_add(router, ROUTES, sizeof ROUTES / sizeof ROUTES[0], err);
}

struct mxr_realm *mxr_realm_new(const struct mxr_realm_deps *d, struct mxr_err *err)
{
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise"), NULL;
    if (!d->server_name || !d->key || !d->store || !d->key_path)
        return mxr_err_set(err, "M_UNKNOWN", "realm: server_name, key, store and key_path are required"), NULL;
    struct mxr_realm *r = sodium_malloc(sizeof *r);   /* guarded pages for the secret keys */
    if (!r)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory"), NULL;
    memset(r, 0, sizeof *r);
    snprintf(r->server_name, sizeof r->server_name, "%s", d->server_name);
    r->key = d->key;
    r->store = d->store;
    r->log = d->log;
    r->clock = d->clock;
    r->clock_ctx = d->clock_ctx;
    r->openid = d->openid;
    r->openid_ctx = d->openid_ctx;
    r->max_allowed_guesses = d->max_allowed_guesses ? d->max_allowed_guesses : MXR_REALM_DEFAULT_MAX_GUESSES;
    if (r->max_allowed_guesses > UINT16_MAX)
        r->max_allowed_guesses = UINT16_MAX;
    if (d->limits)
        r->limits = *d->limits;
    else
        mxr_realm_limits_default(&r->limits);
    if (!(r->lim = realm_lim_new(&r->limits))) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto fail;
    }
    if (realm_keys_load(d->key_path, r->box_sk, r->at_rest_key, d->log, err) < 0 || realm_identity_init(r, err) < 0)
        goto fail;
    if (d->log) {
        char rid[2 * MXR_REALM_ID_BYTES + 1];
        sodium_bin2hex(rid, sizeof rid, r->realm_id, sizeof r->realm_id);
        mxr_log(d->log, MXR_LOG_INFO, NULL, "realm: id %s, box key %s, at most %u guesses", rid, r->key_id,
                r->max_allowed_guesses);
    }
    return r;
fail:
    mxr_realm_free(r);
    return NULL;
}

void mxr_realm_free(struct mxr_realm *r)
{
    if (!r)
        return;
    realm_lim_free(r->lim);
    sodium_free(r);   /* zeroes the keys */
}

void mxr_realm_identity(const struct mxr_realm *r, uint8_t realm_id[16], uint8_t box_pk[32])
{
    memcpy(realm_id, r->realm_id, MXR_REALM_ID_BYTES);
    memcpy(box_pk, r->box_pk, MXR_REALM_BOX_PUBLIC_BYTES);
}

/* ---- the daemon's OpenID verifier ---------------------------------------------- */

static int64_t server_clock(void *ctx)
{
    return mxr_server_now(ctx);
}

/* Our own users: the token table; anyone else: their homeserver's
 * federation userinfo endpoint (unsigned, as the spec has it). */
static int daemon_openid(void *ctx, const char *matrix_server, const char *token, char user_out[256],
                         struct mxr_err *err)
{
    struct mxr_server *srv = ctx;
    if (!strcmp(matrix_server, srv->cfg->server_name)) {
        int rc = mxr_openid_lookup(srv->store, mxr_server_now(srv), token, user_out, err);
        if (rc == MXR_STORE_NOT_FOUND)
            return mxr_err_set(err, "M_UNKNOWN_TOKEN", "unknown or expired OpenID token");
        return rc;
    }
    if (!srv->fed)
        return mxr_err_set(err, "M_UNKNOWN", "no outbound federation client");
    char esc[3 * 512 + 1], path[sizeof esc + 64];
    if (mxr_fed_escape(token, esc, sizeof esc) < 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "OpenID token too long");
    snprintf(path, sizeof path, "/_matrix/federation/v1/openid/userinfo?access_token=%s", esc);
    struct mxr_fed_request fr = { .method = "GET", .destination = matrix_server, .path = path,
                                  .flags = MXR_FED_UNSIGNED, .timeout_ms = 15000 };
    struct mxr_fed_response resp;
    int rc = mxr_fedclient_request(srv->fed, &fr, &resp);
    if (rc < 0) {
        if (err)
            *err = resp.err;
        mxr_fed_response_clear(&resp);
        return -1;
    }
    const char *sub = json_string_value(json_object_get(resp.body, "sub"));
    if (!sub || strlen(sub) > 255)
        rc = mxr_err_set(err, "M_UNKNOWN", "%s answered userinfo without a valid sub", matrix_server);
    else
        memcpy(user_out, sub, strlen(sub) + 1);
    mxr_fed_response_clear(&resp);
    return rc;
}

int mxr_realm_start(struct mxr_server *srv, struct mxr_router *router, struct mxr_err *err)
{
    const struct mxr_config *cfg = srv->cfg;
    size_t n = strlen(cfg->data_dir) + sizeof "/realm.key";
    char *key_path = malloc(n);
    if (!key_path)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    snprintf(key_path, n, "%s/realm.key", cfg->data_dir);
    struct mxr_realm_deps d = {
        .server_name = cfg->server_name, .key = &srv->key, .store = srv->store, .key_path = key_path,
        .log = &srv->log, .clock = server_clock, .clock_ctx = srv, .openid = daemon_openid, .openid_ctx = srv,
    };
    srv->realm = mxr_realm_new(&d, err);
    free(key_path);
    if (!srv->realm)
        return mxr_err_prefix(err, "realm");
    if (mxr_realm_add_routes(router, err) < 0 || mxr_openid_add_routes(router, err) < 0)
        return -1;
    return 0;
}
