/* Shared plumbing for the `mxr` command's verbs. Exit codes: 0 success,
 * 1 invalid input or negative verdict (one line on stderr), 2 usage error. */
#ifndef MXR_CLI_H
#define MXR_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mxr/error.h"
#include "mxr/roomver.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Reads all of stdin (malloc'd, NUL-terminated). NULL on I/O error. */
char *cli_read_stdin(size_t *len);

/* Reads stdin and parses it with mxr_json_parse(flags). On failure prints the
 * reason and returns NULL. */
json_t *cli_read_json(unsigned flags);

/* Prints "mxr VERB: message" on stderr, returns CLI_FAIL. */
int cli_fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail_err(const char *verb, const struct mxr_err *err);

/* Prints the usage line on stderr, returns CLI_USAGE. */
int cli_usage(const char *usage);

/* Writes the canonical JSON of v and a newline to stdout; CLI_OK or CLI_FAIL.
 * lax: integers beyond 2^53 are written as they are (room versions 1-5,
 * whose hashes cover them; mxr_canonical_json_lax). */
int cli_print_canonical(const char *verb, const json_t *v);
int cli_print_json(const char *verb, const json_t *v, bool lax);

/* For verbs whose only option is --room-version V: CLI_OK with *rv set, else
 * the exit code to return (usage, or an unsupported version). */
int cli_room_version_only(int argc, char **argv, const char *usage, const struct mxr_room_version **rv);

/* Verbs (one file each under proto/mxr/). argv[0] is the verb name. */
int cmd_canonical(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_content_hash(int argc, char **argv);
int cmd_event_id(int argc, char **argv);
int cmd_redact(int argc, char **argv);
int cmd_check_pdu(int argc, char **argv);
int cmd_auth(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_realm(int argc, char **argv);

#endif
