/* proto/pdu.c: checks on receipt of a PDU, steps 1-3, and signing
 * (server-server API "Checks performed on receipt of a PDU", "Signing
 * Events"; PDU schemas data/api/server-server/definitions/pdu_v*.yaml). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "mxr/event.h"
#include "mxr/pdu.h"
#include "mxr/sign.h"
#include "events_fixture.h"

#define ID_V3 "$s26IF/7HVkisPf/IyVlWxYjr6EC5tuxXsKUNHL/L+zo"
#define ID_V4 "$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo"
#define ROOM_V12 "!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM"

/* ---- a small keyring: "domain" (spec key), "other", "third" --------------- */

struct ring_entry {
    const char *server;
    struct mxr_signing_key key;
    int64_t valid_until;     /* INT64_MAX: forever */
};
static struct ring_entry RING[3];

static int ring_lookup(void *ctx, const char *server, const char *key_id, int64_t at, uint8_t pk[32])
{
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(RING[i].server, server) && !strcmp(RING[i].key.key_id, key_id)) {
            if (at != MXR_KEY_ANY_TIME && at > RING[i].valid_until)
                return -1;
            memcpy(pk, RING[i].key.public_key, 32);
            return 0;
        }
    return -1;
}
static const struct mxr_verify_keys KEYS = { .lookup = ring_lookup };

static int setup(void **state)
{
    RING[0].server = "domain";
    spec_key(&RING[0].key);
    RING[1].server = "other";
    RING[2].server = "third";
    for (int i = 0; i < 3; i++)
        RING[i].valid_until = INT64_MAX;
    return mxr_key_generate(&RING[1].key, "o1", NULL) | mxr_key_generate(&RING[2].key, "t1", NULL);
}

/* A valid unsigned PDU of room version v (number). */
static json_t *base_pdu(int v)
{
    char buf[1024];
    const char *ref = v <= 2 ? "[\"$p:domain\",{\"sha256\":\"abc\"}]" : v == 3 ? "\"" ID_V3 "\"" : "\"" ID_V4 "\"";
    snprintf(buf, sizeof buf,
             "{\"type\":\"m.room.message\",\"sender\":\"@a:domain\",\"room_id\":\"%s\","
             "\"content\":{\"body\":\"hello\"},\"depth\":12,\"origin_server_ts\":1000,"
             "\"prev_events\":[%s],\"auth_events\":[%s,%s],\"origin\":\"domain\","
             "\"unsigned\":{\"age\":4},\"hashes\":{},\"signatures\":{}%s}",
             v >= 12 ? ROOM_V12 : "!r:domain", ref, ref, ref, v <= 2 ? ",\"event_id\":\"$e1:domain\"" : "");
    return J(buf);
}

static const char *vname(int v)
{
    static char name[12];
    snprintf(name, sizeof name, "%d", v);
    return name;
}

static void sign_as(json_t *pdu, int v, int who)
{
    struct mxr_err err = {0};
    if (mxr_pdu_sign(pdu, rv_of(vname(v)), RING[who].server, &RING[who].key, &err) < 0)
        fail_msg("sign: %s", err.msg);
}

/* format, signatures, hash: all pass. */
static void check_all(json_t *pdu, int v)
{
    struct mxr_err err = {0};
    const struct mxr_room_version *rv = rv_of(vname(v));
    if (mxr_pdu_check_format(pdu, rv, 0, &err) < 0)
        fail_msg("v%d format: %s", v, err.msg);
    if (mxr_pdu_check_signatures(pdu, rv, &KEYS, &err) < 0)
        fail_msg("v%d signatures: %s", v, err.msg);
    if (mxr_pdu_check_hash(pdu, &err) != 0)
        fail_msg("v%d hash: %s", v, err.msg);
}

static void signed_pdus_pass_in_every_version(void **state)
{
    for (int v = 1; v <= 12; v++) {
        json_t *pdu = base_pdu(v);
        sign_as(pdu, v, 0);
        check_all(pdu, v);
        /* A second server's signature is merged, not replacing. */
        sign_as(pdu, v, 1);
        assert_non_null(json_object_get(json_object_get(json_object_get(pdu, "signatures"), "domain"), "ed25519:1"));
        check_all(pdu, v);
        json_decref(pdu);
    }
}

