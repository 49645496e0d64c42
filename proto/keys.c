/* ed25519 server signing keys in Synapse's signing.key format
 * (spec: appendices "Signing Details"; key versions per
 * data/api/server-server/definitions/keys.yaml: [a-zA-Z0-9_]). */
#include "mxr/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxr/base64.h"

#define KEY_FILE_MAX 4096   /* a key file is one short line; anything larger is not one */

bool mxr_key_version_valid(const char *v)
{
    if (!v || !*v)
        return false;
    size_t n = 0;
    for (const char *p = v; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok || n >= MXR_KEY_VERSION_MAX)
            return false;
    }
    return true;
}

static int set_version(struct mxr_signing_key *k, const char *version, struct mxr_err *err)
{
    if (!mxr_key_version_valid(version))
        return mxr_err_set(err, "M_INVALID_PARAM",
                           "key version '%.80s' is not 1-%d characters of [A-Za-z0-9_] (keys.yaml)",
                           version ? version : "", MXR_KEY_VERSION_MAX);
    snprintf(k->version, sizeof k->version, "%s", version);
    snprintf(k->key_id, sizeof k->key_id, "ed25519:%s", version);
    return 0;
}

int mxr_key_from_seed(struct mxr_signing_key *k, const uint8_t seed[32], const char *version,
                      struct mxr_err *err)
{
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
    memset(k, 0, sizeof *k);
    if (set_version(k, version, err) < 0)
        return -1;
    memcpy(k->seed, seed, 32);
    if (crypto_sign_seed_keypair(k->public_key, k->secret_key, k->seed) != 0) {
        mxr_key_wipe(k);
        return mxr_err_set(err, "M_UNKNOWN", "crypto_sign_seed_keypair failed");
    }
    return 0;
}

int mxr_key_generate(struct mxr_signing_key *k, const char *version, struct mxr_err *err)
{
    if (sodium_init() < 0)
        return mxr_err_set(err, "M_UNKNOWN", "libsodium failed to initialise");
    char picked[7];
    if (!version) {
        static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        picked[0] = 'a';
        picked[1] = '_';
        for (int i = 2; i < 6; i++)
            picked[i] = letters[randombytes_uniform(sizeof letters - 1)];
        picked[6] = '\0';
        version = picked;
    }
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    int rc = mxr_key_from_seed(k, seed, version, err);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* Next blank-separated field of line[*pos..len); NUL-terminates it in place. */
static char *next_field(char *line, size_t len, size_t *pos)
{
    size_t i = *pos;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len)
        return NULL;
    size_t start = i;
    while (i < len && line[i] != ' ' && line[i] != '\t')
        i++;
    if (i < len)
        line[i++] = '\0';
    *pos = i;
    return line + start;
}

int mxr_key_parse(struct mxr_signing_key *k, const char *text, size_t len, struct mxr_err *err)
{
    /* The first non-blank line. */
    size_t start = 0;
    for (;;) {
        size_t end = start;
        while (end < len && text[end] != '\n')
            end++;
        size_t i = start;
        while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
            i++;
        if (i < end)
            break;
        if (end >= len)
            return mxr_err_set(err, "M_INVALID_PARAM", "signing key: no key line (want 'ed25519 VERSION SEED')");
        start = end + 1;
    }
    size_t end = start;
    while (end < len && text[end] != '\n')
        end++;
    if (end > start && text[end - 1] == '\r')
        end--;
    char line[512];
    size_t n = end - start;
    if (n >= sizeof line)
        return mxr_err_set(err, "M_INVALID_PARAM", "signing key: key line longer than %zu bytes", sizeof line - 1);
    memcpy(line, text + start, n);
    line[n] = '\0';
    if (memchr(line, '\0', n))
        return mxr_err_set(err, "M_INVALID_PARAM", "signing key: NUL byte in key line");

    size_t pos = 0;
    char *alg = next_field(line, n, &pos);
    char *version = next_field(line, n, &pos);
    char *seed_b64 = next_field(line, n, &pos);
    char *extra = next_field(line, n, &pos);
    int rc = -1;
    if (!alg || !version || !seed_b64 || extra) {
        mxr_err_set(err, "M_INVALID_PARAM", "signing key: want exactly 3 fields 'ed25519 VERSION SEED'");
    } else if (strcmp(alg, "ed25519") != 0) {
        mxr_err_set(err, "M_INVALID_PARAM", "signing key: algorithm '%.40s' is not supported (only ed25519)", alg);
    } else {
        uint8_t seed[32 + 3];
        struct mxr_err e2 = {0};
        long got = mxr_b64_decode(seed, sizeof seed, seed_b64, strlen(seed_b64), MXR_B64_STD, &e2);
        if (got != 32)
            mxr_err_set(err, "M_INVALID_PARAM", "signing key: seed is not base64 of 32 bytes%s%s",
                        got < 0 ? ": " : "", got < 0 ? e2.msg : "");
        else
            rc = mxr_key_from_seed(k, seed, version, err);
        sodium_memzero(seed, sizeof seed);
    }
    sodium_memzero(line, sizeof line);
    return rc;
}

