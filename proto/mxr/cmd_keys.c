/* mxr keygen / pubkey / sign / verify: signing keys and JSON signatures
 * (spec: appendices "Signing JSON"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mxr/json.h"
#include "mxr/keys.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"

#define USAGE_KEYGEN "mxr keygen [--version V] [--out FILE]"
#define USAGE_PUBKEY "mxr pubkey --key FILE"
#define USAGE_SIGN "mxr sign --server NAME --key FILE [--room-version V] < object.json"
#define USAGE_VERIFY "mxr verify --server NAME --key-id ID --public-key B64 < signed.json"

enum { OPT_VERSION = 1, OPT_OUT, OPT_KEY, OPT_SERVER, OPT_KEY_ID, OPT_PUBLIC_KEY, OPT_ROOM_VERSION };

/* Parses the verb's options into vals[OPT_*]; -1 on an unknown option or a
 * stray argument. */
static int parse_opts(int argc, char **argv, const struct option *opts, const char **vals)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c <= 0 || c > OPT_ROOM_VERSION)
            return -1;
        vals[c] = optarg;
    }
    return optind == argc ? 0 : -1;
}

/* A signed PDU of room versions 1-5 may hold integers beyond 2^53
 * (appendices, Canonical JSON warning): printed as written and signed so. */
static int print_signed(const json_t *obj, const struct mxr_room_version *rv)
{
    if (!rv || rv->strict_canonical_json)
        return cli_print_canonical("sign", obj);
    struct mxr_err err = {0};
    size_t len;
    char *s = mxr_canonical_json_lax(obj, &len, &err);
    if (!s)
        return cli_fail_err("sign", &err);
    fwrite(s, 1, len, stdout);
    fputc('\n', stdout);
    free(s);
    return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static void print_public(const struct mxr_signing_key *k)
{
    char pub[MXR_KEY_B64_LEN + 1];
    mxr_key_public_b64(k, pub);
    printf("%s %s\n", k->key_id, pub);
}

/* mxr keygen: a new key in signing.key format on stdout, or with --out in a
 * new 0600 file (then the key ID and public key are printed). */
int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "version", required_argument, NULL, OPT_VERSION },
        { "out", required_argument, NULL, OPT_OUT },
        { 0 },
    };
    const char *vals[OPT_ROOM_VERSION + 1] = {0};
    if (parse_opts(argc, argv, opts, vals) < 0)
        return cli_usage(USAGE_KEYGEN);
    struct mxr_err err = {0};
    struct mxr_signing_key k;
    if (mxr_key_generate(&k, vals[OPT_VERSION], &err) < 0)
        return cli_fail_err("keygen", &err);
    int rc = CLI_OK;
    if (vals[OPT_OUT]) {
        if (mxr_key_save(&k, vals[OPT_OUT], &err) < 0)
            rc = cli_fail_err("keygen", &err);
        else
            print_public(&k);
    } else {
        char line[MXR_KEY_VERSION_MAX + MXR_KEY_B64_LEN + 16];
        if (mxr_key_format(&k, line, sizeof line, &err) < 0)
            rc = cli_fail_err("keygen", &err);
        else
            fputs(line, stdout);
    }
    mxr_key_wipe(&k);
    if (rc == CLI_OK && fflush(stdout) != 0)
        rc = cli_fail("keygen", "cannot write standard output");
    return rc;
}

int cmd_pubkey(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, OPT_KEY },
        { 0 },
    };
    const char *vals[OPT_ROOM_VERSION + 1] = {0};
    if (parse_opts(argc, argv, opts, vals) < 0 || !vals[OPT_KEY])
        return cli_usage(USAGE_PUBKEY);
    struct mxr_err err = {0};
    struct mxr_signing_key k;
    if (mxr_key_load(&k, vals[OPT_KEY], &err) < 0)
        return cli_fail_err("pubkey", &err);
    print_public(&k);
    mxr_key_wipe(&k);
    return fflush(stdout) == 0 ? CLI_OK : cli_fail("pubkey", "cannot write standard output");
}

/* mxr sign: signs the input object (appendices "Signing JSON"); with
 * --room-version the input is a PDU, hashed and signed as an event
 * (server-server API "Adding hashes and signatures to outgoing events"). */
int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, OPT_SERVER },
        { "key", required_argument, NULL, OPT_KEY },
        { "room-version", required_argument, NULL, OPT_ROOM_VERSION },
        { 0 },
    };
    const char *vals[OPT_ROOM_VERSION + 1] = {0};
    if (parse_opts(argc, argv, opts, vals) < 0 || !vals[OPT_SERVER] || !vals[OPT_KEY])
        return cli_usage(USAGE_SIGN);
    struct mxr_err err = {0};
    const struct mxr_room_version *rv = NULL;
    if (vals[OPT_ROOM_VERSION] && !(rv = mxr_room_version_get(vals[OPT_ROOM_VERSION], &err)))
        return cli_fail_err("sign", &err);
    struct mxr_signing_key k;
    if (mxr_key_load(&k, vals[OPT_KEY], &err) < 0)
        return cli_fail_err("sign", &err);
    int rc;
    const char *server = vals[OPT_SERVER];
    json_t *obj = cli_read_json(rv ? MXR_JSON_NO_DUPLICATES : MXR_JSON_SIGNED);
    if (!obj)
        rc = CLI_FAIL;
    else if (!json_is_object(obj))
        rc = cli_fail("sign", "input is not a JSON object");
    else if ((rv ? mxr_pdu_sign(obj, rv, server, &k, &err) : mxr_sign_json(obj, server, &k, &err)) < 0)
        rc = cli_fail_err("sign", &err);
    else
        rc = print_signed(obj, rv);
    json_decref(obj);
    mxr_key_wipe(&k);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, OPT_SERVER },
        { "key-id", required_argument, NULL, OPT_KEY_ID },
        { "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
        { 0 },
    };
    const char *vals[OPT_ROOM_VERSION + 1] = {0};
    if (parse_opts(argc, argv, opts, vals) < 0 || !vals[OPT_SERVER] || !vals[OPT_KEY_ID] || !vals[OPT_PUBLIC_KEY])
        return cli_usage(USAGE_VERIFY);
    struct mxr_err err = {0};
    uint8_t pk[32];
    if (mxr_key_decode_public(vals[OPT_PUBLIC_KEY], pk, &err) < 0)
        return cli_fail("verify", "--public-key: %s", err.msg);
    json_t *obj = cli_read_json(MXR_JSON_SIGNED);
    if (!obj)
        return CLI_FAIL;
    int rc = CLI_OK;
    if (mxr_verify_json(obj, vals[OPT_SERVER], vals[OPT_KEY_ID], pk, &err) < 0)
        rc = cli_fail_err("verify", &err);
    json_decref(obj);
    return rc;
}
