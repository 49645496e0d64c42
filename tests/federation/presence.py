#!/usr/bin/python3
"""Presence across two relays (client-server API "Presence", server-server
API "Presence"): alice on the first relay sets her presence; bob on the
second relay, who shares a room with her, sees the m.presence event in his
/sync and reads her status with GET /presence/{userId}/status."""
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
    room = alice.create_room()
    bob.join(room, [a.name])
    log("bob joined %s" % room)
    since = bob.call("GET", "/sync?timeout=0")["next_batch"]

    alice.call("PUT", "/presence/%s/status" % q(alice.user_id), {"presence": "unavailable", "status_msg": "brb"})
    seen = {}

    def collect():
        nonlocal since
        s = bob.call("GET", "/sync?timeout=1000&since=" + q(since))
        since = s["next_batch"]
        for e in s.get("presence", {}).get("events", []):
            if e.get("type") == "m.presence" and e.get("sender") == alice.user_id:
                seen.update(e["content"])
        return seen.get("presence") == "unavailable"
    wait_for("alice's presence in bob's sync", collect, 45)
    if seen.get("status_msg") != "brb" or not isinstance(seen.get("last_active_ago"), int):
        raise Failure("alice's presence at bob: %s" % seen)
    got = bob.call("GET", "/presence/%s/status" % q(alice.user_id))
    if got.get("presence") != "unavailable" or got.get("status_msg") != "brb":
        raise Failure("GET presence at bob's relay: %s" % got)
    log("presence over federation: ok")


if __name__ == "__main__":
    sys.exit(run(main, 2))
