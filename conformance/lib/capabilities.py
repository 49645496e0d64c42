"""What the target offers, found by probing.

An endpoint is "offered" unless the target answers a request for it with
404 or 405 and errcode M_UNRECOGNIZED, which the spec reserves for unknown
endpoints and methods (server-server-api §Unsupported endpoints). Probes are
unauthenticated: routing happens before authentication, so an offered
authenticated endpoint answers 401, a missing one M_UNRECOGNIZED.
"""
import urllib.parse

from .core import NOT_IMPLEMENTED, UNAVAILABLE

FED = "/_matrix/federation"
CLIENT = "/_matrix/client/v3"
P_ROOM = urllib.parse.quote("!conformance-probe:invalid", safe="")
P_EVENT = urllib.parse.quote("$conformance-probe", safe="")
P_USER = urllib.parse.quote("@conformance-probe:invalid", safe="")

# name -> (method, path, body, kind of skip when missing)
ENDPOINTS = {
    "send": ("PUT", FED + "/v1/send/conformance-probe", {}, NOT_IMPLEMENTED),
    "event": ("GET", FED + "/v1/event/" + P_EVENT, None, NOT_IMPLEMENTED),
    "state": ("GET", FED + "/v1/state/%s?event_id=%s" % (P_ROOM, P_EVENT), None, NOT_IMPLEMENTED),
    "state_ids": ("GET", FED + "/v1/state_ids/%s?event_id=%s" % (P_ROOM, P_EVENT), None, NOT_IMPLEMENTED),
    "backfill": ("GET", FED + "/v1/backfill/%s?v=%s&limit=1" % (P_ROOM, P_EVENT), None, NOT_IMPLEMENTED),
    "get_missing_events": ("POST", FED + "/v1/get_missing_events/" + P_ROOM, {}, NOT_IMPLEMENTED),
    "event_auth": ("GET", FED + "/v1/event_auth/%s/%s" % (P_ROOM, P_EVENT), None, NOT_IMPLEMENTED),
    "timestamp_to_event": ("GET", FED + "/v1/timestamp_to_event/%s?ts=0&dir=f" % P_ROOM, None, NOT_IMPLEMENTED),
    "make_join": ("GET", FED + "/v1/make_join/%s/%s" % (P_ROOM, P_USER), None, NOT_IMPLEMENTED),
    "send_join": ("PUT", FED + "/v2/send_join/%s/%s" % (P_ROOM, P_EVENT), {}, NOT_IMPLEMENTED),
    "make_leave": ("GET", FED + "/v1/make_leave/%s/%s" % (P_ROOM, P_USER), None, NOT_IMPLEMENTED),
    "send_leave": ("PUT", FED + "/v2/send_leave/%s/%s" % (P_ROOM, P_EVENT), {}, NOT_IMPLEMENTED),
    "invite": ("PUT", FED + "/v2/invite/%s/%s" % (P_ROOM, P_EVENT), {}, NOT_IMPLEMENTED),
    "make_knock": ("GET", FED + "/v1/make_knock/%s/%s?ver=11" % (P_ROOM, P_USER), None, NOT_IMPLEMENTED),
    "send_knock": ("PUT", FED + "/v1/send_knock/%s/%s" % (P_ROOM, P_EVENT), {}, NOT_IMPLEMENTED),
    "query/profile": ("GET", FED + "/v1/query/profile?user_id=" + P_USER, None, NOT_IMPLEMENTED),
    "query/directory": ("GET", FED + "/v1/query/directory?room_alias=%23conformance-probe%3Ainvalid", None,
                        NOT_IMPLEMENTED),
    "user/devices": ("GET", FED + "/v1/user/devices/" + P_USER, None, NOT_IMPLEMENTED),
    "user/keys/query": ("POST", FED + "/v1/user/keys/query", {}, NOT_IMPLEMENTED),
    "user/keys/claim": ("POST", FED + "/v1/user/keys/claim", {}, NOT_IMPLEMENTED),
    "publicRooms": ("GET", FED + "/v1/publicRooms", None, NOT_IMPLEMENTED),
    "publicRooms-post": ("POST", FED + "/v1/publicRooms", {}, NOT_IMPLEMENTED),
    "hierarchy": ("GET", FED + "/v1/hierarchy/" + P_ROOM, None, NOT_IMPLEMENTED),
    "openid/userinfo": ("GET", FED + "/v1/openid/userinfo?access_token=conformance-probe", None, NOT_IMPLEMENTED),
    # Removed from the spec (matrix-spec#1350); servers may still serve it.
    "key-server-legacy": ("GET", "/_matrix/key/v2/server/ed25519%3Aconformance", None, UNAVAILABLE),
    "key-query-legacy": ("GET", "/_matrix/key/v2/query/conformance.invalid/ed25519%3Aconformance", None, UNAVAILABLE),
    # The client API, used to build fixtures (a room the target is resident in).
    "client-register": ("POST", CLIENT + "/register", {}, NOT_IMPLEMENTED),
    "client-createRoom": ("POST", CLIENT + "/createRoom", {}, NOT_IMPLEMENTED),
    "client-send": ("PUT", CLIENT + "/rooms/%s/send/m.room.message/conformance-probe" % P_ROOM, {}, NOT_IMPLEMENTED),
    "client-openid": ("POST", CLIENT + "/user/%s/openid/request_token" % P_USER, {}, NOT_IMPLEMENTED),
}


