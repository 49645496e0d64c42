/* Test fixture for the store: a fresh store in a private temporary
 * directory, and one-line helpers that each run one write submission. */
#ifndef MXR_TESTS_STORE_FIXTURE_H
#define MXR_TESTS_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/store/store.h"

struct fx {
    char dir[512];
    struct mxr_store *s;
    struct mxr_store_txn *r;   /* the read transaction of fx_read */
};

/* Opens a new store in a fresh temporary directory (map 0 = default). */
void fx_open(struct fx *f, size_t map_size);
/* Reopens the same directory (after fx_close_keep). */
void fx_reopen(struct fx *f);
void fx_close_keep(struct fx *f);
/* Closes and removes the directory. */
void fx_close(struct fx *f);
void fx_rmrf(const char *dir);

/* Begins (ending any previous) a read transaction held in f->r. */
struct mxr_store_txn *fx_read(struct fx *f);
void fx_read_end(struct fx *f);

/* An event with generated canonical-looking JSON. prevs/auths NULL-terminated. */
struct fx_event {
    struct mxr_store_event e;
    char json[1024];
    const char *prevs[16];
    const char *auths[16];
};
void fx_event(struct fx_event *x, const char *id, const char *room, const char *type,
              const char *state_key, int64_t depth, const char *const *prevs);

/* Write helpers: each is one mxr_store_write; they return its result so a
 * test can assert success or failure (err may be NULL). */
int fx_room(struct fx *f, const char *room, const char *version, struct mxr_err *err);
int fx_persist(struct fx *f, struct fx_event *x, struct mxr_store_persisted *out, struct mxr_err *err);
int fx_group(struct fx *f, uint64_t parent, const struct mxr_store_state_entry *d, size_t n,
             uint64_t *out, struct mxr_err *err);
int fx_set_current(struct fx *f, const char *room, uint64_t group, struct mxr_err *err);

/* Runs mxr_store_check in a fresh read transaction; asserts it passes. */
void fx_assert_consistent(struct fx *f);

/* Collects IDs from an mxr_store_id_cb into a sorted, comma-joined string. */
struct fx_ids {
    char buf[4096];
    const char *v[256];
    size_t n;
};
int fx_ids_cb(void *arg, const char *id);
/* Sorted join of collected IDs ("" when none). */
const char *fx_ids_sorted(struct fx_ids *ids);

#endif
