#include "instance.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrpool.h"
#include "common.h"
#include "crypto.h"
#include "hosts.h"
#include "id.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "params.h"
#include "scheduler.h"
#include "secgroup.h"
#include "sgsync.h"
#include "slbsync.h"
#include "store.h"
#include "timeutil.h"
#include "util.h"

#define MAX_AMOUNT 100
#define MAX_DATA_DISKS 16
#define MAX_USER_DATA 32768

/* ---- small helpers ---- */

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

static void time_str(long long t, char buf[ECS_ISO8601_LEN + 1])
{
	if (t > 0)
		ecs_time_format((time_t)t, buf);
	else
		buf[0] = '\0';
}

static int db_fail(struct ctl_call *call)
{
	return ctl_fail(call, 500, "InternalError", "The request processing has failed due to some unknown error.");
}

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

static int exec_bind1(sqlite3 *db, const char *sql, const char *a)
{
	sqlite3_stmt *st = ctl_db_prepare(db, sql);
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	return r;
}

/* ---- reading instances ---- */

#define INSTANCE_COLUMNS                                                                                   \
	"i.instance_id, i.name, i.description, i.hostname, i.image_id, i.instance_type, i.vcpus, i.memory_mib,"   \
	" i.zone_id, i.host_id, i.status, i.private_ip, i.mac, i.key_pair_name, i.internet_max_bandwidth_out,"     \
	" i.tags, i.error, i.created_at, i.started_at, i.desired,"                                                \
	" (SELECT group_concat(s.position || ':' || s.group_id) FROM instance_security_groups s"                  \
	"  WHERE s.instance_id = i.instance_id),"                                                                  \
	" (SELECT p.address FROM public_ips p WHERE p.owner_id = i.instance_id AND p.state = 'active')"

struct sg_pos {
	long long pos;
	const char *id;
};

static int sg_pos_cmp(const void *a, const void *b)
{
	const struct sg_pos *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* "2:sg-b,1:sg-a" (position:group, in no particular order) into the ids, in order. */
static void security_group_ids(struct json_object *list, const char *text)
{
	struct sg_pos items[CTL_SG_MAX_PER_INSTANCE];
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;
	size_t n = 0;

	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && n < ARRAY_SIZE(items); t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');

		if (colon)
			items[n++] = (struct sg_pos){ strtoll(t, NULL, 10), colon + 1 };
	}
	qsort(items, n, sizeof(items[0]), sg_pos_cmp);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, json_object_new_string(items[i].id));
}

static struct json_object *instance_json(struct ctl *c, sqlite3_stmt *st)
{
	struct json_object *o = json_object_new_object(), *v, *tags_in = NULL, *tags, *locks;
	const struct ctl_instance_type *t = ctl_config_type(&c->cfg, col(st, 5));
	char created[ECS_ISO8601_LEN + 1], started[ECS_ISO8601_LEN + 1];
	const char *perr;

	time_str(sqlite3_column_int64(st, 17), created);
	time_str(sqlite3_column_int64(st, 18), started);
	ecs_jb_str(o, "InstanceId", col(st, 0));
	ecs_jb_str(o, "InstanceName", col(st, 1));
	ecs_jb_str(o, "Description", col(st, 2));
	ecs_jb_str(o, "HostName", col(st, 3));
	ecs_jb_str(o, "ImageId", col(st, 4));
	ecs_jb_str(o, "OSName", "Debian tiny (busybox)");
	ecs_jb_str(o, "OSType", "linux");
	ecs_jb_str(o, "RegionId", c->cfg.region_id);
	ecs_jb_str(o, "ZoneId", col(st, 8));
	ecs_jb_str(o, "InstanceType", col(st, 5));
	ecs_jb_str(o, "InstanceTypeFamily", t ? t->family : "");
	ecs_jb_int(o, "Cpu", sqlite3_column_int(st, 6));
	ecs_jb_int(o, "Memory", sqlite3_column_int(st, 7));
	ecs_jb_str(o, "Status", col(st, 10));
	ecs_jb_str(o, "CreationTime", created);
	ecs_jb_str(o, "StartTime", started);
	ecs_jb_str(o, "ExpiredTime", "2099-12-31T15:59Z");
	ecs_jb_str(o, "InstanceNetworkType", "vpc");
	ecs_jb_str(o, "InstanceChargeType", "PostPaid");
	ecs_jb_str(o, "InternetChargeType", "PayByTraffic");
	ecs_jb_int(o, "InternetMaxBandwidthOut", sqlite3_column_int(st, 14));
	ecs_jb_bool(o, "IoOptimized", true);
	ecs_jb_str(o, "KeyPairName", col(st, 13));
	ecs_jb_str(o, "StoppedMode", "Not-applicable");
	security_group_ids(ecs_jb_list(o, "SecurityGroupIds", "SecurityGroupId"), col(st, 20));
	v = ecs_jb_list(o, "PublicIpAddress", "IpAddress");
	if (*col(st, 21))
		json_object_array_add(v, json_object_new_string(col(st, 21)));
	v = ecs_jb_list(o, "InnerIpAddress", "IpAddress");
	if (*col(st, 11))
		json_object_array_add(v, json_object_new_string(col(st, 11)));
	v = ecs_jb_obj(o, "VpcAttributes");
	ecs_jb_str(v, "VpcId", "");
	ecs_jb_str(v, "VSwitchId", "");
	ecs_jb_str(v, "NatIpAddress", "");
	v = ecs_jb_list(v, "PrivateIpAddress", "IpAddress");
	if (*col(st, 11))
		json_object_array_add(v, json_object_new_string(col(st, 11)));
	v = ecs_jb_obj(o, "EipAddress");
	ecs_jb_str(v, "AllocationId", "");
	ecs_jb_str(v, "IpAddress", "");
	ecs_jb_int(v, "Bandwidth", 0);
	locks = ecs_jb_list(o, "OperationLocks", "LockReason");
	if (*col(st, 16)) {
		/* A job that could not finish: its reason, in ECS's lock shape. */
		struct json_object *l = json_object_new_object();

		ecs_jb_str(l, "LockReason", "failed");
		ecs_jb_str(l, "LockMsg", col(st, 16));
		json_object_array_add(locks, l);
	}
	tags = ecs_jb_list(o, "Tags", "Tag");
	if (ecs_json_parse(col(st, 15), strlen(col(st, 15)), &tags_in, &perr) == 0 &&
	    json_object_is_type(tags_in, json_type_array))
		for (size_t i = 0; i < json_object_array_length(tags_in); i++)
			json_object_array_add(tags, json_object_get(json_object_array_get_idx(tags_in, i)));
	json_object_put(tags_in);
	/* Not in ECS: the host it runs on (ecsctl show). */
	ecs_jb_str(o, "HostId", col(st, 9));
	return o;
}

