/* api.h: ecs-otsd's HTTP API: Tablestore's wire protocol (docs/ots-api.md). */
#ifndef OTS_API_H
#define OTS_API_H

#include <stdint.h>

#include "http_server.h"
#include "ots.h"

struct ots_api_config {
	const char *address;
	uint16_t port;
	unsigned max_connections;
};

int ots_api_start(struct ots *o, const struct ots_api_config *cfg, struct ecs_http_server **ret);

#endif
