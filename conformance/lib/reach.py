"""Can the target fetch a fake server's keys? Asked in target mode only.

A server under test that someone else configured verifies the requests a
fake server signs only if it reaches the fake (on 127.0.0.1) and trusts the
CA of its certificate (server-server-api §Retrieving server keys, §TLS). If
it cannot, every such request is refused with 401 whatever the case tests:
a 401 for a bad signature is then no evidence, and a 200 can never come.
The cases that need it are skipped with what was seen, instead of failing
or passing for the wrong reason. In the default mode the spawned daemons
are configured to reach the fakes, so nothing is probed and a daemon that
cannot fetch keys fails the cases.

The probe is one request signed by the fake to an authenticated endpoint
(or, if the target routes none, a notary query for the fake's keys), then a
look at what the fake saw: a key request (reachable), a failed TLS handshake
(the target does not trust the fake's CA), a connection without a request,
or no connection at all (loopback refused, or a name it cannot resolve).
"""
import re
import time
import urllib.parse

from .xmatrix import authorization

KEY_PATH = "/_matrix/key/v2/server"
NOTARY_PATH = "/_matrix/key/v2/query"
CONNECT_WAIT_S = 1.0    # for a target that fetches keys after answering
FETCH_WAIT_S = 3.0      # once it has connected


def _key_requests(fake):
    return len(fake.requests_matching(lambda r: r.path.startswith(KEY_PATH)))


def _answer(ex):
    if ex.error:
        return ex.error
    j = ex.json
    msg = j.get("error") if isinstance(j, dict) and isinstance(j.get("error"), str) else ""
    return ("%s %s%s" % (ex.status, ex.errcode or "", (": " + msg[:300]) if msg else "")).strip()


def probe(run, target, fake):
    """None when the target can fetch fake's keys (or when that cannot be
    told), else one line saying what was seen."""
    conns, terrs, keyreqs = fake.connections, fake.transport_errors, _key_requests(fake)
    auth = run.capability(target, "fed-auth")
    if auth.offered:
        i = auth.info
        hdr = authorization(fake.signing_key, fake.server_name, target.server_name, i["method"], i["path"],
                            i["body"])
        ex = run.client.request(target.base_url, i["method"], i["path"], i["body"], {"Authorization": hdr},
                                ca_file=target.ca_file)
        if ex.error:
            return None          # the target itself is unreachable: the cases will say so
        if ex.status != 401:
            return None          # the signature was checked, so the keys were there
        how = "%s %s signed by it" % (i["method"], i["path"].split("?")[0])
    else:
        ex = run.client.request(target.base_url, "POST", NOTARY_PATH, {"server_keys": {fake.server_name: {}}},
                                ca_file=target.ca_file)
        if ex.error or (ex.status in (404, 405) and ex.errcode == "M_UNRECOGNIZED"):
            return None          # nothing to probe with: the cases will skip or fail on their own
        how = "a notary query for its keys"
    deadline = time.monotonic() + CONNECT_WAIT_S
    while True:
        if _key_requests(fake) > keyreqs:
            return None
        if fake.transport_errors > terrs or time.monotonic() >= deadline:
            break
        if fake.connections > conns:
            deadline = max(deadline, time.monotonic() + FETCH_WAIT_S)
        time.sleep(0.05)
    where = "%s:%d" % (fake.host, fake.port)
    at = "" if where == fake.server_name else " at " + where
    if fake.transport_errors > terrs:
        seen = "it connected%s but the TLS handshake failed (%s)" % (at, fake.last_transport_error)
    elif fake.connections > conns:
        seen = "it connected%s but did not ask for the keys" % at
    else:
        seen = "it never connected to it%s" % at
    return ("target cannot fetch the keys of fake server %s (%s; target mode needs the target to reach the fake "
            "servers and trust their CA %s): %s was answered %s"
            % (fake.server_name, seen, run.fake_ca or "", how, _answer(ex)))


def _named_in(name, text):
    return re.search(re.escape(name) + r"(?![0-9A-Za-z.\-])", text) is not None


def fakes_needed(run, method, path, body, headers):
    """The fake servers whose keys the target must fetch to answer this
    request as the case means: the origin of its X-Matrix header, and the
    servers a notary query asks about."""
    from .fakeserver import parse_xmatrix
    by_name = {f.server_name: f for f in run.fakes.values()}
    names = []
    auth = next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), None)
    if isinstance(auth, str) and auth.lstrip()[:8].lower() == "x-matrix":
        params = parse_xmatrix(auth)
        if params is not None and params.get("origin") is not None:
            names.append(params["origin"])
        else:   # a malformed header: any fake it names
            names += [n for n in by_name if _named_in(n, auth)]
    p = path.split("?")[0]
    if p.startswith(NOTARY_PATH + "/"):
        names.append(urllib.parse.unquote(p[len(NOTARY_PATH) + 1:].split("/")[0]))
    elif p == NOTARY_PATH and isinstance(body, dict) and isinstance(body.get("server_keys"), dict):
        names += list(body["server_keys"])
    out = []
    for n in names:
        if n in by_name and by_name[n] not in out:
            out.append(by_name[n])
    return out
