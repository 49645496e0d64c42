/* Canonical JSON (spec appendices.md, "Signing JSON" > "Canonical JSON").
 *
 * Parsing is jansson's job; this file maps jansson's errors onto Matrix
 * errcodes, enforces the canonical value rules (integers in
 * [-(2^53)+1, 2^53-1], no floats) and serialises a json_t byte-exactly as the
 * spec's reference (Python json.dumps(ensure_ascii=False,
 * separators=(',',':'), sort_keys=True)) does.
 *
 * Decisions (documented here because they are visible to peers):
 * - Any top-level value is accepted by the parser (JSON_DECODE_ANY); callers
 *   that need an object check the type themselves.
 * - "-0" is read by jansson as the integer 0 and so canonicalises to 0, as
 *   Python does; it is not rejected even in strict mode.
 * - Without MXR_JSON_STRICT (room versions 1-5) floats and integers beyond
 *   2^53 parse. mxr_canonical_json refuses both; mxr_canonical_json_lax
 *   writes such integers as they are (what Python, Synapse and
 *   gomatrixserverlib hash and sign for those rooms: the appendix warns that
 *   their "integers might not be in the range") and still refuses floats:
 *   reproducing Python's float repr is not supported. Integers beyond the
 *   64-bit range cannot be represented by jansson at all and are reported as
 *   M_BAD_JSON.
 * - Duplicate keys: without MXR_JSON_NO_DUPLICATES the last one wins, as in
 *   Python (which is what remote servers hashed).
 * - "\u0000" is allowed in string values (JSON_ALLOW_NUL) and serialised as
 *   \u0000; jansson refuses it in object keys (reported as M_BAD_JSON). The
 *   serialiser itself is length-aware, so keys built with json_object_setn
 *   containing NUL are serialised correctly.
 */
#include "mxr/json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting limit of the walkers below, for values built in memory (the parser
 * already stops at 2048 levels). Bounds recursion depth. */
#define MXR_JSON_WALK_MAX_DEPTH 4096

/* Where a value sits in the document, as a linked list through the stack;
 * only formatted when an error is reported. */
struct jpath {
    const struct jpath *up;
    const char *key;    /* object member name, or NULL for an array index */
    size_t keylen;
    size_t index;
};

/* Replaces control characters and bytes that are not well-formed UTF-8 with
 * '?', so that error messages are one line and can be put in JSON. */
