/* Configuration files: YAML (libyaml's document API) -> struct mxr_config,
 * driven by the option table. Every message names the source and line. */
#include "relay/config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "relay/config_table.h"
#include "relay/log.h"

/* ---- YAML nodes -> values --------------------------------------------- */

struct loader {
    yaml_document_t *doc;
    const char *source;
    struct mxr_err *err;
};

static unsigned line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

static int fail(const struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[MXR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        return mxr_err_set(ld->err, "M_INVALID_PARAM", "%s:%u: %s", ld->source, line_of(n), msg);
    return mxr_err_set(ld->err, "M_INVALID_PARAM", "%s: %s", ld->source, msg);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML's null: an empty plain scalar, ~ or null. */
static bool is_null(const yaml_node_t *n)
{
    if (!is_plain(n))
        return false;
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* A string scalar as a malloc'd C string; embedded NULs are refused. */
static char *string_of(const struct loader *ld, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        fail(ld, n, "%s must be a string", what);
        return NULL;
    }
    if (strlen(scalar(n)) != n->data.scalar.length) {
        fail(ld, n, "%s contains a NUL character", what);
        return NULL;
    }
    char *s = strdup(scalar(n));
    if (!s)
        fail(ld, n, "out of memory");
    return s;
}

static int parse_bool(const struct loader *ld, const yaml_node_t *n, const char *what, bool *out)
{
    static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
    if (is_plain(n))
        for (int i = 0; i < 3; i++) {
            if (!strcmp(scalar(n), yes[i]))
                return *out = true, 0;
            if (!strcmp(scalar(n), no[i]))
                return *out = false, 0;
        }
    return fail(ld, n, "%s must be true or false", what);
}

static int parse_int(const struct loader *ld, const yaml_node_t *n, const char *what, long min, long max,
                     long *out)
{
    if (!is_plain(n) || !*scalar(n))
        return fail(ld, n, "%s must be an integer", what);
    errno = 0;
    char *end;
    long v = strtol(scalar(n), &end, 10);
    if (*end || errno)
        return fail(ld, n, "%s must be an integer, not '%s'", what, scalar(n));
    if (v < min || v > max)
        return fail(ld, n, "%s must be between %ld and %ld, not %ld", what, min, max, v);
    *out = v;
    return 0;
}

static int set_listeners(const struct loader *ld, const yaml_node_t *n, struct mxr_config *cfg)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, n, "listeners must be a list of {type, bind_address, port}");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    cfg->listeners = calloc(count ? count : 1, sizeof *cfg->listeners);
    if (!cfg->listeners)
        return fail(ld, n, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
        struct mxr_listener *l = &cfg->listeners[cfg->n_listeners++];
        l->port = -1;
        l->type = (enum mxr_listener_type)-1;
        if (!item || item->type != YAML_MAPPING_NODE)
            return fail(ld, item ? item : n, "listener %zu must be a map {type, bind_address, port}", i + 1);
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
            const yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
            if (!k || !v || k->type != YAML_SCALAR_NODE)
                return fail(ld, item, "listener %zu: keys must be strings", i + 1);
            if (!strcmp(scalar(k), "type")) {
                if (v->type == YAML_SCALAR_NODE && !strcmp(scalar(v), "https"))
                    l->type = MXR_LISTEN_HTTPS;
                else if (v->type == YAML_SCALAR_NODE && !strcmp(scalar(v), "http"))
                    l->type = MXR_LISTEN_HTTP;
                else
                    return fail(ld, v, "listener %zu: type must be https or http", i + 1);
            } else if (!strcmp(scalar(k), "bind_address")) {
                free(l->bind_address);
                if (!(l->bind_address = string_of(ld, v, "bind_address")))
                    return -1;
            } else if (!strcmp(scalar(k), "port")) {
                long port;
                if (parse_int(ld, v, "port", 0, 65535, &port) < 0)
                    return -1;
                l->port = (int)port;
            } else {
                return fail(ld, k, "listener %zu: unknown key '%s' (expected type, bind_address, port)", i + 1,
                            scalar(k));
            }
        }
        if ((int)l->type < 0 || !l->bind_address || l->port < 0)
            return fail(ld, item, "listener %zu: type, bind_address and port are all required", i + 1);
        unsigned char addr[16];
        if (inet_pton(AF_INET, l->bind_address, addr) != 1 && inet_pton(AF_INET6, l->bind_address, addr) != 1)
            return fail(ld, item, "listener %zu: bind_address '%s' is not a numeric IPv4 or IPv6 address", i + 1,
                        l->bind_address);
    }
    return 0;
}

