/* The realm's state machine case by case (relay/realm/record.c; design §2.4
 * realm algorithms, §6.4 guess-limit semantics) and the sealed record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "relay/realm/realm_int.h"

#define NOW 1700000000000LL

static void fresh(struct realm_record *r, unsigned allowed)
{
    memset(r, 0, sizeof *r);
    r->state = REALM_REGISTERED;
    r->allowed = (uint16_t)allowed;
    randombytes_buf(r->version, sizeof r->version);
    randombytes_buf(r->k, sizeof r->k);
    randombytes_buf(r->tag, sizeof r->tag);
    randombytes_buf(r->s_share, sizeof r->s_share);
    randombytes_buf(r->enc_secret, sizeof r->enc_secret);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return sodium_is_zero(p, n) == 1;
}

static void assert_wiped(const struct realm_record *r)
{
    assert_int_equal(r->state, REALM_NO_GUESSES);
    assert_true(all_zero(r->k, sizeof r->k));
    assert_true(all_zero(r->tag, sizeof r->tag));
    assert_true(all_zero(r->s_share, sizeof r->s_share));
    assert_true(all_zero(r->enc_secret, sizeof r->enc_secret));
    assert_true(all_zero(r->commitment, sizeof r->commitment));
    assert_true(all_zero(r->version, sizeof r->version));
}

static void test_not_registered(void **state)
{
    (void)state;
    struct realm_record r = { 0 };
    struct realm_step st;
    uint8_t v[16] = { 0 }, t[16] = { 0 };
    realm_sm_recover1(&r, false, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NOT_REGISTERED);
    assert_false(st.write);
    realm_sm_recover2(&r, false, v, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NOT_REGISTERED);
    assert_false(st.write);
    realm_sm_recover3(&r, false, v, t, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NOT_REGISTERED);
    assert_false(st.write);
    realm_sm_delete(&r, false, &st);
    assert_int_equal(st.outcome, REALM_OK);   /* idempotent */
    assert_false(st.remove);
    assert_int_equal(st.n_audit, 0);
}

static void test_register_overwrites(void **state)
{
    (void)state;
    struct realm_record r, in;
    fresh(&r, 5);
    r.count = 4;
    fresh(&in, 3);
    in.count = 7;   /* whatever the client sent, a registration starts at 0 */
    bool exists = true;
    struct realm_step st;
    realm_sm_register2(&r, &exists, &in, NOW, &st);
    assert_int_equal(st.outcome, REALM_OK);
    assert_true(st.write);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.allowed, 3);
    assert_memory_equal(r.version, in.version, 16);
    assert_int_equal(st.n_audit, 1);
    assert_int_equal(st.audit[0], REALM_AUDIT_REGISTERED);
    /* over a tombstone too */
    realm_record_wipe(&r);
    realm_sm_register2(&r, &exists, &in, NOW, &st);
    assert_int_equal(r.state, REALM_REGISTERED);
    assert_int_equal(r.count, 0);
}

static void test_recover2_counts(void **state)
{
    (void)state;
    struct realm_record r;
    fresh(&r, 3);
    struct realm_step st;
    for (unsigned i = 1; i <= 3; i++) {
        realm_sm_recover2(&r, true, r.version, NOW, &st);
        assert_int_equal(st.outcome, REALM_OK);
        assert_true(st.write);
        assert_int_equal(r.count, i);
        assert_int_equal(st.audit[0], REALM_AUDIT_GUESS_USED);
    }
    /* at the limit: wiped, no further count */
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NO_GUESSES);
    assert_true(st.write);
    assert_int_equal(r.count, 3);
    assert_int_equal(st.audit[0], REALM_AUDIT_GUESS_LIMIT_REACHED);
    assert_wiped(&r);
    /* a tombstone stays one and says NO_GUESSES, not NOT_REGISTERED */
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NO_GUESSES);
    assert_false(st.write);
    realm_sm_recover1(&r, true, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NO_GUESSES);
    assert_false(st.write);
}

static void test_version_mismatch_never_counts(void **state)
{
    (void)state;
    struct realm_record r;
    fresh(&r, 3);
    uint8_t other[16];
    memcpy(other, r.version, 16);
    other[0] ^= 1;
    struct realm_step st;
    uint8_t t[16];
    memcpy(t, r.tag, 16);
    for (int i = 0; i < 5; i++) {
        realm_sm_recover2(&r, true, other, NOW, &st);
        assert_int_equal(st.outcome, REALM_E_VERSION_MISMATCH);
        assert_false(st.write);
        realm_sm_recover3(&r, true, other, t, NOW, &st);
        assert_int_equal(st.outcome, REALM_E_VERSION_MISMATCH);
        assert_false(st.write);
    }
    assert_int_equal(r.count, 0);
    assert_int_equal(r.state, REALM_REGISTERED);
}

