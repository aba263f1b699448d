#include "agents.h"

#include <errno.h>
#include <string.h>

#include "hostauth.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "url.h"
#include "util.h"

bool ctl_host_alive(struct ctl *c, const char *host_id)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		conn.db ? ctl_db_prepare(conn.db, "SELECT last_seen FROM hosts WHERE host_id = ?1") : NULL;

	if (!st)
		return false;
	sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) >= time(NULL) - c->cfg.host_dead_after_s;
}

static int agent_call(struct ctl *c, struct ecs_http_client *client, const char *host_id, const char *method,
		      const char *path, struct json_object *body, long *ret_status, struct json_object **ret_body)
{
	struct ecs_kvlist headers = ECS_KVLIST_INIT, query = ECS_KVLIST_INIT;
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT api_url FROM hosts WHERE host_id = ?1") : NULL;
	const char *text = body ? ecs_json_text(body, NULL) : NULL, *qs;
	_cleanup_free_ char *url = NULL, *spath = NULL;
	struct ecs_http_reply rep;
	const char *perr;
	int r;

	if (st) {
		sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			url = ecs_strdup_printf("%s%s", sqlite3_column_text(st, 0), path);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (!url)
		return -EHOSTDOWN;
	/* Signed for this host only; a query ("?a=1") is signed as the agent reads it, decoded. */
	qs = strchr(path, '?');
	spath = qs ? strndup(path, (size_t)(qs - path)) : strdup(path);
	r = spath ? 0 : -ENOMEM;
	if (r == 0 && qs)
		r = ecs_form_parse(qs + 1, strlen(qs + 1), 64, &query);
	if (r == 0)
		r = ecs_hostauth_add_headers(c->host_key, host_id, method, spath, &query, text, text ? strlen(text) : 0,
					     &headers);
	if (r == 0 && text)
		r = ecs_kvlist_add(&headers, "Content-Type", "application/json");
	if (r < 0)
		goto out;
	r = ecs_http_client_do(client,
			       &(struct ecs_http_call){ .method = method, .url = url, .headers = &headers, .body = text,
							.body_len = text ? strlen(text) : 0, .idempotent = 0 },
			       &rep);
	if (r < 0) {
		log_warn("agent unreachable", "host=%s path=%s error=%s", host_id, path, strerror(-r));
		goto out;
	}
	*ret_status = rep.status;
	if (ret_body) {
		*ret_body = NULL;
		if (rep.body_len)
			ecs_json_parse(rep.body, rep.body_len, ret_body, &perr);
	}
	ecs_http_reply_clear(&rep);
out:
	ecs_kvlist_clear(&headers);
	ecs_kvlist_clear(&query);
	return r;
}

int ctl_agent_call(struct ctl *c, const char *host_id, const char *method, const char *path, struct json_object *body,
		   long *ret_status, struct json_object **ret_body)
{
	return agent_call(c, c->agents, host_id, method, path, body, ret_status, ret_body);
}

int ctl_agent_call_short(struct ctl *c, const char *host_id, const char *method, const char *path,
			 struct json_object *body, long *ret_status, struct json_object **ret_body)
{
	return agent_call(c, c->nudges ? c->nudges : c->agents, host_id, method, path, body, ret_status, ret_body);
}

int ctl_agent_call_alive(struct ctl *c, const char *host_id, const char *method, const char *path,
			 struct json_object *body, long *ret_status, struct json_object **ret_body)
{
	if (!ctl_host_alive(c, host_id))
		return -EHOSTDOWN;
	return ctl_agent_call(c, host_id, method, path, body, ret_status, ret_body);
}

const char *ctl_agent_error(int r, struct json_object *ans)
{
	return r < 0 ? strerror(-r) : ecs_json_str(ans, "message", "the agent refused");
}
