"""State resolution cases.

* element-hq/synapse tests/state/test_v2.py: scenarios given as events and
  prev-event chains. The published harness walks the DAG in lexicographical
  topological order (ties by node ID), gives each event origin_server_ts = its
  position in that walk, auth_events = the auth-event selection over the state
  before it, and resolves where branches meet (room version 2 resolution,
  v6 auth selection). Here that walk is replayed to produce the two states
  that meet at END; their resolution is the fixture and the published
  expected state (plus the unchanged initial state) is the expectation. The
  one other merge (MZ1 in test_topic) is replayed with its published outcome
  (test_topic_basic resolves the same sub-DAG).
* element-hq/synapse tests/state/test_v21.py: explicit events and states
  (room version org.matrix.hydra.11, expressed as room version 12).
* ruma/ruma crates/ruma-state-res tests/it/resolve: JSON fixtures of PDUs;
  the published harness resolves them "atomically" (one state map per PDU) and
  asserts the same result iteratively and in batches. Both the atomic form and,
  where the PDUs form a tree, the two-leaves form are fixtures here.
* ruma/ruma src/state_res/tests.rs ban_with_auth_chains2 and
  test_event_map_none (explicit state sets).
"""
import heapq

from gen_common import pdu, resolve_case, state_map

SYN = "element-hq/synapse tests/state/test_v2.py"
SYN21 = "element-hq/synapse tests/state/test_v21.py"
RUMA_IT = "ruma/ruma crates/ruma-state-res/tests/it/resolve (fixtures and snapshots)"
RUMA_SR = "ruma/ruma crates/ruma-state-res/src/state_res/tests.rs"

ALICE, BOB, CHARLIE, EVELYN, ZARA = ("@alice:example.com", "@bob:example.com", "@charlie:example.com",
                                     "@evelyn:example.com", "@zara:example.com")
JOIN = {"membership": "join"}
BAN = {"membership": "ban"}


# ---- synapse test_v2.py DAG replay ------------------------------------------

SYN_INITIAL = [
    ("CREATE", ALICE, "m.room.create", "", {"creator": ALICE}),
    ("IMA", ALICE, "m.room.member", ALICE, JOIN),
    ("IPOWER", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}),
    ("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}),
    ("IMB", BOB, "m.room.member", BOB, JOIN),
    ("IMC", CHARLIE, "m.room.member", CHARLIE, JOIN),
    ("IMZ", ZARA, "m.room.member", ZARA, JOIN),
    ("START", ZARA, "m.room.message", None, {}),
    ("END", ZARA, "m.room.message", None, {}),
]
SYN_INITIAL_EDGES = ["START", "IMZ", "IMC", "IMB", "IJR", "IPOWER", "IMA", "CREATE"]


