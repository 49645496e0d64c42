"""What a case sees: the target(s), the fake servers, a recording client,
capability checks and fixtures."""
import os
import traceback

from . import fixtures, reach
from .core import UNAVAILABLE, Skip
from .http import Exchange, HttpClient
from .xmatrix import header, request_signature

_SAME = object()


class Target:
    def __init__(self, server_name, base_url, ca_file=None, log=None, pid=None):
        self.server_name = server_name
        self.base_url = base_url.rstrip("/")
        self.ca_file = ca_file
        self.log = log
        self.pid = pid

    def __repr__(self):
        return "Target(%s at %s)" % (self.server_name, self.base_url)


class Run:
    """State shared by all cases of a run."""

    def __init__(self, targets, fakes, unreachable, schema=None, strict=False, room_version="11", fake_ca=None,
                 check_reach=False):
        self.targets = targets
        self.fakes = fakes
        self.unreachable = unreachable     # a server name nobody answers for
        self.schema = schema
        self.strict = strict
        self.room_version = room_version
        self.fake_ca = fake_ca             # the CA file of the fake servers' certificates
        self.check_reach = check_reach     # target mode: probe whether the target can fetch the fakes' keys
        self.client = HttpClient()         # for probes and key lookups: not recorded
        self.fixtures = fixtures.FixtureCache()
        self.cluster_args = None           # how to start private relays (default mode)
        self.no_cluster = "no relays to start"
        self._caps = {}
        self._keys = {}
        self._reach = {}

    def reach(self, target, fake):
        """None when target can fetch fake's keys, else why not (see reach.py)."""
        if not self.check_reach:
            return None
        key = (target.base_url, fake.label)
        if key not in self._reach:
            self._reach[key] = reach.probe(self, target, fake)
        return self._reach[key]

    def capability(self, target, name):
        from .capabilities import probe
        key = (target.base_url, name)
        if key not in self._caps:
            self._caps[key] = probe(self, target, name)
        return self._caps[key]

    def unreached_fakes(self):
        """The fake servers some target could not fetch the keys of."""
        labels = {label for (_, label), why in self._reach.items() if why}
        return [f for f in self.fakes.values() if f.label in labels]

    def target_keys(self, server_name):
        """{key_id: key} of a target, from its key server: how the fake servers
        check the X-Matrix signatures of the targets' requests."""
        for t in self.targets:
            if t.server_name != server_name:
                continue
            if server_name not in self._keys:
                ex = self.client.request(t.base_url, "GET", "/_matrix/key/v2/server", ca_file=t.ca_file)
                j = ex.json if ex.status == 200 else None
                vk = (j or {}).get("verify_keys") if isinstance(j, dict) else None
                self._keys[server_name] = {k: v.get("key") for k, v in (vk or {}).items() if isinstance(v, dict)}
            return self._keys[server_name]
        return {}


