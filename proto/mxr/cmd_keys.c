#include "cli.h"
int cmd_keygen(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
int cmd_pubkey(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
int cmd_sign(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
int cmd_verify(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
