"""Client-server API: rooms (client-server-api §Creating a room, §Room
membership, §Sending events to a room, §Getting events for a room,
§Redactions, §Room directory). Rooms are made by users the suite
registers; cases skip when the target offers no open registration."""
import secrets

from lib import Skip, case, check, expect_error, expect_json, expect_status
from lib import csapi
from lib.csapi import V3, call, create_room, field, join, q, register, send, state, user

S_ROOM = "Client: rooms"
S_MEMB = "Client: membership"
S_EV = "Client: events"


def _members(ctx, u, room_id):
    """{user_id: membership} from GET /members (rooms.yaml), shape-checked."""
    ex = call(ctx, "GET", V3 + "/rooms/%s/members" % q(room_id), token=u.token)
    chunk = field(expect_json(ex), "chunk", list, "members", ex)
    out = {}
    for ev in chunk:
        csapi.check_client_event(ev, "members chunk", ex, state_event=True)
        check(ev["type"] == "m.room.member", "members: chunk holds a %s event" % ev["type"], ex)
        out[ev["state_key"]] = ev["content"].get("membership")
    return out


# ---- createRoom ------------------------------------------------------------------------------------------------

@case("client.createRoom.public_chat", section=S_ROOM, spec="client-server-api §POST /createRoom (preset "
      "public_chat)")
def create_public_chat(ctx):
    """preset public_chat: join_rules public, history_visibility shared; the creator is joined with PL 100"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="public_chat")
    jr, ex = state(ctx, u, rid, "m.room.join_rules")
    check(jr.get("join_rule") == "public", "public_chat: join_rule is %r" % jr.get("join_rule"), ex)
    hv, ex = state(ctx, u, rid, "m.room.history_visibility")
    check(hv.get("history_visibility") == "shared", "public_chat: history_visibility is %r"
          % hv.get("history_visibility"), ex)
    pl, ex = state(ctx, u, rid, "m.room.power_levels")
    check((pl.get("users") or {}).get(u.user_id) == 100, "the creator's power level is not 100", ex)
    mem, ex = state(ctx, u, rid, "m.room.member", u.user_id)
    check(mem.get("membership") == "join", "the creator is not joined", ex)
    cr, ex = state(ctx, u, rid, "m.room.create")
    if "creator" in cr:   # only up to room version 10
        check(cr["creator"] == u.user_id, "m.room.create names creator %r" % cr["creator"], ex)


@case("client.createRoom.private_chat", section=S_ROOM, spec="client-server-api §POST /createRoom (preset "
      "private_chat)")
def create_private_chat(ctx):
    """preset private_chat: join_rules invite"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    jr, ex = state(ctx, u, rid, "m.room.join_rules")
    check(jr.get("join_rule") == "invite", "private_chat: join_rule is %r" % jr.get("join_rule"), ex)


@case("client.createRoom.trusted_private_chat", section=S_ROOM, spec="client-server-api §POST /createRoom "
      "(preset trusted_private_chat)")
def create_trusted_private_chat(ctx):
    """preset trusted_private_chat: invitees get the creator's power level and an invite"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="trusted_private_chat", invite=[b.user_id])
    pl, ex = state(ctx, u, rid, "m.room.power_levels")
    users = pl.get("users") or {}
    check(users.get(b.user_id) == users.get(u.user_id) == 100,
          "trusted_private_chat: power levels of creator and invitee are %r" % users, ex)
    mem, ex = state(ctx, u, rid, "m.room.member", b.user_id)
    check(mem.get("membership") == "invite", "the invitee's membership is %r" % mem.get("membership"), ex)


@case("client.createRoom.initial_state", section=S_ROOM, spec="client-server-api §POST /createRoom (name, topic, "
      "initial_state, power_level_content_override)")
def create_initial_state(ctx):
    """name, topic, initial_state and power_level_content_override end up in the room's state"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat", name="Conformance room", topic="about things",
                      initial_state=[{"type": "org.example.conformance", "state_key": "k", "content": {"v": 1}}],
                      power_level_content_override={"events_default": 10})
    for etype, key, want in (("m.room.name", "", {"name": "Conformance room"}),
                             ("m.room.topic", "", {"topic": "about things"}),
                             ("org.example.conformance", "k", {"v": 1})):
        got, ex = state(ctx, u, rid, etype, key)
        for k, v in want.items():
            check(got.get(k) == v, "%s: %s is %r, expected %r" % (etype, k, got.get(k), v), ex)
    pl, ex = state(ctx, u, rid, "m.room.power_levels")
    check(pl.get("events_default") == 10, "power_level_content_override was not applied: %r" % pl, ex)