/* Signing sets hashes from scratch: a stale hash is replaced. */
static void signing_replaces_hashes(void **state)
{
    json_t *pdu = base_pdu(11);
    json_object_set_new(pdu, "hashes", json_pack("{s:s,s:s}", "sha256", "stale", "sha512", "x"));
    sign_as(pdu, 11, 0);
    assert_int_equal(json_object_size(json_object_get(pdu, "hashes")), 1);
    check_all(pdu, 11);
    json_decref(pdu);
}

/* ---- step 1 ---------------------------------------------------------------- */

struct mutation {
    const char *key;
    const char *value;   /* JSON; NULL deletes the key */
};

static void expect_format(int v, struct mutation m, int ok, unsigned flags)
{
    json_t *pdu = base_pdu(v);
    sign_as(pdu, v, 0);
    if (m.value)
        json_object_set_new(pdu, m.key, J(m.value));
    else
        json_object_del(pdu, m.key);
    struct mxr_err err = {0};
    int rc = mxr_pdu_check_format(pdu, rv_of(vname(v)), flags, &err);
    if (ok && rc != 0)
        fail_msg("v%d %s=%s refused: %s", v, m.key, m.value ? m.value : "(deleted)", err.msg);
    if (!ok && rc != -1)
        fail_msg("v%d %s=%s accepted", v, m.key, m.value ? m.value : "(deleted)");
    if (!ok)
        assert_true(!strcmp(err.errcode, "M_BAD_JSON") || !strcmp(err.errcode, "M_TOO_LARGE"));
    json_decref(pdu);
}

static void required_fields_and_types(void **state)
{
    static const char *const required[] = {
        "type", "sender", "origin_server_ts", "content", "depth", "hashes", "signatures", "room_id",
        "prev_events", "auth_events",
    };
    for (int v = 1; v <= 12; v++)
        for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
            expect_format(v, (struct mutation){ required[i], NULL }, 0, 0);
    expect_format(1, (struct mutation){ "event_id", NULL }, 0, 0);
    expect_format(2, (struct mutation){ "event_id", "5" }, 0, 0);
    /* Optional fields. */
    expect_format(11, (struct mutation){ "unsigned", NULL }, 1, 0);
    expect_format(11, (struct mutation){ "origin", NULL }, 1, 0);
    expect_format(11, (struct mutation){ "state_key", "\"\"" }, 1, 0);

    static const struct mutation wrong[] = {
        { "type", "1" }, { "sender", "{}" }, { "origin_server_ts", "\"1\"" }, { "content", "[]" },
        { "depth", "\"12\"" }, { "depth", "true" }, { "hashes", "\"h\"" }, { "hashes", "{}" },
        { "hashes", "{\"sha256\":1}" }, { "signatures", "[]" }, { "signatures", "{\"d\":\"x\"}" },
        { "signatures", "{\"d\":{\"ed25519:1\":1}}" }, { "room_id", "null" }, { "prev_events", "{}" },
        { "auth_events", "\"$x\"" }, { "unsigned", "[]" }, { "state_key", "1" }, { "state_key", "null" },
        { "type", "\"a\\u0000b\"" },
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        expect_format(4, wrong[i], 0, 0);
        expect_format(11, wrong[i], 0, 0);
    }
}

static void identifiers(void **state)
{
    /* Historical user IDs are accepted; missing domain or sigil is not. */
    expect_format(11, (struct mutation){ "sender", "\"@A B!:domain\"" }, 1, 0);
    expect_format(11, (struct mutation){ "sender", "\"@a\"" }, 0, 0);
    expect_format(11, (struct mutation){ "sender", "\"a:domain\"" }, 0, 0);
    expect_format(11, (struct mutation){ "sender", "\"@a:bad_host!\"" }, 0, 0);
    expect_format(11, (struct mutation){ "room_id", "\"r:domain\"" }, 0, 0);
    expect_format(11, (struct mutation){ "room_id", "\"!r\"" }, 0, 0);
    /* v1 event IDs carry a domain; v3 standard base64; v4+ URL-safe. */
    expect_format(1, (struct mutation){ "event_id", "\"$nodomain\"" }, 0, 0);
    expect_format(3, (struct mutation){ "prev_events", "[\"" ID_V4 "\"]" }, 0, 0);
    expect_format(4, (struct mutation){ "prev_events", "[\"" ID_V3 "\"]" }, 0, 0);
    expect_format(4, (struct mutation){ "prev_events", "[\"$short\"]" }, 0, 0);
}

