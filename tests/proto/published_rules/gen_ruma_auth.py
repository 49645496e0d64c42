"""Auth cases from ruma/ruma crates/ruma-state-res: src/event_auth/tests.rs,
src/event_auth/room_member/tests.rs, src/event_auth/tests/room_power_levels.rs
and tests/event_auth.rs.

The published tests share INITIAL_EVENTS (src/test_utils.rs): room !test:foo;
CREATE by @alice:foo {"creator": alice}; IMA alice joins; IPOWER {"users":
{alice: 100}}; IJR public; IMB bob joins; IMC charlie joins. A test replaces
some of them and checks one event. Ruma's AuthorizationRules::Vn stand for
room version n (V1 covers 1-2, V3 3-5).
"""
from gen_common import NOT_LISTED, auth_case, pdu, rule

SRC_AUTH = "ruma/ruma crates/ruma-state-res/src/event_auth/tests.rs"
SRC_MEMBER = "ruma/ruma crates/ruma-state-res/src/event_auth/room_member/tests.rs"
SRC_PL = "ruma/ruma crates/ruma-state-res/src/event_auth/tests/room_power_levels.rs"
SRC_IT = "ruma/ruma crates/ruma-state-res/tests/event_auth.rs"
ROOM = "!test:foo"
ALICE, BOB, CHARLIE, ELLA, ZARA = "@alice:foo", "@bob:foo", "@charlie:foo", "@ella:foo", "@zara:foo"

_ts = [0]


def ev(name, sender, type_, state_key, content, auth=(), prev=(), room=ROOM, **extra):
    _ts[0] += 1
    eid = name if name.startswith("$") else "$%s:foo" % name
    ids = lambda xs: [x if x.startswith("$") else "$%s:foo" % x for x in xs]
    return pdu(eid, type_, sender, content, state_key, room, auth=ids(auth), prev=ids(prev), ts=_ts[0],
               **extra)


def join():
    return {"membership": "join"}


def initial(replace=None, drop=(), add=()):
    evs = {
        "CREATE": ev("CREATE", ALICE, "m.room.create", "", {"creator": ALICE}),
        "IMA": ev("IMA", ALICE, "m.room.member", ALICE, join(), ["CREATE"], ["CREATE"]),
        "IPOWER": ev("IPOWER", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, ["CREATE", "IMA"],
                     ["IMA"]),
        "IJR": ev("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, ["CREATE", "IMA", "IPOWER"],
                  ["IPOWER"]),
        "IMB": ev("IMB", BOB, "m.room.member", BOB, join(), ["CREATE", "IJR", "IPOWER"], ["IJR"]),
        "IMC": ev("IMC", CHARLIE, "m.room.member", CHARLIE, join(), ["CREATE", "IJR", "IPOWER"], ["IMB"]),
    }
    for k, v in (replace or {}).items():
        evs[k] = v
    for k in drop:
        del evs[k]
    return list(evs.values()) + list(add)


def jr(rule, **more):
    content = {"join_rule": rule}
    content.update(more)
    return ev("IJR", ALICE, "m.room.join_rules", "", content, ["CREATE", "IMA", "IPOWER"], ["IPOWER"])


def imc(membership):
    return ev("IMC", CHARLIE, "m.room.member", CHARLIE, {"membership": membership}, ["CREATE", "IJR", "IPOWER"],
              ["IMB"])


def ipower(content):
    return ev("IPOWER", ALICE, "m.room.power_levels", "", content, ["CREATE", "IMA"], ["IMA"])


def third_party_invite(sender):
    return ev("THIRDPARTY", sender, "m.room.third_party_invite", "somerandomtoken", {
        "display_name": "o...@g...",
        "key_validity_url": "https://identity.local/_matrix/identity/v2/pubkey/isvalid",
        "public_key": "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE",
        "public_keys": [
            {"key_validity_url": "https://identity.local/_matrix/identity/v2/pubkey/isvalid",
             "public_key": "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"},
            {"key_validity_url": "https://identity.local/_matrix/identity/v2/pubkey/ephemeral/isvalid",
             "public_key": "Kxdvv7lo0O6JVI7yimFgmYPfpLGnctcpYjuypP5zx/c"},
        ]}, ["CREATE", "IJR", "IPOWER"], ["IPOWER"])


def hello(sender, type_, state_key, content, **extra):
    """The checked event, judged against the state (no auth_events list)."""
    return ev("HELLO", sender, type_, state_key, content, (), ["IPOWER"], **extra)


def member_case(test, v, expect, event, state, spec=None, what=None, name=None, **kw):
    auth_case("ruma-member-%s%s" % (name or test.replace("_", "-"), "" if name else "-v" + v), SRC_MEMBER, test,
              v, expect, event, state, note=NOT_LISTED, spec=spec, what=what, **kw)


