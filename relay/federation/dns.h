/* DNS SRV lookups for server discovery (glibc libresolv). */
#ifndef MXR_DNS_H
#define MXR_DNS_H

#include <stddef.h>

#include "discovery.h"

/* Matches mxr_discovery_ops.srv_lookup: records written, 0 when the name has
 * none (NXDOMAIN / NODATA), -1 on a lookup failure. Thread-safe (res_nquery). */
int mxr_dns_srv_lookup(void *ctx, const char *name, struct mxr_srv_record *out, size_t max);

/* Parses a DNS answer message (exposed for tests on captured answers). */
int mxr_dns_parse_srv_answer(const unsigned char *msg, int len, struct mxr_srv_record *out, size_t max);

#endif
