#!/bin/sh
# Crash safety of the store (relay/store): a child writes events with graph
# edges and state in several threads, printing each event only after the
# commit holding it returned; it is killed with SIGKILL at a random moment,
# then the store must open cleanly with every reported event present, each
# room a gap-free prefix, and mxr_store_check passing. Repeated many times.
set -u
build=${MXR_BUILDDIR:-.}
child="$build/tests/store/crash_child"
kills=${MXR_CRASH_KILLS:-25}
rooms=4
[ -x "$child" ] || { echo "crash_test: $child not built" >&2; exit 99; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/mxr-crash-XXXXXX") || exit 99
trap 'rm -rf "$dir"' EXIT INT TERM

rand() {   # rand N: 0..N-1
    echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 ))
}

i=0
while [ "$i" -lt "$kills" ]; do
    "$child" write "$dir/store" "$rooms" >"$dir/report.$i" 2>"$dir/stderr.$i" &
    pid=$!
    # 20..500 ms: sometimes during open or the resume scan, mostly mid-write.
    ms=$(( 20 + $(rand 480) ))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    status=$?
    if [ "$status" -ne 137 ]; then
        echo "crash_test: writer exited by itself (status $status) in round $i:" >&2
        cat "$dir/stderr.$i" >&2
        exit 1
    fi
    if ! out=$("$child" verify "$dir/store" "$rooms" "$dir"/report.* 2>&1); then
        echo "crash_test: after SIGKILL $i (at ${ms} ms): $out" >&2
        exit 1
    fi
    i=$((i + 1))
done
reported=$(cat "$dir"/report.* | grep -c '^E ')
echo "crash_test: $kills SIGKILLs; $out; $reported events were reported committed"
[ "$reported" -gt 0 ] || { echo "crash_test: the writer never committed anything" >&2; exit 1; }
exit 0
