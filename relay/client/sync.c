/* GET /sync (client-server API "Syncing", sync.yaml): initial and
 * incremental, long-polling, filters.
 *
 * Tokens: next_batch is "s<E>_<A>_<D>_<T>_<R>_<Y>_<P>": E the event stream
 * position (the store's, shared by every room's timeline) and A the
 * account-data stream position, both "everything up to here was
 * delivered"; D device lists (keys.c), T R Y the ephemeral positions
 * (ephemeral.h), P the presence position (presence.h). prev_batch is
 * "t<N>", the point just before stream position N, which /messages takes.
 *
 * A room's entry: joined rooms get the timeline after `since` (the last
 * `limit` events; `limited` when more were skipped), and `state` holding
 * the state at the start of the timeline — in full for an initial sync, a
 * room joined since `since` or full_state; else only what changed in the
 * skipped gap. With the state filter's lazy_load_members (client-server API
 * "Lazy-loading room members"), the m.room.member events in `state` are only
 * those of the timeline's senders and the syncing user, sent on every sync
 * that has their events (the spec allows these redundant copies, so
 * include_redundant_members needs nothing more). Invited rooms get stripped
 * invite_state; rooms left since `since` get their timeline up to the leave.
 */
#include "relay/client/client_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/client/ephemeral.h"
#include "relay/client/presence.h"
#include "relay/rooms/rooms.h"
#include "relay/store/invites.h"
#include "relay/server.h"

#define DEFAULT_TIMELINE_LIMIT 10   /* Synapse's default */
#define MAX_TIMELINE_LIMIT 500
#define WAKE_CHECK_MS 1000          /* re-check even without a wake-up (a hook not wired) */

struct sync {
    struct mxr_client *c;
    struct mxr_request *req;
    struct mxr_store_txn *t;
    struct cl_filter f;
    struct cl_viewer viewer;
    bool initial, full_state;
    uint64_t since_ev, since_ad, head_ev, head_ad;
    uint64_t since_dl;        /* device-list stream (keys.c); keys.head is its head */
    struct cl_keys_sync keys;
    struct cl_eph eph;        /* to-device, typing, receipts (sync_eph.c) */
    struct mxr_edu_store *edus;
    struct cl_presence_sync pres;   /* the top-level presence section (presence.c) */
    bool lazy_load;           /* the state filter's lazy_load_members */
    json_t *lazy;             /* while a room is built: member state keys to send (NULL: all) */
    size_t limit;
    json_t *join, *invite, *leave, *account_data;
    json_t *room_ad;          /* room ID -> [account data events] since since_ad */
    bool any;
    struct mxr_err err;
};

/* "s<E>_<A>_<D>...": up to nf decimal fields; missing trailing ones are 0
 * (older tokens stay valid). Fields: 0 events, 1 account data, 2 device
 * lists, 3-5 ephemeral, 6 presence. */
#define SYNC_TOKEN_FIELDS 7
static int parse_since(const char *s, uint64_t *f, size_t nf)
{
    memset(f, 0, nf * sizeof *f);
    if (s[0] != 's')
        return -1;
    const char *p = s + 1;
    for (size_t i = 0; i < nf; i++) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        f[i] = strtoull(p, &end, 10);
        if (!*end)
            return 0;
        if (*end != '_')
            return -1;
        p = end + 1;
    }
    return -1;
}

/* ---- timeline ------------------------------------------------------------------------------- */

struct tl {
    struct sync *s;
    uint64_t lower;           /* events after this stream position */
    json_t *events;           /* newest first while collecting */
    uint64_t oldest;          /* stream of the oldest kept event */
    char oldest_id[MXR_STORE_ID_MAX + 1];
    bool limited, failed;
};

