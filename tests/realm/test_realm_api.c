/* The realm endpoints through the dispatcher (design §6.3 endpoints, §6.4
 * guess-limit semantics, §6.6 sessions, §6.7 envelopes, §6.9 limits). The
 * guess count is read back from the store after every step: "no increment"
 * is asserted, not assumed. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "mxr/json.h"
#include "mxr/sign.h"
#include "realmfix.h"
#include "relay/realm/openid.h"
#include "relay/store/realm.h"

#define ALICE "@alice:home.test"
#define SN "realm.test"

struct reg {
    uint8_t session[32];
    uint8_t version[16];
    uint8_t access_key[32];
    uint8_t tag[16];
};

static void do_register(struct realmfix *r, struct reg *g, unsigned allowed)
{
    realmfix_session(r, ALICE, g->session);
    int status = 0;
    json_t *b = realmfix_call(r, "register2", realmfix_register2_fields(r, allowed, g->version, g->access_key, g->tag),
                              g->session, &status);
    assert_int_equal(status, 200);
    json_decref(b);
}

static int count_of(struct realmfix *r)
{
    struct realm_record rec;
    return realmfix_record(r, ALICE, &rec) ? rec.count : -1;
}

static json_t *recover2_fields(const uint8_t version[16], const uint8_t U[32])
{
    struct mxr_err err = { 0 };
    json_t *f = json_object();
    mxr_realm_json_set_bytes(f, "version", version, 16, &err);
    mxr_realm_json_set_bytes(f, "blinded_input", U, 32, &err);
    return f;
}

/* A recover2 with a fresh blinding of g's access key; the reply's status. */
static int recover2(struct realmfix *r, const struct reg *g, json_t **out)
{
    uint8_t blind[32], U[32];
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_oprf_blind(blind, U, g->access_key, 32, &err), 0);
    int status = 0;
    json_t *b = realmfix_call(r, "recover2", recover2_fields(g->version, U), g->session, &status);
    if (out)
        *out = b;
    else
        json_decref(b);
    return status;
}

static int recover3(struct realmfix *r, const struct reg *g, const uint8_t tag[16], json_t **out)
{
    struct mxr_err err = { 0 };
    json_t *f = json_object();
    mxr_realm_json_set_bytes(f, "version", g->version, 16, &err);
    mxr_realm_json_set_bytes(f, "unlock_key_tag", tag, 16, &err);
    int status = 0;
    json_t *b = realmfix_call(r, "recover3", f, g->session, &status);
    if (out)
        *out = b;
    else
        json_decref(b);
    return status;
}

static const char *errcode(const json_t *b)
{
    return json_string_value(json_object_get(b, "errcode"));
}

/* ---- info and sessions ----------------------------------------------------------- */

static void test_info_signed(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct mxr_response resp;
    realmfix_raw(&r, "GET", "/_relay/realm/v1/info", NULL, &resp);
    assert_int_equal(resp.status, 200);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_verify_json(resp.json, SN, r.fx.srv.key.key_id, r.fx.srv.key.public_key, &err), 0);
    uint8_t rid[16], pk[32], want_rid[16], want_pk[32];
    mxr_realm_identity(r.realm, want_rid, want_pk);
    assert_int_equal(mxr_realm_json_get_bytes(resp.json, "realm_id", rid, 16, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(resp.json, "box_public_key", pk, 32, &err), 0);
    assert_memory_equal(rid, want_rid, 16);
    assert_memory_equal(pk, want_pk, 32);
    assert_int_equal(json_integer_value(json_object_get(resp.json, "max_allowed_guesses")), 10);
    assert_int_equal(json_integer_value(json_object_get(resp.json, "max_encrypted_secret_bytes")), 145);
    /* a changed field breaks the signature */
    json_object_set_new(resp.json, "max_allowed_guesses", json_integer(1000));
    assert_int_equal(mxr_verify_json(resp.json, SN, r.fx.srv.key.key_id, r.fx.srv.key.public_key, &err), -1);
    mxr_response_clear(&resp);
    /* identity and key file survive a restart */
    realmfix_restart(&r);
    uint8_t rid2[16], pk2[32];
    mxr_realm_identity(r.realm, rid2, pk2);
    assert_memory_equal(rid2, want_rid, 16);
    assert_memory_equal(pk2, want_pk, 32);
    realmfix_close(&r);
}

