"""Auth cases from matrix-org/gomatrixserverlib eventauth_test.go (and the
earlier eventauth/eventauth_test.go). All are room version 1 semantics
(RoomVersionV1). The published cases give the state as
{create, join_rules, power_levels, member{}, third_party_invite{}} and lists
of allowed / not_allowed events; each event is one fixture here. Where the
published state events carry no state_key (the Go harness maps them by role,
not by key), state_key "" is added.
"""
from gen_common import auth_case, pdu

SRC = "matrix-org/gomatrixserverlib eventauth_test.go"
SRC_OLD = "matrix-org/gomatrixserverlib eventauth/eventauth_test.go"
ROOM = "!r1:a"


def e(eid, type_, sender, content, state_key=None, room=ROOM, prev=(), **extra):
    return pdu(eid, type_, sender, content, state_key, room, prev=prev, **extra)


def create(content=None, state_key=""):
    return e("$e1:a", "m.room.create", "@u1:a", content or {"creator": "@u1:a"}, state_key)


def joined(eid, user):
    return e(eid, "m.room.member", user, {"membership": "join"}, user)


NOTE = "the published case passes the state by role; the event lists no auth_events"


def case(name, test, expect, event, state, spec, **kw):
    auth_case("gmsl-" + name, SRC, test, "1", expect, event, state, spec=spec, note=kw.pop("note", NOTE), **kw)


FORMAT = ("not an authorization rule: rooms/v1 rule 1 does not look at the create event's state_key; a state_key "
          "other than \"\" is a format question (the m.room.create schema), outside `mxr auth` (which judges the "
          "rules, not the schema). The earlier eventauth/eventauth_test.go of the same project lists a create "
          "event without state_key as allowed.")


