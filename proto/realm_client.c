/* The client algorithms of design §2.3 (Register, Recover, Delete) over
 * sealed realm calls (§6.7), with the checks that catch a lying realm.
 *
 * Profile sodium1 (§6.2): MAC = keyed BLAKE2b (crypto_generichash) over
 * be32(len(label)) ‖ label ‖ be32(len(x)) ‖ x ..., PIN hash from
 * mxr_realm_pin_hash. The secret is encrypted with ChaCha20-Poly1305 (IETF,
 * zero nonce: the key is fresh per registration) over len ‖ secret ‖ zero
 * padding to 129 bytes, 145 bytes out. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/realm_client.h"
#include "realm_client_int.h"

#define PADDED_SECRET_BYTES (MXR_REALM_SECRET_MAX + 1)

static const uint8_t ZERO_NONCE[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

/* ---- Register (§2.3) ------------------------------------------------------------------- */

struct reg_material {
    uint8_t version[MXR_REALM_VERSION_BYTES];
    uint8_t access_key[32], enc_seed[32];
    struct mxr_realm_oprf_key k0;
    struct mxr_realm_share k_shares[MXR_REALM_CLIENT_MAX];
    uint8_t V[MXR_REALM_CLIENT_MAX][32];
    uint8_t vk[32], sk[64];
    uint8_t sig[MXR_REALM_CLIENT_MAX][64];
    uint8_t oprf_out[64], commitment[32], unlock_key[32];
    uint8_t s[32];
    struct mxr_realm_share s_shares[MXR_REALM_CLIENT_MAX];
    uint8_t enc_key[32];
    uint8_t padded[PADDED_SECRET_BYTES];
    uint8_t enc_secret[MXR_REALM_ENCRYPTED_SECRET_BYTES];
    uint8_t tag[MXR_REALM_CLIENT_MAX][MXR_REALM_TAG_BYTES];
    uint8_t enc_commit[MXR_REALM_CLIENT_MAX][MXR_REALM_TAG_BYTES];
};

