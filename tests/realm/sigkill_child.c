/* The realm in a process that dies by SIGKILL right after a recover2 reply
 * (design §6.4 item 2, §6.11 item 7), for tests/realm/sigkill.sh:
 *
 *   sigkill_child DIR register   register @alice:home.test (5 guesses) in DIR
 *   sigkill_child DIR guess      one recover2; print "replied N" (N = the
 *                                guess_count in the reply), then SIGKILL itself
 *   sigkill_child DIR count      print the guess count stored in DIR
 *
 * The store is opened as the daemon opens it (durable commits); the realm is
 * driven through the dispatcher with the daemon's route table. Exit 0, or 1
 * with a message. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxr/realm_crypto.h"
#include "mxr/realm_wire.h"
#include "relay/realm/realm.h"
#include "relay/realm/realm_int.h"
#include "relay/server.h"
#include "relay/store/realm.h"
#include "relay/store/store.h"

#define USER "@alice:home.test"

static struct mxr_config cfg;
static struct mxr_server srv;
static struct mxr_router router;
static char dir[512];

static void die(const char *what, const struct mxr_err *err)
{
    fprintf(stderr, "sigkill_child: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static int openid_ok(void *ctx, const char *ms, const char *token, char user_out[256], struct mxr_err *err)
{
    (void)ctx;
    (void)ms;
    if (strcmp(token, "ok"))
        return mxr_err_set(err, "M_UNKNOWN_TOKEN", "unknown");
    strcpy(user_out, USER);
    return 0;
}

static void open_all(void)
{
    struct mxr_err err = { 0 };
    const char *yaml = "server_name: \"realm.test\"\nlisteners: [{type: http, bind_address: 127.0.0.1, port: 0}]\n"
                       "data_dir: /nonexistent\n";
    if (mxr_config_load_string(&cfg, yaml, strlen(yaml), "sigkill_child", &err) < 0)
        die("config", &err);
    srv.cfg = &cfg;
    srv.log = (struct mxr_log){ MXR_LOG_ERROR, 2 };
    uint8_t seed[32] = { 7 };
    if (mxr_key_from_seed(&srv.key, seed, "k", &err) < 0)
        die("key", &err);
    char path[600];
    snprintf(path, sizeof path, "%s/store", dir);
    struct mxr_store_options so = { .path = path };   /* durable, as the daemon */
    if (!(srv.store = mxr_store_open(&so, &err)))
        die("store", &err);
    snprintf(path, sizeof path, "%s/realm.key", dir);
    struct mxr_realm_limits none = { 0 };
    struct mxr_realm_deps d = { .server_name = "realm.test", .key = &srv.key, .store = srv.store, .key_path = path,
                                .openid = openid_ok, .limits = &none };
    if (!(srv.realm = mxr_realm_new(&d, &err)))
        die("realm", &err);
    if (mxr_realm_add_routes(&router, &err) < 0)
        die("routes", &err);
}

/* One sealed call through the dispatcher; returns the opened reply. */
static json_t *call(const char *op, json_t *inner, const uint8_t *session, int *status)
{
    struct mxr_err err = { 0 };
    json_object_set_new(inner, "op", json_string(op));
    json_object_set_new(inner, "ts_ms", json_integer(mxr_server_now(NULL)));
    mxr_realm_json_set_bytes(inner, "realm_id", srv.realm->realm_id, 16, &err);
    if (session)
        mxr_realm_json_set_bytes(inner, "session", session, 32, &err);
    struct mxr_realm_channel ch;
    json_t *env = mxr_realm_seal_request(&ch, srv.realm->box_pk, srv.realm->key_id, inner, &err);
    json_decref(inner);
    if (!env)
        die("seal", &err);
    char *body = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    char target[128];
    snprintf(target, sizeof target, "%s/%s", MXR_REALM_API_PREFIX, op);
    struct mxr_request req = { .srv = &srv, .method = "POST", .target = target, .body = body,
                               .body_len = strlen(body), .remote = "127.0.0.1" };
    struct mxr_response resp = { 0 };
    mxr_http_dispatch(&router, &req, &resp);
    free(body);
    json_t *out = mxr_realm_open_reply(&ch, resp.json, status, &err);
    mxr_request_clear(&req);
    mxr_response_clear(&resp);
    if (!out)
        die(op, &err);
    return out;
}

static void session(uint8_t s[32])
{
    int status = 0;
    json_t *b = call("session", json_pack("{s:s, s:s}", "matrix_server", "home.test", "openid_token", "ok"), NULL,
                     &status);
    struct mxr_err err = { 0 };
    if (status != 200 || mxr_realm_json_get_bytes(b, "session", s, 32, &err) < 0)
        die("session", &err);
    json_decref(b);
}

