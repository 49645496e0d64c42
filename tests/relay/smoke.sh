#!/usr/bin/env bash
# Black-box smoke test of the daemon: two mxrelay instances on random
# loopback ports (port 0) with temporary data dirs, configured with
# --generate-config. Checks with curl and Python's signedjson (the oracle):
# version, key server (self-signature), notary through the federation client
# (static map + the peer's self-signed certificate as CA), Matrix errors,
# CORS, body limit, and a clean exit 0 on SIGTERM.
set -euo pipefail

BUILD=${MXR_BUILDDIR:-$(pwd)}
MXRELAY="$BUILD/mxrelay"
PY=/usr/bin/python3
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
[ -x "$MXRELAY" ] || { echo "FAIL: $MXRELAY not built"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/mxr-smoke.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "---- $f"; cat "$f"; }; done
    exit 1
}

# configure NAME SERVER_NAME: a generated config with every listener on port 0.
configure() {
    "$MXRELAY" --generate-config --server-name "$2" --data-dir "$T/$1" --config "$T/$1.yaml" 2>"$T/$1-gen.log" ||
        fail "--generate-config for $1"
    [ "$(stat -c %a "$T/$1/signing.key")" = 600 ] || fail "signing key of $1 is not mode 0600"
    [ "$(stat -c %a "$T/$1")" = 700 ] || fail "data dir of $1 is not mode 0700"
    sed -i -e 's/port: 8448}/port: 0}/' -e 's/port: 8008}/port: 0}/' "$T/$1.yaml"
}

# start NAME: runs the instance; sets PORT_HTTPS and PORT_HTTP once it is ready.
start() {
    "$MXRELAY" --config "$T/$1.yaml" 2>"$T/$1.log" &
    local pid=$!
    PIDS+=("$pid")
    eval "PID_$1=$pid"
    for _ in $(seq 1 100); do
        grep -q '\] ready$' "$T/$1.log" && break
        kill -0 "$pid" 2>/dev/null || fail "$1 exited during start-up"
        sleep 0.05
    done
    grep -q '\] ready$' "$T/$1.log" || fail "$1 not ready after 5 s"
    PORT_HTTPS=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)$|\1|p' "$T/$1.log")
    PORT_HTTP=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$T/$1.log")
    [ -n "$PORT_HTTPS" ] && [ -n "$PORT_HTTP" ] || fail "$1 did not log its ports"
}

# stop NAME: SIGTERM, then the exit status must be 0.
stop() {
    local pid_var="PID_$1"
    local pid=${!pid_var}
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || fail "$1 exited with $rc after SIGTERM"
    grep -q '\] stopped$' "$T/$1.log" || fail "$1 did not log its stop"
}

# get URL OUTFILE [curl args...]: prints the HTTP status.
get() {
    local url=$1 out=$2
    shift 2
    curl -sS --max-time 10 -o "$out" -D "$out.headers" -w '%{http_code}' "$@" "$url"
}

# ---- instance B: the one whose keys A fetches ----------------------------------------
configure b "localhost:1"
start b
B_HTTPS=$PORT_HTTPS B_HTTP=$PORT_HTTP
B_CERT="$T/b/tls-selfsigned.crt"

# ---- a peer that accepts one connection and hangs up a second later --------------------
"$PY" - "$T/slow.port" <<'EOF' &
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(30)
c, _ = s.accept()
open(sys.argv[1] + ".accepted", "w").close()
time.sleep(1)
c.close()
EOF
PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$T/slow.port" ] && break; sleep 0.05; done
SLOW_PORT=$(cat "$T/slow.port")

# ---- instance A: static map to B, trusting B's self-signed certificate ---------------
configure a "localhost:2"
sed -i -e "s|^federation_static_map: {}|federation_static_map: {\"localhost:1\": \"127.0.0.1:$B_HTTPS\", \"slow.test:1\": \"127.0.0.1:$SLOW_PORT\"}|" \
    -e "s|^#federation_ca_file: .*|federation_ca_file: \"$B_CERT\"|" \
    -e 's|^federation_allow_private_addresses: false|federation_allow_private_addresses: true|' "$T/a.yaml"
start a
A_HTTPS=$PORT_HTTPS A_HTTP=$PORT_HTTP

