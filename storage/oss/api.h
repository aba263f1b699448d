/* api.h: ecs-ossd's HTTP side: every request streams through api.c, which decodes its
 * target (path- or virtual-host-style), authenticates it (OSS V1 header or signed URL, or
 * anonymous), picks the operation and hands it to api_bucket.c or api_object.c. */
#ifndef OSS_API_H
#define OSS_API_H

#include "http_server.h"
#include "oss.h"
#include "storage_gateway.h"

/* Where the gateway answers /metrics (docs/operations.md). */
#define OSS_METRICS_PATH "/-/metrics"

int oss_api_start(struct oss *o, const struct storage_api_config *cfg, struct ecs_http_server **ret);

#endif
