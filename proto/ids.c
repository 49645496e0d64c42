/* Identifier grammar (spec appendices.md, "Identifier Grammar"). */
#include "mxr/ids.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "mxr/base64.h"

#define BAD(...) mxr_err_set(err, "M_INVALID_PARAM", __VA_ARGS__)

/* Up to 80 bytes of an untrusted identifier for an error message, bytes
 * outside printable ASCII replaced by '?' so the message stays one line of
 * valid UTF-8. */
struct quoted {
    char s[84];
};

static struct quoted q(const char *id)
{
    struct quoted r;
    size_t i = 0;
    for (; id && id[i] && i < 80; i++)
        r.s[i] = (id[i] >= 0x20 && id[i] < 0x7f) ? id[i] : '?';
    if (id && id[i])
        r.s[i++] = '.', r.s[i++] = '.', r.s[i++] = '.';
    r.s[i] = '\0';
    return r;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_dns_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
}

/* Well-formed UTF-8 without surrogates (jansson's check: its strings are
 * exactly that). */
static bool valid_utf8(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (!j)
        return false;
    json_decref(j);
    return true;
}

/* IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each 0-255.
 * Returns 1 valid, 0 not dotted-quad-shaped, -1 shaped but out of range. */
static int ipv4_literal(const char *h, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || h[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(h[i]) && i - start < 4)
            v = v * 10 + (unsigned)(h[i++] - '0');
        if (i == start || i - start > 3)
            return 0;
        if (v > 255)
            return -1;
    }
    return i == n ? 1 : 0;
}

/* Server Name: server_name = hostname [ ":" port ] */
int mxr_server_name_parse(const char *s, struct mxr_server_name *out, struct mxr_err *err)
{
    if (!s || !*s)
        return BAD("server name is empty");
    const char *host, *rest;
    size_t hostlen;
    enum mxr_host_kind kind;
    char v6[64];

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return BAD("server name '%s': IPv6 literal without closing ']'", q(s).s);
        host = s + 1;
        hostlen = (size_t)(close - host);
        rest = close + 1;
        if (hostlen < 2 || hostlen > 45)
            return BAD("server name '%s': IPv6 literal must be 2-45 characters", q(s).s);
        for (size_t i = 0; i < hostlen; i++) {
            char c = host[i];
            if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                  c == '.'))
                return BAD("server name '%s': invalid character in IPv6 literal", q(s).s);
        }
        memcpy(v6, host, hostlen);
        v6[hostlen] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, v6, &a6) != 1)
            return BAD("server name '%s': not an IPv6 address (RFC 3513 section 2.2)", q(s).s);
        kind = MXR_HOST_IPV6;
    } else {
        host = s;
        hostlen = 0;
        while (host[hostlen] && host[hostlen] != ':') {
            if (!is_dns_char(host[hostlen]))
                return BAD("server name '%s': invalid character 0x%02x (DNS names allow "
                           "A-Z a-z 0-9 - .)", q(s).s, (unsigned char)host[hostlen]);
            hostlen++;
        }
        rest = host + hostlen;
        if (hostlen == 0)
            return BAD("server name '%s': empty hostname", q(s).s);
        if (hostlen > 255)
            return BAD("server name: hostname longer than 255 characters");
        int v4 = ipv4_literal(host, hostlen);
        if (v4 < 0)
            return BAD("server name '%s': IPv4 literal part above 255", q(s).s);
        kind = v4 ? MXR_HOST_IPV4 : MXR_HOST_DNS;
    }

    int port = -1;
    if (*rest) {
        if (*rest != ':')
            return BAD("server name '%s': unexpected characters after the hostname", q(s).s);
        const char *p = rest + 1;
        size_t nd = strlen(p);
        if (nd < 1 || nd > 5)
            return BAD("server name '%s': port must be 1-5 digits", q(s).s);
        port = 0;
        for (size_t i = 0; i < nd; i++) {
            if (!is_digit(p[i]))
                return BAD("server name '%s': port must be 1-5 digits", q(s).s);
            port = port * 10 + (p[i] - '0');
        }
        if (port > 65535)
            return BAD("server name '%s': port %d above 65535", q(s).s, port);
    }
    if (out) {
        out->kind = kind;
        memcpy(out->host, host, hostlen);
        out->host[hostlen] = '\0';
        out->port = port;
    }
    return 0;
}

/* Splits sigil localpart ":" domain; checks the sigil, the 255-byte limit,
 * the domain and that the localpart is valid UTF-8. */
static int split_id(const char *s, char sigil, const char *what, const char **local,
                    size_t *locallen, struct mxr_err *err)
{
    if (!s || s[0] != sigil)
        return BAD("%s must start with '%c'", what, sigil);
    size_t len = strlen(s);
    if (len > MXR_ID_MAX_LEN)
        return BAD("%s is %zu bytes, more than %d (appendices, Identifier Grammar)", what, len,
                   MXR_ID_MAX_LEN);
    const char *colon = strchr(s + 1, ':');
    if (!colon)
        return BAD("%s '%s' has no ':domain'", what, q(s).s);
    struct mxr_err sub = { 0 };
    if (mxr_server_name_parse(colon + 1, NULL, &sub) < 0)
        return BAD("%s '%s': %s", what, q(s).s, sub.msg);
    *local = s + 1;
    *locallen = (size_t)(colon - (s + 1));
    if (!valid_utf8(*local, *locallen))
        return BAD("%s: localpart is not valid UTF-8", what);
    return 0;
}

