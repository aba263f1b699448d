/* metrics.h: the controller's /metrics in Prometheus' text format (version 0.0.4).
 *
 * Requests are counted by action and the API's Code ("OK" for a success) with a latency
 * histogram per action; what the store holds is read at scrape time: hosts up and down,
 * instances by status, queued jobs by kind, console sessions. An action a client names
 * that the table does not know is counted as "unknown", so no client can grow the series.
 *
 * The endpoint is guarded by the bearer token of lib/prom.h, printed by
 * `ecs-controller metrics-token` for Prometheus' credentials_file (docs/operations.md). */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stddef.h>

#include "ctl.h"
#include "prom.h"

/* The request table (lib/prom.h) under the controller's names; ecs_prom_free frees it. */
int ctl_metrics_new(struct ecs_prom **ret);
/* One answered request. m may be NULL (nothing counted); action may be NULL or unknown. */
void ctl_metrics_request(struct ecs_prom *m, const char *action, const char *code, long long ms);
/* The whole exposition, malloc'd (api_server.c serves it). */
char *ctl_metrics_render(struct ctl *c, size_t console_sessions);

#endif
