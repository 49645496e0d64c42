#!/bin/sh
# Published test cases of other Matrix implementations (Synapse, ruma,
# gomatrixserverlib), re-expressed as `mxr auth` and `mxr resolve` fixtures:
# see gen.py and cases.list. Each auth fixture names its source test, the
# spec rule, and the verdict this project asserts; a fixture whose published
# verdict we do not follow says so ("published_verdict") with the reason;
# "malformed" means the verb must refuse the input (exit 1) rather than judge.
#
# Fails if any case fails. `run.sh -v` also prints the reasons of the
# verdicts.
set -u
srcdir=${MXR_SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
mxr=${MXR_BUILDDIR:-.}/mxr
dir=$srcdir/tests/proto/published_rules
verbose=0
[ "${1:-}" = "-v" ] && verbose=1
if [ ! -x "$mxr" ]; then
    echo "FAIL: $mxr not built"
    exit 1
fi
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

pass=0 fail=0 deviate=0
while read -r kind name version expect published; do
    case $kind in '#'*|'') continue ;; esac
    if [ "$kind" = auth ]; then
        "$mxr" auth --room-version "$version" <"$dir/auth/$name.json" >"$out" 2>"$err"
        rc=$?
        got=
        [ "$rc" = 0 ] && grep -q '^{"allowed":true}$' "$out" && got=allowed
        [ "$rc" = 0 ] && grep -q '^{"allowed":false,' "$out" && got=denied
        [ "$rc" = 1 ] && [ ! -s "$out" ] && got=malformed
        if [ "$got" = "$expect" ]; then
            pass=$((pass + 1))
            [ -n "${published:-}" ] && deviate=$((deviate + 1))
            [ "$verbose" = 1 ] && echo "ok $name: $(cat "$out") ${published:+(deviates: $published)}"
        else
            fail=$((fail + 1))
            echo "FAIL auth $name (room version $version): want $expect, exit $rc, stdout $(cat "$out")," \
                "stderr $(cat "$err")"
        fi
    elif [ "$kind" = resolve ]; then
        "$mxr" resolve --room-version "$version" <"$dir/stateres/$name.json" >"$out" 2>"$err"
        rc=$?
        if [ "$rc" = 0 ] && cmp -s "$out" "$dir/stateres/$name.expected"; then
            pass=$((pass + 1))
            [ -n "${published:-}" ] && deviate=$((deviate + 1))
            [ "$verbose" = 1 ] && echo "ok $name"
        else
            fail=$((fail + 1))
            echo "FAIL resolve $name (room version $version): exit $rc, stderr $(cat "$err")"
            echo "  got:  $(cat "$out")"
            echo "  want: $(cat "$dir/stateres/$name.expected")"
        fi
    else
        echo "FAIL: unknown kind '$kind' in cases.list"
        fail=$((fail + 1))
    fi
done <"$dir/cases.list"

echo "published rules: $pass passed ($deviate deliberately not following the published verdict), $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
