/* relay/client/roomread.c GET /rooms/{roomId}/context/{eventId}
 * (event_context.yaml) with its tokens fed back to /messages, and
 * redactions in room versions 1-10 (top-level `redacts`, built by
 * relay/rooms/build.c), through the real dispatcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"

struct ct {
    struct clfix f;
    char alice[128], bob[128], carol[128];
    char room[256];
    char msg[8][256];   /* msg[1..6] in order; msg[4] is an m.room.topic */
};

static void create(struct clfix *f, const char *token, const char *body, char room_id[256])
{
    json_t *b = clfix_ok(f, 200, "POST", V3 "/createRoom", token, body);
    snprintf(room_id, 256, "%s", json_string_value(json_object_get(b, "room_id")));
    json_decref(b);
}

static void send_msg(struct clfix *f, const char *token, const char *room, const char *txn, const char *body,
                     char id[256])
{
    json_t *b = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/%s", room, txn), token,
                         clfix_fmt("{\"msgtype\":\"m.text\",\"body\":\"%s\"}", body));
    snprintf(id, 256, "%s", json_string_value(json_object_get(b, "event_id")));
    json_decref(b);
}

static int setup(void **state)
{
    static struct ct t;
    clfix_open(&t.f, NULL);
    clfix_user(&t.f, "alice", t.alice, NULL);
    clfix_user(&t.f, "bob", t.bob, NULL);
    clfix_user(&t.f, "carol", t.carol, NULL);
    create(&t.f, t.alice, "{\"preset\":\"public_chat\",\"topic\":\"t-start\"}", t.room);
    for (int i = 1; i <= 6; i++) {
        if (i == 4) {
            json_t *b = clfix_ok(&t.f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/state/m.room.topic", t.room), t.alice,
                                 "{\"topic\":\"t-mid\"}");
            snprintf(t.msg[i], 256, "%s", json_string_value(json_object_get(b, "event_id")));
            json_decref(b);
            continue;
        }
        send_msg(&t.f, t.alice, t.room, clfix_fmt("m%d", i), clfix_fmt("message %d", i), t.msg[i]);
    }
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct ct *)*state)->f);
    return 0;
}

static const char *id_at(json_t *arr, size_t i)
{
    return json_string_value(json_object_get(json_array_get(arr, i), "event_id"));
}

static const char *topic_in(json_t *state)
{
    size_t i;
    json_t *e;
    json_array_foreach(state, i, e)
        if (!strcmp(json_string_value(json_object_get(e, "type")), "m.room.topic"))
            return json_string_value(json_object_get(json_object_get(e, "content"), "topic"));
    return NULL;
}

static void context_around_an_event(void **state)
{
    struct ct *t = *state;
    struct clfix *f = &t->f;
    json_t *b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/context/%s?limit=4", t->room, t->msg[3]), t->alice, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "event"), "event_id")), t->msg[3]);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "event"), "room_id")), t->room);
    json_t *before = json_object_get(b, "events_before"), *after = json_object_get(b, "events_after");
    assert_int_equal(json_array_size(before), 2);   /* reverse-chronological */
    assert_string_equal(id_at(before, 0), t->msg[2]);
    assert_string_equal(id_at(before, 1), t->msg[1]);
    assert_int_equal(json_array_size(after), 2);    /* chronological */
    assert_string_equal(id_at(after, 0), t->msg[4]);
    assert_string_equal(id_at(after, 1), t->msg[5]);
    /* the state at the last event returned: after the topic change */
    assert_string_equal(topic_in(json_object_get(b, "state")), "t-mid");
    char start[64], end[64];
    snprintf(start, sizeof start, "%s", json_string_value(json_object_get(b, "start")));
    snprintf(end, sizeof end, "%s", json_string_value(json_object_get(b, "end")));
    json_decref(b);

    /* The tokens continue in /messages: forwards from end is msg 6, backwards
     * from start is what lies before msg 1. */
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/messages?dir=f&limit=5&from=%s", t->room, end), t->alice, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "chunk")), 1);
    assert_string_equal(id_at(json_object_get(b, "chunk"), 0), t->msg[6]);
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/context/%s?limit=2", t->room, t->msg[1]), t->alice, NULL);
    char prior[256];
    snprintf(prior, sizeof prior, "%s", id_at(json_object_get(b, "events_before"), 0));
    assert_string_equal(id_at(json_object_get(b, "events_after"), 0), t->msg[2]);
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/messages?dir=b&limit=1&from=%s", t->room, start), t->alice, NULL);
    assert_string_equal(id_at(json_object_get(b, "chunk"), 0), prior);
    json_decref(b);

    /* limit 0: the event alone, and the state at it (before the topic change) */
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/context/%s?limit=0", t->room, t->msg[3]), t->alice, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "events_before")), 0);
    assert_int_equal(json_array_size(json_object_get(b, "events_after")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "event"), "event_id")), t->msg[3]);
    assert_string_equal(topic_in(json_object_get(b, "state")), "t-start");
    json_decref(b);
    /* the default limit (10) splits 5 before and 5 after; the room's end stops it */
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/context/%s", t->room, t->msg[6]), t->alice, NULL);
    assert_int_equal(json_array_size(json_object_get(b, "events_before")), 5);
    assert_int_equal(json_array_size(json_object_get(b, "events_after")), 0);
    json_decref(b);
    /* a filter applies to the surrounding events and the state */
    b = clfix_ok(f, 200, "GET",
                 clfix_fmt(V3 "/rooms/%s/context/%s?limit=20&filter=%%7B%%22types%%22%%3A%%5B%%22m.room.message%%22%%5D%%7D",
                           t->room, t->msg[5]),
                 t->alice, NULL);
    json_t *bf = json_object_get(b, "events_before");
    assert_int_equal(json_array_size(bf), 3);   /* msgs 3, 2, 1: the topic and creation events filtered out */
    assert_string_equal(id_at(bf, 0), t->msg[3]);
    assert_int_equal(json_array_size(json_object_get(b, "state")), 0);
    json_decref(b);
}

