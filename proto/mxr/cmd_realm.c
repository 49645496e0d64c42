/* mxr realm register|recover|delete: PIN-protected key recovery across the
 * realms of several relays (design: pin-recovery-and-payments.md §2.3, §6.8,
 * §6.10), the I/O edge of the client library (mxr/realm_client.h): HTTP with
 * libcurl, the OpenID token from the user's homeserver
 * (POST /_matrix/client/v3/user/{userId}/openid/request_token), the PIN
 * from a file or standard input (never the command line, which `ps` shows).
 *
 * Output: a JSON object on stdout; one line per realm on stderr. Exit 0
 * success, 1 failure (wrong PIN, wiped shares, unreachable realms), 2 usage. */
#include <curl/curl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mxr/ids.h"
#include "mxr/json.h"
#include "mxr/realm_client.h"

#define USAGE                                                                                                    \
    "mxr realm register --homeserver URL --user ID --access-token-file F --pin-file F\n"                          \
    "                   --realm URL[=OPERATOR] (2+ times) --config-out FILE\n"                                     \
    "                   [--threshold T] [--guesses G] [--secret-file F] [--ca-file F]\n"                           \
    "       mxr realm recover  --homeserver URL --user ID --access-token-file F --pin-file F --config FILE [--ca-file F]\n" \
    "       mxr realm delete   --homeserver URL --user ID --access-token-file F --config FILE [--ca-file F]\n"        \
    "  --pin-file - and --access-token-file - read standard input (not both).\n"                                  \
    "  register without --secret-file makes a fresh 32-byte recovery root (the SSSS key)."

#define HTTP_MAX (1u << 20)
#define TIMEOUT_MS 30000L

enum {
    O_HOMESERVER = 1, O_USER, O_TOKEN_FILE, O_PIN_FILE, O_REALM, O_CONFIG_OUT, O_CONFIG, O_THRESHOLD, O_GUESSES,
    O_SECRET_FILE, O_CA_FILE, O_MAX
};

struct opts {
    const char *v[O_MAX];
    const char *realms[MXR_REALM_CLIENT_MAX];
    size_t n_realms;
};

struct net {
    CURL *curl;
    const char *homeserver;
    const char *user;
    const char *token;
    const char *ca_file;
};

/* ---- HTTP with libcurl -------------------------------------------------------------- */

struct buf {
    char *p;
    size_t n;
    bool over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    if (b->n + n > HTTP_MAX) {
        b->over = true;
        return 0;
    }
    char *np = realloc(b->p, b->n + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, ptr, n);
    b->p = np;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* One request; 0 with status and parsed body (NULL when not JSON), -1 when
 * no response came back. */
static int http(struct net *net, const char *method, const char *url, const json_t *body, const char *bearer,
                long *status, json_t **out, struct mxr_err *err)
{
    CURL *c = net->curl;
    curl_easy_reset(c);
    struct buf b = { 0 };
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[1100];
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    if (net->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, net->ca_file);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload ? payload : "{}");
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (payload) {
        sodium_memzero(payload, strlen(payload));
        free(payload);
    }
    sodium_memzero(auth, sizeof auth);
    if (rc != CURLE_OK) {
        free(b.p);
        return mxr_err_set(err, "M_UNKNOWN", "%s: %s", url, b.over ? "response too large" : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    *out = b.p ? mxr_json_parse(b.p, b.n, 0, NULL) : NULL;
    if (b.p) {
        sodium_memzero(b.p, b.n);
        free(b.p);
    }
    return 0;
}

static int t_http(void *ctx, const struct mxr_realm_info *realm, const char *method, const char *path,
                  const json_t *body, long *status, json_t **response, struct mxr_err *err)
{
    char url[MXR_REALM_URL_MAX + 256];
    snprintf(url, sizeof url, "%s%s", realm->url, path);
    return http(ctx, method, url, body, NULL, status, response, err);
}

/* The client-server API's OpenID token (openid.yaml), one per realm. */
static int t_openid(void *ctx, const struct mxr_realm_info *realm, char token_out[MXR_REALM_OPENID_TOKEN_MAX],
                    char ms_out[256], struct mxr_err *err)
{
    struct net *net = ctx;
    (void)realm;
    char esc[800], url[1200];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)net->user; *p && o + 4 < sizeof esc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            esc[o++] = (char)*p;
        else
            o += (size_t)snprintf(esc + o, sizeof esc - o, "%%%02X", *p);
    }
    esc[o] = '\0';
    snprintf(url, sizeof url, "%s/_matrix/client/v3/user/%s/openid/request_token", net->homeserver, esc);
    long status = 0;
    json_t *b = NULL;
    json_t *empty = json_object();
    int rc = http(net, "POST", url, empty, net->token, &status, &b, err);
    json_decref(empty);
    if (rc < 0)
        return -1;
    const char *tok = json_string_value(json_object_get(b, "access_token"));
    const char *ms = json_string_value(json_object_get(b, "matrix_server_name"));
    if (status != 200 || !tok || !ms || strlen(tok) >= MXR_REALM_OPENID_TOKEN_MAX || strlen(ms) >= 256) {
        const char *e = json_string_value(json_object_get(b, "error"));
        rc = mxr_err_set(err, status == 401 ? "M_UNKNOWN_TOKEN" : "M_UNKNOWN",
                         "homeserver refused an OpenID token (HTTP %ld%s%s)", status, e ? ": " : "", e ? e : "");
    } else {
        snprintf(token_out, MXR_REALM_OPENID_TOKEN_MAX, "%s", tok);
        snprintf(ms_out, 256, "%s", ms);
    }
    json_decref(b);
    return rc;
}

