"""server-server-api §Retrieving events (events.yaml), §Backfilling and
retrieving missing events (backfill.yaml), §Retrieving event authorisation
information (event_auth.yaml)."""
import base64
import secrets

from lib import case, check, expect_error, expect_json
from lib.checks import FED, event_id_format_ok, q, signed_by_target
from lib.crypto import now_ms

S_EV = "Retrieving events"
S_BF = "Backfill and missing events"
SP_EV = "server-server-api §Retrieving events (events.yaml)"
SP_BF = "server-server-api §Backfilling and retrieving missing events (backfill.yaml)"
SP_EA = "server-server-api §Retrieving event authorisation information (event_auth.yaml)"


def nowhere(ctx):
    return "!conformance-nowhere-%s:%s" % (secrets.token_hex(4), ctx.target.server_name)


def unknown_event_id():
    """A well-formed event ID nobody has (the hash form of room versions 4+:
    '$' and the unpadded URL-safe base64 of 32 bytes), so that "unknown" is
    not confused with "malformed"."""
    return "$" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def ids_of(room, pdus):
    return [room.model.event_id(p) for p in pdus if isinstance(p, dict)]


def state_key_ids(room, *keys):
    return [room.model.state.get(k) for k in keys if room.model.state.get(k)]


def fresh_message(ctx, room, body="retrieval"):
    return room.send_accepted(ctx, ctx.fake, room.message(ctx.fake, room.fake_user, body))


# ---- /event ---------------------------------------------------------------------------

@case("event.unknown", section=S_EV, spec=SP_EV, requires=("event",))
def event_unknown(ctx):
    """GET /event of an unknown event ID is 404 M_NOT_FOUND"""
    expect_error(ctx.signed("GET", FED + "/v1/event/" + q(unknown_event_id())), 404,
                 "M_NOT_FOUND")


@case("event.unsigned", section=S_EV, spec=SP_EV + "; §Request Authentication", requires=("event",))
def event_unsigned(ctx):
    """GET /event without X-Matrix is refused with 401"""
    expect_error(ctx.get(FED + "/v1/event/" + q("$conformance")), 401, "M_UNAUTHORIZED")


@case("event.create", section=S_EV, spec=SP_EV, requires=("event", "room"))
def event_create(ctx):
    """GET /event of the room's create event: a single-PDU transaction with that event, signed by the target"""
    room = ctx.room()
    cid = room.model.state.get(("m.room.create", ""))
    check(cid, "the fixture has no create event")
    ex = ctx.signed("GET", FED + "/v1/event/" + q(cid))
    j = expect_json(ex)
    check(j.get("origin") == ctx.target.server_name, "origin is %r, not the target" % j.get("origin"), ex)
    check(isinstance(j.get("origin_server_ts"), int), "origin_server_ts missing", ex)
    pdus = j.get("pdus")
    check(isinstance(pdus, list) and len(pdus) == 1, "expected exactly one PDU", ex)
    check(room.model.event_id(pdus[0]) == cid, "the PDU's event ID is %s, asked for %s"
          % (room.model.event_id(pdus[0]), cid), ex)
    check(event_id_format_ok(cid, room.version), "event ID %s is not of the v%s format" % (cid, room.version.id), ex)
    check(signed_by_target(ctx, pdus[0], ctx.target, room.version), "the create event is not validly signed by "
          "the target", ex)


@case("event.remote_join", section=S_EV, spec=SP_EV, requires=("event", "room"))
def event_remote_join(ctx):
    """GET /event of our join serves it with our signature intact"""
    room = ctx.room()
    eid = room.joined[room.fake_user]
    ex = ctx.signed("GET", FED + "/v1/event/" + q(eid))
    pdu = (expect_json(ex).get("pdus") or [None])[0]
    check(isinstance(pdu, dict) and room.model.event_id(pdu) == eid, "not the join event", ex)
    check(ctx.fake.server_name in (pdu.get("signatures") or {}), "our signature was dropped", ex)


# ---- /state_ids and /state -------------------------------------------------------------

def state_ids(ctx, room, eid, as_=None):
    return ctx.request("GET", FED + "/v1/state_ids/%s?event_id=%s" % (q(room.room_id), q(eid)), as_=as_ or ctx.fake)


