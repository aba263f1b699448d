#include "api_server.h"

#include <string.h>

#include "console.h"
#include "crypto.h"
#include "hosts.h"
#include "http_server.h"
#include "metrics.h"
#include "rpc.h"
#include "storage_keys.h"
#include "util.h"

static void reply_text(struct ecs_http_response *resp, int status, const char *text)
{
	ecs_http_reply(resp, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* GET /metrics: only with the bearer token (metrics.h). */
static void metrics_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = req->userdata;
	const char *auth = ecs_kvlist_get_case(req->headers, "Authorization");
	char token[65];
	char *text;

	if (ctl_metrics_token(c->host_key, token) < 0 || !auth || !str_has_prefix(auth, "Bearer ") ||
	    !ecs_streq_ct(auth + 7, token)) {
		ecs_http_add_header(resp, "WWW-Authenticate", "Bearer realm=\"ecs-metrics\"");
		reply_text(resp, 401, "a bearer token is required (ecs-controller metrics-token)\n");
		return;
	}
	text = ctl_metrics_render(c, ctl_console_sessions(c->console));
	if (!text) {
		reply_text(resp, 500, "the store could not be read\n");
		return;
	}
	ecs_http_reply_take(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
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
