/* X-Matrix request authentication: server-server API "Request
 * Authentication", header syntax RFC 9110 section 11.4 (credentials) and
 * section 5.6 (tokens, quoted strings, lists). */
#include "relay/federation/xmatrix.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mxr/ids.h"
#include "mxr/sign.h"
#include "relay/federation/keyring.h"
#include "relay/server.h"

/* ---- header parsing ----------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Unquoted values: tokens, plus what older senders put there unquoted (':'
 * in server names, as the spec asks to accept; '/', '=' of base64; the
 * brackets of IPv6 literals). */
static bool is_bare_value_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != '\\';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

enum { P_ORIGIN, P_DESTINATION, P_KEY, P_SIG, P_COUNT };
static const char *const PARAM_NAMES[P_COUNT] = { "origin", "destination", "key", "sig" };

int mxr_xmatrix_parse(const char *header, struct mxr_xmatrix *out, struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    char *fields[P_COUNT] = { out->origin, out->destination, out->key, out->sig };
    const size_t caps[P_COUNT] = { sizeof out->origin, sizeof out->destination, sizeof out->key, sizeof out->sig };
    bool seen[P_COUNT] = { false };
    if (!header)
        return mxr_err_set(err, "M_UNAUTHORIZED", "missing Authorization header");
    const char *p = header;
    while (is_ows(*p))
        p++;
    const char *scheme = p;
    while (is_tchar((unsigned char)*p))
        p++;
    size_t slen = (size_t)(p - scheme);
    if (slen != 8 || strncasecmp(scheme, "X-Matrix", 8))
        return mxr_err_set(err, "M_UNAUTHORIZED", "Authorization scheme is '%.*s', expected X-Matrix",
                           (int)(slen > 32 ? 32 : slen), scheme);
    if (*p != ' ')
        return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: a space must follow the scheme name");
    for (;;) {
        while (is_ows(*p) || *p == ',')   /* separators and empty list elements */
            p++;
        if (!*p)
            break;
        const char *name = p;
        while (is_tchar((unsigned char)*p))
            p++;
        size_t nlen = (size_t)(p - name);
        if (nlen == 0)
            return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: expected a parameter name at offset %zu",
                               (size_t)(name - header));
        while (is_ows(*p))
            p++;
        if (*p != '=')
            return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: parameter '%.*s' has no '=value'",
                               (int)(nlen > 32 ? 32 : nlen), name);
        p++;
        while (is_ows(*p))
            p++;
        int which = -1;
        for (int i = 0; i < P_COUNT; i++)
            if (strlen(PARAM_NAMES[i]) == nlen && !strncasecmp(name, PARAM_NAMES[i], nlen))
                which = i;
        if (which >= 0 && seen[which])
            return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: parameter '%s' appears twice", PARAM_NAMES[which]);
        char scratch[2];
        char *dst = which >= 0 ? fields[which] : scratch;
        size_t cap = which >= 0 ? caps[which] : sizeof scratch, len = 0;
        bool overflow = false;
        if (*p == '"') {
            p++;
            for (;;) {
                unsigned char c = (unsigned char)*p;
                if (c == '\\') {
                    c = (unsigned char)*++p;
                    if (!c || (c < 0x20 && c != '\t') || c == 0x7f)
                        return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: bad escape in the value of '%.*s'",
                                           (int)(nlen > 32 ? 32 : nlen), name);
                } else if (c == '"') {
                    break;
                } else if (!c) {
                    return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: unterminated quoted value of '%.*s'",
                                       (int)(nlen > 32 ? 32 : nlen), name);
                } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: control character in the value of '%.*s'",
                                       (int)(nlen > 32 ? 32 : nlen), name);
                }
                if (len + 1 < cap)
                    dst[len++] = (char)c;
                else
                    overflow = true;
                p++;
            }
            p++;   /* closing quote */
        } else {
            const char *v = p;
            while (is_bare_value_char((unsigned char)*p)) {
                if (len + 1 < cap)
                    dst[len++] = *p;
                else
                    overflow = true;
                p++;
            }
            if (p == v)
                return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: empty or invalid value of '%.*s'",
                                   (int)(nlen > 32 ? 32 : nlen), name);
        }
        if (which >= 0) {
            if (overflow)
                return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: value of '%s' is longer than %zu bytes",
                                   PARAM_NAMES[which], cap - 1);
            dst[len] = '\0';
            seen[which] = true;
        }
        while (is_ows(*p))
            p++;
        if (*p && *p != ',')
            return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: expected ',' after the value of '%.*s'",
                               (int)(nlen > 32 ? 32 : nlen), name);
    }
    for (int i = 0; i < P_COUNT; i++)
        if (i != P_DESTINATION && (!seen[i] || !fields[i][0]))
            return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: missing parameter '%s'", PARAM_NAMES[i]);
    out->has_destination = seen[P_DESTINATION];
    return 0;
}

