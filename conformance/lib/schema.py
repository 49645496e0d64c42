"""Response validation against the spec's OpenAPI descriptions
(data/api/server-server/*.yaml and data/api/client-server/*.yaml), with
every $ref resolved into the files it points to (relative paths: the
definitions/ folders, ../../event-schemas/; optional #/json/pointer).

An exchange is matched to an operation by method and path template (the
template with the fewest parameters wins: /query/directory over
/query/{queryType}); the client API's legacy r0 prefix is read as v3, which
describes the same endpoints. Its response body is validated against the
schema of its status code (or the 4XX/default entry).

OpenAPI 3.1 schemas are JSON Schema 2020-12, so jsonschema validates them
once the references are inlined. Examples are dropped while inlining:
they are not constraints and some of them are $refs to example files.
"""
import os
import re
import urllib.parse

import jsonschema
import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml's parser when there: 5x faster
DROP = {"example", "examples", "description", "summary", "title"}


# The APIs validated, each with two files that identify its folder.
APIS = {"server-server": ("version.yaml", "keys_server.yaml"),
        "client-server": ("sync.yaml", "create_room.yaml")}

# Request prefixes read as another: the client API's r0 endpoints are the
# v3 ones (client-server-api §API Standards: v3 replaced r0 unchanged).
ALIASES = (("/_matrix/client/r0/", "/_matrix/client/v3/"), ("/_matrix/media/r0/", "/_matrix/media/v3/"))


def find_api_dir(spec_dir, api="server-server"):
    """data/api/<api> under spec_dir, which may be the spec root, its data/
    folder, data/api, or the API's folder itself."""
    marks = APIS[api]
    for rel in ("data/api/" + api, "api/" + api, api, "."):
        d = os.path.normpath(os.path.join(spec_dir, rel))
        if all(os.path.isfile(os.path.join(d, m)) for m in marks):
            return d
    raise FileNotFoundError("no data/api/%s/*.yaml under %s" % (api, spec_dir))


