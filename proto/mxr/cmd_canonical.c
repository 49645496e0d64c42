#include "cli.h"
#include "mxr/json.h"
/* mxr canonical: the canonical JSON of the input, then one newline. */
int cmd_canonical(int argc, char **argv)
{
    if (argc != 1)
        return cli_usage("mxr canonical < input.json");
    json_t *v = cli_read_json(MXR_JSON_SIGNED);
    if (!v)
        return CLI_FAIL;
    int rc = cli_print_canonical("canonical", v);
    json_decref(v);
    return rc;
}
