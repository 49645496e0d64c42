"""server-server-api §Request Authentication: X-Matrix on an authenticated
endpoint. The endpoint is the first one the target routes among harmless
authenticated requests (capabilities._auth_candidates): query/profile,
user/devices, state_ids, event, publicRooms, hierarchy; body cases use
user/keys/query, POST publicRooms or user/keys/claim."""
from lib import case, expect_error, expect_not_unauthorized
from lib.crypto import b64, key_id_of, unb64
from lib.xmatrix import request_signature

S = "Request authentication"
SPEC = "server-server-api §Request Authentication"
UNAUTH = ("M_UNAUTHORIZED",)


def endpoint(ctx, body=False):
    return ctx.capability("fed-auth-body" if body else "fed-auth").info


def send(ctx, body=False, **kw):
    e = endpoint(ctx, body)
    path = kw.pop("path", e["path"])
    return ctx.request(e["method"], path, e["body"], **kw)


def signature(ctx, fake=None, method=None, uri=None, content=None, destination=None, body=False):
    e = endpoint(ctx, body)
    fake = fake or ctx.fake
    return request_signature(fake.signing_key, fake.server_name, destination or ctx.target.server_name,
                             method or e["method"], uri or e["path"], e["body"] if content is None else content)


def refused(ex, statuses=401):
    return expect_error(ex, statuses, UNAUTH)


# ---- refused ---------------------------------------------------------------------------

@case("auth.missing_header", section=S, spec=SPEC, requires=("fed-auth",))
def missing_header(ctx):
    """A request without Authorization is refused with 401 M_UNAUTHORIZED"""
    refused(send(ctx))


@case("auth.other_scheme", section=S, spec=SPEC + "; RFC 9110 §11.4")
def other_scheme(ctx):
    """An Authorization header of another scheme (Bearer) is refused with 401"""
    ctx.require("fed-auth")
    expect_error(send(ctx, auth="Bearer conformance-not-a-token"), 401)


MALFORMED = {
    "no_params": lambda f, d, k, s: "X-Matrix",
    "no_sig": lambda f, d, k, s: 'X-Matrix origin="%s",destination="%s",key="%s"' % (f, d, k),
    "no_key": lambda f, d, k, s: 'X-Matrix origin="%s",destination="%s",sig="%s"' % (f, d, s),
    "no_origin": lambda f, d, k, s: 'X-Matrix destination="%s",key="%s",sig="%s"' % (d, k, s),
    "unterminated_quote": lambda f, d, k, s: 'X-Matrix origin="%s,destination="%s",key="%s",sig="%s' % (f, d, k, s),
    "garbage": lambda f, d, k, s: "X-Matrix !!! ;;; ===",
    "no_space_after_scheme": lambda f, d, k, s: 'X-Matrixorigin="%s",destination="%s",key="%s",sig="%s"' % (f, d, k, s),
    "sig_not_base64": lambda f, d, k, s: 'X-Matrix origin="%s",destination="%s",key="%s",sig="%s"' % (f, d, k, "*" * 86),
    "key_without_algorithm": lambda f, d, k, s: 'X-Matrix origin="%s",destination="%s",key="%s",sig="%s"'
                                                % (f, d, k.split(":", 1)[1], s),
    "empty_values": lambda f, d, k, s: 'X-Matrix origin="",destination="",key="",sig=""',
}


def _malformed_case(name, build):
    @case("auth.malformed." + name, section=S, spec=SPEC + ": header format (RFC 9110 §11.4)",
          requires=("fed-auth",))
    def fn(ctx):
        f = ctx.fake
        hdr = build(f.server_name, ctx.target.server_name, f.key_id, signature(ctx))
        refused(send(ctx, auth=hdr), (400, 401))
    fn.__doc__ = "A malformed X-Matrix header (%s) is refused with 400/401 M_UNAUTHORIZED" % name.replace("_", " ")
    return fn


for _n, _b in MALFORMED.items():
    _malformed_case(_n, _b)


@case("auth.unknown_origin", section=S, spec=SPEC + ": the origin's keys must verify the signature", requires=("fed-auth",))
def unknown_origin(ctx):
    """An origin whose keys cannot be fetched is refused with 401"""
    refused(send(ctx, as_=ctx.fake, origin=ctx.unreachable))


@case("auth.invalid_origin", section=S, spec=SPEC + "; appendices §Server Name", requires=("fed-auth",))
def invalid_origin(ctx):
    """An origin that is not a valid server name is refused"""
    refused(send(ctx, as_=ctx.fake, origin="not a server name"), (400, 401))


@case("auth.origin_is_target", section=S, spec=SPEC, requires=("fed-auth",))
def origin_is_target(ctx):
    """A request claiming to come from the target itself, signed with another key, is refused with 401"""
    refused(send(ctx, as_=ctx.fake, origin=ctx.target.server_name))


@case("auth.origin_is_peer", section=S, spec=SPEC, requires=("fed-auth",))
def origin_is_peer(ctx):
    """A request claiming another real server as origin, signed with our key ID, is refused with 401"""
    other = ctx.targets[1].server_name if len(ctx.targets) > 1 else ctx.fake_server("second").server_name
    refused(send(ctx, as_=ctx.fake, origin=other))