int ctl_instance_lookup(struct ctl_call *call, const char *instance_id, char status[32], char host_id[64])
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT status, host_id FROM instances WHERE instance_id = ?1 AND"
						   " account_id = ?2 AND deleted = 0 AND desired != 'deleted'")
			      : NULL;
	int r;

	if (!st) {
		ctl_db_put(call->c->store, db);
		return db_fail(call);
	}
	sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(status, 32, "%s", col(st, 0));
		if (host_id)
			snprintf(host_id, 64, "%s", col(st, 1));
		r = 0;
	} else {
		/* Another account's instance answers exactly as a missing one. */
		r = ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

/* ---- creating ---- */

struct new_disk {
	long long size;
	const char *snapshot_id, *name;
	bool delete_with_instance;
};

struct create_args {
	const char *image_id, *type_id, *zone_id, *name, *description, *hostname, *key_pair_name, *user_data;
	const char *system_disk_name;
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
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT account_id, size_gib FROM images WHERE image_id = ?1 AND"
						   " deleted = 0 AND status = 'Available' AND (account_id IS NULL OR"
						   " account_id = ?2)")
			      : NULL;
	int r;

	if (!st) {
		ctl_db_put(call->c->store, db);
		return db_fail(call);
	}
	sqlite3_bind_text(st, 1, a->image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		a->system_image = sqlite3_column_type(st, 0) == SQLITE_NULL;
		a->image_min_gib = sqlite3_column_int(st, 1);
		r = 0;
	} else {
		r = ctl_fail(call, 404, "InvalidImageId.NotFound", "The specified ImageId does not exist.");
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

static int check_key_pair(struct ctl_call *call, const char *name)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT 1 FROM key_pairs WHERE account_id = ?1 AND name = ?2") : NULL;
	int r;

	if (!st) {
		ctl_db_put(call->c->store, db);
		return db_fail(call);
	}
	sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_ROW
		    ? 0
		    : ctl_fail(call, 404, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist.");
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
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

		if (!ecs_json_str(d, "Size", NULL) || ecs_parse_int64(ecs_json_str(d, "Size", ""), 1, 32768, &size) < 0)
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
			return db_fail(call);
	}
	return 0;
}

static int count_owned(sqlite3 *db, const char *sql, const char *account_id, long long *ret)
{
	sqlite3_stmt *st = ctl_db_prepare(db, sql);
	int r = -EIO;

	if (!st)
		return r;
	sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

/* Quotas, inside the booking transaction. */
static int check_quota(struct ctl_call *call, sqlite3 *db, const struct create_args *a)
{
	const struct ctl_account *acc = call->account;
	long long n = 0, vcpus = 0, disks = 0;

	if (count_owned(db, "SELECT count(*) FROM instances WHERE account_id = ?1 AND deleted = 0", acc->account_id, &n) < 0 ||
	    count_owned(db, "SELECT COALESCE(sum(vcpus), 0) FROM instances WHERE account_id = ?1 AND deleted = 0",
			acc->account_id, &vcpus) < 0 ||
	    count_owned(db, "SELECT count(*) FROM disks WHERE account_id = ?1 AND deleted = 0", acc->account_id, &disks) < 0)
		return db_fail(call);
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
	sqlite3_stmt *st = ctl_db_prepare(
		db, "INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category, size_gib, image_id,"
		    " source_snapshot_id, status, instance_id, device, host_id, delete_with_instance, created_at, attached_at)"
		    " VALUES (?1, ?2, ?3, ?4, '', ?5, 'cloud_efficiency', ?6, ?7, ?8, 'Creating', ?9, ?10, ?11, ?12, ?13, ?13)");
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, disk_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, zone, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, size);
	sqlite3_bind_text(st, 7, image, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, snapshot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, host, -1, SQLITE_STATIC);
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
	if (r < 0)
		return db_fail(call);
	{
		/* The zone is the host's. */
		sqlite3_stmt *z = ctl_db_prepare(db, "SELECT zone_id FROM hosts WHERE host_id = ?1");

		zone[0] = '\0';
		if (z) {
			sqlite3_bind_text(z, 1, host, -1, SQLITE_STATIC);
			if (sqlite3_step(z) == SQLITE_ROW)
				snprintf(zone, sizeof(zone), "%s", col(z, 0));
		}
		sqlite3_finalize(z);
	}
	if (ecs_id_new(ECS_ID_INSTANCE, ret_id) < 0 || ecs_id_new(ECS_ID_DISK, sys_id) < 0 ||
	    ecs_random_bytes(rnd, sizeof(rnd)) < 0)
		return db_fail(call);
	snprintf(mac, sizeof(mac), "52:54:00:%02x:%02x:%02x", rnd[0], rnd[1], rnd[2]);
	r = ctl_ip_lease(call->c, db, ret_id, ip);
	if (r == -ENOSPC)
		return ctl_fail(call, 403, "InvalidVSwitchId.IpNotEnough", "The private address pool has no free address.");
	if (r < 0)
		return db_fail(call);
	st = ctl_db_prepare(
		db, "INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type,"
		    " vcpus, memory_mib, zone_id, host_id, status, desired, private_ip, mac, key_pair_name, password_hash,"
		    " user_data, internet_max_bandwidth_out, tags, created_at, transition_at)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'Pending', ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
		    " ?20, ?20)");
	if (!st)
		return db_fail(call);
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
	return r < 0 ? db_fail(call) : 0;
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
		r = db_fail(call);
		goto out;
	}
	/* The groups first (made "default" is rolled back with the rest on a refusal). */
	r = ctl_sg_instance_groups_resolve(call, db, a.groups);
	if (r == 0)
		r = check_quota(call, db, &a);
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
		r = db_fail(call);
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
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st;
	char status[32] = "";
	bool allowed = false;
	int r;

	if (!db)
		return db_fail(call);
	if (ctl_db_tx_begin(db) < 0) {
		ctl_db_put(call->c->store, db);
		return db_fail(call);
	}
	st = ctl_db_prepare(db, "SELECT status FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND deleted = 0"
				" AND desired != 'deleted'");
	if (!st) {
		r = db_fail(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(status, sizeof(status), "%s", col(st, 0));
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
	st = ctl_db_prepare(db, "UPDATE instances SET status = ?2, desired = ?3, transition_at = ?4, error = ''"
				" WHERE instance_id = ?1");
	if (!st) {
		r = db_fail(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, desired, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, time(NULL));
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	if (r == 0)
		r = ctl_jobs_add(db, "instance", id, op, args);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0)
		r = db_fail(call);
out:
	if (r < 0)
		ctl_db_tx_rollback(db);
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

/* ---- describing ---- */

int ctl_instance_describe(struct ctl_call *call, struct json_object *out)
{
	static const char *const statuses[] = { "Pending", "Starting", "Running", "Stopping", "Stopped", NULL };
	struct json_object *ids = NULL, *list;
	const char *status = NULL, *zone = NULL, *name = NULL, *group = NULL, *binds[5];
	long long page, size, total = 0;
	char from[512], where[512] = "", sql[1600];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r, n_binds = 0;
	bool filtered;

	if ((r = ctl_param_json_list(call, "InstanceIds", 0, 100, &ids)) < 0 ||
	    (r = ctl_param_enum(call, "Status", 0, statuses, NULL, &status)) < 0 ||
	    (r = ctl_param_str(call, "ZoneId", CTL_NONEMPTY, 64, NULL, &zone)) < 0 ||
	    (r = ctl_param_str(call, "InstanceName", CTL_NONEMPTY, 128, NULL, &name)) < 0 ||
	    (r = ctl_param_str(call, "SecurityGroupId", CTL_NONEMPTY, 64, NULL, &group)) < 0 ||
	    (r = ctl_param_paging(call, &page, &size)) < 0)
		goto out;
	/* Only the filters given go into the query, so SQLite can walk instances_list in
	 * order; InstanceIds drive a join from their (≤ 100) values. ?1 is the account. */
	if (ids)
		snprintf(from, sizeof(from), "FROM (SELECT DISTINCT value AS id FROM json_each(?2)) j CROSS JOIN instances i"
					     " ON i.instance_id = j.id");
	else
		snprintf(from, sizeof(from), "FROM instances i");
	binds[n_binds++] = ids ? ecs_json_text(ids, NULL) : NULL;
#define FILTER(val, col)                                                                                      \
	if (val) {                                                                                            \
		binds[n_binds++] = val;                                                                       \
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " AND i." col " = ?%d", n_binds + 1); \
	}
	FILTER(status, "status")
	FILTER(zone, "zone_id")
	FILTER(name, "name")
#undef FILTER
	if (group) {
		binds[n_binds++] = group;
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
			 " AND EXISTS (SELECT 1 FROM instance_security_groups s WHERE s.instance_id = i.instance_id AND"
			 " s.group_id = ?%d)", n_binds + 1);
	}
	filtered = ids || status || zone || name || group;
	db = ctl_db_get(call->c->store);
	if (!db) {
		r = ctl_db_failure(call);
		goto out;
	}
	/* TotalCount: the trigger-kept count when nothing filters, else counted. */
	if (filtered)
		snprintf(sql, sizeof(sql), "SELECT count(*) %s WHERE i.account_id = ?1 AND i.deleted = 0 AND"
					   " i.desired != 'deleted'%s", from, where);
	else
		snprintf(sql, sizeof(sql), "SELECT n FROM instance_counts WHERE account_id = ?1 AND ?2 IS NULL");
	for (int pass = 0; pass < 2; pass++) {
		/* LIMIT and OFFSET are bound, so the statement is the same for every page and
		 * stays prepared. */
		if (pass == 1)
			snprintf(sql, sizeof(sql), "SELECT " INSTANCE_COLUMNS " %s WHERE i.account_id = ?1 AND i.deleted = 0"
						   " AND i.desired != 'deleted'%s ORDER BY i.created_at DESC, i.instance_id"
						   " LIMIT ?%d OFFSET ?%d", from, where, n_binds + 2, n_binds + 3);
		st = ctl_db_prepare_cached(db, sql);
		if (!st) {
			r = ctl_db_failure(call);
			goto out;
		}
		sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
		for (int i = 0; i < n_binds; i++)
			if (binds[i])
				sqlite3_bind_text(st, i + 2, binds[i], -1, SQLITE_TRANSIENT);
		if (pass == 1) {
			sqlite3_bind_int64(st, n_binds + 2, size);
			sqlite3_bind_int64(st, n_binds + 3, (page - 1) * size);
		}
		if (pass == 0) {
			if (sqlite3_step(st) == SQLITE_ROW)
				total = sqlite3_column_int64(st, 0);
		} else {
			ecs_jb_int(out, "TotalCount", total);
			ecs_jb_int(out, "PageNumber", page);
			ecs_jb_int(out, "PageSize", size);
			list = ecs_jb_list(out, "Instances", "Instance");
			while (sqlite3_step(st) == SQLITE_ROW)
				json_object_array_add(list, instance_json(call->c, st));
		}
		ctl_db_release(st);
		st = NULL;
	}
out:
	if (db)
		ctl_db_put(call->c->store, db);
	json_object_put(ids);
	return r;
}

/* One instance of the caller's, as DescribeInstances shows it. */
static int one_instance(struct ctl_call *call, const char *id, struct json_object **ret)
{
	sqlite3 *db = ctl_db_get(call->c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE instance_id = ?1 AND"
						   " account_id = ?2 AND deleted = 0 AND desired != 'deleted'")
			      : NULL;
	int r;

	if (!st) {
		ctl_db_put(call->c->store, db);
		return db_fail(call);
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = instance_json(call->c, st);
		r = 0;
	} else {
		r = ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_instance_describe_attribute(struct ctl_call *call, struct json_object *out)
{
	struct json_object *inst = NULL;
	const char *id;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 || (r = one_instance(call, id, &inst)) < 0)
		return r;
	json_object_object_foreach(inst, k, v)
	{
		json_object_object_add(out, k, json_object_get(v));
	}
	json_object_put(inst);
	return 0;
}

int ctl_instance_describe_status(struct ctl_call *call, struct json_object *out)
{
	struct json_object *ids = NULL, *list;
	long long page, size, total = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = ctl_param_repeat(call, "InstanceId", NULL, 100, &ids)) < 0 || (r = ctl_param_paging(call, &page, &size)) < 0)
		goto out;
	db = ctl_db_get(call->c->store);
	st = db ? ctl_db_prepare(db, "SELECT instance_id, status, count(*) OVER () FROM instances WHERE account_id = ?1"
				     " AND deleted = 0 AND desired != 'deleted' AND (?2 = 0 OR instance_id IN (SELECT value"
				     " FROM json_each(?3))) ORDER BY created_at DESC, instance_id LIMIT ?4 OFFSET ?5")
		: NULL;
	if (!st) {
		r = db_fail(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, call->account->account_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)json_object_array_length(ids));
	sqlite3_bind_text(st, 3, ecs_json_text(ids, NULL), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, size);
	sqlite3_bind_int64(st, 5, (page - 1) * size);
	list = json_object_new_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *o = json_object_new_object();

		ecs_jb_str(o, "InstanceId", col(st, 0));
		ecs_jb_str(o, "Status", col(st, 1));
		total = sqlite3_column_int64(st, 2);
		json_object_array_add(list, o);
	}
	ecs_jb_int(out, "TotalCount", total);
	ecs_jb_int(out, "PageNumber", page);
	ecs_jb_int(out, "PageSize", size);
	json_object_object_add(ecs_jb_obj(out, "InstanceStatuses"), "InstanceStatus", list);
