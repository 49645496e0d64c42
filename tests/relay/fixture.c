#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/base64.h"
#include "mxr/sign.h"
#include "relay/federation/federation.h"
#include "relay/federation/keyring.h"
#include "relay/federation/xmatrix.h"

static int64_t fake_clock(void *ctx)
{
    return ((struct fixture *)ctx)->now;
}

static json_t *fake_fetch(void *ctx, const char *server_name, struct mxr_err *err)
{
    struct fixture *f = ctx;
    f->fetches++;
    json_t *r = json_object_get(f->remote, server_name);
    if (!r) {
        mxr_err_set(err, "M_UNKNOWN", "fake network: %s unreachable", server_name);
        return NULL;
    }
    return json_deep_copy(r);
}

void fixture_init(struct fixture *f, const char *server_name, const char *extra_yaml)
{
    memset(f, 0, sizeof *f);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "server_name: \"%s\"\n"
             "listeners: [{type: http, bind_address: 127.0.0.1, port: 0}]\n"
             "data_dir: /nonexistent\n"
             "max_request_bytes: 4096\n"
             "%s",
             server_name, extra_yaml ? extra_yaml : "");
    struct mxr_err err = { 0 };
    if (mxr_config_load_string(&f->cfg, yaml, strlen(yaml), "fixture", &err) < 0)
        fail_msg("fixture config: %s", err.msg);
    f->now = FIXTURE_T0;
    f->remote = json_object();
    f->srv.cfg = &f->cfg;
    f->srv.log = (struct mxr_log){ MXR_LOG_ERROR, 2 };
    f->srv.clock = fake_clock;
    f->srv.clock_ctx = f;
    atomic_init(&f->srv.next_request_id, 0);
    uint8_t seed[32] = { 0x5e, 0x1f };
    assert_int_equal(mxr_key_from_seed(&f->srv.key, seed, "ours", &err), 0);
    uint8_t spec_seed[32];
    assert_int_equal(mxr_b64_decode(spec_seed, sizeof spec_seed, SPEC_SEED_B64, strlen(SPEC_SEED_B64), MXR_B64_STD, &err),
                     32);
    assert_int_equal(mxr_key_from_seed(&f->spec_key, spec_seed, "1", &err), 0);
    struct mxr_keyring_deps deps = {
        .server_name = server_name, .key = &f->srv.key, .clock = fake_clock, .clock_ctx = f,
        .fetch = fake_fetch, .fetch_ctx = f,
    };
    f->srv.keyring = mxr_keyring_new(&deps, &err);
    assert_non_null(f->srv.keyring);
    f->router.federation_auth = mxr_xmatrix_authenticate;
    assert_int_equal(mxr_router_add(&f->router, MXR_FEDERATION_ROUTES, MXR_FEDERATION_N_ROUTES, &err), 0);
}

void fixture_routes_first(struct fixture *f, const struct mxr_route *routes, size_t n)
{
    struct mxr_err err = { 0 };
    mxr_router_free(&f->router);
    assert_int_equal(mxr_router_add(&f->router, routes, n, &err), 0);
    assert_int_equal(mxr_router_add(&f->router, MXR_FEDERATION_ROUTES, MXR_FEDERATION_N_ROUTES, &err), 0);
}

void fixture_free(struct fixture *f)
{
    mxr_keyring_free(f->srv.keyring);
    mxr_router_free(&f->router);
    mxr_config_free(&f->cfg);
    json_decref(f->remote);
}

json_t *fixture_key_response(const struct mxr_signing_key *k, const char *server, int64_t valid_until)
{
    char pk[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(k, pk);
    json_t *o = json_pack("{s:s, s:{s:{s:s}}, s:{}, s:I}", "server_name", server, "verify_keys", k->key_id, "key", pk,
                          "old_verify_keys", "valid_until_ts", (json_int_t)valid_until);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_sign_json(o, server, k, &err), 0);
    return o;
}

void fixture_serve_keys(struct fixture *f, const char *server, json_t *response)
{
    if (response)
        json_object_set_new(f->remote, server, response);
    else
        json_object_del(f->remote, server);
}

void fixture_request(struct fixture *f, const char *method, const char *target, const char *authorization,
                     const char *body, struct mxr_response *resp, char *origin_out)
{
    struct mxr_request req = { 0 };
    memset(resp, 0, sizeof *resp);
    req.srv = &f->srv;
    req.method = method;
    req.target = target;
    req.authorization = authorization;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    mxr_http_dispatch(&f->router, &req, resp);
    if (origin_out)
        strcpy(origin_out, req.origin);
    mxr_request_clear(&req);
    assert_true(resp->status >= 100);
}

void assert_matrix_error(const struct mxr_response *resp, int status, const char *errcode, const char *needle)
{
    json_t *code = json_object_get(resp->json, "errcode"), *msg = json_object_get(resp->json, "error");
    if (resp->status != status || !json_is_string(code) || strcmp(json_string_value(code), errcode) ||
        !json_is_string(msg) || (needle && !strstr(json_string_value(msg), needle)) || json_object_size(resp->json) != 2) {
        char *dump = json_dumps(resp->json, JSON_COMPACT);
        fail_msg("expected %d %s containing '%s', got %d %s", status, errcode, needle ? needle : "", resp->status,
                 dump ? dump : "(null)");
    }
}
