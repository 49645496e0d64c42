/* relay/client/keys.c, keys_xsign.c: the E2EE key endpoints through the
 * real dispatcher. Signed objects come from tests/client/keys_vectors.h,
 * made with signedjson (the oracle for the server's signature checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"
#include "tests/client/keys_vectors.h"

#define V3 "/_matrix/client/v3"
#define R0 "/_matrix/client/r0"
#define ALICE "@alice:hs.test"
#define BOB "@bob:hs.test"

struct kfix {
    struct clfix f;
    char alice[128], bob[128], carol[128];   /* access tokens; alice's device is DEVA */
};

static void login_as(struct clfix *f, const char *user, const char *device, char token[128])
{
    json_t *b = clfix_ok(f, 200, "POST", V3 "/login", NULL,
                         clfix_fmt("{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"%s\"},"
                                   "\"password\":\"pw-%s\",\"device_id\":\"%s\"}", user, user, device));
    snprintf(token, 128, "%s", json_string_value(json_object_get(b, "access_token")));
    json_decref(b);
}

static int setup(void **state)
{
    static struct kfix k;
    clfix_open(&k.f, NULL);
    clfix_user(&k.f, "alice", NULL, NULL);
    login_as(&k.f, "alice", "DEVA", k.alice);
    clfix_user(&k.f, "bob", k.bob, NULL);
    clfix_user(&k.f, "carol", k.carol, NULL);
    *state = &k;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct kfix *)*state)->f);
    return 0;
}

static json_t *upload_body(const char *device_keys, const char *otks, const char *fallback)
{
    char buf[8192];
    snprintf(buf, sizeof buf, "{%s%s%s%s%s%s%s%s%s}", device_keys ? "\"device_keys\":" : "",
             device_keys ? device_keys : "", device_keys && (otks || fallback) ? "," : "",
             otks ? "\"one_time_keys\":" : "", otks ? otks : "", otks && fallback ? "," : "",
             fallback ? "\"fallback_keys\":" : "", fallback ? fallback : "", "");
    return json_string(buf);
}

static json_t *upload(struct clfix *f, int status, const char *token, const char *dk, const char *otks,
                      const char *fb)
{
    json_t *s = upload_body(dk, otks, fb);
    json_t *b = clfix_ok(f, status, "POST", V3 "/keys/upload", token, json_string_value(s));
    json_decref(s);
    return b;
}

static json_int_t otk_count(json_t *counts, const char *alg)
{
    return json_integer_value(json_object_get(counts, alg));
}

static json_t *query(struct clfix *f, const char *token, const char *user)
{
    return clfix_ok(f, 200, "POST", V3 "/keys/query", token, clfix_fmt("{\"device_keys\":{\"%s\":[]}}", user));
}

/* ---- upload and query ------------------------------------------------------------------------- */

static void upload_refusals(void **state)
{
    struct kfix *k = *state;
    struct clfix *f = &k->f;
    clfix_error(f, 401, "M_MISSING_TOKEN", "POST", V3 "/keys/upload", NULL, "{}");
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "POST", V3 "/keys/upload", "mxr_bogus", "{}");
    clfix_error(f, 400, "M_NOT_JSON", "POST", V3 "/keys/upload", k->alice, "{nope");
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/keys/upload", k->alice, "{\"device_keys\":[]}");
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/keys/upload", k->alice, "{\"one_time_keys\":5}");
    clfix_error(f, 400, "M_INVALID_PARAM", "POST", V3 "/keys/upload", k->alice,
                "{\"one_time_keys\":{\"noalgorithm\":\"abc\"}}");
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/keys/upload", k->alice,
                "{\"one_time_keys\":{\"signed_curve25519:A\":{\"nokey\":1}}}");
    /* a signature that does not cover what was changed */
    json_t *s = upload_body(DK_FORGED, NULL, NULL);
    clfix_error(f, 400, "M_INVALID_SIGNATURE", "POST", V3 "/keys/upload", k->alice, json_string_value(s));
    json_decref(s);
    /* alice's DEVA keys uploaded with bob's token (another user and device) */
    s = upload_body(DK, NULL, NULL);
    clfix_error(f, 400, "M_INVALID_PARAM", "POST", V3 "/keys/upload", k->bob, json_string_value(s));
    json_decref(s);
    /* nothing was stored */
    json_t *b = query(f, k->bob, ALICE);
    assert_int_equal(json_object_size(json_object_get(json_object_get(b, "device_keys"), ALICE)), 0);
    json_decref(b);
}

