#!/bin/sh
# `mxr` keys, signatures, event hashes/IDs/redaction vs Python signedjson,
# canonicaljson and hashlib (see the .py). Skips (77) only when
# /usr/bin/python3 or one of its modules is missing.
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "SKIP: $PY not found"
    exit 77
fi
for m in signedjson canonicaljson nacl unpaddedbase64; do
    if ! "$PY" -c "import $m" 2>/dev/null; then
        echo "SKIP: Python module $m is not installed for $PY"
        exit 77
    fi
done
srcdir=${MXR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
mxr=${MXR_BUILDDIR:-.}/mxr
if [ ! -x "$mxr" ]; then
    echo "FAIL: $mxr not built"
    exit 1
fi
# Each item starts several mxr processes: keep the sample modest in the test
# command, smaller under sanitizers. MXR_SIGNEDJSON_COUNT overrides.
if [ -z "${MXR_SIGNEDJSON_COUNT:-}" ]; then
    if [ "${MXR_SANITIZED:-no}" = yes ]; then export MXR_SIGNEDJSON_COUNT=15; else export MXR_SIGNEDJSON_COUNT=80; fi
fi
exec "$PY" "$srcdir/tests/interop/signedjson_interop.py" "$mxr" "$@"
