#!/usr/bin/python3
"""`mxr` keys, signatures and event hashes against Python's signedjson,
canonicaljson and hashlib.

1. Key files: a key written by `mxr keygen --out` is read by
   signedjson.key.read_signing_keys and vice versa; public keys agree.
2. JSON signing, over generated objects: `mxr sign` output is verified with
   signedjson.sign.verify_signed_json and equals signedjson's own signature
   byte for byte (ed25519 is deterministic); objects signed by signedjson
   pass `mxr verify`, and fail it once tampered with or checked against the
   wrong key ID or server.
3. Events of room versions 1, 3, 4, 6, 8, 9, 11 and 12, generated: content
   hash and event ID computed here with hashlib + canonicaljson + unpadded
   base64 (standard for v3, URL-safe for v4+) equal `mxr content-hash` and
   `mxr event-id`; `mxr redact` equals the spec's redaction lists as written
   out below (rooms/fragments/*-redactions.md, v8.md, v11-redactions.md);
   `mxr sign --room-version` equals the spec's hash_and_sign_event (server-
   server API "Signing Events") run with signedjson, and `mxr check-pdu`
   accepts events signed here and names the hash check once their content
   is changed.

usage: signedjson_interop.py PATH/TO/mxr [--seed N] [--count N]   (count default: $MXR_SIGNEDJSON_COUNT or 200)
"""
import argparse
import copy
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile

from canonicaljson import encode_canonical_json
from signedjson.key import (decode_verify_key_bytes, encode_verify_key_base64, generate_signing_key,
                            get_verify_key, read_signing_keys, write_signing_keys)
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json
from unpaddedbase64 import decode_base64, encode_base64

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    if len(FAILURES) <= 20:
        print("FAIL: " + msg, file=sys.stderr)


