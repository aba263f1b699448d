#include "eip.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addrpool.h"
#include "common.h"
#include "instance.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "slbsync.h"
#include "store.h"
#include "util.h"

/* The one number of a query bound to a and b (b may be NULL: a query of one parameter);
 * -1 on error. */
static long long count(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	long long n = -1;

	if (ctl_db_count(db, sql, (const char *const[]){ a, b }, 2, &n) < 0)
		return -1;
	return n;
}

static int allocate(struct ctl_call *call, sqlite3 *db, const char *id, const char *want, char address[CTL_IP_MAX])
{
	const char *account = call->account->account_id;
	char status[32], host[64];
	long long held, mine;
	int r;

	/* Read on another connection, but after this transaction took the write lock: no delete
	 * of the instance can commit before this allocation does. */
	if ((r = ctl_instance_lookup(call, id, status, host)) < 0)
		return r;
	if ((!streq(status, "Running") && !streq(status, "Stopped")) || !*host)
		return ctl_fail(call, 403, "IncorrectInstanceStatus",
				"The current status of the resource does not support this operation.");
	held = count(db, "SELECT count(*) FROM public_ips WHERE owner_id = ?1 AND state = 'active'", id, NULL);
	mine = count(db, "SELECT count(*) FROM public_ips WHERE account_id = ?1 AND owner_id LIKE 'i-%' AND"
			 " state = 'active'",
		     account, NULL);
	if (held < 0 || mine < 0)
		return ctl_db_failure(call);
	if (held)
		return ctl_fail(call, 403, "AllocatedAlready", "There is an IpAddress allocated already for the specified instance.");
	if (mine >= call->c->cfg.quota_public_ips)
		return ctl_fail(call, 400, "QuotaExceeded", "Public IP address quota exceeded (%lld of %lld).", mine,
				call->c->cfg.quota_public_ips);
	r = ctl_public_lease(call->c, db, account, id, host, want, address);
	switch (r) {
	case 0:
		break;
	case -ENOSPC:
		return ctl_fail(call, 400, "InsufficientPublicIp", "The public address pool has no free address.");
	case -EADDRNOTAVAIL:
		return ctl_fail(call, 404, "InvalidIpAddress.NotFound", "The specified IP is not in the public address pool.");
	case -EADDRINUSE:
		return ctl_fail(call, 403, "IpInUse", "The specified IP is already in use.");
	default:
		return ctl_db_failure(call);
	}
	return ctl_slbsync_queue(db, "eip", address, "put") < 0 ? ctl_db_failure(call) : 0;
}

int ctl_eip_allocate(struct ctl_call *call, struct json_object *out)
{
	char address[CTL_IP_MAX];
	const char *id, *want;
	sqlite3 *db = NULL;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_str(call, "IpAddress", CTL_NONEMPTY, 64, NULL, &want)) < 0)
		return r;
	if (want && !ctl_ip_valid(want))
		return ctl_fail(call, 400, "InvalidIpAddress.Malformed", "The specified parameter \"IpAddress\" is not valid.");
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	r = allocate(call, db, id, want, address);
	if (r == 0 && ctl_db_tx_commit(db) < 0)
		r = ctl_db_failure(call);
	if (r < 0)
		goto out;
	ctl_jobs_kick(call->c);
	ecs_jb_str(out, "IpAddress", address);
	log_info("public IP allocated", "account=%s instance=%s address=%s", call->account->account_id, id, address);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

static int release(struct ctl_call *call, sqlite3 *db, const char *address, const char *instance)
{
	const char *args[] = { address };
	char status[32], host[64];
	long long n;
	int r;

	if (instance && (r = ctl_instance_lookup(call, instance, status, host)) < 0)
		return r;
	n = count(db, "SELECT count(*) FROM public_ips WHERE address = ?1 AND account_id = ?2 AND owner_id LIKE 'i-%' AND"
		      " state = 'active'",
		  address, call->account->account_id);
	if (n > 0 && instance)
		n = count(db, "SELECT count(*) FROM public_ips WHERE address = ?1 AND owner_id = ?2", address, instance);
	if (n < 0)
		return ctl_db_failure(call);
	if (n == 0)
		return ctl_fail(call, 404, "InvalidPublicIpAddress.NotFound",
				"The specified PublicIpAddress is not a public IP of the instance.");
	/* Out of DescribeInstances now; back in the pool once the agent let go of it. */
	if (ctl_db_run(db, "UPDATE public_ips SET state = 'releasing' WHERE address = ?1", args, 1) < 0 ||
	    ctl_slbsync_queue(db, "eip", address, "delete") < 0)
		return ctl_db_failure(call);
	return 0;
}

int ctl_eip_release(struct ctl_call *call, struct json_object *out)
{
	const char *address, *instance;
	sqlite3 *db = NULL;
	int r;

	(void)out;
	if ((r = ctl_param_str(call, "PublicIpAddress", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &address)) < 0 ||
	    (r = ctl_param_id(call, "InstanceId", 0, "i-", &instance)) < 0)
		return r;
	if (!ctl_ip_valid(address))
		return ctl_fail(call, 400, "InvalidPublicIpAddress.Malformed",
				"The specified parameter \"PublicIpAddress\" is not valid.");
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	r = release(call, db, address, instance);
	if (r == 0 && ctl_db_tx_commit(db) < 0)
		r = ctl_db_failure(call);
	if (r < 0)
		goto out;
	ctl_jobs_kick(call->c);
	log_info("public IP released", "account=%s address=%s", call->account->account_id, address);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_eip_follow(sqlite3 *db, const char *instance_id, const char *host)
{
	const char *args[] = { instance_id, host };
	sqlite3_stmt *st = ctl_db_prepare_args(db,
					       "SELECT address FROM public_ips WHERE owner_id = ?1 AND state = 'active' AND"
					       " host_id != ?2",
					       args, 2);
	struct json_object *moving = json_object_new_array();
	int r = st ? 0 : -EIO;

	while (st && sqlite3_step(st) == SQLITE_ROW)
		json_object_array_add(moving, json_object_new_string(ctl_col(st, 0)));
	sqlite3_finalize(st);
	if (r == 0 && json_object_array_length(moving) > 0)
		r = ctl_db_run(db, "UPDATE public_ips SET host_id = ?2 WHERE owner_id = ?1 AND state = 'active'", args, 2);
	for (size_t i = 0; r == 0 && i < json_object_array_length(moving); i++) {
		const char *address = json_object_get_string(json_object_array_get_idx(moving, i));

		r = ctl_slbsync_queue(db, "eip", address, "put");
		if (r == 0)
			log_warn("public IP follows its instance", "instance=%s address=%s to=%s", instance_id, address, host);
	}
	json_object_put(moving);
	return r;
}
