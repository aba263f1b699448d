#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents.h"
#include "common.h"
#include "id.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "store.h"
#include "util.h"

#define SNAPSHOT_COLUMNS \
	"s.snapshot_id, s.name, s.description, s.status, s.disk_id, s.disk_type, s.disk_size, s.created_at, s.policy_id"

static struct json_object *snapshot_json(sqlite3_stmt *st, const char *usage)
{
	struct json_object *o = json_object_new_object();
	char created[ECS_ISO8601_LEN + 1];
	const char *status = ctl_col(st, 3);

	ctl_time_str(sqlite3_column_int64(st, 7), created);
	ecs_jb_str(o, "SnapshotId", ctl_col(st, 0));
	ecs_jb_str(o, "SnapshotName", ctl_col(st, 1));
	ecs_jb_str(o, "Description", ctl_col(st, 2));
	ecs_jb_str(o, "Progress", streq(status, "accomplished") ? "100%" : "0%");
	ecs_jb_str(o, "Status", status);
	ecs_jb_str(o, "SourceDiskId", ctl_col(st, 4));
	ecs_jb_str(o, "SourceDiskType", ctl_col(st, 5));
	ecs_jb_str(o, "SourceDiskSize", ctl_col(st, 6)); /* a string in ECS's answers */
	ecs_jb_str(o, "CreationTime", created);
	ecs_jb_str(o, "Usage", usage);
	ecs_jb_str(o, "SnapshotType", *ctl_col(st, 8) ? "auto" : "user");
	ecs_jb_str(o, "AutoSnapshotPolicyId", ctl_col(st, 8));
	ecs_jb_list(o, "Tags", "Tag");
	return o;
}

/* The end of booking and of marking: with r == 0 the snapshot's job op is queued in db's
 * transaction and committed, else it is rolled back; db goes back to the pool and the
 * workers are woken for what committed. Returns r or the first error. */
static int queue_job(struct ctl *c, sqlite3 *db, int r, const char *snapshot_id, const char *op)
{
	if (r == 0)
		r = ctl_jobs_add(db, "snapshot", snapshot_id, op, NULL);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	ctl_db_put(c->store, db);
	if (r == 0)
		ctl_jobs_kick(c);
	return r;
}

/* Book a snapshot of disk_id (in account_id) and queue its job. */
static int book(struct ctl *c, const char *account_id, long long quota, const char *disk_id, const char *name,
		const char *desc, const char *policy_id, char ret_id[ECS_ID_MAX], const char **ret_code)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;
	char host[64] = "", type[16] = "";
	long long size = 0, n = 0;
	bool busy = false;
	int r = -EIO;

	*ret_code = "InternalError";
	if (!db || ctl_db_tx_begin(db) < 0)
		goto out;
	st = ctl_db_prepare_args(db,
				 "SELECT host_id, type, size_gib, (SELECT count(*) FROM snapshots WHERE disk_id = ?1 AND"
				 " deleted = 0 AND status = 'progressing'), (SELECT count(*) FROM snapshots WHERE"
				 " account_id = ?2 AND deleted = 0) FROM disks WHERE disk_id = ?1 AND account_id = ?2 AND"
				 " deleted = 0 AND status NOT IN ('Creating', 'Deleting')",
				 (const char *const[]){ disk_id, account_id }, 2);
	if (!st)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(host, sizeof(host), "%s", ctl_col(st, 0));
		snprintf(type, sizeof(type), "%s", ctl_col(st, 1));
		size = sqlite3_column_int64(st, 2);
		busy = sqlite3_column_int(st, 3) > 0;
		n = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (!host[0]) {
		r = -ENOENT;
		*ret_code = "InvalidDiskId.NotFound";
		goto out;
	}
	if (busy) {
		r = -EBUSY;
		*ret_code = "IncorrectDiskStatus.CreatingSnapshot";
		goto out;
	}
	if (n + 1 > quota) {
		r = -EDQUOT;
		*ret_code = "QuotaExceeded";
		goto out;
	}
	if (ecs_id_new(ECS_ID_SNAPSHOT, ret_id) < 0)
		goto out;
	st = ctl_db_prepare_args(db,
				 "INSERT INTO snapshots (snapshot_id, account_id, name, description, disk_id, disk_type,"
				 " disk_size, status, host_id, policy_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
				 " 'progressing', ?8, ?9, ?10)",
				 (const char *const[]){ ret_id, account_id, name && *name ? name : ret_id, desc ? desc : "",
							disk_id, type, NULL, host, policy_id },
				 9);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 7, size);
	sqlite3_bind_int64(st, 10, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
out:
	return queue_job(c, db, r, ret_id, "create");
}