static void upload_then_query(void **state)
{
    struct kfix *k = *state;
    struct clfix *f = &k->f;
    char otks[4096];
    snprintf(otks, sizeof otks, "{\"signed_curve25519:AAAAAQ\":%s,\"signed_curve25519:AAAAAg\":%s,"
             "\"curve25519:AAAAAw\":\"plainkey\"}", OTK, OTK);
    json_t *b = upload(f, 200, k->alice, DK, otks, NULL);
    json_t *counts = json_object_get(b, "one_time_key_counts");
    assert_int_equal(otk_count(counts, "signed_curve25519"), 2);
    assert_int_equal(otk_count(counts, "curve25519"), 1);
    json_decref(b);
    /* the same upload again changes nothing; a reused key ID with another key is refused */
    b = upload(f, 200, k->alice, DK, otks, NULL);
    assert_int_equal(otk_count(json_object_get(b, "one_time_key_counts"), "signed_curve25519"), 2);
    json_decref(b);
    json_decref(upload(f, 400, k->alice, NULL, "{\"signed_curve25519:AAAAAQ\":\"different\"}", NULL));
    /* a device without keys still learns its counts (nio reads signed_curve25519) */
    b = upload(f, 200, k->bob, NULL, NULL, NULL);
    assert_int_equal(otk_count(json_object_get(b, "one_time_key_counts"), "signed_curve25519"), 0);
    json_decref(b);

    /* bob queries alice: the keys exactly as signed, with the device's display name */
    b = clfix_ok(f, 200, "POST", R0 "/keys/query", k->bob,
                 "{\"device_keys\":{\"" ALICE "\":[],\"@nobody:hs.test\":[],\"notauser\":[]}}");
    assert_true(json_is_object(json_object_get(b, "failures")));
    json_t *dev = json_object_get(json_object_get(json_object_get(b, "device_keys"), ALICE), "DEVA");
    json_t *want = json_loads(DK, 0, NULL);
    json_t *got = json_deep_copy(dev);
    json_object_del(got, "unsigned");
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    assert_int_equal(json_object_size(json_object_get(json_object_get(b, "device_keys"), "@nobody:hs.test")), 0);
    json_decref(b);
    /* asking for one device only; unknown devices are left out */
    b = clfix_ok(f, 200, "POST", V3 "/keys/query", k->bob,
                 "{\"device_keys\":{\"" ALICE "\":[\"NOPE\"]}}");
    assert_int_equal(json_object_size(json_object_get(json_object_get(b, "device_keys"), ALICE)), 0);
    json_decref(b);
    clfix_error(f, 400, "M_MISSING_PARAM", "POST", V3 "/keys/query", k->bob, "{}");
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/keys/query", k->bob, "{\"device_keys\":{\"" ALICE "\":[1]}}");
    clfix_error(f, 401, "M_MISSING_TOKEN", "POST", V3 "/keys/query", NULL, "{\"device_keys\":{}}");
}

/* ---- claim ------------------------------------------------------------------------------------- */

static json_t *claim(struct clfix *f, const char *token)
{
    return clfix_ok(f, 200, "POST", V3 "/keys/claim", token,
                    "{\"one_time_keys\":{\"" ALICE "\":{\"DEVA\":\"signed_curve25519\",\"NODEV\":\"signed_curve25519\"}}}");
}

