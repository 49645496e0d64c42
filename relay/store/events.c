/* Events: the canonical PDU and its metadata, persisted together with the
 * graph edges, state groups, stream position, timeline row and forward
 * extremities in the caller's write transaction, so a reader (or a restart
 * after a crash) sees all of them or none. */
#include "relay/store/store_int.h"

#include <jansson.h>
#include <stdio.h>

#include "mxr/event.h"

#define META_FORMAT 1

/* Record in shorteventid_meta (big-endian):
 *   u8 format | u8 flags | u64 room | u64 depth | u64 stream | u64 received_ts
 *   | u64 origin_server_ts | u64 short state key (0: not a state event)
 *   | str8 membership | str16 rejection reason */
static int evmeta_put(struct mxr_store_txn *t, uint64_t sev, const struct ev_meta *m,
                      struct mxr_err *err)
{
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, META_FORMAT);
    sbuf_u8(&b, m->flags);
    sbuf_u64(&b, m->room);
    sbuf_u64(&b, (uint64_t)m->depth);
    sbuf_u64(&b, m->stream);
    sbuf_u64(&b, (uint64_t)m->received_ts);
    sbuf_u64(&b, (uint64_t)m->origin_server_ts);
    sbuf_u64(&b, m->ssk);
    sbuf_str8(&b, m->membership);
    sbuf_str16(&b, m->reason);
    int rc;
    if (b.oom) {
        rc = st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    } else {
        struct skey k;
        skey_init(&k);
        skey_u64(&k, sev);
        rc = st_put_seq(t, T_SHORTEVENTID_META, &k, b.p, b.n, err);
    }
    sbuf_free(&b);
    return rc;
}

int evmeta_get(struct mxr_store_txn *t, uint64_t sev, struct ev_meta *m, struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, sev);
    MDB_val v;
    int rc = st_get(t, T_SHORTEVENTID_META, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    if (srd_u8(&r) != META_FORMAT)
        r.bad = true;
    m->flags = srd_u8(&r);
    m->room = srd_u64(&r);
    m->depth = (int64_t)srd_u64(&r);
    m->stream = srd_u64(&r);
    m->received_ts = (int64_t)srd_u64(&r);
    m->origin_server_ts = (int64_t)srd_u64(&r);
    m->ssk = srd_u64(&r);
    srd_str8(&r, m->membership, sizeof m->membership);
    srd_str16(&r, m->reason, sizeof m->reason);
    if (r.bad || r.n)
        return st_fail(t, err, "M_UNKNOWN", "store: metadata of event %llu malformed: store damaged",
                       (unsigned long long)sev);
    return 0;
}

static int check_input(struct mxr_store_txn *t, const struct mxr_store_event *e, struct mxr_err *err)
{
    if (!e || !e->event_id || !e->room_id || !e->type)
        return st_fail(t, err, "M_UNKNOWN", "store: event without event_id, room_id or type");
    if (!e->json || !e->json_len)
        return st_fail(t, err, "M_UNKNOWN", "store: event %s without its PDU JSON", e->event_id);
    if (e->n_prev_events && !e->prev_events)
        return st_fail(t, err, "M_UNKNOWN", "store: event %s: prev_events missing", e->event_id);
    if (e->n_auth_events && !e->auth_events)
        return st_fail(t, err, "M_UNKNOWN", "store: event %s: auth_events missing", e->event_id);
    if (e->flags & ~(unsigned)(MXR_STORE_OUTLIER | MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED))
        return st_fail(t, err, "M_UNKNOWN", "store: event %s: unknown flags %#x", e->event_id, e->flags);
    if (e->depth < 0)
        return st_fail(t, err, "M_UNKNOWN", "store: event %s: negative depth", e->event_id);
    bool member = e->state_key && strcmp(e->type, "m.room.member") == 0;
    if (member && (!e->membership || strlen(e->membership) >= sizeof ((struct ev_meta *)0)->membership))
        return st_fail(t, err, "M_UNKNOWN", "store: m.room.member event %s without a usable "
                       "content.membership", e->event_id);
    if (e->rejected_reason && strlen(e->rejected_reason) > MXR_STORE_REASON_MAX)
        return st_fail(t, err, "M_UNKNOWN", "store: rejection reason of %s over %d bytes", e->event_id,
                       MXR_STORE_REASON_MAX);
    return 0;
}

