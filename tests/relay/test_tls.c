/* relay/http/tls.c: the self-signed pair generated at first start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "relay/http/tls.h"

static void generated_once_with_private_key_0600(void **state)
{
    char dir[] = "/tmp/mxr-test-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char crt[128], key[128];
    snprintf(crt, sizeof crt, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    struct mxr_err err = { 0 };
    int generated = -1;
    assert_int_equal(mxr_tls_ensure_selfsigned(crt, key, "hs.example:8448", &generated, &err), 0);
    assert_int_equal(generated, 1);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t len = 0;
    char *pem = mxr_read_small_file(crt, &len, &err);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
    assert_int_equal(strlen(pem), len);
    char *kpem = mxr_read_small_file(key, NULL, &err);
    assert_non_null(strstr(kpem, "PRIVATE KEY-----"));
    /* A second start keeps the pair. */
    assert_int_equal(mxr_tls_ensure_selfsigned(crt, key, "hs.example:8448", &generated, &err), 0);
    assert_int_equal(generated, 0);
    char *again = mxr_read_small_file(crt, NULL, &err);
    assert_string_equal(pem, again);
    free(again);
    free(pem);
    free(kpem);
    /* Half a pair is an error that names both files. */
    unlink(key);
    assert_int_equal(mxr_tls_ensure_selfsigned(crt, key, "hs.example:8448", &generated, &err), -1);
    assert_non_null(strstr(err.msg, "c.pem"));
    assert_non_null(strstr(err.msg, "k.pem"));
    unlink(crt);
    /* IP literal server names get an IP subjectAltName (and still work). */
    assert_int_equal(mxr_tls_ensure_selfsigned(crt, key, "[::1]:8448", &generated, &err), 0);
    unlink(crt);
    unlink(key);
    assert_int_equal(mxr_tls_ensure_selfsigned(crt, key, "bad name", &generated, &err), -1);
    rmdir(dir);
    assert_null(mxr_read_small_file("/nonexistent/file", NULL, &err));
    assert_non_null(strstr(err.msg, "/nonexistent/file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_once_with_private_key_0600),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
