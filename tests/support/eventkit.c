/* eventkit: see eventkit.h. */
#include "tests/support/eventkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ek_init(struct ek_kit *k, const char *room_version)
{
    memset(k, 0, sizeof *k);
    k->rv = mxr_room_version_get(room_version, NULL);
    if (!k->rv) {
        fprintf(stderr, "eventkit: unknown room version %s\n", room_version);
        abort();
    }
    snprintf(k->room_id, sizeof k->room_id, "!room:a.example");
    k->ts = 1700000000000;
}

void ek_free(struct ek_kit *k)
{
    for (size_t i = 0; i < k->n; i++) {
        mxr_event_release(k->events[i]);
        free(k->events[i]);
    }
    k->n = 0;
}

static json_t *parse_obj(struct ek_kit *k, const char *text, const char *what)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!json_is_object(v)) {
        snprintf(k->last_error, sizeof k->last_error, "%s is not a JSON object: %s", what,
                 v ? "other type" : je.text);
        json_decref(v);
        return NULL;
    }
    return v;
}

/* v1/v2 cite events as [id, {"sha256": hash}] pairs, later versions by ID. */
static json_t *refs(const struct ek_kit *k, const char *const *ids)
{
    json_t *arr = json_array();
    for (size_t i = 0; ids && ids[i]; i++) {
        if (k->rv->event_format == MXR_EVFMT_V1)
            json_array_append_new(arr, json_pack("[s,{s:s}]", ids[i], "sha256",
                                                 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
        else
            json_array_append_new(arr, json_string(ids[i]));
    }
    return arr;
}

json_t *ek_pdu(struct ek_kit *k, const struct ek_def *d)
{
    json_t *content = d->content ? parse_obj(k, d->content, "content") : json_object();
    if (!content)
        return NULL;
    json_t *pdu = json_object();
    json_object_set_new(pdu, "type", json_string(d->type ? d->type : "m.room.message"));
    json_object_set_new(pdu, "sender", json_string(d->sender ? d->sender : "@alice:a.example"));
    json_object_set_new(pdu, "content", content);
    if (d->state_key)
        json_object_set_new(pdu, "state_key", json_string(d->state_key));
    bool v12_create = k->rv->room_id_is_create_hash && d->type && !strcmp(d->type, "m.room.create");
    if (d->room_id)
        json_object_set_new(pdu, "room_id", json_string(d->room_id));
    else if (!v12_create)
        json_object_set_new(pdu, "room_id", json_string(k->room_id));
    if (d->id)
        json_object_set_new(pdu, "event_id", json_string(d->id));
    k->depth = d->depth ? d->depth : k->depth + 1;
    k->ts = d->origin_server_ts ? d->origin_server_ts : k->ts + 1000;
    json_object_set_new(pdu, "depth", json_integer(k->depth));
    json_object_set_new(pdu, "origin_server_ts", json_integer(k->ts));
    json_object_set_new(pdu, "prev_events", refs(k, d->prev));
    json_object_set_new(pdu, "auth_events", refs(k, d->auth));
    if (d->extra) {
        json_t *extra = parse_obj(k, d->extra, "extra");
        if (!extra) {
            json_decref(pdu);
            return NULL;
        }
        json_object_update(pdu, extra);
        json_decref(extra);
    }
    return pdu;
}

const struct mxr_event *ek_add_pdu(struct ek_kit *k, json_t *pdu)
{
    if (k->n == EK_MAX_EVENTS) {
        snprintf(k->last_error, sizeof k->last_error, "eventkit: more than %d events", EK_MAX_EVENTS);
        return NULL;
    }
    struct mxr_event *ev = calloc(1, sizeof *ev);
    struct mxr_err err = {0};
    if (!ev || mxr_event_load(ev, pdu, k->rv, MXR_EVENT_TRUST_GIVEN_ID, &err) < 0) {
        snprintf(k->last_error, sizeof k->last_error, "mxr_event_load: %s: %s", err.errcode ? err.errcode : "?",
                 err.msg);
        free(ev);
        return NULL;
    }
    k->events[k->n++] = ev;
    return ev;
}

const struct mxr_event *ek_add(struct ek_kit *k, const struct ek_def *d)
{
    json_t *pdu = ek_pdu(k, d);
    if (!pdu)
        return NULL;
    const struct mxr_event *ev = ek_add_pdu(k, pdu);
    json_decref(pdu);
    if (ev && k->rv->room_id_is_create_hash && !strcmp(ev->type, "m.room.create") && !d->room_id)
        snprintf(k->room_id, sizeof k->room_id, "!%s", ev->event_id + 1);
    return ev;
}

static bool same(const struct mxr_event *e, const char *type, const char *state_key)
{
    return e->state_key && !strcmp(e->type, type) && !strcmp(e->state_key, state_key);
}

const struct mxr_event *ek_state_put(struct ek_state *s, const struct mxr_event *ev)
{
    if (!ev || !ev->state_key)
        return ev;
    for (size_t i = 0; i < s->n; i++)
        if (same(s->ev[i], ev->type, ev->state_key)) {
            s->ev[i] = ev;
            return ev;
        }
    if (s->n < EK_MAX_STATE)
        s->ev[s->n++] = ev;
    return ev;
}

void ek_state_del(struct ek_state *s, const char *type, const char *state_key)
{
    for (size_t i = 0; i < s->n; i++)
        if (same(s->ev[i], type, state_key)) {
            s->ev[i] = s->ev[--s->n];
            return;
        }
}

const struct mxr_event *ek_state_lookup(void *ctx, const char *type, const char *state_key)
{
    const struct ek_state *s = ctx;
    if (!type || !state_key)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (same(s->ev[i], type, state_key))
            return s->ev[i];
    return NULL;
}
