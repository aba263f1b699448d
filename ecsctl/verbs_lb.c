/* verbs_lb.c: load balancers (the SLB API, Version 2014-05-15): create, ls, show, rm,
 * set-status, listener-add/-start/-stop/-rm, backend-add/-rm/-set, health. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

#define BACKENDS_PER_CALL 20 /* SLB's limit on BackendServers */

static const struct ecsctl_column lb_columns[] = {
	{ "ID", "LoadBalancerId" },   { "NAME", "LoadBalancerName" }, { "ADDRESS", "Address" },
	{ "TYPE", "AddressType" },    { "STATUS", "LoadBalancerStatus" }, { "HOST", "HostId" },
	{ "CREATED", "CreateTime" },
};

static const struct ecsctl_column health_columns[] = {
	{ "LISTENER", "ListenerPort" }, { "PROTOCOL", "Protocol" }, { "SERVER", "ServerId" },
	{ "IP", "ServerIp" },		{ "PORT", "Port" },	    { "STATUS", "ServerHealthStatus" },
};

static const struct ecsctl_creation lb_create = {
	"CreateLoadBalancer", "LoadBalancerId",
	ECSCTL_PAIRS("name", "LoadBalancerName", "type", "AddressType", "zone", "MasterZoneId"), NULL, NULL,
};

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *type = ecsctl_args_get(a, "type");

	if (type && !streq(type, "internet") && !streq(type, "intranet"))
		return ecsctl_usage_error(ctx, "--type takes internet or intranet, not \"%s\"", type);
	return ecsctl_create(ctx, a, &lb_create, NULL, 0);
}

static const struct ecsctl_listing balancers = { "DescribeLoadBalancers", "LoadBalancers", "LoadBalancer", 100,
						 ECSCTL_COLUMNS(lb_columns), "LoadBalancerId", NULL };

/* "tcp/80,udp/53" and "i-a:50,i-b:30" from DescribeLoadBalancerAttribute. */
static char *joined(struct json_object *list, const char *a, const char *b, char sep)
{
	struct json_object *parts = json_object_new_array();
	char *s = NULL;
	size_t len = 1;

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *it = json_object_array_get_idx(list, i);
		_cleanup_free_ char *x = ecsctl_field_text(it, a), *y = ecsctl_field_text(it, b);
		char *part = x && y ? ecs_strdup_printf("%s%c%s", x, sep, y) : NULL;

		if (!part)
			goto out;
		len += strlen(part) + 1;
		json_object_array_add(parts, json_object_new_string(part));
		free(part);
	}
	s = calloc(1, len);
	for (size_t i = 0; s && i < json_object_array_length(parts); i++) {
		if (i)
			strcat(s, ",");
		strcat(s, json_object_get_string(json_object_array_get_idx(parts, i)));
	}
out:
	json_object_put(parts);
	return s;
}

static int show_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	static const char *const fields[] = { "LoadBalancerId", "LoadBalancerName", "LoadBalancerStatus", "Address",
					      "AddressType", "NetworkType", "HostId", "MasterZoneId", "CreateTime", NULL };
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL, *o = NULL;
	_cleanup_free_ char *listeners = NULL, *backends = NULL;
	int r;

	if ((r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0])) < 0)
		goto out;
	r = ecsctl_call(ctx, "DescribeLoadBalancerAttribute", &p, &reply);
	if (r < 0)
		goto out;
	if (ctx->output == ECSCTL_OUTPUT_JSON) {
		ecsctl_print_done(ctx, reply);
		goto out;
	}
	listeners = joined(ecsctl_reply_list(reply, "ListenerPortsAndProtocol", "ListenerPortAndProtocol"),
			   "ListenerProtocol", "ListenerPort", '/');
	backends = joined(ecsctl_reply_list(reply, "BackendServers", "BackendServer"), "ServerId", "Weight", ':');
	o = json_object_new_object();
	if (!listeners || !backends || !o) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; fields[i]; i++) {
		struct json_object *v = ecs_json_get(reply, fields[i]);

		if (v)
			json_object_object_add(o, fields[i], json_object_get(v));
	}
	ecs_jb_str(o, "Listeners", listeners);
	ecs_jb_str(o, "BackendServers", backends);
	r = ecsctl_print_object(ctx->out, ctx->output, o);
