"""Client-server API: discovery, registration, login, sessions, devices
(client-server-api §API Standards, §Server Discovery, §Client
Authentication, §Account registration and management, §Device management).
Cases that need an account skip when the target does not offer open
registration with m.login.dummy."""
import re
import secrets

from lib import Skip, case, check, expect_error, expect_json, expect_status
from lib.csapi import V3, call, field, login, q, register, user

S_DISC = "Client: discovery"
S_ACCT = "Client: accounts"
S_DEV = "Client: devices"

VERSION = re.compile(r"^(v\d+\.\d+|r0\.\d+\.\d+)$")


def _uia_401(ex, where):
    """A user-interactive auth answer (§User-Interactive Authentication API):
    401 with flows (each with stages) and params."""
    j = expect_json(ex, 401)
    flows = field(j, "flows", list, where, ex)
    check(flows, "%s: 'flows' is empty" % where, ex)
    for f in flows:
        check(isinstance(f, dict) and isinstance(f.get("stages"), list) and
              all(isinstance(s, str) for s in f["stages"]), "%s: each flow needs a list of stages" % where, ex)
    if "session" in j:
        field(j, "session", str, where, ex)
    return j


def _password_auth(u, password=None):
    return {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": u.user_id},
            "password": password or u.password}


# ---- discovery -----------------------------------------------------------------------------------------------

@case("client.versions.shape", section=S_DISC, spec="client-server-api §GET /_matrix/client/versions")
def versions_shape(ctx):
    """GET /versions lists the spec versions it supports (no auth needed)"""
    ex = call(ctx, "GET", "/_matrix/client/versions")
    j = expect_json(ex)
    vs = field(j, "versions", list, "versions", ex)
    check(vs and all(isinstance(v, str) and VERSION.match(v) for v in vs),
          "versions: every entry must be a spec version like v1.11 or r0.6.1, got %r" % vs, ex)
    if "unstable_features" in j:
        uf = field(j, "unstable_features", dict, "versions", ex)
        check(all(isinstance(v, bool) for v in uf.values()), "versions: unstable_features values must be booleans",
              ex)


@case("client.versions.cors", section=S_DISC, spec="client-server-api §Web Browser Clients")
def versions_cors(ctx):
    """Responses carry the CORS headers browsers need"""
    ex = call(ctx, "GET", "/_matrix/client/versions")
    expect_status(ex, 200)
    check(ex.header("Access-Control-Allow-Origin") == "*",
          "Access-Control-Allow-Origin is %r, the spec asks for *" % ex.header("Access-Control-Allow-Origin"), ex)
    methods = ex.header("Access-Control-Allow-Methods") or ""
    for m in ("GET", "POST", "PUT", "DELETE", "OPTIONS"):
        check(m in methods, "Access-Control-Allow-Methods %r lacks %s" % (methods, m), ex)
    allowed = (ex.header("Access-Control-Allow-Headers") or "").lower()
    check("authorization" in allowed, "Access-Control-Allow-Headers %r lacks Authorization" % allowed, ex)


@case("client.wellknown.shape", section=S_DISC, spec="client-server-api §GET /.well-known/matrix/client")
def wellknown_shape(ctx):
    """/.well-known/matrix/client, when served, names the homeserver's base URL"""
    ex = call(ctx, "GET", "/.well-known/matrix/client", unrouted_ok=True)
    if ex.status == 404:
        raise Skip("the target serves no /.well-known/matrix/client (optional)")
    j = expect_json(ex)
    hs = field(j, "m.homeserver", dict, "well-known", ex)
    url = field(hs, "base_url", str, "well-known m.homeserver", ex)
    check(re.match(r"^https?://[^/]+", url) is not None, "m.homeserver.base_url %r is not a URL" % url, ex)


@case("client.login.flows", section=S_DISC, spec="client-server-api §GET /_matrix/client/v3/login")
def login_flows(ctx):
    """GET /login lists the login types, each with a type"""
    ex = call(ctx, "GET", V3 + "/login")
    j = expect_json(ex)
    flows = field(j, "flows", list, "login flows", ex)
    check(flows, "login flows: empty list", ex)
    for f in flows:
        check(isinstance(f, dict) and isinstance(f.get("type"), str), "login flows: each needs a string type", ex)