def auth_types(type_, sender, state_key, content):
    """The server-server API's auth events selection (as of room version 6)."""
    if type_ == "m.room.create":
        return []
    keys = [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", sender)]
    if type_ == "m.room.member":
        keys.append(("m.room.member", state_key))
        if content.get("membership") in ("join", "invite", "knock"):
            keys.append(("m.room.join_rules", ""))
    return keys


def lexicographical_topological_sort(graph):
    """Kahn's algorithm from the oldest events, smallest node ID first."""
    out = {n: set(p) for n, p in graph.items()}
    rev = {n: set() for n in graph}
    for n, prevs in graph.items():
        for p in prevs:
            rev[p].add(n)
    heap = [n for n, p in out.items() if not p]
    heapq.heapify(heap)
    while heap:
        n = heapq.heappop(heap)
        yield n
        for child in rev[n]:
            out[child].discard(n)
            if not out[child]:
                heapq.heappush(heap, child)


def synapse_replay(name, test, events, edges, expected_ids, merges=None, versions=("2", "10")):
    nodes = {n[0]: n for n in SYN_INITIAL + events}
    graph = {n: set() for n in nodes}
    for chain in [SYN_INITIAL_EDGES] + edges:
        for a, b in zip(chain, chain[1:]):
            graph[a].add(b)
    eid = lambda n: "$%s:example.com" % n
    state_after, pdus = {}, {}
    ts = 0
    for node in lexicographical_topological_sort(graph):
        _, sender, type_, state_key, content = nodes[node]
        prevs = sorted(graph[node])
        if node == "END":
            break
        if not prevs:
            before = {}
        elif len(prevs) == 1:
            before = dict(state_after[prevs[0]])
        else:
            before = dict(merges[node](state_after, eid))
        auth = [before[k] for k in auth_types(type_, sender, state_key, content) if k in before]
        pdus[node] = pdu(eid(node), type_, sender, content, state_key, "!test:example.com", auth=sorted(auth),
                         prev=[eid(p) for p in prevs], ts=ts, depth=ts + 1)
        ts += 1
        after = dict(before)
        if state_key is not None:
            after[(type_, state_key)] = eid(node)
        state_after[node] = after
    end_prevs = sorted(graph["END"])
    sets = [state_after[p] for p in end_prevs]
    expected = dict(state_after["START"])
    for n in expected_ids:
        _, _, type_, state_key, _ = nodes[n]
        expected[(type_, state_key)] = eid(n)
    to_json = lambda m: nest(m)
    for v in versions:
        resolve_case("synapse-%s-v%s" % (name, v), SYN, test, v, [to_json(s) for s in sets], list(pdus.values()),
                     to_json(expected), note="the states after %s, which meet at END; expected: the published "
                     "expected_state_ids over the unchanged initial state" % " and ".join(end_prevs))


def nest(flat):
    out = {}
    for (t, k), v in flat.items():
        out.setdefault(t, {})[k] = v
    return out


def gen_synapse_v2():
    pl = lambda n, s, users, **more: (n, s, "m.room.power_levels", "", dict({"users": users}, **more))
    topic = lambda n, s: (n, s, "m.room.topic", "", {})
    synapse_replay("ban-vs-pl", "test_ban_vs_pl", [
        pl("PA", ALICE, {ALICE: 100, BOB: 50}),
        ("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}),
        ("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
        pl("PB", BOB, {ALICE: 100, BOB: 50})],
        [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]], ["PA", "MA", "MB"])
    synapse_replay("join-rule-evasion", "test_join_rule_evasion", [
        ("JR", ALICE, "m.room.join_rules", "", {"join_rules": "private"}),
        ("ME", EVELYN, "m.room.member", EVELYN, {"membership": "join"})],
        [["END", "JR", "START"], ["END", "ME", "START"]], ["JR"])
    synapse_replay("offtopic-pl", "test_offtopic_pl", [
        pl("PA", ALICE, {ALICE: 100, BOB: 50}),
        pl("PB", BOB, {ALICE: 100, BOB: 50, CHARLIE: 50}),
        pl("PC", CHARLIE, {ALICE: 100, BOB: 50, CHARLIE: 0})],
        [["END", "PC", "PB", "PA", "START"], ["END", "PA"]], ["PC"])
    topic_events = [topic("T1", ALICE), pl("PA1", ALICE, {ALICE: 100, BOB: 50}), topic("T2", ALICE),
                    pl("PA2", ALICE, {ALICE: 100, BOB: 0}), pl("PB", BOB, {ALICE: 100, BOB: 50}), topic("T3", BOB)]
    synapse_replay("topic-basic", "test_topic_basic", topic_events,
                   [["END", "PA2", "T2", "PA1", "T1", "START"], ["END", "T3", "PB", "PA1"]], ["PA2", "T2"])
    synapse_replay("topic-reset", "test_topic_reset", [
        topic("T1", ALICE), pl("PA", ALICE, {ALICE: 100, BOB: 50}), topic("T2", BOB),
        ("MB", ALICE, "m.room.member", BOB, {"membership": "ban"})],
        [["END", "MB", "T2", "PA", "T1", "START"], ["END", "T1"]], ["T1", "MB", "PA"])

    def mz1_merge(state_after, eid):
        # test_topic_basic's published outcome for the same sub-DAG.
        s = dict(state_after["PA2"])
        s[("m.room.power_levels", "")] = eid("PA2")
        s[("m.room.topic", "")] = eid("T2")
        return s
    synapse_replay("topic", "test_topic",
                   topic_events + [("MZ1", ZARA, "m.room.message", None, {}), topic("T4", ALICE)],
                   [["END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"], ["END", "MZ1", "T3", "PB", "PA1"]],
                   ["T4", "PA2"], merges={"MZ1": mz1_merge})
    synapse_replay("mainline-sort", "test_mainline_sort", [
        topic("T1", ALICE), pl("PA1", ALICE, {ALICE: 100, BOB: 50}), topic("T2", ALICE),
        pl("PA2", ALICE, {ALICE: 100, BOB: 50}, events={"m.room.power_levels": 100}),
        pl("PB", BOB, {ALICE: 100, BOB: 50}), topic("T3", BOB), topic("T4", ALICE)],
        [["END", "T3", "PA2", "T2", "PA1", "T1", "START"], ["END", "T4", "PB", "PA1"]], ["T3", "PA2"])

    # SimpleParamStateTestCase.test_event_map_none: bob and charlie join at once.
    room = "!test:example.com"
    c = pdu("$CREATE:example.com", "m.room.create", ALICE, {"creator": ALICE}, "", room, ts=0)
    ma = pdu("$IMA:example.com", "m.room.member", ALICE, JOIN, ALICE, room, auth=[c["event_id"]],
             prev=[c["event_id"]], ts=1)
    jr = pdu("$IJR:example.com", "m.room.join_rules", ALICE, {"join_rule": "public"}, "", room,
             auth=[c["event_id"], ma["event_id"]], prev=[ma["event_id"]], ts=2)
    mb = pdu("$IMB:example.com", "m.room.member", BOB, JOIN, BOB, room, auth=[c["event_id"], jr["event_id"]],
             prev=[jr["event_id"]], ts=3)
    mc = pdu("$IMC:example.com", "m.room.member", CHARLIE, JOIN, CHARLIE, room, auth=[c["event_id"], jr["event_id"]],
             prev=[jr["event_id"]], ts=4)
    for v in ("2", "10"):
        resolve_case("synapse-event-map-none-v" + v, SYN, "SimpleParamStateTestCase.test_event_map_none", v,
                     [state_map([c, ma, jr, mb]), state_map([c, ma, jr, mc])], [c, ma, jr, mb, mc],
                     state_map([c, ma, jr, mb, mc]))


def gen_synapse_v21():
    ids = {}

    def ev(name, type_, state_key, sender, content, auth, prev=()):
        ts = len(ids) + 1
        eid = "$" + name
        ids[name] = eid
        room = None if type_ == "m.room.create" else "!e1_create"
        return pdu(eid, type_, sender, content, state_key, room, auth=["$" + a for a in auth],
                   prev=["$" + p for p in prev], ts=ts, depth=5)

    e1 = ev("e1_create", "m.room.create", "", ALICE, {"creator": ALICE}, [])
    e2 = ev("e2_ma", "m.room.member", ALICE, ALICE, JOIN, [], ["e1_create"])
    e3 = ev("e3_power1", "m.room.power_levels", "", ALICE, {"users": {}}, ["e2_ma"])
    e4 = ev("e4_jr", "m.room.join_rules", "", ALICE, {"join_rule": "public"}, ["e2_ma", "e3_power1"])
    e5 = ev("e5_mb", "m.room.member", BOB, BOB, JOIN, ["e3_power1", "e4_jr"])
    e6 = ev("e6_mc", "m.room.member", CHARLIE, CHARLIE, JOIN, ["e3_power1", "e4_jr"])
    e7 = ev("e7_power2", "m.room.power_levels", "", ALICE, {"users": {BOB: 50}}, ["e2_ma", "e3_power1"])
    e8 = ev("e8_power3", "m.room.power_levels", "", BOB, {"users": {BOB: 50, CHARLIE: 50}}, ["e5_mb", "e7_power2"])
    e9 = ev("e9_me1", "m.room.member", EVELYN, EVELYN, JOIN, ["e8_power3", "e4_jr"])
    e10 = ev("e10_me2", "m.room.member", EVELYN, EVELYN, JOIN, ["e3_power1", "e4_jr", "e9_me1"])
    e11 = ev("e11_mz", "m.room.member", ZARA, ZARA, JOIN, ["e8_power3", "e4_jr"])
    dodgy = state_map([e1, e2, e5, e6, e10, e3, e4])
    sensible = state_map([e1, e2, e5, e6, e11, e8, e4])
    expected = state_map([e1, e2, e5, e6, e9, e11, e8, e4])
    resolve_case("synapse-v21-state-reset-replay-conflicted-subgraph-v12", SYN21,
                 "test_state_reset_replay_conflicted_subgraph", "12", [dodgy, sensible],
                 [e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11], expected,
                 note="published with room version org.matrix.hydra.11, the draft of room version 12")

    ids.clear()
    e1 = ev("e1_create", "m.room.create", "", ALICE, {"creator": ALICE}, [])
    e2 = ev("e2_ma1", "m.room.member", ALICE, ALICE, JOIN, [])
    e3 = ev("e3_power", "m.room.power_levels", "", ALICE, {"users": {BOB: 100}}, ["e2_ma1"])
    e4 = ev("e4_jr1", "m.room.join_rules", "", ALICE, {"join_rule": "public"}, ["e2_ma1", "e3_power"])
    e5 = ev("e5_mb", "m.room.member", BOB, BOB, JOIN, ["e3_power", "e4_jr1"])
    e6 = ev("e6_jr2", "m.room.join_rules", "", ALICE, {"join_rule": "invite"}, ["e2_ma1", "e3_power"])
    e7 = ev("e7_ma2", "m.room.member", ALICE, ALICE, {"membership": "leave"}, ["e3_power", "e2_ma1"])
    correct = state_map([e1, e7, e5, e3, e6])
    incorrect = state_map([e1, e7, e5, e3, e4])
    resolve_case("synapse-v21-state-reset-start-empty-set-v12", SYN21, "test_state_reset_start_empty_set", "12",
                 [correct, incorrect], [e1, e2, e3, e4, e5, e6, e7], correct,
                 note="published with room version org.matrix.hydra.11, the draft of room version 12; e2 lists "
                      "no prev_events as published, so the creator-join rule does not apply to it (it is "
                      "unconflicted and never re-checked)")


# ---- ruma JSON fixtures ------------------------------------------------------

def P(eid, sender, type_, state_key, content, ts, prev, auth, room="!room:example.com"):
    return pdu(eid, type_, sender, content, state_key, room, auth=auth, prev=prev, ts=ts, depth=ts + 1)


def bootstrap_public():
    c, ma, p0, jr = "$00-m-room-create", "$00-m-room-member-join-alice", "$00-m-room-power_levels", \
        "$00-m-room-join_rules"
    hv, ga, mb, p1 = "$00-m-room-history_visibility", "$00-m-room-guest_access", "$00-m-room-member-join-bob", \
        "$01-m-room-power_levels"
    return [
        P(c, ALICE, "m.room.create", "", {"creator": ALICE, "room_version": "10"}, 0, [], []),
        P(ma, ALICE, "m.room.member", ALICE, {"displayname": "alice", "membership": "join"}, 1, [c], [c]),
        P(p0, ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, 2, [ma], [c, ma]),
        P(jr, ALICE, "m.room.join_rules", "", {"join_rule": "public"}, 3, [p0], [c, ma, p0]),
        P(hv, ALICE, "m.room.history_visibility", "", {"history_visibility": "shared"}, 4, [jr], [c, ma, p0]),
        P(ga, ALICE, "m.room.guest_access", "", {"guest_access": "forbidden"}, 5, [hv], [c, ma, p0]),
        P(mb, BOB, "m.room.member", BOB, {"displayname": "bob", "membership": "join"}, 6, [ga], [c, p0, jr]),
        P(p1, ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, 7, [mb], [c, p0, ma]),
    ]


def bootstrap_private():
    c, ma, p0 = "$00-m-room-create", "$00-m-room-member-join-alice", "$00-m-room-power_levels"
    return [
        P(c, ALICE, "m.room.create", "", {"creator": ALICE, "room_version": "10"}, 0, [], []),
        P(ma, ALICE, "m.room.member", ALICE, {"displayname": "alice", "membership": "join"}, 1, [c], [c]),
        P(p0, ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, 2, [], [c, ma]),
        P("$00-m-room-join_rules", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, 3, [], [c, ma, p0]),
        P("$00-m-room-history_visibility", ALICE, "m.room.history_visibility", "", {"history_visibility": "shared"},
          4, [], [c, ma, p0]),
        P("$00-m-room-guest_access", ALICE, "m.room.guest_access", "", {"guest_access": "can_join"}, 5, [],
          [c, ma, p0]),
    ]


def atomic(name, test, pdus, expected_ids, note=None, version="10"):
    by_id = {p["event_id"]: p for p in pdus}
    expected = state_map([by_id[i] for i in expected_ids])
    resolve_case("ruma-%s-atomic-v%s" % (name, version), RUMA_IT, test, version,
                 [state_map([p]) for p in pdus], pdus, expected,
                 note=("atomic form, as the published harness runs it: one state map per PDU"
                       + ("; " + note if note else "")))
    return expected


def leaves(name, test, pdus, leaf_ids, expected, note=None, version="10"):
    """The states after the given leaves, each the chain of prev_events back
    to the create event (the PDUs form a tree)."""
    by_id = {p["event_id"]: p for p in pdus}
    sets = []
    for leaf in leaf_ids:
        chain, cur = [], leaf
        while cur:
            chain.append(by_id[cur])
            prev = by_id[cur]["prev_events"]
            cur = prev[0] if prev else None
        sets.append(state_map(reversed(chain)))
    resolve_case("ruma-%s-leaves-v%s" % (name, version), RUMA_IT, test, version, sets, pdus, expected,
                 note="the states after the leaves %s (the iterative form of the published harness)%s"
                      % (", ".join(leaf_ids), "; " + note if note else ""))


def gen_ruma():
    pub = bootstrap_public()
    base_ids = [p["event_id"] for p in pub if p["event_id"] != "$00-m-room-power_levels"]
    c, ma, p1, mb = "$00-m-room-create", "$00-m-room-member-join-alice", "$01-m-room-power_levels", \
        "$00-m-room-member-join-bob"
    atomic("minimal-public-chat", "minimal_public_chat", pub, base_ids)
    priv = bootstrap_private()
    atomic("minimal-private-chat", "minimal_private_chat", priv, [p["event_id"] for p in priv])
    tie = priv + [
        P("$02-m-room-join_rules", ALICE, "m.room.join_rules", "",
          {"join_rule": "restricted", "allow": [{"room_id": "!other:example.com", "type": "m.room_membership"}]},
          6, [], [c, ma, "$00-m-room-power_levels"]),
        P("$01-m-room-join_rules", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, 7, [],
          [c, ma, "$00-m-room-power_levels"])]
    atomic("origin-server-ts-tiebreak", "origin_server_ts_tiebreak", tie,
           [p["event_id"] for p in priv if p["type"] != "m.room.join_rules"] + ["$01-m-room-join_rules"],
           note="$02-... (ts 6) sorts before $01-... (ts 7): origin_server_ts decides, not the event ID")

    def two_branch(name, test, extra, expected_ids, leaf_ids, note=None):
        pdus = pub + extra
        exp = atomic(name, test, pdus, expected_ids, note=note)
        leaves(name, test, pdus, leaf_ids, exp, note=note)

    ban = P("$00-m-room-member-ban-bob", ALICE, "m.room.member", BOB, BAN, 8, [p1], [c, p1, ma, mb])
    p2 = P("$02-m-room-power_levels", BOB, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, 8, [p1],
           [c, p1, mb])
    keep = lambda *drop: [i for i in base_ids + [p1] if i not in drop]
    two_branch("ban-vs-power-levels", "ban_vs_power_levels", [ban, p2], keep(mb) + [ban["event_id"]],
               [ban["event_id"], p2["event_id"]])
    ta = P("$00-m-room-topic-alice", ALICE, "m.room.topic", "", {"topic": "Room managed by Alice"}, 8, [p1],
           [c, p1, ma])
    p2a = P("$02-m-room-power_levels-alice", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 0}}, 9,
            [ta["event_id"]], [c, p1, ma])
    tb = P("$01-m-room-topic-bob", BOB, "m.room.topic", "", {"topic": "Room topic"}, 8, [p1], [c, p1, mb])
    two_branch("topic-vs-power-levels", "topic_vs_power_levels", [ta, p2a, tb],
               keep(p1) + [p2a["event_id"], ta["event_id"]], [p2a["event_id"], tb["event_id"]])
    p2b = P("$02-m-room-power_levels-bob", BOB, "m.room.power_levels", "",
            {"users": {ALICE: 100, BOB: 50}, "users_default": -1}, 8, [p1], [c, p1, mb])
    p2a = P("$02-m-room-power_levels-alice", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 0}}, 8,
            [p1], [c, p1, ma])
    two_branch("power-levels-admin-vs-mod", "power_levels_admin_vs_mod", [p2a, p2b], keep(p1) + [p2a["event_id"]],
               [p2a["event_id"], p2b["event_id"]])
    t0 = P("$00-m-room-topic", ALICE, "m.room.topic", "", {"topic": "Room toppic"}, 8, [p1], [c, p1, ma])
    ban = P("$00-m-room-member-ban-bob", ALICE, "m.room.member", BOB, BAN, 8, [t0["event_id"]], [c, p1, ma, mb])
    t1 = P("$01-m-room-topic", BOB, "m.room.topic", "", {"topic": "Room managed by Bob"}, 8, [t0["event_id"]],
           [c, p1, mb])
    two_branch("topic-vs-ban", "topic_vs_ban", [t0, ban, t1], keep(mb) + [ban["event_id"], t0["event_id"]],
               [ban["event_id"], t1["event_id"]])
    p2 = P("$02-m-room-power_levels", BOB, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, 8, [p1],
           [c, p1, mb])
    jr1 = P("$01-m-room-join_rules", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, 9, [p2["event_id"]],
            [c, p2["event_id"], ma])
    me = P("$00-m-room-member-join-ella", "@ella:example.com", "m.room.member", "@ella:example.com",
           {"displayname": "ella", "membership": "join"}, 9, [p2["event_id"]], [c, p2["event_id"], "$00-m-room-join_rules"])
    two_branch("join-rules-vs-join", "join_rules_vs_join", [p2, jr1, me],
               keep(p1, "$00-m-room-join_rules") + [p2["event_id"], jr1["event_id"]],
               [jr1["event_id"], me["event_id"]],
               note="join-rules-vs-join-common.json is not in the searched copy of the repository; its one "
                    "event, $02-m-room-power_levels, is rebuilt as the event of that ID in "
                    "ban-vs-power-levels-bob.json (bob re-sends the same levels; ts 8, after "
                    "$01-m-room-power_levels), which matches the snapshot's content and the other fixtures' "
                    "references. That bob sent it matters in the atomic form: his join is then in the auth "
                    "chain of a power event and is re-checked before alice's invite-only join rules")
    mc = P("$00-m-room-member-join-charlie", CHARLIE, "m.room.member", CHARLIE,
           {"displayname": "charlie", "membership": "join"}, 8, [p1], [c, p1, "$00-m-room-join_rules"])
    me = P("$00-m-room-member-join-ella", "@ella:example.com", "m.room.member", "@ella:example.com",
           {"displayname": "ella", "membership": "join"}, 8, [p1], [c, p1, "$00-m-room-join_rules"])
    two_branch("concurrent-joins", "concurrent_joins", [mc, me], keep() + [mc["event_id"], me["event_id"]],
               [mc["event_id"], me["event_id"]])


