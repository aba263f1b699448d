#include "instance.h"

#include <crypt.h>
#include <errno.h>

#include "addrpool.h"
#include "common.h"
#include "crypto.h"
#include "deployset.h"
#include "id.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "scheduler.h"
#include "secgroup.h"
#include "sgsync.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

#define MAX_AMOUNT 100
#define MAX_DATA_DISKS 16
#define MAX_USER_DATA 32768

/* ---- small helpers ---- */

static int incorrect_status(struct ctl_call *call, const char *status)
{
	if (streq(status, "Pending"))
		return ctl_fail(call, 403, "IncorrectInstanceStatus.Initializing",
				"The specified instance is in the process of initializing.");
	return ctl_fail(call, 403, "IncorrectInstanceStatus",
			"The current status of the resource does not support this operation.");
}

/* ---- passwords (ECS's rule: 8-30 characters, three of the four classes) ---- */

static bool password_ok(const char *p)
{
	static const char specials[] = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/";
	int classes[4] = { 0 };
	size_t n = strlen(p);

	if (n < 8 || n > 30)
		return false;
	for (; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			classes[0] = 1;
		else if (*p >= 'A' && *p <= 'Z')
			classes[1] = 1;
		else if (*p >= '0' && *p <= '9')
			classes[2] = 1;
		else if (strchr(specials, *p))
			classes[3] = 1;
		else
			return false;
	}
	return classes[0] + classes[1] + classes[2] + classes[3] >= 3;
}

/* SHA-512 crypt with a random salt: the plain password is never stored. */
static char *password_hash(const char *password)
{
	static const char b64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	struct crypt_data data;
	uint8_t rnd[16];
	char salt[32] = "$6$";
	const char *h;

	memset(&data, 0, sizeof(data));
	if (ecs_random_bytes(rnd, sizeof(rnd)) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(rnd); i++)
		salt[3 + i] = b64[rnd[i] % 64];
	salt[3 + sizeof(rnd)] = '$';
	h = crypt_r(password, salt, &data);
	return h && h[0] == '$' ? strdup(h) : NULL;
}

static bool hostname_ok(const char *h)
{
	size_t n = strlen(h);

	if (n < 2 || n > 64 || h[0] == '.' || h[0] == '-')
		return false;
	for (; *h; h++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", *h))
			return false;
	return true;
}

/* ---- creating ---- */

struct new_disk {
	long long size;
	const char *snapshot_id, *name;
	bool delete_with_instance;
};

struct create_args {
	const char *image_id, *type_id, *zone_id, *name, *description, *hostname, *key_pair_name, *user_data;
	const char *system_disk_name, *deployment_set_id;
	char *password_hash;
	long long system_size, bandwidth, amount;
	struct new_disk data[MAX_DATA_DISKS];
	size_t n_data;
	struct json_object *disks; /* owns the data disks' strings */
	struct json_object *tags;  /* [{TagKey, TagValue}] */
	struct json_object *groups; /* security group ids, in order (1-5 once resolved) */
	struct json_object *nudge; /* hosts whose security view the booking changes (a set) */
	const struct ctl_instance_type *type;
	bool system_image;
	int image_min_gib;
};

static void create_args_clear(struct create_args *a)
{
	json_object_put(a->disks);
	json_object_put(a->tags);
	json_object_put(a->groups);
	json_object_put(a->nudge);
	free(a->password_hash);
}

static int check_image(struct ctl_call *call, struct create_args *a)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		ctl_db_prepare_owned(call, conn.db,
				     "SELECT account_id, size_gib FROM images WHERE image_id = ?1 AND deleted = 0 AND"
				     " status = 'Available' AND (account_id IS NULL OR account_id = ?2)",
				     a->image_id);

	if (!st)
		return ctl_db_failure(call);
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidImageId.NotFound", "The specified ImageId does not exist.");
	a->system_image = sqlite3_column_type(st, 0) == SQLITE_NULL;
	a->image_min_gib = sqlite3_column_int(st, 1);
	return 0;
}

