#!/usr/bin/python3
"""Prints the signed vectors of tests/client/keys_vectors.h (device keys,
one-time key, cross-signing keys and signatures) for fixed seeds."""
import json, nacl.signing
from signedjson.key import get_verify_key, encode_verify_key_base64
from signedjson.sign import sign_json
from canonicaljson import encode_canonical_json
def key(seed_byte, version):
    sk = nacl.signing.SigningKey(bytes([seed_byte])*32)
    sk.version = version; sk.alg = "ed25519"
    return sk
def pub(sk): return encode_verify_key_base64(get_verify_key(sk))
A="@alice:hs.test"; B="@bob:hs.test"
dev = key(1, "DEVA")
dk = {"user_id":A,"device_id":"DEVA","algorithms":["m.olm.v1.curve25519-aes-sha2","m.megolm.v1.aes-sha2"],
      "keys":{"curve25519:DEVA":"3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI","ed25519:DEVA":pub(dev)}}
dk_signed = sign_json(json.loads(json.dumps(dk)), A, dev)
forged = json.loads(json.dumps(dk_signed)); forged["algorithms"] = ["m.olm.v1.curve25519-aes-sha2"]
otk = sign_json({"key":"zKbLg+NrIjpnagy+pIY6uPL4ZwEG2v+8F9lmgsnlZzs"}, A, dev)
# cross-signing
mk_sk = key(2, "x"); ss_sk = key(3,"x"); us_sk = key(4,"x")
mpub, spub, upub = pub(mk_sk), pub(ss_sk), pub(us_sk)
mk_sk.version = mpub; ss_sk.version = spub; us_sk.version = upub
master = {"user_id":A,"usage":["master"],"keys":{"ed25519:"+mpub: mpub}}
ssk = sign_json({"user_id":A,"usage":["self_signing"],"keys":{"ed25519:"+spub: spub}}, A, mk_sk)
usk = sign_json({"user_id":A,"usage":["user_signing"],"keys":{"ed25519:"+upub: upub}}, A, mk_sk)
ssk_unsigned = {"user_id":A,"usage":["self_signing"],"keys":{"ed25519:"+spub: spub}}
# device signed by self-signing key
dk_xs = sign_json(json.loads(json.dumps(dk_signed)), A, ss_sk)
# master signed by device
master_dev = sign_json(json.loads(json.dumps(master)), A, dev)
# bob
bmk_sk = key(5,"x"); bpub = pub(bmk_sk)
bmaster = {"user_id":B,"usage":["master"],"keys":{"ed25519:"+bpub: bpub}}
bmaster_by_alice = sign_json(json.loads(json.dumps(bmaster)), A, us_sk)
bmaster_by_ssk = sign_json(json.loads(json.dumps(bmaster)), A, ss_sk)
us2_sk = key(6, "x"); u2pub = pub(us2_sk)
usk2 = sign_json({"user_id":A,"usage":["user_signing"],"keys":{"ed25519:"+u2pub: u2pub}}, A, mk_sk)
out = dict(USK2=usk2, DK=dk_signed, DK_FORGED=forged, OTK=otk, MASTER=master, SSK=ssk, USK=usk, SSK_UNSIGNED=ssk_unsigned,
           DK_XS=dk_xs, MASTER_DEV=master_dev, BMASTER=bmaster, BMASTER_BY_ALICE=bmaster_by_alice,
           BMASTER_BY_SSK=bmaster_by_ssk)
print("/* Generated with /usr/bin/python3 signedjson + PyNaCl (seeds 0x01.. 0x05 repeated). */")
for k,v in out.items():
    s = json.dumps(v, separators=(",",":"))
    print("static const char %s[] =\n    %s;" % (k, json.dumps(s)))
print('#define MPUB "%s"\n#define SPUB "%s"\n#define BPUB "%s"' % (mpub, spub, bpub))
print('#define DEV_ED25519 "%s"' % pub(dev))
