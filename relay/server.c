#include "relay/server.h"

#include <time.h>

int64_t mxr_server_now(const struct mxr_server *srv)
{
    if (srv && srv->clock)
        return srv->clock(srv->clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mxr_server_request_id(struct mxr_server *srv, char out[24])
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint_fast64_t n = atomic_fetch_add(&srv->next_request_id, 1) + 1;
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = digits[n % 36];
        n /= 36;
    } while (n && i < 22);
    out[0] = 'r';
    for (int j = 0; j < i; j++)
        out[1 + j] = tmp[i - 1 - j];
    out[1 + i] = '\0';
}
