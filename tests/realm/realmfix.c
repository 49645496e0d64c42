#include "realmfix.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "mxr/ids.h"
#include "relay/store/realm.h"

/* "ok:<user>" is the token of <user>; anything else is unknown. */
static int fake_openid(void *ctx, const char *matrix_server, const char *token, char user_out[256],
                       struct mxr_err *err)
{
    struct realmfix *r = ctx;
    (void)matrix_server;
    r->openid_calls++;
    if (strncmp(token, "ok:", 3) != 0 || strlen(token + 3) > 255)
        return mxr_err_set(err, "M_UNKNOWN_TOKEN", "fake homeserver: unknown token");
    strcpy(user_out, token + 3);
    return 0;
}

static void start_realm(struct realmfix *r)
{
    struct mxr_err err = { 0 };
    struct mxr_realm_deps d = {
        .server_name = r->fx.cfg.server_name, .key = &r->fx.srv.key, .store = r->st.s, .key_path = r->key_path,
        .clock = r->fx.srv.clock, .clock_ctx = r->fx.srv.clock_ctx, .openid = fake_openid, .openid_ctx = r,
        .max_allowed_guesses = r->max_guesses, .limits = &r->limits,
    };
    r->realm = mxr_realm_new(&d, &err);
    if (!r->realm)
        fail_msg("realm: %s", err.msg);
    r->fx.srv.realm = r->realm;
    r->fx.srv.store = r->st.s;
}

void realmfix_open(struct realmfix *r, const char *server_name, const struct mxr_realm_limits *limits)
{
    memset(r, 0, sizeof *r);
    fixture_init(&r->fx, server_name, NULL);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_add_routes(&r->fx.router, &err), 0);
    fx_open(&r->st, 0);
    snprintf(r->keydir, sizeof r->keydir, "/tmp/mxr-realmkey-XXXXXX");
    assert_non_null(mkdtemp(r->keydir));
    snprintf(r->key_path, sizeof r->key_path, "%s/realm.key", r->keydir);
    if (limits)
        r->limits = *limits;   /* else all zero: every limit off */
    r->max_guesses = 10;
    start_realm(r);
}

void realmfix_restart(struct realmfix *r)
{
    mxr_realm_free(r->realm);
    r->realm = NULL;
    fx_close_keep(&r->st);
    fx_reopen(&r->st);
    start_realm(r);
}

void realmfix_close(struct realmfix *r)
{
    mxr_realm_free(r->realm);
    fx_close(&r->st);
    unlink(r->key_path);
    rmdir(r->keydir);
    fixture_free(&r->fx);
}

void realmfix_raw(struct realmfix *r, const char *method, const char *path, const char *body,
                  struct mxr_response *resp)
{
    fixture_request(&r->fx, method, path, NULL, body, resp, NULL);
}

json_t *realmfix_call(struct realmfix *r, const char *op, json_t *fields, const uint8_t *session, int *status)
{
    struct mxr_err err = { 0 };
    json_t *inner = fields ? fields : json_object();
    json_object_set_new(inner, "op", json_string(op));
    json_object_set_new(inner, "ts_ms", json_integer(r->fx.now));
    assert_int_equal(mxr_realm_json_set_bytes(inner, "realm_id", r->realm->realm_id, 16, &err), 0);
    if (session)
        assert_int_equal(mxr_realm_json_set_bytes(inner, "session", session, 32, &err), 0);
    struct mxr_realm_channel ch;
    json_t *env = mxr_realm_seal_request(&ch, r->realm->box_pk, r->realm->key_id, inner, &err);
    assert_non_null(env);
    json_decref(inner);
    char *body = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    char path[128];
    snprintf(path, sizeof path, "%s/%s", MXR_REALM_API_PREFIX, op);
    struct mxr_response resp;
    realmfix_raw(r, "POST", path, body, &resp);
    free(body);
    json_t *out = NULL;
    if (json_object_get(resp.json, "ct")) {
        out = mxr_realm_open_reply(&ch, resp.json, status, &err);
        if (!out)
            fail_msg("reply does not open: %s", err.msg);
        assert_int_equal(*status, resp.status);   /* the outer status mirrors the sealed one */
    } else {
        *status = resp.status;
    }
    mxr_realm_channel_wipe(&ch);
    mxr_response_clear(&resp);
    return out;
}

void realmfix_session(struct realmfix *r, const char *user, uint8_t session[MXR_REALM_SESSION_BYTES])
{
    char tok[300];
    snprintf(tok, sizeof tok, "ok:%s", user);
    int status = 0;
    json_t *b = realmfix_call(r, "session", json_pack("{s:s, s:s}", "matrix_server", mxr_id_domain(user),
                                                       "openid_token", tok), NULL, &status);
    assert_non_null(b);
    assert_int_equal(status, 200);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_json_get_bytes(b, "session", session, 32, &err), 0);
    assert_string_equal(json_string_value(json_object_get(b, "user_id")), user);
    json_decref(b);
}

bool realmfix_record(struct realmfix *r, const char *user, struct realm_record *rec)
{
    uint8_t uk[32], buf[REALM_SEALED_MAX];
    realm_user_key(r->realm, user, uk);
    struct mxr_err err = { 0 };
    struct mxr_store_txn *txn;
    assert_int_equal(mxr_store_read_begin(r->st.s, &txn, &err), 0);
    size_t len = 0;
    int rc = mxr_store_realm_record_get(txn, uk, buf, sizeof buf, &len, &err);
    mxr_store_read_end(txn);
    assert_true(rc >= 0);
    if (rc == MXR_STORE_NOT_FOUND)
        return false;
    if (realm_record_open(r->realm, buf, len, uk, rec, &err) < 0)
        fail_msg("record: %s", err.msg);
    return true;
}

