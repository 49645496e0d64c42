"""server-server-api §Transactions (transactions.yaml), §Checks performed on
receipt of a PDU, §Signing Events (validating hashes and signatures)."""
import secrets

from lib import Skip, case, check, expect_error, expect_json
from lib import events as ev
from lib.checks import (FED, check_not_accepted, oversize_content, pdu_result, pdu_size, q, tamper_sig)
from lib.crypto import now_ms

S = "Transactions"
SPEC = "server-server-api §Transactions (transactions.yaml)"
S_PDU = "PDU checks"
SPEC_PDU = "server-server-api §Checks performed on receipt of a PDU"


def txn_path(tid=None):
    return FED + "/v1/send/" + q(tid or "conf-%s" % secrets.token_hex(6))


def txn_body(fake, pdus=(), edus=None):
    b = {"origin": fake.server_name, "origin_server_ts": now_ms(), "pdus": list(pdus)}
    if edus is not None:
        b["edus"] = list(edus)
    return b


def stray_pdus(ctx, n):
    """n signed PDUs of a room the target has never heard of."""
    room = ev.Room("11", "!conformance-%s:%s" % (secrets.token_hex(6), ctx.fake.server_name))
    user = ctx.fake.user("stray")
    return room, [room.build(ctx.fake, "m.room.message", user, {"msgtype": "m.text", "body": "stray %d" % i},
                             prev_events=[], auth_events=[], depth=i + 1) for i in range(n)]


def presence_edu(fake, i=0):
    return {"edu_type": "m.presence", "content": {"push": [
        {"user_id": fake.user("presence%d" % i), "presence": "online", "last_active_ago": 1000}]}}


# ---- the transaction envelope ------------------------------------------------------------

@case("txn.empty", section=S, spec=SPEC, requires=("send",))
def empty(ctx):
    """An empty transaction is accepted: 200 with a 'pdus' object"""
    j = expect_json(ctx.signed("PUT", txn_path(), txn_body(ctx.fake)))
    check(isinstance(j.get("pdus"), dict), "the response has no 'pdus' object: %r" % j)


@case("txn.unsigned", section=S, spec=SPEC + "; server-server-api §Request Authentication", requires=("send",))
def unsigned(ctx):
    """A transaction without X-Matrix is refused with 401"""
    expect_error(ctx.request("PUT", txn_path(), txn_body(ctx.fake)), 401, "M_UNAUTHORIZED")


@case("txn.wrong_method", section=S, spec="server-server-api §Unsupported endpoints", requires=("send",))
def wrong_method(ctx):
    """POST /send/{txnId} is 405 M_UNRECOGNIZED"""
    expect_error(ctx.signed("POST", txn_path(), txn_body(ctx.fake)), 405, "M_UNRECOGNIZED")


@case("txn.edus_only", section=S, spec=SPEC, requires=("send",))
def edus_only(ctx):
    """A transaction with only EDUs is accepted"""
    expect_json(ctx.signed("PUT", txn_path(), txn_body(ctx.fake, edus=[presence_edu(ctx.fake)])))


@case("txn.unknown_edu_type", section=S, spec="server-server-api §EDUs", requires=("send",))
def unknown_edu_type(ctx):
    """An EDU of an unknown type does not fail the transaction"""
    edu = {"edu_type": "org.example.conformance.unknown", "content": {"x": 1}}
    expect_json(ctx.signed("PUT", txn_path(), txn_body(ctx.fake, edus=[edu])))


@case("txn.fifty_pdus", section=S, spec=SPEC + ": at most 50 PDUs", requires=("send",))
def fifty_pdus(ctx):
    """A transaction with exactly 50 PDUs is processed (200)"""
    _, pdus = stray_pdus(ctx, 50)
    j = expect_json(ctx.signed("PUT", txn_path(), txn_body(ctx.fake, pdus)))
    check(isinstance(j.get("pdus"), dict), "the response has no 'pdus' object")


@case("txn.too_many_pdus", section=S, spec=SPEC + ": transactions can have at most 50 PDUs", requires=("send",))
def too_many_pdus(ctx):
    """A transaction with 51 PDUs is refused with 400"""
    _, pdus = stray_pdus(ctx, 51)
    expect_error(ctx.signed("PUT", txn_path(), txn_body(ctx.fake, pdus)), 400)


@case("txn.hundred_edus", section=S, spec=SPEC + ": at most 100 EDUs", requires=("send",))
def hundred_edus(ctx):
    """A transaction with exactly 100 EDUs is processed (200)"""
    expect_json(ctx.signed("PUT", txn_path(), txn_body(ctx.fake, edus=[presence_edu(ctx.fake, i) for i in range(100)])))