def gen_event_auth():
    # check_room_create
    c = lambda content, **kw: ev("CREATE", ALICE, "m.room.create", "", content, **kw)
    for v, content, name in (("1", {"creator": ALICE}, "v1-minimal"),
                             ("1", {"creator": ALICE, "room_version": "2"}, "v1-with-version"),
                             ("2", {"creator": ALICE, "room_version": "2"}, "v2-with-version"),
                             ("11", {"room_version": "11"}, "v11-no-creator"),
                             ("11", {"room_version": "11", "predecessor": "!XPoLiaavxVgyMSiRwK:localhost"},
                              "v11-invalid-predecessor"),
                             ("11", {"room_version": "11", "type": True}, "v11-invalid-type")):
        auth_case("ruma-valid-room-create-" + name, SRC_AUTH, "valid_room_create", v, "allowed", c(content), [],
                  spec="rooms/v%s rule 1" % v)
    auth_case("ruma-invalid-room-create-prev-event", SRC_AUTH, "invalid_room_create", "1", "denied",
              c({"creator": ALICE}, prev=["OTHER_CREATE"], auth=["OTHER_CREATE"]), [], spec="rooms/v1 rule 1.1")
    auth_case("ruma-invalid-room-create-other-domain", SRC_AUTH, "invalid_room_create", "1", "denied",
              ev("CREATE", "@bot:bar", "m.room.create", "", {"creator": "@bot:bar"}), [],
              spec="rooms/v1 rule 1.2: room !test:foo, sender @bot:bar")
    auth_case("ruma-invalid-room-create-no-creator", SRC_AUTH, "invalid_room_create", "1", "denied", c({}), [],
              spec="rooms/v1 rule 1.4")
    auth_case("ruma-invalid-room-create-version-not-string", SRC_AUTH, "invalid_room_create", "1", "denied",
              c({"creator": ALICE, "room_version": 1}), [],
              spec="rooms/v1 rule 1.3: the integer 1 is not a recognised room version (identifiers are strings)",
              note="from an earlier version of the file (commit 1aee4d0c)")

    # check_room_redaction (room versions 1-2 only)
    redaction = lambda redacts: ev("HELLO", CHARLIE, "m.room.redaction", None, {}, (), ["IPOWER"], redacts=redacts)
    for v in ("1", "2"):
        auth_case("ruma-redact-higher-power-level-v" + v, SRC_AUTH, "redact_higher_power_level", v, "denied",
                  redaction("$redacted_event:other.server"), initial(), note=NOT_LISTED,
                  spec="rooms/v1 rule 11: charlie 0 < redact 50 and other.server is not foo")
        auth_case("ruma-redact-same-power-level-v" + v, SRC_AUTH, "redact_same_power_level", v, "allowed",
                  redaction("$redacted_event:other.server"),
                  initial({"IPOWER": ipower({"users": {ALICE: 100, CHARLIE: 50}})}), note=NOT_LISTED,
                  spec="rooms/v1 rule 11.1: charlie 50 >= redact 50")
        auth_case("ruma-redact-same-server-v" + v, SRC_AUTH, "redact_same_server", v, "allowed",
                  redaction("$redacted_event:foo"), initial(), note=NOT_LISTED,
                  spec="rooms/v1 rule 11.2: $HELLO:foo and $redacted_event:foo share the domain")

    msg = lambda sender, auth: ev("HELLO", sender, "m.room.message", None, {"msgtype": "m.text", "body": "Hi!"},
                                  auth, ["IPOWER"])
    auth_case("ruma-missing-room-create-in-state", SRC_AUTH, "missing_room_create_in_state", "6", "denied",
              msg(ALICE, ["IMA", "IPOWER"]), initial(drop=["CREATE"]), spec="rooms/v6 rule 2.4")
    auth_case("ruma-missing-room-create-auth-events", SRC_AUTH, "missing_room_create_auth_events", "6", "denied",
              msg(ALICE, ["IMA", "IPOWER"]), initial(), spec="rooms/v6 rule 2.4: CREATE is not listed")

    nofed = ev("CREATE", ALICE, "m.room.create", "", {"creator": ALICE, "m.federate": False})
    for name, sender, expect in (("different-server", "@aya:other.server", "denied"),
                                 ("same-server", "@aya:foo", "allowed")):
        auth_case("ruma-no-federate-" + name, SRC_AUTH, "no_federate_" + name.replace("-", "_"), "6", expect,
                  hello(sender, "m.room.member", sender, join()), initial({"CREATE": nofed}), note=NOT_LISTED,
                  spec="rooms/v6 rule 3")

    aliases = {"aliases": ["#room:foo", "#room_alt:foo"]}
    for name, state_key, v3 in (("no-state-key", None, "denied"), ("other-server", "bar", "denied"),
                                ("same-server", "foo", "allowed")):
        content = aliases if state_key != "bar" else {"aliases": ["#room:bar", "#room_alt:bar"]}
        for v, expect in (("3", v3), ("8", "allowed")):
            auth_case("ruma-room-aliases-%s-v%s" % (name, v), SRC_AUTH, "room_aliases_" + name.replace("-", "_"), v,
                      expect, hello(ALICE, "m.room.aliases", state_key, content), initial(), note=NOT_LISTED,
                      spec="rooms/v3 rule 4" if v == "3" else "rooms/v8: no aliases rule")

    auth_case("ruma-sender-not-in-room", SRC_AUTH, "sender_not_in_room", "6", "denied",
              msg(ELLA, []), initial(), note=NOT_LISTED, spec="rooms/v6 rule 5")
    tpi = third_party_invite(CHARLIE)
    tpi["auth_events"] = []
    auth_case("ruma-room-third-party-invite-not-enough-power", SRC_AUTH, "room_third_party_invite_not_enough_power",
              "6", "denied", tpi, initial({"IPOWER": ipower({"users": {ALICE: 100}, "invite": 50})}),
              note=NOT_LISTED, spec="rooms/v6 rule 6.1")
    auth_case("ruma-room-third-party-invite-with-enough-power", SRC_AUTH,
              "room_third_party_invite_with_enough_power", "6", "allowed", tpi, initial(), note=NOT_LISTED,
              spec="rooms/v6 rule 6.1")
    auth_case("ruma-event-type-not-enough-power", SRC_AUTH, "event_type_not_enough_power", "6", "denied",
              msg(CHARLIE, []), initial({"IPOWER": ipower({"users": {ALICE: 100}, "events": {"m.room.message": "50"}})}),
              note=NOT_LISTED, spec="rooms/v6 rule 7: events[m.room.message] \"50\" > charlie's 0")
    auth_case("ruma-user-id-state-key-not-sender", SRC_AUTH, "user_id_state_key_not_sender", "6", "denied",
              hello(ALICE, "dev.ruma.fake_state_event", ELLA, {}), initial(), note=NOT_LISTED, spec="rooms/v6 rule 8")
    auth_case("ruma-user-id-state-key-is-sender", SRC_AUTH, "user_id_state_key_is_sender", "6", "allowed",
              hello(ALICE, "dev.ruma.fake_state_event", ALICE, {}), initial(), note=NOT_LISTED, spec="rooms/v6 rule 8")

    wrong_room = ev("IPOWER", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, ["CREATE", "IMA"], ["IMA"],
                    room="!wrongroom:foo")
    auth_case("ruma-auth-event-in-different-room", SRC_AUTH, "auth_event_in_different_room", "6", "denied",
              msg(ALICE, ["CREATE", "IMA", "IPOWER"]), initial({"IPOWER": wrong_room}), spec="rooms/v6 rule 2.5")
    ima2 = ev("IMA2", ALICE, "m.room.member", ALICE, join(), ["CREATE", "IMA"], ["IMA"])
    auth_case("ruma-duplicate-auth-event-type", SRC_AUTH, "duplicate_auth_event_type", "6", "denied",
              msg(ALICE, ["CREATE", "IMA", "IMA2", "IPOWER"]), initial(add=[ima2]), spec="rooms/v6 rule 2.1")
    auth_case("ruma-unexpected-auth-event-type", SRC_AUTH, "unexpected_auth_event_type", "6", "denied",
              msg(ALICE, ["CREATE", "IMA", "IPOWER", "IMC"]), initial(), spec="rooms/v6 rule 2.2: IMC is charlie's")

    # tests/event_auth.rs (valid_membership_change, an earlier API)
    ban = {"membership": "ban"}
    auth_case("ruma-it-ban-pass", SRC_IT, "test_ban_pass", "6", "allowed",
              hello(ALICE, "m.room.member", CHARLIE, ban), initial(), note=NOT_LISTED, spec="rooms/v6 rule 4.5.2")
    auth_case("ruma-it-ban-fail", SRC_IT, "test_ban_fail", "6", "denied",
              hello(CHARLIE, "m.room.member", ALICE, ban), initial(), note=NOT_LISTED, spec="rooms/v6 rule 4.5.3")


