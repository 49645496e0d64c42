/* libFuzzer target for what a peer's request line and headers reach before
 * any signature check: the X-Matrix Authorization header parser
 * (relay/federation/xmatrix.c) and the router's path matching and
 * percent-decoding (relay/http/router.c). No crash, and:
 * - a parsed header has a non-empty origin, key and sig, and printing the
 *   parsed values back as quoted strings parses to the same values;
 * - a matched path has at most MXR_HTTP_MAX_PARAMS params, none empty-named;
 * - a decoded string is no longer than its input and holds no NUL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/federation/xmatrix.h"
#include "relay/http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_xmatrix: invariant failed: %s\n", #cond);             \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Patterns of the federation and key APIs the relay serves. */
static const char *const patterns[] = {
    "/_matrix/federation/v1/send/{txnId}",
    "/_matrix/federation/v1/event/{eventId}",
    "/_matrix/federation/v1/state/{roomId}",
    "/_matrix/federation/v1/make_join/{roomId}/{userId}",
    "/_matrix/federation/v2/send_join/{roomId}/{eventId}",
    "/_matrix/federation/v1/backfill/{roomId}",
    "/_matrix/federation/v1/get_missing_events/{roomId}",
    "/_matrix/federation/v1/query/{queryType}",
    "/_matrix/key/v2/server",
    "/_matrix/key/v2/query/{serverName}",
    "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}",
    "/",
};

static size_t quote(char *out, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

static void xmatrix(const char *s)
{
    struct mxr_xmatrix x, y;
    struct mxr_err err = {0};
    if (mxr_xmatrix_parse(s, &x, &err) != 0) {
        CHECK(err.errcode != NULL);
        return;
    }
    CHECK(x.origin[0] && x.key[0] && x.sig[0]);
    CHECK(strlen(x.origin) <= MXR_SERVER_NAME_MAX && strlen(x.key) <= MXR_KEY_ID_MAX &&
          strlen(x.sig) <= MXR_XMATRIX_SIG_MAX);
    /* Round trip through the quoted-string form. */
    static char buf[4 * (MXR_SERVER_NAME_MAX + MXR_KEY_ID_MAX + MXR_XMATRIX_SIG_MAX) + 256];
    size_t o = (size_t)sprintf(buf, "X-Matrix origin=");
    o += quote(buf + o, x.origin);
    o += (size_t)sprintf(buf + o, ",key=");
    o += quote(buf + o, x.key);
    o += (size_t)sprintf(buf + o, ",sig=");
    o += quote(buf + o, x.sig);
    if (x.has_destination) {
        o += (size_t)sprintf(buf + o, ",destination=");
        quote(buf + o, x.destination);
    }
    CHECK(mxr_xmatrix_parse(buf, &y, NULL) == 0);
    CHECK(!strcmp(x.origin, y.origin) && !strcmp(x.key, y.key) && !strcmp(x.sig, y.sig));
    CHECK(x.has_destination == y.has_destination);
    CHECK(!x.has_destination || !strcmp(x.destination, y.destination));
}

static void route(const char *path)
{
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
        struct mxr_kv params[MXR_HTTP_MAX_PARAMS];
        size_t n = 99;
        struct mxr_err err = {0};
        int rc = mxr_route_match(patterns[i], path, params, &n, &err);
        CHECK(rc == -1 || rc == 0 || rc == 1);
        if (rc != 1)
            continue;
        CHECK(n <= MXR_HTTP_MAX_PARAMS);
        for (size_t k = 0; k < n; k++) {
            CHECK(params[k].name && params[k].name[0] && params[k].value);
            free(params[k].name);
            free(params[k].value);
        }
    }
}

static void decode(const char *s, size_t len, bool form)
{
    char *d = mxr_http_decode(s, len, form);
    if (!d)
        return;
    size_t dl = strlen(d);
    CHECK(dl <= len);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    decode(s, size, false);
    decode(s, size, true);
    /* Up to the first NUL: what a header or path can hold. */
    xmatrix(s);
    route(s);
    free(s);
    return 0;
}
