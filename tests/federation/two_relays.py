"""Two relays, then a third (server-server API "Joining Rooms",
"Transactions", "Backfilling and retrieving missing events"):

1. a room created on hs1 is joined from hs2; messages go both ways; the two
   current states are identical;
2. hs2 is stopped while hs1's user sends 500 messages; hs2 comes back
   (its user speaks: hs1 hears from it, ends its back-off and flushes its
   queue); both converge: every message on both sides, identical states;
3. hs3 joins late and gets the full state, and the history before its join
   (fetched in the background with /backfill).
"""
import sys

from fedlib import SANITIZED, Failure, User, log, run, wait_for

N = 100 if SANITIZED else 500


def same_state(a, b, room):
    sa, sb = a.state(room), b.state(room)
    if sa != sb:
        only_a = {k: v for k, v in sa.items() if sb.get(k) != v}
        only_b = {k: v for k, v in sb.items() if sa.get(k) != v}
        raise Failure("states differ: %s has %s, %s has %s" % (a.relay.name, only_a, b.relay.name, only_b))
    return sa


def scenario(cluster):
    hs1, hs2, hs3 = cluster.relays
    alice, bob, carol = User(hs1, "alice"), User(hs2, "bob"), User(hs3, "carol")
    room = alice.create_room(name="federated")
    log("room %s on %s" % (room, hs1.name))

    # 1. Join from hs2, converse.
    bob.join(room, [hs1.name])
    wait_for("bob's join on hs1", lambda: alice.state(room).get(("m.room.member", bob.user_id)), 20)
    alice.send(room, "hello from hs1")
    bob.send(room, "hello from hs2")
    for u in (alice, bob):
        wait_for("both greetings on %s" % u.relay.name,
                 lambda u=u: {"hello from hs1", "hello from hs2"} <= set(u.messages(room)), 20)
    same_state(alice, bob, room)
    log("joined and conversed; states identical (%d entries)" % len(alice.state(room)))

    # 2. hs2 down while hs1 talks.
    hs2.stop()
    for i in range(N):
        alice.send(room, "m%d" % i)
    log("%d messages sent with hs2 down" % N)
    hs2.start()
    bob.send(room, "back")   # hs1 hears from hs2: its back-off ends
    want = ["m%d" % i for i in range(N)]

    def converged():
        got = [b for b in bob.messages(room) if b.startswith("m") and b[1:].isdigit()]
        return got == want or None

    wait_for("all %d messages on hs2, in order" % N, converged, 40)
    wait_for("bob's message on hs1", lambda: "back" in alice.messages(room), 20)
    same_state(alice, bob, room)
    log("hs2 converged after its restart")

    # 3. A late joiner.
    carol.join(room, [hs2.name, hs1.name])
    wait_for("carol's join on hs1 and hs2",
             lambda: all(u.state(room).get(("m.room.member", carol.user_id)) for u in (alice, bob)), 20)
    wait_for("hs3's state equal to hs1's", lambda: carol.state(room) == alice.state(room) or None, 20)

    def history():
        got = set(carol.messages(room))
        return set(want) | {"hello from hs1", "hello from hs2", "back"} <= got or None

    wait_for("the history before carol's join on hs3", history, 30)
    same_state(carol, bob, room)
    log("hs3 has the full state and history")


if __name__ == "__main__":
    sys.exit(run(scenario, 3))
