/* EDU validation and the in-memory EDU store (see edus.h). Each EDU type's
 * checks follow its schema in definitions/event-schemas/ and the receiver
 * rules of its section of the server-server API. */
#include "relay/federation/edus.h"
#include "relay/federation/edus_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/store/accounts.h"

#define DEVICE_SEEN_MAX 64        /* stream IDs remembered per user for prev_id checks */
#define TO_DEVICE_DEDUP_MAX 10000 /* (origin, message_id) remembered for idempotence */

struct mxr_edu_store *mxr_edu_store_new(struct mxr_err *err)
{
    struct mxr_edu_store *s = calloc(1, sizeof *s);
    if (!s || !(s->typing = json_object()) || !(s->receipts = json_object()) || !(s->presence = json_object()) ||
        !(s->devices = json_object()) || !(s->signing = json_object()) || !(s->to_device = json_object()) ||
        !(s->dedup = json_object()) || !(s->dedup_order = json_array()) || !(s->pending = json_array()) ||
        !(s->typing_pos = json_object())) {
        mxr_edu_store_free(s);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->flush_mu, NULL);
    return s;
}

void mxr_edu_store_free(struct mxr_edu_store *s)
{
    if (!s)
        return;
    json_decref(s->typing);
    json_decref(s->receipts);
    json_decref(s->presence);
    json_decref(s->devices);
    json_decref(s->signing);
    json_decref(s->to_device);
    json_decref(s->dedup);
    json_decref(s->dedup_order);
    bool inited = s->typing_pos != NULL;
    json_decref(s->pending);
    json_decref(s->typing_pos);
    if (inited) {
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->flush_mu);
    }
    free(s);
}

/* obj[key], created as an empty object when missing (NULL when out of memory). */
json_t *edu_child(json_t *obj, const char *key)
{
    json_t *c = json_object_get(obj, key);
    if (json_is_object(c))
        return c;
    c = json_object();
    if (!c || json_object_set_new(obj, key, c))
        return NULL;
    return c;
}

static bool user_of(const char *user_id, const char *server)
{
    if (!user_id || mxr_id_check_user(user_id, MXR_USER_HISTORICAL, NULL) < 0)
        return false;
    const char *d = mxr_id_domain(user_id);
    return d && !strcmp(d, server);
}