def msc4297(v):
    """MSC4297 problems A and B (ruma fixtures MSC4297-problem-{A,B}/pdus-v{11,12}.json)."""
    v12 = v == "12"
    room = "!00-m-room-create" if v12 else "!room:example.com"
    c, ma, p0, jr = "$00-m-room-create", "$00-m-room-member-join-alice", "$00-m-room-power_levels", \
        "$00-m-room-join_rules"
    mb, mc = "$00-m-room-member-join-bob", "$00-m-room-member-join-charlie"
    cr = [] if v12 else [c]          # v12 never lists the create event

    def Q(eid, sender, type_, state_key, content, ts, prev, auth):
        return P(eid, sender, type_, state_key, content, ts, prev, auth, room=None if type_ == "m.room.create" and v12
                 else room)
    common = [
        Q(c, ALICE, "m.room.create", "", {"room_version": v}, 0, [], []),
        Q(ma, ALICE, "m.room.member", ALICE, {"displayname": "alice", "membership": "join"}, 1, [c], cr),
        Q(p0, ALICE, "m.room.power_levels", "", {} if v12 else {"users": {ALICE: 100}}, 2, [ma], cr + [ma]),
        Q(jr, ALICE, "m.room.join_rules", "", {"join_rule": "public"}, 3, [p0], cr + [ma, p0]),
        Q(mb, BOB, "m.room.member", BOB, {"displayname": "bob", "membership": "join"}, 4, [jr], cr + [p0, jr]),
        Q(mc, CHARLIE, "m.room.member", CHARLIE, {"displayname": "charlie", "membership": "join"}, 5, [mb],
          cr + [p0, jr]),
    ]
    jr1, la = "$01-m-room-join_rules", "$01-m-room-member-leave-alice"
    nb, nc = "$01-m-room-member-change-display-name-bob", "$01-m-room-member-change-display-name-charlie"
    a = common + [
        Q(jr1, ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, 6, [mc], cr + [p0, ma]),
        Q(la, ALICE, "m.room.member", ALICE, {"displayname": "alice", "membership": "leave"}, 7, [jr1], cr + [p0, ma]),
        Q(nb, BOB, "m.room.member", BOB, {"displayname": "bob++", "membership": "join"}, 8, [la], cr + [p0, mb, jr1]),
        Q(nc, CHARLIE, "m.room.member", CHARLIE, {"displayname": "charlie++", "membership": "join"}, 9, [la],
          cr + [p0, mc, jr1]),
    ]
    by = {p["event_id"]: p for p in a}
    bob = state_map([by[i] for i in (c, p0, mc, jr1, la, nb)])
    charlie = state_map([by[i] for i in (c, p0, jr, mb, la, nc)])
    exp = [c, la, nb, nc, p0] + ([jr1] if v12 else [])
    resolve_case("ruma-msc4297-problem-a-v" + v, RUMA_IT, "msc4297_problem_a_state_res_v2_%s" % ("1" if v12 else "0"),
                 v, [bob, charlie], a, state_map([by[i] for i in exp]),
                 note="MSC4297 problem A: v2.0 starts the iterative checks from the unconflicted state, where "
                      "alice has left, so neither join rules event passes (no join rules in the result); v2.1 "
                      "starts from the empty state")

    p1, p2 = "$01-m-room-power_levels", "$02-m-room-power_levels"
    mz, me, ne = "$00-m-room-member-join-zara", "$00-m-room-member-join-eve", "$01-m-room-member-change-display-name-eve"
    EVE = "@eve:example.com"
    users1 = {BOB: 50} if v12 else {ALICE: 100, BOB: 50}
    users2 = dict(users1, **{CHARLIE: 50})
    b = common + [
        Q(p1, ALICE, "m.room.power_levels", "", {"users": users1}, 6, [mc], cr + [p0, ma]),
        Q(p2, BOB, "m.room.power_levels", "", {"users": users2}, 7, [p1], cr + [p1, mb]),
        Q(mz, ZARA, "m.room.member", ZARA, {"displayname": "zara", "membership": "join"}, 8, [p2], cr + [p2, jr]),
        Q(me, EVE, "m.room.member", EVE, {"displayname": "eve", "membership": "join"}, 9, [p2], cr + [p2, jr]),
        Q(ne, EVE, "m.room.member", EVE, {"displayname": "eve++", "membership": "join"}, 9, [me], cr + [p2, me, jr]),
    ]
    by = {p["event_id"]: p for p in b}
    eve = state_map([by[i] for i in (c, ma, p0, jr, mb, mc, ne)])
    zara = state_map([by[i] for i in (c, ma, jr, mb, mc, p2, mz)])
    exp = [c, jr, ma, mb, mc, ne, mz, p2 if v12 else p0]
    resolve_case("ruma-msc4297-problem-b-v" + v, RUMA_IT, "msc4297_problem_b_state_res_v2_%s" % ("1" if v12 else "0"),
                 v, [eve, zara], b, state_map([by[i] for i in exp]),
                 note="MSC4297 problem B: v2.0 leaves the power levels events between the two conflicted ones out "
                      "of the full conflicted set and resets to $00-m-room-power_levels; v2.1 adds the conflicted "
                      "state subgraph and keeps $02-m-room-power_levels")


