#include "hosts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "addrpool.h"
#include "ceph.h"
#include "common.h"
#include "hostauth.h"
#include "instance.h"
#include "json.h"
#include "log.h"
#include "sgsync.h"
#include "slbsync.h"
#include "store.h"
#include "util.h"

static void reply(struct ecs_http_response *resp, int status, const char *code, const char *message)
{
	ecs_http_reply_error(resp, status, code, message, NULL);
}

#define VNI_MAX 16777215

/* The host's gateway: the first of its bridge's addresses ("A.B.C.D/N") that is one of the
 * pool's gateway addresses, or "" (its instances are then given network+1). */
static void pick_gateway(struct ctl *c, struct json_object *cidrs, char ret[CTL_IP_MAX])
{
	struct ctl_pool p;

	ret[0] = '\0';
	if (!cidrs || ctl_pool_parse(c->cfg.ip_pool, 8, 30, &p) < 0)
		return;
	for (size_t i = 0; i < json_object_array_length(cidrs); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(cidrs, i));
		char ip[CTL_IP_MAX];

		if (!s || !json_object_is_type(json_object_array_get_idx(cidrs, i), json_type_string))
			continue;
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(s, "/"), s);
		if (ctl_pool_is_gateway(&p, c->cfg.host_gateways, ip)) {
			snprintf(ret, CTL_IP_MAX, "%s", ip);
			return;
		}
	}
}

/* The underlay addresses of the other alive hosts of the same VNI. */
static struct json_object *overlay_peers(struct ctl *c, sqlite3 *db, const char *host, long long vni)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT DISTINCT underlay_ip FROM hosts WHERE vni = ?1 AND host_id != ?2 AND"
					      " underlay_ip != '' AND last_seen >= ?3 ORDER BY underlay_ip");
	struct json_object *list;

	if (!st)
		return NULL;
	list = json_object_new_array();
	sqlite3_bind_int64(st, 1, vni);
	sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, time(NULL) - c->cfg.host_dead_after_s);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(list, json_object_new_string(ctl_col(st, 0)));
	sqlite3_finalize(st);
	return list;
}