static void context_errors(void **state)
{
    struct ct *t = *state;
    struct clfix *f = &t->f;
    clfix_error(f, 400, "M_INVALID_PARAM", "GET", clfix_fmt(V3 "/rooms/%s/context/%s?limit=-1", t->room, t->msg[3]),
                t->alice, NULL);
    clfix_error(f, 400, "M_INVALID_PARAM", "GET", clfix_fmt(V3 "/rooms/%s/context/%s?filter=nope", t->room, t->msg[3]),
                t->alice, NULL);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/rooms/%s/context/$nope", t->room), t->alice, NULL);
    clfix_error(f, 403, "M_FORBIDDEN", "GET", clfix_fmt(V3 "/rooms/%s/context/%s", t->room, t->msg[3]), t->bob, NULL);
    clfix_error(f, 401, "M_UNKNOWN_TOKEN", "GET", clfix_fmt(V3 "/rooms/%s/context/%s", t->room, t->msg[3]), "mxr_x", NULL);
    clfix_error(f, 400, "M_INVALID_PARAM", "GET", clfix_fmt(V3 "/rooms/nope/context/%s", t->msg[3]), t->alice, NULL);
    /* an event of another room is not found through this one */
    char other[256];
    create(f, t->alice, "{}", other);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/rooms/%s/context/%s", other, t->msg[3]), t->alice, NULL);

    /* bob joined, left: his view ends at his leave */
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", t->room), t->bob, NULL));
    char seen[256], unseen[256];
    send_msg(f, t->alice, t->room, "b1", "while bob is here", seen);
    json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/leave", t->room), t->bob, NULL));
    send_msg(f, t->alice, t->room, "b2", "after bob left", unseen);
    json_t *b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/context/%s", t->room, seen), t->bob, NULL);
    json_t *after = json_object_get(b, "events_after");
    assert_int_equal(json_array_size(after), 1);   /* his leave, not alice's later message */
    assert_string_equal(json_string_value(json_object_get(json_array_get(after, 0), "type")), "m.room.member");
    json_decref(b);
    clfix_error(f, 404, "M_NOT_FOUND", "GET", clfix_fmt(V3 "/rooms/%s/context/%s", t->room, unseen), t->bob, NULL);
}

/* Percent-encodes an event ID for a path (room version 3 IDs hold '/' and '+'). */
static const char *enc(const char *id)
{
    static char out[2][768];
    static int n;
    char *o = out[n++ % 2], *p = o;
    for (; *id; id++)
        p += strchr("/+$:", *id) ? sprintf(p, "%%%02X", (unsigned char)*id) : sprintf(p, "%c", *id);
    return o;
}

/* Room versions 1-10 put `redacts` at the top level: redacting works there
 * and the redaction event carries it (client format: top level too). */
static void redactions_before_v11(void **state)
{
    struct ct *t = *state;
    struct clfix *f = &t->f;
    const char *versions[] = {"1", "3", "10", "11"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        char room[256], id[256];
        create(f, t->alice, clfix_fmt("{\"room_version\":\"%s\",\"preset\":\"public_chat\"}", versions[i]), room);
        json_decref(clfix_ok(f, 200, "POST", clfix_fmt(V3 "/rooms/%s/join", room), t->carol, NULL));
        send_msg(f, t->alice, room, clfix_fmt("rv%zu", i), "secret", id);
        /* carol (power 0) may not redact alice's message */
        clfix_error(f, 403, "M_FORBIDDEN", "PUT", clfix_fmt(V3 "/rooms/%s/redact/%s/c%zu", room, enc(id), i), t->carol, "{}");
        json_t *r = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/redact/%s/x%zu", room, enc(id), i), t->alice,
                             "{\"reason\":\"oops\"}");
        const char *rid = json_string_value(json_object_get(r, "event_id"));
        json_t *ev = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/event/%s", room, enc(id)), t->carol, NULL);
        assert_int_equal(json_object_size(json_object_get(ev, "content")), 0);   /* pruned */
        json_t *because = json_object_get(json_object_get(ev, "unsigned"), "redacted_because");
        assert_string_equal(json_string_value(json_object_get(because, "event_id")), rid);
        json_decref(ev);
        json_t *red = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/rooms/%s/event/%s", room, enc(rid)), t->carol, NULL);
        json_t *content = json_object_get(red, "content");
        assert_string_equal(json_string_value(json_object_get(content, "reason")), "oops");
        if (strcmp(versions[i], "11") != 0) {
            assert_string_equal(json_string_value(json_object_get(red, "redacts")), id);
            assert_null(json_object_get(content, "redacts"));
        } else {
            assert_string_equal(json_string_value(json_object_get(content, "redacts")), id);
        }
        json_decref(red);
        json_decref(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(context_around_an_event),
        cmocka_unit_test(context_errors),
        cmocka_unit_test(redactions_before_v11),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