static void test_sessions(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    int status = 0;
    json_t *b = realmfix_call(&r, "session", json_pack("{s:s, s:s}", "matrix_server", "home.test", "openid_token",
                                                        "wrong"), NULL, &status);
    assert_int_equal(status, 401);
    assert_string_equal(errcode(b), "M_UNKNOWN_TOKEN");
    json_decref(b);
    /* §6.6 step 3: a homeserver may only vouch for its own users */
    b = realmfix_call(&r, "session", json_pack("{s:s, s:s}", "matrix_server", "evil.test", "openid_token",
                                                "ok:" ALICE), NULL, &status);
    assert_int_equal(status, 403);
    assert_string_equal(errcode(b), "M_FORBIDDEN");
    json_decref(b);
    b = realmfix_call(&r, "session", json_pack("{s:s, s:s}", "matrix_server", "not a server", "openid_token",
                                                "ok:" ALICE), NULL, &status);
    assert_int_equal(status, 400);
    json_decref(b);
    /* every endpoint but info and session needs one */
    b = realmfix_call(&r, "register1", NULL, NULL, &status);
    assert_int_equal(status, 401);
    assert_string_equal(errcode(b), "M_MISSING_TOKEN");
    json_decref(b);
    uint8_t bogus[32];
    randombytes_buf(bogus, sizeof bogus);
    b = realmfix_call(&r, "register1", NULL, bogus, &status);
    assert_int_equal(status, 401);
    assert_string_equal(errcode(b), "M_UNKNOWN_TOKEN");
    json_decref(b);
    uint8_t s[32];
    realmfix_session(&r, ALICE, s);
    b = realmfix_call(&r, "register1", NULL, s, &status);
    assert_int_equal(status, 200);
    json_decref(b);
    /* sessions live an hour; they survive a restart */
    realmfix_restart(&r);
    b = realmfix_call(&r, "register1", NULL, s, &status);
    assert_int_equal(status, 200);
    json_decref(b);
    r.fx.now += 60 * 60 * 1000 + 1;
    b = realmfix_call(&r, "register1", NULL, s, &status);
    assert_int_equal(status, 401);
    assert_string_equal(errcode(b), "M_UNKNOWN_TOKEN");
    json_decref(b);
    realmfix_close(&r);
}

/* ---- register2 validation ----------------------------------------------------------- */

static void expect_register2_400(struct realmfix *r, const uint8_t session[32], const char *field, json_t *value)
{
    uint8_t v[16], ak[32], tag[16];
    json_t *f = realmfix_register2_fields(r, 5, v, ak, tag);
    if (value)
        json_object_set_new(f, field, value);
    else
        json_object_del(f, field);
    int status = 0;
    json_t *b = realmfix_call(r, "register2", f, session, &status);
    if (status != 400)
        fail_msg("register2 with a bad %s: status %d", field, status);
    json_decref(b);
    struct realm_record rec;
    assert_false(realmfix_record(r, ALICE, &rec));
}

static json_t *b64(const uint8_t *p, size_t n)
{
    json_t *o = json_object();
    struct mxr_err err = { 0 };
    mxr_realm_json_set_bytes(o, "x", p, n, &err);
    json_t *s = json_incref(json_object_get(o, "x"));
    json_decref(o);
    return s;
}

