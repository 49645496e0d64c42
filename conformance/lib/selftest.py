"""Checks of the suite's own signing code against the spec's test vectors
(appendices §Cryptographic Test Vectors, server-server-api §Request
Authentication), run by `conformance/run --selftest` before anything else:
a suite that signs wrongly would blame the server under test."""
import copy

from signedjson.key import decode_signing_key_base64

from . import events as ev
from .crypto import b64, canonical, public_b64
from .fakeserver import parse_xmatrix
from .xmatrix import request_signature

SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"


class _Signer:
    server_name = "domain"

    def __init__(self):
        self.signing_key = decode_signing_key_base64("ed25519", "1", SEED)


def _eq(name, got, want, failures):
    if got != want:
        failures.append("%s: got %r, want %r" % (name, got, want))


def run():
    """Returns a list of failure messages (empty when all hold)."""
    f = []
    s = _Signer()
    _eq("public key", public_b64(s.signing_key), "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI", f)
    _eq("canonical", canonical({"b": "2", "a": "1", "c": {"日": 1, "本": 2}}).decode(),
        '{"a":"1","b":"2","c":{"日":1,"本":2}}', f)
    minimal = {"room_id": "!x:domain", "sender": "@a:domain", "origin": "domain", "origin_server_ts": 1000000,
               "signatures": {}, "hashes": {}, "type": "X", "content": {}, "prev_events": [], "auth_events": [],
               "depth": 3, "unsigned": {"age_ts": 1000000}}
    e = ev.sign_event(copy.deepcopy(minimal), "domain", s.signing_key, ev.room_version("10"))
    _eq("minimal event hash", e["hashes"]["sha256"], "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos", f)
    _eq("minimal event signature (v1-v10 redaction)", e["signatures"]["domain"]["ed25519:1"],
        "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg", f)
    msg = {"content": {"body": "Here is the message content"}, "event_id": "$0:domain", "origin": "domain",
           "origin_server_ts": 1000000, "type": "m.room.message", "room_id": "!r:domain", "sender": "@u:domain",
           "signatures": {}, "unsigned": {"age_ts": 1000000}}
    e = ev.sign_event(copy.deepcopy(msg), "domain", s.signing_key, ev.room_version("1"))
    _eq("message event hash", e["hashes"]["sha256"], "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g", f)
    _eq("message event signature", e["signatures"]["domain"]["ed25519:1"],
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA", f)
    _eq("event hash check", ev.hash_ok(e), True, f)
    _eq("event signature check", ev.event_signed_by(e, "domain", "ed25519:1", public_b64(s.signing_key),
                                                    ev.room_version("1")), True, f)
    e11 = ev.sign_event(copy.deepcopy(minimal), "domain", s.signing_key, ev.room_version("11"))
    _eq("minimal event signature (v11 redaction)", e11["signatures"]["domain"]["ed25519:1"],
        "Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw", f)
    v12 = ev.room_version("12")
    create = {"auth_events": [], "content": {"room_version": "12"}, "depth": 1, "origin_server_ts": 1000000,
              "prev_events": [], "sender": "@a:domain", "state_key": "", "type": "m.room.create"}
    c = ev.sign_event(copy.deepcopy(create), "domain", s.signing_key, v12)
    _eq("v12 create hash", c["hashes"]["sha256"], "ccqBumrNf46eCfIkdZSYW9RNafS0xFYYDm5rnZBSVJU", f)
    _eq("v12 create signature", c["signatures"]["domain"]["ed25519:1"],
        "0iTJ32BZFymf41Y7UBttP2wZ0JTo6UjsLDQuf+79LB+WeKVfoLyR2I8RF23ZdFgCuxtjVBl5MKXIOWP+ocELDw", f)
    _eq("v12 create event ID", ev.event_id(c, v12), "$P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM", f)
    _eq("v12 room ID", ev.room_id_of_create(c, v12), "!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM", f)
    v3 = ev.event_id(c, ev.room_version("3"))
    _eq("v3 event ID alphabet", v3.startswith("$") and "-" not in v3 and "_" not in v3, True, f)
    _eq("X-Matrix GET signature",
        request_signature(s.signing_key, "domain", "remote.example", "GET", "/_matrix/federation/v1/version"),
        "wR1E4UZ3G3F2knf0x+RNgxQ2N/hCiZ/ZdOktAey0wSvTWc/nHH8YPJaOvRhipwX46AZPntLZhHd0DFjZ7H7iDQ", f)
    _eq("X-Matrix PUT signature",
        request_signature(s.signing_key, "domain", "remote.example", "PUT", "/_matrix/federation/v1/send/1234",
                          {"origin": "domain", "origin_server_ts": 1000000, "pdus": []}),
        "dr73hN7zolZwMYNxUTLfimadLNobMc7Qhl5WROk+Wz6SkqI3C+87EXV1BIEK/Nun5/NeEK8RayFZOdyGFjyDBw", f)
    _eq("X-Matrix parse", parse_xmatrix('X-Matrix  ORIGIN=a.b:8448 , key="ed25519:1",\tsig="x\\"y",extra=1'),
        {"origin": "a.b:8448", "key": "ed25519:1", "sig": 'x"y', "extra": "1"}, f)
    # A fake room of every version builds events whose hashes and signatures check out.
    for n in range(1, 13):
        ver = ev.room_version(str(n))
        room = ev.create_room(s, ver)
        for eid, pdu in room.events.items():
            if not (ev.hash_ok(pdu) and ev.event_signed_by(pdu, "domain", "ed25519:1", public_b64(s.signing_key),
                                                            ver)):
                f.append("room v%d: event %s does not verify" % (n, eid))
        if not room.room_id.startswith("!") or (n >= 12) == (":" in room.room_id):
            f.append("room v%d: room ID %s has the wrong form" % (n, room.room_id))
    _eq("b64 unpadded", b64(b"\x00\x01"), "AAE", f)
    return f


if __name__ == "__main__":
    import sys
    fails = run()
    for m in fails:
        print("FAIL", m)
    print("selftest: %s" % ("ok" if not fails else "%d failures" % len(fails)))
    sys.exit(1 if fails else 0)
