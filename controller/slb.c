#include "slb.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "id.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "scheduler.h"
#include "slbsync.h"
#include "store.h"
#include "util.h"

#define MAX_DESCRIBE_IDS 100	/* LoadBalancerId of DescribeLoadBalancers */
#define MAX_BACKENDS_TEXT 65536 /* the BackendServers parameter */
#define SLB_PAGE_SIZE 50	/* DescribeLoadBalancers' default PageSize (SLB's) */

static int not_found(struct ctl_call *call)
{
	return ctl_fail(call, 404, "InvalidLoadBalancerId.NotFound", "The specified LoadBalancerId does not exist.");
}

static int invalid(struct ctl_call *call, const char *name, const char *why)
{
	return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"%s\" is not valid: %s", name, why);
}

/* ---- one load balancer ---- */

int ctl_slb_get(struct ctl_call *call, sqlite3 *db, const char **ret_id, struct ctl_slb_row *ret)
{
	sqlite3_stmt *st;
	const char *id;
	int r = ctl_param_str(call, "LoadBalancerId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &id);

	if (r < 0)
		return r;
	st = ctl_db_prepare_args(db, "SELECT lb_id, host_id, address, status FROM load_balancers WHERE lb_id = ?1 AND"
				     " account_id = ?2 AND deleted = 0",
				 (const char *const[]){ id, call->account->account_id }, 2);
	if (!st)
		return ctl_db_failure(call);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(ret->id, sizeof(ret->id), "%s", ctl_col(st, 0));
		snprintf(ret->host_id, sizeof(ret->host_id), "%s", ctl_col(st, 1));
		snprintf(ret->address, sizeof(ret->address), "%s", ctl_col(st, 2));
		snprintf(ret->status, sizeof(ret->status), "%s", ctl_col(st, 3));
		r = 0;
	} else {
		/* Another account's LB answers exactly as a missing one. */
		r = r == SQLITE_DONE ? not_found(call) : ctl_db_failure(call);
	}
	sqlite3_finalize(st);
	if (r == 0 && ret_id)
		*ret_id = id;
	return r;
}

int ctl_slb_change(struct ctl_call *call, ctl_slb_change_fn fn, void *arg)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	struct ctl_slb_row lb;
	int r;

	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	r = ctl_slb_get(call, db, NULL, &lb);
	if (r == 0)
		r = fn(call, db, &lb, arg);
	if (r == 1 && ctl_slbsync_queue(db, "lb", lb.id, "put") < 0)
		r = ctl_db_failure(call);
	if (r >= 0 && ctl_db_tx_commit(db) < 0)
		r = ctl_db_failure(call);
	if (r == 1)
		ctl_jobs_kick(call->c);
out:
	ctl_db_put(call->c->store, db);
	return r < 0 ? r : 0;
}

/* ---- CreateLoadBalancer ---- */

/* LoadBalancerName: 1-80 characters, not beginning with http:// or https://; letters (any
 * non-ASCII character counts as one), digits, '.', '_', '-', '/'. */