@case("auth.wrong_destination", section=S, spec=SPEC + ": a destination that is not the receiving server MUST be denied with 401",
      requires=("fed-auth",))
def wrong_destination(ctx):
    """A request whose destination is another server is refused with 401"""
    refused(send(ctx, as_=ctx.fake, destination="conformance-other.invalid"))


@case("auth.destination_of_peer", section=S, spec=SPEC + ": a destination that is not the receiving server MUST be denied with 401",
      requires=("fed-auth",))
def destination_of_peer(ctx):
    """A request meant for another server of the federation is refused with 401 (no replay across servers)"""
    other = ctx.targets[1].server_name if len(ctx.targets) > 1 else ctx.fake_server("second").server_name
    refused(send(ctx, as_=ctx.fake, destination=other))


@case("auth.signed_for_other_destination", section=S, spec=SPEC, requires=("fed-auth",))
def signed_for_other_destination(ctx):
    """The header names the target but the signature covers another destination: 401"""
    refused(send(ctx, as_=ctx.fake, destination="conformance-other.invalid", header_destination=ctx.target.server_name))


@case("auth.unknown_key", section=S, spec=SPEC, requires=("fed-auth",))
def unknown_key(ctx):
    """A key ID the origin does not publish is refused with 401"""
    refused(send(ctx, as_=ctx.fake, key_id="ed25519:conformanceUnknown"))


@case("auth.bad_signature", section=S, spec=SPEC, requires=("fed-auth",))
def bad_signature(ctx):
    """A signature that does not verify is refused with 401"""
    raw = bytearray(unb64(signature(ctx)))
    raw[10] ^= 0x55
    f = ctx.fake
    hdr = 'X-Matrix origin="%s",destination="%s",key="%s",sig="%s"' % (f.server_name, ctx.target.server_name,
                                                                       f.key_id, b64(bytes(raw)))
    refused(send(ctx, auth=hdr))


@case("auth.truncated_signature", section=S, spec=SPEC, requires=("fed-auth",))
def truncated_signature(ctx):
    """A signature cut short is refused"""
    f = ctx.fake
    hdr = 'X-Matrix origin="%s",destination="%s",key="%s",sig="%s"' % (f.server_name, ctx.target.server_name,
                                                                       f.key_id, signature(ctx)[:40])
    refused(send(ctx, auth=hdr), (400, 401))


@case("auth.key_of_other_server", section=S, spec=SPEC, requires=("fed-auth",))
def key_of_other_server(ctx):
    """Signed with another server's key under our key ID: 401"""
    refused(send(ctx, as_=ctx.fake, signing_key=ctx.fake_server("second").signing_key, key_id=ctx.fake.key_id))


@case("auth.old_verify_key", section=S, spec="server-server-api §Publishing Keys: old_verify_keys are only valid for events",
      requires=("fed-auth",))
def old_verify_key(ctx):
    """A request signed with a key from old_verify_keys is refused with 401"""
    rot = ctx.fake_server("rotated")
    refused(send(ctx, as_=rot, signing_key=rot.retired_key))


@case("auth.signed_other_uri", section=S, spec=SPEC + ": the signature covers the request target", requires=("fed-auth",))
def signed_other_uri(ctx):
    """A signature over another path is refused with 401"""
    refused(send(ctx, as_=ctx.fake, sign_uri="/_matrix/federation/v1/version"))


@case("auth.signed_other_method", section=S, spec=SPEC + ": the signature covers the method", requires=("fed-auth",))
def signed_other_method(ctx):
    """A signature over another method is refused with 401"""
    e = endpoint(ctx)
    refused(send(ctx, as_=ctx.fake, sign_method="DELETE" if e["method"] != "DELETE" else "GET"))


@case("auth.signed_without_query", section=S, spec=SPEC + ": the target includes the query string", requires=("fed-auth",))
def signed_without_query(ctx):
    """The request has a query string the signature does not cover: 401"""
    e = endpoint(ctx)
    path = e["path"] + ("&" if "?" in e["path"] else "?") + "conformance=1"
    refused(send(ctx, as_=ctx.fake, path=path, sign_uri=e["path"]))


@case("auth.signed_decoded_uri", section=S, spec=SPEC + ": the uri is the target as sent (not percent-decoded)",
      requires=("fed-auth",))
def signed_decoded_uri(ctx):
    """A signature over the percent-decoded target, not the one sent, is refused"""
    e = endpoint(ctx)
    path = e["path"] + ("&" if "?" in e["path"] else "?") + "conformance=%41"
    refused(send(ctx, as_=ctx.fake, path=path, sign_uri=path.replace("%41", "A")))


@case("auth.body_tampered", section=S, spec=SPEC + ": the signature covers the content", requires=("fed-auth-body",))
def body_tampered(ctx):
    """A body other than the signed content is refused with 401"""
    e = endpoint(ctx, body=True)
    other = dict(e["body"], conformance_extra=1)
    refused(send(ctx, body=True, as_=ctx.fake, sign_content=other))