static int reg_derive(struct reg_material *m, const struct mxr_realm_client *c, const struct mxr_realm_config *cfg,
                      const uint8_t *pin, size_t pin_len, const uint8_t *secret, size_t secret_len,
                      struct mxr_err *err)
{
    size_t n = cfg->n;
    enum mxr_realm_profile p = cfg->profile;
    /* Step 2: the PIN, stretched with a fresh version as salt and the user
     * ID as info, so a realm cannot serve a salt matched to a table. */
    randombytes_buf(m->version, sizeof m->version);
    if (mxr_realm_pin_hash(m->access_key, m->enc_seed, p, pin, pin_len, m->version, (const uint8_t *)c->user_id,
                           strlen(c->user_id), err) < 0)
        return -1;
    /* Step 3: the OPRF root key and its shares k_i, V_i = k_i·G. */
    if (mxr_realm_oprf_keygen(&m->k0, err) < 0 ||
        mxr_realm_shamir_split(m->k_shares, (unsigned)n, cfg->threshold, m->k0.private_key, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct mxr_realm_oprf_key ki;
        if (mxr_realm_oprf_key_from_private(&ki, m->k_shares[i].value, err) < 0)
            return -1;
        memcpy(m->V[i], ki.public_key, 32);
        sodium_memzero(&ki, sizeof ki);
    }
    /* Step 4: a one-time signing key vouches for each (realm_id, V_i). */
    crypto_sign_keypair(m->vk, m->sk);
    for (size_t i = 0; i < n; i++)
        mxr_realm_oprf_sig_sign(m->sig[i], m->sk, cfg->realms[i].realm_id, m->V[i]);
    sodium_memzero(m->sk, sizeof m->sk);
    /* Step 5: the unlock key and its commitment from k0 directly. */
    if (mxr_realm_oprf_unoblivious(m->oprf_out, m->k0.private_key, m->access_key, sizeof m->access_key, err) < 0)
        return -1;
    mxr_realm_unlock_key_derive(m->commitment, m->unlock_key, m->oprf_out);
    /* Step 6: the secret under a key derived from a shared scalar s. */
    if (mxr_realm_scalar_random(m->s, err) < 0 ||
        mxr_realm_shamir_split(m->s_shares, (unsigned)n, cfg->threshold, m->s, err) < 0 ||
        realm_client_enc_key(m->enc_key, p, m->enc_seed, m->s, err) < 0)
        return -1;
    memset(m->padded, 0, sizeof m->padded);
    m->padded[0] = (uint8_t)secret_len;
    memcpy(m->padded + 1, secret, secret_len);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(m->enc_secret, &clen, m->padded, sizeof m->padded, NULL, 0, NULL,
                                              ZERO_NONCE, m->enc_key);
    /* Step 7: per-realm tag and commitment. */
    for (size_t i = 0; i < n; i++)
        if (realm_client_tag(m->tag[i], p, m->unlock_key, cfg->realms[i].realm_id, err) < 0 ||
            realm_client_commit(m->enc_commit[i], p, m->unlock_key, cfg->realms[i].realm_id, m->s_shares[i].value,
                          m->enc_secret, err) < 0)
            return -1;
    return 0;
}

static json_t *register2_fields(const struct reg_material *m, const struct mxr_realm_config *cfg, size_t i,
                                unsigned allowed, struct mxr_err *err)
{
    json_t *f = json_pack("{s:s, s:i}", "profile", mxr_realm_profile_name(cfg->profile), "allowed_guesses",
                          (int)allowed);
    if (!f || mxr_realm_json_set_bytes(f, "version", m->version, sizeof m->version, err) < 0 ||
        mxr_realm_json_set_bytes(f, "oprf_private_key", m->k_shares[i].value, 32, err) < 0 ||
        mxr_realm_json_set_bytes(f, "oprf_public_key", m->V[i], 32, err) < 0 ||
        mxr_realm_json_set_bytes(f, "oprf_verifying_key", m->vk, 32, err) < 0 ||
        mxr_realm_json_set_bytes(f, "oprf_signature", m->sig[i], 64, err) < 0 ||
        mxr_realm_json_set_bytes(f, "unlock_key_commitment", m->commitment, 32, err) < 0 ||
        mxr_realm_json_set_bytes(f, "unlock_key_tag", m->tag[i], MXR_REALM_TAG_BYTES, err) < 0 ||
        mxr_realm_json_set_bytes(f, "encryption_key_scalar_share", m->s_shares[i].value, 32, err) < 0 ||
        mxr_realm_json_set_bytes(f, "encrypted_secret", m->enc_secret, sizeof m->enc_secret, err) < 0 ||
        mxr_realm_json_set_bytes(f, "encrypted_secret_commitment", m->enc_commit[i], MXR_REALM_TAG_BYTES, err) < 0) {
        json_decref(f);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    return f;
}

int mxr_realm_register(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, const uint8_t *pin,
                       size_t pin_len, const uint8_t *secret, size_t secret_len, unsigned allowed_guesses,
                       struct mxr_realm_report *rep, struct mxr_err *err)
{
    if (realm_client_config_ok(c, cfg, err) < 0)
        return -1;
    realm_client_report_init(rep, cfg);
    if (secret_len < 1 || secret_len > MXR_REALM_SECRET_MAX)
        return mxr_err_set(err, "M_INVALID_PARAM", "the secret must be 1 to %d bytes", MXR_REALM_SECRET_MAX);
    for (size_t i = 0; i < cfg->n; i++)
        if (allowed_guesses < 1 || allowed_guesses > cfg->realms[i].max_allowed_guesses)
            return mxr_err_set(err, "M_INVALID_PARAM", "allowed_guesses must be 1..%u for %s",
                               cfg->realms[i].max_allowed_guesses, cfg->realms[i].server_name);
    /* Step 1: register1 everywhere; all n must answer (§6.8). */
    size_t ok = 0;
    struct mxr_err first = { 0 };
    for (size_t i = 0; i < cfg->n; i++) {
        int status = 0;
        json_t *body = NULL;
        struct mxr_err e = { 0 };
        if (realm_client_call(c, &cfg->realms[i], "register1", NULL, &status, &body, &rep->realms[i], &e) == 0) {
            if (status == 200) {
                realm_client_result_set(&rep->realms[i], MXR_REALM_ST_OK, 200, "reachable");
                ok++;
            } else {
                realm_client_classify(&rep->realms[i], status, body);
                mxr_err_set(&e, "M_FORBIDDEN", "%s", rep->realms[i].detail);
            }
            json_decref(body);
        }
        if (e.errcode && !first.errcode)
            first = e, mxr_err_prefix(&first, "%s", cfg->realms[i].server_name);
    }
    if (ok < cfg->n) {
        if (err)
            *err = first;
        return mxr_err_prefix(err, "%zu of %zu realms are ready (all must be to register)", ok, cfg->n);
    }
    struct reg_material *m = sodium_malloc(sizeof *m);
    if (!m)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    int rc = reg_derive(m, c, cfg, pin, pin_len, secret, secret_len, err);
    /* Step 8: register2 everywhere. */
    ok = 0;
    for (size_t i = 0; rc == 0 && i < cfg->n; i++) {
        json_t *f = register2_fields(m, cfg, i, allowed_guesses, err);
        if (!f) {
            rc = -1;
            break;
        }
        int status = 0;
        json_t *body = NULL;
        struct mxr_err e = { 0 };
        if (realm_client_call(c, &cfg->realms[i], "register2", f, &status, &body, &rep->realms[i], &e) == 0) {
            if (status == 200) {
                realm_client_result_set(&rep->realms[i], MXR_REALM_ST_OK, 200, "registered");
                ok++;
            } else {
                realm_client_classify(&rep->realms[i], status, body);
            }
            json_decref(body);
        }
        realm_client_wipe_json(f);
    }
    sodium_free(m);
    if (rc < 0)
        return -1;
    if (ok < cfg->n)
        return mxr_err_set(err, MXR_REALM_E_UNAVAILABLE, "%zu of %zu realms registered; retry, or replace the others "
                           "and delete the registration where it succeeded", ok, cfg->n);
    return 0;
}

/* ---- Recover (§2.3) ------------------------------------------------------------------- */

struct rec_state {
    uint8_t access_key[32], enc_seed[32];
    uint8_t r[32], U[32];
    uint8_t W[MXR_REALM_CLIENT_MAX][32];
    uint8_t commitment[MXR_REALM_CLIENT_MAX][32];
    uint8_t vk[MXR_REALM_CLIENT_MAX][32];
    bool good2[MXR_REALM_CLIENT_MAX];
    uint8_t oprf_out[64], my_commitment[32], unlock_key[32];
    struct mxr_realm_share s_shares[MXR_REALM_CLIENT_MAX];
    uint8_t enc_secret[MXR_REALM_CLIENT_MAX][MXR_REALM_ENCRYPTED_SECRET_BYTES];
    bool good3[MXR_REALM_CLIENT_MAX];
    uint8_t s[32], enc_key[32], padded[PADDED_SECRET_BYTES];
};

static void mark_lied(struct mxr_realm_report *rep, size_t i, const char *fmt, const char *what)
{
    if (rep->realms[i].status != MXR_REALM_ST_LIED)
        rep->lied++;
    realm_client_result_set(&rep->realms[i], MXR_REALM_ST_LIED, rep->realms[i].http_status, fmt, what);
}

/* The error when fewer than t realms could take part. */
static int too_few(const struct mxr_realm_config *cfg, const struct mxr_realm_report *rep, const char *phase,
                   size_t have, struct mxr_err *err)
{
    size_t noguess = 0, notreg = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        noguess += rep->realms[i].status == MXR_REALM_ST_NO_GUESSES;
        notreg += rep->realms[i].status == MXR_REALM_ST_NOT_REGISTERED;
    }
    /* More than n - t realms gone for good: the secret is unrecoverable. */
    if (noguess && noguess + notreg > cfg->n - cfg->threshold)
        return mxr_err_set(err, MXR_REALM_E_NO_GUESSES, "%zu of %zu realms have used every guess and wiped their "
                           "shares: the secret cannot be recovered", noguess, cfg->n);
    if (notreg > cfg->n - cfg->threshold)
        return mxr_err_set(err, MXR_REALM_E_NOT_REGISTERED, "%zu of %zu realms hold no registration for this user",
                           notreg, cfg->n);
    return mxr_err_set(err, MXR_REALM_E_UNAVAILABLE, "%s: only %zu of the %u realms needed answered consistently",
                       phase, have, cfg->threshold);
}

/* Step 1: recover1 everywhere; the version held by at least t realms. */
static int recover1_all(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, struct mxr_realm_report *rep,
                        uint8_t version[MXR_REALM_VERSION_BYTES], bool in_group[MXR_REALM_CLIENT_MAX],
                        struct mxr_err *err)
{
    uint8_t versions[MXR_REALM_CLIENT_MAX][MXR_REALM_VERSION_BYTES];
    bool have[MXR_REALM_CLIENT_MAX] = { false };
    for (size_t i = 0; i < cfg->n; i++) {
        int status = 0;
        json_t *body = NULL;
        struct mxr_err e = { 0 };
        if (realm_client_call(c, &cfg->realms[i], "recover1", NULL, &status, &body, &rep->realms[i], &e) < 0)
            continue;
        if (status == 200 && mxr_realm_json_get_bytes(body, "version", versions[i], MXR_REALM_VERSION_BYTES, &e) == 0) {
            have[i] = true;
            realm_client_result_set(&rep->realms[i], MXR_REALM_ST_OK, 200, "registered");
        } else if (status == 200) {
            mark_lied(rep, i, "recover1: %s", e.msg);
        } else {
            realm_client_classify(&rep->realms[i], status, body);
        }
        json_decref(body);
    }
    size_t best = 0, best_i = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        if (!have[i])
            continue;
        size_t same = 0;
        for (size_t j = 0; j < cfg->n; j++)
            same += have[j] && !memcmp(versions[i], versions[j], MXR_REALM_VERSION_BYTES);
        if (same > best)
            best = same, best_i = i;
    }
    if (best < cfg->threshold)
        return too_few(cfg, rep, "recover1", best, err);
    memcpy(version, versions[best_i], MXR_REALM_VERSION_BYTES);
    for (size_t i = 0; i < cfg->n; i++) {
        in_group[i] = have[i] && !memcmp(versions[i], version, MXR_REALM_VERSION_BYTES);
        if (have[i] && !in_group[i])
            realm_client_result_set(&rep->realms[i], MXR_REALM_ST_VERSION_MISMATCH, 200,
                       "holds a registration the other realms do not (tampering signal, §6.4 item 7)");
    }
    return 0;
}

