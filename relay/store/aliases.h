/* Room aliases of this server beyond accounts.h (create with a creator,
 * delete, list a room's aliases) for the client-server API "Room aliases".
 * Same conventions as store.h. */
#ifndef MXR_RELAY_STORE_ALIASES_H
#define MXR_RELAY_STORE_ALIASES_H

#include <stdbool.h>

#include "relay/store/accounts.h"

/* As mxr_store_alias_create, remembering creator (a user ID) so that the
 * creator may delete the alias later. */
int mxr_store_alias_create_by(struct mxr_store_txn *txn, const char *alias, const char *room_id,
                              const char *creator, bool *created, struct mxr_err *err);
/* Removes the alias; 0, MXR_STORE_NOT_FOUND, -1. */
int mxr_store_alias_delete(struct mxr_store_txn *txn, const char *alias, struct mxr_err *err);
/* The creator of alias ("" when unknown: aliases made by createRoom);
 * 0, MXR_STORE_NOT_FOUND, -1. */
int mxr_store_alias_creator(struct mxr_store_txn *txn, const char *alias, char creator[MXR_STORE_ID_MAX + 1],
                            struct mxr_err *err);
/* Every alias of room_id, in alias order; cb returns nonzero to stop. */
int mxr_store_room_aliases(struct mxr_store_txn *txn, const char *room_id,
                           int (*cb)(void *arg, const char *alias), void *arg, struct mxr_err *err);

#endif
