"""server-server-api §Joining Rooms (joins-v1.yaml, joins-v2.yaml), §Leaving
Rooms (leaving-v1.yaml, leaving-v2.yaml), §Inviting to a room
(invites-v2.yaml), §Knocking upon a room (knocks.yaml)."""
import copy
import secrets

from lib import Skip, case, check, expect_error, expect_json
from lib import clientapi
from lib import events as ev
from lib.checks import FED, q, signed_by_target, tamper_sig

S_J = "Joining rooms"
S_L = "Leaving rooms"
S_I = "Inviting"
S_K = "Knocking"
SP_MJ = "server-server-api §Joining Rooms (joins-v1.yaml make_join)"
SP_SJ = "server-server-api §Joining Rooms (joins-v2.yaml send_join)"
SP_L = "server-server-api §Leaving Rooms (leaving-v1.yaml, leaving-v2.yaml)"
SP_I = "server-server-api §Inviting to a room (invites-v2.yaml)"
SP_K = "server-server-api §Knocking upon a room (knocks.yaml)"
ALL = "&".join("ver=%d" % n for n in range(1, 13))
REFUSED = (400, 403)


def new_user(ctx, fake=None):
    return (fake or ctx.fake).user("conf-%s" % secrets.token_hex(4))


def make_join(ctx, room, user, vers=ALL, as_=None):
    return ctx.request("GET", FED + "/v1/make_join/%s/%s%s" % (q(room.room_id), q(user), ("?" + vers) if vers else ""),
                       as_=as_ or ctx.fake)


def template(ctx, room, user, endpoint="make_join", membership="join", vers=ALL):
    path = FED + "/v1/%s/%s/%s%s" % (endpoint, q(room.room_id), q(user), ("?" + vers) if vers else "")
    ex = ctx.signed("GET", path)
    j = expect_json(ex)
    tmpl = j.get("event")
    check(isinstance(tmpl, dict), "%s: 'event' is not an object" % endpoint, ex)
    check((tmpl.get("content") or {}).get("membership") == membership, "%s: membership is not %s"
          % (endpoint, membership), ex)
    return tmpl


def put_event(ctx, room, endpoint, pdu, as_=None, event_id=None, version="v2"):
    eid = event_id or room.model.event_id(pdu)
    return ctx.request("PUT", FED + "/%s/%s/%s/%s" % (version, endpoint, q(room.room_id), q(eid)), pdu,
                       as_=as_ or ctx.fake)


def check_template(ex, tmpl, room, user, membership):
    for field, want in (("room_id", room.room_id), ("sender", user), ("state_key", user), ("type", "m.room.member")):
        check(tmpl.get(field) == want, "template %s is %r, expected %r" % (field, tmpl.get(field), want), ex)
    check((tmpl.get("content") or {}).get("membership") == membership, "template content.membership is %r, "
          "expected %s" % ((tmpl.get("content") or {}).get("membership"), membership), ex)


# ---- make_join -------------------------------------------------------------------------

@case("make_join.template", section=S_J, spec=SP_MJ, requires=("make_join", "room"))
def make_join_template(ctx):
    """make_join gives the room version and a join template for the user"""
    room = ctx.room()
    user = new_user(ctx)
    ex = make_join(ctx, room, user)
    j = expect_json(ex)
    check(j.get("room_version") == room.version.id, "room_version %r, the room is v%s" % (j.get("room_version"),
                                                                                       room.version.id), ex)
    check_template(ex, j.get("event") or {}, room, user, "join")


@case("make_join.incompatible_version", section=S_J, spec=SP_MJ + ": 400 M_INCOMPATIBLE_ROOM_VERSION with room_version",
      requires=("make_join", "room"))
def make_join_incompatible(ctx):
    """make_join from a server that does not support the room's version is 400 M_INCOMPATIBLE_ROOM_VERSION"""
    room = ctx.room()
    other = "1" if room.version.id != "1" else "2"
    j = expect_error(make_join(ctx, room, new_user(ctx), "ver=" + other), 400, "M_INCOMPATIBLE_ROOM_VERSION")
    check(j.get("room_version") == room.version.id, "room_version is %r, the room is v%s"
          % (j.get("room_version"), room.version.id))


@case("make_join.default_version", section=S_J, spec=SP_MJ + ": ver defaults to [1]", requires=("make_join", "room"))
def make_join_default_version(ctx):
    """make_join without ver means [1]: for a room not of version 1, 400 M_INCOMPATIBLE_ROOM_VERSION"""
    room = ctx.room()
    if room.version.id == "1":
        raise Skip("the fixture room is of version 1")
    expect_error(make_join(ctx, room, new_user(ctx), None), 400, "M_INCOMPATIBLE_ROOM_VERSION")


