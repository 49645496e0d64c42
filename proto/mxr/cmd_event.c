/* mxr content-hash / event-id / redact / check-pdu: events per room version
 * (spec: server-server API "Signing Events", "Checks performed on receipt of
 * a PDU" steps 1-3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/keys.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"
#include "mxr/sign.h"

#define USAGE_CONTENT_HASH "mxr content-hash < event.json"
#define USAGE_EVENT_ID "mxr event-id --room-version V < event.json"
#define USAGE_REDACT "mxr redact --room-version V < event.json"
#define USAGE_CHECK_PDU "mxr check-pdu --room-version V --server NAME --key-id ID --public-key B64 < pdu.json"

/* Event input: duplicate keys are refused (a peer's parser might keep the
 * other one); the canonical value rules are left to the format check and the
 * canonical encoder so that their messages name the rule. */
#define EVENT_JSON_FLAGS MXR_JSON_NO_DUPLICATES

enum { OPT_ROOM_VERSION = 1, OPT_SERVER, OPT_KEY_ID, OPT_PUBLIC_KEY, OPT_MAX };

static int parse_opts(int argc, char **argv, const struct option *opts, const char **vals)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c <= 0 || c >= OPT_MAX)
            return -1;
        vals[c] = optarg;
    }
    return optind == argc ? 0 : -1;
}

static const struct option ROOM_VERSION_OPT[] = {
    { "room-version", required_argument, NULL, OPT_ROOM_VERSION },
    { 0 },
};

/* Common start of the verbs taking --room-version only. */
static int start(int argc, char **argv, const char *usage, const struct mxr_room_version **rv, json_t **ev)
{
    const char *vals[OPT_MAX] = {0};
    if (parse_opts(argc, argv, ROOM_VERSION_OPT, vals) < 0 || !vals[OPT_ROOM_VERSION])
        return cli_usage(usage);
    struct mxr_err err = {0};
    if (!(*rv = mxr_room_version_get(vals[OPT_ROOM_VERSION], &err)))
        return cli_fail_err(argv[0], &err);
    if (!(*ev = cli_read_json(EVENT_JSON_FLAGS)))
        return CLI_FAIL;
    if (!json_is_object(*ev)) {
        json_decref(*ev);
        return cli_fail(argv[0], "input is not a JSON object");
    }
    return CLI_OK;
}

int cmd_content_hash(int argc, char **argv)
{
    if (argc != 1)
        return cli_usage(USAGE_CONTENT_HASH);
    json_t *ev = cli_read_json(EVENT_JSON_FLAGS);
    if (!ev)
        return CLI_FAIL;
    struct mxr_err err = {0};
    char h[44];
    int rc = CLI_OK;
    if (mxr_event_content_hash(ev, h, &err) < 0)
        rc = cli_fail_err(argv[0], &err);
    else
        printf("%s\n", h);
    json_decref(ev);
    return rc;
}

int cmd_event_id(int argc, char **argv)
{
    const struct mxr_room_version *rv;
    json_t *ev;
    int rc = start(argc, argv, USAGE_EVENT_ID, &rv, &ev);
    if (rc != CLI_OK)
        return rc;
    struct mxr_err err = {0};
    char id[MXR_ID_MAX + 1];
    if (mxr_event_compute_id(ev, rv, id, &err) < 0)
        rc = cli_fail_err(argv[0], &err);
    else
        printf("%s\n", id);
    json_decref(ev);
    return rc;
}

/* Room versions 1-5 events may hold integers beyond 2^53 (appendices,
 * Canonical JSON warning): printed as written, as their hashes cover them. */
static int print_event(const char *verb, const json_t *ev, const struct mxr_room_version *rv)
{
    return cli_print_json(verb, ev, !rv->strict_canonical_json);
}

int cmd_redact(int argc, char **argv)
{
    const struct mxr_room_version *rv;
    json_t *ev;
    int rc = start(argc, argv, USAGE_REDACT, &rv, &ev);
    if (rc != CLI_OK)
        return rc;
    struct mxr_err err = {0};
    json_t *r = mxr_event_redact(ev, rv, &err);
    rc = r ? print_event(argv[0], r, rv) : cli_fail_err(argv[0], &err);
    json_decref(r);
    json_decref(ev);
    return rc;
}

/* Steps 1-3 of the checks on receipt of a PDU with one known key. Silent on
 * success; otherwise one line naming the failed check. */
int cmd_check_pdu(int argc, char **argv)
{
    static const struct option opts[] = {
        { "room-version", required_argument, NULL, OPT_ROOM_VERSION },
        { "server", required_argument, NULL, OPT_SERVER },
        { "key-id", required_argument, NULL, OPT_KEY_ID },
        { "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
        { 0 },
    };
    const char *vals[OPT_MAX] = {0};
    if (parse_opts(argc, argv, opts, vals) < 0 || !vals[OPT_ROOM_VERSION] || !vals[OPT_SERVER] ||
        !vals[OPT_KEY_ID] || !vals[OPT_PUBLIC_KEY])
        return cli_usage(USAGE_CHECK_PDU);
    struct mxr_err err = {0};
    const struct mxr_room_version *rv = mxr_room_version_get(vals[OPT_ROOM_VERSION], &err);
    if (!rv)
        return cli_fail_err(argv[0], &err);
    struct mxr_single_key key = { .server = vals[OPT_SERVER], .key_id = vals[OPT_KEY_ID] };
    if (mxr_key_decode_public(vals[OPT_PUBLIC_KEY], key.public_key, &err) < 0)
        return cli_fail(argv[0], "--public-key: %s", err.msg);
    struct mxr_verify_keys keys = { .lookup = mxr_single_key_lookup, .ctx = &key };

    json_t *pdu = cli_read_json(EVENT_JSON_FLAGS);
    if (!pdu)
        return CLI_FAIL;
    int rc = CLI_OK;
    if (mxr_pdu_check_format(pdu, rv, 0, &err) < 0)
        rc = cli_fail(argv[0], "format check failed: %s: %s", err.errcode, err.msg);
    else if (mxr_pdu_check_signatures(pdu, rv, &keys, &err) < 0)
        rc = cli_fail(argv[0], "signature check failed: %s: %s", err.errcode, err.msg);
    else if (mxr_pdu_check_hash(pdu, &err) != 0)
        rc = cli_fail(argv[0], "hash check failed: %s: %s", err.errcode, err.msg);
    json_decref(pdu);
    return rc;
}
