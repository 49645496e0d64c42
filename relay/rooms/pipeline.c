/* The event pipeline, phases AUTH_EVENTS to PERSIST (spec: server-server
 * API, "Checks performed on receipt of a PDU", steps 4-6, "Rejection" and
 * "Soft failure"), run for one event inside a store write transaction, for
 * remote and local events alike. Phases CONFORM to CHECK_HASHES (steps 1-3)
 * need no store and may wait for keys: ingest.c runs them before the write.
 *
 * Decisions the spec leaves open (relay/rooms/DESIGN.md):
 * - an unknown auth event defers the PDU (not stored at all) so a resend
 *   after /event_auth is processed in full;
 * - an unknown prev event (or one stored only as an outlier) makes the PDU
 *   an outlier once it passed the auth rules against its own auth events;
 *   the missing prevs are reported to the notify hook for
 *   /get_missing_events, and a later delivery with the prevs known stores it
 *   again as a regular event (the store de-outliers it);
 * - a rejected event is stored with its state before when that is known
 *   (its state after is the state before: spec "Rejection"), else as a
 *   rejected outlier. */
#include "relay/rooms/rooms_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/json.h"

static const char *const PHASE_NAMES[] = {
    [MXR_PHASE_CONFORM] = "conform",
    [MXR_PHASE_VERIFY_SIGNATURES] = "verify_signatures",
    [MXR_PHASE_CHECK_HASHES] = "check_hashes",
    [MXR_PHASE_AUTH_EVENTS] = "auth_events",
    [MXR_PHASE_STATE_BEFORE] = "state_before",
    [MXR_PHASE_AUTH_STATE] = "auth_state",
    [MXR_PHASE_SOFT_FAIL] = "soft_fail",
    [MXR_PHASE_PERSIST] = "persist",
    [MXR_PHASE_NOTIFY] = "notify",
};

const char *mxr_rooms_phase_name(enum mxr_rooms_phase p)
{
    if ((unsigned)p < sizeof PHASE_NAMES / sizeof PHASE_NAMES[0] && PHASE_NAMES[p])
        return PHASE_NAMES[p];
    return "unknown";
}

const char *mxr_rooms_outcome_name(enum mxr_pdu_outcome o)
{
    switch (o) {
    case MXR_PDU_ACCEPTED: return "accepted";
    case MXR_PDU_OUTLIER: return "outlier";
    case MXR_PDU_SOFT_FAILED: return "soft_failed";
    case MXR_PDU_REJECTED: return "rejected";
    case MXR_PDU_DROPPED: return "dropped";
    case MXR_PDU_DEFERRED: return "deferred";
    }
    return "unknown";
}

void result_set(struct mxr_pdu_result *res, enum mxr_pdu_outcome o, enum mxr_rooms_phase p, const char *errcode,
                const char *fmt, ...)
{
    res->outcome = o;
    res->phase = p;
    res->errcode = errcode;
    res->reason[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(res->reason, sizeof res->reason, fmt, ap);
        va_end(ap);
    }
}

void item_reset_outputs(struct item *it)
{
    for (size_t i = 0; i < it->n_missing; i++)
        free(it->missing[i]);
    free(it->missing);
    it->missing = NULL;
    it->n_missing = 0;
    it->stored_now = false;
}

void item_release(struct item *it)
{
    item_reset_outputs(it);
    if (it->loaded)
        mxr_event_release(&it->ev);
    it->loaded = false;
    json_decref(it->pdu);
    it->pdu = NULL;
}

int item_load(struct item *it, json_t *pdu, const struct mxr_room_version *rv, struct mxr_err *err)
{
    if (it->loaded)
        mxr_event_release(&it->ev);
    it->loaded = false;
    if (mxr_event_load(&it->ev, pdu, rv, 0, err) < 0)
        return -1;
    it->loaded = true;
    it->rv = rv;
    json_t *old = it->pdu;
    it->pdu = json_incref(pdu);
    json_decref(old);
    return 0;
}

char *rooms_pdu_json(const json_t *pdu, size_t *len, struct mxr_err *err)
{
    if (!json_object_get(pdu, "unsigned"))
        return mxr_canonical_json(pdu, len, err);
    json_t *copy = json_copy((json_t *)pdu);
    if (!copy) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    json_object_del(copy, "unsigned");
    char *s = mxr_canonical_json(copy, len, err);
    json_decref(copy);
    return s;
}

/* Stored rejection reasons start with the phase, "[auth_state] ...", so a
 * re-delivery reports the phase that decided. */