static int tl_add(void *arg, const char *event_id, uint64_t stream)
{
    struct tl *tl = arg;
    if (stream <= tl->lower)
        return 1;
    if (json_array_size(tl->events) == tl->s->limit) {
        tl->limited = true;
        return 1;
    }
    json_t *ev = cl_client_event(tl->s->t, event_id, &tl->s->viewer, 0, &tl->s->err);
    if (!ev) {
        tl->failed = true;
        return 1;
    }
    if (!cl_filter_event(&tl->s->f.timeline, json_string_value(json_object_get(ev, "type")),
                         json_string_value(json_object_get(ev, "sender")))) {
        json_decref(ev);
        return 0;
    }
    json_array_append_new(tl->events, ev);
    tl->oldest = stream;
    snprintf(tl->oldest_id, sizeof tl->oldest_id, "%s", event_id);
    return 0;
}

/* The last `limit` timeline events of the room with lower < stream < upper
 * (upper 0: no bound), oldest first. */
static int timeline(struct sync *s, const char *room_id, uint64_t lower, uint64_t upper, struct tl *tl)
{
    memset(tl, 0, sizeof *tl);
    tl->s = s;
    tl->lower = lower;
    tl->events = json_array();
    /* tl_add stops the walk; with limit 0 the first event only sets `limited`. */
    int rc = mxr_store_timeline(s->t, room_id, upper, false, (size_t)-1, tl_add, tl, &s->err);
    if (rc < 0 || tl->failed) {
        json_decref(tl->events);
        tl->events = NULL;
        return -1;
    }
    /* newest first -> oldest first */
    size_t n = json_array_size(tl->events);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(tl->events, i)), *b = json_incref(json_array_get(tl->events, n - 1 - i));
        json_array_set_new(tl->events, i, b);
        json_array_set_new(tl->events, n - 1 - i, a);
    }
    return 0;
}

/* ---- state --------------------------------------------------------------------------------- */

struct st {
    struct sync *s;
    json_t *events;
    bool failed;
};

static int st_add(void *arg, const char *type, const char *state_key, const char *event_id)
{
    struct st *st = arg;
    if (!event_id)   /* removed from the state: nothing to send */
        return 0;
    if (st->s->lazy && !strcmp(type, "m.room.member") && !json_object_get(st->s->lazy, state_key))
        return 0;
    json_t *ev = cl_client_event(st->s->t, event_id, &st->s->viewer, 0, &st->s->err);
    if (!ev) {
        st->failed = true;
        return 1;
    }
    if (cl_filter_event(&st->s->f.state, json_string_value(json_object_get(ev, "type")),
                        json_string_value(json_object_get(ev, "sender"))))
        json_array_append_new(st->events, ev);
    else
        json_decref(ev);
    return 0;
}

/* The state group before the timeline's first event, or the room's current
 * state when the timeline is empty (upper_event: the event bounding it, e.g.
 * a leave, whose state after is the answer then). */
static int state_at_start(struct sync *s, const char *room_id, const struct tl *tl, const char *upper_event,
                          uint64_t *group)
{
    uint64_t before, after;
    if (json_array_size(tl->events)) {
        int rc = mxr_store_event_state(s->t, tl->oldest_id, &before, &after, &s->err);
        *group = before;
        return rc == 0 ? 0 : -1;
    }
    if (upper_event) {
        int rc = mxr_store_event_state(s->t, upper_event, &before, &after, &s->err);
        *group = after;
        return rc == 0 ? 0 : -1;
    }
    return mxr_store_room_current(s->t, room_id, group, &s->err) < 0 ? -1 : 0;
}

struct last {
    char id[MXR_STORE_ID_MAX + 1];
};

static int last_cb(void *arg, const char *event_id, uint64_t stream)
{
    (void)stream;
    snprintf(((struct last *)arg)->id, MXR_STORE_ID_MAX + 1, "%s", event_id);
    return 1;
}

/* The room's state group as of stream position `at` (after its last event
 * at or before it); NOT_FOUND when the room had no event then. */
static int state_at_stream(struct sync *s, const char *room_id, uint64_t at, uint64_t *group)
{
    struct last l = {""};
    if (mxr_store_timeline(s->t, room_id, at + 1, false, 1, last_cb, &l, &s->err) < 0)
        return -1;
    if (!l.id[0])
        return MXR_STORE_NOT_FOUND;
    uint64_t before;
    return mxr_store_event_state(s->t, l.id, &before, group, &s->err) == 0 ? 0 : -1;
}

