#!/bin/sh
# Target mode (conformance/run --target) against relays the suite did not start:
#   1. a relay started as the README's run command starts it (`./bootstrap run`
#      runs build/mxrelay without --config: server name localhost:8448, HTTPS on
#      127.0.0.1:8448 with a self-signed certificate generated in ./data, HTTP on
#      127.0.0.1:8008), in a fresh working directory. Such a relay cannot reach
#      the suite's fake servers (loopback is refused, their CA is not trusted),
#      so the cases that need it must be skipped saying so, and every other
#      case must pass;
#   2. a relay configured to reach and trust them (conformance/spawn, whose CA
#      is handed to the fake servers with --fake-ca-cert/--fake-ca-key): there
#      the cases of signed requests and notary lookups must run and pass.
# Skips (77) when /usr/bin/python3, one of its modules or openssl is missing,
# or when 127.0.0.1:8448 or :8008 is taken (the embedded default has fixed
# ports; mxrelay has no option to move them without a configuration file).
. "$(dirname "$0")/preflight.sh"
run="$srcdir/conformance/run"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxr-target-mode.XXXXXX") || exit 1
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -f "$tmp/spawn/servers.json" ] && "$PY" "$srcdir/conformance/spawn" --stop "$tmp/spawn" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# sanitizer_report LOG...: a sanitizer build of the daemon reports into its log.
sanitizer_report() {
    for log in "$@"; do
        if [ -f "$log" ] &&
            grep -Eq "AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:" "$log"; then
            echo "FAIL: sanitizer report in $log:"
            grep -E -A 20 "Sanitizer|runtime error:" "$log" | head -n 60
            return 0
        fi
    done
    return 1
}

# results DIR CHECKS: runs the Python CHECKS over DIR/report.json (`results`,
# `by_id`, `fail(msg)`); prints the tally.
results() {
    "$PY" - "$1" "$2" <<'EOF'
import json, os, sys
with open(os.path.join(sys.argv[1], "report.json")) as f:
    results = json.load(f)
by_id = {r["id"]: r for r in results}
problems = []
fail = problems.append
exec(sys.argv[2])
tally = {}
for r in results:
    tally[r["result"]] = tally.get(r["result"], 0) + 1
print("  %s" % ", ".join("%d %s" % (v, k) for k, v in sorted(tally.items())))
if problems:
    print("FAIL:\n  " + "\n  ".join(problems))
    sys.exit(1)
EOF
}

status=0

# ---- 2 first (no fixed ports): a relay that reaches and trusts the fake servers ----
echo "== target mode against a relay configured for the fake servers (conformance/spawn)"
if ! MXRELAY="$mxrelay" "$PY" "$srcdir/conformance/spawn" 1 "$tmp/spawn" >"$tmp/spawn.out" 2>&1; then
    cat "$tmp/spawn.out"
    echo "FAIL: conformance/spawn 1"
    exit 1
fi
eval "$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))[0]
print("url=%s name=%s" % (s["base_url"], s["server_name"]))' "$tmp/spawn/servers.json")"
"$PY" "$run" --target "$url" --server-name "$name" --ca "$tmp/spawn/ca.crt" \
    --fake-ca-cert "$tmp/spawn/ca.crt" --fake-ca-key "$tmp/spawn/ca.key" -k auth. -k notary. \
    --report "$tmp/report-configured" --work-dir "$tmp/work-configured" >"$tmp/configured.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    cat "$tmp/configured.out"
    echo "FAIL: target mode against $name exited $rc"
    status=1
fi
results "$tmp/report-configured" '
for cid in ("auth.valid", "auth.valid_body", "auth.bad_signature", "notary.get.remote", "notary.post.several",
            "notary.get.bad_self_signature"):
    if by_id.get(cid, {}).get("result") != "pass":
        fail("%s: %s (%s)" % (cid, by_id.get(cid, {}).get("result"), by_id.get(cid, {}).get("reason")))
for r in results:
    if r["reason"].startswith("target cannot fetch the keys"):
        fail("%s skipped although the target reaches the fake servers: %s" % (r["id"], r["reason"]))
