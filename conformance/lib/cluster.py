"""Multi-relay scenarios: a private set of relays started with
conformance/spawn (HTTPS, a throwaway CA, every relay in every static map),
stopped and restarted one by one, and driven through the client-server API.

The conformance runner hands one to a case that requires "cluster"
(Context.cluster); scripts under tests/federation use run(). Only the
standard library, so that it loads without the rest of lib/.
"""
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

CLIENT = "/_matrix/client/v3"
SRCDIR = os.environ.get("MXR_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("MXR_BUILDDIR") or os.getcwd()
SANITIZED = os.environ.get("MXR_SANITIZED") == "yes"


class Failure(AssertionError):
    """A scenario's expectation did not hold (the runner reports it as a fail)."""


# Progress lines go to stdout unless the conformance runner, which draws its
# own progress line, sets QUIET.
QUIET = False
T0 = time.time()


def log(msg):
    if QUIET:
        return
    sys.stdout.write("[%6.2f] %s\n" % (time.time() - T0, msg))
    sys.stdout.flush()


def find_mxrelay(explicit=None):
    for cand in (explicit, os.environ.get("MXRELAY"), os.path.join(BUILDDIR, "mxrelay")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise Failure("mxrelay binary not found (give --mxrelay, or set MXRELAY or MXR_BUILDDIR)")


class Relay:
    """One spawned relay: its server name, base URL, config and process."""

    def __init__(self, cluster, entry):
        self.cluster = cluster
        self.name = entry["server_name"]
        self.base = entry["base_url"]
        self.config = entry["config"]
        self.pid = entry["pid"]
        self.log = entry["log"]
        self.proc = None
        self.ctx = ssl.create_default_context(cafile=entry["ca_file"])

    def request(self, method, path, body=None, token=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                raw = r.read()
                self.cluster.observe(method, path, r.status, raw, data, self.base)
                return r.status, json.loads(raw or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            self.cluster.observe(method, path, e.code, raw, data, self.base)
            try:
                return e.code, json.loads(raw or b"{}")
            except ValueError:
                return e.code, {"raw": raw.decode(errors="replace")}

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self):
        """SIGTERM, then waits for the exit (a clean stop persists nothing
        more than a crash would: the queue is durable at enqueue)."""
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
                if self.alive():
                    time.sleep(0.05)
                    continue
            if pid:
                log("%s stopped" % self.name)
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise Failure("%s did not stop within 15 s of SIGTERM" % self.name)

    def start(self):
        with open(self.log, "ab") as logf:
            p = subprocess.Popen([self.cluster.mxrelay, "--config", self.config], stdout=logf, stderr=logf,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = p.pid
        self.proc = p      # our child: reaped by close(), which spawn --stop cannot do
        self.cluster.save()
        deadline = time.time() + 20
        while time.time() < deadline:
            if p.poll() is not None:
                raise Failure("%s exited at start (status %s); log %s" % (self.name, p.returncode, self.log))
            try:
                st, _ = self.request("GET", "/_matrix/federation/v1/version", timeout=2)
                if st == 200:
                    log("%s started again" % self.name)
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure("%s did not answer after a restart" % self.name)


class Cluster:
    def __init__(self, n, mxrelay=None, parent=None):
        self.mxrelay = find_mxrelay(mxrelay)
        self.dir = tempfile.mkdtemp(prefix="mxr-fed-", dir=parent)
        env = dict(os.environ)
        env.setdefault("MXR_LOG_LEVEL", "info")
        out = subprocess.run(["/usr/bin/python3", os.path.join(SRCDIR, "conformance", "spawn"), str(n), self.dir,
                              "--mxrelay", self.mxrelay],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        if out.returncode != 0:
            raise Failure("spawn failed: %s" % out.stderr.decode(errors="replace"))
        with open(os.path.join(self.dir, "servers.json")) as f:
            self.entries = json.load(f)
        self.relays = [Relay(self, e) for e in self.entries]
        self.observer = None    # fn(method, path, status, body, request body, base URL): the runner's schema check
        log("spawned %s" % ", ".join(r.name for r in self.relays))

    def observe(self, method, path, status, body, req_body, base):
        if self.observer is not None:
            self.observer(method, path, status, body, req_body, base)

    def save(self):
        for r, e in zip(self.relays, self.entries):
            e["pid"] = r.pid
        with open(os.path.join(self.dir, "servers.json"), "w") as f:
            json.dump(self.entries, f, indent=2)

    def close(self, keep=False):
        # Relays restarted by Relay.start are children of this process: stop
        # and reap them here (spawn --stop would wait out its deadline on the
        # zombies); spawn --stop ends the others.
        for r in self.relays:
            if r.proc is not None and r.proc.poll() is None:
                r.proc.terminate()
                try:
                    r.proc.wait(15)
                except subprocess.TimeoutExpired:
                    r.proc.kill()
                    r.proc.wait()
        subprocess.run(["/usr/bin/python3", os.path.join(SRCDIR, "conformance", "spawn"), "--stop", self.dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not keep:
            subprocess.run(["rm", "-rf", self.dir])

    def dump_logs(self):
        for r in self.relays:
            try:
                with open(r.log, errors="replace") as f:
                    data = f.read()
                sys.stdout.write("---- %s (%s), last lines:\n%s\n" % (r.name, r.log, "\n".join(data.splitlines()[-60:])))
            except OSError:
                pass


class User:
    def __init__(self, relay, localpart):
        self.relay = relay
        body = {"username": localpart, "password": secrets.token_urlsafe(18)}
        st, j = relay.request("POST", CLIENT + "/register", body)
        if st == 401 and "session" in j:
            body["auth"] = {"type": "m.login.dummy", "session": j["session"]}
            st, j = relay.request("POST", CLIENT + "/register", body)
        if st != 200:
            raise Failure("register %s on %s: %s %s" % (localpart, relay.name, st, j))
        self.user_id = j["user_id"]
        self.token = j["access_token"]
        self.txn = 0

    def call(self, method, path, body=None, ok=(200,)):
        st, j = self.relay.request(method, CLIENT + path, body, token=self.token)
        if st not in ok:
            raise Failure("%s %s %s as %s: %s %s" % (self.relay.name, method, path, self.user_id, st, j))
        return j

    def create_room(self, **kw):
        body = {"preset": "public_chat"}
        body.update(kw)
        return self.call("POST", "/createRoom", body)["room_id"]

    def join(self, room_id, via):
        q = "&".join("server_name=" + urllib.parse.quote(v) for v in via)
        return self.call("POST", "/join/%s?%s" % (urllib.parse.quote(room_id, safe=""), q), {})

    def send(self, room_id, body):
        self.txn += 1
        return self.call("PUT", "/rooms/%s/send/m.room.message/t%d-%s" % (
            urllib.parse.quote(room_id, safe=""), self.txn, secrets.token_hex(3)),
            {"msgtype": "m.text", "body": body})["event_id"]

    def state(self, room_id):
        """The room's current state as {(type, state_key): event_id}."""
        j = self.call("GET", "/rooms/%s/state" % urllib.parse.quote(room_id, safe=""))
        return {(e["type"], e["state_key"]): e["event_id"] for e in j}

    def messages(self, room_id, limit=1000):
        """Every message body visible in the room's timeline, oldest first."""
        bodies, frm = [], ""
        while True:
            q = "dir=b&limit=%d" % limit + ("&from=" + urllib.parse.quote(frm) if frm else "")
            j = self.call("GET", "/rooms/%s/messages?%s" % (urllib.parse.quote(room_id, safe=""), q))
            chunk = j.get("chunk") or []
            for e in chunk:
                if e.get("type") == "m.room.message":
                    bodies.append(e.get("content", {}).get("body"))
            if not chunk or not j.get("end") or j.get("end") == frm:
                break
            frm = j["end"]
        bodies.reverse()
        return bodies


def wait_for(what, fn, timeout):
    """Polls fn() until it returns a true value; returns it."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Failure as e:
            last = e
        time.sleep(0.2)
    raise Failure("timed out after %.0f s waiting for %s%s" % (timeout, what, ": %s" % last if last else ""))


def run(main, n):
    """Spawns n relays, runs main(cluster), reports, cleans up. Exit code
    for automake: 0 pass, 1 fail."""
    cluster = None
    try:
        cluster = Cluster(n)
        main(cluster)
        log("PASS")
        return 0
    except Failure as e:
        log("FAIL: %s" % e)
        if cluster:
            cluster.dump_logs()
        return 1
    finally:
        if cluster:
            cluster.close(keep=os.environ.get("MXR_KEEP") == "1")