static enum mxr_rooms_phase phase_from_reason(const char *reason, const char **rest)
{
    *rest = reason;
    if (reason[0] != '[')
        return MXR_PHASE_AUTH_STATE;
    const char *end = strchr(reason, ']');
    if (!end)
        return MXR_PHASE_AUTH_STATE;
    for (unsigned p = MXR_PHASE_CONFORM; p <= MXR_PHASE_NOTIFY; p++) {
        const char *name = PHASE_NAMES[p];
        if ((size_t)(end - reason - 1) == strlen(name) && strncmp(reason + 1, name, strlen(name)) == 0) {
            *rest = end[1] == ' ' ? end + 2 : end + 1;
            return (enum mxr_rooms_phase)p;
        }
    }
    return MXR_PHASE_AUTH_STATE;
}

void result_from_meta(struct mxr_pdu_result *res, const struct mxr_store_event_meta *m)
{
    res->already = true;
    res->stream = m->stream;
    if (m->flags & MXR_STORE_REJECTED) {
        const char *rest;
        enum mxr_rooms_phase p = phase_from_reason(m->rejected_reason, &rest);
        result_set(res, MXR_PDU_REJECTED, p, "M_FORBIDDEN", "%s", rest);
    } else if (m->flags & MXR_STORE_OUTLIER) {
        result_set(res, MXR_PDU_OUTLIER, MXR_PHASE_STATE_BEFORE, NULL,
                   "stored as an outlier: the state before it is not known");
    } else if (m->flags & MXR_STORE_SOFT_FAILED) {
        result_set(res, MXR_PDU_SOFT_FAILED, MXR_PHASE_SOFT_FAIL, NULL,
                   "soft-failed: not allowed by the room's current state");
    } else {
        result_set(res, MXR_PDU_ACCEPTED, MXR_PHASE_NOTIFY, NULL, NULL);
    }
}

/* ---- state before --------------------------------------------------------- */

static int add_missing(struct item *it, const char *id, struct mxr_err *err)
{
    char **nm = realloc(it->missing, (it->n_missing + 1) * sizeof *nm);
    if (!nm)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    it->missing = nm;
    if (!(nm[it->n_missing] = strdup(id)))
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    it->n_missing++;
    return 0;
}

struct ext_match {
    const struct mxr_event *ev;
    size_t n, matched;
};

static int ext_match_cb(void *arg, const char *id)
{
    struct ext_match *m = arg;
    m->n++;
    for (size_t i = 0; i < m->ev->n_prev_events; i++)
        if (strcmp(m->ev->prev_events[i], id) == 0) {
            m->matched++;
            break;
        }
    return 0;
}

/* Whether ev's prev_events are exactly the room's forward extremities: the
 * state before ev is then the current state, already resolved and stored. */
static int prevs_are_extremities(struct mxr_store_txn *txn, const char *room_id, const struct mxr_event *ev,
                                 bool *yes, struct mxr_err *err)
{
    struct ext_match m = {ev, 0, 0};
    *yes = false;
    int rc = mxr_store_extremities(txn, room_id, ext_match_cb, &m, err);
    if (rc < 0)
        return -1;
    *yes = rc == 0 && m.n == ev->n_prev_events && m.matched == m.n;
    return 0;
}

/* A state group holding the state events named by `ids` (a caller-given
 * state: mxr_rooms_ingest_with_state). Events not stored, rejected, of
 * another room or without a state key are left out (and counted). Only the
 * stored metadata is read (type, state key, room, flags), not the PDUs: a
 * join's given state is the room's whole state (100,000 members). */
static int given_group(struct run *run, struct item *it, const json_t *ids, uint64_t *out, struct mxr_err *err)
{
    size_t n = json_array_size(ids);
    struct mxr_store_state_entry *delta = calloc(n ? n : 1, sizeof *delta);
    char **keys = calloc(2 * (n ? n : 1), sizeof *keys);   /* copies of the types and state keys */
    struct mxr_store_event_meta *meta = malloc(sizeof *meta);
    int rc = 0;
    size_t m = 0;
    if (!delta || !keys || !meta) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        int r2 = id ? mxr_store_event_meta(run->txn, id, meta, err) : MXR_STORE_NOT_FOUND;
        if (r2 < 0) {
            rc = -1;
            goto out;
        }
        if (r2 == MXR_STORE_NOT_FOUND || (meta->flags & MXR_STORE_REJECTED) || !meta->is_state ||
            strcmp(meta->room_id, rooms_room_of(&it->ev)) != 0) {
            if (it->given_left_out++ == 0)
                snprintf(it->given_first_left_out, sizeof it->given_first_left_out, "%s", id ? id : "(not a string)");
            continue;
        }
        if (!(keys[2 * m] = strdup(meta->type)) || !(keys[2 * m + 1] = strdup(meta->state_key))) {
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
            m++;
            goto out;
        }
        delta[m] = (struct mxr_store_state_entry){ keys[2 * m], keys[2 * m + 1], id };
        m++;
    }
    rc = mxr_store_state_group_new(run->txn, 0, delta, m, out, err);