static void reference_forms(void **state)
{
    /* v1/v2 need pairs, v3+ need strings. */
    expect_format(1, (struct mutation){ "prev_events", "[\"$p:domain\"]" }, 0, 0);
    expect_format(2, (struct mutation){ "auth_events", "[[\"$p:domain\"]]" }, 0, 0);
    expect_format(2, (struct mutation){ "auth_events", "[[\"$p:domain\",{}]]" }, 0, 0);
    expect_format(2, (struct mutation){ "auth_events", "[[\"$p:domain\",{\"sha256\":\"a\"},1]]" }, 0, 0);
    expect_format(2, (struct mutation){ "auth_events", "[[1,{\"sha256\":\"a\"}]]" }, 0, 0);
    expect_format(3, (struct mutation){ "prev_events", "[[\"" ID_V3 "\",{\"sha256\":\"a\"}]]" }, 0, 0);
    expect_format(11, (struct mutation){ "prev_events", "[]" }, 1, 0);
}

static void size_limits(void **state)
{
    char buf[8192];
    /* 20 prev_events / 10 auth_events at most. */
    for (int n = 20; n <= 21; n++) {
        strcpy(buf, "[");
        for (int i = 0; i < n; i++)
            strcat(buf, i ? ",\"" ID_V4 "\"" : "\"" ID_V4 "\"");
        strcat(buf, "]");
        expect_format(11, (struct mutation){ "prev_events", buf }, n <= 20, 0);
        expect_format(11, (struct mutation){ "prev_events", buf }, 1, MXR_PDU_NO_COUNT_LIMITS);
    }
    for (int n = 10; n <= 11; n++) {
        strcpy(buf, "[");
        for (int i = 0; i < n; i++)
            strcat(buf, i ? ",\"" ID_V4 "\"" : "\"" ID_V4 "\"");
        strcat(buf, "]");
        expect_format(6, (struct mutation){ "auth_events", buf }, n <= 10, 0);
    }
    /* type and state_key: 255 bytes (counted in bytes: é is two). */
    char s[600];
    memset(s, 'a', 255);
    s[255] = '\0';
    snprintf(buf, sizeof buf, "\"%s\"", s);
    expect_format(11, (struct mutation){ "type", buf }, 1, 0);
    expect_format(11, (struct mutation){ "state_key", buf }, 1, 0);
    snprintf(buf, sizeof buf, "\"%sa\"", s);
    expect_format(11, (struct mutation){ "type", buf }, 0, 0);
    expect_format(11, (struct mutation){ "state_key", buf }, 0, 0);
    snprintf(buf, sizeof buf, "\"%s\xc3\xa9\"", s + 2);   /* 253 + 2 bytes = 255 */
    expect_format(11, (struct mutation){ "state_key", buf }, 1, 0);
    snprintf(buf, sizeof buf, "\"%s\xc3\xa9\"", s + 1);   /* 254 + 2 bytes = 256 */
    expect_format(11, (struct mutation){ "state_key", buf }, 0, 0);
    /* Depth: non-negative; at most 2^53-1 from v6 (where larger integers are
     * not canonical JSON at all), 2^63-1 before. */
    expect_format(11, (struct mutation){ "depth", "-1" }, 0, 0);
    expect_format(11, (struct mutation){ "depth", "0" }, 1, 0);
    expect_format(11, (struct mutation){ "depth", "9007199254740991" }, 1, 0);
    expect_format(11, (struct mutation){ "depth", "9007199254740992" }, 0, 0);
    expect_format(5, (struct mutation){ "depth", "9007199254740992" }, 1, 0);
    expect_format(5, (struct mutation){ "depth", "9223372036854775807" }, 1, 0);
}

