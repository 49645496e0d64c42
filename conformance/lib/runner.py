"""conformance/run: start (or point at) the servers, run the cases, report."""
import argparse
import datetime
import fnmatch
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from . import report, selftest, tls
from .context import Context, Run, Target
from .core import CASES, NOT_IMPLEMENTED, Fail, Skip
from .fakeserver import FakeServer
from .http import HttpClient

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # conformance/
FAKE_LABELS = ("fake", "second", "flaky", "badsig", "wrongname", "rotated")

USAGE = """\
Default mode: starts --servers N mxrelay daemons with conformance/spawn, plus the
suite's fake remote homeservers, runs the cases against the first daemon, stops
everything.

Target mode: --target URL --server-name NAME [--ca FILE] runs the cases against any
running homeserver. The suite's fake homeservers then listen on 127.0.0.1 and the
target must reach and trust them:
  * their server names are the IP literals 127.0.0.1:PORT (printed at start), which
    need no name mapping; or, with --fake-domain D, LABEL.D (map each to its
    127.0.0.1:PORT, e.g. mxrelay's federation_static_map or /etc/hosts + --fake-port);
  * their certificates are issued by a throwaway CA written to WORK/fake-ca/ca.crt
    (or by --fake-ca-cert/--fake-ca-key): the target must trust it (mxrelay:
    federation_ca_file) and allow private addresses (federation_allow_private_addresses).
A target that cannot fetch the fake servers' keys (probed once per fake) cannot check
the requests they sign: the cases that need it are skipped, saying what was seen.
"""


