/* PDU checks on receipt, steps 1-3, and signing outgoing PDUs (spec:
 * server-server API "Checks performed on receipt of a PDU", "Signing
 * Events"; PDU schemas data/api/server-server/definitions/pdu_v*.yaml). */
#include "mxr/pdu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/event.h"
#include "mxr/ids.h"
#include "mxr/json.h"

/* ---- step 1: format ------------------------------------------------------- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a float";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* An identifier check failed: the PDU is malformed (M_BAD_JSON), named by field. */
static int bad_id(struct mxr_err *err, const char *field)
{
    mxr_err_prefix(err, "%s", field);
    if (err)
        err->errcode = "M_BAD_JSON";
    return -1;
}

/* The field `key` must be present (when required) and of JSON type t. */
static int want(const json_t *pdu, const char *key, json_type t, bool required, const char *tname,
                const struct mxr_room_version *rv, json_t **out, struct mxr_err *err)
{
    json_t *v = json_object_get(pdu, key);
    *out = v;
    if (!v)
        return required ? mxr_err_set(err, "M_BAD_JSON", "'%s' is required (PDU format, room version %s)", key,
                                      rv->id)
                        : 0;
    if (json_typeof(v) != t)
        return mxr_err_set(err, "M_BAD_JSON", "'%s' must be %s, not %s (PDU format, room version %s)", key, tname,
                           type_name(v), rv->id);
    if (t == JSON_STRING && strlen(json_string_value(v)) != json_string_length(v))
        return mxr_err_set(err, "M_BAD_JSON", "'%s' contains a NUL character", key);
    return 0;
}

static int check_size(const json_t *pdu, const struct mxr_room_version *rv, struct mxr_err *err)
{
    size_t len;
    struct mxr_err e2 = {0};
    char *s = rv->strict_canonical_json ? mxr_canonical_json(pdu, &len, &e2)
                                        : mxr_canonical_json_lax(pdu, &len, &e2);
    if (!s) {
        if (rv->strict_canonical_json)
            return mxr_err_set(err, e2.errcode, "%s", e2.msg);
        /* v1-v5 may carry floats, which we cannot encode canonically; the
         * compact encoding is within a few bytes of it. */
        len = json_dumpb(pdu, NULL, 0, JSON_COMPACT);
        if (len == 0)
            return mxr_err_set(err, "M_BAD_JSON", "event cannot be encoded as JSON");
    }
    free(s);
    if (len > MXR_PDU_MAX_BYTES)
        return mxr_err_set(err, "M_TOO_LARGE",
                           "event is %zu bytes of canonical JSON, more than %d (client-server API: Size limits)", len,
                           MXR_PDU_MAX_BYTES);
    return 0;
}

/* One entry of prev_events / auth_events in the version's own form. */
static int check_ref(const json_t *e, const char *key, size_t i, const struct mxr_room_version *rv,
                     struct mxr_err *err)
{
    if (rv->event_format == MXR_EVFMT_V1) {
        json_t *h = json_array_get(e, 1);
        if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_object(h) ||
            !json_is_string(json_object_get(h, "sha256")))
            return mxr_err_set(err, "M_BAD_JSON",
                               "'%s'[%zu] must be an [event ID, {\"sha256\": hash}] pair (room version %s)", key, i,
                               rv->id);
        e = json_array_get(e, 0);
    }
    if (!json_is_string(e))
        return mxr_err_set(err, "M_BAD_JSON", "'%s'[%zu] must be an event ID string (room version %s)", key, i, rv->id);
    const char *id = json_string_value(e);
    if (strlen(id) != json_string_length(e))
        return mxr_err_set(err, "M_BAD_JSON", "'%s'[%zu] contains a NUL character", key, i);
    if (mxr_id_check_event(id, rv->event_format, err) < 0) {
        char field[64];
        snprintf(field, sizeof field, "'%s'[%zu]", key, i);
        return bad_id(err, field);
    }
    return 0;
}

static int check_refs(const json_t *pdu, const char *key, size_t max, const struct mxr_room_version *rv,
                      unsigned flags, struct mxr_err *err)
{
    json_t *arr;
    if (want(pdu, key, JSON_ARRAY, true, "an array", rv, &arr, err) < 0)
        return -1;
    if (!(flags & MXR_PDU_NO_COUNT_LIMITS) && json_array_size(arr) > max)
        return mxr_err_set(err, "M_BAD_JSON", "'%s' has %zu entries, more than %zu (PDU format)", key,
                           json_array_size(arr), max);
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (check_ref(json_array_get(arr, i), key, i, rv, err) < 0)
            return -1;
    return 0;
}

static int check_signatures_shape(const json_t *sigs, struct mxr_err *err)
{
    const char *server, *key_id;
    json_t *per, *sig;
    json_object_foreach((json_t *)sigs, server, per) {
        if (!json_is_object(per))
            return mxr_err_set(err, "M_BAD_JSON", "'signatures.%.200s' must be an object", server);
        json_object_foreach(per, key_id, sig)
            if (!json_is_string(sig))
                return mxr_err_set(err, "M_BAD_JSON", "'signatures.%.200s.%.100s' must be a string", server, key_id);
    }
    return 0;
}

