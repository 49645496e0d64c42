"""A small HTTPS client that records every exchange for the report.

TLS contexts are always built explicitly: the environment may point
SSL_CERT_FILE and friends at the system bundle, which does not hold the
throwaway test CA, so the CA file is passed in and nothing else is trusted.
"""
import http.client
import json
import ssl
import time
import urllib.parse

REPORT_BODY_LIMIT = 16384


def ssl_context(ca_file=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    else:
        ctx.load_default_certs()
    return ctx


def _clip(data):
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace") if isinstance(data, (bytes, bytearray)) else str(data)
    if len(text) > REPORT_BODY_LIMIT:
        return text[:REPORT_BODY_LIMIT] + "\n... (%d characters in all)" % len(text)
    return text


class Exchange:
    """One request and its response (or the transport error)."""

    def __init__(self, method, url, path, headers, body):
        self.method = method
        self.url = url
        self.path = path
        self.req_headers = headers
        self.req_body = body
        self.status = None
        self.resp_headers = []
        self.body = b""
        self.error = None
        self.elapsed_ms = 0
        self._json = None
        self._json_err = None
        self._parsed = False

    def header(self, name):
        n = name.lower()
        for k, v in self.resp_headers:
            if k.lower() == n:
                return v
        return None

    def _parse(self):
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self._json_err = str(e)
        return self._json

    @property
    def json(self):
        """The parsed body, or None if it is not JSON."""
        return self._parse()

    @property
    def json_error(self):
        self._parse()
        return self._json_err

    @property
    def errcode(self):
        j = self.json
        return j.get("errcode") if isinstance(j, dict) else None

    def describe(self):
        if self.error:
            return "%s %s -> %s" % (self.method, self.path, self.error)
        extra = (" " + self.errcode) if self.errcode else ""
        return "%s %s -> %s%s" % (self.method, self.path, self.status, extra)

    def to_report(self):
        req = {"method": self.method, "url": self.url,
               "headers": {k: v for k, v in self.req_headers.items()}, "body": _clip(self.req_body)}
        resp = None
        if self.error is None:
            resp = {"status": self.status, "headers": {k: v for k, v in self.resp_headers},
                    "body": _clip(self.body)}
        else:
            resp = {"status": None, "headers": {}, "body": None, "error": self.error}
        return req, resp


class HttpClient:
    """Requests to a base URL; `recorder(exchange)` sees every exchange."""

    def __init__(self, recorder=None, timeout=20):
        self.recorder = recorder
        self.timeout = timeout
        self._contexts = {}

    def _context(self, ca_file):
        if ca_file not in self._contexts:
            self._contexts[ca_file] = ssl_context(ca_file)
        return self._contexts[ca_file]

    def request(self, base_url, method, path, body=None, headers=None, ca_file=None, timeout=None):
        """path is sent byte for byte as the request target. body: bytes/str
        (sent as is) or any other value (sent as JSON)."""
        u = urllib.parse.urlsplit(base_url)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            if not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = "application/json"
        ex = Exchange(method, base_url.rstrip("/") + path, path, hdrs, data)
        t0 = time.monotonic()
        try:
            if u.scheme == "https":
                conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout or self.timeout,
                                                   context=self._context(ca_file))
            else:
                conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout or self.timeout)
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for k, v in hdrs.items():
                    conn.putheader(k, v)
                if data is not None or method in ("POST", "PUT"):
                    conn.putheader("Content-Length", str(len(data or b"")))
                conn.endheaders(data)
                r = conn.getresponse()
                ex.status = r.status
                ex.resp_headers = r.getheaders()
                ex.body = r.read()
            finally:
                conn.close()
        except (OSError, http.client.HTTPException, ValueError) as e:
            ex.error = "%s: %s" % (type(e).__name__, e)
        ex.elapsed_ms = int((time.monotonic() - t0) * 1000)
        if self.recorder:
            self.recorder(ex)
        return ex
