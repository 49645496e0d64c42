/* Identifier grammar (spec appendices.md, "Identifier Grammar"): server
 * names, user IDs, room IDs, event IDs, room aliases, signing key IDs.
 *
 * All checkers take a NUL-terminated string (IDs cannot contain NUL), return
 * 0 when it is valid and -1 with err set (M_INVALID_PARAM) otherwise; the
 * message names the rule that failed. Comparisons are case-sensitive, as the
 * spec requires; nothing is normalised.
 */
#ifndef MXR_IDS_H
#define MXR_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "mxr/error.h"
#include "mxr/roomver.h"

/* User IDs, room IDs, aliases and event IDs: at most 255 bytes, sigil and
 * domain included. */
#define MXR_ID_MAX_LEN 255

/* ---- server names -------------------------------------------------------- */

enum mxr_host_kind { MXR_HOST_DNS = 1, MXR_HOST_IPV4, MXR_HOST_IPV6 };

struct mxr_server_name {
    enum mxr_host_kind kind;
    char host[256];   /* DNS name or IPv4 literal as written; IPv6 without brackets */
    int port;         /* 0-65535, or -1 when the name has no port */
};

/* Parses `hostname [":" port]`: hostname is an IPv4 dotted quad (each part
 * 0-255), "[" IPv6 "]" (RFC 3513 syntax, checked with inet_pton) or a DNS name
 * of 1-255 characters [A-Za-z0-9.-]; port is 1-5 digits. The grammar allows
 * ports up to 99999; values above 65535 are refused as unreachable. A string
 * shaped like a dotted quad is an IPv4 literal, so "1.2.3.256" is invalid.
 * out may be NULL. */
int mxr_server_name_parse(const char *s, struct mxr_server_name *out, struct mxr_err *err);

static inline bool mxr_id_valid_server_name(const char *s)
{
    return mxr_server_name_parse(s, NULL, NULL) == 0;
}

/* ---- user IDs ------------------------------------------------------------ */

enum mxr_user_grammar {
    /* Current grammar (v1.8+): localpart 1+ of [a-z0-9._=/+-]. What we
     * allocate and what clients should see. */
    MXR_USER_STRICT = 1,
    /* "Compliant" historical IDs: localpart 1+ characters U+0021-U+007E
     * except ':'. The spec says IDs outside this SHOULD NOT be forwarded to
     * clients outside an event (e.g. device list updates). */
    MXR_USER_COMPAT,
    /* What servers MUST accept over federation: localpart of any valid
     * non-surrogate code points except ':' and NUL, possibly empty. */
    MXR_USER_HISTORICAL,
};

/* "@" localpart ":" server_name, at most 255 bytes. */
int mxr_id_check_user(const char *s, enum mxr_user_grammar g, struct mxr_err *err);

/* ---- room IDs, event IDs, aliases ----------------------------------------- */

/* Pass as `fmt` to accept the ID in any room version's form (e.g. a room ID
 * in a URL before the room's version is known). */
#define MXR_ID_ANY_FORMAT ((enum mxr_event_format)0)

/* Room ID. Event formats V1-V3 (room versions 1-11): "!" opaque ":"
 * server_name with opaque any valid UTF-8 without ':' (may be empty).
 * V4 (room version 12): "!" + 43 characters of URL-safe unpadded base64 (the
 * create event's reference hash), no domain. */
int mxr_id_check_room(const char *s, enum mxr_event_format fmt, struct mxr_err *err);

/* Event ID. V1 (room versions 1-2): "$" opaque ":" server_name. V2 (v3):
 * "$" + 43 characters of standard unpadded base64. V3/V4 (v4+): "$" + 43
 * characters of URL-safe unpadded base64. The hash forms must decode to 32
 * bytes with no stray bits. */
int mxr_id_check_event(const char *s, enum mxr_event_format fmt, struct mxr_err *err);

/* Room alias: "#" opaque ":" server_name, at most 255 bytes. */
int mxr_id_check_alias(const char *s, struct mxr_err *err);

/* The server name of an ID of the form sigil localpart ":" domain: a pointer
 * into s just after the first ':' (localparts cannot contain ':'), or NULL
 * when s has no ':' (v3+ event IDs, v12 room IDs). Does not validate s:
 * check the ID first. This is "the sender's domain" of the auth rules. */
const char *mxr_id_domain(const char *s);

/* ---- signing key IDs ------------------------------------------------------- */

/* "ed25519:" version, version 1+ of [A-Za-z0-9_] (server-server API, keys
 * definition). The only algorithm servers support. */
int mxr_id_check_key_id(const char *s, struct mxr_err *err);

#endif
