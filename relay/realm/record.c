/* Realm records: the state machine of design §2.4 under the guess-limit
 * rules of §6.4 (normative), and their sealed form at rest (§6.5).
 *
 * States: no record (NotRegistered), REGISTERED{count, allowed} and the
 * NO_GUESSES tombstone. The count moves only here:
 *   +1  recover2 that passed every check (its caller commits durably before
 *       computing the OPRF answer: §6.4 item 2);
 *   =0  recover3 with the right tag, or register2 (new material) — item 3;
 * and the record becomes a tombstone when recover1/recover2 find the count
 * at the limit or recover3 sees a wrong tag with none left (item 4).
 * Version mismatches, missing records and tombstones change nothing. */
#include <sodium.h>
#include <string.h>

#include "relay/realm/realm_int.h"

const char *realm_audit_name(unsigned type)
{
    switch (type) {
    case REALM_AUDIT_REGISTERED: return "registered";
    case REALM_AUDIT_GUESS_USED: return "guess_used";
    case REALM_AUDIT_SHARE_RECOVERED: return "share_recovered";
    case REALM_AUDIT_GUESS_LIMIT_REACHED: return "guess_limit_reached";
    case REALM_AUDIT_DELETED: return "deleted";
    default: return "unknown";
    }
}

static void step_init(struct realm_step *st)
{
    memset(st, 0, sizeof *st);
}

static void audit(struct realm_step *st, uint8_t type)
{
    if (st->n_audit < sizeof st->audit)
        st->audit[st->n_audit++] = type;
}

void realm_record_wipe(struct realm_record *rec)
{
    /* Everything after the header is key material or share. */
    sodium_memzero(rec->version, sizeof rec->version);
    sodium_memzero(rec->k, sizeof rec->k);
    sodium_memzero(rec->V, sizeof rec->V);
    sodium_memzero(rec->vk, sizeof rec->vk);
    sodium_memzero(rec->sig, sizeof rec->sig);
    sodium_memzero(rec->commitment, sizeof rec->commitment);
    sodium_memzero(rec->tag, sizeof rec->tag);
    sodium_memzero(rec->s_share, sizeof rec->s_share);
    sodium_memzero(rec->enc_secret, sizeof rec->enc_secret);
    sodium_memzero(rec->enc_commit, sizeof rec->enc_commit);
    rec->state = REALM_NO_GUESSES;
}

/* §6.4 item 4: at the limit the record becomes a tombstone. */
static void to_tombstone(struct realm_record *rec, int64_t now, struct realm_step *st)
{
    realm_record_wipe(rec);
    rec->updated_ms = now;
    st->write = true;
    audit(st, REALM_AUDIT_GUESS_LIMIT_REACHED);
    st->outcome = REALM_E_NO_GUESSES;
}

void realm_sm_register2(struct realm_record *rec, bool *exists, const struct realm_record *incoming, int64_t now,
                        struct realm_step *st)
{
    step_init(st);
    /* Overwrite whatever was there (including a tombstone): the old
     * material is gone, so overwriting cannot leak the old secret (§2.4). */
    int64_t created = now;
    *rec = *incoming;
    rec->state = REALM_REGISTERED;
    rec->count = 0;
    rec->created_ms = created;
    rec->updated_ms = now;
    *exists = true;
    st->write = true;
    audit(st, REALM_AUDIT_REGISTERED);
    st->outcome = REALM_OK;
}

void realm_sm_recover1(struct realm_record *rec, bool exists, int64_t now, struct realm_step *st)
{
    step_init(st);
    if (!exists) {
        st->outcome = REALM_E_NOT_REGISTERED;
        return;
    }
    if (rec->state == REALM_NO_GUESSES) {
        st->outcome = REALM_E_NO_GUESSES;
        return;
    }
    if (rec->count >= rec->allowed) {
        to_tombstone(rec, now, st);
        return;
    }
    st->outcome = REALM_OK;
}

void realm_sm_recover2(struct realm_record *rec, bool exists, const uint8_t version[MXR_REALM_VERSION_BYTES],
                       int64_t now, struct realm_step *st)
{
    step_init(st);
    if (!exists) {
        st->outcome = REALM_E_NOT_REGISTERED;
        return;
    }
    if (rec->state == REALM_NO_GUESSES) {
        st->outcome = REALM_E_NO_GUESSES;
        return;
    }
    /* §6.4 item 5: a version mismatch never counts. */
    if (sodium_memcmp(rec->version, version, MXR_REALM_VERSION_BYTES) != 0) {
        st->outcome = REALM_E_VERSION_MISMATCH;
        return;
    }
    if (rec->count >= rec->allowed) {
        to_tombstone(rec, now, st);
        return;
    }
    rec->count++;
    rec->updated_ms = now;
    st->write = true;
    audit(st, REALM_AUDIT_GUESS_USED);
    st->outcome = REALM_OK;
}

