#!/bin/sh
# Black-box test of the client API rate limits over HTTP: see ratelimit_http.py.
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 is not installed"; exit 77; }
exec /usr/bin/python3 "${MXR_SRCDIR:-$(dirname "$0")/../..}/tests/client/ratelimit_http.py"