/* Lazy-loading: the members of the timeline's senders (and the syncing
 * user) at the start of the timeline that the section lacks -- an
 * incremental sync's gap holds only what changed. */
static int lazy_members(struct sync *s, uint64_t start, struct st *st)
{
    json_t *have = json_object();
    size_t i;
    json_t *ev;
    json_array_foreach(st->events, i, ev) {
        const char *key = json_string_value(json_object_get(ev, "state_key"));
        if (key && !strcmp(json_string_value(json_object_get(ev, "type")), "m.room.member"))
            json_object_set_new(have, key, json_true());
    }
    const char *user;
    json_t *v;
    int rc = 0;
    json_object_foreach(s->lazy, user, v) {
        char id[MXR_STORE_ID_MAX + 1];
        if (json_object_get(have, user))
            continue;
        rc = mxr_store_state_get(s->t, start, "m.room.member", user, id, &s->err);
        if (rc == MXR_STORE_NOT_FOUND) {   /* joined inside the timeline: its own event tells */
            rc = 0;
            continue;
        }
        if (rc < 0 || st_add(st, "m.room.member", user, id) || st->failed)
            break;
    }
    json_decref(have);
    return rc < 0 ? -1 : 0;
}

/* The `state` section: everything at the start of the timeline (full), or
 * what changed between `since` and it (gap). */
static json_t *state_section(struct sync *s, const char *room_id, const struct tl *tl, const char *upper_event,
                             bool full)
{
    struct st st = {s, json_array(), false};
    uint64_t start, then;
    int rc = state_at_start(s, room_id, tl, upper_event, &start);
    if (rc == 0 && full) {
        rc = mxr_store_state_all(s->t, start, st_add, &st, &s->err);
    } else if (rc == 0 && tl->limited) {
        rc = state_at_stream(s, room_id, s->since_ev, &then);
        if (rc == MXR_STORE_NOT_FOUND)
            rc = mxr_store_state_all(s->t, start, st_add, &st, &s->err);
        else if (rc == 0)
            rc = mxr_store_state_diff(s->t, then, start, st_add, &st, &s->err);
    }
    if (rc == 0 && !st.failed && s->lazy)
        rc = lazy_members(s, start, &st);
    if (rc < 0 || st.failed) {
        json_decref(st.events);
        return NULL;
    }
    return st.events;
}

/* ---- rooms ---------------------------------------------------------------------------------- */

struct summary {
    const char *self;
    json_t *heroes;
    long joined, invited;
};

static int summary_cb(void *arg, const char *user_id, const char *membership)
{
    struct summary *sm = arg;
    bool j = !strcmp(membership, "join"), i = !strcmp(membership, "invite");
    sm->joined += j;
    sm->invited += i;
    if ((j || i) && strcmp(user_id, sm->self) && json_array_size(sm->heroes) < 5)
        json_array_append_new(sm->heroes, json_string(user_id));
    return 0;
}

static json_t *summary(struct sync *s, const char *room_id)
{
    struct summary sm = {s->req->user_id, json_array(), 0, 0};
    if (mxr_store_room_members(s->t, room_id, NULL, summary_cb, &sm, &s->err) < 0) {
        json_decref(sm.heroes);
        return NULL;
    }
    return json_pack("{s:o, s:I, s:I}", "m.heroes", sm.heroes, "m.joined_member_count", (json_int_t)sm.joined,
                     "m.invited_member_count", (json_int_t)sm.invited);
}

static json_t *batch(json_t *events)
{
    return json_pack("{s:o}", "events", events ? events : json_array());
}

static json_t *timeline_json(struct sync *s, struct tl *tl)
{
    char prev[32];
    snprintf(prev, sizeof prev, "t%" PRIu64, json_array_size(tl->events) ? tl->oldest : s->head_ev + 1);
    json_t *o = json_pack("{s:o, s:b, s:s}", "events", tl->events, "limited", tl->limited, "prev_batch", prev);
    tl->events = NULL;
    return o;
}