out:
	sqlite3_finalize(st);
	if (db)
		ctl_db_put(call->c->store, db);
	json_object_put(ids);
	return r;
}

int ctl_instance_user_data(struct ctl_call *call, struct json_object *out)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	const char *id;
	int r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id);

	if (r < 0)
		return r;
	db = ctl_db_get(call->c->store);
	st = db ? ctl_db_prepare(db, "SELECT user_data FROM instances WHERE instance_id = ?1 AND account_id = ?2 AND"
				     " deleted = 0 AND desired != 'deleted'")
		: NULL;
	if (!st) {
		ctl_db_put(call->c->store, db);
		return db_fail(call);
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, call->account->account_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		ecs_jb_str(out, "RegionId", call->region_id);
		ecs_jb_str(out, "InstanceId", id);
		ecs_jb_str(out, "UserData", col(st, 0));
	} else {
		r = ctl_fail(call, 404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.");
	}
	sqlite3_finalize(st);
	ctl_db_put(call->c->store, db);
	return r;
}

int ctl_instance_modify(struct ctl_call *call, struct json_object *out)
{
	const char *id, *name, *desc, *host, *password, *user_data;
	_cleanup_free_ char *hash = NULL;
	struct json_object *push = json_object_new_object();
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
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
			r = db_fail(call);
			goto out;
		}
		ecs_jb_str(push, "password_hash", hash);
	}
	if (host)
		ecs_jb_str(push, "hostname", host);
	if (user_data)
		ecs_jb_str(push, "user_data", user_data);
	db = ctl_db_get(call->c->store);
	if (!db || ctl_db_tx_begin(db) < 0) {
		r = db_fail(call);
		goto out;
	}
	st = ctl_db_prepare(db, "UPDATE instances SET name = COALESCE(?2, name), description = COALESCE(?3, description),"
				" hostname = COALESCE(?4, hostname), password_hash = COALESCE(?5, password_hash),"
				" user_data = COALESCE(?6, user_data) WHERE instance_id = ?1");
	if (!st) {
		r = db_fail(call);
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (name)
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (desc)
		sqlite3_bind_text(st, 3, desc, -1, SQLITE_STATIC);
	if (host)
		sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
	if (hash)
		sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
	if (user_data)
		sqlite3_bind_text(st, 6, user_data, -1, SQLITE_STATIC);
	r = ctl_db_step_done(st);
	sqlite3_finalize(st);
	/* What the guest sees (hostname, password, user-data) reaches the agent, effective
	 * at the next start as in ECS. */
	if (r == 0 && json_object_object_length(push) > 0)
		r = ctl_jobs_add(db, "instance", id, "modify", push);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	if (r < 0)
		r = db_fail(call);
	else
		ctl_jobs_kick(call->c);
out:
	if (db) {
		ctl_db_tx_rollback(db);
		ctl_db_put(call->c->store, db);
	}
	json_object_put(push);
	return r;
}

