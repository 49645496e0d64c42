"""One mxrelay daemon for the black-box client tests: the configuration of
--generate-config (edited by the test) with its listeners on random ports,
started until it logs "ready", stopped with SIGTERM (which must exit 0)."""
import os
import re
import signal
import subprocess
import sys
import time

BUILD = os.environ.get("MXR_BUILDDIR", os.getcwd())
MXRELAY = os.path.join(BUILD, "mxrelay")


def fail(msg, log=None):
    print("FAIL: " + msg)
    if log and os.path.exists(log):
        print("---- daemon log")
        print(open(log).read())
    sys.exit(1)


class Daemon:
    """edit(text) -> text changes the generated configuration."""

    def __init__(self, tmp, edit=None):
        self.tmp = tmp
        self.cfg = os.path.join(tmp, "hs.yaml")
        self.log = os.path.join(tmp, "hs.log")
        subprocess.run([MXRELAY, "--generate-config", "--server-name", "hs.test", "--data-dir",
                        os.path.join(tmp, "data"), "--config", self.cfg], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = re.sub(r"port: \d+}", "port: 0}", open(self.cfg).read())
        if edit:
            text = edit(text)
        open(self.cfg, "w").write(text)

    def start(self):
        self.proc = subprocess.Popen([MXRELAY, "--config", self.cfg], stderr=open(self.log, "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            text = open(self.log).read()
            if re.search(r"\] ready$", text, re.M):
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)$", text, re.M)
                if not m:
                    fail("no plain HTTP listener logged", self.log)
                self.base = "http://127.0.0.1:%s" % m.group(1)
                return
            if self.proc.poll() is not None:
                fail("mxrelay exited during start-up", self.log)
            time.sleep(0.05)
        fail("mxrelay not ready", self.log)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        if rc != 0:
            fail("mxrelay exited with %d after SIGTERM" % rc, self.log)
