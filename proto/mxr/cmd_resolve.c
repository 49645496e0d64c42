#include "cli.h"
int cmd_resolve(int argc, char **argv) { return cli_fail(argv[0], "verb pending"); }
