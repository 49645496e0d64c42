/* The HTTPS test server (see https_fixture.h). */
#include "tests/relay/https_fixture.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/http/tls.h"

struct https_server {
    struct MHD_Daemon *d;
    https_handler_fn fn;
    void *ctx;
    char cert_path[512];
    char *cert, *key;
    atomic_uint connections;
};

struct req_state {
    bool started;               /* the first call (headers only) was seen */
    char *target;
    char *body;
    size_t len;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)cls;
    (void)con;
    struct req_state *r = calloc(1, sizeof *r);
    if (r)
        r->target = strdup(uri ? uri : "");
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)con;
    (void)t;
    struct req_state *r = *con_cls;
    if (r) {
        free(r->target);
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)con;
    (void)socket_context;
    struct https_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    struct https_server *s = cls;
    struct req_state *r = *con_cls;
    if (!r)
        return MHD_NO;
    if (!r->started) {
        r->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        char *nb = realloc(r->body, r->len + *upload_size + 1);
        if (!nb)
            return MHD_NO;
        memcpy(nb + r->len, upload_data, *upload_size);
        r->body = nb;
        r->len += *upload_size;
        r->body[r->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    struct https_request req = {
        .method = method,
        .target = r->target,
        .host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host"),
        .authorization = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization"),
        .body = r->body ? r->body : "",
        .body_len = r->len,
    };
    struct https_reply reply = { .status = 200 };
    s->fn(s->ctx, &req, &reply);
    size_t len = reply.body ? (reply.body_len ? reply.body_len : strlen(reply.body)) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, reply.body ? reply.body : (void *)"",
                                                                reply.body ? MHD_RESPMEM_MUST_FREE
                                                                           : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    for (int i = 0; i < 4 && reply.headers[i][0]; i++)
        MHD_add_response_header(resp, reply.headers[i][0], reply.headers[i][1]);
    enum MHD_Result rc = MHD_queue_response(con, (unsigned)reply.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

struct https_server *https_start(const char *dir, https_handler_fn fn, void *ctx)
{
    struct https_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fn = fn;
    s->ctx = ctx;
    char key_path[512];
    snprintf(s->cert_path, sizeof s->cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    struct mxr_err err = { 0 };
    int generated;
    if (mxr_tls_ensure_selfsigned(s->cert_path, key_path, "localhost", &generated, &err) < 0 ||
        !(s->cert = mxr_read_small_file(s->cert_path, NULL, &err)) ||
        !(s->key = mxr_read_small_file(key_path, NULL, &err))) {
        fprintf(stderr, "https_start: %s\n", err.msg);
        https_stop(s);
        return NULL;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_HTTPS_MEM_CERT, s->cert, MHD_OPTION_HTTPS_MEM_KEY, s->key,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                            on_connection, s, MHD_OPTION_END);
    if (!s->d) {
        fprintf(stderr, "https_start: MHD_start_daemon failed\n");
        https_stop(s);
        return NULL;
    }
    return s;
}

void https_stop(struct https_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s->cert);
    free(s->key);
    free(s);
}

int https_port(const struct https_server *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? (int)i->port : -1;
}

const char *https_ca_file(const struct https_server *s)
{
    return s->cert_path;
}

unsigned https_connections(const struct https_server *s)
{
    return atomic_load(&((struct https_server *)s)->connections);
}
