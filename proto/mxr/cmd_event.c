#include "cli.h"
int cmd_content_hash(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
int cmd_event_id(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
int cmd_redact(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
int cmd_check_pdu(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
