/* Self-signed certificates with GnuTLS (the only file that includes it). */
#include "relay/http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mxr/ids.h"

char *mxr_read_small_file(const char *path, size_t *len, struct mxr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mxr_err_set(err, "M_UNKNOWN", "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1u << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            mxr_err_set(err, "M_UNKNOWN", "%s: read error: %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n == cap) {
            mxr_err_set(err, "M_UNKNOWN", "%s: larger than 1 MiB", path);
            goto fail;
        }
    }
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

static int write_new_file(const char *path, const void *data, size_t len, mode_t mode, struct mxr_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return mxr_err_set(err, "M_UNKNOWN", "%s: cannot create: %s", path, strerror(errno));
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return mxr_err_set(err, "M_UNKNOWN", "%s: write error: %s", path, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        unlink(path);
        return mxr_err_set(err, "M_UNKNOWN", "%s: cannot flush: %s", path, strerror(errno));
    }
    return 0;
}

#define GT(call)                                                                        \
    do {                                                                                \
        int gt_rc_ = (call);                                                            \
        if (gt_rc_ < 0) {                                                               \
            mxr_err_set(err, "M_UNKNOWN", "GnuTLS %s: %s", #call, gnutls_strerror(gt_rc_)); \
            goto out;                                                                   \
        }                                                                               \
    } while (0)

static int generate(const char *cert_path, const char *key_path, const struct mxr_server_name *sn,
                    struct mxr_err *err)
{
    int rc = -1;
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
    unsigned char serial[16];
    time_t now = time(NULL);

    GT(gnutls_x509_privkey_init(&key));
    GT(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
    GT(gnutls_x509_crt_init(&crt));
    GT(gnutls_x509_crt_set_version(crt, 3));
    GT(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial));
    serial[0] &= 0x7f;   /* a positive INTEGER */
    GT(gnutls_x509_crt_set_serial(crt, serial, sizeof serial));
    GT(gnutls_x509_crt_set_activation_time(crt, now - 3600));
    GT(gnutls_x509_crt_set_expiration_time(crt, now + 10L * 365 * 24 * 3600));
    GT(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, sn->host, (unsigned)strlen(sn->host)));
    if (sn->kind == MXR_HOST_DNS) {
        GT(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, sn->host, (unsigned)strlen(sn->host),
                                                GNUTLS_FSAN_APPEND));
    } else {
        unsigned char ip[16];
        int v6 = sn->kind == MXR_HOST_IPV6;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, sn->host, ip) != 1) {
            mxr_err_set(err, "M_UNKNOWN", "'%s' is not an IP address", sn->host);
            goto out;
        }
        GT(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, v6 ? 16 : 4, GNUTLS_FSAN_APPEND));
    }
    GT(gnutls_x509_crt_set_basic_constraints(crt, 0, -1));
    GT(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
    GT(gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
    GT(gnutls_x509_crt_set_key(crt, key));
    unsigned char kid[64];
    size_t kid_len = sizeof kid;
    GT(gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len));
    GT(gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len));
    GT(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0));
    GT(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem));
    GT(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &key_pem));
    if (write_new_file(key_path, key_pem.data, key_pem.size, 0600, err) < 0)
        goto out;
    if (write_new_file(cert_path, cert_pem.data, cert_pem.size, 0644, err) < 0) {
        unlink(key_path);
        goto out;
    }
    rc = 0;
out:
    gnutls_free(cert_pem.data);
    if (key_pem.data) {
        memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return rc;
}

int mxr_tls_ensure_selfsigned(const char *cert_path, const char *key_path, const char *server_name, int *generated,
                              struct mxr_err *err)
{
    struct stat st;
    bool have_cert = stat(cert_path, &st) == 0, have_key = stat(key_path, &st) == 0;
    *generated = 0;
    if (have_cert && have_key)
        return 0;
    if (have_cert != have_key)
        return mxr_err_set(err, "M_UNKNOWN", "%s exists but %s does not: remove the other one to regenerate the pair",
                           have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
    struct mxr_server_name sn;
    if (mxr_server_name_parse(server_name, &sn, err) < 0)
        return -1;
    if (generate(cert_path, key_path, &sn, err) < 0)
        return -1;
    *generated = 1;
    return 0;
}