static int check_key_pair(struct ctl_call *call, const char *name)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(call->c->store);
	_cleanup_stmt_ sqlite3_stmt *st =
		ctl_db_prepare_owned(call, conn.db, "SELECT 1 FROM key_pairs WHERE name = ?1 AND account_id = ?2", name);

	if (!st)
		return ctl_db_failure(call);
	if (sqlite3_step(st) != SQLITE_ROW)
		return ctl_fail(call, 404, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist.");
	return 0;
}

static int read_create_args(struct ctl_call *call, bool run, struct create_args *a)
{
	static const char *const disk_subs[] = { "Size", "Category", "SnapshotId", "DiskName", "Description",
						 "DeleteWithInstance", "Device", "PerformanceLevel", "Encrypted", NULL };
	static const char *const tag_subs[] = { "Key", "Value", NULL };
	static const char *const categories[] = { "cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "ephemeral_ssd",
						   NULL };
	struct json_object *tags = NULL;
	const char *password, *cat;
	int r;

	if ((r = ctl_param_str(call, "ImageId", CTL_REQUIRED | CTL_NONEMPTY, 128, NULL, &a->image_id)) < 0 ||
	    (r = ctl_param_str(call, "InstanceType", CTL_REQUIRED | CTL_NONEMPTY, 64, NULL, &a->type_id)) < 0 ||
	    (r = ctl_param_str(call, "ZoneId", CTL_NONEMPTY, 64, NULL, &a->zone_id)) < 0 ||
	    (r = ctl_param_str(call, "InstanceName", 0, 128, "", &a->name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 256, "", &a->description)) < 0 ||
	    (r = ctl_param_str(call, "HostName", CTL_NONEMPTY, 64, NULL, &a->hostname)) < 0 ||
	    (r = ctl_param_str(call, "KeyPairName", CTL_NONEMPTY, 128, "", &a->key_pair_name)) < 0 ||
	    (r = ctl_param_str(call, "UserData", 0, MAX_USER_DATA * 4 / 3 + 4, "", &a->user_data)) < 0 ||
	    (r = ctl_param_str(call, "Password", CTL_NONEMPTY, 64, NULL, &password)) < 0 ||
	    (r = ctl_param_int(call, "SystemDisk.Size", 0, 1, 500, 0, &a->system_size)) < 0 ||
	    (r = ctl_param_enum(call, "SystemDisk.Category", 0, categories, "cloud_efficiency", &cat)) < 0 ||
	    (r = ctl_param_str(call, "SystemDisk.DiskName", 0, 128, "", &a->system_disk_name)) < 0 ||
	    (r = ctl_param_str(call, "DeploymentSetId", CTL_NONEMPTY, 64, NULL, &a->deployment_set_id)) < 0 ||
	    (r = ctl_param_int(call, "InternetMaxBandwidthOut", 0, 0, 100, 0, &a->bandwidth)) < 0 ||
	    (r = ctl_param_int(call, "Amount", 0, 1, run ? MAX_AMOUNT : 1, 1, &a->amount)) < 0)
		return r;
	a->type = ctl_config_type(&call->c->cfg, a->type_id);
	if (!a->type)
		return ctl_fail(call, 404, "InvalidInstanceType.NotFound", "The specified InstanceType does not exist.");
	if (a->zone_id && !ctl_config_zone_known(&call->c->cfg, a->zone_id))
		return ctl_fail(call, 404, "InvalidZoneId.NotFound", "The specified ZoneId does not exist.");
	if (a->hostname && !hostname_ok(a->hostname))
		return ctl_fail(call, 400, "InvalidHostName.Malformed", "The specified parameter \"HostName\" is not valid.");
	if (password && !password_ok(password))
		return ctl_fail(call, 400, "InvalidPassword.Malformed",
				"The specified parameter \"Password\" is not valid: 8-30 characters, three of upper, lower, "
				"digits and ()`~!@#$%%^&*-_+=|{}[]:;'<>,.?/");
	if (*a->user_data) {
		uint8_t *raw = NULL;
		size_t len = 0;

		r = ecs_base64_decode(a->user_data, strlen(a->user_data), &raw, &len);
		free(raw);
		if (r < 0)
			return ctl_fail(call, 400, "InvalidUserData.NotBase64", "The specified UserData is not base64 encoded.");
		if (len > MAX_USER_DATA)
			return ctl_fail(call, 400, "InvalidUserData.SizeExceeded", "The specified UserData exceeds 32 KB.");
	}
	if ((r = check_image(call, a)) < 0)
		return r;
	if (a->system_size && a->system_size < (a->image_min_gib ? a->image_min_gib : 1))
		return ctl_fail(call, 400, "InvalidSystemDiskSize.LessThanImageSize",
				"The specified SystemDisk.Size is less than the image size.");
	if (!a->system_size)
		a->system_size = a->image_min_gib > 0 ? a->image_min_gib : 1;
	if (*a->key_pair_name && (r = check_key_pair(call, a->key_pair_name)) < 0)
		return r;
	r = ctl_param_repeat(call, "DataDisk", disk_subs, MAX_DATA_DISKS, &a->disks);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(a->disks); i++) {
		struct json_object *d = json_object_array_get_idx(a->disks, i);
		long long size = 0;
		const char *snap = ecs_json_str(d, "SnapshotId", "");

		/* Without a Size, a disk from a snapshot takes the snapshot's (resolve_data_disks). */
		if ((!*snap || ecs_json_str(d, "Size", NULL)) &&
		    (!ecs_json_str(d, "Size", NULL) || ecs_parse_int64(ecs_json_str(d, "Size", ""), 1, 32768, &size) < 0))
			return ctl_fail(call, 400, "InvalidDataDiskSize.ValueNotSupported",
					"The specified DataDisk.%zu.Size is not valid.", i + 1);
		if (*snap && !ecs_id_valid(ECS_ID_SNAPSHOT, snap))
			return ctl_fail(call, 404, "InvalidSnapshotId.NotFound", "The specified SnapshotId does not exist.");
		a->data[a->n_data++] = (struct new_disk){
			size, snap, ecs_json_str(d, "DiskName", ""),
			!ecs_json_str(d, "DeleteWithInstance", NULL) || strcaseeq(ecs_json_str(d, "DeleteWithInstance", ""), "true"),
		};
	}
	r = ctl_param_repeat(call, "Tag", tag_subs, 20, &tags);
	if (r < 0)
		return r;
	a->tags = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(tags); i++) {
		struct json_object *t = json_object_array_get_idx(tags, i), *o = json_object_new_object();

		ecs_jb_str(o, "TagKey", ecs_json_str(t, "Key", ""));
		ecs_jb_str(o, "TagValue", ecs_json_str(t, "Value", ""));
		json_object_array_add(a->tags, o);
	}
	json_object_put(tags);
	r = ctl_sg_instance_groups_read(call, run, &a->groups);
	if (r < 0)
		return r;
	a->nudge = json_object_new_object();
	if (password) {
		a->password_hash = password_hash(password);
		if (!a->password_hash)
			return ctl_db_failure(call);
	}
	return 0;
}

