/* State groups: immutable "parent + delta" states, stored with skip-list
 * bases so that lookups walk O(log n) links and storage stays near
 * N/2 log2 N entries for N state changes (see DESIGN.md, "State groups").
 *
 * Record of a group in stategroup_delta (big-endian):
 *   u8 format (1) | u8 0 | u16 0 | u32 count | u64 parent | u64 depth | u64 base
 *   count x (u64 short state key, u64 short event ID; 0 = key absent)
 * Entries are sorted by short state key. A root (depth 0, no parent) holds
 * its full state; any other group holds its difference from `base`, the
 * ancestor at depth (depth & (depth - 1)). */
#include "relay/store/store_int.h"

#include <stdlib.h>

#define SG_FORMAT 1
#define SG_HDR 32
#define SG_ENT 16
#define SG_CHAIN_MAX 72   /* popcount(u64) + root, with margin */

struct sg_level {
    uint64_t group, depth, parent, base;
    const uint8_t *ent;   /* into the map */
    size_t n;
};

/* A group's storage chain: lv[0] the group itself, then its base, the
 * base's base, ... down to the root. */
struct sg_chain {
    size_t n;
    struct sg_level lv[SG_CHAIN_MAX];
};

static inline uint64_t ent_ssk(const uint8_t *ent, size_t i)
{
    return be64_get(ent + SG_ENT * i);
}
static inline uint64_t ent_sev(const uint8_t *ent, size_t i)
{
    return be64_get(ent + SG_ENT * i + 8);
}

static int sg_damaged(struct mxr_store_txn *t, uint64_t g, const char *what, struct mxr_err *err)
{
    return st_fail(t, err, "M_UNKNOWN", "store: state group %llu: %s: store damaged",
                   (unsigned long long)g, what);
}

static int sg_parse(struct mxr_store_txn *t, uint64_t g, const MDB_val *v, struct sg_level *l,
                    struct mxr_err *err)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < SG_HDR || p[0] != SG_FORMAT)
        return sg_damaged(t, g, "bad header", err);
    l->group = g;
    l->n = be32_get(p + 4);
    l->parent = be64_get(p + 8);
    l->depth = be64_get(p + 16);
    l->base = be64_get(p + 24);
    l->ent = p + SG_HDR;
    if (v->mv_size != SG_HDR + SG_ENT * l->n)
        return sg_damaged(t, g, "size does not match its entry count", err);
    return 0;
}

static int sg_get_level(struct mxr_store_txn *t, uint64_t g, struct sg_level *l, struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, g);
    MDB_val v;
    int rc = st_get(t, T_STATEGROUP_DELTA, &k, &v, err);
    if (rc)
        return rc;
    return sg_parse(t, g, &v, l, err);
}

static int sg_load(struct mxr_store_txn *t, uint64_t group, struct sg_chain *c, struct mxr_err *err)
{
    c->n = 0;
    for (uint64_t g = group; g;) {
        if (c->n == SG_CHAIN_MAX)
            return sg_damaged(t, group, "chain too long", err);
        struct sg_level *l = &c->lv[c->n];
        int rc = sg_get_level(t, g, l, err);
        if (rc == MXR_STORE_NOT_FOUND) {
            if (g == group)
                return st_fail(t, err, "M_UNKNOWN", "store: state group %llu does not exist",
                               (unsigned long long)g);
            return sg_damaged(t, group, "missing base group", err);
        }
        if (rc)
            return -1;
        if (c->n && l->depth != (c->lv[c->n - 1].depth & (c->lv[c->n - 1].depth - 1)))
            return sg_damaged(t, group, "base at the wrong depth", err);
        c->n++;
        if (l->depth == 0)
            break;
        if (!l->base || l->base >= g)
            return sg_damaged(t, g, "bad base", err);
        g = l->base;
    }
    return 0;
}

static bool lv_find(const struct sg_level *l, uint64_t ssk, uint64_t *sev)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ent_ssk(l->ent, mid) < ssk)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < l->n && ent_ssk(l->ent, lo) == ssk) {
        *sev = ent_sev(l->ent, lo);
        return true;
    }
    return false;
}

