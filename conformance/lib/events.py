"""PDUs for every room version: redaction, hashes, event IDs, signatures, and a
small model of a room's DAG so that the fake server can build valid events.

Spec: server-server-api §Signing Events (content hash, reference hash,
signing, validating), §Auth events selection; rooms/v1..v12 (event ID
format, redaction algorithm, room ID of v12); appendices §Signing JSON.
"""
import copy
import hashlib
import secrets

from .crypto import b64, b64url, canonical, now_ms, sha256_b64, sign, verify


class RoomVersion:
    """One room version as a set of flags (rooms/vN.md)."""

    def __init__(self, ident, n):
        self.id = ident
        self.n = n
        # Event ID: v1/v2 minted by the origin ($opaque:domain), v3 std base64 of
        # the reference hash, v4+ URL-safe base64 (rooms/v3.md, v4.md).
        self.event_format = "v1" if n <= 2 else ("v3" if n == 3 else "v4")
        self.refs_with_hashes = n <= 2          # prev/auth_events as [id, {sha256}] pairs
        self.v11_redaction = n >= 11            # drops origin, membership, prev_state
        self.aliases_redaction = n <= 5         # m.room.aliases keeps `aliases`
        self.restricted = n >= 8                # join_rules keeps `allow`
        self.jauvs_redaction = n >= 9           # member keeps join_authorised_via_users_server
        self.knock = n >= 7
        self.creator_field = n <= 10            # create content needs `creator`
        self.room_id_from_create = n >= 12      # room ID is the create event's ID (rooms/v12.md)
        self.create_in_auth_events = n <= 11
        self.creators_unlisted = n >= 12        # creators must not be in power_levels.users

    def __repr__(self):
        return "RoomVersion(%s)" % self.id


ROOM_VERSIONS = {str(n): RoomVersion(str(n), n) for n in range(1, 13)}


def room_version(ident):
    try:
        return ROOM_VERSIONS[str(ident)]
    except KeyError:
        raise ValueError("unknown room version %r" % (ident,))


# ---- redaction (rooms/fragments/v1-redactions.md ... v11-redactions.md) -------------------

_TOP_COMMON = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures",
               "depth", "prev_events", "auth_events", "origin_server_ts"}
_TOP_PRE_V11 = {"prev_state", "origin", "membership"}
_PL_KEYS = {"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"}


def redact(event, ver):
    """The redacted copy of event under room version ver."""
    keep = _TOP_COMMON if ver.v11_redaction else _TOP_COMMON | _TOP_PRE_V11
    out = {k: copy.deepcopy(v) for k, v in event.items() if k in keep}
    content = event.get("content")
    if not isinstance(content, dict):
        return out
    t = event.get("type")
    kept = set()
    new = {}
    if t == "m.room.member":
        kept = {"membership"}
        if ver.jauvs_redaction:
            kept.add("join_authorised_via_users_server")
        tpi = content.get("third_party_invite")
        if ver.v11_redaction and isinstance(tpi, dict) and "signed" in tpi:
            new["third_party_invite"] = {"signed": copy.deepcopy(tpi["signed"])}
    elif t == "m.room.create":
        kept = set(content) if ver.v11_redaction else {"creator"}
    elif t == "m.room.join_rules":
        kept = {"join_rule", "allow"} if ver.restricted else {"join_rule"}
    elif t == "m.room.power_levels":
        kept = _PL_KEYS | ({"invite"} if ver.v11_redaction else set())
    elif t == "m.room.history_visibility":
        kept = {"history_visibility"}
    elif t == "m.room.aliases" and ver.aliases_redaction:
        kept = {"aliases"}
    elif t == "m.room.redaction" and ver.v11_redaction:
        kept = {"redacts"}
    for k in kept:
        if k in content:
            new[k] = copy.deepcopy(content[k])
    out["content"] = new
    return out


# ---- hashes and IDs (server-server-api §Calculating the content/reference hash) -----------

def content_hash(event):
    e = {k: v for k, v in event.items() if k not in ("unsigned", "signatures", "hashes")}
    return sha256_b64(canonical(e))


def reference_hash(event, ver):
    r = redact(event, ver)
    r.pop("signatures", None)
    r.pop("unsigned", None)
    return hashlib.sha256(canonical(r)).digest()