/* Inside the booking transaction: each data disk's snapshot must be the caller's and
 * accomplished (the check CreateDisk makes); a disk without a Size takes the snapshot's,
 * one with a Size must hold it. */
static int resolve_data_disks(struct ctl_call *call, sqlite3 *db, struct create_args *a)
{
	for (size_t i = 0; i < a->n_data; i++) {
		long long snap_size;
		int r;

		if (!*a->data[i].snapshot_id)
			continue;
		r = ctl_snapshot_size(call, db, a->data[i].snapshot_id, &snap_size);
		if (r < 0)
			return r;
		if (!a->data[i].size)
			a->data[i].size = snap_size;
		if (a->data[i].size < snap_size)
			return ctl_fail(call, 400, "InvalidDataDiskSize.ValueNotSupported",
					"The specified DataDisk.%zu.Size is less than the size of its snapshot (%lld GiB).",
					i + 1, snap_size);
	}
	return 0;
}

/* Quotas, inside the booking transaction. */
static int check_quota(struct ctl_call *call, sqlite3 *db, const struct create_args *a)
{
	const struct ctl_account *acc = call->account;
	const char *const owner[] = { acc->account_id };
	long long n = 0, vcpus = 0, disks = 0;

	if (ctl_db_count(db, "SELECT count(*) FROM instances WHERE account_id = ?1 AND deleted = 0", owner, 1, &n) < 0 ||
	    ctl_db_count(db, "SELECT COALESCE(sum(vcpus), 0) FROM instances WHERE account_id = ?1 AND deleted = 0", owner,
			 1, &vcpus) < 0 ||
	    ctl_db_count(db, "SELECT count(*) FROM disks WHERE account_id = ?1 AND deleted = 0", owner, 1, &disks) < 0)
		return ctl_db_failure(call);
	if (n + a->amount > acc->quota_instances)
		return ctl_fail(call, 400, "QuotaExceeded", "Living instances quota exceeded (%lld of %lld).", n,
				acc->quota_instances);
	if (vcpus + a->amount * a->type->vcpus > acc->quota_vcpus)
		return ctl_fail(call, 400, "QuotaExceeded", "vCPU quota exceeded (%lld of %lld in use).", vcpus,
				acc->quota_vcpus);
	if (disks + a->amount * (long long)(1 + a->n_data) > acc->quota_disks)
		return ctl_fail(call, 400, "QuotaExceeded", "Disk quota exceeded (%lld of %lld).", disks, acc->quota_disks);
	return 0;
}

