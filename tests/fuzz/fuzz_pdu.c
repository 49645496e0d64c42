/* libFuzzer target for the PDU checks a peer's input reaches (proto/pdu.c,
 * proto/event*.c, proto/sign.c). Input: one byte choosing the room version
 * (1-12), then JSON. No crash, and these invariants hold:
 * - a strict parse that succeeds implies a lax parse succeeds;
 * - redaction is idempotent: redact(redact(x)) == redact(x), canonically;
 * - an event that loads strictly loads leniently too;
 * - the content hash is 43 characters of unpadded base64. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_pdu: invariant failed: %s (room v%s)\n", #cond, rv->id); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* One fixed key for every server and key ID: the signature check runs the
 * whole path (redaction, canonical JSON, ed25519) and then fails. */
static int test_lookup(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32])
{
    (void)ctx;
    (void)valid_at_ts;
    if (!server || !key_id || strcmp(key_id, "ed25519:fuzz") != 0)
        return -1;
    for (int i = 0; i < 32; i++)
        pk[i] = (uint8_t)(0x3b + i);
    return 0;
}

static char *canon(const json_t *v)
{
    size_t len;
    return mxr_canonical_json_lax(v, &len, NULL);
}

static void redact_twice(const json_t *pdu, const struct mxr_room_version *rv)
{
    json_t *r1 = mxr_event_redact(pdu, rv, NULL);
    if (!r1)
        return;
    json_t *r2 = mxr_event_redact(r1, rv, NULL);
    CHECK(r2 != NULL);
    char *c1 = canon(r1), *c2 = canon(r2);
    CHECK((c1 == NULL) == (c2 == NULL));
    CHECK(!c1 || !strcmp(c1, c2));
    free(c1);
    free(c2);
    json_decref(r1);
    json_decref(r2);
}

static void pdu_checks(json_t *pdu, const struct mxr_room_version *rv)
{
    struct mxr_err err = {0};
    (void)mxr_pdu_check_format(pdu, rv, 0, &err);
    (void)mxr_pdu_check_format(pdu, rv, MXR_PDU_NO_COUNT_LIMITS, &err);

    struct mxr_event ev;
    int strict = mxr_event_load(&ev, pdu, rv, MXR_EVENT_STRICT_FORMAT, &err);
    if (strict == 0)
        mxr_event_release(&ev);
    int lenient = mxr_event_load(&ev, pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, &err);
    if (lenient == 0) {
        (void)mxr_event_content_str(&ev, "membership");
        mxr_event_release(&ev);
    }
    CHECK(strict != 0 || mxr_event_load(&ev, pdu, rv, 0, &err) == 0);
    if (strict == 0)
        mxr_event_release(&ev);

    redact_twice(pdu, rv);

    char hash[44];
    if (mxr_event_content_hash(pdu, hash, &err) == 0)
        CHECK(strnlen(hash, sizeof hash) == 43);
    char id[MXR_ID_MAX + 1];
    (void)mxr_event_compute_id(pdu, rv, id, &err);
    uint8_t ref[32];
    (void)mxr_event_reference_hash(pdu, rv, ref, &err);
    (void)mxr_pdu_check_hash(pdu, &err);

    struct mxr_verify_keys keys = { test_lookup, NULL };
    (void)mxr_pdu_check_signatures(pdu, rv, &keys, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned n;
    const struct mxr_room_version *all = mxr_room_versions(&n);
    const struct mxr_room_version *rv = &all[data[0] % n];

    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    json_t *strict = mxr_json_parse(buf, len, MXR_JSON_SIGNED, NULL);
    json_t *lax = mxr_json_parse(buf, len, 0, NULL);
    CHECK(!strict || lax);
    if (json_is_object(lax))
        pdu_checks(lax, rv);
    if (json_is_object(strict))
        pdu_checks(strict, rv);
    json_decref(strict);
    json_decref(lax);
    return 0;
}
