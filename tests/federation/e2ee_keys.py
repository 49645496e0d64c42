#!/usr/bin/python3
"""E2EE keys across two relays (server-server API "End-to-End Encryption",
"Device Management"): alice on the first relay uploads device keys (signed
with PyNaCl through signedjson, the oracle), a one-time key and cross-signing
keys; bob on the second relay, sharing a room with her, reads them with
/keys/query and claims the one-time key with /keys/claim (both answered over
federation), and sees her in /sync device_lists.changed when her keys change
(the m.device_list_update EDU). An unreachable server shows up in `failures`."""
import json
import os
import secrets
import sys
import urllib.parse
import urllib.request  # noqa: F401  (stdlib http first: fedlib puts conformance/lib, which has an http.py, on the path)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fedlib import Failure, User, log, run, wait_for  # noqa: E402

import nacl.signing  # noqa: E402
from signedjson.key import encode_verify_key_base64, get_verify_key  # noqa: E402
from signedjson.sign import sign_json  # noqa: E402


def signing_key(seed, version):
    sk = nacl.signing.SigningKey(bytes([seed]) * 32)
    sk.version, sk.alg = version, "ed25519"
    return sk


def pub(sk):
    return encode_verify_key_base64(get_verify_key(sk))


def device_keys(user_id, device_id, sk, extra_alg=False):
    algs = ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"] + (["org.example.test"] if extra_alg else [])
    dk = {"user_id": user_id, "device_id": device_id, "algorithms": algs,
          "keys": {"curve25519:" + device_id: "3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI",
                   "ed25519:" + device_id: pub(sk)}}
    return sign_json(dk, user_id, sk)


def register(relay, localpart):
    """A User whose password we keep (for a second login)."""
    password = secrets.token_urlsafe(18)
    body = {"username": localpart, "password": password}
    st, j = relay.request("POST", "/_matrix/client/v3/register", body)
    if st == 401 and "session" in j:
        body["auth"] = {"type": "m.login.dummy", "session": j["session"]}
        st, j = relay.request("POST", "/_matrix/client/v3/register", body)
    if st != 200:
        raise Failure("register %s: %s %s" % (localpart, st, j))
    u = User.__new__(User)
    u.relay, u.user_id, u.token, u.txn, u.password = relay, j["user_id"], j["access_token"], 0, password
    return u


def whoami(u):
    return u.call("GET", "/account/whoami")["device_id"]


def main(cl):
    a, b = cl.relays[0], cl.relays[1]
    alice, bob = register(a, "alice"), User(b, "bob")
    adev = whoami(alice)
    dev_sk = signing_key(7, adev)
    dk = device_keys(alice.user_id, adev, dev_sk)
    otk = sign_json({"key": "zKbLg+NrIjpnagy+pIY6uPL4ZwEG2v+8F9lmgsnlZzs"}, alice.user_id, dev_sk)
    r = alice.call("POST", "/keys/upload", {"device_keys": dk, "one_time_keys": {"signed_curve25519:AAAAAQ": otk}})
    if r["one_time_key_counts"].get("signed_curve25519") != 1:
        raise Failure("upload counts: %s" % r)
    mk_sk = signing_key(8, "x")
    mk_sk.version = pub(mk_sk)
    master = {"user_id": alice.user_id, "usage": ["master"], "keys": {"ed25519:" + pub(mk_sk): pub(mk_sk)}}
    alice.call("POST", "/keys/device_signing/upload", {"master_key": master})

    room = alice.create_room()
    bob.join(room, [a.name])
    log("bob joined %s" % room)

    q = bob.call("POST", "/keys/query", {"device_keys": {alice.user_id: []}, "timeout": 20000})
    got = q.get("device_keys", {}).get(alice.user_id, {}).get(adev)
    if not got:
        raise Failure("bob's query found no keys of %s: %s" % (alice.user_id, q))
    got.pop("unsigned", None)
    if got != dk:
        raise Failure("keys changed on the way: %s != %s" % (got, dk))
    if q.get("master_keys", {}).get(alice.user_id) != master:
        raise Failure("master key not relayed: %s" % q)
    if "failures" not in q:
        raise Failure("no failures field: %s" % q)
    log("keys/query over federation: ok")

    c = bob.call("POST", "/keys/claim", {"one_time_keys": {alice.user_id: {adev: "signed_curve25519"}}})
    claimed = c.get("one_time_keys", {}).get(alice.user_id, {}).get(adev, {})
    if claimed != {"signed_curve25519:AAAAAQ": otk}:
        raise Failure("claim over federation: %s" % c)
    c = bob.call("POST", "/keys/claim", {"one_time_keys": {alice.user_id: {adev: "signed_curve25519"}}})
    if c.get("one_time_keys", {}).get(alice.user_id):
        raise Failure("a one-time key was handed out twice: %s" % c)
    log("keys/claim over federation: ok")

    q = bob.call("POST", "/keys/query", {"device_keys": {"@x:unreachable.invalid": []}, "timeout": 2000})
    if "unreachable.invalid" not in q.get("failures", {}):
        raise Failure("unreachable server not in failures: %s" % q)

    since = bob.call("GET", "/sync?timeout=0")["next_batch"]
    alice.call("POST", "/keys/upload", {"device_keys": device_keys(alice.user_id, adev, dev_sk, extra_alg=True)})

    def changed():
        nonlocal since
        s = bob.call("GET", "/sync?timeout=1000&since=" + urllib.parse.quote(since))
        since = s["next_batch"]
        return alice.user_id in s.get("device_lists", {}).get("changed", [])
    wait_for("alice in bob's device_lists.changed", changed, 30)
    q = bob.call("POST", "/keys/query", {"device_keys": {alice.user_id: [adev]}})
    if "org.example.test" not in q["device_keys"][alice.user_id][adev]["algorithms"]:
        raise Failure("new keys not seen: %s" % json.dumps(q))
    log("device list update reached bob: ok")

    # a second device of alice's (password login), then its logout: bob
    # hears of both (m.device_list_update, the second with deleted: true)
    st, j = a.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
        "password": alice.password, "device_id": "SECOND"})
    if st != 200:
        raise Failure("second login: %s %s" % (st, j))
    tok2 = j["access_token"]
    sk2 = signing_key(9, "SECOND")
    st, j = a.request("POST", "/_matrix/client/v3/keys/upload",
                      {"device_keys": device_keys(alice.user_id, "SECOND", sk2)}, token=tok2)
    if st != 200:
        raise Failure("second upload: %s %s" % (st, j))
    wait_for("alice's second device in bob's device_lists.changed", changed, 30)
    q = bob.call("POST", "/keys/query", {"device_keys": {alice.user_id: []}})
    if sorted(q["device_keys"][alice.user_id]) != sorted([adev, "SECOND"]):
        raise Failure("expected two devices: %s" % json.dumps(q))
    st, j = a.request("POST", "/_matrix/client/v3/logout", {}, token=tok2)
    if st != 200:
        raise Failure("logout: %s %s" % (st, j))
    wait_for("alice's logout in bob's device_lists.changed", changed, 30)
    q = bob.call("POST", "/keys/query", {"device_keys": {alice.user_id: []}})
    if sorted(q["device_keys"][alice.user_id]) != [adev]:
        raise Failure("the logged-out device is still listed: %s" % json.dumps(q))
    log("second device and its logout reached bob: ok")


if __name__ == "__main__":
    sys.exit(run(main, 2))