static int put_pdu(struct mxr_store_txn *t, uint64_t sev, const struct mxr_store_event *e,
                   struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, sev);
    return st_put_seq(t, T_SHORTEVENTID_PDU, &k, e->json, e->json_len, err);
}

static int put_state_groups(struct mxr_store_txn *t, uint64_t sev, uint64_t before, uint64_t after,
                            struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_u64(&k, sev);
    uint8_t b[16];
    be64_put(b, before);
    be64_put(b + 8, after);
    return st_put_seq(t, T_SHORTEVENTID_STATEGROUPS, &k, b, 16, err);
}

int mxr_store_event_persist(struct mxr_store_txn *t, const struct mxr_store_event *e,
                            struct mxr_store_persisted *out, struct mxr_err *err)
{
    struct mxr_store_persisted dummy;
    if (!out)
        out = &dummy;
    *out = (struct mxr_store_persisted){0};
    if (st_ok_write(t, err) || check_input(t, e, err))
        return -1;
    bool outlier = e->flags & MXR_STORE_OUTLIER;

    uint64_t room, sev, ssk = 0;
    int rc = sid_room(t, e->room_id, false, &room, err);
    if (rc == MXR_STORE_NOT_FOUND)
        return st_fail(t, err, "M_UNKNOWN", "store: event %s is in room %s, which is not registered "
                       "(mxr_store_room_add with its version first)", e->event_id, e->room_id);
    if (rc || sid_event(t, e->event_id, true, &sev, err))
        return -1;
    if (e->state_key && sid_statekey(t, e->type, e->state_key, true, &ssk, err))
        return -1;

    struct ev_meta old;
    rc = evmeta_get(t, sev, &old, err);
    if (rc < 0)
        return -1;
    bool stored = rc == 0;
    if (stored) {
        if (old.room != room)
            return st_fail(t, err, "M_UNKNOWN", "store: event %s already stored in another room",
                           e->event_id);
        if (!(old.flags & MXR_STORE_OUTLIER) || outlier) {
            out->already = true;
            out->stream = old.stream;
            if (!(old.flags & MXR_STORE_OUTLIER))
                mxr_store_event_state(t, e->event_id, NULL, &out->state_after, err);
            return st_ok(t, err);
        }
        /* An outlier whose state became known: de-outlier it. Its PDU and
         * edges are stored already. */
    } else {
        if (put_pdu(t, sev, e, err) ||
            graph_add_edges(t, sev, e->prev_events, e->n_prev_events, false, err) ||
            graph_add_edges(t, sev, e->auth_events, e->n_auth_events, true, err))
            return -1;
    }

    struct ev_meta m = {
        .flags = (uint8_t)(e->flags | (e->state_key ? EVM_STATE : 0)),
        .room = room,
        .depth = e->depth,
        .received_ts = e->received_ts,
        .origin_server_ts = e->origin_server_ts,
        .ssk = ssk,
    };
    if (e->membership && e->state_key && strcmp(e->type, "m.room.member") == 0)
        snprintf(m.membership, sizeof m.membership, "%s", e->membership);
    if ((e->flags & MXR_STORE_REJECTED) && e->rejected_reason)
        snprintf(m.reason, sizeof m.reason, "%s", e->rejected_reason);

    if (!outlier) {
        uint64_t after = e->state_after;
        if (sg_exists(t, e->state_before, err)) {
            if (!t->failed)
                st_fail(t, err, "M_UNKNOWN", "store: event %s: state group %llu (before) does not exist",
                        e->event_id, (unsigned long long)e->state_before);
            return -1;
        }
        if (after == MXR_STORE_STATE_DERIVE) {
            /* Spec: a rejected event does not change the state. */
            after = e->state_before;
            if (ssk && !(e->flags & MXR_STORE_REJECTED)) {
                struct sg_entry d = {ssk, sev};
                if (sg_new(t, e->state_before, &d, 1, &after, err))
                    return -1;
            }
        } else if (sg_exists(t, after, err)) {
            if (!t->failed)
                st_fail(t, err, "M_UNKNOWN", "store: event %s: state group %llu (after) does not exist",
                        e->event_id, (unsigned long long)after);
            return -1;
        }
        if (st_next(t, META_NEXT_STREAM, &m.stream, err) ||
            put_state_groups(t, sev, e->state_before, after, err))
            return -1;
        if (evmeta_accepted(&m) &&
            (room_timeline_add(t, room, m.stream, sev, err) || graph_extremities_update(t, room, sev, err)))
            return -1;
        out->state_after = after;
        out->stream = m.stream;
    }
    return evmeta_put(t, sev, &m, err);
}