out:
	json_object_put(o);
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static int set_status_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	int r;

	if (!streq(a->pos[1], "active") && !streq(a->pos[1], "inactive"))
		return ecsctl_usage_error(ctx, "the status is active or inactive, not \"%s\"", a->pos[1]);
	if ((r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0])) < 0 ||
	    (r = ecs_kvlist_add(&p, "LoadBalancerStatus", a->pos[1])) < 0)
		return r;
	return ecsctl_call_done(ctx, "SetLoadBalancerStatus", &p);
}

/* ---- listeners ---- */

/* --flag's value, one of choices (NULL-terminated), else a usage error. */
static int flag_choice(struct ecsctl *ctx, const struct ecsctl_args *a, const char *flag, const char *const *choices,
		       const char **ret)
{
	const char *v = ecsctl_args_get(a, flag);

	*ret = v;
	if (!v)
		return 0;
	for (size_t i = 0; choices[i]; i++)
		if (streq(v, choices[i]))
			return 0;
	return ecsctl_usage_error(ctx, "--%s does not take \"%s\"", flag, v);
}

static int listener_add_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	static const char *const protocols[] = { "tcp", "udp", NULL };
	static const char *const schedulers[] = { "wrr", "rr", NULL };
	static const char *const checks[] = { "tcp", "http", "udp", "off", NULL };
	static const struct {
		const char *flag, *param;
		long long min, max;
	} numbers[] = {
		{ "port", "ListenerPort", 1, 65535 },
		{ "backend-port", "BackendServerPort", 1, 65535 },
		{ "bandwidth", "Bandwidth", -1, 5120 },
		{ "check-port", "HealthCheckConnectPort", 1, 65535 },
		{ "interval", "HealthCheckInterval", 1, 50 },
		{ "timeout", "HealthCheckConnectTimeout", 1, 300 },
		{ "healthy", "HealthyThreshold", 2, 10 },
		{ "unhealthy", "UnhealthyThreshold", 2, 10 },
	};
	const char *proto, *sched, *check;
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	int r;

	if ((r = flag_choice(ctx, a, "protocol", protocols, &proto)) < 0 ||
	    (r = flag_choice(ctx, a, "scheduler", schedulers, &sched)) < 0 ||
	    (r = flag_choice(ctx, a, "health-check", checks, &check)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
		long long v;

		if ((r = ecsctl_flag_int(ctx, a, numbers[i].flag, numbers[i].min, numbers[i].max, 0, &v)) < 0)
			return r;
	}
	if ((r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0])) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "port", "ListenerPort")) < 0 ||
	    (r = ecs_kvlist_add(&p, "BackendServerPort",
				ecsctl_args_get(a, "backend-port") ? ecsctl_args_get(a, "backend-port")
								   : ecsctl_args_get(a, "port"))) < 0 ||
	    (r = ecs_kvlist_add(&p, "Bandwidth", ecsctl_args_get(a, "bandwidth") ? ecsctl_args_get(a, "bandwidth") : "-1")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "scheduler", "Scheduler")) < 0)
		goto fail;
	if (check && streq(check, "off"))
		r = ecs_kvlist_add(&p, "HealthCheck", "off");
	else if (check)
		r = ecs_kvlist_add(&p, "HealthCheckType", check);
	if (r < 0)
		goto fail;
	for (size_t i = 3; i < ARRAY_SIZE(numbers); i++)
		if ((r = ecsctl_param_from_flag(&p, a, numbers[i].flag, numbers[i].param)) < 0)
			goto fail;
	if ((r = ecsctl_param_from_flag(&p, a, "uri", "HealthCheckURI")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "domain", "HealthCheckDomain")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "http-codes", "HealthCheckHttpCode")) < 0)
		goto fail;
	r = ecsctl_call_done(ctx, streq(proto, "udp") ? "CreateLoadBalancerUDPListener" : "CreateLoadBalancerTCPListener", &p);
	if (r < 0 || !ecsctl_args_bool(a, "start"))
		return r;
	if ((r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0])) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "port", "ListenerPort")) < 0 ||
	    (r = ecs_kvlist_add(&p, "ListenerProtocol", proto)) < 0)
		goto fail;
	return ecsctl_call_done(ctx, "StartLoadBalancerListener", &p);
