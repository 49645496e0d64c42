/* Unpadded Base64 (spec appendices.md, "Unpadded Base64" and "URL-safe
 * unpadded Base64") over libsodium's constant-time codec.
 *
 * Decoding accepts unpadded input and correctly padded input (total length a
 * multiple of 4, one or two '='), as the spec asks ("SHOULD accept input with
 * or without padding"). It rejects: characters outside the variant's
 * alphabet (including whitespace and the other variant's '+/' or '-_'),
 * partial padding ("Zg="), anything after the padding and lengths that no
 * encoding can have (len % 4 == 1).
 *
 * Non-zero unused bits in the last character ("Zh" for "f") are ignored, as
 * Python's base64 and Synapse do: the spec's own test key seed
 * ("...XA1", appendices, "Cryptographic test vectors") is spelled that way,
 * so refusing it would refuse the spec. Where base64 values are compared as
 * strings (event IDs, room IDs) the identifier checks in ids.c still demand
 * the canonical spelling.
 */
#include "mxr/base64.h"

#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int sodium_variant(enum mxr_b64_variant v)
{
    return v == MXR_B64_URL ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
                            : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
}

static const char *variant_name(enum mxr_b64_variant v)
{
    return v == MXR_B64_URL ? "URL-safe unpadded base64" : "unpadded base64";
}

size_t mxr_b64_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

long mxr_b64_encode(char *out, size_t outcap, const uint8_t *in, size_t n, enum mxr_b64_variant v)
{
    /* Keeps n/3*4 and the result's conversion to long from overflowing. */
    if (!out || (n && !in) || n > (size_t)(LONG_MAX / 4) * 3 - 3)
        return -1;
    size_t need = mxr_b64_encoded_len(n);
    if (outcap < need + 1)   /* sodium_bin2base64 aborts on a short buffer */
        return -1;
    sodium_bin2base64(out, outcap, n ? in : (const uint8_t *)"", n, sodium_variant(v));
    return (long)need;
}

char *mxr_b64_encode_alloc(const uint8_t *in, size_t n, enum mxr_b64_variant v)
{
    if (n > (size_t)(LONG_MAX / 4) * 3 - 3)
        return NULL;
    size_t cap = mxr_b64_encoded_len(n) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    if (mxr_b64_encode(out, cap, in, n, v) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

long mxr_b64_decode(uint8_t *out, size_t outcap, const char *in, size_t inlen,
                    enum mxr_b64_variant v, struct mxr_err *err)
{
    const char *name = variant_name(v);
    if (inlen && !in)
        return mxr_err_set(err, "M_BAD_JSON", "%s: no input", name);
    if (inlen > (size_t)LONG_MAX)
        return mxr_err_set(err, "M_BAD_JSON", "%s: input too long", name);

    /* Padding is accepted only in full: the padded length is a multiple of 4. */
    size_t len = inlen;
    if (len && in[len - 1] == '=') {
        size_t pad = (len >= 2 && in[len - 2] == '=') ? 2 : 1;
        if (len % 4 != 0)
            return mxr_err_set(err, "M_BAD_JSON",
                               "%s: padded input of length %zu is not a multiple of 4", name,
                               inlen);
        len -= pad;
    }
    if (len % 4 == 1)
        return mxr_err_set(err, "M_BAD_JSON",
                           "%s: length %zu is impossible (a 4n+1 character encoding)", name, len);
    size_t want = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (want > outcap)
        return mxr_err_set(err, "M_BAD_JSON", "%s: decodes to %zu bytes, at most %zu expected",
                           name, want, outcap);
    if (len == 0)
        return 0;

    /* libsodium refuses stray trailing bits: clear them in a copy of the
     * last quantum (at most 3 characters) before decoding. */
    char tail[4];
    size_t head = len - len % 4, tl = len % 4;
    const char *alphabet = v == MXR_B64_URL
        ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (tl) {
        memcpy(tail, in + head, tl);
        const char *pos = in[len - 1] ? strchr(alphabet, in[len - 1]) : NULL;
        if (pos)
            tail[tl - 1] = alphabet[(pos - alphabet) & (tl == 2 ? 0x30 : 0x3c)];
    }
    size_t got = 0;
    const char *end = NULL;
    int rc = sodium_base642bin(out, outcap, in, head, NULL, &got, &end, sodium_variant(v));
    if (rc == 0 && end == in + head && tl) {
        size_t got_tail = 0;
        const char *tend = NULL;
        rc = sodium_base642bin(out + got, outcap - got, tail, tl, NULL, &got_tail, &tend, sodium_variant(v));
        end = tend == tail + tl ? in + len : in + head + (size_t)(tend ? tend - tail : 0);
        got += got_tail;
    }
    if (end && end != in + len) {
        unsigned char c = (unsigned char)*end;
        size_t at = (size_t)(end - in);
        if (c >= 0x21 && c <= 0x7e)
            return mxr_err_set(err, "M_BAD_JSON", "%s: invalid character '%c' at offset %zu",
                               name, c, at);
        return mxr_err_set(err, "M_BAD_JSON", "%s: invalid byte 0x%02x at offset %zu", name, c,
                           at);
    }
    if (rc != 0 || got != want)
        return mxr_err_set(err, "M_BAD_JSON", "%s: cannot be decoded", name);
    return (long)got;
}