static void t_sleep(void *ctx, long ms)
{
    (void)ctx;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- input --------------------------------------------------------------------- */

/* The first line of a file ("-": stdin), without the newline. */
static char *read_line(const char *path, size_t max)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return NULL;
    char *line = sodium_malloc(max + 2);
    if (!line)
        return NULL;
    if (!fgets(line, (int)max + 2, f))
        line[0] = '\0';
    if (f != stdin)
        fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

static int read_file(const char *path, uint8_t *out, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *len = fread(out, 1, cap, f);
    int extra = fgetc(f);
    fclose(f);
    return extra == EOF ? 0 : -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "homeserver", required_argument, NULL, O_HOMESERVER },
        { "user", required_argument, NULL, O_USER },
        { "access-token-file", required_argument, NULL, O_TOKEN_FILE },
        { "pin-file", required_argument, NULL, O_PIN_FILE },
        { "realm", required_argument, NULL, O_REALM },
        { "config-out", required_argument, NULL, O_CONFIG_OUT },
        { "config", required_argument, NULL, O_CONFIG },
        { "threshold", required_argument, NULL, O_THRESHOLD },
        { "guesses", required_argument, NULL, O_GUESSES },
        { "secret-file", required_argument, NULL, O_SECRET_FILE },
        { "ca-file", required_argument, NULL, O_CA_FILE },
        { 0 },
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c <= 0 || c >= O_MAX)
            return -1;
        if (c == O_REALM) {
            if (o->n_realms == MXR_REALM_CLIENT_MAX)
                return -1;
            o->realms[o->n_realms++] = optarg;
        } else {
            o->v[c] = optarg;
        }
    }
    return optind == argc ? 0 : -1;
}

static void print_report(const char *verb, const struct mxr_realm_config *cfg, const struct mxr_realm_report *rep)
{
    for (size_t i = 0; i < rep->n; i++)
        fprintf(stderr, "mxr realm %s: %-28s %s%s%s\n", verb, cfg->realms[i].server_name,
                mxr_realm_status_name(rep->realms[i].status), rep->realms[i].detail[0] ? ": " : "",
                rep->realms[i].detail);
    if (rep->lied)
        fprintf(stderr, "mxr realm %s: WARNING: %u realm(s) failed a check: the operator or a proxy tampered "
                "with them; replace them (recover, then register with a new realm set)\n", verb, rep->lied);
}

static int load_config(const char *path, const char *user, struct mxr_realm_config *cfg)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    struct mxr_err err = { 0 };
    if (!j)
        return cli_fail("realm", "%s: %s", path, je.text);
    int rc = mxr_realm_config_from_json(cfg, j, user, &err);
    json_decref(j);
    return rc < 0 ? cli_fail_err("realm", &err) : CLI_OK;
}

/* ---- the verbs -------------------------------------------------------------------- */