/* 65,536 bytes of canonical JSON, signatures and unsigned included. */
static void event_size(void **state)
{
    json_t *pdu = base_pdu(11);
    sign_as(pdu, 11, 0);
    size_t len;
    char *s = mxr_canonical_json(pdu, &len, NULL);
    free(s);
    size_t pad = MXR_PDU_MAX_BYTES - len;   /* bytes to add to reach the limit exactly */
    /* "x":"<n>" inside unsigned adds n + 7 bytes (the comma included). */
    char *big = malloc(pad + 1);
    memset(big, 'x', pad);
    big[pad - 7] = '\0';
    json_object_set_new(json_object_get(pdu, "unsigned"), "x", json_string(big));
    struct mxr_err err = {0};
    s = mxr_canonical_json(pdu, &len, NULL);
    free(s);
    assert_int_equal(len, MXR_PDU_MAX_BYTES);
    assert_int_equal(mxr_pdu_check_format(pdu, rv_of("11"), 0, &err), 0);
    big[pad - 7] = 'x';
    big[pad - 6] = '\0';
    json_object_set_new(json_object_get(pdu, "unsigned"), "x", json_string(big));
    assert_int_equal(mxr_pdu_check_format(pdu, rv_of("11"), 0, &err), -1);
    assert_string_equal(err.errcode, "M_TOO_LARGE");
    free(big);
    json_decref(pdu);
}

/* v6+ enforce canonical JSON values; v1-v5 must not. */
static void canonical_values(void **state)
{
    for (int v = 1; v <= 12; v++) {
        json_t *pdu = base_pdu(v);
        sign_as(pdu, v, 0);
        json_object_set_new(json_object_get(pdu, "content"), "f", json_real(1.5));
        struct mxr_err err = {0};
        int rc = mxr_pdu_check_format(pdu, rv_of(vname(v)), 0, &err);
        assert_int_equal(rc, v >= 6 ? -1 : 0);
        /* The hash cannot be recomputed with floats: reported, not a crash. */
        assert_int_equal(mxr_pdu_check_hash(pdu, &err), -1);
        json_decref(pdu);
    }
}

static void v12_room_ids(void **state)
{
    /* Non-create events: "!" + 43 URL-safe characters, no domain. */
    expect_format(12, (struct mutation){ "room_id", "\"!r:domain\"" }, 0, 0);
    expect_format(12, (struct mutation){ "room_id", "\"!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAd\"" }, 0, 0);
    expect_format(12, (struct mutation){ "room_id", "\"!P5+6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM\"" }, 0, 0);
    expect_format(11, (struct mutation){ "room_id", "\"" ROOM_V12 "\"" }, 0, 0);
    /* The create event: no room_id at all. */
    json_t *c = J("{\"auth_events\":[],\"content\":{\"room_version\":\"12\"},\"depth\":1,\"origin_server_ts\":1000000,"
                  "\"prev_events\":[],\"sender\":\"@a:domain\",\"state_key\":\"\",\"type\":\"m.room.create\"}");
    sign_as(c, 12, 0);
    check_all(c, 12);
    json_object_set_new(c, "room_id", json_string(ROOM_V12));
    struct mxr_err err = {0};
    assert_int_equal(mxr_pdu_check_format(c, rv_of("12"), 0, &err), -1);
    json_decref(c);
}

static void top_level_redacts(void **state)
{
    expect_format(10, (struct mutation){ "redacts", "\"" ID_V4 "\"" }, 1, 0);
    expect_format(10, (struct mutation){ "redacts", "5" }, 0, 0);
    expect_format(3, (struct mutation){ "redacts", "[]" }, 0, 0);
    /* Not part of the v11 format: ignored like any unknown key. */
    expect_format(11, (struct mutation){ "redacts", "5" }, 1, 0);
}

/* ---- step 2 ---------------------------------------------------------------- */

static int sig_check(json_t *pdu, int v, struct mxr_err *err)
{
    return mxr_pdu_check_signatures(pdu, rv_of(vname(v)), &KEYS, err);
}

