"""Black-box test of the client-server API of one mxrelay on loopback ports.

The daemon is configured with --generate-config (plain HTTP listener on a
random port, open registration, a shared secret) and driven with urllib:
discovery, registration through user-interactive auth, Synapse-style
shared-secret registration (the MAC computed here with Python's hmac, the
oracle), `mxrelay register-user` next to the running daemon, login, rooms,
sending, /sync with a long-poll woken by a message, the r0 prefix with the
access_token query parameter, and a clean stop on SIGTERM.
"""
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import MXRELAY, Daemon, fail  # noqa: E402

SECRET = "bb-shared-secret"


def open_registration(text):
    text = re.sub(r"(?m)^registration_enabled:.*$", "registration_enabled: true", text)
    return text + "\nregistration_shared_secret: \"%s\"\n" % SECRET


class Server(Daemon):
    def __init__(self, tmp):
        super().__init__(tmp, open_registration)

    def call(self, method, path, body=None, token=None, expect=200):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=40) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        out = json.loads(raw) if raw else None
        if status != expect:
            fail("%s %s: expected %d, got %d %s" % (method, path, expect, status, raw[:400]), self.log)
        return out


def main():
    if not os.access(MXRELAY, os.X_OK):
        fail(MXRELAY + " not built")
    tmp = tempfile.mkdtemp(prefix="mxr-client-bb.")
    srv = None
    try:
        srv = Server(tmp)
        srv.start()
        V3 = "/_matrix/client/v3"

        v = srv.call("GET", "/_matrix/client/versions")
        assert "v1.1" in v["versions"] and "v1.11" not in v["versions"], v
        wk = srv.call("GET", "/.well-known/matrix/client")
        assert wk["m.homeserver"]["base_url"] == "https://hs.test", wk

        # registration: 401 with flows and a session, then m.login.dummy
        uia = srv.call("POST", V3 + "/register", {"username": "alice", "password": "pw-a"}, expect=401)
        assert uia["flows"] == [{"stages": ["m.login.dummy"]}] and uia["session"], uia
        reg = srv.call("POST", V3 + "/register", {"username": "alice", "password": "pw-a",
                                                  "auth": {"type": "m.login.dummy", "session": uia["session"]}})
        assert reg["user_id"] == "@alice:hs.test" and reg["access_token"].startswith("mxr_"), reg
        alice = reg["access_token"]
        who = srv.call("GET", V3 + "/account/whoami", token=alice)
        assert who == {"user_id": "@alice:hs.test", "device_id": reg["device_id"], "is_guest": False}, who

        # shared-secret registration, as Synapse's register_new_matrix_user does it
        nonce = srv.call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), b"root", b"pw-root", b"admin"]))
        adm = srv.call("POST", "/_synapse/admin/v1/register",
                       {"nonce": nonce, "username": "root", "password": "pw-root", "admin": True,
                        "displayname": "Root", "mac": mac.hexdigest()})
        assert adm["user_id"] == "@root:hs.test" and adm["access_token"], adm
        prof = srv.call("GET", V3 + "/profile/@root:hs.test/displayname")
        assert prof == {"displayname": "Root"}, prof
        srv.call("GET", V3 + "/account/whoami", token=adm["access_token"])

        # the register-user sub-command next to the running daemon
        pwfile = os.path.join(tmp, "pw")
        open(pwfile, "w").write("pw-bob\n")
        cli = subprocess.run([MXRELAY, "--config", srv.cfg, "register-user", "bob", "--password-file", pwfile],
                             capture_output=True, text=True)
        if cli.returncode != 0 or cli.stdout.strip() != "@bob:hs.test":
            fail("register-user: %d %s %s" % (cli.returncode, cli.stdout, cli.stderr), srv.log)
        again = subprocess.run([MXRELAY, "--config", srv.cfg, "register-user", "bob", "--password", "x"],
                               capture_output=True, text=True)
        if again.returncode != 1 or "taken" not in again.stderr:
            fail("register-user of a taken name: %d %s" % (again.returncode, again.stderr), srv.log)
        bad = subprocess.run([MXRELAY, "--config", srv.cfg, "register-user"], capture_output=True, text=True)
        if bad.returncode != 2:
            fail("register-user without USER should be a usage error, got %d" % bad.returncode)
        login = srv.call("POST", "/_matrix/client/r0/login",
                         {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"},
                          "password": "pw-bob"})
        bob = login["access_token"]

        # a room, a message, and /sync
        room = srv.call("POST", V3 + "/createRoom", {"preset": "public_chat", "name": "bb"}, token=alice)["room_id"]
        srv.call("POST", V3 + "/join/" + urllib.parse.quote(room), {}, token=bob)
        eid = srv.call("PUT", V3 + "/rooms/%s/send/m.room.message/t1" % urllib.parse.quote(room),
                       {"msgtype": "m.text", "body": "hi"}, token=alice)["event_id"]
        s = srv.call("GET", "/_matrix/client/r0/sync?access_token=" + bob)
        tl = s["rooms"]["join"][room]["timeline"]["events"]
        assert tl[-1]["event_id"] == eid and tl[-1]["content"]["body"] == "hi", tl[-1]

        # long-poll: bob waits, alice sends, bob's /sync returns with it
        result = {}

        def poll():
            result["sync"] = srv.call("GET", V3 + "/sync?timeout=25000&since=" + s["next_batch"], token=bob)
        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.3)
        eid2 = srv.call("PUT", V3 + "/rooms/%s/send/m.room.message/t2" % urllib.parse.quote(room),
                        {"msgtype": "m.text", "body": "wake"}, token=alice)["event_id"]
        th.join(30)
        got = [e["event_id"] for e in result["sync"]["rooms"]["join"][room]["timeline"]["events"]]
        assert got == [eid2], got

        srv.call("POST", V3 + "/logout", {}, token=bob)
        srv.call("GET", V3 + "/account/whoami", token=bob, expect=401)

        # a /sync long-poll in flight does not hold up a stop: SIGTERM ends it
        # (the daemon must exit within stop()'s 20 s, well under the 30 s wait)
        def parked():
            try:
                srv.call("GET", V3 + "/sync?timeout=30000&since=" + result["sync"]["next_batch"], token=alice)
            except Exception:
                pass
        th = threading.Thread(target=parked, daemon=True)
        th.start()
        time.sleep(0.3)
        srv.stop()
        srv = None
        print("PASS: client-server black-box")
    except AssertionError as e:
        fail("assertion: %s" % e, srv.log if srv else None)
    finally:
        if srv and srv.proc.poll() is None:
            srv.proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


main()
