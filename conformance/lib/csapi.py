"""What the client-server cases (cases/client_*.py) share: a client call
that waits out rate limits (client-server-api §Rate limiting) and skips
unrouted endpoints, users registered with m.login.dummy (kept per run and
target, so a target with registration rate limits is not hammered), rooms,
and checks of the response shapes the spec's OpenAPI descriptions
(data/api/client-server/*.yaml) require.

Every helper raises Skip when the target does not offer what it needs
(registration closed: UNAVAILABLE; an endpoint answering 404/405
M_UNRECOGNIZED: NOT_IMPLEMENTED) and Fail when it answers wrongly; none
indexes a response without checking its type first.
"""
import re
import secrets
import time
import urllib.parse

from .core import NOT_IMPLEMENTED, UNAVAILABLE, Fail, Skip, check, expect_error, expect_json

V3 = "/_matrix/client/v3"
MAX_RETRY_WAIT_MS = 10000


def q(s):
    return urllib.parse.quote(s, safe="")


def retry_after_ms(ex):
    """The wait a 429 asks for: the Retry-After header (seconds, v1.10+)
    or the body's retry_after_ms; None when neither is usable."""
    h = ex.header("Retry-After")
    if h and h.strip().isdigit():
        return int(h.strip()) * 1000
    j = ex.json
    ms = j.get("retry_after_ms") if isinstance(j, dict) else None
    return ms if isinstance(ms, int) and ms >= 0 else None


def unrouted(ex):
    return ex.status in (404, 405) and ex.errcode == "M_UNRECOGNIZED"


def call(ctx, method, path, body=None, token=None, target=None, unrouted_ok=False, retry=True, timeout=None):
    """One client API request (path below the host, e.g. V3 + "/sync").
    A 429 is waited out (up to 10 s, three times) unless retry=False; an
    unrouted endpoint skips the case unless unrouted_ok."""
    t = target or ctx.target
    headers = {"Authorization": "Bearer " + token} if token else {}
    for attempt in range(4):
        ex = ctx.request(method, path, body, target=t, headers=headers, timeout=timeout)
        if retry and ex.status == 429 and attempt < 3:
            ms = retry_after_ms(ex)
            if ms is not None and ms <= MAX_RETRY_WAIT_MS:
                time.sleep(ms / 1000.0 + 0.05)
                continue
        break
    if not unrouted_ok and not ex.error and unrouted(ex):
        route = re.sub(r"/(%21|%40|%24|%23|[!@$#])[^/?]*", "/{id}", path.split("?")[0])
        raise Skip("not implemented by target: %s %s" % (method, route), NOT_IMPLEMENTED)
    return ex


def field(obj, key, kind, where, ex=None):
    """obj[key], checked to be of `kind` (a type or tuple of types)."""
    check(isinstance(obj, dict), "%s: not a JSON object" % where, ex)
    v = obj.get(key)
    if kind is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, kind)
    names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
    check(ok, "%s: '%s' must be a %s, got %r" % (where, key, names, v if not isinstance(v, (dict, list)) else
                                                 type(v).__name__), ex)
    return v


class User:
    def __init__(self, target, user_id, token, device_id, password):
        self.target = target
        self.user_id = user_id
        self.token = token
        self.device_id = device_id
        self.password = password

    @property
    def localpart(self):
        return self.user_id[1:].split(":", 1)[0]


def register(ctx, target=None, localpart=None, password=None):
    """A new user (registration.yaml, m.login.dummy); returns User."""
    t = target or ctx.target
    pw = password or secrets.token_urlsafe(16)
    for _ in range(3):
        lp = localpart or "cs-%s" % secrets.token_hex(5)
        body = {"username": lp, "password": pw, "initial_device_display_name": "conformance"}
        ex = call(ctx, "POST", V3 + "/register", body, target=t)
        if ex.status == 401 and isinstance(ex.json, dict) and isinstance(ex.json.get("flows"), list):
            flows = [f.get("stages") for f in ex.json["flows"] if isinstance(f, dict)]
            if ["m.login.dummy"] not in flows and [] not in flows:
                raise Skip("registration needs stages %s; the suite only does m.login.dummy" % flows, UNAVAILABLE)
            body["auth"] = {"type": "m.login.dummy"}
            if isinstance(ex.json.get("session"), str):
                body["auth"]["session"] = ex.json["session"]
            ex = call(ctx, "POST", V3 + "/register", body, target=t)
        if ex.status == 403:
            raise Skip("registration is closed on the target (403 %s)" % ex.errcode, UNAVAILABLE)
        if ex.status == 400 and ex.errcode == "M_USER_IN_USE" and not localpart:
            continue
        j = ex.json
        if ex.status != 200 or not isinstance(j, dict) or not isinstance(j.get("access_token"), str) \
                or not isinstance(j.get("user_id"), str):
            raise Fail("could not register a user: %s" % ex.describe(), ex)
        return User(t, j["user_id"], j["access_token"], j.get("device_id"), pw)
    raise Fail("could not find a free user name to register")


def user(ctx, name, target=None):
    """A user kept for the run (per target and name): for cases that do not
    change the account itself."""
    t = target or ctx.target
    return ctx.run.fixtures.get(("csapi-user", t.base_url, name), lambda: register(ctx, t))