@case("client.capabilities.shape", section=S_DISC, spec="client-server-api §Capabilities negotiation")
def capabilities_shape(ctx):
    """GET /capabilities: m.room_versions names a default among the available ones"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/capabilities", token=u.token)
    j = expect_json(ex)
    caps = field(j, "capabilities", dict, "capabilities", ex)
    rv = caps.get("m.room_versions")
    if rv is not None:
        default = field(rv, "default", str, "m.room_versions", ex)
        avail = field(rv, "available", dict, "m.room_versions", ex)
        check(default in avail, "m.room_versions: default %s is not available" % default, ex)
        check(all(v in ("stable", "unstable") for v in avail.values()),
              "m.room_versions: availability must be stable or unstable", ex)
    for name in ("m.change_password", "m.set_displayname", "m.set_avatar_url", "m.3pid_changes"):
        if name in caps:
            field(caps[name], "enabled", bool, name, ex)


@case("client.capabilities.needs_token", section=S_DISC, spec="client-server-api §Using access tokens")
def capabilities_needs_token(ctx):
    """An authenticated endpoint without a token: 401 M_MISSING_TOKEN"""
    ex = call(ctx, "GET", V3 + "/capabilities")
    expect_error(ex, 401, "M_MISSING_TOKEN")


@case("client.unknown_endpoint", section=S_DISC, spec="client-server-api §Common error codes (M_UNRECOGNIZED)")
def unknown_endpoint(ctx):
    """An unknown client endpoint: 404 (or 405) M_UNRECOGNIZED"""
    ex = call(ctx, "GET", V3 + "/conformance_no_such_endpoint_%s" % secrets.token_hex(3), unrouted_ok=True)
    expect_error(ex, (404, 405), "M_UNRECOGNIZED")


# ---- registration ------------------------------------------------------------------------------------------

@case("client.register.flows", section=S_ACCT, spec="client-server-api §POST /_matrix/client/v3/register")
def register_flows(ctx):
    """POST /register without auth answers with the user-interactive auth flows"""
    ex = call(ctx, "POST", V3 + "/register", {"username": "cs-%s" % secrets.token_hex(5), "password": "pw-x1"})
    if ex.status == 403:
        raise Skip("registration is closed on the target (403 %s)" % ex.errcode)
    _uia_401(ex, "register")


@case("client.register.dummy", section=S_ACCT, spec="client-server-api §Account registration (m.login.dummy)")
def register_dummy(ctx):
    """Registration with m.login.dummy gives a user ID of the target, a token and a device"""
    u = register(ctx)
    check(u.user_id.endswith(":" + ctx.target.server_name),
          "registered user %s is not of the server %s" % (u.user_id, ctx.target.server_name))
    check(isinstance(u.device_id, str) and u.device_id, "register: no device_id")
    ex = call(ctx, "GET", V3 + "/account/whoami", token=u.token)
    check(expect_json(ex).get("user_id") == u.user_id, "whoami does not name the registered user", ex)


@case("client.register.in_use", section=S_ACCT, spec="client-server-api §POST /register (M_USER_IN_USE)")
def register_in_use(ctx):
    """Registering a taken user name: 400 M_USER_IN_USE"""
    u = user(ctx, "alice")
    ex = call(ctx, "POST", V3 + "/register", {"username": u.localpart, "password": "pw-x2",
                                             "auth": {"type": "m.login.dummy"}})
    expect_error(ex, 400, "M_USER_IN_USE")


@case("client.register.invalid_username", section=S_ACCT, spec="client-server-api §POST /register "
      "(M_INVALID_USERNAME); appendices §User Identifiers")
def register_invalid_username(ctx):
    """A user name outside the user ID grammar: 400 M_INVALID_USERNAME"""
    user(ctx, "alice")   # skips when registration is closed
    ex = call(ctx, "POST", V3 + "/register", {"username": "Not Valid!", "password": "pw-x3",
                                             "auth": {"type": "m.login.dummy"}})
    expect_error(ex, 400, "M_INVALID_USERNAME")


@case("client.register.available", section=S_ACCT, spec="client-server-api §GET /register/available")
def register_available(ctx):
    """GET /register/available: true for a free name, M_USER_IN_USE for a taken one"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/register/available?username=cs-free-%s" % secrets.token_hex(4))
    check(field(expect_json(ex), "available", bool, "register/available", ex) is True,
          "a free name is not available", ex)
    ex = call(ctx, "GET", V3 + "/register/available?username=" + q(u.localpart))
    expect_error(ex, 400, "M_USER_IN_USE")


@case("client.register.inhibit_login", section=S_ACCT, spec="client-server-api §POST /register (inhibit_login)")
def register_inhibit_login(ctx):
    """inhibit_login: the account is made but no access token is returned"""
    user(ctx, "alice")
    body = {"username": "cs-%s" % secrets.token_hex(5), "password": "pw-x4", "inhibit_login": True,
            "auth": {"type": "m.login.dummy"}}
    ex = call(ctx, "POST", V3 + "/register", body)
    j = expect_json(ex)
    field(j, "user_id", str, "register", ex)
    check("access_token" not in j, "inhibit_login: the response still has an access_token", ex)


# ---- login, sessions -------------------------------------------------------------------------------------------

