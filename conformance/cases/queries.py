"""server-server-api §Querying for information (query.yaml), §Device
Management (user_devices.yaml), §End-to-End Encryption (user_keys.yaml),
§Published Room Directory (public_rooms.yaml), §Spaces (space_hierarchy.yaml),
§OpenID (openid.yaml)."""
import secrets

from lib import NOT_IMPLEMENTED, Skip, case, check, expect_error, expect_json
from lib import clientapi
from lib.checks import FED, q

S_Q = "Queries"
S_D = "Devices and keys"
S_R = "Room directory"
S_O = "OpenID"
SP_P = "server-server-api §Querying for information (query.yaml /query/profile)"
SP_D = "server-server-api §Querying for information (query.yaml /query/directory)"
SP_UD = "server-server-api §Device Management (user_devices.yaml)"
SP_UK = "server-server-api §End-to-End Encryption (user_keys.yaml)"
SP_PR = "server-server-api §Published Room Directory (public_rooms.yaml)"
SP_H = "server-server-api §Spaces (space_hierarchy.yaml)"
SP_O = "server-server-api §OpenID (openid.yaml)"


def local_user(ctx):
    """A registered user of the target, shared by the cases of this module."""
    return ctx.run.fixtures.get((ctx.target.base_url, "query-user"), lambda: clientapi.register(ctx, ctx.target))


def nobody(ctx):
    return "@conformance-nobody-%s:%s" % (secrets.token_hex(4), ctx.target.server_name)


# ---- profile --------------------------------------------------------------------------

@case("query.profile.unknown_user", section=S_Q, spec=SP_P + ": 404 M_NOT_FOUND", requires=("query/profile",))
def profile_unknown(ctx):
    """The profile of a local user who does not exist is 404 M_NOT_FOUND"""
    expect_error(ctx.signed("GET", FED + "/v1/query/profile?user_id=" + q(nobody(ctx))), 404, "M_NOT_FOUND")


@case("query.profile.missing_user_id", section=S_Q, spec=SP_P + ": user_id is required", requires=("query/profile",))
def profile_missing_user(ctx):
    """A profile query without user_id is refused with 400"""
    expect_error(ctx.signed("GET", FED + "/v1/query/profile"), 400)


@case("query.profile.unsigned", section=S_Q, spec=SP_P + "; §Request Authentication", requires=("query/profile",))
def profile_unsigned(ctx):
    """A profile query without X-Matrix is refused with 401"""
    expect_error(ctx.get(FED + "/v1/query/profile?user_id=" + q(nobody(ctx))), 401, "M_UNAUTHORIZED")


@case("query.profile.local_user", section=S_Q, spec=SP_P, requires=("query/profile", "client-register"))
def profile_local(ctx):
    """The profile of a registered local user is 200 (or 403 if profiles are private), strings only"""
    user = local_user(ctx)
    ex = ctx.signed("GET", FED + "/v1/query/profile?user_id=" + q(user.user_id))
    if ex.status == 403:
        expect_error(ex, 403, "M_FORBIDDEN")
        return
    j = expect_json(ex)
    for k in ("displayname", "avatar_url"):
        check(j.get(k) is None or isinstance(j[k], str), "%s is not a string" % k, ex)


@case("query.profile.field", section=S_Q, spec=SP_P + ": with field, the server MUST only return the given field",
      requires=("query/profile", "client-register"))
def profile_field(ctx):
    """A profile query with field=displayname returns no other field"""
    user = local_user(ctx)
    ex = ctx.signed("GET", FED + "/v1/query/profile?user_id=%s&field=displayname" % q(user.user_id))
    if ex.status in (403, 404):
        expect_error(ex, (403, 404))
        return
    j = expect_json(ex)
    check(set(j) <= {"displayname"}, "fields other than displayname returned: %s" % sorted(set(j) - {"displayname"}), ex)


# ---- directory ------------------------------------------------------------------------

@case("query.directory.unknown_alias", section=S_Q, spec=SP_D + ": 404 M_NOT_FOUND", requires=("query/directory",))
def directory_unknown(ctx):
    """An unknown alias of the target is 404 M_NOT_FOUND"""
    alias = "#conformance-none-%s:%s" % (secrets.token_hex(4), ctx.target.server_name)
    expect_error(ctx.signed("GET", FED + "/v1/query/directory?room_alias=" + q(alias)), 404, "M_NOT_FOUND")


@case("query.directory.missing_alias", section=S_Q, spec=SP_D + ": room_alias is required", requires=("query/directory",))
def directory_missing(ctx):
    """A directory query without room_alias is refused with 400"""
    expect_error(ctx.signed("GET", FED + "/v1/query/directory"), 400)


@case("query.directory.alias", section=S_Q, spec=SP_D, requires=("query/directory", "room"))
def directory_alias(ctx):
    """A room alias of the target resolves to its room ID, with the target among the servers"""
    room = ctx.room()
    check(room.alias, "the fixture room has no alias")
    ex = ctx.signed("GET", FED + "/v1/query/directory?room_alias=" + q(room.alias))
    j = expect_json(ex)
    check(j.get("room_id") == room.room_id, "room_id %r, expected %s" % (j.get("room_id"), room.room_id), ex)
    servers = j.get("servers")
    check(isinstance(servers, list) and ctx.target.server_name in servers,
          "servers %r does not include the target" % (servers,), ex)