static bool name_ok(const char *n)
{
	size_t chars = 0;

	if (str_has_prefix(n, "http://") || str_has_prefix(n, "https://"))
		return false;
	for (const unsigned char *p = (const unsigned char *)n; *p; p++) {
		if (*p < 0x80 && !isalnum(*p) && !strchr("._-/", *p))
			return false;
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	return chars >= 1 && chars <= 80;
}

struct create_args {
	const char *name, *address_type, *charge_type, *vpc_id, *vswitch_id, *spec, *zone;
	long long bandwidth;
};

static int read_create_args(struct ctl_call *call, struct create_args *a)
{
	static const char *const types[] = { "internet", "intranet", NULL };
	const char *charge, *address, *ipv;
	int r;

	if ((r = ctl_param_str(call, "LoadBalancerName", CTL_NONEMPTY, 1024, NULL, &a->name)) < 0 ||
	    (r = ctl_param_enum(call, "AddressType", 0, types, "internet", &a->address_type)) < 0 ||
	    (r = ctl_param_str(call, "InternetChargeType", CTL_NONEMPTY, 32, "paybytraffic", &charge)) < 0 ||
	    (r = ctl_param_int(call, "Bandwidth", 0, 1, 5120, -1, &a->bandwidth)) < 0 ||
	    (r = ctl_param_str(call, "VpcId", 0, 64, "", &a->vpc_id)) < 0 ||
	    (r = ctl_param_str(call, "VSwitchId", 0, 64, "", &a->vswitch_id)) < 0 ||
	    (r = ctl_param_str(call, "LoadBalancerSpec", 0, 64, "", &a->spec)) < 0 ||
	    (r = ctl_param_str(call, "MasterZoneId", CTL_NONEMPTY, 64, NULL, &a->zone)) < 0 ||
	    (r = ctl_param_str(call, "Address", CTL_NONEMPTY, 64, NULL, &address)) < 0 ||
	    (r = ctl_param_str(call, "AddressIPVersion", CTL_NONEMPTY, 16, "ipv4", &ipv)) < 0)
		return r;
	if (a->name && !name_ok(a->name))
		return invalid(call, "LoadBalancerName", "1-80 letters, digits, '.', '_', '-' or '/'");
	if (strcaseeq(charge, "paybytraffic"))
		a->charge_type = "paybytraffic";
	else if (strcaseeq(charge, "paybybandwidth"))
		a->charge_type = "paybybandwidth";
	else
		return invalid(call, "InternetChargeType", "paybytraffic or paybybandwidth");
	if (a->zone && !ctl_config_zone_known(&call->c->cfg, a->zone))
		return invalid(call, "MasterZoneId", "not a zone of this region");
	if (address)
		return invalid(call, "Address", "choosing the address is not supported");
	if (!strcaseeq(ipv, "ipv4"))
		return invalid(call, "AddressIPVersion", "only ipv4");
	return 0;
}

static int insert_lb(struct ctl_call *call, sqlite3 *db, const struct create_args *a, const char *id,
		     const char *name, const char *address, const char *host, const char *zone)
{
	sqlite3_stmt *st = ctl_db_prepare(
		db, "INSERT INTO load_balancers (lb_id, account_id, name, address, address_type, network_type, vpc_id,"
		    " vswitch_id, spec, charge_type, bandwidth, zone_id, status, host_id, created_at)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'active', ?13, ?14)");
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->address_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, *a->vpc_id ? "vpc" : "classic", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->vpc_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, a->vswitch_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, a->spec, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, a->charge_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, a->bandwidth);
	sqlite3_bind_text(st, 12, zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	return r;
}

int ctl_slb_create(struct ctl_call *call, struct json_object *out)
{
	struct create_args a = { 0 };
	char id[ECS_ID_MAX], host[64], zone[64], address[CTL_IP_MAX];
	sqlite3 *db = NULL;
	long long n = 0;
	bool internet;
	int r;

	if ((r = read_create_args(call, &a)) < 0)
		return r;
	internet = streq(a.address_type, "internet");
	if (ecs_id_new(ECS_ID_LOAD_BALANCER, id) < 0)
		return ctl_db_failure(call);
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	if (ctl_db_count(db, "SELECT count(*) FROM load_balancers WHERE account_id = ?1 AND deleted = 0",
			 (const char *const[]){ call->account->account_id }, 1, &n) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n >= call->c->cfg.quota_load_balancers) {
		r = ctl_fail(call, 400, "OverQuota", "Instance num exceeded Quota: the account may have %lld load balancers.",
			     call->c->cfg.quota_load_balancers);
		goto out;
	}
	r = ctl_schedule_lb(call->c, db, a.zone, host, zone);
	if (r == -ENOSPC) {
		r = ctl_fail(call, 503, "ServiceUnavailable", "No host can hold the load balancer now; please try again later.");
		goto out;
	}
	if (r < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	r = internet ? ctl_public_lease(call->c, db, call->account->account_id, id, host, NULL, address)
		     : ctl_ip_lease(call->c, db, id, address);
	if (r == -ENOSPC) {
		r = internet ? ctl_fail(call, 400, "InsufficientPublicIp", "The public address pool has no free address.")
			     : ctl_fail(call, 403, "InvalidVSwitchId.IpNotEnough", "The private address pool has no free address.");
		goto out;
	}
	if (r == 0)
		r = insert_lb(call, db, &a, id, a.name ? a.name : id, address, host, zone);
	if (r == 0)
		r = ctl_slbsync_queue(db, "lb", id, "put");
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	ctl_jobs_kick(call->c);
	ecs_jb_str(out, "LoadBalancerId", id);
	ecs_jb_str(out, "Address", address);
	ecs_jb_str(out, "LoadBalancerName", a.name ? a.name : id);
	ecs_jb_str(out, "VpcId", a.vpc_id);
	ecs_jb_str(out, "VSwitchId", a.vswitch_id);
	ecs_jb_str(out, "NetworkType", *a.vpc_id ? "vpc" : "classic");
	ecs_jb_str(out, "AddressIPVersion", "ipv4");
	ecs_jb_str(out, "ResourceGroupId", "");
	log_info("load balancer created", "account=%s lb=%s address=%s host=%s", call->account->account_id, id, address,
		 host);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- DeleteLoadBalancer, SetLoadBalancerStatus ---- */

static int delete_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	const char *args[] = { lb->id };

	(void)arg;
	/* The row and the address stay until the agent let go of them (the delete job). */
	if (ctl_db_run(db, "UPDATE load_balancers SET deleted = 1 WHERE lb_id = ?1", args, 1) < 0 ||
	    ctl_slbsync_queue(db, "lb", lb->id, "delete") < 0)
		return ctl_db_failure(call);
	log_info("load balancer deleted", "account=%s lb=%s", call->account->account_id, lb->id);
	return 0;
}

int ctl_slb_delete(struct ctl_call *call, struct json_object *out)
{
	int r = ctl_slb_change(call, delete_fn, NULL);

	(void)out;
	if (r == 0)
		ctl_jobs_kick(call->c);
	return r;
}

static int status_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	const char *status = arg, *args[] = { lb->id, status };

	if (streq(lb->status, status))
		return 0;
	return ctl_db_run(db, "UPDATE load_balancers SET status = ?2 WHERE lb_id = ?1", args, 2) < 0 ? ctl_db_failure(call)
												      : 1;
}

int ctl_slb_set_status(struct ctl_call *call, struct json_object *out)
{
	static const char *const statuses[] = { "active", "inactive", NULL };
	const char *status;
	int r = ctl_param_enum(call, "LoadBalancerStatus", CTL_REQUIRED, statuses, NULL, &status);

	(void)out;
	return r < 0 ? r : ctl_slb_change(call, status_fn, (void *)status);
}

/* ---- describing ---- */

#define LB_COLUMNS                                                                                            \
	"l.lb_id, l.name, l.status, l.address, l.address_type, l.network_type, l.vpc_id, l.vswitch_id, l.spec," \
	" l.charge_type, l.bandwidth, l.zone_id, l.created_at, l.host_id"

static struct json_object *lb_json(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	struct json_object *o = json_object_new_object();
	char created[ECS_ISO8601_LEN + 1];
	long long t = sqlite3_column_int64(st, 12);

	(void)arg;
	ctl_time_str(t, created);
	ecs_jb_str(o, "LoadBalancerId", ctl_col(st, 0));
	ecs_jb_str(o, "LoadBalancerName", ctl_col(st, 1));
	ecs_jb_str(o, "LoadBalancerStatus", ctl_col(st, 2));
	ecs_jb_str(o, "Address", ctl_col(st, 3));
	ecs_jb_str(o, "AddressType", ctl_col(st, 4));
	ecs_jb_str(o, "AddressIPVersion", "ipv4");
	ecs_jb_str(o, "RegionId", call->region_id);
	ecs_jb_str(o, "RegionIdAlias", call->region_id);
	ecs_jb_str(o, "NetworkType", ctl_col(st, 5));
	ecs_jb_str(o, "VpcId", ctl_col(st, 6));
	ecs_jb_str(o, "VSwitchId", ctl_col(st, 7));
	ecs_jb_str(o, "LoadBalancerSpec", ctl_col(st, 8));
	ecs_jb_str(o, "InternetChargeType", ctl_col(st, 9));
	ecs_jb_int(o, "Bandwidth", sqlite3_column_int64(st, 10));
	ecs_jb_str(o, "MasterZoneId", ctl_col(st, 11));
	ecs_jb_str(o, "SlaveZoneId", "");
	ecs_jb_str(o, "PayType", "PayOnDemand");
	ecs_jb_str(o, "ResourceGroupId", "");
	ecs_jb_str(o, "CreateTime", created);
	ecs_jb_int(o, "CreateTimeStamp", t * 1000);
	ecs_jb_list(o, "Tags", "Tag");
	/* Not in SLB: the host the VIP is on (ecsctl lb show). */
	ecs_jb_str(o, "HostId", ctl_col(st, 13));
	return o;
}

/* LoadBalancerId "lb-a,lb-b" into a JSON array (NULL when absent). */
static int read_ids(struct ctl_call *call, struct json_object **ret)
{
	_cleanup_free_ char *copy = NULL;
	struct json_object *ids;
	const char *v;
	char *save = NULL;
	int r = ctl_param_str(call, "LoadBalancerId", CTL_NONEMPTY, MAX_DESCRIBE_IDS * 65, NULL, &v);

	*ret = NULL;
	if (r < 0 || !v)
		return r;
	copy = strdup(v);
	if (!copy)
		return ctl_db_failure(call);
	ids = json_object_new_array();
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (json_object_array_length(ids) == MAX_DESCRIBE_IDS) {
			json_object_put(ids);
			return invalid(call, "LoadBalancerId", "more than 100 ids");
		}
		json_object_array_add(ids, json_object_new_string(t));
	}
	*ret = ids;
	return 0;
}

