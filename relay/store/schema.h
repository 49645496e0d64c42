/* Schema versioning internals, exposed without <lmdb.h> so the tests can
 * drive migrations and version refusal (tests/store/test_txn.c). */
#ifndef MXR_STORE_SCHEMA_H
#define MXR_STORE_SCHEMA_H

#include <stddef.h>

#include "mxr/error.h"

struct mxr_store_txn;

struct store_migration {
    unsigned from;           /* migrates from `from` to `from + 1` */
    int (*run)(struct mxr_store_txn *t, struct mxr_err *err);
};

/* Applies steps to bring a store from `have` to `want` inside txn (a write
 * transaction); fails naming the first missing step. */
int store_schema_migrate(struct mxr_store_txn *t, unsigned have, unsigned want,
                         const struct store_migration *steps, size_t n_steps, struct mxr_err *err);

/* Reads / overwrites the schema version record (the latter for tests that
 * fake a store written by another version). */
int store_schema_version(struct mxr_store_txn *t, unsigned *out, struct mxr_err *err);
int store_schema_set_version(struct mxr_store_txn *t, unsigned v, struct mxr_err *err);

#endif
