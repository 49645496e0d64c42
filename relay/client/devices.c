/* Device management (client-server API "Device management"): list, get,
 * rename, delete (user-interactive auth with the password). */
#include "relay/client/client_int.h"

#include <stdio.h>
#include <string.h>

static json_t *device_json(const struct mxr_store_device *d)
{
    json_t *o = json_pack("{s:s}", "device_id", d->device_id);
    if (o && d->has_display_name)
        json_object_set_new(o, "display_name", json_string(d->display_name));
    if (o && d->last_seen_ip[0])
        json_object_set_new(o, "last_seen_ip", json_string(d->last_seen_ip));
    if (o && d->last_seen_ts)
        json_object_set_new(o, "last_seen_ts", json_integer(d->last_seen_ts));
    return o;
}

static int add_device(void *arg, const struct mxr_store_device *d)
{
    json_array_append_new(arg, device_json(d));
    return 0;
}

void cl_h_devices(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    json_t *list = json_array();
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        json_decref(list);
        cl_store_error(req, resp, &err);
        return;
    }
    int rc = mxr_store_devices(t, req->user_id, add_device, list, &err);
    mxr_store_read_end(t);
    if (rc < 0) {
        json_decref(list);
        cl_store_error(req, resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "devices", list));
}

/* The {deviceId} parameter, or NULL after a 404 (an over-long ID cannot be
 * one of ours). */
static const char *device_param(struct mxr_request *req, struct mxr_response *resp)
{
    const char *d = mxr_req_param(req, "deviceId");
    if (!d || !*d || strlen(d) > MXR_STORE_DEVICE_ID_MAX) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown device");
        return NULL;
    }
    return d;
}

void cl_h_device_get(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *id = device_param(req, resp);
    if (!id)
        return;
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    struct mxr_store_device d;
    int rc = mxr_store_device_get(t, req->user_id, id, &d, &err);
    mxr_store_read_end(t);
    if (rc < 0)
        cl_store_error(req, resp, &err);
    else if (rc == MXR_STORE_NOT_FOUND)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown device");
    else
        mxr_resp_json(resp, 200, device_json(&d));
}

struct rename_arg {
    const char *user_id, *device_id, *name;
    int rc;
};

static int rename_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct rename_arg *a = arg;
    a->rc = mxr_store_device_set_name(t, a->user_id, a->device_id, a->name, err);
    return a->rc < 0 ? -1 : 0;
}

void cl_h_device_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *id = device_param(req, resp);
    json_t *body = id ? cl_body(req, resp) : NULL;
    if (!body)
        return;
    const char *name;
    if (cl_opt_str(body, "display_name", &name, resp) < 0)
        return;
    if (name && strlen(name) > CL_ID_MAX) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "display_name is over %d bytes", CL_ID_MAX);
        return;
    }
    if (!json_object_get(body, "display_name")) {   /* nothing to change; the device must exist */
        cl_h_device_get(req, resp);
        if (resp->status == 200)
            mxr_resp_json(resp, 200, json_object());
        return;
    }
    struct rename_arg a = {req->user_id, id, name, 0};
    struct mxr_err err = {0};
    if (cl_write(c, rename_fn, &a, &err) < 0)
        cl_store_error(req, resp, &err);
    else if (a.rc == MXR_STORE_NOT_FOUND)
        /* Creating devices is for application services only (v1.17). */
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown device");
    else
        mxr_resp_json(resp, 200, json_object());
}

/* DELETE /devices/{deviceId}: user-interactive auth (m.login.password). */
void cl_h_device_delete(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    const char *id = device_param(req, resp);
    json_t *body = id ? cl_body(req, resp) : NULL;
    if (!body)
        return;
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    struct mxr_store_device d;
    int rc = mxr_store_device_get(t, req->user_id, id, &d, &err);
    mxr_store_read_end(t);
    if (rc < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    if (rc == MXR_STORE_NOT_FOUND) {
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "Unknown device");
        return;
    }
    if (cl_uia(c, req, body, "m.login.password", req->user_id, resp) != 1)
        return;
    if (cl_delete_devices(c, req->user_id, id, NULL, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    cl_keys_device_deleted(req, id);
    mxr_resp_json(resp, 200, json_object());
}

/* POST /delete_devices {devices: [...]} (UIA); unknown devices are skipped. */
void cl_h_delete_devices(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    json_t *devs = json_object_get(body, "devices");
    if (!json_is_array(devs)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'devices' must be an array of device IDs");
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(devs, i, v) {
        if (!json_is_string(v)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "devices[%zu] is not a string", i);
            return;
        }
    }
    if (cl_uia(c, req, body, "m.login.password", req->user_id, resp) != 1)
        return;
    struct mxr_err err = {0};
    json_array_foreach(devs, i, v) {
        const char *id = json_string_value(v);
        if (!*id || strlen(id) > MXR_STORE_DEVICE_ID_MAX)
            continue;
        struct mxr_store_txn *t;
        struct mxr_store_device d;
        if (mxr_store_read_begin(c->store, &t, &err) < 0) {
            cl_store_error(req, resp, &err);
            return;
        }
        int rc = mxr_store_device_get(t, req->user_id, id, &d, &err);
        mxr_store_read_end(t);
        if (rc == 0)
            rc = cl_delete_devices(c, req->user_id, id, NULL, &err);
        if (rc < 0) {
            cl_store_error(req, resp, &err);
            return;
        }
        if (rc == 0)
            cl_keys_device_deleted(req, id);
    }
    mxr_resp_json(resp, 200, json_object());
}