static const char *claimed_id(json_t *b)
{
    json_t *d = json_object_get(json_object_get(json_object_get(b, "one_time_keys"), ALICE), "DEVA");
    assert_true(json_is_object(json_object_get(b, "failures")));
    return json_object_size(d) == 1 ? json_object_iter_key(json_object_iter(d)) : NULL;
}

static json_t *sync(struct clfix *f, const char *token, const char *since)
{
    return clfix_ok(f, 200, "GET",
                    since ? clfix_fmt(V3 "/sync?timeout=0&since=%s", since) : V3 "/sync?timeout=0", token, NULL);
}

static void claim_until_fallback(void **state)
{
    struct kfix *k = *state;
    struct clfix *f = &k->f;
    char otks[4096];
    snprintf(otks, sizeof otks, "{\"signed_curve25519:AAAAAQ\":%s,\"signed_curve25519:AAAAAg\":%s}", OTK, OTK);
    json_decref(upload(f, 200, k->alice, DK, otks, NULL));

    clfix_error(f, 400, "M_MISSING_PARAM", "POST", V3 "/keys/claim", k->bob, "{}");
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/keys/claim", k->bob,
                "{\"one_time_keys\":{\"" ALICE "\":{\"DEVA\":1}}}");
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "POST", V3 "/keys/claim", "mxr_nope", "{\"one_time_keys\":{}}");

    json_t *b = claim(f, k->bob);
    assert_string_equal(claimed_id(b), "signed_curve25519:AAAAAQ");
    json_t *key = json_object_get(json_object_get(json_object_get(json_object_get(b, "one_time_keys"), ALICE),
                                                  "DEVA"), "signed_curve25519:AAAAAQ");
    json_t *want = json_loads(OTK, 0, NULL);
    assert_true(json_equal(key, want));
    json_decref(want);
    json_decref(b);
    b = claim(f, k->bob);
    assert_string_equal(claimed_id(b), "signed_curve25519:AAAAAg");
    json_decref(b);
    b = claim(f, k->bob);   /* exhausted, no fallback key yet: DEVA is left out */
    assert_null(claimed_id(b));
    json_decref(b);

    /* /sync of DEVA: no one-time keys left, no fallback key */
    b = sync(f, k->alice, NULL);
    assert_int_equal(otk_count(json_object_get(b, "device_one_time_keys_count"), "signed_curve25519"), 0);
    assert_int_equal(json_array_size(json_object_get(b, "device_unused_fallback_key_types")), 0);
    json_decref(b);

    char fb[2048];
    snprintf(fb, sizeof fb, "{\"signed_curve25519:FALLBACK1\":%s}", OTK);
    json_decref(upload(f, 200, k->alice, NULL, NULL, fb));
    b = sync(f, k->alice, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "device_unused_fallback_key_types"), 0)),
                        "signed_curve25519");
    json_decref(b);
    for (int i = 0; i < 2; i++) {   /* the fallback key answers every claim */
        b = claim(f, k->bob);
        assert_string_equal(claimed_id(b), "signed_curve25519:FALLBACK1");
        json_decref(b);
    }
    b = sync(f, k->alice, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "device_unused_fallback_key_types")), 0);
    json_decref(b);
}

/* ---- device lists: /sync and /keys/changes ------------------------------------------------------ */