static json_t *room_account_data(struct sync *s, const char *room_id)
{
    json_t *l = json_object_get(s->room_ad, room_id);
    json_t *events = l ? json_incref(l) : json_array();
    json_object_del(s->room_ad, room_id);
    return events;
}

static int sync_joined(struct sync *s, const char *room_id, uint64_t member_stream)
{
    bool fresh = s->initial || s->full_state || member_stream > s->since_ev;
    /* sync.yaml, full_state: "The timeline will still be limited by the
     * since parameter" -- only the state comes in full. */
    bool from_start = s->initial || member_stream > s->since_ev;
    struct tl tl;
    if (timeline(s, room_id, from_start ? 0 : s->since_ev, 0, &tl) < 0)
        return -1;
    bool has_ad = json_object_get(s->room_ad, room_id) != NULL;
    json_t *eph = cl_eph_room(&s->eph, s->t, s->edus, room_id, s->req->user_id, fresh, s->viewer.now, &s->err);
    if (!eph || (!fresh && !json_array_size(tl.events) && !tl.limited && !has_ad && !json_array_size(eph))) {
        json_decref(tl.events);
        return eph ? (json_decref(eph), 0) : -1;
    }
    if (s->lazy_load) {
        s->lazy = json_object();
        json_object_set_new(s->lazy, s->req->user_id, json_true());
        size_t i;
        json_t *ev;
        json_array_foreach(tl.events, i, ev) {
            const char *sender = json_string_value(json_object_get(ev, "sender"));
            if (sender)
                json_object_set_new(s->lazy, sender, json_true());
        }
    }
    json_t *state = state_section(s, room_id, &tl, NULL, fresh);
    json_decref(s->lazy);
    s->lazy = NULL;
    json_t *sum = state ? summary(s, room_id) : NULL;
    if (!sum) {
        json_decref(state);
        json_decref(tl.events);
        json_decref(eph);
        return -1;
    }
    json_t *room = json_pack("{s:o, s:o, s:o, s:o, s:o, s:{s:i, s:i}, s:{}}", "summary", sum, "state", batch(state),
                             "timeline", timeline_json(s, &tl), "ephemeral", batch(eph), "account_data",
                             batch(room_account_data(s, room_id)), "unread_notifications", "highlight_count", 0,
                             "notification_count", 0, "unread_thread_notifications");
    json_object_set_new(s->join, room_id, room);
    s->any = true;
    return 0;
}

/* Stripped state for an invite (client-server API "Stripped state": the
 * events that let a client show the room, plus the invite itself). */
static const char *const INVITE_STATE_TYPES[] = {
    "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias",
    "m.room.encryption", "m.room.topic",
};

static int sync_invited(struct sync *s, const char *room_id, const char *member_event)
{
    json_t *events = json_array();
    char id[MXR_STORE_ID_MAX + 1];
    for (size_t i = 0; i < sizeof INVITE_STATE_TYPES / sizeof INVITE_STATE_TYPES[0]; i++) {
        int rc = mxr_store_room_current_get(s->t, room_id, INVITE_STATE_TYPES[i], "", id, &s->err);
        if (rc < 0)
            goto fail;
        json_t *ev = rc == 0 ? cl_stripped_event(s->t, id, &s->err) : NULL;
        if (ev)
            json_array_append_new(events, ev);
    }
    json_t *invite = cl_stripped_event(s->t, member_event, &s->err);
    if (!invite)
        goto fail;
    /* The inviter's own membership, so that clients can show their name. */
    const char *inviter = json_string_value(json_object_get(invite, "sender"));
    if (inviter && strcmp(inviter, s->req->user_id) &&
        mxr_store_room_current_get(s->t, room_id, "m.room.member", inviter, id, &s->err) == 0) {
        json_t *ev = cl_stripped_event(s->t, id, &s->err);
        if (ev)
            json_array_append_new(events, ev);
    }
    json_array_append_new(events, invite);
    json_object_set_new(s->invite, room_id, json_pack("{s:{s:o}}", "invite_state", "events", events));
    s->any = true;
    return 0;
fail:
    json_decref(events);
    return -1;
}

