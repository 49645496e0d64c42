"""server-server-api §Querying Keys Through Another Server (keys_query.yaml)."""
from lib import Skip, case, check, expect_error, expect_json
from lib.checks import check_notary_signed, check_server_keys, notary_entry, q, server_keys
from lib.crypto import now_ms, public_b64

S = "Key notary"
SPEC = "server-server-api §Querying Keys Through Another Server (keys_query.yaml)"
Q = "/_matrix/key/v2/query"
DAY = 24 * 3600 * 1000
SP_OLD = SPEC + "; server-server-api §Publishing Keys (old_verify_keys)"


def get_query(ctx, name, params=""):
    ex = ctx.get(Q + "/" + q(name) + params)
    return ex, expect_json(ex)


def post_query(ctx, body):
    ex = ctx.request("POST", Q, body)
    return ex, expect_json(ex)


def check_fake_entry(ctx, j, fake, ex):
    """The response holds the fake server's current key, signed by it and by the notary."""
    entries = notary_entry(j, fake.server_name, ex)
    check(entries, "no keys for %s in server_keys (got %d entries)" % (fake.server_name, len(j.get("server_keys") or [])), ex)
    for e in entries:
        vk = check_server_keys(e, fake.server_name, ex, "keys of %s" % fake.server_name)
        check((vk.get(fake.key_id) or {}).get("key") == public_b64(fake.signing_key),
              "the keys of %s do not include its current key %s" % (fake.server_name, fake.key_id), ex)
        check_notary_signed(ctx, e, ctx.target, ex)
    return entries


@case("notary.get.remote", section=S, spec=SPEC)
def get_remote(ctx):
    """GET /query/{serverName} returns the remote server's keys, self-signed and signed by the notary"""
    ex, j = get_query(ctx, ctx.fake.server_name)
    check_fake_entry(ctx, j, ctx.fake, ex)


@case("notary.get.remote_fetched", section=S, spec=SPEC + ": the notary retrieves keys with GET /_matrix/key/v2/server")
def get_remote_fetched(ctx):
    """The notary got the keys from the remote server's key endpoint"""
    fake = ctx.fake_server("second")
    ex, j = get_query(ctx, fake.server_name)
    check_fake_entry(ctx, j, fake, ex)
    got = fake.requests_matching(lambda r: r.path.startswith("/_matrix/key/v2/server"))
    check(got, "%s never asked %s for its keys" % (ctx.target.server_name, fake.server_name), ex)


@case("notary.get.self", section=S, spec=SPEC)
def get_self(ctx):
    """Asked for its own name, the notary returns its own keys, as published"""
    _, own = server_keys(ctx)
    ex, j = get_query(ctx, ctx.target.server_name)
    entries = notary_entry(j, ctx.target.server_name, ex)
    check(entries, "no entry for the notary itself", ex)
    for e in entries:
        check_server_keys(e, ctx.target.server_name, ex, "own keys")
        check(e.get("verify_keys") == own.get("verify_keys"), "verify_keys differ from /_matrix/key/v2/server", ex)


@case("notary.get.peer", section=S, spec=SPEC)
def get_peer(ctx):
    """The notary returns the keys of the other servers of the federation, signed by both"""
    if len(ctx.targets) < 2:
        raise Skip("needs a second server (default mode with --servers 2 or more)")
    for peer in ctx.targets[1:]:
        _, pk = server_keys(ctx, peer)
        ex, j = get_query(ctx, peer.server_name)
        entries = notary_entry(j, peer.server_name, ex)
        check(entries, "no keys for %s" % peer.server_name, ex)
        for e in entries:
            check_server_keys(e, peer.server_name, ex, "keys of %s" % peer.server_name)
            check(e.get("verify_keys") == pk.get("verify_keys"), "the notary's copy of %s's keys differs from "
                  "what %s publishes" % (peer.server_name, peer.server_name), ex)
            check_notary_signed(ctx, e, ctx.target, ex)


@case("notary.get.unreachable", section=S, spec=SPEC + ": an empty array if the server could not be reached and no cached keys were available")
def get_unreachable(ctx):
    """A server that cannot be reached and was never seen gives an empty server_keys array"""
    ex, j = get_query(ctx, ctx.unreachable)
    check(j.get("server_keys") == [], "expected server_keys: [], got %r" % (j.get("server_keys"),), ex)


@case("notary.get.percent_encoded", section=S, spec=SPEC + "; RFC 3986 path segments")
def get_percent_encoded(ctx):
    """A percent-encoded server name in the path is decoded"""
    name = ctx.fake.server_name
    ex = ctx.get(Q + "/" + "".join("%%%02X" % b for b in name.encode()))
    check_fake_entry(ctx, expect_json(ex), ctx.fake, ex)


