/* Shamir secret sharing over the ristretto255 scalar field Z_l, as Juicebox
 * shares the OPRF root key k0 and the encryption scalar s among realms
 * (pin-recovery-and-payments.md §2.2 "Shamir SSS", §2.3, §6.8).
 *
 * Share i is f(i) for i = 1..n, f of degree t-1 with f(0) = the secret; an
 * index as a scalar is its 32-byte little-endian integer. Recovery is
 * Lagrange interpolation at 0. Nothing here can tell a wrong result from a
 * right one: with fewer than t shares the value is simply different, and the
 * client notices through its commitment / AEAD checks.
 */
#include <sodium.h>
#include <string.h>

#include "mxr/realm_crypto.h"

static void scalar_from_index(uint8_t out[MXR_REALM_SCALAR_BYTES], uint32_t index)
{
    memset(out, 0, MXR_REALM_SCALAR_BYTES);
    for (int b = 0; b < 4; b++)
        out[b] = (uint8_t)(index >> (8 * b));
}

/* Indices are 1..MXR_REALM_MAX_SHARES and distinct: index 0 is the secret
 * itself, and a repeated index makes a Lagrange denominator zero. */
static int check_indices(const uint32_t *indices, size_t count, struct mxr_err *err)
{
    if (count == 0 || count > MXR_REALM_MAX_SHARES)
        return mxr_err_set(err, "M_INVALID_PARAM", "Shamir recovery needs 1-%d shares, got %zu", MXR_REALM_MAX_SHARES,
                           count);
    for (size_t i = 0; i < count; i++) {
        if (indices[i] == 0 || indices[i] > MXR_REALM_MAX_SHARES)
            return mxr_err_set(err, "M_INVALID_PARAM", "share index %lu is outside 1-%d",
                               (unsigned long)indices[i], MXR_REALM_MAX_SHARES);
        for (size_t j = 0; j < i; j++)
            if (indices[j] == indices[i])
                return mxr_err_set(err, "M_INVALID_PARAM", "share index %lu appears twice",
                                   (unsigned long)indices[i]);
    }
    return 0;
}

/* λ_i = Π_{j≠i} x_j / (x_j − x_i), for indices already checked. */
static void lagrange(uint8_t lambda[MXR_REALM_SCALAR_BYTES], const uint32_t *indices, size_t count, size_t i)
{
    uint8_t num[MXR_REALM_SCALAR_BYTES], den[MXR_REALM_SCALAR_BYTES], xi[MXR_REALM_SCALAR_BYTES],
        xj[MXR_REALM_SCALAR_BYTES], diff[MXR_REALM_SCALAR_BYTES], inv[MXR_REALM_SCALAR_BYTES];
    scalar_from_index(num, 1);
    scalar_from_index(den, 1);
    scalar_from_index(xi, indices[i]);
    for (size_t j = 0; j < count; j++) {
        if (j == i)
            continue;
        scalar_from_index(xj, indices[j]);
        crypto_core_ristretto255_scalar_mul(num, num, xj);
        crypto_core_ristretto255_scalar_sub(diff, xj, xi);
        crypto_core_ristretto255_scalar_mul(den, den, diff);
    }
    /* den is a product of non-zero differences of small distinct integers,
     * so it is invertible; invert only fails on zero. */
    if (crypto_core_ristretto255_scalar_invert(inv, den) != 0)
        memset(inv, 0, sizeof inv);
    crypto_core_ristretto255_scalar_mul(lambda, num, inv);
}

int mxr_realm_lagrange_at_zero(uint8_t lambda[MXR_REALM_SCALAR_BYTES], const uint32_t *indices, size_t count,
                               size_t i, struct mxr_err *err)
{
    if (check_indices(indices, count, err) < 0)
        return -1;
    if (i >= count)
        return mxr_err_set(err, "M_INVALID_PARAM", "Lagrange position %zu is outside the %zu indices", i, count);
    lagrange(lambda, indices, count, i);
    return 0;
}

int mxr_realm_threshold_check(unsigned t, unsigned n, struct mxr_err *err)
{
    if (n < 2 || n > MXR_REALM_MAX_SHARES)
        return mxr_err_set(err, "M_INVALID_PARAM", "realm count %u is outside 2-%d", n, MXR_REALM_MAX_SHARES);
    if (t < 2 || t > n)
        return mxr_err_set(err, "M_INVALID_PARAM", "threshold %u is outside 2-%u (the realm count)", t, n);
    if (2 * t <= n)
        return mxr_err_set(err, "M_INVALID_PARAM",
                           "threshold %u of %u realms is not a majority: two registrations could both succeed", t, n);
    return 0;
}

