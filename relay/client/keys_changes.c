/* Who to re-query (client-server API "End-to-End Encryption" > "Tracking
 * the device list for a user"): GET /keys/changes and the key fields of
 * /sync (device_lists, device_one_time_keys_count,
 * device_unused_fallback_key_types).
 *
 * `changed`: users sharing a joined room with the requester (or the
 * requester) who moved on the device-list stream, and users who came to
 * share a room in the event stream gap; `left`: users whose membership
 * moved in the gap and who share no joined room with the requester any
 * more. */
#include "relay/client/keys_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GET /keys/changes ------------------------------------------------------------------------ */

struct changes {
    struct mxr_store_txn *t;
    const json_t *rooms;
    const char *me;
    json_t *changed;
};

static int changed_cb(void *arg, const char *user_id, uint64_t pos)
{
    (void)pos;
    struct changes *ch = arg;
    if (ck_shares_room(ch->t, ch->rooms, ch->me, user_id))
        json_array_append_new(ch->changed, json_string(user_id));
    return 0;
}

/* Users sharing a room with `me` whose device list moved in (from, to]. */
static json_t *changed_users(struct mxr_store_txn *t, const char *me, uint64_t from, uint64_t to,
                             struct mxr_err *err)
{
    json_t *rooms = ck_joined_rooms(t, me, err);
    if (!rooms)
        return NULL;
    struct changes ch = {t, rooms, me, json_array()};
    int rc = from < to ? mxr_store_devicelist_since(t, from, to, changed_cb, &ch, err) : 0;
    json_decref(rooms);
    if (rc < 0) {
        json_decref(ch.changed);
        return NULL;
    }
    return ch.changed;
}

/* Membership moves in (since, upto] of the event stream (client-server API
 * "Tracking the device list for a user": a user who starts sharing a room
 * is reported in `changed`, one who no longer shares any in `left`). */
#define MEMBER_WALK_MAX 2000   /* events per room; a longer gap reports what it saw */

struct walk {
    struct mxr_store_txn *t;
    const char *me;
    uint64_t upto;
    json_t *touched;           /* user -> their last membership in the gap */
    char mine[32];             /* my last membership in the gap, "" when it did not move */
    bool failed;
    struct mxr_err *err;
};

static int walk_cb(void *arg, const char *event_id, uint64_t stream)
{
    struct walk *w = arg;
    if (w->upto && stream > w->upto)
        return 1;
    struct mxr_store_event_meta m;
    if (mxr_store_event_meta(w->t, event_id, &m, w->err) < 0) {
        w->failed = true;
        return 1;
    }
    if (strcmp(m.type, "m.room.member") || !m.state_key[0])
        return 0;
    if (!strcmp(m.state_key, w->me))
        snprintf(w->mine, sizeof w->mine, "%s", m.membership);
    else
        json_object_set_new(w->touched, m.state_key, json_string(m.membership));
    return 0;
}

struct members {
    json_t *set;
    const char *me;
};

static int member_cb(void *arg, const char *user_id, const char *membership)
{
    (void)membership;
    struct members *ms = arg;
    if (strcmp(user_id, ms->me))
        json_object_set_new(ms->set, user_id, json_true());
    return 0;
}

