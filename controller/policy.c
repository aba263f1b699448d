#include "policy.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "id.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "rowjson.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

#define MAX_DISKS 100		/* diskIds in one call */
#define TICK_TAKES 64		/* snapshots asked for in one tick */
#define TICK_REMOVALS 64	/* expired snapshots deleted in one tick */
#define RUNS_KEPT_S (3 * 86400) /* how long policy_runs remembers a slot */

/* ---- parameters ---- */

/* ECS answers a bad value of these with 403 ParameterInvalid naming the parameter. */
static int parameter_invalid(struct ctl_call *call, const char *what)
{
	return ctl_fail(call, 403, "ParameterInvalid", "The specified %s parameter is invalid.", what);
}

/* A JSON list of decimal strings in [min, max] ('["0","12"]', as ECS takes it), as a set:
 * bit v for value v. -EINVAL when empty or a value is out of range. */
static int parse_set(struct json_object *list, int min, int max, uint32_t *ret)
{
	uint32_t set = 0;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		long long v;

		if (ecs_parse_int64(json_object_get_string(json_object_array_get_idx(list, i)), min, max, &v) < 0)
			return -EINVAL;
		set |= UINT32_C(1) << v;
	}
	if (!set)
		return -EINVAL;
	*ret = set;
	return 0;
}

/* The set as ECS shows it: a JSON array of strings in a string, ascending. */
static void set_text(uint32_t set, char buf[160])
{
	size_t n = 0;

	buf[n++] = '[';
	for (int v = 0; v < 32; v++)
		if (set & (UINT32_C(1) << v))
			n += (size_t)snprintf(buf + n, 160 - n, "%s\"%d\"", n > 1 ? "," : "", v);
	snprintf(buf + n, 160 - n, "]");
}

struct policy_args {
	const char *name;     /* NULL: not given */
	char time_points[160]; /* "": not given */
	char weekdays[160];
	long long retention; /* 0: not given */
};

/* Parameter name: a JSON list of whole numbers min..max (at most max - min + 1 of them),
 * kept as text in buf; buf stays "" when it is not given. what names it in the error. */
static int param_set(struct ctl_call *call, const char *name, unsigned flags, int min, int max, const char *what,
		     char buf[160])
{
	struct json_object *list = NULL;
	uint32_t set;
	int r;

	r = ctl_param_json_list(call, name, flags, (size_t)(max - min + 1), &list);
	if (r < 0 || !list)
		return r;
	r = parse_set(list, min, max, &set);
	json_object_put(list);
	if (r < 0)
		return parameter_invalid(call, what);
	set_text(set, buf);
	return 0;
}

/* The settings of Create (all but the name required; retention defaults to -1) or
 * Modify (each optional). */
static int read_policy_args(struct ctl_call *call, bool create, struct policy_args *a)
{
	unsigned req = create ? CTL_REQUIRED : 0;
	int r;

	memset(a, 0, sizeof(*a));
	r = ctl_param_str(call, "autoSnapshotPolicyName", CTL_CI, 1024, NULL, &a->name);
	if (r < 0)
		return r;
	if (a->name && *a->name && !ctl_ascii_name_ok(a->name, 2))
		return parameter_invalid(call, "AutoSnapshotPolicyName");
	r = param_set(call, "timePoints", CTL_CI | req, 0, 23, "TimePoints", a->time_points);
	if (r < 0)
		return r;
	r = param_set(call, "repeatWeekdays", CTL_CI | req, 1, 7, "RepeatWeekDays", a->weekdays);
	if (r < 0)
		return r;
	r = ctl_param_int(call, "retentionDays", CTL_CI, -1000000000, 1000000000, 0, &a->retention);
	if (r < 0)
		return r;
	if (ctl_param(call, "retentionDays", CTL_CI | CTL_NONEMPTY) &&
	    !(a->retention == -1 || (a->retention >= 1 && a->retention <= 65536)))
		return parameter_invalid(call, "RetentionDays");
	if (create && !a->retention)
		a->retention = -1;
	return 0;
}

