/* Realm OPRF: Juicebox's 2HashDH OPRF on ristretto255 with a Chaum-Pedersen
 * DLEQ proof, its threshold combination, and the signature over a realm's
 * OPRF public key (pin-recovery-and-payments.md §2.2, §2.3).
 *
 * libsodium's ristretto255 functions give the same bytes as curve25519-dalek
 * (Juicebox's library) as long as every scalar is reduced: scalarmult clears
 * the top bit instead of reducing (§2.2 implementation notes), so scalars
 * from peers are checked for canonical form, not silently reduced.
 */
#include <sodium.h>
#include <string.h>

#include "mxr/realm_crypto.h"

static const char OPRF_LABEL[] = "Juicebox_OPRF_2023_1;";
static const char DLEQ_LABEL[] = "Juicebox_DLEQ_2023_1;";

int mxr_realm_scalar_is_canonical(const uint8_t s[MXR_REALM_SCALAR_BYTES])
{
    uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES] = {0};
    uint8_t reduced[crypto_core_ristretto255_SCALARBYTES];
    memcpy(wide, s, MXR_REALM_SCALAR_BYTES);
    crypto_core_ristretto255_scalar_reduce(reduced, wide);
    int same = sodium_memcmp(reduced, s, MXR_REALM_SCALAR_BYTES) == 0;
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(reduced, sizeof reduced);
    return same;
}

int mxr_realm_scalar_check(const uint8_t s[MXR_REALM_SCALAR_BYTES], const char *what, struct mxr_err *err)
{
    if (!mxr_realm_scalar_is_canonical(s))
        return mxr_err_set(err, "M_INVALID_PARAM",
                           "%s is not a canonical ristretto255 scalar (32 bytes little-endian, below the group order)",
                           what);
    if (sodium_is_zero(s, MXR_REALM_SCALAR_BYTES))
        return mxr_err_set(err, "M_INVALID_PARAM", "%s is the zero scalar", what);
    return 0;
}

void mxr_realm_scalar_from_seed(uint8_t out[MXR_REALM_SCALAR_BYTES], const uint8_t seed[MXR_REALM_SEED_BYTES])
{
    crypto_core_ristretto255_scalar_reduce(out, seed);
}

int mxr_realm_scalar_random(uint8_t out[MXR_REALM_SCALAR_BYTES], struct mxr_err *err)
{
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
    /* libsodium draws until the value is canonical and non-zero. */
    crypto_core_ristretto255_scalar_random(out);
    return 0;
}

int mxr_realm_point_check(const uint8_t p[MXR_REALM_POINT_BYTES], const char *what, struct mxr_err *err)
{
    if (crypto_core_ristretto255_is_valid_point(p) != 1)
        return mxr_err_set(err, "M_INVALID_PARAM", "%s is not a canonical ristretto255 point encoding", what);
    /* The identity encodes as 32 zero bytes and passes is_valid_point. */
    if (sodium_is_zero(p, MXR_REALM_POINT_BYTES))
        return mxr_err_set(err, "M_INVALID_PARAM", "%s is the ristretto255 identity", what);
    return 0;
}

/* ---- Keys ---------------------------------------------------------------- */

int mxr_realm_oprf_keygen(struct mxr_realm_oprf_key *key, struct mxr_err *err)
{
    uint8_t k[MXR_REALM_SCALAR_BYTES];
    if (mxr_realm_scalar_random(k, err) < 0)
        return -1;
    int rc = mxr_realm_oprf_key_from_private(key, k, err);
    sodium_memzero(k, sizeof k);
    return rc;
}

int mxr_realm_oprf_key_from_private(struct mxr_realm_oprf_key *key, const uint8_t private_key[MXR_REALM_SCALAR_BYTES],
                                    struct mxr_err *err)
{
    memset(key, 0, sizeof *key);
    if (mxr_realm_scalar_check(private_key, "oprf_private_key", err) < 0)
        return -1;
    memcpy(key->private_key, private_key, MXR_REALM_SCALAR_BYTES);
    if (crypto_scalarmult_ristretto255_base(key->public_key, key->private_key) != 0) {
        sodium_memzero(key, sizeof *key);
        return mxr_err_set(err, "M_INVALID_PARAM", "oprf_private_key gives the identity as public key");
    }
    return 0;
}