int mxr_pdu_check_format(const json_t *pdu, const struct mxr_room_version *rv, unsigned flags,
                         struct mxr_err *err)
{
    if (!rv)
        return mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "no room version given for the format check");
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    /* v6-canonical-json.md: values must be canonical JSON; v1-v5 must not enforce it. */
    if (rv->strict_canonical_json && mxr_json_check_strict(pdu, err) < 0)
        return mxr_err_prefix(err, "room version %s requires canonical JSON", rv->id);
    if (check_size(pdu, rv, err) < 0)
        return -1;

    json_t *v;
    if (want(pdu, "type", JSON_STRING, true, "a string", rv, &v, err) < 0)
        return -1;
    const char *type = json_string_value(v);
    if (json_string_length(v) > MXR_PDU_MAX_TYPE_BYTES)
        return mxr_err_set(err, "M_BAD_JSON", "'type' is %zu bytes, more than %d (Size limits)", json_string_length(v),
                           MXR_PDU_MAX_TYPE_BYTES);
    if (want(pdu, "state_key", JSON_STRING, false, "a string", rv, &v, err) < 0)
        return -1;
    if (v && json_string_length(v) > MXR_PDU_MAX_TYPE_BYTES)
        return mxr_err_set(err, "M_BAD_JSON", "'state_key' is %zu bytes, more than %d (Size limits)",
                           json_string_length(v), MXR_PDU_MAX_TYPE_BYTES);

    if (want(pdu, "sender", JSON_STRING, true, "a string", rv, &v, err) < 0)
        return -1;
    /* Historical user IDs must still be accepted over federation (appendices). */
    if (mxr_id_check_user(json_string_value(v), MXR_USER_HISTORICAL, err) < 0)
        return bad_id(err, "'sender'");

    if (want(pdu, "origin_server_ts", JSON_INTEGER, true, "an integer", rv, &v, err) < 0)
        return -1;
    if (want(pdu, "depth", JSON_INTEGER, true, "an integer", rv, &v, err) < 0)
        return -1;
    json_int_t depth = json_integer_value(v);
    json_int_t max_depth = rv->strict_canonical_json ? MXR_JSON_INT_MAX : INT64_MAX;
    if (depth < 0 || depth > max_depth)
        return mxr_err_set(err, "M_BAD_JSON", "'depth' %lld is outside [0, %lld] (room version %s)", (long long)depth,
                           (long long)max_depth, rv->id);
    if (want(pdu, "content", JSON_OBJECT, true, "an object", rv, &v, err) < 0)
        return -1;
    if (want(pdu, "unsigned", JSON_OBJECT, false, "an object", rv, &v, err) < 0)
        return -1;

    if (want(pdu, "hashes", JSON_OBJECT, true, "an object", rv, &v, err) < 0)
        return -1;
    if (!json_is_string(json_object_get(v, "sha256")))
        return mxr_err_set(err, "M_BAD_JSON", "'hashes.sha256' is required and must be a string");
    if (want(pdu, "signatures", JSON_OBJECT, true, "an object", rv, &v, err) < 0 ||
        check_signatures_shape(v, err) < 0)
        return -1;

    /* Room ID: v12 create events have none (room_id_v12.yaml); every other
     * event has one in the version's form. */
    bool v12_create = rv->room_id_is_create_hash && strcmp(type, "m.room.create") == 0;
    if (v12_create) {
        if (json_object_get(pdu, "room_id"))
            return mxr_err_set(err, "M_BAD_JSON", "an m.room.create event has no 'room_id' in room version %s",
                               rv->id);
    } else {
        if (want(pdu, "room_id", JSON_STRING, true, "a string", rv, &v, err) < 0)
            return -1;
        if (mxr_id_check_room(json_string_value(v), rv->event_format, err) < 0)
            return bad_id(err, "'room_id'");
    }

    if (rv->event_format == MXR_EVFMT_V1) {
        if (want(pdu, "event_id", JSON_STRING, true, "a string", rv, &v, err) < 0)
            return -1;
        if (mxr_id_check_event(json_string_value(v), rv->event_format, err) < 0)
            return bad_id(err, "'event_id'");
    }
    if (check_refs(pdu, "prev_events", MXR_PDU_MAX_PREV_EVENTS, rv, flags, err) < 0 ||
        check_refs(pdu, "auth_events", MXR_PDU_MAX_AUTH_EVENTS, rv, flags, err) < 0)
        return -1;
    /* Top-level `redacts` is part of the format up to v10 (pdu_v1/v3/v4/v6). */
    if (!rv->redacts_in_content && want(pdu, "redacts", JSON_STRING, false, "a string", rv, &v, err) < 0)
        return -1;
    return 0;
}

/* ---- step 2: signatures -------------------------------------------------- */

static int64_t key_time(const json_t *pdu, const struct mxr_room_version *rv)
{
    /* v5-signing-requirements.md: keys must be valid at origin_server_ts. */
    if (!rv->enforce_key_validity)
        return MXR_KEY_ANY_TIME;
    json_t *ts = json_object_get(pdu, "origin_server_ts");
    return json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;
}

