"""The conformance suite's library: fake homeserver, signing, events, runner.

Cases import what they need from here:

    from lib import case, check, expect_json, expect_error, Skip
"""
from .core import (NOT_IMPLEMENTED, UNAVAILABLE, Fail, Skip, case, check, expect_error, expect_json,
                   expect_not_unauthorized, expect_rejected, expect_status)

__all__ = ["case", "check", "expect_status", "expect_json", "expect_error", "expect_rejected",
           "expect_not_unauthorized", "Skip", "Fail", "NOT_IMPLEMENTED", "UNAVAILABLE"]
