"""A destination that is down (server-server API "Transactions"; the
sender's queue is durable): hs1 queues messages for hs2 while hs2 is down,
is itself restarted in the middle, queues more, and when hs2 comes back the
queue drains on hs1's own retries (hs2 says nothing that would hurry it):
every message arrives, once, in order.
"""
import sys

from fedlib import Failure, User, log, run, wait_for

N1, N2 = 40, 40


def scenario(cluster):
    hs1, hs2 = cluster.relays
    alice, bob = User(hs1, "alice"), User(hs2, "bob")
    room = alice.create_room(name="queue")
    bob.join(room, [hs1.name])
    wait_for("bob's join on hs1", lambda: alice.state(room).get(("m.room.member", bob.user_id)), 20)
    alice.send(room, "before")
    wait_for("the first message on hs2", lambda: "before" in bob.messages(room), 20)

    hs2.stop()
    for i in range(N1):
        alice.send(room, "q%d" % i)
    hs1.stop()      # with its queue for hs2 full
    hs1.start()
    for i in range(N1, N1 + N2):
        alice.send(room, "q%d" % i)
    log("%d messages queued for hs2 across a restart of hs1" % (N1 + N2))
    hs2.start()
    want = ["q%d" % i for i in range(N1 + N2)]

    def drained():
        got = [b for b in bob.messages(room) if b.startswith("q")]
        if len(got) > len(set(got)):
            raise Failure("duplicates on hs2: %s" % sorted(b for b in set(got) if got.count(b) > 1))
        return got == want or None

    wait_for("hs1's queue to drain into hs2 (on its own retry)", drained, 45)
    if alice.state(room) != bob.state(room):
        raise Failure("states differ after the drain")
    log("all %d messages on hs2, once each, in order" % len(want))


if __name__ == "__main__":
    sys.exit(run(scenario, 2))
