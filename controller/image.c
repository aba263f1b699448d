#include "image.h"

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
#include "log.h"
#include "params.h"
#include "rowjson.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

int ctl_image_insert(struct ctl_call *call, const char *id, const char *name, const char *desc, const char *snap,
			long long size, struct json_object *job_args)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st;
	int r = -EIO;

	if (!db || ctl_db_tx_begin(db) < 0)
		goto out;
	st = ctl_db_prepare(db, "INSERT INTO images (image_id, account_id, name, description, size_gib, os_name, os_type,"
				" architecture, status, source_snapshot_id, owner_alias, created_at) VALUES (?1, ?2, ?3, ?4,"
				" ?5, 'Debian tiny (busybox)', 'linux', 'x86_64', 'Creating', ?6, 'self', ?7)");
	if (!st)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, desc, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, size);
	sqlite3_bind_text(st, 6, snap, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == -EEXIST) {
		r = ctl_fail(call, 400, "InvalidImageName.Duplicated", "The image name is in use.");
		goto out;
	}
	if (r == 0)
		r = ctl_jobs_add(db, "image", id, "create", job_args);
	r = ctl_db_commit(call, db, r);
out:
	if (db) {
		ctl_db_tx_rollback(db);
		ctl_db_put(call->c->store, db);
	} else {
		r = ctl_db_failure(call);
	}
	if (r == 0)
		ctl_jobs_kick(call->c);
	return r;
}

/* The system disk snapshot an image is made from: given, or taken now of the instance. */
static int source_snapshot(struct ctl_call *call, const char *snap, const char *inst, char ret[32], long long *ret_size)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st;
	char disk[64] = "";
	int r = 0;

	if (!db)
		return ctl_db_failure(call);
	if (snap) {
		st = ctl_db_prepare(db, "SELECT disk_type, disk_size, status FROM snapshots WHERE snapshot_id = ?1 AND"
					" account_id = ?2 AND deleted = 0");
		if (!st) {
			ctl_db_put(call->c->store, db);
			return ctl_db_failure(call);
		}
		sqlite3_bind_text(st, 1, snap, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			r = ctl_fail(call, 404, "InvalidSnapshotId.NotFound", "The specified SnapshotId does not exist.");
		else if (!streq(ctl_col(st, 0), "system"))
			r = ctl_fail(call, 403, "InvalidSnapshotId.NotSystemDisk",
				     "An image is made from a snapshot of a system disk.");
		else if (streq(ctl_col(st, 2), "failed"))
			r = ctl_fail(call, 403, "IncorrectSnapshotStatus", "The snapshot failed.");
		else {
			*ret_size = sqlite3_column_int64(st, 1);
			snprintf(ret, 32, "%s", snap);
		}
		sqlite3_finalize(st);
		ctl_db_put(call->c->store, db);
		return r;
	}
	st = ctl_db_prepare(db, "SELECT d.disk_id, d.size_gib FROM disks d JOIN instances i ON i.instance_id = d.instance_id"
				" WHERE d.instance_id = ?1 AND d.type = 'system' AND d.deleted = 0 AND i.account_id = ?2 AND"
				" i.deleted = 0 AND i.desired != 'deleted'");
	if (st) {
		sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(disk, sizeof(disk), "%s", ctl_col(st, 0));
			*ret_size = sqlite3_column_int64(st, 1);
		}
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	if (!disk[0])
		return ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	r = ctl_snapshot_take(call->c, call->account->account_id, disk, NULL, NULL, ret);
	if (r == -EBUSY)
		return ctl_fail(call, 403, "IncorrectDiskStatus.CreatingSnapshot", "A snapshot of the disk is being taken.");
	return r < 0 ? ctl_db_failure(call) : 0;
}

int ctl_image_create(struct ctl_call *call, struct json_object *out)
{
	const char *snap, *inst, *name, *desc;
	char id[ECS_ID_MAX], source[32];
	struct json_object *args;
	long long size = 0;
	int r;

	if ((r = ctl_param_id(call, "SnapshotId", 0, "s-", &snap)) < 0 ||
	    (r = ctl_param_id(call, "InstanceId", 0, "i-", &inst)) < 0 ||
	    (r = ctl_param_str(call, "ImageName", 0, 128, "", &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 256, "", &desc)) < 0)
		return r;
	if (!snap && !inst)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"SnapshotId\" that is mandatory for processing this request is not supplied.");
	if ((r = source_snapshot(call, snap, inst, source, &size)) < 0 || (r = ecs_id_new(ECS_ID_IMAGE, id)) < 0)
		return r < 0 && !call->status ? ctl_db_failure(call) : r;
	args = json_object_new_object();
	ecs_jb_str(args, "snapshot_id", source);
	r = ctl_image_insert(call, id, *name ? name : id, desc, source, size, args);
	json_object_put(args);
	if (r == 0)
		ecs_jb_str(out, "ImageId", id);
	return r;
}

