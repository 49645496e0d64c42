/* Units of the inbound federation API without a store: server ACL
 * evaluation (acl.c), the per-origin token bucket and /send lock
 * (inbound.c), and EDU validation (edus.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/federation/edus.h"
#include "relay/federation/inbound.h"

/* ---- ACLs ---------------------------------------------------------------------------- */

static void glob(void **state)
{
    (void)state;
    assert_true(mxr_acl_glob("*", ""));
    assert_true(mxr_acl_glob("*", "evil.com"));
    assert_true(mxr_acl_glob("*.evil.com", "a.b.evil.com"));
    assert_false(mxr_acl_glob("*.evil.com", "evil.com"));
    assert_true(mxr_acl_glob("ev?l.com", "evil.com"));
    assert_false(mxr_acl_glob("ev?l.com", "evl.com"));
    assert_true(mxr_acl_glob("EVIL.*", "evil.COM"));       /* case-insensitive */
    assert_true(mxr_acl_glob("a*b*c", "aXXbYYc"));
    assert_false(mxr_acl_glob("a*b*c", "aXXbYY"));
    assert_true(mxr_acl_glob("**a", "a"));
    assert_false(mxr_acl_glob("", "a"));
}

static bool allows(const char *content, const char *server)
{
    json_t *c = json_loads(content, 0, NULL);
    assert_non_null(c);
    bool ok = mxr_acl_allows(c, server);
    json_decref(c);
    return ok;
}

/* The m.room.server_acl schema's order: IP literals, deny, allow, else deny. */
static void acl_rules(void **state)
{
    (void)state;
    const char *acl = "{\"allow\":[\"*\"],\"deny\":[\"evil.com\",\"*.evil.com\"],\"allow_ip_literals\":false}";
    assert_true(allows(acl, "good.org"));
    assert_false(allows(acl, "evil.com"));
    assert_false(allows(acl, "evil.com:8448"));          /* the port is not considered */
    assert_false(allows(acl, "sub.evil.com:1234"));
    assert_false(allows(acl, "1.2.3.4"));
    assert_false(allows(acl, "1.2.3.4:8448"));
    assert_false(allows(acl, "[::1]:8448"));
    /* allow_ip_literals defaults to true (and a non-boolean counts as missing) */
    assert_true(allows("{\"allow\":[\"*\"]}", "1.2.3.4"));
    assert_true(allows("{\"allow\":[\"*\"],\"allow_ip_literals\":\"no\"}", "[::1]"));
    /* IPv6 literals match with their brackets */
    assert_false(allows("{\"allow\":[\"*\"],\"deny\":[\"[::1]\"]}", "[::1]:8448"));
    /* no allow list: nobody, the sender included */
    assert_false(allows("{}", "good.org"));
    assert_false(allows("{\"deny\":[]}", "good.org"));
    assert_true(allows("{\"allow\":[\"good.org\"]}", "GOOD.org:443"));
    /* non-string entries are skipped, a non-array is empty */
    assert_true(allows("{\"allow\":[1, \"good.*\"],\"deny\":\"good.org\"}", "good.org"));
    /* deny wins over allow */
    assert_false(allows("{\"allow\":[\"good.org\"],\"deny\":[\"good.org\"]}", "good.org"));
    /* not a server name */
    assert_false(allows("{\"allow\":[\"*\"]}", "not a name"));
    assert_false(mxr_acl_allows(NULL, "good.org"));
}

/* ---- the token bucket and the /send lock -------------------------------------------- */

