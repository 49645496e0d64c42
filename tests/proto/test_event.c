/* proto/event.c: content hash, reference hash, event IDs, loading per room
 * version. Expected values are the spec's test vectors (appendices
 * "Cryptographic Test Vectors") or were computed with Python hashlib +
 * canonicaljson (see tests/interop/signedjson_interop.py for the same
 * computation run live). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mxr/base64.h"
#include "mxr/event.h"
#include "mxr/pdu.h"
#include "events_fixture.h"

#define MIN_EVENT                                                                                         \
    "{\"room_id\":\"!x:domain\",\"sender\":\"@a:domain\",\"origin\":\"domain\",\"origin_server_ts\":1000000," \
    "\"signatures\":{},\"hashes\":{},\"type\":\"X\",\"content\":{},\"prev_events\":[],\"auth_events\":[],"     \
    "\"depth\":3,\"unsigned\":{\"age_ts\":1000000}}"

#define MSG_EVENT                                                                                      \
    "{\"content\":{\"body\":\"Here is the message content\"},\"event_id\":\"$0:domain\",\"origin\":\"domain\"," \
    "\"origin_server_ts\":1000000,\"type\":\"m.room.message\",\"room_id\":\"!r:domain\",\"sender\":\"@u:domain\"," \
    "\"signatures\":{},\"unsigned\":{\"age_ts\":1000000}}"

/* Python: body "m3"; its reference hash has both '+' and '/' in standard base64. */
#define HASHY_EVENT                                                                                         \
    "{\"auth_events\":[\"$a\"],\"content\":{\"body\":\"m3\"},\"depth\":5,\"hashes\":{\"sha256\":\"x\"},"        \
    "\"origin_server_ts\":1003,\"prev_events\":[\"$b\"],\"room_id\":\"!r:d\",\"sender\":\"@u:d\",\"type\":\"m.room.message\"}"

#define V12_CREATE                                                                                        \
    "{\"auth_events\":[],\"content\":{\"room_version\":\"12\"},\"depth\":1,\"origin_server_ts\":1000000,"      \
    "\"prev_events\":[],\"sender\":\"@a:domain\",\"state_key\":\"\",\"type\":\"m.room.create\"}"

static void content_hash_spec_vectors(void **state)
{
    char h[44];
    json_t *ev = J(MIN_EVENT);
    assert_int_equal(mxr_event_content_hash(ev, h, NULL), 0);
    assert_string_equal(h, "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    /* hashes, signatures and unsigned are not covered. */
    json_object_set_new(ev, "hashes", json_pack("{s:s}", "sha256", "anything"));
    json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 5));
    json_object_set_new(ev, "signatures", json_pack("{s:{s:s}}", "x", "ed25519:1", "sig"));
    assert_int_equal(mxr_event_content_hash(ev, h, NULL), 0);
    assert_string_equal(h, "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    /* ...but content is. */
    json_object_set_new(json_object_get(ev, "content"), "k", json_true());
    assert_int_equal(mxr_event_content_hash(ev, h, NULL), 0);
    assert_string_not_equal(h, "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    json_decref(ev);

    ev = J(MSG_EVENT);
    assert_int_equal(mxr_event_content_hash(ev, h, NULL), 0);
    assert_string_equal(h, "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
    json_decref(ev);
}

static void content_hash_refuses_non_canonical_values(void **state)
{
    struct mxr_err err = {0};
    char h[44];
    json_t *ev = J("{\"type\":\"X\",\"content\":{\"f\":1.5}}");
    assert_int_equal(mxr_event_content_hash(ev, h, &err), -1);
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_decref(ev);
    ev = J("[1]");
    assert_int_equal(mxr_event_content_hash(ev, h, &err), -1);
    json_decref(ev);
}

/* Python: v3 standard base64, v4+ URL-safe, over the redacted event (the
 * body is not covered, so only the type-independent keys matter). */
static void event_ids_per_format(void **state)
{
    char id[MXR_ID_MAX + 1];
    json_t *ev = J(HASHY_EVENT);
    assert_int_equal(mxr_event_compute_id(ev, rv_of("3"), id, NULL), 0);
    assert_string_equal(id, "$s26IF/7HVkisPf/IyVlWxYjr6EC5tuxXsKUNHL/L+zo");
    for (int v = 4; v <= 12; v++) {
        char name[12];
        snprintf(name, sizeof name, "%d", v);
        assert_int_equal(mxr_event_compute_id(ev, rv_of(name), id, NULL), 0);
        assert_string_equal(id, "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo");
    }
    /* Redacted keys do not change the ID. */
    json_object_set_new(json_object_get(ev, "content"), "body", json_string("other"));
    json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 1));
    json_object_set_new(ev, "signatures", json_pack("{s:{s:s}}", "d", "ed25519:1", "s"));
    assert_int_equal(mxr_event_compute_id(ev, rv_of("4"), id, NULL), 0);
    assert_string_equal(id, "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo");
    /* A stray event_id field is ignored in v3+... */
    json_object_set_new(ev, "event_id", json_string("$forged"));
    assert_int_equal(mxr_event_compute_id(ev, rv_of("4"), id, NULL), 0);
    assert_string_equal(id, "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo");
    /* ...while v1/v2 take it as is. */
    assert_int_equal(mxr_event_compute_id(ev, rv_of("1"), id, NULL), 0);
    assert_string_equal(id, "$forged");
    /* Essential keys do change it. */
    json_object_set_new(ev, "depth", json_integer(6));
    assert_int_equal(mxr_event_compute_id(ev, rv_of("4"), id, NULL), 0);
    assert_string_not_equal(id, "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo");
    json_decref(ev);
}

