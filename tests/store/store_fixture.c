/* Test fixture for the store (see store_fixture.h). */
#include "tests/store/store_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

void fx_rmrf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

void fx_open(struct fx *f, size_t map_size)
{
    memset(f, 0, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/mxr-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    struct mxr_store_options o = {.path = f->dir, .initial_map_size = map_size,
                                  .sync = MXR_STORE_SYNC_NONE};
    struct mxr_err err = {0};
    f->s = mxr_store_open(&o, &err);
    if (!f->s)
        fail_msg("open: %s", err.msg);
}

void fx_reopen(struct fx *f)
{
    struct mxr_store_options o = {.path = f->dir, .sync = MXR_STORE_SYNC_NONE};
    struct mxr_err err = {0};
    f->s = mxr_store_open(&o, &err);
    if (!f->s)
        fail_msg("reopen: %s", err.msg);
}

void fx_close_keep(struct fx *f)
{
    fx_read_end(f);
    mxr_store_close(f->s);
    f->s = NULL;
}

void fx_close(struct fx *f)
{
    fx_close_keep(f);
    fx_rmrf(f->dir);
}

struct mxr_store_txn *fx_read(struct fx *f)
{
    fx_read_end(f);
    struct mxr_err err = {0};
    if (mxr_store_read_begin(f->s, &f->r, &err))
        fail_msg("read_begin: %s", err.msg);
    return f->r;
}

void fx_read_end(struct fx *f)
{
    if (f->r)
        mxr_store_read_end(f->r);
    f->r = NULL;
}

void fx_event(struct fx_event *x, const char *id, const char *room, const char *type,
              const char *state_key, int64_t depth, const char *const *prevs)
{
    memset(x, 0, sizeof *x);
    size_t n = 0;
    for (; prevs && prevs[n]; n++)
        x->prevs[n] = prevs[n];
    snprintf(x->json, sizeof x->json,
             "{\"depth\":%lld,\"event_id\":\"%s\",\"room_id\":\"%s\",\"type\":\"%s\"}",
             (long long)depth, id, room, type);
    x->e.event_id = id;
    x->e.room_id = room;
    x->e.type = type;
    x->e.state_key = state_key;
    if (state_key && strcmp(type, "m.room.member") == 0)
        x->e.membership = "join";
    x->e.depth = depth;
    x->e.origin_server_ts = 1000 + depth;
    x->e.prev_events = x->prevs;
    x->e.n_prev_events = n;
    x->e.auth_events = x->auths;
    x->e.json = x->json;
    x->e.json_len = strlen(x->json);
    x->e.received_ts = 2000 + depth;
    x->e.state_before = 0;
    x->e.state_after = MXR_STORE_STATE_DERIVE;
}

struct room_arg {
    const char *room, *version;
};
static int room_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct room_arg *a = arg;
    return mxr_store_room_add(t, a->room, a->version, err);
}
int fx_room(struct fx *f, const char *room, const char *version, struct mxr_err *err)
{
    struct room_arg a = {room, version};
    struct mxr_err e = {0};
    return mxr_store_write(f->s, room_fn, &a, err ? err : &e);
}

struct persist_arg {
    struct fx_event *x;
    struct mxr_store_persisted *out;
};
static int persist_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct persist_arg *a = arg;
    for (size_t i = 0; i < 16 && a->x->auths[i]; i++)
        a->x->e.n_auth_events = i + 1;
    return mxr_store_event_persist(t, &a->x->e, a->out, err);
}
int fx_persist(struct fx *f, struct fx_event *x, struct mxr_store_persisted *out, struct mxr_err *err)
{
    struct mxr_store_persisted dummy;
    struct persist_arg a = {x, out ? out : &dummy};
    struct mxr_err e = {0};
    return mxr_store_write(f->s, persist_fn, &a, err ? err : &e);
}

struct group_arg {
    uint64_t parent;
    const struct mxr_store_state_entry *d;
    size_t n;
    uint64_t *out;
};
static int group_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct group_arg *a = arg;
    return mxr_store_state_group_new(t, a->parent, a->d, a->n, a->out, err);
}
int fx_group(struct fx *f, uint64_t parent, const struct mxr_store_state_entry *d, size_t n,
             uint64_t *out, struct mxr_err *err)
{
    struct group_arg a = {parent, d, n, out};
    struct mxr_err e = {0};
    return mxr_store_write(f->s, group_fn, &a, err ? err : &e);
}

struct current_arg {
    const char *room;
    uint64_t group;
};
static int current_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct current_arg *a = arg;
    return mxr_store_room_set_current(t, a->room, a->group, err);
}
int fx_set_current(struct fx *f, const char *room, uint64_t group, struct mxr_err *err)
{
    struct current_arg a = {room, group};
    struct mxr_err e = {0};
    return mxr_store_write(f->s, current_fn, &a, err ? err : &e);
}

void fx_assert_consistent(struct fx *f)
{
    struct mxr_store_txn *t = fx_read(f);
    struct mxr_err err = {0};
    if (mxr_store_check(t, &err))
        fail_msg("store check: %s", err.msg);
    fx_read_end(f);
}

int fx_ids_cb(void *arg, const char *id)
{
    struct fx_ids *ids = arg;
    size_t used = 0;
    for (size_t i = 0; i < ids->n; i++)
        used += strlen(ids->v[i]) + 1;
    size_t len = strlen(id);
    assert_true(ids->n < 256 && used + len + 1 < sizeof ids->buf / 2);
    char *p = ids->buf + sizeof ids->buf / 2 + used;
    memcpy(p, id, len + 1);
    ids->v[ids->n++] = p;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *fx_ids_sorted(struct fx_ids *ids)
{
    qsort(ids->v, ids->n, sizeof ids->v[0], cmp_str);
    size_t off = 0;
    ids->buf[0] = '\0';
    for (size_t i = 0; i < ids->n; i++)
        off += (size_t)snprintf(ids->buf + off, sizeof ids->buf / 2 - off, "%s%s", i ? "," : "", ids->v[i]);
    return ids->buf;
}