static void token_bucket(void **state)
{
    (void)state;
    struct mxr_inbound_limits lim = { 10.0, 5.0 };
    struct mxr_inbound *in = mxr_inbound_new(&lim, NULL);
    assert_non_null(in);
    for (int i = 0; i < 5; i++)
        assert_int_equal(mxr_inbound_take(in, "a.example", 1000), 0);
    assert_int_equal(mxr_inbound_take(in, "a.example", 1000), 101);   /* 1 token at 10/s: 100 ms, rounded up */
    assert_int_equal(mxr_inbound_take(in, "b.example", 1000), 0);
    assert_int_equal(mxr_inbound_take(in, "a.example", 1101), 0);
    assert_true(mxr_inbound_take(in, "a.example", 1101) > 0);
    /* a clock going backwards refills nothing and breaks nothing */
    assert_true(mxr_inbound_take(in, "a.example", 500) > 0);
    /* refills cap at the burst */
    for (int i = 0; i < 5; i++)
        assert_int_equal(mxr_inbound_take(in, "a.example", 100000), 0);
    assert_true(mxr_inbound_take(in, "a.example", 100000) > 0);
    mxr_inbound_free(in);
    /* rate 0: no limit */
    lim.rate = 0;
    in = mxr_inbound_new(&lim, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(mxr_inbound_take(in, "a.example", 0), 0);
    assert_true(mxr_inbound_chore_due(in, 0, 1000));
    assert_false(mxr_inbound_chore_due(in, 999, 1000));
    assert_true(mxr_inbound_chore_due(in, 1000, 1000));
    mxr_inbound_free(in);
}

struct locker {
    struct mxr_inbound *in;
    int *shared;
    int seen;
};

static void *lock_thread(void *arg)
{
    struct locker *l = arg;
    assert_int_equal(mxr_inbound_origin_lock(l->in, "a.example"), 0);
    l->seen = *l->shared;
    mxr_inbound_origin_unlock(l->in, "a.example");
    return NULL;
}

static void origin_lock_serialises(void **state)
{
    (void)state;
    struct mxr_inbound *in = mxr_inbound_new(NULL, NULL);
    int shared = 0;
    assert_int_equal(mxr_inbound_origin_lock(in, "a.example"), 0);
    /* another origin is not blocked */
    assert_int_equal(mxr_inbound_origin_lock(in, "b.example"), 0);
    mxr_inbound_origin_unlock(in, "b.example");
    struct locker l = { in, &shared, -1 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, lock_thread, &l), 0);
    shared = 1;   /* the other thread can only look after we unlock */
    mxr_inbound_origin_unlock(in, "a.example");
    pthread_join(th, NULL);
    assert_int_equal(l.seen, 1);
    mxr_inbound_free(in);
}

/* ---- EDU validation ----------------------------------------------------------------- */

struct rooms_stub {
    const char *known_room;
    const char *joined_user;
};

static int stub_room_check(void *ctx, const char *room_id, const char *user_id, struct mxr_err *err)
{
    struct rooms_stub *s = ctx;
    if (strcmp(room_id, s->known_room))
        return mxr_err_set(err, "M_NOT_FOUND", "unknown room");
    if (user_id && strcmp(user_id, s->joined_user))
        return mxr_err_set(err, "M_FORBIDDEN", "not joined");
    return 0;
}

static int apply(struct mxr_edu_store *s, const char *edu_json, struct mxr_err *err)
{
    static struct rooms_stub stub = { "!r:a.test", "@bob:b.test" };
    struct mxr_edu_ctx c = { "b.test", "a.test", 1000, stub_room_check, &stub };
    json_t *edu = json_loads(edu_json, 0, NULL);
    assert_non_null(edu);
    int rc = mxr_edu_apply(s, &c, edu, err);
    json_decref(edu);
    return rc;
}

#define APPLY_FAILS(s, json, code)                                   \
    do {                                                             \
        struct mxr_err e_ = { 0 };                                   \
        assert_int_equal(apply((s), (json), &e_), -1);               \
        assert_string_equal(e_.errcode, (code));                     \
    } while (0)

