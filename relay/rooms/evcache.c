/* Stored events, parsed once per store transaction.
 *
 * The auth rules and state resolution ask for events by ID through
 * callbacks that cannot report errors; this cache loads them from the store,
 * remembers the answer (including "not stored"), and records a store failure
 * for the caller to check afterwards. Events whose redaction was applied are
 * handed out pruned, as the rules must see them (spec: a redacted event
 * keeps only the keys the redaction algorithm keeps, and still counts). */
#include "relay/rooms/rooms_int.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"

struct evc_slot {
    char *id;                  /* NULL: empty slot */
    struct evc_entry *e;       /* NULL: known not to be stored */
};

void evc_init(struct evcache *c, struct mxr_store_txn *txn)
{
    memset(c, 0, sizeof *c);
    c->txn = txn;
}

static void entry_free(struct evc_entry *e)
{
    if (!e)
        return;
    mxr_event_release(&e->ev);
    free(e);
}

void evc_free(struct evcache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i].id);
        entry_free(c->slots[i].e);
    }
    for (size_t i = 0; i < c->n_retired; i++)
        entry_free(c->retired[i]);
    free(c->slots);
    free(c->retired);
    memset(c, 0, sizeof *c);
}

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct evc_slot *find_slot(struct evcache *c, const char *id)
{
    if (!c->cap)
        return NULL;
    size_t i = hash_str(id) & (c->cap - 1);
    while (c->slots[i].id) {
        if (strcmp(c->slots[i].id, id) == 0)
            return &c->slots[i];
        i = (i + 1) & (c->cap - 1);
    }
    return NULL;
}

static bool grow(struct evcache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct evc_slot *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].id)
            continue;
        size_t j = hash_str(c->slots[i].id) & (cap - 1);
        while (ns[j].id)
            j = (j + 1) & (cap - 1);
        ns[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = ns;
    c->cap = cap;
    return true;
}

static bool insert(struct evcache *c, const char *id, struct evc_entry *e)
{
    if ((c->n + 1) * 2 > c->cap && !grow(c))
        return false;
    char *copy = strdup(id);
    if (!copy)
        return false;
    size_t i = hash_str(id) & (c->cap - 1);
    while (c->slots[i].id)
        i = (i + 1) & (c->cap - 1);
    c->slots[i] = (struct evc_slot){copy, e};
    c->n++;
    return true;
}

static void fail(struct evcache *c, const struct mxr_err *err, const char *fallback)
{
    if (c->failed)
        return;
    c->failed = true;
    if (err && err->errcode)
        c->err = *err;
    else
        mxr_err_set(&c->err, "M_UNKNOWN", "%s", fallback);
}

int rooms_room_version(struct mxr_store_txn *txn, const char *room_id, const struct mxr_room_version **rv,
                       struct mxr_err *err)
{
    char ver[MXR_STORE_VERSION_MAX + 1];
    int rc = mxr_store_room_version(txn, room_id, ver, err);
    if (rc)
        return rc;
    *rv = mxr_room_version_get(ver, err);
    if (!*rv)
        return mxr_err_prefix(err, "room %.100s is stored with a room version this build does not know", room_id);
    return 0;
}

/* Loads pdu as event_id, which is trusted: it is the key the event was
 * stored under, computed on receipt. v3+ PDUs carry no event_id, so lend
 * them one for loading and take it away again (it would change the hashes). */
static int load_trusted(struct mxr_event *ev, json_t *pdu, const char *event_id,
                        const struct mxr_room_version *rv, struct mxr_err *err)
{
    int rc;
    if (rv->event_format != MXR_EVFMT_V1 && !json_object_get(pdu, "event_id")) {
        json_object_set_new(pdu, "event_id", json_string(event_id));
        rc = mxr_event_load(ev, pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, err);
        json_object_del(pdu, "event_id");
    } else {
        rc = mxr_event_load(ev, pdu, rv, 0, err);
    }
    if (rc == 0 && strcmp(ev->event_id, event_id) != 0) {
        mxr_err_set(err, "M_UNKNOWN", "stored event %.100s has event_id %.100s: store damaged", event_id,
                    ev->event_id);
        mxr_event_release(ev);
        return -1;
    }
    return rc < 0 ? mxr_err_prefix(err, "stored event %.100s", event_id) : 0;
}

int rooms_load_stored(struct mxr_event *ev, const char *json, size_t len, const char *event_id,
                      const struct mxr_room_version *rv, struct mxr_err *err)
{
    json_t *pdu = mxr_json_parse(json, len, 0, err);
    if (!pdu)
        return mxr_err_prefix(err, "stored event %.100s", event_id);
    int rc = load_trusted(ev, pdu, event_id, rv, err);
    json_decref(pdu);
    return rc;
}

