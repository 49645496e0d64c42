/* Room aliases and the public room list, client side (client-server API
 * "Room aliases", "Listing rooms"; directory.yaml, list_public_rooms.yaml). */
#ifndef MXR_RELAY_CLIENT_ALIASES_H
#define MXR_RELAY_CLIENT_ALIASES_H

#include "relay/http/http.h"

/* aliases.c: PUT/GET/DELETE /directory/room/{roomAlias}, GET /rooms/{roomId}/aliases */
void cl_h_alias_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_alias_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_alias_delete(struct mxr_request *req, struct mxr_response *resp);
void cl_h_room_aliases(struct mxr_request *req, struct mxr_response *resp);

/* directory.c: GET and POST /publicRooms */
void cl_h_public_rooms_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_public_rooms_post(struct mxr_request *req, struct mxr_response *resp);

#endif