@case("make_join.unknown_room", section=S_J, spec=SP_MJ + ": 404 M_NOT_FOUND", requires=("make_join",))
def make_join_unknown_room(ctx):
    """make_join for a room the target does not know is 404 M_NOT_FOUND"""
    path = FED + "/v1/make_join/%s/%s?%s" % (q("!conformance-nowhere-%s:%s" % (secrets.token_hex(4), ctx.target.server_name)),
                                             q(new_user(ctx)), ALL)
    expect_error(ctx.signed("GET", path), 404, "M_NOT_FOUND")


@case("make_join.user_of_other_server", section=S_J, spec=SP_MJ + ": userId MUST be a user ID on the origin server",
      requires=("make_join", "room"))
def make_join_other_server_user(ctx):
    """make_join for a user of another server than the requester is refused"""
    room = ctx.room()
    expect_error(make_join(ctx, room, new_user(ctx, ctx.fake_server("second"))), REFUSED)


@case("make_join.unsigned", section=S_J, spec=SP_MJ + "; §Request Authentication", requires=("make_join",))
def make_join_unsigned(ctx):
    """make_join without X-Matrix is refused with 401"""
    path = FED + "/v1/make_join/%s/%s?ver=11" % (q("!conformance:%s" % ctx.target.server_name), q(new_user(ctx)))
    expect_error(ctx.get(path), 401, "M_UNAUTHORIZED")


# ---- send_join -------------------------------------------------------------------------

def join_pdu(ctx, room, user=None, mutate=None, fake=None):
    fake = fake or ctx.fake
    user = user or new_user(ctx, fake)
    tmpl = template(ctx, room, user)
    if mutate:
        # mutate may edit the copy in place (returning None) or return a new event
        changed = copy.deepcopy(tmpl)
        result = mutate(changed)
        tmpl = changed if result is None else result
    return room.model.finish_template(fake, tmpl)


@case("send_join.response", section=S_J, spec=SP_SJ, requires=("send_join", "room"))
def send_join_response(ctx):
    """send_join returns the room's state and auth chain as full PDUs, the create event among them"""
    room = ctx.room()
    pdu = join_pdu(ctx, room)
    ex = put_event(ctx, room, "send_join", pdu)
    j = expect_json(ex)
    state, chain = j.get("state"), j.get("auth_chain")
    check(isinstance(state, list) and isinstance(chain, list), "state and auth_chain must be arrays", ex)
    types = {(p.get("type"), p.get("state_key")) for p in state if isinstance(p, dict)}
    for k in (("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", "")):
        check(k in types, "the returned state has no %s" % (k,), ex)
    for p in state + chain:
        check(isinstance(p, dict) and ev.hash_ok(p), "a returned PDU fails its content hash", ex)
    if "event" in j:
        got = j["event"]
        check(room.model.event_id(got) == room.model.event_id(pdu), "'event' is not our join", ex)
    if j.get("members_omitted"):
        check(isinstance(j.get("servers_in_room"), list), "members_omitted without servers_in_room", ex)


@case("send_join.state_has_creator_signed", section=S_J, spec=SP_SJ, requires=("send_join", "room"))
def send_join_signed(ctx):
    """The create event in the send_join state is signed by the target"""
    room = ctx.room()
    j = expect_json(put_event(ctx, room, "send_join", join_pdu(ctx, room)))
    create = next((p for p in j.get("state") or [] if isinstance(p, dict) and p.get("type") == "m.room.create"), None)
    check(create is not None, "no create event in the state")
    check(signed_by_target(ctx, create, ctx.target, room.version), "the create event is not validly signed by the target")


def _bad_join(name, doc, mutate=None, post=None, path_event_id=None, sender_fake=None):
    @case("send_join.refuses_" + name, section=S_J, spec=SP_SJ + ": validation before accepting the event (SHOULD M_INVALID_PARAM)",
          requires=("send_join", "room"))
    def fn(ctx):
        room = ctx.room()
        pdu = join_pdu(ctx, room, mutate=mutate)
        if post:
            pdu = post(ctx, room, pdu)
        eid = path_event_id(ctx, room, pdu) if path_event_id else None
        expect_error(put_event(ctx, room, "send_join", pdu, event_id=eid), REFUSED + ((404,) if path_event_id else ()))
    fn.__doc__ = doc
    return fn