@case("state_ids.before_join", section=S_EV, spec=SP_EV + ": the state prior to the event", requires=("state_ids", "room"))
def state_ids_before_join(ctx):
    """state_ids at our join: the room's state before it (create, power levels, join rules, creator), without the join"""
    room = ctx.room()
    join = room.joined[room.fake_user]
    ex = state_ids(ctx, room, join)
    j = expect_json(ex)
    ids, chain = j.get("pdu_ids"), j.get("auth_chain_ids")
    check(isinstance(ids, list) and all(isinstance(i, str) for i in ids), "pdu_ids is not an array of strings", ex)
    check(isinstance(chain, list) and all(isinstance(i, str) for i in chain), "auth_chain_ids is not an array of "
          "strings", ex)
    want = state_key_ids(room, ("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", ""),
                         ("m.room.member", room.creator.user_id))
    missing = [i for i in want if i not in ids]
    check(not missing, "state before our join lacks %s" % missing, ex)
    check(join not in ids, "the state before our join contains the join itself", ex)


@case("state_ids.after_join", section=S_EV, spec=SP_EV, requires=("state_ids", "room"))
def state_ids_after_join(ctx):
    """state_ids at a message after our join contains the join"""
    room = ctx.room()
    eid = fresh_message(ctx, room)
    ex = state_ids(ctx, room, eid)
    check(room.joined[room.fake_user] in (expect_json(ex).get("pdu_ids") or []), "our join is not in the state", ex)


@case("state_ids.missing_event_id", section=S_EV, spec=SP_EV + ": event_id is required", requires=("state_ids", "room"))
def state_ids_missing_event_id(ctx):
    """state_ids without event_id is refused with 400"""
    room = ctx.room()
    expect_error(ctx.signed("GET", FED + "/v1/state_ids/" + q(room.room_id)), 400)


@case("state_ids.unknown_event", section=S_EV, spec=SP_EV + ": 404 M_NOT_FOUND", requires=("state_ids", "room"))
def state_ids_unknown_event(ctx):
    """state_ids at an unknown event is 404 M_NOT_FOUND"""
    room = ctx.room()
    expect_error(state_ids(ctx, room, unknown_event_id()), 404, "M_NOT_FOUND")


@case("state_ids.not_in_room", section=S_EV, spec=SP_EV + ": 403 M_FORBIDDEN when the requesting server is not in the room",
      requires=("state_ids", "room"))
def state_ids_not_in_room(ctx):
    """A server with no user in the room gets 403 M_FORBIDDEN"""
    room = ctx.room()
    expect_error(state_ids(ctx, room, room.joined[room.fake_user], as_=ctx.fake_server("second")), 403, "M_FORBIDDEN")


@case("state_ids.unknown_room", section=S_EV, spec=SP_EV, requires=("state_ids",))
def state_ids_unknown_room(ctx):
    """state_ids of an unknown room is 403 M_FORBIDDEN or 404 M_NOT_FOUND"""
    ex = ctx.signed("GET", FED + "/v1/state_ids/%s?event_id=%s" % (q(nowhere(ctx)), q("$conformance")))
    expect_error(ex, (403, 404), ("M_FORBIDDEN", "M_NOT_FOUND"))


@case("state_ids.unsigned", section=S_EV, spec=SP_EV + "; §Request Authentication", requires=("state_ids",))
def state_ids_unsigned(ctx):
    """state_ids without X-Matrix is refused with 401"""
    ex = ctx.get(FED + "/v1/state_ids/%s?event_id=%s" % (q(nowhere(ctx)), q("$conformance")))
    expect_error(ex, 401, "M_UNAUTHORIZED")


@case("state.matches_state_ids", section=S_EV, spec=SP_EV, requires=("state", "state_ids", "room"))
def state_matches_ids(ctx):
    """GET /state returns the full PDUs of exactly the events /state_ids names"""
    room = ctx.room()
    join = room.joined[room.fake_user]
    ids = expect_json(state_ids(ctx, room, join))
    ex = ctx.signed("GET", FED + "/v1/state/%s?event_id=%s" % (q(room.room_id), q(join)))
    j = expect_json(ex)
    check(isinstance(j.get("pdus"), list) and isinstance(j.get("auth_chain"), list),
          "pdus and auth_chain must be arrays", ex)
    check(sorted(ids_of(room, j["pdus"])) == sorted(ids.get("pdu_ids") or []),
          "the events of /state differ from /state_ids", ex)
    check(sorted(ids_of(room, j["auth_chain"])) == sorted(ids.get("auth_chain_ids") or []),
          "the auth chain of /state differs from /state_ids", ex)


@case("state.not_in_room", section=S_EV, spec=SP_EV, requires=("state", "room"))
def state_not_in_room(ctx):
    """GET /state by a server with no user in the room is 403 M_FORBIDDEN"""
    room = ctx.room()
    ex = ctx.request("GET", FED + "/v1/state/%s?event_id=%s" % (q(room.room_id), q(room.joined[room.fake_user])),
                     as_=ctx.fake_server("second"))
    expect_error(ex, 403, "M_FORBIDDEN")