static void sender_server_must_sign(void **state)
{
    struct mxr_err err = {0};
    for (int v = 1; v <= 12; v++) {
        json_t *pdu = base_pdu(v);
        json_object_set_new(pdu, "sender", json_string("@a:other"));
        if (v <= 2)
            json_object_set_new(pdu, "event_id", json_string("$e:other"));
        sign_as(pdu, v, 0);   /* signed by the wrong server */
        assert_int_equal(sig_check(pdu, v, &err), -1);
        assert_string_equal(err.errcode, "M_FORBIDDEN");
        sign_as(pdu, v, 1);
        assert_int_equal(sig_check(pdu, v, &err), 0);
        json_decref(pdu);
    }
    /* Unsigned. */
    json_t *pdu = base_pdu(11);
    assert_int_equal(sig_check(pdu, 11, &err), -1);
    /* A signature that does not match the event. */
    sign_as(pdu, 11, 0);
    json_object_set_new(pdu, "depth", json_integer(13));
    assert_int_equal(sig_check(pdu, 11, &err), -1);
    json_decref(pdu);
}

/* v1/v2: the event ID's server must also have signed. */
static void v1_event_id_server_must_sign(void **state)
{
    struct mxr_err err = {0};
    for (int v = 1; v <= 3; v++) {
        json_t *pdu = base_pdu(v);
        json_object_set_new(pdu, "event_id", json_string("$e:other"));
        sign_as(pdu, v, 0);
        assert_int_equal(sig_check(pdu, v, &err), v <= 2 ? -1 : 0);
        sign_as(pdu, v, 1);
        assert_int_equal(sig_check(pdu, v, &err), 0);
        json_decref(pdu);
    }
}

/* v8+: a restricted join also needs the authorising user's server. */
static void restricted_join_needs_authoriser(void **state)
{
    struct mxr_err err = {0};
    for (int v = 7; v <= 12; v++) {
        json_t *pdu = base_pdu(v);
        json_object_set_new(pdu, "type", json_string("m.room.member"));
        json_object_set_new(pdu, "state_key", json_string("@a:domain"));
        json_object_set_new(pdu, "content",
                            J("{\"membership\":\"join\",\"join_authorised_via_users_server\":\"@r:third\"}"));
        sign_as(pdu, v, 0);
        assert_int_equal(sig_check(pdu, v, &err), v >= 8 ? -1 : 0);
        if (v >= 8)
            assert_non_null(strstr(err.msg, "third"));
        sign_as(pdu, v, 2);
        assert_int_equal(sig_check(pdu, v, &err), 0);
        /* Not a join: only the sender's server. */
        json_t *p2 = base_pdu(v);
        json_object_set_new(p2, "type", json_string("m.room.member"));
        json_object_set_new(p2, "state_key", json_string("@a:domain"));
        json_object_set_new(p2, "content",
                            J("{\"membership\":\"leave\",\"join_authorised_via_users_server\":\"@r:third\"}"));
        sign_as(p2, v, 0);
        assert_int_equal(sig_check(p2, v, &err), 0);
        /* A malformed authoriser is refused, not crashed on. */
        json_object_set_new(json_object_get(pdu, "content"), "join_authorised_via_users_server", json_integer(1));
        sign_as(pdu, v, 0);
        assert_int_equal(sig_check(pdu, v, &err), v >= 8 ? -1 : 0);
        json_decref(p2);
        json_decref(pdu);
    }
}

/* A third-party invite may arrive without the sender's server's signature
 * (the invite's `signed` block is checked by the auth rules). */
static void third_party_invite_exception(void **state)
{
    struct mxr_err err = {0};
    json_t *pdu = base_pdu(11);
    json_object_set_new(pdu, "type", json_string("m.room.member"));
    json_object_set_new(pdu, "sender", json_string("@inviter:other"));
    json_object_set_new(pdu, "state_key", json_string("@b:third"));
    json_object_set_new(pdu, "content",
                        J("{\"membership\":\"invite\",\"third_party_invite\":{\"display_name\":\"b\",\"signed\":"
                          "{\"mxid\":\"@b:third\",\"token\":\"t\",\"signatures\":{}}}}"));
    sign_as(pdu, 11, 0);   /* relayed and signed by "domain" only */
    assert_int_equal(sig_check(pdu, 11, &err), 0);
    /* An ordinary invite needs the sender's server. */
    json_object_del(json_object_get(pdu, "content"), "third_party_invite");
    assert_int_equal(sig_check(pdu, 11, &err), -1);
    json_decref(pdu);
}

