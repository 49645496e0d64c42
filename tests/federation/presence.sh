#!/bin/sh
# Presence between two spawned relays: see presence.py.
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is not installed"; exit 77; }
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/federation/presence.py"