static int insert_disk(sqlite3 *db, const char *disk_id, const char *account, const char *zone, const char *name,
		       const char *type, long long size, const char *image, const char *snapshot, const char *instance,
		       const char *device, const char *host, bool delete_with, long long now)
{
	sqlite3_stmt *st = ctl_db_prepare_args(
		db,
		"INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category, size_gib, image_id,"
		" source_snapshot_id, status, instance_id, device, host_id, delete_with_instance, created_at, attached_at)"
		" VALUES (?1, ?2, ?3, ?4, '', ?5, 'cloud_efficiency', ?6, ?7, ?8, 'Creating', ?9, ?10, ?11, ?12, ?13, ?13)",
		(const char *const[]){ disk_id, account, zone, name, type, NULL, image, snapshot, instance, device, host }, 11);
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 6, size);
	sqlite3_bind_int(st, 12, delete_with);
	sqlite3_bind_int64(st, 13, now);
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	return r;
}

/* Book one instance: place it, then write it, its disks, its address and its job. */
static int book_one(struct ctl_call *call, sqlite3 *db, const struct create_args *a, bool start, char ret_id[ECS_ID_MAX])
{
	struct ctl_sched_request rq = {
		.zone_id = a->zone_id,
		.vcpus = a->type->vcpus,
		.memory_mib = a->type->memory_mib,
		.disk_gib = (int)a->system_size,
		.image_id = a->image_id,
		.system_image = a->system_image,
		.deployment_set_id = a->deployment_set_id,
	};
	char host[64], ip[16], sys_id[ECS_ID_MAX], mac[18], zone[64];
	uint8_t rnd[3];
	struct json_object *args;
	sqlite3_stmt *st;
	long long now = time(NULL);
	int r;

	for (size_t i = 0; i < a->n_data; i++)
		rq.disk_gib += (int)a->data[i].size;
	r = ctl_schedule(call->c, db, &rq, host);
	if (r == -ENOSPC)
		return ctl_fail(call, 403, "OperationDenied.NoStock",
				"Sales of this resource are temporarily suspended in the specified region; please try again later.");
	if (r == -EXFULL)
		return ctl_fail(call, 403, "QuotaExceed.DeploymentSetInstanceQuotaFull",
				"instance quota in one deployment set exceeded: no host left without a member of %s.",
				a->deployment_set_id);
	if (r < 0)
		return ctl_db_failure(call);
	{
		/* The zone is the host's. */
		sqlite3_stmt *z = ctl_db_prepare(db, "SELECT zone_id FROM hosts WHERE host_id = ?1");

		zone[0] = '\0';
		if (z) {
			sqlite3_bind_text(z, 1, host, -1, SQLITE_STATIC);
			if (sqlite3_step(z) == SQLITE_ROW)
				snprintf(zone, sizeof(zone), "%s", ctl_col(z, 0));
		}
		sqlite3_finalize(z);
	}
	if (ecs_id_new(ECS_ID_INSTANCE, ret_id) < 0 || ecs_id_new(ECS_ID_DISK, sys_id) < 0 ||
	    ecs_random_bytes(rnd, sizeof(rnd)) < 0)
		return ctl_db_failure(call);
	snprintf(mac, sizeof(mac), "52:54:00:%02x:%02x:%02x", rnd[0], rnd[1], rnd[2]);
	r = ctl_ip_lease(call->c, db, ret_id, ip);
	if (r == -ENOSPC)
		return ctl_fail(call, 403, "InvalidVSwitchId.IpNotEnough", "The private address pool has no free address.");
	if (r < 0)
		return ctl_db_failure(call);
	st = ctl_db_prepare(
		db, "INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type,"
		    " vcpus, memory_mib, zone_id, host_id, status, desired, private_ip, mac, key_pair_name, password_hash,"
		    " user_data, internet_max_bandwidth_out, tags, created_at, transition_at, deployment_set_id)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'Pending', ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
		    " ?20, ?20, ?21)");
	if (!st)
		return ctl_db_failure(call);
	{
		_cleanup_free_ char *hn = a->hostname ? strdup(a->hostname) : ecs_strdup_printf("iZ%sZ", ret_id + 2);

		sqlite3_bind_text(st, 1, ret_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, *a->name ? a->name : ret_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, a->description, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, hn, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, a->image_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, a->type->id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 8, a->type->vcpus);
		sqlite3_bind_int(st, 9, a->type->memory_mib);
		sqlite3_bind_text(st, 10, zone, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, host, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 12, start ? "running" : "stopped", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 13, ip, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 14, mac, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 15, a->key_pair_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 16, a->password_hash ? a->password_hash : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 17, a->user_data, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 18, a->bandwidth);
		sqlite3_bind_text(st, 19, ecs_json_text(a->tags, NULL), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 20, now);
		sqlite3_bind_text(st, 21, a->deployment_set_id ? a->deployment_set_id : "", -1, SQLITE_STATIC);
		r = ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	if (r == 0)
		r = insert_disk(db, sys_id, call->account->account_id, zone, a->system_disk_name, "system", a->system_size,
				a->image_id, "", ret_id, "vda", host, true, now);
	for (size_t i = 0; r == 0 && i < a->n_data; i++) {
		char did[ECS_ID_MAX], dev[4] = { 'v', 'd', (char)('b' + i), '\0' };

		r = ecs_id_new(ECS_ID_DISK, did);
		if (r == 0)
			r = insert_disk(db, did, call->account->account_id, zone, a->data[i].name, "data", a->data[i].size, "",
					a->data[i].snapshot_id, ret_id, dev, host, a->data[i].delete_with_instance, now);
	}
	if (r == 0)
		r = ctl_sg_instance_join_all(db, ret_id, a->groups, a->nudge);
	args = json_object_new_object();
	ecs_jb_bool(args, "start", start);
	if (r == 0)
		r = ctl_jobs_add(db, "instance", ret_id, "create", args);
	json_object_put(args);
	return r < 0 ? ctl_db_failure(call) : 0;
}

static int create_common(struct ctl_call *call, struct json_object *out, bool run)
{
	struct create_args a = { 0 };
	struct json_object *ids = NULL;
	sqlite3 *db = NULL;
	int r;

	r = read_create_args(call, run, &a);
	if (r < 0)
		goto out;
	db = ctl_db_get(call->c->store);
	/* One placement at a time, all of an Amount in one transaction: either all are booked
	 * or none, and no host is booked past its room. */
	pthread_mutex_lock(&call->c->sched_lock);
	if (!db || ctl_db_tx_begin(db) < 0) {
		pthread_mutex_unlock(&call->c->sched_lock);
		r = ctl_db_failure(call);
		goto out;
	}
	/* The data disks' snapshots and the groups first (a "default" group made here is rolled
	 * back with the rest on a refusal). */
	r = resolve_data_disks(call, db, &a);
	if (r == 0)
		r = ctl_sg_instance_groups_resolve(call, db, a.groups);
	if (r == 0)
		r = check_quota(call, db, &a);
	if (r == 0 && a.deployment_set_id)
		r = ctl_deployset_check_owned(call, db, a.deployment_set_id);
	if (r == 0) {
		ids = json_object_new_array();
		for (long long i = 0; i < a.amount && r == 0; i++) {
			char id[ECS_ID_MAX];

			r = book_one(call, db, &a, run, id);
			if (r == 0)
				json_object_array_add(ids, json_object_new_string(id));
		}
	}
	if (r == 0 && ctl_db_tx_commit(db) < 0)
		r = ctl_db_failure(call);
	if (r < 0)
		ctl_db_tx_rollback(db);
	pthread_mutex_unlock(&call->c->sched_lock);
	if (r < 0)
		goto out;
	ctl_jobs_kick(call->c);
	ctl_sgsync_nudge(call->c, a.nudge);
	if (run) {
		json_object_object_add(ecs_jb_obj(out, "InstanceIdSets"), "InstanceIdSet", json_object_get(ids));
	} else {
		ecs_jb_str(out, "InstanceId", json_object_get_string(json_object_array_get_idx(ids, 0)));
	}
	log_info("instances booked", "account=%s count=%lld image=%s type=%s", call->account->account_id, a.amount,
		 a.image_id, a.type->id);
out:
	if (db)
		ctl_db_put(call->c->store, db);
	json_object_put(ids);
	create_args_clear(&a);
	return r;
}

int ctl_instance_run(struct ctl_call *call, struct json_object *out)
{
	return create_common(call, out, true);
}

int ctl_instance_create(struct ctl_call *call, struct json_object *out)
{
	return create_common(call, out, false);
}

/* ---- lifecycle actions ---- */

/* Move an instance from one of `from` to `to`, record why and queue its job. */
static int transition(struct ctl_call *call, const char *id, const char *const *from, const char *to,
		      const char *desired, const char *op, struct json_object *args)
{
	sqlite3_stmt *st;
	char status[32] = "";
	bool allowed = false;
	int r;
	sqlite3 *db = ctl_db_begin(call, &r);

	if (!db)
		return r;
	st = ctl_db_prepare_owned(call, db,
				  "SELECT status FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND deleted = 0"
				  " AND desired != 'deleted'",
				  id);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(status, sizeof(status), "%s", ctl_col(st, 0));
	sqlite3_finalize(st);
	if (!status[0]) {
		r = ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
		goto out;
	}
	for (size_t i = 0; from[i] && !allowed; i++)
		allowed = streq(from[i], status);
	if (!allowed) {
		r = incorrect_status(call, status);
		goto out;
	}
	st = ctl_db_prepare_args(db, "UPDATE instances SET status = ?2, desired = ?3, transition_at = ?4, error = ''"
				     " WHERE instance_id = ?1",
				 (const char *const[]){ id, to, desired }, 3);
	if (!st) {
		r = ctl_db_failure(call);
		goto out;
	}
	sqlite3_bind_int64(st, 4, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == 0)
		r = ctl_jobs_add(db, "instance", id, op, args);
	r = ctl_db_commit(call, db, r);
out:
	ctl_db_put(call->c->store, db);
	if (r == 0)
		ctl_jobs_kick(call->c);
	return r;
}

int ctl_instance_start(struct ctl_call *call, struct json_object *out)
{
	static const char *const from[] = { "Stopped", NULL };
	const char *id;
	int r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id);

	(void)out;
	return r < 0 ? r : transition(call, id, from, "Starting", "running", "start", NULL);
}

