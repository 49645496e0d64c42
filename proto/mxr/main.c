/* mxr: the protocol library on the command line. JSON on stdin, result on
 * stdout; exit 0 success, 1 invalid input or negative verdict, 2 usage. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cli.h"

static const struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} VERBS[] = {
    { "canonical",    cmd_canonical,    "canonical JSON of the input" },
    { "keygen",       cmd_keygen,       "new ed25519 key in signing.key format [--version V]" },
    { "pubkey",       cmd_pubkey,       "public key of --key FILE" },
    { "sign",         cmd_sign,         "sign the input object: --server NAME --key FILE" },
    { "verify",       cmd_verify,       "verify a signature: --server NAME --key-id ID --public-key B64" },
    { "content-hash", cmd_content_hash, "content hash of an event" },
    { "event-id",     cmd_event_id,     "event ID: --room-version V" },
    { "redact",       cmd_redact,       "redacted event: --room-version V" },
    { "check-pdu",    cmd_check_pdu,    "check a PDU: --room-version V --server NAME --key-id ID --public-key B64" },
    { "auth",         cmd_auth,         "authorise an event against auth events: --room-version V" },
    { "resolve",      cmd_resolve,      "resolve state sets: --room-version V" },
    { "realm",        cmd_realm,        "PIN-protected key recovery: register | recover | delete" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mxr VERB [OPTIONS] < input.json\n\nverbs:\n");
    for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++)
        fprintf(f, "  %-13s %s\n", VERBS[i].name, VERBS[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mxr %s\n", PACKAGE_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof VERBS / sizeof VERBS[0]; i++)
        if (!strcmp(argv[1], VERBS[i].name))
            return VERBS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mxr: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
