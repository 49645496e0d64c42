"""A minimal homeserver in Python, for testing the suite itself
(`conformance/run --mock`): just enough client API (register, createRoom,
send, openid) and federation (X-Matrix enforced, rooms served from the fake
server's route table) that every case runs to a verdict. It is NOT a
conformant server: many negative cases fail against it by design. What the
self-test checks is that no case ends in "error" (a bug of the suite).
"""
import secrets

from . import events as ev
from .crypto import now_ms
from .fakeserver import FakeServer

FED = "/_matrix/federation/"
C = "/_matrix/client/v3"


def _err(status, code, msg):
    return status, {"errcode": code, "error": msg}


class MockHomeserver(FakeServer):
    def __init__(self, name=None):
        super().__init__("mock", name)
        self.tokens = {}          # access token -> (user ID, device ID)
        self.aliases = {}         # alias -> room ID
        self.public = set()
        self.openid = {}          # token -> user ID
        self._client_routes()

    def dispatch(self, req):
        if req.path.startswith(FED) and not req.path.startswith(FED + "v1/version") \
                and not req.path.startswith(FED + "v1/openid/"):
            self._check_auth(req)
            if req.origin is None:
                routed = any(rx.match(req.path) for _, _, rx, _ in self._routes)
                if routed:
                    return 401, {"errcode": "M_UNAUTHORIZED", "error": req.auth_error or "missing X-Matrix"}, None
        return super().dispatch(req)

    def _user(self, req):
        auth = req.headers.get("Authorization") or ""
        return self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def _client_routes(self):
        def register(req):
            body = req.json if isinstance(req.json, dict) else {}
            if "auth" not in body:
                return 401, {"flows": [{"stages": ["m.login.dummy"]}], "params": {}, "session": secrets.token_hex(8)}
            uid = "@%s:%s" % (body.get("username") or secrets.token_hex(4), self.server_name)
            tok, dev = secrets.token_hex(16), "DEV" + secrets.token_hex(3).upper()
            self.tokens[tok] = (uid, dev)
            return 200, {"user_id": uid, "access_token": tok, "device_id": dev}

        def create_room(req):
            who = self._user(req)
            if not who:
                return _err(401, "M_MISSING_TOKEN", "no token")
            body = req.json if isinstance(req.json, dict) else {}
            version = body.get("room_version") or "11"
            if version not in ev.ROOM_VERSIONS:
                return _err(400, "M_UNSUPPORTED_ROOM_VERSION", "unknown version")
            local = who[0][1:].split(":")[0]
            rule = "public" if body.get("preset", "private_chat") == "public_chat" else "invite"
            room = ev.create_room(self, version, local, join_rule=rule)
            for st in body.get("initial_state") or []:
                room.add(room.build(self, st["type"], who[0], st.get("content") or {}, state_key=st.get("state_key", "")))
            self.rooms[room.room_id] = room
            if body.get("room_alias_name"):
                self.aliases["#%s:%s" % (body["room_alias_name"], self.server_name)] = room.room_id
            if body.get("visibility") == "public":
                self.public.add(room.room_id)
            return 200, {"room_id": room.room_id}

        def send(req):
            who = self._user(req)
            room = self.rooms.get(req.params["roomId"])
            if not who or not room:
                return _err(404, "M_NOT_FOUND", "no such room")
            pdu = room.build(self, req.params["type"], who[0], req.json or {})
            eid = room.add(pdu)
            for server in self._joined_servers(room) - {self.server_name}:
                self.push(server, [pdu])
            return 200, {"event_id": eid}

        def openid(req):
            who = self._user(req)
            if not who:
                return _err(401, "M_MISSING_TOKEN", "no token")
            tok = secrets.token_hex(12)
            self.openid[tok] = who[0]
            return 200, {"access_token": tok, "token_type": "Bearer", "matrix_server_name": self.server_name,
                         "expires_in": 3600}

        def userinfo(req):
            uid = self.openid.get(req.q("access_token") or "")
            return (200, {"sub": uid}) if uid else _err(401, "M_UNKNOWN_TOKEN", "unknown token")

        def profile(req):
            uid = req.q("user_id")
            if not uid:
                return _err(400, "M_MISSING_PARAM", "user_id")
            if uid not in {u for u, _ in self.tokens.values()}:
                return _err(404, "M_NOT_FOUND", "no such user")
            return 200, {"displayname": uid[1:].split(":")[0]}

        def directory(req):
            alias = req.q("room_alias")
            if not alias:
                return _err(400, "M_MISSING_PARAM", "room_alias")
            rid = self.aliases.get(alias)
            return (200, {"room_id": rid, "servers": [self.server_name]}) if rid else _err(404, "M_NOT_FOUND", "no alias")

        def devices(req):
            uid = req.params["userId"]
            devs = [{"device_id": d, "keys": {"user_id": uid, "device_id": d, "algorithms": [], "keys": {},
                                               "signatures": {}}} for u, d in self.tokens.values() if u == uid]
            return 200, {"user_id": uid, "stream_id": 1, "devices": devs}

        def keys_query(req):
            if not isinstance((req.json or {}).get("device_keys"), dict):
                return _err(400, "M_MISSING_PARAM", "device_keys")
            return 200, {"device_keys": {u: {} for u in req.json["device_keys"]}}

        def keys_claim(req):
            if not isinstance((req.json or {}).get("one_time_keys"), dict):
                return _err(400, "M_MISSING_PARAM", "one_time_keys")
            return 200, {"one_time_keys": {}}

        def public_rooms(req):
            return 200, {"chunk": [{"room_id": r, "num_joined_members": 1, "world_readable": False,
                                    "guest_can_join": False} for r in sorted(self.public)]}

        def hierarchy(req):
            rid = req.params["roomId"]
            if rid not in self.rooms:
                return _err(404, "M_NOT_FOUND", "unknown room")
            return 200, {"room": {"room_id": rid, "num_joined_members": 1, "world_readable": False,
                                  "guest_can_join": False, "children_state": []},
                         "children": [], "inaccessible_children": []}

        def tte(req):
            room = self.rooms.get(req.params["roomId"])
            if room is None:
                return _err(404, "M_NOT_FOUND", "unknown room")
            if req.q("dir") not in ("f", "b"):
                return _err(400, "M_INVALID_PARAM", "dir")
            ts = int(req.q("ts", "0"))
            evs = sorted(room.events.items(), key=lambda kv: kv[1].get("origin_server_ts", 0))
            cands = [kv for kv in evs if (kv[1]["origin_server_ts"] <= ts if req.q("dir") == "b"
                                          else kv[1]["origin_server_ts"] >= ts)]
            if not cands:
                return _err(404, "M_NOT_FOUND", "no event")
            eid, pdu = cands[-1] if req.q("dir") == "b" else cands[0]
            return 200, {"event_id": eid, "origin_server_ts": pdu["origin_server_ts"]}

        F = "/_matrix/federation/v1"
        self.route("POST", C + "/register", register)
        self.route("POST", C + "/createRoom", create_room)
        self.route("PUT", C + "/rooms/{roomId}/send/{type}/{txnId}", send)
        self.route("POST", C + "/user/{userId}/openid/request_token", openid)
        self.route("GET", F + "/openid/userinfo", userinfo)
        self.route("GET", F + "/query/profile", profile)
        self.route("GET", F + "/query/directory", directory)
        self.route("GET", F + "/user/devices/{userId}", devices)
        self.route("POST", F + "/user/keys/query", keys_query)
        self.route("POST", F + "/user/keys/claim", keys_claim)
        self.route("GET", F + "/publicRooms", public_rooms)
        self.route("POST", F + "/publicRooms", public_rooms)
        self.route("GET", F + "/hierarchy/{roomId}", hierarchy)
        self.route("GET", F + "/timestamp_to_event/{roomId}", tte)
        self.route("PUT", "/_matrix/federation/v2/invite/{roomId}/{eventId}", self._invite)
        self.route("PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}", self._send_join)

    def _joined_servers(self, room):
        return {ev.server_of(p.get("state_key")) for p in room.events.values()
                if p.get("type") == "m.room.member" and (p.get("content") or {}).get("membership") == "join"}

    def _send_join(self, req):
        out = self.default_handlers["send_join"](req)
        room = self.rooms.get(req.params["roomId"])
        if out[0] == 200 and room is not None:
            for server in self._joined_servers(room) - {req.origin, self.server_name}:
                self.push(server, [req.json])
        return out

    def _invite(self, req):
        body = req.json if isinstance(req.json, dict) else {}
        pdu = body.get("event")
        if body.get("room_version") not in ev.ROOM_VERSIONS or not isinstance(pdu, dict):
            return _err(400, "M_INCOMPATIBLE_ROOM_VERSION", "unknown room version")
        ver = ev.room_version(body["room_version"])
        ev.sign_event(pdu, self.server_name, self.signing_key, ver, add_hash=False)
        return 200, {"event": pdu}

    def push(self, server, pdus):
        """Where the mock would send a transaction; the self-test wires it to the fakes."""
        sink = getattr(self, "sinks", {}).get(server)
        if sink:
            sink(self, pdus)


def deliver(fake):
    """A push sink that hands PDUs to a fake server as if sent over /send."""
    def sink(mock, pdus):
        from .fakeserver import FakeRequest
        import json
        body = {"origin": mock.server_name, "origin_server_ts": now_ms(), "pdus": pdus}
        req = FakeRequest("PUT", "/_matrix/federation/v1/send/mock-%s" % secrets.token_hex(4), {},
                          json.dumps(body).encode())
        req.origin = mock.server_name
        fake.dispatch(req)
    return sink
