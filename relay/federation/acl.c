/* Server ACLs (client-server API "Server Access Control Lists (ACLs) for
 * rooms", the m.room.server_acl schema; server-server API "Server Access
 * Control Lists (ACLs)" says where they apply). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mxr/ids.h"
#include "mxr/json.h"
#include "relay/federation/inbound.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

bool mxr_acl_glob(const char *p, const char *s)
{
    /* Iterative matcher: on a mismatch, let the last '*' swallow one more
     * character. Linear in practice, O(n*m) at worst; no recursion. */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* Whether any string of the array `list` matches host (non-strings are
 * skipped, a non-array is an empty list, as the schema's defaults say). */
static bool any_match(const json_t *list, const char *host)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(list))
        return false;
    json_array_foreach(list, i, v)
        if (json_is_string(v) && mxr_acl_glob(json_string_value(v), host))
            return true;
    return false;
}

bool mxr_acl_allows(const json_t *content, const char *server_name)
{
    struct mxr_server_name sn;
    /* A name that is not a server name cannot be allowed by any rule. */
    if (!server_name || mxr_server_name_parse(server_name, &sn, NULL) < 0)
        return false;
    /* "the suspect server's port number must not be considered"; an IPv6
     * literal keeps its brackets, as it is written in server names. */
    char host[260];
    snprintf(host, sizeof host, sn.kind == MXR_HOST_IPV6 ? "[%s]" : "%s", sn.host);
    if (!json_is_object(content))
        return false;   /* an ACL event without an object content allows nobody */
    /* 2. allow_ip_literals defaults to true unless it is the boolean false. */
    const json_t *ip = json_object_get(content, "allow_ip_literals");
    if (sn.kind != MXR_HOST_DNS && json_is_false(ip))
        return false;
    /* 3. deny, 4. allow, 5. otherwise deny. */
    if (any_match(json_object_get(content, "deny"), host))
        return false;
    return any_match(json_object_get(content, "allow"), host);
}

int mxr_acl_check(struct mxr_store_txn *txn, const char *room_id, const char *server, struct mxr_err *err)
{
    char acl_id[MXR_STORE_ID_MAX + 1];
    /* 1. No m.room.server_acl in the current state (or no such room): allow. */
    int rc = mxr_store_room_current_get(txn, room_id, "m.room.server_acl", "", acl_id, err);
    if (rc < 0)
        return -1;
    if (rc == MXR_STORE_NOT_FOUND)
        return 0;
    /* As served: a redacted ACL keeps no content, hence allows nobody. */
    struct mxr_err e = { 0 };
    json_t *pdu = mxr_rooms_event_pdu(txn, acl_id, &e);
    if (!pdu)
        return mxr_err_set(err, "M_UNKNOWN", "the room's server ACL %.100s cannot be read: %s", acl_id, e.msg);
    bool ok = mxr_acl_allows(json_object_get(pdu, "content"), server);
    json_decref(pdu);
    if (!ok)
        return mxr_err_set(err, "M_FORBIDDEN", "server %.200s is denied access to room %.100s by its server ACL (%.100s)",
                           server, room_id, acl_id);
    return 0;
}