def gen_ruma_state_res():
    room = "!test:foo"
    ids = lambda xs: ["$%s:foo" % x for x in xs]
    users = lambda **u: {"@%s:foo" % k: v for k, v in u.items()}
    A, B, C, E = "@alice:foo", "@bob:foo", "@charlie:foo", "@ella:foo"
    evs = []

    def R(name, sender, type_, state_key, content, auth, prev):
        e = pdu("$%s:foo" % name, type_, sender, content, state_key, room, auth=ids(auth), prev=ids(prev),
                ts=len(evs), depth=len(evs) + 1)
        evs.append(e)
        return e
    c = R("CREATE", A, "m.room.create", "", {"creator": A}, [], [])
    ima = R("IMA", A, "m.room.member", A, JOIN, ["CREATE"], ["CREATE"])
    R("IPOWER", A, "m.room.power_levels", "", {"users": users(alice=100)}, ["CREATE", "IMA"], ["IMA"])
    ijr = R("IJR", A, "m.room.join_rules", "", {"join_rule": "public"}, ["CREATE", "IMA", "IPOWER"], ["IPOWER"])
    imb = R("IMB", B, "m.room.member", B, JOIN, ["CREATE", "IJR", "IPOWER"], ["IJR"])
    imc = R("IMC", C, "m.room.member", C, JOIN, ["CREATE", "IJR", "IPOWER"], ["IMB"])
    pa = R("PA", A, "m.room.power_levels", "", {"users": users(alice=100, bob=50)}, ["CREATE", "IMA", "IPOWER"],
           ["IMC"])
    R("PB", A, "m.room.power_levels", "", {"users": users(alice=100, bob=50)}, ["CREATE", "IMA", "IPOWER"],
           ["IMC"])
    mb = R("MB", A, "m.room.member", E, BAN, ["CREATE", "IMA", "PB"], ["PA"])
    ime = R("IME", E, "m.room.member", E, JOIN, ["CREATE", "IJR", "PA"], ["MB"])
    a = state_map([c, ijr, ima, imb, imc, mb, pa])
    b = state_map([c, ijr, ima, imb, imc, ime, pa])
    resolve_case("ruma-ban-with-auth-chains2-v6", RUMA_SR, "ban_with_auth_chains2", "6", [a, b], evs, a,
                 note="published with AuthorizationRules::V6 and state resolution v2.0; the START/END dummy events "
                      "of the published event map play no part and are left out, so the prev event of PA "
                      "(START) and of PB (END) is IMC here; prev events do not enter the resolution")