/* ---- the signed object ------------------------------------------------------------------ */

json_t *mxr_xmatrix_signed_object(const char *method, const char *uri, const char *origin, const char *destination,
                                  json_t *content)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "method", method, "uri", uri, "origin", origin, "destination",
                          destination);
    if (o && content && json_object_set(o, "content", content) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool quotable(const char *s)
{
    return !strpbrk(s, "\"\\\r\n");
}

int mxr_xmatrix_sign(const struct mxr_signing_key *key, const char *origin, const char *destination,
                     const char *method, const char *uri, json_t *content, char *out, size_t cap,
                     struct mxr_err *err)
{
    if (!quotable(origin) || !quotable(destination))
        return mxr_err_set(err, "M_INVALID_PARAM", "server names with quotes or backslashes cannot be sent");
    json_t *o = mxr_xmatrix_signed_object(method, uri, origin, destination, content);
    if (!o)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory (or non-UTF-8 request field)");
    int rc = -1;
    if (mxr_sign_json(o, origin, key, err) == 0) {
        json_t *sig = json_object_get(json_object_get(json_object_get(o, "signatures"), origin), key->key_id);
        int n = snprintf(out, cap, "X-Matrix origin=\"%s\",destination=\"%s\",key=\"%s\",sig=\"%s\"", origin,
                         destination, key->key_id, json_string_value(sig));
        rc = n > 0 && (size_t)n < cap ? 0 : mxr_err_set(err, "M_UNKNOWN", "Authorization header buffer too small");
    }
    json_decref(o);
    return rc;
}

/* ---- verification -------------------------------------------------------------------- */

int mxr_xmatrix_authenticate(struct mxr_request *req, struct mxr_err *err)
{
    struct mxr_server *srv = req->srv;
    const struct mxr_config *cfg = srv->cfg;
    struct mxr_xmatrix xm;
    struct mxr_err e = { 0 };
    if (!req->authorization)
        return mxr_err_set(err, "M_UNAUTHORIZED",
                           "missing Authorization header: this endpoint needs X-Matrix request authentication");
    if (mxr_xmatrix_parse(req->authorization, &xm, err) < 0)
        return -1;
    if (xm.has_destination && strcmp(xm.destination, cfg->server_name))
        return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix destination '%.200s' is not this server ('%.200s')",
                           xm.destination, cfg->server_name);
    if (mxr_server_name_parse(xm.origin, NULL, &e) < 0)
        return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix origin: %s", e.msg);
    if (!mxr_config_server_allowed(cfg, xm.origin))
        return mxr_err_set(err, "M_FORBIDDEN", "federation with %.200s is not allowed by this server", xm.origin);
    if (mxr_id_check_key_id(xm.key, &e) < 0)
        return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix key: %s", e.msg);

    /* Without a destination parameter the sender still signed our name. */
    json_t *content = req->body_len > 0 ? req->json : NULL;
    json_t *o = mxr_xmatrix_signed_object(req->method, req->target, xm.origin,
                                          xm.has_destination ? xm.destination : cfg->server_name, content);
    if (!o || json_object_set_new(o, "signatures", json_pack("{s:{s:s}}", xm.origin, xm.key, xm.sig)) < 0) {
        json_decref(o);
        return mxr_err_set(err, "M_UNAUTHORIZED", "X-Matrix: the request target or header is not valid UTF-8");
    }
    uint8_t pk[32];
    int rc = -1;
    if (mxr_keyring_request_key(srv->keyring, xm.origin, xm.key, pk, &e) < 0)
        mxr_err_set(err, "M_UNAUTHORIZED", "cannot check the request signature: %s", e.msg);
    else if (mxr_verify_json(o, xm.origin, xm.key, pk, &e) < 0)
        mxr_err_set(err, "M_UNAUTHORIZED", "request signature of %.200s with %.100s does not verify over %s %.300s: %s",
                    xm.origin, xm.key, req->method, req->target, e.msg);
    else
        rc = 0;
    json_decref(o);
    if (rc == 0)
        snprintf(req->origin, sizeof req->origin, "%s", xm.origin);
    return rc;
}
