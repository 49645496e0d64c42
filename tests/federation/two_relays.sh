#!/bin/sh
# Federation scenario (see two_relays.py): relays spawned with conformance/spawn.
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/federation/two_relays.py"