/* v5+: keys must be valid at origin_server_ts; before v5 any known key does. */
static void key_validity(void **state)
{
    struct mxr_err err = {0};
    RING[0].valid_until = 999;   /* the PDUs are stamped 1000 */
    for (int v = 4; v <= 5; v++) {
        json_t *pdu = base_pdu(v);
        sign_as(pdu, v, 0);
        assert_int_equal(sig_check(pdu, v, &err), v >= 5 ? -1 : 0);
        json_decref(pdu);
    }
    RING[0].valid_until = INT64_MAX;
}

/* Signatures survive redaction: a redacted copy still verifies. */
static void redacted_copy_verifies(void **state)
{
    struct mxr_err err = {0};
    json_t *pdu = base_pdu(9);
    sign_as(pdu, 9, 0);
    json_t *r = mxr_event_redact(pdu, rv_of("9"), &err);
    assert_int_equal(sig_check(r, 9, &err), 0);
    /* ...but its content hash no longer matches: use the redacted copy. */
    assert_int_equal(mxr_pdu_check_hash(r, &err), 1);
    json_decref(r);
    json_decref(pdu);
}

/* ---- step 3 ---------------------------------------------------------------- */

static void hash_check(void **state)
{
    struct mxr_err err = {0};
    json_t *pdu = base_pdu(11);
    sign_as(pdu, 11, 0);
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 0);
    /* Padded spelling of the same hash. */
    json_t *h = json_object_get(pdu, "hashes");
    char padded[64];
    snprintf(padded, sizeof padded, "%s=", json_string_value(json_object_get(h, "sha256")));
    json_object_set_new(h, "sha256", json_string(padded));
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 0);
    padded[strlen(padded) - 1] = '\0';   /* back to the signed spelling */
    json_object_set_new(h, "sha256", json_string(padded));
    /* Content changed after signing: signature fine, hash not. */
    json_object_set_new(json_object_get(pdu, "content"), "body", json_string("tampered"));
    assert_int_equal(sig_check(pdu, 11, &err), 0);
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 1);
    assert_non_null(strstr(err.msg, "redacted"));
    /* Missing or undecodable hashes. */
    json_object_set_new(h, "sha256", json_string("not base64!"));
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 1);
    json_object_set_new(h, "sha256", json_integer(1));
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 1);
    json_object_del(pdu, "hashes");
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), 1);
    json_decref(pdu);
    pdu = J("[]");
    assert_int_equal(mxr_pdu_check_hash(pdu, &err), -1);
    json_decref(pdu);
}

static void no_room_version(void **state)
{
    json_t *pdu = base_pdu(11);
    struct mxr_signing_key *k = &RING[0].key;
    assert_int_equal(mxr_pdu_check_format(pdu, NULL, 0, NULL), -1);
    assert_int_equal(mxr_pdu_check_signatures(pdu, NULL, &KEYS, NULL), -1);
    assert_int_equal(mxr_pdu_sign(pdu, NULL, "domain", k, NULL), -1);
    json_decref(pdu);
    pdu = J("\"x\"");
    assert_int_equal(mxr_pdu_check_format(pdu, rv_of("1"), 0, NULL), -1);
    assert_int_equal(mxr_pdu_check_signatures(pdu, rv_of("1"), &KEYS, NULL), -1);
    assert_int_equal(mxr_pdu_sign(pdu, rv_of("1"), "domain", k, NULL), -1);
    json_decref(pdu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_pdus_pass_in_every_version),
        cmocka_unit_test(signing_replaces_hashes),
        cmocka_unit_test(required_fields_and_types),
        cmocka_unit_test(identifiers),
        cmocka_unit_test(reference_forms),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(event_size),
        cmocka_unit_test(canonical_values),
        cmocka_unit_test(v12_room_ids),
        cmocka_unit_test(top_level_redacts),
        cmocka_unit_test(sender_server_must_sign),
        cmocka_unit_test(v1_event_id_server_must_sign),
        cmocka_unit_test(restricted_join_needs_authoriser),
        cmocka_unit_test(third_party_invite_exception),
        cmocka_unit_test(key_validity),
        cmocka_unit_test(redacted_copy_verifies),
        cmocka_unit_test(hash_check),
        cmocka_unit_test(no_room_version),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