def gen_room_member():
    j, ban = join(), {"membership": "ban"}
    member_case("missing_state_key", "6", "denied", hello(CHARLIE, "m.room.member", None, j), initial(),
                spec="rooms/v6 rule 4.1")
    member_case("missing_membership", "6", "denied", hello(CHARLIE, "m.room.member", CHARLIE, {}), initial(),
                spec="rooms/v6 rule 4.1")
    first = lambda who: ev("HELLO", who, "m.room.member", who, j, ["CREATE"], ["CREATE"])
    only_create = [ev("CREATE", ALICE, "m.room.create", "", {"creator": ALICE})]
    for who, expect in ((ALICE, "allowed"), (CHARLIE, "denied")):
        first_ev = first(who)
        first_ev["auth_events"] = []
        for test, v in (("join_after_create_creator_" + ("match" if who == ALICE else "mismatch"), "6"),
                        ("join_after_create_sender_" + ("match" if who == ALICE else "mismatch"), "11")):
            member_case(test, v, expect, first_ev, only_create,
                        spec=rule(v, "join.first") if expect == "allowed" else
                        rule(v, "join.invite", "rule %s does not apply; no join rules event, so not public"
                             % rule(v, "join.first").split()[-1]))
    member_case("join_sender_state_key_mismatch", "6", "denied", hello(CHARLIE, "m.room.member", ALICE, j), initial(),
                spec="rooms/v6 rule 4.2.2")
    member_case("join_banned", "6", "denied", hello(CHARLIE, "m.room.member", CHARLIE, j), initial({"IMC": imc("ban")}),
                spec="rooms/v6 rule 4.2.3")
    member_case("join_invite_join_rule_already_joined", "6", "allowed", hello(CHARLIE, "m.room.member", CHARLIE, j),
                initial({"IJR": jr("invite")}), spec="rooms/v6 rule 4.2.4")
    member_case("join_knock_join_rule_already_invited", "7", "allowed", hello(CHARLIE, "m.room.member", CHARLIE, j),
                initial({"IMC": imc("invite"), "IJR": jr("knock")}), spec="rooms/v7 rule 4.2.4")
    member_case("join_knock_join_rule_not_supported", "6", "denied", hello(CHARLIE, "m.room.member", CHARLIE, j),
                initial({"IJR": jr("knock")}), spec="rooms/v6 rule 4.2.6: knock is no join rule of v6")
    member_case("join_restricted_join_rule_not_supported", "6", "denied",
                hello(CHARLIE, "m.room.member", CHARLIE, j), initial({"IJR": jr("restricted", allow=[])}),
                spec="rooms/v6 rule 4.2.6")
    member_case("join_knock_restricted_join_rule_not_supported", "6", "denied",
                hello(CHARLIE, "m.room.member", CHARLIE, j), initial({"IJR": jr("knock_restricted", allow=[])}),
                spec="rooms/v6 rule 4.2.6")
    member_case("join_restricted_join_rule_already_joined", "8", "allowed",
                hello(CHARLIE, "m.room.member", CHARLIE, j), initial({"IJR": jr("restricted", allow=[])}),
                spec="rooms/v8 rule 4.3.5.1")
    member_case("join_knock_restricted_join_rule_already_invited", "10", "allowed",
                hello(CHARLIE, "m.room.member", CHARLIE, j),
                initial({"IMC": imc("invite"), "IJR": jr("knock_restricted", allow=[])}), spec="rooms/v10 rule 4.3.5.1")
    member_case("join_restricted_join_rule_missing_join_authorised_via_users_server", "8", "denied",
                hello(ELLA, "m.room.member", ELLA, j), initial({"IJR": jr("restricted", allow=[])}),
                spec="rooms/v8 rule 4.3.5.2")
    via = lambda u: {"membership": "join", "join_authorised_via_users_server": u}
    member_case("join_restricted_join_rule_authorised_via_user_not_in_room", "8", "denied",
                hello(ELLA, "m.room.member", ELLA, via(ZARA)), initial({"IJR": jr("restricted", allow=[])}),
                spec="rooms/v8 rule 4.3.5.2")
    member_case("join_restricted_join_rule_authorised_via_user_with_not_enough_power", "8", "denied",
                hello(ELLA, "m.room.member", ELLA, via(CHARLIE)),
                initial({"IPOWER": ipower({"users": {ALICE: 100}, "invite": 50}),
                         "IJR": jr("restricted", allow=[])}), spec="rooms/v8 rule 4.3.5.2")
    for i, content in enumerate(({"join_rule": "restricted", "allow": []},
                                 {"allow": [{"room_id": "", "type": "m.room_membership"}], "join_rule": "restricted"},
                                 {"allow": [{"type": "m.room_membership"}], "join_rule": "restricted"})):
        member_case("join_restricted_join_rule_authorised_via_user", "8", "allowed",
                    hello(ELLA, "m.room.member", ELLA, via(CHARLIE)),
                    initial({"IJR": ev("IJR", ALICE, "m.room.join_rules", "", content, ["CREATE", "IMA", "IPOWER"],
                                       ["IPOWER"])}),
                    name="join-restricted-join-rule-authorised-via-user-%d" % (i + 1),
                    spec="rooms/v8 rule 4.3.5.3: only join_rule is read", what="join rules content variant %d" % (i + 1))
    for i, content in enumerate(({"membership": "join"}, {"membership": "join", "displayname": 203},
                                 {"membership": "join", "is_direct": "yes"})):
        member_case("join_public_join_rule", "8", "allowed", hello(ELLA, "m.room.member", ELLA, content), initial(),
                    name="join-public-join-rule-%d" % (i + 1), spec="rooms/v8 rule 4.3.6",
                    what="member content variant %d" % (i + 1))

    def tpi_content(mxid, token, signatures=None, drop_signed=False, signed_extra=None):
        tp = {"display_name": "e..@p.."}
        if not drop_signed:
            signed = {}
            if mxid:
                signed["mxid"] = mxid
            if token:
                signed["token"] = token
            signed.update(signed_extra or {})
            if signatures is not None:
                signed["signatures"] = signatures
            tp["signed"] = signed
        return {"membership": "invite", "third_party_invite": tp}

    ban_ella = ev("BAN", ALICE, "m.room.member", ELLA, ban, ["CREATE", "IJR", "IPOWER"], ["IPOWER"])
    member_case("invite_via_third_party_invite_banned", "8", "denied",
                hello(ELLA, "m.room.member", ELLA, tpi_content(ELLA, "somerandomtoken", {})),
                initial(add=[ban_ella]), spec="rooms/v8 rule 4.4.1.1")
    member_case("invite_via_third_party_invite_missing_signed", "8", "denied",
                hello(CHARLIE, "m.room.member", ELLA, tpi_content(None, None, drop_signed=True)), initial(),
                spec="rooms/v8 rule 4.4.1.2")
    member_case("invite_via_third_party_invite_missing_mxid", "8", "denied",
                hello(CHARLIE, "m.room.member", ELLA, tpi_content(None, "somerandomtoken")), initial(),
                spec="rooms/v8 rule 4.4.1.3")
    member_case("invite_via_third_party_invite_missing_token", "8", "denied",
                hello(CHARLIE, "m.room.member", ELLA, tpi_content(ELLA, None)), initial(),
                spec="rooms/v8 rule 4.4.1.3")
    member_case("invite_via_third_party_invite_mxid_mismatch", "8", "denied",
                hello(CHARLIE, "m.room.member", ELLA, tpi_content(ZARA, "somerandomtoken", {})), initial(),
                spec="rooms/v8 rule 4.4.1.4")
    wrong_token = ev("THIRDPARTY", CHARLIE, "m.room.third_party_invite", "wrong_token",
                     {"display_name": "e..@p..", "key_validity_url": "http://host.local/check/public_key",
                      "public_key": "cHVibGljX2tleQ"}, ["CREATE", "IJR", "IPOWER"], ["IPOWER"])
    member_case("invite_via_third_party_invite_missing_room_third_party_invite", "8", "denied",
                hello(CHARLIE, "m.room.member", ELLA, tpi_content(ELLA, "somerandomtoken", {})),
                initial(add=[wrong_token]), spec="rooms/v8 rule 4.4.1.5: the only invite has token wrong_token")
    member_case("invite_via_third_party_invite_room_third_party_invite_sender_mismatch", "8", "denied",
                hello(CHARLIE, "m.room.member", ELLA, tpi_content(ELLA, "somerandomtoken", {})),
                initial(add=[third_party_invite(BOB)]), spec="rooms/v8 rule 4.4.1.6")
    signed_extra = {"sender": CHARLIE}
    good_sig = "EyW7uaJagmhIQg7DUFpiJv9ur8h8DkDSjyV6f5MlROJrrkg8JElBFKr2iTQY9x+A6OauQdNy7L9T4xgzIZVbCA"
    for test, sigs, expect, spec in (
            ("invite_via_third_party_invite_with_room_missing_signatures", None, "denied", "rooms/v8 rule 4.4.1.8"),
            ("invite_via_third_party_invite_with_room_empty_signatures", [], "denied", "rooms/v8 rule 4.4.1.8"),
            ("invite_via_third_party_invite_with_wrong_signature",
             {"identity.local": {"ed25519:0": "ClearlyWrongSignature"}}, "denied", "rooms/v8 rule 4.4.1.8"),
            ("invite_via_third_party_invite_with_wrong_signing_algorithm",
             {"identity.local": {"unknown:0": good_sig}}, "denied",
             "rooms/v8 rule 4.4.1.8: a signature of an unknown algorithm verifies nothing"),
            ("invite_via_third_party_invite",
             {"identity.local": {"unknown:0": "SomeSignature", "ed25519:0": "ClearlyWrongSignature",
                                 "ed25519:1": good_sig}}, "allowed",
             "rooms/v8 rule 4.4.1.7: ed25519:1 verifies with public_key Gb9ECWmE...")):
        content = tpi_content("@ella:foo", "somerandomtoken", sigs, signed_extra=signed_extra)
        content["third_party_invite"]["display_name"] = "e...@p..."
        member_case(test, "8", expect, hello(CHARLIE, "m.room.member", ELLA, content),
                    initial(add=[third_party_invite(CHARLIE)]), spec=spec)

    inv = {"membership": "invite"}
    member_case("invite_sender_not_joined", "8", "denied", hello(ZARA, "m.room.member", ELLA, inv), initial(),
                spec="rooms/v8 rule 4.4.2")
    member_case("invite_banned", "8", "denied", hello(ALICE, "m.room.member", CHARLIE, inv),
                initial({"IMC": imc("ban")}), spec="rooms/v8 rule 4.4.3")
    member_case("invite_already_joined", "8", "denied", hello(ALICE, "m.room.member", CHARLIE, inv), initial(),
                spec="rooms/v8 rule 4.4.3")
    member_case("invite_sender_not_enough_power", "8", "denied", hello(CHARLIE, "m.room.member", ELLA, inv),
                initial({"IPOWER": ipower({"users": {ALICE: 100}, "invite": 50})}), spec="rooms/v8 rule 4.4.5")
    member_case("invite", "8", "allowed", hello(CHARLIE, "m.room.member", ELLA, inv), initial(),
                spec="rooms/v8 rule 4.4.4")

    leave = {"membership": "leave"}
    member_case("leave_after_leave", "8", "denied", hello(ELLA, "m.room.member", ELLA, leave), initial(),
                spec="rooms/v8 rule 4.5.1")
    member_case("leave_after_join", "8", "allowed", hello(CHARLIE, "m.room.member", CHARLIE, leave), initial(),
                spec="rooms/v8 rule 4.5.1")
    member_case("leave_after_invite", "8", "allowed", hello(CHARLIE, "m.room.member", CHARLIE, leave),
                initial({"IMC": imc("invite")}), spec="rooms/v8 rule 4.5.1")
    member_case("leave_after_knock", "8", "allowed", hello(CHARLIE, "m.room.member", CHARLIE, leave),
                initial({"IMC": imc("knock")}), spec="rooms/v8 rule 4.5.1")
    member_case("leave_after_knock_not_supported", "6", "denied", hello(CHARLIE, "m.room.member", CHARLIE, leave),
                initial({"IMC": imc("knock")}), spec="rooms/v6 rule 4.4.1: only invite or join may leave")
    member_case("leave_kick_sender_left", "6", "denied", hello(ZARA, "m.room.member", CHARLIE, leave), initial(),
                spec="rooms/v6 rule 4.4.2")
    member_case("leave_unban_not_enough_power", "6", "denied", hello(BOB, "m.room.member", CHARLIE, leave),
                initial({"IMC": imc("ban")}), spec="rooms/v6 rule 4.4.3")
    member_case("leave_unban", "6", "allowed", hello(ALICE, "m.room.member", CHARLIE, leave),
                initial({"IMC": imc("ban")}), spec="rooms/v6 rule 4.4.4")
    member_case("leave_kick_not_enough_power", "6", "denied", hello(BOB, "m.room.member", CHARLIE, leave), initial(),
                spec="rooms/v6 rule 4.4.5")
    for test, levels, expect, spec in (
            ("leave_kick_greater_power", {BOB: 50, CHARLIE: 60}, "denied", "rooms/v6 rule 4.4.5"),
            ("leave_kick_same_power", {BOB: 50, CHARLIE: 50}, "denied", "rooms/v6 rule 4.4.5")):
        users = {ALICE: 100}
        users.update(levels)
        member_case(test, "6", expect, hello(BOB, "m.room.member", CHARLIE, leave),
                    initial({"IPOWER": ipower({"users": users})}), spec=spec)
    member_case("leave_kick", "6", "allowed", hello(ALICE, "m.room.member", CHARLIE, leave), initial(),
                spec="rooms/v6 rule 4.4.4")

    member_case("ban_sender_not_joined", "6", "denied", hello(ELLA, "m.room.member", CHARLIE, ban), initial(),
                spec="rooms/v6 rule 4.5.1")
    member_case("ban_not_enough_power", "6", "denied", hello(CHARLIE, "m.room.member", BOB, ban), initial(),
                spec="rooms/v6 rule 4.5.3")
    for test, levels in (("ban_greater_power", {BOB: 60, CHARLIE: 50}), ("ban_same_power", {BOB: 50, CHARLIE: 50})):
        users = {ALICE: 100}
        users.update(levels)
        member_case(test, "6", "denied", hello(CHARLIE, "m.room.member", BOB, ban),
                    initial({"IPOWER": ipower({"users": users})}), spec="rooms/v6 rule 4.5.3")
    member_case("ban", "6", "allowed", hello(ALICE, "m.room.member", BOB, ban), initial(), spec="rooms/v6 rule 4.5.2")

    knock = {"membership": "knock"}
    member_case("knock_public_join_rule", "11", "denied", hello(ELLA, "m.room.member", ELLA, knock), initial(),
                spec="rooms/v11 rule 4.7.1")
    member_case("knock_knock_join_rule", "7", "allowed", hello(ELLA, "m.room.member", ELLA, knock),
                initial({"IJR": jr("knock")}), spec="rooms/v7 rule 4.6.3")
    member_case("knock_knock_join_rule_not_supported", "3", "denied", hello(ELLA, "m.room.member", ELLA, knock),
                initial({"IJR": jr("knock")}), spec="rooms/v3: knock is an unknown membership (rule 5.6)")
    member_case("knock_knock_restricted_join_rule", "10", "allowed", hello(ELLA, "m.room.member", ELLA, knock),
                initial({"IJR": jr("knock_restricted", allow=[])}), spec="rooms/v10 rule 4.7.3")
    member_case("knock_knock_restricted_join_rule_not_supported", "3", "denied",
                hello(ELLA, "m.room.member", ELLA, knock), initial({"IJR": jr("knock_restricted", allow=[])}),
                spec="rooms/v3 rule 5.6")
    member_case("knock_sender_state_key_mismatch", "7", "denied", hello(ZARA, "m.room.member", ELLA, knock),
                initial({"IJR": jr("knock")}), spec="rooms/v7 rule 4.6.2")
    for test, prior in (("knock_after_ban", "ban"), ("knock_after_invite", "invite"), ("knock_after_join", None)):
        repl = {"IJR": jr("knock")}
        if prior:
            repl["IMC"] = imc(prior)
        member_case(test, "7", "denied", hello(CHARLIE, "m.room.member", CHARLIE, knock), initial(repl),
                    spec="rooms/v7 rule 4.6.4")