int mxr_realm_oprf_key_matches(const uint8_t private_key[MXR_REALM_SCALAR_BYTES],
                               const uint8_t public_key[MXR_REALM_POINT_BYTES], struct mxr_err *err)
{
    struct mxr_realm_oprf_key key;
    if (mxr_realm_oprf_key_from_private(&key, private_key, err) < 0)
        return -1;
    int same = sodium_memcmp(key.public_key, public_key, MXR_REALM_POINT_BYTES) == 0;
    sodium_memzero(&key, sizeof key);
    if (!same)
        return mxr_err_set(err, "M_INVALID_PARAM", "oprf_public_key is not oprf_private_key times the base point");
    return 0;
}

/* ---- OPRF ---------------------------------------------------------------- */

void mxr_realm_oprf_hash_to_group(uint8_t point[MXR_REALM_POINT_BYTES], const uint8_t *input, size_t input_len)
{
    static const uint8_t empty[1];
    uint8_t h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, input ? input : empty, input ? input_len : 0);
    crypto_core_ristretto255_from_hash(point, h);
    sodium_memzero(h, sizeof h);
}

/* SHA-512(label ‖ input ‖ result): the input is the only variable-length
 * field, so Juicebox hashes it without a length prefix. */
static void hash_to_output(uint8_t out[MXR_REALM_OPRF_OUTPUT_BYTES], const uint8_t *input, size_t input_len,
                           const uint8_t result[MXR_REALM_POINT_BYTES])
{
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, (const uint8_t *)OPRF_LABEL, sizeof OPRF_LABEL - 1);
    if (input && input_len)
        crypto_hash_sha512_update(&st, input, input_len);
    crypto_hash_sha512_update(&st, result, MXR_REALM_POINT_BYTES);
    crypto_hash_sha512_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

int mxr_realm_oprf_blind_with(const uint8_t blinding_factor[MXR_REALM_SCALAR_BYTES],
                              uint8_t blinded_input[MXR_REALM_POINT_BYTES], const uint8_t *input, size_t input_len,
                              struct mxr_err *err)
{
    if (mxr_realm_scalar_check(blinding_factor, "blinding factor", err) < 0)
        return -1;
    uint8_t p[MXR_REALM_POINT_BYTES];
    mxr_realm_oprf_hash_to_group(p, input, input_len);
    int rc = crypto_scalarmult_ristretto255(blinded_input, blinding_factor, p);
    sodium_memzero(p, sizeof p);
    if (rc != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "OPRF input hashes to the ristretto255 identity");
    return 0;
}

int mxr_realm_oprf_blind(uint8_t blinding_factor[MXR_REALM_SCALAR_BYTES],
                         uint8_t blinded_input[MXR_REALM_POINT_BYTES], const uint8_t *input, size_t input_len,
                         struct mxr_err *err)
{
    if (mxr_realm_scalar_random(blinding_factor, err) < 0)
        return -1;
    if (mxr_realm_oprf_blind_with(blinding_factor, blinded_input, input, input_len, err) < 0) {
        sodium_memzero(blinding_factor, MXR_REALM_SCALAR_BYTES);
        return -1;
    }
    return 0;
}

int mxr_realm_oprf_evaluate(uint8_t blinded_output[MXR_REALM_POINT_BYTES],
                            const uint8_t private_key[MXR_REALM_SCALAR_BYTES],
                            const uint8_t blinded_input[MXR_REALM_POINT_BYTES], struct mxr_err *err)
{
    if (mxr_realm_point_check(blinded_input, "blinded_input", err) < 0 ||
        mxr_realm_scalar_check(private_key, "oprf_private_key", err) < 0)
        return -1;
    /* A non-zero scalar times a non-identity point of prime order is never
     * the identity; the check stays because scalarmult is warn_unused_result. */
    if (crypto_scalarmult_ristretto255(blinded_output, private_key, blinded_input) != 0)
        return mxr_err_set(err, "M_INVALID_PARAM", "blinded_input times the OPRF key is the identity");
    return 0;
}

int mxr_realm_oprf_finalize(uint8_t out[MXR_REALM_OPRF_OUTPUT_BYTES], const uint8_t *input, size_t input_len,
                            const uint8_t blinding_factor[MXR_REALM_SCALAR_BYTES],
                            const uint8_t blinded_output[MXR_REALM_POINT_BYTES], struct mxr_err *err)
{
    if (mxr_realm_scalar_check(blinding_factor, "blinding factor", err) < 0 ||
        mxr_realm_point_check(blinded_output, "blinded_output", err) < 0)
        return -1;
    uint8_t inv[MXR_REALM_SCALAR_BYTES], result[MXR_REALM_POINT_BYTES];
    int rc = -1;
    if (crypto_core_ristretto255_scalar_invert(inv, blinding_factor) != 0)
        mxr_err_set(err, "M_INVALID_PARAM", "blinding factor has no inverse");
    else if (crypto_scalarmult_ristretto255(result, inv, blinded_output) != 0)
        mxr_err_set(err, "M_INVALID_PARAM", "unblinded OPRF result is the identity");
    else {
        hash_to_output(out, input, input_len, result);
        rc = 0;
    }
    sodium_memzero(inv, sizeof inv);
    sodium_memzero(result, sizeof result);
    return rc;
}

