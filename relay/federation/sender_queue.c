/* The delivery queue's entrances and its bound (see sender.h): enqueueing
 * (durable before the call returns), the rewrite of over-full queues, and
 * the transport over the federation client. */
#include "relay/federation/sender_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/json.h"
#include "relay/federation/fedclient.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

/* ---- enqueueing ------------------------------------------------------------------------ */

struct enqueue {
    const char *event_id;           /* PDU, or */
    const char *edu;                /* EDU JSON */
    size_t edu_len;
    const char *const *dests;
    size_t n;
};

static int enqueue_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct enqueue *q = arg;
    for (size_t i = 0; i < q->n; i++) {
        int rc = q->event_id ? mxr_store_queue_pdu(txn, q->dests[i], q->event_id, err)
                             : mxr_store_queue_edu(txn, q->dests[i], q->edu, q->edu_len, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The destinations to use: valid, not us, each once. */
static size_t filter_dests(const struct mxr_sender *s, const char *const *in, size_t n, const char **out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in[i] || !in[i][0] || strlen(in[i]) > MXR_STORE_ID_MAX || strcmp(in[i], s->own_name) == 0)
            continue;
        bool dup = false;
        for (size_t j = 0; j < m && !dup; j++)
            dup = strcmp(out[j], in[i]) == 0;
        if (!dup)
            out[m++] = in[i];
    }
    return m;
}

static int enqueue(struct mxr_sender *s, struct enqueue *q, const char *const *dests, size_t n, struct mxr_err *err)
{
    const char **use = malloc((n ? n : 1) * sizeof *use);
    if (!use)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    q->n = filter_dests(s, dests, n, use);
    q->dests = use;
    int rc = q->n ? mxr_store_write(s->deps.store, enqueue_write, q, err) : 0;
    if (rc == 0 && q->n) {
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < q->n; i++) {
            struct dest *d = sender_dest(s, use[i], true);
            if (!d)
                continue;   /* it is in the store: found again at the next start */
            if (q->event_id)
                d->n_pdus++;
            else
                d->n_edus++;
            d->pending = true;
        }
        s->wake = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    free(use);
    return rc;
}

int mxr_sender_queue_pdu(struct mxr_sender *s, const char *event_id, const char *const *dests, size_t n,
                         struct mxr_err *err)
{
    if (!event_id)
        return mxr_err_set(err, "M_UNKNOWN", "mxr_sender_queue_pdu: no event ID");
    struct enqueue q = { .event_id = event_id };
    return enqueue(s, &q, dests, n, err);
}

int mxr_sender_queue_edu(struct mxr_sender *s, const json_t *edu, const char *const *dests, size_t n,
                         struct mxr_err *err)
{
    if (!json_is_object(edu) || !json_is_string(json_object_get(edu, "edu_type")) ||
        !json_is_object(json_object_get(edu, "content")))
        return mxr_err_set(err, "M_BAD_JSON", "an EDU is {\"edu_type\": string, \"content\": object}");
    size_t len;
    char *json = mxr_canonical_json(edu, &len, err);
    if (!json)
        return -1;
    struct enqueue q = { .edu = json, .edu_len = len };
    int rc = enqueue(s, &q, dests, n, err);
    free(json);
    return rc;
}

/* The other servers joined to the room, plus `also`: a JSON array. */
static json_t *room_dests(struct mxr_sender *s, const char *room_id, const char *also, struct mxr_err *err)
{
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(s->deps.store, &txn, err) < 0)
        return NULL;
    json_t *servers = mxr_rooms_joined_servers(txn, room_id, err);
    mxr_store_read_end(txn);
    if (servers && also && json_array_append_new(servers, json_string(also)) < 0) {
        json_decref(servers);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    return servers;
}