# ---- /backfill ------------------------------------------------------------------------

def backfill(ctx, room, params, as_=None):
    return ctx.request("GET", FED + "/v1/backfill/%s?%s" % (q(room.room_id), params), as_=as_ or ctx.fake)


@case("backfill.from_event", section=S_BF, spec=SP_BF, requires=("backfill", "room"))
def backfill_from_event(ctx):
    """backfill from a message returns a transaction with that message and its predecessors, up to limit"""
    room = ctx.room()
    eid = fresh_message(ctx, room, "backfill me")
    ex = backfill(ctx, room, "v=%s&limit=5" % q(eid))
    j = expect_json(ex)
    check(j.get("origin") == ctx.target.server_name, "origin is %r" % j.get("origin"), ex)
    check(isinstance(j.get("origin_server_ts"), int), "origin_server_ts missing", ex)
    pdus = j.get("pdus")
    check(isinstance(pdus, list), "pdus is not an array", ex)
    got = ids_of(room, pdus)
    check(eid in got, "the given event is not in the response (it is included)", ex)
    check(len(got) <= 5, "%d PDUs for limit=5" % len(got), ex)
    check(len(got) > 1, "no predecessors of the event returned", ex)
    check(all(p.get("room_id") == room.room_id or p.get("type") == "m.room.create" for p in pdus),
          "events of another room in the response", ex)


@case("backfill.limit_one", section=S_BF, spec=SP_BF + ": limit includes the given events", requires=("backfill", "room"))
def backfill_limit_one(ctx):
    """backfill with limit=1 returns just the given event"""
    room = ctx.room()
    eid = room.joined[room.fake_user]
    ex = backfill(ctx, room, "v=%s&limit=1" % q(eid))
    check(ids_of(room, expect_json(ex).get("pdus") or []) == [eid], "expected exactly the given event", ex)


@case("backfill.missing_limit", section=S_BF, spec=SP_BF + ": limit is required", requires=("backfill", "room"))
def backfill_missing_limit(ctx):
    """backfill without limit is refused with 400"""
    room = ctx.room()
    expect_error(backfill(ctx, room, "v=%s" % q(room.joined[room.fake_user])), 400)


@case("backfill.missing_v", section=S_BF, spec=SP_BF + ": v is required", requires=("backfill", "room"))
def backfill_missing_v(ctx):
    """backfill without v is refused with 400"""
    expect_error(backfill(ctx, ctx.room(), "limit=5"), 400)


@case("backfill.not_in_room", section=S_BF, spec=SP_BF + "; §Server Access Control Lists", requires=("backfill", "room"))
def backfill_not_in_room(ctx):
    """backfill by a server with no user in the room is 403 M_FORBIDDEN"""
    room = ctx.room()
    ex = backfill(ctx, room, "v=%s&limit=5" % q(room.joined[room.fake_user]), as_=ctx.fake_server("second"))
    expect_error(ex, 403, "M_FORBIDDEN")


# ---- /get_missing_events --------------------------------------------------------------

def gme(ctx, room, body, as_=None):
    return ctx.request("POST", FED + "/v1/get_missing_events/" + q(room.room_id), body, as_=as_ or ctx.fake)


@case("gme.between", section=S_BF, spec=SP_BF, requires=("get_missing_events", "room"))
def gme_between(ctx):
    """get_missing_events returns the events between earliest and latest, excluding both"""
    room = ctx.room()
    a = fresh_message(ctx, room, "gme a")
    b = fresh_message(ctx, room, "gme b")
    c = fresh_message(ctx, room, "gme c")
    ex = gme(ctx, room, {"earliest_events": [a], "latest_events": [c], "limit": 10, "min_depth": 0})
    j = expect_json(ex)
    check(isinstance(j.get("events"), list), "events is not an array", ex)
    got = ids_of(room, j["events"])
    check(b in got, "the missing event is not returned", ex)
    check(a not in got, "an event of earliest_events was returned", ex)


@case("gme.limit", section=S_BF, spec=SP_BF + ": stopping at the limit", requires=("get_missing_events", "room"))
def gme_limit(ctx):
    """get_missing_events returns at most limit events"""
    room = ctx.room()
    first = fresh_message(ctx, room, "gme limit 1")
    for i in range(3):
        last = fresh_message(ctx, room, "gme limit %d" % (i + 2))
    ex = gme(ctx, room, {"earliest_events": [first], "latest_events": [last], "limit": 1})
    check(len(expect_json(ex).get("events") or []) <= 1, "more events than the limit", ex)


