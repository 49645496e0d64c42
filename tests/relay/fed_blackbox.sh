#!/bin/sh
# Black-box test of the inbound federation API (tests/relay/fed_blackbox.py):
# the daemon with Python fake homeservers (conformance/lib) as remote
# servers; endpoint success and failure cases; SIGKILL mid-stream and
# restart, after which every acknowledged PDU must still be served.
# Skips (77) without /usr/bin/python3 and its signedjson/nacl, or openssl.
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not found"; exit 77; }
for m in signedjson canonicaljson nacl; do
    "$PY" -c "import $m" 2>/dev/null || { echo "SKIP: Python module $m is not installed for $PY"; exit 77; }
done
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl not found"; exit 77; }
build=${MXR_BUILDDIR:-.}
src=${MXR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x "$build/mxrelay" ] && [ -x "$build/tests/relay/fed_seed" ] || { echo "FAIL: mxrelay or fed_seed not built"; exit 1; }
PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$src/tests/relay/fed_blackbox.py" "$build" "$src"
