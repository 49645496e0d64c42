#!/bin/sh
# `mxr canonical` vs Python canonicaljson, byte for byte (see the .py).
# Skips (77) only when /usr/bin/python3 or its canonicaljson module is missing.
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "SKIP: $PY not found"
    exit 77
fi
if ! "$PY" -c 'import canonicaljson' 2>/dev/null; then
    echo "SKIP: python3-canonicaljson is not installed for $PY"
    exit 77
fi
srcdir=${MXR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
mxr=${MXR_BUILDDIR:-.}/mxr
if [ ! -x "$mxr" ]; then
    echo "FAIL: $mxr not built"
    exit 1
fi
exec "$PY" "$srcdir/tests/interop/canonical_vs_python.py" "$mxr"