/* The value of ssk in the state of chain c, looking from level `from` on. */
static uint64_t chain_find(const struct sg_chain *c, size_t from, uint64_t ssk)
{
    uint64_t sev;
    for (size_t i = from; i < c->n; i++)
        if (lv_find(&c->lv[i], ssk, &sev))
            return sev;
    return 0;
}

/* A sorted input of a k-way merge: a stored level or an array. */
struct sg_src {
    const uint8_t *ent;
    const struct sg_entry *arr;
    size_t n, i;
};

static inline uint64_t src_ssk(const struct sg_src *s)
{
    return s->ent ? ent_ssk(s->ent, s->i) : s->arr[s->i].ssk;
}
static inline uint64_t src_sev(const struct sg_src *s)
{
    return s->ent ? ent_sev(s->ent, s->i) : s->arr[s->i].sev;
}

/* Merges sorted sources into out (room for the sum of their sizes); on equal
 * keys the lowest-numbered source wins. O(total x k); k is a chain length. */
static size_t kmerge(struct sg_src *src, size_t k, struct sg_entry *out, bool drop_absent)
{
    size_t m = 0;
    for (;;) {
        size_t best = k;
        uint64_t key = 0;
        for (size_t j = 0; j < k; j++) {
            if (src[j].i < src[j].n) {
                uint64_t s = src_ssk(&src[j]);
                if (best == k || s < key) {
                    best = j;
                    key = s;
                }
            }
        }
        if (best == k)
            return m;
        uint64_t val = src_sev(&src[best]);
        for (size_t j = 0; j < k; j++)
            if (src[j].i < src[j].n && src_ssk(&src[j]) == key)
                src[j].i++;
        if (!(drop_absent && val == 0))
            out[m++] = (struct sg_entry){key, val};
    }
}

struct tagged {
    struct sg_entry e;
    size_t pos;
};

static int cmp_tagged(const void *a, const void *b)
{
    const struct tagged *x = a, *y = b;
    if (x->e.ssk != y->e.ssk)
        return x->e.ssk < y->e.ssk ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts d by ssk; of a key given more than once the last one wins. Returns
 * the new count, (size_t)-1 when out of memory. */
static size_t normalise(struct sg_entry *d, size_t n)
{
    struct tagged *tg = malloc((n ? n : 1) * sizeof *tg);
    if (!tg)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        tg[i] = (struct tagged){d[i], i};
    qsort(tg, n, sizeof *tg, cmp_tagged);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || tg[i + 1].e.ssk != tg[i].e.ssk)
            d[m++] = tg[i].e;
    free(tg);
    return m;
}

