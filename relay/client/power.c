/* Power-level checks the client API makes before acting for a user (the
 * auth rules decide on events; these decide on requests around them). */
#include "relay/client/client_int.h"

#include "mxr/auth.h"
#include "mxr/event.h"
#include "mxr/roomver.h"
#include "relay/rooms/rooms.h"

int cl_room_power(struct mxr_store_txn *t, const char *room_id, const char *user_id, const char *level_name,
                  const char *state_type, bool *ok, struct mxr_err *err)
{
    *ok = false;
    char ver[MXR_STORE_VERSION_MAX + 1], create_id[MXR_STORE_ID_MAX + 1], pl_id[MXR_STORE_ID_MAX + 1];
    if (mxr_store_room_version(t, room_id, ver, err))
        return -1;
    const struct mxr_room_version *rv = mxr_room_version_get(ver, err);
    if (!rv || mxr_store_room_current_get(t, room_id, "m.room.create", "", create_id, err) != 0)
        return -1;
    bool have_pl = mxr_store_room_current_get(t, room_id, "m.room.power_levels", "", pl_id, err) == 0;
    json_t *cpdu = mxr_rooms_event_pdu(t, create_id, err), *ppdu = have_pl ? mxr_rooms_event_pdu(t, pl_id, err) : NULL;
    struct mxr_event create = {0}, pl = {0};
    int rc = -1;
    if (cpdu && (!have_pl || ppdu) && mxr_event_load(&create, cpdu, rv, 0, err) == 0) {
        if (!ppdu || mxr_event_load(&pl, ppdu, rv, 0, err) == 0) {
            const struct mxr_event *p = ppdu ? &pl : NULL;
            int64_t need = level_name ? mxr_auth_named_level(rv, p, level_name)
                                      : mxr_auth_event_level(rv, p, state_type, true);
            *ok = mxr_auth_user_level(rv, &create, p, user_id) >= need;
            rc = 0;
            if (ppdu)
                mxr_event_release(&pl);
        }
        mxr_event_release(&create);
    }
    json_decref(cpdu);
    json_decref(ppdu);
    return rc;
}