static void test_register2_validation(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    uint8_t s[32];
    realmfix_session(&r, ALICE, s);
    uint8_t big[32], zero[32] = { 0 }, enc[144];
    memset(big, 0xff, sizeof big);   /* not canonical (>= l) */
    randombytes_buf(enc, sizeof enc);
    expect_register2_400(&r, s, "oprf_private_key", b64(big, 32));
    expect_register2_400(&r, s, "oprf_private_key", b64(zero, 32));
    uint8_t other[32];
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_scalar_random(other, &err), 0);
    expect_register2_400(&r, s, "oprf_private_key", b64(other, 32));   /* V != k·G */
    expect_register2_400(&r, s, "encryption_key_scalar_share", b64(zero, 32));
    expect_register2_400(&r, s, "encrypted_secret", b64(enc, sizeof enc));   /* 144 bytes, not 145 */
    expect_register2_400(&r, s, "unlock_key_tag", json_string("not base64!"));
    expect_register2_400(&r, s, "oprf_signature", NULL);
    expect_register2_400(&r, s, "allowed_guesses", json_integer(0));
    expect_register2_400(&r, s, "allowed_guesses", json_integer(11));   /* above max_allowed_guesses */
    expect_register2_400(&r, s, "profile", json_string("jb2"));
    /* a signature over another realm's ID */
    uint8_t vk[32], sk[64], sig[64], wrong_id[16];
    uint8_t v[16], ak[32], tag[16];
    json_t *f = realmfix_register2_fields(&r, 5, v, ak, tag);
    uint8_t V[32];
    assert_int_equal(mxr_realm_json_get_bytes(f, "oprf_public_key", V, 32, &err), 0);
    crypto_sign_keypair(vk, sk);
    randombytes_buf(wrong_id, sizeof wrong_id);
    mxr_realm_oprf_sig_sign(sig, sk, wrong_id, V);
    json_decref(f);
    expect_register2_400(&r, s, "oprf_signature", b64(sig, 64));
    realmfix_close(&r);
}

/* ---- the protocol end to end at one realm ------------------------------------------- */

static void test_register_recover(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g;
    do_register(&r, &g, 3);
    assert_int_equal(count_of(&r), 0);
    int status = 0;
    json_t *b = realmfix_call(&r, "recover1", NULL, g.session, &status);
    assert_int_equal(status, 200);
    uint8_t v[16];
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_json_get_bytes(b, "version", v, 16, &err), 0);
    assert_memory_equal(v, g.version, 16);
    json_decref(b);
    assert_int_equal(count_of(&r), 0);   /* recover1 counts nothing */

    /* recover2: the answer verifies and finalizes to the commitment */
    uint8_t blind[32], U[32];
    assert_int_equal(mxr_realm_oprf_blind(blind, U, g.access_key, 32, &err), 0);
    b = realmfix_call(&r, "recover2", recover2_fields(g.version, U), g.session, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(b, "guess_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(b, "allowed_guesses")), 3);
    uint8_t W[32], V[32], vk[32], sig[64], commitment[32];
    struct mxr_realm_proof proof;
    assert_int_equal(mxr_realm_json_get_bytes(b, "blinded_output", W, 32, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(b, "proof_c", proof.c, 32, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(b, "proof_beta_z", proof.beta_z, 32, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(b, "oprf_public_key", V, 32, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(b, "oprf_verifying_key", vk, 32, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(b, "oprf_signature", sig, 64, &err), 0);
    assert_int_equal(mxr_realm_json_get_bytes(b, "unlock_key_commitment", commitment, 32, &err), 0);
    json_decref(b);
    assert_int_equal(mxr_realm_dleq_verify(U, V, W, &proof, &err), 0);
    assert_int_equal(mxr_realm_oprf_sig_verify(sig, vk, r.realm->realm_id, V, &err), 0);
    uint8_t out[64], mine[32], unlock[32];
    assert_int_equal(mxr_realm_oprf_finalize(out, g.access_key, 32, blind, W, &err), 0);
    mxr_realm_unlock_key_derive(mine, unlock, out);
    assert_memory_equal(mine, commitment, 32);
    assert_int_equal(count_of(&r), 1);

    /* recover3 with the right tag: the share, and the count back to 0 */
    b = NULL;
    assert_int_equal(recover3(&r, &g, g.tag, &b), 200);
    assert_non_null(json_object_get(b, "encryption_key_scalar_share"));
    assert_non_null(json_object_get(b, "encrypted_secret"));
    assert_non_null(json_object_get(b, "encrypted_secret_commitment"));
    json_decref(b);
    assert_int_equal(count_of(&r), 0);

    /* audit: what happened, without secrets */
    b = realmfix_call(&r, "audit", NULL, g.session, &status);
    assert_int_equal(status, 200);
    json_t *ev = json_object_get(b, "events");
    assert_int_equal(json_array_size(ev), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "type")), "registered");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "type")), "guess_used");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 1), "guess_count")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 2), "type")), "share_recovered");
    json_decref(b);

    /* delete: gone, idempotent, audited */
    b = realmfix_call(&r, "delete", NULL, g.session, &status);
    assert_int_equal(status, 200);
    json_decref(b);
    b = realmfix_call(&r, "recover1", NULL, g.session, &status);
    assert_int_equal(status, 404);
    assert_string_equal(errcode(b), MXR_REALM_E_NOT_REGISTERED);
    json_decref(b);
    b = realmfix_call(&r, "delete", NULL, g.session, &status);
    assert_int_equal(status, 200);
    json_decref(b);
    realmfix_close(&r);
}

