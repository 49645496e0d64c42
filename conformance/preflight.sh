# Sourced by the conformance tests (check.sh, scenarios.sh, target_mode.sh):
# exits 77 (skip) when /usr/bin/python3, one of its modules or openssl is
# missing, 1 when mxrelay is not built; sets PY, srcdir and mxrelay (absolute).
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "SKIP: $PY not found"
    exit 77
fi
for m in signedjson canonicaljson nacl yaml jsonschema; do
    if ! "$PY" -c "import $m" 2>/dev/null; then
        echo "SKIP: Python module $m is not installed for $PY"
        exit 77
    fi
done
if ! command -v openssl >/dev/null 2>&1; then
    echo "SKIP: openssl not found"
    exit 77
fi
srcdir=${MXR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
mxrelay=$(cd "${MXR_BUILDDIR:-.}" && pwd)/mxrelay
if [ ! -x "$mxrelay" ]; then
    echo "FAIL: $mxrelay not built"
    exit 1
fi
export PYTHONDONTWRITEBYTECODE=1
# The spec's OpenAPI definitions validate responses (--spec-dir): the copy
# beside the source tree (../shared/spec in this project's CI) unless set.
if [ -z "$MXR_SPEC_DIR" ] && [ -d "$srcdir/../shared/spec/data/api" ]; then
    MXR_SPEC_DIR="$srcdir/../shared/spec"
fi