INT_FIELDS = ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite")
VALUES = (("string-foo", "foo", False, True), ("string-50", "50", True, True), ("int-50", 50, True, False))


def gen_power_levels():
    pl_note = ("the published test calls the power levels rule alone with the sender's level; re-expressed "
               "as a whole event in INITIAL_EVENTS' room")
    bob_note = (pl_note + "; bob (40) needs the level to send m.room.power_levels, so both the current and "
                "the new content carry events {\"m.room.power_levels\": 40}, unchanged")

    def case(name, test, v, expect, content, state, spec, note=pl_note, sender=ALICE):
        auth_case("ruma-pl-" + name, SRC_PL, test, v, expect,
                  ev("IPOWER2", sender, "m.room.power_levels", "", content, (), ["IPOWER"]), state, note=note,
                  spec=spec)

    base = initial()
    for field in INT_FIELDS:
        for tag, value, ok_v6, is_string in VALUES:
            for v in ("6", "10"):
                ok = ok_v6 and not (v == "10" and is_string)
                case("content-%s-%s-v%s" % (field.replace("_", "-"), tag, v), "not_int_or_string_int_in_content",
                     v, "allowed" if ok else "denied", {"users": {ALICE: 100}, field: value}, base,
                     "rooms/v%s rule 9.%s" % (v, "1" if v == "10" else "3.2"))
    for where, key in (("events", "bar"), ("notifications", "room"), ("users", "@bar:baz")):
        for tag, value, ok_v6, is_string in VALUES:
            for v in ("6", "10"):
                ok = ok_v6 and not (v == "10" and is_string)
                content = {"users": {ALICE: 100}}
                if where == "users":
                    content["users"][key] = value
                else:
                    content[where] = {key: value}
                case("%s-%s-v%s" % (where, tag, v), "not_int_or_string_int_in_" + where, v,
                     "allowed" if ok else "denied", content, base, "rooms/v%s rule 9" % v)
    case("not-user-id-in-users", "not_user_id_in_users", "6", "denied", {"users": {ALICE: 100, "spambot": -1}}, base,
         "rooms/v6 rule 9.1: \"spambot\" is not a user ID")
    case("first-power-levels-event", "first_power_levels_event", "6", "allowed", {"users": {ALICE: 100}},
         initial(drop=["IPOWER"]), "rooms/v6 rule 9.2")

    def with_bob(cur, new, v="6", sender=BOB):
        cur = dict(cur, events=dict(cur.get("events", {}), **{"m.room.power_levels": 40}))
        new = dict(new, events=dict(new.get("events", {}), **{"m.room.power_levels": 40}))
        return cur, new

    for field in INT_FIELDS:
        for test, cur_v, new_v, expect in (("change_content_level_with_current_higher_power_level", 60, 40, "denied"),
                                           ("change_content_level_with_new_higher_power_level", 40, 60, "denied"),
                                           ("change_content_level_with_same_power_level", 30, 40, "allowed")):
            users = {"users": {ALICE: 100, BOB: 40}}
            cur, new = with_bob(dict(users, **{field: cur_v}), dict(users, **{field: new_v}))
            case("%s-%s" % (test.replace("_", "-").replace("change-content-level-with-", "content-"),
                            field.replace("_", "-")), test, "6", expect, new,
                 initial({"IPOWER": ipower(cur)}), "rooms/v6 rule 9.3", note=bob_note, sender=BOB)
    users = {ALICE: 100, BOB: 40}
    for where, key, versions in (("events", "foo", ("6",)), ("notifications", "room", ("3", "6"))):
        for test, cur_v, new_v, expect in (("current_higher", 60, 40, "denied"), ("new_higher", 30, 60, "denied"),
                                           ("same", 40 if where == "events" else 30,
                                            10 if where == "events" else 31, "allowed")):
            for v in versions:
                cur, new = with_bob({"users": users, where: {key: cur_v}}, {"users": users, where: {key: new_v}})
                got = expect if v != "3" else "allowed"
                case("%s-%s-v%s" % (where, test.replace("_", "-"), v),
                     "change_%s_level_with_%s_power_level" % (where, test), v, got, new,
                     initial({"IPOWER": ipower(cur)}),
                     "rooms/v%s rule %s" % (v, "10: notifications are not checked" if v == "3" else "9.4/9.5"),
                     note=bob_note, sender=BOB)
    for test, cur_z, new_z, expect in (("change_other_user_level_with_current_higher_power_level", 70, None, "denied"),
                                       ("change_other_user_level_with_new_higher_power_level", 10, 45, "denied"),
                                       ("change_other_user_level_with_same_power_level", 20, 40, "allowed")):
        cur_users = dict(users, **{ZARA: cur_z})
        new_users = dict(users, **({ZARA: new_z} if new_z is not None else {}))
        cur, new = with_bob({"users": cur_users}, {"users": new_users})
        case(test.replace("change_", "").replace("_", "-"), test, "6", expect, new, initial({"IPOWER": ipower(cur)}),
             "rooms/v6 rules 9.6/9.7", note=bob_note, sender=BOB)
    for test, new_bob, expect in (("change_own_user_level_to_new_higher_power_level", 100, "denied"),
                                  ("change_own_user_level_to_lower_power_level", 20, "allowed")):
        cur, new = with_bob({"users": users}, {"users": {ALICE: 100, BOB: new_bob}})
        case(test.replace("change_", "").replace("_", "-"), test, "6", expect, new, initial({"IPOWER": ipower(cur)}),
             "rooms/v6 rules 9.6/9.7: the sender's own entry may go down", note=bob_note, sender=BOB)

    # Room version 12: the room ID is the create event's ID; creators have
    # infinite power and may not be listed in users.
    room12 = "!CREATE12"
    c12 = pdu("$CREATE12", "m.room.create", ALICE, {"room_version": "12"}, "", None, ts=1)
    ima12 = pdu("$IMA12", "m.room.member", ALICE, join(), ALICE, room12, prev=["$CREATE12"], ts=2)
    imb12 = pdu("$IMB12", "m.room.member", BOB, join(), BOB, room12, ts=3)
    for test, cur, new, expect, spec in (
            ("creator_has_infinite_power", {"users": {BOB: 9007199254740991}}, {"users": {BOB: 0}}, "allowed",
             "rooms/v12: the creator's level is above 2^53-1"),
            ("dont_allow_creator_in_users_field", {"users": {BOB: 40}}, {"users": {ALICE: 10, BOB: 40}}, "denied",
             "rooms/v12 rule 10.4")):
        cur_ev = pdu("$IPOWER12", "m.room.power_levels", ALICE, cur, "", room12, ts=4)
        new_ev = pdu("$IPOWER12B", "m.room.power_levels", ALICE, new, "", room12, ts=5)
        auth_case("ruma-pl-" + test.replace("_", "-") + "-v12", SRC_PL, test, "12", expect, new_ev,
                  [c12, ima12, imb12, cur_ev], note=pl_note + " (room version 12)", spec=spec)