@case("notary.get.min_valid_past", section=S, spec=SPEC + ": minimum_valid_until_ts")
def get_min_valid_past(ctx):
    """minimum_valid_until_ts in the past still returns the current keys"""
    ex, j = get_query(ctx, ctx.fake.server_name, "?minimum_valid_until_ts=%d" % (now_ms() - DAY))
    check_fake_entry(ctx, j, ctx.fake, ex)


@case("notary.get.min_valid_satisfied", section=S, spec=SPEC + ": the returned keys SHOULD be valid until at least minimum_valid_until_ts")
def get_min_valid_satisfied(ctx):
    """Keys returned for a reachable origin are valid until at least minimum_valid_until_ts"""
    want = now_ms() + 3600 * 1000
    ex, j = get_query(ctx, ctx.fake.server_name, "?minimum_valid_until_ts=%d" % want)
    for e in check_fake_entry(ctx, j, ctx.fake, ex):
        check(e.get("valid_until_ts", 0) >= want, "valid_until_ts %s is before minimum_valid_until_ts %d"
              % (e.get("valid_until_ts"), want), ex)


@case("notary.get.min_valid_invalid", section=S, spec=SPEC + ": minimum_valid_until_ts is an integer")
def get_min_valid_invalid(ctx):
    """A minimum_valid_until_ts that is not an integer is refused with 400"""
    expect_error(ctx.get(Q + "/" + q(ctx.fake.server_name) + "?minimum_valid_until_ts=soon"), 400)


@case("notary.get.cached_when_origin_down", section=S, spec="keys_server.yaml: notaries should continue to return the last response they received")
def get_cached_when_down(ctx):
    """After the origin's key server goes down, the notary still serves its last response"""
    fake = ctx.fake_server("flaky")
    ex, j = get_query(ctx, fake.server_name)
    check_fake_entry(ctx, j, fake, ex)
    fake.keys_status = 503
    ctx.cleanup(lambda: setattr(fake, "keys_status", 200))
    # A far minimum_valid_until_ts makes the notary try the origin again.
    ex, j = get_query(ctx, fake.server_name, "?minimum_valid_until_ts=%d" % (now_ms() + 30 * DAY))
    check_fake_entry(ctx, j, fake, ex)


@case("notary.get.bad_self_signature", section=S, spec=SPEC + "; keys.yaml: the keys are signed using the verify_keys")
def get_bad_self_signature(ctx):
    """Keys whose self-signature does not verify are not vouched for"""
    fake = ctx.fake_server("badsig")
    ex, j = get_query(ctx, fake.server_name)
    check(not notary_entry(j, fake.server_name, ex), "the notary signed keys of %s whose own signature is "
          "invalid" % fake.server_name, ex)


@case("notary.get.wrong_server_name", section=S, spec=SPEC + "; keys.yaml server_name")
def get_wrong_server_name(ctx):
    """A key response naming another server is not returned for the server asked about"""
    fake = ctx.fake_server("wrongname")
    ex, j = get_query(ctx, fake.server_name)
    check(j.get("server_keys") == [], "expected no keys for %s (its key server names someone else), got %r"
          % (fake.server_name, [e.get("server_name") for e in j.get("server_keys") or [] if isinstance(e, dict)]), ex)


@case("notary.get.old_verify_keys_kept", section=S, spec=SP_OLD)
def get_old_verify_keys_kept(ctx):
    """The notary passes old_verify_keys through unchanged (the origin's signature covers them)"""
    fake = ctx.fake_server("rotated")
    ex, j = get_query(ctx, fake.server_name)
    for e in check_fake_entry(ctx, j, fake, ex):
        old = e.get("old_verify_keys") or {}
        for kid, (key, ts) in fake.old_keys.items():
            check((old.get(kid) or {}).get("key") == public_b64(key) and old[kid].get("expired_ts") == ts,
                  "old_verify_keys.%s of %s is missing or altered" % (kid, fake.server_name), ex)


@case("notary.get.invalid_server_name", section=S, spec=SPEC + "; appendices §Server Name")
def get_invalid_server_name(ctx):
    """A server name that is not valid gives 400, or an empty server_keys array"""
    ex = ctx.get(Q + "/" + q("not a server name!"))
    if ex.status == 400:
        expect_error(ex, 400)
        return
    j = expect_json(ex)
    check(j.get("server_keys") == [], "keys returned for an invalid server name", ex)


@case("notary.get.legacy_key_id", section=S, spec=SPEC + ": GET /query/{serverName}/{keyId} (removed from the spec, still asked for)",
      requires=("key-query-legacy",))