@case("txn.too_many_edus", section=S, spec=SPEC + ": transactions can have at most 100 EDUs", requires=("send",))
def too_many_edus(ctx):
    """A transaction with 101 EDUs is refused with 400"""
    body = txn_body(ctx.fake, edus=[presence_edu(ctx.fake, i) for i in range(101)])
    expect_error(ctx.signed("PUT", txn_path(), body), 400)


@case("txn.missing_pdus", section=S, spec="transaction.yaml: origin, origin_server_ts and pdus are required", requires=("send",))
def missing_pdus(ctx):
    """A transaction without 'pdus' is refused with 400"""
    body = txn_body(ctx.fake)
    del body["pdus"]
    expect_error(ctx.signed("PUT", txn_path(), body), 400)


@case("txn.pdus_not_array", section=S, spec="transaction.yaml", requires=("send",))
def pdus_not_array(ctx):
    """A transaction whose 'pdus' is not an array is refused with 400"""
    body = txn_body(ctx.fake)
    body["pdus"] = {"not": "an array"}
    expect_error(ctx.signed("PUT", txn_path(), body), 400)


@case("txn.body_not_json", section=S, spec="server-server-api §API standards", requires=("send",))
def body_not_json(ctx):
    """A transaction body that is not JSON is refused with 400"""
    f = ctx.fake
    path = txn_path()
    ex = ctx.request("PUT", path, b"{not json", auth=f.auth_header(ctx.target.server_name, "PUT", path, None))
    expect_error(ex, (400, 401))


@case("txn.duplicate_empty", section=S, spec=SPEC + "; transactions are retried with the same txnId", requires=("send",))
def duplicate_empty(ctx):
    """The same transaction sent twice is answered 200 both times, identically"""
    path, body = txn_path(), txn_body(ctx.fake, edus=[presence_edu(ctx.fake)])
    a = expect_json(ctx.signed("PUT", path, body))
    ex = ctx.signed("PUT", path, body)
    check(expect_json(ex) == a, "the retried transaction got a different response", ex)


@case("txn.unknown_room", section=S, spec=SPEC_PDU + "; transactions.yaml PDU Processing Result", requires=("send",))
def unknown_room(ctx):
    """A PDU of a room the target is not in is not accepted, and the transaction still succeeds"""
    room, pdus = stray_pdus(ctx, 1)
    eid = room.event_id(pdus[0])
    ex = ctx.signed("PUT", txn_path(), txn_body(ctx.fake, pdus))
    j = expect_json(ex)
    res = pdu_result(j, eid)
    check(res is None or (isinstance(res, dict) and "error" in res),
          "a PDU of an unknown room was reported as handled without error: %r" % (res,), ex)
    if ctx.capability("event").offered:
        got = ctx.signed("GET", FED + "/v1/event/" + q(eid))
        check(got.status != 200, "the target serves an event of a room it is not in", got)


# ---- PDUs in a room the target is in ----------------------------------------------------

R = ("send", "room")


@case("txn.pdu.accepted", section=S_PDU, spec=SPEC_PDU, requires=R)
def pdu_accepted(ctx):
    """A valid message from a joined remote user is accepted without error"""
    room = ctx.room()
    room.send_accepted(ctx, ctx.fake, room.message(ctx.fake, room.fake_user))


@case("txn.pdu.served_back", section=S_PDU, spec=SPEC_PDU + "; events.yaml GET /event", requires=R + ("event",))
def pdu_served_back(ctx):
    """An accepted PDU is served by GET /event with the same event ID and content"""
    room = ctx.room()
    pdu = room.message(ctx.fake, room.fake_user, "served back")
    eid = room.send_accepted(ctx, ctx.fake, pdu)
    ex = ctx.signed("GET", FED + "/v1/event/" + q(eid))
    j = expect_json(ex)
    pdus = j.get("pdus")
    check(isinstance(pdus, list) and len(pdus) == 1, "expected one PDU", ex)
    got = pdus[0]
    check(room.model.event_id(got) == eid, "the served event's ID is %s, not %s" % (room.model.event_id(got), eid), ex)
    check(got.get("content") == pdu["content"], "the served content differs from what was sent", ex)