# ---- gomatrixserverlib stateresolutionv2_test.go -----------------------------

GMSL = "matrix-org/gomatrixserverlib stateresolutionv2_test.go"


def gmsl_sets(unconflicted, conflicted):
    """The published harness hands ResolveStateConflictsV2 a conflicted and an
    unconflicted list (events sharing a (type, state_key) are conflicted).
    As state sets: one per conflicted event, each with every unconflicted
    event, which gives the same unconflicted map and conflicted set."""
    if not conflicted:
        return [state_map(unconflicted)]
    return [state_map(unconflicted + [c]) for c in conflicted]


def v6_event_id(e):
    """Reference hash event ID (room versions 4-10) of an event holding only
    the keys the redaction algorithm keeps, computed here so the fixture does
    not depend on the code under test."""
    import base64
    import hashlib
    import json as _json
    keep = {"m.room.member": ["membership"], "m.room.create": ["creator"], "m.room.join_rules": ["join_rule"],
            "m.room.history_visibility": ["history_visibility"],
            "m.room.power_levels": ["ban", "events", "events_default", "kick", "redact", "state_default", "users",
                                    "users_default"]}
    top = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "depth", "prev_events",
           "prev_state", "auth_events", "origin", "origin_server_ts", "membership"}
    r = {k: v for k, v in e.items() if k in top}
    r["content"] = {k: v for k, v in e["content"].items() if k in keep.get(e["type"], [])}
    canon = _json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "$" + base64.urlsafe_b64encode(hashlib.sha256(canon).digest()).decode().rstrip("=")