int ctl_slb_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const types[] = { "internet", "intranet", NULL };
	static const char *const statuses[] = { "active", "inactive", "locked", NULL };
	static const char *const networks[] = { "classic", "vpc", NULL };
	_cleanup_json_ struct json_object *ids = NULL;
	const char *name, *address, *type, *status, *network, *vpc, *vswitch, *server, *zone;
	struct ctl_page page;
	int r;

	if ((r = read_ids(call, &ids)) < 0 ||
	    (r = ctl_param_str(call, "LoadBalancerName", CTL_NONEMPTY, 1024, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "Address", CTL_NONEMPTY, 64, NULL, &address)) < 0 ||
	    (r = ctl_param_enum(call, "AddressType", 0, types, NULL, &type)) < 0 ||
	    (r = ctl_param_enum(call, "LoadBalancerStatus", 0, statuses, NULL, &status)) < 0 ||
	    (r = ctl_param_enum(call, "NetworkType", 0, networks, NULL, &network)) < 0 ||
	    (r = ctl_param_str(call, "VpcId", CTL_NONEMPTY, 64, NULL, &vpc)) < 0 ||
	    (r = ctl_param_str(call, "VSwitchId", CTL_NONEMPTY, 64, NULL, &vswitch)) < 0 ||
	    (r = ctl_param_str(call, "ServerId", CTL_NONEMPTY, 64, NULL, &server)) < 0 ||
	    (r = ctl_param_str(call, "MasterZoneId", CTL_NONEMPTY, 64, NULL, &zone)) < 0 ||
	    (r = ctl_param_paging(call, 100, SLB_PAGE_SIZE, &page)) < 0)
		return r;
	return ctl_page_query(
		call, &page,
		&(struct ctl_page_query){
			.columns = LB_COLUMNS,
			.from = " FROM load_balancers l WHERE l.account_id = ?1 AND l.deleted = 0 AND (?2 IS NULL OR"
				" l.lb_id IN (SELECT value FROM json_each(?2))) AND (?3 IS NULL OR l.name = ?3) AND"
				" (?4 IS NULL OR l.address = ?4) AND (?5 IS NULL OR l.address_type = ?5) AND (?6 IS NULL"
				" OR l.status = ?6) AND (?7 IS NULL OR l.network_type = ?7) AND (?8 IS NULL OR"
				" l.vpc_id = ?8) AND (?9 IS NULL OR l.vswitch_id = ?9) AND (?10 IS NULL OR EXISTS (SELECT"
				" 1 FROM lb_backends b WHERE b.lb_id = l.lb_id AND b.instance_id = ?10)) AND (?11 IS NULL"
				" OR l.zone_id = ?11)",
			.order = " ORDER BY l.created_at DESC, l.rowid DESC",
			.args = (const char *const[]){ ids ? ecs_json_text(ids, NULL) : NULL, name, address, type, status,
						       network, vpc, vswitch, server, zone },
			.n_args = 10,
			.list_key = "LoadBalancers",
			.item_key = "LoadBalancer",
			.row = lb_json,
		},
		out);
}