# ---- version --------------------------------------------------------------------------
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/federation/v1/version" "$T/version.json")
[ "$st" = 200 ] || fail "version: HTTP $st"
"$PY" - "$T/version.json" <<'EOF' || fail "version body"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["server"]["name"] == "mxrelay" and isinstance(v["server"]["version"], str), v
EOF
grep -qi '^content-type: application/json' "$T/version.json.headers" || fail "version: content type"
grep -qi '^access-control-allow-origin: \*' "$T/version.json.headers" || fail "version: CORS header"

# ---- key server over HTTPS, checked against B's own certificate ------------------------
st=$(get "https://localhost:$B_HTTPS/_matrix/key/v2/server" "$T/b-keys.json" \
    --cacert "$B_CERT" --resolve "localhost:$B_HTTPS:127.0.0.1")
[ "$st" = 200 ] || fail "key server: HTTP $st"
st=$(get "https://localhost:$A_HTTPS/_matrix/key/v2/server" "$T/a-keys.json" \
    --cacert "$T/a/tls-selfsigned.crt" --resolve "localhost:$A_HTTPS:127.0.0.1")
[ "$st" = 200 ] || fail "key server of a: HTTP $st"

cat >"$T/check.py" <<'EOF'
import json, sys, time
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

def published(keys, name):
    """The verify keys of a self-signed key server response, after checking it."""
    assert keys["server_name"] == name, keys
    now = time.time() * 1000
    assert now + 23 * 3600e3 < keys["valid_until_ts"] <= now + 7 * 24 * 3600e3, keys
    assert isinstance(keys.get("old_verify_keys", {}), dict)
    vks = [decode_verify_key_bytes(kid, decode_base64(v["key"])) for kid, v in keys["verify_keys"].items()]
    assert vks
    for vk in vks:
        verify_signed_json(keys, name, vk)
    return vks

mode = sys.argv[1]
if mode == "self":          # self FILE NAME
    published(json.load(open(sys.argv[2])), sys.argv[3])
elif mode == "notary":      # notary FILE ORIGIN ORIGIN_KEYS NOTARY NOTARY_KEYS COUNT
    got = json.load(open(sys.argv[2]))["server_keys"]
    assert len(got) == int(sys.argv[7]), got
    origin_vks = published(json.load(open(sys.argv[4])), sys.argv[3])
    notary_vks = published(json.load(open(sys.argv[6])), sys.argv[5])
    for keys in got:
        if keys["server_name"] != sys.argv[3]:
            continue
        for vk in origin_vks:
            verify_signed_json(keys, sys.argv[3], vk)
        for vk in notary_vks:
            verify_signed_json(keys, sys.argv[5], vk)
        break
    else:
        raise AssertionError("no keys of %s in %r" % (sys.argv[3], got))
EOF
"$PY" "$T/check.py" self "$T/b-keys.json" "localhost:1" || fail "key server response of b does not verify"
"$PY" "$T/check.py" self "$T/a-keys.json" "localhost:2" || fail "key server response of a does not verify"

# ---- notary: A fetches B's keys over HTTPS (static map, CA file) and countersigns ---------
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/key/v2/query/localhost%3A1" "$T/notary-get.json")
[ "$st" = 200 ] || fail "notary GET: HTTP $st"
"$PY" "$T/check.py" notary "$T/notary-get.json" "localhost:1" "$T/b-keys.json" "localhost:2" "$T/a-keys.json" 1 ||
    fail "notary GET response"
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/key/v2/query" "$T/notary-post.json" -X POST \
    -H 'Content-Type: application/json' \
    --data '{"server_keys":{"localhost:1":{"ed25519:x":{"minimum_valid_until_ts":0}},"unreachable.invalid":{}}}')
[ "$st" = 200 ] || fail "notary POST: HTTP $st"
"$PY" "$T/check.py" notary "$T/notary-post.json" "localhost:1" "$T/b-keys.json" "localhost:2" "$T/a-keys.json" 1 ||
    fail "notary POST response"
# B refuses to fetch from A: loopback is private and B does not allow private addresses.
st=$(get "http://127.0.0.1:$B_HTTP/_matrix/key/v2/query/localhost%3A2" "$T/b-notary.json")
[ "$st" = 200 ] || fail "notary GET on b: HTTP $st"
"$PY" -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"server_keys": []}' "$T/b-notary.json" ||
    fail "b served keys it could not fetch"