static int member_moves(struct mxr_store_txn *t, const char *me, uint64_t since, uint64_t upto, json_t *changed,
                        json_t *left, struct mxr_err *err)
{
    json_t *rooms = json_array(), *gone = json_object(), *came = json_object();
    int rc = mxr_store_user_rooms(t, me, NULL, ck_room_cb, rooms, err) < 0 ? -1 : 0;
    size_t i;
    json_t *r;
    json_array_foreach(rooms, i, r) {
        if (rc < 0)
            break;
        const char *room = json_string_value(r);
        struct walk w = {t, me, upto, json_object(), "", false, err};
        char mine[32] = "";
        if (mxr_store_timeline(t, room, since, true, MEMBER_WALK_MAX, walk_cb, &w, err) < 0 || w.failed ||
            mxr_store_membership(t, room, me, mine, err) < 0) {
            json_decref(w.touched);
            rc = -1;
            break;
        }
        /* memberships as of `upto` where the gap says, else the current ones */
        bool joined = !strcmp(w.mine[0] ? w.mine : mine, "join");
        if (w.mine[0]) {   /* I joined or left: everyone joined there came or went */
            struct members ms = {joined ? came : gone, me};
            if (mxr_store_room_members(t, room, "join", member_cb, &ms, err) < 0)
                rc = -1;
        }
        const char *user;
        json_t *v;
        json_object_foreach(w.touched, user, v) {
            const char *theirs = json_string_value(v);
            if (!strcmp(theirs, "join") && joined)
                json_object_set_new(came, user, json_true());
            else if (strcmp(theirs, "join"))
                json_object_set_new(gone, user, json_true());
        }
        json_decref(w.touched);
    }
    json_t *my_rooms = rc == 0 ? ck_joined_rooms(t, me, err) : NULL;
    const char *user;
    json_t *v;
    if (my_rooms) {
        json_object_foreach(came, user, v) {
            bool dup = false;
            size_t k;
            json_t *c;
            json_array_foreach(changed, k, c) dup = dup || !strcmp(json_string_value(c), user);
            if (!dup)
                json_array_append_new(changed, json_string(user));
        }
        json_object_foreach(gone, user, v) if (!json_object_get(came, user) && !ck_shares_room(t, my_rooms, me, user))
            json_array_append_new(left, json_string(user));
    } else {
        rc = -1;
    }
    json_decref(my_rooms);
    json_decref(rooms);
    json_decref(gone);
    json_decref(came);
    return rc;
}

void cl_h_keys_changes(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *from = mxr_req_query(req, "from"), *to = mxr_req_query(req, "to");
    uint64_t f, tt;
    if (!from || !to) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "'from' and 'to' (sync tokens) are required");
        return;
    }
    if (ck_token_devicelist(from, &f) < 0 || ck_token_devicelist(to, &tt) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "'from' and 'to' must be next_batch tokens of this server");
        return;
    }
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    uint64_t fe = strtoull(from + 1, NULL, 10), te = strtoull(to + 1, NULL, 10);
    json_t *changed = changed_users(t, req->user_id, f, tt, &err), *left = json_array();
    if (changed && fe < te && member_moves(t, req->user_id, fe, te, changed, left, &err) < 0) {
        json_decref(changed);
        changed = NULL;
    }
    mxr_store_read_end(t);
    if (!changed) {
        json_decref(left);
        cl_store_error(req, resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o, s:o}", "changed", changed, "left", left));
}

/* ---- /sync ------------------------------------------------------------------------------------ */

static int fb_cb(void *arg, const char *algorithm)
{
    json_array_append_new(arg, json_string(algorithm));
    return 0;
}

int cl_keys_sync(struct mxr_store_txn *t, const char *user_id, const char *device_id, bool initial,
                 uint64_t since_dl, uint64_t since_ev, uint64_t head_ev, struct cl_keys_sync *out, struct mxr_err *err)
{
    memset(out, 0, sizeof *out);
    if (mxr_store_devicelist_head(t, &out->head, err) < 0)
        return -1;
    out->otk_counts = json_object();
    out->fallback_types = json_array();
    out->changed = initial ? json_array() : changed_users(t, user_id, since_dl, out->head, err);
    out->left = json_array();
    if (!out->changed || (!initial && since_ev < head_ev &&
                          member_moves(t, user_id, since_ev, head_ev, out->changed, out->left, err) < 0) ||
        mxr_store_otk_counts(t, user_id, device_id, ck_count_cb, out->otk_counts, err) < 0 ||
        mxr_store_fallback_unused(t, user_id, device_id, fb_cb, out->fallback_types, err) < 0) {
        cl_keys_sync_free(out);
        return -1;
    }
    if (!json_object_get(out->otk_counts, "signed_curve25519"))
        json_object_set_new(out->otk_counts, "signed_curve25519", json_integer(0));
    return 0;
}

void cl_keys_sync_free(struct cl_keys_sync *k)
{
    json_decref(k->changed);
    json_decref(k->otk_counts);
    json_decref(k->fallback_types);
    json_decref(k->left);
    k->changed = k->otk_counts = k->fallback_types = k->left = NULL;
}
