/* Client-side PIN hashing for realm registration and recovery
 * (pin-recovery-and-payments.md §2.2 "PIN KDF", §2.3 Register step 2,
 * §6.2 crypto profiles).
 *
 * Both profiles run Argon2id v1.3 with Juicebox's "Standard2019" costs
 * (32 passes, 16 MiB, one lane, 64 bytes out). They differ in the salt:
 * jb1 feeds Argon2 a variable-length salt, which libsodium's crypto_pwhash
 * (16-byte salts only) cannot take; sodium1 hashes that same salt down to
 * 16 bytes with BLAKE2b first. jb1 therefore runs on libargon2 (the
 * reference implementation, Debian's libargon2-dev), sodium1 on libsodium.
 */
#include <argon2.h>
#include <sodium.h>
#include <string.h>

#include "mxr/realm_crypto.h"

static const char SODIUM1_SALT_LABEL[] = "jb1-salt";

#define JB1_SALT_MAX (4 + MXR_REALM_VERSION_BYTES + 4 + MXR_REALM_PIN_INFO_MAX)

int mxr_realm_profile_parse(const char *name, enum mxr_realm_profile *out, struct mxr_err *err)
{
    if (name && strcmp(name, "jb1") == 0)
        *out = MXR_REALM_PROFILE_JB1;
    else if (name && strcmp(name, "sodium1") == 0)
        *out = MXR_REALM_PROFILE_SODIUM1;
    else
        return mxr_err_set(err, "M_INVALID_PARAM", "profile '%.40s' is neither \"jb1\" nor \"sodium1\"",
                           name ? name : "");
    return 0;
}

const char *mxr_realm_profile_name(enum mxr_realm_profile profile)
{
    switch (profile) {
    case MXR_REALM_PROFILE_JB1:
        return "jb1";
    case MXR_REALM_PROFILE_SODIUM1:
        return "sodium1";
    }
    return "unknown";
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

long mxr_realm_pin_salt_jb1(uint8_t *salt, size_t cap, const uint8_t version[MXR_REALM_VERSION_BYTES],
                            const uint8_t *info, size_t info_len, struct mxr_err *err)
{
    if (info_len > MXR_REALM_PIN_INFO_MAX)
        return mxr_err_set(err, "M_INVALID_PARAM", "PIN hashing info is %zu bytes, more than %d", info_len,
                           MXR_REALM_PIN_INFO_MAX);
    if (info_len && !info)
        return mxr_err_set(err, "M_INVALID_PARAM", "PIN hashing info is NULL with length %zu", info_len);
    size_t len = 4 + MXR_REALM_VERSION_BYTES + 4 + info_len;
    if (len > cap)
        return mxr_err_set(err, "M_INVALID_PARAM", "jb1 salt needs %zu bytes, buffer has %zu", len, cap);
    put_be32(salt, MXR_REALM_VERSION_BYTES);
    memcpy(salt + 4, version, MXR_REALM_VERSION_BYTES);
    put_be32(salt + 4 + MXR_REALM_VERSION_BYTES, (uint32_t)info_len);
    if (info_len)
        memcpy(salt + 8 + MXR_REALM_VERSION_BYTES, info, info_len);
    return (long)len;
}

int mxr_realm_pin_salt_sodium1(uint8_t salt[16], const uint8_t version[MXR_REALM_VERSION_BYTES],
                               const uint8_t *info, size_t info_len, struct mxr_err *err)
{
    uint8_t jb1[JB1_SALT_MAX];
    long len = mxr_realm_pin_salt_jb1(jb1, sizeof jb1, version, info, info_len, err);
    if (len < 0)
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const uint8_t *)SODIUM1_SALT_LABEL, sizeof SODIUM1_SALT_LABEL - 1);
    crypto_generichash_update(&st, jb1, (unsigned long long)len);
    crypto_generichash_final(&st, salt, 16);
    return 0;
}

