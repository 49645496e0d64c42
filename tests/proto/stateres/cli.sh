#!/bin/sh
# `mxr resolve` on a fixture (the topic/mainline scenario of
# tests/proto/test_stateres.c, resolved by hand there: PA2 and T3 win), and
# its exit codes: 1 for malformed input or a missing event, 2 for usage.
srcdir=${MXR_SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
mxr=${MXR_BUILDDIR:-.}/mxr
dir=$srcdir/tests/proto/stateres
if [ ! -x "$mxr" ]; then
    echo "FAIL: $mxr not built"
    exit 1
fi
tmp=${TMPDIR:-/tmp}/mxr-resolve-$$
trap 'rm -f "$tmp".out "$tmp".err' EXIT
fail=0
check() {   # NAME WANT_RC GOT_RC
    if [ "$3" != "$2" ]; then
        echo "FAIL: $1: exit $3, want $2"
        sed 's/^/  stderr: /' "$tmp".err
        fail=1
    else
        echo "ok: $1"
    fi
}

"$mxr" resolve --room-version 11 <"$dir/topic.json" >"$tmp".out 2>"$tmp".err
check "resolve topic.json" 0 $?
if ! cmp -s "$tmp".out "$dir/topic.expected"; then
    echo "FAIL: resolved state differs from topic.expected:"
    cat "$tmp".out
    fail=1
fi

"$mxr" resolve --room-version 11 <"$dir/missing.json" >"$tmp".out 2>"$tmp".err
check "auth event missing from events" 1 $?
grep -q 'PA1:example.com' "$tmp".err || { echo "FAIL: the error does not name \$PA1:example.com"; fail=1; }

echo '{"state_sets": {}, "events": []}' | "$mxr" resolve --room-version 11 >"$tmp".out 2>"$tmp".err
check "state_sets not an array" 1 $?
echo '{"state_sets": [{"m.room.topic": {"": "$x:example.com"}}], "events": []}' |
    "$mxr" resolve --room-version 11 >"$tmp".out 2>"$tmp".err
check "state event missing from events" 1 $?
grep -q 'x:example.com' "$tmp".err || { echo "FAIL: the error does not name \$x:example.com"; fail=1; }
echo '{"state_sets": [], "events": [' | "$mxr" resolve --room-version 11 >"$tmp".out 2>"$tmp".err
check "invalid JSON" 1 $?
echo '{"state_sets": [], "events": []}' | "$mxr" resolve --room-version 99 >"$tmp".out 2>"$tmp".err
check "unknown room version" 1 $?
"$mxr" resolve </dev/null >"$tmp".out 2>"$tmp".err
check "no --room-version" 2 $?
"$mxr" resolve --room-version 11 extra </dev/null >"$tmp".out 2>"$tmp".err
check "stray argument" 2 $?
exit $fail
