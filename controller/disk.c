#include "disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents.h"
#include "common.h"
#include "id.h"
#include "instance.h"
#include "jobs.h"
#include "json.h"
#include "listcache.h"
#include "log.h"
#include "params.h"
#include "scheduler.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

#define DISK_COLUMNS                                                                                          \
	"disk_id, zone_id, name, description, type, category, size_gib, image_id, source_snapshot_id, status,"   \
	" instance_id, device, delete_with_instance, created_at, attached_at, policy_id"

static void disk_write(struct ctl_call *call, sqlite3_stmt *st, struct ecs_jw *w, void *arg)
{
	char created[ECS_ISO8601_LEN + 1], attached[ECS_ISO8601_LEN + 1], dev[32] = "";

	(void)arg;
	ctl_time_str(sqlite3_column_int64(st, 13), created);
	ctl_time_str(sqlite3_column_type(st, 10) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 14), attached);
	if (*ctl_col(st, 11))
		snprintf(dev, sizeof(dev), "/dev/%s", ctl_col(st, 11));
	ecs_jw_open(w, NULL, '{');
	ecs_jw_str(w, "DiskId", ctl_col(st, 0));
	ecs_jw_str(w, "RegionId", call->c->cfg.region_id);
	ecs_jw_str(w, "ZoneId", ctl_col(st, 1));
	ecs_jw_str(w, "DiskName", ctl_col(st, 2));
	ecs_jw_str(w, "Description", ctl_col(st, 3));
	ecs_jw_str(w, "Type", ctl_col(st, 4));
	ecs_jw_str(w, "Category", ctl_col(st, 5));
	ecs_jw_int(w, "Size", sqlite3_column_int64(st, 6));
	ecs_jw_str(w, "ImageId", ctl_col(st, 7));
	ecs_jw_str(w, "SourceSnapshotId", ctl_col(st, 8));
	ecs_jw_str(w, "Status", ctl_col(st, 9));
	ecs_jw_str(w, "InstanceId", ctl_col(st, 10));
	ecs_jw_str(w, "Device", dev);
	ecs_jw_bool(w, "Portable", streq(ctl_col(st, 4), "data"));
	ecs_jw_bool(w, "DeleteWithInstance", sqlite3_column_int(st, 12));
	ecs_jw_str(w, "CreationTime", created);
	ecs_jw_str(w, "AttachedTime", attached);
	ecs_jw_bool(w, "Encrypted", false);
	ecs_jw_bool(w, "EnableAutoSnapshot", *ctl_col(st, 15) != '\0');
	ecs_jw_str(w, "AutoSnapshotPolicyId", ctl_col(st, 15));
	ecs_jw_list_open(w, "Tags", "Tag");
	ecs_jw_list_close(w);
	ecs_jw_close(w, '}');
}

/* ---- CreateDisk ---- */

