/* The pure cryptographic core of the PIN-protected key-recovery realm
 * (design: pin-recovery-and-payments.md §2.2 "Primitives and their libsodium
 * mapping", §2.3 client algorithms, §6.2 crypto profiles, §6.11 test plan).
 *
 * The math is Juicebox's (`jb1` profile), byte for byte: the 2HashDH OPRF on
 * ristretto255 with SHA-512, a Chaum-Pedersen DLEQ proof, Shamir sharing over
 * the ristretto255 scalar field Z_l, and the Ed25519 signature over a realm's
 * OPRF public key. All ten Juicebox OPRF/DLEQ vectors reproduce through this
 * API (tests/proto/test_realm_oprf.c).
 *
 * Who calls what:
 *   realm server (relay/realm/)   mxr_realm_oprf_key_from_private (register2
 *                                 check of k_i and V_i = k_i·G),
 *                                 mxr_realm_oprf_sig_verify (register2),
 *                                 mxr_realm_point_check (recover2 input, before
 *                                 any guess is counted), mxr_realm_oprf_evaluate_prove.
 *   client (`mxr realm ...`)      mxr_realm_pin_hash, mxr_realm_scalar_random,
 *                                 mxr_realm_shamir_split, mxr_realm_oprf_sig_sign,
 *                                 mxr_realm_oprf_unoblivious (register), and
 *                                 mxr_realm_oprf_blind, mxr_realm_oprf_sig_verify,
 *                                 mxr_realm_dleq_verify, mxr_realm_oprf_combine,
 *                                 mxr_realm_oprf_finalize, mxr_realm_unlock_key_derive,
 *                                 mxr_realm_shamir_recover (recover).
 *
 * Encodings: a scalar is 32 bytes little-endian and must be canonical (< l);
 * a point is a 32-byte ristretto255 encoding. Everything that arrives from a
 * peer is validated here; invalid input yields -1 and M_INVALID_PARAM, never
 * a crash. Failed proofs and signatures yield M_FORBIDDEN; internal failures
 * (allocation in Argon2id) M_UNKNOWN. Secrets are wiped from the stack before
 * return; wiping the caller's buffers is the caller's job (sodium_memzero).
 *
 * Every function is pure (no I/O). Randomness comes from libsodium's
 * randombytes; the functions that draw it initialise libsodium themselves
 * (sodium_init is idempotent).
 */
#ifndef MXR_REALM_CRYPTO_H
#define MXR_REALM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

#define MXR_REALM_SCALAR_BYTES 32
#define MXR_REALM_POINT_BYTES 32
#define MXR_REALM_SEED_BYTES 64 /* wide input reduced mod l into a scalar */
#define MXR_REALM_OPRF_OUTPUT_BYTES 64
#define MXR_REALM_ID_BYTES 16
#define MXR_REALM_VERSION_BYTES 16
#define MXR_REALM_SIG_PUBLIC_BYTES 32
#define MXR_REALM_SIG_SECRET_BYTES 64
#define MXR_REALM_SIG_BYTES 64
#define MXR_REALM_UNLOCK_KEY_BYTES 32
#define MXR_REALM_COMMITMENT_BYTES 32
#define MXR_REALM_ACCESS_KEY_BYTES 32
#define MXR_REALM_ENC_SEED_BYTES 32

/* Share indices are 1..MXR_REALM_MAX_SHARES (realm i in realm_id order gets
 * index i, §2.1); index 0 would be the secret itself. */
#define MXR_REALM_MAX_SHARES 255

/* ---- Scalars and points ------------------------------------------------ */

/* 1 when s is a canonical scalar (s < l), 0 otherwise. A scalar is canonical
 * when reducing s ‖ 32 zero bytes gives s back (§2.2 implementation notes). */
int mxr_realm_scalar_is_canonical(const uint8_t s[MXR_REALM_SCALAR_BYTES]);

/* Checks a scalar from a peer: canonical and non-zero (a zero OPRF key or
 * share would make every evaluation the identity). `what` names the field in
 * the error ("oprf_private_key"). 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_scalar_check(const uint8_t s[MXR_REALM_SCALAR_BYTES], const char *what, struct mxr_err *err);

/* out = seed mod l. Juicebox's Scalar::random reduces 64 random bytes; the
 * test vectors give their keys, blinding factors and β_t as such seeds. */