def _membership(m):
    def f(t):
        t["content"]["membership"] = m
    return f


_bad_join("wrong_membership", "send_join of an event whose membership is not join is refused", _membership("leave"))
_bad_join("not_member_event", "send_join of an event that is not m.room.member is refused",
          lambda t: t.update(type="m.room.message"))
_bad_join("state_key_not_sender", "send_join whose state_key is not the sender is refused",
          lambda t: t.update(state_key="@conformance-someone:" + t["sender"].split(":", 1)[1]))
_bad_join("bad_signature", "send_join of a join with a bad signature is refused",
          post=lambda ctx, room, pdu: tamper_sig(pdu, ctx.fake.server_name))
_bad_join("event_id_mismatch", "send_join whose path eventId is not the event's ID is refused",
          path_event_id=lambda ctx, room, pdu: "$conformance-%s" % secrets.token_hex(8))


@case("send_join.refuses_sender_of_other_server", section=S_J, spec=SP_SJ + ": the sender must be a user of the origin server",
      requires=("send_join", "room"))
def send_join_other_sender(ctx):
    """send_join from us of a join for a user of another server is refused"""
    room = ctx.room()
    second = ctx.fake_server("second")
    user = new_user(ctx, second)
    # make_join refuses users of other servers, so build the template ourselves.
    tmpl = room.model.build(ctx.fake, "m.room.member", user, {"membership": "join"}, state_key=user, sign_it=False)
    pdu = room.model.finish_template(ctx.fake, tmpl)
    expect_error(put_event(ctx, room, "send_join", pdu), REFUSED)


@case("send_join.unsigned", section=S_J, spec=SP_SJ + "; §Request Authentication", requires=("send_join",))
def send_join_unsigned(ctx):
    """send_join without X-Matrix is refused with 401"""
    ex = ctx.request("PUT", FED + "/v2/send_join/%s/%s" % (q("!conformance:%s" % ctx.target.server_name),
                                                           q("$conformance")), {})
    expect_error(ex, 401, "M_UNAUTHORIZED")


# ---- make_leave / send_leave -------------------------------------------------------------

@case("leave.round_trip", section=S_L, spec=SP_L, requires=("make_leave", "send_leave", "room"))
def leave_round_trip(ctx):
    """A joined remote user leaves through make_leave/send_leave (send_leave answers {})"""
    room = ctx.room()
    user = room.join(ctx, ctx.fake)
    ex = ctx.signed("GET", FED + "/v1/make_leave/%s/%s" % (q(room.room_id), q(user)))
    j = expect_json(ex)
    check(j.get("room_version") == room.version.id, "room_version %r" % j.get("room_version"), ex)
    check_template(ex, j.get("event") or {}, room, user, "leave")
    pdu = room.model.finish_template(ctx.fake, j["event"])
    ex = put_event(ctx, room, "send_leave", pdu)
    check(expect_json(ex) == {}, "send_leave should answer {}", ex)
    room.model.add(pdu)


@case("leave.refuses_wrong_membership", section=S_L, spec=SP_L + ": membership must be leave (SHOULD M_INVALID_PARAM)",
      requires=("make_leave", "send_leave", "room"))
def leave_wrong_membership(ctx):
    """send_leave of an event whose membership is not leave is refused"""
    room = ctx.room()
    user = room.join(ctx, ctx.fake)
    tmpl = template(ctx, room, user, "make_leave", "leave", vers=None)
    tmpl["content"]["membership"] = "join"
    pdu = room.model.finish_template(ctx.fake, tmpl)
    expect_error(put_event(ctx, room, "send_leave", pdu), REFUSED)


@case("make_leave.unsigned", section=S_L, spec=SP_L + "; §Request Authentication", requires=("make_leave",))
def make_leave_unsigned(ctx):
    """make_leave without X-Matrix is refused with 401"""
    path = FED + "/v1/make_leave/%s/%s" % (q("!conformance:%s" % ctx.target.server_name), q(new_user(ctx)))
    expect_error(ctx.get(path), 401, "M_UNAUTHORIZED")


# ---- invites (the room lives on the fake server, the invitee on the target) --------------

def invite_setup(ctx, version=None):
    ver = ev.room_version(version or ctx.run.room_version)
    invitee = ctx.run.fixtures.get((ctx.target.base_url, "invitee"), lambda: clientapi.register(ctx, ctx.target))
    room = ev.create_room(ctx.fake, ver, "conf-inviter-%s" % secrets.token_hex(3))
    ctx.fake.rooms[room.room_id] = room
    pdu = room.build(ctx.fake, "m.room.member", room.creator, {"membership": "invite"}, state_key=invitee.user_id)
    return ver, invitee, room, pdu