/* §6.4 item 5 and item 2: what never counts. */
static void test_no_count_without_valid_guess(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g;
    do_register(&r, &g, 3);
    int status = 0;
    /* version mismatch */
    uint8_t other[16], U[32], blind[32];
    memcpy(other, g.version, 16);
    other[3] ^= 1;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_realm_oprf_blind(blind, U, g.access_key, 32, &err), 0);
    json_t *b = realmfix_call(&r, "recover2", recover2_fields(other, U), g.session, &status);
    assert_int_equal(status, 409);
    assert_string_equal(errcode(b), MXR_REALM_E_VERSION_MISMATCH);
    json_decref(b);
    /* the identity point, an invalid encoding, a missing field */
    uint8_t zero[32] = { 0 }, bad[32];
    memset(bad, 0xee, sizeof bad);
    b = realmfix_call(&r, "recover2", recover2_fields(g.version, zero), g.session, &status);
    assert_int_equal(status, 400);
    json_decref(b);
    b = realmfix_call(&r, "recover2", recover2_fields(g.version, bad), g.session, &status);
    assert_int_equal(status, 400);
    json_decref(b);
    b = realmfix_call(&r, "recover2", json_object(), g.session, &status);
    assert_int_equal(status, 400);
    json_decref(b);
    /* no session, a wrong one */
    b = realmfix_call(&r, "recover2", recover2_fields(g.version, U), NULL, &status);
    assert_int_equal(status, 401);
    json_decref(b);
    uint8_t bogus[32];
    randombytes_buf(bogus, 32);
    b = realmfix_call(&r, "recover2", recover2_fields(g.version, U), bogus, &status);
    assert_int_equal(status, 401);
    json_decref(b);
    /* another user's session sees nothing of alice's */
    uint8_t bob[32];
    realmfix_session(&r, "@bob:home.test", bob);
    b = realmfix_call(&r, "recover2", recover2_fields(g.version, U), bob, &status);
    assert_int_equal(status, 404);
    json_decref(b);
    assert_int_equal(count_of(&r), 0);
    /* a wrong recover3 tag adds nothing to the count of recover2 */
    assert_int_equal(recover2(&r, &g, NULL), 200);
    uint8_t wrong[16];
    memcpy(wrong, g.tag, 16);
    wrong[0] ^= 1;
    b = NULL;
    assert_int_equal(recover3(&r, &g, wrong, &b), 403);
    assert_string_equal(errcode(b), MXR_REALM_E_BAD_TAG);
    assert_int_equal(json_integer_value(json_object_get(b, "guesses_remaining")), 2);
    json_decref(b);
    assert_int_equal(count_of(&r), 1);
    realmfix_close(&r);
}

