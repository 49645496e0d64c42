#!/bin/sh
# Published test cases of other Matrix implementations and of the spec,
# re-expressed as fixtures (tests/proto/published/*.json, sources in README.md),
# run through `mxr` by run.py. Needs /usr/bin/python3 with canonicaljson
# (Debian python3-canonicaljson) as the oracle for canonical comparisons.
mxr=${MXR_BUILDDIR:-.}/mxr
dir=${MXR_SRCDIR:-.}/tests/proto/published
[ -x "$mxr" ] || { echo "FAIL: $mxr not built"; exit 1; }
if ! /usr/bin/python3 -c 'import canonicaljson' 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 with canonicaljson is not available"
    exit 77
fi
exec /usr/bin/python3 "$dir/run.py" "$mxr" "$dir"