int mxr_realm_oprf_unoblivious(uint8_t out[MXR_REALM_OPRF_OUTPUT_BYTES],
                               const uint8_t private_key[MXR_REALM_SCALAR_BYTES], const uint8_t *input,
                               size_t input_len, struct mxr_err *err)
{
    if (mxr_realm_scalar_check(private_key, "oprf_private_key", err) < 0)
        return -1;
    uint8_t p[MXR_REALM_POINT_BYTES], result[MXR_REALM_POINT_BYTES];
    mxr_realm_oprf_hash_to_group(p, input, input_len);
    int rc = crypto_scalarmult_ristretto255(result, private_key, p);
    if (rc == 0)
        hash_to_output(out, input, input_len, result);
    else
        mxr_err_set(err, "M_INVALID_PARAM", "OPRF input hashes to the ristretto255 identity");
    sodium_memzero(p, sizeof p);
    sodium_memzero(result, sizeof result);
    return rc == 0 ? 0 : -1;
}

/* ---- DLEQ proof ------------------------------------------------------------ */

/* c = SHA-512(label ‖ U ‖ V ‖ W ‖ V_t ‖ W_t) mod l; G is implicit and every
 * field has a fixed size, so no lengths are hashed. */
static void challenge(uint8_t c[MXR_REALM_SCALAR_BYTES], const uint8_t u[MXR_REALM_POINT_BYTES],
                      const uint8_t v[MXR_REALM_POINT_BYTES], const uint8_t w[MXR_REALM_POINT_BYTES],
                      const uint8_t v_t[MXR_REALM_POINT_BYTES], const uint8_t w_t[MXR_REALM_POINT_BYTES])
{
    uint8_t h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, (const uint8_t *)DLEQ_LABEL, sizeof DLEQ_LABEL - 1);
    crypto_hash_sha512_update(&st, u, MXR_REALM_POINT_BYTES);
    crypto_hash_sha512_update(&st, v, MXR_REALM_POINT_BYTES);
    crypto_hash_sha512_update(&st, w, MXR_REALM_POINT_BYTES);
    crypto_hash_sha512_update(&st, v_t, MXR_REALM_POINT_BYTES);
    crypto_hash_sha512_update(&st, w_t, MXR_REALM_POINT_BYTES);
    crypto_hash_sha512_final(&st, h);
    crypto_core_ristretto255_scalar_reduce(c, h);
}

int mxr_realm_dleq_prove_with(struct mxr_realm_proof *proof, const struct mxr_realm_oprf_key *key,
                              const uint8_t blinded_input[MXR_REALM_POINT_BYTES],
                              const uint8_t blinded_output[MXR_REALM_POINT_BYTES],
                              const uint8_t beta_t[MXR_REALM_SCALAR_BYTES], struct mxr_err *err)
{
    if (mxr_realm_scalar_check(key->private_key, "oprf_private_key", err) < 0 ||
        mxr_realm_point_check(key->public_key, "oprf_public_key", err) < 0 ||
        mxr_realm_point_check(blinded_input, "blinded_input", err) < 0 ||
        mxr_realm_point_check(blinded_output, "blinded_output", err) < 0 ||
        mxr_realm_scalar_check(beta_t, "beta_t", err) < 0)
        return -1;
    uint8_t v_t[MXR_REALM_POINT_BYTES], w_t[MXR_REALM_POINT_BYTES], kc[MXR_REALM_SCALAR_BYTES];
    int rc = -1;
    if (crypto_scalarmult_ristretto255_base(v_t, beta_t) != 0 ||
        crypto_scalarmult_ristretto255(w_t, beta_t, blinded_input) != 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "DLEQ commitment is the identity");
    } else {
        challenge(proof->c, blinded_input, key->public_key, blinded_output, v_t, w_t);
        crypto_core_ristretto255_scalar_mul(kc, key->private_key, proof->c);
        crypto_core_ristretto255_scalar_add(proof->beta_z, beta_t, kc);
        rc = 0;
    }
    sodium_memzero(kc, sizeof kc);
    sodium_memzero(w_t, sizeof w_t);
    sodium_memzero(v_t, sizeof v_t);
    return rc;
}