static void test_limit_tombstone(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g;
    do_register(&r, &g, 2);
    assert_int_equal(recover2(&r, &g, NULL), 200);
    assert_int_equal(recover2(&r, &g, NULL), 200);
    assert_int_equal(count_of(&r), 2);
    json_t *b = NULL;
    assert_int_equal(recover2(&r, &g, &b), 403);
    assert_string_equal(errcode(b), MXR_REALM_E_NO_GUESSES);
    json_decref(b);
    struct realm_record rec;
    assert_true(realmfix_record(&r, ALICE, &rec));
    assert_int_equal(rec.state, REALM_NO_GUESSES);
    assert_int_equal(rec.count, 2);
    assert_true(sodium_is_zero(rec.k, 32));
    assert_true(sodium_is_zero(rec.s_share, 32));
    /* NO_GUESSES, not NOT_REGISTERED, everywhere; even the right tag */
    int status = 0;
    b = realmfix_call(&r, "recover1", NULL, g.session, &status);
    assert_int_equal(status, 403);
    assert_string_equal(errcode(b), MXR_REALM_E_NO_GUESSES);
    json_decref(b);
    assert_int_equal(recover3(&r, &g, g.tag, &b), 403);
    assert_string_equal(errcode(b), MXR_REALM_E_NO_GUESSES);
    json_decref(b);
    /* the tombstone holds no secret at rest either: header only */
    uint8_t uk[32], raw[REALM_SEALED_MAX];
    realm_user_key(r.realm, ALICE, uk);
    struct mxr_store_txn *txn;
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_read_begin(r.st.s, &txn, &err), 0);
    size_t len = 0;
    assert_int_equal(mxr_store_realm_record_get(txn, uk, raw, sizeof raw, &len, &err), 0);
    mxr_store_read_end(txn);
    assert_int_equal(len, 24 + REALM_RECORD_HEADER + 16);
    /* the audit log names the moment */
    b = realmfix_call(&r, "audit", NULL, g.session, &status);
    json_t *ev = json_object_get(b, "events");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, json_array_size(ev) - 1), "type")),
                        "guess_limit_reached");
    json_decref(b);
    /* register2 starts over */
    struct reg g2;
    do_register(&r, &g2, 2);
    assert_int_equal(count_of(&r), 0);
    assert_int_equal(recover2(&r, &g2, NULL), 200);
    realmfix_close(&r);
}

static void test_last_guess_right_and_recover1_wipe(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g;
    do_register(&r, &g, 1);
    assert_int_equal(recover2(&r, &g, NULL), 200);
    assert_int_equal(recover3(&r, &g, g.tag, NULL), 200);   /* the one guess was right */
    assert_int_equal(count_of(&r), 0);
    /* one wrong guess, then recover1 finds the limit reached and wipes */
    assert_int_equal(recover2(&r, &g, NULL), 200);
    int status = 0;
    json_t *b = realmfix_call(&r, "recover1", NULL, g.session, &status);
    assert_int_equal(status, 403);
    assert_string_equal(errcode(b), MXR_REALM_E_NO_GUESSES);
    json_decref(b);
    struct realm_record rec;
    assert_true(realmfix_record(&r, ALICE, &rec));
    assert_int_equal(rec.state, REALM_NO_GUESSES);
    /* or a wrong tag with none left wipes at once */
    struct reg g2;
    do_register(&r, &g2, 1);
    assert_int_equal(recover2(&r, &g2, NULL), 200);
    uint8_t wrong[16];
    memcpy(wrong, g2.tag, 16);
    wrong[7] ^= 4;
    b = NULL;
    assert_int_equal(recover3(&r, &g2, wrong, &b), 403);
    assert_int_equal(json_integer_value(json_object_get(b, "guesses_remaining")), 0);
    json_decref(b);
    assert_true(realmfix_record(&r, ALICE, &rec));
    assert_int_equal(rec.state, REALM_NO_GUESSES);
    realmfix_close(&r);
}

