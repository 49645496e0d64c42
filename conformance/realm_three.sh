#!/bin/bash
# Three relays as the threshold realms of one user (design
# pin-recovery-and-payments.md §6.8, §6.11 item 9), over real HTTPS:
#
#   1. alice registers on hs1 and, with `mxr realm register`, spreads a fresh
#      recovery root over the realms of hs1, hs2 and hs3 (2 of 3, 3 guesses);
#      each realm checks her OpenID token with hs1 (hs2 and hs3 over
#      federation: GET /_matrix/federation/v1/openid/userinfo);
#   2. the operator of hs2 takes its key file and a copy of its database and
#      tries PINs offline, the right one among them: nothing confirms; with
#      the loot of two operators (t of them) the right PIN shows at once;
#   3. hs3 goes down; alice recovers the same root from hs1 and hs2;
#   4. hs3 comes back; wrong PINs use up the guesses, then every realm has
#      wiped its share: even the right PIN gets NO_GUESSES.
#
# Needs: mxrelay, mxr and tests/realm/offline_attack in $MXR_BUILDDIR,
# /usr/bin/python3, openssl, curl, mdb_copy. Runs in well under a minute.
set -euo pipefail
SRC=${MXR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
B=${MXR_BUILDDIR:-$SRC/build}
MXR=$B/mxr
ATTACK=$B/tests/realm/offline_attack
export MXRELAY=$B/mxrelay
PY=/usr/bin/python3
PIN=4711
WRONG=(1234 0000 9999)
W=$(mktemp -d "${TMPDIR:-/tmp}/mxr-realm3-XXXXXX")
HS3PID=

fail() { echo "FAIL: $*"; for f in "$W"/hs*/mxrelay.log; do echo "--- $f"; tail -n 20 "$f"; done; exit 1; }
cleanup() {
    [ -n "$HS3PID" ] && kill "$HS3PID" 2>/dev/null && wait "$HS3PID" 2>/dev/null
    "$SRC/conformance/spawn" --stop "$W" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT INT TERM
for tool in "$MXR" "$ATTACK" "$MXRELAY"; do
    [ -x "$tool" ] || { echo "SKIP: $tool is not built"; exit 77; }
done
command -v mdb_copy >/dev/null || { echo "SKIP: mdb_copy (lmdb-utils) is missing"; exit 77; }

"$SRC/conformance/spawn" 3 "$W" >/dev/null || fail "spawn"
field() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[int(sys.argv[2])][sys.argv[3]])' "$W/servers.json" "$1" "$2"; }
CA=$(field 0 ca_file)
for i in 0 1 2; do
    URL[$i]=$(field $i base_url)
    NAME[$i]=$(field $i server_name)
    CONF[$i]=$(field $i config)
    PID[$i]=$(field $i pid)
done
USER_ID="@alice:${NAME[0]}"
echo "relays: ${NAME[*]}"

# 1. alice on hs1 (client API, m.login.dummy), then the registration.
$PY - "${URL[0]}" "$CA" > "$W/token" <<'EOF' || fail "could not register alice on hs1"
import json, ssl, sys, urllib.request
base, ca = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def post(body):
    req = urllib.request.Request(base + "/_matrix/client/v3/register", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
body = {"username": "alice", "password": "correct horse battery staple"}
st, j = post(body)
if st == 401:
    body["auth"] = {"type": "m.login.dummy", "session": j.get("session")}
    st, j = post(body)
if st != 200:
    sys.exit("register: %s %s" % (st, j))
print(j["access_token"])
EOF
echo "$PIN" > "$W/pin"
COMMON=(--homeserver "${URL[0]}" --user "$USER_ID" --access-token-file "$W/token" --ca-file "$CA")
"$MXR" realm register "${COMMON[@]}" --pin-file "$W/pin" --realm "${URL[0]}" --realm "${URL[1]}" \
    --realm "${URL[2]}" --threshold 2 --guesses 3 --config-out "$W/realms.json" > "$W/registered.json" \
    2> "$W/register.err" || { cat "$W/register.err"; fail "mxr realm register"; }
ROOT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_hex"])' "$W/registered.json")
echo "registered a recovery root across 3 realms (2 of 3, 3 guesses)"

# 2. The operator of hs2 with its key file and a copy of its database.
for i in 1 2; do
    mkdir -p "$W/loot$i/store"
    mdb_copy "$W/hs$((i + 1))/data/store" "$W/loot$i/store" || fail "mdb_copy hs$((i + 1))"
    cp "$W/hs$((i + 1))/data/realm.key" "$W/loot$i/realm.key"
done
PINS="${WRONG[0]},${WRONG[1]},$PIN,${WRONG[2]}"
one=$("$ATTACK" --user "$USER_ID" --config "$W/realms.json" --pins "$PINS" "$W/loot1") || fail "offline attack"
echo "one operator offline, candidate PINs $PINS: $one"
$PY -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["confirmed"]==[] and r["tried"]==4 else 1)' "$one" \
    || fail "one operator with one share and its database confirmed a PIN offline"
two=$("$ATTACK" --user "$USER_ID" --config "$W/realms.json" --pins "$PINS" "$W/loot1" "$W/loot2") \
    || fail "offline attack with two shares"
echo "two colluding operators (t = 2):                  $two"
$PY -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["confirmed"]==[sys.argv[2]] else 1)' "$two" "$PIN" \
    || fail "the attack program is broken: t shares should confirm the right PIN"

