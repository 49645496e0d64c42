/* Room version table (spec: content/rooms/v*.md). Each row is the previous
 * one plus that version's changes, spelled out in full so a reader can check
 * one line against one spec page. */
#include "mxr/roomver.h"

#include <string.h>

#define V1_5_COMMON .special_case_aliases_auth = true

static const struct mxr_room_version ROOM_VERSIONS[] = {
    { .id = "1", .event_format = MXR_EVFMT_V1, .state_res = MXR_STATERES_V1, .redaction = MXR_REDACT_V1,
      V1_5_COMMON, .event_id_needs_signature_of_domain = true,
      .redaction_auth_rule = true },
    { .id = "2", .event_format = MXR_EVFMT_V1, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V1,
      V1_5_COMMON, .event_id_needs_signature_of_domain = true,
      .redaction_auth_rule = true },
    { .id = "3", .event_format = MXR_EVFMT_V2, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V1,
      V1_5_COMMON },
    { .id = "4", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V1,
      V1_5_COMMON },
    { .id = "5", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V1,
      V1_5_COMMON, .enforce_key_validity = true },
    { .id = "6", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V6,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true },
    { .id = "7", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V6,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true,
      .knock_join_rule = true },
    { .id = "8", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V8,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true,
      .knock_join_rule = true, .restricted_join_rule = true },
    { .id = "9", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V9,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true,
      .knock_join_rule = true, .restricted_join_rule = true },
    { .id = "10", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V9,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true,
      .knock_join_rule = true, .restricted_join_rule = true, .knock_restricted_join_rule = true,
      .enforce_int_power_levels = true },
    { .id = "11", .event_format = MXR_EVFMT_V3, .state_res = MXR_STATERES_V2, .redaction = MXR_REDACT_V11,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true,
      .knock_join_rule = true, .restricted_join_rule = true, .knock_restricted_join_rule = true,
      .enforce_int_power_levels = true, .implicit_room_creator = true, .redacts_in_content = true },
    { .id = "12", .event_format = MXR_EVFMT_V4, .state_res = MXR_STATERES_V2_1, .redaction = MXR_REDACT_V11,
      .enforce_key_validity = true, .strict_canonical_json = true, .limit_notifications_power_levels = true,
      .knock_join_rule = true, .restricted_join_rule = true, .knock_restricted_join_rule = true,
      .enforce_int_power_levels = true, .implicit_room_creator = true, .redacts_in_content = true,
      .privileged_creators = true, .room_id_is_create_hash = true },
};

const struct mxr_room_version *mxr_room_version_get(const char *id, struct mxr_err *err)
{
    if (id)
        for (size_t i = 0; i < sizeof ROOM_VERSIONS / sizeof ROOM_VERSIONS[0]; i++)
            if (strcmp(ROOM_VERSIONS[i].id, id) == 0)
                return &ROOM_VERSIONS[i];
    mxr_err_set(err, "M_UNSUPPORTED_ROOM_VERSION", "room version '%s' is not supported (known: 1-12)",
                id ? id : "(none)");
    return NULL;
}

const struct mxr_room_version *mxr_room_versions(unsigned *n)
{
    if (n)
        *n = sizeof ROOM_VERSIONS / sizeof ROOM_VERSIONS[0];
    return ROOM_VERSIONS;
}
