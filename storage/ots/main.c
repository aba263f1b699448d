/* ecs-otsd: the table service's gateway (Tablestore's wire protocol over RADOS). Stateless:
 * any host may run one. See docs/ots-api.md and docs/architecture.md. */
#include <stdio.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "ots.h"
#include "storage_gateway.h"
#include "util.h"

static const struct ecs_config_option options[] = {
	STORAGE_GATEWAY_OPTIONS("ots", "8776", "client.ecs-otsd", "ecs-ots"),
	{ "ots", "max_tables", ECS_CONFIG_INT, "64", 1, 100000, "tables in an instance" },
	{ "ots", "txn_idle_s", ECS_CONFIG_INT, "60", 1, 3600, "idle seconds that end a local transaction" },
};

static void usage(void)
{
	printf("usage: ecs-otsd [-c CONFIG]\nSee docs/ots-api.md and docs/configuration.md.\n");
}

int main(int argc, char **argv)
{
	static struct ots o;
	struct storage_gateway g = { .prog = "ecs-otsd", .section = "ots" };
	struct ecs_http_server *srv = NULL;
	struct storage_api_config ac;
	int r;

	r = storage_gateway_open(&g, options, ARRAY_SIZE(options), argc, argv, usage);
	if (r >= 0)
		return r;
	o = (struct ots){ .cluster = g.cluster, .io = g.io, .keys = g.keys,
			  .max_tables = (unsigned)ecs_config_int(g.cfg, "ots", "max_tables"),
			  .txn_idle_s = (int)ecs_config_int(g.cfg, "ots", "txn_idle_s") };
	storage_gateway_api_config(&g, &ac);
	if (ots_api_start(&o, &ac, &srv) < 0) {
		storage_gateway_close(&g);
		return 1;
	}
	storage_gateway_serve(&g, &ac, srv);
	storage_gateway_close(&g);
	return 0;
}