' || status=1
sanitizer_report "$tmp"/spawn/hs*/mxrelay.log && status=1
"$PY" "$srcdir/conformance/spawn" --stop "$tmp/spawn" >/dev/null 2>&1

# ---- 1: the README's run command -----------------------------------------------------
echo "== target mode against mxrelay on its embedded default (the README's ./bootstrap run)"
for port in 8448 8008; do
    if ! "$PY" -c 'import socket,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' \
        "$port" 2>/dev/null; then
        echo "SKIP: 127.0.0.1:$port is taken, and the embedded default listens there (part 2 ran: status $status)"
        [ $status -eq 0 ] && exit 77
        exit $status
    fi
done
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && exec "$mxrelay") 2>"$tmp/embedded.log" &
pid=$!
i=0
while ! grep -q '\] ready$' "$tmp/embedded.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
        pid=
        if grep -qi 'in use' "$tmp/embedded.log"; then
            cat "$tmp/embedded.log"
            echo "SKIP: 127.0.0.1:8448 or :8008 was taken meanwhile (part 2 ran: status $status)"
            [ $status -eq 0 ] && exit 77
            exit $status
        fi
        cat "$tmp/embedded.log"
        echo "FAIL: mxrelay on the embedded default exited during start-up"
        exit 1
    fi
    i=$((i + 1))
    if [ $i -gt 300 ]; then
        cat "$tmp/embedded.log"
        echo "FAIL: mxrelay on the embedded default not ready after 30 s"
        exit 1
    fi
    sleep 0.1
done
for want in 'server name: localhost:8448' 'listening on https://127.0.0.1:8448' 'listening on http://127.0.0.1:8008'; do
    grep -qF "$want" "$tmp/embedded.log" || { cat "$tmp/embedded.log"; echo "FAIL: the log lacks '$want'"; status=1; }
done
cert="$tmp/cwd/data/tls-selfsigned.crt"
[ -f "$cert" ] || { echo "FAIL: no self-signed certificate at data/tls-selfsigned.crt"; status=1; }
# The self-signed certificate is for the server name's host, localhost.
(cd "$tmp/cwd" && "$PY" "$run" --target https://localhost:8448 --server-name localhost:8448 \
    --ca data/tls-selfsigned.crt --report "$tmp/report-embedded" --work-dir "$tmp/work-embedded") \
    >"$tmp/embedded.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    cat "$tmp/embedded.out"
    echo "FAIL: target mode against the embedded default exited $rc"
    status=1
fi
# What needs nothing from the environment passes; what needs the target to
# fetch the fake servers' keys is skipped saying so, never failed or passed.
results "$tmp/report-embedded" '
for cid in ("version.shape", "api.unknown_endpoint", "keys.server.self_signed", "keys.server.canonical_signing",
            "notary.get.self", "notary.get.unreachable"):
    if by_id.get(cid, {}).get("result") != "pass":
        fail("%s: %s (%s)" % (cid, by_id.get(cid, {}).get("result"), by_id.get(cid, {}).get("reason")))
for cid in ("auth.valid", "auth.bad_signature", "notary.get.remote", "notary.get.bad_self_signature"):
    r = by_id.get(cid, {})
    if r.get("result") != "skip" or not (r.get("reason") or "").startswith("target cannot fetch the keys of fake"):
        fail("%s: %s (%s), expected a skip for the unreachable fake servers" % (cid, r.get("result"), r.get("reason")))
for r in results:
    if r["result"] == "skip" and not r["reason"]:
        fail("%s skipped without a reason" % r["id"])
' || status=1
grep -q 'could not fetch the keys of the fake server' "$tmp/embedded.out" ||
    { echo "FAIL: the run does not explain the skipped cases"; status=1; }
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || { cat "$tmp/embedded.log"; echo "FAIL: mxrelay exited $rc after SIGTERM"; status=1; }
sanitizer_report "$tmp/embedded.log" && status=1
exit $status