/* A call to the agent of one of the caller's instances, for read-only actions. */
static int ask_agent(struct ctl_call *call, const char *id, const char *path, struct json_object **ret)
{
	char status[32], host[64];
	long http = 0;
	int r = ctl_instance_lookup(call, id, status, host);

	if (r < 0)
		return r;
	if (!host[0] || !ctl_host_alive(call->c, host))
		return ctl_fail(call, 503, "ServiceUnavailable", "The host of the instance does not answer now.");
	r = ctl_agent_call(call->c, host, "GET", path, NULL, &http, ret);
	if (r < 0 || http != 200) {
		json_object_put(r == 0 ? *ret : NULL);
		*ret = NULL;
		return ctl_fail(call, 503, "ServiceUnavailable", "The host of the instance does not answer now.");
	}
	return 0;
}

int ctl_instance_console(struct ctl_call *call, struct json_object *out)
{
	_cleanup_free_ char *path = NULL;
	struct json_object *ans = NULL;
	char now[ECS_ISO8601_LEN + 1];
	const char *id;
	int r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id);

	if (r < 0)
		return r;
	path = ecs_strdup_printf("/v1/instances/%s/console", id);
	if (!path)
		return db_fail(call);
	r = ask_agent(call, id, path, &ans);
	if (r < 0)
		return r;
	ecs_time_format(time(NULL), now);
	ecs_jb_str(out, "InstanceId", id);
	ecs_jb_str(out, "ConsoleOutput", ecs_json_str(ans, "console_output", ""));
	ecs_jb_str(out, "LastUpdateTime", now);
	json_object_put(ans);
	return 0;
}