fail:
	ecs_kvlist_clear(&p);
	return r;
}

/* Start, Stop, DeleteLoadBalancerListener: LB PORT [--protocol P]. */
static int listener_verb(struct ecsctl *ctx, const struct ecsctl_args *a, const char *action)
{
	static const char *const protocols[] = { "tcp", "udp", NULL };
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	const char *proto;
	long long port;
	int r;

	if ((r = flag_choice(ctx, a, "protocol", protocols, &proto)) < 0)
		return r;
	if (ecs_parse_int64(a->pos[1], 1, 65535, &port) < 0)
		return ecsctl_usage_error(ctx, "PORT is a number in 1..65535, not \"%s\"", a->pos[1]);
	if ((r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0])) < 0 ||
	    (r = ecs_kvlist_add(&p, "ListenerPort", a->pos[1])) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "protocol", "ListenerProtocol")) < 0)
		return r;
	return ecsctl_call_done(ctx, action, &p);
}

static int listener_start_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return listener_verb(ctx, a, "StartLoadBalancerListener");
}

static int listener_stop_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return listener_verb(ctx, a, "StopLoadBalancerListener");
}

static int listener_rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return listener_verb(ctx, a, "DeleteLoadBalancerListener");
}

/* ---- backends ---- */

/* INSTANCE[:WEIGHT] into {"ServerId", "Weight"}; weight_needed for backend-set. */
static int backend_item(struct ecsctl *ctx, const char *arg, bool with_weight, bool weight_needed,
			struct json_object **ret)
{
	const char *colon = strchr(arg, ':');
	_cleanup_free_ char *id = colon ? strndup(arg, (size_t)(colon - arg)) : strdup(arg);
	long long w = 100;

	if (!id)
		return -ENOMEM;
	if (!*id || (colon && !with_weight))
		return ecsctl_usage_error(ctx, "\"%s\" is not %s", arg, with_weight ? "INSTANCE[:WEIGHT]" : "an instance id");
	if (weight_needed && !colon)
		return ecsctl_usage_error(ctx, "\"%s\" needs a weight: INSTANCE:WEIGHT", arg);
	if (colon && ecs_parse_int64(colon + 1, 0, 100, &w) < 0)
		return ecsctl_usage_error(ctx, "the weight in \"%s\" is not a number in 0..100", arg);
	*ret = json_object_new_object();
	ecs_jb_str(*ret, "ServerId", id);
	if (with_weight) {
		char text[8];

		snprintf(text, sizeof(text), "%lld", w);
		ecs_jb_str(*ret, "Weight", text);
	}
	return 0;
}

/* One call per 20 servers (SLB's limit), BackendServers a JSON array of objects. */
static int backend_verb(struct ecsctl *ctx, const struct ecsctl_args *a, const char *action, bool with_weight,
			bool weight_needed)
{
	struct json_object *all = json_object_new_array();
	int r = 0;

	for (size_t i = 1; i < a->n_pos && r >= 0; i++) {
		struct json_object *it = NULL;

		r = backend_item(ctx, a->pos[i], with_weight, weight_needed, &it);
		if (r >= 0)
			json_object_array_add(all, it);
	}
	for (size_t i = 0; r >= 0 && i < json_object_array_length(all); i += BACKENDS_PER_CALL) {
		struct json_object *chunk = json_object_new_array();
		struct ecs_kvlist p = ECS_KVLIST_INIT;

		for (size_t j = i; j < i + BACKENDS_PER_CALL && j < json_object_array_length(all); j++)
			json_object_array_add(chunk, json_object_get(json_object_array_get_idx(all, j)));
		r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0]);
		if (r >= 0)
			r = ecs_kvlist_add(&p, "BackendServers", ecs_json_text(chunk, NULL));
		if (r >= 0)
			r = ecsctl_call_done(ctx, action, &p);
		ecs_kvlist_clear(&p);
		json_object_put(chunk);
	}
	json_object_put(all);
	return r;
}

static int backend_add_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return backend_verb(ctx, a, "AddBackendServers", true, false);
}

