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
	{ "ots", "listen_address", ECS_CONFIG_STRING, "127.0.0.1", 0, 0, "API address" },
	{ "ots", "port", ECS_CONFIG_INT, "8776", 0, 65535, "API port (0: any, tests)" },
	{ "ots", "max_connections", ECS_CONFIG_INT, "512", 1, 65536, "connections served at once" },
	{ "ots", "controller_url", ECS_CONFIG_STRING, "http://127.0.0.1:8773", 0, 0, "where keys are asked" },
	{ "ots", "host_key_file", ECS_CONFIG_STRING, "/etc/ecs/host.key", 0, 0, "signs calls to the controller" },
	{ "ots", "key_cache_s", ECS_CONFIG_INT, "30", 0, 3600, "how long a key is kept" },
	{ "ots", "max_tables", ECS_CONFIG_INT, "64", 1, 100000, "tables in an instance" },
	{ "ots", "ceph_conf", ECS_CONFIG_STRING, "/var/lib/ecs/ceph/ceph.conf", 0, 0, "the cluster's ceph.conf" },
	{ "ots", "ceph_user", ECS_CONFIG_STRING, "client.ecs-otsd", 0, 0, "the cephx user" },
	{ "ots", "keyring", ECS_CONFIG_STRING, "", 0, 0, "its keyring (empty: keys/ceph.USER.keyring beside ceph_conf)" },
	{ "ots", "pool", ECS_CONFIG_STRING, "ecs-ots", 0, 0, "the RADOS pool" },
	{ "ots", "log_level", ECS_CONFIG_STRING, "info", 0, 0, "debug, info, warn, error" },
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
	int r;

	r = storage_gateway_open(&g, options, ARRAY_SIZE(options), argc, argv, usage);
	if (r >= 0)
		return r;
	o = (struct ots){ .cluster = g.cluster, .io = g.io, .keys = g.keys,
			  .max_tables = (unsigned)ecs_config_int(g.cfg, "ots", "max_tables") };
	{
		struct ots_api_config ac = {
			.address = ecs_config_str(g.cfg, "ots", "listen_address"),
			.port = (uint16_t)ecs_config_int(g.cfg, "ots", "port"),
			.max_connections = (unsigned)ecs_config_int(g.cfg, "ots", "max_connections"),
		};

		if (ots_api_start(&o, &ac, &srv) < 0) {
			storage_gateway_close(&g);
			return 1;
		}
		log_info("otsd ready", "api=%s:%u pool=%s", ac.address, ecs_http_server_port(srv),
			 ecs_config_str(g.cfg, "ots", "pool"));
	}
	log_info("otsd stopping", "signal=%d", storage_gateway_wait(&g));
	ecs_http_server_stop(srv);
	storage_gateway_close(&g);
	return 0;
}
