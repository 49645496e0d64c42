/* relay/store/e2ee.c: device keys, one-time keys (atomic claims, counts per
 * algorithm), fallback keys (used flag), cross-signing keys, the device-list
 * stream, and the removal of a device's keys with the device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/store/accounts.h"
#include "relay/store/e2ee.h"
#include "tests/store/store_fixture.h"

#define ALICE "@alice:hs.test"
#define BOB "@bob:hs.test"

static int setup(void **state)
{
    static struct fx f;
    fx_open(&f, 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_close(*state);
    return 0;
}

typedef int (*step_fn)(struct mxr_store_txn *t, void *arg, struct mxr_err *err);

static void write1(struct fx *f, step_fn fn, void *arg)
{
    struct mxr_err err = {0};
    if (mxr_store_write(f->s, fn, arg, &err) < 0)
        fail_msg("write: %s", err.msg);
}

/* ---- one-time and fallback keys -------------------------------------------------------------- */

static int add_otks(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    (void)arg;
    static const char *const ids[] = {"signed_curve25519:AAAAAQ", "signed_curve25519:AAAAAg", "curve25519:AAAAAw"};
    for (size_t i = 0; i < 3; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"key\":\"k%zu\"}", i);
        const char *old;
        size_t olen;
        if (mxr_store_otk_add(t, ALICE, "DEV1", ids[i], json, strlen(json), &old, &olen, err) < 0)
            return -1;
        if (old)
            return mxr_err_set(err, "M_UNKNOWN", "fresh key reported as existing");
    }
    /* another device's key never counts for DEV1 */
    return mxr_store_otk_add(t, ALICE, "DEV10", "signed_curve25519:X", "\"x\"", 3, NULL, NULL, err);
}

static int readd_otk(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    const char **old = arg;
    size_t olen;
    if (mxr_store_otk_add(t, ALICE, "DEV1", "signed_curve25519:AAAAAQ", "{\"key\":\"other\"}", 15, old, &olen,
                          err) < 0)
        return -1;
    if (!*old || olen != strlen("{\"key\":\"k0\"}") || memcmp(*old, "{\"key\":\"k0\"}", olen))
        return mxr_err_set(err, "M_UNKNOWN", "existing key not reported");
    *old = "seen";
    return 0;
}

struct counts {
    char text[256];
};

static int count_cb(void *arg, const char *alg, uint64_t n)
{
    struct counts *c = arg;
    size_t l = strlen(c->text);
    snprintf(c->text + l, sizeof c->text - l, "%s=%llu;", alg, (unsigned long long)n);
    return 0;
}

static const char *counts(struct fx *f, const char *device)
{
    static struct counts c;
    struct mxr_err err = {0};
    c.text[0] = '\0';
    assert_int_equal(mxr_store_otk_counts(fx_read(f), ALICE, device, count_cb, &c, &err), 0);
    fx_read_end(f);
    return c.text;
}

struct claim {
    const char *alg;
    int rc;
    char key_id[MXR_STORE_KEY_ID_MAX + 1];
    char *json;
    bool fallback;
};

static int claim_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct claim *c = arg;
    free(c->json);
    c->rc = mxr_store_key_claim(t, ALICE, "DEV1", c->alg, c->key_id, &c->json, &c->fallback, err);
    return c->rc < 0 ? -1 : 0;
}

static int put_fallback(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    return mxr_store_fallback_put(t, ALICE, "DEV1", arg, "{\"key\":\"fb\",\"fallback\":true}", 28, err);
}

static int alg_cb(void *arg, const char *alg)
{
    strcat(arg, alg);
    strcat(arg, ";");
    return 0;
}

static const char *unused_fallbacks(struct fx *f)
{
    static char buf[128];
    buf[0] = '\0';
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_fallback_unused(fx_read(f), ALICE, "DEV1", alg_cb, buf, &err), 0);
    fx_read_end(f);
    return buf;
}

static void one_time_and_fallback_keys(void **state)
{
    struct fx *f = *state;
    write1(f, add_otks, NULL);
    assert_string_equal(counts(f, "DEV1"), "curve25519=1;signed_curve25519=2;");
    assert_string_equal(counts(f, "DEV10"), "signed_curve25519=1;");
    assert_string_equal(counts(f, "NODEV"), "");
    const char *old = NULL;
    write1(f, readd_otk, &old);   /* a reused key ID: the stored key is reported, not replaced */
    assert_string_equal(old, "seen");

    struct claim c = {.alg = "signed_curve25519"};
    write1(f, claim_fn, &c);
    assert_int_equal(c.rc, 0);
    assert_string_equal(c.key_id, "signed_curve25519:AAAAAQ");
    assert_string_equal(c.json, "{\"key\":\"k0\"}");
    assert_false(c.fallback);
    write1(f, claim_fn, &c);
    assert_string_equal(c.key_id, "signed_curve25519:AAAAAg");
    assert_string_equal(counts(f, "DEV1"), "curve25519=1;");
    write1(f, claim_fn, &c);   /* exhausted, no fallback key */
    assert_int_equal(c.rc, MXR_STORE_NOT_FOUND);
    c.alg = "signed_curve";    /* an algorithm prefix must not match */
    write1(f, claim_fn, &c);
    assert_int_equal(c.rc, MXR_STORE_NOT_FOUND);

    write1(f, put_fallback, "signed_curve25519:FB1");
    assert_string_equal(unused_fallbacks(f), "signed_curve25519;");
    c.alg = "signed_curve25519";
    for (int i = 0; i < 2; i++) {   /* the fallback key is handed out again and again */
        write1(f, claim_fn, &c);
        assert_int_equal(c.rc, 0);
        assert_true(c.fallback);
        assert_string_equal(c.key_id, "signed_curve25519:FB1");
        assert_string_equal(c.json, "{\"key\":\"fb\",\"fallback\":true}");
    }
    assert_string_equal(unused_fallbacks(f), "");
    write1(f, put_fallback, "signed_curve25519:FB1");   /* the same key again stays used */
    assert_string_equal(unused_fallbacks(f), "");
    write1(f, put_fallback, "signed_curve25519:FB2");   /* a new one is unused */
    assert_string_equal(unused_fallbacks(f), "signed_curve25519;");
    free(c.json);
}

