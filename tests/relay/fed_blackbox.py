#!/usr/bin/python3
"""Black-box test of the inbound federation API: the mxrelay daemon on
loopback, with Python fake homeservers (conformance/lib: FakeServer publishes
its keys over HTTPS and signs requests with signedjson) acting as remote
servers in a room of the relay.

    fed_blackbox.py BUILDDIR SRCDIR

The room is made before the daemon starts by tests/relay/fed_seed (the
client API cannot create one yet); fake A joins it over make_join/send_join.
Then: each endpoint's success and failure cases, and durability: transactions
stream in, the daemon is SIGKILLed mid-stream, restarted, and every PDU a
/send acknowledged must be served by /event and counted in /state_ids.
Spec: server-server-api (Request Authentication, Transactions, Checks
performed on receipt of a PDU, Retrieving events, Joining Rooms, ...).
"""
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BUILD, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "conformance"))
from lib import events as ev  # noqa: E402
from lib.crypto import new_signing_key, now_ms  # noqa: E402
from lib.fakeserver import FakeServer  # noqa: E402
from lib.tls import make_ca  # noqa: E402

FED = "/_matrix/federation"
RELAY = "relay.test"
VERSION = os.environ.get("MXR_BLACKBOX_ROOM_VERSION", "11")
SANITIZED = os.environ.get("MXR_SANITIZED") == "yes"
ROUNDS = 15 if SANITIZED else 60          # transactions streamed before the SIGKILL
KILL_AFTER = 8 if SANITIZED else 30       # acknowledged transactions before the kill


def q(s):
    return urllib.parse.quote(s, safe="")


class Failure(Exception):
    pass


def check(cond, what, got=None):
    if not cond:
        raise Failure(what + ("" if got is None else ": got %r" % (got,)))