static void test_recover1_wipes_at_limit(void **state)
{
    (void)state;
    struct realm_record r;
    fresh(&r, 2);
    struct realm_step st;
    realm_sm_recover1(&r, true, NOW, &st);
    assert_int_equal(st.outcome, REALM_OK);
    assert_false(st.write);
    r.count = 2;
    realm_sm_recover1(&r, true, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_NO_GUESSES);
    assert_true(st.write);
    assert_wiped(&r);
}

static void test_recover3_good_tag_resets(void **state)
{
    (void)state;
    struct realm_record r;
    fresh(&r, 2);
    struct realm_step st;
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    assert_int_equal(r.count, 2);
    /* the last allowed guess was the right one */
    uint8_t t[16];
    memcpy(t, r.tag, 16);
    realm_sm_recover3(&r, true, r.version, t, NOW, &st);
    assert_int_equal(st.outcome, REALM_OK);
    assert_true(st.write);
    assert_int_equal(r.count, 0);
    assert_int_equal(st.audit[0], REALM_AUDIT_SHARE_RECOVERED);
    assert_int_equal(r.state, REALM_REGISTERED);
}

static void test_recover3_bad_tag(void **state)
{
    (void)state;
    struct realm_record r;
    fresh(&r, 3);
    struct realm_step st;
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    uint8_t bad[16];
    memcpy(bad, r.tag, 16);
    bad[15] ^= 0x80;
    realm_sm_recover3(&r, true, r.version, bad, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_BAD_TAG);
    assert_int_equal(st.guesses_remaining, 2);
    assert_false(st.write);          /* counted once, in recover2 */
    assert_int_equal(r.count, 1);
    /* none left: the bad tag wipes */
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    realm_sm_recover2(&r, true, r.version, NOW, &st);
    realm_sm_recover3(&r, true, r.version, bad, NOW, &st);
    assert_int_equal(st.outcome, REALM_E_BAD_TAG);
    assert_int_equal(st.guesses_remaining, 0);
    assert_true(st.write);
    assert_wiped(&r);
}

static void test_delete(void **state)
{
    (void)state;
    struct realm_record r;
    fresh(&r, 3);
    struct realm_step st;
    realm_sm_delete(&r, true, &st);
    assert_int_equal(st.outcome, REALM_OK);
    assert_true(st.remove);
    assert_int_equal(st.audit[0], REALM_AUDIT_DELETED);
}

static struct mxr_realm *fake_realm(void)
{
    static struct mxr_realm r;
    crypto_aead_xchacha20poly1305_ietf_keygen(r.at_rest_key);
    return &r;
}

static void test_seal_open(void **state)
{
    (void)state;
    struct mxr_realm *realm = fake_realm();
    struct realm_record r, back;
    fresh(&r, 7);
    r.count = 3;
    r.created_ms = NOW;
    r.updated_ms = NOW + 5;
    uint8_t uk[32], other[32], sealed[REALM_SEALED_MAX];
    randombytes_buf(uk, sizeof uk);
    memcpy(other, uk, 32);
    other[0] ^= 1;
    size_t n = realm_record_seal(realm, &r, uk, sealed);
    assert_int_equal(n, 24 + REALM_RECORD_FULL + 16);
    /* no secret appears in the stored bytes */
    assert_null(memmem(sealed, n, r.k, 16));
    assert_null(memmem(sealed, n, r.s_share, 16));
    struct mxr_err err = { 0 };
    assert_int_equal(realm_record_open(realm, sealed, n, uk, &back, &err), 0);
    assert_memory_equal(&back.k, &r.k, sizeof r.k);
    assert_memory_equal(&back.enc_secret, &r.enc_secret, sizeof r.enc_secret);
    assert_int_equal(back.count, 3);
    assert_int_equal(back.allowed, 7);
    assert_int_equal(back.updated_ms, NOW + 5);
    /* bound to the user key: moved to another user it does not open */
    assert_int_equal(realm_record_open(realm, sealed, n, other, &back, &err), -1);
    /* any flipped bit is refused */
    for (size_t i = 0; i < n; i += 37) {
        sealed[i] ^= 1;
        assert_int_equal(realm_record_open(realm, sealed, n, uk, &back, &err), -1);
        sealed[i] ^= 1;
    }
    /* a tombstone is the header only */
    realm_record_wipe(&r);
    n = realm_record_seal(realm, &r, uk, sealed);
    assert_int_equal(n, 24 + REALM_RECORD_HEADER + 16);
    assert_int_equal(realm_record_open(realm, sealed, n, uk, &back, &err), 0);
    assert_int_equal(back.state, REALM_NO_GUESSES);
    assert_int_equal(back.count, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_registered),
        cmocka_unit_test(test_register_overwrites),
        cmocka_unit_test(test_recover2_counts),
        cmocka_unit_test(test_version_mismatch_never_counts),
        cmocka_unit_test(test_recover1_wipes_at_limit),
        cmocka_unit_test(test_recover3_good_tag_resets),
        cmocka_unit_test(test_recover3_bad_tag),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_seal_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
