"""Cases, their outcomes, and the assertion helpers cases use.

A case is a function of one argument (the Context) registered with @case.
It passes by returning; it fails by raising Fail (or AssertionError); it is
skipped by raising Skip; any other exception is an error of the case.
"""

CASES = []
_IDS = set()

# Skip kinds. NOT_IMPLEMENTED: the target does not route an endpoint the spec
# requires (a failure under --strict). UNAVAILABLE: the target legitimately
# does not offer something (registration closed, an optional or removed
# endpoint, an unsupported room version); allowed even under --strict.
NOT_IMPLEMENTED = "not-implemented"
UNAVAILABLE = "unavailable"


class Skip(Exception):
    def __init__(self, reason, kind=UNAVAILABLE):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class Fail(AssertionError):
    def __init__(self, message, exchange=None):
        super().__init__(message)
        self.message = message
        self.exchange = exchange


class Case:
    def __init__(self, fn, id, section, spec, requires, module):
        self.fn = fn
        self.id = id
        self.section = section
        self.spec = spec
        self.requires = tuple(requires)
        self.module = module
        doc = (fn.__doc__ or "").strip()
        self.title = doc.splitlines()[0] if doc else id


def case(id, section, spec, requires=()):
    """Registers a case. `requires` names capabilities (see capabilities.py)
    that the target must offer; the runner probes them before the case runs."""
    if isinstance(requires, str):
        requires = (requires,)

    def deco(fn):
        if id in _IDS:
            raise ValueError("duplicate case id %s" % id)
        _IDS.add(id)
        CASES.append(Case(fn, id, section, spec, requires, fn.__module__))
        return fn
    return deco


# ---- assertions ----------------------------------------------------------------------

def check(cond, message, exchange=None):
    if not cond:
        raise Fail(message, exchange)


def expect_status(ex, status, what=None):
    """The exchange answered with `status` (an int or a tuple of ints)."""
    want = status if isinstance(status, tuple) else (status,)
    if ex.error:
        raise Fail("%s: no response: %s" % (what or ex.describe(), ex.error), ex)
    if ex.status not in want:
        detail = ""
        j = ex.json
        if isinstance(j, dict) and ("errcode" in j or "error" in j):
            detail = " (%s: %s)" % (j.get("errcode"), str(j.get("error"))[:300])
        raise Fail("%s %s: expected HTTP %s, got %s%s" % (ex.method, ex.path, "/".join(map(str, want)), ex.status,
                                                          detail), ex)
    return ex


def expect_json(ex, status=200):
    """The exchange answered `status` with a JSON object (application/json); returns it."""
    expect_status(ex, status)
    ct = (ex.header("Content-Type") or "").split(";")[0].strip().lower()
    check(ct == "application/json", "%s %s: Content-Type is %r, the spec requires application/json "
          "(server-server-api §API standards)" % (ex.method, ex.path, ex.header("Content-Type")), ex)
    j = ex.json
    check(j is not None, "%s %s: the body is not JSON: %s" % (ex.method, ex.path, ex.json_error), ex)
    check(isinstance(j, dict), "%s %s: the body is JSON but not an object (all endpoints return JSON objects)"
          % (ex.method, ex.path), ex)
    return j


def expect_error(ex, status, errcodes=None):
    """A Matrix error: HTTP `status` (int or tuple) and a JSON object with string
    `errcode` (one of `errcodes`, when given) and `error` (client-server API
    §Standard error response)."""
    j = expect_json(ex, status)
    ec = j.get("errcode")
    check(isinstance(ec, str), "%s %s: error response without a string 'errcode'" % (ex.method, ex.path), ex)
    check(isinstance(j.get("error"), str), "%s %s: error response without a string 'error' message"
          % (ex.method, ex.path), ex)
    if errcodes:
        want = errcodes if isinstance(errcodes, tuple) else (errcodes,)
        check(ec in want, "%s %s: expected errcode %s, got %s (%s)" % (ex.method, ex.path, " or ".join(want), ec,
                                                                       str(j.get("error"))[:300]), ex)
    return j


def expect_rejected(ex, status=(400, 401, 403)):
    """The request was refused: one of `status`, with a JSON error body."""
    return expect_error(ex, status)


def expect_not_unauthorized(ex):
    """The request got past authentication: no 401, no 403 M_FORBIDDEN for auth
    reasons, and a JSON response."""
    if ex.error:
        raise Fail("no response: %s" % ex.error, ex)
    j = ex.json
    check(ex.status != 401, "%s %s: a correctly signed request was refused with 401 (%s: %s)"
          % (ex.method, ex.path, (j or {}).get("errcode") if isinstance(j, dict) else None,
             str((j or {}).get("error") if isinstance(j, dict) else ex.body[:200])[:300]), ex)
    check(ex.status < 500, "%s %s: server error %s" % (ex.method, ex.path, ex.status), ex)
    return j
