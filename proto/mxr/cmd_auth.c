#include "cli.h"
int cmd_auth(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