# ---- devices and keys -----------------------------------------------------------------

@case("user.devices.local_user", section=S_D, spec=SP_UD, requires=("user/devices", "client-register"))
def devices_local(ctx):
    """The devices of a registered user: user_id, integer stream_id, and the login's device with the keys it
    uploaded (keys is a required DeviceKeys object, so a device is listed once it has keys)"""
    user = local_user(ctx)
    uploaded = upload_device_keys(ctx, user) if user.device_id else None
    ex = ctx.signed("GET", FED + "/v1/user/devices/" + q(user.user_id))
    j = expect_json(ex)
    check(j.get("user_id") == user.user_id, "user_id %r" % j.get("user_id"), ex)
    check(isinstance(j.get("stream_id"), int), "stream_id missing or not an integer", ex)
    devs = j.get("devices")
    check(isinstance(devs, list), "devices is not an array", ex)
    for d in devs:
        check(isinstance(d, dict) and isinstance(d.get("device_id"), str), "a device without device_id", ex)
    if uploaded:
        mine = [d for d in devs if d.get("device_id") == user.device_id]
        check(mine, "the registered device %s, which uploaded keys, is not listed" % user.device_id, ex)
        check(mine[0].get("keys") == uploaded, "device %s: keys are not the ones it uploaded" % user.device_id, ex)


def upload_device_keys(ctx, user):
    """Uploads signed device keys for user's device (client-server keys/upload);
    returns them, or None when the target does not route keys/upload."""
    import signedjson.key
    import signedjson.sign
    sk = signedjson.key.generate_signing_key(user.device_id)
    keys = {"user_id": user.user_id, "device_id": user.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {"ed25519:" + user.device_id: signedjson.key.encode_verify_key_base64(sk.verify_key),
                     "curve25519:" + user.device_id: "3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI"}}
    keys = signedjson.sign.sign_json(keys, user.user_id, sk)
    ex = clientapi.call(ctx, ctx.target, "POST", "/_matrix/client/v3/keys/upload", {"device_keys": keys},
                        token=user.access_token)
    if ex.status in (404, 405) and ex.errcode == "M_UNRECOGNIZED":
        return None
    expect_json(ex)
    return keys


@case("user.devices.unsigned", section=S_D, spec=SP_UD + "; §Request Authentication", requires=("user/devices",))
def devices_unsigned(ctx):
    """user/devices without X-Matrix is refused with 401"""
    expect_error(ctx.get(FED + "/v1/user/devices/" + q(nobody(ctx))), 401, "M_UNAUTHORIZED")


@case("user.keys.query.local_user", section=S_D, spec=SP_UK, requires=("user/keys/query", "client-register"))
def keys_query_local(ctx):
    """user/keys/query for a local user answers with a device_keys object"""
    user = local_user(ctx)
    ex = ctx.signed("POST", FED + "/v1/user/keys/query", {"device_keys": {user.user_id: []}})
    j = expect_json(ex)
    check(isinstance(j.get("device_keys"), dict), "device_keys missing or not an object", ex)
    for uid, devs in j["device_keys"].items():
        check(isinstance(devs, dict), "device_keys.%s is not an object" % uid, ex)


@case("user.keys.query.missing_device_keys", section=S_D, spec=SP_UK + ": device_keys is required",
      requires=("user/keys/query",))
def keys_query_missing(ctx):
    """user/keys/query without device_keys is refused with 400"""
    expect_error(ctx.signed("POST", FED + "/v1/user/keys/query", {}), 400)


@case("user.keys.claim.none", section=S_D, spec=SP_UK, requires=("user/keys/claim", "client-register"))
def keys_claim_none(ctx):
    """user/keys/claim for a device without one-time keys answers with a one_time_keys object"""
    user = local_user(ctx)
    body = {"one_time_keys": {user.user_id: {user.device_id or "CONFORMANCE": "signed_curve25519"}}}
    ex = ctx.signed("POST", FED + "/v1/user/keys/claim", body)
    check(isinstance(expect_json(ex).get("one_time_keys"), dict), "one_time_keys missing or not an object", ex)


@case("user.keys.claim.missing", section=S_D, spec=SP_UK + ": one_time_keys is required", requires=("user/keys/claim",))
def keys_claim_missing(ctx):
    """user/keys/claim without one_time_keys is refused with 400"""
    expect_error(ctx.signed("POST", FED + "/v1/user/keys/claim", {}), 400)


# ---- public rooms and hierarchy -------------------------------------------------------

@case("public_rooms.get", section=S_R, spec=SP_PR, requires=("publicRooms",))
def public_rooms_get(ctx):
    """GET publicRooms returns a chunk array of rooms with their required fields"""
    ex = ctx.signed("GET", FED + "/v1/publicRooms")
    j = expect_json(ex)
    check(isinstance(j.get("chunk"), list), "chunk is not an array", ex)
    for r in j["chunk"]:
        for f, t in (("room_id", str), ("num_joined_members", int), ("world_readable", bool),
                     ("guest_can_join", bool)):
            check(isinstance(r.get(f), t), "a chunk entry lacks %s (%s)" % (f, t.__name__), ex)


