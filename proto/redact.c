/* The redaction algorithm per room version (spec: rooms/fragments/
 * v1-redactions.md (v1-v5), v6-redactions.md (v6-v7), rooms/v8.md
 * "Redactions" (v8), v9-redactions.md (v9-v10), v11-redactions.md (v11-v12)).
 *
 * Decisions where the spec text leaves room:
 * - `content` absent or not an object becomes {} ("stripped of all keys").
 *   An absent one is added because Synapse and gomatrixserverlib do: their
 *   published signing vectors for a content-less event (hash
 *   6tJjLpXtggfke8UxFhAKg82QVkJzvKOVOOSjUDK4ZSI, signature 2Wptgo4...) sign
 *   a redacted copy holding "content":{} (ruma leaves it absent; a PDU
 *   without content is malformed anyway).
 * - v11+ m.room.member: `third_party_invite` is kept, reduced to its `signed`
 *   key, when it is an object (an object without `signed` becomes {}, as
 *   Synapse does, since its hashes are what peers compute); otherwise dropped.
 * - `unsigned` is not in any list and is dropped: the redacted copy is the one
 *   hashes and signatures are computed over. Callers that serve the redacted
 *   event re-attach what they need.
 */
#include "mxr/event.h"

#include <string.h>

static const char *const TOP_V1[] = {
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
    "prev_events", "prev_state", "auth_events", "origin", "origin_server_ts", "membership", NULL,
};

/* v11: `origin`, `membership` and `prev_state` are no longer kept. */
static const char *const TOP_V11[] = {
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
    "prev_events", "auth_events", "origin_server_ts", NULL,
};

static const char *const PL_V1[] = {
    "ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default", NULL,
};
static const char *const PL_V11[] = {
    "ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users", "users_default", NULL,
};

struct content_rule {
    const char *type;
    const char *const *keys;    /* NULL: keep every key */
};

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* One table per rule set; a type absent from its table keeps no content. */
static const struct content_rule RULES_V1[] = {
    { "m.room.member", KEYS("membership") },
    { "m.room.create", KEYS("creator") },
    { "m.room.join_rules", KEYS("join_rule") },
    { "m.room.power_levels", PL_V1 },
    { "m.room.aliases", KEYS("aliases") },
    { "m.room.history_visibility", KEYS("history_visibility") },
    { NULL, NULL },
};
static const struct content_rule RULES_V6[] = {
    { "m.room.member", KEYS("membership") },
    { "m.room.create", KEYS("creator") },
    { "m.room.join_rules", KEYS("join_rule") },
    { "m.room.power_levels", PL_V1 },
    { "m.room.history_visibility", KEYS("history_visibility") },
    { NULL, NULL },
};
static const struct content_rule RULES_V8[] = {
    { "m.room.member", KEYS("membership") },
    { "m.room.create", KEYS("creator") },
    { "m.room.join_rules", KEYS("join_rule", "allow") },
    { "m.room.power_levels", PL_V1 },
    { "m.room.history_visibility", KEYS("history_visibility") },
    { NULL, NULL },
};
static const struct content_rule RULES_V9[] = {
    { "m.room.member", KEYS("membership", "join_authorised_via_users_server") },
    { "m.room.create", KEYS("creator") },
    { "m.room.join_rules", KEYS("join_rule", "allow") },
    { "m.room.power_levels", PL_V1 },
    { "m.room.history_visibility", KEYS("history_visibility") },
    { NULL, NULL },
};
/* m.room.member additionally keeps third_party_invite.signed (below). */
static const struct content_rule RULES_V11[] = {
    { "m.room.member", KEYS("membership", "join_authorised_via_users_server") },
    { "m.room.create", NULL },
    { "m.room.join_rules", KEYS("join_rule", "allow") },
    { "m.room.power_levels", PL_V11 },
    { "m.room.history_visibility", KEYS("history_visibility") },
    { "m.room.redaction", KEYS("redacts") },
    { NULL, NULL },
};

static const struct content_rule *rules_for(enum mxr_redaction_rules r)
{
    switch (r) {
    case MXR_REDACT_V1: return RULES_V1;
    case MXR_REDACT_V6: return RULES_V6;
    case MXR_REDACT_V8: return RULES_V8;
    case MXR_REDACT_V9: return RULES_V9;
    case MXR_REDACT_V11: return RULES_V11;
    }
    return NULL;
}

static int copy_key(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (!v)
        return 0;
    json_t *c = json_deep_copy(v);
    return c && json_object_set_new(dst, key, c) == 0 ? 0 : -1;
}

static json_t *redact_content(const json_t *content, const char *type, const struct mxr_room_version *rv)
{
    json_t *out = json_object();
    if (!out || !json_is_object(content) || !type)
        return out;
    const struct content_rule *rule = rules_for(rv->redaction);
    for (; rule && rule->type; rule++)
        if (strcmp(rule->type, type) == 0)
            break;
    if (!rule || !rule->type)
        return out;
    if (!rule->keys) {
        json_decref(out);
        return json_deep_copy(content);
    }
    for (const char *const *k = rule->keys; *k; k++)
        if (copy_key(out, content, *k) < 0)
            goto oom;
    if (rv->redaction == MXR_REDACT_V11 && strcmp(type, "m.room.member") == 0) {
        json_t *tpi = json_object_get(content, "third_party_invite");
        if (json_is_object(tpi)) {
            json_t *kept = json_object();
            if (!kept || json_object_set_new(out, "third_party_invite", kept) != 0 ||
                copy_key(kept, tpi, "signed") < 0)
                goto oom;
        }
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}

json_t *mxr_event_redact(const json_t *pdu, const struct mxr_room_version *rv, struct mxr_err *err)
{
    if (!rv) {
        mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "no room version given for redaction");
        return NULL;
    }
    if (!json_is_object(pdu)) {
        mxr_err_set(err, "M_BAD_JSON", "event is not a JSON object");
        return NULL;
    }
    json_t *out = json_object();
    if (!out)
        goto oom;
    const char *const *top = rv->redaction == MXR_REDACT_V11 ? TOP_V11 : TOP_V1;
    for (const char *const *k = top; *k; k++) {
        if (strcmp(*k, "content") == 0)
            continue;
        if (copy_key(out, pdu, *k) < 0)
            goto oom;
    }
    json_t *type = json_object_get(pdu, "type");
    json_t *kept = redact_content(json_object_get(pdu, "content"), json_string_value(type), rv);
    if (!kept || json_object_set_new(out, "content", kept) != 0)
        goto oom;
    return out;
oom:
    json_decref(out);
    mxr_err_set(err, "M_UNKNOWN", "out of memory while redacting");
    return NULL;
}
