"""Black-box test of the client API rate limits over HTTP (client-server API
"Rate limiting"): a daemon with a login limit of 2 per minute (burst 2)
answers the third login from one address with 429 M_LIMIT_EXCEEDED, the
wait in the body (retry_after_ms) and in the Retry-After header (whole
seconds, rounded up: the header the spec prefers since v1.10)."""
import json
import math
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import MXRELAY, Daemon, fail  # noqa: E402

V3 = "/_matrix/client/v3"


def login_limit_2(text):
    """The login limit at 2 per minute, burst 2."""
    for opt in ("ratelimit_login_per_minute", "ratelimit_login_burst"):
        if not re.search(r"(?m)^%s: " % opt, text):
            fail("the generated configuration does not set %s" % opt)
        text = re.sub(r"(?m)^%s:.*$" % opt, "%s: 2" % opt, text)
    return text


def call(srv, method, path, body):
    req = urllib.request.Request(srv.base + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def main():
    if not os.access(MXRELAY, os.X_OK):
        fail("%s is not built" % MXRELAY)
    with tempfile.TemporaryDirectory(prefix="mxr-ratelimit-") as tmp:
        srv = Daemon(tmp, login_limit_2)
        srv.start()
        try:
            body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"},
                    "password": "wrong"}
            for _ in range(2):
                st, _, j = call(srv, "POST", V3 + "/login", body)
                if st != 403 or j.get("errcode") != "M_FORBIDDEN":
                    fail("login within the burst: %d %s" % (st, j), srv.log)
            st, headers, j = call(srv, "POST", V3 + "/login", body)
            if st != 429 or j.get("errcode") != "M_LIMIT_EXCEEDED" or not isinstance(j.get("error"), str):
                fail("third login: expected 429 M_LIMIT_EXCEEDED, got %d %s" % (st, j), srv.log)
            ms = j.get("retry_after_ms")
            if not isinstance(ms, int) or not 0 < ms <= 30001:
                fail("retry_after_ms %r: expected up to 30 s (2 per minute)" % ms, srv.log)
            ra = {k.lower(): v for k, v in headers.items()}.get("retry-after")
            if ra is None or not ra.isdigit() or int(ra) != math.ceil(ms / 1000):
                fail("Retry-After %r does not match retry_after_ms %d" % (ra, ms), srv.log)
            if {k.lower(): v for k, v in headers.items()}.get("access-control-allow-origin") != "*":
                fail("a 429 lacks the CORS headers", srv.log)
            # the versions endpoint is not limited
            req = urllib.request.Request(srv.base + "/_matrix/client/versions")
            with urllib.request.urlopen(req, timeout=20) as r:
                if r.status != 200 or r.headers.get("Retry-After"):
                    fail("GET /versions: %d, Retry-After %r" % (r.status, r.headers.get("Retry-After")), srv.log)
        finally:
            srv.stop()
    print("ok: login rate limit over HTTP (429, retry_after_ms %d, Retry-After %s)" % (ms, ra))


if __name__ == "__main__":
    main()