static int sync_left(struct sync *s, const char *room_id, uint64_t member_stream, const char *member_event)
{
    struct tl tl;
    if (timeline(s, room_id, s->initial ? 0 : s->since_ev, member_stream + 1, &tl) < 0)
        return -1;
    json_t *state = state_section(s, room_id, &tl, member_event, s->initial || s->full_state);
    if (!state) {
        json_decref(tl.events);
        return -1;
    }
    json_object_set_new(s->leave, room_id,
                        json_pack("{s:o, s:o, s:o}", "state", batch(state), "timeline", timeline_json(s, &tl),
                                  "account_data", batch(room_account_data(s, room_id))));
    s->any = true;
    return 0;
}

struct room_list {
    json_t *rooms;   /* [[room_id, membership], ...] */
};

/* An invite over federation to a room this server is not in: what the
 * inviting server told us of the room (stored with the invite), then the
 * invite itself. Once the room's state is known here (the user joined) its
 * membership decides, as for every other room. */
static int remote_invite(void *arg, const char *room_id, const char *event_id, uint64_t stream,
                         const char *stripped, size_t len)
{
    struct sync *s = arg;
    char m[32];
    if (!cl_filter_room(&s->f, room_id) || (!s->initial && stream <= s->since_ev))
        return 0;
    if (cl_membership(s->t, room_id, s->req->user_id, m, NULL, NULL, &s->err) < 0)
        return -1;
    if (m[0])
        return 0;
    json_t *events = json_loadb(stripped, len, 0, NULL);
    if (!json_is_array(events)) {
        json_decref(events);
        events = json_array();
    }
    json_t *invite = cl_stripped_event(s->t, event_id, &s->err);
    if (!invite) {
        json_decref(events);
        return -1;
    }
    json_array_append_new(events, invite);
    json_object_set_new(s->invite, room_id, json_pack("{s:{s:o}}", "invite_state", "events", events));
    s->any = true;
    return 0;
}

static int list_room(void *arg, const char *room_id, const char *membership)
{
    json_array_append_new(((struct room_list *)arg)->rooms, json_pack("[s, s]", room_id, membership));
    return 0;
}

static int ad_cb(void *arg, const char *room_id, const char *type, const char *json, size_t len, uint64_t stream)
{
    (void)stream;
    struct sync *s = arg;
    json_t *content = json_loadb(json, len, 0, NULL);
    if (!json_is_object(content)) {
        json_decref(content);
        return 0;
    }
    const struct cl_event_filter *ef = room_id[0] ? &s->f.room_account_data : &s->f.account_data;
    if (!cl_filter_event(ef, type, NULL)) {
        json_decref(content);
        return 0;
    }
    json_t *ev = json_pack("{s:s, s:o}", "type", type, "content", content);
    if (!room_id[0]) {
        json_array_append_new(json_object_get(s->account_data, "events"), ev);
        s->any = true;
        return 0;
    }
    json_t *l = json_object_get(s->room_ad, room_id);
    if (!l) {
        l = json_array();
        json_object_set_new(s->room_ad, room_id, l);
    }
    json_array_append_new(l, ev);
    return 0;
}

