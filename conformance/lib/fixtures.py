"""Rooms for the cases of the room-scoped endpoints.

Fixture plan (the target must be resident in a room that the fake servers
can act in):
  1. a local user of the target is registered through the client API
     (m.login.dummy) and creates a public room of the wanted version;
  2. fake servers join users of theirs through GET make_join + PUT v2
     send_join (server-server-api §Joining Rooms), building their view of
     the room (events.Room) from the send_join response;
  3. they then build events on that view (prev_events = their forward
     extremities, auth_events by the selection algorithm), send them with
     PUT /send, and fetch them back with /event, /state_ids, /backfill, ...
The fake servers also take in the /send transactions the target pushes to
them, so their view follows the target's own events.

Rooms hosted by a fake server (for invites, or joins the target makes) are
built with events.create_room and registered in FakeServer.rooms; the fake's
default routes answer make_join/send_join/event/state_ids/... for them.
"""
import secrets

from . import clientapi
from . import events as ev
from .core import Fail, check, expect_json

FED = "/_matrix/federation"
ALL_VERSIONS = [str(n) for n in range(1, 13)]


def q(ident):
    return clientapi.quote(ident)


class RelayRoom:
    """A room created on the target by a local user; fake users join it."""

    def __init__(self, target, creator, room_id, version, alias=None):
        self.target = target
        self.creator = creator          # clientapi.ClientUser
        self.room_id = room_id
        self.requested_version = version
        self.alias = alias
        self.model = None               # events.Room, from the first send_join
        self.joined = {}                # user ID -> join event ID

    @property
    def version(self):
        return self.model.version if self.model else ev.room_version(self.requested_version)

    def make_join(self, ctx, fake, user_id, versions=None):
        vers = versions or ALL_VERSIONS
        qs = "&".join("ver=%s" % v for v in vers)
        return ctx.request("GET", FED + "/v1/make_join/%s/%s?%s" % (q(self.room_id), q(user_id), qs),
                           target=self.target, as_=fake)

    def join(self, ctx, fake, localpart=None):
        """Joins fake's user through make_join/send_join; returns the user ID."""
        user_id = fake.user(localpart or "conf-%s" % secrets.token_hex(4))
        ex = self.make_join(ctx, fake, user_id)
        j = expect_json(ex, 200)
        tmpl, ver_id = j.get("event"), j.get("room_version")
        check(isinstance(tmpl, dict), "make_join: 'event' is not an object", ex)
        check(ver_id in ev.ROOM_VERSIONS, "make_join: room_version %r is not a known room version" % (ver_id,), ex)
        if self.model is None:
            self.model = ev.Room(ver_id, self.room_id)
        room = self.model
        for field, want in (("room_id", self.room_id), ("sender", user_id), ("state_key", user_id),
                            ("type", "m.room.member")):
            check(tmpl.get(field) == want, "make_join template: %s is %r, expected %r (joins-v1.yaml: the "
                  "joining server MUST verify it)" % (field, tmpl.get(field), want), ex)
        check((tmpl.get("content") or {}).get("membership") == "join",
              "make_join template: content.membership is not 'join'", ex)
        pdu = room.finish_template(fake, tmpl)
        eid = room.event_id(pdu)
        ex = ctx.request("PUT", FED + "/v2/send_join/%s/%s" % (q(self.room_id), q(eid)), pdu,
                         target=self.target, as_=fake)
        j = expect_json(ex, 200)
        state, chain = j.get("state"), j.get("auth_chain")
        check(isinstance(state, list) and isinstance(chain, list),
              "send_join: 'state' and 'auth_chain' must be arrays", ex)
        for p in chain:
            if isinstance(p, dict):
                room.add(p, as_state=False, extremity=False)
        for p in state:
            if isinstance(p, dict):
                room.add(p, as_state=True, extremity=False)
        signed = j.get("event") if isinstance(j.get("event"), dict) else pdu
        room.add(signed)
        self.joined[user_id] = eid
        fake.rooms[self.room_id] = room
        return user_id

    def txn(self, ctx, fake, pdus, edus=None, txn_id=None):
        body = {"origin": fake.server_name, "origin_server_ts": ev.now_ms(), "pdus": pdus}
        if edus is not None:
            body["edus"] = edus
        tid = txn_id or "conf-%s" % secrets.token_hex(6)
        return ctx.request("PUT", FED + "/v1/send/%s" % q(tid), body, target=self.target, as_=fake)

    def message(self, fake, sender, body="hello", **kw):
        return self.model.build(fake, "m.room.message", sender, {"msgtype": "m.text", "body": body}, **kw)

    def send_accepted(self, ctx, fake, pdu):
        """Sends pdu in a transaction and requires it accepted (no per-PDU error)."""
        eid = self.model.event_id(pdu)
        ex = self.txn(ctx, fake, [pdu])
        j = expect_json(ex, 200)
        res = (j.get("pdus") or {}).get(eid)
        check(res is not None and not (isinstance(res, dict) and "error" in res),
              "PUT /send: the PDU %s was not accepted: %r" % (eid, res), ex)
        self.model.add(pdu)
        return eid


class FixtureCache:
    """Fixtures are made once per run and target, on first use; a failure to
    make one is remembered and given to every case that asks again."""

    def __init__(self):
        self._made = {}

    def get(self, key, make):
        if key not in self._made:
            try:
                self._made[key] = ("ok", make())
            except Exception as e:
                self._made[key] = ("err", e)
        kind, value = self._made[key]
        if kind == "err":
            raise value
        return value


def make_relay_room(ctx, target, version, kind="public"):
    """Registers a creator and creates a room on target; joins the primary fake's user."""
    creator = clientapi.register(ctx, target)
    alias = "conf-%s" % secrets.token_hex(4)
    if kind == "public":
        room_id = clientapi.create_room(ctx, creator, version, preset="public_chat", visibility="public",
                                        alias_localpart=alias)
    elif kind == "knock":
        room_id = clientapi.create_room(ctx, creator, version, preset="private_chat", initial_state=[
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
        alias = None
    elif kind == "private":
        room_id = clientapi.create_room(ctx, creator, version, preset="private_chat")
        alias = None
    else:
        raise ValueError(kind)
    rr = RelayRoom(target, creator, room_id, version,
                   alias="#%s:%s" % (alias, target.server_name) if alias else None)
    if kind == "public":
        rr.fake_user = rr.join(ctx, ctx.fake, "conf-resident")
        if rr.model.version.id != str(version):
            raise Fail("createRoom asked for room version %s, make_join says %s" % (version, rr.model.version.id))
    return rr
