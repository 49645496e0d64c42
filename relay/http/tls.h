/* TLS material for the https listeners: loading PEM files and, when the
 * configuration names none, a self-signed pair generated once (GnuTLS) so
 * that federation works out of the box on a test machine. */
#ifndef MXR_RELAY_TLS_H
#define MXR_RELAY_TLS_H

#include <stddef.h>

#include "mxr/error.h"

/* Creates cert_path and key_path (key mode 0600) with a fresh self-signed
 * ECDSA P-256 certificate for server_name's host (DNS or IP subjectAltName),
 * valid ten years, unless both exist already. *generated tells which. One
 * existing without the other is an error. */
int mxr_tls_ensure_selfsigned(const char *cert_path, const char *key_path, const char *server_name, int *generated,
                              struct mxr_err *err);

/* The whole file, NUL-terminated, malloc'd (at most 1 MiB). */
char *mxr_read_small_file(const char *path, size_t *len, struct mxr_err *err);

#endif