@case("client.createRoom.bad_version", section=S_ROOM, spec="client-server-api §POST /createRoom "
      "(M_UNSUPPORTED_ROOM_VERSION)")
def create_bad_version(ctx):
    """An unknown room version: 400 M_UNSUPPORTED_ROOM_VERSION"""
    u = user(ctx, "alice")
    ex = call(ctx, "POST", V3 + "/createRoom", {"room_version": "conformance-no-such-version"}, token=u.token)
    expect_error(ex, 400, "M_UNSUPPORTED_ROOM_VERSION")


@case("client.createRoom.needs_token", section=S_ROOM, spec="client-server-api §POST /createRoom; §Using access "
      "tokens")
def create_needs_token(ctx):
    """createRoom without a token: 401 M_MISSING_TOKEN"""
    expect_error(call(ctx, "POST", V3 + "/createRoom", {}), 401, "M_MISSING_TOKEN")


# ---- membership -----------------------------------------------------------------------------------------------

@case("client.join.public", section=S_MEMB, spec="client-server-api §POST /join/{roomIdOrAlias}; §GET "
      "/joined_rooms; §GET /rooms/{roomId}/joined_members")
def join_public(ctx):
    """Joining a public room: joined_rooms and joined_members list it"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="public_chat")
    join(ctx, b, rid)
    ex = call(ctx, "GET", V3 + "/joined_rooms", token=b.token)
    check(rid in field(expect_json(ex), "joined_rooms", list, "joined_rooms", ex), "joined_rooms lacks the room",
          ex)
    ex = call(ctx, "GET", V3 + "/rooms/%s/joined_members" % q(rid), token=b.token)
    joined = field(expect_json(ex), "joined", dict, "joined_members", ex)
    check(set(joined) == {u.user_id, b.user_id}, "joined_members: %s" % sorted(joined), ex)
    for who, info in joined.items():
        check(isinstance(info, dict), "joined_members: entry of %s is not an object" % who, ex)


@case("client.join.invite_only", section=S_MEMB, spec="client-server-api §POST /rooms/{roomId}/join (403)")
def join_invite_only(ctx):
    """Joining an invite-only room uninvited: 403 M_FORBIDDEN"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="private_chat")
    expect_error(call(ctx, "POST", V3 + "/rooms/%s/join" % q(rid), {}, token=b.token), 403, "M_FORBIDDEN")


@case("client.join.unknown_room", section=S_MEMB, spec="client-server-api §POST /join/{roomIdOrAlias} (404)")
def join_unknown_room(ctx):
    """Joining a room nobody knows: 404 M_NOT_FOUND (or 403)"""
    b = user(ctx, "bob")
    rid = "!conformance%s:%s" % (secrets.token_hex(6), ctx.target.server_name)
    expect_error(call(ctx, "POST", V3 + "/join/" + q(rid), {}, token=b.token), (403, 404),
                 ("M_NOT_FOUND", "M_FORBIDDEN", "M_UNKNOWN"))


@case("client.invite.join", section=S_MEMB, spec="client-server-api §POST /rooms/{roomId}/invite; §Room "
      "membership")
