"""server-server-api §Publishing Keys (keys_server.yaml, definitions/keys.yaml)."""
from lib import case, check, expect_json
from lib.checks import KEY_ID, check_server_keys, q, server_keys
from lib.crypto import now_ms, unb64, verify

S = "Keys"
SPEC = "server-server-api §Publishing Keys (keys.yaml)"
HOUR = 3600 * 1000


@case("keys.server.shape", section=S, spec=SPEC)
def shape(ctx):
    """The response has server_name, verify_keys, signatures, valid_until_ts with their types"""
    ex, j = server_keys(ctx)
    check(isinstance(j.get("server_name"), str), "server_name missing or not a string", ex)
    check(isinstance(j.get("verify_keys"), dict), "verify_keys missing or not an object", ex)
    check(isinstance(j.get("signatures"), dict), "signatures missing or not an object", ex)
    check(isinstance(j.get("valid_until_ts"), int) and not isinstance(j.get("valid_until_ts"), bool),
          "valid_until_ts missing or not an integer", ex)
    if "old_verify_keys" in j:
        check(isinstance(j["old_verify_keys"], dict), "old_verify_keys is not an object", ex)


@case("keys.server.server_name", section=S, spec=SPEC)
def server_name(ctx):
    """server_name is the target's own server name"""
    ex, j = server_keys(ctx)
    check(j.get("server_name") == ctx.target.server_name, "server_name is %r, the server is %r"
          % (j.get("server_name"), ctx.target.server_name), ex)


@case("keys.server.self_signed", section=S, spec=SPEC)
def self_signed(ctx):
    """The response is signed by the server with its verify_keys, and every such signature verifies"""
    ex, j = server_keys(ctx)
    check_server_keys(j, ctx.target.server_name, ex)


@case("keys.server.key_ids", section=S, spec=SPEC)
def key_ids(ctx):
    """Key IDs are algorithm:version with the version in [a-zA-Z0-9_]"""
    ex, j = server_keys(ctx)
    ids = list((j.get("verify_keys") or {})) + list((j.get("old_verify_keys") or {}))
    for sigs in (j.get("signatures") or {}).values():
        ids += list(sigs if isinstance(sigs, dict) else {})
    bad = [k for k in ids if not KEY_ID.match(k)]
    check(not bad, "key IDs not of the form algorithm:[a-zA-Z0-9_]+: %s" % bad, ex)


@case("keys.server.verify_keys", section=S, spec=SPEC)
def verify_keys(ctx):
    """verify_keys holds at least one ed25519 key, each {key: unpadded base64 of 32 bytes}"""
    ex, j = server_keys(ctx)
    vk = j.get("verify_keys") or {}
    check(any(k.startswith("ed25519:") for k in vk), "no ed25519 key in verify_keys: %s" % list(vk), ex)
    for kid, v in vk.items():
        check(isinstance(v, dict) and isinstance(v.get("key"), str), "verify_keys.%s: 'key' missing" % kid, ex)
        check("=" not in v["key"], "verify_keys.%s: key is padded base64 (the spec uses unpadded)" % kid, ex)
        if kid.startswith("ed25519:"):
            try:
                raw = unb64(v["key"])
            except ValueError as e:
                raise AssertionError("verify_keys.%s: key is not base64: %s" % (kid, e))
            check(len(raw) == 32, "verify_keys.%s: an ed25519 key is 32 bytes, got %d" % (kid, len(raw)), ex)


@case("keys.server.signature_encoding", section=S, spec="appendices §Signing JSON, §Unpadded Base64")
def signature_encoding(ctx):
    """Signatures are unpadded base64 of 64-byte ed25519 signatures"""
    ex, j = server_keys(ctx)
    for name, sigs in (j.get("signatures") or {}).items():
        check(isinstance(sigs, dict), "signatures.%s is not an object" % name, ex)
        for kid, sig in sigs.items():
            check(isinstance(sig, str) and "=" not in sig, "signatures.%s.%s is not unpadded base64" % (name, kid), ex)
            if kid.startswith("ed25519:"):
                check(len(unb64(sig)) == 64, "signatures.%s.%s does not decode to 64 bytes" % (name, kid), ex)


