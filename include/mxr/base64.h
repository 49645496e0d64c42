/* Unpadded base64 (spec appendices, "Unpadded Base64"), standard and URL-safe. */
#ifndef MXR_BASE64_H
#define MXR_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"

enum mxr_b64_variant { MXR_B64_STD, MXR_B64_URL };

/* Length of the unpadded encoding of n bytes, without the NUL. */
size_t mxr_b64_encoded_len(size_t n);

/* Encodes n bytes into out (capacity outcap incl. NUL). Returns the length or -1. */
long mxr_b64_encode(char *out, size_t outcap, const uint8_t *in, size_t n, enum mxr_b64_variant v);

/* Same, malloc'd. */
char *mxr_b64_encode_alloc(const uint8_t *in, size_t n, enum mxr_b64_variant v);

/* Decodes padded or unpadded input of the given variant; rejects any other
 * character; stray bits in the last character are ignored (the spec's own
 * test seed has them). Returns bytes written or -1. */
long mxr_b64_decode(uint8_t *out, size_t outcap, const char *in, size_t inlen,
                    enum mxr_b64_variant v, struct mxr_err *err);

#endif