int mxr_realm_dleq_prove(struct mxr_realm_proof *proof, const struct mxr_realm_oprf_key *key,
                         const uint8_t blinded_input[MXR_REALM_POINT_BYTES],
                         const uint8_t blinded_output[MXR_REALM_POINT_BYTES], struct mxr_err *err)
{
    uint8_t beta_t[MXR_REALM_SCALAR_BYTES];
    if (mxr_realm_scalar_random(beta_t, err) < 0)
        return -1;
    int rc = mxr_realm_dleq_prove_with(proof, key, blinded_input, blinded_output, beta_t, err);
    sodium_memzero(beta_t, sizeof beta_t);
    return rc;
}

int mxr_realm_oprf_evaluate_prove(uint8_t blinded_output[MXR_REALM_POINT_BYTES], struct mxr_realm_proof *proof,
                                  const struct mxr_realm_oprf_key *key,
                                  const uint8_t blinded_input[MXR_REALM_POINT_BYTES], struct mxr_err *err)
{
    if (mxr_realm_oprf_evaluate(blinded_output, key->private_key, blinded_input, err) < 0)
        return -1;
    return mxr_realm_dleq_prove(proof, key, blinded_input, blinded_output, err);
}

/* a·P − b·Q, or -1 when a partial product is the identity (only possible
 * for a zero scalar, which no honest proof contains). */
static int mul_sub(uint8_t out[MXR_REALM_POINT_BYTES], const uint8_t a[MXR_REALM_SCALAR_BYTES],
                   const uint8_t *p, const uint8_t b[MXR_REALM_SCALAR_BYTES], const uint8_t q[MXR_REALM_POINT_BYTES])
{
    uint8_t ap[MXR_REALM_POINT_BYTES], bq[MXR_REALM_POINT_BYTES];
    int rc = p ? crypto_scalarmult_ristretto255(ap, a, p) : crypto_scalarmult_ristretto255_base(ap, a);
    if (rc == 0)
        rc = crypto_scalarmult_ristretto255(bq, b, q);
    if (rc == 0)
        rc = crypto_core_ristretto255_sub(out, ap, bq);
    return rc == 0 ? 0 : -1;
}

int mxr_realm_dleq_verify(const uint8_t blinded_input[MXR_REALM_POINT_BYTES],
                          const uint8_t public_key[MXR_REALM_POINT_BYTES],
                          const uint8_t blinded_output[MXR_REALM_POINT_BYTES], const struct mxr_realm_proof *proof,
                          struct mxr_err *err)
{
    if (mxr_realm_point_check(blinded_input, "blinded_input", err) < 0 ||
        mxr_realm_point_check(public_key, "oprf_public_key", err) < 0 ||
        mxr_realm_point_check(blinded_output, "blinded_output", err) < 0)
        return -1;
    if (!mxr_realm_scalar_is_canonical(proof->c) || !mxr_realm_scalar_is_canonical(proof->beta_z))
        return mxr_err_set(err, "M_INVALID_PARAM", "DLEQ proof_c or proof_beta_z is not a canonical scalar");
    uint8_t v_t[MXR_REALM_POINT_BYTES], w_t[MXR_REALM_POINT_BYTES], c[MXR_REALM_SCALAR_BYTES];
    /* V_t' = β_z·G − c·V and W_t' = β_z·U − c·W; the proof holds when they
     * hash back to c. */
    if (mul_sub(v_t, proof->beta_z, NULL, proof->c, public_key) < 0 ||
        mul_sub(w_t, proof->beta_z, blinded_input, proof->c, blinded_output) < 0)
        return mxr_err_set(err, "M_FORBIDDEN", "DLEQ proof has a zero scalar: the realm's OPRF evaluation is unproven");
    challenge(c, blinded_input, public_key, blinded_output, v_t, w_t);
    if (sodium_memcmp(c, proof->c, MXR_REALM_SCALAR_BYTES) != 0)
        return mxr_err_set(err, "M_FORBIDDEN",
                           "DLEQ proof does not hold: blinded_output was not computed with oprf_public_key's key");
    return 0;
}

/* ---- Threshold OPRF and unlock key ---------------------------------------- */

