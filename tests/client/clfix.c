/* Test fixture for relay/client (see clfix.h). */
#include "tests/client/clfix.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/keys.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

static int64_t fake_clock(void *ctx)
{
    return ((struct clfix *)ctx)->now;
}

/* No other servers in these tests: only our own key, which the pipeline
 * answers itself. */
static int no_keys(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32])
{
    (void)ctx, (void)server, (void)key_id, (void)valid_at_ts, (void)pk;
    return -1;
}

static void notify(void *ctx, const struct mxr_rooms_notice *n)
{
    struct clfix *f = ctx;
    mxr_client_rooms_notify(f->srv.client, n);
}

static void open_services(struct clfix *f)
{
    struct mxr_err err = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/store", f->dir);
    struct mxr_store_options so = {.path = path, .sync = MXR_STORE_SYNC_NONE};
    f->srv.store = mxr_store_open(&so, &err);
    if (!f->srv.store)
        fail_msg("store: %s", err.msg);
    struct mxr_rooms_deps rd = {
        .server_name = CLFIX_SERVER, .key = &f->srv.key, .store = f->srv.store, .keys = {no_keys, f},
        .clock = fake_clock, .clock_ctx = f, .notify = notify, .notify_ctx = f,
        .default_room_version = f->cfg.default_room_version,
    };
    f->srv.rooms = mxr_rooms_new(&rd, &err);
    if (!f->srv.rooms)
        fail_msg("rooms: %s", err.msg);
    struct mxr_client_deps cd = {
        .cfg = &f->cfg, .store = f->srv.store, .rooms = f->srv.rooms, .clock = fake_clock, .clock_ctx = f,
        .pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN, .pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN,
    };
    f->srv.client = mxr_client_new(&cd, &err);
    if (!f->srv.client)
        fail_msg("client: %s", err.msg);
    memset(&f->router, 0, sizeof f->router);
    assert_int_equal(mxr_client_add_routes(&f->router, &err), 0);
}

static void close_services(struct clfix *f)
{
    mxr_router_free(&f->router);
    mxr_client_free(f->srv.client);
    mxr_rooms_free(f->srv.rooms);
    mxr_store_close(f->srv.store);
    f->srv.client = NULL;
    f->srv.rooms = NULL;
    f->srv.store = NULL;
}

void clfix_open(struct clfix *f, const char *extra_yaml)
{
    memset(f, 0, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/mxr-client-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "server_name: \"" CLFIX_SERVER "\"\n"
             "listeners: [{type: http, bind_address: 127.0.0.1, port: 0}]\n"
             "data_dir: \"%s\"\n"
             "%s%s",
             f->dir,
             /* the clock stands still here, so buckets would never refill:
              * rate limits are off unless a test configures them */
             extra_yaml && strstr(extra_yaml, "ratelimit_") ? ""
                 : "ratelimit_login_per_minute: 0\nratelimit_registration_per_minute: 0\n"
                   "ratelimit_message_per_minute: 0\n",
             extra_yaml ? extra_yaml : "");
    struct mxr_err err = {0};
    if (mxr_config_load_string(&f->cfg, yaml, strlen(yaml), "clfix", &err) < 0)
        fail_msg("config: %s", err.msg);
    f->now = CLFIX_T0;
    f->srv.cfg = &f->cfg;
    f->srv.log = (struct mxr_log){MXR_LOG_ERROR, 2};
    f->srv.clock = fake_clock;
    f->srv.clock_ctx = f;
    atomic_init(&f->srv.next_request_id, 0);
    uint8_t seed[32] = {0xc1, 0x1e, 0x47};
    assert_int_equal(mxr_key_from_seed(&f->srv.key, seed, "hs1", &err), 0);
    open_services(f);
}

void clfix_restart(struct clfix *f)
{
    close_services(f);
    open_services(f);
}

void clfix_close(struct clfix *f)
{
    close_services(f);
    mxr_config_free(&f->cfg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

int clfix_req(struct clfix *f, const char *method, const char *target, const char *token, const char *body,
              json_t **out)
{
    struct mxr_request req = {0};
    struct mxr_response resp = {0};
    char auth[300];
    if (token)
        snprintf(auth, sizeof auth, "Bearer %s", token);
    req.srv = &f->srv;
    req.method = method;
    req.target = target;
    req.authorization = token ? auth : NULL;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.remote = "127.0.0.1";
    mxr_http_dispatch(&f->router, &req, &resp);
    mxr_request_clear(&req);
    int status = resp.status;
    if (out)
        *out = json_incref(resp.json);
    mxr_response_clear(&resp);
    return status;
}

json_t *clfix_ok(struct clfix *f, int status, const char *method, const char *target, const char *token,
                 const char *body)
{
    json_t *out = NULL;
    int got = clfix_req(f, method, target, token, body, &out);
    if (got != status) {
        char *dump = out ? json_dumps(out, JSON_COMPACT) : NULL;
        fail_msg("%s %s: expected %d, got %d %s", method, target, status, got, dump ? dump : "");
    }
    if (!out)
        out = json_object();
    return out;
}

void clfix_error(struct clfix *f, int status, const char *errcode, const char *method, const char *target,
                 const char *token, const char *body)
{
    json_t *out = clfix_ok(f, status, method, target, token, body);
    const char *code = json_string_value(json_object_get(out, "errcode"));
    if (!code || strcmp(code, errcode) || !json_is_string(json_object_get(out, "error"))) {
        char *dump = json_dumps(out, JSON_COMPACT);
        fail_msg("%s %s: expected %s, got %s", method, target, errcode, dump ? dump : "");
    }
    json_decref(out);
}

void clfix_user(struct clfix *f, const char *localpart, char token[128], char device[160])
{
    struct mxr_err err = {0};
    char user_id[256], pw[128];
    snprintf(pw, sizeof pw, "pw-%s", localpart);
    if (mxr_client_create_account(f->srv.client, localpart, pw, false, user_id, &err) < 0)
        fail_msg("create %s: %s", localpart, err.msg);
    json_t *b = clfix_ok(f, 200, "POST", "/_matrix/client/v3/login", NULL,
                         clfix_fmt("{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                                   "\"user\":\"%s\"},\"password\":\"%s\"}", localpart, pw));
    if (token)
        snprintf(token, 128, "%s", json_string_value(json_object_get(b, "access_token")));
    if (device)
        snprintf(device, 160, "%s", json_string_value(json_object_get(b, "device_id")));
    json_decref(b);
}

const char *clfix_fmt(const char *fmt, ...)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}
