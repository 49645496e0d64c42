/* Room version table against the spec's pages (content/rooms/v*.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/roomver.h"

static const struct mxr_room_version *rv(const char *id)
{
    struct mxr_err err = {0};
    const struct mxr_room_version *v = mxr_room_version_get(id, &err);
    assert_non_null(v);
    return v;
}

static void unknown_versions_are_refused(void **state)
{
    struct mxr_err err = {0};
    assert_null(mxr_room_version_get("13", &err));
    assert_string_equal(err.errcode, "M_UNSUPPORTED_ROOM_VERSION");
    assert_null(mxr_room_version_get("", &err));
    assert_null(mxr_room_version_get(NULL, &err));
    assert_null(mxr_room_version_get("org.matrix.msc1234", &err));
    assert_null(mxr_room_version_get(" 1", &err));
}

static void all_twelve_in_order(void **state)
{
    unsigned n;
    const struct mxr_room_version *all = mxr_room_versions(&n);
    assert_int_equal(n, 12);
    char want[12];
    for (unsigned i = 0; i < n; i++) {
        snprintf(want, sizeof want, "%u", i + 1);
        assert_string_equal(all[i].id, want);
    }
}

/* rooms/v1.md: state res v1; v2.md..v11.md: v2; v12.md: v2.1. */
static void state_resolution_algorithms(void **state)
{
    assert_int_equal(rv("1")->state_res, MXR_STATERES_V1);
    for (int i = 2; i <= 11; i++) {
        char id[12];
        snprintf(id, sizeof id, "%d", i);
        assert_int_equal(rv(id)->state_res, MXR_STATERES_V2);
    }
    assert_int_equal(rv("12")->state_res, MXR_STATERES_V2_1);
}

/* Event ID formats: v1/v2 given; v3 base64; v4+ URL-safe; v12 room ID from create. */
static void event_formats(void **state)
{
    assert_int_equal(rv("1")->event_format, MXR_EVFMT_V1);
    assert_int_equal(rv("2")->event_format, MXR_EVFMT_V1);
    assert_int_equal(rv("3")->event_format, MXR_EVFMT_V2);
    assert_int_equal(rv("4")->event_format, MXR_EVFMT_V3);
    assert_int_equal(rv("11")->event_format, MXR_EVFMT_V3);
    assert_int_equal(rv("12")->event_format, MXR_EVFMT_V4);
    assert_true(rv("1")->event_id_needs_signature_of_domain);
    assert_false(rv("3")->event_id_needs_signature_of_domain);
}

/* Feature flags hold exactly from the version that introduced them. */
static void flags_start_where_the_spec_says(void **state)
{
    static const struct { size_t off; int first; int last; } F[] = {
        { offsetof(struct mxr_room_version, enforce_key_validity), 5, 12 },
        { offsetof(struct mxr_room_version, special_case_aliases_auth), 1, 5 },
        { offsetof(struct mxr_room_version, strict_canonical_json), 6, 12 },
        { offsetof(struct mxr_room_version, limit_notifications_power_levels), 6, 12 },
        { offsetof(struct mxr_room_version, knock_join_rule), 7, 12 },
        { offsetof(struct mxr_room_version, restricted_join_rule), 8, 12 },
        { offsetof(struct mxr_room_version, knock_restricted_join_rule), 10, 12 },
        { offsetof(struct mxr_room_version, enforce_int_power_levels), 10, 12 },
        { offsetof(struct mxr_room_version, implicit_room_creator), 11, 12 },
        { offsetof(struct mxr_room_version, redacts_in_content), 11, 12 },
        { offsetof(struct mxr_room_version, privileged_creators), 12, 12 },
        { offsetof(struct mxr_room_version, room_id_is_create_hash), 12, 12 },
        { offsetof(struct mxr_room_version, redaction_auth_rule), 1, 2 },
    };
    unsigned n;
    const struct mxr_room_version *all = mxr_room_versions(&n);
    for (size_t f = 0; f < sizeof F / sizeof F[0]; f++)
        for (unsigned v = 1; v <= n; v++) {
            bool want = (int)v >= F[f].first && (int)v <= F[f].last;
            bool have = *(const bool *)((const char *)&all[v - 1] + F[f].off);
            if (want != have)
                fail_msg("flag at offset %zu wrong for v%u", F[f].off, v);
        }
}

static void redaction_rule_sets(void **state)
{
    static const enum mxr_redaction_rules want[] = {
        MXR_REDACT_V1, MXR_REDACT_V1, MXR_REDACT_V1, MXR_REDACT_V1, MXR_REDACT_V1,
        MXR_REDACT_V6, MXR_REDACT_V6, MXR_REDACT_V8, MXR_REDACT_V9, MXR_REDACT_V9,
        MXR_REDACT_V11, MXR_REDACT_V11,
    };
    unsigned n;
    const struct mxr_room_version *all = mxr_room_versions(&n);
    for (unsigned v = 0; v < n; v++)
        assert_int_equal(all[v].redaction, want[v]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_versions_are_refused),
        cmocka_unit_test(all_twelve_in_order),
        cmocka_unit_test(state_resolution_algorithms),
        cmocka_unit_test(event_formats),
        cmocka_unit_test(flags_start_where_the_spec_says),
        cmocka_unit_test(redaction_rule_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