def gen_gmsl():
    import json as _json
    import os
    room = "!ROOM:example.com"

    def G(name, sender, type_, state_key, content, ts, prev, auth):
        return pdu("$%s:example.com" % name, type_, sender, content, state_key, room,
                   auth=["$%s:example.com" % a for a in auth], prev=["$%s:example.com" % p for p in prev], ts=ts,
                   depth=ts)
    base = [
        G("CREATE", ALICE, "m.room.create", "", {"creator": ALICE}, 1, [], []),
        G("IMA", ALICE, "m.room.member", ALICE, JOIN, 2, ["CREATE"], ["CREATE"]),
        G("IPOWER", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, 3, ["IMA"], ["CREATE", "IMA"]),
        G("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, 4, ["IPOWER"], ["CREATE", "IMA", "IPOWER"]),
        G("IMB", BOB, "m.room.member", BOB, JOIN, 5, ["IJR"], ["CREATE", "IJR", "IPOWER"]),
        G("IMC", CHARLIE, "m.room.member", CHARLIE, JOIN, 6, ["IMB"], ["CREATE", "IJR", "IPOWER"]),
    ]
    by = lambda evs: {e["event_id"].split(":")[0][1:]: e for e in evs}
    note = "one state set per conflicted event, each also holding every unconflicted event"
    for v in ("2", "10"):
        resolve_case("gmsl-base-v" + v, GMSL, "TestStateResolutionBase", v, gmsl_sets(base, []), base,
                     state_map(base), note="no conflicts: one state set")
    extra = [
        G("PA", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, 7, ["IMZJOIN"],
          ["CREATE", "IMA", "IPOWER"]),
        G("PB", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, 8, ["IMC"],
          ["CREATE", "IMA", "IPOWER"]),
        G("MB", ALICE, "m.room.member", EVELYN, BAN, 9, ["PA"], ["CREATE", "IMA", "PB"]),
        G("IME", EVELYN, "m.room.member", EVELYN, JOIN, 10, ["MB"], ["CREATE", "IJR", "PA"]),
    ]
    e = by(base + extra)
    unconf = [e[n] for n in ("CREATE", "IMA", "IJR", "IMB", "IMC")]
    conf = [e[n] for n in ("IPOWER", "PA", "PB", "MB", "IME")]
    for v in ("2", "10"):
        resolve_case("gmsl-ban-vs-power-level-v" + v, GMSL, "TestStateResolutionBanVsPowerLevel", v,
                     gmsl_sets(unconf, conf), base + extra,
                     state_map([e[n] for n in ("CREATE", "IJR", "PB", "IMA", "IMB", "IMC", "MB")]),
                     note=note + "; PA's prev event $IMZJOIN:example.com is not among the events, as published "
                                 "(prev events do not enter the resolution)",
                     published=state_map([e[n] for n in ("CREATE", "IJR", "PA", "IMA", "IMB", "IMC", "MB")]),
                     reason="the published harness declares IPOWER, PA and PB conflicted. The power events "
                            "IPOWER, PA, PB, MB (MB cites PB) in reverse topological power ordering: IPOWER first "
                            "(the others cite it), then PA and PB are both sent by alice at 100 per their auth "
                            "events, so origin_server_ts decides, PA (7) before PB (8), then MB. The iterative auth "
                            "checks accept all four (PB repeats PA's levels, sent by alice), so the last power "
                            "levels event applied, PB, is the resolved one; nothing unconflicted overrides it. "
                            "PA would need PB ordered first, which is the reverse of the lexicographically "
                            "smallest topological order the spec (rooms/v2 'Reverse topological power ordering', "
                            "Kahn's algorithm taking the smallest candidate) defines; Synapse's and ruma's sort "
                            "(one min-heap from the oldest events) give the same order as here. The equivalent "
                            "state of ruma's ban_with_auth_chains2, where PB is no state set's entry, resolves to "
                            "PA (fixture ruma-ban-with-auth-chains2-v6)")
    extra = [
        G("JR", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, 8, ["IMZ"], ["CREATE", "IMA", "IPOWER"]),
        G("IMZ", ZARA, "m.room.member", ZARA, JOIN, 9, ["JR"], ["CREATE", "JR", "IPOWER"]),
    ]
    e = by(base + extra)
    unconf = [e[n] for n in ("CREATE", "IMA", "IPOWER", "IMB", "IMC", "IMZ")]
    for v in ("2", "10"):
        resolve_case("gmsl-join-rule-evasion-v" + v, GMSL, "TestStateResolutionJoinRuleEvasion", v,
                     gmsl_sets(unconf, [e["IJR"], e["JR"]]), base + extra,
                     state_map([e[n] for n in ("CREATE", "JR", "IPOWER", "IMA", "IMB", "IMC", "IMZ")]),
                     note=note + "; IMZ is the only event for its key, so it is unconflicted and stays although "
                                 "it cites the invite-only JR")

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "gmsl_overpower_events.jsonl"), encoding="utf-8") as f:
        evs = [_json.loads(line) for line in f if line.strip()]
    ids = [v6_event_id(x) for x in evs]
    member2 = [i for i, x in enumerate(evs) if x["type"] == "m.room.member" and "-2:" in x["state_key"]]
    unconf = [dict(x, event_id=ids[i]) for i, x in enumerate(evs) if i not in member2]
    conf = [dict(evs[i], event_id=ids[i]) for i in member2]
    resolve_case("gmsl-other-event-doesnt-overpower-power-event-v6", GMSL,
                 "TestStateResolutionOtherEventDoesntOverpowerPowerEvent", "6", gmsl_sets(unconf, conf), evs,
                 state_map(unconf + [conf[-1]]),
                 note=note + "; the events are the published PDUs (room version 6) without event_id, so the verb "
                             "computes the IDs their auth_events cite; the published test asserts that the kick "
                             "(the last event) is in the result, the rest of the expected state is the unconflicted "
                             "state")