void realm_sm_recover3(struct realm_record *rec, bool exists, const uint8_t version[MXR_REALM_VERSION_BYTES],
                       const uint8_t tag[MXR_REALM_TAG_BYTES], int64_t now, struct realm_step *st)
{
    step_init(st);
    if (!exists) {
        st->outcome = REALM_E_NOT_REGISTERED;
        return;
    }
    if (rec->state == REALM_NO_GUESSES) {
        st->outcome = REALM_E_NO_GUESSES;
        return;
    }
    if (sodium_memcmp(rec->version, version, MXR_REALM_VERSION_BYTES) != 0) {
        st->outcome = REALM_E_VERSION_MISMATCH;
        return;
    }
    if (sodium_memcmp(rec->tag, tag, MXR_REALM_TAG_BYTES) != 0) {
        /* The guess was counted by recover2; none is added here (§2.4). */
        unsigned remaining = rec->count >= rec->allowed ? 0u : (unsigned)(rec->allowed - rec->count);
        if (remaining == 0) {
            to_tombstone(rec, now, st);
        }
        st->outcome = REALM_E_BAD_TAG;
        st->guesses_remaining = remaining;
        return;
    }
    /* §6.4 item 3: the right tag resets the count. */
    rec->count = 0;
    rec->updated_ms = now;
    st->write = true;
    audit(st, REALM_AUDIT_SHARE_RECOVERED);
    st->outcome = REALM_OK;
}

void realm_sm_delete(struct realm_record *rec, bool exists, struct realm_step *st)
{
    (void)rec;
    step_init(st);
    if (exists) {
        st->remove = true;
        audit(st, REALM_AUDIT_DELETED);
    }
    st->outcome = REALM_OK;
}

/* ---- record_v1 codec and seal ------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#define FIELDS(X)                                                                                                  \
    X(version) X(k) X(V) X(vk) X(sig) X(commitment) X(tag) X(s_share) X(enc_secret) X(enc_commit)

static size_t encode(const struct realm_record *rec, uint8_t out[REALM_RECORD_FULL])
{
    out[0] = REALM_RECORD_SCHEMA;
    out[1] = rec->state;
    out[2] = rec->profile;
    out[3] = 0;
    put16(out + 4, rec->allowed);
    put16(out + 6, rec->count);
    put64(out + 8, (uint64_t)rec->created_ms);
    put64(out + 16, (uint64_t)rec->updated_ms);
    if (rec->state == REALM_NO_GUESSES)
        return REALM_RECORD_HEADER;   /* tombstone: header only */
    size_t n = REALM_RECORD_HEADER;
#define PUT(f)                                                                                                     \
    memcpy(out + n, rec->f, sizeof rec->f);                                                                        \
    n += sizeof rec->f;
    FIELDS(PUT)
#undef PUT
    return n;
}

static int decode(const uint8_t *in, size_t len, struct realm_record *rec, struct mxr_err *err)
{
    memset(rec, 0, sizeof *rec);
    if (len < REALM_RECORD_HEADER || in[0] != REALM_RECORD_SCHEMA)
        return mxr_err_set(err, "M_UNKNOWN", "realm record: unknown schema or short header");
    rec->state = in[1];
    rec->profile = in[2];
    rec->allowed = get16(in + 4);
    rec->count = get16(in + 6);
    rec->created_ms = (int64_t)get64(in + 8);
    rec->updated_ms = (int64_t)get64(in + 16);
    if (rec->state == REALM_NO_GUESSES)
        return len == REALM_RECORD_HEADER ? 0 : mxr_err_set(err, "M_UNKNOWN", "realm record: tombstone with a body");
    if (rec->state != REALM_REGISTERED || len != REALM_RECORD_FULL)
        return mxr_err_set(err, "M_UNKNOWN", "realm record: state %u with %zu bytes", rec->state, len);
    size_t n = REALM_RECORD_HEADER;
#define GET(f)                                                                                                     \
    memcpy(rec->f, in + n, sizeof rec->f);                                                                         \
    n += sizeof rec->f;
    FIELDS(GET)
#undef GET
    return 0;
}

size_t realm_record_seal(const struct mxr_realm *r, const struct realm_record *rec,
                         const uint8_t user_key[REALM_USER_KEY_BYTES], uint8_t out[REALM_SEALED_MAX])
{
    uint8_t plain[REALM_RECORD_FULL];
    size_t n = encode(rec, plain);
    uint8_t *nonce = out;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long clen = 0;
    /* ad = user_key: a record moved to another user's key does not open. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, plain, n,
                                               user_key, REALM_USER_KEY_BYTES, NULL, nonce, r->at_rest_key);
    sodium_memzero(plain, sizeof plain);
    return crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t)clen;
}

int realm_record_open(const struct mxr_realm *r, const uint8_t *sealed, size_t len,
                      const uint8_t user_key[REALM_USER_KEY_BYTES], struct realm_record *rec, struct mxr_err *err)
{
    const size_t np = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ab = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (len < np + ab || len > REALM_SEALED_MAX)
        return mxr_err_set(err, "M_UNKNOWN", "realm record of %zu bytes is malformed", len);
    uint8_t plain[REALM_RECORD_FULL];
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, sealed + np, len - np, user_key,
                                                   REALM_USER_KEY_BYTES, sealed, r->at_rest_key) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "realm record does not open under the at-rest key "
                           "(tampered, moved between users, or the key file belongs to another store)");
    int rc = decode(plain, (size_t)plen, rec, err);
    sodium_memzero(plain, sizeof plain);
    return rc;
}
