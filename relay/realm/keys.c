/* The realm's keys and identity (design §6.5 "meta", §6.7).
 *
 * Two secrets live in a key file outside the LMDB environment, mode 0600:
 * the X25519 secret key requests are sealed to, and the at-rest key that
 * seals every record. A copy of the database alone is therefore useless,
 * and a backup of the store need not be as secret as this file. Format, one
 * line after comments:
 *     mxr-realm-keys-v1 <box secret key> <at-rest key>     (unpadded base64url)
 *
 * The public identity is in the store's realm_meta table: realm_id (16
 * random bytes, the realm's name in every client configuration),
 * user_key_salt (keys records by a salted hash of the user ID) and box_pk,
 * which is checked against the key file at every start so that a key file
 * of another store is refused instead of failing on every record. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxr/base64.h"
#include "relay/realm/realm_int.h"
#include "relay/store/realm.h"

#define KEYS_MAGIC "mxr-realm-keys-v1"
#define KEYS_FILE_MAX 4096

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int create_keys(const char *path, uint8_t box_sk[32], uint8_t at_rest[32], struct mxr_err *err)
{
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    crypto_box_keypair(pk, box_sk);
    crypto_aead_xchacha20poly1305_ietf_keygen(at_rest);
    char a[64], b[64], text[512];
    mxr_b64_encode(a, sizeof a, box_sk, 32, MXR_B64_URL);
    mxr_b64_encode(b, sizeof b, at_rest, 32, MXR_B64_URL);
    int n = snprintf(text, sizeof text,
                     "# mxrelay PIN realm keys: the X25519 key requests are sealed to and the key that\n"
                     "# seals the realm records. Keep this file apart from backups of the store.\n"
                     "%s %s %s\n", KEYS_MAGIC, a, b);
    sodium_memzero(a, sizeof a);
    sodium_memzero(b, sizeof b);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot create the realm key file %s: %s", path, strerror(errno));
    else if (write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot write the realm key file %s: %s", path, strerror(errno));
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot write the realm key file %s: %s", path, strerror(errno));
    sodium_memzero(text, sizeof text);
    if (rc < 0 && fd >= 0)
        unlink(path);
    return rc;
}

static int parse_key(const char *tok, size_t len, uint8_t out[32])
{
    if (len != mxr_b64_encoded_len(32))
        return -1;
    return mxr_b64_decode(out, 32, tok, len, MXR_B64_URL, NULL) == 32 ? 0 : -1;
}

int realm_keys_load(const char *path, uint8_t box_sk[MXR_REALM_BOX_SECRET_BYTES],
                    uint8_t at_rest_key[REALM_AT_REST_KEY_BYTES], const struct mxr_log *log, struct mxr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (create_keys(path, box_sk, at_rest_key, err) < 0)
            return -1;
        if (log)
            mxr_log(log, MXR_LOG_INFO, NULL, "realm: generated new keys in %s", path);
        return 0;
    }
    if (fd < 0)
        return mxr_err_set(err, "M_UNKNOWN", "cannot open the realm key file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KEYS_FILE_MAX) {
        close(fd);
        return mxr_err_set(err, "M_UNKNOWN", "the realm key file %s is not a small regular file", path);
    }
    if ((st.st_mode & 077) && log)
        mxr_log(log, MXR_LOG_WARN, NULL, "realm: key file %s is accessible to other users (mode %03o); 0600 is required "
                "for the at-rest encryption to mean anything", path, (unsigned)(st.st_mode & 0777));
    char text[KEYS_FILE_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, text + n, sizeof text - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    text[n] = '\0';
    int rc = mxr_err_set(err, "M_UNKNOWN", "the realm key file %s has no '%s <box key> <at-rest key>' line", path,
                         KEYS_MAGIC);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, KEYS_MAGIC " ", sizeof KEYS_MAGIC)) {
            char *a = line + sizeof KEYS_MAGIC;
            char *sp = strchr(a, ' ');
            if (sp) {
                char *b = sp + 1;
                size_t bl = strcspn(b, " \r\t");
                if (parse_key(a, (size_t)(sp - a), box_sk) == 0 && parse_key(b, bl, at_rest_key) == 0) {
                    mxr_err_clear(err);
                    rc = 0;
                }
            }
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    sodium_memzero(text, sizeof text);
    return rc;
}

/* ---- identity in the store --------------------------------------------------- */

