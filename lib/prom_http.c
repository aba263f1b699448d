#include "prom_http.h"

#include <string.h>

#include "crypto.h"
#include "kv.h"
#include "util.h"

bool ecs_prom_authorized(const struct ecs_http_request *req, struct ecs_http_response *resp, const char *token)
{
	static const char msg[] = "a bearer token is required (ecs-controller metrics-token)\n";
	const char *auth = ecs_kvlist_get_case(req->headers, "Authorization");

	if (token && token[0] && auth && str_has_prefix(auth, "Bearer ") && ecs_streq_ct(auth + 7, token))
		return true;
	ecs_http_add_header(resp, "WWW-Authenticate", "Bearer realm=\"ecs-metrics\"");
	ecs_http_reply(resp, 401, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
	return false;
}

void ecs_prom_reply(struct ecs_http_response *resp, char *text, const char *why)
{
	if (!text) {
		ecs_http_reply(resp, 500, "text/plain; charset=utf-8", why, strlen(why));
		return;
	}
	ecs_http_reply_take(resp, 200, ECS_PROM_CONTENT_TYPE, text, strlen(text));
}
