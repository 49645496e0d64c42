"""server-server-api §API standards, §Unsupported endpoints, §Server implementation."""
from lib import case, check, expect_error, expect_json
from lib.checks import FED

S_API = "API standards"
S_VER = "Server implementation"


@case("version.shape", section=S_VER, spec="server-server-api §Server implementation (version.yaml)")
def version_shape(ctx):
    """GET /version answers 200 with server.name and server.version strings"""
    ex = ctx.get(FED + "/v1/version")
    j = expect_json(ex)
    srv = j.get("server")
    check(isinstance(srv, dict), "'server' is missing or not an object", ex)
    for field in ("name", "version"):
        check(isinstance(srv.get(field), str) and srv.get(field), "server.%s is missing or not a non-empty string"
              % field, ex)


@case("version.unauthenticated", section=S_VER, spec="server-server-api §Server implementation (version.yaml)")
def version_unauthenticated(ctx):
    """GET /version needs no X-Matrix signature (it has no security requirement)"""
    expect_json(ctx.get(FED + "/v1/version", headers={"Accept": "application/json"}))


@case("version.wrong_method", section=S_API, spec="server-server-api §Unsupported endpoints")
def version_wrong_method(ctx):
    """POST to GET-only /version is 405 M_UNRECOGNIZED"""
    expect_error(ctx.request("POST", FED + "/v1/version", {}), 405, "M_UNRECOGNIZED")


@case("api.unknown_endpoint", section=S_API, spec="server-server-api §Unsupported endpoints")
def unknown_endpoint(ctx):
    """An unknown federation endpoint is 404 M_UNRECOGNIZED"""
    expect_error(ctx.get(FED + "/v1/conformance_no_such_endpoint"), 404, "M_UNRECOGNIZED")


@case("api.unknown_endpoint_signed", section=S_API, spec="server-server-api §Unsupported endpoints")
def unknown_endpoint_signed(ctx):
    """An unknown endpoint is 404 M_UNRECOGNIZED also for a correctly signed request"""
    expect_error(ctx.signed("GET", FED + "/v1/conformance_no_such_endpoint"), 404, "M_UNRECOGNIZED")


@case("api.unknown_api_version", section=S_API, spec="server-server-api §Unsupported endpoints")
def unknown_api_version(ctx):
    """An unknown API version prefix is 404 M_UNRECOGNIZED"""
    expect_error(ctx.get(FED + "/v99/version"), 404, "M_UNRECOGNIZED")


@case("api.unknown_key_endpoint", section=S_API, spec="server-server-api §Unsupported endpoints")
def unknown_key_endpoint(ctx):
    """An unknown key API endpoint is 404 M_UNRECOGNIZED"""
    expect_error(ctx.get("/_matrix/key/v2/conformance_no_such_endpoint"), 404, "M_UNRECOGNIZED")


@case("api.trailing_segment", section=S_API, spec="server-server-api §Unsupported endpoints")
def trailing_segment(ctx):
    """A known path with an extra segment is an unknown endpoint (404 M_UNRECOGNIZED)"""
    expect_error(ctx.get(FED + "/v1/version/extra"), 404, "M_UNRECOGNIZED")


@case("api.wrong_method_key_server", section=S_API, spec="server-server-api §Unsupported endpoints")
def wrong_method_key_server(ctx):
    """PUT to GET-only /_matrix/key/v2/server is 405 M_UNRECOGNIZED"""
    expect_error(ctx.request("PUT", "/_matrix/key/v2/server", {}), 405, "M_UNRECOGNIZED")


@case("api.wrong_method_delete", section=S_API, spec="server-server-api §Unsupported endpoints")
def wrong_method_delete(ctx):
    """DELETE /_matrix/key/v2/server is 405 M_UNRECOGNIZED"""
    expect_error(ctx.request("DELETE", "/_matrix/key/v2/server"), 405, "M_UNRECOGNIZED")


@case("api.wrong_method_notary", section=S_API, spec="server-server-api §Unsupported endpoints")
def wrong_method_notary(ctx):
    """GET on POST-only /_matrix/key/v2/query is 405 M_UNRECOGNIZED"""
    expect_error(ctx.get("/_matrix/key/v2/query"), 405, "M_UNRECOGNIZED")


@case("api.body_not_json", section=S_API, spec="server-server-api §API standards; client-server-api §Standard error response")
def body_not_json(ctx):
    """A POST body that is not JSON is refused with 400 M_NOT_JSON"""
    ex = ctx.request("POST", "/_matrix/key/v2/query", b'{"server_keys": {', headers={"Content-Type": "application/json"})
    expect_error(ex, 400, ("M_NOT_JSON", "M_BAD_JSON"))


@case("api.body_not_object", section=S_API, spec="server-server-api §API standards")
def body_not_object(ctx):
    """A POST body that is JSON but not an object is refused with 400"""
    expect_error(ctx.request("POST", "/_matrix/key/v2/query", b"[]"), 400, ("M_NOT_JSON", "M_BAD_JSON"))


@case("api.body_not_utf8", section=S_API, spec="server-server-api §API standards (JSON is UTF-8)")
def body_not_utf8(ctx):
    """A POST body that is not UTF-8 is refused with 400"""
    ex = ctx.request("POST", "/_matrix/key/v2/query", b'{"server_keys": {"\xff\xfe": {}}}')
    expect_error(ex, 400, ("M_NOT_JSON", "M_BAD_JSON"))


@case("api.error_shape", section=S_API, spec="client-server-api §Standard error response")
def error_shape(ctx):
    """Errors are JSON objects with string errcode and error, served as application/json"""
    j = expect_error(ctx.get(FED + "/v1/conformance_no_such_endpoint"), 404)
    check(j["errcode"].startswith("M_"), "errcode %r does not use the M_ namespace" % j["errcode"])