@case("gme.missing_fields", section=S_BF, spec=SP_BF + ": earliest_events and latest_events are required",
      requires=("get_missing_events", "room"))
def gme_missing_fields(ctx):
    """get_missing_events without earliest_events/latest_events is refused with 400"""
    expect_error(gme(ctx, ctx.room(), {"limit": 10}), 400)


@case("gme.not_in_room", section=S_BF, spec=SP_BF + "; §Server Access Control Lists", requires=("get_missing_events", "room"))
def gme_not_in_room(ctx):
    """get_missing_events by a server with no user in the room is 403 M_FORBIDDEN"""
    room = ctx.room()
    j = room.joined[room.fake_user]
    expect_error(gme(ctx, room, {"earliest_events": [], "latest_events": [j]}, as_=ctx.fake_server("second")), 403,
                 "M_FORBIDDEN")


# ---- /event_auth ----------------------------------------------------------------------

@case("event_auth.join", section=S_EV, spec=SP_EA, requires=("event_auth", "room"))
def event_auth_join(ctx):
    """event_auth of our join holds its auth events (and theirs), not the join itself"""
    room = ctx.room()
    join = room.joined[room.fake_user]
    ex = ctx.signed("GET", FED + "/v1/event_auth/%s/%s" % (q(room.room_id), q(join)))
    j = expect_json(ex)
    check(isinstance(j.get("auth_chain"), list), "auth_chain is not an array", ex)
    got = ids_of(room, j["auth_chain"])
    want = room.model.auth_ids(room.model.events[join])
    check(all(a in got for a in want), "auth events of the join missing from its auth chain: %s"
          % [a for a in want if a not in got], ex)
    check(join not in got, "the event is in its own auth chain", ex)


@case("event_auth.unknown_event", section=S_EV, spec=SP_EA, requires=("event_auth", "room"))
def event_auth_unknown(ctx):
    """event_auth of an unknown event is 404 M_NOT_FOUND"""
    room = ctx.room()
    ex = ctx.signed("GET", FED + "/v1/event_auth/%s/%s" % (q(room.room_id), q(unknown_event_id())))
    expect_error(ex, 404, "M_NOT_FOUND")


@case("event_auth.not_in_room", section=S_EV, spec=SP_EA + "; §Server Access Control Lists", requires=("event_auth", "room"))
def event_auth_not_in_room(ctx):
    """event_auth by a server with no user in the room is 403 M_FORBIDDEN"""
    room = ctx.room()
    ex = ctx.request("GET", FED + "/v1/event_auth/%s/%s" % (q(room.room_id), q(room.joined[room.fake_user])),
                     as_=ctx.fake_server("second"))
    expect_error(ex, 403, "M_FORBIDDEN")


# ---- /timestamp_to_event --------------------------------------------------------------

SP_TS = "server-server-api §Retrieving events: GET /timestamp_to_event (events.yaml)"


@case("tte.backwards", section=S_EV, spec=SP_TS, requires=("timestamp_to_event", "room"))
def tte_backwards(ctx):
    """timestamp_to_event dir=b from now gives an event of the room at or before now"""
    room = ctx.room()
    fresh_message(ctx, room, "timestamp")
    now = now_ms() + 1000
    ex = ctx.signed("GET", FED + "/v1/timestamp_to_event/%s?ts=%d&dir=b" % (q(room.room_id), now))
    j = expect_json(ex)
    check(isinstance(j.get("event_id"), str), "event_id missing", ex)
    check(isinstance(j.get("origin_server_ts"), int) and j["origin_server_ts"] <= now,
          "origin_server_ts %r is not at or before ts" % j.get("origin_server_ts"), ex)


@case("tte.forwards_none", section=S_EV, spec=SP_TS + ": 404 M_NOT_FOUND", requires=("timestamp_to_event", "room"))
def tte_forwards_none(ctx):
    """timestamp_to_event dir=f from far in the future finds nothing: 404 M_NOT_FOUND"""
    room = ctx.room()
    ex = ctx.signed("GET", FED + "/v1/timestamp_to_event/%s?ts=%d&dir=f" % (q(room.room_id), now_ms() + 10 ** 10))
    expect_error(ex, 404, "M_NOT_FOUND")


@case("tte.bad_dir", section=S_EV, spec=SP_TS + ": dir is f or b", requires=("timestamp_to_event", "room"))
def tte_bad_dir(ctx):
    """timestamp_to_event with dir=x is refused with 400"""
    room = ctx.room()
    expect_error(ctx.signed("GET", FED + "/v1/timestamp_to_event/%s?ts=0&dir=x" % q(room.room_id)), 400)