int ctl_disk_create(struct ctl_call *call, struct json_object *out)
{
	static const char *const categories[] = { "cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", NULL };
	const char *zone, *name, *desc, *cat, *snap;
	long long size, snap_size = 0, n = 0;
	char id[ECS_ID_MAX], host[64];
	struct ctl_sched_request rq = { 0 };
	struct json_object *args = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int r;

	if ((r = ctl_param_str(call, "ZoneId", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &zone)) < 0 ||
	    (r = ctl_param_str(call, "DiskName", 0, 128, "", &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 256, "", &desc)) < 0 ||
	    (r = ctl_param_enum(call, "DiskCategory", 0, categories, "cloud_efficiency", &cat)) < 0 ||
	    (r = ctl_param_id(call, "SnapshotId", 0, "s-", &snap)) < 0 ||
	    (r = ctl_param_int(call, "Size", snap ? 0 : CTL_REQUIRED, 1, 32768, 0, &size)) < 0)
		return r;
	if (!ctl_config_zone_known(&call->c->cfg, zone))
		return ctl_fail(call, 404, "InvalidZoneId.NotFound", "The specified ZoneId does not exist.");
	db = ctl_db_get(call->c->store);
	pthread_mutex_lock(&call->c->sched_lock);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (snap && (r = ctl_snapshot_size(call, db, snap, &snap_size)) < 0)
		goto out;
	if (!size)
		size = snap_size;
	if (size < snap_size) {
		r = ctl_fail(call, 400, "InvalidSize.ValueNotSupported", "The disk must not be smaller than the snapshot.");
		goto out;
	}
	if (ctl_db_count(db, "SELECT count(*) FROM disks WHERE account_id = ?1 AND deleted = 0",
			 (const char *const[]){ call->account->account_id }, 1, &n) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (n + 1 > call->account->quota_disks) {
		r = ctl_fail(call, 400, "QuotaExceeded", "Disk quota exceeded (%lld of %lld).", n, call->account->quota_disks);
		goto out;
	}
	rq.zone_id = zone;
	rq.disk_gib = (int)size;
	r = ctl_schedule(call->c, db, &rq, host);
	if (r == -ENOSPC) {
		r = ctl_fail(call, 403, "OperationDenied.NoStock", "No host in the zone has room for the disk.");
		goto out;
	}
	if (r < 0 || ecs_id_new(ECS_ID_DISK, id) < 0) {
		r = ctl_db_failure(call);
		goto out;
	}
	st = ctl_db_prepare_args(db,
				 "INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category,"
				 " size_gib, image_id, source_snapshot_id, status, host_id, delete_with_instance, created_at)"
				 " VALUES (?1, ?2, ?3, ?4, ?5, 'data', ?6, ?7, '', ?8, 'Creating', ?9, 0, ?10)",
				 (const char *const[]){ id, call->account->account_id, zone, name, desc, cat, NULL,
							snap ? snap : "", host },
				 9);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_int64(st, 7, size);
	sqlite3_bind_int64(st, 10, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == 0)
		r = ctl_jobs_add(db, "disk", id, "create", NULL);
	r = ctl_db_commit(call, db, r);
out:
	ctl_db_put(call->c->store, db);
	pthread_mutex_unlock(&call->c->sched_lock);
	json_object_put(args);
	if (r == 0) {
		ctl_jobs_kick(call->c);
		ecs_jb_str(out, "DiskId", id);
	}
	return r;
}

/* ---- attach, detach, delete, resize, reset, reinit ---- */

static const char *const disk_args_sql_check =
	"SELECT status FROM disks WHERE disk_id = ?1 AND account_id = ?2 AND deleted = 0";

/* A disk action on the caller's disk: ctl_change_and_queue with its job (kind "disk",
 * resource disk); an unknown disk is InvalidDiskId.NotFound. */
static int disk_change(struct ctl_call *call, const char *disk, struct ctl_change *ch)
{
	ch->not_found_code = "InvalidDiskId.NotFound";
	ch->not_found_message = "The specified DiskId does not exist.";
	ch->job_kind = "disk";
	ch->job_resource = disk;
	return ctl_change_and_queue(call, ch);
}

int ctl_disk_attach(struct ctl_call *call, struct json_object *out)
{
	static const char *const available[] = { "Available", NULL };
	const char *disk, *inst;
	char status[32], host[64];
	bool del;
	_cleanup_json_ struct json_object *args = NULL;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0 ||
	    (r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &inst)) < 0 ||
	    (r = ctl_param_bool(call, "DeleteWithInstance", 0, false, &del)) < 0 ||
	    (r = ctl_instance_lookup(call, inst, status, host)) < 0)
		return r;
	if (!streq(status, "Running") && !streq(status, "Stopped"))
		return ctl_fail(call, 403, "IncorrectInstanceStatus",
				"The current status of the resource does not support this operation.");
	args = json_object_new_object();
	ecs_jb_str(args, "instance_id", inst);
	ecs_jb_bool(args, "delete_with_instance", del);
	return disk_change(call, disk,
			   &(struct ctl_change){
				   .check_sql = "SELECT CASE WHEN host_id != ?4 THEN 'OtherHost' ELSE status END FROM disks WHERE"
						" disk_id = ?1 AND account_id = ?2 AND deleted = 0",
				   .update_sql = "UPDATE disks SET status = 'Attaching', instance_id = ?3, delete_with_instance = ?5"
						 " WHERE disk_id = ?1 AND ?2 IS NOT NULL AND ?4 IS NOT NULL",
				   .args = (const char *const[]){ disk, call->account->account_id, inst, host, del ? "1" : "0" },
				   .n_args = 5, .allowed = available,
				   .state_code = "IncorrectDiskStatus",
				   .state_message = "The disk is not Available, or it lives on another host than the instance "
						    "(moving a disk between hosts is not supported yet).",
				   .job_op = "attach", .job_args = args,
			   });
}