int mxr_pdu_check_server_signature(const json_t *pdu, const struct mxr_room_version *rv, const char *server,
                                   const struct mxr_verify_keys *keys, struct mxr_err *err)
{
    json_t *redacted = mxr_event_redact(pdu, rv, err);
    if (!redacted)
        return -1;
    int rc = mxr_verify_json_keys(redacted, server, keys, key_time(pdu, rv), err);
    json_decref(redacted);
    return rc;
}

/* The server of an ID field (sender, event_id, content.join_authorised_via_users_server). */
static const char *id_server(const json_t *obj, const char *key, const char *what, struct mxr_err *err)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    const char *domain = s && strlen(s) == json_string_length(v) ? mxr_id_domain(s) : NULL;
    if (!domain || !*domain)
        mxr_err_set(err, "M_BAD_JSON", "%s '%s' has no server name to check the signature of", what, key);
    return domain && *domain ? domain : NULL;
}

int mxr_pdu_check_signatures(const json_t *pdu, const struct mxr_room_version *rv,
                             const struct mxr_verify_keys *keys, struct mxr_err *err)
{
    if (!rv)
        return mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "no room version given for the signature check");
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    const char *servers[3];
    const char *why[3];
    size_t n = 0;

    const char *type = json_string_value(json_object_get(pdu, "type"));
    json_t *content = json_object_get(pdu, "content");
    const char *membership = json_string_value(json_object_get(content, "membership"));
    bool member = type && strcmp(type, "m.room.member") == 0;
    bool third_party_invite = member && membership && strcmp(membership, "invite") == 0 &&
                              json_object_get(content, "third_party_invite") != NULL;

    const char *sender = id_server(pdu, "sender", "event", err);
    if (!sender)
        return -1;
    if (!third_party_invite) {
        servers[n] = sender;
        why[n++] = "the sender's server";
    }
    if (rv->event_id_needs_signature_of_domain) {
        const char *s = id_server(pdu, "event_id", "event", err);
        if (!s)
            return -1;
        if (strcmp(s, sender) != 0) {
            servers[n] = s;
            why[n++] = "the event ID's server";
        }
    }
    if (rv->restricted_join_rule && member && membership && strcmp(membership, "join") == 0 &&
        json_object_get(content, "join_authorised_via_users_server")) {
        const char *s = id_server(content, "join_authorised_via_users_server", "content", err);
        if (!s)
            return -1;
        servers[n] = s;
        why[n++] = "the authorising server of a restricted join";
    }
    if (n == 0)
        return 0;

    json_t *redacted = mxr_event_redact(pdu, rv, err);
    if (!redacted)
        return -1;
    int64_t ts = key_time(pdu, rv);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = mxr_verify_json_keys(redacted, servers[i], keys, ts, err);
        if (rc < 0)
            mxr_err_prefix(err, "signature of %s", why[i]);
    }
    json_decref(redacted);
    return rc;
}

/* ---- step 3: content hash ------------------------------------------------ */

int mxr_pdu_check_hash(const json_t *pdu, struct mxr_err *err)
{
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    json_t *given = json_object_get(json_object_get(pdu, "hashes"), "sha256");
    if (!json_is_string(given)) {
        mxr_err_set(err, "M_BAD_JSON", "no 'hashes.sha256': use the redacted event");
        return 1;
    }
    char mine_b64[44];
    if (mxr_event_content_hash(pdu, mine_b64, err) < 0)
        return -1;
    uint8_t want_h[32], have[32 + 3];
    struct mxr_err e2 = {0};
    if (mxr_b64_decode(want_h, sizeof want_h, mine_b64, strlen(mine_b64), MXR_B64_STD, &e2) != 32)
        return mxr_err_set(err, "M_UNKNOWN", "cannot decode our own content hash");
    long n = mxr_b64_decode(have, sizeof have, json_string_value(given), json_string_length(given), MXR_B64_STD, &e2);
    if (n != 32 || memcmp(have, want_h, 32) != 0) {
        mxr_err_set(err, "M_BAD_JSON",
                    "content hash mismatch (hashes.sha256 %.60s, computed %s): use the redacted event",
                    json_string_value(given), mine_b64);
        return 1;
    }
    return 0;
}

/* ---- signing ------------------------------------------------------------- */

int mxr_pdu_sign(json_t *pdu, const struct mxr_room_version *rv, const char *server,
                 const struct mxr_signing_key *key, struct mxr_err *err)
{
    if (!rv)
        return mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "no room version given for signing");
    if (!json_is_object(pdu))
        return mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
    char h[44];
    if (mxr_event_content_hash(pdu, h, err) < 0)
        return -1;
    json_t *hashes = json_pack("{s:s}", "sha256", h);
    if (!hashes || json_object_set_new(pdu, "hashes", hashes) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    json_t *redacted = mxr_event_redact(pdu, rv, err);
    if (!redacted)
        return -1;
    int rc = mxr_sign_json(redacted, server, key, err);
    if (rc == 0 && json_object_set(pdu, "signatures", json_object_get(redacted, "signatures")) != 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "out of memory");
    json_decref(redacted);
    return rc;
}