int ctl_image_import(struct ctl_call *call, struct json_object *out)
{
	const char *name, *desc, *path, *bucket, *object;
	char id[ECS_ID_MAX];
	struct json_object *args;
	int r;

	if ((r = ctl_param_str(call, "ImageName", 0, 128, "", &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 256, "", &desc)) < 0 ||
	    (r = ctl_param_str(call, "DiskDeviceMapping.1.ImportPath", 0, 1024, NULL, &path)) < 0 ||
	    (r = ctl_param_str(call, "DiskDeviceMapping.1.OSSBucket", 0, 63, NULL, &bucket)) < 0 ||
	    (r = ctl_param_str(call, "DiskDeviceMapping.1.OSSObject", 0, 1023, NULL, &object)) < 0)
		return r;
	if ((bucket || object) && path)
		return ctl_fail(call, 400, "InvalidParameter.Conflict",
				"Give DiskDeviceMapping.1.ImportPath, or OSSBucket and OSSObject, not both.");
	if (bucket || object) {
		if (!bucket || !object)
			return ctl_fail(call, 400, "MissingParameter",
					"The input parameter \"DiskDeviceMapping.1.%s\" that is mandatory for processing "
					"this request is not supplied.",
					bucket ? "OSSObject" : "OSSBucket");
		if (ecs_id_new(ECS_ID_IMAGE, id) < 0)
			return ctl_db_failure(call);
		r = ctl_image_import_oss(call, id, *name ? name : id, desc, bucket, object);
		if (r == 0)
			ecs_jb_str(out, "ImageId", id);
		return r;
	}
	if (!path)
		return ctl_fail(call, 400, "MissingParameter",
				"The input parameter \"DiskDeviceMapping.1.ImportPath\" that is mandatory for processing "
				"this request is not supplied.");
	if (path[0] != '/' || strstr(path, ".."))
		return ctl_fail(call, 400, "InvalidParameter", "ImportPath must be an absolute path.");
	if (ecs_id_new(ECS_ID_IMAGE, id) < 0)
		return ctl_db_failure(call);
	args = json_object_new_object();
	ecs_jb_str(args, "source_dir", path);
	r = ctl_image_insert(call, id, *name ? name : id, desc, "", 1, args);
	json_object_put(args);
	if (r == 0)
		ecs_jb_str(out, "ImageId", id);
	return r;
}

