/* slb_listener.c: the listeners of a load balancer (slb.h): TCP and UDP, made `stopped`,
 * keyed by (protocol, port), each with its health check. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "slb.h"
#include "store.h"
#include "util.h"

#define URI_MAX 80
#define DOMAIN_MAX 80
#define CONNECT_PORT_BACKEND (-520) /* SLB's HealthCheckConnectPort for "the backend port" */

static const char *const code_names[] = { "http_2xx", "http_3xx", "http_4xx", "http_5xx", NULL };

struct listener {
	char protocol[4]; /* tcp, udp */
	long long port, backend_port, bandwidth;
	char scheduler[4]; /* wrr, rr */
	char status[8];	   /* running, stopped */
	bool hc_enabled;
	char hc_type[8];   /* tcp, http, udp */
	long long hc_port; /* 0: the backend port */
	char uri[URI_MAX + 1], domain[DOMAIN_MAX + 1], codes[48];
	long long interval, timeout, healthy, unhealthy;
};

static int invalid(struct ctl_call *call, const char *name, const char *why)
{
	return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"%s\" is not valid: %s", name, why);
}

static int listener_not_found(struct ctl_call *call)
{
	return ctl_fail(call, 404, "ListenerNotFound",
			"You have not created a listener for the specified port of the load balancer.");
}

/* src in lower case into dst[size]. */
static void lower_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static void listener_defaults(struct listener *l, bool udp)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->protocol, sizeof(l->protocol), "%s", udp ? "udp" : "tcp");
	l->bandwidth = -1;
	snprintf(l->scheduler, sizeof(l->scheduler), "wrr");
	snprintf(l->status, sizeof(l->status), "stopped");
	l->hc_enabled = true;
	snprintf(l->hc_type, sizeof(l->hc_type), "%s", udp ? "udp" : "tcp");
	snprintf(l->uri, sizeof(l->uri), "/");
	snprintf(l->codes, sizeof(l->codes), "http_2xx");
	l->interval = 2;
	l->timeout = 5;
	l->healthy = 3;
	l->unhealthy = 3;
}

/* "http_2xx,http_3xx": each class once, at least one; written back in canonical order. */
static bool codes_parse(const char *text, char *out, size_t size)
{
	_cleanup_free_ char *copy = strdup(text);
	unsigned seen = 0;
	char *save = NULL;

	if (!copy)
		return false;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned bit = 0;

		for (size_t k = 0; code_names[k]; k++)
			if (streq(t, code_names[k]))
				bit = 1u << k;
		if (!bit || (seen & bit))
			return false;
		seen |= bit;
	}
	if (!seen)
		return false;
	out[0] = '\0';
	for (size_t k = 0; code_names[k]; k++)
		if (seen & (1u << k))
			snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? "," : "", code_names[k]);
	return true;
}

/* A parameter given as on/off, any case. */
static int on_off(struct ctl_call *call, const char *name, bool *v)
{
	const char *s = ctl_param(call, name, CTL_CI | CTL_NONEMPTY);

	if (!s)
		return 0;
	if (strcaseeq(s, "on"))
		*v = true;
	else if (strcaseeq(s, "off"))
		*v = false;
	else
		return invalid(call, name, "on or off");
	return 0;
}

/* Read the parameters given over l (the defaults for a new listener, its values for a
 * change). Health-check names are matched in any case (SLB spells healthCheckInterval). */
