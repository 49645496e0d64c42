/* The notary endpoints: GET /_matrix/key/v2/query/{serverName} and POST
 * /_matrix/key/v2/query (spec: server-server API "Querying Keys Through
 * Another Server", keys_query.yaml). Each returned response keeps the
 * origin's signature and gets ours. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/sign.h"
#include "relay/federation/federation.h"
#include "relay/federation/keyring.h"
#include "relay/server.h"

#define MAX_SERVERS_PER_QUERY 100

/* Appends server's keys, countersigned by us, to list. Servers we cannot
 * reach and know nothing about are left out, as the spec says. */
static void add_server_keys(struct mxr_request *req, const char *server, int64_t min_valid, json_t *list)
{
    struct mxr_server *srv = req->srv;
    struct mxr_err err = { 0 };
    json_t *keys;
    if (!strcmp(server, srv->cfg->server_name)) {
        keys = mxr_own_server_keys(srv, &err);   /* already signed by us */
    } else {
        json_t *origin = mxr_keyring_query(srv->keyring, server, min_valid, &err);
        keys = origin ? json_deep_copy(origin) : NULL;   /* the cached response is shared: sign a copy */
        json_decref(origin);
        if (keys && mxr_sign_json(keys, srv->cfg->server_name, &srv->key, &err) < 0) {
            json_decref(keys);
            keys = NULL;
        }
    }
    if (!keys) {
        srv_log(srv, MXR_LOG_INFO, req->id, "notary: no keys for %s: %s", server, err.msg);
        return;
    }
    json_array_append_new(list, keys);
}

/* A millisecond timestamp given as a decimal query parameter. */
static int parse_ts(const char *s, int64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 16)
        return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

void mxr_handle_key_query_get(struct mxr_request *req, struct mxr_response *resp)
{
    const char *server = mxr_req_param(req, "serverName");
    struct mxr_err err = { 0 };
    if (mxr_server_name_parse(server, NULL, &err) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "serverName: %s", err.msg);
        return;
    }
    /* If not supplied, the notary server MUST use the current time. */
    int64_t min_valid = mxr_server_now(req->srv);
    const char *q = mxr_req_query(req, "minimum_valid_until_ts");
    if (q && parse_ts(q, &min_valid) < 0) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "minimum_valid_until_ts must be a millisecond timestamp");
        return;
    }
    json_t *list = json_array();
    add_server_keys(req, server, min_valid, list);
    mxr_resp_json(resp, 200, json_pack("{s:o}", "server_keys", list));
}

void mxr_handle_key_query_post(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *query = json_object_get(req->json, "server_keys");
    if (!query) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "'server_keys' is required");
        return;
    }
    if (!json_is_object(query)) {
        mxr_resp_error(resp, 400, "M_BAD_JSON", "'server_keys' must be an object of server name -> key IDs");
        return;
    }
    if (json_object_size(query) > MAX_SERVERS_PER_QUERY) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "at most %d servers per query", MAX_SERVERS_PER_QUERY);
        return;
    }
    int64_t now = mxr_server_now(req->srv);
    const char *server;
    json_t *criteria;
    /* Validate everything before fetching anything. */
    json_object_foreach(query, server, criteria) {
        struct mxr_err err = { 0 };
        if (mxr_server_name_parse(server, NULL, &err) < 0) {
            mxr_resp_error(resp, 400, "M_INVALID_PARAM", "server_keys: %s", err.msg);
            return;
        }
        if (!json_is_object(criteria)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "server_keys.%.200s must be an object of key ID -> criteria",
                           server);
            return;
        }
        const char *key_id;
        json_t *c;
        json_object_foreach(criteria, key_id, c) {
            json_t *ts = json_object_get(c, "minimum_valid_until_ts");
            if (!json_is_object(c) || (ts && !json_is_integer(ts))) {
                mxr_resp_error(resp, 400, "M_BAD_JSON",
                               "server_keys.%.200s.%.100s must be {\"minimum_valid_until_ts\": integer}", server, key_id);
                return;
            }
        }
    }
    json_t *list = json_array();
    json_object_foreach(query, server, criteria) {
        /* The notary may return more keys than asked for: one response per
         * server, valid until the latest of the requested timestamps. */
        int64_t min_valid = INT64_MIN;
        const char *key_id;
        json_t *c;
        json_object_foreach(criteria, key_id, c) {
            json_t *ts = json_object_get(c, "minimum_valid_until_ts");
            if (ts && json_integer_value(ts) > min_valid)
                min_valid = json_integer_value(ts);
        }
        if (min_valid == INT64_MIN)   /* not supplied: the current time */
            min_valid = now;
        add_server_keys(req, server, min_valid, list);
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "server_keys", list));
}