def login(ctx, u, device_id=None):
    """A new session of u (login.yaml, m.login.password); returns its token and device."""
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": u.localpart},
            "password": u.password}
    if device_id:
        body["device_id"] = device_id
    ex = call(ctx, "POST", V3 + "/login", body, target=u.target)
    j = expect_json(ex)
    return field(j, "access_token", str, "login", ex), field(j, "device_id", str, "login", ex)


def create_room(ctx, u, **body):
    """A new room (create_room.yaml); returns its ID."""
    ex = call(ctx, "POST", V3 + "/createRoom", body, token=u.token, target=u.target)
    if ex.status == 400 and ex.errcode in ("M_UNSUPPORTED_ROOM_VERSION", "M_INCOMPATIBLE_ROOM_VERSION") \
            and "room_version" in body:
        raise Skip("the target does not create rooms of version %s" % body["room_version"], UNAVAILABLE)
    j = expect_json(ex)
    rid = field(j, "room_id", str, "createRoom", ex)
    check(rid.startswith("!"), "createRoom: room_id %r is not a room ID" % rid, ex)
    return rid


def join(ctx, u, room_id):
    ex = call(ctx, "POST", V3 + "/join/" + q(room_id), {}, token=u.token, target=u.target)
    j = expect_json(ex)
    check(j.get("room_id") == room_id, "join: room_id is %r, expected %s" % (j.get("room_id"), room_id), ex)


def send(ctx, u, room_id, body="hello", txn=None, etype="m.room.message"):
    """Sends a message; returns its event ID."""
    txn = txn or secrets.token_hex(6)
    ex = call(ctx, "PUT", V3 + "/rooms/%s/send/%s/%s" % (q(room_id), q(etype), q(txn)),
              {"msgtype": "m.text", "body": body}, token=u.token, target=u.target)
    j = expect_json(ex)
    eid = field(j, "event_id", str, "send", ex)
    check(eid.startswith("$"), "send: event_id %r is not an event ID" % eid, ex)
    return eid


def state(ctx, u, room_id, etype, key="", status=200):
    """The content of a state event (room_state GET)."""
    ex = call(ctx, "GET", V3 + "/rooms/%s/state/%s/%s" % (q(room_id), q(etype), q(key)), token=u.token,
              target=u.target)
    return expect_json(ex, status), ex


def expect_err(ex, status, errcodes):
    """A Matrix error of one of `errcodes` (client-server-api §Standard error response)."""
    return expect_error(ex, status, errcodes)


EVENT_ID = re.compile(r"^\$[^\s:]+(:.+)?$")


def check_client_event(ev, where, ex=None, room_id=None, state_event=None):
    """The ClientEvent shape (client-server-api §Room Event Format;
    definitions/client_event.yaml): content, event_id, origin_server_ts,
    sender, type, (room_id), state_key for state events."""
    check(isinstance(ev, dict), "%s: an event must be a JSON object" % where, ex)
    field(ev, "content", dict, where, ex)
    eid = field(ev, "event_id", str, where, ex)
    check(EVENT_ID.match(eid) is not None, "%s: event_id %r is not an event ID" % (where, eid), ex)
    field(ev, "origin_server_ts", int, where, ex)
    field(ev, "sender", str, where, ex)
    field(ev, "type", str, where, ex)
    if room_id is not None:
        check(ev.get("room_id") == room_id, "%s: room_id is %r, expected %s" % (where, ev.get("room_id"), room_id),
              ex)
    if state_event is True:
        field(ev, "state_key", str, where, ex)
    elif state_event is False:
        check("state_key" not in ev, "%s: a message event has no state_key" % where, ex)
    if "unsigned" in ev:
        field(ev, "unsigned", dict, where, ex)
    return ev


def sync(ctx, u, since=None, timeout=0, filter_=None, full_state=False):
    """One /sync (sync.yaml) checked for its required shape; returns the body."""
    params = {"timeout": str(timeout)}
    if since:
        params["since"] = since
    if filter_:
        params["filter"] = filter_
    if full_state:
        params["full_state"] = "true"
    ex = call(ctx, "GET", V3 + "/sync?" + urllib.parse.urlencode(params), token=u.token, target=u.target,
              timeout=max(20, timeout / 1000 + 10))
    j = expect_json(ex)
    field(j, "next_batch", str, "sync", ex)
    rooms = j.get("rooms", {})
    check(isinstance(rooms, dict), "sync: 'rooms' must be an object", ex)
    for kind in ("join", "invite", "leave", "knock"):
        check(isinstance(rooms.get(kind, {}), dict), "sync: rooms.%s must be an object" % kind, ex)
    return j, ex


def joined_room(j, room_id, ex):
    """rooms.join[room_id] of a sync body (JoinedRoom), or None."""
    r = ((j.get("rooms") or {}).get("join") or {}).get(room_id)
    if r is None:
        return None
    check(isinstance(r, dict), "sync: rooms.join[%s] must be an object" % room_id, ex)
    tl = r.get("timeline", {"events": []})
    check(isinstance(tl, dict), "sync: timeline must be an object", ex)
    check(isinstance(tl.get("events", []), list), "sync: timeline.events must be an array", ex)
    return r


def timeline_ids(room, ex):
    evs = ((room or {}).get("timeline") or {}).get("events") or []
    for e in evs:
        check_client_event(e, "sync timeline event", ex)
    return [e["event_id"] for e in evs]
