#include "relay/server.h"

#include <time.h>

#include "relay/client/client.h"
#include "relay/federation/fedout.h"
#include "relay/rooms/rooms.h"

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

void mxr_server_rooms_notify(void *ctx, const struct mxr_rooms_notice *n)
{
    struct mxr_server *srv = ctx;
    if (!srv || !n)
        return;
    mxr_fedout_notify(srv->fedout, n);   /* outbound: queue our events, relay joins, fill gaps */
    mxr_client_rooms_notify(srv->client, n);   /* wake /sync long-polls */
    enum mxr_log_level level = n->outcome == MXR_PDU_ACCEPTED ? MXR_LOG_DEBUG : MXR_LOG_INFO;
    if (n->n_missing_prevs)
        srv_log(srv, MXR_LOG_INFO, NULL, "event %s in %s from %s: %s, %zu prev event(s) unknown (first %s)",
                n->event_id, n->room_id, n->origin ? n->origin : "us", mxr_rooms_outcome_name(n->outcome),
                n->n_missing_prevs, n->missing_prevs[0]);
    else
        srv_log(srv, level, NULL, "event %s in %s from %s: %s%s", n->event_id, n->room_id,
                n->origin ? n->origin : "us", mxr_rooms_outcome_name(n->outcome),
                n->remote_invite ? " (invite)" : "");
}