int ctl_image_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const owners[] = { "system", "self", "others", "marketplace", NULL };
	const char *ids, *owner, *status, *name;
	struct ctl_page page;
	long long total = 0;
	struct json_object *list;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ctl_param_str(call, "ImageId", CTL_NONEMPTY, 4096, NULL, &ids)) < 0 ||
	    (r = ctl_param_enum(call, "ImageOwnerAlias", 0, owners, NULL, &owner)) < 0 ||
	    (r = ctl_param_str(call, "Status", CTL_NONEMPTY, 256, "Available", &status)) < 0 ||
	    (r = ctl_param_str(call, "ImageName", CTL_NONEMPTY, 128, NULL, &name)) < 0 ||
	    (r = ctl_param_paging(call, 100, 10, &page)) < 0)
		return r;
	db = ctl_db_get(call->c->store);
	/* ImageId and Status are comma lists (ECS-WIRE.md). */
	st = db ? ctl_db_prepare(db, "SELECT image_id, name, description, size_gib, owner_alias, os_name, os_type,"
				     " architecture, status, created_at, source_snapshot_id, count(*) OVER (), error FROM images"
				     " WHERE deleted = 0 AND (account_id IS NULL OR account_id = ?1) AND (?2 IS NULL OR"
				     " instr(',' || ?2 || ',', ',' || image_id || ',') > 0) AND (?3 IS NULL OR"
				     " owner_alias = ?3) AND instr(',' || ?4 || ',', ',' || status || ',') > 0 AND"
				     " (?5 IS NULL OR name = ?5) ORDER BY created_at DESC, image_id LIMIT ?6 OFFSET ?7")
		: NULL;
	if (!st) {
		ctl_db_put(call->c->store, db);
		return ctl_db_failure(call);
	}
	sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
	if (ids)
		sqlite3_bind_text(st, 2, ids, -1, SQLITE_STATIC);
	if (owner && !streq(owner, "others") && !streq(owner, "marketplace"))
		sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
	else if (owner)
		sqlite3_bind_text(st, 3, "none", -1, SQLITE_STATIC); /* none of those here */
	sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
	ctl_page_bind(st, 6, &page);
	list = json_object_new_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *o = json_object_new_object(), *maps, *m;
		char created[ECS_ISO8601_LEN + 1];

		ctl_time_str(sqlite3_column_int64(st, 9), created);
		total = sqlite3_column_int64(st, 11);
		ecs_jb_str(o, "ImageId", ctl_col(st, 0));
		ecs_jb_str(o, "ImageName", ctl_col(st, 1));
		ecs_jb_str(o, "Description", ctl_col(st, 2));
		ecs_jb_int(o, "Size", sqlite3_column_int64(st, 3));
		ecs_jb_str(o, "ImageOwnerAlias", ctl_col(st, 4));
		ecs_jb_str(o, "OSName", ctl_col(st, 5));
		ecs_jb_str(o, "OSType", ctl_col(st, 6));
		ecs_jb_str(o, "Platform", "Debian");
		ecs_jb_str(o, "Architecture", ctl_col(st, 7));
		ecs_jb_str(o, "Status", ctl_col(st, 8));
		ecs_jb_str(o, "Progress", streq(ctl_col(st, 8), "Available") ? "100%" : "0%");
		if (*ctl_col(st, 12))
			ecs_jb_str(o, "ErrorMessage", ctl_col(st, 12));
		ecs_jb_str(o, "CreationTime", created);
		ecs_jb_bool(o, "IsSupportIoOptimized", true);
		maps = ecs_jb_list(o, "DiskDeviceMappings", "DiskDeviceMapping");
		m = json_object_new_object();
		ecs_jb_str(m, "SnapshotId", ctl_col(st, 10));
		ecs_jb_str(m, "Size", ctl_col(st, 3));
		ecs_jb_str(m, "Device", "/dev/vda");
		ecs_jb_str(m, "Type", "system");
		json_object_array_add(maps, m);
		json_object_array_add(list, o);
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	ecs_jb_str(out, "RegionId", call->region_id);
	ctl_page_answer(out, &page, total);
	json_object_object_add(ecs_jb_obj(out, "Images"), "Image", list);
	return 0;
}

/* Whether anything the account still has needs image ?1: an instance made from it, a disk
 * made from it, or a disk made from a snapshot of such a disk, at any depth (a disk made from
 * a snapshot is an overlay on the snapshot's image). An instance being deleted, and the disks
 * that go with it, no longer count (they are gone from Describe): the delete job waits for
 * their host to let go of the image (the agent answers ImageInUse until then). */
#define IMAGE_IN_USE_SQL                                                                                        \
	"(EXISTS (SELECT 1 FROM instances WHERE image_id = ?1 AND deleted = 0 AND desired != 'deleted') OR"      \
	" EXISTS (WITH RECURSIVE dep(disk_id) AS (SELECT disk_id FROM disks WHERE image_id = ?1 UNION SELECT"   \
	" d.disk_id FROM disks d JOIN snapshots s ON s.snapshot_id = d.source_snapshot_id JOIN dep ON"          \
	" dep.disk_id = s.disk_id) SELECT 1 FROM dep JOIN disks k USING (disk_id) WHERE k.deleted = 0 AND NOT"   \
	" ((k.type = 'system' OR k.delete_with_instance = 1) AND k.instance_id IN (SELECT instance_id FROM"     \
	" instances WHERE desired = 'deleted'))))"

