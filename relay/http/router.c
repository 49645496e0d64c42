/* Route table and path matching. */
#include "relay/http/http.h"

#include <stdlib.h>
#include <string.h>

int mxr_router_add(struct mxr_router *r, const struct mxr_route *routes, size_t n, struct mxr_err *err)
{
    struct mxr_route *nr = realloc(r->routes, (r->n + n) * sizeof *nr);
    if (!nr)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory adding %zu routes", n);
    for (size_t i = 0; i < n; i++) {
        if (!routes[i].pattern || routes[i].pattern[0] != '/' || !routes[i].method || !routes[i].handler) {
            r->routes = nr;
            return mxr_err_set(err, "M_UNKNOWN", "route %zu: pattern must start with '/' and have a method and handler",
                               i);
        }
    }
    memcpy(nr + r->n, routes, n * sizeof *nr);
    r->routes = nr;
    r->n += n;
    return 0;
}

void mxr_router_free(struct mxr_router *r)
{
    free(r->routes);
    r->routes = NULL;
    r->n = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *mxr_http_decode(const char *s, size_t len, bool form)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && form) {
            out[o++] = ' ';
        } else if (c == '\0') {
            free(out);
            return NULL;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

static void free_params(struct mxr_kv *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(params[i].name);
        free(params[i].value);
        params[i].name = params[i].value = NULL;
    }
}

int mxr_route_match(const char *pattern, const char *raw_path, struct mxr_kv params[MXR_HTTP_MAX_PARAMS],
                    size_t *n_params, struct mxr_err *err)
{
    const char *p = pattern, *s = raw_path;
    size_t np = 0;
    *n_params = 0;
    if (*p != '/' || *s != '/')
        return 0;
    while (*p == '/' && *s == '/') {
        p++;
        s++;
        size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
        if (pl >= 2 && p[0] == '{' && p[pl - 1] == '}') {
            if (sl == 0 || np == MXR_HTTP_MAX_PARAMS)
                goto nomatch;
            char *value = mxr_http_decode(s, sl, false);
            char *name = strndup(p + 1, pl - 2);
            if (!value || !name) {
                free(value);
                free(name);
                free_params(params, np);
                return mxr_err_set(err, "M_INVALID_PARAM", "path parameter {%.*s} is not valid percent-encoding",
                                   (int)(pl - 2), p + 1);
            }
            params[np].name = name;
            params[np].value = value;
            np++;
        } else if (pl != sl || memcmp(p, s, pl)) {
            goto nomatch;
        }
        p += pl;
        s += sl;
    }
    if (*p || *s)
        goto nomatch;
    *n_params = np;
    return 1;
nomatch:
    free_params(params, np);
    return 0;
}