class Context:
    def __init__(self, run, case):
        self.run = run
        self.case = case
        self.exchanges = []
        self.schema_errors = []
        self.schema_exchange = None
        self._cleanups = []
        self.http = HttpClient(recorder=self._record)
        self._current_target = None
        self.result = None                 # set by the runner before the cleanups run

    # ---- who is who ----
    @property
    def target(self):
        return self.run.targets[0]

    @property
    def targets(self):
        return self.run.targets

    @property
    def fake(self):
        return self.run.fakes["fake"]

    def fake_server(self, label):
        return self.run.fakes[label]

    @property
    def unreachable(self):
        return self.run.unreachable

    # ---- requests ----
    def _record(self, ex):
        self.exchanges.append(ex)
        if self.run.schema is not None and self._current_target is not None:
            self._validate(ex)

    def _validate(self, ex):
        errs = self.run.schema.validate(ex)
        if errs:
            self.schema_errors += errs
            if self.schema_exchange is None:
                self.schema_exchange = ex

    def _observe_cluster(self, method, path, status, body, req_body, base):
        """A client API exchange of a scenario's relay (lib/cluster.py),
        validated like the suite's own requests."""
        ex = Exchange(method, base.rstrip("/") + path, path, {}, req_body)
        ex.status, ex.body = status, body or b""
        self._validate(ex)

    def request(self, method, path, body=None, *, target=None, as_=None, auth=None, headers=None,
                destination=_SAME, header_destination=_SAME, sign_content=_SAME, sign_uri=None, sign_method=None,
                signing_key=None, key_id=None, origin=None, timeout=None):
        """A request to a target (the first by default). With as_=FakeServer it
        is signed with X-Matrix as that server; the sign_* arguments make the
        signature cover something other than what is sent, destination is what
        is signed, header_destination what the header says (None: left out)."""
        t = target or self.target
        hdrs = dict(headers or {})
        if auth is not None:
            hdrs["Authorization"] = auth
        elif as_ is not None:
            dest = t.server_name if destination is _SAME else destination
            hdest = dest if header_destination is _SAME else header_destination
            content = body if sign_content is _SAME else sign_content
            if isinstance(content, (bytes, str)):
                content = None
            key = signing_key or as_.signing_key
            org = origin or as_.server_name
            sig = request_signature(key, org, dest, sign_method or method, sign_uri or path, content)
            hdrs["Authorization"] = header(org, hdest, key_id or "%s:%s" % (key.alg, key.version), sig)
        if t in self.run.targets:
            for f in reach.fakes_needed(self.run, method, path, body, hdrs):
                why = self.run.reach(t, f)
                if why:
                    raise Skip(why, UNAVAILABLE)
        self._current_target = t if t in self.run.targets else None
        try:
            return self.http.request(t.base_url, method, path, body, hdrs, ca_file=t.ca_file, timeout=timeout)
        finally:
            self._current_target = None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def signed(self, method, path, body=None, **kw):
        """A request signed as the primary fake server (or as_=...)."""
        kw.setdefault("as_", self.fake)
        return self.request(method, path, body, **kw)

    # ---- capabilities and fixtures ----
    def capability(self, name, target=None):
        return self.run.capability(target or self.target, name)

    def require(self, *names, target=None):
        for n in names:
            o = self.capability(n, target)
            if not o.offered:
                raise Skip(o.reason, o.kind)

    def room(self, version=None, kind="public", target=None):
        """A room on the target that the primary fake server has joined (see fixtures.py)."""
        self.require("room", target=target)
        t = target or self.target
        v = str(version or self.run.room_version)
        return self.run.fixtures.get((t.base_url, v, kind), lambda: fixtures.make_relay_room(self, t, v, kind))

    def cluster(self, n):
        """A fresh private set of n spawned relays (lib/cluster.py) for a
        multi-relay scenario, stopped when the case ends. Skips in target and
        mock mode, where the suite starts no servers."""
        if self.run.cluster_args is None:
            raise Skip(self.run.no_cluster, UNAVAILABLE)
        from . import cluster
        cluster.QUIET = True
        cl = cluster.Cluster(n, **self.run.cluster_args)
        if self.run.schema is not None:
            cl.observer = self._observe_cluster
        # A case that did not pass keeps its relays' directories (logs, stores)
        # inside the work directory, which the runner then keeps too; so does
        # every case with MXR_CONFORMANCE_KEEP_CLUSTERS=1 (the test command
        # scans their logs for sanitizer reports).
        keep_all = os.environ.get("MXR_CONFORMANCE_KEEP_CLUSTERS") == "1"
        self.cleanup(lambda: cl.close(keep=keep_all or self.result not in ("pass", "skip")))
        return cl

    def on_fake(self, fake, method, pattern, fn):
        """A route on a fake server for the duration of this case."""
        token = fake.route(method, pattern, fn)
        self.cleanup(lambda: fake.remove_route(token))

    def cleanup(self, fn):
        self._cleanups.append(fn)

    def run_cleanups(self):
        errors = []
        for fn in reversed(self._cleanups):
            try:
                fn()
            except Exception:
                errors.append(traceback.format_exc(limit=2))
        self._cleanups = []
        return errors