def invite_body(room, pdu, ver):
    keep = (("m.room.create", ""), ("m.room.join_rules", ""), ("m.room.member", room.creator))
    return {"room_version": ver.id, "event": pdu,
            "invite_room_state": [room.state_event(*k) for k in keep if room.state_event(*k)]}


def put_invite(ctx, room, pdu, body, as_=None):
    return ctx.request("PUT", FED + "/v2/invite/%s/%s" % (q(room.room_id), q(room.event_id(pdu))), body,
                       as_=as_ or ctx.fake)


RI = ("invite", "client-register")


@case("invite.signed_back", section=S_I, spec=SP_I, requires=RI)
def invite_signed_back(ctx):
    """An invite of a local user comes back with the target's signature added, ours kept"""
    ver, invitee, room, pdu = invite_setup(ctx)
    ex = put_invite(ctx, room, pdu, invite_body(room, pdu, ver))
    got = expect_json(ex).get("event")
    check(isinstance(got, dict), "'event' missing", ex)
    check(room.event_id(got) == room.event_id(pdu), "the returned event is not our invite", ex)
    check(ctx.fake.server_name in (got.get("signatures") or {}), "our signature was dropped", ex)
    check(signed_by_target(ctx, got, ctx.target, ver), "the invite is not validly signed by the target", ex)


def _bad_invite(name, doc, change, statuses=REFUSED, errcodes=None, version=None):
    @case("invite.refuses_" + name, section=S_I, spec=SP_I + ": validation (SHOULD M_INVALID_PARAM)", requires=RI)
    def fn(ctx):
        ver, invitee, room, pdu = invite_setup(ctx, version)
        body = invite_body(room, pdu, ver)
        pdu2 = change(ctx, room, pdu, body)
        expect_error(put_invite(ctx, room, pdu2 or pdu, body), statuses, errcodes)
    fn.__doc__ = doc
    return fn


def _resigned(ctx, room, pdu, body, **changes):
    p = {k: v for k, v in pdu.items() if k not in ("signatures", "hashes")}
    p.update(changes)
    ev.sign_event(p, ctx.fake.server_name, ctx.fake.signing_key, room.version)
    body["event"] = p
    return p


_bad_invite("wrong_membership", "An invite whose membership is not invite is refused",
            lambda ctx, room, pdu, body: _resigned(ctx, room, pdu, body, content={"membership": "join"}))
_bad_invite("not_member_event", "An invite that is not an m.room.member event is refused",
            lambda ctx, room, pdu, body: _resigned(ctx, room, pdu, body, type="m.room.message"))
_bad_invite("invitee_not_local", "An invite for a user who is not on the target is refused",
            lambda ctx, room, pdu, body: _resigned(ctx, room, pdu, body, state_key=ctx.fake_server("second").user("x")))
_bad_invite("sender_of_other_server", "An invite whose sender is not on the origin server is refused",
            lambda ctx, room, pdu, body: _resigned(ctx, room, pdu, body, sender=ctx.fake_server("second").user("x")))
_bad_invite("bad_signature", "An invite whose signature does not verify is refused",
            lambda ctx, room, pdu, body: tamper_sig(pdu, ctx.fake.server_name))
_bad_invite("unknown_room_version", "An invite into a room version the target does not know is 400 M_INCOMPATIBLE_ROOM_VERSION",
            lambda ctx, room, pdu, body: body.update(room_version="org.example.conformance.unknown"),
            400, ("M_INCOMPATIBLE_ROOM_VERSION", "M_UNSUPPORTED_ROOM_VERSION"))
_bad_invite("missing_create_v12", "A v12 invite whose invite_room_state lacks the create event is refused (SHOULD for v12+)",
            lambda ctx, room, pdu, body: body.update(invite_room_state=[
                s for s in body["invite_room_state"] if s.get("type") != "m.room.create"]),
            400, ("M_INVALID_PARAM", "M_MISSING_PARAM"), version="12")


@case("invite.unsigned", section=S_I, spec=SP_I + "; §Request Authentication", requires=("invite",))
def invite_unsigned(ctx):
    """invite without X-Matrix is refused with 401"""
    ex = ctx.request("PUT", FED + "/v2/invite/%s/%s" % (q("!conformance:%s" % ctx.fake.server_name), q("$conformance")),
                     {})
    expect_error(ex, 401, "M_UNAUTHORIZED")