void mxr_realm_scalar_from_seed(uint8_t out[MXR_REALM_SCALAR_BYTES], const uint8_t seed[MXR_REALM_SEED_BYTES]);

/* A uniformly random non-zero canonical scalar. 0, or -1 (M_UNKNOWN) when
 * libsodium cannot initialise. */
int mxr_realm_scalar_random(uint8_t out[MXR_REALM_SCALAR_BYTES], struct mxr_err *err);

/* Checks a point from a peer: a valid ristretto255 encoding and not the
 * identity. libsodium 1.0.18's is_valid_point accepts the identity (all
 * zeros), and a realm must refuse it before it counts a guess (§6.4 item 2).
 * `what` names the field. 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_point_check(const uint8_t p[MXR_REALM_POINT_BYTES], const char *what, struct mxr_err *err);

/* ---- OPRF keys ---------------------------------------------------------- */

/* A realm's OPRF key share k_i and its public key V_i = k_i·G. The client
 * creates both and sends them in register2; the realm only checks them. */
struct mxr_realm_oprf_key {
    uint8_t private_key[MXR_REALM_SCALAR_BYTES];
    uint8_t public_key[MXR_REALM_POINT_BYTES];
};

/* A fresh random key (the client's OPRF root key k0). 0 or -1 (M_UNKNOWN). */
int mxr_realm_oprf_keygen(struct mxr_realm_oprf_key *key, struct mxr_err *err);

/* Fills key from a private scalar: checks it (canonical, non-zero) and
 * computes the public key. The realm runs this on register2's
 * oprf_private_key and compares the result with oprf_public_key using
 * mxr_realm_oprf_key_matches. 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_oprf_key_from_private(struct mxr_realm_oprf_key *key, const uint8_t private_key[MXR_REALM_SCALAR_BYTES],
                                    struct mxr_err *err);

/* register2: 0 when public_key == private_key·G (constant time) and the
 * private key is valid; -1 (M_INVALID_PARAM) otherwise. */
int mxr_realm_oprf_key_matches(const uint8_t private_key[MXR_REALM_SCALAR_BYTES],
                               const uint8_t public_key[MXR_REALM_POINT_BYTES], struct mxr_err *err);

/* ---- OPRF (2HashDH, "Juicebox_OPRF_2023_1") ------------------------------ */

/* H(x) = ristretto255 from_hash(SHA-512(x)), Juicebox's
 * RistrettoPoint::hash_from_bytes::<Sha512>. */
void mxr_realm_oprf_hash_to_group(uint8_t point[MXR_REALM_POINT_BYTES], const uint8_t *input, size_t input_len);

/* Client, step 1: picks a random blinding factor r and computes the blinded
 * input U = r·H(input). Keep r secret until finalize. */
int mxr_realm_oprf_blind(uint8_t blinding_factor[MXR_REALM_SCALAR_BYTES],
                         uint8_t blinded_input[MXR_REALM_POINT_BYTES], const uint8_t *input, size_t input_len,
                         struct mxr_err *err);

/* As mxr_realm_oprf_blind with a given r (canonical, non-zero): for known
 * answers. */
int mxr_realm_oprf_blind_with(const uint8_t blinding_factor[MXR_REALM_SCALAR_BYTES],
                              uint8_t blinded_input[MXR_REALM_POINT_BYTES], const uint8_t *input, size_t input_len,
                              struct mxr_err *err);

/* Realm: W = k·U, after checking U (mxr_realm_point_check) and k. A realm
 * must have checked U *before* it counted the guess (§6.4 item 2); this
 * check again is a second line, not the first. 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_oprf_evaluate(uint8_t blinded_output[MXR_REALM_POINT_BYTES],
                            const uint8_t private_key[MXR_REALM_SCALAR_BYTES],
                            const uint8_t blinded_input[MXR_REALM_POINT_BYTES], struct mxr_err *err);

/* Client, last step: out = SHA-512("Juicebox_OPRF_2023_1;" ‖ input ‖ r⁻¹·W)
 * (no length prefix, no public key: §2.2). W is the realm's blinded output,
 * or for a threshold of realms the output of mxr_realm_oprf_combine. Verify
 * the proofs (mxr_realm_dleq_verify) before using out. */