json_t *rooms_stored_pdu(struct mxr_store_txn *txn, const char *event_id, struct mxr_err *err)
{
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(txn, event_id, &meta, err);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_NOT_FOUND", "event %.100s is not known here", event_id);
    if (rc)
        return NULL;
    const char *json;
    size_t len;
    rc = mxr_store_event_json(txn, event_id, &json, &len, err);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_UNKNOWN", "event %.100s has metadata but no PDU: store damaged", event_id);
    if (rc)
        return NULL;
    json_t *pdu = mxr_json_parse(json, len, 0, err);
    if (!pdu || !meta.redacted_by[0])
        return pdu;
    const struct mxr_room_version *rv;
    rc = rooms_room_version(txn, meta.room_id, &rv, err);
    if (rc) {
        if (rc == MXR_STORE_NOT_FOUND)
            mxr_err_set(err, "M_UNKNOWN", "event %.100s is in unregistered room %.100s", event_id, meta.room_id);
        json_decref(pdu);
        return NULL;
    }
    json_t *pruned = mxr_event_redact(pdu, rv, err);
    json_decref(pdu);
    return pruned;
}

static struct evc_entry *load(struct evcache *c, const char *id)
{
    struct mxr_err err = {0};
    struct mxr_store_event_meta meta;
    int rc = mxr_store_event_meta(c->txn, id, &meta, &err);
    if (rc == MXR_STORE_NOT_FOUND)
        return NULL;
    if (rc) {
        fail(c, &err, "store failure loading an event");
        return NULL;
    }
    const struct mxr_room_version *rv = c->memo_rv;
    if (!rv || strcmp(c->memo_room, meta.room_id) != 0) {
        rc = rooms_room_version(c->txn, meta.room_id, &rv, &err);
        if (rc) {
            if (rc == MXR_STORE_NOT_FOUND)
                mxr_err_set(&err, "M_UNKNOWN", "event %.100s is in unregistered room %.100s", id, meta.room_id);
            fail(c, &err, "room version lookup failed");
            return NULL;
        }
        snprintf(c->memo_room, sizeof c->memo_room, "%s", meta.room_id);
        c->memo_rv = rv;
    }
    const char *json;
    size_t len;
    rc = mxr_store_event_json(c->txn, id, &json, &len, &err);
    if (rc) {
        if (rc == MXR_STORE_NOT_FOUND)
            mxr_err_set(&err, "M_UNKNOWN", "event %.100s has metadata but no PDU: store damaged", id);
        fail(c, &err, "store failure reading an event");
        return NULL;
    }
    struct evc_entry *e = calloc(1, sizeof *e);
    if (!e) {
        fail(c, NULL, "out of memory");
        return NULL;
    }
    e->flags = meta.flags;
    if (rooms_load_stored(&e->ev, json, len, id, rv, &err) < 0) {
        free(e);
        fail(c, &err, "stored event unreadable");
        return NULL;
    }
    if (meta.redacted_by[0]) {
        json_t *pruned = mxr_event_redact(e->ev.json, rv, &err);
        struct mxr_event pev;
        if (!pruned || load_trusted(&pev, pruned, id, rv, &err) < 0) {
            json_decref(pruned);
            entry_free(e);
            fail(c, &err, "pruning a redacted event failed");
            return NULL;
        }
        json_decref(pruned);
        mxr_event_release(&e->ev);
        e->ev = pev;
    }
    return e;
}

const struct evc_entry *evc_get(struct evcache *c, const char *event_id)
{
    if (!event_id || c->failed)
        return NULL;
    struct evc_slot *s = find_slot(c, event_id);
    if (s)
        return s->e;
    struct evc_entry *e = load(c, event_id);
    if (c->failed)
        return NULL;
    if (!insert(c, event_id, e)) {
        entry_free(e);
        fail(c, NULL, "out of memory");
        return NULL;
    }
    return e;
}

void evc_forget(struct evcache *c, const char *event_id)
{
    struct evc_slot *s = find_slot(c, event_id);
    if (!s)
        return;
    if (s->e) {
        if (c->n_retired == c->cap_retired) {
            size_t cap = c->cap_retired ? c->cap_retired * 2 : 16;
            struct evc_entry **nr = realloc(c->retired, cap * sizeof *nr);
            if (!nr) {
                fail(c, NULL, "out of memory");
                return;
            }
            c->retired = nr;
            c->cap_retired = cap;
        }
        c->retired[c->n_retired++] = s->e;
        s->e = NULL;
    }
    /* Removing from open addressing: re-insert the cluster after it. */
    free(s->id);
    s->id = NULL;
    c->n--;
    size_t i = (size_t)(s - c->slots);
    for (size_t j = (i + 1) & (c->cap - 1); c->slots[j].id; j = (j + 1) & (c->cap - 1)) {
        struct evc_slot moved = c->slots[j];
        c->slots[j] = (struct evc_slot){0};
        size_t k = hash_str(moved.id) & (c->cap - 1);
        while (c->slots[k].id)
            k = (k + 1) & (c->cap - 1);
        c->slots[k] = moved;
    }
}

const struct mxr_event *evc_auth_fetch(void *ctx, const char *event_id, bool *rejected)
{
    const struct evc_entry *e = evc_get(ctx, event_id);
    if (rejected)
        *rejected = e && (e->flags & MXR_STORE_REJECTED);
    return e ? &e->ev : NULL;
}

const struct mxr_event *evc_fetch(void *ctx, const char *event_id)
{
    const struct evc_entry *e = evc_get(ctx, event_id);
    return e ? &e->ev : NULL;
}
