#!/usr/bin/python3
"""Runs the published-case fixtures (*.json beside this file) through `mxr`.

usage: run.py PATH/TO/mxr FIXTURE_DIR [NAME-SUBSTRING]

Each fixture file is {"about": ..., "cases": [case, ...]}; a case has
  name, source (repository and path, or spec section, it comes from),
  cmd       mxr arguments; "{f}" is replaced by the path of files[f]
  files     optional {f: text} written to a temporary directory
  stdin     text fed to mxr (UTF-8)
  rc        expected exit status
  stdout    expected standard output, exact (mxr adds one newline)
  stdout_json      expected output as JSON: compared with its canonical
                   encoding (Python's canonicaljson), byte for byte
  stdout_not       the output must differ from this
  stdout_ref_hash  the output is an event: SHA-256 over the canonical JSON of
                   it without signatures and unsigned must be this (base64)
  stderr_has       text the standard error must contain
  pipe / pipe_rc   a second mxr command fed with the first one's output,
                   and its expected status (default 0)
  note / differs   why the expectation is what it is; `differs` records
                   where the source's own expectation is not followed.
Prints one line per failure and a closing "N passed, N failed" line.
"""
import base64
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import canonicaljson


def run(mxr, args, stdin):
    p = subprocess.run([mxr] + args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def ref_hash(out):
    ev = json.loads(out)
    ev.pop("signatures", None)
    ev.pop("unsigned", None)
    digest = hashlib.sha256(canonicaljson.encode_canonical_json(ev)).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def check(mxr, case, tmp):
    """Returns a list of problems (empty when the case passes)."""
    paths = {}
    for fname, text in case.get("files", {}).items():
        path = os.path.join(tmp, fname)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        paths[fname] = path

    def subst(args):
        out = []
        for a in args:
            for fname, path in paths.items():
                a = a.replace("{%s}" % fname, path)
            out.append(a)
        return out

    stdin = case.get("stdin", "").encode("utf-8")
    rc, out, err = run(mxr, subst(case["cmd"]), stdin)
    bad = []
    want_rc = case.get("rc", 0)
    if rc != want_rc:
        bad.append("exit %d, want %d (stderr %r)" % (rc, want_rc, err[:300]))
    if rc == 1 and not err.strip():
        bad.append("exit 1 without a reason on stderr")
    if "stdout" in case and out != case["stdout"].encode("utf-8") + b"\n":
        bad.append("stdout %r, want %r" % (out[:400], case["stdout"][:400]))
    if "stdout_json" in case:
        want = canonicaljson.encode_canonical_json(case["stdout_json"]) + b"\n"
        if out != want:
            bad.append("stdout %r, want %r" % (out[:400], want[:400]))
    if "stdout_not" in case and out.strip() == case["stdout_not"].encode("utf-8"):
        bad.append("stdout is %r, must differ" % out[:200])
    if "stdout_ref_hash" in case:
        try:
            got = ref_hash(out)
        except ValueError as e:
            got = "(unparsable output: %s)" % e
        if got != case["stdout_ref_hash"]:
            bad.append("reference hash %s, want %s" % (got, case["stdout_ref_hash"]))
    if "stderr_has" in case and case["stderr_has"].encode("utf-8") not in err:
        bad.append("stderr %r lacks %r" % (err[:300], case["stderr_has"]))
    if "pipe" in case and rc == 0:
        prc, pout, perr = run(mxr, subst(case["pipe"]), out)
        if prc != case.get("pipe_rc", 0):
            bad.append("piped %s: exit %d, want %d (stderr %r)"
                       % (case["pipe"][0], prc, case.get("pipe_rc", 0), perr[:300]))
    return bad


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    mxr, fixture_dir = sys.argv[1], sys.argv[2]
    only = sys.argv[3] if len(sys.argv) > 3 else None
    passed = failed = 0
    for path in sorted(glob.glob(os.path.join(fixture_dir, "*.json"))):
        with open(path, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        for case in cases:
            if only and only not in case["name"]:
                continue
            with tempfile.TemporaryDirectory(prefix="mxr-published-") as tmp:
                bad = check(mxr, case, tmp)
            if bad:
                failed += 1
                print("FAIL %s %s (%s)" % (os.path.basename(path), case["name"], case["source"]))
                for b in bad:
                    print("    " + b)
            else:
                passed += 1
    print("published: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