int ctl_snapshot_create(struct ctl_call *call, struct json_object *out)
{
	const char *disk, *name, *desc, *code;
	char id[ECS_ID_MAX];
	int r;

	if ((r = ctl_param_id(call, "DiskId", CTL_REQUIRED, "d-", &disk)) < 0 ||
	    (r = ctl_param_str(call, "SnapshotName", 0, 128, "", &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 256, "", &desc)) < 0)
		return r;
	/* ECS reserves the auto snapshots' prefix. */
	if (str_has_prefix(name, "auto"))
		return ctl_fail(call, 400, "InvalidSnapshotName.Malformed", "A snapshot name may not begin with \"auto\".");
	r = book(call->c, call->account->account_id, call->account->quota_snapshots, disk, name, desc, NULL, id, &code);
	if (r == -ENOENT)
		return ctl_fail(call, 404, code, "The specified DiskId does not exist.");
	if (r == -EBUSY)
		return ctl_fail(call, 403, code, "A snapshot of the disk is being taken.");
	if (r == -EDQUOT)
		return ctl_fail(call, 400, code, "Snapshot quota exceeded (%lld).", call->account->quota_snapshots);
	if (r < 0)
		return ctl_db_failure(call);
	ecs_jb_str(out, "SnapshotId", id);
	return 0;
}

int ctl_snapshot_take(struct ctl *c, const char *account_id, const char *disk_id, const char *name,
		      const char *policy_id, char ret_snapshot_id[32])
{
	const char *code;
	char id[ECS_ID_MAX];
	int r = book(c, account_id, 1LL << 40, disk_id, name, NULL, policy_id, id, &code);

	if (r == 0)
		snprintf(ret_snapshot_id, 32, "%s", id);
	return r == -EDQUOT ? -EBUSY : r;
}

static int mark_deleting(struct ctl *c, const char *account_id, const char *snapshot_id, const char **ret_code)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;
	int r = -EIO;

	*ret_code = "InternalError";
	if (!db || ctl_db_tx_begin(db) < 0)
		goto out;
	st = ctl_db_prepare_args(db,
				 "SELECT status, (SELECT count(*) FROM images WHERE source_snapshot_id = ?1 AND deleted = 0)"
				 " FROM snapshots WHERE snapshot_id = ?1 AND account_id = ?2 AND deleted = 0",
				 (const char *const[]){ snapshot_id, account_id }, 2);
	if (!st)
		goto out;
	r = -ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 1) > 0) {
			r = -EBUSY;
			*ret_code = "SnapshotCreatedImage";
		} else if (streq(ctl_col(st, 0), "progressing")) {
			r = -EAGAIN;
			*ret_code = "IncorrectSnapshotStatus";
		} else {
			r = 0;
		}
	} else {
		*ret_code = "InvalidSnapshotId.NotFound";
	}
	sqlite3_finalize(st);
	if (r == 0) {
		const char *a[] = { snapshot_id };

		r = ctl_db_run(db, "UPDATE snapshots SET deleted = 1, status = 'deleting' WHERE snapshot_id = ?1", a, 1);
	}
out:
	return queue_job(c, db, r, snapshot_id, "delete");
}

int ctl_snapshot_delete(struct ctl_call *call, struct json_object *out)
{
	const char *id, *code;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "SnapshotId", CTL_REQUIRED, "s-", &id)) < 0)
		return r;
	r = mark_deleting(call->c, call->account->account_id, id, &code);
	if (r == -ENOENT)
		return ctl_fail(call, 404, code, "The specified SnapshotId does not exist.");
	if (r == -EBUSY)
		return ctl_fail(call, 403, code, "The snapshot was used to create an image.");
	if (r == -EAGAIN)
		return ctl_fail(call, 403, code, "The snapshot is being taken.");
	return r < 0 ? ctl_db_failure(call) : 0;
}

int ctl_snapshot_remove(struct ctl *c, const char *account_id, const char *snapshot_id)
{
	const char *code;
	int r = mark_deleting(c, account_id, snapshot_id, &code);

	return r == -ENOENT ? 0 : r;
}

static struct json_object *snapshot_row(struct ctl_call *call, sqlite3_stmt *st, void *arg)
{
	(void)call;
	(void)arg;
	return snapshot_json(st, sqlite3_column_int(st, 9) ? "image" : "none");
}

