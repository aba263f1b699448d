/* api.h: ecs-otsd's HTTP API: Tablestore's wire protocol (docs/ots-api.md). */
#ifndef OTS_API_H
#define OTS_API_H

#include "http_server.h"
#include "ots.h"
#include "storage_gateway.h"

int ots_api_start(struct ots *o, const struct storage_api_config *cfg, struct ecs_http_server **ret);

#endif
