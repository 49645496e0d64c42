/* Canonical JSON (spec appendices, "Canonical JSON") on top of jansson.
 *
 * Parsing uses jansson; this module adds the checks signed data needs and a
 * serialiser whose output is byte-exact canonical JSON.
 */
#ifndef MXR_JSON_H
#define MXR_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "mxr/error.h"

#define MXR_JSON_INT_MAX  9007199254740991LL   /* 2^53 - 1 */
#define MXR_JSON_INT_MIN (-9007199254740991LL)

enum mxr_json_flags {
    /* Canonical-JSON value rules: reject floats/exponents and integers outside
     * [-(2^53)+1, 2^53-1]. Required for room versions 6+ and for all
     * non-event signed data (keys, requests). */
    MXR_JSON_STRICT = 1u << 0,
    /* Reject duplicate object keys. */
    MXR_JSON_NO_DUPLICATES = 1u << 1,
    MXR_JSON_SIGNED = MXR_JSON_STRICT | MXR_JSON_NO_DUPLICATES,
};

/* Parses exactly one JSON value from buf[0..len). Invalid UTF-8, lone
 * surrogates and trailing garbage are always rejected; `flags` adds the rules
 * above. On error returns NULL and sets err (errcode M_NOT_JSON for syntax,
 * M_BAD_JSON for rule violations) with the position when known. */
json_t *mxr_json_parse(const char *buf, size_t len, unsigned flags, struct mxr_err *err);

/* Checks an already-built value against MXR_JSON_STRICT rules. 0 or -1. */
int mxr_json_check_strict(const json_t *v, struct mxr_err *err);

/* Canonical JSON of v: malloc'd, NUL-terminated, length in *len (may be NULL).
 * Fails (NULL, M_BAD_JSON) on reals or integers outside the canonical range. */
char *mxr_canonical_json(const json_t *v, size_t *len, struct mxr_err *err);

/* As mxr_canonical_json, but integers outside the canonical range (anything
 * jansson holds in 64 bits) are written as they are, the way the reference
 * encoder does: events of room versions 1-5 may carry them ("integers might
 * not be in the range", appendices, Canonical JSON) and their hashes and
 * signatures cover them. Floats are still refused. */
char *mxr_canonical_json_lax(const json_t *v, size_t *len, struct mxr_err *err);

#endif