# ---- knocks ---------------------------------------------------------------------------

RK = ("make_knock", "send_knock", "room")


def knock_room(ctx):
    v = ctx.run.room_version
    if not ev.room_version(v).knock:
        raise Skip("room version %s has no knocking (v7+)" % v)
    return ctx.room(kind="knock")


@case("make_knock.template", section=S_K, spec=SP_K, requires=RK)
def make_knock_template(ctx):
    """make_knock on a knock room gives a knock template"""
    room = knock_room(ctx)
    user = new_user(ctx)
    ex = ctx.signed("GET", FED + "/v1/make_knock/%s/%s?%s" % (q(room.room_id), q(user), ALL))
    j = expect_json(ex)
    check(j.get("room_version") == room.requested_version, "room_version %r" % j.get("room_version"), ex)
    check_template(ex, j.get("event") or {}, room, user, "knock")


@case("make_knock.missing_ver", section=S_K, spec=SP_K + ": ver is required", requires=RK)
def make_knock_missing_ver(ctx):
    """make_knock without ver is refused with 400"""
    room = knock_room(ctx)
    expect_error(ctx.signed("GET", FED + "/v1/make_knock/%s/%s" % (q(room.room_id), q(new_user(ctx)))), 400)


@case("make_knock.incompatible_version", section=S_K, spec=SP_K + ": 400 M_INCOMPATIBLE_ROOM_VERSION", requires=RK)
def make_knock_incompatible(ctx):
    """make_knock from a server without the room's version is 400 M_INCOMPATIBLE_ROOM_VERSION"""
    room = knock_room(ctx)
    ex = ctx.signed("GET", FED + "/v1/make_knock/%s/%s?ver=1" % (q(room.room_id), q(new_user(ctx))))
    expect_error(ex, 400, "M_INCOMPATIBLE_ROOM_VERSION")


@case("make_knock.public_room", section=S_K, spec=SP_K + ": 403 when the knock would not be authorised", requires=RK)
def make_knock_public(ctx):
    """make_knock on a room whose join rule is public is 403 M_FORBIDDEN"""
    room = ctx.room()
    ex = ctx.signed("GET", FED + "/v1/make_knock/%s/%s?%s" % (q(room.room_id), q(new_user(ctx)), ALL))
    expect_error(ex, 403, "M_FORBIDDEN")


@case("send_knock.room_state", section=S_K, spec=SP_K, requires=RK)
def send_knock_state(ctx):
    """send_knock returns knock_room_state with the create event as a full PDU"""
    room = knock_room(ctx)
    user = new_user(ctx)
    ex = ctx.signed("GET", FED + "/v1/make_knock/%s/%s?%s" % (q(room.room_id), q(user), ALL))
    j = expect_json(ex)
    version = ev.room_version(j.get("room_version") or room.requested_version)
    model = ev.Room(version, room.room_id)
    pdu = model.finish_template(ctx.fake, j["event"])
    ex = ctx.signed("PUT", FED + "/v1/send_knock/%s/%s" % (q(room.room_id), q(model.event_id(pdu))), pdu)
    st = expect_json(ex).get("knock_room_state")
    check(isinstance(st, list), "knock_room_state is not an array", ex)
    create = [p for p in st if isinstance(p, dict) and p.get("type") == "m.room.create"]
    check(create, "knock_room_state has no m.room.create", ex)
    check("hashes" in create[0] and "signatures" in create[0], "the create event is not a full PDU (v1.16+)", ex)


@case("send_knock.refuses_wrong_membership", section=S_K, spec=SP_K + ": membership must be knock (SHOULD M_INVALID_PARAM)",
      requires=RK)
def send_knock_wrong(ctx):
    """send_knock of an event whose membership is not knock is refused"""
    room = knock_room(ctx)
    user = new_user(ctx)
    ex = ctx.signed("GET", FED + "/v1/make_knock/%s/%s?%s" % (q(room.room_id), q(user), ALL))
    j = expect_json(ex)
    model = ev.Room(ev.room_version(j.get("room_version") or room.requested_version), room.room_id)
    tmpl = j["event"]
    tmpl["content"]["membership"] = "join"
    pdu = model.finish_template(ctx.fake, tmpl)
    ex = ctx.signed("PUT", FED + "/v1/send_knock/%s/%s" % (q(room.room_id), q(model.event_id(pdu))), pdu)
    expect_error(ex, REFUSED)