int mxr_realm_oprf_finalize(uint8_t out[MXR_REALM_OPRF_OUTPUT_BYTES], const uint8_t *input, size_t input_len,
                            const uint8_t blinding_factor[MXR_REALM_SCALAR_BYTES],
                            const uint8_t blinded_output[MXR_REALM_POINT_BYTES], struct mxr_err *err);

/* The same output computed directly from the key: SHA-512(label ‖ input ‖
 * k·H(input)). The client runs it with the root key k0 at registration
 * (§2.3 Register step 5). */
int mxr_realm_oprf_unoblivious(uint8_t out[MXR_REALM_OPRF_OUTPUT_BYTES],
                               const uint8_t private_key[MXR_REALM_SCALAR_BYTES], const uint8_t *input,
                               size_t input_len, struct mxr_err *err);

/* ---- DLEQ proof (Chaum-Pedersen, "Juicebox_DLEQ_2023_1") ----------------- */

/* Proof that log_G(V) == log_U(W): c = SHA-512(label ‖ U ‖ V ‖ W ‖ V_t ‖ W_t)
 * mod l, β_z = β_t + k·c. */
struct mxr_realm_proof {
    uint8_t c[MXR_REALM_SCALAR_BYTES];
    uint8_t beta_z[MXR_REALM_SCALAR_BYTES];
};

/* Realm: proves W = k·U for key (V = key->public_key) with a random β_t. */
int mxr_realm_dleq_prove(struct mxr_realm_proof *proof, const struct mxr_realm_oprf_key *key,
                         const uint8_t blinded_input[MXR_REALM_POINT_BYTES],
                         const uint8_t blinded_output[MXR_REALM_POINT_BYTES], struct mxr_err *err);

/* As mxr_realm_dleq_prove with a given β_t (canonical, non-zero): for known
 * answers only — reusing β_t across two proofs reveals the key. */
int mxr_realm_dleq_prove_with(struct mxr_realm_proof *proof, const struct mxr_realm_oprf_key *key,
                              const uint8_t blinded_input[MXR_REALM_POINT_BYTES],
                              const uint8_t blinded_output[MXR_REALM_POINT_BYTES],
                              const uint8_t beta_t[MXR_REALM_SCALAR_BYTES], struct mxr_err *err);

/* Realm, recover2: W = k·U and its proof in one call (U checked first). */
int mxr_realm_oprf_evaluate_prove(uint8_t blinded_output[MXR_REALM_POINT_BYTES], struct mxr_realm_proof *proof,
                                  const struct mxr_realm_oprf_key *key,
                                  const uint8_t blinded_input[MXR_REALM_POINT_BYTES], struct mxr_err *err);

/* Client: checks a realm's proof for (U, V, W). All three points and both
 * proof scalars come from the network and are validated. 0 when the proof
 * holds; -1 with M_INVALID_PARAM (malformed input) or M_FORBIDDEN (the proof
 * does not hold: the realm did not use the key V). The caller must also
 * check that V is the key the user registered (mxr_realm_oprf_sig_verify). */
int mxr_realm_dleq_verify(const uint8_t blinded_input[MXR_REALM_POINT_BYTES],
                          const uint8_t public_key[MXR_REALM_POINT_BYTES],
                          const uint8_t blinded_output[MXR_REALM_POINT_BYTES], const struct mxr_realm_proof *proof,
                          struct mxr_err *err);

/* ---- Threshold OPRF ---------------------------------------------------- */

/* One realm's evaluation W_i = k_i·U, where k_i is Shamir share `index` of
 * the root key k0. */
struct mxr_realm_point_share {
    uint32_t index;
    uint8_t point[MXR_REALM_POINT_BYTES];
};

/* Client: W = Σ λ_i·W_i, Lagrange interpolation at 0 in the exponent, which
 * equals k0·U when at least t correct evaluations are given (§2.2 "T-OPRF
 * combine"). Indices must be distinct and in 1..MXR_REALM_MAX_SHARES; points
 * are validated. Fewer than t shares give a wrong W, which the client notices
 * through the unlock-key commitment. 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_oprf_combine(uint8_t blinded_output[MXR_REALM_POINT_BYTES], const struct mxr_realm_point_share *evals,
                           size_t count, struct mxr_err *err);

/* Client (§2.3 Register step 5, Recover step 4): d = SHA-512(oprf_out);
 * commitment = d[0..32] (stored by every realm), unlock_key = d[32..64]. */