/* Step 3 for one realm: recover2 and every check of its answer. */
static void recover2_one(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, size_t i,
                         const uint8_t version[16], struct rec_state *st, struct mxr_realm_report *rep)
{
    const struct mxr_realm_info *ri = &cfg->realms[i];
    struct mxr_err e = { 0 };
    json_t *f = json_object();
    if (!f || mxr_realm_json_set_bytes(f, "version", version, 16, &e) < 0 ||
        mxr_realm_json_set_bytes(f, "blinded_input", st->U, 32, &e) < 0) {
        json_decref(f);
        realm_client_result_set(&rep->realms[i], MXR_REALM_ST_FAILED, 0, "out of memory");
        return;
    }
    int status = 0;
    json_t *b = NULL;
    int rc = realm_client_call(c, ri, "recover2", f, &status, &b, &rep->realms[i], &e);
    json_decref(f);
    if (rc < 0)
        return;
    if (status != 200) {
        realm_client_classify(&rep->realms[i], status, b);
        json_decref(b);
        return;
    }
    uint8_t V[32], sig[64];
    struct mxr_realm_proof proof;
    const json_t *ag = json_object_get(b, "allowed_guesses"), *gc = json_object_get(b, "guess_count");
    if (mxr_realm_json_get_bytes(b, "blinded_output", st->W[i], 32, &e) < 0 ||
        mxr_realm_json_get_bytes(b, "proof_c", proof.c, 32, &e) < 0 ||
        mxr_realm_json_get_bytes(b, "proof_beta_z", proof.beta_z, 32, &e) < 0 ||
        mxr_realm_json_get_bytes(b, "oprf_public_key", V, 32, &e) < 0 ||
        mxr_realm_json_get_bytes(b, "oprf_verifying_key", st->vk[i], 32, &e) < 0 ||
        mxr_realm_json_get_bytes(b, "oprf_signature", sig, 64, &e) < 0 ||
        mxr_realm_json_get_bytes(b, "unlock_key_commitment", st->commitment[i], 32, &e) < 0 ||
        !json_is_integer(ag) || !json_is_integer(gc)) {
        mark_lied(rep, i, "recover2: malformed answer: %s", e.msg[0] ? e.msg : "guess counts missing");
    } else if (mxr_realm_oprf_sig_verify(sig, st->vk[i], ri->realm_id, V, &e) < 0) {
        mark_lied(rep, i, "%s", "recover2: the OPRF public key is not signed by the registration's key");
    } else if (mxr_realm_dleq_verify(st->U, V, st->W[i], &proof, &e) < 0) {
        mark_lied(rep, i, "recover2: %s", "the DLEQ proof fails: the answer was not computed with the registered key");
    } else {
        st->good2[i] = true;
        rep->realms[i].allowed_guesses = (int)json_integer_value(ag);
        rep->realms[i].guess_count = (int)json_integer_value(gc);
        realm_client_result_set(&rep->realms[i], MXR_REALM_ST_OK, 200, "guess %d of %d", rep->realms[i].guess_count,
                   rep->realms[i].allowed_guesses);
    }
    json_decref(b);
}