int ctl_image_delete(struct ctl_call *call, struct json_object *out)
{
	const char *id;
	char status[32] = "";
	bool force, found = false, used = false;
	sqlite3 *db;
	sqlite3_stmt *st;
	int r;

	(void)out;
	if ((r = ctl_param_str(call, "ImageId", CTL_REQUIRED | CTL_NONEMPTY, 128, NULL, &id)) < 0 ||
	    (r = ctl_param_bool(call, "Force", 0, false, &force)) < 0)
		return r;
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(call->c->store, db);
		return ctl_db_failure(call);
	}
	/* Only the account's own. */
	st = ctl_db_prepare(db, "SELECT status, " IMAGE_IN_USE_SQL " FROM images WHERE image_id = ?1 AND account_id = ?2"
				" AND deleted = 0");
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = true;
		snprintf(status, sizeof(status), "%s", ctl_col(st, 0));
		used = sqlite3_column_int(st, 1) != 0;
	}
	sqlite3_finalize(st);
	if (!found)
		r = ctl_fail(call, 404, "InvalidImageId.NotFound", "The specified ImageId does not exist.");
	else if (streq(status, "Creating"))
		r = ctl_fail(call, 403, "IncorrectImageStatus", "The image is being created.");
	/* Force does not override this: those disks are overlays on the image's file. */
	else if (used)
		r = ctl_fail(call, 403, "ImageUsingByInstance",
			     "The specified image is used by instances or disks (or disks made from their snapshots); "
			     "delete them first.");
	else if ((r = ctl_db_run(db, "UPDATE images SET deleted = 1 WHERE image_id = ?1", &id, 1)) == 0 &&
		 (r = ctl_jobs_add(db, "image", id, "delete", NULL)) == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0 && !call->status)
		r = ctl_db_failure(call);
out:
	ctl_db_tx_rollback(db);
	ctl_db_put(call->c->store, db);
	if (r == 0)
		ctl_jobs_kick(call->c);
	return r;
}

/* ---- the job ---- */

int ctl_any_alive_host(struct ctl *c, const char *prefer, char ret[64])
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT host_id FROM hosts WHERE last_seen >= ?1 ORDER BY host_id != ?2,"
						   " host_id LIMIT 1")
			      : NULL;
	int r = -EHOSTDOWN;

	if (st) {
		sqlite3_bind_int64(st, 1, time(NULL) - c->cfg.host_dead_after_s);
		sqlite3_bind_text(st, 2, prefer ? prefer : "", -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(ret, 64, "%s", ctl_col(st, 0));
			r = 0;
		}
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	return r;
}

static void set_image(struct ctl *c, const char *id, const char *status, long long size, const char *error)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "UPDATE images SET status = ?2, size_gib = CASE WHEN ?3 > 0 THEN ?3 ELSE"
						   " size_gib END, error = ?4 WHERE image_id = ?1")
			      : NULL;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, size);
		sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

static const struct ctl_col_key host_cols[] = {
	{ "host", CTL_COL_STR },
	{ "alive", CTL_COL_BOOL },
	{ "listed", CTL_COL_BOOL },
};

/* A deleted image leaves every host: its cache there and its blob-store copy (purge). Each
 * host that answered is kept in the job's "done"; a host that is down is waited for while its
 * last heartbeat listed the image. The agent refuses (ImageInUse) while a disk of its own is
 * an overlay on the image: the job waits for that too. */
static enum ctl_job_result image_delete_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/images/%s?purge=true", job->resource_id);
	_cleanup_free_ char *quoted = ecs_strdup_printf("\"%s\"", job->resource_id);
	struct json_object *done = ecs_json_get(job->args, "done"), *hosts = json_object_new_array();
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT host_id, last_seen >= ?1, instr(images, ?2) > 0 FROM hosts"
						   " ORDER BY host_id")
			      : NULL;
	int waiting = 0;

	if (!st || !path || !quoted) {
		sqlite3_finalize(st);
		ctl_db_put(c->store, db);
		json_object_put(hosts);
		snprintf(why, why_size, "cannot read the hosts");
		return CTL_JOB_RETRY;
	}
	sqlite3_bind_int64(st, 1, time(NULL) - c->cfg.host_dead_after_s);
	sqlite3_bind_text(st, 2, quoted, -1, SQLITE_STATIC);
	ctl_rows_json(st, CTL_COLS(host_cols), hosts);
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
	if (!done || !json_object_is_type(done, json_type_array)) {
		done = json_object_new_array();
		json_object_object_add(job->args, "done", done);
	}
	for (size_t i = 0; i < json_object_array_length(hosts); i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i), *ans = NULL;
		const char *host = ecs_json_str(h, "host", "");
		bool answered = false;
		long status = 0;
		int r;

		for (size_t k = 0; k < json_object_array_length(done) && !answered; k++)
			answered = streq(json_object_get_string(json_object_array_get_idx(done, k)), host);
		if (answered)
			continue;
		if (!ecs_json_bool(h, "alive")) {
			if (ecs_json_bool(h, "listed")) {
				snprintf(why, why_size, "image %s: waiting for host %s (down) to come back", job->resource_id,
					 host);
				waiting++;
			}
			continue;
		}
		r = ctl_agent_call(c, host, "DELETE", path, NULL, &status, &ans);
		if (r == 0 && status == 200) {
			json_object_array_add(done, json_object_new_string(host));
		} else {
			snprintf(why, why_size, "image %s on %s: %s", job->resource_id, host,
				 ctl_agent_error(r, ans));
			waiting++;
		}
		json_object_put(ans);
	}
	json_object_put(hosts);
	if (waiting)
		return CTL_JOB_RETRY;
	log_info("image deleted from every host", "image=%s", job->resource_id);
	return CTL_JOB_DONE;
}