# 3. hs3 down: 2 of 3 recover the same root.
kill "${PID[2]}"
while kill -0 "${PID[2]}" 2>/dev/null; do sleep 0.1; done
"$MXR" realm recover "${COMMON[@]}" --pin-file "$W/pin" --config "$W/realms.json" > "$W/recovered.json" \
    2> "$W/recover.err" || { cat "$W/recover.err"; fail "recover with hs3 down"; }
GOT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_hex"])' "$W/recovered.json")
[ "$GOT" = "$ROOT" ] || fail "recovered $GOT, registered $ROOT"
grep -q "unreachable" "$W/recover.err" || fail "the report does not show hs3 unreachable"
echo "recovered the root with ${NAME[2]} down"

# 4. hs3 back; wrong PINs until every share is wiped.
"$MXRELAY" --config "${CONF[2]}" >> "$W/hs3/mxrelay.log" 2>&1 &
HS3PID=$!
for _ in $(seq 100); do
    curl -sf --cacert "$CA" "${URL[2]}/_matrix/federation/v1/version" >/dev/null && break
    sleep 0.1
done
left=3
for p in "${WRONG[@]}"; do
    echo "$p" > "$W/wrong"
    if "$MXR" realm recover "${COMMON[@]}" --pin-file "$W/wrong" --config "$W/realms.json" > "$W/out.json" \
        2> "$W/err"; then
        fail "wrong PIN $p recovered something"
    fi
    left=$((left - 1))
    $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errcode"]=="ORG.MXRELAY.REALM.INVALID_PIN" and r["guesses_remaining"]==int(sys.argv[2]) else 1)' \
        "$W/out.json" "$left" || { cat "$W/out.json" "$W/err"; fail "wrong PIN $p: expected INVALID_PIN with $left left"; }
    echo "wrong PIN $p: refused, $left guess(es) left"
done
if "$MXR" realm recover "${COMMON[@]}" --pin-file "$W/pin" --config "$W/realms.json" > "$W/out.json" 2> "$W/err"; then
    fail "the right PIN still recovered after the guesses ran out"
fi
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errcode"]=="ORG.MXRELAY.REALM.NO_GUESSES" else 1)' \
    "$W/out.json" || { cat "$W/out.json" "$W/err"; fail "expected NO_GUESSES after the guesses ran out"; }
[ "$(grep -c 'no guesses left' "$W/err")" = 3 ] || { cat "$W/err"; fail "not every realm reports its share wiped"; }
echo "guesses used up: all 3 realms wiped their shares; the right PIN now gets NO_GUESSES"
# The wipe is in each database too: the loot of today holds no share.
mkdir -p "$W/loot3/store"
mdb_copy "$W/hs2/data/store" "$W/loot3/store"
cp "$W/hs2/data/realm.key" "$W/loot3/realm.key"
if "$ATTACK" --user "$USER_ID" --config "$W/realms.json" --pins "$PIN" "$W/loot3" 2> "$W/err" >/dev/null; then
    fail "hs2's database still holds a share after the wipe"
fi
grep -q tombstone "$W/err" || { cat "$W/err"; fail "expected a tombstone in hs2's database"; }
echo "ok"