static void device_lists_follow_shared_rooms(void **state)
{
    struct kfix *k = *state;
    struct clfix *f = &k->f;
    json_t *b = clfix_ok(f, 200, "POST", V3 "/createRoom", k->bob, "{\"invite\":[\"" ALICE "\"]}");
    char room[256];
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/join/%s", room), k->alice, "{}"));

    b = sync(f, k->bob, NULL);
    char bob_since[128], carol_since[128];
    snprintf(bob_since, sizeof bob_since, "%s", json_string_value(json_object_get(b, "next_batch")));
    json_decref(b);
    b = sync(f, k->carol, NULL);
    snprintf(carol_since, sizeof carol_since, "%s", json_string_value(json_object_get(b, "next_batch")));
    json_decref(b);
    /* an old-style token (no device-list field) is still understood */
    json_decref(sync(f, k->bob, "s1_0"));

    json_decref(upload(f, 200, k->alice, DK, NULL, NULL));

    b = sync(f, k->bob, bob_since);
    json_t *changed = json_object_get(json_object_get(b, "device_lists"), "changed");
    assert_int_equal(json_array_size(changed), 1);
    assert_string_equal(json_string_value(json_array_get(changed, 0)), ALICE);
    char bob_now[128];
    snprintf(bob_now, sizeof bob_now, "%s", json_string_value(json_object_get(b, "next_batch")));
    json_decref(b);

    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/keys/changes?from=%s&to=%s", bob_since, bob_now), k->bob, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "changed"), 0)), ALICE);
    assert_true(json_is_array(json_object_get(b, "left")));
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/keys/changes?from=%s&to=%s", bob_now, bob_now), k->bob, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "changed")), 0);
    json_decref(b);
    clfix_error(f, 400, "M_MISSING_PARAM", "GET", V3 "/keys/changes?from=s1", k->bob, NULL);
    clfix_error(f, 400, "M_INVALID_PARAM", "GET", V3 "/keys/changes?from=x&to=y", k->bob, NULL);

    /* carol shares no room with alice */
    b = sync(f, k->carol, carol_since);
    assert_int_equal(json_array_size(json_object_get(json_object_get(b, "device_lists"), "changed")), 0);
    json_decref(b);

    /* deleting the device (password auth) removes its keys and tells bob */
    json_decref(clfix_ok(f, 401, "DELETE", V3 "/devices/DEVA", k->alice, "{}"));
    json_decref(clfix_ok(f, 200, "DELETE", V3 "/devices/DEVA", k->alice,
                         "{\"auth\":{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                         "\"user\":\"alice\"},\"password\":\"pw-alice\"}}"));
    b = sync(f, k->bob, bob_now);
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(b, "device_lists"), "changed"),
                                                         0)), ALICE);
    json_decref(b);
    b = query(f, k->bob, ALICE);
    assert_int_equal(json_object_size(json_object_get(json_object_get(b, "device_keys"), ALICE)), 0);
    json_decref(b);
}

static bool has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return true;
    return false;
}

static void next_batch(json_t *b, char out[128])
{
    snprintf(out, 128, "%s", json_string_value(json_object_get(b, "next_batch")));
}

/* Sharing a room starts: both appear in `changed`; it ends: `left`. */
static void device_lists_join_and_leave(void **state)
{
    struct kfix *k = *state;
    struct clfix *f = &k->f;
    char a0[128], c0[128], a1[128], a2[128];
    json_t *b = sync(f, k->alice, NULL);
    next_batch(b, a0);
    json_decref(b);
    b = sync(f, k->carol, NULL);
    next_batch(b, c0);
    json_decref(b);
    b = clfix_ok(f, 200, "POST", V3 "/createRoom", k->alice, "{\"invite\":[\"@carol:hs.test\"]}");
    char room[256];
    snprintf(room, sizeof room, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", room), k->carol, "{}"));

    b = sync(f, k->carol, c0);
    assert_true(has(json_object_get(json_object_get(b, "device_lists"), "changed"), ALICE));
    json_decref(b);
    b = sync(f, k->alice, a0);
    assert_true(has(json_object_get(json_object_get(b, "device_lists"), "changed"), "@carol:hs.test"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(b, "device_lists"), "left")), 0);
    next_batch(b, a1);
    json_decref(b);

    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/leave", room), k->carol, "{}"));
    b = sync(f, k->alice, a1);
    json_t *dl = json_object_get(b, "device_lists");
    assert_true(has(json_object_get(dl, "left"), "@carol:hs.test"));
    assert_false(has(json_object_get(dl, "changed"), "@carol:hs.test"));
    next_batch(b, a2);
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/keys/changes?from=%s&to=%s", a1, a2), k->alice, NULL);
    assert_true(has(json_object_get(b, "left"), "@carol:hs.test"));
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/keys/changes?from=%s&to=%s", a0, a1), k->alice, NULL);
    assert_true(has(json_object_get(b, "changed"), "@carol:hs.test"));
    assert_false(has(json_object_get(b, "left"), "@carol:hs.test"));
    json_decref(b);
}

