/* The client library (proto/realm_client.c, proto/realm_config.c) against
 * three realms in this process (design §6.11 item 9): discovery and the
 * realm-set rules, register, recover (also with one realm down), wrong PINs
 * down to the wipe, realms that lie, delete; the recovery-key text form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "mxr/realm_client.h"
#include "realmfix.h"

#define ALICE "@alice:a.test"
#define PIN "4711"
#define WRONG "1234"

struct world {
    struct realmfix r[3];
    struct realmnet net;
    struct mxr_realm_client c;
    struct mxr_realm_config cfg;
};

static struct world *W;

static int setup(void **state)
{
    W = calloc(1, sizeof *W);
    const char *names[3] = { "a.test", "b.test", "c.test" };
    struct realmfix *rs[3];
    for (int i = 0; i < 3; i++) {
        realmfix_open(&W->r[i], names[i], NULL);
        rs[i] = &W->r[i];
    }
    realmnet_init(&W->net, rs, 3);
    snprintf(W->net.user, sizeof W->net.user, "%s", ALICE);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_client_init(&W->c, &W->net.tr, ALICE, &err), 0);
    struct mxr_realm_info info[3];
    for (size_t i = 0; i < 3; i++)
        realmnet_discover(&W->net, &W->c, i, &info[i]);
    if (mxr_realm_config_build(&W->cfg, info, 3, 2, MXR_REALM_PROFILE_SODIUM1, ALICE, &err) < 0)
        fail_msg("config: %s", err.msg);
    *state = W;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mxr_realm_client_clear(&W->c);
    for (int i = 0; i < 3; i++)
        realmfix_close(&W->r[i]);
    free(W);
    return 0;
}

/* The realmfix holding configuration slot i (the config is sorted by realm_id). */
static struct realmfix *slot(size_t i)
{
    for (int j = 0; j < 3; j++)
        if (!strcmp(W->r[j].fx.cfg.server_name, W->cfg.realms[i].server_name))
            return &W->r[j];
    fail();
    return NULL;
}

static int do_recover(const char *pin, uint8_t out[128], size_t *len, struct mxr_realm_report *rep,
                      struct mxr_err *err)
{
    return mxr_realm_recover(&W->c, &W->cfg, (const uint8_t *)pin, strlen(pin), out, len, rep, err);
}

static void assert_recovers(const uint8_t *secret, size_t n, struct mxr_realm_report *rep)
{
    uint8_t out[128];
    size_t len = 0;
    struct mxr_err err = { 0 };
    if (do_recover(PIN, out, &len, rep, &err) < 0)
        fail_msg("recover: %s (%s)", err.msg, err.errcode);
    assert_int_equal(len, n);
    assert_memory_equal(out, secret, n);
}

/* ---- configuration -------------------------------------------------------------------- */

