"""Auth cases from element-hq/synapse tests/test_event_auth.py (EventAuthTestCase).

The published helpers build events with room !test_room:example.com, creator
@creator:example.com and content {"creator": sender} for create events; the
state-dependent tests pass a list of events as the room state.
"""
from gen_common import NOT_LISTED, auth_case, pdu, rule

SRC = "element-hq/synapse tests/test_event_auth.py"
ROOM = "!test_room:example.com"
CREATOR = "@creator:example.com"
PLEB = "@joiner:example.com"
KING = "@joiner2:example.com"
OTHER = "@other:example.com"
INVITER = "@inviter:foo.test"


def create(v, eid="$create"):
    return pdu(eid, "m.room.create", CREATOR, {"creator": CREATOR}, "", ROOM, ts=1)


def member(eid, user, membership, sender=None, extra=None, auth=(), prev=()):
    content = {"membership": membership}
    content.update(extra or {})
    return pdu(eid, "m.room.member", sender or user, content, user, ROOM, auth=auth, prev=prev, ts=2)


def power(eid, sender, content):
    return pdu(eid, "m.room.power_levels", sender, content, "", ROOM, ts=3)


def join_rules(eid, rule):
    return pdu(eid, "m.room.join_rules", CREATOR, {"join_rule": rule}, "", ROOM, ts=3)


def state_ev(eid, sender, auth=()):
    return pdu(eid, "test.state", sender, {"membership": "join"}, "", ROOM, auth=auth, ts=9)


def alias(eid, sender, state_key):
    return pdu(eid, "m.room.aliases", sender, {"aliases": []}, state_key, ROOM, ts=9)


def case(name, test, v, expect, event, state, **kw):
    auth_case("synapse-" + name, SRC, test, v, expect, event, state, **kw)