static int read_params(struct ctl_call *call, bool create, struct listener *l)
{
	bool udp = streq(l->protocol, "udp");
	const char *sched, *type, *uri, *domain, *codes, *vsg, *msg, *acl, *vsg_on;
	long long connect_port = l->hc_port, persistence;
	int r;

	if (create && (r = ctl_param_int(call, "BackendServerPort", CTL_REQUIRED, 1, 65535, 0, &l->backend_port)) < 0)
		return r;
	if ((r = ctl_param_int(call, "Bandwidth", 0, -1, 5120, l->bandwidth, &l->bandwidth)) < 0 ||
	    (r = ctl_param_str(call, "Scheduler", CTL_NONEMPTY, 16, NULL, &sched)) < 0 ||
	    (r = on_off(call, "HealthCheck", &l->hc_enabled)) < 0 ||
	    (r = on_off(call, "HealthCheckSwitch", &l->hc_enabled)) < 0 ||
	    (r = ctl_param_str(call, "HealthCheckType", CTL_CI | CTL_NONEMPTY, 16, NULL, &type)) < 0 ||
	    (r = ctl_param_int(call, "HealthCheckConnectPort", CTL_CI, CONNECT_PORT_BACKEND, 65535, connect_port,
			       &connect_port)) < 0 ||
	    (r = ctl_param_str(call, "HealthCheckURI", CTL_CI | CTL_NONEMPTY, 4096, NULL, &uri)) < 0 ||
	    (r = ctl_param_str(call, "HealthCheckDomain", CTL_CI | CTL_NONEMPTY, 4096, NULL, &domain)) < 0 ||
	    (r = ctl_param_str(call, "HealthCheckHttpCode", CTL_CI | CTL_NONEMPTY, 256, NULL, &codes)) < 0 ||
	    (r = ctl_param_int(call, "HealthCheckConnectTimeout", CTL_CI, 1, 300, l->timeout, &l->timeout)) < 0 ||
	    (r = ctl_param_int(call, "HealthCheckTimeout", CTL_CI, 1, 300, l->timeout, &l->timeout)) < 0 ||
	    (r = ctl_param_int(call, "HealthCheckInterval", CTL_CI, 1, 50, l->interval, &l->interval)) < 0 ||
	    (r = ctl_param_int(call, "HealthyThreshold", CTL_CI, 2, 10, l->healthy, &l->healthy)) < 0 ||
	    (r = ctl_param_int(call, "UnhealthyThreshold", CTL_CI, 2, 10, l->unhealthy, &l->unhealthy)) < 0 ||
	    (r = ctl_param_int(call, "PersistenceTimeout", 0, 0, 3600, 0, &persistence)) < 0 ||
	    (r = ctl_param_str(call, "VServerGroupId", CTL_NONEMPTY, 64, NULL, &vsg)) < 0 ||
	    (r = ctl_param_str(call, "MasterSlaveServerGroupId", CTL_NONEMPTY, 64, NULL, &msg)) < 0 ||
	    (r = ctl_param_str(call, "AclStatus", CTL_NONEMPTY, 8, "off", &acl)) < 0 ||
	    (r = ctl_param_str(call, "VServerGroup", CTL_NONEMPTY, 8, "off", &vsg_on)) < 0)
		return r;
	if (l->bandwidth == 0)
		return invalid(call, "Bandwidth", "-1 (no limit) or 1-5120");
	if (sched) {
		if (!streq(sched, "wrr") && !streq(sched, "rr"))
			return invalid(call, "Scheduler", "wrr or rr (wlc, sch and tch are not supported)");
		snprintf(l->scheduler, sizeof(l->scheduler), "%s", sched);
	}
	if (type) {
		if (!strcaseeq(type, "tcp") && !strcaseeq(type, "http") && !(udp && strcaseeq(type, "udp")))
			return invalid(call, "HealthCheckType", udp ? "udp, tcp or http" : "tcp or http");
		lower_copy(l->hc_type, sizeof(l->hc_type), type);
	}
	if (ctl_param(call, "HealthCheckConnectPort", CTL_CI | CTL_NONEMPTY)) {
		if (connect_port != CONNECT_PORT_BACKEND && connect_port < 1)
			return invalid(call, "HealthCheckConnectPort", "1-65535, or -520 for the backend port");
		l->hc_port = connect_port == CONNECT_PORT_BACKEND ? 0 : connect_port;
	}
	if (uri) {
		if (strlen(uri) > URI_MAX || uri[0] != '/' ||
		    strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%?#&=+:,") != strlen(uri))
			return invalid(call, "HealthCheckURI", "1-80 characters starting with /: letters, digits, -._~/%?#&=+:,");
		snprintf(l->uri, sizeof(l->uri), "%s", uri);
	}
	if (domain) {
		/* $_ip: the backend's own address, the agent's default. */
		if (streq(domain, "$_ip"))
			domain = "";
		else if (strlen(domain) > DOMAIN_MAX ||
			 strspn(domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(domain))
			return invalid(call, "HealthCheckDomain", "$_ip, or 1-80 letters, digits, '.' and '-'");
		snprintf(l->domain, sizeof(l->domain), "%s", domain);
	}
	if (codes && !codes_parse(codes, l->codes, sizeof(l->codes)))
		return invalid(call, "HealthCheckHttpCode", "a comma list of http_2xx, http_3xx, http_4xx, http_5xx");
	if (persistence)
		return invalid(call, "PersistenceTimeout", "session persistence is not supported (0 only)");
	if (vsg || msg || !strcaseeq(vsg_on, "off"))
		return invalid(call, vsg ? "VServerGroupId" : msg ? "MasterSlaveServerGroupId" : "VServerGroup",
			       "server groups are not supported");
	if (!strcaseeq(acl, "off"))
		return invalid(call, "AclStatus", "access control lists are not supported (off only)");
	return 0;
}

/* ListenerPort (required) and ListenerProtocol (optional; fixed for the TCP/UDP actions). */
static int read_key(struct ctl_call *call, const char *fixed, long long *ret_port, char proto[8])
{
	const char *p;
	int r = ctl_param_int(call, "ListenerPort", CTL_REQUIRED, 1, 65535, 0, ret_port);

	if (r < 0)
		return r;
	proto[0] = '\0';
	if (fixed) {
		snprintf(proto, 8, "%s", fixed);
		return 0;
	}
	if ((r = ctl_param_str(call, "ListenerProtocol", CTL_NONEMPTY, 8, NULL, &p)) < 0)
		return r;
	if (p) {
		if (!strcaseeq(p, "tcp") && !strcaseeq(p, "udp") && !strcaseeq(p, "http") && !strcaseeq(p, "https"))
			return invalid(call, "ListenerProtocol", "tcp, udp, http or https");
		lower_copy(proto, 8, p);
	}
	return 0;
}

#define LISTENER_COLUMNS                                                                                        \
	"protocol, port, backend_port, bandwidth, scheduler, status, hc_enabled, hc_type, hc_port, hc_uri,"        \
	" hc_domain, hc_codes, hc_interval, hc_timeout, healthy_threshold, unhealthy_threshold"

static void listener_from_row(sqlite3_stmt *st, struct listener *l)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->protocol, sizeof(l->protocol), "%s", ctl_col(st, 0));
	l->port = sqlite3_column_int64(st, 1);
	l->backend_port = sqlite3_column_int64(st, 2);
	l->bandwidth = sqlite3_column_int64(st, 3);
	snprintf(l->scheduler, sizeof(l->scheduler), "%s", ctl_col(st, 4));
	snprintf(l->status, sizeof(l->status), "%s", ctl_col(st, 5));
	l->hc_enabled = sqlite3_column_int(st, 6);
	snprintf(l->hc_type, sizeof(l->hc_type), "%s", ctl_col(st, 7));
	l->hc_port = sqlite3_column_int64(st, 8);
	snprintf(l->uri, sizeof(l->uri), "%s", ctl_col(st, 9));
	snprintf(l->domain, sizeof(l->domain), "%s", ctl_col(st, 10));
	snprintf(l->codes, sizeof(l->codes), "%s", ctl_col(st, 11));
	l->interval = sqlite3_column_int64(st, 12);
	l->timeout = sqlite3_column_int64(st, 13);
	l->healthy = sqlite3_column_int64(st, 14);
	l->unhealthy = sqlite3_column_int64(st, 15);
}