int ctl_instance_monitor_data(struct ctl_call *call, struct json_object *out)
{
	const char *id, *start_s, *end_s;
	long long period;
	time_t start, end;
	_cleanup_free_ char *path = NULL;
	struct json_object *ans = NULL, *list, *points;
	int r;

	if ((r = ctl_param_id(call, "InstanceId", CTL_REQUIRED, "i-", &id)) < 0 ||
	    (r = ctl_param_str(call, "StartTime", CTL_REQUIRED | CTL_NONEMPTY, 32, NULL, &start_s)) < 0 ||
	    (r = ctl_param_str(call, "EndTime", CTL_REQUIRED | CTL_NONEMPTY, 32, NULL, &end_s)) < 0 ||
	    (r = ctl_param_int(call, "Period", 0, 60, 3600, 60, &period)) < 0)
		return r;
	if (period != 60 && period != 600 && period != 3600)
		return ctl_fail(call, 400, "InvalidParameter", "The specified parameter \"Period\" is not valid: 60, 600 or 3600");
	if (ecs_time_parse(start_s, &start) < 0)
		return ctl_fail(call, 400, "InvalidStartTime.Malformed", "The specified parameter \"StartTime\" is not valid.");
	if (ecs_time_parse(end_s, &end) < 0)
		return ctl_fail(call, 400, "InvalidEndTime.Malformed", "The specified parameter \"EndTime\" is not valid.");
	if (end <= start)
		return ctl_fail(call, 400, "InvalidParameter", "EndTime must be later than StartTime.");
	if ((end - start) / period > 400)
		return ctl_fail(call, 400, "Throttling.TooManyPoints", "At most 400 points may be asked for at a time.");
	path = ecs_strdup_printf("/v1/instances/%s/metrics?start=%lld&end=%lld&period=%lld", id, (long long)start,
				 (long long)end, period);
	/* The query is part of what the agent checks the signature over: send it as a path. */
	r = path ? ask_agent(call, id, path, &ans) : db_fail(call);
	if (r < 0)
		return r;
	list = json_object_new_array();
	points = ecs_json_get(ans, "points");
	for (size_t i = 0; points && i < json_object_array_length(points); i++)
		json_object_array_add(list, json_object_get(json_object_array_get_idx(points, i)));
	json_object_object_add(ecs_jb_obj(out, "MonitorData"), "InstanceMonitorData", list);
	json_object_put(ans);
	return 0;
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

/* ---- jobs: carrying the actions to the agents ---- */

/* The agent's create body, from the instance's rows. */
static struct json_object *agent_spec(struct ctl *c, sqlite3 *db, const char *id, bool start)
{
	sqlite3_stmt *st = ctl_db_prepare(
		db, "SELECT i.hostname, i.vcpus, i.memory_mib, i.image_id, i.private_ip, i.mac, i.key_pair_name,"
		    " i.password_hash, i.user_data, k.public_key, i.account_id, h.gateway FROM instances i LEFT JOIN"
		    " key_pairs k ON k.account_id = i.account_id AND k.name = i.key_pair_name LEFT JOIN hosts h ON"
		    " h.host_id = i.host_id WHERE i.instance_id = ?1");
	struct json_object *spec = NULL, *nics, *nic, *data, *dns;
	struct ctl_pool p;
	char gw[CTL_IP_MAX];

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || ctl_pool_parse(c->cfg.ip_pool, 8, 30, &p) < 0) {
		sqlite3_finalize(st);
		return NULL;
	}
	spec = json_object_new_object();
	ecs_jb_str(spec, "instance_id", id);
	ecs_jb_str(spec, "hostname", col(st, 0));
	ecs_jb_int(spec, "vcpus", sqlite3_column_int(st, 1));
	ecs_jb_int(spec, "memory_mib", sqlite3_column_int(st, 2));
	ecs_jb_str(spec, "image_id", col(st, 3));
	nics = json_object_new_array();
	nic = json_object_new_object();
	/* The gateway is the bridge of the instance's host (hosts joined by the overlay each
	 * have their own); network+1 for a host that reported none. */
	if (ctl_pool_is_gateway(&p, c->cfg.host_gateways, col(st, 11)))
		snprintf(gw, sizeof(gw), "%s", col(st, 11));
	else
		ctl_pool_ip_str(p.net + 1, gw);
	ecs_jb_str(nic, "mac", col(st, 5));
	ecs_jb_str(nic, "ip", col(st, 4));
	ecs_jb_int(nic, "prefix_len", p.prefix);
	ecs_jb_str(nic, "gateway", gw);
	dns = json_object_new_array();
	json_object_array_add(dns, json_object_new_string(gw));
	json_object_object_add(nic, "dns", dns);
	json_object_array_add(nics, nic);
	json_object_object_add(spec, "nics", nics);
	if (*col(st, 6))
		ecs_jb_str(spec, "key_pair_name", col(st, 6));
	if (*col(st, 9)) {
		struct json_object *keys = json_object_new_array();

		json_object_array_add(keys, json_object_new_string(col(st, 9)));
		json_object_object_add(spec, "public_keys", keys);
	}
	if (*col(st, 7))
		ecs_jb_str(spec, "password_hash", col(st, 7));
	if (*col(st, 8))
		ecs_jb_str(spec, "user_data", col(st, 8));
	ecs_jb_bool(spec, "start", start);
	sqlite3_finalize(st);

	/* Its groups: the agent pulls their rules before the NIC exists if it lacks them. */
	st = ctl_db_prepare(db, "SELECT group_id FROM instance_security_groups WHERE instance_id = ?1 ORDER BY position");
	if (st) {
		struct json_object *groups = json_object_new_array();

		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_object_array_add(groups, json_object_new_string(col(st, 0)));
		sqlite3_finalize(st);
		if (json_object_array_length(groups))
			json_object_object_add(spec, "security_group_ids", groups);
		else
			json_object_put(groups);
	}

	st = ctl_db_prepare(db, "SELECT disk_id, size_gib, type, source_snapshot_id FROM disks WHERE instance_id = ?1"
				" AND deleted = 0 ORDER BY device");
	if (st)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	data = json_object_new_array();
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *d = json_object_new_object();

		ecs_jb_str(d, "disk_id", col(st, 0));
		ecs_jb_int(d, "size_gib", sqlite3_column_int64(st, 1));
		if (streq(col(st, 2), "system")) {
			json_object_object_add(spec, "system_disk", d);
			continue;
		}
		if (*col(st, 3))
			ecs_jb_str(d, "snapshot_id", col(st, 3));
		json_object_array_add(data, d);
	}
	sqlite3_finalize(st);
	if (json_object_array_length(data))
		json_object_object_add(spec, "data_disks", data);
	else
		json_object_put(data);
	return spec;
}

