/* proto/realm_oprf.c: Juicebox's ten OPRF/DLEQ known-answer vectors
 * (tests/proto/data/juicebox-oprf-test-vectors.json, read at run time from
 * $MXR_SRCDIR), threshold OPRF against the unshared OPRF, proof tampering,
 * RFC 9496 invalid encodings, and the OPRF key signature (expected value
 * from Python nacl). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "mxr/realm_crypto.h"

#define VECTORS_REL "tests/proto/data/juicebox-oprf-test-vectors.json"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t len = 0;
    assert_non_null(hex);
    assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL), 0);
    return len;
}

static void unhex_exact(uint8_t *out, size_t want, const char *hex)
{
    assert_int_equal(unhex(out, want, hex), want);
}

static const char *field(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s)
        fail_msg("vector field '%s' is missing or not a string", key);
    return s;
}

static json_t *load_vectors(void)
{
    const char *src = getenv("MXR_SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", VECTORS_REL);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        fail_msg("cannot read %s: %s (set MXR_SRCDIR to the source tree)", path, jerr.text);
    assert_true(json_is_array(root));
    return root;
}

/* One vector, exactly as juicebox-sdk's run_with_inputs: the seeds are
 * consumed in the order private key, blinding factor, β_t, each reduced. */
static void check_vector(const json_t *v)
{
    const json_t *in = json_object_get(v, "inputs"), *want = json_object_get(v, "outputs");
    assert_true(json_is_object(in));
    assert_true(json_is_object(want));
    struct mxr_err err = {0};

    uint8_t input[256], seed[64], exp[64];
    size_t input_len = unhex(input, sizeof input, field(in, "input"));

    uint8_t k[32];
    unhex_exact(seed, 64, field(in, "private_key_seed"));
    mxr_realm_scalar_from_seed(k, seed);
    unhex_exact(exp, 32, field(want, "private_key"));
    assert_memory_equal(k, exp, 32);

    struct mxr_realm_oprf_key key;
    assert_int_equal(mxr_realm_oprf_key_from_private(&key, k, &err), 0);
    unhex_exact(exp, 32, field(want, "public_key"));
    assert_memory_equal(key.public_key, exp, 32);
    assert_int_equal(mxr_realm_oprf_key_matches(k, exp, &err), 0);

    uint8_t r[32];
    unhex_exact(seed, 64, field(in, "blinding_factor_seed"));
    mxr_realm_scalar_from_seed(r, seed);
    unhex_exact(exp, 32, field(want, "blinding_factor"));
    assert_memory_equal(r, exp, 32);

    uint8_t u[32];
    assert_int_equal(mxr_realm_oprf_blind_with(r, u, input, input_len, &err), 0);
    unhex_exact(exp, 32, field(want, "blinded_input"));
    assert_memory_equal(u, exp, 32);

    uint8_t w[32];
    assert_int_equal(mxr_realm_oprf_evaluate(w, key.private_key, u, &err), 0);
    unhex_exact(exp, 32, field(want, "blinded_output"));
    assert_memory_equal(w, exp, 32);

    uint8_t beta_t[32];
    unhex_exact(seed, 64, field(in, "beta_t_seed"));
    mxr_realm_scalar_from_seed(beta_t, seed);
    struct mxr_realm_proof proof;
    assert_int_equal(mxr_realm_dleq_prove_with(&proof, &key, u, w, beta_t, &err), 0);
    unhex_exact(exp, 32, field(want, "proof_c"));
    assert_memory_equal(proof.c, exp, 32);
    unhex_exact(exp, 32, field(want, "proof_beta_z"));
    assert_memory_equal(proof.beta_z, exp, 32);
    assert_int_equal(mxr_realm_dleq_verify(u, key.public_key, w, &proof, &err), 0);

    uint8_t out[64];
    unhex_exact(exp, 64, field(want, "output"));
    assert_int_equal(mxr_realm_oprf_finalize(out, input, input_len, r, w, &err), 0);
    assert_memory_equal(out, exp, 64);
    assert_int_equal(mxr_realm_oprf_unoblivious(out, key.private_key, input, input_len, &err), 0);
    assert_memory_equal(out, exp, 64);

    /* The vector's proof of a random β_t verifies as well. */
    struct mxr_realm_proof fresh;
    assert_int_equal(mxr_realm_dleq_prove(&fresh, &key, u, w, &err), 0);
    assert_int_equal(mxr_realm_dleq_verify(u, key.public_key, w, &fresh, &err), 0);
}

