"""Client-server API: profiles, account data, filters and /sync
(client-server-api §Profiles, §Client Config, §Filtering, §Syncing)."""
import json
import secrets
import time

from lib import case, check, expect_error, expect_json
from lib.csapi import (V3, call, create_room, field, joined_room, q, send, sync, timeline_ids, user)

S_PROF = "Client: profiles & account data"
S_SYNC = "Client: sync & filters"


# ---- profiles ---------------------------------------------------------------------------------------------------

@case("client.profile.displayname", section=S_PROF, spec="client-server-api §PUT/GET /profile/{userId}/displayname; "
      "§GET /profile/{userId}")
def profile_displayname(ctx):
    """A display name set with PUT is served per field and in the whole profile"""
    u = user(ctx, "alice")
    name = "Alice " + secrets.token_hex(3)
    path = V3 + "/profile/%s/displayname" % q(u.user_id)
    expect_json(call(ctx, "PUT", path, {"displayname": name}, token=u.token))
    ex = call(ctx, "GET", path)
    check(field(expect_json(ex), "displayname", str, "profile field", ex) == name, "displayname not stored", ex)
    ex = call(ctx, "GET", V3 + "/profile/" + q(u.user_id))
    check(expect_json(ex).get("displayname") == name, "the whole profile lacks the display name", ex)


@case("client.profile.other_user", section=S_PROF, spec="client-server-api §PUT /profile/{userId}/displayname (403)")
def profile_other_user(ctx):
    """Setting another user's display name: 403 M_FORBIDDEN"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    ex = call(ctx, "PUT", V3 + "/profile/%s/displayname" % q(u.user_id), {"displayname": "Mallory"}, token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")


@case("client.profile.unknown_user", section=S_PROF, spec="client-server-api §GET /profile/{userId} (404)")
def profile_unknown_user(ctx):
    """The profile of a user that does not exist: 404 M_NOT_FOUND"""
    user(ctx, "alice")
    uid = "@cs-nobody-%s:%s" % (secrets.token_hex(5), ctx.target.server_name)
    expect_error(call(ctx, "GET", V3 + "/profile/" + q(uid)), 404, "M_NOT_FOUND")


@case("client.profile.bad_value", section=S_PROF, spec="client-server-api §PUT /profile/{userId}/displayname (400)")
def profile_bad_value(ctx):
    """A display name that is not a string: 400"""
    u = user(ctx, "alice")
    ex = call(ctx, "PUT", V3 + "/profile/%s/displayname" % q(u.user_id), {"displayname": 5}, token=u.token)
    expect_error(ex, 400, ("M_BAD_JSON", "M_INVALID_PARAM"))


# ---- account data -----------------------------------------------------------------------------------------------

@case("client.account_data.global", section=S_PROF, spec="client-server-api §PUT/GET /user/{userId}/account_data/"
      "{type}")
def account_data_global(ctx):
    """Global account data round-trips; other users may not read it (403)"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    path = V3 + "/user/%s/account_data/org.example.conformance" % q(u.user_id)
    content = {"n": secrets.token_hex(4), "nested": {"a": [1, 2]}}
    expect_json(call(ctx, "PUT", path, content, token=u.token))
    ex = call(ctx, "GET", path, token=u.token)
    check(expect_json(ex) == content, "account data came back as %r" % ex.json, ex)
    expect_error(call(ctx, "GET", path, token=b.token), 403, "M_FORBIDDEN")


@case("client.account_data.room", section=S_PROF, spec="client-server-api §PUT/GET /user/{userId}/rooms/{roomId}/"
      "account_data/{type}")