/* The listener on port (of proto, or the only one there) of lb_id. */
static int find_listener(struct ctl_call *call, sqlite3 *db, const char *lb_id, long long port, const char *proto,
			 struct listener *ret)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT " LISTENER_COLUMNS " FROM lb_listeners WHERE lb_id = ?1 AND port = ?2"
					      " AND (?3 = '' OR protocol = ?3) ORDER BY protocol");
	int n = 0;

	if (!st)
		return ctl_db_failure(call);
	sqlite3_bind_text(st, 1, lb_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, port);
	sqlite3_bind_text(st, 3, proto, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (n++ == 0)
			listener_from_row(st, ret);
	sqlite3_finalize(st);
	if (n == 0)
		return listener_not_found(call);
	if (n > 1)
		return invalid(call, "ListenerProtocol", "a TCP and a UDP listener share this port: name the protocol");
	return 0;
}

static int listener_write(sqlite3 *db, const char *lb_id, const struct listener *l, bool insert)
{
	sqlite3_stmt *st = ctl_db_prepare(
		db, insert ? "INSERT INTO lb_listeners (lb_id, protocol, port, backend_port, bandwidth, scheduler, status,"
			     " hc_enabled, hc_type, hc_port, hc_uri, hc_domain, hc_codes, hc_interval, hc_timeout,"
			     " healthy_threshold, unhealthy_threshold, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
			     " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
			   : "UPDATE lb_listeners SET backend_port = ?4, bandwidth = ?5, scheduler = ?6, status = ?7,"
			     " hc_enabled = ?8, hc_type = ?9, hc_port = ?10, hc_uri = ?11, hc_domain = ?12, hc_codes = ?13,"
			     " hc_interval = ?14, hc_timeout = ?15, healthy_threshold = ?16, unhealthy_threshold = ?17"
			     " WHERE lb_id = ?1 AND protocol = ?2 AND port = ?3");
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, lb_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, l->protocol, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, l->port);
	sqlite3_bind_int64(st, 4, l->backend_port);
	sqlite3_bind_int64(st, 5, l->bandwidth);
	sqlite3_bind_text(st, 6, l->scheduler, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, l->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, l->hc_enabled);
	sqlite3_bind_text(st, 9, l->hc_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, l->hc_port);
	sqlite3_bind_text(st, 11, l->uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, l->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, l->codes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, l->interval);
	sqlite3_bind_int64(st, 15, l->timeout);
	sqlite3_bind_int64(st, 16, l->healthy);
	sqlite3_bind_int64(st, 17, l->unhealthy);
	if (insert)
		sqlite3_bind_int64(st, 18, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	return r;
}