static void juicebox_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    assert_int_equal(json_array_size(root), 10);
    size_t i;
    json_t *v;
    json_array_foreach(root, i, v) {
        assert_true(json_is_object(v));
        check_vector(v);
    }
    json_decref(root);
}

/* Any change to a proof or to the statement it covers is refused. */
static void tampered_proofs(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    const json_t *a = json_object_get(json_array_get(root, 0), "outputs");
    const json_t *b = json_object_get(json_array_get(root, 1), "outputs");
    uint8_t u[32], v[32], w[32], other_v[32], other_w[32], other_u[32];
    struct mxr_realm_proof proof, bad;
    unhex_exact(u, 32, field(a, "blinded_input"));
    unhex_exact(v, 32, field(a, "public_key"));
    unhex_exact(w, 32, field(a, "blinded_output"));
    unhex_exact(proof.c, 32, field(a, "proof_c"));
    unhex_exact(proof.beta_z, 32, field(a, "proof_beta_z"));
    unhex_exact(other_u, 32, field(b, "blinded_input"));
    unhex_exact(other_v, 32, field(b, "public_key"));
    unhex_exact(other_w, 32, field(b, "blinded_output"));
    struct mxr_err err = {0};
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &proof, &err), 0);

    bad = proof;
    bad.c[0] ^= 1;
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &bad, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    bad = proof;
    bad.beta_z[5] ^= 0x40;
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &bad, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    bad = proof;
    memcpy(bad.c, proof.beta_z, 32);
    memcpy(bad.beta_z, proof.c, 32);
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &bad, &err), -1);

    /* The right proof for the wrong key, input or output. */
    assert_int_equal(mxr_realm_dleq_verify(u, other_v, w, &proof, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    assert_int_equal(mxr_realm_dleq_verify(other_u, v, w, &proof, &err), -1);
    assert_int_equal(mxr_realm_dleq_verify(u, v, other_w, &proof, &err), -1);

    /* Non-canonical proof scalars: c + l is the same residue, refused. */
    static const uint8_t ell[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                    0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
    bad = proof;
    memset(bad.beta_z, 0xff, 32);
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &bad, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    bad = proof;
    memcpy(bad.c, ell, 32);
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &bad, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    /* An all-zero proof. */
    memset(&bad, 0, sizeof bad);
    assert_int_equal(mxr_realm_dleq_verify(u, v, w, &bad, &err), -1);
    json_decref(root);
}

/* RFC 9496 appendix A.2 bad encodings, and the identity. */
static const char *const BAD_POINTS[] = {
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "0000000000000000000000000000000000000000000000000000000000000000",
};

static void invalid_points(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    struct mxr_realm_oprf_key key;
    assert_int_equal(mxr_realm_oprf_keygen(&key, &err), 0);
    uint8_t r[32], u[32], w[32], out[64];
    assert_int_equal(mxr_realm_oprf_blind(r, u, (const uint8_t *)"pin", 3, &err), 0);
    struct mxr_realm_proof proof;
    assert_int_equal(mxr_realm_oprf_evaluate_prove(w, &proof, &key, u, &err), 0);
    for (size_t i = 0; i < sizeof BAD_POINTS / sizeof *BAD_POINTS; i++) {
        uint8_t p[32];
        unhex_exact(p, 32, BAD_POINTS[i]);
        mxr_err_clear(&err);
        assert_int_equal(mxr_realm_point_check(p, "blinded_input", &err), -1);
        assert_string_equal(err.errcode, "M_INVALID_PARAM");
        assert_non_null(strstr(err.msg, "blinded_input"));
        assert_int_equal(mxr_realm_oprf_evaluate(w, key.private_key, p, &err), -1);
        assert_int_equal(mxr_realm_oprf_finalize(out, (const uint8_t *)"pin", 3, r, p, &err), -1);
        assert_int_equal(mxr_realm_dleq_verify(p, key.public_key, w, &proof, &err), -1);
        assert_string_equal(err.errcode, "M_INVALID_PARAM");
        assert_int_equal(mxr_realm_dleq_verify(u, p, w, &proof, &err), -1);
        assert_int_equal(mxr_realm_dleq_verify(u, key.public_key, p, &proof, &err), -1);
        struct mxr_realm_point_share ev = {.index = 1};
        memcpy(ev.point, p, 32);
        assert_int_equal(mxr_realm_oprf_combine(w, &ev, 1, &err), -1);
    }
    /* RFC 9496 A.1: B and 2B are valid; 2·B computed matches. */
    uint8_t b[32], b2[32], two[32] = {2}, got[32];
    unhex_exact(b, 32, "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76");
    unhex_exact(b2, 32, "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919");
    assert_int_equal(mxr_realm_point_check(b, "p", &err), 0);
    assert_int_equal(mxr_realm_point_check(b2, "p", &err), 0);
    assert_int_equal(crypto_scalarmult_ristretto255_base(got, two), 0);
    assert_memory_equal(got, b2, 32);
}

static void invalid_scalars(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    uint8_t zero[32] = {0}, big[32], pub[32], u[32], w[32];
    memset(big, 0xff, sizeof big);
    struct mxr_realm_oprf_key key;
    assert_int_equal(mxr_realm_oprf_key_from_private(&key, zero, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_non_null(strstr(err.msg, "oprf_private_key"));
    assert_int_equal(mxr_realm_oprf_key_from_private(&key, big, &err), -1);
    assert_non_null(strstr(err.msg, "canonical"));
    /* l itself is non-canonical; l - 1 is the largest canonical scalar. */
    uint8_t ell[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                       0xa2, 0xde, 0xf9, 0xde, 0x14, [31] = 0x10};
    assert_false(mxr_realm_scalar_is_canonical(ell));
    ell[0]--;
    assert_true(mxr_realm_scalar_is_canonical(ell));
    assert_int_equal(mxr_realm_oprf_key_from_private(&key, ell, &err), 0);

    /* register2: V must be k·G. */
    struct mxr_realm_oprf_key other;
    assert_int_equal(mxr_realm_oprf_keygen(&other, &err), 0);
    assert_int_equal(mxr_realm_oprf_key_matches(other.private_key, other.public_key, &err), 0);
    memcpy(pub, key.public_key, 32);
    assert_int_equal(mxr_realm_oprf_key_matches(other.private_key, pub, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    assert_int_equal(mxr_realm_oprf_key_matches(zero, pub, &err), -1);

    uint8_t r[32];
    assert_int_equal(mxr_realm_oprf_blind(r, u, (const uint8_t *)"x", 1, &err), 0);
    assert_int_equal(mxr_realm_oprf_evaluate(w, big, u, &err), -1);
    assert_int_equal(mxr_realm_oprf_evaluate(w, zero, u, &err), -1);
    assert_int_equal(mxr_realm_oprf_blind_with(zero, u, (const uint8_t *)"x", 1, &err), -1);
    assert_int_equal(mxr_realm_oprf_unoblivious((uint8_t[64]){0}, big, (const uint8_t *)"x", 1, &err), -1);
}

/* The unshared OPRF through the oblivious protocol, with random keys. */
static void round_trip(void **state)
{
    (void)state;
    struct mxr_err err = {0};
    for (int i = 0; i < 8; i++) {
        struct mxr_realm_oprf_key key;
        assert_int_equal(mxr_realm_oprf_keygen(&key, &err), 0);
        uint8_t input[32], r[32], u[32], w[32], out[64], expect[64];
        randombytes_buf(input, sizeof input);
        struct mxr_realm_proof proof;
        assert_int_equal(mxr_realm_oprf_blind(r, u, input, sizeof input, &err), 0);
        assert_int_equal(mxr_realm_oprf_evaluate_prove(w, &proof, &key, u, &err), 0);
        assert_int_equal(mxr_realm_dleq_verify(u, key.public_key, w, &proof, &err), 0);
        assert_int_equal(mxr_realm_oprf_finalize(out, input, sizeof input, r, w, &err), 0);
        assert_int_equal(mxr_realm_oprf_unoblivious(expect, key.private_key, input, sizeof input, &err), 0);
        assert_memory_equal(out, expect, 64);
        /* Another input gives another output. */
        input[0] ^= 1;
        assert_int_equal(mxr_realm_oprf_finalize(out, input, sizeof input, r, w, &err), 0);
        assert_memory_not_equal(out, expect, 64);
    }
    /* The empty input is a valid input (the vectors never use it). */
    struct mxr_realm_oprf_key key;
    uint8_t r[32], u[32], w[32], out[64], expect[64];
    assert_int_equal(mxr_realm_oprf_keygen(&key, &err), 0);
    assert_int_equal(mxr_realm_oprf_blind(r, u, NULL, 0, &err), 0);
    assert_int_equal(mxr_realm_oprf_evaluate(w, key.private_key, u, &err), 0);
    assert_int_equal(mxr_realm_oprf_finalize(out, NULL, 0, r, w, &err), 0);
    assert_int_equal(mxr_realm_oprf_unoblivious(expect, key.private_key, (const uint8_t *)"", 0, &err), 0);
    assert_memory_equal(out, expect, 64);
}

/* Threshold OPRF (t of n): every subset of at least t realms gives the
 * unshared OPRF of the root key; every subset of t-1 gives something else. */
static void threshold(unsigned t, unsigned n)
{
    struct mxr_err err = {0};
    struct mxr_realm_oprf_key root, realm[5];
    assert_true(n <= 5);
    assert_int_equal(mxr_realm_oprf_keygen(&root, &err), 0);
    struct mxr_realm_share shares[5];
    assert_int_equal(mxr_realm_shamir_split(shares, n, t, root.private_key, &err), 0);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(mxr_realm_oprf_key_from_private(&realm[i], shares[i].value, &err), 0);

    uint8_t access_key[32];
    randombytes_buf(access_key, sizeof access_key);
    uint8_t expect[64], r[32], u[32], out[64];
    assert_int_equal(mxr_realm_oprf_unoblivious(expect, root.private_key, access_key, 32, &err), 0);
    assert_int_equal(mxr_realm_oprf_blind(r, u, access_key, 32, &err), 0);

    struct mxr_realm_point_share evals[5];
    for (unsigned i = 0; i < n; i++) {
        struct mxr_realm_proof proof;
        evals[i].index = shares[i].index;
        assert_int_equal(mxr_realm_oprf_evaluate_prove(evals[i].point, &proof, &realm[i], u, &err), 0);
        /* Each realm proves against its own V_i, not the root key. */
        assert_int_equal(mxr_realm_dleq_verify(u, realm[i].public_key, evals[i].point, &proof, &err), 0);
        assert_int_equal(mxr_realm_dleq_verify(u, root.public_key, evals[i].point, &proof, &err), -1);
    }

    unsigned full = 0, short_sets = 0;
    for (unsigned mask = 1; mask < (1u << n); mask++) {
        struct mxr_realm_point_share subset[5];
        unsigned count = 0;
        for (unsigned i = 0; i < n; i++)
            if (mask & (1u << i))
                subset[count++] = evals[i];
        uint8_t w[32];
        assert_int_equal(mxr_realm_oprf_combine(w, subset, count, &err), 0);
        assert_int_equal(mxr_realm_oprf_finalize(out, access_key, 32, r, w, &err), 0);
        if (count >= t) {
            assert_memory_equal(out, expect, 64);
            full++;
        } else {
            assert_memory_not_equal(out, expect, 64);
            short_sets += count == t - 1;
        }
    }
    assert_true(full >= 1);
    if (t > 1)
        assert_true(short_sets >= 1);

    /* One wrong evaluation (another realm's W under the right index). */
    struct mxr_realm_point_share wrong[5];
    memcpy(wrong, evals, sizeof wrong);
    memcpy(wrong[0].point, evals[1].point, 32);
    uint8_t w[32];
    assert_int_equal(mxr_realm_oprf_combine(w, wrong, t, &err), 0);
    assert_int_equal(mxr_realm_oprf_finalize(out, access_key, 32, r, w, &err), 0);
    assert_memory_not_equal(out, expect, 64);

    /* Duplicate and zero indices are refused. */
    memcpy(wrong, evals, sizeof wrong);
    wrong[1].index = wrong[0].index;
    assert_int_equal(mxr_realm_oprf_combine(w, wrong, t, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
    wrong[1].index = 0;
    assert_int_equal(mxr_realm_oprf_combine(w, wrong, t, &err), -1);
    assert_int_equal(mxr_realm_oprf_combine(w, evals, 0, &err), -1);
}

static void threshold_2_of_3(void **state)
{
    (void)state;
    threshold(2, 3);
}

static void threshold_3_of_5(void **state)
{
    (void)state;
    threshold(3, 5);
}

static void unlock_key(void **state)
{
    (void)state;
    uint8_t out[64], d[64], commitment[32], key[32];
    for (int i = 0; i < 64; i++)
        out[i] = (uint8_t)i;
    mxr_realm_unlock_key_derive(commitment, key, out);
    crypto_hash_sha512(d, out, sizeof out);
    assert_memory_equal(commitment, d, 32);
    assert_memory_equal(key, d + 32, 32);
}

/* Expected signature from Python nacl: SigningKey(32×0x01) over
 * be16(16) ‖ 00..0f ‖ be16(32) ‖ V (public key of random-test-01). */
static void oprf_signature(void **state)
{
    (void)state;
    uint8_t seed[32], pk[32], sk[64], realm_id[16], v[32], sig[64], expect[64], expect_vk[32];
    memset(seed, 1, sizeof seed);
    for (int i = 0; i < 16; i++)
        realm_id[i] = (uint8_t)i;
    unhex_exact(v, 32, "9e2bc4e246e540092324937ed33fd01caf0297137e35345c32ecf49e87e35056");
    unhex_exact(expect_vk, 32, "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
    unhex_exact(expect, 64,
                "d63d853bff21cd17e4e16d5fcf6a95e11734ffbb0443a15711161052a52e9313"
                "03d95690c4399023c968bb3136d750a482d6b7931dc12ec27eddd0751319c900");
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    assert_memory_equal(pk, expect_vk, 32);

    uint8_t msg[MXR_REALM_SIG_MESSAGE_BYTES];
    mxr_realm_oprf_sig_message(msg, realm_id, v);
    assert_int_equal(sizeof msg, 52);
    assert_int_equal(msg[0], 0);
    assert_int_equal(msg[1], 16);
    assert_int_equal(msg[18], 0);
    assert_int_equal(msg[19], 32);

    mxr_realm_oprf_sig_sign(sig, sk, realm_id, v);
    assert_memory_equal(sig, expect, 64);
    struct mxr_err err = {0};
    assert_int_equal(mxr_realm_oprf_sig_verify(sig, pk, realm_id, v, &err), 0);
    /* Another realm's ID, another key, a flipped bit: refused. */
    realm_id[15] ^= 1;
    assert_int_equal(mxr_realm_oprf_sig_verify(sig, pk, realm_id, v, &err), -1);
    assert_string_equal(err.errcode, "M_FORBIDDEN");
    realm_id[15] ^= 1;
    v[0] ^= 2;
    assert_int_equal(mxr_realm_oprf_sig_verify(sig, pk, realm_id, v, &err), -1);
    v[0] ^= 2;
    sig[63] ^= 0x10;
    assert_int_equal(mxr_realm_oprf_sig_verify(sig, pk, realm_id, v, &err), -1);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(juicebox_vectors), cmocka_unit_test(tampered_proofs),  cmocka_unit_test(invalid_points),
        cmocka_unit_test(invalid_scalars),  cmocka_unit_test(round_trip),       cmocka_unit_test(threshold_2_of_3),
        cmocka_unit_test(threshold_3_of_5), cmocka_unit_test(unlock_key),       cmocka_unit_test(oprf_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
