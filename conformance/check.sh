#!/bin/sh
# The black-box conformance suite in the test command:
#   1. against 2, then 3 freshly spawned mxrelay daemons (every selected case
#      must pass or be skipped for something the daemon does not offer yet);
#   2. against the suite's own mock homeserver, to test the suite itself: the
#      mock is not conformant (many cases fail by design), but no case may end
#      in "error" (an exception in the suite).
# Each run writes report.json / report.html, which are checked for shape.
# Set MXR_SPEC_DIR to the Matrix spec (root or data/) to validate responses
# against its OpenAPI schemas (default: ../shared/spec beside the source tree
# when that exists); set MXR_CONFORMANCE_STRICT=1 to turn skips of
# unimplemented endpoints into failures.
# Skips (77) when /usr/bin/python3, one of its modules, or openssl is missing.
. "$(dirname "$0")/preflight.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxr-conformance-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
run="$srcdir/conformance/run"
extra=""
[ -n "$MXR_SPEC_DIR" ] && extra="$extra --spec-dir $MXR_SPEC_DIR"
[ "$MXR_CONFORMANCE_STRICT" = 1 ] && extra="$extra --strict"

# report_ok DIR [no-errors]: report.json is a list of results with the
# stable keys; report.html is one self-contained page.
report_ok() {
    "$PY" - "$1" "$2" <<'EOF'
import html.parser, json, os, re, sys
d, mode = sys.argv[1], sys.argv[2]
keys = ["id", "section", "spec", "title", "result", "reason", "duration_ms", "requires", "request", "response",
        "schema_errors"]
with open(os.path.join(d, "report.json")) as f:
    results = json.load(f)
assert isinstance(results, list) and results, "report.json: not a non-empty list"
for r in results:
    assert list(r) == keys, "report.json: keys of %s are %s" % (r.get("id"), list(r))
    assert r["result"] in ("pass", "fail", "error", "skip", "schema"), r["result"]
assert any(r["result"] == "pass" for r in results), "report.json: no case passed"
errors = [r["id"] + ": " + (r["reason"] or "").splitlines()[-1] for r in results if r["result"] == "error"]
if mode == "no-errors" and errors:
    sys.exit("cases ending in error (bugs of the suite):\n  " + "\n  ".join(errors))
with open(os.path.join(d, "summary.json")) as f:
    summary = json.load(f)["summary"]
assert sum(summary.values()) == len(results), "summary.json does not add up"
with open(os.path.join(d, "report.html")) as f:
    page = f.read()
assert re.search(r"<(script|link|img|iframe|object|embed)\b|url\(|@import", page, re.I) is None, \
    "report.html loads external assets"
class P(html.parser.HTMLParser):
    rows = 0
    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            P.rows += 1
P().feed(page)
sections = len({r["section"] for r in results})
assert P.rows == len(results) + sections, "report.html has %d table rows for %d results" % (P.rows, len(results))
for r in results:
    assert html.escape(r["id"]) in page, "report.html lacks %s" % r["id"]
print("report %s: %s" % (d, ", ".join("%d %s" % (v, k) for k, v in summary.items() if v)))
EOF
}

status=0
# The scenario cases (private relays, stopped and restarted, real clients)
# are conformance/scenarios.sh's, a test of their own that make runs in
# parallel with this one.
for n in 2 3; do
    echo "== conformance/run --servers $n"
    if ! "$PY" "$run" --servers "$n" --mxrelay "$mxrelay" --report "$tmp/report$n" --work-dir "$tmp/work$n" $extra --no-scenarios; then
        echo "FAIL: conformance/run --servers $n"
        for log in "$tmp"/work$n/servers/hs*/mxrelay.log; do
            [ -f "$log" ] && { echo "--- $log (tail)"; tail -n 30 "$log"; }
        done
        status=1
    fi
    report_ok "$tmp/report$n" any || status=1
    # A sanitizer build of the daemon reports into its log: any report fails.
    for log in "$tmp"/work$n/servers/hs*/mxrelay.log; do
        if [ -f "$log" ] && grep -Eq "AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:" "$log"; then
            echo "FAIL: sanitizer report in $log:"
            grep -E -A 20 "Sanitizer|runtime error:" "$log" | head -n 60
            status=1
        fi
    done
done

echo "== conformance/run --mock (the suite's self-test)"
"$PY" "$run" --mock --report "$tmp/mock" --work-dir "$tmp/workmock" >"$tmp/mock.out" 2>&1
rc=$?
if [ $rc -gt 1 ]; then
    cat "$tmp/mock.out"
    echo "FAIL: conformance/run --mock exited $rc"
    status=1
fi
report_ok "$tmp/mock" no-errors || status=1
exit $status
