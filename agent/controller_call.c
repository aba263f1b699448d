#include "controller_call.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "hostauth.h"
#include "http_client.h"
#include "json.h"
#include "util.h"

/* The heartbeat's wake-up (controller_link.c waits on it). */
static pthread_mutex_t hb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hb_cond = PTHREAD_COND_INITIALIZER;
static bool hb_now;

/* A signed call; *ret_status the HTTP status, *ret_body (optional) the parsed body. */
int agent_controller_call(struct agent *a, const char *method, const char *path, struct json_object *body,
			  long *ret_status, struct json_object **ret_body)
{
	struct ecs_kvlist headers = ECS_KVLIST_INIT;
	_cleanup_free_ char *url = ecs_strdup_printf("%s%s", a->cfg.controller_url, path);
	const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	size_t len = text ? strlen(text) : 0;
	struct ecs_http_reply rep;
	const char *perr;
	int r;

	if (!url)
		return -ENOMEM;
	r = ecs_hostauth_add_headers(a->host_key, "", method, path, NULL, text, len, &headers);
	if (r == 0 && text)
		r = ecs_kvlist_add(&headers, "Content-Type", "application/json");
	if (r == 0)
		r = ecs_kvlist_add(&headers, "X-Ecs-Host-Id", a->cfg.host_id);
	if (r < 0)
		goto out;
	r = ecs_http_client_do(a->controller,
			       &(struct ecs_http_call){ .method = method, .url = url, .headers = &headers,
							.body = text, .body_len = len, .idempotent = -1 },
			       &rep);
	if (r < 0)
		goto out;
	*ret_status = rep.status;
	if (ret_body) {
		*ret_body = NULL;
		if (rep.body_len && ecs_json_parse(rep.body, rep.body_len, ret_body, &perr) < 0)
			*ret_body = NULL;
	}
	ecs_http_reply_clear(&rep);
out:
	ecs_kvlist_clear(&headers);
	return r;
}

void agent_controller_notify(struct agent *a)
{
	(void)a;
	pthread_mutex_lock(&hb_lock);
	hb_now = true;
	pthread_cond_broadcast(&hb_cond);
	pthread_mutex_unlock(&hb_lock);
}

void agent_controller_wait(struct agent *a, int seconds)
{
	struct timespec ts;

	pthread_mutex_lock(&hb_lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	while (!a->stopping && !hb_now && pthread_cond_timedwait(&hb_cond, &hb_lock, &ts) == 0)
		;
	hb_now = false;
	pthread_mutex_unlock(&hb_lock);
}

enum agent_wanted agent_controller_wanted(struct agent *a, const char *instance_id)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/agent/v1/instances/%s", instance_id);
	struct json_object *body = NULL, *w;
	enum agent_wanted ans = AGENT_WANTED_UNKNOWN;
	long status = 0;

	if (!a->controller || !path)
		return AGENT_WANTED_UNKNOWN;
	if (agent_controller_call(a, "GET", path, NULL, &status, &body) < 0)
		return AGENT_WANTED_UNKNOWN;
	if (status == 404)
		ans = AGENT_WANTED_NO;
	else if (status == 200 && body && json_object_object_get_ex(body, "wanted", &w) &&
		 json_object_is_type(w, json_type_boolean))
		ans = json_object_get_boolean(w) ? AGENT_WANTED_YES : AGENT_WANTED_NO;
	json_object_put(body);
	return ans;
}

int agent_controller_moved(struct agent *a, struct json_object *ids, struct json_object **ret)
{
	struct json_object *body, *ans = NULL, *list = NULL, *arr;
	long status = 0;
	int r;

	*ret = NULL;
	if (!a->controller)
		return -ENOTCONN;
	body = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_foreach(ids, id, v)
	{
		(void)v;
		json_object_array_add(arr, json_object_new_string(id));
	}
	json_object_object_add(body, "instance_ids", arr);
	r = agent_controller_call(a, "POST", "/agent/v1/instances/moved", body, &status, &ans);
	json_object_put(body);
	if (r == 0 && (status != 200 || !json_object_object_get_ex(ans, "moved", &list) ||
		       !json_object_is_type(list, json_type_array)))
		r = -EPROTO;
	if (r == 0)
		*ret = json_object_get(list);
	json_object_put(ans);
	return r;
}