/* Record what the agent says the instance is now. */
static void apply_agent_state(struct ctl *c, const char *id, struct json_object *desc)
{
	const char *status = ecs_json_str(desc, "status", NULL);
	sqlite3 *db;
	sqlite3_stmt *st;

	if (!status)
		return;
	db = ctl_db_get(c->store);
	st = db ? ctl_db_prepare(db, "UPDATE instances SET status = ?2, error = '', transition_at = ?3,"
				     " started_at = CASE WHEN ?2 = 'Running' AND status != 'Running' THEN ?3 ELSE started_at END,"
				     " desired = CASE WHEN ?2 = 'Stopped' AND desired = 'running' AND status = 'Running'"
				     " THEN 'stopped' ELSE desired END WHERE instance_id = ?1 AND deleted = 0 AND"
				     " (status != ?2 OR error != '')")
		: NULL;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, time(NULL));
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	/* Disks the agent has made are usable. */
	st = db ? ctl_db_prepare(db, "UPDATE disks SET status = 'In_use' WHERE instance_id = ?1 AND status = 'Creating'")
		: NULL;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

static void set_error(struct ctl *c, const char *id, const char *why)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "UPDATE instances SET error = ?2 WHERE instance_id = ?1") : NULL;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
		ctl_db_step_done(st);
	}
	sqlite3_finalize(st);
	ctl_db_put(c->store, db);
}