out:
    for (size_t i = 0; keys && i < 2 * m; i++)
        free(keys[i]);
    free(keys);
    free(delta);
    free(meta);
    return rc;
}

/* Phase STATE_BEFORE: *known false (and it->missing filled) when a prev or
 * its state is unknown; *unresolvable set (with a reason in rerr) when the
 * prevs' states cannot be resolved with the stored events. With given
 * states (mxr_rooms_ingest_with_state) unknown prevs are covered by them:
 * the known prevs' states and the given ones are resolved together.
 * -1: store failure. */
static int state_before(struct run *run, struct item *it, struct sview *sv, bool *known, bool *unresolvable,
                        struct mxr_err *rerr, struct mxr_err *err)
{
    const struct mxr_event *ev = &it->ev;
    *known = true;
    *unresolvable = false;
    sv->group = 0;
    sv->resolved = NULL;
    size_t n_given = it->given_states ? it->n_given : 0;
    it->given_left_out = 0;
    it->given_first_left_out[0] = '\0';
    if (ev->n_prev_events == 0)
        return 0;   /* only a create event has none (auth rule 1.1 rejects it otherwise) */
    uint64_t *groups = calloc(ev->n_prev_events + n_given, sizeof *groups);
    if (!groups)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    size_t ng = 0;
    int rc = 0;
    for (size_t i = 0; i < ev->n_prev_events && rc == 0; i++) {
        uint64_t before;
        int r2 = mxr_store_event_state(run->txn, ev->prev_events[i], &before, &groups[ng], err);
        if (r2 < 0)
            rc = -1;
        else if (r2 == 0)
            ng++;
        else if (!n_given) {
            *known = false;
            rc = add_missing(it, ev->prev_events[i], err);
        }
    }
    for (size_t i = 0; i < n_given && rc == 0; i++)
        if ((rc = given_group(run, it, it->given_states[i], &groups[ng], err)) == 0)
            ng++;
    if (rc == 0 && *known) {
        bool same = false;
        uint64_t cur = 0;
        if (!n_given && ev->n_prev_events > 1 && prevs_are_extremities(run->txn, rooms_room_of(ev), ev, &same, err) < 0)
            rc = -1;
        else if (same && mxr_store_room_current(run->txn, rooms_room_of(ev), &cur, err) < 0)
            rc = -1;
        if (rc == 0 && same && cur) {
            sv->group = cur;
        } else if (rc == 0 && state_resolve_groups(&run->cache, it->rv, groups, ng, sv, rerr) < 0) {
            if (run->cache.failed) {
                *err = run->cache.err;
                rc = -1;
            } else {
                *unresolvable = true;
            }
        }
    }
    free(groups);
    return rc;
}

struct child_scan {
    struct mxr_store_txn *txn;
    bool found;
    struct mxr_err *err;
    int rc;
};

static int child_cb(void *arg, const char *id)
{
    struct child_scan *cs = arg;
    struct mxr_store_event_meta m;
    int rc = mxr_store_event_meta(cs->txn, id, &m, cs->err);
    if (rc < 0) {
        cs->rc = -1;
        return 1;
    }
    cs->found = rc == 0 && !(m.flags & (MXR_STORE_OUTLIER | MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED));
    return cs->found;
}

/* Whether a regular (accepted, non-outlier) stored event lists event_id
 * among its prev_events. */
static int has_accepted_child(struct mxr_store_txn *txn, const char *event_id, bool *found, struct mxr_err *err)
{
    struct child_scan cs = {txn, false, err, 0};
    int rc = mxr_store_edges(txn, event_id, MXR_STORE_CHILDREN, child_cb, &cs, err);
    *found = cs.found;
    return rc < 0 || cs.rc ? -1 : 0;
}

/* ---- redactions (rooms/fragments/v3-handling-redactions.md) --------------- */