def gen():
    gen_event_auth()
    gen_room_member()
    gen_power_levels()
    gen_newer()


SRC_NEW = SRC_AUTH + " (RoomTimelineFactory version)"
MALFORMED = ("the verb exits 1 (malformed input) instead of giving a verdict: an event of a room version before 12 "
             "without room_id is not a valid PDU (server-server API, checks on receipt, step 1: \"it must contain "
             "a room_id\"), so it is dropped before the authorization rules, not rejected by them")


def gen_newer():
    """Cases of the current ruma file, whose factory builds a public-chat room
    on server matrix.local (room v12: room ID !room-create)."""
    a = "@alice:matrix.local"
    c6 = lambda content, **kw: pdu("$room-create", "m.room.create", a, content, "", "!room:matrix.local", **kw)
    c12 = lambda content, **kw: pdu("$room-create", "m.room.create", a, content, "", kw.pop("room_id", None), **kw)
    for name, v, ev_, expect, spec in (
            ("v11-additional-creators-unchecked", "11",
             c6({"room_version": "11", "additional_creators": ["@::example.org"]}), "allowed",
             rule("11", "create", "v11 does not read additional_creators")),
            ("v12-additional-creators", "12", c12({"room_version": "12", "additional_creators": [a]}), "allowed",
             rule("12", "create")),
            ("v12-with-room-id", "12", c12({"room_version": "12"}, room_id="!room:matrix.local"), "denied",
             rule("12", "create.room_id")),
            ("v12-invalid-additional-creator", "12",
             c12({"room_version": "12", "additional_creators": ["@::example.org"]}), "denied",
             rule("12", "create.additional_creators", "\"@::example.org\" has no valid server name"))):
        auth_case("ruma-new-room-create-" + name, SRC_NEW, "valid_room_create / invalid_room_create", v, expect,
                  ev_, [], spec=spec)

    # A v12 public-chat room, its create event implicit in the room ID.
    room = "!room-create"
    state = [
        c12({"room_version": "12"}),
        pdu("$room-member-alice-join", "m.room.member", a, join(), a, room, prev=["$room-create"]),
        pdu("$room-power-levels", "m.room.power_levels", a, {}, "", room, auth=["$room-member-alice-join"]),
        pdu("$room-join-rules", "m.room.join_rules", a, {"join_rule": "public"}, "", room,
            auth=["$room-member-alice-join", "$room-power-levels"]),
    ]
    hello = lambda auth: pdu("$hello", "m.room.message", a, {"msgtype": "m.text", "body": "Hello!"}, None, room,
                             auth=auth, prev=["$room-join-rules"])
    listed = ["$room-member-alice-join", "$room-power-levels"]
    auth_case("ruma-new-allow-missing-room-create-auth-events-v12", SRC_NEW, "allow_missing_room_create_auth_events",
              "12", "allowed", hello(listed), state, spec=rule("12", "auth_events.4",
                                                                "v12 has no rule that the create event be listed"))
    auth_case("ruma-new-reject-room-create-in-auth-events-v12", SRC_NEW, "reject_room_create_in_auth_events", "12",
              "denied", hello(["$room-create"] + listed), state, spec=rule("12", "auth_events.2"))
    auth_case("ruma-new-missing-room-create-in-fetch-event-v12", SRC_NEW, "missing_room_create_in_fetch_event", "12",
              "denied", hello(listed), state[1:], spec=rule("12", "room_id", "the create event is unknown"))
    MANIFEST_MALFORMED(
        "ruma-new-room-create-without-room-id-v11", SRC_NEW, "room_create_with_allowed_or_rejected_room_id", "11",
        c12({"room_version": "12"}), [], rule("11", "create.domain"))
    msg = hello([])
    del msg["room_id"]
    MANIFEST_MALFORMED("ruma-new-event-without-room-id-v11", SRC_NEW, "event_without_room_id", "11", msg,
                       [dict(s, room_id="!room:matrix.local") for s in state if s["type"] == "m.room.create"],
                       "server-server API, checks on receipt, step 1")


def MANIFEST_MALFORMED(name, source, test, version, event, state, spec):
    auth_case(name, source, test, version, "malformed", event, state, spec=spec, published="denied",
              reason=MALFORMED)
