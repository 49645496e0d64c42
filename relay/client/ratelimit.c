/* Rate limits of the client-server API (spec: client-server API "Rate
 * limiting"; login.yaml, registration.yaml and room_send.yaml list 429
 * M_LIMIT_EXCEEDED). One token bucket per requester and kind: logins and
 * registrations are counted per IP address (they come unauthenticated),
 * messages per user. The buckets are the inbound federation limiter's
 * (relay/federation/inbound.c), keyed by the requester instead of an origin
 * server, and live in memory: a restart refills them, which costs an
 * attacker a restart of ours per burst. */
#include "relay/client/client_int.h"

#include <string.h>

#include "relay/config.h"
#include "relay/federation/inbound.h"

static const char *const KIND_NAMES[] = {
    [CL_RL_LOGIN] = "login", [CL_RL_REGISTRATION] = "registration", [CL_RL_MESSAGE] = "message",
};

_Static_assert(sizeof KIND_NAMES / sizeof KIND_NAMES[0] == sizeof ((struct mxr_client *)0)->ratelimit /
               sizeof ((struct mxr_client *)0)->ratelimit[0], "one bucket set per enum cl_rl_kind");

int cl_rl_init(struct mxr_client *c, struct mxr_err *err)
{
    const struct mxr_config *cfg = c->cfg;
    const long per_minute[] = {
        [CL_RL_LOGIN] = cfg->ratelimit_login_per_minute,
        [CL_RL_REGISTRATION] = cfg->ratelimit_registration_per_minute,
        [CL_RL_MESSAGE] = cfg->ratelimit_message_per_minute,
    };
    const long burst[] = {
        [CL_RL_LOGIN] = cfg->ratelimit_login_burst,
        [CL_RL_REGISTRATION] = cfg->ratelimit_registration_burst,
        [CL_RL_MESSAGE] = cfg->ratelimit_message_burst,
    };
    for (size_t k = 0; k < sizeof KIND_NAMES / sizeof KIND_NAMES[0]; k++) {
        if (per_minute[k] <= 0)
            continue;   /* off: no buckets, cl_rl_admit always admits */
        struct mxr_inbound_limits lim = {(double)per_minute[k] / 60.0, burst[k] > 0 ? (double)burst[k] : 1.0};
        if (!(c->ratelimit[k] = mxr_inbound_new(&lim, err))) {
            cl_rl_free(c);
            return -1;
        }
    }
    return 0;
}

void cl_rl_free(struct mxr_client *c)
{
    for (size_t k = 0; k < sizeof c->ratelimit / sizeof c->ratelimit[0]; k++) {
        mxr_inbound_free(c->ratelimit[k]);
        c->ratelimit[k] = NULL;
    }
}

/* Server admins (register-user --admin) are exempt, as Synapse exempts
 * its admins; this server has no application services to exempt. Looked up
 * only once a bucket is empty, so the common case costs no read. */
static bool is_admin(struct mxr_client *c, const char *user_id)
{
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    struct mxr_store_account a;
    if (!user_id[0] || mxr_store_read_begin(c->store, &t, &err) < 0)
        return false;
    int rc = mxr_store_account_get(t, user_id, &a, &err);
    mxr_store_read_end(t);
    return rc == 0 && (a.flags & MXR_ACCOUNT_ADMIN);
}

bool cl_rl_admit(struct mxr_client *c, enum cl_rl_kind kind, struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_inbound *in = c->ratelimit[kind];
    if (!in)
        return true;
    const char *who = req->user_id[0] ? req->user_id : req->remote && *req->remote ? req->remote : "-";
    int64_t wait = mxr_inbound_take(in, who, cl_now(c));
    if (!wait || is_admin(c, req->user_id))
        return true;
    if (c->log)
        mxr_log(c->log, MXR_LOG_INFO, req->id, "rate limit: %s is over its %s rate", who, KIND_NAMES[kind]);
    mxr_resp_error(resp, 429, "M_LIMIT_EXCEEDED", "Too many %s requests: retry in %lld ms", KIND_NAMES[kind],
                   (long long)wait);
    /* retry_after_ms in the body; the listener turns it into the
     * Retry-After header that v1.10+ clients prefer. */
    json_object_set_new(resp->json, "retry_after_ms", json_integer(wait));
    return false;
}