/* BackendServers.BackendServer[] of lb_id, in instance id order; weight_text: Weight as a
 * string (Add/Remove/SetBackendServers answer so, DescribeLoadBalancerAttribute a number). */
static int backends_json(sqlite3 *db, const char *lb_id, bool weight_text, struct json_object *out)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT b.instance_id, b.weight, COALESCE(i.private_ip, '') FROM lb_backends b"
					      " LEFT JOIN instances i ON i.instance_id = b.instance_id WHERE b.lb_id = ?1"
					      " ORDER BY b.instance_id");
	struct json_object *list = ecs_jb_list(out, "BackendServers", "BackendServer");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, lb_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *b = json_object_new_object();

		ecs_jb_str(b, "ServerId", ctl_col(st, 0));
		if (weight_text)
			ecs_jb_str(b, "Weight", ctl_col(st, 1));
		else
			ecs_jb_int(b, "Weight", sqlite3_column_int64(st, 1));
		ecs_jb_str(b, "Type", "ecs");
		ecs_jb_str(b, "ServerIp", ctl_col(st, 2));
		ecs_jb_str(b, "Description", "");
		json_object_array_add(list, b);
	}
	sqlite3_finalize(st);
	return 0;
}

int ctl_slb_describe_attribute(struct ctl_call *call, struct json_object *out)
{
	struct json_object *lb, *ports, *pp, *pp_old;
	struct ctl_slb_row row;
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st = NULL;
	int r;

	if (!db)
		return ctl_db_failure(call);
	if ((r = ctl_slb_get(call, db, NULL, &row)) < 0)
		goto out;
	st = ctl_db_prepare(db, "SELECT " LB_COLUMNS " FROM load_balancers l WHERE l.lb_id = ?1");
	if (st)
		sqlite3_bind_text(st, 1, row.id, -1, SQLITE_STATIC);
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		r = ctl_db_failure(call);
		goto out;
	}
	lb = lb_json(call, st, NULL);
	json_object_object_foreach(lb, k, v)
	{
		json_object_object_add(out, k, json_object_get(v));
	}
	json_object_put(lb);
	sqlite3_finalize(st);
	st = ctl_db_prepare_args(db, "SELECT port, protocol FROM lb_listeners WHERE lb_id = ?1 ORDER BY port, protocol",
				 (const char *const[]){ row.id }, 1);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	ports = ecs_jb_list(out, "ListenerPorts", "ListenerPort");
	pp = ecs_jb_list(out, "ListenerPortsAndProtocol", "ListenerPortAndProtocol");
	/* The SDKs also read SLB's misspelling. */
	pp_old = ecs_jb_list(out, "ListenerPortsAndProtocal", "ListenerPortAndProtocal");
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *a = json_object_new_object(), *b = json_object_new_object();
		long long port = sqlite3_column_int64(st, 0);
		size_t n = json_object_array_length(ports);

		/* A port shared by a TCP and a UDP listener is listed once in ListenerPorts. */
		if (!n || json_object_get_int64(json_object_array_get_idx(ports, n - 1)) != port)
			json_object_array_add(ports, json_object_new_int64(port));
		ecs_jb_int(a, "ListenerPort", port);
		ecs_jb_str(a, "ListenerProtocol", ctl_col(st, 1));
		json_object_array_add(pp, a);
		ecs_jb_int(b, "ListenerPort", port);
		ecs_jb_str(b, "ListenerProtocal", ctl_col(st, 1));
		json_object_array_add(pp_old, b);
	}
	if (backends_json(db, row.id, false, out) < 0)
		r = ctl_db_failure(call);