/* Move a failed create to another host, up to [scheduler] attempts. */
static bool reschedule(struct ctl *c, struct ctl_job *job, const char *failed_host)
{
	struct json_object *tried = ecs_json_get(job->args, "tried");
	const char *exclude[16];
	size_t n = 0;
	char host[64];
	sqlite3 *db;
	sqlite3_stmt *st;
	struct ctl_sched_request rq = { 0 };
	struct json_object *nudge = NULL;
	bool moved = false;

	if (!tried) {
		tried = json_object_new_array();
		json_object_object_add(job->args, "tried", tried);
	}
	json_object_array_add(tried, json_object_new_string(failed_host));
	if ((int)json_object_array_length(tried) >= c->cfg.schedule_attempts)
		return false;
	for (size_t i = 0; i < json_object_array_length(tried) && n < ARRAY_SIZE(exclude); i++)
		exclude[n++] = json_object_get_string(json_object_array_get_idx(tried, i));
	nudge = json_object_new_object();
	db = ctl_db_get(c->store);
	pthread_mutex_lock(&c->sched_lock);
	if (!db || ctl_db_tx_begin(db) < 0)
		goto out;
	st = ctl_db_prepare(db, "SELECT vcpus, memory_mib, image_id, zone_id, (SELECT sum(size_gib) FROM disks WHERE"
				" instance_id = ?1), (SELECT account_id IS NULL FROM images WHERE image_id ="
				" instances.image_id) FROM instances WHERE instance_id = ?1");
	if (st) {
		sqlite3_bind_text(st, 1, job->resource_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			_cleanup_free_ char *image = strdup(col(st, 2)), *zone = strdup(col(st, 3));

			rq = (struct ctl_sched_request){ .zone_id = zone, .vcpus = sqlite3_column_int(st, 0),
							 .memory_mib = sqlite3_column_int(st, 1), .disk_gib = sqlite3_column_int(st, 4),
							 .image_id = image, .system_image = sqlite3_column_int(st, 5),
							 .exclude = exclude, .n_exclude = n };
			sqlite3_finalize(st);
			st = NULL;
			/* The instance's own booking does not count against the new host. */
			if (ctl_schedule(c, db, &rq, host) == 0 &&
			    exec_bind1(db, "UPDATE instances SET host_id = NULL WHERE instance_id = ?1", job->resource_id) == 0) {
				sqlite3_stmt *u = ctl_db_prepare(db, "UPDATE instances SET host_id = ?2 WHERE instance_id = ?1");
				sqlite3_stmt *d = ctl_db_prepare(db, "UPDATE disks SET host_id = ?2 WHERE instance_id = ?1");

				if (u && d) {
					sqlite3_bind_text(u, 1, job->resource_id, -1, SQLITE_STATIC);
					sqlite3_bind_text(u, 2, host, -1, SQLITE_STATIC);
					sqlite3_bind_text(d, 1, job->resource_id, -1, SQLITE_STATIC);
					sqlite3_bind_text(d, 2, host, -1, SQLITE_STATIC);
					moved = ctl_db_step_done(u) == 0 && ctl_db_step_done(d) == 0 &&
						ctl_sg_instance_moved(db, job->resource_id, failed_host, nudge) == 0;
				}
				sqlite3_finalize(u);
				sqlite3_finalize(d);
			}
		}
		sqlite3_finalize(st);
	}
	if (moved && ctl_db_tx_commit(db) == 0) {
		log_warn("instance moved to another host", "instance=%s from=%s to=%s", job->resource_id, failed_host, host);
		ctl_sgsync_nudge(c, nudge);
	} else {
		moved = false;
	}
out:
	if (db) {
		ctl_db_tx_rollback(db);
		ctl_db_put(c->store, db);
	}
	pthread_mutex_unlock(&c->sched_lock);
	json_object_put(nudge);
	return moved;
}

/* The instance is gone from its host: free what it held. */
static int forget_instance(struct ctl *c, const char *id)
{
	sqlite3 *db = ctl_db_get(c->store);
	struct json_object *nudge;
	int r;

	if (!db || ctl_db_tx_begin(db) < 0) {
		ctl_db_put(c->store, db);
		return -EIO;
	}
	/* Its groups lose a member: while it still counts, to find whose view changes. */
	nudge = json_object_new_object();
	r = ctl_sg_instance_forget(db, id, nudge);
	if (r == 0)
		r = exec_bind1(db, "UPDATE instances SET deleted = 1, status = 'Stopped' WHERE instance_id = ?1", id);
	/* It leaves its load balancers; its public IP is released. */
	if (r == 0)
		r = ctl_slbsync_instance_forget(db, id);
	if (r == 0)
		r = exec_bind1(db, "DELETE FROM ip_leases WHERE instance_id = ?1", id);
	if (r == 0)
		r = exec_bind1(db, "UPDATE disks SET deleted = 1, status = 'Deleted' WHERE instance_id = ?1 AND"
				   " (delete_with_instance = 1 OR type = 'system')",
			       id);
	/* Kept disks stay where their file is, detached. */
	if (r == 0)
		r = exec_bind1(db, "UPDATE disks SET instance_id = NULL, device = '', status = 'Available' WHERE"
				   " instance_id = ?1 AND deleted = 0",
			       id);
	if (r == 0)
		r = ctl_db_tx_commit(db);
	ctl_db_tx_rollback(db);
	ctl_db_put(c->store, db);
	if (r == 0) {
		log_info("instance deleted", "instance=%s", id);
		ctl_jobs_kick(c);
		ctl_sgsync_nudge(c, nudge);
	}
	json_object_put(nudge);
	return r;
}