/* ---- CreateLoadBalancerTCPListener, CreateLoadBalancerUDPListener ---- */

static int create_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	const struct listener *l = arg;
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT count(*), count(*) FILTER (WHERE protocol = ?2 AND port = ?3)"
					      " FROM lb_listeners WHERE lb_id = ?1");
	long long n = -1, same = 0;

	if (st) {
		sqlite3_bind_text(st, 1, lb->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, l->protocol, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, l->port);
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
			same = sqlite3_column_int64(st, 1);
		}
	}
	sqlite3_finalize(st);
	if (n < 0)
		return ctl_db_failure(call);
	if (same)
		return ctl_fail(call, 400, "ListenerAlreadyExists", "A listener with the specified port already exists.");
	if (n >= CTL_SLB_MAX_LISTENERS)
		return ctl_fail(call, 400, "ListenerNumberOverLimit",
				"The maximum number of listeners is exceeded: %d a load balancer.", CTL_SLB_MAX_LISTENERS);
	if (listener_write(db, lb->id, l, true) < 0)
		return ctl_db_failure(call);
	log_info("listener created", "lb=%s protocol=%s port=%lld", lb->id, l->protocol, l->port);
	return 1;
}

static int create_listener(struct ctl_call *call, bool udp)
{
	struct listener l;
	int r;

	listener_defaults(&l, udp);
	if ((r = ctl_param_int(call, "ListenerPort", CTL_REQUIRED, 1, 65535, 0, &l.port)) < 0 ||
	    (r = read_params(call, true, &l)) < 0)
		return r;
	return ctl_slb_change(call, create_fn, &l);
}

int ctl_slb_listener_create_tcp(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return create_listener(call, false);
}

int ctl_slb_listener_create_udp(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return create_listener(call, true);
}

/* ---- Set…ListenerAttribute ---- */

static int set_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	const char *proto = arg;
	struct listener l;
	char p[8];
	long long port;
	int r;

	if ((r = read_key(call, proto, &port, p)) < 0 || (r = find_listener(call, db, lb->id, port, p, &l)) < 0 ||
	    (r = read_params(call, false, &l)) < 0)
		return r;
	return listener_write(db, lb->id, &l, false) < 0 ? ctl_db_failure(call) : 1;
}

int ctl_slb_listener_set_tcp(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return ctl_slb_change(call, set_fn, (void *)"tcp");
}

int ctl_slb_listener_set_udp(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return ctl_slb_change(call, set_fn, (void *)"udp");
}

/* ---- Describe…ListenerAttribute ---- */