@case("auth.body_not_signed", section=S, spec=SPEC + ": content is part of the signed object when there is a body",
      requires=("fed-auth-body",))
def body_not_signed(ctx):
    """A body whose signature was made without content is refused with 401"""
    e = endpoint(ctx, body=True)
    f = ctx.fake
    sig = request_signature(f.signing_key, f.server_name, ctx.target.server_name, e["method"], e["path"], None)
    hdr = 'X-Matrix origin="%s",destination="%s",key="%s",sig="%s"' % (f.server_name, ctx.target.server_name,
                                                                       f.key_id, sig)
    refused(send(ctx, body=True, auth=hdr))


# ---- accepted --------------------------------------------------------------------------

def header_variant(ctx, fmt, fake=None):
    f = fake or ctx.fake
    return fmt.format(o=f.server_name, d=ctx.target.server_name, k=key_id_of(f.signing_key), s=signature(ctx, f))


@case("auth.valid", section=S, spec=SPEC, requires=("fed-auth",))
def valid(ctx):
    """A correctly signed request is not refused"""
    expect_not_unauthorized(send(ctx, as_=ctx.fake))


@case("auth.valid_body", section=S, spec=SPEC, requires=("fed-auth-body",))
def valid_body(ctx):
    """A correctly signed request with a JSON body is not refused"""
    expect_not_unauthorized(send(ctx, body=True, as_=ctx.fake))


@case("auth.valid_second_server", section=S, spec=SPEC, requires=("fed-auth",))
def valid_second_server(ctx):
    """Requests from two different origins are each accepted"""
    expect_not_unauthorized(send(ctx, as_=ctx.fake_server("second")))
    expect_not_unauthorized(send(ctx, as_=ctx.fake))


@case("auth.no_destination", section=S, spec=SPEC + ": recipients should accept requests without destination",
      requires=("fed-auth",))
def no_destination(ctx):
    """A header without destination (pre-v1.3 senders) is accepted"""
    expect_not_unauthorized(send(ctx, as_=ctx.fake, header_destination=None))


@case("auth.names_case_insensitive", section=S, spec=SPEC + ": the names are case insensitive", requires=("fed-auth",))
def names_case_insensitive(ctx):
    """Parameter names in upper or mixed case are accepted"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'X-Matrix ORIGIN="{o}",Destination="{d}",KEY="{k}",Sig="{s}"')))


@case("auth.scheme_case_insensitive", section=S, spec="RFC 9110 §11.1: the authentication scheme is case-insensitive",
      requires=("fed-auth",))
def scheme_case_insensitive(ctx):
    """The scheme written x-matrix is accepted"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'x-matrix origin="{o}",destination="{d}",key="{k}",sig="{s}"')))


@case("auth.param_order", section=S, spec=SPEC + ": order does not matter", requires=("fed-auth",))
def param_order(ctx):
    """Parameters in another order are accepted"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'X-Matrix sig="{s}",key="{k}",destination="{d}",origin="{o}"')))


@case("auth.whitespace", section=S, spec=SPEC + ": zero or more spaces and tabs around each comma", requires=("fed-auth",))
def whitespace(ctx):
    """Spaces and tabs around the commas are accepted"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'X-Matrix origin="{o}" ,\tdestination="{d}"\t, key="{k}" , sig="{s}"')))


@case("auth.several_spaces_after_scheme", section=S, spec=SPEC + ": one or more spaces after X-Matrix", requires=("fed-auth",))
def several_spaces(ctx):
    """Several spaces after the scheme are accepted"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'X-Matrix   origin="{o}",destination="{d}",key="{k}",sig="{s}"')))


@case("auth.unquoted_values", section=S, spec=SPEC + ": recipients should allow colons in unquoted values", requires=("fed-auth",))
def unquoted_values(ctx):
    """Unquoted origin, destination and key (the key ID contains a colon) are accepted"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'X-Matrix origin={o},destination={d},key={k},sig="{s}"')))


@case("auth.escaped_value", section=S, spec=SPEC + ": the recipient must unescape backslash-escaped characters",
      requires=("fed-auth",))
def escaped_value(ctx):
    """Backslash escapes inside quoted values are unescaped"""
    f = ctx.fake
    escaped = "".join("\\" + ch if i % 2 == 0 else ch for i, ch in enumerate(f.server_name))
    hdr = 'X-Matrix origin="%s",destination="%s",key="%s",sig="%s"' % (escaped, ctx.target.server_name, f.key_id,
                                                                       signature(ctx))
    expect_not_unauthorized(send(ctx, auth=hdr))


@case("auth.unknown_param", section=S, spec=SPEC + ": unknown parameters are ignored", requires=("fed-auth",))
def unknown_param(ctx):
    """An unknown extra parameter is ignored"""
    expect_not_unauthorized(send(ctx, auth=header_variant(ctx, 'X-Matrix origin="{o}",conformance="x, y",destination="{d}",key="{k}",sig="{s}",z=1')))