int ctl_snapshot_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const statuses[] = { "progressing", "accomplished", "failed", "all", NULL };
	static const char *const types[] = { "auto", "user", "all", NULL };
	_cleanup_json_ struct json_object *ids = NULL;
	const char *disk = NULL, *status, *type;
	struct ctl_page page;
	int r;

	if ((r = ctl_param_json_list(call, "SnapshotIds", 0, 100, &ids)) < 0 ||
	    (r = ctl_param_id(call, "DiskId", 0, "d-", &disk)) < 0 ||
	    (r = ctl_param_enum(call, "Status", 0, statuses, "all", &status)) < 0 ||
	    (r = ctl_param_enum(call, "SnapshotType", 0, types, "all", &type)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	return ctl_page_query(
		call, &page,
		&(struct ctl_page_query){
			.columns = SNAPSHOT_COLUMNS ", (SELECT count(*) FROM images i WHERE i.source_snapshot_id ="
						    " s.snapshot_id AND i.deleted = 0)",
			.from = " FROM snapshots s WHERE s.account_id = ?1 AND s.deleted = 0 AND (?2 IS NULL OR"
				" s.disk_id = ?2) AND (?3 = 'all' OR s.status = ?3) AND (?4 = 'all' OR (?4 = 'auto') ="
				" (s.policy_id IS NOT NULL)) AND (?5 IS NULL OR s.snapshot_id IN (SELECT value FROM"
				" json_each(?5)))",
			.order = " ORDER BY s.created_at DESC, s.snapshot_id",
			.args = (const char *const[]){ disk, status, type, ids ? ecs_json_text(ids, NULL) : NULL },
			.n_args = 4,
			.list_key = "Snapshots",
			.item_key = "Snapshot",
			.row = snapshot_row,
		},
		out);
}

int ctl_snapshot_size(struct ctl_call *call, sqlite3 *db, const char *snapshot_id, long long *ret_size)
{
	_cleanup_stmt_ sqlite3_stmt *st =
		ctl_db_prepare_owned(call, db,
				     "SELECT disk_size FROM snapshots WHERE snapshot_id = ?1 AND account_id = ?2 AND"
				     " deleted = 0 AND status = 'accomplished'",
				     snapshot_id);

	if (!st)
		return ctl_db_failure(call);
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidSnapshotId.NotFound", "The specified SnapshotId does not exist.");
	*ret_size = sqlite3_column_int64(st, 0);
	return 0;
}

/* ---- the job ---- */

static enum ctl_job_result snapshot_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	const char *id = job->resource_id;
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/snapshots/%s", id);
	_cleanup_json_ struct json_object *body = NULL, *ans = NULL;
	char host[64] = "", disk[64] = "";
	long status = 0;
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = ctl_db_prepare_args(db, "SELECT host_id, disk_id FROM snapshots WHERE snapshot_id = ?1", &id, 1);
	enum ctl_job_result res = CTL_JOB_RETRY;
	int r;

	if (st && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(host, sizeof(host), "%s", ctl_col(st, 0));
		snprintf(disk, sizeof(disk), "%s", ctl_col(st, 1));
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (!host[0] || !path)
		return CTL_JOB_DONE;
	if (streq(job->op, "create")) {
		body = json_object_new_object();
		ecs_jb_str(body, "disk_id", disk);
	}
	r = ctl_agent_call_alive(c, host, streq(job->op, "create") ? "PUT" : "DELETE", path, body, &status, &ans);
	if (r == 0 && (status == 200 || (status == 404 && streq(job->op, "delete")))) {
		const char *a[] = { id, streq(job->op, "create") ? ecs_json_str(ans, "status", "failed") : "deleted" };

		db = ctl_db_get(c->store);
		if (db)
			ctl_db_run(db, streq(job->op, "create") ? "UPDATE snapshots SET status = ?2 WHERE snapshot_id = ?1"
								: "DELETE FROM snapshots WHERE snapshot_id = ?1 AND ?2 IS NOT NULL",
				   a, 2);
		ctl_db_put(c->store, db);
		res = CTL_JOB_DONE;
		goto out;
	}
	snprintf(why, why_size, "%s of snapshot %s on %s: %s", job->op, id, host,
		 ctl_agent_error(r, ans));
	if (ctl_job_given_up(c, job, r, status)) {
		const char *a[] = { id };

		db = ctl_db_get(c->store);
		if (db && streq(job->op, "create"))
			ctl_db_run(db, "UPDATE snapshots SET status = 'failed' WHERE snapshot_id = ?1", a, 1);
		ctl_db_put(c->store, db);
		res = CTL_JOB_FAILED;
	}
out:
	return res;
}

void ctl_snapshot_register_jobs(void)
{
	ctl_jobs_register("snapshot", snapshot_job);
}