@case("txn.pdu.duplicate_txn", section=S_PDU, spec=SPEC + ": retried transactions", requires=R)
def pdu_duplicate_txn(ctx):
    """A transaction with a PDU sent twice gets the same response both times"""
    room = ctx.room()
    pdu = room.message(ctx.fake, room.fake_user, "twice")
    eid = room.model.event_id(pdu)
    tid = "conf-dup-%s" % secrets.token_hex(4)
    body = txn_body(ctx.fake, [pdu])
    a = expect_json(ctx.signed("PUT", txn_path(tid), body))
    ex = ctx.signed("PUT", txn_path(tid), body)
    check(expect_json(ex) == a, "the retried transaction got a different response", ex)
    res = pdu_result(a, eid)
    check(isinstance(res, dict) and "error" not in res, "the PDU was not accepted: %r" % (res,), ex)
    room.model.add(pdu)


@case("txn.pdu.same_pdu_new_txn", section=S_PDU, spec=SPEC_PDU, requires=R)
def pdu_same_new_txn(ctx):
    """A PDU the target already has, sent again in a new transaction, is not an error"""
    room = ctx.room()
    pdu = room.message(ctx.fake, room.fake_user, "again")
    eid = room.send_accepted(ctx, ctx.fake, pdu)
    ex = room.txn(ctx, ctx.fake, [pdu])
    res = pdu_result(expect_json(ex), eid)
    check(res is None or (isinstance(res, dict) and "error" not in res),
          "resending a known PDU gave an error: %r" % (res,), ex)


@case("txn.pdu.unsigned", section=S_PDU, spec=SPEC_PDU + ": 2. signature checks (else drop)", requires=R)
def pdu_unsigned(ctx):
    """A PDU without signatures is not accepted"""
    room = ctx.room()
    pdu = room.message(ctx.fake, room.fake_user, "unsigned")
    pdu["signatures"] = {}
    check_not_accepted(ctx, room, pdu, room.txn(ctx, ctx.fake, [pdu]), "has no signatures")


@case("txn.pdu.bad_signature", section=S_PDU, spec=SPEC_PDU + ": 2. signature checks (else drop)", requires=R)
def pdu_bad_signature(ctx):
    """A PDU whose signature does not verify is not accepted"""
    room = ctx.room()
    pdu = tamper_sig(room.message(ctx.fake, room.fake_user, "bad sig"), ctx.fake.server_name)
    check_not_accepted(ctx, room, pdu, room.txn(ctx, ctx.fake, [pdu]), "carries a bad signature")


@case("txn.pdu.signed_by_other_server", section=S_PDU, spec="server-server-api §Validating hashes and signatures: the sender's server must sign",
      requires=R)
def pdu_signed_by_other(ctx):
    """A PDU of our user signed only by another server is not accepted"""
    room = ctx.room()
    pdu = room.message(ctx.fake, room.fake_user, "signed by someone else", sign_it=False)
    ev.sign_event(pdu, ctx.fake_server("second").server_name, ctx.fake_server("second").signing_key, room.version)
    check_not_accepted(ctx, room, pdu, room.txn(ctx, ctx.fake, [pdu]), "is not signed by its sender's server")


@case("txn.pdu.forged_sender", section=S_PDU, spec="server-server-api §Validating hashes and signatures: the sender's server must sign",
      requires=R)
def pdu_forged_sender(ctx):
    """A PDU whose sender is a user of another server, signed by the sending server, is not accepted"""
    room = ctx.room()
    other = ctx.targets[1] if len(ctx.targets) > 1 else None
    sender = "@conf-victim:%s" % (other.server_name if other else ctx.target.server_name)
    pdu = room.model.build(ctx.fake, "m.room.message", sender, {"msgtype": "m.text", "body": "forged"})
    check_not_accepted(ctx, room, pdu, room.txn(ctx, ctx.fake, [pdu]), "claims a sender of another server")


@case("txn.pdu.bad_hash_redacted", section=S_PDU, spec=SPEC_PDU + ": 3. hash check (else redact)", requires=R + ("event",))
def pdu_bad_hash(ctx):
    """A PDU whose content hash does not match is redacted: /event serves it without its content"""
    room = ctx.room()
    pdu = room.message(ctx.fake, room.fake_user, "original body")
    pdu["content"]["body"] = "changed after signing"     # the signature covers the redacted form only
    eid = room.model.event_id(pdu)
    ex = room.txn(ctx, ctx.fake, [pdu])
    expect_json(ex)
    got = ctx.signed("GET", FED + "/v1/event/" + q(eid))
    if got.status == 404:
        return   # dropped instead of redacted: not what the spec says, but nothing leaks
    j = expect_json(got)
    served = (j.get("pdus") or [{}])[0]
    check("body" not in (served.get("content") or {}),
          "an event with a bad content hash is served with its unredacted content", got)