static void v1_event_id_must_be_given(void **state)
{
    struct mxr_err err = {0};
    char id[MXR_ID_MAX + 1];
    json_t *ev = J(HASHY_EVENT);
    assert_int_equal(mxr_event_compute_id(ev, rv_of("2"), id, &err), -1);
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_object_set_new(ev, "event_id", json_integer(1));
    assert_int_equal(mxr_event_compute_id(ev, rv_of("2"), id, &err), -1);
    json_object_set_new(ev, "event_id", json_string("no-sigil:d"));
    assert_int_equal(mxr_event_compute_id(ev, rv_of("2"), id, &err), -1);
    char big[300];
    memset(big, 'a', sizeof big);
    big[0] = '$';
    big[sizeof big - 1] = '\0';
    json_object_set_new(ev, "event_id", json_string(big));
    assert_int_equal(mxr_event_compute_id(ev, rv_of("2"), id, &err), -1);
    json_decref(ev);
}

/* Reference hash of v1/v2 events covers event_id (it is in the redaction
 * list and events carry it); Python: sha256 of the redacted canonical JSON. */
static void reference_hash_v1_covers_event_id(void **state)
{
    uint8_t a[32], b[32];
    json_t *ev = J(MSG_EVENT);
    assert_int_equal(mxr_event_reference_hash(ev, rv_of("1"), a, NULL), 0);
    json_object_set_new(ev, "event_id", json_string("$1:domain"));
    assert_int_equal(mxr_event_reference_hash(ev, rv_of("1"), b, NULL), 0);
    assert_memory_not_equal(a, b, 32);
    json_decref(ev);
}

/* v12 (appendices "Room IDs"): the create event's room ID is its event ID
 * with '!'; the signed spec-key create event gives the digest's vector
 * (checked with Python signedjson + hashlib). */
static void v12_create_event_and_room_id(void **state)
{
    json_t *ev = J(V12_CREATE);
    struct mxr_signing_key k;
    spec_key(&k);
    assert_int_equal(mxr_pdu_sign(ev, rv_of("12"), "domain", &k, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "hashes"), "sha256")),
                        "ccqBumrNf46eCfIkdZSYW9RNafS0xFYYDm5rnZBSVJU");
    struct mxr_event e;
    struct mxr_err err = {0};
    assert_int_equal(mxr_event_load(&e, ev, rv_of("12"), MXR_EVENT_STRICT_FORMAT, &err), 0);
    assert_string_equal(e.event_id, "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM");
    assert_string_equal(e.room_id_buf, "!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM");
    assert_null(e.room_id);
    mxr_event_release(&e);

    /* A v12 create with a room_id: strict refuses, lenient loads it for the auth rules. */
    json_object_set_new(ev, "room_id", json_string("!abc:domain"));
    assert_int_equal(mxr_event_load(&e, ev, rv_of("12"), MXR_EVENT_STRICT_FORMAT, &err), -1);
    assert_int_equal(mxr_event_load(&e, ev, rv_of("12"), 0, &err), 0);
    assert_string_equal(e.room_id, "!abc:domain");
    /* room_id is hashed like any kept key, so this is another event. */
    assert_string_not_equal(e.event_id, "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM");
    assert_string_equal(e.room_id_buf + 1, e.event_id + 1);
    assert_int_equal(e.room_id_buf[0], '!');
    mxr_event_release(&e);
    /* Before v12 a create event needs a room_id like any other. */
    json_object_del(ev, "room_id");
    assert_int_equal(mxr_event_load(&e, ev, rv_of("11"), 0, &err), -1);
    json_decref(ev);
}