/* User Identifiers and Historical User IDs. */
int mxr_id_check_user(const char *s, enum mxr_user_grammar g, struct mxr_err *err)
{
    const char *lp;
    size_t n;
    if (split_id(s, '@', "user ID", &lp, &n, err) < 0)
        return -1;
    if (g == MXR_USER_HISTORICAL)
        return 0;
    if (n == 0)
        return BAD("user ID '%s': empty localpart", q(s).s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lp[i];
        bool ok;
        if (g == MXR_USER_STRICT)
            ok = is_digit((char)c) || (c >= 'a' && c <= 'z') || strchr("._=/+-", c);
        else
            ok = c >= 0x21 && c <= 0x7e;
        if (!ok) {
            if (g == MXR_USER_STRICT)
                return BAD("user ID '%s': localpart may only contain a-z 0-9 . _ = - / +",
                           q(s).s);
            return BAD("user ID '%s': localpart has characters outside U+0021-U+007E", q(s).s);
        }
    }
    return 0;
}

/* A 43-character unpadded base64 reference hash (SHA-256) of `v`, in its
 * canonical spelling: IDs are compared as strings, so the decoder's leniency
 * about stray trailing bits must not let two spellings name one hash. */
static bool hash_body(const char *b, enum mxr_b64_variant v)
{
    uint8_t out[32];
    char again[44];
    size_t n = strlen(b);
    return n == 43 && mxr_b64_decode(out, sizeof out, b, n, v, NULL) == 32 &&
           mxr_b64_encode(again, sizeof again, out, 32, v) == 43 && memcmp(again, b, 43) == 0;
}

/* Room IDs. */
int mxr_id_check_room(const char *s, enum mxr_event_format fmt, struct mxr_err *err)
{
    if (!s || s[0] != '!')
        return BAD("room ID must start with '!'");
    bool hash_form = fmt == MXR_EVFMT_V4 || (fmt == MXR_ID_ANY_FORMAT && !strchr(s, ':'));
    if (hash_form) {
        if (!hash_body(s + 1, MXR_B64_URL))
            return BAD("room ID '%s': room version 12 IDs are '!' and 43 characters of "
                       "URL-safe unpadded base64", q(s).s);
        return 0;
    }
    const char *lp;
    size_t n;
    return split_id(s, '!', "room ID", &lp, &n, err);
}

/* Event IDs (and the room versions' event ID formats). */
int mxr_id_check_event(const char *s, enum mxr_event_format fmt, struct mxr_err *err)
{
    if (!s || s[0] != '$')
        return BAD("event ID must start with '$'");
    switch (fmt) {
    case MXR_EVFMT_V1: {
        const char *lp;
        size_t n;
        return split_id(s, '$', "event ID", &lp, &n, err);
    }
    case MXR_EVFMT_V2:
        if (!hash_body(s + 1, MXR_B64_STD))
            return BAD("event ID '%s': room version 3 IDs are '$' and 43 characters of "
                       "unpadded base64", q(s).s);
        return 0;
    case MXR_EVFMT_V3:
    case MXR_EVFMT_V4:
        if (!hash_body(s + 1, MXR_B64_URL))
            return BAD("event ID '%s': room version 4+ IDs are '$' and 43 characters of "
                       "URL-safe unpadded base64", q(s).s);
        return 0;
    default:
        if (strchr(s, ':'))
            return mxr_id_check_event(s, MXR_EVFMT_V1, err);
        if (hash_body(s + 1, MXR_B64_STD) || hash_body(s + 1, MXR_B64_URL))
            return 0;
        return BAD("event ID '%s' is neither '$opaque:domain' nor '$' and a 43-character "
                   "base64 hash", q(s).s);
    }
}

/* Room Aliases. */
int mxr_id_check_alias(const char *s, struct mxr_err *err)
{
    const char *lp;
    size_t n;
    return split_id(s, '#', "room alias", &lp, &n, err);
}

const char *mxr_id_domain(const char *s)
{
    if (!s || !*s)
        return NULL;
    const char *colon = strchr(s + 1, ':');
    return colon ? colon + 1 : NULL;
}

int mxr_id_check_key_id(const char *s, struct mxr_err *err)
{
    static const char alg[] = "ed25519:";
    if (!s || strncmp(s, alg, sizeof alg - 1) != 0)
        return BAD("key ID '%s' must be 'ed25519:' and a version", q(s).s);
    const char *v = s + sizeof alg - 1;
    if (!*v)
        return BAD("key ID '%s' has an empty version", q(s).s);
    for (; *v; v++)
        if (!(is_digit(*v) || (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || *v == '_'))
            return BAD("key ID '%s': version may only contain A-Z a-z 0-9 _", q(s).s);
    return 0;
}