def _auth_candidates(target_name):
    """Harmless authenticated requests, for the request-authentication cases:
    (capability, method, path, body)."""
    nobody = urllib.parse.quote("@conformance-nobody:%s" % target_name, safe="")
    room = urllib.parse.quote("!conformance-nowhere:%s" % target_name, safe="")
    get = [("query/profile", "GET", FED + "/v1/query/profile?user_id=" + nobody, None),
           ("user/devices", "GET", FED + "/v1/user/devices/" + nobody, None),
           ("state_ids", "GET", FED + "/v1/state_ids/%s?event_id=%s" % (room, P_EVENT), None),
           ("event", "GET", FED + "/v1/event/" + P_EVENT, None),
           ("publicRooms", "GET", FED + "/v1/publicRooms?limit=1", None),
           ("hierarchy", "GET", FED + "/v1/hierarchy/" + room, None)]
    body = [("user/keys/query", "POST", FED + "/v1/user/keys/query", {"device_keys": {}}),
            ("publicRooms-post", "POST", FED + "/v1/publicRooms", {"limit": 1}),
            ("user/keys/claim", "POST", FED + "/v1/user/keys/claim", {"one_time_keys": {}})]
    return get, body


class Offer:
    """The outcome of a probe: offered or not, why, and what a composite
    capability chose (e.g. which endpoint to test authentication on)."""

    def __init__(self, offered, reason="", kind=NOT_IMPLEMENTED, info=None):
        self.offered = offered
        self.reason = reason
        self.kind = kind
        self.info = info


def probe(run, target, name):
    if name in ENDPOINTS:
        method, path, body, kind = ENDPOINTS[name]
        ex = run.client.request(target.base_url, method, path, body, ca_file=target.ca_file)
        if ex.error:
            return Offer(False, "probe %s failed: %s" % (name, ex.error), NOT_IMPLEMENTED)
        if ex.status in (404, 405) and ex.errcode == "M_UNRECOGNIZED":
            shown = path.split("?")[0].replace(P_ROOM, "{roomId}").replace(P_EVENT, "{eventId}").replace(
                P_USER, "{userId}")
            return Offer(False, "not implemented by target: %s %s (%d M_UNRECOGNIZED)" % (method, shown, ex.status),
                         kind)
        return Offer(True, info={"method": method, "path": path})
    if name in ("fed-auth", "fed-auth-body"):
        get, body = _auth_candidates(target.server_name)
        for cap, method, path, b in (get if name == "fed-auth" else body):
            if run.capability(target, cap).offered:
                return Offer(True, info={"capability": cap, "method": method, "path": path, "body": b})
        return Offer(False, "not implemented by target: no authenticated federation endpoint %s is routed"
                     % ("taking a request body" if name == "fed-auth-body" else "answering GET"), NOT_IMPLEMENTED)
    if name == "room":
        # A room on the target that fake servers can join: made by a local user
        # through the client API, joined over make_join/send_join.
        for cap in ("client-register", "client-createRoom", "make_join", "send_join"):
            o = run.capability(target, cap)
            if not o.offered:
                return Offer(False, "room fixture needs %s: %s" % (cap, o.reason), o.kind)
        return Offer(True)
    if name == "cluster":
        # Private relays for a multi-relay scenario (Context.cluster).
        if run.cluster_args is None:
            return Offer(False, run.no_cluster, UNAVAILABLE)
        return Offer(True)
    raise KeyError("unknown capability %r" % name)