/* jb1 (§2.2 "PIN KDF"): argon2id_hash_raw(t = 32, m = 16384 KiB, p = 1) over
 * the variable-length salt, as Juicebox's Standard2019 mode does. */
static int pin_hash_jb1(uint8_t access_key[MXR_REALM_ACCESS_KEY_BYTES], uint8_t enc_seed[MXR_REALM_ENC_SEED_BYTES],
                        const uint8_t *pin, size_t pin_len, const uint8_t version[MXR_REALM_VERSION_BYTES],
                        const uint8_t *info, size_t info_len, struct mxr_err *err)
{
    uint8_t salt[JB1_SALT_MAX];
    long salt_len = mxr_realm_pin_salt_jb1(salt, sizeof salt, version, info, info_len, err);
    if (salt_len < 0)
        return -1;
    uint8_t stretched[MXR_REALM_PIN_HASH_BYTES];
    int rc = argon2id_hash_raw(MXR_REALM_PIN_OPSLIMIT, MXR_REALM_PIN_MEMLIMIT / 1024, 1, pin, pin_len, salt,
                               (size_t)salt_len, stretched, sizeof stretched);
    if (rc != ARGON2_OK) {
        sodium_memzero(stretched, sizeof stretched);
        return mxr_err_set(err, rc == ARGON2_MEMORY_ALLOCATION_ERROR ? "M_UNKNOWN" : "M_INVALID_PARAM",
                           "Argon2id (jb1): %s", argon2_error_message(rc));
    }
    memcpy(access_key, stretched, MXR_REALM_ACCESS_KEY_BYTES);
    memcpy(enc_seed, stretched + MXR_REALM_ACCESS_KEY_BYTES, MXR_REALM_ENC_SEED_BYTES);
    sodium_memzero(stretched, sizeof stretched);
    return 0;
}

int mxr_realm_pin_hash(uint8_t access_key[MXR_REALM_ACCESS_KEY_BYTES], uint8_t enc_seed[MXR_REALM_ENC_SEED_BYTES],
                       enum mxr_realm_profile profile, const uint8_t *pin, size_t pin_len,
                       const uint8_t version[MXR_REALM_VERSION_BYTES], const uint8_t *info, size_t info_len,
                       struct mxr_err *err)
{
    if (!pin || pin_len == 0 || pin_len > MXR_REALM_PIN_MAX)
        return mxr_err_set(err, "M_INVALID_PARAM", "PIN is %zu bytes; it must be 1-%d", pin ? pin_len : 0,
                           MXR_REALM_PIN_MAX);
    if (profile == MXR_REALM_PROFILE_JB1)
        return pin_hash_jb1(access_key, enc_seed, pin, pin_len, version, info, info_len, err);
    if (profile != MXR_REALM_PROFILE_SODIUM1)
        return mxr_err_set(err, "M_INVALID_PARAM", "unknown realm crypto profile %d", (int)profile);
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
    uint8_t salt[crypto_pwhash_argon2id_SALTBYTES];
    if (mxr_realm_pin_salt_sodium1(salt, version, info, info_len, err) < 0)
        return -1;
    uint8_t stretched[MXR_REALM_PIN_HASH_BYTES];
    if (crypto_pwhash_argon2id(stretched, sizeof stretched, (const char *)pin, pin_len, salt, MXR_REALM_PIN_OPSLIMIT,
                               MXR_REALM_PIN_MEMLIMIT, crypto_pwhash_argon2id_ALG_ARGON2ID13) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "Argon2id could not allocate %u bytes", MXR_REALM_PIN_MEMLIMIT);
    memcpy(access_key, stretched, MXR_REALM_ACCESS_KEY_BYTES);
    memcpy(enc_seed, stretched + MXR_REALM_ACCESS_KEY_BYTES, MXR_REALM_ENC_SEED_BYTES);
    sodium_memzero(stretched, sizeof stretched);
    return 0;
}