out:
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- backends ---- */

enum backends_op { BACKENDS_ADD, BACKENDS_REMOVE, BACKENDS_SET };

struct backend {
	const char *server_id;
	long long weight;
};

struct backends_arg {
	enum backends_op op;
	struct json_object *parsed; /* owns the strings */
	struct backend items[CTL_SLB_MAX_BACKENDS_CALL];
	size_t n;
	struct json_object *out;
};

static int weight_of(struct ctl_call *call, struct json_object *w, long long *ret)
{
	long long v;

	if (json_object_is_type(w, json_type_int))
		v = json_object_get_int64(w);
	else if (!json_object_is_type(w, json_type_string) || ecs_parse_int64(json_object_get_string(w), 0, 100, &v) < 0)
		v = -1;
	if (v < 0 || v > 100)
		return ctl_fail(call, 400, "InvalidWeight.Malformed", "A specified weight is not valid: 0 to 100.");
	*ret = v;
	return 0;
}

/* BackendServers: '[{"ServerId":"i-…","Weight":"100","Type":"ecs"}]' (RemoveBackendServers
 * also takes '["i-…"]'); at most 20 items, each server once. */
static int read_backends(struct ctl_call *call, struct backends_arg *a)
{
	const char *text, *perr;
	size_t n;
	int r = ctl_param_str(call, "BackendServers", CTL_REQUIRED | CTL_NONEMPTY, MAX_BACKENDS_TEXT, NULL, &text);

	if (r < 0)
		return r;
	if (ecs_json_parse(text, strlen(text), &a->parsed, &perr) < 0 || !json_object_is_type(a->parsed, json_type_array))
		return invalid(call, "BackendServers", "not a JSON array");
	n = json_object_array_length(a->parsed);
	if (n == 0)
		return invalid(call, "BackendServers", "an empty list");
	if (n > CTL_SLB_MAX_BACKENDS_CALL)
		return ctl_fail(call, 400, "TooManyBackendServers",
				"The total number of input real servers exceeds max supported number: %d",
				CTL_SLB_MAX_BACKENDS_CALL);
	for (size_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(a->parsed, i), *sid = NULL, *w = NULL, *type = NULL;
		struct backend *b = &a->items[a->n];

		if (a->op == BACKENDS_REMOVE && json_object_is_type(it, json_type_string)) {
			sid = it;
		} else if (json_object_is_type(it, json_type_object)) {
			json_object_object_foreach(it, k, v)
			{
				if (streq(k, "ServerId"))
					sid = v;
				else if (streq(k, "Weight"))
					w = v;
				else if (streq(k, "Type"))
					type = v;
				else if (!streq(k, "Description"))
					return invalid(call, "BackendServers", "only ServerId, Weight, Type and Description");
			}
		}
		if (!sid || !json_object_is_type(sid, json_type_string) || json_object_get_string_len(sid) == 0 ||
		    json_object_get_string_len(sid) > 64)
			return invalid(call, "BackendServers", "each item needs a ServerId");
		if (type && (!json_object_is_type(type, json_type_string) || !streq(json_object_get_string(type), "ecs")))
			return ctl_fail(call, 400, "BackendServer.InvalidType", "The specified Type is invalid: only ecs.");
		b->server_id = json_object_get_string(sid);
		b->weight = 100;
		if (a->op == BACKENDS_SET && !w)
			return invalid(call, "BackendServers", "each item needs a Weight");
		if (w && a->op != BACKENDS_REMOVE && (r = weight_of(call, w, &b->weight)) < 0)
			return r;
		for (size_t j = 0; j < a->n; j++)
			if (streq(a->items[j].server_id, b->server_id))
				return invalid(call, "BackendServers", "a ServerId given twice");
		a->n++;
	}
	return 0;
}

