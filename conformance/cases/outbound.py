"""Outbound federation scenarios (server-server-api §Transactions, §Joining
Rooms, §Backfilling and retrieving missing events): private relays started by
the suite, talking to each other, driven by their users through the
client-server API. Default (spawn) mode only: against a --target the suite
cannot stop and restart servers."""
import urllib.parse

from lib import case
from lib.cluster import SANITIZED, Failure, User, log, wait_for

S = "Outbound federation"
SP_TXN = "server-server-api §Transactions (a sending server retries; the receiver gets each PDU once)"
SP_JOIN = "server-server-api §Joining Rooms, §Backfilling and retrieving missing events"

# Messages sent while a destination is down. Fewer under ASan/UBSan, where every
# request costs far more; the mechanism tested is the same.
N_DOWN = 100 if SANITIZED else 500
N_QUEUE = 40


def same_state(a, b, room):
    sa, sb = a.state(room), b.state(room)
    if sa != sb:
        only_a = {k: v for k, v in sa.items() if sb.get(k) != v}
        only_b = {k: v for k, v in sb.items() if sa.get(k) != v}
        raise Failure("states differ: %s has %s, %s has %s" % (a.relay.name, only_a, b.relay.name, only_b))
    return sa


def joined_pair(cl, name):
    """alice on relay 1 creates a room, bob on relay 2 joins it over federation."""
    hs1, hs2 = cl.relays[0], cl.relays[1]
    alice, bob = User(hs1, "alice"), User(hs2, "bob")
    room = alice.create_room(name=name)
    bob.join(room, [hs1.name])
    wait_for("bob's join on %s" % hs1.name, lambda: alice.state(room).get(("m.room.member", bob.user_id)), 20)
    return alice, bob, room


def with_logs(cl, fn):
    try:
        fn()
    except Failure as e:
        raise Failure("%s (relay logs under %s)" % (e, cl.dir)) from None


@case("outbound.two_relays_then_a_third", section=S, spec=SP_JOIN + "; " + SP_TXN, requires=("cluster",))
def two_relays_then_a_third(ctx):
    """A room on A joined from B converses both ways; B misses 500 events while stopped and converges; C joins late with full state and history"""
    cl = ctx.cluster(3)

    def scenario():
        hs1, hs2, hs3 = cl.relays
        alice, bob, room = joined_pair(cl, "federated")
        carol = User(hs3, "carol")
        alice.send(room, "hello from hs1")
        bob.send(room, "hello from hs2")
        for u in (alice, bob):
            wait_for("both greetings on %s" % u.relay.name,
                     lambda u=u: {"hello from hs1", "hello from hs2"} <= set(u.messages(room)), 20)
        same_state(alice, bob, room)

        hs2.stop()
        for i in range(N_DOWN):
            alice.send(room, "m%d" % i)
        hs2.start()
        bob.send(room, "back")   # hs1 hears from hs2: its back-off ends
        want = ["m%d" % i for i in range(N_DOWN)]

        def converged():
            got = [b for b in bob.messages(room) if b.startswith("m") and b[1:].isdigit()]
            return got == want or None

        wait_for("all %d messages on %s, in order" % (N_DOWN, hs2.name), converged, 60)
        wait_for("bob's message on %s" % hs1.name, lambda: "back" in alice.messages(room), 20)
        same_state(alice, bob, room)
        # The same events on both, and alice's run of messages in the same order.
        # Where concurrent events sort may differ between servers: bob's "back"
        # (its prev_events predate the m-messages) and the two greetings.
        ma, mb = alice.messages(room), bob.messages(room)
        if sorted(ma) != sorted(mb) or [m for m in ma if m in want] != [m for m in mb if m in want]:
            raise Failure("the timelines of %s and %s differ after the restart: %s only on %s, %s only on %s"
                          % (hs1.name, hs2.name, sorted(set(ma) - set(mb))[:5], hs1.name,
                             sorted(set(mb) - set(ma))[:5], hs2.name))

        carol.join(room, [hs2.name, hs1.name])
        wait_for("carol's join on %s and %s" % (hs1.name, hs2.name),
                 lambda: all(u.state(room).get(("m.room.member", carol.user_id)) for u in (alice, bob)), 20)
        wait_for("%s's state equal to %s's" % (hs3.name, hs1.name),
                 lambda: carol.state(room) == alice.state(room) or None, 20)

        def history():
            return set(want) | {"hello from hs1", "hello from hs2", "back"} <= set(carol.messages(room)) or None

        wait_for("the history before carol's join on %s" % hs3.name, history, 40)
        same_state(carol, bob, room)
        log("converged on three relays")

    with_logs(cl, scenario)


