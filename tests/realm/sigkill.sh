#!/bin/sh
# A guess answered is a guess counted, even when the realm dies right after
# replying (design pin-recovery-and-payments.md §6.4 item 2, §6.11 item 7):
# the child registers a user, then three times answers one recover2 and
# SIGKILLs itself at once; each restart must find every answered guess.
set -eu
B=${MXR_BUILDDIR:-.}
CHILD=$B/tests/realm/sigkill_child
D=$(mktemp -d "${TMPDIR:-/tmp}/mxr-sigkill-XXXXXX")
trap 'rm -rf "$D"' EXIT INT TERM
"$CHILD" "$D" register >/dev/null
for i in 1 2 3; do
    set +e
    out=$("$CHILD" "$D" guess)
    rc=$?
    set -e
    if [ "$rc" -ne 137 ]; then
        echo "FAIL: guess $i: exit status $rc, expected death by SIGKILL (137)"
        exit 1
    fi
    if [ "$out" != "replied $i" ]; then
        echo "FAIL: guess $i: the reply said '$out'"
        exit 1
    fi
    n=$("$CHILD" "$D" count)
    if [ "$n" != "$i" ]; then
        echo "FAIL: after SIGKILL right after reply $i the store holds guess count $n"
        exit 1
    fi
done
echo "ok: 3 guesses answered, SIGKILLed after each reply, all 3 counted after restart"