def invite_join(ctx):
    """An invite lets the invitee join an invite-only room"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="private_chat")
    expect_json(call(ctx, "POST", V3 + "/rooms/%s/invite" % q(rid), {"user_id": b.user_id}, token=u.token))
    check(_members(ctx, u, rid).get(b.user_id) == "invite", "the invitee is not listed as invited")
    join(ctx, b, rid)
    check(_members(ctx, b, rid).get(b.user_id) == "join", "the invitee is not joined after joining")


@case("client.invite.forbidden", section=S_MEMB, spec="client-server-api §POST /rooms/{roomId}/invite (403)")
def invite_forbidden(ctx):
    """A user outside the room cannot invite: 403 M_FORBIDDEN"""
    u, b, c = user(ctx, "alice"), user(ctx, "bob"), user(ctx, "carol")
    rid = create_room(ctx, u, preset="private_chat")
    ex = call(ctx, "POST", V3 + "/rooms/%s/invite" % q(rid), {"user_id": c.user_id}, token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")


@case("client.invite.missing_user", section=S_MEMB, spec="client-server-api §POST /rooms/{roomId}/invite (400)")
def invite_missing_user(ctx):
    """An invite without user_id: 400"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ex = call(ctx, "POST", V3 + "/rooms/%s/invite" % q(rid), {}, token=u.token)
    expect_error(ex, 400, ("M_MISSING_PARAM", "M_BAD_JSON", "M_INVALID_PARAM"))


