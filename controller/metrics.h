/* metrics.h: the controller's /metrics in Prometheus' text format (version 0.0.4).
 *
 * Requests are counted by action and the API's Code ("OK" for a success) with a latency
 * histogram per action; what the store holds is read at scrape time: hosts up and down,
 * instances by status, queued jobs by kind, console sessions. An action a client names
 * that the table does not know is counted as "unknown", so no client can grow the series.
 *
 * The endpoint is guarded by a bearer token derived from the host key (never the key
 * itself): HMAC-SHA256(host key, "ecs-metrics") in hex, printed by
 * `ecs-controller metrics-token` for Prometheus' credentials_file (docs/operations.md). */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stddef.h>

#include "ctl.h"

/* At most this many (action, code) series; later ones are counted as dropped. */
#define CTL_METRICS_MAX_SERIES 4096

int ctl_metrics_new(struct ctl_metrics **ret);
void ctl_metrics_free(struct ctl_metrics *m);
/* One answered request. m may be NULL (nothing counted); action may be NULL or unknown. */
void ctl_metrics_request(struct ctl_metrics *m, const char *action, const char *code, long long ms);

/* The token /metrics asks for (65 bytes with the NUL). */
int ctl_metrics_token(const char *host_key, char out[65]);
/* The whole exposition, malloc'd (api_server.c serves it). */
char *ctl_metrics_render(struct ctl *c, size_t console_sessions);

#endif