static void heartbeat(struct ctl *c, const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct json_object *facts = NULL, *insts, *answer, *cidrs, *overlay, *storage, *peers = NULL;
	const char *perr, *host, *api, *underlay = "", *storage_message = "";
	bool storage_reachable = true;
	char gateway[CTL_IP_MAX];
	long long gen, vni = 0;
	struct ecs_jreader jr;
	sqlite3 *db;
	sqlite3_stmt *st;
	long long state_seq;
	int r;

	if (ecs_json_parse(req->body, req->body_len, &facts, &perr) < 0)
		return reply(resp, 400, "MalformedJSON", perr);
	ecs_jr_init(&jr, facts);
	host = ecs_jr_str(&jr, "host_id", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, 64, NULL);
	api = ecs_jr_str(&jr, "api_url", ECS_JR_REQUIRED, 256, NULL);
	insts = ecs_jr_array(&jr, "instances", 0, 100000);
	/* An older agent sends none: its word is taken as before. */
	state_seq = ecs_jr_int(&jr, "state_seq", 0, 0, LLONG_MAX, LLONG_MAX);
	cidrs = ecs_jr_array(&jr, "gateway_cidrs", 0, 64);
	overlay = ecs_jr_object(&jr, "overlay", 0);
	/* Optional: whether the host reaches the storage cluster (a host that does not takes no
	 * new instances). */
	storage = ecs_jr_object(&jr, "storage", 0);
	if (storage && jr.rc == 0) {
		struct ecs_jreader js;

		ecs_jr_init(&js, storage);
		storage_reachable = ecs_jr_bool(&js, "reachable", ECS_JR_REQUIRED, true);
		storage_message = ecs_jr_str(&js, "message", 0, 160, "");
		if (js.rc) {
			_cleanup_free_ char *m = ecs_strdup_printf("storage: %s", js.message);

			json_object_put(facts);
			return reply(resp, 400, "InvalidParameter", m ? m : "storage");
		}
	}
	if (overlay && jr.rc == 0) {
		struct ecs_jreader jo;

		ecs_jr_init(&jo, overlay);
		vni = ecs_jr_int(&jo, "vni", ECS_JR_REQUIRED, 1, VNI_MAX, 0);
		underlay = ecs_jr_str(&jo, "underlay_ip", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, 15, NULL);
		if (jo.rc == 0 && !ecs_ipv4_valid(underlay))
			ecs_jr_fail(&jo, -EINVAL, "underlay_ip", "overlay.underlay_ip: %s is not an IPv4 address", underlay);
		if (jo.rc) {
			_cleanup_free_ char *m = ecs_strdup_printf("overlay: %s", jo.message);

			json_object_put(facts);
			return reply(resp, 400, "InvalidParameter", m ? m : "overlay");
		}
	}
	if (jr.rc) {
		json_object_put(facts);
		return reply(resp, 400, "InvalidParameter", jr.message);
	}
	/* A host reports for itself only. */
	if (!streq(ecs_kvlist_get_case(req->headers, "X-Ecs-Host-Id"), host)) {
		json_object_put(facts);
		return reply(resp, 403, "Forbidden", "host_id differs from X-Ecs-Host-Id");
	}
	db = ctl_db_get(c->store);
	st = db ? ctl_db_prepare(db, "INSERT INTO hosts (host_id, api_url, zone_id, hypervisor, vcpus, memory_mib,"
				     " disk_gib, max_instances, images, last_seen, state, gateway, underlay_ip, vni)"
				     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'up', ?11, ?12, ?13)"
				     " ON CONFLICT (host_id) DO UPDATE SET api_url = excluded.api_url,"
				     " zone_id = excluded.zone_id, hypervisor = excluded.hypervisor, vcpus = excluded.vcpus,"
				     " memory_mib = excluded.memory_mib, disk_gib = excluded.disk_gib,"
				     " max_instances = excluded.max_instances, images = excluded.images,"
				     " last_seen = excluded.last_seen, state = 'up', gateway = excluded.gateway,"
				     " underlay_ip = excluded.underlay_ip, vni = excluded.vni,"
				     /* Back from the dead: what was moved away is removed from it at once. */
				     " lb_synced_at = CASE WHEN last_seen < ?14 THEN -1 ELSE lb_synced_at END")
		: NULL;
	if (!st) {
		ctl_db_put(c->store, db);
		json_object_put(facts);
		return reply(resp, 500, "InternalError", "cannot record the heartbeat");
	}
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, api, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ecs_json_str(facts, "zone_id", ""), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ecs_json_str(facts, "hypervisor", ""), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, ecs_json_int(facts, "vcpus", 0));
	sqlite3_bind_int64(st, 6, ecs_json_int(facts, "memory_mib", 0));
	sqlite3_bind_int64(st, 7, ecs_json_int(facts, "disk_total_gib", 0));
	sqlite3_bind_int64(st, 8, ecs_json_int(facts, "max_instances", 0));
	sqlite3_bind_text(st, 9, ecs_json_get(facts, "images") ? ecs_json_text(ecs_json_get(facts, "images"), NULL) : "[]",
			  -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 10, time(NULL));
	pick_gateway(c, cidrs, gateway);
	sqlite3_bind_text(st, 11, gateway, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, underlay, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, vni);
	sqlite3_bind_int64(st, 14, time(NULL) - c->cfg.host_dead_after_s);
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (r == 0) {
		ctl_ceph_agent_report(c, host, storage_reachable, storage_message);
		ctl_instance_sync_host(c, host, insts, state_seq);
		/* Its load balancers and public IPs are compared with the agent's now and then. */
		ctl_slbsync_heartbeat(c, host, ecs_json_get(facts, "load_balancers"), ecs_json_get(facts, "public_ips"));
		/* Any live host's heartbeat moves LBs off hosts that stopped beating. */
		ctl_slbsync_failover(c);
	}
	if (r < 0) {
		json_object_put(facts);
		return reply(resp, 500, "InternalError", "cannot record the heartbeat");
	}
	/* The security generation: an agent that applied another one pulls its view again. */
	db = ctl_db_get(c->store);
	gen = db ? ctl_sgsync_generation(db) : -1;
	if (gen >= 0 && vni > 0 && !(peers = overlay_peers(c, db, host, vni)))
		gen = -1;
	ctl_db_put(c->store, db);
	json_object_put(facts);
	if (gen < 0)
		return reply(resp, 500, "InternalError", "cannot read the security generation or the overlay");
	answer = json_object_new_object();
	ecs_jb_int(answer, "security_generation", gen);
	if (peers)
		json_object_object_add(answer, "overlay_peers", peers);
	ecs_http_reply_json(resp, 200, answer);
	json_object_put(answer);
}