def account_data_room(ctx):
    """Per-room account data round-trips and stays in its room"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    other = create_room(ctx, u, preset="private_chat")
    path = V3 + "/user/%s/rooms/%s/account_data/org.example.conformance" % (q(u.user_id), q(rid))
    expect_json(call(ctx, "PUT", path, {"here": True}, token=u.token))
    ex = call(ctx, "GET", path, token=u.token)
    check(expect_json(ex) == {"here": True}, "room account data came back as %r" % ex.json, ex)
    ex = call(ctx, "GET", V3 + "/user/%s/rooms/%s/account_data/org.example.conformance" % (q(u.user_id), q(other)),
              token=u.token)
    expect_error(ex, 404, "M_NOT_FOUND")


@case("client.account_data.missing", section=S_PROF, spec="client-server-api §GET /user/{userId}/account_data/{type} "
      "(404)")
def account_data_missing(ctx):
    """Account data never set: 404 M_NOT_FOUND"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/user/%s/account_data/org.example.never%s" % (q(u.user_id), secrets.token_hex(3)),
              token=u.token)
    expect_error(ex, 404, "M_NOT_FOUND")


@case("client.account_data.server_managed", section=S_PROF, spec="client-server-api §PUT /user/{userId}/"
      "account_data/{type} (405 M_BAD_JSON, v1.10)")
def account_data_server_managed(ctx):
    """m.fully_read is the server's to manage: setting it here is refused"""
    u = user(ctx, "alice")
    ex = call(ctx, "PUT", V3 + "/user/%s/account_data/m.fully_read" % q(u.user_id), {"event_id": "$x"},
              token=u.token)
    expect_error(ex, (400, 405), "M_BAD_JSON")


# ---- filters ------------------------------------------------------------------------------------------------------

@case("client.filter.roundtrip", section=S_SYNC, spec="client-server-api §POST /user/{userId}/filter; §GET "
      "/user/{userId}/filter/{filterId}")
def filter_roundtrip(ctx):
    """A stored filter has a string ID and comes back with its fields"""
    u = user(ctx, "alice")
    flt = {"room": {"timeline": {"limit": 7, "types": ["m.room.message"]}}, "presence": {"not_types": ["*"]}}
    ex = call(ctx, "POST", V3 + "/user/%s/filter" % q(u.user_id), flt, token=u.token)
    fid = field(expect_json(ex), "filter_id", str, "filter", ex)
    check(not fid.startswith("{"), "a filter ID must not start with '{' (filter.yaml)", ex)
    ex = call(ctx, "GET", V3 + "/user/%s/filter/%s" % (q(u.user_id), q(fid)), token=u.token)
    got = expect_json(ex)
    tl = ((got.get("room") or {}).get("timeline") or {})
    check(tl.get("limit") == 7 and tl.get("types") == ["m.room.message"], "the filter came back as %r" % got, ex)


@case("client.filter.unknown", section=S_SYNC, spec="client-server-api §GET /user/{userId}/filter/{filterId} (404)")
def filter_unknown(ctx):
    """An unknown filter ID: 404 M_NOT_FOUND"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/user/%s/filter/9%s" % (q(u.user_id), secrets.randbelow(10 ** 8)), token=u.token)
    expect_error(ex, 404, "M_NOT_FOUND")


@case("client.filter.other_user", section=S_SYNC, spec="client-server-api §POST /user/{userId}/filter (403)")
def filter_other_user(ctx):
    """Storing a filter for another user: 403 M_FORBIDDEN"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    ex = call(ctx, "POST", V3 + "/user/%s/filter" % q(u.user_id), {}, token=b.token)
    expect_error(ex, 403, "M_FORBIDDEN")


# ---- sync ---------------------------------------------------------------------------------------------------------