/* 1 when the row exists. */
static int exists(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = ctl_db_prepare(db, sql);
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -EIO;
}

static int backends_fn(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg)
{
	struct backends_arg *a = arg;
	bool changed = false;
	sqlite3_stmt *st;
	long long n = -1;

	for (size_t i = 0; i < a->n; i++) {
		const struct backend *b = &a->items[i];
		int r = exists(db, "SELECT 1 FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND deleted = 0 AND"
				   " desired != 'deleted'",
			       b->server_id, call->account->account_id);

		if (r < 0)
			return ctl_db_failure(call);
		/* Another account's instance answers exactly as a missing one. */
		if (!r && a->op != BACKENDS_REMOVE)
			return ctl_fail(call, 404, "InvalidServerId.NotFound", "The specified ServerId does not exist: %s.",
					b->server_id);
		r = exists(db, "SELECT 1 FROM lb_backends WHERE lb_id = ?1 AND instance_id = ?2", lb->id, b->server_id);
		if (r < 0)
			return ctl_db_failure(call);
		if (!r && a->op == BACKENDS_SET)
			return ctl_fail(call, 400, "InvalidParameter",
					"The specified BackendServers is invalid: %s is not a backend server of %s.",
					b->server_id, lb->id);
		if (a->op == BACKENDS_REMOVE) {
			st = ctl_db_prepare(db, "DELETE FROM lb_backends WHERE lb_id = ?1 AND instance_id = ?2");
		} else {
			st = ctl_db_prepare(db, "INSERT INTO lb_backends (lb_id, instance_id, weight, created_at)"
						" VALUES (?1, ?2, ?3, ?4) ON CONFLICT (lb_id, instance_id) DO UPDATE SET"
						" weight = excluded.weight WHERE weight != excluded.weight");
			if (st) {
				sqlite3_bind_int64(st, 3, b->weight);
				sqlite3_bind_int64(st, 4, time(NULL));
			}
		}
		if (!st)
			return ctl_db_failure(call);
		sqlite3_bind_text(st, 1, lb->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, b->server_id, -1, SQLITE_STATIC);
		r = ctl_db_step_done(st);
		sqlite3_finalize(st);
		if (r < 0)
			return ctl_db_failure(call);
		changed |= sqlite3_changes(db) > 0;
	}
	if (ctl_db_count(db, "SELECT count(*) FROM lb_backends WHERE lb_id = ?1", (const char *const[]){ lb->id }, 1,
			 &n) < 0)
		return ctl_db_failure(call);
	if (n > CTL_SLB_MAX_BACKENDS)
		return ctl_fail(call, 400, "TooManyBackendServers",
				"A load balancer has at most %d backend servers; this call would make %lld.",
				CTL_SLB_MAX_BACKENDS, n);
	ecs_jb_str(a->out, "LoadBalancerId", lb->id);
	if (backends_json(db, lb->id, true, a->out) < 0)
		return ctl_db_failure(call);
	return changed ? 1 : 0;
}

