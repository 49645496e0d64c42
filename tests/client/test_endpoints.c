/* relay/client: every route of relay/client/routes.c (those of accounts,
 * devices, rooms, state, profiles, account data, filters, directory and
 * /sync) answers at least one request successfully and refuses at least one
 * with the status and errcode the spec's OpenAPI description
 * (data/api/client-server, one yaml per area) gives: bad or missing token, forbidden,
 * malformed body, unknown room/event/user. Table-driven, through the real
 * dispatcher; rows run in order, so later rows see what earlier ones did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tests/client/clfix.h"

#define V3 "/_matrix/client/v3"
#define R0 "/_matrix/client/r0"

enum who { NOBODY, ALICE, BOB, BAD, CAROL, ALICE2, DAVE };

/* A 2xx row names a member its answer must have (the spec's required
 * response field; "[]": a non-empty array), an error row the errcode;
 * "UIA" is the 401 of user-interactive auth, which carries flows instead
 * of an errcode. */
struct row {
    const char *method;
    const char *target;      /* {R} public room, {P} private room, {E} an event of {R}, {D} alice's device,
                              * {F} alice's filter, {N} a shared-secret nonce */
    enum who who;
    const char *body;
    int status;
    const char *expect;
};

struct et {
    struct clfix f;
    char tok[7][128];
    char alice_dev[160], alice2_dev[160];
    char room[256], priv[256], event[256], filter[64], nonce[64];
};

#define PW_ALICE "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"alice\"}," \
                 "\"password\":\"pw-alice\"}"