/* Keeps the largest group of answers agreeing on (commitment, vk); the
 * others are outvoted liars. Returns the group's size. */
static size_t recover2_group(const struct mxr_realm_config *cfg, struct rec_state *st, struct mxr_realm_report *rep)
{
    size_t best = 0, best_i = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        if (!st->good2[i])
            continue;
        size_t same = 0;
        for (size_t j = 0; j < cfg->n; j++)
            same += st->good2[j] && !sodium_memcmp(st->commitment[i], st->commitment[j], 32) &&
                    !sodium_memcmp(st->vk[i], st->vk[j], 32);
        if (same > best)
            best = same, best_i = i;
    }
    for (size_t i = 0; i < cfg->n; i++)
        if (st->good2[i] && (sodium_memcmp(st->commitment[i], st->commitment[best_i], 32) ||
                             sodium_memcmp(st->vk[i], st->vk[best_i], 32))) {
            st->good2[i] = false;
            mark_lied(rep, i, "%s", "recover2: answers with another registration's commitment or key than the majority");
        }
    return best;
}

/* Step 5 for one realm: recover3 and the check of its share. */
static void recover3_one(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, size_t i,
                         const uint8_t version[16], struct rec_state *st, struct mxr_realm_report *rep)
{
    const struct mxr_realm_info *ri = &cfg->realms[i];
    struct mxr_err e = { 0 };
    uint8_t tag[MXR_REALM_TAG_BYTES];
    json_t *f = json_object();
    if (!f || realm_client_tag(tag, cfg->profile, st->unlock_key, ri->realm_id, &e) < 0 ||
        mxr_realm_json_set_bytes(f, "version", version, 16, &e) < 0 ||
        mxr_realm_json_set_bytes(f, "unlock_key_tag", tag, sizeof tag, &e) < 0) {
        realm_client_wipe_json(f);
        realm_client_result_set(&rep->realms[i], MXR_REALM_ST_FAILED, 0, "%s", e.msg);
        return;
    }
    sodium_memzero(tag, sizeof tag);
    int status = 0;
    json_t *b = NULL;
    int rc = realm_client_call(c, ri, "recover3", f, &status, &b, &rep->realms[i], &e);
    realm_client_wipe_json(f);
    if (rc < 0)
        return;
    uint8_t commit[MXR_REALM_TAG_BYTES], want[MXR_REALM_TAG_BYTES];
    if (status != 200) {
        const char *code = json_string_value(json_object_get(b, "errcode"));
        /* Our tag comes from the unlock key t realms just confirmed: a realm
         * that calls it wrong holds something else than it was given. */
        if (code && !strcmp(code, MXR_REALM_E_BAD_TAG))
            mark_lied(rep, i, "%s", "recover3: refuses the unlock key tag the other realms confirmed");
        else
            realm_client_classify(&rep->realms[i], status, b);
    } else if (mxr_realm_json_get_bytes(b, "encryption_key_scalar_share", st->s_shares[i].value, 32, &e) < 0 ||
               mxr_realm_json_get_bytes(b, "encrypted_secret", st->enc_secret[i], MXR_REALM_ENCRYPTED_SECRET_BYTES,
                                        &e) < 0 ||
               mxr_realm_json_get_bytes(b, "encrypted_secret_commitment", commit, sizeof commit, &e) < 0) {
        mark_lied(rep, i, "recover3: malformed answer: %s", e.msg);
    } else if (realm_client_commit(want, cfg->profile, st->unlock_key, ri->realm_id, st->s_shares[i].value,
                             st->enc_secret[i], &e) < 0 ||
               sodium_memcmp(want, commit, sizeof want) != 0) {
        mark_lied(rep, i, "%s", "recover3: the share does not match its commitment");
    } else {
        st->s_shares[i].index = (uint32_t)(i + 1);
        st->good3[i] = true;
        realm_client_result_set(&rep->realms[i], MXR_REALM_ST_OK, 200, "share recovered");
    }
    if (b && status == 200)
        realm_client_wipe_json(b);
    else
        json_decref(b);
}