static int backends_action(struct ctl_call *call, struct json_object *out, enum backends_op op)
{
	struct backends_arg a = { .op = op, .out = out };
	int r = read_backends(call, &a);

	if (r == 0)
		r = ctl_slb_change(call, backends_fn, &a);
	json_object_put(a.parsed);
	return r;
}

int ctl_slb_add_backends(struct ctl_call *call, struct json_object *out)
{
	return backends_action(call, out, BACKENDS_ADD);
}

int ctl_slb_remove_backends(struct ctl_call *call, struct json_object *out)
{
	return backends_action(call, out, BACKENDS_REMOVE);
}

int ctl_slb_set_backends(struct ctl_call *call, struct json_object *out)
{
	return backends_action(call, out, BACKENDS_SET);
}

/* ---- DescribeHealthStatus ---- */

/* The agent's word for (protocol, port, server): "normal", "abnormal" or "unavailable"
 * (also when the agent did not answer or does not hold it yet). */
static const char *health_of(struct json_object *agent, const char *proto, long long port, const char *server)
{
	struct json_object *list = ecs_json_get(agent, "health");

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *h = json_object_array_get_idx(list, i);
		const char *s = ecs_json_str(h, "status", "");

		if (streq(ecs_json_str(h, "protocol", ""), proto) && ecs_json_int(h, "port", -1) == port &&
		    streq(ecs_json_str(h, "server_id", ""), server) &&
		    (streq(s, "normal") || streq(s, "abnormal") || streq(s, "unavailable")))
			return s;
	}
	return "unavailable";
}