/* ---- device keys, cross-signing keys, stream, removal ---------------------------------------- */

static int put_keys(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    (void)arg;
    static const char dk[] = "{\"device_id\":\"DEV2\"}", mk[] = "{\"usage\":[\"master\"]}";
    return mxr_store_device_keys_put(t, ALICE, "DEV2", dk, strlen(dk), err) ||
           mxr_store_otk_add(t, ALICE, "DEV2", "signed_curve25519:A", "\"a\"", 3, NULL, NULL, err) ||
           mxr_store_fallback_put(t, ALICE, "DEV2", "signed_curve25519:F", "\"f\"", 3, err) ||
           mxr_store_xsign_put(t, ALICE, "master", mk, strlen(mk), err) ||
           mxr_store_devicelist_bump(t, ALICE, NULL, err) || mxr_store_devicelist_bump(t, BOB, NULL, err) ||
           mxr_store_devicelist_bump(t, ALICE, NULL, err) ? -1 : 0;
}

static int bad_usage(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    (void)arg;
    return mxr_store_xsign_put(t, ALICE, "nonsense", "{}", 2, err);
}

static int list_cb(void *arg, const char *user, uint64_t pos)
{
    size_t l = strlen(arg);
    snprintf((char *)arg + l, 256 - l, "%s@%llu;", user, (unsigned long long)pos);
    return 0;
}

static const char *changes(struct fx *f, uint64_t since, uint64_t upto)
{
    static char buf[256];
    buf[0] = '\0';
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_devicelist_since(fx_read(f), since, upto, list_cb, buf, &err), 0);
    fx_read_end(f);
    return buf;
}

static int login_dev2(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    (void)arg;
    uint8_t h[MXR_STORE_TOKEN_HASH] = {2};
    return mxr_store_device_login(t, ALICE, "DEV2", NULL, h, 1, NULL, err);
}

static int delete_dev2(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    (void)arg;
    return mxr_store_device_delete(t, ALICE, "DEV2", err);
}

static void keys_stream_and_removal(void **state)
{
    struct fx *f = *state;
    write1(f, login_dev2, NULL);
    write1(f, put_keys, NULL);
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, bad_usage, NULL, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");

    struct mxr_store_txn *t = fx_read(f);
    const char *json;
    size_t len;
    assert_int_equal(mxr_store_device_keys_get(t, ALICE, "DEV2", &json, &len, &err), 0);
    assert_int_equal(len, 20);
    assert_int_equal(mxr_store_device_keys_get(t, BOB, "DEV2", &json, &len, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_xsign_get(t, ALICE, "master", &json, &len, &err), 0);
    assert_memory_equal(json, "{\"usage\":[\"master\"]}", len);
    assert_int_equal(mxr_store_xsign_get(t, ALICE, "self_signing", &json, &len, &err), MXR_STORE_NOT_FOUND);
    uint64_t head, pos;
    assert_int_equal(mxr_store_devicelist_head(t, &head, &err), 0);
    assert_int_equal(head, 3);
    assert_int_equal(mxr_store_devicelist_pos(t, ALICE, &pos, &err), 0);
    assert_int_equal(pos, 3);
    assert_int_equal(mxr_store_devicelist_pos(t, "@carol:hs.test", &pos, &err), 0);
    assert_int_equal(pos, 0);
    fx_read_end(f);
    /* one row per user: alice's first position (1) was replaced by 3 */
    assert_string_equal(changes(f, 0, 0), "@bob:hs.test@2;@alice:hs.test@3;");
    assert_string_equal(changes(f, 2, 0), "@alice:hs.test@3;");
    assert_string_equal(changes(f, 0, 2), "@bob:hs.test@2;");
    assert_string_equal(changes(f, 3, 0), "");

    write1(f, delete_dev2, NULL);
    t = fx_read(f);
    assert_int_equal(mxr_store_device_keys_get(t, ALICE, "DEV2", &json, &len, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
    assert_string_equal(counts(f, "DEV2"), "");
    char buf[64] = "";
    assert_int_equal(mxr_store_fallback_unused(fx_read(f), ALICE, "DEV2", alg_cb, buf, &err), 0);
    fx_read_end(f);
    assert_string_equal(buf, "");
    assert_string_equal(changes(f, 3, 0), "@alice:hs.test@4;");   /* the removal moved the stream */
    fx_assert_consistent(f);
}

static int bad_key_id(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    (void)arg;
    return mxr_store_otk_add(t, ALICE, "DEV1", "noalgorithm", "\"x\"", 3, NULL, NULL, err);
}

static void refusals(void **state)
{
    struct fx *f = *state;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_write(f->s, bad_key_id, NULL, &err), -1);
    assert_string_equal(err.errcode, "M_INVALID_PARAM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_time_and_fallback_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_stream_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
