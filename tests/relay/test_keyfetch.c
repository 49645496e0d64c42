/* relay/federation/keyfetch.c: a notary's answer is believed only with the
 * notary's valid signature; the fetch goes to the notaries when the server
 * itself cannot be reached (an in-process HTTPS server plays the notary). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "mxr/sign.h"
#include "relay/federation/fedclient.h"
#include "relay/federation/keyfetch.h"
#include "tests/relay/fixture.h"
#include "tests/relay/https_fixture.h"

#define UNTIL 1900000000000LL

static void key(struct mxr_signing_key *k, uint8_t fill, const char *version)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_key_from_seed(k, seed, version, &err), 0);
}

/* dead.test's keys as the notary serves them: signed by both. */
static json_t *notarised(const struct mxr_signing_key *origin, const char *notary, const struct mxr_signing_key *nk)
{
    json_t *e = fixture_key_response(origin, "dead.test", UNTIL);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_sign_json(e, notary, nk, &err), 0);
    return e;
}

static void notary_signature_required(void **state)
{
    struct mxr_signing_key o, n, forger;
    key(&o, 1, "o1");
    key(&n, 2, "n1");
    key(&forger, 3, "n1");   /* same key ID as the notary's, another key */
    json_t *nkeys = fixture_key_response(&n, "notary.test", UNTIL);
    struct mxr_err err = { 0 };

    json_t *ans = json_pack("{s:[o]}", "server_keys", notarised(&o, "notary.test", &n));
    json_t *e = mxr_keyfetch_from_notary_answer(ans, "dead.test", "notary.test", nkeys, &err);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "server_name")), "dead.test");
    json_decref(e);
    json_decref(ans);

    ans = json_pack("{s:[o]}", "server_keys", notarised(&o, "notary.test", &forger));
    assert_null(mxr_keyfetch_from_notary_answer(ans, "dead.test", "notary.test", nkeys, &err));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    json_decref(ans);

    ans = json_pack("{s:[o]}", "server_keys", fixture_key_response(&o, "dead.test", UNTIL));   /* not notarised */
    assert_null(mxr_keyfetch_from_notary_answer(ans, "dead.test", "notary.test", nkeys, &err));
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_null(mxr_keyfetch_from_notary_answer(ans, "other.test", "notary.test", nkeys, &err));
    assert_string_equal(err.errcode, "M_NOT_FOUND");
    json_decref(ans);
    ans = json_pack("{s:{}}", "server_keys");
    assert_null(mxr_keyfetch_from_notary_answer(ans, "dead.test", "notary.test", nkeys, &err));
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(ans);
    json_decref(nkeys);
}

/* ---- over HTTPS ------------------------------------------------------------------ */

struct notary {
    char name[64];
    struct mxr_signing_key origin, key;
    bool forge;
    int queries;
};

static void serve(void *ctx, const struct https_request *req, struct https_reply *reply)
{
    struct notary *n = ctx;
    json_t *body = NULL;
    if (strcmp(req->target, "/_matrix/key/v2/server") == 0) {
        body = fixture_key_response(&n->key, n->name, UNTIL);
    } else if (strcmp(req->target, "/_matrix/key/v2/query/dead.test") == 0) {
        n->queries++;
        struct mxr_signing_key forger;
        key(&forger, 9, n->key.version);
        body = json_pack("{s:[o]}", "server_keys", notarised(&n->origin, n->name, n->forge ? &forger : &n->key));
    } else {
        reply->status = 404;
        body = json_pack("{s:s}", "errcode", "M_UNRECOGNIZED");
    }
    reply->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    close(fd);
    return ntohs(sa.sin_port);
}

static void falls_back_to_notaries(void **state)
{
    char dir[] = "/tmp/mxr-test-keyfetch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct notary n = { 0 };
    key(&n.origin, 1, "o1");
    key(&n.key, 2, "n1");
    struct https_server *srv = https_start(dir, serve, &n);
    assert_non_null(srv);
    snprintf(n.name, sizeof n.name, "localhost:%d", https_port(srv));
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "server_name: me.test\nfederation_ca_file: \"%s\"\nfederation_allow_private_addresses: true\n"
             "federation_static_map: {\"dead.test\": \"127.0.0.1:%d\"}\n", https_ca_file(srv), closed_port());
    struct mxr_config cfg;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_config_load_string(&cfg, yaml, strlen(yaml), "test", &err), 0);
    struct mxr_log lg = { MXR_LOG_ERROR, 2 };
    struct mxr_fedclient *fc = mxr_fedclient_new(&cfg, &lg, &err);
    const char *notaries[] = { "down.invalid:1", n.name };
    struct mxr_keyfetch *kf = mxr_keyfetch_new(fc, notaries, 2, &err);
    assert_non_null(kf);

    json_t *r = mxr_keyfetch_fetch(kf, "dead.test", &err);
    if (!r)
        fail_msg("%s", err.msg);
    assert_string_equal(json_string_value(json_object_get(r, "server_name")), "dead.test");
    assert_non_null(json_object_get(json_object_get(r, "signatures"), "dead.test"));
    json_decref(r);
    assert_int_equal(n.queries, 1);
    /* A server that answers itself is not asked about. */
    r = mxr_keyfetch_fetch(kf, n.name, &err);
    assert_non_null(r);
    json_decref(r);
    assert_int_equal(n.queries, 1);
    /* A forged notary signature is refused; the direct failure is reported. */
    n.forge = true;
    assert_null(mxr_keyfetch_fetch(kf, "dead.test", &err));
    assert_non_null(strstr(err.msg, "notar"));
    /* Without notaries: the direct failure alone. */
    struct mxr_keyfetch *none = mxr_keyfetch_new(fc, NULL, 0, &err);
    assert_null(mxr_keyfetch_fetch(none, "dead.test", &err));
    mxr_keyfetch_free(none);

    mxr_keyfetch_free(kf);
    mxr_fedclient_free(fc);
    mxr_config_free(&cfg);
    https_stop(srv);
    char p[128];
    snprintf(p, sizeof p, "%s/cert.pem", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/key.pem", dir);
    unlink(p);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(notary_signature_required),
        cmocka_unit_test(falls_back_to_notaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