def gen():
    # --- state-independent rules (the event's own auth_events list) ---------
    good = create("9", "$good_create")
    case("create-with-prev-events-good", "test_create_event_with_prev_events", "9", "allowed",
         dict(good, content={"creator": CREATOR, "room_version": "9"}), [], spec="rooms/v9 rule 1")
    case("create-with-prev-events-bad", "test_create_event_with_prev_events", "9", "denied",
         dict(good, content={"creator": CREATOR, "room_version": "9"}, prev_events=["$fakeevent"]), [],
         spec="rooms/v9 rule 1.1: a create event with prev_events")

    c = create("9")
    j1 = member("$join1", CREATOR, "join")
    j2 = member("$join2", CREATOR, "join")
    pl = power("$pl", CREATOR, {"state_default": 30, "users": {"creator": 100}})
    jr = join_rules("$jr", "public")
    full_note = ("the published test runs only the rules over the event's auth_events list "
                 "(check_state_independent_auth_rules), which pass; the full rules deny it: the "
                 "power levels' users key is \"creator\", not the user ID, so @creator:example.com "
                 "has users_default 0 < state_default 30 (rule 7)")
    case("duplicate-auth-events-good", "test_duplicate_auth_events", "9", "denied",
         state_ev("$ev", CREATOR, ["$create", "$join2", "$pl"]), [c, j2, pl],
         spec="rooms/v9 rules 2 (pass) and 7 (fail)", note=full_note)
    case("duplicate-auth-events-two-joins", "test_duplicate_auth_events", "9", "denied",
         state_ev("$ev", CREATOR, ["$create", "$join1", "$join2", "$pl"]), [c, j1, j2, pl],
         spec="rooms/v9 rule 2.1: two entries for (m.room.member, @creator:example.com)")
    case("duplicate-auth-events-same-event-twice", "test_duplicate_auth_events", "9", "denied",
         state_ev("$ev", CREATOR, ["$create", "$join2", "$join2", "$pl"]), [c, j2, pl],
         spec="rooms/v9 rule 2.1: the same event listed twice")
    case("unexpected-auth-events-good", "test_unexpected_auth_events", "9", "denied",
         state_ev("$ev", CREATOR, ["$create", "$join1", "$pl"]), [c, j1, pl],
         spec="rooms/v9 rules 2 (pass) and 7 (fail)", note=full_note)
    case("unexpected-auth-events-join-rules", "test_unexpected_auth_events", "9", "denied",
         state_ev("$ev", CREATOR, ["$create", "$join1", "$pl", "$jr"]), [c, j1, pl, jr],
         spec="rooms/v9 rule 2.2: m.room.join_rules is not selected for a non-member event")

    # --- state-dependent rules ---------------------------------------------
    for v in ("1",):
        st = [create(v), member("$cj", CREATOR, "join"), member("$pj", PLEB, "join")]
        case("random-users-before-first-pl-creator", "test_random_users_cannot_send_state_before_first_pl", v,
             "allowed", state_ev("$ev", CREATOR), st, note=NOT_LISTED,
             spec="no power levels: the creator has 100 >= state_default 50")
        case("random-users-before-first-pl-joiner", "test_random_users_cannot_send_state_before_first_pl", v,
             "denied", state_ev("$ev", PLEB), st, note=NOT_LISTED,
             spec="rooms/v1 rule 8: no power levels: a joiner has 0 < state_default 50")

        st = [create(v), member("$cj", CREATOR, "join"),
              power("$pl", CREATOR, {"state_default": "30", "users": {PLEB: "29", KING: "30"}}),
              member("$pj", PLEB, "join"), member("$kj", KING, "join")]
        case("state-default-level-pleb", "test_state_default_level", v, "denied", state_ev("$ev", PLEB), st,
             note=NOT_LISTED, spec="rooms/v1 rule 8 with string power levels: \"29\" < \"30\"")
        case("state-default-level-king", "test_state_default_level", v, "allowed", state_ev("$ev", KING), st,
             note=NOT_LISTED, spec="rooms/v1 rule 8 with string power levels: \"30\" >= \"30\"")

    st = [create("1"), member("$cj", CREATOR, "join")]
    case("alias-v1-creator", "test_alias_event", "1", "allowed", alias("$al", CREATOR, "example.com"), st,
         note=NOT_LISTED, spec="rooms/v1 rule 4.2")
    case("alias-v1-empty-state-key", "test_alias_event", "1", "denied", alias("$al", CREATOR, ""), st,
         note=NOT_LISTED, spec="rooms/v1 rule 4: state_key \"\" is not the sender's domain")
    case("alias-v1-other-domain", "test_alias_event", "1", "denied", alias("$al", CREATOR, "test.com"), st,
         note=NOT_LISTED, spec="rooms/v1 rule 4.2")
    case("alias-v1-sender-not-joined", "test_alias_event", "1", "allowed", alias("$al", OTHER, "example.com"),
         st, note=NOT_LISTED, spec="rooms/v1 rule 4 comes before the membership rules")
    st = [create("6"), member("$cj", CREATOR, "join")]
    case("alias-v6-creator", "test_msc2432_alias_event", "6", "allowed", alias("$al", CREATOR, "example.com"),
         st, note=NOT_LISTED, spec="rooms/v6: no aliases rule; the creator has 100 >= 50")
    case("alias-v6-empty-state-key", "test_msc2432_alias_event", "6", "allowed", alias("$al", CREATOR, ""),
         st, note=NOT_LISTED, spec="rooms/v6: no aliases rule")
    case("alias-v6-other-domain", "test_msc2432_alias_event", "6", "allowed", alias("$al", CREATOR, "test.com"),
         st, note=NOT_LISTED, spec="rooms/v6: no aliases rule")
    case("alias-v6-sender-not-joined", "test_msc2432_alias_event", "6", "denied",
         alias("$al", OTHER, "example.com"), st, note=NOT_LISTED, spec="rooms/v6 rule 5: sender not joined")

    for v, expect, spec in (("1", "allowed", "rooms/v1: notifications levels are not checked"),
                            ("6", "denied", "rooms/v6 rule 9.5: notifications.room 100 > sender's 30")):
        st = [create(v), member("$cj", CREATOR, "join"),
              power("$pl", CREATOR, {"state_default": "30", "users": {PLEB: "30"}}), member("$pj", PLEB, "join")]
        case("notifications-v" + v, "test_notifications", v, expect,
             power("$pl2", PLEB, {"notifications": {"room": 100}}), st, note=NOT_LISTED, spec=spec)

    def join_rule_suite(test, v, join_rule, verdicts, restricted=False):
        base = [create(v), member("$cj", CREATOR, "join"), join_rules("$jr", join_rule)]
        if restricted:
            base.insert(2, power("$pl", CREATOR, {"invite": 0}))
        auth_extra = {"join_authorised_via_users_server": CREATOR} if restricted else None
        prefix = test.replace("test_", "").replace("_", "-")
        case(prefix + "-join", test, v, verdicts[0], member("$ev", PLEB, "join", extra=auth_extra), base,
             note=NOT_LISTED, what="join with no prior membership")
        case(prefix + "-force-join", test, v, "denied", member("$ev", PLEB, "join", sender=CREATOR,
                                                                  extra=auth_extra), base,
             note=NOT_LISTED, what="a user cannot be force-joined", spec=rule(v, "join.sender"))
        for prior, verdict in (("ban", "denied"), ("leave", verdicts[1]), ("join", "allowed"),
                               ("invite", "allowed")):
            sender = CREATOR if prior == "invite" else None
            st = base + [member("$prior", PLEB, prior, sender=sender)]
            case("%s-after-%s" % (prefix, prior), test, v, verdict,
                 member("$ev", PLEB, "join", extra=auth_extra if prior in ("ban", "leave") else None), st,
                 note=NOT_LISTED, what="join when the current membership is " + prior)

    join_rule_suite("test_join_rules_public", "6", "public", ("allowed", "allowed"))
    join_rule_suite("test_join_rules_invite", "6", "invite", ("denied", "denied"))

    st = [create("6"), member("$cj", CREATOR, "join"), power("$pl", CREATOR, {"invite": 0}),
          join_rules("$jr", "restricted")]
    case("join-rules-restricted-old-room", "test_join_rules_restricted_old_room", "6", "denied",
         member("$ev", PLEB, "join"), st, note=NOT_LISTED,
         spec=rule("6", "join.reject", "restricted is no join rule of v6"))

    # test_join_rules_msc3083_restricted (room version 8). The published test
    # fakes the authorising server's signature; `mxr auth` checks no signatures.
    test = "test_join_rules_msc3083_restricted"
    base = [create("8"), member("$cj", CREATOR, "join"), power("$pl", CREATOR, {"invite": 0}),
            join_rules("$jr", "restricted")]
    via = lambda u: {"join_authorised_via_users_server": u}
    case("restricted-v8-authorised-join", test, "8", "allowed", member("$ev", PLEB, "join", extra=via(CREATOR)),
         base, note=NOT_LISTED, spec="rooms/v8 rule 4.3.5.3")
    st = [create("8"), member("$cj", CREATOR, "join"),
          power("$pl", CREATOR, {"invite": 100, "users": {INVITER: 150}}), join_rules("$jr", "restricted"),
          member("$ij", INVITER, "join")]
    case("restricted-v8-authorised-by-inviter", test, "8", "allowed",
         member("$ev", PLEB, "join", extra=via(INVITER)), st, note=NOT_LISTED,
         spec="rooms/v8 rule 4.3.5: the authoriser is joined with 150 >= invite 100")
    case("restricted-v8-no-authoriser", test, "8", "denied", member("$ev", PLEB, "join"), base,
         note=NOT_LISTED, spec="rooms/v8 rule 4.3.5.2")
    case("restricted-v8-authoriser-not-joined", test, "8", "denied",
         member("$ev", PLEB, "join", extra=via(OTHER)), base, note=NOT_LISTED,
         spec="rooms/v8 rule 4.3.5.2: @other:example.com is not joined",
         what="the published test builds a power levels event giving @other 150 but passes the original "
              "state, so only the membership of @other decides")
    case("restricted-v8-force-join", test, "8", "denied",
         member("$ev", PLEB, "join", sender=CREATOR, extra=via(INVITER)), base, note=NOT_LISTED,
         spec="rooms/v8 rule 4.3.2")
    for prior, verdict, authorised in (("ban", "denied", True), ("leave", "allowed", True),
                                       ("join", "allowed", False), ("invite", "allowed", False)):
        sender = CREATOR if prior == "invite" else None
        case("restricted-v8-after-" + prior, test, "8", verdict,
             member("$ev", PLEB, "join", extra=via(CREATOR) if authorised else None),
             base + [member("$prior", PLEB, prior, sender=sender)], note=NOT_LISTED,
             what="join when the current membership is " + prior)

    # v10 integer-only power levels. The published tests call the power levels
    # check alone; here the sender is the creator, joined, with no previous
    # power levels event, so rules 9.1-9.3 decide before 9.5 would allow.
    st = [create("10"), member("$cj", CREATOR, "join")]
    note = ("the published test calls the power levels check alone (sender @test:test.com); re-expressed "
            "with the joined creator as sender and no previous power levels event")
    for name, content, num in (("string-users-default", {"users_default": "42"}, "9.1"),
                                ("string-events", {"events": {"m.room.name": "42", "m.room.power_levels": 42}},
                                 "9.2")):
        case("v10-" + name, "test_room_v10_rejects_string_power_levels", "10", "denied",
             power("$new", CREATOR, content), st, note=note, spec="rooms/v10 rule " + num)
    for name, content, num in (("null-notification", {"notifications": {"room": None}}, "9.2"),
                                ("list-user-level", {"users": {"@alice:wonderland": []}}, "9.3"),
                                ("object-users-default", {"users_default": {}}, "9.1")):
        case("v10-" + name, "test_room_v10_rejects_other_non_integer_power_levels", "10", "denied",
             power("$new", CREATOR, content), st, note=note, spec="rooms/v10 rule " + num)
