/* PUT /sendToDevice/{eventType}/{txnId} (to_device.yaml; client-server API
 * "Send-to-Device messaging"; server-server API "Send-to-device messaging").
 *
 * Local recipients get the message in their devices' durable inboxes ("*":
 * every device of the user; unknown devices get nothing), in the same write
 * that records the transaction ID, so a retry of (device, txnId) finds the
 * record and delivers nothing twice. Recipients on other servers are
 * grouped by server: one m.direct_to_device EDU each, queued (durably) on
 * the outbound sender after the commit. */
#include "relay/client/client_int.h"
#include "relay/client/ephemeral.h"

#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "relay/federation/fedout.h"
#include "relay/federation/sender.h"
#include "relay/server.h"
#include "relay/store/edus.h"

#define SCOPE "sendToDevice"
#define MESSAGE_ID_LEN 24   /* m.direct_to_device: message_id at most 32 codepoints */

struct td_arg {
    const char *user_id, *device_id, *txn_id, *type;
    json_t *local;        /* user -> {device: content} */
    bool replay;          /* set by the write: the transaction was seen before */
};

static int td_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct td_arg *a = arg;
    const char *prev;
    size_t len;
    a->replay = false;   /* the write may run again on a fresh transaction */
    int rc = mxr_store_client_txn_get(t, a->user_id, a->device_id, SCOPE, a->txn_id, &prev, &len, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        a->replay = true;
        return 0;
    }
    const char *user, *device;
    json_t *per_user, *content;
    json_object_foreach(a->local, user, per_user) {
        json_object_foreach(per_user, device, content) {
            char *text = json_dumps(content, JSON_COMPACT);
            rc = text ? mxr_store_todevice_deliver(t, user, device, a->user_id, a->type, text, strlen(text), NULL, err)
                      : mxr_err_set(err, "M_UNKNOWN", "out of memory");
            free(text);
            if (rc < 0)
                return -1;
        }
    }
    return mxr_store_client_txn_put(t, a->user_id, a->device_id, SCOPE, a->txn_id, "{}", 2, err);
}

/* Checks messages ({user: {device: object}}) and splits it into the local
 * part and, per other server, the remote part. 0, or -1 after a 400. */
static int split(struct mxr_client *c, json_t *messages, json_t *local, json_t *remote, struct mxr_response *resp)
{
    const char *user, *device;
    json_t *per_user, *content;
    json_object_foreach(messages, user, per_user) {
        if (mxr_id_check_user(user, MXR_USER_HISTORICAL, NULL) < 0 || !json_is_object(per_user)) {
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "messages: '%.100s' must be a user ID mapping device IDs "
                           "to message objects (to_device.yaml)", user);
            return -1;
        }
        json_object_foreach(per_user, device, content) {
            if (!json_is_object(content) || !device[0]) {
                mxr_resp_error(resp, 400, "M_BAD_JSON", "messages.%.100s.%.100s must be an object (the message "
                               "content) under a non-empty device ID or \"*\"", user, device);
                return -1;
            }
        }
        if (cl_is_local(c, user)) {
            json_object_set(local, user, per_user);
        } else {
            json_t *dest = json_object_get(remote, mxr_id_domain(user));
            if (!dest) {
                dest = json_object();
                json_object_set_new(remote, mxr_id_domain(user), dest);
            }
            json_object_set(dest, user, per_user);
        }
    }
    return 0;
}

/* One m.direct_to_device EDU per destination server (server-server API
 * "Send-to-device messaging"). Failures are logged: the local part is
 * delivered and the client cannot do better by retrying. */
static void send_remote(struct mxr_request *req, const char *type, json_t *remote)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_sender *sender = req->srv->fedout ? mxr_fedout_sender(req->srv->fedout) : NULL;
    const char *dest;
    json_t *messages;
    json_object_foreach(remote, dest, messages) {
        struct mxr_err err = {0};
        char mid[MESSAGE_ID_LEN + 1];
        cl_random_token(mid, MESSAGE_ID_LEN);
        json_t *edu = json_pack("{s:s, s:{s:s, s:s, s:s, s:O}}", "edu_type", "m.direct_to_device", "content",
                                "sender", req->user_id, "type", type, "message_id", mid, "messages", messages);
        int rc = !sender ? mxr_err_set(&err, "M_UNKNOWN", "no outbound federation")
                 : !edu  ? mxr_err_set(&err, "M_UNKNOWN", "out of memory")
                         : mxr_sender_queue_edu(sender, edu, &dest, 1, &err);
        if (rc < 0 && c->log)
            mxr_log(c->log, MXR_LOG_WARN, req->id, "to-device message for %s not queued: %s", dest, err.msg);
        json_decref(edu);
    }
}

void cl_h_send_to_device(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *type = mxr_req_param(req, "eventType"), *txn = mxr_req_param(req, "txnId");
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    if (!type || !*type || strlen(type) > CL_ID_MAX || !txn || !*txn || strlen(txn) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "event type and transaction ID must be 1 to 255 bytes");
        return;
    }
    json_t *messages = json_object_get(body, "messages");
    if (!json_is_object(messages)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'messages' (object of user IDs) is required (to_device.yaml)");
        return;
    }
    json_t *local = json_object(), *remote = json_object();
    struct td_arg a = {req->user_id, req->device_id, txn, type, local, false};
    struct mxr_err err = {0};
    if (!local || !remote)
        mxr_resp_error(resp, 500, "M_UNKNOWN", "out of memory");
    else if (split(c, messages, local, remote, resp) == 0) {
        if (cl_write(c, td_fn, &a, &err) < 0) {
            cl_store_error(req, resp, &err);
        } else {
            if (!a.replay) {
                send_remote(req, type, remote);
                cl_wake(c);
            }
            mxr_resp_json(resp, 200, json_object());
        }
    }
    json_decref(local);
    json_decref(remote);
}
