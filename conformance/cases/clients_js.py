"""A federated room driven by matrix-js-sdk (the library of Element Web),
run by Node from lib/js_sdk_driver.cjs against two relays spawned by the
suite: alice on A and bob on B log in with m.login.password, run the sdk's
sync loop, bob joins alice's room over federation, each sends a message the
other receives through its own /sync, and bob pages back the history.

The sdk is installed by this case with npm (MATRIX_JS_SDK below, pinned to
a release that supports Debian's Node 18) into conformance-npm/ under the
build directory, once; later runs reuse it. The case skips when node or npm
is missing or when the npm registry cannot be reached.
Default (spawn) mode only."""
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import urllib.parse

from lib import Fail, Skip, case
from lib.cluster import BUILDDIR, CLIENT
from lib.core import NOT_IMPLEMENTED, UNAVAILABLE

MATRIX_JS_SDK = "32.4.0"        # engines: node >= 18 (33+ need Node 20, 38+ Node 22)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(HERE, "lib", "js_sdk_driver.cjs")
NET_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH",
              "network request", "socket hang up", "CERT_", "self-signed certificate", "unable to get local issuer")

S = "Client interoperability (matrix-js-sdk, two relays)"
SP = ("client-server-api §Login (m.login.password), §Syncing, §Joining rooms, §Sending events to a room, "
      "§GET /rooms/{roomId}/messages; server-server-api §Joining Rooms, §Transactions")


def sdk_dir():
    """node_modules/matrix-js-sdk of the pinned version, installed on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise Skip("matrix-js-sdk needs node and npm (Debian packages nodejs, npm)", UNAVAILABLE)
    out = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"], stdout=subprocess.PIPE, text=True)
    if out.returncode != 0 or int(out.stdout.strip() or 0) < 18:
        raise Skip("matrix-js-sdk %s needs Node >= 18, found %s" % (MATRIX_JS_SDK, out.stdout.strip()), UNAVAILABLE)
    base = os.path.join(os.path.abspath(BUILDDIR), "conformance-npm")
    os.makedirs(base, exist_ok=True)
    mod = os.path.join(base, "node_modules", "matrix-js-sdk")
    with open(os.path.join(base, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # two test runs at once install once
        try:
            with open(os.path.join(mod, "package.json")) as f:
                if json.load(f).get("version") == MATRIX_JS_SDK:
                    return mod
        except (OSError, ValueError):
            pass
        with open(os.path.join(base, "package.json"), "w") as f:
            json.dump({"name": "mxrelay-conformance-clients", "private": True}, f)
        env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
                   npm_config_audit="false")
        try:
            r = subprocess.run([npm, "install", "--prefix", base, "--no-save", "--loglevel=error",
                                "matrix-js-sdk@" + MATRIX_JS_SDK], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env, timeout=300, cwd=base)
        except subprocess.TimeoutExpired:
            raise Skip("npm install matrix-js-sdk@%s did not finish in 300 s (registry unreachable?)" % MATRIX_JS_SDK,
                       UNAVAILABLE)
        if r.returncode != 0:
            net = [ln.strip() for ln in r.stdout.splitlines() if any(e in ln for e in NET_ERRORS)]
            if net:
                raise Skip("npm install matrix-js-sdk@%s: the npm registry is unreachable: %s"
                           % (MATRIX_JS_SDK, net[0][:300]), UNAVAILABLE)
            raise Fail("npm install matrix-js-sdk@%s failed: %s" % (MATRIX_JS_SDK, r.stdout.strip()[-800:]))
    if not os.path.isdir(mod):
        raise Fail("npm install left no %s" % mod)
    return mod


def register(relay, localpart, password):
    body = {"username": localpart, "password": password}
    st, j = relay.request("POST", CLIENT + "/register", body)
    if st == 401 and "session" in j:
        body["auth"] = {"type": "m.login.dummy", "session": j["session"]}
        st, j = relay.request("POST", CLIENT + "/register", body)
    if st != 200:
        raise Fail("register %s on %s: %s %s" % (localpart, relay.name, st, j))
    return j


@case("clients.js_sdk.federated_room", section=S, spec=SP, requires=("cluster",))
def js_sdk_federated_room(ctx):
    """matrix-js-sdk clients on two relays log in, sync, join one room over federation, send and receive"""
    mod = sdk_dir()
    cl = ctx.cluster(2)
    A, B = cl.relays[0], cl.relays[1]
    users, tokens = [], []
    for relay, name in ((A, "alice"), (B, "bob")):
        pw = secrets.token_urlsafe(12)
        tokens.append(register(relay, name, pw)["access_token"])
        users.append({"base_url": relay.base, "user": name, "password": pw, "server_name": relay.name})
    # What matrix-js-sdk's startClient() asks before its first /sync, and
    # retries for ever when refused.
    for relay, tok in ((A, tokens[0]), (B, tokens[1])):
        st, j = relay.request("GET", CLIENT + "/pushrules/", token=tok)
        if st in (404, 405) and isinstance(j, dict) and j.get("errcode") == "M_UNRECOGNIZED":
            raise Skip("%s does not route GET /pushrules/, which matrix-js-sdk's startClient() needs "
                       "(client-server-api §Push Rules)" % relay.name, NOT_IMPLEMENTED)
    # alice's room on A, with a message in it from before bob's join (from
    # her registration's device; the sdk logs in as a second one).
    st, j = A.request("POST", CLIENT + "/createRoom", {"preset": "public_chat", "name": "js-sdk"}, token=tokens[0])
    if st != 200:
        raise Fail("createRoom on %s: %s %s" % (A.name, st, j))
    room = j["room_id"]
    before = "said before bob joined"
    st, j = A.request("PUT", CLIENT + "/rooms/%s/send/m.room.message/t1" % urllib.parse.quote(room, safe=""),
                      {"msgtype": "m.text", "body": before}, token=tokens[0])
    if st != 200:
        raise Fail("send on %s: %s %s" % (A.name, st, j))

    spec = os.path.join(cl.dir, "js-spec.json")
    with open(spec, "w") as f:
        json.dump({"sdk": mod, "room_id": room, "users": users, "before_join": before}, f)
    env = dict(os.environ, NODE_EXTRA_CA_CERTS=cl.entries[0]["ca_file"])
    for v in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_OPTIONS"):   # the environment's CA would replace the test's
        env.pop(v, None)
    try:
        r = subprocess.run([shutil.which("node"), DRIVER, spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env, timeout=120)
    except subprocess.TimeoutExpired:
        raise Fail("the matrix-js-sdk driver did not finish in 120 s (relay logs under %s)" % cl.dir)
    lines = r.stdout.strip().splitlines()
    steps = [json.loads(ln) for ln in lines if ln.startswith("{")]
    if r.returncode != 0 or not steps or steps[-1].get("step") != "done":
        fail = [ln for ln in lines if ln.startswith("FAIL:")]
        raise Fail("matrix-js-sdk: %s; steps done: %s; stderr: %s (relay logs under %s)" % (
            fail[0][6:] if fail else "exit %d" % r.returncode,
            ", ".join("%s (%.1f s)" % (s["step"], s.get("t", 0)) for s in steps), r.stderr.strip()[-600:], cl.dir))