# ---- synapse tests/test_state.py: room version 1 resolution ------------------

SYN_V1 = "element-hq/synapse tests/test_state.py"
U1, U2 = "@user_id:example.com", "@user_id2:example.com"


def gen_synapse_v1():
    """StateTestCase (room version 1). The published harness computes the
    state at each event of a small graph (no auth_events: room version 1
    resolution authorises against the partly resolved state R) or resolves two
    given states; the fixtures hold the two states that meet."""
    room = "!room_id:example.com"

    def E(name, type_, state_key=None, depth=2, sender=U1, content=None, prev=()):
        return pdu("$%s:test" % name, type_, sender, content or {}, state_key, room, prev=["$%s:test" % p for p in prev],
                   depth=depth, ts=depth)
    note = ("the published harness reports state as sets of event IDs named after the graph nodes (\"START\"); "
            "here each node X is the event $X:test")

    def case(name, test, sets, events, expected, extra=""):
        resolve_case("synapse-v1-" + name, SYN_V1, test, "1", [state_map(s) for s in sets], events,
                     state_map(expected), note=note + extra)

    start = E("START", "m.room.create", "", 1)
    c = E("C", "m.room.name", "", 3, prev=["A"])
    case("branch-no-conflict", "test_branch_no_conflict", [[start], [start, c]], [start, c], [start, c],
         "; the name event is in one state only, so it is no conflict (rooms/v1: a conflict is two states having "
         "different event IDs for one key)")

    start = E("START", "m.room.create", "", 1, content={"creator": U1})
    a = E("A", "m.room.member", U1, 2, content={"membership": "join"}, prev=["START"])
    b = E("B", "m.room.name", "", 3, prev=["A"])
    c = E("C", "m.room.name", "", 4, prev=["A"])
    case("branch-basic-conflict", "test_branch_basic_conflict", [[start, a, b], [start, a, c]], [start, a, b, c],
         [start, a, c], "; C has the greater depth and passes")

    c = E("C", "m.room.member", "@user_id_2:example.com", 4, content={"membership": "ban"}, prev=["B"])
    d = E("D", "m.room.name", "", 4, sender="@user_id_2:example.com", prev=["B"])
    case("branch-have-banned-conflict", "test_branch_have_banned_conflict", [[start, a, b, c], [start, a, b, d]],
         [start, a, b, c, d], [start, a, b, c],
         "; D's sender is not joined, so B, the other name event, is the one that passes")

    a1 = E("A1", "m.room.create", "", 1, content={"creator": U1})
    a2 = E("A2", "m.room.member", U1, 2, content={"membership": "join"}, prev=["A1"])
    a3 = E("A3", "m.room.member", U2, 3, content={"membership": "join"}, prev=["A2"])
    a4 = E("A4", "m.room.power_levels", "", 4, content={"events": {"m.room.name": 50}, "users": {U1: 100, U2: 60}},
           prev=["A3"])
    a5 = E("A5", "m.room.name", "", 5, prev=["A4"])
    b = E("B", "m.room.power_levels", "", 6, content={"events": {"m.room.name": 50}, "users": {U2: 30}}, prev=["A5"])
    c = E("C", "m.room.name", "", 6, sender=U2, prev=["A5"])
    case("branch-have-perms-conflict", "test_branch_have_perms_conflict", [[a1, a2, a3, a4, a5, b], [a1, a2, a3, a4, c]],
         [a1, a2, a3, a4, a5, b, c], [a1, a2, a3, a5, b],
         "; power levels first: A4 then B (by u1, who has 100 under A4) pass, so R holds B; then the names: C "
         "(depth 6, u2 at 30 < 50) fails, A5 (u1, not listed in B's users: 0 < 50) fails too. The published "
         "expectation keeps A5: with no name event passing, the last candidate tried (the least depth) is kept, "
         "as Synapse does")

    pl = E("PL", "m.room.power_levels", "", content={"users": {"@foo:bar": "100", U1: "100"}})
    mem = E("MEM", "m.room.member", U1, content={"membership": "join"})
    cr = E("CREATION", "m.room.create", "", content={"creator": "@foo:bar"})
    t_lo = E("T1", "test1", "1", 1)
    t_hi = E("T2", "test1", "1", 2)
    for order, sets in (("deeper-second", [[cr, pl, mem, t_lo], [cr, pl, mem, t_hi]]),
                        ("deeper-first", [[cr, pl, mem, t_hi], [cr, pl, mem, t_lo]])):
        case("standard-depth-conflict-" + order, "test_standard_depth_conflict", sets, [cr, pl, mem, t_lo, t_hi],
             [cr, pl, mem, t_hi], "; the test1 event of greater depth wins, whichever state holds it "
                                  "(the sender has \"100\" >= state_default 50)")


