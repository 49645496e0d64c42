#include "fedfix.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/pdu.h"
#include "relay/federation/edus.h"
#include "relay/federation/xmatrix.h"

#define DAY (24LL * 3600 * 1000)

static void wire(struct fedfix *f)
{
    f->fx.srv.store = f->rf.store;
    f->fx.srv.rooms = f->rf.rooms;
}

void fedfix_open(struct fedfix *f, const char *extra_yaml, const struct mxr_inbound_limits *limits)
{
    memset(f, 0, sizeof *f);
    fixture_init(&f->fx, "a.test", extra_yaml);
    rfx_open(&f->rf, NULL);
    /* One identity: the rooms layer signs our events with a_key; the key
     * server and the keyring speak for the same key. */
    f->fx.srv.key = f->rf.a_key;
    wire(f);
    struct mxr_err err = { 0 };
    struct mxr_inbound_limits none = { 0, 1 };
    f->fx.srv.inbound = mxr_inbound_new(limits ? limits : &none, &err);
    f->fx.srv.edus = mxr_edu_store_new(&err);
    assert_non_null(f->fx.srv.inbound);
    assert_non_null(f->fx.srv.edus);
    fixture_serve_keys(&f->fx, "b.test", fixture_key_response(&f->rf.b_key, "b.test", FIXTURE_T0 + DAY));
    fixture_serve_keys(&f->fx, "c.test", fixture_key_response(&f->rf.c_key, "c.test", FIXTURE_T0 + DAY));
}

void fedfix_close(struct fedfix *f)
{
    mxr_response_clear(&f->r);
    mxr_edu_store_free(f->fx.srv.edus);
    mxr_inbound_free(f->fx.srv.inbound);
    rfx_close(&f->rf);
    f->fx.srv.store = NULL;
    f->fx.srv.rooms = NULL;
    fixture_free(&f->fx);
}

void fedfix_reopen(struct fedfix *f)
{
    rfx_reopen(&f->rf);
    wire(f);
}

struct mxr_response *fedfix_req(struct fedfix *f, const char *server, const char *method, const char *target,
                                json_t *body)
{
    char auth[1024];
    struct mxr_err err = { 0 };
    mxr_response_clear(&f->r);
    if (server) {
        const struct mxr_signing_key *k = !strcmp(server, "b.test") ? &f->rf.b_key : &f->rf.c_key;
        assert_int_equal(mxr_xmatrix_sign(k, server, "a.test", method, target, body, auth, sizeof auth, &err), 0);
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    rfx_read_end(&f->rf);
    fixture_request(&f->fx, method, target, server ? auth : NULL, text, &f->r, NULL);
    free(text);
    return &f->r;
}

struct mxr_response *fedfix_get(struct fedfix *f, const char *server, const char *fmt, ...)
{
    char target[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(target, sizeof target, fmt, ap);
    va_end(ap);
    return fedfix_req(f, server, "GET", target, NULL);
}

const char *fedfix_q(const char *id)
{
    static char bufs[4][1024];
    static int next;
    char *out = bufs[next++ % 4];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p && o + 4 < sizeof bufs[0]; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, 4, "%%%02X", *p);
    }
    out[o] = '\0';
    return out;
}

void fedfix_join(struct fedfix *f, const char *room, const char *user, char id_out[MXR_ID_MAX + 1])
{
    const char *server = strchr(user, ':') + 1;
    struct mxr_response *r = fedfix_get(f, server, "/_matrix/federation/v1/make_join/%s/%s?ver=1&ver=2&ver=3&ver=4&"
                                        "ver=5&ver=6&ver=7&ver=8&ver=9&ver=10&ver=11&ver=12", fedfix_q(room),
                                        fedfix_q(user));
    if (r->status != 200) {
        char *d = json_dumps(r->json, 0);
        fail_msg("make_join %s: %d %s", user, r->status, d);
    }
    const struct mxr_room_version *rv = mxr_room_version_get(json_string_value(json_object_get(r->json, "room_version")), NULL);
    assert_non_null(rv);
    json_t *ev = json_deep_copy(json_object_get(r->json, "event"));
    json_object_set_new(ev, "origin", json_string(server));
    json_object_set_new(ev, "origin_server_ts", json_integer(f->rf.now));
    struct mxr_err err = { 0 };
    const struct mxr_signing_key *k = !strcmp(server, "b.test") ? &f->rf.b_key : &f->rf.c_key;
    char id[MXR_ID_MAX + 1];
    if (rv->event_format == MXR_EVFMT_V1) {
        static unsigned serial;
        snprintf(id, sizeof id, "$join%u:%s", ++serial, server);
        json_object_set_new(ev, "event_id", json_string(id));
    }
    assert_int_equal(mxr_pdu_sign(ev, rv, server, k, &err), 0);
    assert_int_equal(mxr_event_compute_id(ev, rv, id, &err), 0);
    char target[1024];
    snprintf(target, sizeof target, "/_matrix/federation/v2/send_join/%s/%s", fedfix_q(room), fedfix_q(id));
    r = fedfix_req(f, server, "PUT", target, ev);
    json_decref(ev);
    if (r->status != 200) {
        char *d = json_dumps(r->json, 0);
        fail_msg("send_join %s: %d %s", user, r->status, d);
    }
    if (id_out)
        snprintf(id_out, MXR_ID_MAX + 1, "%s", id);
}

void fedfix_room_with_bob(struct fedfix *f, const char *version, const char *preset, char room[MXR_ID_MAX + 1])
{
    rfx_room(&f->rf, version, preset ? preset : "public_chat", room);
    fedfix_join(f, room, BOB, NULL);
}

json_t *fedfix_send(struct fedfix *f, const char *server, const char *txn_id, json_t *pdus, json_t *edus)
{
    json_t *body = json_pack("{s:s, s:I, s:o}", "origin", server, "origin_server_ts", (json_int_t)f->rf.now, "pdus",
                             pdus ? pdus : json_array());
    assert_non_null(body);
    if (edus)
        json_object_set(body, "edus", edus);
    char target[512];
    snprintf(target, sizeof target, "/_matrix/federation/v1/send/%s", fedfix_q(txn_id));
    struct mxr_response *r = fedfix_req(f, server, "PUT", target, body);
    json_decref(body);
    if (r->status != 200) {
        char *d = json_dumps(r->json, 0);
        fail_msg("send %s: %d %s", txn_id, r->status, d);
    }
    json_t *res = json_object_get(r->json, "pdus");
    assert_true(json_is_object(res));
    return res;
}

bool fedfix_ok(json_t *res, const char *event_id)
{
    json_t *e = json_object_get(res, event_id);
    return json_is_object(e) && !json_object_get(e, "error");
}