static void test_register2_overwrites(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g, g2;
    do_register(&r, &g, 5);
    assert_int_equal(recover2(&r, &g, NULL), 200);
    assert_int_equal(recover2(&r, &g, NULL), 200);
    do_register(&r, &g2, 5);
    assert_int_equal(count_of(&r), 0);
    /* the old version is gone */
    assert_int_equal(recover2(&r, &g, NULL), 409);
    assert_int_equal(count_of(&r), 0);
    assert_int_equal(recover2(&r, &g2, NULL), 200);
    realmfix_close(&r);
}

/* ---- envelopes: tampering changes nothing --------------------------------------------- */

/* Builds a sealed recover2 envelope by hand so it can be altered. */
static char *sealed_recover2(struct realmfix *r, const struct reg *g, const char *op, const uint8_t *realm_id,
                             int64_t ts, const uint8_t *box_pk, const char *key_id)
{
    struct mxr_err err = { 0 };
    uint8_t blind[32], U[32];
    assert_int_equal(mxr_realm_oprf_blind(blind, U, g->access_key, 32, &err), 0);
    json_t *in = recover2_fields(g->version, U);
    json_object_set_new(in, "op", json_string(op));
    json_object_set_new(in, "ts_ms", json_integer(ts));
    mxr_realm_json_set_bytes(in, "realm_id", realm_id, 16, &err);
    mxr_realm_json_set_bytes(in, "session", g->session, 32, &err);
    struct mxr_realm_channel ch;
    json_t *env = mxr_realm_seal_request(&ch, box_pk, key_id, in, &err);
    json_decref(in);
    char *s = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    (void)r;
    return s;
}

static int post(struct realmfix *r, const char *body)
{
    struct mxr_response resp;
    realmfix_raw(r, "POST", "/_relay/realm/v1/recover2", body, &resp);
    int st = resp.status;
    mxr_response_clear(&resp);
    return st;
}

static void test_envelope_tampering(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g;
    do_register(&r, &g, 5);
    const uint8_t *rid = r.realm->realm_id, *pk = r.realm->box_pk;
    const char *kid = r.realm->key_id;
    int64_t now = r.fx.now;
    /* a flipped ciphertext byte at several places */
    char *s = sealed_recover2(&r, &g, "recover2", rid, now, pk, kid);
    char *ct = strstr(s, "\"ct\":\"") + 6;
    for (int i = 0; i < 40; i += 7) {
        ct[i] = ct[i] == 'A' ? 'B' : 'A';
        assert_int_equal(post(&r, s), 400);
    }
    free(s);
    /* wrong op, another realm_id, stale and future timestamps */
    uint8_t other_id[16];
    memcpy(other_id, rid, 16);
    other_id[0] ^= 1;
    const char *ops[] = { "recover1" };
    s = sealed_recover2(&r, &g, ops[0], rid, now, pk, kid);
    assert_int_equal(post(&r, s), 400);
    free(s);
    s = sealed_recover2(&r, &g, "recover2", other_id, now, pk, kid);
    assert_int_equal(post(&r, s), 400);
    free(s);
    s = sealed_recover2(&r, &g, "recover2", rid, now - 6 * 60 * 1000, pk, kid);
    assert_int_equal(post(&r, s), 400);
    free(s);
    s = sealed_recover2(&r, &g, "recover2", rid, now + 6 * 60 * 1000, pk, kid);
    assert_int_equal(post(&r, s), 400);
    free(s);
    /* sealed to another key, or naming another key */
    uint8_t opk[32], osk[32];
    crypto_box_keypair(opk, osk);
    s = sealed_recover2(&r, &g, "recover2", rid, now, opk, kid);
    assert_int_equal(post(&r, s), 400);
    free(s);
    s = sealed_recover2(&r, &g, "recover2", rid, now, pk, "x25519:other");
    assert_int_equal(post(&r, s), 400);
    free(s);
    /* not an envelope; too big */
    assert_int_equal(post(&r, "{\"op\":\"recover2\"}"), 400);
    char *big = malloc(5000);
    memset(big, ' ', 4999);
    big[0] = '{';
    big[4997] = '}';
    big[4998] = '\0';
    assert_int_equal(post(&r, big), 413);
    free(big);
    assert_int_equal(count_of(&r), 0);
    /* a replayed envelope counts once */
    s = sealed_recover2(&r, &g, "recover2", rid, now, pk, kid);
    assert_int_equal(post(&r, s), 200);
    assert_int_equal(post(&r, s), 400);
    assert_int_equal(post(&r, s), 400);
    free(s);
    assert_int_equal(count_of(&r), 1);
    realmfix_close(&r);
}