static const struct row ROWS[] = {
    /* versions.yaml, wellknown.yaml, capabilities.yaml, login.yaml (GET) */
    {"GET", "/_matrix/client/versions", NOBODY, NULL, 200, "versions"},
    {"POST", "/_matrix/client/versions", NOBODY, "{}", 405, "M_UNRECOGNIZED"},
    {"GET", "/.well-known/matrix/client", NOBODY, NULL, 200, "m.homeserver"},
    {"PUT", "/.well-known/matrix/client", NOBODY, "{}", 405, "M_UNRECOGNIZED"},
    {"GET", V3 "/capabilities", ALICE, NULL, 200, "capabilities"},
    {"GET", V3 "/capabilities", NOBODY, NULL, 401, "M_MISSING_TOKEN"},
    {"GET", V3 "/capabilities", BAD, NULL, 401, "M_UNKNOWN_TOKEN"},
    {"GET", V3 "/login", NOBODY, NULL, 200, "flows"},
    {"DELETE", V3 "/login", NOBODY, NULL, 405, "M_UNRECOGNIZED"},

    /* login.yaml (POST) */
    {"POST", V3 "/login", NOBODY, PW_ALICE, 200, "access_token"},
    {"POST", R0 "/login", NOBODY, PW_ALICE, 200, "device_id"},
    {"POST", V3 "/login", NOBODY, "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                                  "\"user\":\"alice\"},\"password\":\"wrong\"}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/login", NOBODY, "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\","
                                  "\"user\":\"nobody\"},\"password\":\"x\"}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/login", NOBODY, "{\"type\":7}", 400, "M_BAD_JSON"},
    {"POST", V3 "/login", NOBODY, "{\"type\":\"m.login.token\",\"token\":\"x\"}", 400, "M_UNKNOWN"},
    {"POST", V3 "/login", NOBODY, "{not json", 400, "M_NOT_JSON"},
    {"POST", V3 "/login", NOBODY, "[1]", 400, "M_NOT_JSON"},

    /* registration.yaml */
    {"POST", V3 "/register", NOBODY, "{\"username\":\"erin\",\"password\":\"pw\"}", 401, "UIA"},
    {"POST", V3 "/register", NOBODY, "{\"username\":\"erin\",\"password\":\"pw\",\"auth\":{\"type\":"
                                     "\"m.login.dummy\"}}", 200, "user_id"},
    {"POST", V3 "/register", NOBODY, "{\"username\":\"erin\",\"password\":\"pw\",\"auth\":{\"type\":"
                                     "\"m.login.dummy\"}}", 400, "M_USER_IN_USE"},
    {"POST", V3 "/register", NOBODY, "{\"username\":\"Not Valid\",\"password\":\"pw\"}", 400,
     "M_INVALID_USERNAME"},
    {"POST", V3 "/register", NOBODY, "{\"username\":5,\"password\":\"pw\"}", 400, "M_BAD_JSON"},
    {"POST", V3 "/register?kind=guest", NOBODY, "{}", 403, "M_GUEST_ACCESS_FORBIDDEN"},
    {"POST", V3 "/register?kind=robot", NOBODY, "{}", 400, "M_INVALID_PARAM"},
    {"GET", V3 "/register/available?username=frank", NOBODY, NULL, 200, "available"},
    {"GET", V3 "/register/available?username=erin", NOBODY, NULL, 400, "M_USER_IN_USE"},
    {"GET", V3 "/register/available", NOBODY, NULL, 400, "M_MISSING_PARAM"},
    {"GET", V3 "/register/available?username=%40x%3Aother.test", NOBODY, NULL, 400, "M_INVALID_USERNAME"},

    /* admin.yaml is Synapse's: shared-secret registration */
    {"GET", "/_synapse/admin/v1/register", NOBODY, NULL, 200, "nonce"},
    {"POST", "/_synapse/admin/v1/register", NOBODY,
     "{\"nonce\":\"{N}\",\"username\":\"gina\",\"password\":\"p\",\"admin\":false,"
     "\"mac\":\"0000000000000000000000000000000000000000\"}", 403, "M_FORBIDDEN"},

    /* whoami.yaml */
    {"GET", V3 "/account/whoami", ALICE, NULL, 200, "user_id"},
    {"GET", R0 "/account/whoami", ALICE, NULL, 200, "user_id"},
    {"GET", V3 "/account/whoami", BAD, NULL, 401, "M_UNKNOWN_TOKEN"},
    {"GET", V3 "/account/whoami", NOBODY, NULL, 401, "M_MISSING_TOKEN"},

    /* device_management.yaml */
    {"GET", V3 "/devices", ALICE, NULL, 200, "devices"},
    {"GET", V3 "/devices", BAD, NULL, 401, "M_UNKNOWN_TOKEN"},
    {"GET", V3 "/devices/{D}", ALICE, NULL, 200, "device_id"},
    {"GET", V3 "/devices/NOSUCHDEVICE", ALICE, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/devices/{D}", BOB, NULL, 404, "M_NOT_FOUND"},
    {"PUT", V3 "/devices/{D}", ALICE, "{\"display_name\":\"laptop\"}", 200, NULL},
    {"PUT", V3 "/devices/{D}", ALICE, "{\"display_name\":5}", 400, "M_BAD_JSON"},
    {"PUT", V3 "/devices/NOSUCHDEVICE", ALICE, "{\"display_name\":\"x\"}", 404, "M_NOT_FOUND"},
    {"PUT", V3 "/devices/{D}", NOBODY, "{}", 401, "M_MISSING_TOKEN"},
    {"POST", V3 "/delete_devices", ALICE, "{\"devices\":[\"NOSUCHDEVICE\"]}", 401, "UIA"},
    {"POST", V3 "/delete_devices", ALICE, "{\"devices\":\"NOSUCHDEVICE\"}", 400, "M_BAD_JSON"},
    {"POST", V3 "/delete_devices", ALICE, "{\"devices\":[\"NOSUCHDEVICE\"],\"auth\":" PW_ALICE "}", 200, NULL},
    {"POST", V3 "/delete_devices", BAD, "{\"devices\":[]}", 401, "M_UNKNOWN_TOKEN"},
    {"DELETE", V3 "/devices/NOSUCHDEVICE", ALICE, "{\"auth\":" PW_ALICE "}", 404, "M_NOT_FOUND"},
    {"DELETE", V3 "/devices/{D}", ALICE, NULL, 401, "UIA"},
    {"DELETE", V3 "/devices/{D}", ALICE, "{\"auth\":{\"type\":\"m.login.password\",\"identifier\":{\"type\":"
                                         "\"m.id.user\",\"user\":\"alice\"},\"password\":\"bad\"}}", 401, "UIA"},

    /* create_room.yaml */
    {"POST", V3 "/createRoom", ALICE, "{\"preset\":\"public_chat\",\"name\":\"x\"}", 200, "room_id"},
    {"POST", V3 "/createRoom", ALICE, "{\"preset\":\"no_such_preset\"}", 400, "M_INVALID_PARAM"},
    {"POST", V3 "/createRoom", ALICE, "{\"room_version\":\"999\"}", 400, "M_UNSUPPORTED_ROOM_VERSION"},
    {"POST", V3 "/createRoom", ALICE, "[]", 400, "M_NOT_JSON"},
    {"POST", V3 "/createRoom", NOBODY, "{}", 401, "M_MISSING_TOKEN"},

    /* joining.yaml, inviting.yaml */
    {"POST", V3 "/join/{R}", BOB, "{}", 200, "room_id"},
    {"POST", V3 "/join/!unknown:hs.test", BOB, "{}", 404, "M_NOT_FOUND"},
    {"POST", V3 "/join/{P}", BOB, "{}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/join/nonsense", BOB, "{}", 400, "M_INVALID_PARAM"},
    {"POST", V3 "/rooms/{P}/join", BOB, "{}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/rooms/!unknown:hs.test/join", BOB, "{}", 404, "M_NOT_FOUND"},
    {"POST", V3 "/rooms/{P}/invite", BOB, "{\"user_id\":\"@carol:hs.test\"}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/rooms/{P}/invite", ALICE, "{}", 400, "M_MISSING_PARAM"},
    {"POST", V3 "/rooms/{P}/invite", ALICE, "{\"user_id\":5}", 400, "M_BAD_JSON"},
    {"POST", V3 "/rooms/{P}/invite", ALICE, "{\"user_id\":\"@carol:hs.test\"}", 200, NULL},
    {"POST", V3 "/rooms/{P}/join", CAROL, "{}", 200, "room_id"},

    /* room_send.yaml */
    {"PUT", V3 "/rooms/{R}/send/m.room.message/t1", BOB, "{\"msgtype\":\"m.text\",\"body\":\"hi\"}", 200,
     "event_id"},
    {"PUT", V3 "/rooms/{P}/send/m.room.message/t2", BOB, "{\"msgtype\":\"m.text\",\"body\":\"hi\"}", 403,
     "M_FORBIDDEN"},
    {"PUT", V3 "/rooms/!unknown:hs.test/send/m.room.message/t3", BOB, "{}", 404, "M_NOT_FOUND"},
    {"PUT", V3 "/rooms/{R}/send/m.room.message/t4", BOB, "[\"x\"]", 400, "M_NOT_JSON"},
    {"PUT", V3 "/rooms/{R}/send/m.room.message/t5", BAD, "{}", 401, "M_UNKNOWN_TOKEN"},
    {"PUT", V3 "/rooms/not-a-room/send/m.room.message/t6", BOB, "{}", 400, "M_INVALID_PARAM"},

    /* room_state.yaml (PUT) */
    {"PUT", V3 "/rooms/{R}/state/m.room.topic", ALICE, "{\"topic\":\"t\"}", 200, "event_id"},
    {"PUT", V3 "/rooms/{R}/state/m.room.topic/", ALICE, "{\"topic\":\"t2\"}", 200, "event_id"},
    {"PUT", V3 "/rooms/{R}/state/m.room.topic", BOB, "{\"topic\":\"no\"}", 403, "M_FORBIDDEN"},
    {"PUT", V3 "/rooms/{R}/state/org.example.x/key", ALICE, "{\"a\":1}", 200, "event_id"},
    {"PUT", V3 "/rooms/{R}/state/org.example.x/key", ALICE, "5", 400, "M_NOT_JSON"},
    {"PUT", V3 "/rooms/{R}/state/m.room.topic/", BOB, "{\"topic\":\"no\"}", 403, "M_FORBIDDEN"},
    {"PUT", V3 "/rooms/!unknown:hs.test/state/m.room.topic", ALICE, "{\"topic\":\"t\"}", 404, "M_NOT_FOUND"},

    /* rooms.yaml: state, members, one event */
    {"GET", V3 "/rooms/{R}/state/m.room.topic", BOB, NULL, 200, "topic"},
    {"GET", V3 "/rooms/{R}/state/m.room.topic/", BOB, NULL, 200, "topic"},
    {"GET", V3 "/rooms/{R}/state/m.room.member/@alice:hs.test", BOB, NULL, 200, "membership"},
    {"GET", V3 "/rooms/{R}/state/org.example.x/key", BOB, NULL, 200, "a"},
    {"GET", V3 "/rooms/{R}/state/m.room.member/@nobody:hs.test", BOB, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/rooms/{R}/state/m.room.avatar", BOB, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/rooms/{R}/state/m.room.avatar/", BOB, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/rooms/{P}/state/m.room.create", BOB, NULL, 403, "M_FORBIDDEN"},
    {"GET", V3 "/rooms/{R}/state", BOB, NULL, 200, "[]"},
    {"GET", V3 "/rooms/{P}/state", BOB, NULL, 403, "M_FORBIDDEN"},
    {"GET", V3 "/rooms/!unknown:hs.test/state", BOB, NULL, 403, "M_FORBIDDEN"},
    {"GET", V3 "/rooms/{R}/members", BOB, NULL, 200, "chunk"},
    {"GET", V3 "/rooms/{P}/members", BOB, NULL, 403, "M_FORBIDDEN"},
    {"GET", V3 "/rooms/{R}/members", NOBODY, NULL, 401, "M_MISSING_TOKEN"},
    {"GET", V3 "/rooms/{R}/joined_members", BOB, NULL, 200, "joined"},
    {"GET", V3 "/rooms/{P}/joined_members", BOB, NULL, 403, "M_FORBIDDEN"},
    {"GET", V3 "/rooms/{R}/event/{E}", BOB, NULL, 200, "event_id"},
    {"GET", V3 "/rooms/{R}/event/$nosuchevent", BOB, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/rooms/{P}/event/{E}", BOB, NULL, 404, "M_NOT_FOUND"},

    /* message_pagination.yaml, list_joined_rooms.yaml */
    {"GET", V3 "/rooms/{R}/messages?dir=b", BOB, NULL, 200, "chunk"},
    {"GET", V3 "/rooms/{R}/messages?dir=sideways", BOB, NULL, 400, "M_INVALID_PARAM"},
    {"GET", V3 "/rooms/{R}/messages", BOB, NULL, 400, "M_INVALID_PARAM"},
    {"GET", V3 "/rooms/{P}/messages?dir=b", BOB, NULL, 403, "M_FORBIDDEN"},
    {"GET", V3 "/joined_rooms", BOB, NULL, 200, "joined_rooms"},
    {"GET", V3 "/joined_rooms", BAD, NULL, 401, "M_UNKNOWN_TOKEN"},

    /* redaction.yaml */
    {"PUT", V3 "/rooms/{R}/redact/{E}/x1", ALICE, "{\"reason\":\"spam\"}", 200, "event_id"},
    {"PUT", V3 "/rooms/{R}/redact/$nosuchevent/x2", ALICE, "{}", 404, "M_NOT_FOUND"},
    {"PUT", V3 "/rooms/{R}/redact/not-an-event/x3", ALICE, "{}", 400, "M_INVALID_PARAM"},
    {"PUT", V3 "/rooms/{R}/redact/{E}/x4", ALICE, "{\"reason\":5}", 400, "M_BAD_JSON"},
    {"PUT", V3 "/rooms/{R}/redact/{E}/x5", CAROL, "{}", 403, "M_FORBIDDEN"},
    {"PUT", V3 "/rooms/{P}/redact/{E}/x6", ALICE, "{}", 404, "M_NOT_FOUND"},

    /* kicking.yaml, banning.yaml, leaving.yaml */
    {"POST", V3 "/rooms/{R}/kick", BOB, "{\"user_id\":\"@alice:hs.test\"}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/rooms/{R}/kick", ALICE, "{}", 400, "M_MISSING_PARAM"},
    {"POST", V3 "/rooms/{R}/kick", ALICE, "{\"user_id\":\"@bob:hs.test\",\"reason\":\"bye\"}", 200, NULL},
    {"POST", V3 "/rooms/{R}/ban", CAROL, "{\"user_id\":\"@bob:hs.test\"}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/rooms/{R}/ban", ALICE, "{\"user_id\":7}", 400, "M_BAD_JSON"},
    {"POST", V3 "/rooms/{R}/ban", ALICE, "{\"user_id\":\"@bob:hs.test\"}", 200, NULL},
    {"POST", V3 "/join/{R}", BOB, "{}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/rooms/{P}/leave", CAROL, "{}", 200, NULL},
    {"POST", V3 "/rooms/{P}/leave", BOB, "{}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/rooms/!unknown:hs.test/leave", BOB, "{}", 404, "M_NOT_FOUND"},

    /* directory.yaml ("Room directory" visibility) */
    {"PUT", V3 "/directory/list/room/{R}", ALICE, "{\"visibility\":\"public\"}", 200, NULL},
    {"GET", V3 "/directory/list/room/{R}", NOBODY, NULL, 200, "visibility"},
    {"PUT", V3 "/directory/list/room/{R}", CAROL, "{\"visibility\":\"private\"}", 403, "M_FORBIDDEN"},
    {"PUT", V3 "/directory/list/room/{R}", ALICE, "{\"visibility\":\"sideways\"}", 400, "M_INVALID_PARAM"},
    {"PUT", V3 "/directory/list/room/{R}", NOBODY, "{}", 401, "M_MISSING_TOKEN"},
    {"GET", V3 "/directory/list/room/!unknown:hs.test", NOBODY, NULL, 404, "M_NOT_FOUND"},

    /* profile.yaml */
    {"PUT", V3 "/profile/@alice:hs.test/displayname", ALICE, "{\"displayname\":\"Alice\"}", 200, NULL},
    {"PUT", V3 "/profile/@alice:hs.test/displayname", BOB, "{\"displayname\":\"Mallory\"}", 403,
     "M_FORBIDDEN"},
    {"PUT", V3 "/profile/@alice:hs.test/displayname", ALICE, "{\"displayname\":5}", 400, "M_BAD_JSON"},
    {"PUT", V3 "/profile/@alice:hs.test/displayname", NOBODY, "{\"displayname\":\"x\"}", 401,
     "M_MISSING_TOKEN"},
    {"GET", V3 "/profile/@alice:hs.test", NOBODY, NULL, 200, "displayname"},
    {"GET", V3 "/profile/@nobody:hs.test", NOBODY, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/profile/not-a-user", NOBODY, NULL, 400, "M_INVALID_PARAM"},
    {"GET", V3 "/profile/@alice:hs.test/displayname", NOBODY, NULL, 200, "displayname"},
    {"GET", V3 "/profile/@alice:hs.test/avatar_url", NOBODY, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/profile/@nobody:hs.test/displayname", NOBODY, NULL, 404, "M_NOT_FOUND"},

    /* account-data.yaml */
    {"PUT", V3 "/user/@alice:hs.test/account_data/org.example.a", ALICE, "{\"k\":1}", 200, NULL},
    {"GET", V3 "/user/@alice:hs.test/account_data/org.example.a", ALICE, NULL, 200, "k"},
    {"GET", V3 "/user/@alice:hs.test/account_data/org.example.none", ALICE, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/user/@alice:hs.test/account_data/org.example.a", BOB, NULL, 403, "M_FORBIDDEN"},
    {"PUT", V3 "/user/@alice:hs.test/account_data/org.example.a", BOB, "{}", 403, "M_FORBIDDEN"},
    {"PUT", V3 "/user/@alice:hs.test/account_data/org.example.a", ALICE, "[1]", 400, "M_NOT_JSON"},
    {"PUT", V3 "/user/@alice:hs.test/account_data/m.fully_read", ALICE, "{}", 405, "M_BAD_JSON"},
    {"PUT", V3 "/user/@alice:hs.test/rooms/{R}/account_data/m.tag", ALICE, "{\"tags\":{}}", 200, NULL},
    {"GET", V3 "/user/@alice:hs.test/rooms/{R}/account_data/m.tag", ALICE, NULL, 200, "tags"},
    {"GET", V3 "/user/@alice:hs.test/rooms/{P}/account_data/m.tag", ALICE, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/user/@alice:hs.test/rooms/not-a-room/account_data/m.tag", ALICE, NULL, 400, "M_INVALID_PARAM"},
    {"PUT", V3 "/user/@alice:hs.test/rooms/not-a-room/account_data/m.tag", ALICE, "{}", 400, "M_INVALID_PARAM"},
    {"PUT", V3 "/user/@alice:hs.test/rooms/{R}/account_data/m.tag", BOB, "{}", 403, "M_FORBIDDEN"},
    {"PUT", V3 "/user/@alice:hs.test/rooms/{R}/account_data/m.fully_read", ALICE, "{}", 405, "M_BAD_JSON"},

    /* filter.yaml */
    {"POST", V3 "/user/@alice:hs.test/filter", ALICE, "{\"room\":{\"timeline\":{\"limit\":5}}}", 200,
     "filter_id"},
    {"POST", V3 "/user/@alice:hs.test/filter", BOB, "{}", 403, "M_FORBIDDEN"},
    {"POST", V3 "/user/@alice:hs.test/filter", ALICE, "[]", 400, "M_NOT_JSON"},
    {"GET", V3 "/user/@alice:hs.test/filter/{F}", ALICE, NULL, 200, "room"},
    {"GET", V3 "/user/@alice:hs.test/filter/999999", ALICE, NULL, 404, "M_NOT_FOUND"},
    {"GET", V3 "/user/@alice:hs.test/filter/{F}", BOB, NULL, 403, "M_FORBIDDEN"},

    /* sync.yaml */
    {"GET", V3 "/sync", ALICE, NULL, 200, "next_batch"},
    {"GET", V3 "/sync?filter={F}", ALICE, NULL, 200, "next_batch"},
    {"GET", V3 "/sync?since=garbage", ALICE, NULL, 400, "M_INVALID_PARAM"},
    {"GET", V3 "/sync?filter=999999", ALICE, NULL, 400, "M_INVALID_PARAM"},
    {"GET", V3 "/sync", BAD, NULL, 401, "M_UNKNOWN_TOKEN"},

    /* password_management.yaml */
    {"POST", V3 "/account/password", DAVE, "{\"new_password\":\"n3w\"}", 401, "UIA"},
    {"POST", V3 "/account/password", DAVE, "{\"new_password\":5,\"auth\":{\"type\":\"m.login.password\","
                                           "\"identifier\":{\"type\":\"m.id.user\",\"user\":\"dave\"},"
                                           "\"password\":\"pw-dave\"}}", 400, "M_BAD_JSON"},
    {"POST", V3 "/account/password", DAVE, "{\"new_password\":\"n3w\",\"auth\":{\"type\":\"m.login.password\","
                                           "\"identifier\":{\"type\":\"m.id.user\",\"user\":\"dave\"},"
                                           "\"password\":\"pw-dave\"}}", 200, NULL},
    {"POST", V3 "/account/password", NOBODY, "{}", 401, "M_MISSING_TOKEN"},

    /* logout.yaml (last: they end sessions) */
    {"POST", V3 "/logout", ALICE2, "{}", 200, NULL},
    {"POST", V3 "/logout", ALICE2, "{}", 401, "M_UNKNOWN_TOKEN"},
    {"POST", V3 "/logout/all", DAVE, "{}", 200, NULL},
    {"GET", V3 "/account/whoami", DAVE, NULL, 401, "M_UNKNOWN_TOKEN"},
    {"POST", V3 "/logout/all", NOBODY, "{}", 401, "M_MISSING_TOKEN"},
    {"DELETE", V3 "/devices/{D}", ALICE, "{\"auth\":" PW_ALICE "}", 200, NULL},
    {"GET", V3 "/account/whoami", ALICE, NULL, 401, "M_UNKNOWN_TOKEN"},
};

/* Replaces the {X} placeholders of a row's target or body. */
static const char *expand(const struct et *t, const char *in)
{
    static char bufs[2][8192];
    static int next;
    if (!in)
        return NULL;
    char *out = bufs[next++ % 2];
    size_t n = 0;
    for (const char *p = in; *p && n < sizeof bufs[0] - 300; p++) {
        const char *v = NULL;
        if (p[0] == '{' && p[1] && p[2] == '}') {
            switch (p[1]) {
            case 'R': v = t->room; break;
            case 'P': v = t->priv; break;
            case 'E': v = t->event; break;
            case 'D': v = t->alice_dev; break;
            case 'F': v = t->filter; break;
            case 'N': v = t->nonce; break;
            default: break;
            }
        }
        if (v) {
            n += (size_t)snprintf(out + n, sizeof bufs[0] - n, "%s", v);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return out;
}

static const char *json_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    static struct et t;
    memset(&t, 0, sizeof t);
    clfix_open(&t.f, "registration_enabled: true\nregistration_shared_secret: \"s3cret\"\n");
    struct clfix *f = &t.f;
    snprintf(t.tok[BAD], sizeof t.tok[BAD], "mxr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    clfix_user(f, "alice", t.tok[ALICE], t.alice_dev);
    clfix_user(f, "bob", t.tok[BOB], NULL);
    clfix_user(f, "carol", t.tok[CAROL], NULL);
    clfix_user(f, "dave", t.tok[DAVE], NULL);
    json_t *b = clfix_ok(f, 200, "POST", V3 "/login", NULL, PW_ALICE);
    snprintf(t.tok[ALICE2], sizeof t.tok[ALICE2], "%s", json_str(b, "access_token"));
    json_decref(b);

    b = clfix_ok(f, 200, "POST", V3 "/createRoom", t.tok[ALICE], "{\"preset\":\"public_chat\"}");
    snprintf(t.room, sizeof t.room, "%s", json_str(b, "room_id"));
    json_decref(b);
    b = clfix_ok(f, 200, "POST", V3 "/createRoom", t.tok[ALICE], "{\"preset\":\"private_chat\"}");
    snprintf(t.priv, sizeof t.priv, "%s", json_str(b, "room_id"));
    json_decref(b);
    b = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/s1", t.room), t.tok[ALICE],
                 "{\"msgtype\":\"m.text\",\"body\":\"first\"}");
    snprintf(t.event, sizeof t.event, "%s", json_str(b, "event_id"));
    json_decref(b);
    b = clfix_ok(f, 200, "POST", V3 "/user/@alice:hs.test/filter", t.tok[ALICE],
                 "{\"room\":{\"timeline\":{\"limit\":5}}}");
    snprintf(t.filter, sizeof t.filter, "%s", json_str(b, "filter_id"));
    json_decref(b);
    b = clfix_ok(f, 200, "GET", "/_synapse/admin/v1/register", NULL, NULL);
    snprintf(t.nonce, sizeof t.nonce, "%s", json_str(b, "nonce"));
    json_decref(b);
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    clfix_close(&((struct et *)*state)->f);
    return 0;
}

static void every_route_answers_and_refuses(void **state)
{
    struct et *t = *state;
    int failed = 0;
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const struct row *r = &ROWS[i];
        const char *target = expand(t, r->target), *body = expand(t, r->body);
        json_t *out = NULL;
        int got = clfix_req(&t->f, r->method, target, r->who == NOBODY ? NULL : t->tok[r->who], body, &out);
        char *dump = out ? json_dumps(out, JSON_COMPACT) : NULL;
        const char *errcode = json_string_value(json_object_get(out, "errcode"));
        bool ok = got == r->status;
        if (ok && r->expect && !strcmp(r->expect, "[]")) {
            ok = json_is_array(out) && json_array_size(out) > 0;   /* GET /rooms/{roomId}/state */
        } else if (ok && r->status < 300) {
            ok = json_is_object(out) && !errcode && (!r->expect || json_object_get(out, r->expect));
        } else if (ok && !strcmp(r->expect, "UIA")) {
            /* user-interactive auth: 401 with flows (and a session) */
            ok = json_is_array(json_object_get(out, "flows")) && json_array_size(json_object_get(out, "flows")) > 0;
        } else if (ok) {
            ok = errcode && !strcmp(errcode, r->expect) && json_is_string(json_object_get(out, "error"));
        }
        if (!ok) {
            print_error("row %zu: %s %s: expected %d %s, got %d %s\n", i, r->method, target, r->status,
                        r->expect ? r->expect : "", got, dump ? dump : "(no body)");
            failed++;
        }
        free(dump);
        json_decref(out);
    }
    if (failed)
        fail_msg("%d of %zu rows answered otherwise than the spec says", failed, sizeof ROWS / sizeof ROWS[0]);
}

/* The r0 prefix serves every v3 route with the same handler. */
static void r0_mirrors_v3(void **state)
{
    struct et *t = *state;
    clfix_error(&t->f, 401, "M_MISSING_TOKEN", "GET", R0 "/joined_rooms", NULL, NULL);
    json_t *b = clfix_ok(&t->f, 200, "GET", R0 "/joined_rooms", t->tok[CAROL], NULL);
    assert_true(json_is_array(json_object_get(b, "joined_rooms")));
    json_decref(b);
    clfix_error(&t->f, 404, "M_UNRECOGNIZED", "GET", R0 "/no/such/endpoint", NULL, NULL);
}

/* sync.yaml, full_state: all state again, but "the timeline will still be
 * limited by the since parameter". */
static void full_state_keeps_the_since_timeline(void **state)
{
    struct et *t = *state;
    struct clfix *f = &t->f;
    json_t *b = clfix_ok(f, 200, "POST", V3 "/createRoom", t->tok[CAROL], "{\"preset\":\"private_chat\"}");
    char room[256];
    snprintf(room, sizeof room, "%s", json_str(b, "room_id"));
    json_decref(b);
    b = clfix_ok(f, 200, "GET", V3 "/sync", t->tok[CAROL], NULL);
    char since[64];
    snprintf(since, sizeof since, "%s", json_str(b, "next_batch"));
    json_decref(b);
    b = clfix_ok(f, 200, "PUT", clfix_fmt(V3 "/rooms/%s/send/m.room.message/fs1", room), t->tok[CAROL],
                 "{\"msgtype\":\"m.text\",\"body\":\"after\"}");
    char eid[256];
    snprintf(eid, sizeof eid, "%s", json_str(b, "event_id"));
    json_decref(b);
    b = clfix_ok(f, 200, "GET", clfix_fmt(V3 "/sync?since=%s&full_state=true", since), t->tok[CAROL], NULL);
    json_t *r = json_object_get(json_object_get(json_object_get(b, "rooms"), "join"), room);
    json_t *tl = json_object_get(json_object_get(r, "timeline"), "events");
    assert_int_equal(json_array_size(tl), 1);
    assert_string_equal(json_str(json_array_get(tl, 0), "event_id"), eid);
    json_t *st = json_object_get(json_object_get(r, "state"), "events");
    bool create = false, pl = false;
    size_t i;
    json_t *e;
    json_array_foreach(st, i, e) {
        create |= !strcmp(json_str(e, "type"), "m.room.create");
        pl |= !strcmp(json_str(e, "type"), "m.room.power_levels");
    }
    assert_true(create && pl);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_answers_and_refuses),
        cmocka_unit_test(r0_mirrors_v3),
        cmocka_unit_test(full_state_keeps_the_since_timeline),
    };
    return cmocka_run_group_tests_name("client endpoints", tests, setup, teardown);
}