static int policy_not_found(struct ctl_call *call)
{
	return ctl_fail(call, 404, "InvalidAutoSnapshotPolicyId.NotFound",
			"The specified AutoSnapshotPolicyId does not exist.");
}

static int read_policy_id(struct ctl_call *call, unsigned flags, const char **ret)
{
	return ctl_param_str(call, "autoSnapshotPolicyId", CTL_CI | CTL_NONEMPTY | flags, 64, NULL, ret);
}

/* ---- create, describe, modify, delete ---- */

int ctl_policy_create(struct ctl_call *call, struct json_object *out)
{
	struct policy_args a;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	long long n = -1;
	char id[ECS_ID_MAX];
	int r;

	if ((r = read_policy_args(call, true, &a)) < 0)
		return r;
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0 || ecs_id_new(ECS_ID_SNAPSHOT_POLICY, id) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (ctl_db_count(db, "SELECT count(*) FROM auto_snapshot_policies WHERE account_id = ?1",
			 (const char *const[]){ call->account->account_id }, 1, &n) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n >= CTL_POLICY_MAX) {
		r = ctl_fail(call, 403, "AutoSnapshotPolicy.QuotaExceed",
			     "The maximum number of automatic snapshot policy has been reached.");
		goto out;
	}
	st = ctl_db_prepare_args(db,
				 "INSERT INTO auto_snapshot_policies (policy_id, account_id, name, time_points,"
				 " repeat_weekdays, retention_days, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				 (const char *const[]){ id, call->account->account_id, a.name ? a.name : "", a.time_points,
							a.weekdays },
				 5);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_int64(st, 6, a.retention);
	sqlite3_bind_int64(st, 7, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	ecs_jb_str(out, "AutoSnapshotPolicyId", id);
	log_info("auto snapshot policy created", "account=%s policy=%s time_points=%s weekdays=%s retention_days=%lld",
		 call->account->account_id, id, a.time_points, a.weekdays, a.retention);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

static struct json_object *policy_json(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	static const struct ctl_col_key cols[] = {
		{ "AutoSnapshotPolicyId", CTL_COL_STR },
		{ "AutoSnapshotPolicyName", CTL_COL_STR },
		/* Strings holding a JSON array, as ECS answers them. */
		{ "TimePoints", CTL_COL_STR },
		{ "RepeatWeekdays", CTL_COL_STR },
		{ "RetentionDays", CTL_COL_INT },
	};
	struct json_object *o = json_object_new_object();
	char created[ECS_ISO8601_LEN + 1];

	(void)arg;
	ctl_time_str(sqlite3_column_int64(st, 5), created);
	ctl_row_json(st, 0, CTL_COLS(cols), o);
	ecs_jb_int(o, "DiskNums", sqlite3_column_int64(st, 6));
	ecs_jb_int(o, "VolumeNums", 0);
	ecs_jb_str(o, "CreationTime", created);
	ecs_jb_str(o, "Status", "Normal");
	ecs_jb_str(o, "RegionId", call->region_id ? call->region_id : call->c->cfg.region_id);
	ecs_jb_str(o, "Type", "Custom");
	ecs_jb_str(o, "ResourceGroupId", "");
	ecs_jb_bool(o, "EnableCrossRegionCopy", false);
	ecs_jb_str(o, "TargetCopyRegions", "");
	ecs_jb_list(o, "Tags", "Tag");
	return o;
}

int ctl_policy_describe(struct ctl_call *call, struct json_object *out)
{
	const char *id, *name;
	struct ctl_page page;
	int r;

	if ((r = read_policy_id(call, 0, &id)) < 0 ||
	    (r = ctl_param_str(call, "autoSnapshotPolicyName", CTL_CI | CTL_NONEMPTY, 128, NULL, &name)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	return ctl_page_query(call, &page,
			      &(struct ctl_page_query){
				      .columns = "p.policy_id, p.name, p.time_points, p.repeat_weekdays, p.retention_days,"
						 " p.created_at, (SELECT count(*) FROM disks d WHERE d.policy_id = p.policy_id"
						 " AND d.deleted = 0)",
				      .from = " FROM auto_snapshot_policies p WHERE p.account_id = ?1 AND (?2 IS NULL OR"
					      " p.policy_id = ?2) AND (?3 IS NULL OR p.name = ?3)",
				      .order = " ORDER BY p.created_at DESC, p.policy_id",
				      .args = (const char *const[]){ id, name },
				      .n_args = 2,
				      .list_key = "AutoSnapshotPolicies",
				      .item_key = "AutoSnapshotPolicy",
				      .row = policy_json,
			      },
			      out);
}

int ctl_policy_modify(struct ctl_call *call, struct json_object *out)
{
	struct policy_args a;
	sqlite3 *db;
	sqlite3_stmt *st;
	const char *id;
	int r;

	(void)out;
	if ((r = read_policy_id(call, CTL_REQUIRED, &id)) < 0 || (r = read_policy_args(call, false, &a)) < 0)
		return r;
	db = ctl_db_get(call->c->store);
	st = db ? ctl_db_prepare(db, "UPDATE auto_snapshot_policies SET name = COALESCE(?3, name), time_points ="
				     " COALESCE(?4, time_points), repeat_weekdays = COALESCE(?5, repeat_weekdays),"
				     " retention_days = COALESCE(?6, retention_days) WHERE policy_id = ?1 AND"
				     " account_id = ?2")
		: NULL;
	if (!st) {
		ctl_db_put(call->c->store, db);
		return ctl_db_failure(call);
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (a.name)
		sqlite3_bind_text(st, 3, a.name, -1, SQLITE_STATIC);
	if (a.time_points[0])
		sqlite3_bind_text(st, 4, a.time_points, -1, SQLITE_STATIC);
	if (a.weekdays[0])
		sqlite3_bind_text(st, 5, a.weekdays, -1, SQLITE_STATIC);
	if (a.retention)
		sqlite3_bind_int64(st, 6, a.retention);
	r = ctl_db_step_done(st);
	if (r < 0)
		r = ctl_db_failure(call);
	else if (sqlite3_changes(db) == 0)
		r = policy_not_found(call);
	else
		log_info("auto snapshot policy modified", "account=%s policy=%s", call->account->account_id, id);
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_policy_delete(struct ctl_call *call, struct json_object *out)
{
	sqlite3 *db = NULL;
	const char *id;
	int r;

	(void)out;
	if ((r = read_policy_id(call, CTL_REQUIRED, &id)) < 0)
		return r;
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	{
		const char *args[] = { id, call->account->account_id };

		r = ctl_db_run(db, "DELETE FROM auto_snapshot_policies WHERE policy_id = ?1 AND account_id = ?2", args, 2);
		if (r == 0 && sqlite3_changes(db) == 0) {
			r = policy_not_found(call);
			goto out;
		}
		/* ECS cancels it from its disks; the snapshots it made stay. */
		if (r == 0)
			r = ctl_db_run(db, "UPDATE disks SET policy_id = NULL WHERE policy_id = ?1 AND account_id = ?2", args, 2);
	}
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	log_info("auto snapshot policy deleted", "account=%s policy=%s", call->account->account_id, id);
out:
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- applying to disks ---- */

/* Check that every disk of the list is the caller's (in db's transaction). */
static int check_disks(struct ctl_call *call, sqlite3 *db, struct json_object *disks)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT 1 FROM disks WHERE disk_id = ?1 AND account_id = ?2 AND deleted = 0");
	int r = 0;

	if (!st)
		return ctl_db_failure(call);
	for (size_t i = 0; i < json_object_array_length(disks) && r == 0; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(disks, i));

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			r = ctl_fail(call, 404, "InvalidDiskId.NotFound", "The specified disk %.64s does not exist.", id);
	}
	sqlite3_finalize(st);
	return r;
}

static int check_policy(struct ctl_call *call, sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "SELECT 1 FROM auto_snapshot_policies WHERE policy_id = ?1 AND account_id = ?2");
	int r;

	if (!st)
		return ctl_db_failure(call);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_ROW ? 0 : policy_not_found(call);
	sqlite3_finalize(st);
	return r;
}

/* Apply (id set) or cancel (apply false; id optional: then only where it is applied). */
static int set_disks_policy(struct ctl_call *call, bool apply)
{
	struct json_object *disks = NULL;
	sqlite3 *db = NULL;
	const char *id;
	int r;

	if ((r = read_policy_id(call, apply ? CTL_REQUIRED : 0, &id)) < 0 ||
	    (r = ctl_param_json_list(call, "diskIds", CTL_CI | CTL_REQUIRED, MAX_DISKS, &disks)) < 0)
		goto out;
	if (json_object_array_length(disks) == 0) {
		r = ctl_fail(call, 403, "ParameterInvalid", "The specified DiskIds are invalid.");
		goto out;
	}
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	if ((id && (r = check_policy(call, db, id)) < 0) || (r = check_disks(call, db, disks)) < 0)
		goto out;
	{
		const char *args[] = { call->account->account_id, ecs_json_text(disks, NULL), id };

		r = ctl_db_run(db, apply ? "UPDATE disks SET policy_id = ?3 WHERE account_id = ?1 AND disk_id IN"
					   " (SELECT value FROM json_each(?2))"
					 : "UPDATE disks SET policy_id = NULL WHERE account_id = ?1 AND disk_id IN"
					   " (SELECT value FROM json_each(?2)) AND (?3 IS NULL OR policy_id = ?3)",
			       args, 3);
	}
	r = ctl_db_commit(call, db, r);
	if (r < 0)
		goto out;
	log_info(apply ? "auto snapshot policy applied" : "auto snapshot policy cancelled", "account=%s policy=%s disks=%zu",
		 call->account->account_id, id ? id : "any", json_object_array_length(disks));
out:
	ctl_db_put(call->c->store, db);
	json_object_put(disks);
	return r;
}

int ctl_policy_apply(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return set_disks_policy(call, true);
}

int ctl_policy_cancel(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return set_disks_policy(call, false);
}

/* ---- the runner ---- */

static ctl_policy_take_fn take_fn = ctl_snapshot_take;
static ctl_policy_remove_fn remove_fn = ctl_snapshot_remove;

void ctl_policy_set_snapshot_fns(ctl_policy_take_fn take, ctl_policy_remove_fn remove)
{
	take_fn = take ? take : ctl_snapshot_take;
	remove_fn = remove ? remove : ctl_snapshot_remove;
}

/* An hour slot in the policies' time zone. */
struct slot {
	char id[16];  /* "YYYY-MM-DDTHH": the policy_runs key */
	char day[16]; /* "YYYYMMDD": the snapshot's name */
	int hour, weekday; /* weekday 1 = Monday … 7 = Sunday, as ECS */
};

static int slot_at(const struct ctl *c, long long now, struct slot *ret)
{
	time_t local = (time_t)(now + (long long)c->cfg.policy_utc_offset_h * 3600);
	struct tm tm;

	if (!gmtime_r(&local, &tm))
		return -EINVAL;
	strftime(ret->id, sizeof(ret->id), "%Y-%m-%dT%H", &tm);
	strftime(ret->day, sizeof(ret->day), "%Y%m%d", &tm);
	ret->hour = tm.tm_hour;
	ret->weekday = tm.tm_wday == 0 ? 7 : tm.tm_wday;
	return 0;
}

/* Slots older than a few days are of no more use. */
static int forget_old_runs(struct ctl *c, long long now)
{
	struct slot old;
	sqlite3 *db;
	int r;

	r = slot_at(c, now - RUNS_KEPT_S, &old);
	if (r < 0)
		return r;
	db = ctl_db_get(c->store);
	if (!db)
		return -EIO;
	{
		const char *args[] = { old.id };

		r = ctl_db_run(db, "DELETE FROM policy_runs WHERE slot < ?1 AND state != 'pending'", args, 1);
	}
	ctl_db_put(c->store, db);
	return r;
}

/* A booking still pending at the start of a tick was cut short by a restart: the snapshot
 * may or may not have been asked for. If the snapshots table has one of the disk by the
 * policy since the booking, it was: record it; else drop the booking so that the slot is
 * taken now if still due. */
static int settle_pending(struct ctl *c)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;
	int r = 0;

	if (!db)
		return -EIO;
	st = ctl_db_prepare(db, "SELECT r.disk_id, r.slot, (SELECT s.snapshot_id FROM snapshots s WHERE s.disk_id ="
				" r.disk_id AND s.policy_id = r.policy_id AND s.created_at >= r.at ORDER BY s.created_at"
				" LIMIT 1) FROM policy_runs r WHERE r.state = 'pending' LIMIT 256");
	if (!st) {
		ctl_db_put(c->store, db);
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW && r == 0) {
		const char *args[] = { ctl_col(st, 0), ctl_col(st, 1), ctl_col(st, 2) };
		bool taken = sqlite3_column_type(st, 2) != SQLITE_NULL;

		r = ctl_db_run(db, taken ? "UPDATE policy_runs SET state = 'taken', snapshot_id = ?3 WHERE disk_id = ?1 AND"
					   " slot = ?2"
					 : "DELETE FROM policy_runs WHERE disk_id = ?1 AND slot = ?2",
			       args, taken ? 3 : 2);
		if (r == 0)
			log_warn("auto snapshot booked before a restart", "disk=%s slot=%s snapshot=%s", args[0], args[1],
				 taken ? args[2] : "none");
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return r;
}

/* A disk whose slot is due, or a snapshot past retention, with its owner and policy. */
struct due {
	char id[64], account_id[64], policy_id[32];
};

/* Up to max rows of (id, account, policy) that sql answers, bound by bind(st, arg), read into a
 * new array; the connection is given back before the caller acts on them (each action makes
 * its own transaction). */
static int list_due(struct ctl *c, const char *sql, void (*bind)(sqlite3_stmt *st, const void *arg), const void *arg,
		    size_t max, struct due **ret, size_t *ret_n)
{
	_cleanup_free_ struct due *due = calloc(max, sizeof(*due));
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(c->store);
	_cleanup_stmt_ sqlite3_stmt *st = conn.db ? ctl_db_prepare(conn.db, sql) : NULL;
	size_t n = 0;

	if (!due || !st)
		return -EIO;
	bind(st, arg);
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(due[n].id, sizeof(due[n].id), "%s", ctl_col(st, 0));
		snprintf(due[n].account_id, sizeof(due[n].account_id), "%s", ctl_col(st, 1));
		snprintf(due[n].policy_id, sizeof(due[n].policy_id), "%s", ctl_col(st, 2));
		n++;
	}
	*ret = TAKE_PTR(due);
	*ret_n = n;
	return 0;
}

static int run_book(struct ctl *c, const struct due *d, const struct slot *s)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "INSERT INTO policy_runs (disk_id, slot, snapshot_id, policy_id, state,"
						   " at) VALUES (?1, ?2, '', ?3, 'pending', ?4)")
			      : NULL;
	int r = -EIO;

	if (st) {
		sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, s->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, d->policy_id, -1, SQLITE_STATIC);
		/* The snapshots' clock (created_at), for settle_pending. */
		sqlite3_bind_int64(st, 4, time(NULL));
		r = ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return r;
}

