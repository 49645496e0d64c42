"""The federation scenario helpers live in the conformance suite
(conformance/lib/cluster.py); scripts under tests/federation import them from
here under their old name."""
import os
import sys

# Appended, not prepended: conformance/lib/http.py must not shadow the standard library's http.
sys.path.append(os.path.join(os.environ.get("MXR_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", ".."),
                                "conformance", "lib"))

from cluster import CLIENT, SANITIZED, Cluster, Failure, Relay, User, log, run, wait_for  # noqa: E402,F401