int sg_new(struct mxr_store_txn *t, uint64_t parent, struct sg_entry *delta, size_t n,
           uint64_t *out, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct sg_chain *pc = malloc(sizeof *pc);
    struct sg_entry *merged = NULL;
    uint8_t *rec = NULL;
    int ret = -1;
    if (!pc) {
        st_fail(t, err, "M_UNKNOWN", "store: out of memory");
        goto out;
    }
    if (parent) {
        if (sg_load(t, parent, pc, err))
            goto out;
    } else {
        pc->n = 0;
    }
    n = normalise(delta, n);
    if (n == (size_t)-1) {
        st_fail(t, err, "M_UNKNOWN", "store: out of memory");
        goto out;
    }
    bool change = false;
    for (size_t i = 0; i < n && !change; i++)
        change = chain_find(pc, 0, delta[i].ssk) != delta[i].sev;
    if (!change) {
        *out = parent;
        ret = 0;
        goto out;
    }

    uint64_t depth = 0, base = 0;
    size_t m = 0;
    if (!parent) {
        merged = malloc(n * sizeof *merged);
        if (!merged) {
            st_fail(t, err, "M_UNKNOWN", "store: out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (delta[i].sev)
                merged[m++] = delta[i];
    } else {
        depth = pc->lv[0].depth + 1;
        uint64_t bd = depth & (depth - 1);
        size_t j = 0;
        while (j < pc->n && pc->lv[j].depth != bd)
            j++;
        if (j == pc->n) {
            sg_damaged(t, parent, "no ancestor at the base depth", err);
            goto out;
        }
        base = pc->lv[j].group;
        /* The new delta against base: the caller's delta over every level
         * between the parent and the base, minus what the base already has. */
        struct sg_src src[SG_CHAIN_MAX + 1];
        size_t total = n;
        src[0] = (struct sg_src){.arr = delta, .n = n};
        for (size_t i = 0; i < j; i++) {
            src[i + 1] = (struct sg_src){.ent = pc->lv[i].ent, .n = pc->lv[i].n};
            total += pc->lv[i].n;
        }
        merged = malloc((total ? total : 1) * sizeof *merged);
        if (!merged) {
            st_fail(t, err, "M_UNKNOWN", "store: out of memory");
            goto out;
        }
        size_t k = kmerge(src, j + 1, merged, false);
        for (size_t i = 0; i < k; i++)
            if (chain_find(pc, j, merged[i].ssk) != merged[i].sev)
                merged[m++] = merged[i];
    }
    if (m > UINT32_MAX) {
        st_fail(t, err, "M_TOO_LARGE", "store: state delta of %zu entries", m);
        goto out;
    }
    uint64_t g;
    if (st_next(t, META_NEXT_GROUP, &g, err))
        goto out;
    size_t len = SG_HDR + SG_ENT * m;
    rec = malloc(len);
    if (!rec) {
        st_fail(t, err, "M_UNKNOWN", "store: out of memory");
        goto out;
    }
    memset(rec, 0, SG_HDR);
    rec[0] = SG_FORMAT;
    be32_put(rec + 4, (uint32_t)m);
    be64_put(rec + 8, parent);
    be64_put(rec + 16, depth);
    be64_put(rec + 24, base);
    for (size_t i = 0; i < m; i++) {
        be64_put(rec + SG_HDR + SG_ENT * i, merged[i].ssk);
        be64_put(rec + SG_HDR + SG_ENT * i + 8, merged[i].sev);
    }
    struct skey key;
    skey_init(&key);
    skey_u64(&key, g);
    if (st_put(t, T_STATEGROUP_DELTA, &key, rec, len, MDB_APPEND, err))
        goto out;
    *out = g;
    ret = 0;
out:
    free(rec);
    free(merged);
    free(pc);
    return ret;
}

int sg_lookup(struct mxr_store_txn *t, uint64_t group, uint64_t ssk, uint64_t *sev,
              struct mxr_err *err)
{
    struct sg_chain *c = malloc(sizeof *c);
    if (!c)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    int rc = sg_load(t, group, c, err);
    if (!rc) {
        *sev = chain_find(c, 0, ssk);
        rc = *sev ? 0 : MXR_STORE_NOT_FOUND;
    }
    free(c);
    return rc;
}

static int chain_merge(struct mxr_store_txn *t, const struct sg_chain *c, size_t n_levels,
                       bool drop_absent, struct sg_entry **out, size_t *n, struct mxr_err *err)
{
    struct sg_src src[SG_CHAIN_MAX];
    size_t total = 0;
    for (size_t i = 0; i < n_levels; i++) {
        src[i] = (struct sg_src){.ent = c->lv[i].ent, .n = c->lv[i].n};
        total += c->lv[i].n;
    }
    *out = malloc((total ? total : 1) * sizeof **out);
    if (!*out)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    *n = kmerge(src, n_levels, *out, drop_absent);
    return 0;
}

int sg_full(struct mxr_store_txn *t, uint64_t group, struct sg_entry **out, size_t *n,
            struct mxr_err *err)
{
    *out = NULL;
    *n = 0;
    struct sg_chain *c = malloc(sizeof *c);
    if (!c)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    int rc = sg_load(t, group, c, err);
    if (!rc)
        rc = chain_merge(t, c, c->n, true, out, n, err);
    free(c);
    return rc;
}

int sg_diff(struct mxr_store_txn *t, uint64_t a, uint64_t b, struct sg_entry **out, size_t *n,
            struct mxr_err *err)
{
    *out = NULL;
    *n = 0;
    struct sg_chain *ca = malloc(sizeof *ca), *cb = malloc(sizeof *cb);
    struct sg_entry *cand = NULL;
    int rc = -1;
    if (!ca || !cb) {
        st_fail(t, err, "M_UNKNOWN", "store: out of memory");
        goto out;
    }
    if (sg_load(t, a, ca, err) || sg_load(t, b, cb, err))
        goto out;
    /* Chains that meet share everything from the meeting group down: only
     * keys in the levels before it can differ. */
    size_t ia = ca->n, ib = cb->n;
    for (size_t i = 0; i < ca->n && ia == ca->n; i++)
        for (size_t j = 0; j < cb->n; j++)
            if (ca->lv[i].group == cb->lv[j].group) {
                ia = i;
                ib = j;
                break;
            }
    struct sg_src src[2 * SG_CHAIN_MAX];
    size_t k = 0, total = 0;
    for (size_t i = 0; i < ia; i++, k++) {
        src[k] = (struct sg_src){.ent = ca->lv[i].ent, .n = ca->lv[i].n};
        total += ca->lv[i].n;
    }
    for (size_t j = 0; j < ib; j++, k++) {
        src[k] = (struct sg_src){.ent = cb->lv[j].ent, .n = cb->lv[j].n};
        total += cb->lv[j].n;
    }
    cand = malloc((total ? total : 1) * sizeof *cand);
    if (!cand) {
        st_fail(t, err, "M_UNKNOWN", "store: out of memory");
        goto out;
    }
    size_t nc = kmerge(src, k, cand, false), m = 0;
    for (size_t i = 0; i < nc; i++) {
        /* Look in the unshared levels first; a key in neither resolves in
         * the shared levels, identically for both. */
        uint64_t ssk = cand[i].ssk, va = 0, vb = 0;
        bool fa = false, fb = false;
        for (size_t j = 0; j < ia && !fa; j++)
            fa = lv_find(&ca->lv[j], ssk, &va);
        for (size_t j = 0; j < ib && !fb; j++)
            fb = lv_find(&cb->lv[j], ssk, &vb);
        if (!fa)
            va = chain_find(ca, ia, ssk);
        if (!fb)
            vb = chain_find(cb, ib, ssk);
        if (va != vb)
            cand[m++] = (struct sg_entry){ssk, vb};
    }
    *out = cand;
    *n = m;
    cand = NULL;
    rc = 0;
out:
    free(cand);
    free(ca);
    free(cb);
    return rc;
}

int mxr_store_state_group_info(struct mxr_store_txn *t, uint64_t group,
                               struct mxr_store_group_info *out, struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    if (!group)
        return st_ok(t, err);
    struct sg_chain *c = malloc(sizeof *c);
    if (!c)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    int rc = sg_load(t, group, c, err);
    if (!rc) {
        out->parent = c->lv[0].parent;
        out->depth = c->lv[0].depth;
        out->chain_length = (unsigned)c->n;
        out->delta_entries = c->lv[0].n;
        for (size_t i = 0; i < c->n; i++)
            out->chain_entries += c->lv[i].n;
    }
    free(c);
    return rc;
}

int sg_exists(struct mxr_store_txn *t, uint64_t group, struct mxr_err *err)
{
    if (!group)
        return 0;
    struct sg_level l;
    return sg_get_level(t, group, &l, err);
}

int sg_check(struct mxr_store_txn *t, uint64_t g, const MDB_val *v, struct mxr_err *err)
{
    struct sg_level l;
    if (sg_parse(t, g, v, &l, err))
        return -1;
    for (size_t i = 1; i < l.n; i++)
        if (ent_ssk(l.ent, i - 1) >= ent_ssk(l.ent, i))
            return sg_damaged(t, g, "entries not sorted", err);
    if (l.depth == 0) {
        if (l.parent || l.base)
            return sg_damaged(t, g, "root with a parent or base", err);
        for (size_t i = 0; i < l.n; i++)
            if (!ent_sev(l.ent, i))
                return sg_damaged(t, g, "root with an absent-key entry", err);
        return 0;
    }
    struct sg_level p, b;
    if (!l.parent || l.parent >= g || sg_get_level(t, l.parent, &p, err) ||
        p.depth + 1 != l.depth)
        return t->failed ? -1 : sg_damaged(t, g, "bad parent", err);
    if (!l.base || l.base >= g || sg_get_level(t, l.base, &b, err) ||
        b.depth != (l.depth & (l.depth - 1)))
        return t->failed ? -1 : sg_damaged(t, g, "bad base", err);
    return 0;
}

/* --- public API: strings in, strings out ---------------------------------- */

int mxr_store_state_group_new(struct mxr_store_txn *t, uint64_t parent,
                              const struct mxr_store_state_entry *delta, size_t n,
                              uint64_t *out, struct mxr_err *err)
{
    if (st_ok_write(t, err))
        return -1;
    struct sg_entry *d = malloc((n ? n : 1) * sizeof *d);
    if (!d)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        d[i].sev = 0;
        rc = sid_statekey(t, delta[i].type, delta[i].state_key, true, &d[i].ssk, err);
        if (!rc && delta[i].event_id)
            rc = sid_event(t, delta[i].event_id, true, &d[i].sev, err);
    }
    if (!rc)
        rc = sg_new(t, parent, d, n, out, err);
    free(d);
    return rc ? -1 : 0;
}

int mxr_store_state_get(struct mxr_store_txn *t, uint64_t group, const char *type,
                        const char *state_key, char out_event_id[MXR_STORE_ID_MAX + 1],
                        struct mxr_err *err)
{
    uint64_t ssk, sev;
    int rc = sid_statekey(t, type, state_key, false, &ssk, err);
    if (rc == MXR_STORE_NOT_FOUND) {   /* a key never seen: still check the group */
        rc = sg_exists(t, group, err);
        if (rc == MXR_STORE_NOT_FOUND)
            return st_fail(t, err, "M_UNKNOWN", "store: state group %llu does not exist",
                           (unsigned long long)group);
        return rc ? -1 : MXR_STORE_NOT_FOUND;
    }
    if (rc)
        return rc;
    if ((rc = sg_lookup(t, group, ssk, &sev, err)))
        return rc;
    return sid_event_str(t, sev, out_event_id, err);
}

/* Hands entries to a string callback; event_id NULL for absent keys. */
static int emit_entries(struct mxr_store_txn *t, const struct sg_entry *e, size_t n,
                        mxr_store_state_cb cb, void *arg, struct mxr_err *err)
{
    char type[MXR_STORE_ID_MAX + 1], sk[MXR_STORE_ID_MAX + 1], id[MXR_STORE_ID_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        if (sid_statekey_str(t, e[i].ssk, type, sk, err))
            return -1;
        if (e[i].sev && sid_event_str(t, e[i].sev, id, err))
            return -1;
        if (cb(arg, type, sk, e[i].sev ? id : NULL))
            break;
    }
    return 0;
}

int mxr_store_state_all(struct mxr_store_txn *t, uint64_t group, mxr_store_state_cb cb, void *arg,
                        struct mxr_err *err)
{
    struct sg_entry *e;
    size_t n;
    if (sg_full(t, group, &e, &n, err))
        return -1;
    int rc = emit_entries(t, e, n, cb, arg, err);
    free(e);
    return rc;
}

int mxr_store_state_count(struct mxr_store_txn *t, uint64_t group, size_t *out, struct mxr_err *err)
{
    struct sg_entry *e;
    if (sg_full(t, group, &e, out, err))
        return -1;
    free(e);
    return 0;
}

int mxr_store_state_diff(struct mxr_store_txn *t, uint64_t a, uint64_t b, mxr_store_state_cb cb,
                         void *arg, struct mxr_err *err)
{
    struct sg_entry *e;
    size_t n;
    if (sg_diff(t, a, b, &e, &n, err))
        return -1;
    int rc = emit_entries(t, e, n, cb, arg, err);
    free(e);
    return rc;
}

int mxr_store_event_state(struct mxr_store_txn *t, const char *event_id, uint64_t *before,
                          uint64_t *after, struct mxr_err *err)
{
    MDB_val v;
    int rc = st_get_by_event(t, T_SHORTEVENTID_STATEGROUPS, event_id, &v, err);
    if (rc)
        return rc;
    if (v.mv_size != 16)
        return st_fail(t, err, "M_UNKNOWN", "store: state groups of %s malformed: store damaged", event_id);
    if (before)
        *before = be64_get(v.mv_data);
    if (after)
        *after = be64_get((const uint8_t *)v.mv_data + 8);
    return 0;
}