struct put_arg {
    uint8_t uk[32];
    uint8_t buf[REALM_SEALED_MAX];
    size_t len;
};

static int put_fn(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct put_arg *a = arg;
    return mxr_store_realm_record_put(txn, a->uk, a->buf, a->len, err);
}

void realmfix_put_record(struct realmfix *r, const char *user, const struct realm_record *rec)
{
    struct put_arg a;
    realm_user_key(r->realm, user, a.uk);
    a.len = realm_record_seal(r->realm, rec, a.uk, a.buf);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_write(r->st.s, put_fn, &a, &err), 0);
}

json_t *realmfix_register2_fields(struct realmfix *r, unsigned allowed, uint8_t version[16], uint8_t access_key[32],
                                  uint8_t tag[16])
{
    struct mxr_err err = { 0 };
    struct mxr_realm_oprf_key k;
    assert_int_equal(mxr_realm_oprf_keygen(&k, &err), 0);
    uint8_t vk[32], sk[64], sig[64], out[64], commitment[32], unlock[32], s[32], enc[145], ec[16];
    crypto_sign_keypair(vk, sk);
    mxr_realm_oprf_sig_sign(sig, sk, r->realm->realm_id, k.public_key);
    randombytes_buf(version, 16);
    randombytes_buf(access_key, 32);
    randombytes_buf(tag, 16);
    assert_int_equal(mxr_realm_oprf_unoblivious(out, k.private_key, access_key, 32, &err), 0);
    mxr_realm_unlock_key_derive(commitment, unlock, out);
    assert_int_equal(mxr_realm_scalar_random(s, &err), 0);
    randombytes_buf(enc, sizeof enc);
    randombytes_buf(ec, sizeof ec);
    json_t *f = json_pack("{s:s, s:i}", "profile", "sodium1", "allowed_guesses", (int)allowed);
    assert_int_equal(mxr_realm_json_set_bytes(f, "version", version, 16, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "oprf_private_key", k.private_key, 32, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "oprf_public_key", k.public_key, 32, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "oprf_verifying_key", vk, 32, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "oprf_signature", sig, 64, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "unlock_key_commitment", commitment, 32, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "unlock_key_tag", tag, 16, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "encryption_key_scalar_share", s, 32, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "encrypted_secret", enc, sizeof enc, &err), 0);
    assert_int_equal(mxr_realm_json_set_bytes(f, "encrypted_secret_commitment", ec, sizeof ec, &err), 0);
    return f;
}

/* ---- realmnet ------------------------------------------------------------------ */

static struct realmfix *net_find(struct realmnet *net, const char *url)
{
    for (size_t i = 0; i < net->n; i++) {
        char u[300];
        snprintf(u, sizeof u, "test://%s", net->realms[i]->fx.cfg.server_name);
        if (!strcmp(u, url))
            return net->realms[i];
    }
    return NULL;
}

static int net_http(void *ctx, const struct mxr_realm_info *ri, const char *method, const char *path,
                    const json_t *body, long *status, json_t **response, struct mxr_err *err)
{
    struct realmnet *net = ctx;
    net->http_calls++;
    struct realmfix *r = net_find(net, ri->url);
    *response = NULL;
    if (!r || r->down)
        return mxr_err_set(err, "M_UNKNOWN", "%s: connection refused", ri->url);
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct mxr_response resp;
    realmfix_raw(r, method, path, b, &resp);
    free(b);
    *status = resp.status;
    *response = resp.json;
    resp.json = NULL;
    mxr_response_clear(&resp);
    return 0;
}

static int net_openid(void *ctx, const struct mxr_realm_info *ri, char token_out[MXR_REALM_OPENID_TOKEN_MAX],
                      char matrix_server_out[256], struct mxr_err *err)
{
    struct realmnet *net = ctx;
    (void)ri;
    if (!net->user[0])
        return mxr_err_set(err, "M_UNKNOWN", "realmnet: no user set");
    snprintf(token_out, MXR_REALM_OPENID_TOKEN_MAX, "ok:%s", net->user);
    snprintf(matrix_server_out, 256, "%s", mxr_id_domain(net->user));
    return 0;
}

static int64_t net_now(void *ctx)
{
    return *((struct realmnet *)ctx)->now;
}

void realmnet_init(struct realmnet *net, struct realmfix *const *realms, size_t n)
{
    memset(net, 0, sizeof *net);
    for (size_t i = 0; i < n; i++)
        net->realms[i] = realms[i];
    net->n = n;
    net->now = &realms[0]->fx.now;
    net->tr = (struct mxr_realm_transport){ .http = net_http, .openid = net_openid, .now_ms = net_now, .ctx = net };
}

void realmnet_discover(struct realmnet *net, struct mxr_realm_client *c, size_t i, struct mxr_realm_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->url, sizeof out->url, "test://%s", net->realms[i]->fx.cfg.server_name);
    struct mxr_err err = { 0 };
    if (mxr_realm_discover(c, out, &err) < 0)
        fail_msg("discover %s: %s", out->url, err.msg);
}