def get_legacy_key_id(ctx):
    """The legacy /query/{serverName}/{keyId} returns the server's keys like /query/{serverName}"""
    ex = ctx.get(Q + "/%s/%s" % (q(ctx.fake.server_name), q(ctx.fake.key_id)))
    check_fake_entry(ctx, expect_json(ex), ctx.fake, ex)


@case("notary.post.remote", section=S, spec=SPEC)
def post_remote(ctx):
    """POST /query with no key IDs returns all the remote server's keys, signed by both"""
    ex, j = post_query(ctx, {"server_keys": {ctx.fake.server_name: {}}})
    check_fake_entry(ctx, j, ctx.fake, ex)


@case("notary.post.key_criteria", section=S, spec=SPEC)
def post_key_criteria(ctx):
    """POST /query with a key ID and minimum_valid_until_ts returns the keys"""
    body = {"server_keys": {ctx.fake.server_name: {ctx.fake.key_id: {"minimum_valid_until_ts": now_ms()}}}}
    ex, j = post_query(ctx, body)
    check_fake_entry(ctx, j, ctx.fake, ex)


@case("notary.post.unknown_key_id", section=S, spec=SPEC + ": the notary may return keys regardless of the key IDs given")
def post_unknown_key_id(ctx):
    """Asking for a key ID the server does not have still answers 200 (with its keys or none)"""
    ex, j = post_query(ctx, {"server_keys": {ctx.fake.server_name: {"ed25519:conformanceUnknown": {}}}})
    for e in notary_entry(j, ctx.fake.server_name, ex):
        check_server_keys(e, ctx.fake.server_name, ex)


@case("notary.post.empty", section=S, spec=SPEC + ": if no servers are given, the notary server must return an empty server_keys array")
def post_empty(ctx):
    """POST /query with no servers returns an empty server_keys array"""
    ex, j = post_query(ctx, {"server_keys": {}})
    check(j.get("server_keys") == [], "expected server_keys: [], got %r" % (j.get("server_keys"),), ex)


@case("notary.post.several", section=S, spec=SPEC)
def post_several(ctx):
    """POST /query for several servers returns each one's keys"""
    second = ctx.fake_server("second")
    ex, j = post_query(ctx, {"server_keys": {ctx.fake.server_name: {}, second.server_name: {},
                                             ctx.target.server_name: {}}})
    check_fake_entry(ctx, j, ctx.fake, ex)
    check_fake_entry(ctx, j, second, ex)
    check(notary_entry(j, ctx.target.server_name, ex), "no entry for the notary's own keys", ex)


@case("notary.post.unreachable_omitted", section=S, spec=SPEC + ": servers which are offline and have no cached keys will not be included")
def post_unreachable_omitted(ctx):
    """Unreachable servers are left out; the others are still answered"""
    ex, j = post_query(ctx, {"server_keys": {ctx.fake.server_name: {}, ctx.unreachable: {}}})
    check_fake_entry(ctx, j, ctx.fake, ex)
    check(not notary_entry(j, ctx.unreachable, ex), "an entry for the unreachable server", ex)


@case("notary.post.missing_server_keys", section=S, spec=SPEC + ": server_keys is required")
def post_missing(ctx):
    """POST /query without server_keys is refused with 400"""
    expect_error(ctx.request("POST", Q, {}), 400)


@case("notary.post.invalid_server_name", section=S, spec=SPEC + "; appendices §Server Name")
def post_invalid_server_name(ctx):
    """POST /query naming an invalid server gives 400, or no keys for it"""
    ex = ctx.request("POST", Q, {"server_keys": {"not a server name!": {}}})
    if ex.status == 400:
        expect_error(ex, 400)
        return
    j = expect_json(ex)
    check(j.get("server_keys") == [], "keys returned for an invalid server name", ex)


@case("notary.post.server_keys_not_object", section=S, spec=SPEC)
def post_not_object(ctx):
    """POST /query whose server_keys is not an object is refused with 400"""
    expect_error(ctx.request("POST", Q, {"server_keys": [ctx.fake.server_name]}), 400)


@case("notary.post.criteria_not_object", section=S, spec=SPEC)
def post_criteria_not_object(ctx):
    """POST /query whose per-server criteria are not an object is refused with 400"""
    expect_error(ctx.request("POST", Q, {"server_keys": {ctx.fake.server_name: ["ed25519:x"]}}), 400)


@case("notary.post.min_valid_not_integer", section=S, spec=SPEC + ": minimum_valid_until_ts is an integer")
def post_min_valid_not_integer(ctx):
    """POST /query with a non-integer minimum_valid_until_ts is refused with 400"""
    body = {"server_keys": {ctx.fake.server_name: {ctx.fake.key_id: {"minimum_valid_until_ts": "soon"}}}}
    expect_error(ctx.request("POST", Q, body), 400)
