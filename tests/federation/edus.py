#!/usr/bin/python3
"""Ephemeral traffic across two relays (server-server API "Typing
Notifications", "Receipts", "Send-to-device messaging"): alice on the first
relay types, sends a public and a private read receipt and a to-device
message; bob on the second relay sees the typing notice, the public receipt
only, and the message, which is still there after his relay restarts (it was
not acknowledged) and gone once his next sync acknowledges it."""
import os
import sys
import urllib.parse

# conformance/lib after the standard library: its http.py must not shadow it.
sys.path.append(os.path.join(os.environ.get("MXR_SRCDIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                          "..", ".."), "conformance", "lib"))
from cluster import Failure, User, log, run, wait_for  # noqa: E402


def q(s):
    return urllib.parse.quote(s, safe="")


def main(cl):
    a, b = cl.relays[0], cl.relays[1]
    alice, bob = User(a, "alice"), User(b, "bob")
    bdev = bob.call("GET", "/account/whoami")["device_id"]
    room = alice.create_room()
    bob.join(room, [a.name])
    event = alice.send(room, "read me")
    log("bob joined %s" % room)
    since = bob.call("GET", "/sync?timeout=0")["next_batch"]

    alice.call("PUT", "/rooms/%s/typing/%s" % (q(room), q(alice.user_id)), {"typing": True, "timeout": 30000})
    alice.call("POST", "/rooms/%s/receipt/m.read.private/%s" % (q(room), q(event)), {})
    alice.call("POST", "/rooms/%s/receipt/m.read/%s" % (q(room), q(event)), {})
    alice.call("PUT", "/sendToDevice/org.example.ping/t1", {"messages": {bob.user_id: {bdev: {"n": 1}}}})

    seen = {"typing": False, "receipt": None, "to_device": []}

    def collect():
        nonlocal since
        s = bob.call("GET", "/sync?timeout=1000&since=" + q(since))
        since = s["next_batch"]
        seen["to_device"] += s.get("to_device", {}).get("events", [])
        for e in s.get("rooms", {}).get("join", {}).get(room, {}).get("ephemeral", {}).get("events", []):
            if e["type"] == "m.typing" and alice.user_id in e["content"].get("user_ids", []):
                seen["typing"] = True
            if e["type"] == "m.receipt" and event in e["content"]:
                seen["receipt"] = e["content"][event]
        return seen["typing"] and seen["receipt"] and seen["to_device"]
    wait_for("typing, receipt and to-device at bob", collect, 45)
    if "m.read.private" in seen["receipt"] or alice.user_id not in seen["receipt"].get("m.read", {}):
        raise Failure("bob's receipts: %s" % seen["receipt"])
    m = seen["to_device"][0]
    if m.get("sender") != alice.user_id or m.get("type") != "org.example.ping" or m.get("content") != {"n": 1}:
        raise Failure("to-device message: %s" % m)
    log("typing, public receipt only, to-device: ok")

    # Not acknowledged yet (the token covering it was not used): it survives
    # bob's relay restarting, in an initial sync.
    b.stop()
    b.start()
    s = bob.call("GET", "/sync?timeout=0")
    if [e.get("content") for e in s.get("to_device", {}).get("events", [])] != [{"n": 1}]:
        raise Failure("after restart: %s" % s.get("to_device"))
    r = s["rooms"]["join"][room]["ephemeral"]["events"]
    if not any(e["type"] == "m.receipt" and alice.user_id in e["content"].get(event, {}).get("m.read", {}) for e in r):
        raise Failure("receipt lost in the restart: %s" % r)
    s = bob.call("GET", "/sync?timeout=0&since=" + q(s["next_batch"]))
    if s.get("to_device", {}).get("events"):
        raise Failure("acknowledged message delivered again: %s" % s["to_device"])
    log("durable across a restart, gone once acknowledged: ok")


if __name__ == "__main__":
    sys.exit(run(main, 2))