int mxr_realm_oprf_combine(uint8_t blinded_output[MXR_REALM_POINT_BYTES], const struct mxr_realm_point_share *evals,
                           size_t count, struct mxr_err *err)
{
    if (count == 0 || count > MXR_REALM_MAX_SHARES)
        return mxr_err_set(err, "M_INVALID_PARAM", "OPRF combine needs 1-%d evaluations, got %zu",
                           MXR_REALM_MAX_SHARES, count);
    uint32_t idx[MXR_REALM_MAX_SHARES];
    for (size_t i = 0; i < count; i++) {
        idx[i] = evals[i].index;
        if (mxr_realm_point_check(evals[i].point, "blinded_output", err) < 0)
            return mxr_err_prefix(err, "evaluation of share %u", (unsigned)evals[i].index);
    }
    uint8_t acc[MXR_REALM_POINT_BYTES], term[MXR_REALM_POINT_BYTES], lambda[MXR_REALM_SCALAR_BYTES];
    for (size_t i = 0; i < count; i++) {
        if (mxr_realm_lagrange_at_zero(lambda, idx, count, i, err) < 0)
            return -1;
        /* λ_i is non-zero for distinct indices, W_i not the identity. */
        if (crypto_scalarmult_ristretto255(term, lambda, evals[i].point) != 0)
            return mxr_err_set(err, "M_INVALID_PARAM", "Lagrange term of share %u is the identity",
                               (unsigned)evals[i].index);
        if (i == 0)
            memcpy(acc, term, sizeof acc);
        else if (crypto_core_ristretto255_add(acc, acc, term) != 0)
            return mxr_err_set(err, "M_UNKNOWN", "ristretto255 addition failed");
    }
    if (sodium_is_zero(acc, sizeof acc))
        return mxr_err_set(err, "M_INVALID_PARAM", "combined OPRF evaluations give the identity");
    memcpy(blinded_output, acc, sizeof acc);
    return 0;
}

void mxr_realm_unlock_key_derive(uint8_t commitment[MXR_REALM_COMMITMENT_BYTES],
                                 uint8_t unlock_key[MXR_REALM_UNLOCK_KEY_BYTES],
                                 const uint8_t oprf_out[MXR_REALM_OPRF_OUTPUT_BYTES])
{
    uint8_t d[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(d, oprf_out, MXR_REALM_OPRF_OUTPUT_BYTES);
    memcpy(commitment, d, MXR_REALM_COMMITMENT_BYTES);
    memcpy(unlock_key, d + MXR_REALM_COMMITMENT_BYTES, MXR_REALM_UNLOCK_KEY_BYTES);
    sodium_memzero(d, sizeof d);
}

/* ---- Signature over (realm_id, V_i) ---------------------------------------- */

void mxr_realm_oprf_sig_message(uint8_t msg[MXR_REALM_SIG_MESSAGE_BYTES], const uint8_t realm_id[MXR_REALM_ID_BYTES],
                                const uint8_t public_key[MXR_REALM_POINT_BYTES])
{
    /* Juicebox length-prefixes each field with a big-endian u16. */
    msg[0] = 0;
    msg[1] = MXR_REALM_ID_BYTES;
    memcpy(msg + 2, realm_id, MXR_REALM_ID_BYTES);
    msg[2 + MXR_REALM_ID_BYTES] = 0;
    msg[3 + MXR_REALM_ID_BYTES] = MXR_REALM_POINT_BYTES;
    memcpy(msg + 4 + MXR_REALM_ID_BYTES, public_key, MXR_REALM_POINT_BYTES);
}

void mxr_realm_oprf_sig_sign(uint8_t sig[MXR_REALM_SIG_BYTES], const uint8_t sk[MXR_REALM_SIG_SECRET_BYTES],
                             const uint8_t realm_id[MXR_REALM_ID_BYTES],
                             const uint8_t public_key[MXR_REALM_POINT_BYTES])
{
    uint8_t msg[MXR_REALM_SIG_MESSAGE_BYTES];
    mxr_realm_oprf_sig_message(msg, realm_id, public_key);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
}

int mxr_realm_oprf_sig_verify(const uint8_t sig[MXR_REALM_SIG_BYTES], const uint8_t vk[MXR_REALM_SIG_PUBLIC_BYTES],
                              const uint8_t realm_id[MXR_REALM_ID_BYTES],
                              const uint8_t public_key[MXR_REALM_POINT_BYTES], struct mxr_err *err)
{
    uint8_t msg[MXR_REALM_SIG_MESSAGE_BYTES];
    mxr_realm_oprf_sig_message(msg, realm_id, public_key);
    if (crypto_sign_verify_detached(sig, msg, sizeof msg, vk) != 0)
        return mxr_err_set(err, "M_FORBIDDEN",
                           "oprf_signature does not verify over (realm_id, oprf_public_key) with oprf_verifying_key");
    return 0;
}