def gen():
    t = "TestAllowedEmptyRoom"
    case("empty-room-create", t, "allowed", create(), [], "rooms/v1 rule 1")
    case("empty-room-create-other-server", t, "denied",
         e("$e2:a", "m.room.create", "@u1:b", {"creator": "@u1:b"}, ""), [], "rooms/v1 rule 1.2")
    case("empty-room-create-with-prev", t, "denied",
         e("$e3:a", "m.room.create", "@u1:a", {"creator": "@u1:a"}, "", prev=[["$e1", {}]]), [],
         "rooms/v1 rule 1.1")
    case("empty-room-message-no-create", t, "denied", e("$e4:a", "m.room.message", "@u1:a", {"body": "Test"}), [],
         "rooms/v1 rule 2.4: no create event")
    case("empty-room-join-no-create", t, "denied",
         e("$e4:a", "m.room.member", "@u1:a", {"membership": "join"}, "@u1:a"), [], "rooms/v1 rule 2.4")
    case("empty-room-create-sender-not-user-id", t, "denied",
         e("$e5:a", "m.room.create", "not_a_user_id", {"creator": "@u1:a"}, ""), [],
         "rooms/v1 rule 1.2: the sender has no domain to match the room's")
    case("empty-room-create-room-not-room-id", t, "denied",
         e("$e6:a", "m.room.create", "@u1:a", {"creator": "@u1:a"}, "", room="not_a_room_id"), [],
         "rooms/v1 rule 1.2: the room ID has no domain to match the sender's")
    case("empty-room-create-no-state-key", t, "allowed",
         e("$e7:a", "m.room.create", "@u1:a", {"creator": "@u1:a"}), [], "rooms/v1 rule 1",
         published="denied", reason=FORMAT)
    case("empty-room-create-state-key-not-empty", t, "allowed",
         e("$e7:a", "m.room.create", "@u1:a", {"creator": "@u1:a"}, "not_empty"), [], "rooms/v1 rule 1",
         published="denied", reason=FORMAT)
    auth_case("gmsl-old-empty-room-create-no-state-key", SRC_OLD, t, "1", "allowed",
              e("$e1:a", "m.room.create", "@u1:a", {"creator": "@u1:a"}), [], spec="rooms/v1 rule 1", note=NOTE)

    t = "TestAllowedFirstJoin"
    st = [create()]
    first = lambda **kw: e("$e2:a", "m.room.member", kw.pop("sender", "@u1:a"),
                           {"membership": kw.pop("membership", "join")}, kw.pop("state_key", "@u1:a"), **kw)
    case("first-join-creator", t, "allowed", first(prev=[["$e1:a", {}]]), st, "rooms/v1 rule 5.2.1")
    case("first-join-message", t, "denied", e("$e3:a", "m.room.message", "@u1:a", {"body": "test"}), st,
         "rooms/v1 rule 6: the creator has not joined")
    case("first-join-not-creator", t, "denied",
         first(sender="@u2:a", state_key="@u2:a", prev=[["$e1:a", {}]]), st,
         "rooms/v1 rule 5.2: only the creator joins first; no join rules event, so not public")
    case("first-join-no-state-key", t, "denied",
         e("$e4:a", "m.room.member", "@u1:a", {"membership": "join"}, prev=[["$e1:a", {}]]), st,
         "rooms/v1 rule 5.1")
    case("first-join-prev-not-create", t, "denied", first(prev=[["$e2:a", {}]]), st,
         "rooms/v1 rule 5.2: the prev event is not the create event")
    case("first-join-no-prev", t, "denied", first(), st, "rooms/v1 rule 5.2")
    case("first-join-two-prev", t, "denied", first(prev=[["$e1:a", {}], ["$e2:a", {}]]), st,
         "rooms/v1 rule 5.2.4: rule 5.2.1 needs a single prev event; with no join rules the user is not invited")
    case("first-join-sender-mismatch", t, "allowed", first(sender="@u2:a", prev=[["$e1:a", {}]]), st,
         "rooms/v1 rule 5.2.1", published="denied",
         reason="rooms/v1 rule 5.2.1 (and its successors up to v12 rule 5.3.1) allows a join whose only prev "
                "event is the create event and whose state_key is the creator; it does not compare the sender "
                "(rule 5.2.2, sender == state_key, comes after it). Synapse (_is_membership_change_allowed) and "
                "ruma read the rule the same way. That the sender's server must sign the event is the "
                "signature check, not this rule")
    case("first-join-membership-invite", t, "denied", first(membership="invite", prev=[["$e1:a", {}]]), st,
         "rooms/v1 rule 5.3.2: the inviter is not joined")

    t = "TestAllowedWithNoPowerLevels"
    st = [create(), joined("$e2:a", "@u1:a")]
    case("no-power-levels-message", t, "allowed", e("$e3:a", "m.room.message", "@u1:a", {"body": "Test"}), st,
         "rooms/v1 rule 8: events_default 0")
    case("no-power-levels-message-not-joined", t, "denied", e("$e4:a", "m.room.message", "@u2:a", {"body": "Test"}),
         st, "rooms/v1 rule 6")

    t = "TestAllowedInviteFrom3PID"
    tpi = e("$e3:a", "m.room.third_party_invite", "@u1:a", {
        "display_name": "foo...@bar...", "public_key": "pubkey", "key_validity_url": "https://example.tld/isvalid",
        "public_keys": [{"public_key": "mrV51jApZKahGjfMhlevp+QtSSTDKCLaLVCzYc4HELY",
                         "key_validity_url": "https://example.tld/isvalid"}]}, "my_token")
    st = [create(), joined("$e2:a", "@u1:a"), tpi]
    good = "CibGFS0vX93quJFppsQbYQKJFIwxiYEK87lNmekS/fdetUMXPdR2wwNDd09J1jJ28GCH3GogUTuFDB1ScPFxBg"

    def invite(eid, token, mxid, sig):
        return e(eid, "m.room.member", "@u1:a", {"membership": "invite", "third_party_invite": {
            "display_name": "foo...@bar...",
            "signed": {"token": token, "mxid": mxid, "signatures": {"example.tld": {"ed25519:0": sig}}}}}, "@u2:a")

    case("3pid-invite", t, "allowed", invite("$e4:a", "my_token", "@u2:a", good), st,
         "rooms/v1 rule 5.3.1.7: the signature verifies with public_keys[0]; public_key \"pubkey\" is no key")
    case("3pid-invite-bad-signature", t, "denied", invite("$e4:a", "my_token", "@u2:a", "some_signature"), st,
         "rooms/v1 rule 5.3.1.8")
    case("3pid-invite-mxid-mismatch", t, "denied", invite("$e5:a", "my_token", "@u3:a", good), st,
         "rooms/v1 rule 5.3.1.4")
    case("3pid-invite-unknown-token", t, "denied", invite("$e6:a", "my_other_token", "@u2:a", good), st,
         "rooms/v1 rule 5.3.1.5")

    t = "TestAllowedNoFederation"
    st = [create({"creator": "@u1:a", "m.federate": False}), joined("$e2:a", "@u1:a")]
    case("no-federation-same-server", t, "allowed", e("$e3:a", "m.room.message", "@u1:a", {"body": "Test"}), st,
         "rooms/v1 rule 3")
    case("no-federation-other-server", t, "denied", e("$e4:a", "m.room.message", "@u1:b", {"body": "Test"}), st,
         "rooms/v1 rule 3")

    t = "TestAllowedWithPowerLevels"
    st = [create(), joined("$e2:a", "@u1:a"), joined("$e3:a", "@u2:a"), joined("$e4:a", "@u3:b"),
          e("$e5:a", "m.room.power_levels", "@u1:a", {
              "users": {"@u1:a": 100, "@u2:a": 50}, "users_default": 0, "events": {"m.room.join_rules": 100},
              "state_default": 50, "events_default": 0}, "")]
    for eid, type_, sender, content, sk, expect, spec in (
            ("$e6:a", "m.room.message", "@u1:a", {"body": "Test from @u1:a"}, None, "allowed", "rule 8"),
            ("$e7:a", "m.room.message", "@u2:a", {"body": "Test from @u2:a"}, None, "allowed", "rule 8"),
            ("$e8:a", "m.room.message", "@u3:b", {"body": "Test from @u3:b"}, None, "allowed", "rule 8"),
            ("$e9:a", "m.room.name", "@u1:a", {"name": "Name set by @u1:a"}, "", "allowed", "rule 8"),
            ("$e10:a", "m.room.name", "@u2:a", {"name": "Name set by @u2:a"}, "", "allowed", "rule 8: 50 >= 50"),
            ("$e11:a", "m.room.join_rules", "@u1:a", {"join_rule": "public"}, "", "allowed", "rule 8"),
            ("$e12:a", "my.custom.state", "@u2:a", {}, "@u2:a", "allowed", "rule 9"),
            ("$e13:a", "m.room.name", "@u3:b", {"name": "Name set by @u3:b"}, "", "denied", "rule 8: 0 < 50"),
            ("$e14:a", "m.room.join_rules", "@u2:a", {"name": "Name set by @u3:b"}, None, "denied",
             "rule 8: events[m.room.join_rules] 100 > 50 (the published event has no state_key)"),
            ("$e15:a", "m.room.message", "@u4:a", {"Body": "Test from @u4:a"}, None, "denied", "rule 6"),
            ("$e17:a", "my.custom.state", "@u1:a", {}, "@u2:a", "denied", "rule 9")):
        typo = eid in ("$e12:a", "$e17:a")
        case("power-levels-" + eid.strip("$@").replace(":a", ""), t, expect, e(eid, type_, sender, content, sk), st,
             "rooms/v1 " + spec, note=NOTE + ("; the published event_id is \"@%s\" (a typo: event IDs start "
                                               "with $), spelt with $ here" % eid[1:] if typo else ""))
    case("power-levels-e16-other-room", t, "denied",
         e("$e16:a", "m.room.message", "@u1:a", {"body": "Test from @u4:a"}, room="!r2:a"), st,
         "rooms/v1 rule 2.5: the state's events are in !r1:a")

    t = "TestRedactAllowed"
    st = [create(), joined("$e2:a", "@u1:a"), joined("$e3:a", "@u2:a"), joined("$e4:a", "@u1:b"),
          e("$e5:a", "m.room.power_levels", "@u1:a", {"users": {"@u1:a": 100}, "redact": 100}, "")]
    red = lambda eid, sender, redacts: e(eid, "m.room.redaction", sender, {"reason": ""},
                                         **({"redacts": redacts} if redacts else {}))
    case("redact-own-server-b", t, "allowed", red("$e6:b", "@u1:b", "$event_sent_by_b:b"), st,
         "rooms/v1 rule 11.2: $e6:b and $event_sent_by_b:b share the domain")
    case("redact-own-server-a", t, "allowed", red("$e7:a", "@u2:a", "$event_sent_by_a:a"), st, "rooms/v1 rule 11.2")
    case("redact-by-power", t, "allowed", red("$e8:a", "@u1:a", "$event_sent_by_b:b"), st, "rooms/v1 rule 11.1")
    case("redact-other-server-low-power", t, "denied", red("$e9:a", "@u2:a", "$event_sent_by_b:b"), st,
         "rooms/v1 rule 11.3")
    case("redact-not-joined", t, "denied", red("$e10:a", "@u1:c", "$event_sent_by_c:c"), st, "rooms/v1 rule 6")
    fmt = ("not an authorization rule: the sender (@u1:a, 100) has the redact level, so rooms/v1 rule 11.1 allows; "
           "whether `redacts` is present and an event ID is a format question (the m.room.redaction schema)")
    case("redact-invalid-redacts", t, "allowed", red("$e11:a", "@u1:a", "not_a_valid_event_id"), st,
         "rooms/v1 rule 11.1", published="denied", reason=fmt)
    case("redact-missing-redacts", t, "allowed", red("$e11:a", "@u1:a", None), st, "rooms/v1 rule 11.1",
         published="denied", reason=fmt)

    st = [create({"room_version": "1"}), e("$e3:a", "m.room.power_levels", "@u1:a",
                                           {"users_default": 100, "users": {"@u1:a": 100}, "redact": 100}, ""),
          joined("$e2:a", "@u1:a")]
    case("demote-users-default-below-own", "TestDemoteUserDefaultPowerLevelBelowOwn", "allowed",
         e("$e5:a", "m.room.power_levels", "@u1:a", {"users_default": 50, "users": {"@u1:a": 100}, "redact": 100}, ""),
         st, "rooms/v1 rule 10.3: users_default 100 -> 50, both <= 100")
    case("promote-users-default-above-own", "TestPromoteUserDefaultLevelAboveOwn", "denied",
         e("$e5:a", "m.room.power_levels", "@u2:a", {"users_default": 500, "users": {"@u1:a": 100}, "redact": 100}, ""),
         st, "rooms/v1 rule 6 (@u2:a has not joined); rule 10.3 would too (500 > 100)")