void mxr_realm_unlock_key_derive(uint8_t commitment[MXR_REALM_COMMITMENT_BYTES],
                                 uint8_t unlock_key[MXR_REALM_UNLOCK_KEY_BYTES],
                                 const uint8_t oprf_out[MXR_REALM_OPRF_OUTPUT_BYTES]);

/* ---- Signature over a realm's OPRF public key ------------------------------ */

/* The signed message: be16(16) ‖ realm_id ‖ be16(32) ‖ V_i (§2.2
 * "Signature"); 52 bytes. */
#define MXR_REALM_SIG_MESSAGE_BYTES (2 + MXR_REALM_ID_BYTES + 2 + MXR_REALM_POINT_BYTES)
void mxr_realm_oprf_sig_message(uint8_t msg[MXR_REALM_SIG_MESSAGE_BYTES], const uint8_t realm_id[MXR_REALM_ID_BYTES],
                                const uint8_t public_key[MXR_REALM_POINT_BYTES]);

/* Client, register step 4: Ed25519 signature with the one-time key sk
 * (libsodium's 64-byte secret key; discard it after all realms are signed). */
void mxr_realm_oprf_sig_sign(uint8_t sig[MXR_REALM_SIG_BYTES], const uint8_t sk[MXR_REALM_SIG_SECRET_BYTES],
                             const uint8_t realm_id[MXR_REALM_ID_BYTES],
                             const uint8_t public_key[MXR_REALM_POINT_BYTES]);

/* Realm (register2, against its own realm_id) and client (recover2). 0 or -1
 * (M_FORBIDDEN). libsodium's verify rejects non-canonical and small-order
 * keys and R values, as Juicebox's verify_strict does. */
int mxr_realm_oprf_sig_verify(const uint8_t sig[MXR_REALM_SIG_BYTES], const uint8_t vk[MXR_REALM_SIG_PUBLIC_BYTES],
                              const uint8_t realm_id[MXR_REALM_ID_BYTES],
                              const uint8_t public_key[MXR_REALM_POINT_BYTES], struct mxr_err *err);

/* ---- Shamir secret sharing over Z_l ------------------------------------- */

/* Share `index` of a scalar secret: f(index), f of degree t-1, f(0) = secret. */
struct mxr_realm_share {
    uint32_t index;
    uint8_t value[MXR_REALM_SCALAR_BYTES];
};

/* Client policy for a realm set (§6.8): 2 <= t <= n <= MXR_REALM_MAX_SHARES
 * and t > n/2, so at most one registration can win a majority. 0 or -1
 * (M_INVALID_PARAM). The Shamir functions themselves accept any 1 <= t <= n. */
int mxr_realm_threshold_check(unsigned t, unsigned n, struct mxr_err *err);

/* Splits a scalar secret into shares[0..n) with indices 1..n (1 <= t <= n
 * <= MXR_REALM_MAX_SHARES); any t recover it. The secret must be a non-zero
 * canonical scalar: an arbitrary 32-byte string is not a field element, so
 * share a random scalar (mxr_realm_scalar_random) and derive keys from it,
 * as Juicebox does with s and k0. For t >= 2 no share is zero (a realm
 * rejects a zero key share): the random coefficients are redrawn in that
 * (probability ~n/2^252) case. 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_shamir_split(struct mxr_realm_share *shares, unsigned n, unsigned t,
                           const uint8_t secret[MXR_REALM_SCALAR_BYTES], struct mxr_err *err);

/* As mxr_realm_shamir_split with given coefficients a_1..a_{t-1}
 * (f(x) = secret + a_1·x + ... + a_{t-1}·x^{t-1}; coeffs may be NULL when
 * t == 1): for known answers. Zero shares are not redrawn here. */
int mxr_realm_shamir_split_with(struct mxr_realm_share *shares, unsigned n, unsigned t,
                                const uint8_t secret[MXR_REALM_SCALAR_BYTES],
                                const uint8_t (*coeffs)[MXR_REALM_SCALAR_BYTES], struct mxr_err *err);