@case("txn.pdu.oversized", section=S_PDU, spec="client-server-api §Size limits: events are at most 65536 bytes",
      requires=R)
def pdu_oversized(ctx):
    """A PDU larger than 65536 bytes is not accepted"""
    room = ctx.room()
    pdu = room.model.build(ctx.fake, "m.room.message", room.fake_user, oversize_content())
    check(pdu_size(pdu) > 65536, "the test PDU is not oversized")
    ex = room.txn(ctx, ctx.fake, [pdu])
    if ex.status in (400, 413):
        return   # refusing the whole request is fine too
    check_not_accepted(ctx, room, pdu, ex, "is larger than 65536 bytes")


@case("txn.pdu.wrong_room_version_format", section=S_PDU, spec=SPEC_PDU + ": 1. valid format for the room version",
      requires=R)
def pdu_wrong_format(ctx):
    """A PDU in the format of another room version (v1 reference pairs in a v3+ room) is not accepted"""
    room = ctx.room()
    if room.version.refs_with_hashes:
        raise Skip("the fixture room is of version %s" % room.version.id)
    pdu = room.model.build(ctx.fake, "m.room.message", room.fake_user, {"msgtype": "m.text", "body": "old format"},
                           sign_it=False)
    pdu["prev_events"] = [[p, {"sha256": "AAAA"}] for p in pdu["prev_events"]]
    ev.sign_event(pdu, ctx.fake.server_name, ctx.fake.signing_key, room.version)
    check_not_accepted(ctx, room, pdu, room.txn(ctx, ctx.fake, [pdu]), "has v1-style prev_events in a v%s room"
                       % room.version.id)


@case("txn.pdu.auth_rejected", section=S_PDU, spec=SPEC_PDU + ": 4./5. authorization rules (else reject); rejected events do not change the state",
      requires=R + ("state_ids",))
def pdu_auth_rejected(ctx):
    """A state event from a user who is not in the room is rejected and does not enter the room state"""
    room = ctx.room()
    stranger = ctx.fake.user("conf-stranger-%s" % secrets.token_hex(3))
    bad = room.model.build(ctx.fake, "m.room.name", stranger, {"name": "stranger's name"}, state_key="")
    bad_id = room.model.event_id(bad)
    expect_json(room.txn(ctx, ctx.fake, [bad]))
    # Build on top of the rejected event, then ask for the state before ours.
    room.model.add(bad, as_state=False)
    msg = room.message(ctx.fake, room.fake_user, "after the stranger")
    eid = room.send_accepted(ctx, ctx.fake, msg)
    ex = ctx.signed("GET", FED + "/v1/state_ids/%s?event_id=%s" % (q(room.room_id), q(eid)))
    j = expect_json(ex)
    check(bad_id not in (j.get("pdu_ids") or []), "a rejected m.room.name from a non-member is in the room state", ex)


@case("txn.pdu.several", section=S_PDU, spec=SPEC, requires=R)
def pdu_several(ctx):
    """Several chained PDUs in one transaction are all accepted"""
    room = ctx.room()
    first = room.message(ctx.fake, room.fake_user, "one")
    first_id = room.model.event_id(first)
    second = room.message(ctx.fake, room.fake_user, "two", prev_events=[first_id], depth=first["depth"] + 1)
    ex = room.txn(ctx, ctx.fake, [first, second])
    j = expect_json(ex)
    for p in (first, second):
        res = pdu_result(j, room.model.event_id(p))
        check(isinstance(res, dict) and "error" not in res, "PDU %s was not accepted: %r"
              % (room.model.event_id(p), res), ex)
    room.model.add(first)
    room.model.add(second)


@case("txn.edu.typing", section=S, spec="server-server-api §Typing Notifications", requires=R)
def edu_typing(ctx):
    """A typing EDU of a joined remote user is accepted"""
    room = ctx.room()
    edu = {"edu_type": "m.typing", "content": {"room_id": room.room_id, "user_id": room.fake_user, "typing": True}}
    expect_json(room.txn(ctx, ctx.fake, [], edus=[edu]))


@case("txn.edu.receipt", section=S, spec="server-server-api §Receipts", requires=R)
def edu_receipt(ctx):
    """A read receipt EDU of a joined remote user is accepted"""
    room = ctx.room()
    last = room.model.extremities[-1]
    edu = {"edu_type": "m.receipt", "content": {room.room_id: {"m.read": {room.fake_user: {
        "event_ids": [last], "data": {"ts": now_ms()}}}}}}
    expect_json(room.txn(ctx, ctx.fake, [], edus=[edu]))

