#include "storage_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "prom_http.h"
#include "storage_keys.h"
#include "storage_rados.h"
#include "util.h"

int storage_gateway_open(struct storage_gateway *g, const struct ecs_config_option *options, size_t n_options,
			 int argc, char **argv, void (*usage)(void))
{
	_cleanup_free_ char *err = NULL, *host_key = NULL;
	const char *config = NULL, *s = g->section;
	int r;

	r = ecs_daemon_args(argc, argv, false, usage, &config);
	if (r >= 0)
		return r;
	r = ecs_config_load(options, n_options, config, &g->cfg, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", g->prog, err ? err : strerror(-r));
		return 2;
	}
	ecs_daemon_log_setup(g->prog + strlen("ecs-"), ecs_config_str(g->cfg, s, "log_level"));
	if (ecs_daemon_host_key(g->prog, ecs_config_str(g->cfg, s, "host_key_file"), &host_key) < 0) {
		storage_gateway_close(g);
		return 2;
	}
	ecs_daemon_block_signals(&g->sigs);
	snprintf(g->metrics_prefix, sizeof(g->metrics_prefix), "ecs_%s", s);
	g->metrics_names = (struct ecs_prom_names){
		.prefix = g->metrics_prefix, .op_label = "operation", .code_label = "status", .bytes = true
	};
	if (ecs_prom_token(host_key, g->metrics_token) < 0 || ecs_prom_new(&g->metrics_names, &g->metrics) < 0) {
		storage_gateway_close(g);
		return 1;
	}
	if (storage_keys_new(ecs_config_str(g->cfg, s, "controller_url"), host_key,
			     (unsigned)ecs_config_int(g->cfg, s, "key_cache_s"), g->prog, &g->keys) < 0 ||
	    storage_rados_open(ecs_config_str(g->cfg, s, "ceph_conf"), ecs_config_str(g->cfg, s, "ceph_user"),
			       ecs_config_str(g->cfg, s, "keyring"), ecs_config_str(g->cfg, s, "pool"), &g->cluster,
			       &g->io) < 0) {
		storage_gateway_close(g);
		return 1;
	}
	return -1;
}

void storage_gateway_api_config(const struct storage_gateway *g, struct storage_api_config *ret)
{
	*ret = (struct storage_api_config){
		.address = ecs_config_str(g->cfg, g->section, "listen_address"),
		.port = (uint16_t)ecs_config_int(g->cfg, g->section, "port"),
		.max_connections = (unsigned)ecs_config_int(g->cfg, g->section, "max_connections"),
		.metrics = g->metrics,
		.metrics_token = g->metrics_token,
	};
}

void storage_gateway_serve(struct storage_gateway *g, const struct storage_api_config *ac,
			   struct ecs_http_server *srv)
{
	const char *name = g->prog + strlen("ecs-");
	char msg[64];
	int sig;

	snprintf(msg, sizeof(msg), "%s ready", name);
	log_info(msg, "api=%s:%u pool=%s", ac->address, ecs_http_server_port(srv),
		 ecs_config_str(g->cfg, g->section, "pool"));
	while (sigwait(&g->sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	snprintf(msg, sizeof(msg), "%s stopping", name);
	log_info(msg, "signal=%d", sig);
	ecs_http_server_stop(srv);
}

void storage_gateway_metrics(const struct ecs_http_request *req, struct ecs_http_response *resp,
			     struct ecs_prom *metrics, const char *token)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	resp->op = "Metrics";
	if (!ecs_prom_authorized(req, resp, token))
		return;
	f = open_memstream(&text, &len);
	if (f) {
		ecs_prom_render(f, metrics);
		if (fclose(f) != 0) {
			free(text);
			text = NULL;
		}
	}
	ecs_prom_reply(resp, text, "out of memory\n");
}

void storage_gateway_close(struct storage_gateway *g)
{
	storage_rados_close(g->cluster, g->io);
	storage_keys_free(g->keys);
	ecs_prom_free(g->metrics);
	g->metrics = NULL;
	explicit_bzero(g->metrics_token, sizeof(g->metrics_token));
	ecs_config_free(g->cfg);
	g->cluster = NULL;
	g->io = NULL;
	g->keys = NULL;
	g->cfg = NULL;
}