/* Interpolates f(0) from count shares. Indices must be distinct and in
 * 1..MXR_REALM_MAX_SHARES, values canonical (they come from realms in
 * recover3). With fewer than t shares, or shares of different splits, the
 * result is a wrong value, not an error: the caller detects it (Juicebox
 * groups shares by encrypted_secret and checks the AEAD). 0 or -1
 * (M_INVALID_PARAM). */
int mxr_realm_shamir_recover(uint8_t secret[MXR_REALM_SCALAR_BYTES], const struct mxr_realm_share *shares,
                             size_t count, struct mxr_err *err);

/* The Lagrange coefficient at 0 of indices[i] within indices[0..count):
 * λ_i = Π_{j≠i} x_j / (x_j − x_i). Indices checked as above. */
int mxr_realm_lagrange_at_zero(uint8_t lambda[MXR_REALM_SCALAR_BYTES], const uint32_t *indices, size_t count,
                               size_t i, struct mxr_err *err);

/* ---- PIN hashing (client only) ------------------------------------------ */

/* Crypto profiles (§6.2). The realm treats both alike; only clients differ. */
enum mxr_realm_profile {
    MXR_REALM_PROFILE_JB1,     /* Juicebox-compatible: Argon2id with a variable-length salt, BLAKE2s MAC */
    MXR_REALM_PROFILE_SODIUM1, /* libsodium only: crypto_pwhash with a BLAKE2b-derived 16-byte salt */
};

/* "jb1" / "sodium1" <-> enum. parse: 0 or -1 (M_INVALID_PARAM). */
int mxr_realm_profile_parse(const char *name, enum mxr_realm_profile *out, struct mxr_err *err);
const char *mxr_realm_profile_name(enum mxr_realm_profile profile);

/* Argon2id v1.3 parameters of both profiles (Juicebox "Standard2019", §1,
 * §2.2): t = 32 passes, m = 16 MiB, p = 1, 64 bytes out. */
#define MXR_REALM_PIN_OPSLIMIT 32u
#define MXR_REALM_PIN_MEMLIMIT (16u * 1024u * 1024u)
#define MXR_REALM_PIN_HASH_BYTES 64
/* Bounds on the inputs (a PIN is short; info is a user ID). */
#define MXR_REALM_PIN_MAX 128
#define MXR_REALM_PIN_INFO_MAX 1024

/* The jb1 salt: be32(16) ‖ version ‖ be32(info_len) ‖ info, variable length
 * (8 + 16 + info_len bytes). Returns the length written, or -1
 * (M_INVALID_PARAM) when it would not fit in cap or info is too long. */
long mxr_realm_pin_salt_jb1(uint8_t *salt, size_t cap, const uint8_t version[MXR_REALM_VERSION_BYTES],
                            const uint8_t *info, size_t info_len, struct mxr_err *err);

/* The sodium1 salt: BLAKE2b-128("jb1-salt" ‖ jb1 salt), unkeyed, because
 * crypto_pwhash takes exactly 16 salt bytes (§6.2). */
int mxr_realm_pin_salt_sodium1(uint8_t salt[16], const uint8_t version[MXR_REALM_VERSION_BYTES],
                               const uint8_t *info, size_t info_len, struct mxr_err *err);

/* §2.3 Register step 2 / Recover step 2: stretched = Argon2id(pin, salt of
 * the profile); access_key = stretched[0..32], enc_seed = stretched[32..64].
 * `info` is a constant for the user such as the Matrix user ID. Takes about
 * a third of a second and 16 MiB.
 * jb1 needs Argon2 with a salt longer than 16 bytes, which libsodium does not
 * offer: it runs on libargon2 (Juicebox's PIN KAT reproduces), sodium1 on
 * libsodium's crypto_pwhash.
 * 0 or -1 (M_INVALID_PARAM: empty or too long PIN or info; M_UNKNOWN: out
 * of memory). */
int mxr_realm_pin_hash(uint8_t access_key[MXR_REALM_ACCESS_KEY_BYTES], uint8_t enc_seed[MXR_REALM_ENC_SEED_BYTES],
                       enum mxr_realm_profile profile, const uint8_t *pin, size_t pin_len,
                       const uint8_t version[MXR_REALM_VERSION_BYTES], const uint8_t *info, size_t info_len,
                       struct mxr_err *err);

#endif