/* Record how the booked slot ended; state NULL drops the booking (retried next tick). */
static int run_finish(struct ctl *c, const struct due *d, const struct slot *s, const char *state,
		      const char *snapshot_id)
{
	const char *args[] = { d->id, s->id, state, snapshot_id };
	sqlite3 *db = ctl_db_get(c->store);
	int r;

	if (!db)
		return -EIO;
	r = state ? ctl_db_run(db, "UPDATE policy_runs SET state = ?3, snapshot_id = ?4 WHERE disk_id = ?1 AND slot = ?2",
			       args, 4)
		  : ctl_db_run(db, "DELETE FROM policy_runs WHERE disk_id = ?1 AND slot = ?2", args, 2);
	ctl_db_put(c->store, db);
	return r;
}

static int take_one(struct ctl *c, const struct due *d, const struct slot *s)
{
	char name[64], id[32] = "";
	const char *state;
	int r;

	r = run_book(c, d, s);
	if (r == -EEXIST)
		return 0; /* taken meanwhile */
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "auto2.0_%s_%s", s->day, d->policy_id);
	r = take_fn(c, d->account_id, d->id, name, d->policy_id, id);
	switch (r) {
	case 0:
		state = "taken";
		log_info("auto snapshot taken", "disk=%s policy=%s slot=%s snapshot=%s", d->id, d->policy_id, s->id, id);
		break;
	case -EBUSY:
		state = "skipped";
		log_info("auto snapshot skipped: the previous one is still progressing", "disk=%s policy=%s slot=%s",
			 d->id, d->policy_id, s->id);
		break;
	case -EIO:
	case -ENOMEM:
	case -EAGAIN:
	case -EHOSTDOWN:
	case -ETIMEDOUT:
		state = NULL;
		log_warn("auto snapshot not taken: retried at the next tick", "disk=%s policy=%s slot=%s error=\"%s\"",
			 d->id, d->policy_id, s->id, strerror(-r));
		break;
	default:
		state = "failed";
		log_warn("auto snapshot failed", "disk=%s policy=%s slot=%s error=\"%s\"", d->id, d->policy_id, s->id,
			 strerror(-r));
		break;
	}
	/* Should this fail, the booking stays pending and the next tick settles it. */
	return run_finish(c, d, s, state, id);
}