def run(mxr, args, data=b""):
    p = subprocess.run([mxr] + args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ---- generated JSON -----------------------------------------------------------

CHARS = "abcXYZ019 _-.:/+=\"\\\n\t\x01\x7fé日本\u2028\U0001f600"


def rand_str(rng, n=None):
    n = rng.randint(0, 12) if n is None else n
    return "".join(rng.choice(CHARS) for _ in range(n))


def rand_value(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.3:
        return rng.choice([rand_str(rng), rng.randint(-2**53 + 1, 2**53 - 1), rng.randint(-5, 5),
                           True, False, None])
    if r < 0.6:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rand_str(rng, rng.randint(1, 6)): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def rand_object(rng):
    o = {rand_str(rng, rng.randint(1, 8)): rand_value(rng) for _ in range(rng.randint(0, 6))}
    if rng.random() < 0.3:
        o["unsigned"] = {"age_ts": rng.randint(0, 10**12), "x": rand_value(rng)}
    if rng.random() < 0.3:
        o["signatures"] = {"elsewhere.example": {"ed25519:z": encode_base64(os.urandom(64))}}
    return o


# ---- the spec's redaction lists ---------------------------------------------------

TOP_OLD = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
           "prev_events", "prev_state", "auth_events", "origin", "origin_server_ts", "membership"}
TOP_V11 = TOP_OLD - {"origin", "membership", "prev_state"}
PL = ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"]
RULESET = {1: "v1", 2: "v1", 3: "v1", 4: "v1", 5: "v1", 6: "v6", 7: "v6", 8: "v8", 9: "v9", 10: "v9",
           11: "v11", 12: "v11"}


def content_keys(ruleset):
    keys = {"m.room.member": ["membership"], "m.room.create": ["creator"], "m.room.join_rules": ["join_rule"],
            "m.room.power_levels": PL, "m.room.history_visibility": ["history_visibility"]}
    if ruleset == "v1":
        keys["m.room.aliases"] = ["aliases"]
    if ruleset in ("v8", "v9", "v11"):
        keys["m.room.join_rules"] = ["join_rule", "allow"]
    if ruleset in ("v9", "v11"):
        keys["m.room.member"] = ["membership", "join_authorised_via_users_server"]
    if ruleset == "v11":
        keys["m.room.create"] = None            # all keys
        keys["m.room.power_levels"] = PL + ["invite"]
        keys["m.room.redaction"] = ["redacts"]
    return keys


def redact(ev, version):
    ruleset = RULESET[version]
    top = TOP_V11 if ruleset == "v11" else TOP_OLD
    out = {k: copy.deepcopy(v) for k, v in ev.items() if k in top and k != "content"}
    if "content" in ev:
        content, etype = ev["content"], ev.get("type")
        table = content_keys(ruleset)
        new = {}
        if isinstance(content, dict) and isinstance(etype, str) and etype in table:
            keep = table[etype]
            new = copy.deepcopy(content) if keep is None else {k: copy.deepcopy(content[k]) for k in keep if k in content}
            tpi = content.get("third_party_invite")
            if ruleset == "v11" and etype == "m.room.member" and isinstance(tpi, dict):
                new["third_party_invite"] = {"signed": copy.deepcopy(tpi["signed"])} if "signed" in tpi else {}
        out["content"] = new
    return out


def content_hash(ev):
    ev = {k: v for k, v in ev.items() if k not in ("unsigned", "signatures", "hashes")}
    return encode_base64(hashlib.sha256(encode_canonical_json(ev)).digest())


def event_id(ev, version):
    if version <= 2:
        return ev["event_id"]
    r = redact(ev, version)
    for k in ("signatures", "unsigned", "event_id"):
        r.pop(k, None)
    return "$" + encode_base64(hashlib.sha256(encode_canonical_json(r)).digest(), urlsafe=version >= 4)


def hash_and_sign_event(ev, version, key, server):
    """server-server API "Signing Events", example code."""
    ev = copy.deepcopy(ev)
    ev["hashes"] = {"sha256": content_hash(ev)}
    stripped = redact(ev, version)
    signed = sign_json(stripped, server, key)
    ev["signatures"] = signed["signatures"]
    return ev


# ---- generated events ---------------------------------------------------------------

TYPES = ["m.room.message", "m.room.member", "m.room.create", "m.room.join_rules", "m.room.power_levels",
         "m.room.history_visibility", "m.room.aliases", "m.room.redaction", "m.room.name", "org.example.custom"]
CONTENT_KEYS = ["membership", "join_authorised_via_users_server", "third_party_invite", "creator", "room_version",
                "join_rule", "allow", "ban", "events", "events_default", "invite", "kick", "redact", "state_default",
                "users", "users_default", "notifications", "history_visibility", "aliases", "redacts", "body",
                "displayname", "name"]
ROOM_V12 = "!P5-6WTYQ_woy6f4nmleE0XqxjtZcyKGza5_gDN-KAdM"


def rand_ref(rng, version):
    h = os.urandom(32)
    if version <= 2:
        return ["$%s:domain" % rand_str(rng, 0) + "%d" % rng.randint(0, 10**6), {"sha256": encode_base64(h)}]
    return "$" + encode_base64(h, urlsafe=version >= 4)


def rand_event(rng, version):
    etype = rng.choice(TYPES)
    content = {}
    for k in rng.sample(CONTENT_KEYS, rng.randint(0, 8)):
        content[k] = rand_value(rng)
    if etype == "m.room.member" and rng.random() < 0.5:
        tpi = {"display_name": rand_str(rng)}
        if rng.random() < 0.7:
            tpi["signed"] = {"mxid": "@b:x", "token": rand_str(rng), "signatures": {}}
        content["third_party_invite"] = tpi
    ev = {
        "type": etype, "sender": "@u%d:domain" % rng.randint(0, 99), "content": content,
        "depth": rng.randint(0, 2**53 - 1), "origin_server_ts": rng.randint(0, 2**53 - 1),
        "prev_events": [rand_ref(rng, version) for _ in range(rng.randint(0, 3))],
        "auth_events": [rand_ref(rng, version) for _ in range(rng.randint(0, 4))],
        "hashes": {"sha256": encode_base64(os.urandom(32))}, "signatures": {},
    }
    if rng.random() < 0.6:
        ev["state_key"] = rng.choice(["", "@u1:domain", rand_str(rng)])
    if not (version >= 12 and etype == "m.room.create"):
        ev["room_id"] = ROOM_V12 if version >= 12 else "!room%d:domain" % rng.randint(0, 9)
    if version <= 2:
        ev["event_id"] = "$ev%d:domain" % rng.randint(0, 10**9)
    for extra in ("origin", "membership", "prev_state", "unsigned", "redacts", "event_id", "zz_extra"):
        if rng.random() < 0.25 and extra not in ev:
            ev[extra] = {"unsigned": {"age": rng.randint(0, 1000)}, "origin": "domain",
                         "prev_state": []}.get(extra, rand_str(rng))
    return ev


# ---- checks ------------------------------------------------------------------------

def check_key_files(mxr, tmp):
    path = os.path.join(tmp, "mxr.key")
    rc, out, err = run(mxr, ["keygen", "--version", "a_test", "--out", path])
    if rc != 0:
        fail("keygen --out: " + err)
        return None
    keys = read_signing_keys(open(path))
    if len(keys) != 1 or keys[0].version != "a_test":
        fail("signedjson cannot read mxr's key file")
        return None
    want = "ed25519:a_test " + encode_verify_key_base64(get_verify_key(keys[0]))
    if out.strip() != want:
        fail("keygen prints %r, signedjson derives %r" % (out.strip(), want))
    if (os.stat(path).st_mode & 0o777) != 0o600:
        fail("key file mode is %o" % (os.stat(path).st_mode & 0o777))

    pykey = generate_signing_key("py_1")
    pypath = os.path.join(tmp, "py.key")
    with open(pypath, "w") as f:
        write_signing_keys(f, [pykey])
    rc, out, err = run(mxr, ["pubkey", "--key", pypath])
    want = "ed25519:py_1 " + encode_verify_key_base64(get_verify_key(pykey))
    if rc != 0 or out != want + "\n":
        fail("mxr pubkey of a signedjson key: %r %r, want %r" % (out, err, want))
    return path, keys[0], pykey


def check_signing(mxr, rng, count, mxr_key_path, mxr_key, pykey):
    vk = get_verify_key(mxr_key)
    py_pub = encode_verify_key_base64(get_verify_key(pykey))
    for i in range(count):
        obj = rand_object(rng)
        server = rng.choice(["domain", "matrix.example:8448", "[::1]"])
        data = encode_canonical_json(obj) if rng.random() < 0.5 else json.dumps(obj).encode()
        # mxr signs, signedjson verifies and agrees on the bytes.
        rc, out, err = run(mxr, ["sign", "--server", server, "--key", mxr_key_path], data)
        if rc != 0:
            fail("sign #%d: %s" % (i, err))
            continue
        signed = json.loads(out)
        try:
            verify_signed_json(signed, server, vk)
        except SignatureVerifyException as e:
            fail("sign #%d: signedjson rejects mxr's signature: %s" % (i, e))
        expect = sign_json(copy.deepcopy(obj), server, mxr_key)
        if encode_canonical_json(expect).decode() + "\n" != out:
            fail("sign #%d: mxr %s != signedjson %s" % (i, out.strip(), encode_canonical_json(expect).decode()))
        # signedjson signs, mxr verifies.
        pysigned = sign_json(copy.deepcopy(obj), server, pykey)
        data = encode_canonical_json(pysigned)
        rc, out, err = run(mxr, ["verify", "--server", server, "--key-id", "ed25519:py_1", "--public-key", py_pub], data)
        if rc != 0:
            fail("verify #%d: mxr rejects signedjson's signature: %s" % (i, err))
        if i % 4 == 0:
            # Negative verdicts: tampered, wrong key ID, wrong server, wrong key.
            bad = copy.deepcopy(pysigned)
            bad["tampered"] = 1
            cases = [
                (encode_canonical_json(bad), server, "ed25519:py_1", py_pub),
                (data, server, "ed25519:other", py_pub),
                (data, "not-" + server, "ed25519:py_1", py_pub),
                (data, server, "ed25519:py_1", encode_verify_key_base64(vk)),
            ]
            for j, (d, s, kid, pub) in enumerate(cases):
                rc, out, err = run(mxr, ["verify", "--server", s, "--key-id", kid, "--public-key", pub], d)
                if rc != 1 or err.count("\n") != 1:
                    fail("verify #%d negative case %d: exit %d, stderr %r" % (i, j, rc, err))


def check_events(mxr, rng, count, pykey):
    py_pub = encode_verify_key_base64(get_verify_key(pykey))
    for i in range(count):
        version = rng.choice([1, 3, 4, 6, 8, 9, 11, 12])
        ev = rand_event(rng, version)
        data = encode_canonical_json(ev)
        v = str(version)
        rc, out, err = run(mxr, ["content-hash"], data)
        if rc != 0 or out != content_hash(ev) + "\n":
            fail("content-hash #%d v%s: %r %r, want %s" % (i, v, out, err, content_hash(ev)))
        rc, out, err = run(mxr, ["event-id", "--room-version", v], data)
        if rc != 0 or out != event_id(ev, version) + "\n":
            fail("event-id #%d v%s: %r %r, want %s" % (i, v, out, err, event_id(ev, version)))
        rc, out, err = run(mxr, ["redact", "--room-version", v], data)
        want = encode_canonical_json(redact(ev, version)).decode()
        if rc != 0 or out != want + "\n":
            fail("redact #%d v%s: %r %r, want %s" % (i, v, out, err, want))

        # Signing an event: mxr vs the spec's example code with signedjson.
        expect = hash_and_sign_event(ev, version, pykey, "domain")
        path = os.path.join(TMP, "py.key")
        rc, out, err = run(mxr, ["sign", "--room-version", v, "--server", "domain", "--key", path], data)
        if rc != 0 or out != encode_canonical_json(expect).decode() + "\n":
            fail("sign event #%d v%s: %r %r" % (i, v, out[:200], err))

        # check-pdu on the Python-signed event (the generator keeps to the
        # PDU format apart from the extras it adds, which the format allows).
        check = ["check-pdu", "--room-version", v, "--server", "domain", "--key-id", "ed25519:py_1",
                 "--public-key", py_pub]
        if ev["sender"].endswith(":domain") and (version > 2 or ev["event_id"].endswith(":domain")):
            pdu = expect
            if not isinstance(pdu.get("unsigned", {}), dict) or not isinstance(pdu.get("redacts", ""), str):
                continue
            rc, out, err = run(mxr, check, encode_canonical_json(pdu))
            if rc != 0:
                fail("check-pdu #%d v%s refuses a signed event: %s" % (i, v, err.strip()))
            # Changing the body: signatures still hold (it is redacted away
            # for most types), the hash does not.
            bad = copy.deepcopy(pdu)
            bad["zz_tamper"] = "x"
            rc, out, err = run(mxr, check, encode_canonical_json(bad))
            if rc != 1 or "hash check failed" not in err:
                fail("check-pdu #%d v%s on a changed event: exit %d, %r" % (i, v, rc, err))


TMP = None


def main():
    global TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("mxr")
    ap.add_argument("--seed", type=int, default=20260714)
    ap.add_argument("--count", type=int, default=int(os.environ.get("MXR_SIGNEDJSON_COUNT", "200")))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix="mxr-signedjson-") as tmp:
        TMP = tmp
        keys = check_key_files(a.mxr, tmp)
        if keys:
            path, mxr_key, pykey = keys
            check_signing(a.mxr, rng, a.count, path, mxr_key, pykey)
            check_events(a.mxr, rng, a.count, pykey)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES), file=sys.stderr)
        return 1
    print("ok: %d objects signed/verified both ways, %d events hashed/identified/redacted/signed/checked"
          % (a.count, a.count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