static int run_register(struct mxr_realm_client *c, struct net *net, const struct opts *o, const char *pin)
{
    struct mxr_err err = { 0 };
    if (o->n_realms < 2 || !o->v[O_CONFIG_OUT])
        return cli_usage(USAGE);
    unsigned t = o->v[O_THRESHOLD] ? (unsigned)atoi(o->v[O_THRESHOLD]) : (unsigned)(o->n_realms / 2 + 1);
    unsigned g = o->v[O_GUESSES] ? (unsigned)atoi(o->v[O_GUESSES]) : 5;
    struct mxr_realm_info info[MXR_REALM_CLIENT_MAX];
    memset(info, 0, sizeof info);
    for (size_t i = 0; i < o->n_realms; i++) {
        const char *eq = strchr(o->realms[i], '=');
        size_t ul = eq ? (size_t)(eq - o->realms[i]) : strlen(o->realms[i]);
        if (ul >= sizeof info[i].url)
            return cli_fail("realm", "realm URL too long");
        memcpy(info[i].url, o->realms[i], ul);
        while (ul && info[i].url[ul - 1] == '/')
            info[i].url[--ul] = '\0';
        if (eq)
            snprintf(info[i].operator_name, sizeof info[i].operator_name, "%s", eq + 1);
        if (mxr_realm_discover(c, &info[i], &err) < 0)
            return cli_fail_err("realm", &err);
        fprintf(stderr, "mxr realm register: %s is %s (info signed with %s)\n", info[i].url, info[i].server_name,
                info[i].signing_key_id);
    }
    struct mxr_realm_config cfg;
    if (mxr_realm_config_build(&cfg, info, o->n_realms, t, MXR_REALM_PROFILE_SODIUM1, net->user, &err) < 0)
        return cli_fail_err("realm", &err);
    uint8_t secret[MXR_REALM_SECRET_MAX];
    size_t slen = 32;
    if (o->v[O_SECRET_FILE]) {
        if (read_file(o->v[O_SECRET_FILE], secret, sizeof secret, &slen) < 0 || slen == 0)
            return cli_fail("realm", "%s: cannot read a secret of 1 to %d bytes", o->v[O_SECRET_FILE],
                            MXR_REALM_SECRET_MAX);
    } else {
        randombytes_buf(secret, 32);   /* a fresh recovery root */
    }
    struct mxr_realm_report rep;
    int rc = mxr_realm_register(c, &cfg, (const uint8_t *)pin, strlen(pin), secret, slen, g, &rep, &err);
    print_report("register", &cfg, &rep);
    if (rc < 0) {
        sodium_memzero(secret, sizeof secret);
        return cli_fail_err("realm", &err);
    }
    json_t *j = mxr_realm_config_to_json(&cfg, &err);
    if (!j || json_dump_file(j, o->v[O_CONFIG_OUT], JSON_INDENT(2) | JSON_SORT_KEYS) < 0) {
        json_decref(j);
        sodium_memzero(secret, sizeof secret);
        return cli_fail("realm", "cannot write %s", o->v[O_CONFIG_OUT]);
    }
    json_decref(j);
    json_t *out = json_pack("{s:s, s:i, s:i}", "config", o->v[O_CONFIG_OUT], "realms", (int)cfg.n, "threshold",
                            (int)cfg.threshold);
    if (!o->v[O_SECRET_FILE]) {
        char rk[MXR_REALM_RECOVERY_KEY_MAX], hex[65];
        mxr_realm_recovery_key_encode(rk, secret, &err);
        sodium_bin2hex(hex, sizeof hex, secret, 32);
        json_object_set_new(out, "recovery_key", json_string(rk));
        json_object_set_new(out, "secret_hex", json_string(hex));
        sodium_memzero(rk, sizeof rk);
        sodium_memzero(hex, sizeof hex);
    }
    sodium_memzero(secret, sizeof secret);
    rc = cli_print_canonical("realm", out);
    json_decref(out);
    return rc;
}