static int queue_room(struct mxr_sender *s, const char *room_id, const char *event_id, const json_t *edu,
                      const char *also, struct mxr_err *err)
{
    json_t *servers = room_dests(s, room_id, also, err);
    if (!servers)
        return -1;
    size_t n = json_array_size(servers);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    int rc = -1;
    if (names) {
        for (size_t i = 0; i < n; i++)
            names[i] = json_string_value(json_array_get(servers, i));
        rc = event_id ? mxr_sender_queue_pdu(s, event_id, names, n, err) : mxr_sender_queue_edu(s, edu, names, n, err);
    } else {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
    }
    free(names);
    json_decref(servers);
    return rc;
}

int mxr_sender_queue_room_pdu(struct mxr_sender *s, const char *room_id, const char *event_id, const char *also,
                              struct mxr_err *err)
{
    return queue_room(s, room_id, event_id, NULL, also, err);
}

int mxr_sender_queue_room_edu(struct mxr_sender *s, const char *room_id, const json_t *edu, struct mxr_err *err)
{
    return queue_room(s, room_id, NULL, edu, NULL, err);
}

void mxr_sender_note_queued(struct mxr_sender *s, const char *const *dests, size_t n, size_t n_pdus)
{
    if (!s || !n)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        if (!dests[i] || strcmp(dests[i], s->own_name) == 0)
            continue;
        struct dest *d = sender_dest(s, dests[i], true);
        if (!d)
            continue;   /* it is in the store: found again at the next start */
        d->n_pdus += n_pdus;
        d->pending = true;
    }
    s->wake = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void mxr_sender_peer_alive(struct mxr_sender *s, const char *server)
{
    if (!s || !server)
        return;
    pthread_mutex_lock(&s->mu);
    struct dest *d = sender_dest(s, server, false);
    if (d && (d->failures || d->next_attempt_ts)) {
        slog(s, MXR_LOG_INFO, "%s is back (it contacted us): retrying its queue now", server);
        d->failures = 0;
        d->next_attempt_ts = 0;
        s->wake = true;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- compaction: the queue bound ---------------------------------------------------- */

struct item {
    enum mxr_store_queue_kind kind;
    uint64_t seq;
    char *data;
    size_t len;
};

struct compact {
    const char *dest;
    size_t max_pdus, max_edus;
    struct item *items;
    size_t n, cap;
    bool oom;
    /* outputs */
    size_t kept_pdus, kept_edus, dropped_pdus, dropped_edus;
};

static int collect_cb(void *arg, uint64_t seq, enum mxr_store_queue_kind kind, const char *data, size_t len)
{
    struct compact *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        struct item *ni = realloc(c->items, cap * sizeof *ni);
        if (!ni) {
            c->oom = true;
            return 1;
        }
        c->items = ni;
        c->cap = cap;
    }
    struct item *it = &c->items[c->n];
    if (!(it->data = malloc(len + 1))) {
        c->oom = true;
        return 1;
    }
    memcpy(it->data, data, len);   /* copied: the map pages change once items are deleted */
    it->data[len] = '\0';
    it->len = len;
    it->kind = kind;
    it->seq = seq;
    c->n++;
    return 0;
}

static void compact_reset(struct compact *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->items[i].data);
    c->n = 0;
    c->oom = false;
    c->kept_pdus = c->kept_edus = c->dropped_pdus = c->dropped_edus = 0;
}

/* Rewrites the destination's queue without its oldest EDUs (and, past their
 * own bound, oldest PDUs). The store can only remove a prefix of a queue, so
 * the survivors are queued again, in order. */
