/* State resolution for room version 1 (spec rooms/v1.md "State
 * resolution"), implemented as written, including the parts the spec warns
 * are buggy (state resets).
 *
 * R starts as the union of the states without conflicting entries; then
 * conflicts are resolved by type: m.room.power_levels, m.room.join_rules,
 * m.room.member (each: candidates by ascending depth then descending
 * sha1(event_id); the first goes into R unchecked, each next one while it
 * passes the auth rules in state R), then every other type (the candidate
 * with the highest depth and lowest sha1(event_id) that passes auth in R;
 * the least deep one when none passes, see resolve_other_key).
 * Where the spec leaves the order open — several conflicted keys of one
 * type — keys are taken in (type, state_key) byte order so that every server
 * gets the same R.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "stateres_int.h"

/* SHA-1 of an event ID: room version 1 orders events by it. libsodium has
 * no SHA-1, GnuTLS (already linked for TLS) does. */
int sr_sha1(const void *data, size_t len, uint8_t out[20])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA1, data, len, out) == 0 ? 0 : -1;
}

/* ---- resolution ---------------------------------------------------------- */

struct cand {
    int32_t key;
    int32_t node;
    int64_t depth;
    uint8_t sha1[20];
    const struct sr_graph *g;
};

static int key_cmp(const struct sr_graph *g, int32_t a, int32_t b)
{
    if (a == b)
        return 0;
    int c = strcmp(g->keys[a].type, g->keys[b].type);
    return c ? c : strcmp(g->keys[a].state_key, g->keys[b].state_key);
}

/* By key, then ascending depth, then descending sha1(event_id): the order
 * of the power levels / join rules / member passes. */
static int cand_cmp(const void *pa, const void *pb)
{
    const struct cand *a = pa, *b = pb;
    int c = key_cmp(a->g, a->key, b->key);
    if (c)
        return c;
    if (a->depth != b->depth)
        return a->depth < b->depth ? -1 : 1;
    return -memcmp(a->sha1, b->sha1, sizeof a->sha1);
}

enum pass { PASS_POWER_LEVELS, PASS_JOIN_RULES, PASS_MEMBERS, PASS_OTHERS, N_PASSES };

static enum pass pass_of(const char *type)
{
    if (strcmp(type, "m.room.power_levels") == 0)
        return PASS_POWER_LEVELS;
    if (strcmp(type, "m.room.join_rules") == 0)
        return PASS_JOIN_RULES;
    if (strcmp(type, "m.room.member") == 0)
        return PASS_MEMBERS;
    return PASS_OTHERS;
}

/* Auth-event types: the first candidate, then each next one while allowed in R. */
static void resolve_auth_key(struct sr_graph *g, int32_t *r, const struct cand *c, size_t n, size_t *rejected)
{
    r[c[0].key] = c[0].node;
    for (size_t i = 1; i < n; i++) {
        if (!sr_auth_allows(g, r, c[i].node, false)) {
            *rejected += n - i;
            return;
        }
        r[c[i].key] = c[i].node;
    }
}

/* Other types: the highest depth, then lowest sha1(event_id), that passes
 * auth in R — the candidates in reverse of their sorted order. When none
 * passes the spec names no outcome; the last candidate tried (least depth,
 * highest sha1) stays, as in Synapse, whose behaviour this algorithm
 * describes and whose published v1 cases expect it (tests/test_state.py
 * test_branch_have_perms_conflict): dropping the key would make this
 * server's state of a room version 1 room differ from every other's. */
static void resolve_other_key(struct sr_graph *g, int32_t *r, const struct cand *c, size_t n, size_t *rejected)
{
    for (size_t i = n; i-- > 0;) {
        if (sr_auth_allows(g, r, c[i].node, false)) {
            r[c[i].key] = c[i].node;
            return;
        }
        if (i > 0)
            (*rejected)++;
    }
    r[c[0].key] = c[0].node;
}

json_t *sr_resolve_v1(struct sr_graph *g, const struct sr_set *sets, size_t n_sets,
                      struct mxr_stateres_stats *stats, struct mxr_err *err)
{
    size_t nk = g->n_keys, total = 0;
    json_t *out = NULL;
    struct cand *c = NULL;
    int32_t *r = malloc((nk ? nk : 1) * sizeof *r);
    uint8_t *differs = calloc(nk ? nk : 1, 1);
    if (!r || !differs) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    /* A conflict: states with different event IDs for one key. A key some
     * states lack is not a conflict. */
    for (size_t k = 0; k < nk; k++)
        r[k] = SR_NONE;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t e = 0; e < sets[s].n; e++) {
            const struct sr_entry *en = &sets[s].entries[e];
            if (r[en->key] == SR_NONE)
                r[en->key] = en->node;
            else if (r[en->key] != en->node)
                differs[en->key] = 1;
        }
    for (size_t s = 0; s < n_sets; s++)
        for (size_t e = 0; e < sets[s].n; e++)
            total += differs[sets[s].entries[e].key];
    if (!(c = malloc((total ? total : 1) * sizeof *c))) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto done;
    }
    size_t nc = 0;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t e = 0; e < sets[s].n; e++) {
            const struct sr_entry *en = &sets[s].entries[e];
            if (!differs[en->key])
                continue;
            struct cand *x = &c[nc++];
            x->key = en->key;
            x->node = en->node;
            x->depth = g->nodes[en->node].ev->depth;
            x->g = g;
            const char *id = g->nodes[en->node].ev->event_id;
            if (sr_sha1(id, strlen(id), x->sha1) < 0) {
                mxr_err_set(err, "M_UNKNOWN", "SHA-1 unavailable (GnuTLS in FIPS mode?)");
                goto done;
            }
        }
    qsort(c, nc, sizeof *c, cand_cmp);
    /* Drop repeats of one event (several states hold it). */
    size_t m = 0;
    for (size_t i = 0; i < nc; i++)
        if (m == 0 || c[m - 1].node != c[i].node || c[m - 1].key != c[i].key)
            c[m++] = c[i];
    nc = m;
    stats->conflicted = nc;
    for (size_t k = 0; k < nk; k++)
        if (differs[k]) {
            r[k] = SR_NONE;
            stats->conflicted_keys++;
        }

    for (int pass = 0; pass < N_PASSES; pass++)
        for (size_t i = 0; i < nc;) {
            size_t j = i + 1;
            while (j < nc && c[j].key == c[i].key)
                j++;
            if ((int)pass_of(g->keys[c[i].key].type) == pass) {
                if (pass == PASS_OTHERS)
                    resolve_other_key(g, r, c + i, j - i, &stats->rejected);
                else
                    resolve_auth_key(g, r, c + i, j - i, &stats->rejected);
            }
            i = j;
        }
    out = sr_state_to_json(g, r, err);
done:
    free(r);
    free(differs);
    free(c);
    return out;
}