static void load_reads_the_fields(void **state)
{
    json_t *ev = J("{\"type\":\"m.room.member\",\"sender\":\"@a:d\",\"state_key\":\"@a:d\",\"room_id\":\"!r:d\","
                   "\"content\":{\"membership\":\"join\",\"n\":3},\"depth\":7,\"origin_server_ts\":99,"
                   "\"prev_events\":[\"$p1\",\"$p2\"],\"auth_events\":[\"$c\",\"$pl\",\"$m\"],\"event_id\":\"$given\"}");
    struct mxr_event e;
    struct mxr_err err = {0};
    assert_int_equal(mxr_event_load(&e, ev, rv_of("10"), MXR_EVENT_TRUST_GIVEN_ID, &err), 0);
    json_decref(ev);    /* the event holds its own reference */
    assert_string_equal(e.event_id, "$given");
    assert_string_equal(e.type, "m.room.member");
    assert_string_equal(e.sender, "@a:d");
    assert_string_equal(e.state_key, "@a:d");
    assert_string_equal(e.room_id, "!r:d");
    assert_int_equal(e.depth, 7);
    assert_int_equal(e.origin_server_ts, 99);
    assert_int_equal(e.n_prev_events, 2);
    assert_string_equal(e.prev_events[1], "$p2");
    assert_int_equal(e.n_auth_events, 3);
    assert_string_equal(e.auth_events[0], "$c");
    assert_string_equal(mxr_event_content_str(&e, "membership"), "join");
    assert_null(mxr_event_content_str(&e, "n"));
    assert_null(mxr_event_content_str(&e, "absent"));
    assert_null(e.redacts);
    assert_true(e.rv == rv_of("10"));
    mxr_event_release(&e);
    assert_null(e.json);
    mxr_event_release(&e);    /* twice is harmless */
}

/* Without TRUST_GIVEN_ID a v3+ event_id field is ignored and the ID computed. */
static void load_computes_v3_ids(void **state)
{
    json_t *ev = J(HASHY_EVENT);
    json_object_set_new(ev, "event_id", json_string("$forged"));
    struct mxr_event e;
    assert_int_equal(mxr_event_load(&e, ev, rv_of("4"), 0, NULL), 0);
    assert_string_equal(e.event_id, "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo");
    mxr_event_release(&e);
    json_object_del(ev, "event_id");
    assert_int_equal(mxr_event_load(&e, ev, rv_of("4"), MXR_EVENT_TRUST_GIVEN_ID, NULL), 0);
    assert_string_equal(e.event_id, "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo");
    mxr_event_release(&e);
    json_decref(ev);
}

/* v1/v2 reference pairs; lenient mode takes either form in any version,
 * strict mode only the version's own. */
static void load_reference_forms(void **state)
{
    json_t *pairs = J("{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e:d\","
                      "\"prev_events\":[[\"$p:d\",{\"sha256\":\"abc\"}]],\"auth_events\":[[\"$c:d\",{\"sha256\":\"x\"}],\"$m:d\"]}");
    struct mxr_event e;
    struct mxr_err err = {0};
    assert_int_equal(mxr_event_load(&e, pairs, rv_of("1"), 0, &err), 0);
    assert_string_equal(e.event_id, "$e:d");
    assert_int_equal(e.n_prev_events, 1);
    assert_string_equal(e.prev_events[0], "$p:d");
    assert_int_equal(e.n_auth_events, 2);
    assert_string_equal(e.auth_events[0], "$c:d");
    assert_string_equal(e.auth_events[1], "$m:d");
    mxr_event_release(&e);
    assert_int_equal(mxr_event_load(&e, pairs, rv_of("11"), MXR_EVENT_TRUST_GIVEN_ID, &err), 0);
    assert_string_equal(e.prev_events[0], "$p:d");
    mxr_event_release(&e);
    json_decref(pairs);

    json_t *bad = J("{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e:d\","
                    "\"prev_events\":[[1,{}]]}");
    assert_int_equal(mxr_event_load(&e, bad, rv_of("1"), 0, &err), -1);
    assert_string_equal(err.errcode, "M_BAD_JSON");
    json_object_set_new(bad, "prev_events", json_pack("[i]", 5));
    assert_int_equal(mxr_event_load(&e, bad, rv_of("1"), 0, &err), -1);
    json_object_set_new(bad, "prev_events", json_pack("[[]]"));
    assert_int_equal(mxr_event_load(&e, bad, rv_of("1"), 0, &err), -1);
    json_object_set_new(bad, "prev_events", json_string("$x:d"));
    assert_int_equal(mxr_event_load(&e, bad, rv_of("1"), 0, &err), -1);
    json_decref(bad);
}

