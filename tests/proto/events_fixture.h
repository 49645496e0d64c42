/* Shared helpers of the event tests (test_event, test_redact, test_pdu).
 * Include after <cmocka.h>. */
#ifndef MXR_TEST_EVENTS_FIXTURE_H
#define MXR_TEST_EVENTS_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"
#include "mxr/keys.h"
#include "mxr/roomver.h"

/* The spec's test-vector key (appendices "Cryptographic Test Vectors").
 * The spec prints the seed as "...XA1", whose last character carries two
 * non-zero unused bits; "...XA0" is the canonical spelling of the same 32
 * bytes. */
#define SPEC_SEED_B64 "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"
#define SPEC_PUBLIC_B64 "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"
static const uint8_t SPEC_SEED[32] = {
    0x60, 0x90, 0xc1, 0x03, 0xd5, 0xe7, 0xaf, 0x6b, 0x15, 0xa9, 0x70, 0xfd, 0x56, 0x3e, 0xd7, 0x55,
    0x49, 0xe6, 0x15, 0x97, 0x19, 0xae, 0x5c, 0x3c, 0x31, 0xde, 0xe4, 0x31, 0x6f, 0xb7, 0x5c, 0x0d,
};

static inline const struct mxr_room_version *rv_of(const char *id)
{
    const struct mxr_room_version *v = mxr_room_version_get(id, NULL);
    assert_non_null(v);
    return v;
}

static inline json_t *J(const char *text)
{
    struct mxr_err err = {0};
    json_t *v = mxr_json_parse(text, strlen(text), 0, &err);
    if (!v)
        fail_msg("bad test JSON (%s): %s", err.msg, text);
    return v;
}

/* Asserts that v's canonical JSON equals the canonical JSON of `want`. */
static inline void assert_json_eq(const json_t *v, const char *want)
{
    assert_non_null(v);
    json_t *w = J(want);
    char *a = mxr_canonical_json(v, NULL, NULL);
    char *b = mxr_canonical_json(w, NULL, NULL);
    assert_non_null(a);
    assert_non_null(b);
    if (strcmp(a, b) != 0)
        fail_msg("JSON differs:\n  got  %s\n  want %s", a, b);
    free(a);
    free(b);
    json_decref(w);
}

static inline void spec_key(struct mxr_signing_key *k)
{
    assert_int_equal(mxr_key_from_seed(k, SPEC_SEED, "1", NULL), 0);
}

#endif