static int compact_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct compact *c = arg;
    compact_reset(c);
    if (mxr_store_queue_peek(txn, c->dest, SIZE_MAX, collect_cb, c, err) < 0)
        return -1;
    if (c->oom)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    size_t pdus = 0, edus = 0;
    for (size_t i = 0; i < c->n; i++)
        c->items[i].kind == MXR_STORE_QUEUE_PDU ? pdus++ : edus++;
    size_t drop_p = pdus > c->max_pdus ? pdus - c->max_pdus : 0;
    size_t drop_e = edus > c->max_edus ? edus - c->max_edus : 0;
    if (!drop_p && !drop_e) {
        c->kept_pdus = pdus;
        c->kept_edus = edus;
        return 0;
    }
    if (mxr_store_queue_ack(txn, c->dest, c->items[c->n - 1].seq, err) < 0)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        struct item *it = &c->items[i];
        int rc = 0;
        if (it->kind == MXR_STORE_QUEUE_PDU) {
            if (c->dropped_pdus < drop_p) {
                c->dropped_pdus++;
                continue;
            }
            rc = mxr_store_queue_pdu(txn, c->dest, it->data, err);
            c->kept_pdus++;
        } else {
            if (c->dropped_edus < drop_e) {
                c->dropped_edus++;
                continue;
            }
            rc = mxr_store_queue_edu(txn, c->dest, it->data, it->len, err);
            c->kept_edus++;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Whether d's queue is past its bound by enough to rewrite it (a quarter of
 * slack, so the rewrite is amortised over many enqueues). */
bool sender_over_bound(const struct mxr_sender *s, const struct dest *d)
{
    return d->n_edus > s->lim.max_queued_edus + s->lim.max_queued_edus / 4 ||
           d->n_pdus > s->lim.max_queued_pdus + s->lim.max_queued_pdus / 4;
}

void sender_compact(struct mxr_sender *s, struct dest *d)
{
    struct compact c = { .dest = d->name, .max_pdus = s->lim.max_queued_pdus, .max_edus = s->lim.max_queued_edus };
    struct mxr_err err = { 0 };
    int rc = mxr_store_write(s->deps.store, compact_write, &c, &err);
    if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        d->n_pdus = c.kept_pdus;
        d->n_edus = c.kept_edus;
        d->pdus_dropped += c.dropped_pdus;
        d->edus_dropped += c.dropped_edus;
        pthread_mutex_unlock(&s->mu);
        if (c.dropped_edus)
            slog(s, MXR_LOG_INFO, "outbound queue of %s over %zu EDUs: dropped the %zu oldest", d->name,
                 s->lim.max_queued_edus, c.dropped_edus);
        if (c.dropped_pdus)
            slog(s, MXR_LOG_WARN,
                 "outbound queue of %s over %zu PDUs: dropped the %zu oldest; it can fetch them with "
                 "/get_missing_events or /backfill when later events reference them",
                 d->name, s->lim.max_queued_pdus, c.dropped_pdus);
    } else {
        slog(s, MXR_LOG_ERROR, "compacting the outbound queue of %s: %s", d->name, err.msg);
    }
    compact_reset(&c);
    free(c.items);
}

/* ---- the transport over the federation client ---------------------------------------- */

struct fc_call {
    mxr_sender_done_fn done;
    void *ctx;
};

static void fc_done(void *ctx, struct mxr_fed_response *r)
{
    struct fc_call *c = ctx;
    c->done(c->ctx, r->ok ? 200 : r->status, r->ok ? r->body : NULL, r->ok ? NULL : &r->err);
    free(c);
}

static int fc_send(void *ctx, const char *dest, const char *txn_id, json_t *body, mxr_sender_done_fn done,
                   void *done_ctx, struct mxr_err *err)
{
    char esc[160], path[200];
    if (mxr_fed_escape(txn_id, esc, sizeof esc) < 0)
        return mxr_err_set(err, "M_UNKNOWN", "transaction ID too long");
    snprintf(path, sizeof path, "/_matrix/federation/v1/send/%s", esc);
    struct fc_call *c = malloc(sizeof *c);
    if (!c)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    *c = (struct fc_call){ done, done_ctx };
    struct mxr_fed_request req = { .method = "PUT", .destination = dest, .path = path, .body = body };
    if (mxr_fedclient_submit(ctx, &req, fc_done, c, err) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

struct mxr_sender_transport mxr_sender_fedclient_transport(struct mxr_fedclient *fc)
{
    return (struct mxr_sender_transport){ fc_send, fc };
}