def load_cases(cases_dir):
    for name in sorted(os.listdir(cases_dir)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        path = os.path.join(cases_dir, name)
        spec = importlib.util.spec_from_file_location("cases_" + name[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return list(CASES)


def select(cases, patterns):
    if not patterns:
        return cases
    out = []
    for c in cases:
        for p in patterns:
            glob = any(ch in p for ch in "*?[")
            if (fnmatch.fnmatchcase(c.id, p) if glob else (p in c.id or p == c.section)):
                out.append(c)
                break
    return out


class Progress:
    def __init__(self, total, stream=sys.stdout):
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.width = 0

    def start(self, i, c, counts=None):
        if self.tty:
            tally = " ".join("%d %s" % (v, k) for k, v in (counts or {}).items() if v)
            line = "[%*d/%d] %s%s" % (len(str(self.total)), i, self.total, (tally + " | ") if tally else "", c.id)
            self.stream.write("\r" + line[:110].ljust(self.width))
            self.width = min(max(self.width, len(line)), 110)
            self.stream.flush()

    def done(self, i, c, r):
        if self.tty:
            if r["result"] in ("fail", "error", "schema"):
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.write("%-6s %s: %s\n" % (r["result"].upper(), c.id, (r["reason"] or "")[:200]))
        else:
            self.stream.write("[%*d/%d] %-6s %s (%d ms)%s\n" % (
                len(str(self.total)), i, self.total, r["result"].upper(), c.id, r["duration_ms"],
                (": " + r["reason"][:200]) if r["reason"] and r["result"] != "pass" else ""))
        self.stream.flush()

    def finish(self):
        if self.tty:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def run_case(run, c):
    ctx = Context(run, c)
    t0 = time.monotonic()
    result, reason, blame = "pass", "", None
    try:
        for name in c.requires:
            o = run.capability(ctx.target, name)
            if not o.offered:
                raise Skip(o.reason, o.kind)
        c.fn(ctx)
    except Skip as s:
        if run.strict and s.kind == NOT_IMPLEMENTED:
            result, reason = "fail", "strict: " + s.reason
        else:
            result, reason = "skip", s.reason
    except Fail as f:
        result, reason, blame = "fail", f.message, f.exchange
    except AssertionError as f:
        result, reason = "fail", str(f) or "assertion failed"
    except Exception:
        result, reason = "error", traceback.format_exc(limit=6).strip()
    ctx.result = result
    errs = ctx.run_cleanups()
    if errs and result == "pass":
        result, reason = "error", "cleanup failed: " + errs[0]
    if result == "pass" and ctx.schema_errors:
        result = "schema"
        reason = "response does not match the spec's schema: " + ctx.schema_errors[0]
        blame = ctx.schema_exchange
    if blame is None and ctx.exchanges:
        blame = ctx.exchanges[-1]
    req, resp = blame.to_report() if blame is not None else (None, None)
    return {"id": c.id, "section": c.section, "spec": c.spec, "title": c.title, "result": result, "reason": reason,
            "duration_ms": int((time.monotonic() - t0) * 1000), "requires": list(c.requires), "request": req,
            "response": resp, "schema_errors": ctx.schema_errors}


def closed_port():
    """A bound, never listening socket: connections to it are refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


def target_problem(t):
    """Target mode: None if the target answers over HTTPS with a certificate
    the suite trusts, else a message saying what to change."""
    ex = HttpClient(timeout=15).request(t.base_url, "GET", "/_matrix/key/v2/server", ca_file=t.ca_file)
    if not ex.error:
        return None
    msg = "cannot talk to the target at %s: %s" % (t.base_url, ex.error)
    if "CERTIFICATE_VERIFY_FAILED" in ex.error:
        if "mismatch" in ex.error or "not valid for" in ex.error:
            msg += ("\n  the host of --target must be a name its certificate holds (a certificate for the server "
                    "name %s wants e.g. --target https://%s)" % (t.server_name, t.server_name if ":" in t.server_name
                                                                   else t.server_name + ":8448"))
        else:
            msg += "\n  give the CA that issued its certificate (or the self-signed certificate itself) with --ca FILE"
    return msg


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="conformance/run", description=USAGE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", type=int, default=2, help="mxrelay daemons to start (default mode; default 2)")
    ap.add_argument("--mxrelay", help="the mxrelay binary (default: $MXRELAY, $MXR_BUILDDIR/mxrelay, ...)")
    ap.add_argument("--target", metavar="URL", help="run against this running homeserver instead")
    ap.add_argument("--server-name", help="the target's server name (with --target)")
    ap.add_argument("--ca", metavar="FILE", help="CA file to verify the target's TLS certificate")
    ap.add_argument("--fake-ca-cert", metavar="FILE", help="CA certificate to issue the fake servers' certificates")
    ap.add_argument("--fake-ca-key", metavar="FILE", help="its private key")
    ap.add_argument("--fake-domain", metavar="D", help="name the fake servers LABEL.D (target mode)")
    ap.add_argument("--fake-port", type=int, metavar="P", help="fake servers listen on P, P+1, ... (target mode)")
    ap.add_argument("--report", metavar="DIR", help="write DIR/report.json, DIR/summary.json and DIR/report.html")
    ap.add_argument("--spec-dir", metavar="DIR",
                    help="the spec (root or data/ folder): check responses against its OpenAPI schemas")
    ap.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                    help="select cases whose id contains PATTERN (or matches it as a glob, or whose section is it)")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    ap.add_argument("--strict", action="store_true",
                    help="a case skipped because the target does not route a required endpoint fails")
    ap.add_argument("--room-version", default="11", help="room version of the fixture rooms (default 11)")
    ap.add_argument("--work-dir", help="where certificates and server data go (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--mock", action="store_true",
                    help="test the suite itself against its built-in mock homeserver (lib/mockhs.py); "
                         "only 'error' results matter there")
    ap.add_argument("--no-selftest", action="store_true", help="skip the check of the suite's own signing code")
    ap.add_argument("--no-scenarios", action="store_true",
                    help="skip the scenario cases, which start private sets of relays (default mode only)")
    ap.add_argument("--only-scenarios", action="store_true",
                    help="run only the scenario cases (those that require 'cluster')")
    a = ap.parse_args(argv)
    if a.mock and a.target:
        ap.error("--mock and --target exclude each other")
    if a.no_scenarios and a.only_scenarios:
        ap.error("--no-scenarios and --only-scenarios exclude each other")
    if a.target and not a.server_name:
        ap.error("--target needs --server-name")
    if bool(a.fake_ca_cert) != bool(a.fake_ca_key):
        ap.error("--fake-ca-cert and --fake-ca-key go together")
    if not a.target and a.servers < 1:
        ap.error("--servers must be at least 1")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    cases = select(load_cases(os.path.join(HERE, "cases")), a.patterns)
    if a.only_scenarios:
        cases = [c for c in cases if "cluster" in c.requires]
    if a.list:
        for c in cases:
            print("%-48s %-22s %s%s" % (c.id, c.section, c.spec,
                                        ("  [requires %s]" % ", ".join(c.requires)) if c.requires else ""))
        print("%d cases" % len(cases))
        return 0
    if not cases:
        print("no case matches %s" % " ".join(a.patterns), file=sys.stderr)
        return 2
    if not a.no_selftest:
        fails = selftest.run()
        if fails:
            print("conformance: the suite's own signing code disagrees with the spec's vectors:", file=sys.stderr)
            for f in fails:
                print("  " + f, file=sys.stderr)
            return 2
    schema = None
    if a.spec_dir:
        from .schema import SchemaIndex
        try:
            schema = SchemaIndex(a.spec_dir)
        except (OSError, ValueError) as e:
            print("conformance: --spec-dir: %s" % e, file=sys.stderr)
            return 2

    if a.target:
        problem = target_problem(Target(a.server_name, a.target, os.path.abspath(a.ca) if a.ca else None))
        if problem:
            print("conformance: " + problem, file=sys.stderr)
            return 2
    work = os.path.abspath(a.work_dir) if a.work_dir else tempfile.mkdtemp(prefix="mxr-conformance-")
    os.makedirs(work, exist_ok=True)
    fakes, extra, spawn_dir, unreachable_sock = {}, [], None, closed_port()
    unreachable = "127.0.0.1:%d" % unreachable_sock.getsockname()[1]
    spawn = os.path.join(HERE, "spawn")
    rc = 2
    try:
        remote = bool(a.target or a.mock)
        if remote:
            if a.fake_ca_cert:
                ca_key, ca_crt = os.path.abspath(a.fake_ca_key), os.path.abspath(a.fake_ca_cert)
            else:
                ca_key, ca_crt = tls.make_ca(os.path.join(work, "fake-ca"))
        else:
            spawn_dir = os.path.join(work, "servers")
            ca_key, ca_crt = tls.make_ca(spawn_dir)   # spawn reuses DIR/ca.*
        for i, label in enumerate(FAKE_LABELS):
            if remote:
                name = ("%s.%s" % (label, a.fake_domain)) if a.fake_domain else None
                port = (a.fake_port + i) if a.fake_port else 0
            else:
                name = "fake.mxr.test" if label == "fake" else "%s.fake.mxr.test" % label
                port = 0
            fakes[label] = FakeServer(label, name=name, port=port)
        # One certificate for all of them: every fake name is in it.
        shared = tls.issue_cert(ca_key, ca_crt, os.path.join(work, "fakes"),
                                [f.server_name for f in fakes.values()])
        for f in fakes.values():
            f.setup_tls(ca_key, ca_crt, None, cert=shared)
        fakes["badsig"].keys_tamper = "badsig"         # self-signature does not verify
        fakes["wrongname"].keys_tamper = "wrongname"   # key response names another server
        rot = fakes["rotated"]
        rot.retired_key = rot.rotate_out()   # publishes a key in old_verify_keys
        for f in fakes.values():
            f.start()

        if a.mock:
            from .crypto import public_b64
            from .mockhs import MockHomeserver, deliver
            mock = MockHomeserver()
            mock.setup_tls(ca_key, ca_crt, os.path.join(work, "mock"))
            mock.key_lookup = lambda o: {f.key_id: public_b64(f.signing_key) for f in fakes.values()
                                         if f.server_name == o}
            mock.sinks = {f.server_name: deliver(f) for f in fakes.values()}
            mock.start()
            extra.append(mock)
            targets = [Target(mock.server_name, mock.base_url, ca_crt)]
            print("conformance: mock homeserver %s (a test of the suite, not a conformant server)" % mock.server_name)
        elif a.target:
            targets = [Target(a.server_name, a.target, os.path.abspath(a.ca) if a.ca else None)]
            print("conformance: target %s at %s" % (a.server_name, a.target))
            print("conformance: fake servers (certificates by %s):" % ca_crt)
            for f in fakes.values():
                print("  %-10s %s -> %s:%d" % (f.label, f.server_name, f.host, f.port))
        else:
            cmd = [sys.executable, spawn, str(a.servers), spawn_dir, "--room-version", a.room_version]
            if a.mxrelay:
                cmd += ["--mxrelay", a.mxrelay]
            for f in fakes.values():
                cmd += ["--peer", "%s=%s:%d" % (f.server_name, f.host, f.port)]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                sys.stderr.write("conformance: spawn failed:\n" + p.stderr + p.stdout)
                return 2
            with open(os.path.join(spawn_dir, "servers.json")) as fh:
                servers = json.load(fh)
            targets = [Target(s["server_name"], s["base_url"], s["ca_file"], s.get("log"), s.get("pid"))
                       for s in servers]
            print("conformance: %d mxrelay servers (%s), fake servers %s" % (
                len(targets), ", ".join(t.server_name for t in targets),
                ", ".join("%s=%s:%d" % (f.server_name, f.host, f.port) for f in fakes.values())))

        run = Run(targets, fakes, unreachable, schema=schema, strict=a.strict, room_version=a.room_version,
                  fake_ca=ca_crt, check_reach=bool(a.target))
        if remote:
            run.no_cluster = ("scenario cases start private mxrelay daemons: default (spawn) mode only, "
                              "not --target or --mock")
        elif a.no_scenarios:
            run.no_cluster = "scenario cases not selected (--no-scenarios)"
        else:
            run.cluster_args = {"mxrelay": a.mxrelay, "parent": work}
        for f in fakes.values():
            f.key_lookup = run.target_keys
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        progress = Progress(len(cases))
        results = []
        t0 = time.monotonic()
        for i, c in enumerate(cases, 1):
            progress.start(i, c, report.counts(results))
            r = run_case(run, c)
            results.append(r)
            progress.done(i, c, r)
        progress.finish()
        elapsed = time.monotonic() - t0

        meta = {"target_server_name": targets[0].server_name, "target_url": targets[0].base_url,
                "servers": [t.server_name for t in targets], "started": started, "strict": a.strict,
                "schema_validation": schema is not None, "room_version": a.room_version,
                "fake_servers": {f.label: f.server_name for f in fakes.values()}, "selected": len(cases)}
        if a.report:
            report.write(os.path.abspath(a.report), meta, results)
        c = report.counts(results)
        bad = [r for r in results if r["result"] in ("fail", "error", "schema")]
        if bad:
            print("\nNot passing:")
            for r in bad:
                print("  %-6s %s: %s" % (r["result"].upper(), r["id"], (r["reason"] or "").splitlines()[0][:240]
                                         if r["reason"] else ""))
                for e in r["schema_errors"][:3]:
                    print("         schema: %s" % e[:240])
        skipped = [r for r in results if r["result"] == "skip"]
        if skipped:
            reasons = {}
            for r in skipped:
                reasons.setdefault(r["reason"], []).append(r["id"])
            print("\nSkipped:")
            for why, ids in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
                print("  %3d  %s" % (len(ids), why[:200]))
        unreached = run.unreached_fakes()
        if unreached:
            print("\nThe target could not fetch the keys of the fake server(s) %s, so the cases that send requests "
                  "signed by them or ask its notary for their keys were skipped (a refusal would say nothing about "
                  "the rule tested). To run them, let the target reach 127.0.0.1 and trust %s (mxrelay: "
                  "federation_allow_private_addresses: true, federation_ca_file); --fake-ca-cert/--fake-ca-key keep "
                  "one CA across runs. See conformance/README.md, Target mode."
                  % (", ".join(f.server_name for f in unreached), ca_crt))
        print("\n%d cases in %.1f s: %s" % (len(results), elapsed,
                                            ", ".join("%d %s" % (c[k], k) for k in report.RESULTS if c.get(k))))
        if a.report:
            print("report: %s" % os.path.join(os.path.abspath(a.report), "report.html"))
        if bad and any(t.log for t in targets):
            print("server logs: %s" % ", ".join(t.log or "?" for t in targets))
        rc = 1 if bad else 0
        return rc
    finally:
        if spawn_dir and os.path.exists(os.path.join(spawn_dir, "servers.json")):
            subprocess.run([sys.executable, spawn, "--stop", spawn_dir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        for f in list(fakes.values()) + extra:
            f.stop()
        unreachable_sock.close()
        if not a.work_dir and not a.keep and rc == 0:
            shutil.rmtree(work, ignore_errors=True)
        elif not a.work_dir:
            print("work directory kept: %s" % work)
