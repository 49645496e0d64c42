"""Every room version end to end (rooms/v1.md ... v12.md), and what the
target sends to the servers of a room (server-server-api §Transactions,
§Joining Rooms: the resident sends the join to the other servers)."""
import secrets

from lib import case, check, expect_json
from lib import clientapi
from lib import events as ev
from lib.checks import FED, event_id_format_ok, q, signed_by_target

S_V = "Room versions"
S_OUT = "Outbound"


def _version_case(n):
    v = str(n)

    @case("rooms.v%s.join_send_fetch" % v, section=S_V,
          spec="rooms/v%s.md (event format, redaction); server-server-api §Joining Rooms" % v,
          requires=("room", "send"))
    def fn(ctx):
        room = ctx.room(version=v)
        ver = room.version
        check(ver.id == v, "the room is of version %s" % ver.id)
        if ver.room_id_from_create:
            cid = room.model.state.get(("m.room.create", ""))
            check(cid and room.room_id == "!" + cid[1:], "a v12 room ID is the create event's ID (rooms/v12.md): "
                  "%s vs %s" % (room.room_id, cid))
        else:
            check(":" in room.room_id, "room ID %s has no server name" % room.room_id)
        for eid, pdu in room.model.events.items():
            check(event_id_format_ok(eid, ver), "event ID %s is not of the v%s format" % (eid, v))
            check(ev.hash_ok(pdu), "event %s fails its content hash" % eid)
            if ev.server_of(pdu.get("sender")) == ctx.target.server_name:
                check(signed_by_target(ctx, pdu, ctx.target, ver), "event %s of the target is not validly signed" % eid)
        pdu = room.message(ctx.fake, room.fake_user, "hello v" + v)
        eid = room.send_accepted(ctx, ctx.fake, pdu)
        if ctx.capability("event").offered:
            ex = ctx.signed("GET", FED + "/v1/event/" + q(eid))
            got = (expect_json(ex).get("pdus") or [None])[0]
            check(isinstance(got, dict) and room.model.event_id(got) == eid, "GET /event does not give the event back",
                  ex)
    fn.__doc__ = "A v%s room: made by the target, joined by a remote server, events sent and served in the v%s format" % (v, v)
    return fn


for _n in range(1, 13):
    _version_case(_n)


def wait_send(fake, event_id, timeout=10.0):
    """The /send request (from anyone) that carries event_id, or None."""
    def has(r):
        if r.method != "PUT" or "/_matrix/federation/v1/send/" not in r.path or not isinstance(r.json, dict):
            return False
        return any(isinstance(p, dict) and (p.get("event_id") == event_id or _eid(fake, p) == event_id)
                   for p in r.json.get("pdus") or [])
    return fake.wait_for(has, timeout)


def _eid(fake, pdu):
    room = fake.rooms.get(pdu.get("room_id"))
    try:
        return room.event_id(pdu) if room else None
    except Exception:
        return None


@case("outbound.join_broadcast", section=S_OUT, spec="server-server-api §Joining Rooms: the resident server must send the event to other servers in the room",
      requires=("room",))
def join_broadcast(ctx):
    """When a second server joins, the target sends the join to the server already in the room"""
    room = ctx.room()
    second = ctx.fake_server("second")
    user = room.join(ctx, second)
    eid = room.joined[user]
    r = wait_send(ctx.fake, eid)
    check(r is not None, "%s never sent the join %s to %s" % (ctx.target.server_name, eid, ctx.fake.server_name))
    check(r.origin == ctx.target.server_name, "the transaction's X-Matrix does not verify: %s" % r.auth_error)


@case("outbound.message_signed", section=S_OUT, spec="server-server-api §Transactions, §Request Authentication, §Signing Events",
      requires=("room", "client-send"))
def message_signed(ctx):
    """A local user's message reaches the joined remote server in a signed transaction, as a signed, hashed PDU"""
    room = ctx.room()
    txn = "conf-%s" % secrets.token_hex(4)
    ex = clientapi.call(ctx, ctx.target, "PUT", clientapi.CLIENT + "/rooms/%s/send/m.room.message/%s"
                        % (q(room.room_id), txn), {"msgtype": "m.text", "body": "outbound"}, room.creator.access_token)
    eid = expect_json(ex).get("event_id")
    check(isinstance(eid, str), "the client API gave no event_id", ex)
    r = wait_send(ctx.fake, eid)
    check(r is not None, "%s never sent %s to %s" % (ctx.target.server_name, eid, ctx.fake.server_name))
    check(r.origin == ctx.target.server_name, "the transaction's X-Matrix does not verify: %s" % r.auth_error)
    check(r.json.get("origin") == ctx.target.server_name, "the transaction's origin is %r" % r.json.get("origin"))
    pdu = next(p for p in r.json["pdus"] if isinstance(p, dict) and room.model.event_id(p) == eid)
    check(ev.hash_ok(pdu), "the PDU fails its content hash")
    check(signed_by_target(ctx, pdu, ctx.target, room.version), "the PDU is not validly signed by the target")
