#!/usr/bin/python3
"""`mxr canonical` against Python's canonicaljson.encode_canonical_json.

Generates random JSON values from a fixed seed (unicode across all planes,
controls, escapes, nesting, integers at the canonical range edges), writes
each with random formatting (escaped or raw non-ASCII, whitespace, key order)
and checks that mxr prints exactly the bytes Python's library produces.
Batches go through one mxr process as a JSON array (arrays canonicalise
element-wise, so this is a valid check of every element); a few hundred
values also go through one process each. Inputs the spec forbids (floats
with a fractional part, integers outside [-(2^53)+1, 2^53-1], duplicate keys,
invalid UTF-8, lone surrogates) must be refused with exit status 1, and
whole-number floats (1e10, 1.0, -0.0) print as integers as in the spec's
example -- canonicaljson itself still encodes floats, so those are checked
against the spec, not Python.

usage: canonical_vs_python.py PATH/TO/mxr [--seed N] [--count N]
"""
import json
import os
import random
import subprocess
import sys

import canonicaljson

INT_MAX = 2**53 - 1

# Code point pools; no surrogates (not representable in UTF-8).
POOLS = [
    (0x20, 0x7E),          # printable ASCII, including " \ /
    (0x00, 0x1F),          # C0 controls, NUL included
    (0x7F, 0x7F),          # DEL: raw in canonical JSON
    (0x80, 0x7FF),
    (0x800, 0xD7FF),
    (0xE000, 0xFFFF),      # includes U+2028-type specials and U+FFFF
    (0x10000, 0x10FFFF),   # astral
]
SPECIAL = ['"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x0b", "\x1f", "\u2028",
           "\u2029", "\ufeff", "\uffff", "\U00010000", "\U0010ffff", "\x00", "\x7f"]


def rand_char(rng):
    if rng.random() < 0.25:
        return rng.choice(SPECIAL)
    lo, hi = rng.choice(POOLS)
    return chr(rng.randint(lo, hi))


def rand_string(rng, key=False):
    n = rng.choice([0, 1, 1, 2, 3, 5, 8, 20]) if rng.random() < 0.9 else rng.randint(50, 300)
    s = "".join(rand_char(rng) for _ in range(n))
    if key:
        s = s.replace("\x00", "")   # jansson refuses NUL in keys (documented)
    return s


