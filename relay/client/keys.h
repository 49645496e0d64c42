/* What the rest of the daemon tells the E2EE key side (relay/client/keys*.c). */
#ifndef MXR_RELAY_CLIENT_KEYS_H
#define MXR_RELAY_CLIENT_KEYS_H

#include <jansson.h>

struct mxr_server;

/* A /send transaction from `origin` carried these EDUs: for each
 * m.device_list_update and m.signing_key_update about a user of origin,
 * the user moves on our device-list stream, so that our users sharing a
 * room with them see them in /sync device_lists.changed and query their
 * keys again (over federation: remote keys are not cached). Call without
 * a read transaction held. Failures are logged. */
void mxr_keys_remote_changed(struct mxr_server *srv, const char *origin, const json_t *edus);

#endif