int mxr_store_event_exists(struct mxr_store_txn *t, const char *event_id, struct mxr_err *err)
{
    MDB_val v;
    return st_get_by_event(t, T_SHORTEVENTID_META, event_id, &v, err);
}

int mxr_store_event_json(struct mxr_store_txn *t, const char *event_id, const char **json,
                         size_t *len, struct mxr_err *err)
{
    MDB_val v;
    int rc = st_get_by_event(t, T_SHORTEVENTID_PDU, event_id, &v, err);
    if (rc)
        return rc;
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int mxr_store_event_meta(struct mxr_store_txn *t, const char *event_id,
                         struct mxr_store_event_meta *out, struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    uint64_t sev;
    int rc = sid_event(t, event_id, false, &sev, err);
    if (rc)
        return rc;
    struct ev_meta m;
    if ((rc = evmeta_get(t, sev, &m, err)))
        return rc;
    if (sid_room_str(t, m.room, out->room_id, err))
        return -1;
    out->depth = m.depth;
    out->origin_server_ts = m.origin_server_ts;
    out->received_ts = m.received_ts;
    out->stream = m.stream;
    out->flags = m.flags & ~EVM_STATE;
    out->is_state = m.flags & EVM_STATE;
    if (out->is_state && sid_statekey_str(t, m.ssk, out->type, out->state_key, err))
        return -1;
    memcpy(out->membership, m.membership, sizeof out->membership);
    snprintf(out->rejected_reason, sizeof out->rejected_reason, "%s", m.reason);

    struct skey k;
    skey_init(&k);
    skey_u64(&k, sev);
    MDB_val v;
    rc = st_get(t, T_SHORTEVENTID_REDACTEDBY, &k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (v.mv_size != 8)
            return st_fail(t, err, "M_UNKNOWN", "store: redaction record of %s malformed", event_id);
        if (sid_event_str(t, be64_get(v.mv_data), out->redacted_by, err))
            return -1;
    }
    return 0;
}

int mxr_store_event_set_redacted_by(struct mxr_store_txn *t, const char *event_id,
                                    const char *redaction_id, struct mxr_err *err)
{
    uint64_t target, red;
    if (st_ok_write(t, err) || sid_event(t, event_id, true, &target, err) ||
        sid_event(t, redaction_id, true, &red, err))
        return -1;
    struct skey k;
    skey_init(&k);
    skey_u64(&k, target);
    uint8_t b[8];
    be64_put(b, red);
    /* The first redaction recorded stays: redacting twice changes nothing. */
    return st_put(t, T_SHORTEVENTID_REDACTEDBY, &k, b, 8, MDB_NOOVERWRITE, err) < 0 ? -1 : 0;
}

void mxr_store_event_from(struct mxr_store_event *e, const struct mxr_event *ev, const char *json,
                          size_t json_len)
{
    memset(e, 0, sizeof *e);
    e->event_id = ev->event_id;
    e->room_id = ev->room_id ? ev->room_id : ev->room_id_buf;
    e->type = ev->type;
    e->state_key = ev->state_key;
    if (ev->state_key && ev->type && strcmp(ev->type, "m.room.member") == 0)
        e->membership = json_string_value(json_object_get(ev->content, "membership"));
    e->depth = ev->depth;
    e->origin_server_ts = ev->origin_server_ts;
    e->prev_events = ev->prev_events;
    e->n_prev_events = ev->n_prev_events;
    e->auth_events = ev->auth_events;
    e->n_auth_events = ev->n_auth_events;
    e->json = json;
    e->json_len = json_len;
    e->state_before = 0;
    e->state_after = MXR_STORE_STATE_DERIVE;
}