static int set_strlist(const struct loader *ld, const yaml_node_t *n, const char *what, struct mxr_strlist *l)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, n, "%s must be a list of strings", what);
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    l->items = calloc(count ? count : 1, sizeof *l->items);
    if (!l->items)
        return fail(ld, n, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
        if (!item || item->type != YAML_SCALAR_NODE)
            return fail(ld, item ? item : n, "%s: item %zu must be a string", what, i + 1);
        if (!(l->items[l->n] = string_of(ld, item, what)))
            return -1;
        l->n++;
    }
    return 0;
}

static int set_strmap(const struct loader *ld, const yaml_node_t *n, const char *what, struct mxr_strmap *m)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld, n, "%s must be a map of strings to strings", what);
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    m->keys = calloc(count ? count : 1, sizeof *m->keys);
    m->values = calloc(count ? count : 1, sizeof *m->values);
    if (!m->keys || !m->values)
        return fail(ld, n, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
            return fail(ld, k ? k : n, "%s: keys and values must be strings", what);
        for (size_t j = 0; j < m->n; j++)
            if (!strcmp(m->keys[j], scalar(k)))
                return fail(ld, k, "%s: duplicate key '%s'", what, scalar(k));
        if (!(m->keys[m->n] = string_of(ld, k, what)))
            return -1;
        if (!(m->values[m->n] = string_of(ld, v, what))) {
            free(m->keys[m->n]);
            return -1;
        }
        m->n++;
    }
    return 0;
}

static int set_option(const struct loader *ld, const struct mxr_opt *o, const yaml_node_t *v, struct mxr_config *cfg)
{
    void *p = mxr_opt_field(o, cfg);
    switch (o->type) {
    case OPT_STRING:
    case OPT_PATH:
        if (is_null(v)) {
            if (o->def || (o->flags & OPT_REQUIRED))
                return fail(ld, v, "%s must not be empty", o->name);
            return 0;   /* explicitly unset */
        }
        if (!(*(char **)p = string_of(ld, v, o->name)))
            return -1;
        if (!**(char **)p)
            return fail(ld, v, "%s must not be empty", o->name);
        return 0;
    case OPT_BOOL:
        return parse_bool(ld, v, o->name, p);
    case OPT_INT:
        return parse_int(ld, v, o->name, o->min, o->max, p);
    case OPT_LOGLEVEL: {
        int lv = v->type == YAML_SCALAR_NODE ? mxr_log_level_parse(scalar(v)) : -1;
        if (lv < 0)
            return fail(ld, v, "log_level must be one of error, warn, info, debug");
        *(int *)p = lv;
        return 0;
    }
    case OPT_LISTENERS:
        return set_listeners(ld, v, cfg);
    case OPT_STRLIST:
        return set_strlist(ld, v, o->name, p);
    case OPT_STRMAP:
        return set_strmap(ld, v, o->name, p);
    }
    return fail(ld, v, "%s: internal error: unknown option type", o->name);
}

/* Applies one option's value and runs its validator, blaming line `at`. */
static int apply(const struct loader *ld, const struct mxr_opt *o, const yaml_node_t *v, struct mxr_config *cfg)
{
    if (set_option(ld, o, v, cfg) < 0)
        return -1;
    struct mxr_err why = { 0 };
    if (o->check && o->check(o, cfg, &why) < 0)
        return fail(ld, v, "%s: %s", o->name, why.msg);
    return 0;
}

static const struct mxr_opt *find_option(const char *name)
{
    for (size_t i = 0; i < MXR_CONFIG_N_OPTIONS; i++)
        if (!strcmp(MXR_CONFIG_OPTIONS[i].name, name))
            return &MXR_CONFIG_OPTIONS[i];
    return NULL;
}

