/* The inbound federation endpoints with a real store and rooms pipeline,
 * driven without sockets: the relay fixture (server context, dispatcher with
 * the real route table, fake clock and key fetches) for server "a.test",
 * backed by the rooms fixture (tests/rooms/rooms_fixture.h: store in a
 * temporary directory, remote servers b.test and c.test whose event keys
 * are injected). b.test and c.test also publish their keys to the keyring,
 * so requests signed by them pass X-Matrix. */
#ifndef MXR_TEST_RELAY_FEDFIX_H
#define MXR_TEST_RELAY_FEDFIX_H

#include <jansson.h>

#include "fixture.h"
#include "relay/federation/inbound.h"
#include "tests/rooms/rooms_fixture.h"

#define BOB "@bob:b.test"
#define CAROL "@carol:c.test"
#define ALICE "@alice:a.test"

struct fedfix {
    struct fixture fx;
    struct rfx rf;
    struct mxr_response r;      /* the last response (cleared by the next request) */
};

/* limits NULL: no rate limit. */
void fedfix_open(struct fedfix *f, const char *extra_yaml, const struct mxr_inbound_limits *limits);
void fedfix_close(struct fedfix *f);
/* Closes and reopens store and rooms on the same directory (a restart). */
void fedfix_reopen(struct fedfix *f);

/* A request signed by `server` ("b.test" or "c.test"; NULL: unsigned) with
 * body (NULL: none; the reference is kept). The response is in f->r and
 * returned. */
struct mxr_response *fedfix_req(struct fedfix *f, const char *server, const char *method, const char *target,
                                json_t *body);
/* printf-style target. */
struct mxr_response *fedfix_get(struct fedfix *f, const char *server, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Percent-encodes an ID for a path or query (static buffer, one of 4 in rotation). */
const char *fedfix_q(const char *id);

/* A room of alice on a.test (room version, preset), with bob of b.test
 * joined through make_join/send_join over the endpoints. */
void fedfix_room_with_bob(struct fedfix *f, const char *version, const char *preset, char room[MXR_ID_MAX + 1]);

/* Joins user (of b.test or c.test) through GET make_join + PUT send_join;
 * asserts 200 and returns the join's event ID in id_out (may be NULL). */
void fedfix_join(struct fedfix *f, const char *room, const char *user, char id_out[MXR_ID_MAX + 1]);

/* PUT /send with the given PDUs (NULL: none; the reference is taken) and
 * EDUs (may be NULL; borrowed) from server; asserts 200 and returns
 * f->r.json's "pdus" object. */
json_t *fedfix_send(struct fedfix *f, const char *server, const char *txn_id, json_t *pdus, json_t *edus);

/* Whether the /send response says event_id was handled without error. */
bool fedfix_ok(json_t *pdus_result, const char *event_id);

#endif
