#!/bin/sh
# E2EE keys across two spawned relays: see e2ee_keys.py. Skipped without
# /usr/bin/python3 and its signedjson / PyNaCl (the signing oracle).
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is not installed"; exit 77; }
/usr/bin/python3 -c 'import signedjson, nacl' 2>/dev/null || { echo "SKIP: python3-signedjson is not installed"; exit 77; }
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/federation/e2ee_keys.py"