int ctl_disk_detach(struct ctl_call *call, struct json_object *out)
{
	static const char *const in_use[] = { "In_use", NULL };
	const char *disk, *inst;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0 ||
	    (r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &inst)) < 0)
		return r;
	return disk_change(call, disk,
			   &(struct ctl_change){
				   .check_sql = "SELECT CASE WHEN type = 'system' THEN 'system' WHEN instance_id IS NOT ?3 THEN"
						" 'elsewhere' ELSE status END FROM disks WHERE disk_id = ?1 AND account_id = ?2 AND"
						" deleted = 0",
				   .update_sql = "UPDATE disks SET status = 'Detaching' WHERE disk_id = ?1 AND ?2 IS NOT NULL AND"
						 " ?3 IS NOT NULL",
				   .args = (const char *const[]){ disk, call->account->account_id, inst },
				   .n_args = 3, .allowed = in_use,
				   .state_code = "IncorrectDiskStatus",
				   .state_message = "The disk is not attached to this instance, or it is a system disk.",
				   .job_op = "detach",
			   });
}

int ctl_disk_delete(struct ctl_call *call, struct json_object *out)
{
	static const char *const available[] = { "Available", NULL };
	const char *disk;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0)
		return r;
	return disk_change(call, disk,
			   &(struct ctl_change){
				   .check_sql = disk_args_sql_check,
				   .update_sql = "UPDATE disks SET status = 'Deleting' WHERE disk_id = ?1 AND ?2 IS NOT NULL",
				   .args = (const char *const[]){ disk, call->account->account_id },
				   .n_args = 2, .allowed = available,
				   .state_code = "IncorrectDiskStatus",
				   .state_message = "The current disk status does not support this operation.",
				   .job_op = "delete",
			   });
}

int ctl_disk_resize(struct ctl_call *call, struct json_object *out)
{
	static const char *const ok[] = { "Available", "In_use", NULL };
	const char *disk;
	long long size;
	char size_s[24];
	_cleanup_json_ struct json_object *args = NULL;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0 ||
	    (r = ctl_param_int(call, "NewSize", CTL_REQUIRED, 1, 32768, 0, &size)) < 0)
		return r;
	snprintf(size_s, sizeof(size_s), "%lld", size);
	args = json_object_new_object();
	ecs_jb_int(args, "size_gib", size);
	return disk_change(call, disk,
			   &(struct ctl_change){
				   .check_sql = "SELECT CASE WHEN CAST(?3 AS INTEGER) <= size_gib THEN 'Smaller' ELSE status END FROM disks"
						" WHERE disk_id = ?1 AND account_id = ?2 AND deleted = 0",
				   .update_sql = NULL,
				   .args = (const char *const[]){ disk, call->account->account_id, size_s },
				   .n_args = 3, .allowed = ok,
				   .state_code = "InvalidDiskSize.TooSmall",
				   .state_message = "NewSize must be larger than the disk's size, and the disk Available or In_use.",
				   .job_op = "resize", .job_args = args,
			   });
}