/* ---- concurrency: N parallel recover2 use exactly min(N, allowed) ------------------------- */

struct par {
    struct realmfix *r;
    char *body;
    int status;
};

static void *par_run(void *arg)
{
    struct par *p = arg;
    p->status = post(p->r, p->body);
    return NULL;
}

static void parallel(unsigned n, unsigned allowed)
{
    struct realmfix r;
    realmfix_open(&r, SN, NULL);
    struct reg g;
    do_register(&r, &g, allowed);
    struct par p[16];
    pthread_t th[16];
    for (unsigned i = 0; i < n; i++) {
        p[i].r = &r;
        p[i].body = sealed_recover2(&r, &g, "recover2", r.realm->realm_id, r.fx.now, r.realm->box_pk, r.realm->key_id);
    }
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, par_run, &p[i]), 0);
    unsigned ok = 0, noguess = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ok += p[i].status == 200;
        noguess += p[i].status == 403;
        free(p[i].body);
    }
    unsigned want = n < allowed ? n : allowed;
    assert_int_equal(ok, want);
    assert_int_equal(noguess, n - want);
    struct realm_record rec;
    assert_true(realmfix_record(&r, ALICE, &rec));
    assert_int_equal(rec.count, want);
    assert_int_equal(rec.state, n > allowed ? REALM_NO_GUESSES : REALM_REGISTERED);
    realmfix_close(&r);
}

static void test_parallel_recover2(void **state)
{
    (void)state;
    parallel(12, 5);
    parallel(3, 5);
    parallel(5, 5);
}

/* ---- rate limits (§6.9): 429, and nothing counted ------------------------------------------- */

static void test_rate_limits(void **state)
{
    (void)state;
    struct mxr_realm_limits l;
    mxr_realm_limits_default(&l);
    l.ip_per_second = 1;
    l.ip_burst = 8;
    l.register_per_day = 2;
    struct realmfix r;
    realmfix_open(&r, SN, &l);
    struct reg g;
    do_register(&r, &g, 5);                     /* 2 requests */
    assert_int_equal(recover2(&r, &g, NULL), 200);
    json_t *b = NULL;
    assert_int_equal(recover2(&r, &g, &b), 429);    /* within 1 s of the last one */
    assert_string_equal(errcode(b), "M_LIMIT_EXCEEDED");
    assert_true(json_integer_value(json_object_get(b, "retry_after_ms")) > 0);
    json_decref(b);
    assert_int_equal(count_of(&r), 1);
    r.fx.now += 1000;
    assert_int_equal(recover2(&r, &g, NULL), 200);
    assert_int_equal(count_of(&r), 2);
    /* drain the IP bucket: then requests are refused in clear, but a
     * recover3 right after the user's recover2 still passes */
    struct mxr_response resp;
    int drained = 0;
    for (int i = 0; i < 10 && !drained; i++) {
        realmfix_raw(&r, "GET", "/_relay/realm/v1/info", NULL, &resp);
        drained = resp.status == 429;
        mxr_response_clear(&resp);
    }
    assert_true(drained);
    assert_int_equal(recover3(&r, &g, g.tag, NULL), 200);
    assert_int_equal(count_of(&r), 0);
    realmfix_raw(&r, "GET", "/_relay/realm/v1/info", NULL, &resp);
    assert_int_equal(resp.status, 429);
    mxr_response_clear(&resp);
    /* register2 per day */
    r.fx.now += 60 * 1000;
    uint8_t v[16], ak[32], tag[16];
    int status = 0;
    b = realmfix_call(&r, "register2", realmfix_register2_fields(&r, 5, v, ak, tag), g.session, &status);
    assert_int_equal(status, 200);
    json_decref(b);
    r.fx.now += 60 * 1000;
    b = realmfix_call(&r, "register2", realmfix_register2_fields(&r, 5, v, ak, tag), g.session, &status);
    assert_int_equal(status, 429);
    json_decref(b);
    realmfix_close(&r);
}

