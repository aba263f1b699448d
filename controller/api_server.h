/* api_server.h: the controller's one HTTP server and its routes: the ECS/SLB API on "/"
 * (rpc.h), the agents' calls on "/agent/v1/" (hosts.h), the storage gateways' on
 * "/storage/v1/" (storage_keys.h), the web console on "/console/" (console.h) and the
 * Prometheus metrics on "/metrics" (metrics.h, with its bearer token). */
#ifndef CTL_API_SERVER_H
#define CTL_API_SERVER_H

#include "ctl.h"

int ctl_rpc_start(struct ctl *c);
void ctl_rpc_stop(struct ctl *c);

#endif
