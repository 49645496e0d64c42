/* libFuzzer target for proto/json.c. For every flag set: parsing never
 * crashes and always explains a failure; a value accepted in strict mode
 * passes mxr_json_check_strict and canonicalises; canonical output parses
 * back (strict, no duplicates) to an equal value whose canonical form is the
 * same bytes (canonical(canonical(x)) == canonical(x)). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const struct mxr_err *err)
{
    fprintf(stderr, "fuzz_json: %s: %s: %s\n", what, err->errcode ? err->errcode : "(none)",
            err->msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned flagsets[] = { 0, MXR_JSON_STRICT, MXR_JSON_NO_DUPLICATES,
                                         MXR_JSON_SIGNED };
    for (size_t f = 0; f < sizeof flagsets / sizeof flagsets[0]; f++) {
        unsigned flags = flagsets[f];
        struct mxr_err err = { 0 };
        json_t *v = mxr_json_parse((const char *)data, size, flags, &err);
        if (!v) {
            if (!err.errcode || !err.msg[0] || strchr(err.msg, '\n'))
                die("parse failed without a proper error", &err);
            continue;
        }
        if ((flags & MXR_JSON_STRICT) && mxr_json_check_strict(v, &err) != 0)
            die("strict parse accepted what check_strict refuses", &err);
        size_t len1;
        char *c1 = mxr_canonical_json(v, &len1, &err);
        if (!c1) {
            if (flags & MXR_JSON_STRICT)
                die("strict value does not canonicalise", &err);
            json_decref(v);
            continue;
        }
        if (strlen(c1) != len1 && !memchr(c1, '\0', len1))
            die("length mismatch", &err);
        json_t *v2 = mxr_json_parse(c1, len1, MXR_JSON_SIGNED, &err);
        if (!v2)
            die("canonical output does not parse", &err);
        if (!json_equal(v, v2))
            die("canonical output parses to a different value", &err);
        size_t len2;
        char *c2 = mxr_canonical_json(v2, &len2, &err);
        if (!c2)
            die("canonical output does not canonicalise", &err);
        if (len1 != len2 || memcmp(c1, c2, len1) != 0)
            die("canonical(canonical(x)) != canonical(x)", &err);
        free(c1);
        free(c2);
        json_decref(v2);
        json_decref(v);
    }
    return 0;
}