def gen_synapse_v1_conflict():
    """test_resolve_message_conflict / test_resolve_state_conflict: two
    given states (room version 1) sharing only the create event; the
    published assertion is the size of the result (6 keys). The event IDs
    follow the published helper's counter as if it started at 1000 for this
    test ($1001 is the event being placed, not part of either state)."""
    import hashlib
    room = "!room_id:example.com"
    E = lambda n, type_, sk, content=None: pdu("$%d:test" % n, type_, U1, content or {}, sk, room, depth=2, ts=2)
    cr = E(1002, "m.room.create", "")
    s1 = [cr, E(1003, "test1", "1"), E(1004, "test1", "2"), E(1005, "test2", "")]
    s2 = [cr, E(1006, "test1", "1"), E(1007, "test3", "2"), E(1008, "test4", "")]
    # test1/1 is the one conflict; neither candidate passes (the sender has
    # no membership), so the last one tried stays: least depth (both 2), then
    # highest sha1(event_id).
    cands = [s1[1], s2[1]]
    keep = max(cands, key=lambda e: hashlib.sha1(e["event_id"].encode()).hexdigest())
    expected = [cr, keep, s1[2], s1[3], s2[2], s2[3]]
    resolve_case("synapse-v1-resolve-conflict", SYN_V1, "test_resolve_message_conflict / test_resolve_state_conflict",
                 "1", [state_map(s1), state_map(s2)], s1 + s2[1:], state_map(expected),
                 note="the published tests assert 6 keys; the test1/1 winner is %s: neither candidate passes auth "
                      "(the sender has no membership), so, as Synapse does, the last one tried stays (the higher "
                      "sha1(event_id) at equal depth); keys in one state only are no conflict" % keep["event_id"])