@case("client.sync.initial", section=S_SYNC, spec="client-server-api §GET /sync (initial)")
def sync_initial(ctx):
    """An initial sync lists a joined room with its state and recent timeline"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat", name="sync room")
    eid = send(ctx, u, rid, "in the timeline")
    j, ex = sync(ctx, u)
    room = joined_room(j, rid, ex)
    check(room is not None, "initial sync: rooms.join lacks %s" % rid, ex)
    check(eid in timeline_ids(room, ex), "initial sync: the message is not in the timeline", ex)
    st = [e for e in ((room.get("state") or {}).get("events") or []) if isinstance(e, dict)]
    tl = ((room.get("timeline") or {}).get("events") or [])
    types = {e.get("type") for e in st + [e for e in tl if isinstance(e, dict) and "state_key" in e]}
    check("m.room.create" in types and "m.room.name" in types,
          "initial sync: the room's state (state + timeline) lacks m.room.create or m.room.name: %s" % sorted(types),
          ex)
    field(room.get("timeline"), "prev_batch", str, "timeline", ex)


@case("client.sync.incremental", section=S_SYNC, spec="client-server-api §GET /sync (since)")
def sync_incremental(ctx):
    """A sync since next_batch has exactly the new events of the room"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    j, ex = sync(ctx, u)
    since = j["next_batch"]
    eid = send(ctx, u, rid, "new one")
    j, ex = sync(ctx, u, since=since, timeout=5000)
    room = joined_room(j, rid, ex)
    check(room is not None, "incremental sync: the room with a new event is missing", ex)
    check(timeline_ids(room, ex) == [eid], "incremental sync: timeline is %s, expected only %s"
          % (timeline_ids(room, ex), eid), ex)
    check(j["next_batch"] != since, "next_batch did not move", ex)


@case("client.sync.empty_timeout", section=S_SYNC, spec="client-server-api §GET /sync (timeout)")
def sync_empty_timeout(ctx):
    """With nothing new, a sync with a short timeout returns in time and without the room"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    j, _ = sync(ctx, u)
    t0 = time.monotonic()
    j2, ex = sync(ctx, u, since=j["next_batch"], timeout=1000)
    took = time.monotonic() - t0
    check(took < 10, "a 1 s long-poll took %.1f s" % took, ex)
    check(joined_room(j2, rid, ex) is None or not timeline_ids(joined_room(j2, rid, ex), ex),
          "a sync with nothing new has timeline events", ex)


@case("client.sync.invite", section=S_SYNC, spec="client-server-api §GET /sync (rooms.invite, invite_state)")
def sync_invite(ctx):
    """An invite shows in the invitee's sync with stripped state naming the inviter"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    j, _ = sync(ctx, b)
    rid = create_room(ctx, u, preset="private_chat", name="invite room")
    expect_json(call(ctx, "POST", V3 + "/rooms/%s/invite" % q(rid), {"user_id": b.user_id}, token=u.token))
    j, ex = sync(ctx, b, since=j["next_batch"], timeout=5000)
    inv = ((j.get("rooms") or {}).get("invite") or {}).get(rid)
    check(isinstance(inv, dict), "sync: rooms.invite lacks %s" % rid, ex)
    evs = field(field(inv, "invite_state", dict, "invited room", ex), "events", list, "invite_state", ex)
    for e in evs:
        check(isinstance(e, dict) and isinstance(e.get("type"), str) and isinstance(e.get("state_key"), str)
              and isinstance(e.get("sender"), str) and isinstance(e.get("content"), dict),
              "invite_state: a stripped event needs type, state_key, sender, content", ex)
    mine = [e for e in evs if e.get("type") == "m.room.member" and e.get("state_key") == b.user_id]
    check(mine and mine[0]["content"].get("membership") == "invite" and mine[0]["sender"] == u.user_id,
          "invite_state lacks the invite of %s by %s" % (b.user_id, u.user_id), ex)


@case("client.sync.account_data", section=S_SYNC, spec="client-server-api §GET /sync (account_data)")
def sync_account_data(ctx):
    """Global account data set after a sync comes with the next one"""
    u = user(ctx, "alice")
    j, _ = sync(ctx, u)
    content = {"v": secrets.token_hex(4)}
    expect_json(call(ctx, "PUT", V3 + "/user/%s/account_data/org.example.sync" % q(u.user_id), content,
                     token=u.token))
    j, ex = sync(ctx, u, since=j["next_batch"], timeout=5000)
    evs = field(field(j, "account_data", dict, "sync", ex), "events", list, "account_data", ex)
    got = [e.get("content") for e in evs if isinstance(e, dict) and e.get("type") == "org.example.sync"]
    check(got == [content], "sync account_data: %r" % got, ex)


