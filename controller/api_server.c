#include "api_server.h"

#include <string.h>

#include "console.h"
#include "crypto.h"
#include "hosts.h"
#include "http_server.h"
#include "metrics.h"
#include "prom_http.h"
#include "rpc.h"
#include "storage_keys.h"
#include "util.h"

/* GET /metrics: only with the bearer token (lib/prom.h). */
static void metrics_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = req->userdata;
	char token[ECS_PROM_TOKEN_LEN + 1] = "";

	if (ecs_prom_token(c->host_key, token) < 0 || !ecs_prom_authorized(req, resp, token))
		return;
	ecs_prom_reply(resp, ctl_metrics_render(c, ctl_console_sessions(c->console)), "the store could not be read\n");
}

int ctl_rpc_start(struct ctl *c)
{
	static const struct ecs_http_route routes[] = {
		{ NULL, "/", false, ctl_rpc_handle },
		{ NULL, "/agent/v1/", true, ctl_hosts_handle },
		{ NULL, "/storage/v1/", true, ctl_storage_keys_handle },
		{ NULL, "/console", false, ctl_console_handle },
		{ NULL, "/console/", true, ctl_console_handle },
		{ "GET", "/metrics", false, metrics_handle },
		{ "HEAD", "/metrics", false, metrics_handle },
	};
	struct ecs_http_server_config cfg = {
		.name = "ecs-api",
		.address = c->cfg.listen_address,
		.port = c->cfg.port,
		.threads = 8,
		.max_body = CTL_MAX_BODY,
		.max_connections = 4096,
		.access_log = true,
		.error_fn = ctl_rpc_server_error,
		.userdata = c,
	};

	return ecs_http_server_start(&cfg, routes, ARRAY_SIZE(routes), &c->api);
}

void ctl_rpc_stop(struct ctl *c)
{
	ecs_http_server_stop(c->api);
	c->api = NULL;
}
