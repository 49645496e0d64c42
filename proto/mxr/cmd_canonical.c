/* mxr canonical: the canonical JSON of the input, then one newline (spec:
 * appendices, "Canonical JSON").
 *
 * Numbers: the appendix's own example turns {"a": -0, "b": 1e10} into
 * {"a":0,"b":10000000000}, so a number written with a fraction or exponent
 * whose value is a whole number (1e10, 1.0, -0.0, 1E2) is printed as that
 * integer. Anything else the encoding cannot hold is refused with exit 1:
 * a value with a fractional part (1.5, 1e-3: "Float values are not
 * permitted") and integers outside [-(2^53)+1, 2^53-1], however written.
 * Whole-number detection works on the IEEE double jansson parsed, the
 * representation the spec's range rationale is about.
 */
#include <math.h>

#include "cli.h"
#include "mxr/json.h"

#define WALK_MAX_DEPTH 4096   /* the parser stops far earlier; bounds recursion */

/* Below this magnitude every double converts to a 64-bit integer exactly. */
#define TWO_POW_63 9223372036854775808.0

/* A whole-number float as an integer, or NULL to leave it as it is (the
 * strict check then names it as a float or as out of range). */
static json_t *as_integer(const json_t *real)
{
    double d = json_real_value(real);
    if (!isfinite(d) || d >= TWO_POW_63 || d < -TWO_POW_63)
        return NULL;
    json_int_t i = (json_int_t)d;   /* truncates; -0.0 becomes 0 */
    return (double)i == d ? json_integer(i) : NULL;
}

/* Replaces every whole-number float in v by the integer. -1 on OOM. */
static int integralise(json_t *v, int depth)
{
    if (depth > WALK_MAX_DEPTH)
        return 0;   /* left for the strict check to report */
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            json_t *m = json_object_iter_value(it);
            if (json_is_real(m)) {
                json_t *i = as_integer(m);
                if (i && json_object_iter_set_new(v, it, i) != 0)
                    return -1;
            } else if (integralise(m, depth + 1) < 0) {
                return -1;
            }
        }
    } else if (json_is_array(v)) {
        for (size_t k = 0; k < json_array_size(v); k++) {
            json_t *m = json_array_get(v, k);
            if (json_is_real(m)) {
                json_t *i = as_integer(m);
                if (i && json_array_set_new(v, k, i) != 0)
                    return -1;
            } else if (integralise(m, depth + 1) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int cmd_canonical(int argc, char **argv)
{
    if (argc != 1)
        return cli_usage("mxr canonical < input.json");
    /* The value rules are applied below, after whole-number floats have
     * become integers; duplicate keys stay refused at parse time. */
    json_t *v = cli_read_json(MXR_JSON_NO_DUPLICATES);
    if (!v)
        return CLI_FAIL;
    int rc;
    struct mxr_err err = {0};
    if (json_is_real(v)) {
        json_t *i = as_integer(v);
        if (i) {
            json_decref(v);
            v = i;
        }
    }
    if (integralise(v, 0) < 0)
        rc = cli_fail("canonical", "out of memory");
    else if (mxr_json_check_strict(v, &err) < 0)
        rc = cli_fail("canonical", "invalid input: %s: %s", err.errcode, err.msg);
    else
        rc = cli_print_canonical("canonical", v);
    json_decref(v);
    return rc;
}