/* ---- cross-signing ------------------------------------------------------------------------------ */

static void cross_signing_keys(void **state)
{
    struct kfix *k = *state;
    struct clfix *f = &k->f;
    json_decref(upload(f, 200, k->alice, DK, NULL, NULL));
    clfix_error(f, 400, "M_MISSING_PARAM", "POST", V3 "/keys/device_signing/upload", k->alice,
                clfix_fmt("{\"self_signing_key\":%s}", SSK));
    clfix_error(f, 400, "M_INVALID_SIGNATURE", "POST", V3 "/keys/device_signing/upload", k->alice,
                clfix_fmt("{\"master_key\":%s,\"self_signing_key\":%s}", MASTER, SSK_UNSIGNED));
    clfix_error(f, 400, "M_INVALID_PARAM", "POST", V3 "/keys/device_signing/upload", k->alice,
                clfix_fmt("{\"master_key\":%s}", BMASTER));   /* bob's key */
    clfix_error(f, 400, "M_INVALID_PARAM", "POST", V3 "/keys/device_signing/upload", k->alice,
                clfix_fmt("{\"master_key\":%s}", SSK));       /* wrong usage */
    /* the first upload needs no user-interactive auth */
    json_decref(clfix_ok(f, 200, "POST", V3 "/keys/device_signing/upload", k->alice,
                         clfix_fmt("{\"master_key\":%s,\"self_signing_key\":%s,\"user_signing_key\":%s}", MASTER, SSK,
                                   USK)));
    /* the same keys again: nothing changes, no auth */
    json_decref(clfix_ok(f, 200, "POST", V3 "/keys/device_signing/upload", k->alice,
                         clfix_fmt("{\"master_key\":%s}", MASTER)));
    /* replacing a key needs the password */
    json_t *b = clfix_ok(f, 401, "POST", V3 "/keys/device_signing/upload", k->alice,
                         clfix_fmt("{\"user_signing_key\":%s}", USK2));
    assert_true(json_is_array(json_object_get(b, "flows")));
    json_decref(b);
    clfix_error(f, 401, "M_FORBIDDEN", "POST", V3 "/keys/device_signing/upload", k->alice,
                clfix_fmt("{\"user_signing_key\":%s,\"auth\":{\"type\":\"m.login.password\",\"identifier\":"
                          "{\"type\":\"m.id.user\",\"user\":\"alice\"},\"password\":\"wrong\"}}", USK2));
    json_decref(clfix_ok(f, 200, "POST", V3 "/keys/device_signing/upload", k->alice,
                         clfix_fmt("{\"user_signing_key\":%s,\"auth\":{\"type\":\"m.login.password\",\"identifier\":"
                                   "{\"type\":\"m.id.user\",\"user\":\"alice\"},\"password\":\"pw-alice\"}}", USK2)));
    json_decref(clfix_ok(f, 200, "POST", V3 "/keys/device_signing/upload", k->alice,
                         clfix_fmt("{\"user_signing_key\":%s,\"auth\":{\"type\":\"m.login.password\",\"identifier\":"
                                   "{\"type\":\"m.id.user\",\"user\":\"alice\"},\"password\":\"pw-alice\"}}", USK)));

    b = query(f, k->alice, ALICE);
    json_t *want = json_loads(MASTER, 0, NULL);
    assert_true(json_equal(json_object_get(json_object_get(b, "master_keys"), ALICE), want));
    json_decref(want);
    want = json_loads(SSK, 0, NULL);
    assert_true(json_equal(json_object_get(json_object_get(b, "self_signing_keys"), ALICE), want));
    json_decref(want);
    assert_non_null(json_object_get(json_object_get(b, "user_signing_keys"), ALICE));
    json_decref(b);
    b = query(f, k->bob, ALICE);   /* the user-signing key is for its owner only */
    assert_non_null(json_object_get(json_object_get(b, "master_keys"), ALICE));
    assert_null(json_object_get(json_object_get(b, "user_signing_keys"), ALICE));
    json_decref(b);

    /* signatures: alice's device by her self-signing key, her master key by
     * her device, bob's master key by her user-signing key */
    char bob_xs[128];
    login_as(f, "bob", "BOBDEV", bob_xs);
    json_decref(clfix_ok(f, 200, "POST", V3 "/keys/device_signing/upload", bob_xs,
                         clfix_fmt("{\"master_key\":%s}", BMASTER)));
    b = clfix_ok(f, 200, "POST", V3 "/keys/signatures/upload", k->alice,
                 clfix_fmt("{\"" ALICE "\":{\"DEVA\":%s,\"" MPUB "\":%s,\"NODEV\":{}},\"" BOB "\":{\"" BPUB "\":%s}}",
                           DK_XS, MASTER_DEV, BMASTER_BY_ALICE));
    json_t *failures = json_object_get(b, "failures");
    assert_int_equal(json_object_size(failures), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(failures, ALICE), "NODEV"),
                                                          "errcode")), "M_NOT_FOUND");
    json_decref(b);
    b = query(f, k->bob, ALICE);
    json_t *sigs = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(b, "device_keys"),
                                                                                   ALICE), "DEVA"), "signatures"), ALICE);
    assert_non_null(json_object_get(sigs, "ed25519:" SPUB));
    assert_non_null(json_object_get(sigs, "ed25519:DEVA"));
    sigs = json_object_get(json_object_get(json_object_get(json_object_get(b, "master_keys"), ALICE), "signatures"),
                           ALICE);
    assert_non_null(json_object_get(sigs, "ed25519:DEVA"));
    json_decref(b);
    b = query(f, k->bob, BOB);
    sigs = json_object_get(json_object_get(json_object_get(json_object_get(b, "master_keys"), BOB), "signatures"), ALICE);
    assert_non_null(json_object_get(sigs, "ed25519:" "ypOsFwUYcHHWe4PH/w7+gQjo7EUwV113JoeTM9vavnw"));
    json_decref(b);

    /* signed by the wrong key, or changing the key: refused per object */
    json_t *forged = json_loads(DK_XS, 0, NULL);
    json_object_set_new(forged, "algorithms", json_array());
    char *fs = json_dumps(forged, JSON_COMPACT);
    b = clfix_ok(f, 200, "POST", V3 "/keys/signatures/upload", k->alice,
                 clfix_fmt("{\"" BOB "\":{\"" BPUB "\":%s},\"" ALICE "\":{\"DEVA\":%s}}", BMASTER_BY_SSK, fs));
    failures = json_object_get(b, "failures");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(failures, BOB), BPUB),
                                                          "errcode")), "M_INVALID_SIGNATURE");
    assert_non_null(json_object_get(json_object_get(failures, ALICE), "DEVA"));
    json_decref(b);
    free(fs);
    json_decref(forged);
    clfix_error(f, 400, "M_BAD_JSON", "POST", V3 "/keys/signatures/upload", k->alice, "{\"" ALICE "\":1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(upload_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(upload_then_query, setup, teardown),
        cmocka_unit_test_setup_teardown(claim_until_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(device_lists_follow_shared_rooms, setup, teardown),
        cmocka_unit_test_setup_teardown(device_lists_join_and_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(cross_signing_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
