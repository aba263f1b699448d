/* storage_gateway.h: the start-up and shut-down both storage gateways (ecs-ossd, ecs-otsd)
 * share. Their config section holds the common keys of STORAGE_GATEWAY_OPTIONS; open()
 * parses the command line, loads the config, sets up logging, reads the host key, blocks the
 * signals serve() waits for, and opens the key cache and the pool. */
#ifndef STORAGE_GATEWAY_H
#define STORAGE_GATEWAY_H

#include <rados/librados.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http_server.h"
#include "prom.h"

struct storage_keys;

/* The config options every gateway has, in its own section SEC, with its defaults for the
 * API port, the cephx user and the RADOS pool. */
#define STORAGE_GATEWAY_OPTIONS(SEC, PORT, CEPH_USER, POOL)                                                       \
	{ SEC, "listen_address", ECS_CONFIG_STRING, "127.0.0.1", 0, 0, "API address" },                           \
	{ SEC, "port", ECS_CONFIG_INT, PORT, 0, 65535, "API port (0: any, tests)" },                               \
	{ SEC, "max_connections", ECS_CONFIG_INT, "512", 1, 65536, "connections served at once" },                 \
	{ SEC, "controller_url", ECS_CONFIG_STRING, "http://127.0.0.1:8773", 0, 0, "where keys are asked" },       \
	{ SEC, "host_key_file", ECS_CONFIG_STRING, "/etc/ecs/host.key", 0, 0, "signs calls to the controller" },   \
	{ SEC, "key_cache_s", ECS_CONFIG_INT, "30", 0, 3600, "how long a key is kept" },                           \
	{ SEC, "ceph_conf", ECS_CONFIG_STRING, "/var/lib/ecs/ceph/ceph.conf", 0, 0, "the cluster's ceph.conf" },   \
	{ SEC, "ceph_user", ECS_CONFIG_STRING, CEPH_USER, 0, 0, "the cephx user" },                                \
	{ SEC, "keyring", ECS_CONFIG_STRING, "", 0, 0, "its keyring (empty: keys/ceph.USER.keyring beside ceph_conf)" }, \
	{ SEC, "pool", ECS_CONFIG_STRING, POOL, 0, 0, "the RADOS pool" },                                          \
	{ SEC, "log_level", ECS_CONFIG_STRING, "info", 0, 0, "debug, info, warn, error" }

/* Where a gateway's HTTP API listens: its listen_address, port and max_connections; and
 * its /metrics: the request table the server counts into and the token it asks for. */
struct storage_api_config {
	const char *address;
	uint16_t port;
	unsigned max_connections;
	struct ecs_prom *metrics;
	const char *metrics_token;
};

struct storage_gateway {
	const char *prog;    /* "ecs-otsd" */
	const char *section; /* "ots" */
	struct ecs_config *cfg;
	struct storage_keys *keys;
	rados_t cluster;
	rados_ioctx_t io;
	sigset_t sigs;
	/* /metrics: requests counted as ecs_<section>_requests_total{operation,status} ... */
	char metrics_prefix[32];
	struct ecs_prom_names metrics_names;
	struct ecs_prom *metrics;
	char metrics_token[ECS_PROM_TOKEN_LEN + 1];
};

/* -1 when the gateway may go on; otherwise the exit code for main() (0 after --help;
 * everything closed). */
int storage_gateway_open(struct storage_gateway *g, const struct ecs_config_option *options, size_t n_options,
			 int argc, char **argv, void (*usage)(void));
void storage_gateway_api_config(const struct storage_gateway *g, struct storage_api_config *ret);
/* Logs "<name> ready" (ossd, otsd), waits for SIGTERM or SIGINT, logs "<name> stopping" and
 * stops srv. */
void storage_gateway_serve(struct storage_gateway *g, const struct storage_api_config *ac,
			   struct ecs_http_server *srv);
/* GET /metrics of a gateway: 401 without the token (prom.h), else the request table. */
void storage_gateway_metrics(const struct ecs_http_request *req, struct ecs_http_response *resp,
			     struct ecs_prom *metrics, const char *token);
/* Accepts a gateway that open() refused or never opened. */
void storage_gateway_close(struct storage_gateway *g);

#endif