/* One pass: fills the sections from a fresh read snapshot. */
static int compute(struct sync *s)
{
    int rc = -1;
    struct room_list rl = {json_array()};
    if (mxr_store_read_begin(s->c->store, &s->t, &s->err) < 0) {
        json_decref(rl.rooms);
        return -1;
    }
    s->any = false;
    s->join = json_object();
    s->invite = json_object();
    s->leave = json_object();
    s->account_data = json_pack("{s:[]}", "events");
    s->room_ad = json_object();
    if (mxr_store_stream_head(s->t, &s->head_ev, &s->err) < 0 ||
        mxr_store_account_data_head(s->t, &s->head_ad, &s->err) < 0 ||
        mxr_store_account_data_since(s->t, s->req->user_id, s->initial ? 0 : s->since_ad, ad_cb, s, &s->err) < 0 ||
        cl_keys_sync(s->t, s->req->user_id, s->req->device_id, s->initial, s->since_dl, s->since_ev, s->head_ev,
                     &s->keys, &s->err) < 0 ||
        cl_eph_collect(&s->eph, s->t, s->edus, s->req->user_id, s->req->device_id, s->initial, &s->err) < 0 ||
        mxr_store_user_rooms(s->t, s->req->user_id, NULL, list_room, &rl, &s->err) < 0 ||
        cl_presence_sync(&s->pres, s->t, s->edus, s->c->server_name, s->req->user_id, s->initial, s->viewer.now,
                         &s->f.presence, &s->err) < 0)
        goto out;
    size_t i;
    json_t *pair;
    json_array_foreach(rl.rooms, i, pair) {
        const char *room_id = json_string_value(json_array_get(pair, 0));
        if (!cl_filter_room(&s->f, room_id))
            continue;
        char m[32], member_event[CL_ID_MAX + 1];
        uint64_t stream;
        if (cl_membership(s->t, room_id, s->req->user_id, m, &stream, member_event, &s->err) < 0)
            goto out;
        int r = 0;
        if (!strcmp(m, "join"))
            r = sync_joined(s, room_id, stream);
        else if (!strcmp(m, "invite") && (s->initial || stream > s->since_ev))
            r = sync_invited(s, room_id, member_event);
        else if ((!strcmp(m, "leave") || !strcmp(m, "ban")) && stream &&
                 (s->initial ? s->f.include_leave : stream > s->since_ev))
            r = sync_left(s, room_id, stream, member_event);
        if (r < 0)
            goto out;
    }
    if (mxr_store_remote_invites(s->t, s->req->user_id, remote_invite, s, &s->err) < 0)
        goto out;
    if (json_array_size(s->keys.changed) || json_array_size(s->keys.left) || json_array_size(s->eph.to_device) ||
        json_array_size(s->pres.events))
        s->any = true;
    rc = 0;
out:
    mxr_store_read_end(s->t);
    s->t = NULL;
    json_decref(rl.rooms);
    return rc;
}

static void release(struct sync *s)
{
    json_decref(s->join);
    json_decref(s->invite);
    json_decref(s->leave);
    json_decref(s->account_data);
    json_decref(s->room_ad);
    s->join = s->invite = s->leave = s->account_data = s->room_ad = NULL;
    cl_keys_sync_free(&s->keys);
    cl_eph_release(&s->eph);
    cl_presence_sync_free(&s->pres);
}

