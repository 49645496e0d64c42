/* libFuzzer target for proto/ids.c: every checker on the input as is and
 * behind each sigil; no crash, and these invariants hold:
 * - the user grammars nest: STRICT => COMPAT => HISTORICAL;
 * - a valid ID is at most 255 bytes, and a valid ID with a domain has one
 *   that is a valid server name (mxr_id_domain);
 * - an ID valid for a specific event format is valid for MXR_ID_ANY_FORMAT;
 * - a parsed server name, rebuilt from host and port, parses to the same;
 * - a valid key ID starts with "ed25519:". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_ids: invariant failed: %s on '%s'\n", #cond, s);       \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static void domain_ok(const char *s)
{
    const char *d = mxr_id_domain(s);
    CHECK(d != NULL);
    CHECK(mxr_id_valid_server_name(d));
    CHECK(strlen(s) <= MXR_ID_MAX_LEN);
}

static void server_name(const char *s)
{
    struct mxr_server_name sn, again;
    if (mxr_server_name_parse(s, &sn, NULL) != 0)
        return;
    CHECK(sn.host[0] != '\0');
    CHECK(sn.port >= -1 && sn.port <= 65535);
    char buf[300];
    if (sn.kind == MXR_HOST_IPV6)
        snprintf(buf, sizeof buf, "[%s]", sn.host);
    else
        snprintf(buf, sizeof buf, "%s", sn.host);
    if (sn.port >= 0)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ":%d", sn.port);
    CHECK(mxr_server_name_parse(buf, &again, NULL) == 0);
    CHECK(again.kind == sn.kind && again.port == sn.port && !strcmp(again.host, sn.host));
}

static void all_checks(const char *s)
{
    server_name(s);

    int strict = mxr_id_check_user(s, MXR_USER_STRICT, NULL);
    int compat = mxr_id_check_user(s, MXR_USER_COMPAT, NULL);
    int hist = mxr_id_check_user(s, MXR_USER_HISTORICAL, NULL);
    CHECK(strict != 0 || compat == 0);
    CHECK(compat != 0 || hist == 0);
    if (hist == 0)
        domain_ok(s);

    static const enum mxr_event_format fmts[] = { MXR_EVFMT_V1, MXR_EVFMT_V2, MXR_EVFMT_V3,
                                                  MXR_EVFMT_V4 };
    int room_any = mxr_id_check_room(s, MXR_ID_ANY_FORMAT, NULL);
    int event_any = mxr_id_check_event(s, MXR_ID_ANY_FORMAT, NULL);
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        if (mxr_id_check_room(s, fmts[i], NULL) == 0) {
            CHECK(room_any == 0);
            if (fmts[i] != MXR_EVFMT_V4)
                domain_ok(s);
            else
                CHECK(strlen(s) == 44 && mxr_id_domain(s) == NULL);
        }
        if (mxr_id_check_event(s, fmts[i], NULL) == 0) {
            CHECK(event_any == 0);
            if (fmts[i] == MXR_EVFMT_V1)
                domain_ok(s);
            else
                CHECK(strlen(s) == 44);
        }
    }
    if (mxr_id_check_alias(s, NULL) == 0)
        domain_ok(s);
    if (mxr_id_check_key_id(s, NULL) == 0)
        CHECK(!strncmp(s, "ed25519:", 8));
    (void)mxr_id_domain(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *s = malloc(size + 2);
    if (!s)
        return 0;
    /* As is (up to the first NUL: IDs are C strings), then behind each sigil. */
    memcpy(s + 1, data, size);
    s[size + 1] = '\0';
    all_checks(s + 1);
    static const char sigils[] = "@!$#";
    for (int i = 0; i < 4; i++) {
        s[0] = sigils[i];
        all_checks(s);
    }
    free(s);
    return 0;
}
