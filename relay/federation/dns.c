/* SRV resolution with res_nquery + ns_parserr (RFC 2782 records). */
#include "dns.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

int mxr_dns_parse_srv_answer(const unsigned char *msg, int len, struct mxr_srv_record *out, size_t max)
{
    ns_msg handle;
    if (ns_initparse(msg, len, &handle) < 0)
        return -1;
    int count = ns_msg_count(handle, ns_s_an);
    size_t n = 0;
    for (int i = 0; i < count && n < max; i++) {
        ns_rr rr;
        if (ns_parserr(&handle, ns_s_an, i, &rr) < 0)
            return -1;
        if (ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
            continue;                       /* CNAMEs in the chain etc. */
        const unsigned char *rd = ns_rr_rdata(rr);
        struct mxr_srv_record *r = &out[n];
        r->priority = (uint16_t)ns_get16(rd);
        r->weight = (uint16_t)ns_get16(rd + 2);
        r->port = (uint16_t)ns_get16(rd + 4);
        if (dn_expand(ns_msg_base(handle), ns_msg_end(handle), rd + 6, r->target, sizeof r->target) < 0)
            return -1;
        if (r->target[0] == '\0')          /* root label: "service not available" */
            memcpy(r->target, ".", 2);
        n++;
    }
    return (int)n;
}

int mxr_dns_srv_lookup(void *ctx, const char *name, struct mxr_srv_record *out, size_t max)
{
    (void)ctx;
    struct __res_state rs;
    memset(&rs, 0, sizeof rs);
    if (res_ninit(&rs) != 0)
        return -1;
    unsigned char answer[NS_PACKETSZ * 16];
    int len = res_nquery(&rs, name, ns_c_in, ns_t_srv, answer, sizeof answer);
    int herr = rs.res_h_errno;
    res_nclose(&rs);
    if (len < 0)
        return (herr == HOST_NOT_FOUND || herr == NO_DATA) ? 0 : -1;
    return mxr_dns_parse_srv_answer(answer, len, out, max);
}