static json_t *response(struct sync *s)
{
    char next[192];
    snprintf(next, sizeof next, "s%" PRIu64 "_%" PRIu64 "_%" PRIu64 "_%" PRIu64 "_%" PRIu64 "_%" PRIu64 "_%" PRIu64,
             s->head_ev, s->head_ad, s->keys.head, s->eph.head_td, s->eph.head_rc, s->eph.head_ty, s->pres.head);
    json_t *pres = s->pres.events ? s->pres.events : json_array();
    s->pres.events = NULL;
    json_t *td = s->eph.to_device ? s->eph.to_device : json_array();
    s->eph.to_device = NULL;
    json_t *body = json_pack("{s:s, s:{s:o, s:o, s:o, s:{}}, s:{s:o}, s:o, s:{s:o}, s:{s:o, s:o}, s:o, s:o}",
                             "next_batch", next, "rooms", "join", s->join, "invite", s->invite, "leave", s->leave,
                             "knock", "presence", "events", pres, "account_data", s->account_data, "to_device",
                             "events", td, "device_lists", "changed", s->keys.changed, "left", s->keys.left,
                             "device_one_time_keys_count", s->keys.otk_counts, "device_unused_fallback_key_types",
                             s->keys.fallback_types);
    s->join = s->invite = s->leave = s->account_data = NULL;
    s->keys.changed = s->keys.left = s->keys.otk_counts = s->keys.fallback_types = NULL;
    return body;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cl_h_sync(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    struct sync s = {.c = c, .req = req};
    const char *since = mxr_req_query(req, "since"), *timeout = mxr_req_query(req, "timeout");
    const char *full = mxr_req_query(req, "full_state");
    s.initial = !since || !*since;
    uint64_t tok[SYNC_TOKEN_FIELDS] = {0};
    if (!s.initial && parse_since(since, tok, SYNC_TOKEN_FIELDS) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "unknown 'since' token '%s' (use a next_batch of this server)",
                       since);
        return;
    }
    s.since_ev = tok[0], s.since_ad = tok[1], s.since_dl = tok[2];
    s.eph.since_td = tok[3], s.eph.since_rc = tok[4], s.eph.since_ty = tok[5];
    s.pres.since = tok[6];
    s.edus = req->srv ? req->srv->edus : NULL;
    /* The token acknowledges the to-device messages it covers. */
    if (cl_eph_ack(c, req->user_id, req->device_id, s.eph.since_td, &s.err) < 0) {
        cl_store_error(req, resp, &s.err);
        return;
    }
    s.full_state = full && !strcmp(full, "true");
    long wait_ms = 0;
    if (timeout) {
        char *end;
        wait_ms = strtol(timeout, &end, 10);
        if (*end || wait_ms < 0) {
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'timeout' must be a non-negative integer (ms)");
            return;
        }
        /* Each waiting /sync holds a request thread: keep waits bounded. */
        if (wait_ms > CL_SYNC_MAX_TIMEOUT_MS)
            wait_ms = CL_SYNC_MAX_TIMEOUT_MS;
    }
    if (s.full_state)
        wait_ms = 0;   /* sync.yaml: full_state ignores timeout */
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &s.err) < 0) {
        cl_store_error(req, resp, &s.err);
        return;
    }
    int rc = cl_filter_load(c, t, req->user_id, mxr_req_query(req, "filter"), &s.f, resp);
    mxr_store_read_end(t);
    if (rc < 0)
        return;
    /* filter.yaml RoomEventFilter: lazy_load_members applies to `state`. */
    s.lazy_load = json_is_true(
        json_object_get(json_object_get(json_object_get(s.f.json, "room"), "state"), "lazy_load_members"));
    s.limit = s.f.timeline.limit >= 0 ? (size_t)s.f.timeline.limit : DEFAULT_TIMELINE_LIMIT;
    if (s.limit > MAX_TIMELINE_LIMIT)
        s.limit = MAX_TIMELINE_LIMIT;
    s.viewer = (struct cl_viewer){req->user_id, req->device_id, 0};

    int64_t deadline = mono_ms() + wait_ms;
    for (;;) {
        uint64_t gen = cl_generation(c);
        s.viewer.now = cl_now(c);
        if (compute(&s) < 0) {
            release(&s);
            cl_filter_free(&s.f);
            cl_store_error(req, resp, &s.err);
            return;
        }
        int64_t left = deadline - mono_ms();
        if (s.any || s.initial || left <= 0 || atomic_load(&c->stopping))
            break;
        /* Nothing new yet: drop this answer and wait for a wake-up. A
         * `since` position ahead of the heads (another server's token or a
         * restored store) answers at once with the current heads. */
        if (s.since_ev > s.head_ev || s.since_ad > s.head_ad || s.since_dl > s.keys.head ||
            s.eph.since_td > s.eph.head_td || s.eph.since_rc > s.eph.head_rc)
            break;
        release(&s);
        cl_wait(c, gen, left < WAKE_CHECK_MS ? left : WAKE_CHECK_MS);
    }
    json_t *body = response(&s);
    release(&s);
    cl_filter_free(&s.f);
    mxr_resp_json(resp, 200, body);
}