class _Resolver:
    def __init__(self):
        self.files = {}

    def load(self, path):
        path = os.path.normpath(path)
        if path not in self.files:
            with open(path) as f:
                self.files[path] = yaml.load(f, Loader=LOADER)
        return self.files[path]

    def resolve(self, node, base, stack=()):
        if isinstance(node, list):
            return [self.resolve(x, base, stack) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node and isinstance(node["$ref"], str):
            ref = node["$ref"]
            file_part, _, pointer = ref.partition("#")
            target_file = os.path.normpath(os.path.join(os.path.dirname(base), file_part)) if file_part else base
            key = (target_file, pointer)
            if key in stack:
                return {}   # a cycle: accept anything below this point
            doc = self.load(target_file)
            for part in [p for p in pointer.split("/") if p]:
                doc = doc[part.replace("~1", "/").replace("~0", "~")]
            resolved = self.resolve(doc, target_file, stack + (key,))
            siblings = {k: v for k, v in node.items() if k != "$ref" and k not in DROP and not k.startswith("x-")}
            if siblings:
                return {"allOf": [resolved, self.resolve(siblings, base, stack)]}
            return resolved
        out = {}
        for k, v in node.items():
            if k in ("example", "examples") or k.startswith("x-"):
                continue
            if k == "properties" and isinstance(v, dict):   # property names may be "example" etc.
                out[k] = {pk: self.resolve(pv, base, stack) for pk, pv in v.items()}
            else:
                out[k] = self.resolve(v, base, stack)
        return out


def key_status(status):
    try:
        return int(status)
    except (TypeError, ValueError):
        return 0


class Operation:
    def __init__(self, api_file, method, template, op, resolver, api=""):
        self.api_file = (api + "/" if api else "") + os.path.basename(api_file)
        self.method = method.upper()
        self.template = template
        self.n_params = template.count("{")
        self.n_literal = len(re.sub(r"\{[^}]+\}", "", template))
        # A parameter is one non-empty path segment, except a trailing one,
        # which may be empty: the state key "" of /state/{eventType}/{stateKey}.
        rx = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if rx.endswith("[^/]+"):
            rx = rx[:-len("[^/]+")] + "[^/]*"
        self.regex = re.compile("^" + rx + "$")
        self.operation_id = op.get("operationId", "")
        self._raw = op.get("responses") or {}
        self._file = api_file
        self._resolver = resolver
        self._validators = {}
        # client-server-api §Standard error response: every error of the
        # client API is a JSON object with an errcode, documented or not.
        self._error_file = os.path.join(os.path.dirname(api_file), "definitions", "errors", "error.yaml") \
            if api == "client-server" else None

    def validator(self, status):
        key = str(status)
        if key not in self._raw:
            key = "%sXX" % key[0] if "%sXX" % key[0] in self._raw else ("default" if "default" in self._raw else None)
        if key is None and self._error_file and key_status(status) >= 400 and os.path.isfile(self._error_file):
            if "error" not in self._validators:
                self._validators["error"] = jsonschema.Draft202012Validator(
                    self._resolver.resolve(self._resolver.load(self._error_file), self._error_file))
            return self._validators["error"]
        if key is None:
            return None
        if key not in self._validators:
            resp = self._resolver.resolve(self._raw[key], self._file)
            schema = (((resp or {}).get("content") or {}).get("application/json") or {}).get("schema")
            self._validators[key] = jsonschema.Draft202012Validator(schema) if schema else None
        return self._validators[key]


class SchemaIndex:
    def __init__(self, spec_dir, apis=tuple(APIS)):
        """The operations of every API in `apis` found under spec_dir (at
        least one must be there)."""
        self.resolver = _Resolver()
        self.ops = []
        self.api_dirs = {}
        for api in apis:
            try:
                self.api_dirs[api] = find_api_dir(spec_dir, api)
            except FileNotFoundError:
                continue
            self._load(api, self.api_dirs[api])
        if not self.api_dirs:
            raise FileNotFoundError("no data/api/{%s}/*.yaml under %s" % (",".join(apis), spec_dir))
        self.api_dir = self.api_dirs.get("server-server")

    def _load(self, api, api_dir):
        for name in sorted(os.listdir(api_dir)):
            if not name.endswith(".yaml"):
                continue
            path = os.path.join(api_dir, name)
            doc = self.resolver.load(path)
            if not isinstance(doc, dict) or "paths" not in doc:
                continue
            try:
                base = doc["servers"][0]["variables"]["basePath"]["default"]
            except (KeyError, IndexError, TypeError):
                base = ""
            for tmpl, item in (doc.get("paths") or {}).items():
                for method, op in (item or {}).items():
                    if method.lower() in ("get", "put", "post", "delete", "patch") and isinstance(op, dict):
                        self.ops.append(Operation(path, method, base.rstrip("/") + tmpl, op, self.resolver, api))

    def operation(self, method, path):
        """The operation for a request (the most specific template wins:
        /query/directory over /query/{queryType})."""
        raw = urllib.parse.urlsplit(path).path
        for old, new in ALIASES:
            if raw.startswith(old):
                raw = new + raw[len(old):]
        m = method.upper()
        if m == "HEAD":
            m = "GET"
        found = [o for o in self.ops if o.method == m and o.regex.match(raw)]
        return min(found, key=lambda o: (o.n_params, -o.n_literal)) if found else None

    def validate(self, ex):
        """Schema violations of the exchange's response, as a list of strings
        (empty if it conforms or no schema describes it)."""
        if ex.error or ex.status is None:
            return []
        op = self.operation(ex.method, ex.path)
        if op is None:
            return []
        v = op.validator(ex.status)
        if v is None:
            return []
        body = ex.json
        where = "%s %s (%s %s, HTTP %s)" % (ex.method, ex.path.split("?")[0], op.api_file, op.operation_id, ex.status)
        if body is None:
            return ["%s: the response is not JSON" % where]
        errs = sorted(v.iter_errors(body), key=lambda e: list(e.path))
        return ["%s: at %s: %s" % (where, e.json_path, e.message[:300]) for e in errs[:8]]