static void bind_slot(sqlite3_stmt *st, const void *arg)
{
	const struct slot *s = arg;

	sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, s->hour);
	sqlite3_bind_int(st, 3, s->weekday);
	sqlite3_bind_int(st, 4, TICK_TAKES);
}

/* Disks whose policy holds this hour and weekday and whose slot is not booked yet. */
static int take_due(struct ctl *c, const struct slot *s)
{
	_cleanup_free_ struct due *due = NULL;
	size_t n;
	int r;

	r = list_due(c, "SELECT d.disk_id, d.account_id, p.policy_id FROM disks d JOIN auto_snapshot_policies p ON"
			" p.policy_id = d.policy_id AND p.account_id = d.account_id WHERE d.deleted = 0 AND"
			" EXISTS (SELECT 1 FROM json_each(p.time_points) WHERE CAST(value AS INTEGER) = ?2) AND"
			" EXISTS (SELECT 1 FROM json_each(p.repeat_weekdays) WHERE CAST(value AS INTEGER) = ?3) AND"
			" NOT EXISTS (SELECT 1 FROM policy_runs r WHERE r.disk_id = d.disk_id AND r.slot = ?1)"
			" ORDER BY d.disk_id LIMIT ?4",
		     bind_slot, s, TICK_TAKES, &due, &n);
	if (r < 0)
		return r;
	/* Asked for outside any transaction: ctl_snapshot_take makes its own. */
	for (size_t i = 0; i < n; i++) {
		int k = take_one(c, &due[i], s);

		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

static void bind_expiry(sqlite3_stmt *st, const void *arg)
{
	sqlite3_bind_int64(st, 1, *(const long long *)arg);
	sqlite3_bind_int(st, 2, TICK_REMOVALS);
}

/* The policies' snapshots past retention, but not those an image or a disk was made from. */
static int expire(struct ctl *c, long long now)
{
	_cleanup_free_ struct due *ex = NULL;
	size_t n;
	int r;

	r = list_due(c, "SELECT s.snapshot_id, s.account_id, s.policy_id FROM snapshots s JOIN"
			" auto_snapshot_policies p ON p.policy_id = s.policy_id AND p.account_id = s.account_id"
			" WHERE s.deleted = 0 AND s.status != 'progressing' AND p.retention_days > 0 AND"
			" s.created_at < ?1 - p.retention_days * 86400 AND NOT EXISTS (SELECT 1 FROM images i WHERE"
			" i.source_snapshot_id = s.snapshot_id AND i.deleted = 0) AND NOT EXISTS (SELECT 1 FROM"
			" disks d WHERE d.source_snapshot_id = s.snapshot_id AND d.deleted = 0)"
			" ORDER BY s.created_at, s.snapshot_id LIMIT ?2",
		     bind_expiry, &now, TICK_REMOVALS, &ex, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		int k = remove_fn(c, ex[i].account_id, ex[i].id);

		if (k == 0)
			log_info("auto snapshot past retention deleted", "snapshot=%s policy=%s", ex[i].id,
				 ex[i].policy_id);
		else
			log_warn("auto snapshot past retention not deleted", "snapshot=%s policy=%s error=\"%s\"",
				 ex[i].id, ex[i].policy_id, strerror(-k));
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

/* One tick at a time: the runner and a test may both call. */
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;

int ctl_policy_tick(struct ctl *c, long long now)
{
	struct slot s;
	int r, k;

	r = slot_at(c, now, &s);
	if (r < 0)
		return r;
	pthread_mutex_lock(&tick_lock);
	r = forget_old_runs(c, now);
	k = settle_pending(c);
	/* Nothing is booked twice while a booking is unsettled. */
	if (k == 0)
		k = take_due(c, &s);
	if (r == 0)
		r = k;
	k = expire(c, now);
	if (r == 0)
		r = k;
	pthread_mutex_unlock(&tick_lock);
	return r;
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stopping;
} runner = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *run(void *arg)
{
	struct ctl *c = arg;
	struct timespec ts;

	pthread_mutex_lock(&runner.lock);
	while (!runner.stopping) {
		pthread_mutex_unlock(&runner.lock);
		/* Its failures are logged where they happen; the next tick tries again. */
		ctl_policy_tick(c, ctl_now(c));
		pthread_mutex_lock(&runner.lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += c->cfg.policy_tick_s;
		while (!runner.stopping && pthread_cond_timedwait(&runner.cond, &runner.lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&runner.lock);
	return NULL;
}

int ctl_policy_start(struct ctl *c)
{
	pthread_condattr_t attr;
	int r;

	if (runner.running)
		return -EALREADY;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&runner.cond, &attr);
	pthread_condattr_destroy(&attr);
	runner.stopping = false;
	r = pthread_create(&runner.thread, NULL, run, c);
	if (r != 0) {
		pthread_cond_destroy(&runner.cond);
		log_error("cannot start the auto snapshot runner", "error=\"%s\"", strerror(r));
		return -r;
	}
	runner.running = true;
	log_info("auto snapshot runner started", "tick_s=%d utc_offset_h=%d", c->cfg.policy_tick_s,
		 c->cfg.policy_utc_offset_h);
	return 0;
}

void ctl_policy_stop(struct ctl *c)
{
	(void)c;
	if (!runner.running)
		return;
	pthread_mutex_lock(&runner.lock);
	runner.stopping = true;
	pthread_cond_broadcast(&runner.cond);
	pthread_mutex_unlock(&runner.lock);
	pthread_join(runner.thread, NULL);
	pthread_cond_destroy(&runner.cond);
	runner.running = false;
}