/* StopInstance and RebootInstance: a Running instance, ForceStop carried to the agent. */
static int forced_transition(struct ctl_call *call, const char *status, const char *desired, const char *kind)
{
	static const char *const from[] = { "Running", NULL };
	struct json_object *args;
	const char *id;
	bool force;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_bool(call, "ForceStop", 0, false, &force)) < 0)
		return r;
	args = json_object_new_object();
	ecs_jb_bool(args, "force", force);
	r = transition(call, id, from, status, desired, kind, args);
	json_object_put(args);
	return r;
}

int ctl_instance_stop(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return forced_transition(call, "Stopping", "stopped", "stop");
}

int ctl_instance_reboot(struct ctl_call *call, struct json_object *out)
{
	(void)out;
	return forced_transition(call, "Starting", "running", "reboot");
}

int ctl_instance_delete(struct ctl_call *call, struct json_object *out)
{
	static const char *const stopped[] = { "Stopped", NULL };
	static const char *const forced[] = { "Stopped", "Running", NULL };
	const char *id;
	bool force;
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_bool(call, "Force", 0, false, &force)) < 0)
		return r;
	return transition(call, id, force ? forced : stopped, "Stopping", "deleted", "delete", NULL);
}

int ctl_instance_modify(struct ctl_call *call, struct json_object *out)
{
	const char *id, *name, *desc, *host, *password, *user_data;
	_cleanup_free_ char *hash = NULL;
	struct json_object *push = json_object_new_object();
	sqlite3 *db = NULL;
	char status[32];
	int r;

	(void)out;
	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_str(call, "InstanceName", CTL_NONEMPTY, 128, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "Description", 0, 256, NULL, &desc)) < 0 ||
	    (r = ctl_param_str(call, "HostName", CTL_NONEMPTY, 64, NULL, &host)) < 0 ||
	    (r = ctl_param_str(call, "Password", CTL_NONEMPTY, 64, NULL, &password)) < 0 ||
	    (r = ctl_param_str(call, "UserData", 0, MAX_USER_DATA * 4 / 3 + 4, NULL, &user_data)) < 0 ||
	    (r = ctl_instance_lookup(call, id, status, NULL)) < 0)
		goto out;
	if (host && !hostname_ok(host)) {
		r = ctl_fail(call, 400, "InvalidHostName.Malformed", "The specified parameter \"HostName\" is not valid.");
		goto out;
	}
	if (password && !password_ok(password)) {
		r = ctl_fail(call, 400, "InvalidPassword.Malformed", "The specified parameter \"Password\" is not valid.");
		goto out;
	}
	if (user_data && *user_data) {
		uint8_t *raw = NULL;
		size_t len = 0;

		r = ecs_base64_decode(user_data, strlen(user_data), &raw, &len);
		free(raw);
		if (r < 0 || len > MAX_USER_DATA) {
			r = ctl_fail(call, 400, "InvalidUserData.NotBase64", "The specified UserData is not valid base64 ≤ 32 KB.");
			goto out;
		}
	}
	if (password) {
		hash = password_hash(password);
		if (!hash) {
			r = ctl_db_failure(call);
			goto out;
		}
		ecs_jb_str(push, "password_hash", hash);
	}
	if (host)
		ecs_jb_str(push, "hostname", host);
	if (user_data)
		ecs_jb_str(push, "user_data", user_data);
	db = ctl_db_begin(call, &r);
	if (!db)
		goto out;
	r = ctl_db_run(db,
		       "UPDATE instances SET name = COALESCE(?2, name), description = COALESCE(?3, description),"
		       " hostname = COALESCE(?4, hostname), password_hash = COALESCE(?5, password_hash),"
		       " user_data = COALESCE(?6, user_data) WHERE instance_id = ?1",
		       (const char *const[]){ id, name, desc, host, hash, user_data }, 6);
	/* What the guest sees (hostname, password, user-data) reaches the agent, effective
	 * at the next start as in ECS. */
	if (r == 0 && json_object_object_length(push) > 0)
		r = ctl_jobs_add(db, "instance", id, "modify", push);
	r = ctl_db_commit(call, db, r);
	if (r == 0)
		ctl_jobs_kick(call->c);
out:
	ctl_db_put(call->c->store, db);
	json_object_put(push);
	return r;
}

int ctl_instance_replace_system_disk(struct ctl_call *call, struct json_object *out)
{
	static const char *const from[] = { "Stopped", NULL };
	struct json_object *args = json_object_new_object();
	const char *id, *image;
	struct create_args a = { 0 };
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_str(call, "ImageId", CTL_REQUIRED | CTL_NONEMPTY, 128, NULL, &image)) < 0)
		goto out;
	a.image_id = image;
	if ((r = check_image(call, &a)) < 0)
		goto out;
	ecs_jb_str(args, "image_id", image);
	r = transition(call, id, from, "Stopped", "stopped", "reinit", args);
	if (r == 0) {
		/* The system disk's id stays; its content comes from the new image. */
		ecs_jb_str(out, "DiskId", "");
	}
out:
	json_object_put(args);
	return r;
}
