/* rpc.h: the ECS/SLB API endpoint: Alibaba Cloud's RPC wire format on "/" (GET query or
 * POST form; docs/ecs-api.md). The server with all its routes is api_server.h.
 *
 * Order of checks, each with ECS's error: Action (MissingParameter), the signature (V1
 * parameters or the V3 Authorization header: InvalidAccessKeyId.NotFound,
 * SignatureDoesNotMatch), Timestamp within 15 min (InvalidTimeStamp.Expired), the nonce
 * not seen in 15 min (SignatureNonceUsed), the account's rate (Throttling), Version, the
 * action (InvalidApi.NotFound), RegionId, ClientToken (a repeat answers as the first). */
#ifndef CTL_RPC_H
#define CTL_RPC_H

#include "ctl.h"
#include "http_server.h"

#define CTL_TIMESTAMP_WINDOW_S 900
#define CTL_MAX_BODY (1024 * 1024)

/* One call on "/" (req->userdata is the struct ctl): what the server's route runs, and
 * what the unit tests call without a socket. */
void ctl_rpc_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

/* The rest of a call once its caller is known (call->account set: by a signature, or by a
 * console session, console.h): Version, the action, RegionId, the parameters' checks,
 * ClientToken and the action itself; the answer or the error in resp. The one path every
 * action takes, whichever way its caller signed in. */
void ctl_rpc_dispatch(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp,
		      const char *version, bool xml);
/* The errors the HTTP server raises itself (no route, body too large), in the API's format. */
void ctl_rpc_server_error(const struct ecs_http_request *req, struct ecs_http_response *resp, enum ecs_http_error err,
			  int status, const char *message);
/* The call's recorded failure as the API's error body (counted in the metrics). */
void ctl_rpc_reply_failure(struct ctl_call *call, const struct ecs_http_request *req, struct ecs_http_response *resp,
			   bool xml);

/* Per-account token buckets. */
int ctl_throttle_new(double rate, int burst, struct ctl_throttle **ret);
void ctl_throttle_free(struct ctl_throttle *t);
/* true when the account may make one more request at now_ms. */
bool ctl_throttle_take(struct ctl_throttle *t, const char *account_id, long long now_ms);

#endif
