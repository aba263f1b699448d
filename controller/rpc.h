/* rpc.h: the ECS/SLB API endpoint: Alibaba Cloud's RPC wire format on "/" (GET query or
 * POST form; docs/ecs-api.md), and the agents' calls on "/agent/v1/" (hosts.h).
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

int ctl_rpc_start(struct ctl *c);
void ctl_rpc_stop(struct ctl *c);

/* One call on "/" (req->userdata is the struct ctl): what the server's route runs, and
 * what the unit tests call without a socket. */
void ctl_rpc_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

/* Per-account token buckets. */
int ctl_throttle_new(double rate, int burst, struct ctl_throttle **ret);
void ctl_throttle_free(struct ctl_throttle *t);
/* true when the account may make one more request at now_ms. */
bool ctl_throttle_take(struct ctl_throttle *t, const char *account_id, long long now_ms);

#endif