static enum ctl_job_result image_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	const char *snap = ecs_json_str(job->args, "snapshot_id", NULL), *dir = ecs_json_str(job->args, "source_dir", NULL);
	_cleanup_free_ char *path = ecs_strdup_printf("/v1/images/%s", job->resource_id);
	_cleanup_json_ struct json_object *body = json_object_new_object(), *ans = NULL;
	char host[64] = "", snap_status[32] = "", snap_host[64] = "";
	enum ctl_job_result res = CTL_JOB_RETRY;
	long status = 0;
	int r;

	if (streq(job->op, "delete"))
		return image_delete_job(c, job, why, why_size);
	if (streq(job->op, "export"))
		return ctl_image_export_job(c, job, why, why_size);
	if (snap) {
		/* An image from a snapshot waits for the snapshot. */
		sqlite3 *db = ctl_db_get(c->store);
		sqlite3_stmt *st =
			ctl_db_prepare_args(db, "SELECT status, host_id FROM snapshots WHERE snapshot_id = ?1", &snap, 1);

		if (st && sqlite3_step(st) == SQLITE_ROW) {
			snprintf(snap_status, sizeof(snap_status), "%s", ctl_col(st, 0));
			snprintf(snap_host, sizeof(snap_host), "%s", ctl_col(st, 1));
		}
		sqlite3_finalize(st);
		ctl_db_put(c->store, db);
		if (streq(snap_status, "progressing")) {
			snprintf(why, why_size, "waiting for snapshot %s", snap);
			goto out;
		}
		if (!streq(snap_status, "accomplished")) {
			snprintf(why, why_size, "snapshot %s is %s", snap, snap_status[0] ? snap_status : "gone");
			set_image(c, job->resource_id, "CreateFailed", 0, why);
			res = CTL_JOB_FAILED;
			goto out;
		}
		ecs_jb_str(body, "snapshot_id", snap);
	} else if (dir) {
		ecs_jb_str(body, "source_dir", dir);
	} else if (ecs_json_get(job->args, "oss_bucket")) {
		r = ctl_image_oss_body(c, job, body);
		if (r == -ENOENT) {
			snprintf(why, why_size, "image %s: the key it was imported with is gone", job->resource_id);
			set_image(c, job->resource_id, "CreateFailed", 0, why);
			res = CTL_JOB_FAILED;
		}
		if (r < 0)
			goto out;
	}
	if (ctl_any_alive_host(c, snap_host, host) < 0) {
		snprintf(why, why_size, "no host is up");
		goto out;
	}
	r = ctl_agent_call(c, host, "PUT", path, body, &status, &ans);
	if (r == 0 && status == 200) {
		set_image(c, job->resource_id, "Available", ecs_json_int(ecs_json_get(ans, "manifest"), "min_disk_gib", 0), "");
		res = CTL_JOB_DONE;
		goto out;
	}
	snprintf(why, why_size, "image %s on %s: %s", job->resource_id, host,
		 ctl_agent_error(r, ans));
	if (ctl_job_given_up(c, job, r, status)) {
		char err[512];

		/* The agent's Code and message, for DescribeImages' ErrorMessage. */
		snprintf(err, sizeof(err), "%s: %s", ecs_json_str(ans, "code", "Timeout"), ctl_agent_error(r, ans));
		set_image(c, job->resource_id, "CreateFailed", 0, err);
		res = CTL_JOB_FAILED;
	}
out:
	return res;
}

void ctl_image_register_jobs(void)
{
	ctl_jobs_register("image", image_job);
}