static void listener_json(const struct listener *l, struct json_object *out)
{
	bool tcp = streq(l->protocol, "tcp");

	ecs_jb_int(out, "ListenerPort", l->port);
	ecs_jb_int(out, "BackendServerPort", l->backend_port);
	ecs_jb_int(out, "Bandwidth", l->bandwidth);
	ecs_jb_str(out, "Status", l->status);
	ecs_jb_str(out, "Scheduler", l->scheduler);
	ecs_jb_str(out, "HealthCheck", l->hc_enabled ? "on" : "off");
	ecs_jb_str(out, "HealthCheckSwitch", l->hc_enabled ? "on" : "off");
	ecs_jb_str(out, "HealthCheckType", l->hc_type);
	ecs_jb_int(out, "HealthCheckConnectPort", l->hc_port ? l->hc_port : l->backend_port);
	ecs_jb_int(out, "HealthCheckConnectTimeout", l->timeout);
	ecs_jb_int(out, "HealthCheckInterval", l->interval);
	ecs_jb_int(out, "HealthyThreshold", l->healthy);
	ecs_jb_int(out, "UnhealthyThreshold", l->unhealthy);
	ecs_jb_str(out, "HealthCheckURI", l->uri);
	ecs_jb_str(out, "HealthCheckDomain", *l->domain ? l->domain : "$_ip");
	ecs_jb_str(out, "HealthCheckHttpCode", l->codes);
	ecs_jb_int(out, "PersistenceTimeout", 0);
	if (tcp) {
		ecs_jb_int(out, "EstablishedTimeout", 900);
		ecs_jb_str(out, "SynProxy", "disable");
	}
	ecs_jb_str(out, "AclStatus", "off");
	ecs_jb_str(out, "VServerGroupId", "");
	ecs_jb_str(out, "Description", "");
}

static int describe_listener(struct ctl_call *call, struct json_object *out, const char *proto)
{
	struct ctl_slb_row lb;
	struct listener l;
	sqlite3 *db = ctl_db_get(call->c->store);
	char p[8];
	long long port;
	int r;

	if (!db)
		return ctl_db_failure(call);
	if ((r = ctl_slb_get(call, db, NULL, &lb)) == 0 && (r = read_key(call, proto, &port, p)) == 0 &&
	    (r = find_listener(call, db, lb.id, port, p, &l)) == 0) {
		ecs_jb_str(out, "LoadBalancerId", lb.id);
		listener_json(&l, out);
	}
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_slb_listener_describe_tcp(struct ctl_call *call, struct json_object *out)
{
	return describe_listener(call, out, "tcp");
}

int ctl_slb_listener_describe_udp(struct ctl_call *call, struct json_object *out)
{
	return describe_listener(call, out, "udp");
}

/* ---- Start, Stop, DeleteLoadBalancerListener ---- */

static int status_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	const char *status = arg;
	struct listener l;
	char p[8];
	long long port;
	int r;

	if ((r = read_key(call, NULL, &port, p)) < 0 || (r = find_listener(call, db, lb->id, port, p, &l)) < 0)
		return r;
	if (streq(l.status, status))
		return 0; /* already so: a success that changes nothing */
	snprintf(l.status, sizeof(l.status), "%s", status);
	return listener_write(db, lb->id, &l, false) < 0 ? ctl_db_failure(call) : 1;
}

int ctl_slb_listener_start(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return ctl_slb_change(call, status_fn, (void *)"running");
}

int ctl_slb_listener_stop(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return ctl_slb_change(call, status_fn, (void *)"stopped");
}

static int delete_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	struct listener l;
	char p[8], port_text[8];
	long long port;
	int r;

	(void)arg;
	if ((r = read_key(call, NULL, &port, p)) < 0 || (r = find_listener(call, db, lb->id, port, p, &l)) < 0)
		return r;
	snprintf(port_text, sizeof(port_text), "%lld", l.port);
	{
		const char *args[] = { lb->id, l.protocol, port_text };

		if (ctl_db_run(db, "DELETE FROM lb_listeners WHERE lb_id = ?1 AND protocol = ?2 AND port = ?3", args, 3) < 0)
			return ctl_db_failure(call);
	}
	log_info("listener deleted", "lb=%s protocol=%s port=%lld", lb->id, l.protocol, l.port);
	return 1;
}

int ctl_slb_listener_delete(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return ctl_slb_change(call, delete_fn, NULL);
}
