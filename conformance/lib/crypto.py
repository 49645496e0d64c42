"""Base64, canonical JSON and JSON signing helpers.

Spec: appendices §Unpadded Base64, §Canonical JSON, §Signing JSON. The work is
done by canonicaljson and signedjson (Debian's python3 packages); this module
only gives them short names and the two base64 alphabets the spec uses.
"""
import base64
import copy
import hashlib
import time

from canonicaljson import encode_canonical_json
from signedjson.key import (decode_verify_key_bytes, encode_verify_key_base64, generate_signing_key,
                            get_verify_key)
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json

__all__ = ["b64", "b64url", "unb64", "canonical", "sha256_b64", "now_ms", "sign", "verify",
           "verify_key_from_b64", "new_signing_key", "key_id_of", "public_b64", "SignatureVerifyException"]


def b64(data):
    """Unpadded standard base64 (keys, signatures, hashes, v3 event IDs)."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64url(data):
    """Unpadded URL-safe base64 (v4+ event IDs, v12 room IDs)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text):
    """Decodes unpadded (or padded) base64 of either alphabet; raises ValueError."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    t = text.rstrip("=")
    if len(t) % 4 == 1:
        raise ValueError("impossible base64 length %d" % len(t))
    alt = b"-_" if ("-" in t or "_" in t) else None
    try:
        return base64.b64decode(t + "=" * (-len(t) % 4), altchars=alt, validate=True)
    except Exception as e:  # binascii.Error
        raise ValueError("invalid base64: %s" % e)


def canonical(obj):
    """Canonical JSON bytes (appendices §Canonical JSON)."""
    return encode_canonical_json(obj)


def sha256_b64(data):
    return b64(hashlib.sha256(data).digest())


def now_ms():
    return int(time.time() * 1000)


def new_signing_key(version):
    """A fresh ed25519 signing key with key version `version` ([a-zA-Z0-9_])."""
    return generate_signing_key(version)


def key_id_of(signing_key):
    return "%s:%s" % (signing_key.alg, signing_key.version)


def public_b64(signing_key):
    return encode_verify_key_base64(get_verify_key(signing_key))


def sign(obj, server_name, signing_key):
    """Signs obj in place (signatures merged) and returns it."""
    return sign_json(obj, server_name, signing_key)


def verify_key_from_b64(key_id, key_b64):
    return decode_verify_key_bytes(key_id, unb64(key_b64))


def verify(obj, server_name, key_id, key_b64):
    """True if obj carries a valid signature of server_name with key_id/key_b64."""
    try:
        vk = verify_key_from_b64(key_id, key_b64)
        verify_signed_json(copy.deepcopy(obj), server_name, vk)
        return True
    except (SignatureVerifyException, ValueError, KeyError, TypeError):
        return False