/* The instance a disk is attached to must be stopped (ECS: ResetDisk, ReInitDisk). */
static int attached_instance_stopped(struct ctl_call *call, const char *disk, char ret_instance[64])
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		ctl_db_prepare_owned(call, conn.db,
				     "SELECT d.instance_id, i.status FROM disks d LEFT JOIN instances i ON"
				     " i.instance_id = d.instance_id WHERE d.disk_id = ?1 AND d.account_id = ?2 AND d.deleted = 0",
				     disk);

	if (!st)
		return ctl_db_failure(call);
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidDiskId.NotFound", "The specified DiskId does not exist.");
	if (*ctl_col(st, 0) && !streq(ctl_col(st, 1), "Stopped"))
		return ctl_fail(call, 403, "IncorrectInstanceStatus", "The instance of the disk must be Stopped.");
	snprintf(ret_instance, 64, "%s", ctl_col(st, 0));
	return 0;
}

int ctl_disk_reset(struct ctl_call *call, struct json_object *out)
{
	static const char *const ok[] = { "Available", "In_use", NULL };
	const char *disk, *snap;
	char inst[64];
	_cleanup_json_ struct json_object *args = NULL;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0 ||
	    (r = ctl_param_id(call, "SnapshotId", CTL_REQUIRED, "s-", &snap)) < 0 ||
	    (r = attached_instance_stopped(call, disk, inst)) < 0)
		return r;
	args = json_object_new_object();
	ecs_jb_str(args, "snapshot_id", snap);
	return disk_change(call, disk,
			   &(struct ctl_change){
				   /* The snapshot must be this disk's and accomplished. */
				   .check_sql = "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM snapshots WHERE snapshot_id = ?3 AND"
						" disk_id = ?1 AND account_id = ?2 AND deleted = 0 AND status = 'accomplished')"
						" THEN 'NoSnapshot' ELSE status END FROM disks WHERE disk_id = ?1 AND account_id = ?2"
						" AND deleted = 0",
				   .update_sql = NULL,
				   .args = (const char *const[]){ disk, call->account->account_id, snap },
				   .n_args = 3, .allowed = ok,
				   .state_code = "InvalidSnapshotId.NotFound",
				   .state_message = "The snapshot does not exist, is not accomplished, or was not taken of this disk.",
				   .job_op = "reset", .job_args = args,
			   });
}

int ctl_disk_reinit(struct ctl_call *call, struct json_object *out)
{
	static const char *const ok[] = { "In_use", NULL };
	const char *disk;
	char inst[64];
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0 ||
	    (r = attached_instance_stopped(call, disk, inst)) < 0)
		return r;
	return disk_change(call, disk,
			   &(struct ctl_change){
				   /* A system disk: made anew from its image by its instance's agent. */
				   .check_sql = "SELECT CASE WHEN type != 'system' THEN 'NotSystem' ELSE status END FROM disks WHERE"
						" disk_id = ?1 AND account_id = ?2 AND deleted = 0",
				   .update_sql = NULL,
				   .args = (const char *const[]){ disk, call->account->account_id },
				   .n_args = 2, .allowed = ok,
				   .state_code = "IncorrectDiskStatus", .state_message = "Only an attached system disk can be re-initialised.",
				   .job_op = "reinit",
			   });
}

/* ---- DescribeDisks ---- */