static void edu_validation(void **state)
{
    (void)state;
    struct mxr_edu_store *s = mxr_edu_store_new(NULL);
    struct mxr_err err = { 0 };
    uint64_t p0 = mxr_edu_position(s);
    /* unknown types are ignored, malformed envelopes refused */
    assert_int_equal(apply(s, "{\"edu_type\":\"org.example.x\",\"content\":{}}", &err), 1);
    APPLY_FAILS(s, "{\"edu_type\":\"m.typing\"}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"content\":{}}", "M_BAD_JSON");
    /* typing */
    APPLY_FAILS(s, "{\"edu_type\":\"m.typing\",\"content\":{\"room_id\":\"!r:a.test\",\"user_id\":\"@bob:b.test\","
                   "\"typing\":\"yes\"}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.typing\",\"content\":{\"room_id\":\"!other:a.test\",\"user_id\":\"@bob:b.test\","
                   "\"typing\":true}}", "M_NOT_FOUND");
    assert_int_equal(apply(s, "{\"edu_type\":\"m.typing\",\"content\":{\"room_id\":\"!r:a.test\",\"user_id\":"
                              "\"@bob:b.test\",\"typing\":true}}", &err), 0);
    assert_int_equal(apply(s, "{\"edu_type\":\"m.typing\",\"content\":{\"room_id\":\"!r:a.test\",\"user_id\":"
                              "\"@bob:b.test\",\"typing\":false}}", &err), 0);
    json_t *v = mxr_edu_typing(s, "!r:a.test", 1000);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    /* receipts: exactly one event ID, data.ts required; valid entries apply even when others fail */
    APPLY_FAILS(s, "{\"edu_type\":\"m.receipt\",\"content\":{\"!r:a.test\":{\"m.read\":{\"@bob:b.test\":"
                   "{\"event_ids\":[\"$a\",\"$b\"],\"data\":{\"ts\":1}}}}}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.receipt\",\"content\":{\"!r:a.test\":{\"m.read\":{\"@bob:b.test\":"
                   "{\"event_ids\":[\"$a\"],\"data\":{}}}}}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.receipt\",\"content\":{\"!r:a.test\":{\"m.read\":{\"@bob:b.test\":"
                   "{\"event_ids\":[\"$a\"],\"data\":{\"ts\":1}}}},\"!other:a.test\":{\"m.read\":{}}}}", "M_NOT_FOUND");
    v = mxr_edu_receipts(s, "!r:a.test");
    assert_non_null(json_object_get(v, "$a"));
    json_decref(v);
    APPLY_FAILS(s, "{\"edu_type\":\"m.receipt\",\"content\":{\"!r:a.test\":{\"m.read\":{\"@carol:c.test\":"
                   "{\"event_ids\":[\"$c\"],\"data\":{\"ts\":1}}}}}}", "M_FORBIDDEN");
    /* presence */
    APPLY_FAILS(s, "{\"edu_type\":\"m.presence\",\"content\":{\"push\":[{\"user_id\":\"@bob:b.test\","
                   "\"presence\":\"busy\",\"last_active_ago\":1}]}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.presence\",\"content\":{\"push\":[{\"user_id\":\"@carol:c.test\","
                   "\"presence\":\"online\",\"last_active_ago\":1}]}}", "M_FORBIDDEN");
    APPLY_FAILS(s, "{\"edu_type\":\"m.presence\",\"content\":{}}", "M_BAD_JSON");
    assert_null(mxr_edu_presence(s, "@carol:c.test", 1000));
    /* device lists: an unknown prev_id marks the list stale */
    assert_int_equal(apply(s, "{\"edu_type\":\"m.device_list_update\",\"content\":{\"user_id\":\"@bob:b.test\","
                              "\"device_id\":\"D1\",\"stream_id\":1,\"keys\":{\"user_id\":\"@bob:b.test\"}}}", &err), 0);
    assert_int_equal(apply(s, "{\"edu_type\":\"m.device_list_update\",\"content\":{\"user_id\":\"@bob:b.test\","
                              "\"device_id\":\"D2\",\"stream_id\":2,\"prev_id\":[1]}}", &err), 0);
    v = mxr_edu_device_list(s, "@bob:b.test");
    assert_false(json_is_true(json_object_get(v, "stale")));
    assert_int_equal(json_object_size(json_object_get(v, "devices")), 2);
    json_decref(v);
    assert_int_equal(apply(s, "{\"edu_type\":\"m.device_list_update\",\"content\":{\"user_id\":\"@bob:b.test\","
                              "\"device_id\":\"D1\",\"stream_id\":5,\"prev_id\":[4],\"deleted\":true}}", &err), 0);
    v = mxr_edu_device_list(s, "@bob:b.test");
    assert_true(json_is_true(json_object_get(v, "stale")));
    assert_int_equal(json_integer_value(json_object_get(v, "stream_id")), 5);
    assert_int_equal(json_object_size(json_object_get(v, "devices")), 1);
    json_decref(v);
    APPLY_FAILS(s, "{\"edu_type\":\"m.device_list_update\",\"content\":{\"user_id\":\"@bob:b.test\","
                   "\"device_id\":\"D1\"}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.device_list_update\",\"content\":{\"user_id\":\"@carol:c.test\","
                   "\"device_id\":\"D1\",\"stream_id\":1}}", "M_FORBIDDEN");
    APPLY_FAILS(s, "{\"edu_type\":\"m.device_list_update\",\"content\":{\"user_id\":\"@bob:b.test\","
                   "\"device_id\":\"D1\",\"stream_id\":1,\"prev_id\":[\"x\"]}}", "M_BAD_JSON");
    /* cross-signing keys must be well formed and the user's */
    APPLY_FAILS(s, "{\"edu_type\":\"m.signing_key_update\",\"content\":{\"user_id\":\"@bob:b.test\",\"master_key\":"
                   "{\"user_id\":\"@eve:b.test\",\"usage\":[\"master\"],\"keys\":{}}}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.signing_key_update\",\"content\":{\"user_id\":\"@bob:b.test\",\"master_key\":"
                   "{\"user_id\":\"@bob:b.test\",\"usage\":[\"self_signing\"],\"keys\":{}}}}", "M_BAD_JSON");
    assert_int_equal(apply(s, "{\"edu_type\":\"m.signing_key_update\",\"content\":{\"user_id\":\"@bob:b.test\","
                              "\"master_key\":{\"user_id\":\"@bob:b.test\",\"usage\":[\"master\"],\"keys\":{\"ed25519:K\":"
                              "\"K\"}}}}", &err), 0);
    v = mxr_edu_signing_keys(s, "@bob:b.test");
    assert_non_null(json_object_get(v, "master_key"));
    json_decref(v);
    /* to-device: message_id at most 32 codepoints, sender of the origin, recipients ours */
    APPLY_FAILS(s, "{\"edu_type\":\"m.direct_to_device\",\"content\":{\"sender\":\"@bob:b.test\",\"type\":\"t\","
                   "\"message_id\":\"123456789012345678901234567890123\",\"messages\":{}}}", "M_BAD_JSON");
    APPLY_FAILS(s, "{\"edu_type\":\"m.direct_to_device\",\"content\":{\"sender\":\"@carol:c.test\",\"type\":\"t\","
                   "\"message_id\":\"m\",\"messages\":{}}}", "M_FORBIDDEN");
    /* 32 codepoints of 2 bytes each is fine */
    assert_int_equal(apply(s, "{\"edu_type\":\"m.direct_to_device\",\"content\":{\"sender\":\"@bob:b.test\","
                              "\"type\":\"t\",\"message_id\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                              "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"
                              "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\","
                              "\"messages\":{\"@alice:a.test\":{\"*\":{\"x\":1}, \"D\":{\"y\":2}}}}}", &err), 0);
    APPLY_FAILS(s, "{\"edu_type\":\"m.direct_to_device\",\"content\":{\"sender\":\"@bob:b.test\",\"type\":\"t\","
                   "\"message_id\":\"m2\",\"messages\":{\"@dave:c.test\":{\"D\":{}}}}}", "M_BAD_JSON");
    uint64_t next = 0;
    v = mxr_edu_to_device(s, "@alice:a.test", "D", 0, 10, &next);
    assert_int_equal(json_array_size(v), 2);   /* "*" and "D" */
    json_decref(v);
    v = mxr_edu_to_device(s, "@alice:a.test", "OTHER", 0, 10, NULL);
    assert_int_equal(json_array_size(v), 1);   /* only "*" */
    json_decref(v);
    v = mxr_edu_to_device(s, "@alice:a.test", "D", next, 10, &next);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    assert_true(mxr_edu_position(s) > p0);
    mxr_edu_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(glob),
        cmocka_unit_test(acl_rules),
        cmocka_unit_test(token_bucket),
        cmocka_unit_test(origin_lock_serialises),
        cmocka_unit_test(edu_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