def event_id(event, ver):
    """The event's ID: computed for v3+, the `event_id` field for v1/v2."""
    if ver.event_format == "v1":
        return event.get("event_id")
    h = reference_hash(event, ver)
    return "$" + (b64(h) if ver.event_format == "v3" else b64url(h))


def room_id_of_create(create_event, ver):
    """v12: `!` + the create event's ID without its sigil."""
    return "!" + event_id(create_event, ver)[1:]


def hash_ok(event):
    h = event.get("hashes")
    return isinstance(h, dict) and h.get("sha256") == content_hash(event)


def sign_event(event, server_name, signing_key, ver, add_hash=True):
    """Adds hashes.sha256 and server_name's signature (over the redacted event)."""
    if add_hash:
        event["hashes"] = {"sha256": content_hash(event)}
    r = redact(event, ver)
    r.pop("signatures", None)
    sign(r, server_name, signing_key)
    sigs = event.setdefault("signatures", {})
    for name, by_key in r["signatures"].items():
        sigs.setdefault(name, {}).update(by_key)
    return event


def event_signed_by(event, server_name, key_id, key_b64, ver):
    """True if the redacted event carries a valid signature of server_name."""
    r = redact(event, ver)
    return verify(r, server_name, key_id, key_b64)


def server_of(ident):
    """The server name part of a user/room/event ID (`sigil localpart:server`)."""
    if not isinstance(ident, str) or ":" not in ident:
        return None
    return ident.split(":", 1)[1]


# ---- a room's DAG, as one server sees it ------------------------------------------------

class Room:
    """The events of one room known to a fake server, its current state and
    forward extremities. Enough to build events that pass the auth rules."""

    def __init__(self, version, room_id=None):
        self.version = version if isinstance(version, RoomVersion) else room_version(version)
        self.room_id = room_id
        self.events = {}         # event ID -> PDU
        self.state = {}          # (type, state_key) -> event ID
        self.extremities = []
        self.max_depth = 0
        self.state_before = {}   # event ID -> state map before it (linear histories)

    # -- bookkeeping --
    def event_id(self, pdu):
        return event_id(pdu, self.version)

    def add(self, pdu, as_state=True, extremity=True):
        """Records a PDU; updates state and extremities. Returns its event ID."""
        eid = self.event_id(pdu)
        self.events[eid] = pdu
        self.state_before.setdefault(eid, dict(self.state))
        if as_state and "state_key" in pdu:
            self.state[(pdu.get("type"), pdu.get("state_key"))] = eid
        if extremity:
            prevs = set(self.prev_ids(pdu))
            self.extremities = [e for e in self.extremities if e not in prevs]
            if eid not in self.extremities:
                self.extremities.append(eid)
        d = pdu.get("depth")
        if isinstance(d, int) and d > self.max_depth:
            self.max_depth = d
        return eid

    def prev_ids(self, pdu):
        return self._ids(pdu.get("prev_events"))

    def auth_ids(self, pdu):
        return self._ids(pdu.get("auth_events"))

    @staticmethod
    def _ids(refs):
        out = []
        for r in refs or []:
            if isinstance(r, str):
                out.append(r)
            elif isinstance(r, list) and r and isinstance(r[0], str):
                out.append(r[0])
        return out

    def state_event(self, etype, state_key=""):
        eid = self.state.get((etype, state_key))
        return self.events.get(eid) if eid else None

    def refs(self, ids):
        """prev_events/auth_events in the version's format."""
        if not self.version.refs_with_hashes:
            return list(ids)
        return [[i, {"sha256": b64(reference_hash(self.events[i], self.version))} if i in self.events else {}]
                for i in ids]

    def auth_event_ids(self, etype, sender, state_key=None, content=None):
        """server-server-api §Auth events selection."""
        content = content or {}
        keys = []
        if self.version.create_in_auth_events:
            keys.append(("m.room.create", ""))
        keys += [("m.room.power_levels", ""), ("m.room.member", sender)]
        if etype == "m.room.member" and state_key is not None:
            keys.append(("m.room.member", state_key))
            membership = content.get("membership")
            if membership in ("join", "invite", "knock"):
                keys.append(("m.room.join_rules", ""))
            via = content.get("join_authorised_via_users_server")
            if membership == "join" and via:
                keys.append(("m.room.member", via))
        out = []
        for k in keys:
            eid = self.state.get(k)
            if eid and eid not in out:
                out.append(eid)
        return out

    def build(self, signer, etype, sender, content, state_key=None, prev_events=None, auth_events=None,
              depth=None, ts=None, extra=None, sign_it=True):
        """A signed PDU from signer (an object with server_name and signing_key).
        Not added to the room: call add() once it is accepted."""
        prev = list(self.extremities) if prev_events is None else list(prev_events)
        auth = self.auth_event_ids(etype, sender, state_key, content) if auth_events is None else list(auth_events)
        if depth is None:
            depth = max([self.events[p].get("depth", 0) for p in prev if p in self.events] + [0]) + 1
        pdu = {"type": etype, "sender": sender, "content": content, "room_id": self.room_id,
               "origin_server_ts": now_ms() if ts is None else ts, "depth": depth,
               "prev_events": self.refs(prev), "auth_events": self.refs(auth)}
        if state_key is not None:
            pdu["state_key"] = state_key
        # `origin` left the PDU schema in v3, but make_join templates and invite
        # events still require it (joins-v1.yaml, invite_event.yaml) and it is
        # hashed in every version: servers still send it.
        pdu["origin"] = signer.server_name
        if self.version.event_format == "v1":
            pdu["event_id"] = "$%s:%s" % (secrets.token_hex(12), signer.server_name)
        if extra:
            pdu.update(extra)
        if sign_it:
            sign_event(pdu, signer.server_name, signer.signing_key, self.version)
        return pdu

    def finish_template(self, signer, template, ts=None):
        """A make_join/make_leave/make_knock template made ready to send: origin,
        origin_server_ts (and event_id for v1/v2) set, hashed and signed
        (server-server-api §Joining Rooms)."""
        pdu = copy.deepcopy(template)
        pdu.pop("signatures", None)
        pdu.pop("hashes", None)
        pdu.pop("unsigned", None)
        pdu["origin"] = signer.server_name
        pdu["origin_server_ts"] = now_ms() if ts is None else ts
        if self.version.event_format == "v1":
            pdu["event_id"] = "$%s:%s" % (secrets.token_hex(12), signer.server_name)
        else:
            pdu.pop("event_id", None)
        return sign_event(pdu, signer.server_name, signer.signing_key, self.version)