int ctl_disk_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const types[] = { "all", "system", "data", NULL };
	static const char *const statuses[] = { "Creating", "Available", "Attaching", "In_use", "Detaching", "ReIniting",
						 "All", NULL };
	_cleanup_json_ struct json_object *ids = NULL;
	const char *inst = NULL, *type, *status, *zone = NULL;
	struct ctl_page page;
	int r;

	if ((r = ctl_param_json_list(call, "DiskIds", 0, 100, &ids)) < 0 ||
	    (r = ctl_param_id(call, "InstanceId", 0, "i-", &inst)) < 0 ||
	    (r = ctl_param_enum(call, "DiskType", 0, types, "all", &type)) < 0 ||
	    (r = ctl_param_enum(call, "Status", 0, statuses, "All", &status)) < 0 ||
	    (r = ctl_param_str(call, "ZoneId", CTL_NONEMPTY, 64, NULL, &zone)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	if (!inst && streq(type, "all") && streq(status, "All") && !zone && !ids)
		return ctl_list_query(call, &page,
				      &(struct ctl_list_query){ .kind = CTL_LIST_DISKS, .columns = DISK_COLUMNS,
								.table = "disks", .id_column = "disk_id",
								.account_column = "account_id", .list_key = "Disks",
								.item_key = "Disk", .write = disk_write },
				      out);
	return ctl_page_query(
		call, &page,
		&(struct ctl_page_query){
			.columns = DISK_COLUMNS,
			/* DiskIds (<= 100) drive the query from their values, else the account's disks. */
			.from = ids ? " FROM (SELECT DISTINCT value AS page_id FROM json_each(?6)) j CROSS JOIN disks ON"
				      " disk_id = j.page_id WHERE account_id = ?1 AND deleted = 0 AND (?2 IS NULL OR"
				      " instance_id = ?2) AND (?3 = 'all' OR type = ?3) AND (?4 = 'All' OR status = ?4) AND"
				      " (?5 IS NULL OR zone_id = ?5)"
				    : " FROM disks WHERE account_id = ?1 AND deleted = 0 AND (?2 IS NULL OR instance_id = ?2)"
				      " AND (?3 = 'all' OR type = ?3) AND (?4 = 'All' OR status = ?4) AND (?5 IS NULL OR"
				      " zone_id = ?5) AND ?6 IS NULL",
			.order = " ORDER BY created_at DESC, disk_id",
			.args = (const char *const[]){ inst, type, status, zone, ids ? ecs_json_text(ids, NULL) : NULL },
			.n_args = 5,
			.list_key = "Disks",
			.item_key = "Disk",
			.write = disk_write,
		},
		out);
}

/* ---- the job ---- */

static void set_status(struct ctl *c, const char *disk, const char *sql, const char *a2, const char *a3)
{
	sqlite3 *db = ctl_db_get(c->store);
	const char *args[] = { disk, a2, a3 };

	if (db)
		ctl_db_run(db, sql, args, 3);
	ctl_db_put(c->store, db);
}

static enum ctl_job_result disk_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	const char *id = job->resource_id;
	_cleanup_free_ char *path = NULL;
	_cleanup_json_ struct json_object *body = NULL, *ans = NULL;
	const char *method = "POST";
	char host[64] = "", inst[64] = "", status_before[32] = "";
	long long size = 0;
	long status = 0;
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = ctl_db_prepare_args(db,
					       "SELECT host_id, instance_id, size_gib, source_snapshot_id, status,"
					       " created_at FROM disks WHERE disk_id = ?1 AND deleted = 0",
					       &id, 1);
	enum ctl_job_result res = CTL_JOB_RETRY;
	int r;

	if (st && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(host, sizeof(host), "%s", ctl_col(st, 0));
		snprintf(inst, sizeof(inst), "%s", ctl_col(st, 1));
		size = sqlite3_column_int64(st, 2);
		snprintf(status_before, sizeof(status_before), "%s", ctl_col(st, 4));
		if (streq(job->op, "create")) {
			body = json_object_new_object();
			ecs_jb_int(body, "size_gib", size);
			if (*ctl_col(st, 3))
				ecs_jb_str(body, "snapshot_id", ctl_col(st, 3));
	}
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (!host[0])
		return CTL_JOB_DONE; /* gone */
	if (streq(job->op, "create")) {
		method = "PUT";
		path = ecs_strdup_printf("/v1/disks/%s", id);
	} else if (streq(job->op, "attach")) {
		path = ecs_strdup_printf("/v1/disks/%s/attach", id);
		body = json_object_new_object();
		ecs_jb_str(body, "instance_id", ecs_json_str(job->args, "instance_id", ""));
		ecs_jb_bool(body, "delete_with_instance", ecs_json_bool(job->args, "delete_with_instance"));
	} else if (streq(job->op, "detach")) {
		path = ecs_strdup_printf("/v1/disks/%s/detach", id);
	} else if (streq(job->op, "delete")) {
		method = "DELETE";
		path = ecs_strdup_printf("/v1/disks/%s", id);
	} else if (streq(job->op, "resize")) {
		path = ecs_strdup_printf("/v1/disks/%s/resize", id);
		body = json_object_new_object();
		ecs_jb_int(body, "size_gib", ecs_json_int(job->args, "size_gib", 0));
	} else if (streq(job->op, "reset")) {
		path = ecs_strdup_printf("/v1/disks/%s/reset", id);
		body = json_object_new_object();
		ecs_jb_str(body, "snapshot_id", ecs_json_str(job->args, "snapshot_id", ""));
	} else if (streq(job->op, "reinit")) {
		path = ecs_strdup_printf("/v1/instances/%s/reinit", inst);
		body = json_object_new_object();
	}
	if (!path)
		return CTL_JOB_FAILED;
	r = ctl_agent_call_alive(c, host, method, path, body, &status, &ans);
	if (r == 0 && (status == 200 || (status == 404 && streq(job->op, "delete")))) {
		char dev[8];

		snprintf(dev, sizeof(dev), "%s", ecs_json_str(ans, "device", ""));
		if (streq(job->op, "create"))
			set_status(c, id, "UPDATE disks SET status = 'Available' WHERE disk_id = ?1 AND ?2 IS NULL AND ?3 IS NULL",
				   NULL, NULL);
		else if (streq(job->op, "attach"))
			set_status(c, id, "UPDATE disks SET status = 'In_use', device = ?2, attached_at = strftime('%s','now')"
					  " WHERE disk_id = ?1 AND ?3 IS NULL",
				   dev, NULL);
		else if (streq(job->op, "detach"))
			set_status(c, id, "UPDATE disks SET status = 'Available', instance_id = NULL, device = '' WHERE"
					  " disk_id = ?1 AND ?2 IS NULL AND ?3 IS NULL",
				   NULL, NULL);
		else if (streq(job->op, "delete"))
			set_status(c, id, "UPDATE disks SET deleted = 1, status = 'Deleted' WHERE disk_id = ?1 AND ?2 IS NULL"
					  " AND ?3 IS NULL",
				   NULL, NULL);
		else if (streq(job->op, "resize")) {
			char s[24];

			snprintf(s, sizeof(s), "%lld", (long long)ecs_json_int(job->args, "size_gib", size));
			set_status(c, id, "UPDATE disks SET size_gib = CAST(?2 AS INTEGER) WHERE disk_id = ?1 AND ?3 IS NULL",
				   s, NULL);
		}
		res = CTL_JOB_DONE;
		goto out;
	}
	snprintf(why, why_size, "%s of %s on %s: %s", job->op, id, host,
		 ctl_agent_error(r, ans));
	if (ctl_job_given_up(c, job, r, status)) {
		/* Back to the state before the action, so the user sees it did not happen. */
		if (streq(job->op, "create"))
			set_status(c, id, "UPDATE disks SET deleted = 1, status = 'Deleted' WHERE disk_id = ?1 AND ?2 IS NULL"
					  " AND ?3 IS NULL",
				   NULL, NULL);
		else if (streq(job->op, "attach"))
			set_status(c, id, "UPDATE disks SET status = 'Available', instance_id = NULL WHERE disk_id = ?1 AND"
					  " ?2 IS NULL AND ?3 IS NULL",
				   NULL, NULL);
		else if (streq(job->op, "detach") || streq(job->op, "delete"))
			set_status(c, id, "UPDATE disks SET status = ?2 WHERE disk_id = ?1 AND ?3 IS NULL",
				   streq(job->op, "detach") ? "In_use" : "Available", NULL);
		log_warn("disk action failed", "disk=%s op=%s reason=\"%s\" before=%s", id, job->op, why, status_before);
		res = CTL_JOB_FAILED;
	}
out:
	return res;
}

void ctl_disk_register_jobs(void)
{
	ctl_jobs_register("disk", disk_job);
}
