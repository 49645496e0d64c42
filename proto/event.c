/* Events: loading per room version, content and reference hashes, event IDs
 * (spec: server-server API "Signing Events" > "Calculating the reference hash
 * for an event", "Calculating the content hash for an event"; event IDs per
 * rooms/fragments/v1-event-ids.md (v1-v2), rooms/v3.md (v3),
 * v4-event-ids.md (v4+); v12 room IDs per appendices "Room IDs"). */
#include "mxr/event.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/json.h"
#include "mxr/pdu.h"

/* lax: integers outside the canonical range are hashed as written (room
 * versions 1-5, see mxr_canonical_json_lax); v6+ events never get here with
 * one, the format check refuses them first. */
static int sha256_canonical(const json_t *v, bool lax, uint8_t out[32], struct mxr_err *err)
{
    size_t len;
    char *s = lax ? mxr_canonical_json_lax(v, &len, err) : mxr_canonical_json(v, &len, err);
    if (!s)
        return -1;
    crypto_hash_sha256(out, (const uint8_t *)s, len);
    free(s);
    return 0;
}

/* "First, any existing unsigned, signatures, and hashes properties are
 * removed. The resulting object is then encoded as Canonical JSON, and the
 * JSON is hashed using SHA-256." Every other key stays, unknown ones too:
 * Synapse and gomatrixserverlib also drop legacy top-level `age_ts`,
 * `outlier` and `destinations` here, which the spec does not (ruma follows
 * the spec; see tests/proto/published/README). The room version is not
 * known here, so integers beyond 2^53 are hashed as written (v1-v5 events
 * carry them; v6+ ones are refused by the format check). */
int mxr_event_content_hash(const json_t *pdu, char out[44], struct mxr_err *err)
{
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    json_t *copy = json_copy((json_t *)pdu);
    if (!copy)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    json_object_del(copy, "unsigned");
    json_object_del(copy, "signatures");
    json_object_del(copy, "hashes");
    uint8_t h[32];
    int rc = sha256_canonical(copy, true, h, err);
    json_decref(copy);
    if (rc < 0)
        return mxr_err_prefix(err, "content hash");
    if (mxr_b64_encode(out, 44, h, sizeof h, MXR_B64_STD) != 43)
        return mxr_err_set(err, "M_UNKNOWN", "base64 encoding of the content hash failed");
    return 0;
}

/* Redact, drop signatures and unsigned, canonical JSON, SHA-256. From v3 on
 * the hash is the event's ID, so an `event_id` field (which such events must
 * not carry) is dropped too: an ID cannot cover itself, and a peer adding one
 * must not change the ID. */
int mxr_event_reference_hash(const json_t *pdu, const struct mxr_room_version *rv, uint8_t out[32],
                             struct mxr_err *err)
{
    json_t *r = mxr_event_redact(pdu, rv, err);
    if (!r)
        return -1;
    json_object_del(r, "signatures");
    json_object_del(r, "unsigned");
    if (rv->event_format != MXR_EVFMT_V1)
        json_object_del(r, "event_id");
    int rc = sha256_canonical(r, !rv->strict_canonical_json, out, err);
    json_decref(r);
    return rc < 0 ? mxr_err_prefix(err, "reference hash") : 0;
}

static int given_event_id(const json_t *pdu, char out[MXR_ID_MAX + 1], struct mxr_err *err)
{
    json_t *id = json_object_get(pdu, "event_id");
    if (!id)
        return mxr_err_set(err, "M_BAD_JSON", "'event_id' is required (room versions 1 and 2 carry it)");
    if (!json_is_string(id))
        return mxr_err_set(err, "M_BAD_JSON", "'event_id' is not a string");
    size_t n = json_string_length(id);
    const char *s = json_string_value(id);
    if (n == 0 || s[0] != '$' || strlen(s) != n)
        return mxr_err_set(err, "M_BAD_JSON", "'event_id' must start with '$' and contain no NUL");
    if (n > MXR_ID_MAX)
        return mxr_err_set(err, "M_BAD_JSON", "'event_id' is %zu bytes, more than %d (appendices: Event IDs)", n,
                           MXR_ID_MAX);
    memcpy(out, s, n + 1);
    return 0;
}

int mxr_event_compute_id(const json_t *pdu, const struct mxr_room_version *rv, char out[MXR_ID_MAX + 1],
                         struct mxr_err *err)
{
    if (!rv)
        return mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "no room version given for the event ID");
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    if (rv->event_format == MXR_EVFMT_V1)
        return given_event_id(pdu, out, err);
    uint8_t h[32];
    if (mxr_event_reference_hash(pdu, rv, h, err) < 0)
        return -1;
    enum mxr_b64_variant v = rv->event_format == MXR_EVFMT_V2 ? MXR_B64_STD : MXR_B64_URL;
    out[0] = '$';
    if (mxr_b64_encode(out + 1, MXR_ID_MAX, h, sizeof h, v) != 43)
        return mxr_err_set(err, "M_UNKNOWN", "base64 encoding of the event ID failed");
    return 0;
}