/* Applies an accepted redaction when allowed: v1/v2 the auth rules already
 * decided (rule 11); v3+ when the redaction's sender has the redact level in
 * the state before it, or is on the same server as the redacted event's
 * sender. Only a stored target in the same room is redacted; a redaction
 * arriving before its target stays unapplied (DESIGN.md: needs an index of
 * redactions by target). */
static int apply_redaction(struct run *run, struct item *it, const struct sview *sv, struct mxr_err *err)
{
    const struct mxr_event *ev = &it->ev;
    if (strcmp(ev->type, "m.room.redaction") != 0 || !ev->redacts)
        return 0;
    const struct evc_entry *target = evc_get(&run->cache, ev->redacts);
    if (run->cache.failed) {
        *err = run->cache.err;
        return -1;
    }
    if (!target || strcmp(rooms_room_of(&target->ev), rooms_room_of(ev)) != 0)
        return 0;
    bool allowed = it->rv->redaction_auth_rule;
    if (!allowed) {
        struct sview_lookup l = {&run->cache, sv};
        const struct mxr_event *create = sview_lookup_fn(&l, "m.room.create", "");
        const struct mxr_event *pl = sview_lookup_fn(&l, "m.room.power_levels", "");
        if (run->cache.failed) {
            *err = run->cache.err;
            return -1;
        }
        allowed = mxr_auth_user_level(it->rv, create, pl, ev->sender) >=
                  mxr_auth_named_level(it->rv, pl, "redact");
        const char *d1 = mxr_id_domain(ev->sender), *d2 = mxr_id_domain(target->ev.sender);
        allowed = allowed || (d1 && d2 && strcmp(d1, d2) == 0);
    }
    if (!allowed)
        return 0;
    if (mxr_store_event_set_redacted_by(run->txn, ev->redacts, ev->event_id, err) < 0)
        return -1;
    evc_forget(&run->cache, ev->redacts);
    return 0;
}

/* ---- persist ---------------------------------------------------------------- */

static int persist(struct run *run, struct item *it, unsigned flags, struct sview *sv, const char *reason,
                   struct mxr_err *err)
{
    size_t len;
    char *json = rooms_pdu_json(it->pdu, &len, err);
    if (!json)
        return -1;
    struct mxr_store_event e;
    mxr_store_event_from(&e, &it->ev, json, len);
    e.received_ts = run->now;
    e.flags = flags;
    e.rejected_reason = reason;
    int rc = 0;
    if (!(flags & MXR_STORE_OUTLIER)) {
        rc = sview_store(run->txn, sv, err);
        e.state_before = sv->group;
        e.state_after = MXR_STORE_STATE_DERIVE;
    }
    struct mxr_store_persisted out;
    if (rc == 0)
        rc = mxr_store_event_persist(run->txn, &e, &out, err);
    free(json);
    if (rc < 0)
        return -1;
    evc_forget(&run->cache, it->ev.event_id);
    it->stored_now = !out.already;
    it->res->stream = out.stream;
    if (!(flags & (MXR_STORE_OUTLIER | MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED)) &&
        state_update_current(&run->cache, rooms_room_of(&it->ev), it->rv, err) < 0)
        return -1;
    return 0;
}

static int reject(struct run *run, struct item *it, enum mxr_rooms_phase phase, struct sview *sv, bool state_known,
                  const struct mxr_err *why, struct mxr_err *err)
{
    result_set(it->res, MXR_PDU_REJECTED, phase, why->errcode ? why->errcode : "M_FORBIDDEN", "%s", why->msg);
    if (it->local)
        return 0;   /* our own events are refused, never stored rejected */
    char reason[MXR_STORE_REASON_MAX + 1];
    snprintf(reason, sizeof reason, "[%s] %s", mxr_rooms_phase_name(phase), why->msg);
    unsigned flags = MXR_STORE_REJECTED | (state_known ? 0 : MXR_STORE_OUTLIER);
    return persist(run, it, flags, sv, reason, err);
}

/* ---- the phases ----------------------------------------------------------- */

/* Phase AUTH_EVENTS: 0 allowed, 1 rejected (why), 2 an auth event unknown
 * (why), -1 store failure. */