static int backend_rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return backend_verb(ctx, a, "RemoveBackendServers", false, false);
}

static int backend_set_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return backend_verb(ctx, a, "SetBackendServers", true, true);
}

/* ---- health ---- */

static int health_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	static const char *const protocols[] = { "tcp", "udp", NULL };
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	const char *proto;
	long long port;
	int r;

	if ((r = flag_choice(ctx, a, "protocol", protocols, &proto)) < 0 ||
	    (r = ecsctl_flag_int(ctx, a, "port", 1, 65535, 0, &port)) < 0)
		return r;
	if ((r = ecs_kvlist_add(&p, "LoadBalancerId", a->pos[0])) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "port", "ListenerPort")) < 0 ||
	    (r = ecsctl_param_from_flag(&p, a, "protocol", "ListenerProtocol")) < 0)
		goto out;
	r = ecsctl_call(ctx, "DescribeHealthStatus", &p, &reply);
	if (r >= 0)
		r = ecsctl_print_list(ctx, ecsctl_reply_list(reply, "BackendServers", "BackendServer"), "BackendServers",
				      "BackendServer", health_columns, ARRAY_SIZE(health_columns), "ServerId");
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

/* ---- the table ---- */

static const struct ecsctl_flag create_flags[] = {
	{ "name", ECSCTL_FLAG_VALUE, false, "NAME", "LoadBalancerName (default: its id)" },
	{ "type", ECSCTL_FLAG_VALUE, false, "internet|intranet",
	  "AddressType: a VIP from the public pool (default) or the private one" },
	{ "zone", ECSCTL_FLAG_VALUE, false, "ZONE", "MasterZoneId: a host of this zone holds it" },
	{ NULL },
};

static const struct ecsctl_flag listener_add_flags[] = {
	{ "protocol", ECSCTL_FLAG_VALUE, true, "tcp|udp", "the listener's protocol" },
	{ "port", ECSCTL_FLAG_VALUE, true, "PORT", "ListenerPort, on the VIP" },
	{ "backend-port", ECSCTL_FLAG_VALUE, false, "PORT", "BackendServerPort (default: --port)" },
	{ "scheduler", ECSCTL_FLAG_VALUE, false, "wrr|rr", "Scheduler (default wrr)" },
	{ "bandwidth", ECSCTL_FLAG_VALUE, false, "MBPS", "Bandwidth, stored (default -1: no limit)" },
	{ "health-check", ECSCTL_FLAG_VALUE, false, "tcp|http|udp|off",
	  "HealthCheckType, or HealthCheck=off (default: tcp, udp for UDP)" },
	{ "check-port", ECSCTL_FLAG_VALUE, false, "PORT", "HealthCheckConnectPort (default: the backend port)" },
	{ "uri", ECSCTL_FLAG_VALUE, false, "URI", "HealthCheckURI of an http check (default /)" },
	{ "domain", ECSCTL_FLAG_VALUE, false, "HOST", "HealthCheckDomain of an http check (default: the backend's IP)" },
	{ "http-codes", ECSCTL_FLAG_VALUE, false, "CODES", "HealthCheckHttpCode, e.g. http_2xx,http_3xx" },
	{ "interval", ECSCTL_FLAG_VALUE, false, "1-50", "HealthCheckInterval in seconds (default 2)" },
	{ "timeout", ECSCTL_FLAG_VALUE, false, "1-300", "HealthCheckConnectTimeout in seconds (default 5)" },
	{ "healthy", ECSCTL_FLAG_VALUE, false, "2-10", "HealthyThreshold (default 3)" },
	{ "unhealthy", ECSCTL_FLAG_VALUE, false, "2-10", "UnhealthyThreshold (default 3)" },
	{ "start", ECSCTL_FLAG_BOOL, false, NULL, "start it too (StartLoadBalancerListener): it is made stopped" },
	{ NULL },
};

static const struct ecsctl_flag protocol_flags[] = {
	{ "protocol", ECSCTL_FLAG_VALUE, false, "tcp|udp", "ListenerProtocol, when a TCP and a UDP listener share PORT" },
	{ NULL },
};

