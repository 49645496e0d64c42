#!/bin/sh
# The conformance suite's scenario cases in the test command: every case that
# starts private relays of its own (lib/cluster.py) — rooms across servers, a
# destination down while events queue, restarts, real clients (matrix-nio
# with olm, matrix-js-sdk) over federation. One run against one spawned relay
# (the scenarios start their own); the relays' logs are scanned for
# sanitizer reports. Skips (77) like check.sh when Python modules or openssl
# are missing.
. "$(dirname "$0")/preflight.sh"
export MXR_CONFORMANCE_KEEP_CLUSTERS=1   # kept for the log scan below; removed with $tmp
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxr-conformance-scenarios.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
# The scenarios' client API responses are validated like check.sh's (MXR_SPEC_DIR).
extra=""
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