static int check_auth_events(struct run *run, struct item *it, struct mxr_err *why, struct mxr_err *err)
{
    const struct mxr_event *ev = &it->ev;
    int rc = mxr_auth_check_auth_events(it->rv, ev, evc_auth_fetch, &run->cache, why);
    if (run->cache.failed) {
        *err = run->cache.err;
        return -1;
    }
    if (rc < 0)
        return why->errcode && strcmp(why->errcode, "M_NOT_FOUND") == 0 ? 2 : 1;
    /* The rules over the auth events as the state (v12: plus the create
     * event the room ID names, which is never listed). */
    const struct mxr_event *set[ROOMS_MAX_AUTH_EVENTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < ev->n_auth_events && n < ROOMS_MAX_AUTH_EVENTS; i++) {
        const struct mxr_event *a = evc_fetch(&run->cache, ev->auth_events[i]);
        if (a)
            set[n++] = a;
    }
    if (it->rv->room_id_is_create_hash && ev->room_id && ev->room_id[0] == '!') {
        char create_id[MXR_ID_MAX + 2];
        snprintf(create_id, sizeof create_id, "$%s", ev->room_id + 1);
        const struct mxr_event *c = evc_fetch(&run->cache, create_id);
        if (c)
            set[n++] = c;
    }
    if (run->cache.failed) {
        *err = run->cache.err;
        return -1;
    }
    struct mxr_auth_set as = {set, n};
    if (mxr_auth_check(it->rv, ev, mxr_auth_set_lookup, &as, why) < 0)
        return 1;
    return 0;
}

static int process(struct run *run, struct item *it, struct mxr_err *err)
{
    const struct mxr_event *ev = &it->ev;
    const char *room_id = rooms_room_of(ev);
    item_reset_outputs(it);
    it->res->already = false;
    it->res->stream = 0;

    /* A duplicate in the batch, or stored meanwhile: as recorded then. An
     * outlier (not rejected) is processed again: its prevs may be known now. */
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(run->txn, ev->event_id, &meta, err);
    if (rc < 0)
        return -1;
    bool was_outlier = false;
    if (rc == 0) {
        if (!(meta.flags & MXR_STORE_OUTLIER) || (meta.flags & MXR_STORE_REJECTED)) {
            result_from_meta(it->res, &meta);
            return 0;
        }
        was_outlier = true;
    }

    struct mxr_err why = {0};
    int auth_rc = check_auth_events(run, it, &why, err);
    if (auth_rc < 0)
        return -1;
    if (auth_rc == 2) {
        if (was_outlier) {
            result_from_meta(it->res, &meta);
            return 0;
        }
        result_set(it->res, MXR_PDU_DEFERRED, MXR_PHASE_AUTH_EVENTS, "M_NOT_FOUND",
                   "%s; not stored: resend it once its auth chain is known (/event_auth)", why.msg);
        return 0;
    }

    /* MXR_INGEST_OUTLIER: a state or auth-chain event we were handed; its
     * place in the DAG is not ours to compute. */
    if (it->as_outlier) {
        struct sview none = {0};
        if (was_outlier) {
            result_from_meta(it->res, &meta);
            return 0;
        }
        if (auth_rc == 1)
            return reject(run, it, MXR_PHASE_AUTH_EVENTS, &none, false, &why, err);
        if (persist(run, it, MXR_STORE_OUTLIER, &none, NULL, err) < 0)
            return -1;
        result_set(it->res, MXR_PDU_OUTLIER, MXR_PHASE_AUTH_EVENTS, NULL,
                   "stored as an outlier (state or auth chain handed to us): passed the rules against its auth events");
        return 0;
    }

    struct sview sv = {0};
    bool known, unresolvable;
    struct mxr_err rerr = {0};
    if (state_before(run, it, &sv, &known, &unresolvable, &rerr, err) < 0) {
        sview_clear(&sv);
        return -1;
    }
    rc = 0;
    if (auth_rc == 1) {
        rc = reject(run, it, MXR_PHASE_AUTH_EVENTS, &sv, known && !unresolvable, &why, err);
        goto done;
    }
    if (!known || unresolvable) {
        if (was_outlier) {
            result_from_meta(it->res, &meta);
            goto done;
        }
        if (unresolvable)
            result_set(it->res, MXR_PDU_OUTLIER, MXR_PHASE_STATE_BEFORE, NULL,
                       "stored as an outlier: the states of its prev_events cannot be resolved yet: %s", rerr.msg);
        else
            result_set(it->res, MXR_PDU_OUTLIER, MXR_PHASE_STATE_BEFORE, NULL,
                       "stored as an outlier: %zu of its prev_events (first %.100s) are not known here",
                       it->n_missing, it->n_missing ? it->missing[0] : "?");
        if (it->local) {
            result_set(it->res, MXR_PDU_REJECTED, MXR_PHASE_STATE_BEFORE, "M_UNKNOWN",
                       "the state before our own event is unknown");
            goto done;
        }
        rc = persist(run, it, MXR_STORE_OUTLIER, &sv, NULL, err);
        goto done;
    }

    /* Phase AUTH_STATE (step 5). A second create event of a known room
     * passes rule 1 on its own; it must not start a second root. */
    struct sview_lookup l = {&run->cache, &sv};
    if (strcmp(ev->type, "m.room.create") == 0) {
        char cur[MXR_ID_MAX + 1];
        int r2 = mxr_store_room_current_get(run->txn, room_id, "m.room.create", "", cur, err);
        if (r2 < 0) {
            rc = -1;
            goto done;
        }
        if (r2 == 0 && strcmp(cur, ev->event_id) != 0) {
            mxr_err_set(&why, "M_FORBIDDEN", "the room already has the m.room.create event %.100s", cur);
            rc = reject(run, it, MXR_PHASE_AUTH_STATE, &sv, true, &why, err);
            goto done;
        }
    }
    int arc = mxr_auth_check(it->rv, ev, sview_lookup_fn, &l, &why);
    if (run->cache.failed) {
        *err = run->cache.err;
        rc = -1;
        goto done;
    }
    if (arc < 0) {
        rc = reject(run, it, MXR_PHASE_AUTH_STATE, &sv, true, &why, err);
        goto done;
    }

    /* Phase SOFT_FAIL (step 6): new remote events against the current
     * state. Backfilled history that a regular event already points at is
     * not news (and cannot become a forward extremity): not checked. */
    unsigned flags = 0;
    bool history = false;
    if (it->backfilled && has_accepted_child(run->txn, ev->event_id, &history, err) < 0) {
        rc = -1;
        goto done;
    }
    if (!it->local && !history) {
        uint64_t cur = 0;
        if (mxr_store_room_current(run->txn, room_id, &cur, err) < 0) {
            rc = -1;
            goto done;
        }
        if (cur != 0 && (sv.resolved || sv.group != cur)) {
            struct sview cv = {cur, NULL};
            struct sview_lookup cl = {&run->cache, &cv};
            arc = mxr_auth_check(it->rv, ev, sview_lookup_fn, &cl, &why);
            if (run->cache.failed) {
                *err = run->cache.err;
                rc = -1;
                goto done;
            }
            if (arc < 0)
                flags |= MXR_STORE_SOFT_FAILED;
        }
    }

    /* Phase PERSIST. */
    if (persist(run, it, flags, &sv, NULL, err) < 0 || (!flags && apply_redaction(run, it, &sv, err) < 0)) {
        rc = -1;
        goto done;
    }
    if (flags & MXR_STORE_SOFT_FAILED)
        result_set(it->res, MXR_PDU_SOFT_FAILED, MXR_PHASE_SOFT_FAIL, NULL,
                   "soft-failed: not allowed by the room's current state: %s", why.msg);
    else
        result_set(it->res, MXR_PDU_ACCEPTED, MXR_PHASE_NOTIFY, NULL, NULL);
done:
    sview_clear(&sv);
    return rc;
}