def create_room(signer, version, creator_localpart="creator", join_rule="public", history="shared",
                extra_users=None):
    """A room created on signer's side: create, creator's join, power levels,
    join rules, history visibility. Returns the Room with these events added."""
    ver = version if isinstance(version, RoomVersion) else room_version(version)
    creator = "@%s:%s" % (creator_localpart, signer.server_name)
    room = Room(ver)
    content = {"room_version": ver.id}
    if ver.creator_field:
        content["creator"] = creator
    if not ver.room_id_from_create:
        room.room_id = "!%s:%s" % (secrets.token_hex(9), signer.server_name)
    create = room.build(signer, "m.room.create", creator, content, state_key="", prev_events=[], auth_events=[],
                        depth=1, sign_it=False)
    if ver.room_id_from_create:
        del create["room_id"]   # rooms/v12.md: the create event has no room_id
    sign_event(create, signer.server_name, signer.signing_key, ver)
    if ver.room_id_from_create:
        room.room_id = room_id_of_create(create, ver)
    room.add(create)
    room.add(room.build(signer, "m.room.member", creator, {"membership": "join"}, state_key=creator))
    users = {} if ver.creators_unlisted else {creator: 100}
    users.update(extra_users or {})
    room.add(room.build(signer, "m.room.power_levels", creator,
                        {"users": users, "users_default": 0, "events_default": 0, "state_default": 50,
                         "ban": 50, "kick": 50, "redact": 50, "invite": 0, "events": {}}, state_key=""))
    room.add(room.build(signer, "m.room.join_rules", creator, {"join_rule": join_rule}, state_key=""))
    room.add(room.build(signer, "m.room.history_visibility", creator, {"history_visibility": history},
                        state_key=""))
    room.creator = creator
    return room
