"""X-Matrix request signatures (server-server-api §Request Authentication).

The signed object is {method, uri, origin, destination[, content]}; `uri` is
the request target exactly as sent, query string included.
"""
from .crypto import key_id_of, sign


def signed_object(method, uri, origin, destination, content=None):
    obj = {"method": method, "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        obj["content"] = content
    return obj


def request_signature(signing_key, origin, destination, method, uri, content=None):
    """The unpadded-base64 signature of the request by origin's signing_key."""
    obj = sign(signed_object(method, uri, origin, destination, content), origin, signing_key)
    return obj["signatures"][origin][key_id_of(signing_key)]


def header(origin, destination, key_id, sig):
    """The header as the spec asks senders to write it: one space, lower-case
    names, quoted values, no whitespace around commas."""
    parts = ['origin="%s"' % origin]
    if destination is not None:
        parts.append('destination="%s"' % destination)
    parts += ['key="%s"' % key_id, 'sig="%s"' % sig]
    return "X-Matrix " + ",".join(parts)


def authorization(signing_key, origin, destination, method, uri, content=None):
    sig = request_signature(signing_key, origin, destination, method, uri, content)
    return header(origin, destination, key_id_of(signing_key), sig)