class Relay:
    def __init__(self, tmp, ca_crt):
        self.dir = tmp
        self.data = os.path.join(tmp, "data")
        self.config = os.path.join(tmp, "relay.yaml")
        self.log_path = os.path.join(tmp, "relay.log")
        self.proc = None
        self.port = None
        with open(self.config, "w") as f:
            f.write("\n".join([
                "server_name: %s" % json.dumps(RELAY),
                "data_dir: %s" % json.dumps(self.data),
                "listeners: [{type: http, bind_address: 127.0.0.1, port: 0}]",
                "federation_ca_file: %s" % json.dumps(ca_crt),
                "federation_allow_private_addresses: true",
                "max_request_bytes: 1048576",
                "log_level: info",
            ]) + "\n")

    def seed(self, creator, *extra):
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        out = subprocess.run([os.path.join(BUILD, "tests", "relay", "fed_seed"), self.data, RELAY, VERSION, creator]
                             + list(extra),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if out.returncode != 0:
            raise Failure("fed_seed: %s" % out.stderr.decode(errors="replace"))
        return out.stdout.decode().strip()

    def start(self):
        log = open(self.log_path, "ab")
        offset = log.tell()
        self.proc = subprocess.Popen([os.path.join(BUILD, "mxrelay"), "--config", self.config], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + (60 if SANITIZED else 15)
        while time.time() < deadline:
            text = self.log()[offset:]
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
            if m and "] ready" in text:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise Failure("mxrelay exited during start-up")
            time.sleep(0.05)
        raise Failure("mxrelay not ready in time")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def request(self, method, path, body=None, auth=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, payload = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        try:
            return status, json.loads(payload.decode())
        except ValueError:
            return status, payload

    def fed(self, fake, method, path, body=None, destination=RELAY, signing_key=None):
        auth = fake.auth_header(destination, method, path, body, signing_key=signing_key)
        return self.request(method, path, body, auth=auth)


def expect_error(res, status, errcode, what):
    st, j = res
    check(st == status and isinstance(j, dict) and j.get("errcode") == errcode and isinstance(j.get("error"), str),
          "%s: expected %d %s" % (what, status, errcode), (st, j))


def expect_ok(res, what):
    st, j = res
    check(st == 200 and isinstance(j, dict), "%s: expected 200 with a JSON object" % what, (st, j))
    return j


class Fixture:
    def __init__(self, relay, fake, room_id):
        self.relay, self.fake, self.room_id = relay, fake, room_id
        self.room = None
        self.user = fake.user("resident")

    def join(self):
        r, fake = self.relay, self.fake
        vers = "&".join("ver=%d" % n for n in range(1, 13))
        j = expect_ok(r.fed(fake, "GET", FED + "/v1/make_join/%s/%s?%s" % (q(self.room_id), q(self.user), vers)),
                      "make_join")
        check(j.get("room_version") == VERSION, "make_join room_version", j.get("room_version"))
        tmpl = j["event"]
        for k, want in (("room_id", self.room_id), ("sender", self.user), ("state_key", self.user),
                        ("type", "m.room.member")):
            check(tmpl.get(k) == want, "make_join template %s" % k, tmpl.get(k))
        self.room = ev.Room(VERSION, self.room_id)
        pdu = self.room.finish_template(fake, tmpl)
        eid = self.room.event_id(pdu)
        j = expect_ok(r.fed(fake, "PUT", FED + "/v2/send_join/%s/%s" % (q(self.room_id), q(eid)), pdu), "send_join")
        check(isinstance(j.get("state"), list) and isinstance(j.get("auth_chain"), list), "send_join shape", j)
        for p in j["auth_chain"]:
            self.room.add(p, as_state=False, extremity=False)
        for p in j["state"]:
            self.room.add(p, as_state=True, extremity=False)
        # The DAG's tip is the room's last event before the join: the state
        # holds it only if it is a state event, so take the join's prevs.
        for p in self.room.prev_ids(pdu):
            if p in self.room.events:
                self.room.extremities = [p]
        self.room.add(pdu)
        return eid

    def txn(self, pdus, edus=None, txn_id=None, fake=None):
        fake = fake or self.fake
        body = {"origin": fake.server_name, "origin_server_ts": now_ms(), "pdus": pdus}
        if edus is not None:
            body["edus"] = edus
        return self.relay.fed(fake, "PUT", FED + "/v1/send/%s" % q(txn_id or "bb-" + secrets.token_hex(6)), body)

    def msg(self, body="hello", **kw):
        return self.room.build(self.fake, "m.room.message", self.user, {"msgtype": "m.text", "body": body}, **kw)


def pdu_ok(j, eid):
    res = (j.get("pdus") or {}).get(eid)
    return isinstance(res, dict) and "error" not in res


# ---- the checks -----------------------------------------------------------------------------

def check_authentication(fx, other):
    r, fake = fx.relay, fx.fake
    path = FED + "/v1/send/auth-" + secrets.token_hex(4)
    body = {"origin": fake.server_name, "origin_server_ts": now_ms(), "pdus": []}
    expect_error(r.request("PUT", path, body), 401, "M_UNAUTHORIZED", "unsigned /send")
    expect_error(r.fed(fake, "PUT", path, body, destination="elsewhere.test"), 401, "M_UNAUTHORIZED",
                 "wrong destination")
    expect_error(r.fed(fake, "PUT", path, body, signing_key=new_signing_key("cunpublished")), 401, "M_UNAUTHORIZED",
                 "a key the origin does not publish")
    auth = fake.auth_header(RELAY, "PUT", path, body)
    sig = re.search(r'sig="([^"]+)"', auth).group(1)
    bad = auth.replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:])
    expect_error(r.request("PUT", path, body, auth=bad), 401, "M_UNAUTHORIZED", "bad signature")
    # the body is covered: another body under the same header fails
    expect_error(r.request("PUT", path, dict(body, origin_server_ts=1), auth=auth), 401, "M_UNAUTHORIZED",
                 "signature of another body")
    expect_error(r.fed(fake, "PUT", path, dict(body, origin=other.server_name)), 403, "M_FORBIDDEN",
                 "body origin differs from the X-Matrix origin")
    expect_error(r.request("PUT", path, raw=b"{not json", auth=auth), 400, "M_NOT_JSON", "body not JSON")
    expect_error(r.fed(fake, "POST", path, body), 405, "M_UNRECOGNIZED", "wrong method")
    expect_error(r.fed(fake, "GET", FED + "/v1/no_such_endpoint"), 404, "M_UNRECOGNIZED", "unknown endpoint")


def check_transactions(fx, other):
    r, room = fx.relay, fx.room
    # accepted, then served back
    pdu = fx.msg("served back")
    eid = room.event_id(pdu)
    j = expect_ok(fx.txn([pdu]), "/send one message")
    check(pdu_ok(j, eid), "message accepted", j)
    room.add(pdu)
    j = expect_ok(r.fed(fx.fake, "GET", FED + "/v1/event/" + q(eid)), "/event")
    check(len(j.get("pdus", [])) == 1 and j["pdus"][0].get("content") == pdu["content"], "/event content", j)
    # duplicate transaction ID: the stored response, nothing reprocessed
    tid = "bb-dup-" + secrets.token_hex(4)
    p1 = fx.msg("dup")
    a = expect_ok(fx.txn([p1], txn_id=tid), "first of a duplicate")
    room.add(p1)
    p2 = fx.msg("not processed")
    b = expect_ok(fx.txn([p2], txn_id=tid), "duplicate transaction")
    check(a == b, "a duplicate transaction gets the stored response", (a, b))
    st, _ = r.fed(fx.fake, "GET", FED + "/v1/event/" + q(room.event_id(p2)))
    check(st == 404, "the duplicate's other PDU was not processed", st)
    # bad signature, bad hash, forged sender, auth failure, unknown room: per PDU, others unaffected
    good = fx.msg("good one")
    badsig = fx.msg("bad sig")
    sigs = badsig["signatures"][fx.fake.server_name]
    k = next(iter(sigs))
    sigs[k] = ("A" if sigs[k][0] != "A" else "B") + sigs[k][1:]
    badhash = fx.msg("original")
    badhash["content"]["body"] = "tampered"
    forged = room.build(fx.fake, "m.room.message", "@victim:%s" % other.server_name, {"msgtype": "m.text", "body": "f"})
    pl = room.build(fx.fake, "m.room.power_levels", fx.user, {"users": {fx.user: 100}}, state_key="")
    stray_room = ev.Room(VERSION, "!nowhere-%s:%s" % (secrets.token_hex(4), fx.fake.server_name))
    stray = stray_room.build(fx.fake, "m.room.message", fx.user, {"body": "x"}, prev_events=[], auth_events=[], depth=1)
    batch = [badsig, good, badhash, forged, pl, stray]
    j = expect_ok(fx.txn(batch), "/send with bad PDUs")
    ids = [room.event_id(p) for p in batch[:5]]
    check(pdu_ok(j, ids[1]), "the good PDU is accepted beside bad ones", j)
    check(not pdu_ok(j, ids[0]), "bad signature refused", j)
    check(not pdu_ok(j, ids[3]), "forged sender refused", j)
    check(not pdu_ok(j, ids[4]), "power levels by a user without power rejected", j)
    check(not pdu_ok(j, stray_room.event_id(stray)), "PDU of an unknown room not accepted", j)
    check(pdu_ok(j, ids[2]), "bad hash: processed redacted", j)
    got = expect_ok(r.fed(fx.fake, "GET", FED + "/v1/event/" + q(ids[2])), "/event of the bad-hash PDU")
    check("body" not in got["pdus"][0].get("content", {}), "bad hash: served redacted", got)
    for bad in (ids[0], ids[3]):
        st, _ = r.fed(fx.fake, "GET", FED + "/v1/event/" + q(bad))
        check(st == 404, "a dropped PDU is not served", (bad, st))
    room.add(good)
    room.add(badhash)
    # oversized PDU: refused (per PDU, or the whole request)
    big = fx.msg("x" * 70000)
    st, j = fx.txn([big])
    check(st in (400, 413) or (st == 200 and not pdu_ok(j, room.event_id(big))), "oversized PDU refused", (st, j))
    # envelope limits
    st, j = fx.txn([{}] * 51)
    check(st == 400 and j.get("errcode") == "M_BAD_JSON", "51 PDUs refused", (st, j))
    st, j = fx.txn([], edus=[{"edu_type": "m.presence", "content": {"push": []}}] * 101)
    check(st == 400 and j.get("errcode") == "M_BAD_JSON", "101 EDUs refused", (st, j))
    # EDUs: a typing notice of the resident, and garbage, in one transaction
    j = expect_ok(fx.txn([], edus=[{"edu_type": "m.typing", "content": {"room_id": fx.room_id, "user_id": fx.user,
                                                                         "typing": True}},
                                   {"edu_type": "m.typing"}, {"edu_type": "org.example.x", "content": {}}]),
                  "/send with EDUs")


def check_retrieval(fx, other):
    r, room, f = fx.relay, fx.room, fx.fake
    last = room.extremities[-1]
    rid = q(fx.room_id)
    j = expect_ok(r.fed(f, "GET", FED + "/v1/state_ids/%s?event_id=%s" % (rid, q(last))), "state_ids")
    check(room.state[("m.room.create", "")] in j.get("pdu_ids", []), "state_ids has the create event", j)
    check(isinstance(j.get("auth_chain_ids"), list), "state_ids auth_chain_ids", j)
    j = expect_ok(r.fed(f, "GET", FED + "/v1/state/%s?event_id=%s" % (rid, q(last))), "state")
    check(isinstance(j.get("pdus"), list) and isinstance(j.get("auth_chain"), list), "state shape", j)
    j = expect_ok(r.fed(f, "GET", FED + "/v1/backfill/%s?v=%s&limit=3" % (rid, q(last))), "backfill")
    check(len(j.get("pdus", [])) == 3 and room.event_id(j["pdus"][0]) == last, "backfill from v", j)
    j = expect_ok(r.fed(f, "POST", FED + "/v1/get_missing_events/%s" % rid,
                        {"earliest_events": [], "latest_events": [last], "limit": 2}), "get_missing_events")
    check(len(j.get("events", [])) == 2, "get_missing_events limit", j)
    j = expect_ok(r.fed(f, "GET", FED + "/v1/event_auth/%s/%s" % (rid, q(last))), "event_auth")
    check(any(p.get("type") == "m.room.create" for p in j.get("auth_chain", [])), "event_auth chain", j)
    j = expect_ok(r.fed(f, "GET", FED + "/v1/timestamp_to_event/%s?ts=%d&dir=b" % (rid, now_ms())),
                  "timestamp_to_event")
    check(isinstance(j.get("event_id"), str) and isinstance(j.get("origin_server_ts"), int), "timestamp_to_event", j)
    # failures: missing parameters, unknown room, a server with nobody in the room
    expect_error(r.fed(f, "GET", FED + "/v1/state_ids/%s" % rid), 400, "M_MISSING_PARAM", "state_ids without event_id")
    expect_error(r.fed(f, "GET", FED + "/v1/state_ids/%s?event_id=%s" % (q("!unknown:" + RELAY), q(last))), 404,
                 "M_NOT_FOUND", "state_ids of an unknown room")
    for path in ("/v1/state_ids/%s?event_id=%s" % (rid, q(last)), "/v1/state/%s?event_id=%s" % (rid, q(last)),
                 "/v1/backfill/%s?v=%s&limit=3" % (rid, q(last)), "/v1/event_auth/%s/%s" % (rid, q(last)),
                 "/v1/event/%s" % q(last)):
        expect_error(r.fed(other, "GET", FED + path), 403, "M_FORBIDDEN", "%s by a server not in the room" % path)
    expect_error(r.fed(other, "POST", FED + "/v1/get_missing_events/%s" % rid,
                       {"earliest_events": [], "latest_events": [last]}), 403, "M_FORBIDDEN",
                 "get_missing_events by a server not in the room")
    expect_error(r.fed(f, "GET", FED + "/v1/event/%s" % q("$" + "A" * 43)), 404, "M_NOT_FOUND", "unknown event")


def check_membership_and_queries(fx, other):
    r, f = fx.relay, fx.fake
    rid = q(fx.room_id)
    j = expect_ok(r.fed(other, "GET", FED + "/v1/make_join/%s/%s?ver=%s" % (rid, q(other.user("x")), VERSION)),
                  "make_join by another server")
    st, j = r.fed(other, "GET", FED + "/v1/make_join/%s/%s?ver=1" % (rid, q(other.user("x"))))
    check(st == 400 and j.get("errcode") == "M_INCOMPATIBLE_ROOM_VERSION" and j.get("room_version") == VERSION,
          "make_join without the room's version", (st, j))
    expect_error(r.fed(other, "GET", FED + "/v1/make_join/%s/%s?ver=%s" % (rid, q(f.user("y")), VERSION)), 403,
                 "M_FORBIDDEN", "make_join for another server's user")
    expect_error(r.fed(f, "GET", FED + "/v1/make_join/%s/%s?ver=%s" % (q("!unknown:" + RELAY), q(f.user("y")),
                                                                       VERSION)), 404, "M_NOT_FOUND",
                 "make_join of an unknown room")
    j = expect_ok(r.fed(f, "GET", FED + "/v1/make_leave/%s/%s" % (rid, q(fx.user))), "make_leave")
    check(j.get("event", {}).get("content", {}).get("membership") == "leave", "make_leave template", j)
    expect_error(r.fed(f, "GET", FED + "/v1/query/profile?user_id=%s" % q("@nobody:" + RELAY)), 404, "M_NOT_FOUND",
                 "profile of an unknown user")
    j = expect_ok(r.fed(f, "GET", FED + "/v1/user/devices/%s" % q("@nobody:" + RELAY)), "user/devices")
    check(j.get("devices") == [] and j.get("stream_id") == 0, "user/devices shape", j)
    j = expect_ok(r.fed(f, "POST", FED + "/v1/user/keys/query", {"device_keys": {"@nobody:" + RELAY: []}}),
                  "keys/query")
    check(isinstance(j.get("device_keys"), dict), "keys/query shape", j)
    j = expect_ok(r.fed(f, "POST", FED + "/v1/user/keys/claim", {"one_time_keys": {}}), "keys/claim")
    check(j == {"one_time_keys": {}}, "keys/claim shape", j)
    j = expect_ok(r.fed(f, "GET", FED + "/v1/publicRooms"), "publicRooms GET")
    check(isinstance(j.get("chunk"), list), "publicRooms shape", j)
    expect_ok(r.fed(f, "POST", FED + "/v1/publicRooms", {"limit": 5}), "publicRooms POST")
    j = expect_ok(r.fed(other, "GET", FED + "/v1/hierarchy/%s" % rid), "hierarchy of a public room")
    check(j.get("room", {}).get("room_id") == fx.room_id and j.get("children") == [], "hierarchy shape", j)
    expect_error(r.request("GET", FED + "/v1/openid/userinfo?access_token=nope"), 401, "M_UNKNOWN_TOKEN",
                 "openid with an unknown token")


def check_acl(fx, other, acl_room):
    """A room whose m.room.server_acl denies IP literals (the fakes are
    127.0.0.1:PORT): every room-scoped endpoint answers 403."""
    r, f = fx.relay, fx.fake
    rid = q(acl_room)
    expect_error(r.fed(f, "GET", FED + "/v1/make_join/%s/%s?ver=%s" % (rid, q(f.user("z")), VERSION)), 403,
                 "M_FORBIDDEN", "make_join denied by the server ACL")
    expect_error(r.fed(f, "GET", FED + "/v1/state_ids/%s?event_id=%s" % (rid, q("$" + "A" * 43))), 403, "M_FORBIDDEN",
                 "state_ids denied by the server ACL")


def check_durability(fx):
    """Transactions stream in; SIGKILL mid-stream; after a restart every
    acknowledged PDU is served by /event and counted in /state_ids."""
    r, room = fx.relay, fx.room
    built = []
    for i in range(ROUNDS):
        pdus = []
        for k in range(2):
            if k == 0:
                p = room.build(fx.fake, "org.mxrelay.test", fx.user, {"i": i}, state_key="k%d" % i)
            else:
                p = fx.msg("message %d" % i)
            room.add(p)
            pdus.append(p)
        built.append(("dur-%d-%s" % (i, secrets.token_hex(3)), pdus))
    acked = []
    stop = threading.Event()

    def sender():
        for tid, pdus in built:
            if stop.is_set():
                return
            try:
                st, j = fx.txn(pdus, txn_id=tid)
            except Exception:
                return   # the daemon died under us
            if st != 200:
                return
            for p in pdus:
                check(pdu_ok(j, room.event_id(p)), "durability PDU %s accepted" % room.event_id(p), j)
            acked.append((tid, pdus, j))

    th = threading.Thread(target=sender)
    th.start()
    deadline = time.time() + 120
    while len(acked) < KILL_AFTER and th.is_alive() and time.time() < deadline:
        time.sleep(0.002)
    r.kill9()
    stop.set()
    th.join(30)
    check(len(acked) >= KILL_AFTER, "transactions acknowledged before the SIGKILL", len(acked))
    r.start()
    acked_ids = [room.event_id(p) for _, pdus, _ in acked for p in pdus]
    for eid in acked_ids:
        j = expect_ok(r.fed(fx.fake, "GET", FED + "/v1/event/" + q(eid)), "/event after restart")
        check(room.event_id(j["pdus"][0]) == eid, "/event after restart serves the event", j)
    # One more message after the last acknowledged one: the state before it
    # holds every acknowledged state event (each has its own state key).
    tail = acked[-1][1][-1]
    after = fx.msg("after the restart", prev_events=[room.event_id(tail)], depth=tail["depth"] + 1)
    j = expect_ok(fx.txn([after]), "/send after the restart")
    check(pdu_ok(j, room.event_id(after)), "message after the restart accepted", j)
    j = expect_ok(r.fed(fx.fake, "GET", FED + "/v1/state_ids/%s?event_id=%s" % (q(fx.room_id), q(room.event_id(after)))),
                  "state_ids after restart")
    state = set(j.get("pdu_ids", []))
    for _, pdus, _ in acked:
        check(room.event_id(pdus[0]) in state, "acknowledged state event in state_ids", room.event_id(pdus[0]))
    # The transaction records survived too: a retry gets the same answer.
    tid, pdus, first = acked[-1]
    again = expect_ok(fx.txn(pdus, txn_id=tid), "retry of an acknowledged transaction")
    check(again == first, "retried transaction after restart gets the stored response", (first, again))
    return len(acked)


def main():
    tmp = tempfile.mkdtemp(prefix="mxr-fed-blackbox.")
    ca_key, ca_crt = make_ca(os.path.join(tmp, "ca"))
    fakes = []
    for label in ("a", "b"):
        f = FakeServer(label)
        f.setup_tls(ca_key, ca_crt, os.path.join(tmp, "fake-" + label))
        f.start()
        fakes.append(f)
    fake, other = fakes
    relay = Relay(tmp, ca_crt)
    status = 1
    try:
        room_id = relay.seed("@creator:" + RELAY)
        acl_room = relay.seed("@creator:" + RELAY, "no-ip-literals")
        relay.start()
        fx = Fixture(relay, fake, room_id)
        fx.join()
        print("ok - joined %s as %s" % (room_id, fx.user))
        for name, fn in (("authentication", check_authentication), ("transactions", check_transactions),
                         ("retrieval", check_retrieval), ("membership and queries", check_membership_and_queries),
                         ("acl", lambda fx, other: check_acl(fx, other, acl_room))):
            fn(fx, other)
            print("ok - %s" % name)
        n = check_durability(fx)
        print("ok - durability: %d acknowledged transactions survived SIGKILL" % n)
        check(relay.stop() == 0, "clean exit on SIGTERM")
        print("ok - clean stop")
        status = 0
    except Failure as e:
        print("FAIL: %s" % e)
        if relay.proc and relay.proc.poll() is None:
            relay.proc.kill()
        print("---- relay log (tail)")
        print(relay.log()[-6000:] if os.path.exists(relay.log_path) else "(none)")
    finally:
        if relay.proc and relay.proc.poll() is None:
            relay.proc.kill()
            relay.proc.wait()
        for f in fakes:
            f.stop()
        if status == 0:
            subprocess.run(["rm", "-rf", tmp], check=False)
        else:
            print("(kept %s)" % tmp)
    return status


if __name__ == "__main__":
    sys.exit(main())
