/* The configuration's documentation: the commented file written by
 * --generate-config and the option reference of --help, both from the table. */
#include "relay/config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <config.h>   /* autoconf's (PACKAGE_VERSION); relay/config.h is ours */
#include "mxr/ids.h"
#include "relay/config_table.h"

/* ---- generated file and reference -------------------------------------- */

struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 1024);
        while (n >= 0 && cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *ns = n < 0 ? NULL : realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A YAML double-quoted scalar; control characters are refused by the caller. */
static void sb_quoted(struct sbuf *b, const char *s)
{
    sb_add(b, "\"");
    for (; *s; s++)
        sb_add(b, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    sb_add(b, "\"");
}

static void sb_comment(struct sbuf *b, const char *doc, const char *indent)
{
    for (const char *p = doc; *p;) {
        size_t n = strcspn(p, "\n");
        sb_add(b, "%s# %.*s\n", indent, (int)n, p);
        p += n;
        if (*p)
            p++;
    }
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

char *mxr_config_generate(const char *server_name, const char *data_dir, struct mxr_err *err)
{
    if (mxr_server_name_parse(server_name, NULL, err) < 0)
        return NULL;
    if (!data_dir || !*data_dir || has_control(data_dir)) {
        mxr_err_set(err, "M_INVALID_PARAM", "the data directory must be a non-empty path without control characters");
        return NULL;
    }
    struct sbuf b = { 0 };
    sb_add(&b, "# mxrelay %s configuration, written by `mxrelay --generate-config`.\n"
               "# Every option is listed with its default; `mxrelay --help` describes them.\n"
               "# Options that are commented out are unset.\n\n",
           PACKAGE_VERSION);
    for (size_t i = 0; i < MXR_CONFIG_N_OPTIONS; i++) {
        const struct mxr_opt *o = &MXR_CONFIG_OPTIONS[i];
        sb_comment(&b, o->doc, "");
        if (o->flags & OPT_GENERATED) {
            sb_add(&b, "%s: ", o->name);
            sb_quoted(&b, !strcmp(o->name, "server_name") ? server_name : data_dir);
            sb_add(&b, "\n\n");
        } else if (o->def) {
            sb_add(&b, "%s:%s%s\n\n", o->name, o->def[0] == '\n' ? "" : " ", o->def);
        } else {
            sb_add(&b, "#%s: \"%s\"\n\n", o->name, o->example ? o->example : "");
        }
    }
    if (b.oom) {
        free(b.s);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    return b.s;
}

void mxr_config_print_reference(FILE *out)
{
    for (size_t i = 0; i < MXR_CONFIG_N_OPTIONS; i++) {
        const struct mxr_opt *o = &MXR_CONFIG_OPTIONS[i];
        fprintf(out, "  %s (%s", o->name, MXR_CONFIG_TYPE_NAMES[o->type]);
        if (o->flags & OPT_REQUIRED) {
            fprintf(out, ", required");
        } else if (o->def) {
            fprintf(out, ", default: ");
            bool sep = false, any = false;   /* the block-style default of listeners on one line */
            for (const char *p = o->def; *p; p++) {
                if (*p == '\n') {
                    while (p[1] == ' ')
                        p++;
                    sep = true;
                    continue;
                }
                if (sep && any)
                    fputc(' ', out);
                sep = false;
                any = true;
                fputc(*p, out);
            }
        } else {
            fprintf(out, ", unset by default");
        }
        fprintf(out, ")\n");
        for (const char *p = o->doc; *p;) {
            size_t n = strcspn(p, "\n");
            fprintf(out, "      %.*s\n", (int)n, p);
            p += n;
            if (*p)
                p++;
        }
    }
}