@case("client.sync.filter_limit", section=S_SYNC, spec="client-server-api §Filtering (timeline limit); "
      "§GET /sync (limited)")
def sync_filter_limit(ctx):
    """A timeline limit of 1 gives the newest event and limited=true"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat")
    ids = [send(ctx, u, rid, "l%d" % i) for i in range(3)]
    flt = json.dumps({"room": {"rooms": [rid], "timeline": {"limit": 1}}}, separators=(",", ":"))
    j, ex = sync(ctx, u, filter_=flt)
    room = joined_room(j, rid, ex)
    check(room is not None, "filtered sync lacks the room", ex)
    check(timeline_ids(room, ex) == [ids[-1]], "timeline limit 1: %s" % timeline_ids(room, ex), ex)
    check(room["timeline"].get("limited") is True, "a cut timeline must say limited: true", ex)


@case("client.sync.leave", section=S_SYNC, spec="client-server-api §GET /sync (rooms.leave)")
def sync_leave(ctx):
    """A room left since the last sync is under rooms.leave"""
    u, b = user(ctx, "alice"), user(ctx, "bob")
    rid = create_room(ctx, u, preset="public_chat")
    expect_json(call(ctx, "POST", V3 + "/join/" + q(rid), {}, token=b.token))
    j, _ = sync(ctx, b)
    expect_json(call(ctx, "POST", V3 + "/rooms/%s/leave" % q(rid), {}, token=b.token))
    j, ex = sync(ctx, b, since=j["next_batch"], timeout=5000)
    left = ((j.get("rooms") or {}).get("leave") or {})
    check(rid in left, "sync: rooms.leave lacks the room just left (has %s)" % sorted(left), ex)
    check(rid not in ((j.get("rooms") or {}).get("join") or {}), "sync: the left room is still under join", ex)


@case("client.sync.bad_since", section=S_SYNC, spec="client-server-api §GET /sync (since)")
def sync_bad_since(ctx):
    """A since token the server never gave out: 400 (or a fresh initial sync)"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/sync?timeout=0&since=conformance-not-a-token", token=u.token)
    if ex.status == 200:
        field(expect_json(ex), "next_batch", str, "sync", ex)
        return
    expect_error(ex, 400, ("M_INVALID_PARAM", "M_UNKNOWN", "M_BAD_JSON"))


@case("client.sync.unknown_token", section=S_SYNC, spec="client-server-api §GET /sync; §Using access tokens")
def sync_unknown_token(ctx):
    """/sync with an unknown token: 401 M_UNKNOWN_TOKEN"""
    expect_error(call(ctx, "GET", V3 + "/sync?timeout=0", token="conformance_" + secrets.token_hex(8)), 401,
                 "M_UNKNOWN_TOKEN")


@case("client.sync.full_state", section=S_SYNC, spec="client-server-api §GET /sync (full_state)")
def sync_full_state(ctx):
    """full_state=true with since: the whole state again, the timeline still only what came after since"""
    u = user(ctx, "alice")
    rid = create_room(ctx, u, preset="private_chat", name="full state")
    send(ctx, u, rid, "before since")
    j, _ = sync(ctx, u)
    eid = send(ctx, u, rid, "after since")
    j, ex = sync(ctx, u, since=j["next_batch"], full_state=True)
    room = joined_room(j, rid, ex)
    check(room is not None, "full_state sync lacks the room", ex)
    # "The timeline will still be limited by the since parameter"
    check(timeline_ids(room, ex) == [eid], "full_state: the timeline is %s, expected only the event after since"
          % timeline_ids(room, ex), ex)
    st = [e for e in ((room.get("state") or {}).get("events") or []) if isinstance(e, dict)]
    types = {e.get("type") for e in st}
    check({"m.room.create", "m.room.name", "m.room.power_levels"} <= types,
          "full_state: state has only %s" % sorted(types), ex)