@case("client.login.password", section=S_ACCT, spec="client-server-api §POST /login (m.login.password)")
def login_password(ctx):
    """Password login by m.id.user gives a working token for the same user"""
    u = user(ctx, "alice")
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": u.localpart},
            "password": u.password}
    ex = call(ctx, "POST", V3 + "/login", body)
    j = expect_json(ex)
    check(field(j, "user_id", str, "login", ex) == u.user_id, "login: user_id is not %s" % u.user_id, ex)
    tok = field(j, "access_token", str, "login", ex)
    field(j, "device_id", str, "login", ex)
    ex = call(ctx, "GET", V3 + "/account/whoami", token=tok)
    check(expect_json(ex).get("user_id") == u.user_id, "the new token is not the user's", ex)


@case("client.login.full_user_id", section=S_ACCT, spec="client-server-api §Identifier types (m.id.user)")
def login_full_user_id(ctx):
    """m.id.user accepts the full user ID as well as the localpart"""
    u = user(ctx, "alice")
    ex = call(ctx, "POST", V3 + "/login", {"type": "m.login.password", "password": u.password,
                                          "identifier": {"type": "m.id.user", "user": u.user_id}})
    check(expect_json(ex).get("user_id") == u.user_id, "login by full user ID gave another user", ex)


@case("client.login.wrong_password", section=S_ACCT, spec="client-server-api §POST /login (403 M_FORBIDDEN)")
def login_wrong_password(ctx):
    """A wrong password: 403 M_FORBIDDEN"""
    u = user(ctx, "alice")
    ex = call(ctx, "POST", V3 + "/login", {"type": "m.login.password", "password": u.password + "-wrong",
                                          "identifier": {"type": "m.id.user", "user": u.localpart}})
    expect_error(ex, 403, "M_FORBIDDEN")


@case("client.login.unknown_user", section=S_ACCT, spec="client-server-api §POST /login (403 M_FORBIDDEN)")
def login_unknown_user(ctx):
    """An unknown user: 403 M_FORBIDDEN, like a wrong password"""
    ex = call(ctx, "POST", V3 + "/login", {"type": "m.login.password", "password": "whatever",
                                          "identifier": {"type": "m.id.user",
                                                         "user": "cs-nobody-%s" % secrets.token_hex(5)}})
    expect_error(ex, 403, "M_FORBIDDEN")


@case("client.login.bad_type", section=S_ACCT, spec="client-server-api §POST /login (400)")
def login_bad_type(ctx):
    """An unknown login type: 400 with a Matrix error"""
    ex = call(ctx, "POST", V3 + "/login", {"type": "org.example.no_such_login", "user": "x"})
    expect_error(ex, 400, ("M_UNKNOWN", "M_BAD_JSON", "M_INVALID_PARAM", "M_UNRECOGNIZED"))


@case("client.login.not_json", section=S_ACCT, spec="client-server-api §Standard error response (M_NOT_JSON)")
def login_not_json(ctx):
    """A body that is not JSON: 400 M_NOT_JSON"""
    ex = call(ctx, "POST", V3 + "/login", b"{this is not json")
    expect_error(ex, 400, ("M_NOT_JSON", "M_BAD_JSON"))


@case("client.login.device_id", section=S_ACCT, spec="client-server-api §POST /login (device_id)")
def login_device_id(ctx):
    """A login naming a device ID gets that device"""
    u = user(ctx, "alice")
    dev = "CONF" + secrets.token_hex(4).upper()
    _, got = login(ctx, u, device_id=dev)
    check(got == dev, "login with device_id %s gave device %s" % (dev, got))


