"""The few client-server API calls the fixtures need: register a local user,
create a room. Spec: client-server-api §Account registration (User-Interactive
Authentication, m.login.dummy), §Creating a room.
"""
import secrets
import urllib.parse

from .core import NOT_IMPLEMENTED, UNAVAILABLE, Fail, Skip

CLIENT = "/_matrix/client/v3"


class ClientUser:
    def __init__(self, target, user_id, access_token, device_id):
        self.target = target
        self.user_id = user_id
        self.access_token = access_token
        self.device_id = device_id


def call(ctx, target, method, path, body=None, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return ctx.request(method, path, body, target=target, headers=headers)


def _unrecognized(ex):
    return ex.status in (404, 405) and ex.errcode == "M_UNRECOGNIZED"


def register(ctx, target, localpart=None, password=None):
    """A new local user on target (with an access token), through the
    m.login.dummy flow. Skips when registration is closed or needs more."""
    for _ in range(3):
        lp = localpart or "conf-%s" % secrets.token_hex(5)
        body = {"username": lp, "password": password or secrets.token_urlsafe(18),
                "initial_device_display_name": "mxrelay conformance"}
        ex = call(ctx, target, "POST", CLIENT + "/register", body)
        if _unrecognized(ex):
            raise Skip("not implemented by target: POST %s/register" % CLIENT, NOT_IMPLEMENTED)
        if ex.status == 401 and isinstance(ex.json, dict) and "flows" in ex.json:
            flows = [f.get("stages") for f in ex.json.get("flows") or [] if isinstance(f, dict)]
            if ["m.login.dummy"] not in flows and [] not in flows:
                raise Skip("registration needs stages %s; the suite only does m.login.dummy" % flows, UNAVAILABLE)
            body["auth"] = {"type": "m.login.dummy", "session": ex.json.get("session")}
            ex = call(ctx, target, "POST", CLIENT + "/register", body)
        if ex.status == 403:
            raise Skip("registration is closed on the target (403 %s)" % ex.errcode, UNAVAILABLE)
        if ex.status == 400 and ex.errcode == "M_USER_IN_USE" and not localpart:
            continue
        j = ex.json
        if ex.status != 200 or not isinstance(j, dict) or not isinstance(j.get("access_token"), str):
            raise Fail("could not register a user for the fixture: %s" % ex.describe(), ex)
        return ClientUser(target, j.get("user_id"), j["access_token"], j.get("device_id"))
    raise Fail("could not find a free user name to register")


def create_room(ctx, user, room_version=None, preset="public_chat", visibility=None, alias_localpart=None,
                initial_state=None, name=None, invite=None):
    """A new room with user as creator; returns its room ID."""
    body = {"preset": preset}
    if room_version:
        body["room_version"] = room_version
    if visibility:
        body["visibility"] = visibility
    if alias_localpart:
        body["room_alias_name"] = alias_localpart
    if initial_state:
        body["initial_state"] = initial_state
    if name:
        body["name"] = name
    if invite:
        body["invite"] = invite
    ex = call(ctx, user.target, "POST", CLIENT + "/createRoom", body, user.access_token)
    if _unrecognized(ex):
        raise Skip("not implemented by target: POST %s/createRoom" % CLIENT, NOT_IMPLEMENTED)
    if ex.status == 400 and ex.errcode in ("M_UNSUPPORTED_ROOM_VERSION", "M_INCOMPATIBLE_ROOM_VERSION"):
        raise Skip("the target does not create rooms of version %s (%s)" % (room_version, ex.errcode), UNAVAILABLE)
    j = ex.json
    if ex.status != 200 or not isinstance(j, dict) or not isinstance(j.get("room_id"), str):
        raise Fail("could not create a room for the fixture: %s" % ex.describe(), ex)
    return j["room_id"]


def quote(ident):
    return urllib.parse.quote(ident, safe="")
