#!/bin/sh
# Federation scenario (see queue_persist.py): relays spawned with conformance/spawn.
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/federation/queue_persist.py"
