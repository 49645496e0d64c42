"""A fake remote homeserver: an ed25519 identity and an HTTPS listener on
loopback that publishes its keys, signs the requests the suite sends as it,
and answers the requests the server under test makes back (key fetches,
/event, /state_ids, /get_missing_events, /send, make_join, ...) from a
pluggable route table.

Spec: server-server-api §Publishing Keys, §Request Authentication, §Retrieving
events, §Backfilling and retrieving missing events, §Transactions.
"""
import json
import re
import secrets
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import events as ev
from .crypto import key_id_of, new_signing_key, now_ms, public_b64, sign, verify
from .tls import issue_cert
from .xmatrix import authorization, signed_object

DAY_MS = 24 * 3600 * 1000


class FakeRequest:
    """An incoming request as the route handlers see it."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target                    # raw request target, as signed in X-Matrix
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.params = {}
        self.json = None
        if body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                pass
        self.origin = None                      # verified X-Matrix origin, if any
        self.auth_error = None
        self.received_ts = now_ms()

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def summary(self):
        return {"method": self.method, "target": self.target, "origin": self.origin,
                "auth_error": self.auth_error, "json": self.json}


def parse_xmatrix(value):
    """The parameters of an X-Matrix Authorization header (RFC 9110 §11.4), or None."""
    if not value:
        return None
    m = re.match(r"\s*X-Matrix\s+(.*)$", value, re.I | re.S)
    if not m:
        return None
    rest, params = m.group(1), {}
    pat = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)\s*(,|$)', re.S)
    pos = 0
    while pos < len(rest):
        mm = pat.match(rest, pos)
        if not mm:
            return None
        v = mm.group(3) if mm.group(3) is not None else mm.group(2)
        if mm.group(3) is not None:
            v = re.sub(r"\\(.)", r"\1", v)
        params[mm.group(1).lower()] = v
        pos = mm.end()
    return params


def _compile(pattern):
    rx = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
    return re.compile("^" + rx + "$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mxr-conformance-fake/1"
    timeout = 30

    def log_message(self, *args):
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = self.rfile.readline().strip()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        body = self._read_body()
        req = FakeRequest(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
        status, payload, extra = self.server.fake.dispatch(req)
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake):
        self.fake = fake
        self.ssl_ctx = None
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Headers and body go out in two writes: without this, Nagle and the
        # peer's delayed ACK add ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fake.note_connection()
        if self.ssl_ctx:
            # The handshake runs on the handler's thread, at its first read.
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        # TLS failures and closed connections of the peer are its business; they
        # are only noted, to explain why a target cannot fetch our keys (reach.py).
        self.fake.note_transport_error(sys.exc_info()[1])


class FakeServer:
    """One fake homeserver. `name` defaults to the IP literal 127.0.0.1:PORT,
    which any homeserver can reach without a name mapping."""

    def __init__(self, label, name=None, host="127.0.0.1", port=0):
        self.label = label
        self._httpd = _Server((host, port), self)
        self.host, self.port = self._httpd.server_address[:2]
        self.server_name = name or "%s:%d" % (self.host, self.port)
        self.base_url = "https://%s:%d" % (self.host, self.port)
        self.signing_key = new_signing_key("c" + secrets.token_hex(4))
        self.key_id = key_id_of(self.signing_key)
        self.old_keys = {}               # key ID -> (signing key, expired_ts): published in old_verify_keys
        self.keys_valid_for_ms = DAY_MS
        self.keys_status = 200           # anything else: the key endpoint fails with that status
        self.keys_tamper = None          # None, "badsig" (bad self-signature), "wrongname" (other server_name)
        self.key_lookup = None           # fn(server_name) -> {key_id: key_b64} for checking incoming X-Matrix
        self.rooms = {}                  # room ID -> events.Room this server takes part in
        self.transactions = []           # (txn ID, origin, body) of every /send received
        self.log = []                    # FakeRequest of every request received
        self.connections = 0             # TCP connections accepted
        self.transport_errors = 0        # connections that failed (TLS handshake, reset, ...)
        self.last_transport_error = None
        self._cv = threading.Condition()
        self._routes = []                # [token, method, regex, fn]
        self._thread = None
        self.cert = None
        self._install_defaults()

    # ---- life cycle ----
    def setup_tls(self, ca_key, ca_crt, directory, cert=None):
        """Serves HTTPS with a certificate from the CA: `cert` = (key, crt) if one
        already covers this server's name, else a new one in directory."""
        key, crt = cert or issue_cert(ca_key, ca_crt, directory, self.server_name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self._httpd.ssl_ctx = ctx
        self.cert = crt

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-%s" % self.label, daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    # ---- identity ----
    def user(self, localpart):
        return "@%s:%s" % (localpart, self.server_name)

    def rotate_out(self, expired_ts=None):
        """Moves the current key to old_verify_keys and makes a new one current.
        Returns the retired signing key."""
        old = self.signing_key
        self.old_keys[self.key_id] = (old, now_ms() - 1000 if expired_ts is None else expired_ts)
        self.signing_key = new_signing_key("c" + secrets.token_hex(4))
        self.key_id = key_id_of(self.signing_key)
        return old

    def key_response(self):
        """GET /_matrix/key/v2/server: the self-signed Server Keys object (keys.yaml)."""
        resp = {"server_name": self.server_name,
                "verify_keys": {self.key_id: {"key": public_b64(self.signing_key)}},
                "old_verify_keys": {kid: {"key": public_b64(k), "expired_ts": ts}
                                    for kid, (k, ts) in self.old_keys.items()},
                "valid_until_ts": now_ms() + self.keys_valid_for_ms}
        if self.keys_tamper == "wrongname":
            resp["server_name"] = "someone-else.invalid"
        sign(resp, self.server_name, self.signing_key)
        if self.keys_tamper == "badsig":
            sig = resp["signatures"][self.server_name][self.key_id]
            resp["signatures"][self.server_name][self.key_id] = ("A" if sig[0] != "A" else "B") + sig[1:]
        return resp

    # ---- outgoing requests ----
    def auth_header(self, destination, method, uri, content=None, signing_key=None):
        return authorization(signing_key or self.signing_key, self.server_name, destination, method, uri, content)

    # ---- routes ----
    def route(self, method, pattern, fn):
        """Adds a handler fn(req) -> (status, json[, headers]); newer routes win.
        Returns a token for remove_route."""
        token = object()
        with self._cv:
            self._routes.insert(0, [token, method, _compile(pattern), fn])
        return token

    def remove_route(self, token):
        with self._cv:
            self._routes = [r for r in self._routes if r[0] is not token]

    def dispatch(self, req):
        self._check_auth(req)
        with self._cv:
            self.log.append(req)
            routes = list(self._routes)
            self._cv.notify_all()
        path_known = False
        for _, method, rx, fn in routes:
            m = rx.match(req.path)
            if not m:
                continue
            if method != req.method and not (method == "GET" and req.method == "HEAD"):
                path_known = True
                continue
            req.params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
            try:
                out = fn(req)
            except Exception as e:   # a bug in a handler must not kill the listener
                return 500, {"errcode": "M_UNKNOWN", "error": "fake server handler: %r" % e}, None
            return (out + (None,))[:3] if len(out) == 2 else out
        if path_known:
            return 405, {"errcode": "M_UNRECOGNIZED", "error": "Unsupported method"}, None
        return 404, {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}, None

    def wait_for(self, predicate, timeout=10.0):
        """Waits until predicate(request) holds for a logged request; returns it or None."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cv:
            while True:
                for r in self.log[seen:]:
                    if predicate(r):
                        return r
                seen = len(self.log)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(left)

    def note_connection(self):
        with self._cv:
            self.connections += 1
            self._cv.notify_all()

    def note_transport_error(self, exc):
        with self._cv:
            self.transport_errors += 1
            self.last_transport_error = "%s: %s" % (type(exc).__name__, exc)
            self._cv.notify_all()

    def requests_matching(self, predicate):
        with self._cv:
            return [r for r in self.log if predicate(r)]

    def _check_auth(self, req):
        params = parse_xmatrix(req.headers.get("Authorization") or req.headers.get("authorization"))
        if params is None:
            return
        origin, dest, key_id, sig = (params.get(k) for k in ("origin", "destination", "key", "sig"))
        if not (origin and key_id and sig):
            req.auth_error = "X-Matrix header lacks origin, key or sig"
            return
        if dest is not None and dest != self.server_name:
            req.auth_error = "destination %r is not %r" % (dest, self.server_name)
            return
        keys = {}
        if self.key_lookup:
            try:
                keys = self.key_lookup(origin) or {}
            except Exception as e:
                req.auth_error = "cannot fetch keys of %s: %s" % (origin, e)
                return
        if key_id not in keys:
            req.auth_error = "no key %s known for %s" % (key_id, origin)
            return
        obj = signed_object(req.method, req.target, origin, dest or self.server_name, req.json if req.body else None)
        obj["signatures"] = {origin: {key_id: sig}}
        if verify(obj, origin, key_id, keys[key_id]):
            req.origin = origin
        else:
            req.auth_error = "signature of %s does not verify over %s %s" % (origin, req.method, req.target)

    # ---- default answers ----
    def _find_event(self, event_id):
        for room in self.rooms.values():
            if event_id in room.events:
                return room, room.events[event_id]
        return None, None

    def _txn(self, pdus):
        return {"origin": self.server_name, "origin_server_ts": now_ms(), "pdus": pdus}

    def _install_defaults(self):
        not_found = (404, {"errcode": "M_NOT_FOUND", "error": "not known to the fake server"})

        def keys(req):
            if self.keys_status != 200:
                return self.keys_status, {"errcode": "M_UNKNOWN", "error": "key server switched off by the test"}
            return 200, self.key_response()

        def version(req):
            return 200, {"server": {"name": "mxrelay-conformance-fake", "version": "1"}}

        def send(req):
            body = req.json if isinstance(req.json, dict) else {}
            self.transactions.append((req.params.get("txnId"), req.origin, body))
            results = {}
            for pdu in body.get("pdus") or []:
                room = self.rooms.get(pdu.get("room_id")) if isinstance(pdu, dict) else None
                if room is None:
                    continue
                eid = room.add(pdu)
                results[eid] = {}
            return 200, {"pdus": results}

        def event(req):
            room, pdu = self._find_event(req.params["eventId"])
            return (200, self._txn([pdu])) if pdu else not_found

        def state_ids(req):
            room = self.rooms.get(req.params["roomId"])
            eid = req.q("event_id")
            if room is None or eid not in room.events:
                return not_found
            st = room.state_before.get(eid, {})
            return 200, {"pdu_ids": sorted(st.values()), "auth_chain_ids": sorted(self.auth_chain(room, st.values()))}

        def state(req):
            room = self.rooms.get(req.params["roomId"])
            eid = req.q("event_id")
            if room is None or eid not in room.events:
                return not_found
            st = room.state_before.get(eid, {})
            return 200, {"pdus": [room.events[i] for i in st.values()],
                         "auth_chain": [room.events[i] for i in self.auth_chain(room, st.values())]}

        def event_auth(req):
            room = self.rooms.get(req.params["roomId"])
            if room is None or req.params["eventId"] not in room.events:
                return not_found
            return 200, {"auth_chain": [room.events[i] for i in self.auth_chain(room, [req.params["eventId"]])
                                        if i != req.params["eventId"]]}

        def missing(req):
            room = self.rooms.get(req.params["roomId"])
            body = req.json if isinstance(req.json, dict) else {}
            if room is None:
                return not_found
            earliest = set(body.get("earliest_events") or [])
            limit = body.get("limit") if isinstance(body.get("limit"), int) else 10
            out, queue, seen = [], list(body.get("latest_events") or []), set()
            while queue and len(out) < limit:
                eid = queue.pop(0)
                for p in room.prev_ids(room.events.get(eid, {})):
                    if p in seen or p in earliest or p not in room.events:
                        continue
                    seen.add(p)
                    out.append(room.events[p])
                    queue.append(p)
            return 200, {"events": out[:limit]}

        def backfill(req):
            room = self.rooms.get(req.params["roomId"])
            if room is None:
                return not_found
            try:
                limit = int(req.q("limit", "10"))
            except ValueError:
                return 400, {"errcode": "M_INVALID_PARAM", "error": "limit"}
            out, queue, seen = [], list(req.query.get("v", [])), set()
            while queue and len(out) < limit:
                eid = queue.pop(0)
                if eid in seen or eid not in room.events:
                    continue
                seen.add(eid)
                out.append(room.events[eid])
                queue += room.prev_ids(room.events[eid])
            return 200, self._txn(out)

        def make_membership(membership):
            def handler(req):
                room = self.rooms.get(req.params["roomId"])
                if room is None:
                    return not_found
                user = req.params["userId"]
                vers = req.query.get("ver", ["1"])
                if membership != "leave" and room.version.id not in vers:
                    return 400, {"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "error": "room version",
                                 "room_version": room.version.id}
                tmpl = room.build(self, "m.room.member", user, {"membership": membership}, state_key=user,
                                  sign_it=False)
                tmpl.pop("event_id", None)
                return 200, {"room_version": room.version.id, "event": tmpl}
            return handler

        def send_membership(membership):
            def handler(req):
                room = self.rooms.get(req.params["roomId"])
                pdu = req.json
                if room is None or not isinstance(pdu, dict):
                    return not_found
                if (pdu.get("content") or {}).get("membership") != membership:
                    return 400, {"errcode": "M_INVALID_PARAM", "error": "membership is not %s" % membership}
                ev.sign_event(pdu, self.server_name, self.signing_key, room.version, add_hash=False)
                before = dict(room.state)
                room.add(pdu)
                if membership == "join":
                    return 200, {"state": [room.events[i] for i in before.values()],
                                 "auth_chain": [room.events[i] for i in self.auth_chain(room, before.values())],
                                 "event": pdu, "members_omitted": False}
                if membership == "knock":
                    return 200, {"knock_room_state": [room.events[i] for i in before.values()]}
                return 200, {}
            return handler

        F = "/_matrix/federation"
        self.default_handlers = {"send": send, "event": event, "send_join": send_membership("join")}
        self.route("GET", "/_matrix/key/v2/server", keys)
        self.route("GET", "/_matrix/key/v2/server/{keyId}", keys)
        self.route("GET", F + "/v1/version", version)
        self.route("PUT", F + "/v1/send/{txnId}", send)
        self.route("GET", F + "/v1/event/{eventId}", event)
        self.route("GET", F + "/v1/state_ids/{roomId}", state_ids)
        self.route("GET", F + "/v1/state/{roomId}", state)
        self.route("GET", F + "/v1/event_auth/{roomId}/{eventId}", event_auth)
        self.route("POST", F + "/v1/get_missing_events/{roomId}", missing)
        self.route("GET", F + "/v1/backfill/{roomId}", backfill)
        self.route("GET", F + "/v1/make_join/{roomId}/{userId}", make_membership("join"))
        self.route("GET", F + "/v1/make_leave/{roomId}/{userId}", make_membership("leave"))
        self.route("GET", F + "/v1/make_knock/{roomId}/{userId}", make_membership("knock"))
        self.route("PUT", F + "/v2/send_join/{roomId}/{eventId}", send_membership("join"))
        self.route("PUT", F + "/v2/send_leave/{roomId}/{eventId}", send_membership("leave"))
        self.route("PUT", F + "/v1/send_knock/{roomId}/{eventId}", send_membership("knock"))

    @staticmethod
    def auth_chain(room, ids):
        """Every event reachable through auth_events from ids (ids included if
        they are auth events of something; callers filter)."""
        out, stack = [], list(ids)
        seen = set()
        while stack:
            eid = stack.pop()
            if eid in seen or eid not in room.events:
                continue
            seen.add(eid)
            for a in room.auth_ids(room.events[eid]):
                if a not in seen:
                    out.append(a)
                    stack.append(a)
        return sorted(set(out))