static void test_discovery_and_rules(void **state)
{
    (void)state;
    struct mxr_err err = { 0 };
    /* sorted by realm_id, every box key pinned */
    for (size_t i = 1; i < 3; i++)
        assert_true(memcmp(W->cfg.realms[i - 1].realm_id, W->cfg.realms[i].realm_id, 16) < 0);
    for (size_t i = 0; i < 3; i++) {
        struct realmfix *r = slot(i);
        assert_memory_equal(W->cfg.realms[i].box_public_key, r->realm->box_pk, 32);
        assert_memory_equal(W->cfg.realms[i].signing_key, r->fx.srv.key.public_key, 32);
    }
    /* JSON round trip */
    json_t *j = mxr_realm_config_to_json(&W->cfg, &err);
    assert_non_null(j);
    struct mxr_realm_config back;
    assert_int_equal(mxr_realm_config_from_json(&back, j, ALICE, &err), 0);
    assert_int_equal(back.n, 3);
    assert_int_equal(back.threshold, 2);
    assert_memory_equal(back.realms, W->cfg.realms, sizeof back.realms[0] * 3);
    json_decref(j);

    struct mxr_realm_info in[4];
    memcpy(in, W->cfg.realms, 3 * sizeof in[0]);
    struct mxr_realm_config c;
    /* t > n/2 and t >= 2 */
    assert_int_equal(mxr_realm_config_build(&c, in, 3, 1, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);
    assert_int_equal(mxr_realm_config_build(&c, in, 3, 4, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);
    assert_int_equal(mxr_realm_config_build(&c, in, 2, 2, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), 0);
    in[3] = in[2];
    in[3].realm_id[0] ^= 0x55;
    snprintf(in[3].server_name, sizeof in[3].server_name, "d.test");
    assert_int_equal(mxr_realm_config_build(&c, in, 4, 2, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);
    assert_int_equal(mxr_realm_config_build(&c, in, 4, 3, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), 0);
    /* distinct server names (a realm other than the homeserver's) */
    size_t other_i = strcmp(in[2].server_name, "a.test") ? 2 : 1;
    snprintf(in[3].server_name, sizeof in[3].server_name, "%s", in[other_i].server_name);
    assert_int_equal(mxr_realm_config_build(&c, in, 4, 3, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);
    assert_non_null(strstr(err.msg, "twice"));
    /* at most one realm on the user's homeserver (a.test, any port) */
    snprintf(in[3].server_name, sizeof in[3].server_name, "a.test:8448");
    assert_int_equal(mxr_realm_config_build(&c, in, 4, 3, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);
    assert_non_null(strstr(err.msg, "homeserver"));
    /* distinct operators */
    snprintf(in[3].server_name, sizeof in[3].server_name, "d.test");
    snprintf(in[3].operator_name, sizeof in[3].operator_name, "b.test");
    assert_int_equal(mxr_realm_config_build(&c, in, 4, 3, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);
    assert_non_null(strstr(err.msg, "operator"));
    /* distinct realm IDs */
    in[3] = in[2];
    snprintf(in[3].server_name, sizeof in[3].server_name, "d.test");
    assert_int_equal(mxr_realm_config_build(&c, in, 4, 3, MXR_REALM_PROFILE_SODIUM1, ALICE, &err), -1);

    /* jb1's MACs (BLAKE2s) are not in this build: refused before any request,
     * so no guess is spent finding out */
    struct mxr_realm_config j1 = W->cfg;
    j1.profile = MXR_REALM_PROFILE_JB1;
    unsigned calls = W->net.http_calls;
    struct mxr_realm_report rep;
    uint8_t out[128];
    size_t len = 0;
    assert_int_equal(mxr_realm_recover(&W->c, &j1, (const uint8_t *)PIN, 4, out, &len, &rep, &err), -1);
    assert_string_equal(err.errcode, "M_UNRECOGNIZED");
    assert_int_equal(W->net.http_calls, calls);

    /* discovery refuses a relay that claims another name */
    struct mxr_realm_info x;
    memset(&x, 0, sizeof x);
    snprintf(x.url, sizeof x.url, "test://b.test");
    snprintf(x.server_name, sizeof x.server_name, "c.test");
    assert_int_equal(mxr_realm_discover(&W->c, &x, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    /* or whose key response does not match the key that signed info */
    struct realmfix *b = slot(0);
    struct mxr_signing_key saved = b->fx.srv.key, other;
    assert_int_equal(mxr_key_generate(&other, "x", &err), 0);
    memset(&x, 0, sizeof x);
    snprintf(x.url, sizeof x.url, "test://%s", b->fx.cfg.server_name);
    /* info signed with another key than the key server publishes: swap the
     * realm's signing key only */
    b->realm->key = &other;
    assert_int_equal(mxr_realm_discover(&W->c, &x, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    b->realm->key = &b->fx.srv.key;
    assert_memory_equal(&saved, &b->fx.srv.key, sizeof saved);
}

/* ---- the operations ---------------------------------------------------------------------- */

static void test_register_recover_down_wrong(void **state)
{
    (void)state;
    struct mxr_err err = { 0 };
    struct mxr_realm_report rep;
    uint8_t secret[32];
    randombytes_buf(secret, sizeof secret);
    if (mxr_realm_register(&W->c, &W->cfg, (const uint8_t *)PIN, 4, secret, 32, 3, &rep, &err) < 0)
        fail_msg("register: %s", err.msg);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(rep.realms[i].status, MXR_REALM_ST_OK);
    assert_recovers(secret, 32, &rep);
    assert_int_equal(rep.lied, 0);

    /* one realm down: 2 of 3 suffice */
    slot(1)->down = true;
    assert_recovers(secret, 32, &rep);
    assert_int_equal(rep.realms[1].status, MXR_REALM_ST_UNREACHABLE);
    slot(1)->down = false;

    /* a wrong PIN: the client notices through the commitment and every realm asked counted it */
    uint8_t out[128];
    size_t len = 0;
    assert_int_equal(do_recover(WRONG, out, &len, &rep, &err), -1);
    assert_string_equal(err.errcode, MXR_REALM_E_INVALID_PIN);
    assert_int_equal(rep.guesses_remaining, 2);
    for (size_t i = 0; i < 3; i++) {
        struct realm_record rec;
        assert_true(realmfix_record(slot(i), ALICE, &rec));
        assert_int_equal(rec.count, 1);
    }
    /* the right PIN resets the counts where recover3 ran */
    assert_recovers(secret, 32, &rep);
    for (size_t i = 0; i < 3; i++) {
        struct realm_record rec;
        assert_true(realmfix_record(slot(i), ALICE, &rec));
        assert_int_equal(rec.count, 0);
    }
}

static void test_lying_realms(void **state)
{
    (void)state;
    struct mxr_err err = { 0 };
    struct mxr_realm_report rep;
    uint8_t secret[20];
    randombytes_buf(secret, sizeof secret);
    assert_int_equal(mxr_realm_register(&W->c, &W->cfg, (const uint8_t *)PIN, 4, secret, 20, 5, &rep, &err), 0);
    struct realm_record orig, bad;
    /* 1. an operator swaps the OPRF key but keeps the public key: the DLEQ proof fails */
    assert_true(realmfix_record(slot(0), ALICE, &orig));
    bad = orig;
    assert_int_equal(mxr_realm_scalar_random(bad.k, &err), 0);
    realmfix_put_record(slot(0), ALICE, &bad);
    assert_recovers(secret, 20, &rep);
    assert_int_equal(rep.realms[0].status, MXR_REALM_ST_LIED);
    assert_int_equal(rep.lied, 1);
    realmfix_put_record(slot(0), ALICE, &orig);
    /* 2. a realm that answers with another commitment is outvoted */
    assert_true(realmfix_record(slot(1), ALICE, &orig));
    bad = orig;
    bad.commitment[5] ^= 1;
    realmfix_put_record(slot(1), ALICE, &bad);
    assert_recovers(secret, 20, &rep);
    assert_int_equal(rep.realms[1].status, MXR_REALM_ST_LIED);
    realmfix_put_record(slot(1), ALICE, &orig);
    /* 3. a realm that hands out a wrong share of s: its commitment catches it */
    assert_true(realmfix_record(slot(2), ALICE, &orig));
    bad = orig;
    assert_int_equal(mxr_realm_scalar_random(bad.s_share, &err), 0);
    realmfix_put_record(slot(2), ALICE, &bad);
    assert_recovers(secret, 20, &rep);
    assert_int_equal(rep.realms[2].status, MXR_REALM_ST_LIED);
    realmfix_put_record(slot(2), ALICE, &orig);
    /* 4. two liars out of three: no recovery, and no wrong secret */
    assert_true(realmfix_record(slot(0), ALICE, &orig));
    bad = orig;
    bad.commitment[0] ^= 1;
    realmfix_put_record(slot(0), ALICE, &bad);
    struct realm_record orig1;
    assert_true(realmfix_record(slot(1), ALICE, &orig1));
    struct realm_record bad1 = orig1;
    bad1.commitment[1] ^= 1;
    realmfix_put_record(slot(1), ALICE, &bad1);
    uint8_t out[128];
    size_t len = 0;
    assert_int_equal(do_recover(PIN, out, &len, &rep, &err), -1);
    assert_string_equal(err.errcode, MXR_REALM_E_UNAVAILABLE);
    realmfix_put_record(slot(0), ALICE, &orig);
    realmfix_put_record(slot(1), ALICE, &orig1);
}

static void test_exhaust_and_delete(void **state)
{
    (void)state;
    struct mxr_err err = { 0 };
    struct mxr_realm_report rep;
    uint8_t secret[32];
    randombytes_buf(secret, sizeof secret);
    assert_int_equal(mxr_realm_register(&W->c, &W->cfg, (const uint8_t *)PIN, 4, secret, 32, 2, &rep, &err), 0);
    uint8_t out[128];
    size_t len = 0;
    assert_int_equal(do_recover(WRONG, out, &len, &rep, &err), -1);
    assert_int_equal(rep.guesses_remaining, 1);
    assert_int_equal(do_recover("0000", out, &len, &rep, &err), -1);
    assert_string_equal(err.errcode, MXR_REALM_E_INVALID_PIN);
    assert_int_equal(rep.guesses_remaining, 0);
    /* even the right PIN is too late now: every share is wiped */
    assert_int_equal(do_recover(PIN, out, &len, &rep, &err), -1);
    assert_string_equal(err.errcode, MXR_REALM_E_NO_GUESSES);
    for (size_t i = 0; i < 3; i++) {
        struct realm_record rec;
        assert_true(realmfix_record(slot(i), ALICE, &rec));
        assert_int_equal(rec.state, REALM_NO_GUESSES);
        assert_true(sodium_is_zero(rec.s_share, 32));
        assert_int_equal(rep.realms[i].status, MXR_REALM_ST_NO_GUESSES);
    }
    /* delete: nothing left, even the tombstones */
    assert_int_equal(mxr_realm_delete(&W->c, &W->cfg, &rep, &err), 0);
    assert_int_equal(do_recover(PIN, out, &len, &rep, &err), -1);
    assert_string_equal(err.errcode, MXR_REALM_E_NOT_REGISTERED);
}

/* ---- recovery key ------------------------------------------------------------------------ */

static void test_recovery_key(void **state)
{
    (void)state;
    uint8_t key[32], back[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    char text[MXR_REALM_RECOVERY_KEY_MAX];
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_recovery_key_encode(text, key, &err), 0);
    /* computed independently with Python big integers */
    assert_string_equal(text, "EsSz ykH7 LCZx 7Cae cmKD wcmY JRXi Ybtu 8iQ3 t8Ez nRwK pUY1");
    assert_int_equal(mxr_realm_recovery_key_decode(back, text, &err), 0);
    assert_memory_equal(back, key, 32);
    assert_int_equal(mxr_realm_recovery_key_decode(back, "EsSzykH7LCZx7CaecmKDwcmYJRXiYbtu8iQ3t8EznRwKpUY1", &err), 0);
    assert_int_equal(mxr_realm_recovery_key_decode(back, "EsSz ykH7 LCZx 7Cae cmKD wcmY JRXi Ybtu 8iQ3 t8Ez nRwK pUY2",
                                                   &err), -1);
    assert_int_equal(mxr_realm_recovery_key_decode(back, "EsSz ykH7 LCZx 7Cae cmKD wcmY JRXi Ybtu 8iQ3 t8Ez nRwK pUY0",
                                                   &err), -1);   /* '0' is not base58 */
    for (int n = 0; n < 50; n++) {
        randombytes_buf(key, 32);
        assert_int_equal(mxr_realm_recovery_key_encode(text, key, &err), 0);
        assert_int_equal(mxr_realm_recovery_key_decode(back, text, &err), 0);
        assert_memory_equal(back, key, 32);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_and_rules),
        cmocka_unit_test(test_register_recover_down_wrong),
        cmocka_unit_test(test_lying_realms),
        cmocka_unit_test(test_exhaust_and_delete),
        cmocka_unit_test(test_recovery_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