static void load_redacts_per_version(void **state)
{
    json_t *ev = J("{\"type\":\"m.room.redaction\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"event_id\":\"$e\","
                   "\"redacts\":\"$top\",\"content\":{\"redacts\":\"$inner\"}}");
    struct mxr_event e;
    for (int v = 1; v <= 12; v++) {
        char name[12];
        snprintf(name, sizeof name, "%d", v);
        assert_int_equal(mxr_event_load(&e, ev, rv_of(name), MXR_EVENT_TRUST_GIVEN_ID, NULL), 0);
        assert_string_equal(e.redacts, v <= 10 ? "$top" : "$inner");
        mxr_event_release(&e);
    }
    /* Only redaction events redact. */
    json_object_set_new(ev, "type", json_string("m.room.message"));
    assert_int_equal(mxr_event_load(&e, ev, rv_of("5"), MXR_EVENT_TRUST_GIVEN_ID, NULL), 0);
    assert_null(e.redacts);
    mxr_event_release(&e);
    json_decref(ev);
}

/* Adversarial inputs: every missing or mistyped field the rules read is an
 * error, never a crash. */
static void load_refuses_bad_events(void **state)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        "{\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":1,\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":null,\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":[],\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":\"s\",\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\",\"state_key\":5}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\",\"depth\":\"1\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\",\"origin_server_ts\":1.5}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\",\"auth_events\":{}}",
        "{\"type\":\"X\",\"sender\":\"@a\\u0000:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":\"$e\"}",
        "{\"type\":\"X\",\"sender\":\"@a:d\",\"room_id\":\"!r:d\",\"content\":{},\"event_id\":7}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mxr_err err = {0};
        struct mxr_event e;
        json_t *ev = J(bad[i]);
        if (mxr_event_load(&e, ev, rv_of("1"), MXR_EVENT_TRUST_GIVEN_ID, &err) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(err.errcode);
        assert_null(e.json);
        json_decref(ev);
    }
    struct mxr_event e;
    assert_int_equal(mxr_event_load(&e, NULL, rv_of("1"), 0, NULL), -1);
    json_t *ev = J("{}");
    assert_int_equal(mxr_event_load(&e, ev, NULL, 0, NULL), -1);
    json_decref(ev);
}

/* Strict mode runs the full PDU format check (detailed in test_pdu). */
static void strict_load_checks_format(void **state)
{
    json_t *ev = J(MIN_EVENT);
    struct mxr_signing_key k;
    spec_key(&k);
    assert_int_equal(mxr_pdu_sign(ev, rv_of("11"), "domain", &k, NULL), 0);
    struct mxr_event e;
    struct mxr_err err = {0};
    assert_int_equal(mxr_event_load(&e, ev, rv_of("11"), MXR_EVENT_STRICT_FORMAT, &err), 0);
    mxr_event_release(&e);
    json_object_set_new(ev, "depth", json_integer(-1));
    assert_int_equal(mxr_event_load(&e, ev, rv_of("11"), MXR_EVENT_STRICT_FORMAT, &err), -1);
    assert_int_equal(mxr_event_load(&e, ev, rv_of("11"), 0, &err), 0);
    mxr_event_release(&e);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_hash_spec_vectors),
        cmocka_unit_test(content_hash_refuses_non_canonical_values),
        cmocka_unit_test(event_ids_per_format),
        cmocka_unit_test(v1_event_id_must_be_given),
        cmocka_unit_test(reference_hash_v1_covers_event_id),
        cmocka_unit_test(v12_create_event_and_room_id),
        cmocka_unit_test(load_reads_the_fields),
        cmocka_unit_test(load_computes_v3_ids),
        cmocka_unit_test(load_reference_forms),
        cmocka_unit_test(load_redacts_per_version),
        cmocka_unit_test(load_refuses_bad_events),
        cmocka_unit_test(strict_load_checks_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