/* Loads one YAML document; `seen` (one flag per option) records the options set. */
static int load_document(const char *yaml, size_t len, const char *source, struct mxr_config *cfg, bool *seen,
                         struct mxr_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return mxr_err_set(err, "M_UNKNOWN", "%s: out of memory", source);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        mxr_err_set(err, "M_INVALID_PARAM", "%s:%zu: YAML syntax error: %s%s%s", source,
                    parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown",
                    parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    struct loader ld = { &doc, source, err };
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        /* A second document would be silently ignored otherwise. */
        yaml_document_t extra;
        if (!yaml_parser_load(&parser, &extra)) {
            rc = mxr_err_set(err, "M_INVALID_PARAM", "%s:%zu: YAML syntax error: %s", source,
                             parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown");
        } else {
            if (yaml_document_get_root_node(&extra))
                rc = mxr_err_set(err, "M_INVALID_PARAM", "%s: more than one YAML document", source);
            yaml_document_delete(&extra);
        }
    }
    if (rc == 0 && root && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            rc = fail(&ld, root, "the configuration must be a map of option: value");
        } else {
            for (yaml_node_pair_t *p = root->data.mapping.pairs.start; rc == 0 && p < root->data.mapping.pairs.top;
                 p++) {
                const yaml_node_t *k = yaml_document_get_node(&doc, p->key);
                const yaml_node_t *v = yaml_document_get_node(&doc, p->value);
                if (!k || !v || k->type != YAML_SCALAR_NODE) {
                    rc = fail(&ld, k ? k : root, "option names must be strings");
                    break;
                }
                const struct mxr_opt *o = find_option(scalar(k));
                if (!o) {
                    rc = fail(&ld, k, "unknown option '%s' (see mxrelay --help)", scalar(k));
                } else if (seen[o - MXR_CONFIG_OPTIONS]) {
                    rc = fail(&ld, k, "option '%s' is set twice", o->name);
                } else {
                    seen[o - MXR_CONFIG_OPTIONS] = true;
                    rc = apply(&ld, o, v, cfg);
                }
            }
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- loading ------------------------------------------------------------ */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

/* Rules between options, checked once everything is set. */
static int finish(struct mxr_config *cfg, const char *source, struct mxr_err *err)
{
    if (!cfg->tls_certificate != !cfg->tls_private_key)
        return mxr_err_set(err, "M_INVALID_PARAM", "%s: tls_certificate and tls_private_key go together: set both or neither",
                           source);
    if (!cfg->signing_key_path && !(cfg->signing_key_path = path_join(cfg->data_dir, "signing.key")))
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    return 0;
}

int mxr_config_load_string(struct mxr_config *cfg, const char *yaml, size_t len, const char *source,
                           struct mxr_err *err)
{
    bool seen[MXR_CONFIG_MAX_OPTIONS] = { false };
    memset(cfg, 0, sizeof *cfg);
    if (load_document(yaml, len, source, cfg, seen, err) < 0)
        goto fail;
    for (size_t i = 0; i < MXR_CONFIG_N_OPTIONS; i++) {
        const struct mxr_opt *o = &MXR_CONFIG_OPTIONS[i];
        if (seen[i])
            continue;
        if (o->flags & OPT_REQUIRED) {
            mxr_err_set(err, "M_INVALID_PARAM", "%s: missing required option '%s'", source, o->name);
            goto fail;
        }
        if (!o->def)
            continue;
        char text[512];
        snprintf(text, sizeof text, "%s: %s\n", o->name, o->def);
        bool dseen[MXR_CONFIG_MAX_OPTIONS] = { false };
        if (load_document(text, strlen(text), "<built-in default>", cfg, dseen, err) < 0)
            goto fail;
    }
    if (finish(cfg, source, err) < 0)
        goto fail;
    return 0;
fail:
    mxr_config_free(cfg);
    return -1;
}

int mxr_config_load_file(struct mxr_config *cfg, const char *path, struct mxr_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mxr_err_set(err, "M_UNKNOWN", "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            char *nb = cap > (16u << 20) ? NULL : realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return mxr_err_set(err, "M_UNKNOWN", "%s: too large or out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        free(buf);
        return mxr_err_set(err, "M_UNKNOWN", "%s: read error", path);
    }
    int rc = mxr_config_load_string(cfg, buf, len, path, err);
    free(buf);
    return rc;
}