const char *edu_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static size_t utf8_codepoints(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- m.typing (server-server API "Typing Notifications") ---------------------- */

static int apply_typing(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *content,
                        struct mxr_err *err)
{
    const char *room = edu_str(content, "room_id"), *user = edu_str(content, "user_id");
    const json_t *typing = json_object_get(content, "typing");
    if (!room || !user || !json_is_boolean(typing))
        return mxr_err_set(err, "M_BAD_JSON", "m.typing: room_id, user_id (strings) and typing (boolean) are required");
    /* "Receiving servers should verify that the user is in the room, and is
     * a user belonging to the sending server"; ACLs apply. */
    if (!user_of(user, c->origin))
        return mxr_err_set(err, "M_FORBIDDEN", "m.typing: %.100s is not a user of %.100s", user, c->origin);
    if (c->room_check && c->room_check(c->room_ctx, room, user, err) < 0)
        return mxr_err_prefix(err, "m.typing");
    return mxr_edu_typing_set(s, room, user, json_is_true(typing), c->now + MXR_TYPING_TIMEOUT_MS, err);
}

/* Records a typing change of room (caller holds mu). */
static void typing_moved(struct mxr_edu_store *s, const char *room)
{
    s->position++;
    json_object_set_new(s->typing_pos, room, json_integer((json_int_t)s->position));
}

int mxr_edu_typing_set(struct mxr_edu_store *s, const char *room_id, const char *user_id, bool typing,
                       int64_t until, struct mxr_err *err)
{
    pthread_mutex_lock(&s->mu);
    json_t *r = edu_child(s->typing, room_id);
    int rc = r ? 0 : mxr_err_set(err, "M_UNKNOWN", "out of memory");
    if (r) {
        bool was = json_object_get(r, user_id) != NULL;
        if (typing)
            json_object_set_new(r, user_id, json_integer(until));
        else
            json_object_del(r, user_id);
        if (typing != was)   /* a renewal changes nothing a client sees */
            typing_moved(s, room_id);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- m.receipt (server-server API "Receipts") ------------------------------------ */

/* One user's read receipt: {event_ids: [exactly one ID], data: {ts[, thread_id]}}. */
static int check_receipt(const json_t *r, struct mxr_err *err)
{
    const json_t *ids = json_object_get(r, "event_ids"), *data = json_object_get(r, "data");
    if (!json_is_array(ids) || json_array_size(ids) != 1 || !json_is_string(json_array_get(ids, 0)))
        return mxr_err_set(err, "M_BAD_JSON", "event_ids must be an array of exactly one event ID (m.receipt schema)");
    if (!json_is_object(data) || !json_is_integer(json_object_get(data, "ts")))
        return mxr_err_set(err, "M_BAD_JSON", "data.ts (integer) is required (m.receipt schema)");
    const json_t *thread = json_object_get(data, "thread_id");
    if (thread && !json_is_string(thread))
        return mxr_err_set(err, "M_BAD_JSON", "data.thread_id must be a string");
    return 0;
}

static int apply_receipt(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *content,
                         struct mxr_err *err)
{
    if (!json_is_object(content))
        return mxr_err_set(err, "M_BAD_JSON", "m.receipt: content must be an object of room IDs");
    int rc = 0;
    const char *room;
    const json_t *per_room;
    json_object_foreach((json_t *)content, room, per_room) {
        struct mxr_err e = { 0 };
        /* "all receipts for a particular room ID MUST be ignored if the
         * sending server is denied access to the room" (ACLs). */
        if (c->room_check && c->room_check(c->room_ctx, room, NULL, &e) < 0) {
            rc = mxr_err_set(err, e.errcode, "m.receipt: %s", e.msg);
            continue;
        }
        const json_t *reads = json_object_get(per_room, "m.read");
        if (!json_is_object(reads)) {
            rc = mxr_err_set(err, "M_BAD_JSON", "m.receipt: room %.100s has no m.read object", room);
            continue;
        }
        const char *user;
        const json_t *r;
        json_object_foreach((json_t *)reads, user, r) {
            if (!user_of(user, c->origin)) {
                rc = mxr_err_set(err, "M_FORBIDDEN", "m.receipt: %.100s is not a user of %.100s", user, c->origin);
                continue;
            }
            if (check_receipt(r, &e) < 0 || (c->room_check && c->room_check(c->room_ctx, room, user, &e) < 0)) {
                rc = mxr_err_set(err, e.errcode, "m.receipt of %.100s in %.100s: %s", user, room, e.msg);
                continue;
            }
            /* Only the entries listed are updated (m.receipt schema). */
            pthread_mutex_lock(&s->mu);
            if (s->store) {
                const json_t *data = json_object_get(r, "data");
                const char *thread = edu_str(data, "thread_id");
                if (strlen(user) + (thread ? strlen(thread) : 0) > RECEIPT_KEY_MAX) {
                    rc = mxr_err_set(err, "M_BAD_JSON", "m.receipt of %.100s: user and thread IDs too long", user);
                } else {
                    json_t *op = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "k", "rc", "room", room, "user", user,
                                           "thread", thread ? thread : "", "event",
                                           json_string_value(json_array_get(json_object_get(r, "event_ids"), 0)),
                                           "ts", json_object_get(data, "ts"));
                    if (!op || json_array_append_new(s->pending, op))
                        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
                    else
                        s->position++;
                }
                pthread_mutex_unlock(&s->mu);
                continue;
            }
            json_t *t = edu_child(s->receipts, room);
            t = t ? edu_child(t, "m.read") : NULL;
            json_t *copy = json_pack("{s:O, s:O}", "event_ids", json_object_get(r, "event_ids"), "data",
                                     json_object_get(r, "data"));
            if (!t || !copy || json_object_set_new(t, user, copy))
                rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
            else
                s->position++;
            pthread_mutex_unlock(&s->mu);
        }
    }
    return rc;
}

/* ---- m.presence (server-server API "Presence") ----------------------------------- */

static int apply_presence(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *content,
                          struct mxr_err *err)
{
    const json_t *push = json_object_get(content, "push");
    if (!json_is_array(push))
        return mxr_err_set(err, "M_BAD_JSON", "m.presence: push (array) is required");
    int rc = 0;
    size_t i;
    const json_t *u;
    json_array_foreach(push, i, u) {
        const char *user = edu_str(u, "user_id"), *p = edu_str(u, "presence");
        const json_t *ago = json_object_get(u, "last_active_ago"), *msg = json_object_get(u, "status_msg"),
                     *active = json_object_get(u, "currently_active");
        if (!user || !p || !json_is_integer(ago) || json_integer_value(ago) < 0 ||
            (strcmp(p, "online") && strcmp(p, "unavailable") && strcmp(p, "offline")) ||
            (msg && !json_is_string(msg) && !json_is_null(msg)) || (active && !json_is_boolean(active))) {
            rc = mxr_err_set(err, "M_BAD_JSON", "m.presence: push[%zu] needs user_id, presence (online, unavailable "
                             "or offline) and last_active_ago >= 0; status_msg a string, currently_active a boolean", i);
            continue;
        }
        /* "presence updates for users of the sending homeserver" */
        if (!user_of(user, c->origin)) {
            rc = mxr_err_set(err, "M_FORBIDDEN", "m.presence: %.100s is not a user of %.100s", user, c->origin);
            continue;
        }
        json_t *rec = json_pack("{s:s, s:I, s:I}", "presence", p, "last_active_ago", json_integer_value(ago),
                                "received_ts", (json_int_t)c->now);
        if (rec && json_is_string(msg))
            json_object_set(rec, "status_msg", (json_t *)msg);
        if (rec && active)
            json_object_set(rec, "currently_active", (json_t *)active);
        pthread_mutex_lock(&s->mu);
        if (!rec || json_object_set_new(s->presence, user, rec))
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        else
            s->position++;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

/* ---- m.device_list_update (server-server API "Device Management") -------------- */

static bool array_has_int(const json_t *a, json_int_t v)
{
    size_t i;
    const json_t *x;
    json_array_foreach(a, i, x)
        if (json_is_integer(x) && json_integer_value(x) == v)
            return true;
    return false;
}

static int apply_device_list(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *content,
                             struct mxr_err *err)
{
    const char *user = edu_str(content, "user_id"), *device = edu_str(content, "device_id");
    const json_t *stream = json_object_get(content, "stream_id"), *prev = json_object_get(content, "prev_id"),
                 *deleted = json_object_get(content, "deleted"), *keys = json_object_get(content, "keys"),
                 *name = json_object_get(content, "device_display_name");
    if (!user || !device || !json_is_integer(stream))
        return mxr_err_set(err, "M_BAD_JSON", "m.device_list_update: user_id, device_id (strings) and stream_id "
                           "(integer) are required");
    if ((prev && !json_is_array(prev)) || (deleted && !json_is_boolean(deleted)) || (keys && !json_is_object(keys)) ||
        (name && !json_is_string(name)))
        return mxr_err_set(err, "M_BAD_JSON", "m.device_list_update: prev_id must be an array of integers, deleted "
                           "a boolean, keys an object, device_display_name a string");
    size_t i;
    const json_t *p;
    json_array_foreach(prev, i, p)
        if (!json_is_integer(p))
            return mxr_err_set(err, "M_BAD_JSON", "m.device_list_update: prev_id[%zu] is not an integer", i);
    if (!user_of(user, c->origin))
        return mxr_err_set(err, "M_FORBIDDEN", "m.device_list_update: %.100s is not a user of %.100s", user,
                           c->origin);
    if (keys && (json_is_string(json_object_get(keys, "user_id")) && strcmp(edu_str(keys, "user_id"), user)))
        return mxr_err_set(err, "M_BAD_JSON", "m.device_list_update: keys.user_id is not %.100s", user);

    int rc = 0;
    pthread_mutex_lock(&s->mu);
    json_t *rec = json_object_get(s->devices, user);
    if (!rec) {
        rec = json_pack("{s:I, s:b, s:[], s:{}}", "stream_id", (json_int_t)0, "stale", 0, "seen", "devices");
        if (!rec || json_object_set_new(s->devices, user, rec))
            rec = NULL;
    }
    if (!rec) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        goto out;
    }
    json_t *seen = json_object_get(rec, "seen");
    /* "If the receiving server does not recognise any of the prev_ids, it
     * means an EDU has been lost": mark the list for a resync (empty or
     * missing prev_id starts a sequence). */
    json_array_foreach(prev, i, p)
        if (!array_has_int(seen, json_integer_value(p)))
            json_object_set_new(rec, "stale", json_true());
    json_array_append(seen, (json_t *)stream);
    while (json_array_size(seen) > DEVICE_SEEN_MAX)
        json_array_remove(seen, 0);
    if (json_integer_value(stream) > json_integer_value(json_object_get(rec, "stream_id")))
        json_object_set(rec, "stream_id", (json_t *)stream);
    json_t *devs = json_object_get(rec, "devices");
    if (json_is_true(deleted)) {
        json_object_del(devs, device);
    } else {
        json_t *d = json_object();
        if (d && keys)
            json_object_set(d, "keys", (json_t *)keys);
        if (d && name)
            json_object_set(d, "device_display_name", (json_t *)name);
        if (!d || json_object_set_new(devs, device, d))
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    s->position++;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- m.signing_key_update (server-server API "End-to-End Encryption") -------- */

/* A CrossSigningKey (client-server definitions/cross_signing_key.yaml):
 * user_id, usage (array of strings) and keys (object) required. */
static int check_cross_signing_key(const json_t *k, const char *user, const char *usage, struct mxr_err *err)
{
    const json_t *u = json_object_get(k, "usage");
    if (!json_is_object(k) || !json_is_string(json_object_get(k, "user_id")) || !json_is_array(u) ||
        !json_is_object(json_object_get(k, "keys")))
        return mxr_err_set(err, "M_BAD_JSON", "%s needs user_id, usage and keys (cross_signing_key.yaml)", usage);
    if (strcmp(edu_str(k, "user_id"), user))
        return mxr_err_set(err, "M_BAD_JSON", "%s.user_id is not %.100s", usage, user);
    size_t i;
    const json_t *x;
    bool has = false;
    json_array_foreach(u, i, x)
        has = has || (json_is_string(x) && !strcmp(json_string_value(x), usage));
    if (!has)
        return mxr_err_set(err, "M_BAD_JSON", "%s.usage does not contain '%s'", usage, usage);
    return 0;
}

static int apply_signing_key(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *content,
                             struct mxr_err *err)
{
    const char *user = edu_str(content, "user_id");
    const json_t *master = json_object_get(content, "master_key"), *self = json_object_get(content, "self_signing_key");
    if (!user)
        return mxr_err_set(err, "M_BAD_JSON", "m.signing_key_update: user_id (string) is required");
    if (!user_of(user, c->origin))
        return mxr_err_set(err, "M_FORBIDDEN", "m.signing_key_update: %.100s is not a user of %.100s", user,
                           c->origin);
    if ((master && check_cross_signing_key(master, user, "master", err) < 0) ||
        (self && check_cross_signing_key(self, user, "self_signing", err) < 0))
        return mxr_err_prefix(err, "m.signing_key_update");
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    json_t *rec = edu_child(s->signing, user);
    if (!rec) {
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    } else {
        if (master)
            json_object_set(rec, "master_key", (json_t *)master);
        if (self)
            json_object_set(rec, "self_signing_key", (json_t *)self);
        s->position++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- m.direct_to_device (server-server API "Send-to-device messaging") --------- */

/* Remembers (origin, message_id); false when it was seen before
 * (caller holds mu). The message_id exists for this idempotence. */
static bool dedup_first(struct mxr_edu_store *s, const char *key)
{
    if (json_object_get(s->dedup, key))
        return false;
    json_object_set_new(s->dedup, key, json_true());
    json_array_append_new(s->dedup_order, json_string(key));
    while (json_array_size(s->dedup_order) > TO_DEVICE_DEDUP_MAX) {
        json_object_del(s->dedup, json_string_value(json_array_get(s->dedup_order, 0)));
        json_array_remove(s->dedup_order, 0);
    }
    return true;
}

/* Queues the durable delivery of one user's messages (caller holds mu). */
static int pend_to_device(struct mxr_edu_store *s, const char *user, const char *sender, const char *type,
                          const json_t *per_user, struct mxr_err *err)
{
    int rc = 0;
    const char *device;
    const json_t *body;
    json_object_foreach((json_t *)per_user, device, body) {
        if (!json_is_object(body) || strlen(device) > MXR_STORE_DEVICE_ID_MAX || !device[0] ||
            strlen(type) > MXR_STORE_ID_MAX) {
            rc = mxr_err_set(err, "M_BAD_JSON", "m.direct_to_device: the message for %.100s/%.100s is not an object, "
                             "or the device ID or type is too long", user, device);
            continue;
        }
        json_t *op = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "k", "td", "user", user, "device", device, "sender",
                               sender, "type", type, "content", body);
        if (!op || json_array_append_new(s->pending, op))
            rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    return rc;
}

static int apply_to_device(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *content,
                           struct mxr_err *err)
{
    const char *sender = edu_str(content, "sender"), *type = edu_str(content, "type"),
               *mid = edu_str(content, "message_id");
    const json_t *messages = json_object_get(content, "messages");
    if (!sender || !type || !mid || !json_is_object(messages))
        return mxr_err_set(err, "M_BAD_JSON", "m.direct_to_device: sender, type, message_id (strings) and messages "
                           "(object) are required");
    if (utf8_codepoints(mid) > MXR_TO_DEVICE_MESSAGE_ID_MAX)
        return mxr_err_set(err, "M_BAD_JSON", "m.direct_to_device: message_id is over %d codepoints",
                           MXR_TO_DEVICE_MESSAGE_ID_MAX);
    if (!user_of(sender, c->origin))
        return mxr_err_set(err, "M_FORBIDDEN", "m.direct_to_device: sender %.100s is not a user of %.100s", sender,
                           c->origin);
    /* message_id: "A unique ID for the message that is used for
     * idempotence" — per sending server. */
    size_t klen = strlen(c->origin) + strlen(mid) + 2;
    char *key = malloc(klen);
    if (!key)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    snprintf(key, klen, "%s\037%s", c->origin, mid);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (!dedup_first(s, key))
        goto out;   /* a retry of a message we have: nothing to do */
    const char *user;
    const json_t *per_user;
    json_object_foreach((json_t *)messages, user, per_user) {
        if (!user_of(user, c->server_name) || !json_is_object(per_user)) {
            rc = mxr_err_set(err, "M_BAD_JSON", "m.direct_to_device: messages.%.100s is not one of our users with "
                             "an object of devices", user);
            continue;
        }
        if (s->store) {
            rc |= pend_to_device(s, user, sender, type, per_user, err);
            continue;
        }
        json_t *queue = json_object_get(s->to_device, user);
        if (!queue) {
            queue = json_array();
            if (!queue || json_object_set_new(s->to_device, user, queue)) {
                rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
                continue;
            }
        }
        const char *device;
        const json_t *body;
        json_object_foreach((json_t *)per_user, device, body) {
            if (!json_is_object(body)) {
                rc = mxr_err_set(err, "M_BAD_JSON", "m.direct_to_device: the message for %.100s/%.100s is not an object",
                                 user, device);
                continue;
            }
            json_t *m = json_pack("{s:I, s:s, s:s, s:s, s:O}", "seq", (json_int_t)++s->to_device_seq, "device", device,
                                  "sender", sender, "type", type, "content", body);
            if (!m || json_array_append_new(queue, m))
                rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
        }
        while (json_array_size(queue) > MXR_TO_DEVICE_MAX_PER_USER)
            json_array_remove(queue, 0);
    }
    s->position++;
out:
    pthread_mutex_unlock(&s->mu);
    free(key);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------ */

int mxr_edu_apply(struct mxr_edu_store *s, const struct mxr_edu_ctx *c, const json_t *edu, struct mxr_err *err)
{
    const char *type = edu_str(edu, "edu_type");
    const json_t *content = json_object_get(edu, "content");
    if (!type || !json_is_object(content))
        return mxr_err_set(err, "M_BAD_JSON", "an EDU needs edu_type (string) and content (object) (edu.yaml)");
    static const struct {
        const char *type;
        int (*fn)(struct mxr_edu_store *, const struct mxr_edu_ctx *, const json_t *, struct mxr_err *);
    } handlers[] = {
        { "m.typing", apply_typing },
        { "m.receipt", apply_receipt },
        { "m.presence", apply_presence },
        { "m.device_list_update", apply_device_list },
        { "m.signing_key_update", apply_signing_key },
        { "m.direct_to_device", apply_to_device },
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (!strcmp(handlers[i].type, type))
            return handlers[i].fn(s, c, content, err);
    return 1;
}

/* ---- reading ------------------------------------------------------------------- */

uint64_t mxr_edu_position(struct mxr_edu_store *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t p = s->position;
    pthread_mutex_unlock(&s->mu);
    return p;
}

/* The room's typists at now, expired ones forgotten (caller holds mu). */
static json_t *typing_now(struct mxr_edu_store *s, const char *room_id, int64_t now)
{
    json_t *out = json_array();
    json_t *r = json_object_get(s->typing, room_id);
    const char *user;
    json_t *exp, *tmp;
    bool expired = false;
    json_object_foreach_safe(r, tmp, user, exp) {
        if (json_integer_value(exp) <= now) {
            json_object_del(r, user);   /* expired: forget it */
            expired = true;
        } else if (out) {
            json_array_append_new(out, json_string(user));
        }
    }
    if (expired)   /* the typists changed: a sync must say so */
        typing_moved(s, room_id);
    return out;
}

json_t *mxr_edu_typing(struct mxr_edu_store *s, const char *room_id, int64_t now)
{
    pthread_mutex_lock(&s->mu);
    json_t *out = typing_now(s, room_id, now);
    pthread_mutex_unlock(&s->mu);
    return out;
}

json_t *mxr_edu_typing_since(struct mxr_edu_store *s, const char *room_id, uint64_t since, int64_t now,
                             bool *changed)
{
    pthread_mutex_lock(&s->mu);
    json_t *out = typing_now(s, room_id, now);
    uint64_t pos = (uint64_t)json_integer_value(json_object_get(s->typing_pos, room_id));
    /* A position ahead of ours is from before a restart: all is new. */
    *changed = pos > since || since > s->position;
    pthread_mutex_unlock(&s->mu);
    return out;
}

json_t *mxr_edu_receipts(struct mxr_edu_store *s, const char *room_id)
{
    if (s->store)
        return edu_receipts_durable(s, room_id);
    json_t *out = json_object();
    pthread_mutex_lock(&s->mu);
    const char *rtype, *user;
    json_t *per_type, *r;
    json_object_foreach(json_object_get(s->receipts, room_id), rtype, per_type) {
        json_object_foreach(per_type, user, r) {
            const char *eid = json_string_value(json_array_get(json_object_get(r, "event_ids"), 0));
            json_t *e = out && eid ? edu_child(out, eid) : NULL;
            json_t *t = e ? edu_child(e, rtype) : NULL;
            if (t)
                json_object_set_new(t, user, json_deep_copy(json_object_get(r, "data")));
        }
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

json_t *mxr_edu_presence(struct mxr_edu_store *s, const char *user_id, int64_t now)
{
    pthread_mutex_lock(&s->mu);
    json_t *rec = json_object_get(s->presence, user_id);
    json_t *out = rec ? json_deep_copy(rec) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (out) {
        json_int_t recv = json_integer_value(json_object_get(out, "received_ts"));
        json_int_t ago = json_integer_value(json_object_get(out, "last_active_ago"));
        json_object_set_new(out, "last_active_ago", json_integer(ago + (now > recv ? now - recv : 0)));
        json_object_del(out, "received_ts");
    }
    return out;
}

json_t *mxr_edu_device_list(struct mxr_edu_store *s, const char *user_id)
{
    pthread_mutex_lock(&s->mu);
    json_t *rec = json_object_get(s->devices, user_id);
    json_t *out = rec ? json_deep_copy(rec) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (out)
        json_object_del(out, "seen");
    return out;
}

json_t *mxr_edu_signing_keys(struct mxr_edu_store *s, const char *user_id)
{
    pthread_mutex_lock(&s->mu);
    json_t *rec = json_object_get(s->signing, user_id);
    json_t *out = rec ? json_deep_copy(rec) : NULL;
    pthread_mutex_unlock(&s->mu);
    return out;
}

json_t *mxr_edu_to_device(struct mxr_edu_store *s, const char *user_id, const char *device_id, uint64_t since,
                          size_t limit, uint64_t *next)
{
    if (s->store)
        return edu_to_device_durable(s, user_id, device_id, since, limit, next);
    json_t *out = json_array();
    uint64_t last = since;
    pthread_mutex_lock(&s->mu);
    json_t *queue = json_object_get(s->to_device, user_id);
    for (size_t i = 0; queue && i < json_array_size(queue);) {
        json_t *m = json_array_get(queue, i);
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(m, "seq"));
        const char *dev = edu_str(m, "device");
        bool mine = dev && !strcmp(dev, device_id), all = dev && !strcmp(dev, "*");
        if (seq <= since && mine) {
            json_array_remove(queue, i);   /* acknowledged by this device */
            continue;
        }
        if (seq > since && (mine || all) && out && json_array_size(out) < limit) {
            json_array_append_new(out, json_pack("{s:O, s:O, s:O}", "sender", json_object_get(m, "sender"), "type",
                                                 json_object_get(m, "type"), "content", json_object_get(m, "content")));
            last = seq;
        }
        i++;
    }
    pthread_mutex_unlock(&s->mu);
    if (next)
        *next = last;
    return out;
}

