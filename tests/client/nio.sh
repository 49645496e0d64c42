#!/bin/sh
# matrix-nio (Debian's python3-matrix-nio) against one mxrelay over HTTPS:
# see nio_client.py. Skipped when the library is not installed.
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is not installed"; exit 77; }
/usr/bin/python3 -c 'import nio' 2>/dev/null || { echo "SKIP: python3-matrix-nio is not installed"; exit 77; }
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/client/nio_client.py"