int ctl_slb_health(struct ctl_call *call, struct json_object *out)
{
	static const char *const protocols[] = { "tcp", "udp", NULL };
	struct json_object *agent = NULL, *list;
	struct ctl_slb_row row;
	const char *proto;
	long long port;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ctl_param_int(call, "ListenerPort", 0, 1, 65535, 0, &port)) < 0 ||
	    (r = ctl_param_enum(call, "ListenerProtocol", 0, protocols, NULL, &proto)) < 0)
		return r;
	db = ctl_db_get(call->c->store);
	if (!db)
		return ctl_db_failure(call);
	if ((r = ctl_slb_get(call, db, NULL, &row)) < 0)
		goto out;
	st = ctl_db_prepare_args(db,
				 "SELECT l.port, l.protocol, l.backend_port, b.instance_id, COALESCE(i.private_ip, '')"
				 " FROM lb_listeners l LEFT JOIN lb_backends b ON b.lb_id = l.lb_id LEFT JOIN instances i ON"
				 " i.instance_id = b.instance_id WHERE l.lb_id = ?1 AND (?2 = 0 OR l.port = ?2) AND"
				 " (?3 IS NULL OR l.protocol = ?3) ORDER BY l.port, l.protocol, b.instance_id",
				 (const char *const[]){ row.id }, 1);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_int64(st, 2, port);
	if (proto)
		sqlite3_bind_text(st, 3, proto, -1, SQLITE_STATIC);
	/* The connection goes back to the pool while the agent is asked. */
	list = ecs_jb_list(out, "BackendServers", "BackendServer");
	{
		struct json_object *rows = json_object_new_array();
		bool listener = false;

		while (sqlite3_step(st) == SQLITE_ROW) {
			struct json_object *o;

			listener = true;
			if (sqlite3_column_type(st, 3) == SQLITE_NULL)
				continue; /* a listener without backends */
			o = json_object_new_object();
			ecs_jb_int(o, "ListenerPort", sqlite3_column_int64(st, 0));
			ecs_jb_str(o, "Protocol", ctl_col(st, 1));
			ecs_jb_str(o, "ServerId", ctl_col(st, 3));
			ecs_jb_str(o, "ServerIp", ctl_col(st, 4));
			ecs_jb_int(o, "Port", sqlite3_column_int64(st, 2));
			ecs_jb_str(o, "Type", "ecs");
			json_object_array_add(rows, o);
		}
		sqlite3_finalize(st);
		st = NULL;
		ctl_db_put(call->c->store, db);
		db = NULL;
		if (port && !listener) {
			json_object_put(rows);
			r = ctl_fail(call, 404, "ListenerNotFound",
				     "You have not created a listener for the specified port of the load balancer.");
			goto out;
		}
		if (json_object_array_length(rows))
			ctl_slbsync_agent_lb(call->c, row.host_id, row.id, &agent);
		for (size_t i = 0; i < json_object_array_length(rows); i++) {
			struct json_object *o = json_object_array_get_idx(rows, i);

			ecs_jb_str(o, "ServerHealthStatus",
				   health_of(agent, ecs_json_str(o, "Protocol", ""), ecs_json_int(o, "ListenerPort", 0),
					     ecs_json_str(o, "ServerId", "")));
			json_object_array_add(list, json_object_get(o));
		}
		json_object_put(rows);
	}
out:
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	json_object_put(agent);
	return r;
}
