#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"

char *cli_read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, stdin);
        n += r;
        if (r == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

json_t *cli_read_json(unsigned flags)
{
    size_t len;
    char *buf = cli_read_stdin(&len);
    if (!buf) {
        fprintf(stderr, "mxr: cannot read standard input\n");
        return NULL;
    }
    struct mxr_err err = {0};
    json_t *v = mxr_json_parse(buf, len, flags, &err);
    free(buf);
    if (!v)
        fprintf(stderr, "mxr: invalid input: %s: %s\n", err.errcode, err.msg);
    return v;
}

int cli_fail(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mxr %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_fail_err(const char *verb, const struct mxr_err *err)
{
    return cli_fail(verb, "%s: %s", err->errcode ? err->errcode : "M_UNKNOWN", err->msg);
}

int cli_usage(const char *usage)
{
    fprintf(stderr, "usage: %s\n", usage);
    return CLI_USAGE;
}

int cli_print_canonical(const char *verb, const json_t *v)
{
    return cli_print_json(verb, v, false);
}

int cli_room_version_only(int argc, char **argv, const char *usage, const struct mxr_room_version **rv)
{
    static const struct option opts[] = {
        { "room-version", required_argument, NULL, 'v' },
        { 0 },
    };
    const char *version = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'v')
            return cli_usage(usage);
        version = optarg;
    }
    if (optind != argc || !version)
        return cli_usage(usage);
    struct mxr_err err = {0};
    if (!(*rv = mxr_room_version_get(version, &err)))
        return cli_fail_err(argv[0], &err);
    return CLI_OK;
}

int cli_print_json(const char *verb, const json_t *v, bool lax)
{
    struct mxr_err err = {0};
    size_t len;
    char *s = lax ? mxr_canonical_json_lax(v, &len, &err) : mxr_canonical_json(v, &len, &err);
    if (!s)
        return cli_fail_err(verb, &err);
    fwrite(s, 1, len, stdout);
    fputc('\n', stdout);
    free(s);
    return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}