static const struct ecsctl_flag health_flags[] = {
	{ "port", ECSCTL_FLAG_VALUE, false, "PORT", "only this listener (ListenerPort)" },
	{ "protocol", ECSCTL_FLAG_VALUE, false, "tcp|udp", "ListenerProtocol" },
	{ NULL },
};

static const struct ecsctl_each lb_rm = { .action = "DeleteLoadBalancer", .id_param = "LoadBalancerId" };

const struct ecsctl_verb ecsctl_lb_verbs[] = {
	{
		.group = "lb",
		.name = "create",
		.flags = create_flags,
		.actions = "CreateLoadBalancer",
		.summary = "create a load balancer; prints its id",
		.run = create_run,
	},
	{
		.group = "lb",
		.name = "ls",
		.summary = "list load balancers",
		.list = &balancers,
	},
	{
		.group = "lb",
		.name = "show",
		.synopsis = "LB",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "DescribeLoadBalancerAttribute",
		.summary = "a load balancer with its listeners and backend servers",
		.run = show_run,
	},
	{
		.group = "lb",
		.name = "rm",
		ECSCTL_IDS("LB..."),
		.summary = "delete load balancers (their listeners go with them)",
		.each = &lb_rm,
	},
	{
		.group = "lb",
		.name = "set-status",
		.synopsis = "LB active|inactive",
		.min_pos = 2,
		.max_pos = 2,
		.actions = "SetLoadBalancerStatus",
		.summary = "turn forwarding on or off for the whole load balancer",
		.run = set_status_run,
	},
	{
		.group = "lb",
		.name = "listener-add",
		.synopsis = "LB",
		.min_pos = 1,
		.max_pos = 1,
		.flags = listener_add_flags,
		.actions = "CreateLoadBalancerTCPListener or …UDPListener (+ StartLoadBalancerListener with --start)",
		.summary = "add a listener, e.g. listener-add lb-… --protocol tcp --port 80 --start",
		.details = "A listener is made stopped, as in SLB: --start starts it at once, or use listener-start.\n"
			   "Bandwidth is always sent (-1 unless --bandwidth), as SLB's 2014-05-15 API wants it.",
		.run = listener_add_run,
	},
	{
		.group = "lb",
		.name = "listener-start",
		.synopsis = "LB PORT",
		.min_pos = 2,
		.max_pos = 2,
		.flags = protocol_flags,
		.actions = "StartLoadBalancerListener",
		.summary = "start forwarding on a listener",
		.run = listener_start_run,
	},
	{
		.group = "lb",
		.name = "listener-stop",
		.synopsis = "LB PORT",
		.min_pos = 2,
		.max_pos = 2,
		.flags = protocol_flags,
		.actions = "StopLoadBalancerListener",
		.summary = "stop forwarding on a listener",
		.run = listener_stop_run,
	},
	{
		.group = "lb",
		.name = "listener-rm",
		.synopsis = "LB PORT",
		.min_pos = 2,
		.max_pos = 2,
		.flags = protocol_flags,
		.actions = "DeleteLoadBalancerListener",
		.summary = "delete a listener",
		.run = listener_rm_run,
	},
	{
		.group = "lb",
		.name = "backend-add",
		.synopsis = "LB INSTANCE[:WEIGHT]...",
		.min_pos = 2,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "AddBackendServers (20 servers a call)",
		.summary = "add backend servers (weight 0-100, default 100), or change their weight",
		.run = backend_add_run,
	},
	{
		.group = "lb",
		.name = "backend-rm",
		.synopsis = "LB INSTANCE...",
		.min_pos = 2,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "RemoveBackendServers (20 servers a call)",
		.summary = "remove backend servers",
		.run = backend_rm_run,
	},
	{
		.group = "lb",
		.name = "backend-set",
		.synopsis = "LB INSTANCE:WEIGHT...",
		.min_pos = 2,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "SetBackendServers (20 servers a call)",
		.summary = "change the weights of backend servers the load balancer has",
		.run = backend_set_run,
	},
	{
		.group = "lb",
		.name = "health",
		.synopsis = "LB",
		.min_pos = 1,
		.max_pos = 1,
		.flags = health_flags,
		.actions = "DescribeHealthStatus",
		.summary = "each backend's health per listener: normal, abnormal or unavailable",
		.run = health_run,
	},
	{ .name = NULL },
};