static void sanitize_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                *p = '?';
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            *p++ = '?';
            continue;
        }
        size_t i;
        for (i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                break;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (i <= n || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

/* Writes the path as `content.ts`, `prev_events[0]`, or `(top level)`. */
static void format_path(const struct jpath *path, char *out, size_t cap)
{
    const struct jpath *chain[64];
    size_t n = 0, skipped = 0;
    for (const struct jpath *p = path; p; p = p->up) {
        if (n < sizeof chain / sizeof chain[0])
            chain[n++] = p;
        else
            skipped++;
    }
    if (n == 0) {
        snprintf(out, cap, "(top level)");
        return;
    }
    size_t len = 0;
    out[0] = '\0';
    if (skipped)
        len += (size_t)snprintf(out, cap, "...");
    for (size_t i = n; i-- > 0 && len < cap;) {
        const struct jpath *p = chain[i];
        int w;
        if (p->key)
            w = snprintf(out + len, cap - len, "%s%.*s", len ? "." : "",
                         (int)(p->keylen > 100 ? 100 : p->keylen), p->key);
        else
            w = snprintf(out + len, cap - len, "[%zu]", p->index);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    /* A key holding NUL was cut at the NUL by %.*s; nothing else to do. */
}

static int path_error(struct mxr_err *err, const struct jpath *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int path_error(struct mxr_err *err, const struct jpath *path, const char *fmt, ...)
{
    char msg[MXR_ERR_MSG_MAX];
    format_path(path, msg, 160);
    size_t n = strlen(msg);
    memcpy(msg + n, ": ", 3);
    n += 2;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - n, fmt, ap);
    va_end(ap);
    sanitize_utf8(msg);
    return mxr_err_set(err, "M_BAD_JSON", "%s", msg);
}

static int check_value(const json_t *v, const struct jpath *path, int depth, struct mxr_err *err)
{
    if (depth > MXR_JSON_WALK_MAX_DEPTH)
        return path_error(err, path, "nested deeper than %d levels", MXR_JSON_WALK_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        if (i < MXR_JSON_INT_MIN || i > MXR_JSON_INT_MAX)
            return path_error(err, path,
                              "%" JSON_INTEGER_FORMAT " outside canonical integer range "
                              "[-(2^53)+1, 2^53-1] (appendices, Canonical JSON)", i);
        return 0;
    }
    case JSON_REAL:
        return path_error(err, path,
                          "float %.17g (fraction or exponent): canonical JSON allows "
                          "integers only (appendices, Canonical JSON)",
                          json_real_value(v));
    case JSON_OBJECT: {
        void *it = json_object_iter((json_t *)v);
        for (; it; it = json_object_iter_next((json_t *)v, it)) {
            struct jpath sub = { path, json_object_iter_key(it), json_object_iter_key_len(it), 0 };
            if (check_value(json_object_iter_value(it), &sub, depth + 1, err) < 0)
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++) {
            struct jpath sub = { path, NULL, 0, i };
            if (check_value(json_array_get(v, i), &sub, depth + 1, err) < 0)
                return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int mxr_json_check_strict(const json_t *v, struct mxr_err *err)
{
    if (!v)
        return mxr_err_set(err, "M_BAD_JSON", "no JSON value");
    return check_value(v, NULL, 0, err);
}

/* jansson's error code → Matrix errcode. Syntax and encoding errors are
 * M_NOT_JSON; well-formed JSON we refuse by rule or limit is M_BAD_JSON. */
static const char *errcode_for(enum json_error_code c)
{
    switch (c) {
    case json_error_stack_overflow:
    case json_error_null_byte_in_key:
    case json_error_duplicate_key:
    case json_error_numeric_overflow:
        return "M_BAD_JSON";
    case json_error_out_of_memory:
        return "M_UNKNOWN";
    default:
        return "M_NOT_JSON";
    }
}

json_t *mxr_json_parse(const char *buf, size_t len, unsigned flags, struct mxr_err *err)
{
    if (!buf && len) {
        mxr_err_set(err, "M_NOT_JSON", "no input");
        return NULL;
    }
    size_t jflags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    if (flags & MXR_JSON_NO_DUPLICATES)
        jflags |= JSON_REJECT_DUPLICATES;
    json_error_t je;
    json_t *v = json_loadb(buf ? buf : "", len, jflags, &je);
    if (!v) {
        enum json_error_code c = json_error_code(&je);
        const char *hint = "";
        if (c == json_error_numeric_overflow)
            hint = " (integers must fit in 64 bits; canonical JSON allows [-(2^53)+1, 2^53-1])";
        else if (c == json_error_stack_overflow)
            hint = " (nesting limit)";
        char msg[MXR_ERR_MSG_MAX];
        if (len == 0)
            snprintf(msg, sizeof msg, "empty input");
        else
            snprintf(msg, sizeof msg, "line %d column %d (byte %d): %s%s", je.line, je.column,
                     je.position, je.text, hint);
        sanitize_utf8(msg);
        mxr_err_set(err, errcode_for(c), "%s", msg);
        return NULL;
    }
    if ((flags & MXR_JSON_STRICT) && check_value(v, NULL, 0, err) < 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- serialiser ---------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->cap - b->len > extra)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static void sb_putc(struct sbuf *b, char c)
{
    if (sb_reserve(b, 1))
        b->p[b->len++] = c;
}

/* Canonical string escaping (appendices, Canonical JSON grammar): the seven
 * short escapes, \u00xx with lowercase hex for the other C0 controls, every
 * other byte (including '/', DEL and non-ASCII UTF-8) as is. */
static void put_string(struct sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_putc(b, '"');
    size_t run = 0;   /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sb_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':  esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\b': esc = 'b'; break;
        case '\t': esc = 't'; break;
        case '\n': esc = 'n'; break;
        case '\f': esc = 'f'; break;
        case '\r': esc = 'r'; break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
            sb_put(b, u, sizeof u);
            continue;
        }
        }
        char e[2] = { '\\', esc };
        sb_put(b, e, 2);
    }
    sb_put(b, s + run, n - run);
    sb_putc(b, '"');
}

struct member {
    const char *key;
    size_t keylen;
    json_t *value;
};

/* Code point order of UTF-8 strings is their byte order; a proper prefix
 * sorts first. */
static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

/* any_int: integers outside the canonical range are written as they are
 * (mxr_canonical_json_lax); floats are refused either way. */
static int put_value(struct sbuf *b, const json_t *v, const struct jpath *path, int depth, bool any_int,
                     struct mxr_err *err)
{
    if (depth > MXR_JSON_WALK_MAX_DEPTH)
        return path_error(err, path, "nested deeper than %d levels", MXR_JSON_WALK_MAX_DEPTH);
    switch (json_typeof(v)) {
    case JSON_NULL:
        sb_put(b, "null", 4);
        return 0;
    case JSON_TRUE:
        sb_put(b, "true", 4);
        return 0;
    case JSON_FALSE:
        sb_put(b, "false", 5);
        return 0;
    case JSON_INTEGER:
    case JSON_REAL: {
        if ((!any_int || json_is_real(v)) && check_value(v, path, depth, err) < 0)
            return -1;
        char num[32];
        int w = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_put(b, num, (size_t)w);
        return 0;
    }
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_ARRAY:
        sb_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            struct jpath sub = { path, NULL, 0, i };
            if (i)
                sb_putc(b, ',');
            if (put_value(b, json_array_get(v, i), &sub, depth + 1, any_int, err) < 0)
                return -1;
        }
        sb_putc(b, ']');
        return 0;
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        struct member *m = n ? calloc(n, sizeof *m) : NULL;
        if (n && !m) {
            b->oom = true;
            return mxr_err_set(err, "M_UNKNOWN", "out of memory serialising JSON");
        }
        for (void *it = json_object_iter((json_t *)v); it && i < n;
             it = json_object_iter_next((json_t *)v, it), i++) {
            m[i].key = json_object_iter_key(it);
            m[i].keylen = json_object_iter_key_len(it);
            m[i].value = json_object_iter_value(it);
        }
        n = i;
        if (n > 1)
            qsort(m, n, sizeof *m, member_cmp);
        sb_putc(b, '{');
        for (i = 0; i < n; i++) {
            struct jpath sub = { path, m[i].key, m[i].keylen, 0 };
            if (i)
                sb_putc(b, ',');
            put_string(b, m[i].key, m[i].keylen);
            sb_putc(b, ':');
            if (put_value(b, m[i].value, &sub, depth + 1, any_int, err) < 0) {
                free(m);
                return -1;
            }
        }
        free(m);
        sb_putc(b, '}');
        return 0;
    }
    }
    return mxr_err_set(err, "M_BAD_JSON", "unknown JSON value type");
}

static char *serialise(const json_t *v, bool any_int, size_t *len, struct mxr_err *err)
{
    if (!v) {
        mxr_err_set(err, "M_BAD_JSON", "no JSON value to serialise");
        return NULL;
    }
    struct sbuf b = { 0 };
    if (put_value(&b, v, NULL, 0, any_int, err) < 0) {
        free(b.p);
        return NULL;
    }
    sb_reserve(&b, 1);
    if (b.oom) {
        free(b.p);
        mxr_err_set(err, "M_UNKNOWN", "out of memory serialising JSON");
        return NULL;
    }
    b.p[b.len] = '\0';
    if (len)
        *len = b.len;
    return b.p;
}

char *mxr_canonical_json(const json_t *v, size_t *len, struct mxr_err *err)
{
    return serialise(v, false, len, err);
}

char *mxr_canonical_json_lax(const json_t *v, size_t *len, struct mxr_err *err)
{
    return serialise(v, true, len, err);
}