# ---- Matrix errors ------------------------------------------------------------------------
check_error() {   # check_error FILE STATUS WANT_STATUS ERRCODE
    [ "$2" = "$3" ] || fail "expected HTTP $3, got $2 ($(cat "$1"))"
    "$PY" - "$1" "$4" <<'EOF' || fail "error body of $1: $(cat "$1")"
import json, sys
e = json.load(open(sys.argv[1]))
assert set(e) == {"errcode", "error"} and e["errcode"] == sys.argv[2] and e["error"], e
EOF
    grep -qi '^content-type: application/json' "$1.headers" || fail "error without JSON content type"
}
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/federation/v1/no_such_endpoint" "$T/e404.json")
check_error "$T/e404.json" "$st" 404 M_UNRECOGNIZED
st=$(get "https://localhost:$A_HTTPS/_matrix/federation/v1/version" "$T/e405.json" -X DELETE \
    --cacert "$T/a/tls-selfsigned.crt" --resolve "localhost:$A_HTTPS:127.0.0.1")
check_error "$T/e405.json" "$st" 405 M_UNRECOGNIZED
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/key/v2/query" "$T/ejson.json" -X POST --data '{"server_keys":')
check_error "$T/ejson.json" "$st" 400 M_NOT_JSON
head -c 11000000 /dev/zero >"$T/big.bin"
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/key/v2/query" "$T/e413.json" -X POST --data-binary "@$T/big.bin")
check_error "$T/e413.json" "$st" 413 M_TOO_LARGE
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/key/v2/query" "$T/e413c.json" -X POST -H 'Transfer-Encoding: chunked' \
    --data-binary "@$T/big.bin")
check_error "$T/e413c.json" "$st" 413 M_TOO_LARGE
# The daemon still answers after all that.
st=$(get "http://127.0.0.1:$A_HTTP/_matrix/federation/v1/version" "$T/version2.json")
[ "$st" = 200 ] || fail "version after errors: HTTP $st"

# ---- access log: one line per request with a request ID --------------------------------------
grep -Eq '\[r[0-9a-z]+\] 127\.0\.0\.1 GET /_matrix/federation/v1/version -> 200 \([0-9]+ ms\)$' "$T/a.log" ||
    fail "no access log line"

# ---- clean stop ------------------------------------------------------------------------------
# Clients that go away mid-request (in the headers, in the body) leave nothing behind.
"$PY" - "$A_HTTP" <<'EOF' || fail "half-sent requests"
import socket, sys
for data in (b"GET /_matrix/federation/v1/version HTTP/1.1\r\nHost: x\r\n",
             b"POST /_matrix/key/v2/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"server"):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    c.sendall(data)
    c.close()
EOF
# A request in flight at SIGTERM (the slow peer holds it for a second) is
# answered before the daemon exits.
curl -sS --max-time 10 -o "$T/inflight.json" "http://127.0.0.1:$A_HTTP/_matrix/key/v2/query/slow.test%3A1" &
CURL_PID=$!
for _ in $(seq 1 100); do [ -e "$T/slow.port.accepted" ] && break; sleep 0.05; done
[ -e "$T/slow.port.accepted" ] || fail "a did not contact the slow peer"
stop a
wait "$CURL_PID" || fail "the request in flight at SIGTERM got no response"
"$PY" -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"server_keys": []}' "$T/inflight.json" ||
    fail "in-flight response: $(cat "$T/inflight.json")"
grep -q 'GET /_matrix/key/v2/query/slow.test%3A1 -> 200 ([0-9]\{3,\} ms)' "$T/a.log" ||
    fail "the in-flight request was not held by the slow peer"
stop b
"$MXRELAY" --config "$T/a.yaml" --bogus >/dev/null 2>&1 && fail "unknown option accepted"
"$MXRELAY" --help >"$T/help.txt" 2>&1 || fail "--help exited non-zero"
grep -q 'federation_static_map' "$T/help.txt" || fail "--help lacks the option reference"
printf 'server_name: x.test\nlisten: 1\n' >"$T/bad.yaml"
"$MXRELAY" --config "$T/bad.yaml" 2>"$T/bad.out" && fail "config with an unknown key accepted"
grep -q "bad.yaml:2: unknown option 'listen'" "$T/bad.out" || fail "unknown key not named: $(cat "$T/bad.out")"
echo "smoke: all checks passed"