/* A string field: *out = value, NULL when absent and optional. Strings with
 * NUL inside are refused: IDs and types compare as C strings downstream. */
static int get_str(const json_t *obj, const char *key, bool required, const char **out, struct mxr_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return required ? mxr_err_set(err, "M_BAD_JSON", "'%s' is required", key) : 0;
    if (!json_is_string(v))
        return mxr_err_set(err, "M_BAD_JSON", "'%s' is not a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mxr_err_set(err, "M_BAD_JSON", "'%s' contains a NUL character", key);
    *out = json_string_value(v);
    return 0;
}

static int get_int(const json_t *obj, const char *key, int64_t *out, struct mxr_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return mxr_err_set(err, "M_BAD_JSON", "'%s' is not an integer", key);
    *out = json_integer_value(v);
    return 0;
}

/* prev_events / auth_events: plain IDs (v3+) or [id, {"sha256": h}] pairs
 * (v1/v2). Both are read in every version; the strict format check has
 * already required the version's own form when asked to. */
static int get_refs(const json_t *pdu, const char *key, const char ***out, size_t *n, struct mxr_err *err)
{
    json_t *arr = json_object_get(pdu, key);
    *out = NULL;
    *n = 0;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return mxr_err_set(err, "M_BAD_JSON", "'%s' is not an array", key);
    size_t count = json_array_size(arr);
    if (count == 0)
        return 0;
    const char **ids = calloc(count, sizeof *ids);
    if (!ids)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(arr, i);
        if (json_is_array(e))
            e = json_array_get(e, 0);
        if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
            free(ids);
            return mxr_err_set(err, "M_BAD_JSON", "'%s'[%zu] is neither an event ID nor an [event ID, hashes] pair",
                               key, i);
        }
        ids[i] = json_string_value(e);
    }
    *out = ids;
    *n = count;
    return 0;
}

int mxr_event_load(struct mxr_event *ev, json_t *pdu, const struct mxr_room_version *rv, unsigned flags,
                   struct mxr_err *err)
{
    memset(ev, 0, sizeof *ev);
    if (!rv)
        return mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "no room version given for the event");
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    if ((flags & MXR_EVENT_STRICT_FORMAT) && mxr_pdu_check_format(pdu, rv, 0, err) < 0)
        return -1;
    ev->json = json_incref(pdu);
    ev->rv = rv;

    if (get_str(pdu, "type", true, &ev->type, err) < 0 || get_str(pdu, "sender", true, &ev->sender, err) < 0 ||
        get_str(pdu, "state_key", false, &ev->state_key, err) < 0 ||
        get_int(pdu, "depth", &ev->depth, err) < 0 ||
        get_int(pdu, "origin_server_ts", &ev->origin_server_ts, err) < 0)
        goto fail;
    ev->content = json_object_get(pdu, "content");
    if (!json_is_object(ev->content)) {
        mxr_err_set(err, "M_BAD_JSON", "'content' is %s", ev->content ? "not an object" : "required");
        goto fail;
    }
    /* v12: the create event has no room_id; its room ID is derived below. A
     * create that carries one anyway is loaded so the auth rules can reject
     * it (v12 rule 1.2). */
    bool v12_create = rv->room_id_is_create_hash && strcmp(ev->type, "m.room.create") == 0;
    if (get_str(pdu, "room_id", !v12_create, &ev->room_id, err) < 0)
        goto fail;
    if (get_refs(pdu, "prev_events", &ev->prev_events, &ev->n_prev_events, err) < 0 ||
        get_refs(pdu, "auth_events", &ev->auth_events, &ev->n_auth_events, err) < 0)
        goto fail;
    if (strcmp(ev->type, "m.room.redaction") == 0) {
        const json_t *holder = rv->redacts_in_content ? ev->content : pdu;
        json_t *r = json_object_get(holder, "redacts");
        if (json_is_string(r) && strlen(json_string_value(r)) == json_string_length(r))
            ev->redacts = json_string_value(r);
    }

    if ((flags & MXR_EVENT_TRUST_GIVEN_ID) && json_object_get(pdu, "event_id")) {
        if (given_event_id(pdu, ev->event_id, err) < 0)
            goto fail;
    } else if (mxr_event_compute_id(pdu, rv, ev->event_id, err) < 0) {
        goto fail;
    }
    if (v12_create) {
        ev->room_id_buf[0] = '!';
        memcpy(ev->room_id_buf + 1, ev->event_id + 1, strlen(ev->event_id));
    }
    return 0;
fail:
    mxr_event_release(ev);
    return -1;
}

void mxr_event_release(struct mxr_event *ev)
{
    if (!ev)
        return;
    free(ev->prev_events);
    free(ev->auth_events);
    json_decref(ev->json);
    memset(ev, 0, sizeof *ev);
}

const char *mxr_event_content_str(const struct mxr_event *ev, const char *key)
{
    if (!ev || !ev->content || !key)
        return NULL;
    return json_string_value(json_object_get(ev->content, key));
}
