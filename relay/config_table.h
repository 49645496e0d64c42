/* The option table of relay/config.c, shared by the files that read it
 * (config_yaml.c: the loader; config_gen.c: --generate-config and --help).
 * Internal to the configuration module. */
#ifndef MXR_RELAY_CONFIG_TABLE_H
#define MXR_RELAY_CONFIG_TABLE_H

#include <stddef.h>

#include "relay/config.h"

enum mxr_opt_type { OPT_STRING, OPT_PATH, OPT_BOOL, OPT_INT, OPT_LOGLEVEL, OPT_LISTENERS, OPT_STRLIST, OPT_STRMAP };

enum mxr_opt_flags {
    OPT_REQUIRED = 1u << 0,   /* no default: the file must set it */
    OPT_GENERATED = 1u << 1,  /* --generate-config writes the value given on its command line */
};

struct mxr_opt;
/* Checks the value just stored in cfg; fills err with a message without location. */
typedef int (*mxr_opt_check_fn)(const struct mxr_opt *o, const struct mxr_config *cfg, struct mxr_err *err);

struct mxr_opt {
    const char *name;
    enum mxr_opt_type type;
    size_t offset;
    const char *def;       /* YAML text after "name: "; NULL: unset unless the file sets it */
    const char *example;   /* shown commented out in the generated file when def is NULL */
    long min, max;         /* OPT_INT bounds */
    mxr_opt_check_fn check;
    unsigned flags;
    const char *doc;       /* lines separated by \n */
};

#define MXR_CONFIG_MAX_OPTIONS 64   /* bound of the per-load "seen" flags */

extern const struct mxr_opt MXR_CONFIG_OPTIONS[];
extern const size_t MXR_CONFIG_N_OPTIONS;
extern const char *const MXR_CONFIG_TYPE_NAMES[];

static inline void *mxr_opt_field(const struct mxr_opt *o, struct mxr_config *cfg)
{
    return (char *)cfg + o->offset;
}

static inline const void *mxr_opt_cfield(const struct mxr_opt *o, const struct mxr_config *cfg)
{
    return (const char *)cfg + o->offset;
}

/* Frees one option's value and resets it. */
void mxr_opt_free(const struct mxr_opt *o, struct mxr_config *cfg);

#endif