@case("client.whoami.shape", section=S_ACCT, spec="client-server-api §GET /account/whoami")
def whoami_shape(ctx):
    """whoami names the token's user and device"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/account/whoami", token=u.token)
    j = expect_json(ex)
    check(field(j, "user_id", str, "whoami", ex) == u.user_id, "whoami: wrong user", ex)
    if u.device_id:
        check(j.get("device_id") == u.device_id, "whoami: device_id %r, expected %s" % (j.get("device_id"),
                                                                                       u.device_id), ex)


@case("client.whoami.unknown_token", section=S_ACCT, spec="client-server-api §Using access tokens "
      "(M_UNKNOWN_TOKEN)")
def whoami_unknown_token(ctx):
    """An unknown access token: 401 M_UNKNOWN_TOKEN"""
    ex = call(ctx, "GET", V3 + "/account/whoami", token="not_a_token_%s" % secrets.token_hex(8))
    expect_error(ex, 401, "M_UNKNOWN_TOKEN")


@case("client.whoami.missing_token", section=S_ACCT, spec="client-server-api §Using access tokens "
      "(M_MISSING_TOKEN)")
def whoami_missing_token(ctx):
    """No access token: 401 M_MISSING_TOKEN"""
    expect_error(call(ctx, "GET", V3 + "/account/whoami"), 401, "M_MISSING_TOKEN")


@case("client.logout", section=S_ACCT, spec="client-server-api §POST /logout")
def logout(ctx):
    """After /logout the token is refused with M_UNKNOWN_TOKEN; other sessions live on"""
    u = user(ctx, "alice")
    tok, _ = login(ctx, u)
    expect_json(call(ctx, "POST", V3 + "/logout", {}, token=tok))
    expect_error(call(ctx, "GET", V3 + "/account/whoami", token=tok), 401, "M_UNKNOWN_TOKEN")
    expect_json(call(ctx, "GET", V3 + "/account/whoami", token=u.token))


@case("client.logout_all", section=S_ACCT, spec="client-server-api §POST /logout/all")
def logout_all(ctx):
    """/logout/all ends every session of the user"""
    u = register(ctx)
    tok2, _ = login(ctx, u)
    expect_json(call(ctx, "POST", V3 + "/logout/all", {}, token=u.token))
    for t in (u.token, tok2):
        expect_error(call(ctx, "GET", V3 + "/account/whoami", token=t), 401, "M_UNKNOWN_TOKEN")


@case("client.password.change", section=S_ACCT, spec="client-server-api §POST /account/password")
def password_change(ctx):
    """Changing the password takes user-interactive auth; the old password stops working"""
    u = register(ctx)
    new = "pw-new-" + secrets.token_hex(4)
    _uia_401(call(ctx, "POST", V3 + "/account/password", {"new_password": new}, token=u.token),
             "account/password")
    ex = call(ctx, "POST", V3 + "/account/password", {"new_password": new, "logout_devices": False,
                                                      "auth": _password_auth(u)}, token=u.token)
    expect_json(ex)
    ex = call(ctx, "POST", V3 + "/login", {"type": "m.login.password", "password": u.password,
                                          "identifier": {"type": "m.id.user", "user": u.localpart}})
    expect_error(ex, 403, "M_FORBIDDEN")
    u.password = new
    login(ctx, u)


# ---- devices -------------------------------------------------------------------------------------------------

@case("client.devices.list", section=S_DEV, spec="client-server-api §GET /devices")
def devices_list(ctx):
    """GET /devices lists the user's devices, the current one among them"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/devices", token=u.token)
    devs = field(expect_json(ex), "devices", list, "devices", ex)
    for d in devs:
        field(d, "device_id", str, "devices entry", ex)
    check(u.device_id in [d.get("device_id") for d in devs], "devices: the current device is not listed", ex)


@case("client.devices.rename", section=S_DEV, spec="client-server-api §PUT /devices/{deviceId}")
def devices_rename(ctx):
    """PUT /devices/{id} sets the display name GET /devices/{id} shows"""
    u = user(ctx, "alice")
    name = "conformance " + secrets.token_hex(3)
    path = V3 + "/devices/" + q(u.device_id)
    expect_json(call(ctx, "PUT", path, {"display_name": name}, token=u.token))
    ex = call(ctx, "GET", path, token=u.token)
    j = expect_json(ex)
    check(j.get("device_id") == u.device_id and j.get("display_name") == name,
          "device after rename: %r" % j, ex)


@case("client.devices.unknown", section=S_DEV, spec="client-server-api §GET /devices/{deviceId} (404)")
def devices_unknown(ctx):
    """An unknown device: 404 M_NOT_FOUND"""
    u = user(ctx, "alice")
    ex = call(ctx, "GET", V3 + "/devices/NOSUCHDEVICE" + secrets.token_hex(3).upper(), token=u.token)
    expect_error(ex, 404, "M_NOT_FOUND")


@case("client.devices.delete", section=S_DEV, spec="client-server-api §DELETE /devices/{deviceId}")
def devices_delete(ctx):
    """Deleting a device takes user-interactive auth and logs that device out"""
    u = user(ctx, "alice")
    tok, dev = login(ctx, u)
    path = V3 + "/devices/" + q(dev)
    _uia_401(call(ctx, "DELETE", path, {}, token=u.token), "DELETE /devices")
    bad = _password_auth(u, u.password + "-wrong")
    _uia_401(call(ctx, "DELETE", path, {"auth": bad}, token=u.token), "DELETE /devices with a wrong password")
    expect_json(call(ctx, "DELETE", path, {"auth": _password_auth(u)}, token=u.token))
    expect_error(call(ctx, "GET", V3 + "/account/whoami", token=tok), 401, "M_UNKNOWN_TOKEN")
    expect_error(call(ctx, "GET", path, token=u.token), 404, "M_NOT_FOUND")