static void notice_of(struct mxr_rooms_notice *nt, const char *origin, struct item *it)
{
    *nt = (struct mxr_rooms_notice){
        .room_id = rooms_room_of(&it->ev),
        .event_id = it->ev.event_id,
        .outcome = it->res->outcome,
        .local = it->local,
        .remote_invite = it->remote_invite,
        .origin = it->local ? NULL : origin,
        .pdu = it->pdu,
        .stream = it->res->stream,
        .missing_prevs = (const char *const *)it->missing,
        .n_missing_prevs = it->n_missing,
    };
}

int pipeline_process(struct run *run, struct item *it, struct mxr_err *err)
{
    if (process(run, it, err) < 0)
        return -1;
    if (!run->r->in_commit || !it->stored_now || !it->loaded)
        return 0;
    struct mxr_rooms_notice nt;
    notice_of(&nt, run->origin, it);
    return run->r->in_commit(run->r->in_commit_ctx, run->txn, &nt, err);
}

void pipeline_notify(struct mxr_rooms *r, const char *origin, struct item *it)
{
    if (!r->notify || !it->stored_now || !it->loaded)
        return;
    struct mxr_rooms_notice nt;
    notice_of(&nt, origin, it);
    r->notify(r->notify_ctx, &nt);
}

void item_list_clear(struct item_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        item_release(l->v[i]);
        free(l->v[i]->res);
        free(l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}