@case("public_rooms.limit", section=S_R, spec=SP_PR, requires=("publicRooms",))
def public_rooms_limit(ctx):
    """GET publicRooms?limit=1 returns at most one room"""
    ex = ctx.signed("GET", FED + "/v1/publicRooms?limit=1")
    check(len(expect_json(ex).get("chunk") or []) <= 1, "more rooms than the limit", ex)


@case("public_rooms.lists_fixture", section=S_R, spec=SP_PR, requires=("publicRooms", "room"))
def public_rooms_lists(ctx):
    """A room published by its creator appears in publicRooms"""
    room = ctx.room()
    since, seen = None, []
    for _ in range(20):
        path = FED + "/v1/publicRooms?limit=50" + ("&since=" + q(since) if since else "")
        ex = ctx.signed("GET", path)
        j = expect_json(ex)
        seen += [r.get("room_id") for r in j.get("chunk") or []]
        if room.room_id in seen:
            return
        since = j.get("next_batch")
        if not since:
            break
    check(False, "the fixture room (created with visibility public) is not in publicRooms (%d rooms seen)" % len(seen))


@case("public_rooms.post", section=S_R, spec=SP_PR, requires=("publicRooms-post",))
def public_rooms_post(ctx):
    """POST publicRooms with a filter returns a chunk array"""
    ex = ctx.signed("POST", FED + "/v1/publicRooms", {"limit": 5, "filter": {"generic_search_term": "conformance"}})
    check(isinstance(expect_json(ex).get("chunk"), list), "chunk is not an array", ex)


@case("public_rooms.unsigned", section=S_R, spec=SP_PR + "; §Request Authentication", requires=("publicRooms",))
def public_rooms_unsigned(ctx):
    """publicRooms without X-Matrix is refused with 401"""
    expect_error(ctx.get(FED + "/v1/publicRooms"), 401, "M_UNAUTHORIZED")


@case("hierarchy.room", section=S_R, spec=SP_H, requires=("hierarchy", "room"))
def hierarchy_room(ctx):
    """hierarchy of a (non-space) public room: its summary, and children/inaccessible_children arrays"""
    room = ctx.room()
    ex = ctx.signed("GET", FED + "/v1/hierarchy/" + q(room.room_id))
    j = expect_json(ex)
    check(isinstance(j.get("room"), dict) and j["room"].get("room_id") == room.room_id,
          "room.room_id is not the room asked for", ex)
    check(isinstance(j.get("children"), list), "children is not an array", ex)
    check(isinstance(j.get("inaccessible_children"), list), "inaccessible_children is not an array", ex)


@case("hierarchy.unknown_room", section=S_R, spec=SP_H + ": 404 M_NOT_FOUND", requires=("hierarchy",))
def hierarchy_unknown(ctx):
    """hierarchy of an unknown room is 404 M_NOT_FOUND"""
    room = "!conformance-nowhere-%s:%s" % (secrets.token_hex(4), ctx.target.server_name)
    expect_error(ctx.signed("GET", FED + "/v1/hierarchy/" + q(room)), 404, "M_NOT_FOUND")


# ---- OpenID ---------------------------------------------------------------------------

@case("openid.unknown_token", section=S_O, spec=SP_O + ": 401 M_UNKNOWN_TOKEN", requires=("openid/userinfo",))
def openid_unknown(ctx):
    """userinfo with an unknown token is 401 M_UNKNOWN_TOKEN"""
    ex = ctx.get(FED + "/v1/openid/userinfo?access_token=conformance-" + secrets.token_hex(8))
    expect_error(ex, 401, "M_UNKNOWN_TOKEN")


@case("openid.missing_token", section=S_O, spec=SP_O + ": access_token is required", requires=("openid/userinfo",))
def openid_missing(ctx):
    """userinfo without access_token is refused (400 or 401)"""
    expect_error(ctx.get(FED + "/v1/openid/userinfo"), (400, 401))


@case("openid.valid_token", section=S_O, spec=SP_O + "; client-server-api §OpenID", requires=("openid/userinfo", "client-register"))
def openid_valid(ctx):
    """A token from /openid/request_token resolves to its user (sub), without X-Matrix"""
    user = local_user(ctx)
    ex = clientapi.call(ctx, ctx.target, "POST", clientapi.CLIENT + "/user/%s/openid/request_token" % q(user.user_id),
                        {}, user.access_token)
    if ex.status in (404, 405) and ex.errcode == "M_UNRECOGNIZED":
        raise Skip("not implemented by target: POST /user/{userId}/openid/request_token", NOT_IMPLEMENTED)
    tok = expect_json(ex).get("access_token")
    check(isinstance(tok, str), "request_token gave no access_token", ex)
    ex = ctx.get(FED + "/v1/openid/userinfo?access_token=" + q(tok))
    check(expect_json(ex).get("sub") == user.user_id, "sub is not the token's user", ex)