int mxr_key_load(struct mxr_signing_key *k, const char *path, struct mxr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mxr_err_set(err, "M_UNKNOWN", "cannot open signing key %s: %s", path, strerror(errno));
    char buf[KEY_FILE_MAX + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot read signing key %s", path);
    else if (n > KEY_FILE_MAX)
        rc = mxr_err_set(err, "M_INVALID_PARAM", "signing key %s is larger than %d bytes", path, KEY_FILE_MAX);
    else if ((rc = mxr_key_parse(k, buf, n, err)) < 0)
        mxr_err_prefix(err, "%s", path);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

long mxr_key_format(const struct mxr_signing_key *k, char *out, size_t cap, struct mxr_err *err)
{
    char seed[MXR_KEY_B64_LEN + 1];
    if (mxr_b64_encode(seed, sizeof seed, k->seed, 32, MXR_B64_STD) != MXR_KEY_B64_LEN)
        return mxr_err_set(err, "M_UNKNOWN", "base64 encoding of the seed failed");
    int n = snprintf(out, cap, "ed25519 %s %s\n", k->version, seed);
    sodium_memzero(seed, sizeof seed);
    if (n < 0 || (size_t)n >= cap)
        return mxr_err_set(err, "M_UNKNOWN", "signing key line does not fit in %zu bytes", cap);
    return n;
}

int mxr_key_save(const struct mxr_signing_key *k, const char *path, struct mxr_err *err)
{
    char line[MXR_KEY_VERSION_MAX + MXR_KEY_B64_LEN + 16];
    long n = mxr_key_format(k, line, sizeof line, err);
    if (n < 0)
        return -1;
    /* O_EXCL: never overwrite a key by accident; the old key may still be
     * needed to verify events already signed with it. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        sodium_memzero(line, sizeof line);
        return mxr_err_set(err, "M_UNKNOWN", "cannot create %s: %s", path, strerror(errno));
    }
    int rc = 0;
    size_t off = 0;
    while (off < (size_t)n) {
        ssize_t w = write(fd, line + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = mxr_err_set(err, "M_UNKNOWN", "cannot write %s: %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fchmod(fd, 0600) != 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot chmod 0600 %s: %s", path, strerror(errno));
    if (rc == 0 && fsync(fd) != 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot sync %s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = mxr_err_set(err, "M_UNKNOWN", "cannot close %s: %s", path, strerror(errno));
    if (rc != 0)
        unlink(path);
    sodium_memzero(line, sizeof line);
    return rc;
}

void mxr_key_public_b64(const struct mxr_signing_key *k, char out[MXR_KEY_B64_LEN + 1])
{
    if (mxr_b64_encode(out, MXR_KEY_B64_LEN + 1, k->public_key, 32, MXR_B64_STD) != MXR_KEY_B64_LEN)
        out[0] = '\0';
}

int mxr_key_decode_public(const char *b64, uint8_t out[32], struct mxr_err *err)
{
    uint8_t buf[32 + 3];
    struct mxr_err e2 = {0};
    long n = b64 ? mxr_b64_decode(buf, sizeof buf, b64, strlen(b64), MXR_B64_STD, &e2) : -1;
    if (n != 32)
        return mxr_err_set(err, "M_INVALID_PARAM", "public key is not standard base64 of 32 bytes%s%s",
                           n < 0 && b64 ? ": " : "", n < 0 && b64 ? e2.msg : "");
    memcpy(out, buf, 32);
    return 0;
}

void mxr_key_wipe(struct mxr_signing_key *k)
{
    sodium_memzero(k->seed, sizeof k->seed);
    sodium_memzero(k->secret_key, sizeof k->secret_key);
}