/* ---- the OpenID token endpoint --------------------------------------------------------- */

static int fake_client_auth(struct mxr_request *req, struct mxr_err *err)
{
    if (!req->authorization || strncmp(req->authorization, "Bearer ", 7) != 0)
        return mxr_err_set(err, "M_MISSING_TOKEN", "no token");
    snprintf(req->user_id, sizeof req->user_id, "%s", req->authorization + 7);
    return 0;
}

static void test_openid_tokens(void **state)
{
    (void)state;
    struct realmfix r;
    realmfix_open(&r, "home.test", NULL);
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_openid_add_routes(&r.fx.router, &err), 0);
    r.fx.router.client_auth = fake_client_auth;
    struct mxr_response resp;
    fixture_request(&r.fx, "POST", "/_matrix/client/v3/user/%40alice%3Ahome.test/openid/request_token",
                    "Bearer " ALICE, "{}", &resp, NULL);
    assert_int_equal(resp.status, 200);
    const char *tok = json_string_value(json_object_get(resp.json, "access_token"));
    assert_non_null(tok);
    assert_string_equal(json_string_value(json_object_get(resp.json, "token_type")), "Bearer");
    assert_string_equal(json_string_value(json_object_get(resp.json, "matrix_server_name")), "home.test");
    assert_int_equal(json_integer_value(json_object_get(resp.json, "expires_in")), 3600);
    char token[128];
    snprintf(token, sizeof token, "%s", tok);
    mxr_response_clear(&resp);
    char user[256];
    assert_true(mxr_openid_token_user(&r.fx.srv, token, user));
    assert_string_equal(user, ALICE);
    assert_false(mxr_openid_token_user(&r.fx.srv, "nope", user));
    /* only for oneself */
    fixture_request(&r.fx, "POST", "/_matrix/client/v3/user/%40bob%3Ahome.test/openid/request_token",
                    "Bearer " ALICE, "{}", &resp, NULL);
    assert_int_equal(resp.status, 403);
    mxr_response_clear(&resp);
    fixture_request(&r.fx, "POST", "/_matrix/client/v3/user/%40alice%3Ahome.test/openid/request_token", NULL, "{}",
                    &resp, NULL);
    assert_int_equal(resp.status, 401);
    mxr_response_clear(&resp);
    /* an hour later it is gone */
    r.fx.now += 3600 * 1000 + 1;
    assert_false(mxr_openid_token_user(&r.fx.srv, token, user));
    realmfix_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_signed),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_register2_validation),
        cmocka_unit_test(test_register_recover),
        cmocka_unit_test(test_no_count_without_valid_guess),
        cmocka_unit_test(test_limit_tombstone),
        cmocka_unit_test(test_last_guess_right_and_recover1_wipe),
        cmocka_unit_test(test_register2_overwrites),
        cmocka_unit_test(test_envelope_tampering),
        cmocka_unit_test(test_parallel_recover2),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_openid_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
