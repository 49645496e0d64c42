#!/bin/sh
# The conformance suite's scenario cases in the test command: every case that
# starts private relays of its own (lib/cluster.py) — rooms across servers, a
# destination down while events queue, restarts, real clients (matrix-nio
# with olm, matrix-js-sdk) over federation. One run against one spawned relay
# (the scenarios start their own); the relays' logs are scanned for
# sanitizer reports. Skips (77) like check.sh when Python modules or openssl
# are missing.
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
mxrelay=${MXR_BUILDDIR:-.}/mxrelay
if [ ! -x "$mxrelay" ]; then
    echo "FAIL: $mxrelay not built"
    exit 1
fi
export PYTHONDONTWRITEBYTECODE=1
export MXR_CONFORMANCE_KEEP_CLUSTERS=1   # kept for the log scan below; removed with $tmp
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxr-conformance-scenarios.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
# The scenarios' client API responses are validated like check.sh's (MXR_SPEC_DIR).
extra=""
[ -z "$MXR_SPEC_DIR" ] && [ -d "$srcdir/../shared/spec/data/api" ] && MXR_SPEC_DIR="$srcdir/../shared/spec"
[ -n "$MXR_SPEC_DIR" ] && extra="--spec-dir $MXR_SPEC_DIR"
if ! "$PY" "$srcdir/conformance/run" --only-scenarios --servers 1 --mxrelay "$mxrelay" --report "$tmp/report" \
        --work-dir "$tmp/work" $extra; then
    echo "FAIL: conformance/run --only-scenarios"
    for log in "$tmp"/work/mxr-fed-*/hs*/mxrelay.log; do
        [ -f "$log" ] && { echo "--- $log (tail)"; tail -n 40 "$log"; }
    done
    status=1
fi
for log in "$tmp"/work/servers/hs*/mxrelay.log "$tmp"/work/mxr-fed-*/hs*/mxrelay.log; do
    if [ -f "$log" ] && grep -Eq "AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:" "$log"; then
        echo "FAIL: sanitizer report in $log:"
        grep -E -A 20 "Sanitizer|runtime error:" "$log" | head -n 60
        status=1
    fi
done
exit $status
