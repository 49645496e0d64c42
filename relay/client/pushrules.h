/* Push rules (relay/client/pushrules.c): the route handlers. */
#ifndef MXR_RELAY_CLIENT_PUSHRULES_H
#define MXR_RELAY_CLIENT_PUSHRULES_H

struct mxr_request;
struct mxr_response;

void cl_h_pushrules_all(struct mxr_request *req, struct mxr_response *resp);     /* GET /pushrules/ */
void cl_h_pushrules_global(struct mxr_request *req, struct mxr_response *resp);  /* GET /pushrules/global/ */
void cl_h_pushrule_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_pushrule_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_pushrule_delete(struct mxr_request *req, struct mxr_response *resp);
void cl_h_pushrule_enabled_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_pushrule_enabled_put(struct mxr_request *req, struct mxr_response *resp);
void cl_h_pushrule_actions_get(struct mxr_request *req, struct mxr_response *resp);
void cl_h_pushrule_actions_put(struct mxr_request *req, struct mxr_response *resp);

#endif