static int recover_finish(const struct mxr_realm_config *cfg, struct rec_state *st, struct mxr_realm_report *rep,
                          uint8_t *secret_out, size_t *secret_len, struct mxr_err *err)
{
    /* Group the shares by encrypted_secret; at least t must agree. */
    size_t best = 0, best_i = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        if (!st->good3[i])
            continue;
        size_t same = 0;
        for (size_t j = 0; j < cfg->n; j++)
            same += st->good3[j] && !memcmp(st->enc_secret[i], st->enc_secret[j], MXR_REALM_ENCRYPTED_SECRET_BYTES);
        if (same > best)
            best = same, best_i = i;
    }
    if (best < cfg->threshold)
        return too_few(cfg, rep, "recover3", best, err);
    struct mxr_realm_share shares[MXR_REALM_CLIENT_MAX];
    size_t k = 0;
    for (size_t i = 0; i < cfg->n; i++)
        if (st->good3[i] && !memcmp(st->enc_secret[i], st->enc_secret[best_i], MXR_REALM_ENCRYPTED_SECRET_BYTES))
            shares[k++] = st->s_shares[i];
    int rc = mxr_realm_shamir_recover(st->s, shares, k, err);
    sodium_memzero(shares, sizeof shares);
    if (rc < 0 || realm_client_enc_key(st->enc_key, cfg->profile, st->enc_seed, st->s, err) < 0)
        return -1;
    unsigned long long plen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(st->padded, &plen, NULL, st->enc_secret[best_i],
                                                  MXR_REALM_ENCRYPTED_SECRET_BYTES, NULL, 0, ZERO_NONCE,
                                                  st->enc_key) != 0 ||
        plen != PADDED_SECRET_BYTES || st->padded[0] < 1 || st->padded[0] > MXR_REALM_SECRET_MAX)
        return mxr_err_set(err, "M_FORBIDDEN", "the recovered secret does not decrypt: at least %u realms returned "
                           "consistent but wrong shares", cfg->threshold);
    *secret_len = st->padded[0];
    memcpy(secret_out, st->padded + 1, *secret_len);
    return 0;
}