/* The registration's access key and version, kept in DIR/client for later runs. */
static void client_state(bool create, uint8_t access_key[32], uint8_t version[16])
{
    char path[600];
    snprintf(path, sizeof path, "%s/client", dir);
    FILE *f = fopen(path, create ? "wb" : "rb");
    if (!f)
        die("client state", NULL);
    if (create ? (fwrite(access_key, 32, 1, f) != 1 || fwrite(version, 16, 1, f) != 1)
               : (fread(access_key, 32, 1, f) != 1 || fread(version, 16, 1, f) != 1))
        die("client state", NULL);
    fclose(f);
}

static int do_register(void)
{
    struct mxr_err err = { 0 };
    uint8_t s[32], version[16], access_key[32], tag[16], vk[32], sk[64], sig[64], out[64], commitment[32],
        unlock[32], share[32], enc[145], ec[16];
    session(s);
    struct mxr_realm_oprf_key k;
    if (mxr_realm_oprf_keygen(&k, &err) < 0 || mxr_realm_scalar_random(share, &err) < 0)
        die("keygen", &err);
    crypto_sign_keypair(vk, sk);
    mxr_realm_oprf_sig_sign(sig, sk, srv.realm->realm_id, k.public_key);
    randombytes_buf(version, 16);
    randombytes_buf(access_key, 32);
    randombytes_buf(tag, 16);
    randombytes_buf(enc, sizeof enc);
    randombytes_buf(ec, sizeof ec);
    if (mxr_realm_oprf_unoblivious(out, k.private_key, access_key, 32, &err) < 0)
        die("oprf", &err);
    mxr_realm_unlock_key_derive(commitment, unlock, out);
    json_t *f = json_pack("{s:s, s:i}", "profile", "sodium1", "allowed_guesses", 5);
    mxr_realm_json_set_bytes(f, "version", version, 16, &err);
    mxr_realm_json_set_bytes(f, "oprf_private_key", k.private_key, 32, &err);
    mxr_realm_json_set_bytes(f, "oprf_public_key", k.public_key, 32, &err);
    mxr_realm_json_set_bytes(f, "oprf_verifying_key", vk, 32, &err);
    mxr_realm_json_set_bytes(f, "oprf_signature", sig, 64, &err);
    mxr_realm_json_set_bytes(f, "unlock_key_commitment", commitment, 32, &err);
    mxr_realm_json_set_bytes(f, "unlock_key_tag", tag, 16, &err);
    mxr_realm_json_set_bytes(f, "encryption_key_scalar_share", share, 32, &err);
    mxr_realm_json_set_bytes(f, "encrypted_secret", enc, sizeof enc, &err);
    mxr_realm_json_set_bytes(f, "encrypted_secret_commitment", ec, sizeof ec, &err);
    int status = 0;
    json_t *b = call("register2", f, s, &status);
    json_decref(b);
    if (status != 200)
        die("register2 refused", NULL);
    client_state(true, access_key, version);
    printf("registered\n");
    return 0;
}

static int do_guess(void)
{
    uint8_t s[32], access_key[32], version[16], blind[32], U[32];
    struct mxr_err err = { 0 };
    client_state(false, access_key, version);
    session(s);
    if (mxr_realm_oprf_blind(blind, U, access_key, 32, &err) < 0)
        die("blind", &err);
    json_t *f = json_object();
    mxr_realm_json_set_bytes(f, "version", version, 16, &err);
    mxr_realm_json_set_bytes(f, "blinded_input", U, 32, &err);
    int status = 0;
    json_t *b = call("recover2", f, s, &status);
    if (status != 200)
        die("recover2 refused", NULL);
    printf("replied %lld\n", (long long)json_integer_value(json_object_get(b, "guess_count")));
    fflush(stdout);
    /* Right after the reply: no close, no drain, no atexit. */
    raise(SIGKILL);
    return 1;
}

static int do_count(void)
{
    uint8_t uk[32], buf[REALM_SEALED_MAX];
    realm_user_key(srv.realm, USER, uk);
    struct mxr_err err = { 0 };
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(srv.store, &txn, &err) < 0)
        die("read", &err);
    size_t len = 0;
    int rc = mxr_store_realm_record_get(txn, uk, buf, sizeof buf, &len, &err);
    mxr_store_read_end(txn);
    struct realm_record rec;
    if (rc != 0 || realm_record_open(srv.realm, buf, len, uk, &rec, &err) < 0)
        die("no record", &err);
    printf("%u\n", rec.count);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sigkill_child DIR register|guess|count\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    mkdir(dir, 0700);
    open_all();
    int rc = !strcmp(argv[2], "register") ? do_register()
             : !strcmp(argv[2], "guess")  ? do_guess()
             : !strcmp(argv[2], "count")  ? do_count()
                                          : 2;
    mxr_realm_free(srv.realm);
    mxr_store_close(srv.store);
    mxr_router_free(&router);
    mxr_config_free(&cfg);
    return rc;
}