static int check_split_args(unsigned n, unsigned t, const uint8_t secret[MXR_REALM_SCALAR_BYTES], struct mxr_err *err)
{
    if (n == 0 || n > MXR_REALM_MAX_SHARES)
        return mxr_err_set(err, "M_INVALID_PARAM", "share count %u is outside 1-%d", n, MXR_REALM_MAX_SHARES);
    if (t == 0 || t > n)
        return mxr_err_set(err, "M_INVALID_PARAM", "threshold %u is outside 1-%u (the share count)", t, n);
    return mxr_realm_scalar_check(secret, "Shamir secret", err);
}

/* f(x) by Horner's rule: ((a_{t-1}·x + a_{t-2})·x + ... + a_1)·x + secret. */
static void eval_poly(uint8_t out[MXR_REALM_SCALAR_BYTES], const uint8_t secret[MXR_REALM_SCALAR_BYTES],
                      const uint8_t (*coeffs)[MXR_REALM_SCALAR_BYTES], unsigned t, uint32_t index)
{
    uint8_t x[MXR_REALM_SCALAR_BYTES], acc[MXR_REALM_SCALAR_BYTES] = {0};
    scalar_from_index(x, index);
    for (unsigned k = t - 1; k >= 1; k--) {
        crypto_core_ristretto255_scalar_add(acc, acc, coeffs[k - 1]);
        crypto_core_ristretto255_scalar_mul(acc, acc, x);
    }
    crypto_core_ristretto255_scalar_add(out, acc, secret);
    sodium_memzero(acc, sizeof acc);
}

int mxr_realm_shamir_split_with(struct mxr_realm_share *shares, unsigned n, unsigned t,
                                const uint8_t secret[MXR_REALM_SCALAR_BYTES],
                                const uint8_t (*coeffs)[MXR_REALM_SCALAR_BYTES], struct mxr_err *err)
{
    if (check_split_args(n, t, secret, err) < 0)
        return -1;
    if (t > 1 && !coeffs)
        return mxr_err_set(err, "M_INVALID_PARAM", "threshold %u needs %u coefficients", t, t - 1);
    for (unsigned k = 0; k + 1 < t; k++)
        if (!mxr_realm_scalar_is_canonical(coeffs[k]))
            return mxr_err_set(err, "M_INVALID_PARAM", "Shamir coefficient a_%u is not a canonical scalar", k + 1);
    for (unsigned i = 0; i < n; i++) {
        shares[i].index = i + 1;
        eval_poly(shares[i].value, secret, coeffs, t, i + 1);
    }
    return 0;
}

int mxr_realm_shamir_split(struct mxr_realm_share *shares, unsigned n, unsigned t,
                           const uint8_t secret[MXR_REALM_SCALAR_BYTES], struct mxr_err *err)
{
    if (check_split_args(n, t, secret, err) < 0)
        return -1;
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
    uint8_t coeffs[MXR_REALM_MAX_SHARES][MXR_REALM_SCALAR_BYTES];
    int zero;
    do {
        /* Non-zero coefficients: the leading one makes the degree exactly
         * t-1, so t-1 shares never determine the secret. */
        for (unsigned k = 0; k + 1 < t; k++)
            crypto_core_ristretto255_scalar_random(coeffs[k]);
        zero = 0;
        for (unsigned i = 0; i < n; i++) {
            shares[i].index = i + 1;
            eval_poly(shares[i].value, secret, (const uint8_t(*)[MXR_REALM_SCALAR_BYTES])coeffs, t, i + 1);
            zero |= sodium_is_zero(shares[i].value, MXR_REALM_SCALAR_BYTES);
        }
    } while (zero && t > 1);
    sodium_memzero(coeffs, sizeof coeffs);
    return 0;
}

int mxr_realm_shamir_recover(uint8_t secret[MXR_REALM_SCALAR_BYTES], const struct mxr_realm_share *shares,
                             size_t count, struct mxr_err *err)
{
    if (count == 0 || count > MXR_REALM_MAX_SHARES)
        return mxr_err_set(err, "M_INVALID_PARAM", "Shamir recovery needs 1-%d shares, got %zu", MXR_REALM_MAX_SHARES,
                           count);
    uint32_t idx[MXR_REALM_MAX_SHARES];
    for (size_t i = 0; i < count; i++) {
        idx[i] = shares[i].index;
        if (!mxr_realm_scalar_is_canonical(shares[i].value))
            return mxr_err_set(err, "M_INVALID_PARAM", "share %lu is not a canonical scalar",
                               (unsigned long)shares[i].index);
    }
    if (check_indices(idx, count, err) < 0)
        return -1;
    uint8_t acc[MXR_REALM_SCALAR_BYTES] = {0}, lambda[MXR_REALM_SCALAR_BYTES], term[MXR_REALM_SCALAR_BYTES];
    for (size_t i = 0; i < count; i++) {
        lagrange(lambda, idx, count, i);
        crypto_core_ristretto255_scalar_mul(term, lambda, shares[i].value);
        crypto_core_ristretto255_scalar_add(acc, acc, term);
    }
    memcpy(secret, acc, sizeof acc);
    sodium_memzero(acc, sizeof acc);
    sodium_memzero(term, sizeof term);
    return 0;
}