int mxr_realm_recover(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, const uint8_t *pin,
                      size_t pin_len, uint8_t *secret_out, size_t *secret_len, struct mxr_realm_report *rep,
                      struct mxr_err *err)
{
    if (realm_client_config_ok(c, cfg, err) < 0)
        return -1;
    realm_client_report_init(rep, cfg);
    uint8_t version[MXR_REALM_VERSION_BYTES];
    bool group[MXR_REALM_CLIENT_MAX] = { false };
    if (recover1_all(c, cfg, rep, version, group, err) < 0)
        return -1;
    struct rec_state *st = sodium_malloc(sizeof *st);
    if (!st)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    memset(st, 0, sizeof *st);
    int rc = -1;
    /* Step 2: stretch the PIN with the registration's version; blind. */
    if (mxr_realm_pin_hash(st->access_key, st->enc_seed, cfg->profile, pin, pin_len, version,
                           (const uint8_t *)c->user_id, strlen(c->user_id), err) < 0 ||
        mxr_realm_oprf_blind(st->r, st->U, st->access_key, sizeof st->access_key, err) < 0)
        goto out;
    /* Step 3: recover2 at every realm of the version group (each counts a
     * guess there), with every answer checked. */
    for (size_t i = 0; i < cfg->n; i++)
        if (group[i])
            recover2_one(c, cfg, i, version, st, rep);
    size_t agree = recover2_group(cfg, st, rep);
    if (agree < cfg->threshold) {
        too_few(cfg, rep, "recover2", agree, err);
        goto out;
    }
    /* Step 4: combine in the exponent, finalize, compare the commitment. */
    struct mxr_realm_point_share ev[MXR_REALM_CLIENT_MAX];
    size_t k = 0, any = 0;
    int remaining = -1;
    for (size_t i = 0; i < cfg->n; i++) {
        if (!st->good2[i])
            continue;
        any = i;
        ev[k].index = (uint32_t)(i + 1);
        memcpy(ev[k++].point, st->W[i], 32);
        int left = rep->realms[i].allowed_guesses - rep->realms[i].guess_count;
        if (remaining < 0 || left < remaining)
            remaining = left < 0 ? 0 : left;
    }
    uint8_t W[32];
    if (mxr_realm_oprf_combine(W, ev, k, err) < 0 ||
        mxr_realm_oprf_finalize(st->oprf_out, st->access_key, sizeof st->access_key, st->r, W, err) < 0)
        goto out;
    mxr_realm_unlock_key_derive(st->my_commitment, st->unlock_key, st->oprf_out);
    if (sodium_memcmp(st->my_commitment, st->commitment[any], 32) != 0) {
        rep->guesses_remaining = remaining;
        mxr_err_set(err, MXR_REALM_E_INVALID_PIN, "wrong PIN: %d guess%s left before every share is wiped", remaining,
                    remaining == 1 ? "" : "es");
        goto out;
    }
    /* Step 5: the shares of s, checked, grouped, interpolated; decrypt. */
    for (size_t i = 0; i < cfg->n; i++)
        if (st->good2[i])
            recover3_one(c, cfg, i, version, st, rep);
    rc = recover_finish(cfg, st, rep, secret_out, secret_len, err);
out:
    sodium_free(st);
    return rc;
}

/* ---- Delete ---------------------------------------------------------------------------- */

int mxr_realm_delete(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, struct mxr_realm_report *rep,
                     struct mxr_err *err)
{
    if (realm_client_config_ok(c, cfg, err) < 0)
        return -1;
    realm_client_report_init(rep, cfg);
    size_t ok = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        int status = 0;
        json_t *body = NULL;
        struct mxr_err e = { 0 };
        if (realm_client_call(c, &cfg->realms[i], "delete", NULL, &status, &body, &rep->realms[i], &e) < 0)
            continue;
        if (status == 200) {
            realm_client_result_set(&rep->realms[i], MXR_REALM_ST_OK, 200, "deleted");
            ok++;
        } else {
            realm_client_classify(&rep->realms[i], status, body);
        }
        json_decref(body);
    }
    if (ok < cfg->n)
        return mxr_err_set(err, MXR_REALM_E_UNAVAILABLE, "deleted at %zu of %zu realms; run delete again for the rest",
                           ok, cfg->n);
    return 0;
}