@case("outbound.queue_survives_sender_restart", section=S, spec=SP_TXN, requires=("cluster",))
def queue_survives_sender_restart(ctx):
    """A destination down while the sender restarts: the durable queue drains when it returns, nothing lost or duplicated"""
    cl = ctx.cluster(2)

    def scenario():
        hs1, hs2 = cl.relays
        alice, bob, room = joined_pair(cl, "queue")
        alice.send(room, "before")
        wait_for("the first message on %s" % hs2.name, lambda: "before" in bob.messages(room), 20)
        hs2.stop()
        for i in range(N_QUEUE):
            alice.send(room, "q%d" % i)
        hs1.stop()      # with its queue for hs2 full
        hs1.start()
        for i in range(N_QUEUE, 2 * N_QUEUE):
            alice.send(room, "q%d" % i)
        hs2.start()     # hs2 says nothing: the queue drains on hs1's own retry
        want = ["q%d" % i for i in range(2 * N_QUEUE)]

        def drained():
            got = [b for b in bob.messages(room) if b.startswith("q")]
            if len(got) > len(set(got)):
                raise Failure("duplicates on %s: %s" % (hs2.name, sorted(b for b in set(got) if got.count(b) > 1)))
            return got == want or None

        wait_for("%s's queue to drain into %s" % (hs1.name, hs2.name), drained, 60)
        same_state(alice, bob, room)

    with_logs(cl, scenario)


SP_INVITE = ("server-server-api §Inviting to a room; client-server-api §Syncing (rooms.invite, invite_state: "
             "§Stripped state)")


@case("outbound.invite_shows_in_sync", section=S, spec=SP_INVITE, requires=("cluster",))
def invite_shows_in_sync(ctx):
    """An invite over federation reaches the invitee's /sync with the room's stripped state, and the invitee joins"""
    cl = ctx.cluster(2)

    def scenario():
        hs1, hs2 = cl.relays
        alice, bob = User(hs1, "alice"), User(hs2, "bob")
        since = bob.call("GET", "/sync?timeout=0")["next_batch"]
        room = alice.create_room(name="Invited here", topic="about it", preset="private_chat",
                                 invite=[bob.user_id])

        def invited():
            j = bob.call("GET", "/sync?timeout=0&since=" + since)
            return (j.get("rooms") or {}).get("invite", {}).get(room)

        inv = wait_for("the invite in bob's incremental /sync on %s" % hs2.name, invited, 20)
        events = (inv.get("invite_state") or {}).get("events")
        if not isinstance(events, list):
            raise Failure("rooms.invite[%s] has no invite_state.events: %s" % (room, inv))
        by_type = {(e.get("type"), e.get("state_key")): e for e in events if isinstance(e, dict)}
        for e in events:
            missing = [k for k in ("type", "state_key", "content", "sender") if k not in e]
            if missing:
                raise Failure("stripped state event lacks %s: %s" % (missing, e))
        name = by_type.get(("m.room.name", ""))
        if not name or name["content"].get("name") != "Invited here":
            raise Failure("invite_state has no m.room.name 'Invited here': %s" % events)
        me = by_type.get(("m.room.member", bob.user_id))
        if not me or me["content"].get("membership") != "invite" or me.get("sender") != alice.user_id:
            raise Failure("invite_state lacks bob's invite from alice: %s" % events)
        if not by_type.get(("m.room.create", "")):
            raise Failure("invite_state has no m.room.create: %s" % events)
        # an initial sync shows it too
        if room not in (bob.call("GET", "/sync?timeout=0").get("rooms") or {}).get("invite", {}):
            raise Failure("the invite is missing from bob's initial /sync")

        # Joining by room ID alone, as clients do after an invite (the server
        # finds a resident server itself).
        bob.call("POST", "/join/%s" % urllib.parse.quote(room, safe=""), {})
        wait_for("bob joined on %s" % hs1.name,
                 lambda: alice.state(room).get(("m.room.member", bob.user_id)), 20)
        j = bob.call("GET", "/sync?timeout=0")
        rooms = j.get("rooms") or {}
        if room in rooms.get("invite", {}) or room not in rooms.get("join", {}):
            raise Failure("after joining, bob's /sync still lists the invite or not the room: %s"
                          % {k: list(v) for k, v in rooms.items()})

    with_logs(cl, scenario)


@case("outbound.invite_rejected", section=S, spec=SP_INVITE + "; server-server-api §Leaving Rooms (Rejecting Invites)",
      requires=("cluster",))
def invite_rejected(ctx):
    """Rejecting an invite over federation (make_leave/send_leave via the inviter) ends it on both servers"""
    cl = ctx.cluster(2)

    def scenario():
        hs1, hs2 = cl.relays
        alice, bob = User(hs1, "alice"), User(hs2, "bob")
        room = alice.create_room(name="Not for bob", preset="private_chat", invite=[bob.user_id])
        wait_for("the invite in bob's /sync", lambda: room in (bob.call("GET", "/sync?timeout=0").get("rooms") or {})
                 .get("invite", {}), 20)
        bob.call("POST", "/rooms/%s/leave" % urllib.parse.quote(room, safe=""), {})
        wait_for("bob's rejection in the room on %s" % hs1.name,
                 lambda: (alice.call("GET", "/rooms/%s/state/m.room.member/%s" % (
                     urllib.parse.quote(room, safe=""), urllib.parse.quote(bob.user_id, safe="")))
                     .get("membership") == "leave") or None, 20)
        if room in (bob.call("GET", "/sync?timeout=0").get("rooms") or {}).get("invite", {}):
            raise Failure("bob's /sync still lists the invite he rejected")

    with_logs(cl, scenario)