static void wanted(struct ctl *c, const char *host, const char *instance_id, struct ecs_http_response *resp)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT host_id FROM instances WHERE instance_id = ?1 AND deleted = 0")
			      : NULL;
	int r;

	if (!st) {
		ctl_db_put(c->store, db);
		return reply(resp, 500, "InternalError", "cannot read instances");
	}
	sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		bool yes = h && streq(h, host);

		ecs_http_reply(resp, 200, "application/json", yes ? "{\"wanted\":true}" : "{\"wanted\":false}",
			       yes ? 15 : 16);
	} else {
		reply(resp, 404, "InvalidInstanceId.NotFound", "no such instance");
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

/* Which of the instances a host holds run on another host now (a create moved elsewhere by
 * the scheduler, or a recovery while the host was dead): the agent removes their domains
 * and local pieces, never their shared disks. */
static void moved(struct ctl *c, const struct ecs_http_request *req, const char *host,
		  struct ecs_http_response *resp)
{
	_cleanup_json_ struct json_object *body = NULL, *answer = NULL;
	struct json_object *ids, *list;
	struct ecs_jreader jr;
	const char *perr;
	sqlite3 *db;
	sqlite3_stmt *st;

	if (ecs_json_parse(req->body, req->body_len, &body, &perr) < 0)
		return reply(resp, 400, "MalformedJSON", perr);
	ecs_jr_init(&jr, body);
	ids = ecs_jr_array(&jr, "instance_ids", ECS_JR_REQUIRED, 100000);
	for (size_t i = 0; jr.rc == 0 && i < json_object_array_length(ids); i++)
		if (!json_object_is_type(json_object_array_get_idx(ids, i), json_type_string))
			ecs_jr_fail(&jr, -EINVAL, "instance_ids", "instance_ids[%zu] is not a string", i);
	if (jr.rc)
		return reply(resp, 400, "InvalidParameter", jr.message);
	db = ctl_db_get(c->store);
	st = db ? ctl_db_prepare(db, "SELECT 1 FROM instances WHERE instance_id = ?1 AND deleted = 0 AND"
				     " host_id IS NOT NULL AND host_id != ?2")
		: NULL;
	if (!st) {
		ctl_db_put(c->store, db);
		return reply(resp, 500, "InternalError", "cannot read instances");
	}
	list = json_object_new_array();
	sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(ids, i));

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			json_object_array_add(list, json_object_new_string(id));
	}
	sqlite3_finalize(st);
	/* None left here: a fenced host may be let back into the storage cluster (heal.c). */
	if (json_object_array_length(list) == 0)
		ctl_db_run(db, "UPDATE hosts SET evicted_at = CAST(strftime('%s') AS INTEGER) WHERE host_id = ?1", &host, 1);
	ctl_db_put(c->store, db);
	answer = json_object_new_object();
	json_object_object_add(answer, "moved", list);
	ecs_http_reply_json(resp, 200, answer);
}

void ctl_hosts_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct ctl *c = req->userdata;
	const char *why = NULL, *host = ecs_kvlist_get_case(req->headers, "X-Ecs-Host-Id");

	if (ecs_hostauth_verify(c->host_key, "", c->host_nonces, req->method, req->path, req->query, req->headers, req->body,
				req->body_len, time(NULL), &why) < 0) {
		log_warn("agent call refused", "remote=%s reason=\"%s\"", req->remote_addr, why);
		return reply(resp, 401, "Unauthorized", why);
	}
	if (!host || !*host)
		return reply(resp, 400, "MissingParameter", "X-Ecs-Host-Id is required");
	if (streq(req->method, "POST") && streq(req->path, "/agent/v1/heartbeat"))
		return heartbeat(c, req, resp);
	if (streq(req->method, "GET") && streq(req->path, "/agent/v1/security-groups"))
		return ctl_sgsync_view(c, host, resp);
	if (streq(req->method, "POST") && streq(req->path, "/agent/v1/instances/moved"))
		return moved(c, req, host, resp);
	if (streq(req->method, "GET") && str_has_prefix(req->path, "/agent/v1/instances/") &&
	    !strchr(req->path + strlen("/agent/v1/instances/"), '/'))
		return wanted(c, host, req->path + strlen("/agent/v1/instances/"), resp);
	reply(resp, 404, "NotFound", "no such resource");
}
