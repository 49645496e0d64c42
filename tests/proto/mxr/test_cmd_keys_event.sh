#!/bin/sh
# The `mxr` verbs of proto/mxr/cmd_keys.c and cmd_event.c: the spec's test
# vectors (appendices "Cryptographic Test Vectors") through the command line,
# exit codes (0 ok, 1 invalid input or negative verdict with one line on
# stderr, 2 usage) and the failing check named by check-pdu.
mxr=${MXR_BUILDDIR:-.}/mxr
[ -x "$mxr" ] || { echo "FAIL: $mxr not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxr-cmd-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect NAME WANT_RC WANT_STDOUT ARGS... < stdin  ("*": any stdout, left in $out
# unless expect runs in a pipeline's subshell)
expect() {
    name=$1 want_rc=$2 want_out=$3
    shift 3
    out=$("$mxr" "$@" 2>"$tmp/err")
    rc=$?
    [ "$rc" = "$want_rc" ] || fail "$name: exit $rc, want $want_rc ($(cat "$tmp/err"))"
    [ "$want_out" = "*" ] || [ "$out" = "$want_out" ] || fail "$name: stdout '$out', want '$want_out'"
    if [ "$want_rc" = 1 ] && [ "$(wc -l < "$tmp/err")" != 1 ]; then
        fail "$name: stderr is not one line: $(cat "$tmp/err")"
    fi
}
# stderr_has NAME TEXT: the last command's stderr contains TEXT
stderr_has() { grep -q -- "$2" "$tmp/err" || fail "$1: stderr lacks '$2': $(cat "$tmp/err")"; }

PUB=XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI
printf 'ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n' > "$tmp/spec.key"
MIN='{"room_id":"!x:domain","sender":"@a:domain","origin":"domain","origin_server_ts":1000000,"signatures":{},"hashes":{},"type":"X","content":{},"prev_events":[],"auth_events":[],"depth":3,"unsigned":{"age_ts":1000000}}'
MSG='{"content":{"body":"Here is the message content"},"event_id":"$0:domain","origin":"domain","origin_server_ts":1000000,"type":"m.room.message","room_id":"!r:domain","sender":"@u:domain","signatures":{},"unsigned":{"age_ts":1000000}}'
HASHY='{"auth_events":["$a"],"content":{"body":"m3"},"depth":5,"hashes":{"sha256":"x"},"origin_server_ts":1003,"prev_events":["$b"],"room_id":"!r:d","sender":"@u:d","type":"m.room.message"}'

# keys
expect pubkey 0 "ed25519:1 $PUB" pubkey --key "$tmp/spec.key"
expect keygen-out 0 "*" keygen --version v_1 --out "$tmp/new.key"
[ "$(stat -c %a "$tmp/new.key")" = 600 ] || fail "keygen --out: mode $(stat -c %a "$tmp/new.key")"
expect keygen-pubkey 0 "$out" pubkey --key "$tmp/new.key"
expect keygen-no-overwrite 1 "" keygen --out "$tmp/new.key"
expect keygen-bad-version 1 "" keygen --version "a-b"
expect keygen-stdout 0 "*" keygen
echo "$out" | grep -Eq '^ed25519 a_[A-Za-z]{4} [A-Za-z0-9+/]{43}$' || fail "keygen prints '$out'"
expect pubkey-missing 1 "" pubkey --key "$tmp/absent.key"

# JSON signing vectors
expect sign-empty 0 '{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}' \
    sign --server domain --key "$tmp/spec.key" <<EOF2
{}
EOF2
SIGNED='{"one":1,"signatures":{"domain":{"ed25519:1":"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"}},"two":"Two"}'
echo '{"one": 1, "two": "Two"}' | expect sign-one-two 0 "$SIGNED" sign --server domain --key "$tmp/spec.key"
echo "$SIGNED" | expect verify-ok 0 "" verify --server domain --key-id ed25519:1 --public-key "$PUB"
echo "$SIGNED" | sed 's/"one":1/"one":2/' | expect verify-tampered 1 "" verify --server domain --key-id ed25519:1 --public-key "$PUB"
echo "$SIGNED" | expect verify-wrong-server 1 "" verify --server other --key-id ed25519:1 --public-key "$PUB"
echo "$SIGNED" | expect verify-bad-key 1 "" verify --server domain --key-id ed25519:1 --public-key 'not base64'
echo '[]' | expect sign-array 1 "" sign --server domain --key "$tmp/spec.key"

# event signing vectors: v1-v10 redaction keeps origin; v11 drops it (digest 3.3)
echo "$MIN" | expect sign-event-v1 0 '{"auth_events":[],"content":{},"depth":3,"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain","signatures":{"domain":{"ed25519:1":"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},"type":"X","unsigned":{"age_ts":1000000}}' \
    sign --room-version 1 --server domain --key "$tmp/spec.key"
echo "$MIN" | expect sign-event-v11 0 '{"auth_events":[],"content":{},"depth":3,"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain","signatures":{"domain":{"ed25519:1":"Jxp+1glFcZM+nnHpY0EkedRR7u0VmKsJYGnQqIvqus3UvL5X/p1y6wSkLhGoTBel6MZ9lrMIzUqrjqFquWJKBw"}},"type":"X","unsigned":{"age_ts":1000000}}' \
    sign --room-version 11 --server domain --key "$tmp/spec.key"
echo "$MSG" | expect sign-message-v1 0 '{"content":{"body":"Here is the message content"},"event_id":"$0:domain","hashes":{"sha256":"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"},"origin":"domain","origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","signatures":{"domain":{"ed25519:1":"Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"}},"type":"m.room.message","unsigned":{"age_ts":1000000}}' \
    sign --room-version 1 --server domain --key "$tmp/spec.key"
echo "$MSG" > "$tmp/msg.json"
expect sign-message-v12 0 '*' sign --room-version 12 --server domain --key "$tmp/spec.key" < "$tmp/msg.json"
echo "$out" | grep -q '"ed25519:1":"4WQB/6LN2OtkUN/+18xUNB/U4RTX1N3EeKBdlCxux08YO8izKDrSRqML1XB8V97IK7AujkNO1xMl7TaBLA4kDw"' ||
    fail "sign-message-v12: $out"

# hashes, IDs, redaction
echo "$MIN" | expect content-hash 0 5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos content-hash
echo "$MSG" | expect event-id-v1 0 '$0:domain' event-id --room-version 1
echo "$HASHY" | expect event-id-v1-missing 1 '' event-id --room-version 2
echo "$HASHY" | expect event-id-v3 0 '$s26IF/7HVkisPf/IyVlWxYjr6EC5tuxXsKUNHL/L+zo' event-id --room-version 3
echo "$HASHY" | expect event-id-v4 0 '$s26IF_7HVkisPf_IyVlWxYjr6EC5tuxXsKUNHL_L-zo' event-id --room-version 4
echo "$MSG" | expect redact-v5 0 '{"content":{},"event_id":"$0:domain","origin":"domain","origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","signatures":{},"type":"m.room.message"}' \
    redact --room-version 5
echo "$MSG" | expect redact-v11 0 '{"content":{},"event_id":"$0:domain","origin_server_ts":1000000,"room_id":"!r:domain","sender":"@u:domain","signatures":{},"type":"m.room.message"}' \
    redact --room-version 11
echo "$MSG" | expect unknown-version 1 '' redact --room-version 13
stderr_has unknown-version M_UNSUPPORTED_ROOM_VERSION
echo '{"a":1,"a":2}' | expect duplicate-keys 1 '' content-hash

# check-pdu: steps 1-3 of the checks on receipt
CHECK="check-pdu --room-version 4 --server domain --key-id ed25519:1 --public-key $PUB"
echo "$MIN" | "$mxr" sign --room-version 4 --server domain --key "$tmp/spec.key" > "$tmp/pdu.json"
expect check-ok 0 '' $CHECK < "$tmp/pdu.json"
sed 's/"content":{}/"content":{"body":"changed"}/' "$tmp/pdu.json" > "$tmp/bad.json"
expect check-hash 1 '' $CHECK < "$tmp/bad.json"
stderr_has check-hash "hash check failed"
sed 's/"depth":3/"depth":4/' "$tmp/pdu.json" > "$tmp/bad.json"
expect check-signature 1 '' $CHECK < "$tmp/bad.json"
stderr_has check-signature "signature check failed"
expect check-other-key 1 '' check-pdu --room-version 4 --server domain --key-id ed25519:2 --public-key "$PUB" < "$tmp/pdu.json"
sed 's/"depth":3,//' "$tmp/pdu.json" > "$tmp/bad.json"
expect check-format 1 '' $CHECK < "$tmp/bad.json"
stderr_has check-format "format check failed"
expect check-v1-format 1 '' check-pdu --room-version 1 --server domain --key-id ed25519:1 --public-key "$PUB" < "$tmp/pdu.json"
stderr_has check-v1-format "event_id"

# usage errors
expect usage-sign 2 '' sign --server domain
expect usage-verify 2 '' verify --server domain --key-id ed25519:1
expect usage-check 2 '' check-pdu --room-version 4
expect usage-event-id 2 '' event-id
expect usage-redact 2 '' redact --room-version 4 extra
expect usage-content-hash 2 '' content-hash --room-version 4
expect usage-keygen 2 '' keygen --bogus
expect usage-pubkey 2 '' pubkey

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "ok"