def rand_int(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice([0, 1, -1, INT_MAX, -INT_MAX, INT_MAX - 1, -INT_MAX + 1,
                           2**31, -2**31, 2**32, 2**53 - 2, 10**15, -10**15])
    if r < 0.6:
        return rng.randint(-1000, 1000)
    return rng.randint(-INT_MAX, INT_MAX)


def rand_value(rng, depth=0):
    r = rng.random()
    if depth > 6 or r < 0.45:
        return rng.choice([
            lambda: rand_int(rng),
            lambda: rand_string(rng),
            lambda: rand_string(rng),
            lambda: rng.choice([True, False, None]),
        ])()
    if r < 0.7:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    obj = {}
    for _ in range(rng.randint(0, 6)):
        obj[rand_string(rng, key=True)] = rand_value(rng, depth + 1)
    return obj


def rand_object(rng):
    v = rand_value(rng, 1)
    return v if rng.random() < 0.1 else {"v": v, rand_string(rng, key=True): rand_value(rng, 2)}


def shuffled(v, rng):
    """Same value, object members in random insertion order."""
    if isinstance(v, dict):
        items = list(v.items())
        rng.shuffle(items)
        return {k: shuffled(x, rng) for k, x in items}
    if isinstance(v, list):
        return [shuffled(x, rng) for x in v]
    return v


def render(v, rng):
    """Random but equivalent JSON text for v, as UTF-8 bytes."""
    v = shuffled(v, rng)
    indent = rng.choice([None, None, 0, 2, "\t"])
    seps = rng.choice([(",", ":"), (", ", ": "), (" ,", " : ")])
    text = json.dumps(v, ensure_ascii=rng.random() < 0.5, indent=indent, separators=seps)
    return (rng.choice(["", " ", "\n", "\r\n\t"]) + text + rng.choice(["", "\n", "  \n"])).encode()


def run_mxr(mxr, data):
    p = subprocess.run([mxr, "canonical"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check_one(mxr, v, data):
    want = canonicaljson.encode_canonical_json(v) + b"\n"
    rc, out, err = run_mxr(mxr, data)
    if rc != 0 or out != want:
        print("MISMATCH for input %r\n  rc=%d stderr=%r\n  mxr:    %r\n  python: %r"
              % (data[:500], rc, err[:300], out[:500], want[:500]))
        return False
    return True


# Numbers written with a fraction or exponent whose value is whole: the
# appendix's example turns {"a": -0, "b": 1e10} into {"a":0,"b":10000000000},
# so these print as integers (Python's encoder would print floats, which the
# spec forbids; checked against the spec, not Python).
WHOLE_FLOATS = [
    (b'{"a":-0,"b":1e10}', b'{"a":0,"b":10000000000}'),
    (b'{"a":1.0}', b'{"a":1}'),
    (b'{"a":-0.0}', b'{"a":0}'),
    (b'[1E2]', b'[100]'),
]

NEGATIVE = [
    (b'1.5', "float"),
    (b'{"a":{"b":[0.1]}}', "float"),
    (b'[1e-3]', "float"),
    (b'1e16', "whole float beyond 2^53"),
    (b'9007199254740992', "2^53"),
    (b'-9007199254740992', "-(2^53)"),
    (b'{"ts":18446744073709551616}', "2^64"),
    (b'{"a":1,"a":2}', "duplicate key"),
    (b'"\xc0\xaf"', "overlong UTF-8"),
    (b'"\xed\xa0\x80"', "UTF-8-encoded surrogate"),
    (b'"\xe6\x97"', "truncated UTF-8"),
    (b'"\\ud800"', "lone surrogate escape"),
    (b'"\\udc00"', "lone low surrogate escape"),
    (b'{} x', "trailing garbage"),
    (b'', "empty input"),
    (b'{"a":1', "unterminated"),
    (b'[' * 3000 + b']' * 3000, "nesting past the parser's limit"),
]


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    mxr = args[0]
    seed, count = 20250601, 2000
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    if "--count" in args:
        count = int(args[args.index("--count") + 1])
    rng = random.Random(seed)
    failures = 0

    # Batches: many values in one array, one process each batch.
    batch_size = 250
    values = [rand_object(rng) for _ in range(count)]
    for start in range(0, count, batch_size):
        batch = values[start:start + batch_size]
        data = render(batch, rng)
        want = canonicaljson.encode_canonical_json(batch) + b"\n"
        rc, out, err = run_mxr(mxr, data)
        if rc != 0 or out != want:
            failures += 1
            print("batch %d..%d differs (rc=%d, %r); looking for the element"
                  % (start, start + len(batch), rc, err[:200]))
            for v in batch:
                if not check_one(mxr, v, render(v, rng)):
                    break

    # Single values, one process each, freshly formatted. Sanitizer builds
    # start slowly, so they get fewer (the batches still cover every value).
    n_single = 50 if os.environ.get("MXR_SANITIZED") == "yes" else 300
    singles = 0
    for v in values[:n_single]:
        singles += 1
        if not check_one(mxr, v, render(v, rng)):
            failures += 1
            if failures > 10:
                break

    # Inputs canonical JSON forbids.
    for data, why in NEGATIVE:
        rc, out, err = run_mxr(mxr, data)
        if rc != 1 or out or not (b"M_BAD_JSON" in err or b"M_NOT_JSON" in err):
            failures += 1
            print("NOT REFUSED (%s): %r -> rc=%d out=%r err=%r" % (why, data[:80], rc, out[:80], err[:200]))

    for data, want in WHOLE_FLOATS:
        rc, out, err = run_mxr(mxr, data)
        if rc != 0 or out != want + b"\n":
            failures += 1
            print("WHOLE FLOAT: %r -> rc=%d out=%r err=%r, want %r" % (data, rc, out, err[:200], want))

    print("canonical_vs_python: seed %d, %d values in %d batches, %d single runs, %d refusals, "
          "%d failures" % (seed, count, (count + batch_size - 1) // batch_size, singles,
                           len(NEGATIVE), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