@case("client.leave", section=S_MEMB, spec="client-server-api §POST /rooms/{roomId}/leave")
def leave(ctx):
    """After /leave the member is listed with membership leave and the room leaves joined_rooms"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="public_chat")
    join(ctx, b, rid)
    expect_json(call(ctx, "POST", V3 + "/rooms/%s/leave" % q(rid), {}, token=b.token))
    check(_members(ctx, u, rid).get(b.user_id) == "leave", "the leaver's membership is not leave")
    ex = call(ctx, "GET", V3 + "/joined_rooms", token=b.token)
    check(rid not in (expect_json(ex).get("joined_rooms") or []), "joined_rooms still lists the room", ex)


@case("client.kick_ban", section=S_MEMB, spec="client-server-api §POST /rooms/{roomId}/kick; §POST "
      "/rooms/{roomId}/ban")
def kick_ban(ctx):
    """Only users with the power kick and ban; a banned user cannot rejoin"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="public_chat")
    join(ctx, b, rid)
    ex = call(ctx, "POST", V3 + "/rooms/%s/kick" % q(rid), {"user_id": u.user_id}, token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")
    expect_json(call(ctx, "POST", V3 + "/rooms/%s/kick" % q(rid), {"user_id": b.user_id, "reason": "test"},
                     token=u.token))
    mem, ex = state(ctx, u, rid, "m.room.member", b.user_id)
    check(mem.get("membership") == "leave" and mem.get("reason") == "test", "after kick: %r" % mem, ex)
    expect_json(call(ctx, "POST", V3 + "/rooms/%s/ban" % q(rid), {"user_id": b.user_id}, token=u.token))
    mem, ex = state(ctx, u, rid, "m.room.member", b.user_id)
    check(mem.get("membership") == "ban", "after ban: %r" % mem, ex)
    expect_error(call(ctx, "POST", V3 + "/join/" + q(rid), {}, token=b.token), 403, "M_FORBIDDEN")


# ---- events ------------------------------------------------------------------------------------------------------

@case("client.send.message", section=S_EV, spec="client-server-api §PUT /rooms/{roomId}/send; §GET "
      "/rooms/{roomId}/event/{eventId}")
def send_message(ctx):
    """A sent message comes back from /event in the client event format"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="public_chat")
    eid = send(ctx, u, rid, "hello conformance")
    ex = call(ctx, "GET", V3 + "/rooms/%s/event/%s" % (q(rid), q(eid)), token=u.token)
    ev = csapi.check_client_event(expect_json(ex), "event", ex, room_id=rid, state_event=False)
    check(ev["event_id"] == eid and ev["sender"] == u.user_id and ev["type"] == "m.room.message",
          "event: %r" % ev, ex)
    check(ev["content"] == {"msgtype": "m.text", "body": "hello conformance"}, "content changed: %r"
          % ev["content"], ex)


@case("client.send.idempotent", section=S_EV, spec="client-server-api §Transaction identifiers")
def send_idempotent(ctx):
    """The same transaction ID twice from one device: one event, the same event ID"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="public_chat")
    txn = "conf-" + secrets.token_hex(4)
    a = send(ctx, u, rid, "once", txn=txn)
    b = send(ctx, u, rid, "once", txn=txn)
    check(a == b, "a retried transaction made a second event (%s, %s)" % (a, b))


@case("client.send.not_member", section=S_EV, spec="client-server-api §PUT /rooms/{roomId}/send (403)")
def send_not_member(ctx):
    """Sending into a room one is not in: 403 M_FORBIDDEN"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="private_chat")
    ex = call(ctx, "PUT", V3 + "/rooms/%s/send/m.room.message/t1" % q(rid), {"msgtype": "m.text", "body": "x"},
              token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")


@case("client.send.not_json", section=S_EV, spec="client-server-api §Standard error response (M_NOT_JSON)")
def send_not_json(ctx):
    """A message body that is not a JSON object: 400 M_NOT_JSON or M_BAD_JSON"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="public_chat")
    ex = call(ctx, "PUT", V3 + "/rooms/%s/send/m.room.message/t1" % q(rid), b"[1, 2", token=u.token)
    expect_error(ex, 400, ("M_NOT_JSON", "M_BAD_JSON"))


@case("client.state.put_get", section=S_EV, spec="client-server-api §PUT /rooms/{roomId}/state/{eventType}/"
      "{stateKey}; §GET /rooms/{roomId}/state")
def state_put_get(ctx):
    """State set with PUT comes back from GET, by key and in the full state"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ex = call(ctx, "PUT", V3 + "/rooms/%s/state/org.example.conf/a%%20key" % q(rid), {"n": 42}, token=u.token)
    eid = field(expect_json(ex), "event_id", str, "state PUT", ex)
    got, ex = state(ctx, u, rid, "org.example.conf", "a key")
    check(got == {"n": 42}, "state content: %r" % got, ex)
    ex = call(ctx, "GET", V3 + "/rooms/%s/state" % q(rid), token=u.token)
    expect_status(ex, 200)
    check(isinstance(ex.json, list), "GET /state must be an array of events", ex)
    evs = ex.json
    for e in evs:
        csapi.check_client_event(e, "state", ex, state_event=True)
    mine = [e for e in evs if e["type"] == "org.example.conf"]
    check(len(mine) == 1 and mine[0]["event_id"] == eid and mine[0]["state_key"] == "a key",
          "GET /state: %r" % mine, ex)
    check(any(e["type"] == "m.room.create" for e in evs), "GET /state lacks m.room.create", ex)


@case("client.state.not_found", section=S_EV, spec="client-server-api §GET /rooms/{roomId}/state/{eventType}/"
      "{stateKey} (404)")
def state_not_found(ctx):
    """State that is not set: 404 M_NOT_FOUND"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    _, ex = state(ctx, u, rid, "org.example.unset", "", status=404)
    expect_error(ex, 404, "M_NOT_FOUND")


@case("client.state.forbidden", section=S_EV, spec="client-server-api §PUT /rooms/{roomId}/state (403); "
      "§m.room.power_levels")
def state_forbidden(ctx):
    """A member below state_default cannot set state: 403 M_FORBIDDEN"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="public_chat")
    join(ctx, b, rid)
    ex = call(ctx, "PUT", V3 + "/rooms/%s/state/m.room.name/" % q(rid), {"name": "taken over"}, token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")


@case("client.state.not_member", section=S_EV, spec="client-server-api §GET /rooms/{roomId}/state (403)")
def state_not_member(ctx):
    """Reading the state of a room one was never in: 403 M_FORBIDDEN"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="private_chat")
    expect_error(call(ctx, "GET", V3 + "/rooms/%s/state" % q(rid), token=b.token), 403, "M_FORBIDDEN")


@case("client.event.not_found", section=S_EV, spec="client-server-api §GET /rooms/{roomId}/event/{eventId} (404)")
def event_not_found(ctx):
    """An unknown event ID: 404 M_NOT_FOUND"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ex = call(ctx, "GET", V3 + "/rooms/%s/event/%s" % (q(rid), q("$conformance" + secrets.token_hex(8))),
              token=u.token)
    expect_error(ex, 404, "M_NOT_FOUND")


@case("client.messages.paginate", section=S_EV, spec="client-server-api §GET /rooms/{roomId}/messages")
def messages_paginate(ctx):
    """/messages pages backwards newest first, and end leads to the older events"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ids = [send(ctx, u, rid, "m%d" % i) for i in range(3)]
    ex = call(ctx, "GET", V3 + "/rooms/%s/messages?dir=b&limit=2" % q(rid), token=u.token)
    j = expect_json(ex)
    field(j, "start", str, "messages", ex)
    chunk = field(j, "chunk", list, "messages", ex)
    for e in chunk:
        csapi.check_client_event(e, "messages chunk", ex)
    check([e["event_id"] for e in chunk] == [ids[2], ids[1]], "dir=b limit=2: %r, expected the last two newest "
          "first" % [e["event_id"] for e in chunk], ex)
    end = field(j, "end", str, "messages (more events remain)", ex)
    ex = call(ctx, "GET", V3 + "/rooms/%s/messages?dir=b&limit=1&from=%s" % (q(rid), q(end)), token=u.token)
    chunk = field(expect_json(ex), "chunk", list, "messages", ex)
    check(len(chunk) == 1 and chunk[0].get("event_id") == ids[0], "the next page does not start at the first "
          "message: %r" % [e.get("event_id") for e in chunk], ex)


@case("client.messages.forwards", section=S_EV, spec="client-server-api §GET /rooms/{roomId}/messages (dir=f)")
def messages_forwards(ctx):
    """dir=f pages oldest first from the room's start"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ids = [send(ctx, u, rid, "f%d" % i) for i in range(2)]
    ex = call(ctx, "GET", V3 + "/rooms/%s/messages?dir=f&limit=100" % q(rid), token=u.token)
    chunk = field(expect_json(ex), "chunk", list, "messages", ex)
    got = [e.get("event_id") for e in chunk if isinstance(e, dict)]
    check(chunk and chunk[0].get("type") == "m.room.create", "dir=f does not start with m.room.create", ex)
    check(got[-2:] == ids, "dir=f does not end with the messages in order: %r" % got[-2:], ex)


@case("client.messages.bad_dir", section=S_EV, spec="client-server-api §GET /rooms/{roomId}/messages (dir)")
def messages_bad_dir(ctx):
    """dir is required and b or f: anything else is 400"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ex = call(ctx, "GET", V3 + "/rooms/%s/messages?dir=sideways" % q(rid), token=u.token)
    expect_error(ex, 400, ("M_INVALID_PARAM", "M_UNKNOWN", "M_BAD_JSON"))


@case("client.redact", section=S_EV, spec="client-server-api §Redactions; §PUT /rooms/{roomId}/redact")
def redact(ctx):
    """A redacted message loses its content; the redaction is an event of its own"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    eid = send(ctx, u, rid, "to be removed")
    ex = call(ctx, "PUT", V3 + "/rooms/%s/redact/%s/%s" % (q(rid), q(eid), secrets.token_hex(4)),
              {"reason": "conformance"}, token=u.token)
    rid_ev = field(expect_json(ex), "event_id", str, "redact", ex)
    check(rid_ev != eid, "the redaction has the redacted event's ID", ex)
    ex = call(ctx, "GET", V3 + "/rooms/%s/event/%s" % (q(rid), q(eid)), token=u.token)
    ev = csapi.check_client_event(expect_json(ex), "redacted event", ex)
    check(ev["content"] == {}, "the redacted message still has content %r" % ev["content"], ex)


@case("client.directory.visibility", section=S_ROOM, spec="client-server-api §Room directory "
      "(GET/PUT /directory/list/room/{roomId})")
def directory_visibility(ctx):
    """The creator publishes a room; others may not; GET shows the visibility"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="public_chat")
    path = V3 + "/directory/list/room/" + q(rid)
    ex = call(ctx, "GET", path)
    check(expect_json(ex).get("visibility") == "private", "a new room's visibility is not private", ex)
    join(ctx, b, rid)
    ex = call(ctx, "PUT", path, {"visibility": "public"}, token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")
    expect_json(call(ctx, "PUT", path, {"visibility": "public"}, token=u.token))
    ex = call(ctx, "GET", path)
    check(expect_json(ex).get("visibility") == "public", "after publishing, visibility is not public", ex)


@case("client.directory.unknown_room", section=S_ROOM, spec="client-server-api §GET /directory/list/room/{roomId} "
      "(404)")
def directory_unknown(ctx):
    """The directory visibility of an unknown room: 404 M_NOT_FOUND"""
    user(ctx, "alice")
    rid = "!conformance%s:%s" % (secrets.token_hex(6), ctx.target.server_name)
    expect_error(call(ctx, "GET", V3 + "/directory/list/room/" + q(rid)), 404, "M_NOT_FOUND")


@case("client.ratelimit.messages", section=S_EV, spec="client-server-api §Rate limiting (429 M_LIMIT_EXCEEDED, "
      "Retry-After)")
def ratelimit_messages(ctx):
    """A burst of messages from one user meets 429 M_LIMIT_EXCEEDED with Retry-After or retry_after_ms"""
    u = register(ctx)
    rid = create_room(ctx, u, preset="private_chat")
    # 60: well above the bursts servers ship with (Synapse: 10), few enough
    # to cost little against a server without limits (spawned relays)
    for i in range(60):
        ex = call(ctx, "PUT", V3 + "/rooms/%s/send/m.room.message/burst%d" % (q(rid), i),
                  {"msgtype": "m.text", "body": "%d" % i}, token=u.token, retry=False)
        if ex.status == 429:
            j = expect_error(ex, 429, "M_LIMIT_EXCEEDED")
            header = ex.header("Retry-After")
            check(header is not None or isinstance(j.get("retry_after_ms"), int),
                  "a 429 says neither Retry-After nor retry_after_ms", ex)
            if header is not None:
                check(header.strip().isdigit(), "Retry-After %r is not a number of seconds" % header, ex)
            if "retry_after_ms" in j:
                field(j, "retry_after_ms", int, "429", ex)
            return
        expect_json(ex)
    raise Skip("no rate limit met after 60 messages in a row (rate limits are optional)")


@case("client.createRoom.room_version", section=S_ROOM, spec="client-server-api §POST /createRoom (room_version); "
      "§m.room.create")
def create_room_version(ctx):
    """room_version picks the version m.room.create records"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/capabilities", token=u.token)
    avail = ((expect_json(ex).get("capabilities") or {}).get("m.room_versions") or {}).get("available") or {}
    want = "10" if "10" in avail or not avail else sorted(avail)[0]
    rid = create_room(ctx, u, preset="private_chat", room_version=want)
    cr, ex = state(ctx, u, rid, "m.room.create")
    check(cr.get("room_version") == want, "m.room.create names room_version %r, %s was asked for"
          % (cr.get("room_version"), want), ex)


@case("client.join.alias", section=S_MEMB, spec="client-server-api §POST /createRoom (room_alias_name); §POST "
      "/join/{roomIdOrAlias}")
def join_alias(ctx):
    """A room made with room_alias_name can be joined by that alias"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    local = "cs-alias-%s" % secrets.token_hex(4)
    rid = create_room(ctx, u, preset="public_chat", room_alias_name=local)
    alias = "#%s:%s" % (local, ctx.target.server_name)
    ex = call(ctx, "POST", V3 + "/join/" + q(alias), {}, token=b.token)
    check(expect_json(ex).get("room_id") == rid, "joining %s gave room %r, expected %s"
          % (alias, ex.json.get("room_id"), rid), ex)
    ca, ex = state(ctx, u, rid, "m.room.canonical_alias")
    check(ca.get("alias") == alias, "m.room.canonical_alias is %r" % ca, ex)


@case("client.members.membership_filter", section=S_MEMB, spec="client-server-api §GET /rooms/{roomId}/members "
      "(membership, not_membership)")
def members_membership_filter(ctx):
    """/members?membership=invite and not_membership=invite split the members"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="private_chat", invite=[b.user_id])
    base = V3 + "/rooms/%s/members" % q(rid)
    for query, want in (("membership=invite", {b.user_id}), ("not_membership=invite", {u.user_id})):
        ex = call(ctx, "GET", base + "?" + query, token=u.token)
        chunk = field(expect_json(ex), "chunk", list, "members", ex)
        got = {e.get("state_key") for e in chunk if isinstance(e, dict)}
        check(got == want, "members?%s: %s, expected %s" % (query, sorted(got), sorted(want)), ex)