static enum ctl_job_result instance_job(struct ctl *c, struct ctl_job *job, char *why, size_t why_size)
{
	const char *id = job->resource_id;
	_cleanup_free_ char *path = NULL;
	struct json_object *body = NULL, *ans = NULL;
	const char *method = "POST";
	char host[64] = "";
	long status = 0;
	bool stale;
	long long transition_at = 0;
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st = db ? ctl_db_prepare(db, "SELECT host_id, transition_at, deleted FROM instances WHERE"
						   " instance_id = ?1")
			      : NULL;
	enum ctl_job_result res = CTL_JOB_RETRY;
	int r;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(host, sizeof(host), "%s", col(st, 0));
			transition_at = sqlite3_column_int64(st, 1);
			if (sqlite3_column_int(st, 2))
				host[0] = '\0';
		}
	}
	sqlite3_finalize(st);
	if (!host[0]) {
		ctl_db_put(c->store, db);
		snprintf(why, why_size, "instance %s is gone", id);
		return CTL_JOB_DONE;
	}
	if (streq(job->op, "create")) {
		method = "PUT";
		path = ecs_strdup_printf("/v1/instances/%s", id);
		body = agent_spec(c, db, id, ecs_json_bool(job->args, "start"));
	} else if (streq(job->op, "start")) {
		path = ecs_strdup_printf("/v1/instances/%s/start", id);
	} else if (streq(job->op, "stop") || streq(job->op, "reboot")) {
		path = ecs_strdup_printf("/v1/instances/%s/%s", id, job->op);
		body = json_object_new_object();
		ecs_jb_bool(body, "force", ecs_json_bool(job->args, "force"));
	} else if (streq(job->op, "delete")) {
		method = "DELETE";
		path = ecs_strdup_printf("/v1/instances/%s", id);
	} else if (streq(job->op, "modify")) {
		method = "PATCH";
		path = ecs_strdup_printf("/v1/instances/%s", id);
		body = json_object_get(job->args);
	} else if (streq(job->op, "reinit")) {
		path = ecs_strdup_printf("/v1/instances/%s/reinit", id);
		body = json_object_new_object();
		ecs_jb_str(body, "image_id", ecs_json_str(job->args, "image_id", ""));
	}
	ctl_db_put(c->store, db);
	if (!path || (streq(job->op, "create") && !body)) {
		snprintf(why, why_size, "cannot build the request for %s", job->op);
		res = CTL_JOB_FAILED;
		goto out;
	}
	r = ctl_host_alive(c, host) ? ctl_agent_call(c, host, method, path, body, &status, &ans) : -EHOSTDOWN;
	if (r == 0 && status == 200) {
		if (streq(job->op, "delete")) {
			res = forget_instance(c, id) == 0 ? CTL_JOB_DONE : CTL_JOB_RETRY;
		} else {
			/* The status is the agent's answer, not an assumption. */
			if (!streq(job->op, "modify") && !streq(job->op, "reinit"))
				apply_agent_state(c, id, ans);
			res = CTL_JOB_DONE;
		}
		goto out;
	}
	if (r == 0 && status == 409 && streq(job->op, "create")) {
		/* Known to the agent with another spec (changed since): it exists; refresh. */
		res = CTL_JOB_DONE;
		goto out;
	}
	if (r == 0 && status == 404 && streq(job->op, "delete")) {
		res = forget_instance(c, id) == 0 ? CTL_JOB_DONE : CTL_JOB_RETRY;
		goto out;
	}
	snprintf(why, why_size, "%s on %s: %s", job->op, host,
		 r < 0 ? strerror(-r) : ecs_json_str(ans, "message", "the agent refused"));
	/* An agent that failed to create: another host, up to the attempts allowed. */
	if (streq(job->op, "create") && (r < 0 || status >= 500) && reschedule(c, job, host)) {
		res = CTL_JOB_RETRY;
		goto out;
	}
	stale = time(NULL) - transition_at > c->cfg.transition_timeout_s;
	if ((r == 0 && status >= 400 && status < 500 && status != 409) || stale) {
		/* Given up: visible on the instance (OperationLocks) with the reason. */
		set_error(c, id, why);
		res = CTL_JOB_FAILED;
	}
out:
	json_object_put(body);
	json_object_put(ans);
	return res;
}

void ctl_instance_register_jobs(void)
{
	ctl_jobs_register("instance", instance_job);
}

/* ---- heartbeats ---- */

void ctl_instance_sync_host(struct ctl *c, const char *host_id, struct json_object *instances)
{
	sqlite3 *db = ctl_db_get(c->store);
	sqlite3_stmt *st;
	struct json_object *seen = json_object_new_object();

	if (!db) {
		json_object_put(seen);
		return;
	}
	/* The agent's word for instances with no job under way. */
	for (size_t i = 0; instances && i < json_object_array_length(instances); i++) {
		struct json_object *inst = json_object_array_get_idx(instances, i);
		const char *id = ecs_json_str(inst, "instance_id", NULL);

		if (!id)
			continue;
		json_object_object_add(seen, id, NULL);
		st = ctl_db_prepare(db, "SELECT 1 FROM instances WHERE instance_id = ?1 AND host_id = ?2 AND deleted = 0"
					" AND desired != 'deleted' AND NOT EXISTS (SELECT 1 FROM jobs WHERE resource_id = ?1)");
		if (!st)
			break;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, host_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			sqlite3_finalize(st);
			apply_agent_state(c, id, inst);
			continue;
		}
		sqlite3_finalize(st);
	}
	/* Instances this host should run but did not report (an agent that lost its state,
	 * or a create the controller's crash interrupted): send them again. Idempotent. */
	/* Not those a job gave up on (error set): they wait for the user, not a loop. */
	st = ctl_db_prepare(db, "SELECT instance_id, desired FROM instances i WHERE host_id = ?1 AND deleted = 0 AND"
				" desired != 'deleted' AND error = '' AND NOT EXISTS (SELECT 1 FROM jobs WHERE"
				" resource_id = i.instance_id)");
	if (st) {
		bool kick = false;

		sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct json_object *args;

			if (json_object_object_get_ex(seen, col(st, 0), NULL))
				continue;
			args = json_object_new_object();
			ecs_jb_bool(args, "start", streq(col(st, 1), "running"));
			if (ctl_jobs_add(db, "instance", col(st, 0), "create", args) == 0) {
				log_warn("instance missing on its host: sending it again", "instance=%s host=%s", col(st, 0),
					 host_id);
				kick = true;
			}
			json_object_put(args);
		}
		sqlite3_finalize(st);
		if (kick)
			ctl_jobs_kick(c);
	}
	ctl_db_put(c->store, db);
	json_object_put(seen);
}
