#!/bin/sh
# Federation scenario (see fed_gaps.py): relays spawned with conformance/spawn.
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/federation/fed_gaps.py"
