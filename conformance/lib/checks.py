"""Checks shared by several case modules."""
import re
import urllib.parse

from . import events as ev
from .core import Fail, check, expect_json
from .crypto import canonical, now_ms, unb64, verify

FED = "/_matrix/federation"
KEY_ID = re.compile(r"^[A-Za-z0-9_]+:[a-zA-Z0-9_]+$")     # algorithm:version (keys.yaml)


def q(ident):
    """A path segment: the identifier percent-encoded entirely."""
    return urllib.parse.quote(ident, safe="")


def server_keys(ctx, target=None):
    """GET /_matrix/key/v2/server of a target: (exchange, JSON object)."""
    ex = ctx.get("/_matrix/key/v2/server", target=target)
    return ex, expect_json(ex, 200)


def check_server_keys(obj, server_name, ex, where="key response"):
    """A Server Keys object (keys.yaml) of server_name, validly self-signed."""
    check(isinstance(obj, dict), "%s: not an object" % where, ex)
    check(obj.get("server_name") == server_name, "%s: server_name is %r, expected %r"
          % (where, obj.get("server_name"), server_name), ex)
    vk = obj.get("verify_keys")
    check(isinstance(vk, dict) and vk, "%s: verify_keys missing or empty" % where, ex)
    check(isinstance(obj.get("valid_until_ts"), int), "%s: valid_until_ts missing or not an integer" % where, ex)
    sigs = (obj.get("signatures") or {}).get(server_name)
    check(isinstance(sigs, dict), "%s: no signatures by %s" % (where, server_name), ex)
    own = [k for k in sigs if k in vk]
    check(own, "%s: not signed by any of its verify_keys (%s); signatures: %s"
          % (where, ", ".join(vk), ", ".join(sigs)), ex)
    for kid in own:
        key = (vk.get(kid) or {}).get("key")
        check(verify(obj, server_name, kid, key), "%s: the self-signature with %s does not verify" % (where, kid), ex)
    return vk


def notary_entry(j, server_name, ex):
    """The entries of a notary response (keys_query_response.yaml) for server_name."""
    sk = j.get("server_keys")
    check(isinstance(sk, list), "server_keys must be an array", ex)
    return [e for e in sk if isinstance(e, dict) and e.get("server_name") == server_name]


def check_notary_signed(ctx, entry, notary, ex):
    """entry carries a valid signature of the notary, with a key it publishes."""
    _, own = server_keys(ctx, notary)
    sigs = (entry.get("signatures") or {}).get(notary.server_name)
    check(isinstance(sigs, dict) and sigs, "the notary %s did not sign the keys of %s (signatures: %s)"
          % (notary.server_name, entry.get("server_name"), sorted((entry.get("signatures") or {}))), ex)
    vk = own.get("verify_keys") or {}
    usable = [k for k in sigs if k in vk]
    check(usable, "the notary signed with %s, none of which it publishes in verify_keys" % sorted(sigs), ex)
    for kid in usable:
        check(verify(entry, notary.server_name, kid, vk[kid].get("key")),
              "the notary's signature with %s does not verify" % kid, ex)


def pdu_result(j, event_id):
    pdus = j.get("pdus")
    return pdus.get(event_id) if isinstance(pdus, dict) else None


def check_not_accepted(ctx, room, pdu, ex, why):
    """A PDU the target must not accept: its per-PDU result carries an error,
    or (some servers report {} for dropped events) the event is not served."""
    eid = room.model.event_id(pdu)
    j = expect_json(ex, 200)
    check(isinstance(j.get("pdus"), dict), "PUT /send: the response has no 'pdus' object", ex)
    res = pdu_result(j, eid)
    if isinstance(res, dict) and "error" in res:
        return
    if ctx.capability("event").offered:
        got = ctx.signed("GET", FED + "/v1/event/" + q(eid), target=room.target)
        if got.status != 200:
            return
        raise Fail("a PDU that %s was accepted: /send reported %r and GET /event serves it" % (why, res), got)
    raise Fail("a PDU that %s was reported as handled without error: %r" % (why, res), ex)


def oversize_content(limit=65536):
    """m.room.message content whose event is larger than the PDU size limit."""
    return {"msgtype": "m.text", "body": "x" * (limit + 1024)}


def pdu_size(pdu):
    return len(canonical(pdu))


def tamper_sig(pdu, server_name):
    """The PDU with server_name's signatures replaced by wrong ones."""
    for kid, sig in list((pdu.get("signatures") or {}).get(server_name, {}).items()):
        raw = bytearray(unb64(sig))
        raw[0] ^= 0xFF
        from .crypto import b64
        pdu["signatures"][server_name][kid] = b64(bytes(raw))
    return pdu


def event_id_format_ok(event_id, ver):
    if ver.event_format == "v1":
        return isinstance(event_id, str) and event_id.startswith("$") and ":" in event_id
    if ver.event_format == "v3":
        return re.fullmatch(r"\$[A-Za-z0-9+/]{43}", event_id or "") is not None
    return re.fullmatch(r"\$[A-Za-z0-9_-]{43}", event_id or "") is not None


def signed_by_target(ctx, pdu, target, ver):
    _, keys = server_keys(ctx, target)
    for kid, v in (keys.get("verify_keys") or {}).items():
        if ev.event_signed_by(pdu, target.server_name, kid, v.get("key"), ver):
            return True
    return False


__all__ = ["FED", "KEY_ID", "q", "server_keys", "check_server_keys", "notary_entry", "check_notary_signed",
           "pdu_result", "check_not_accepted", "oversize_content", "pdu_size", "tamper_sig", "event_id_format_ok",
           "signed_by_target", "now_ms"]