@case("keys.server.valid_until_future", section=S, spec=SPEC + ": origins should not serve keys expiring within an hour")
def valid_until_future(ctx):
    """valid_until_ts is at least an hour in the future"""
    ex, j = server_keys(ctx)
    v = j.get("valid_until_ts")
    check(isinstance(v, int), "valid_until_ts is not an integer", ex)
    check(v > now_ms() + HOUR - 60000, "valid_until_ts %s is less than an hour away (now %d)" % (v, now_ms()), ex)


@case("keys.server.valid_until_ms", section=S, spec=SPEC + ": valid_until_ts is a POSIX timestamp in milliseconds")
def valid_until_ms(ctx):
    """valid_until_ts is in milliseconds (not seconds or microseconds) and within ten years"""
    ex, j = server_keys(ctx)
    v = j.get("valid_until_ts")
    check(isinstance(v, int), "valid_until_ts is not an integer", ex)
    check(v > 10 ** 12, "valid_until_ts %s looks like seconds, not milliseconds" % v, ex)
    check(v < now_ms() + 10 * 365 * 24 * HOUR, "valid_until_ts %s is more than ten years away" % v, ex)


@case("keys.server.old_verify_keys", section=S, spec=SPEC)
def old_verify_keys(ctx):
    """old_verify_keys (if any) map key IDs to {key, expired_ts in the past}, disjoint from verify_keys"""
    ex, j = server_keys(ctx)
    old = j.get("old_verify_keys", {})
    check(isinstance(old, dict), "old_verify_keys is not an object", ex)
    for kid, v in old.items():
        check(isinstance(v, dict), "old_verify_keys.%s is not an object" % kid, ex)
        check(isinstance(v.get("key"), str), "old_verify_keys.%s: 'key' missing or not a string" % kid, ex)
        check(isinstance(v.get("expired_ts"), int), "old_verify_keys.%s: 'expired_ts' missing or not an integer"
              % kid, ex)
        check(v["expired_ts"] <= now_ms() + 60000, "old_verify_keys.%s expired_ts %s is in the future"
              % (kid, v["expired_ts"]), ex)
        check(kid not in (j.get("verify_keys") or {}), "%s is both current and old" % kid, ex)
        if kid.startswith("ed25519:"):
            check(len(unb64(v["key"])) == 32, "old_verify_keys.%s: not a 32-byte key" % kid, ex)


@case("keys.server.stable", section=S, spec=SPEC)
def stable(ctx):
    """Two fetches in a row publish the same verify_keys"""
    ex1, a = server_keys(ctx)
    ex2, b = server_keys(ctx)
    check(a.get("verify_keys") == b.get("verify_keys"), "verify_keys changed between two requests", ex2)


@case("keys.server.canonical_signing", section=S, spec="appendices §Signing JSON")
def canonical_signing(ctx):
    """The signature covers the object without signatures and unsigned (adding unsigned keeps it valid)"""
    ex, j = server_keys(ctx)
    vk = j.get("verify_keys") or {}
    sigs = (j.get("signatures") or {}).get(ctx.target.server_name) or {}
    kid = next((k for k in sigs if k in vk), None)
    check(kid, "no self-signature", ex)
    j2 = dict(j, unsigned={"conformance": True})
    check(verify(j2, ctx.target.server_name, kid, vk[kid]["key"]),
          "the signature does not verify once an unsigned field is added", ex)


@case("keys.server.legacy_key_id", section=S, spec="server-server-api §Publishing Keys: GET /_matrix/key/v2/server/{keyId} (removed in matrix-spec#1350, still asked for)",
      requires=("key-server-legacy",))
def legacy_key_id(ctx):
    """The legacy /_matrix/key/v2/server/{keyId} gives the same self-signed keys"""
    ex, j = server_keys(ctx)
    kid = next(iter(j.get("verify_keys") or {}), None)
    check(kid, "no verify key", ex)
    ex = ctx.get("/_matrix/key/v2/server/" + q(kid))
    j2 = expect_json(ex)
    check_server_keys(j2, ctx.target.server_name, ex)
    check(kid in (j2.get("verify_keys") or {}), "the key asked for (%s) is not in the response" % kid, ex)