static int run_recover(struct mxr_realm_client *c, const struct opts *o, const char *pin, const char *user)
{
    struct mxr_realm_config cfg;
    if (!o->v[O_CONFIG])
        return cli_usage(USAGE);
    if (load_config(o->v[O_CONFIG], user, &cfg) != CLI_OK)
        return CLI_FAIL;
    struct mxr_err err = { 0 };
    struct mxr_realm_report rep;
    uint8_t secret[MXR_REALM_SECRET_MAX];
    size_t slen = 0;
    int rc = mxr_realm_recover(c, &cfg, (const uint8_t *)pin, strlen(pin), secret, &slen, &rep, &err);
    print_report("recover", &cfg, &rep);
    if (rc < 0) {
        json_t *e = json_pack("{s:s, s:s}", "errcode", err.errcode ? err.errcode : "M_UNKNOWN", "error", err.msg);
        if (rep.guesses_remaining >= 0)
            json_object_set_new(e, "guesses_remaining", json_integer(rep.guesses_remaining));
        cli_print_canonical("realm", e);
        json_decref(e);
        return cli_fail_err("realm", &err);
    }
    char hex[2 * MXR_REALM_SECRET_MAX + 1];
    sodium_bin2hex(hex, sizeof hex, secret, slen);
    json_t *out = json_pack("{s:s}", "secret_hex", hex);
    if (slen == 32) {
        char rk[MXR_REALM_RECOVERY_KEY_MAX];
        mxr_realm_recovery_key_encode(rk, secret, &err);
        json_object_set_new(out, "recovery_key", json_string(rk));
        sodium_memzero(rk, sizeof rk);
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(hex, sizeof hex);
    rc = cli_print_canonical("realm", out);
    json_decref(out);
    return rc;
}

static int run_delete(struct mxr_realm_client *c, const struct opts *o, const char *user)
{
    struct mxr_realm_config cfg;
    if (!o->v[O_CONFIG])
        return cli_usage(USAGE);
    if (load_config(o->v[O_CONFIG], user, &cfg) != CLI_OK)
        return CLI_FAIL;
    struct mxr_err err = { 0 };
    struct mxr_realm_report rep;
    int rc = mxr_realm_delete(c, &cfg, &rep, &err);
    print_report("delete", &cfg, &rep);
    if (rc < 0)
        return cli_fail_err("realm", &err);
    json_t *out = json_pack("{s:b}", "deleted", 1);
    rc = cli_print_canonical("realm", out);
    json_decref(out);
    return rc;
}

int cmd_realm(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(USAGE);
    const char *verb = argv[1];
    bool reg = !strcmp(verb, "register"), rec = !strcmp(verb, "recover"), del = !strcmp(verb, "delete");
    struct opts o;
    if (!(reg || rec || del) || parse(argc - 1, argv + 1, &o) < 0 || !o.v[O_HOMESERVER] || !o.v[O_USER] ||
        !o.v[O_TOKEN_FILE] || (!del && !o.v[O_PIN_FILE]) ||
        (o.v[O_PIN_FILE] && !strcmp(o.v[O_PIN_FILE], "-") && !strcmp(o.v[O_TOKEN_FILE], "-")))
        return cli_usage(USAGE);
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_fail("realm", "cannot initialise libsodium or libcurl");
    struct mxr_err err = { 0 };
    int rc = CLI_FAIL;
    char *token = read_line(o.v[O_TOKEN_FILE], 1024);
    char *pin = o.v[O_PIN_FILE] ? read_line(o.v[O_PIN_FILE], MXR_REALM_PIN_MAX) : NULL;
    struct net net = { .curl = curl_easy_init(), .homeserver = o.v[O_HOMESERVER], .user = o.v[O_USER],
                       .token = token, .ca_file = o.v[O_CA_FILE] };
    struct mxr_realm_transport tr = { .http = t_http, .openid = t_openid, .sleep_ms = t_sleep, .ctx = &net };
    struct mxr_realm_client c;
    if (!token || !token[0]) {
        rc = cli_fail("realm", "no access token in %s", o.v[O_TOKEN_FILE]);
    } else if (!del && (!pin || !pin[0])) {
        rc = cli_fail("realm", "no PIN in %s", o.v[O_PIN_FILE]);
    } else if (!net.curl) {
        rc = cli_fail("realm", "cannot initialise libcurl");
    } else if (mxr_realm_client_init(&c, &tr, o.v[O_USER], &err) < 0) {
        rc = cli_fail_err("realm", &err);
    } else {
        rc = reg ? run_register(&c, &net, &o, pin) : rec ? run_recover(&c, &o, pin, o.v[O_USER])
                                                         : run_delete(&c, &o, o.v[O_USER]);
        mxr_realm_client_clear(&c);
    }
    if (token)
        sodium_free(token);
    if (pin)
        sodium_free(pin);
    if (net.curl)
        curl_easy_cleanup(net.curl);
    curl_global_cleanup();
    return rc;
}