struct ident {
    uint8_t realm_id[MXR_REALM_ID_BYTES];
    uint8_t salt[REALM_SALT_BYTES];
    uint8_t box_pk[MXR_REALM_BOX_PUBLIC_BYTES];
};

/* Creates what is missing; idempotent (the callback may be re-run). */
static int ident_create(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    const struct ident *id = arg;
    uint8_t tmp[REALM_SALT_BYTES];
    static const struct {
        const char *name;
        size_t off, len;
    } F[] = {
        { "realm_id", offsetof(struct ident, realm_id), MXR_REALM_ID_BYTES },
        { "user_key_salt", offsetof(struct ident, salt), REALM_SALT_BYTES },
        { "box_pk", offsetof(struct ident, box_pk), MXR_REALM_BOX_PUBLIC_BYTES },
    };
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        int rc = mxr_store_realm_meta_get(txn, F[i].name, tmp, F[i].len, err);
        if (rc < 0)
            return -1;
        if (rc == MXR_STORE_NOT_FOUND &&
            mxr_store_realm_meta_put(txn, F[i].name, (const uint8_t *)id + F[i].off, F[i].len, err) < 0)
            return -1;
    }
    return 0;
}

static int ident_read(struct mxr_store *store, struct ident *id, struct mxr_err *err)
{
    struct mxr_store_txn *txn;
    if (mxr_store_read_begin(store, &txn, err) < 0)
        return -1;
    int rc = mxr_store_realm_meta_get(txn, "realm_id", id->realm_id, sizeof id->realm_id, err);
    if (rc == 0)
        rc = mxr_store_realm_meta_get(txn, "user_key_salt", id->salt, sizeof id->salt, err);
    if (rc == 0)
        rc = mxr_store_realm_meta_get(txn, "box_pk", id->box_pk, sizeof id->box_pk, err);
    mxr_store_read_end(txn);
    return rc;
}

int realm_identity_init(struct mxr_realm *r, struct mxr_err *err)
{
    crypto_scalarmult_base(r->box_pk, r->box_sk);
    struct ident id;
    int rc = ident_read(r->store, &id, err);
    if (rc == MXR_STORE_NOT_FOUND) {
        struct ident fresh;
        randombytes_buf(fresh.realm_id, sizeof fresh.realm_id);
        randombytes_buf(fresh.salt, sizeof fresh.salt);
        memcpy(fresh.box_pk, r->box_pk, sizeof fresh.box_pk);
        if (mxr_store_write(r->store, ident_create, &fresh, err) < 0)
            return mxr_err_prefix(err, "realm: creating the realm identity");
        rc = ident_read(r->store, &id, err);
        sodium_memzero(&fresh, sizeof fresh);
    }
    if (rc != 0)
        return rc < 0 ? -1 : mxr_err_set(err, "M_UNKNOWN", "realm: identity missing after creation");
    if (sodium_memcmp(id.box_pk, r->box_pk, sizeof id.box_pk) != 0)
        return mxr_err_set(err, "M_UNKNOWN", "realm: the key file does not belong to this store (its X25519 key "
                           "differs from the one recorded at creation); restore the matching key file");
    memcpy(r->realm_id, id.realm_id, sizeof r->realm_id);
    memcpy(r->user_key_salt, id.salt, sizeof r->user_key_salt);
    sodium_memzero(&id, sizeof id);
    mxr_realm_box_key_id(r->key_id, r->box_pk);
    return 0;
}
