/* Tests for controller/policy.c: the auto snapshot policy actions, and the runner's tick
 * driven by a test clock on a controller state in a temporary SQLite file. The runner
 * takes and removes snapshots through the real snapshot.c (rows and jobs in the same
 * database, no agent: nothing runs the jobs); test doubles, put in place with
 * ctl_policy_set_snapshot_fns, only inject failures and count calls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "account.h"
#include "config.h"
#include "ctl.h"
#include "ctl_env.h"
#include "json.h"
#include "log.h"
#include "policy.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

/* Monday 2024-01-01 10:30 in UTC+8 (02:30 UTC). */
#define MON_1030 1704076200LL
/* Sunday 2023-12-31 16:30 UTC: already Monday 00:30 in UTC+8. */
#define SUN_1630_UTC 1704040200LL
#define HOUR 3600LL
#define DAY 86400LL

static int setup(void **state)
{
	struct ctl_test_tenants *e = ctl_test_tenants_open("test_ctl_policy");

	assert_int_equal(e->t.c.cfg.policy_utc_offset_h, 8);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct ctl_test_tenants *e = *state;

	ctl_policy_set_snapshot_fns(NULL, NULL);
	ctl_test_env_close(&e->t);
	free(e);
	return 0;
}

/* ---- calling actions ---- */

/* Create a policy; its id (caller frees). */
static char *create_policy(struct ctl_test_tenants *e, const struct ctl_account *a, const char *hours, const char *days,
			   const char *retention)
{
	struct ctl_test_answer r = ctl_test_act(&e->t, ctl_policy_create, a, "timePoints", hours, "repeatWeekdays", days, "retentionDays",
			      retention, NULL);
	char *id;

	assert_int_equal(r.rc, 0);
	id = strdup(ecs_json_str(r.out, "AutoSnapshotPolicyId", ""));
	assert_true(str_has_prefix(id, "sp-"));
	json_object_put(r.out);
	return id;
}

static void apply(struct ctl_test_tenants *e, const struct ctl_account *a, const char *policy, const char *disks)
{
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_apply, a, "autoSnapshotPolicyId", policy, "diskIds", disks, NULL));
}

/* The one policy of a DescribeAutoSnapshotPolicyEx by id (put the answer's out). */
static struct json_object *describe_one(struct ctl_test_tenants *e, const struct ctl_account *a, const char *id, struct ctl_test_answer *ret)
{
	*ret = ctl_test_act(&e->t, ctl_policy_describe, a, "AutoSnapshotPolicyId", id, NULL);
	assert_int_equal(ret->rc, 0);
	assert_int_equal(ecs_json_int(ret->out, "TotalCount", -1), 1);
	return json_object_array_get_idx(ecs_json_get(ecs_json_get(ret->out, "AutoSnapshotPolicies"), "AutoSnapshotPolicy"), 0);
}

/* ---- the database ---- */

static long long count_where(struct ctl_test_tenants *e, const char *table, const char *where)
{
	_cleanup_free_ char *v = ctl_test_sql_text(&e->t, "SELECT count(*) FROM %s WHERE %s", table, where);

	assert_non_null(v);
	return atoll(v);
}

static void add_disk(struct ctl_test_tenants *e, const char *id, const struct ctl_account *a)
{
	ctl_test_sql(&e->t,
	    "INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category, size_gib, image_id,"
	    " source_snapshot_id, status, instance_id, device, host_id, delete_with_instance, created_at) VALUES"
	    " ('%s', '%s', 'cn-local-a', '', '', 'data', 'cloud_efficiency', 10, '', '', 'In_use', 'i-x', 'vdb', 'host-1',"
	    " 0, 1)",
	    id, a->account_id);
}

static void add_snapshot(struct ctl_test_tenants *e, const char *id, const struct ctl_account *a, const char *disk, const char *policy,
			 const char *status, long long created)
{
	ctl_test_sql(&e->t,
	    "INSERT INTO snapshots (snapshot_id, account_id, name, description, disk_id, disk_type, disk_size, status,"
	    " host_id, policy_id, created_at) VALUES ('%s', '%s', '%s', '', '%s', 'data', 10, '%s', 'host-1', %s%s%s, %lld)",
	    id, a->account_id, id, disk, status, policy ? "'" : "", policy ? policy : "NULL", policy ? "'" : "", created);
}

static long long snapshots_of(struct ctl_test_tenants *e, const char *disk)
{
	_cleanup_free_ char *where = ecs_strdup_printf("disk_id = '%s' AND deleted = 0", disk);

	return count_where(e, "snapshots", where);
}

static void finish_snapshots(struct ctl_test_tenants *e)
{
	ctl_test_sql(&e->t, "UPDATE snapshots SET status = 'accomplished' WHERE status = 'progressing'");
}

static char *run_state(struct ctl_test_tenants *e, const char *disk, const char *slot)
{
	return ctl_test_sql_text(&e->t, "SELECT state FROM policy_runs WHERE disk_id = '%s' AND slot = '%s'", disk, slot);
}

/* ---- test doubles ---- */

static int fake_result;
static int fake_takes, fake_removes;

static int fake_take(struct ctl *c, const char *account_id, const char *disk_id, const char *name, const char *policy_id,
		     char ret_snapshot_id[32])
{
	(void)c;
	(void)account_id;
	(void)disk_id;
	(void)name;
	(void)policy_id;
	fake_takes++;
	if (fake_result == 0)
		snprintf(ret_snapshot_id, 32, "s-fake%d", fake_takes);
	return fake_result;
}

static int fake_remove(struct ctl *c, const char *account_id, const char *snapshot_id)
{
	(void)c;
	(void)account_id;
	(void)snapshot_id;
	fake_removes++;
	return fake_result;
}

/* ---- the actions ---- */

static void test_create_describe(void **state)
{
	struct ctl_test_tenants *e = *state;
	struct json_object *p, *v;
	struct ctl_test_answer a;
	_cleanup_free_ char *id = NULL, *id2 = NULL;

	a = ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"12\",\"0\",\"00\"]", "repeatWeekdays", "[\"7\", \"1\"]",
		"retentionDays", "30", "autoSnapshotPolicyName", "nightly", NULL);
	assert_int_equal(a.rc, 0);
	id = strdup(ecs_json_str(a.out, "AutoSnapshotPolicyId", ""));
	json_object_put(a.out);
	assert_true(str_has_prefix(id, "sp-"));

	p = describe_one(e, &e->alice, id, &a);
	assert_string_equal(ecs_json_str(p, "AutoSnapshotPolicyId", ""), id);
	assert_string_equal(ecs_json_str(p, "AutoSnapshotPolicyName", ""), "nightly");
	/* A JSON array in a string, as ECS answers (sorted, each once). */
	v = ecs_json_get(p, "TimePoints");
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "[\"0\",\"12\"]");
	assert_string_equal(ecs_json_str(p, "RepeatWeekdays", ""), "[\"1\",\"7\"]");
	assert_true(json_object_is_type(ecs_json_get(p, "RetentionDays"), json_type_int));
	assert_int_equal(ecs_json_int(p, "RetentionDays", 0), 30);
	assert_true(json_object_is_type(ecs_json_get(p, "DiskNums"), json_type_int));
	assert_int_equal(ecs_json_int(p, "DiskNums", -1), 0);
	assert_true(json_object_is_type(ecs_json_get(p, "VolumeNums"), json_type_int));
	assert_string_equal(ecs_json_str(p, "Status", ""), "Normal");
	assert_string_equal(ecs_json_str(p, "RegionId", ""), e->t.c.cfg.region_id);
	assert_int_equal(strlen(ecs_json_str(p, "CreationTime", "")), 20);
	assert_non_null(ecs_json_get(ecs_json_get(p, "Tags"), "Tag"));
	json_object_put(a.out);

	/* The capitalised names too; retention defaults to forever. */
	a = ctl_test_act(&e->t, ctl_policy_create, &e->alice, "TimePoints", "[\"5\"]", "RepeatWeekdays", "[\"3\"]",
		"AutoSnapshotPolicyName", "Daily-5", NULL);
	assert_int_equal(a.rc, 0);
	id2 = strdup(ecs_json_str(a.out, "AutoSnapshotPolicyId", ""));
	json_object_put(a.out);
	p = describe_one(e, &e->alice, id2, &a);
	assert_string_equal(ecs_json_str(p, "TimePoints", ""), "[\"5\"]");
	assert_string_equal(ecs_json_str(p, "AutoSnapshotPolicyName", ""), "Daily-5");
	assert_int_equal(ecs_json_int(p, "RetentionDays", 0), -1);
	json_object_put(a.out);

	a = ctl_test_act(&e->t, ctl_policy_describe, &e->alice, NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 2);
	assert_int_equal(ecs_json_int(a.out, "PageNumber", -1), 1);
	assert_int_equal(ecs_json_int(a.out, "PageSize", -1), 10);
	json_object_put(a.out);
	a = ctl_test_act(&e->t, ctl_policy_describe, &e->alice, "PageSize", "1", "PageNumber", "2", NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 2);
	assert_int_equal(
		json_object_array_length(ecs_json_get(ecs_json_get(a.out, "AutoSnapshotPolicies"), "AutoSnapshotPolicy")), 1);
	json_object_put(a.out);
	/* An unknown id: an empty list, as Describe* answer. */
	a = ctl_test_act(&e->t, ctl_policy_describe, &e->alice, "AutoSnapshotPolicyId", "sp-unknown", NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 0);
	assert_non_null(ecs_json_get(ecs_json_get(a.out, "AutoSnapshotPolicies"), "AutoSnapshotPolicy"));
	json_object_put(a.out);
}

static void test_validation(void **state)
{
	static const char *const bad_hours[] = { "[\"24\"]", "[\"-1\"]", "[]", "[\"x\"]", "[\"1.5\"]", NULL };
	static const char *const bad_days[] = { "[\"0\"]", "[\"8\"]", "[]", "[\"Monday\"]", NULL };
	static const char *const bad_retention[] = { "0", "-2", "65537", NULL };
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *ok65536 = NULL;

	for (size_t i = 0; bad_hours[i]; i++)
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", bad_hours[i], "repeatWeekdays", "[\"1\"]", NULL),
			     403, "ParameterInvalid");
	for (size_t i = 0; bad_days[i]; i++)
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"1\"]", "repeatWeekdays", bad_days[i], NULL),
			     403, "ParameterInvalid");
	for (size_t i = 0; bad_retention[i]; i++)
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"1\"]", "repeatWeekdays", "[\"1\"]",
				 "retentionDays", bad_retention[i], NULL),
			     403, "ParameterInvalid");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "1", "repeatWeekdays", "[\"1\"]", NULL), 400,
		     "InvalidParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[1]", "repeatWeekdays", "[\"1\"]", NULL), 400,
		     "InvalidParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"1\"]", "repeatWeekdays", "[\"1\"]",
			 "retentionDays", "ten", NULL),
		     400, "InvalidParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "repeatWeekdays", "[\"1\"]", NULL), 400, "MissingParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"1\"]", NULL), 400, "MissingParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"1\"]", "repeatWeekdays", "[\"1\"]",
			 "autoSnapshotPolicyName", "1st", NULL),
		     403, "ParameterInvalid");
	/* Nothing was made. */
	assert_int_equal(count_where(e, "auto_snapshot_policies", "1"), 0);
	ok65536 = create_policy(e, &e->alice, "[\"0\",\"23\"]", "[\"1\",\"7\"]", "65536");
	free(create_policy(e, &e->alice, "[\"0\"]", "[\"1\"]", "-1"));
	assert_int_equal(count_where(e, "auto_snapshot_policies", "1"), 2);
}

static void test_quota(void **state)
{
	struct ctl_test_tenants *e = *state;

	for (int i = 0; i < CTL_POLICY_MAX; i++)
		free(create_policy(e, &e->alice, "[\"1\"]", "[\"1\"]", "-1"));
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_create, &e->alice, "timePoints", "[\"1\"]", "repeatWeekdays", "[\"1\"]", NULL), 403,
		     "AutoSnapshotPolicy.QuotaExceed");
	free(create_policy(e, &e->bob, "[\"1\"]", "[\"1\"]", "-1"));
}

static void test_modify(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"1\"]", "[\"2\"]", "7");
	struct json_object *p;
	struct ctl_test_answer a;

	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_modify, &e->alice, "autoSnapshotPolicyId", id, "timePoints", "[\"3\",\"4\"]",
		      "RetentionDays", "-1", NULL));
	p = describe_one(e, &e->alice, id, &a);
	assert_string_equal(ecs_json_str(p, "TimePoints", ""), "[\"3\",\"4\"]");
	assert_string_equal(ecs_json_str(p, "RepeatWeekdays", ""), "[\"2\"]");
	assert_int_equal(ecs_json_int(p, "RetentionDays", 0), -1);
	json_object_put(a.out);
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_modify, &e->alice, "AutoSnapshotPolicyId", id, "autoSnapshotPolicyName", "renamed", NULL));
	p = describe_one(e, &e->alice, id, &a);
	assert_string_equal(ecs_json_str(p, "AutoSnapshotPolicyName", ""), "renamed");
	assert_string_equal(ecs_json_str(p, "TimePoints", ""), "[\"3\",\"4\"]");
	json_object_put(a.out);
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_modify, &e->alice, "autoSnapshotPolicyId", id, "repeatWeekdays", "[\"9\"]", NULL), 403,
		     "ParameterInvalid");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_modify, &e->alice, "autoSnapshotPolicyId", "sp-none", "retentionDays", "3", NULL), 404,
		     "InvalidAutoSnapshotPolicyId.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_modify, &e->bob, "autoSnapshotPolicyId", id, "retentionDays", "3", NULL), 404,
		     "InvalidAutoSnapshotPolicyId.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_modify, &e->alice, "retentionDays", "3", NULL), 400, "MissingParameter");
}

static void test_apply_cancel_delete(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"1\"]", "[\"1\"]", "-1"),
			    *other = create_policy(e, &e->alice, "[\"2\"]", "[\"1\"]", "-1"),
			    *bobs = create_policy(e, &e->bob, "[\"1\"]", "[\"1\"]", "-1"), *pid = NULL;
	struct json_object *p;
	struct ctl_test_answer a;

	add_disk(e, "d-a1", &e->alice);
	add_disk(e, "d-a2", &e->alice);
	add_disk(e, "d-b1", &e->bob);
	apply(e, &e->alice, id, "[\"d-a1\",\"d-a2\"]");
	p = describe_one(e, &e->alice, id, &a);
	assert_int_equal(ecs_json_int(p, "DiskNums", -1), 2);
	json_object_put(a.out);

	/* All or nothing: an unknown disk, or another account's, changes nothing. */
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_apply, &e->alice, "autoSnapshotPolicyId", other, "diskIds", "[\"d-a1\",\"d-zz\"]", NULL),
		     404, "InvalidDiskId.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_apply, &e->alice, "autoSnapshotPolicyId", other, "diskIds", "[\"d-a1\",\"d-b1\"]", NULL),
		     404, "InvalidDiskId.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_apply, &e->bob, "autoSnapshotPolicyId", id, "diskIds", "[\"d-b1\"]", NULL), 404,
		     "InvalidAutoSnapshotPolicyId.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_apply, &e->alice, "autoSnapshotPolicyId", id, "diskIds", "[]", NULL), 403,
		     "ParameterInvalid");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_apply, &e->alice, "autoSnapshotPolicyId", id, NULL), 400, "MissingParameter");
	pid = ctl_test_sql_text(&e->t, "SELECT policy_id FROM disks WHERE disk_id = '%s'", "d-a1");
	assert_string_equal(pid, id);

	/* Another policy replaces the first (one policy a disk). */
	apply(e, &e->alice, other, "[\"d-a1\"]");
	p = describe_one(e, &e->alice, id, &a);
	assert_int_equal(ecs_json_int(p, "DiskNums", -1), 1);
	json_object_put(a.out);

	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_cancel, &e->alice, "diskIds", "[\"d-a1\"]", NULL));
	assert_int_equal(count_where(e, "disks", "policy_id IS NOT NULL AND account_id != '' AND disk_id = 'd-a1'"), 0);
	/* Cancel naming a policy leaves disks under another alone. */
	apply(e, &e->alice, other, "[\"d-a1\"]");
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_cancel, &e->alice, "autoSnapshotPolicyId", id, "diskIds", "[\"d-a1\",\"d-a2\"]", NULL));
	assert_int_equal(count_where(e, "disks", "disk_id = 'd-a1' AND policy_id IS NOT NULL"), 1);
	assert_int_equal(count_where(e, "disks", "disk_id = 'd-a2' AND policy_id IS NULL"), 1);
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_cancel, &e->alice, "diskIds", "[\"d-b1\"]", NULL), 404, "InvalidDiskId.NotFound");

	/* Delete: gone, and cancelled from its disks. */
	apply(e, &e->bob, bobs, "[\"d-b1\"]");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_delete, &e->alice, "autoSnapshotPolicyId", bobs, NULL), 404,
		     "InvalidAutoSnapshotPolicyId.NotFound");
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_delete, &e->alice, "AutoSnapshotPolicyId", other, NULL));
	assert_int_equal(count_where(e, "disks", "policy_id IS NOT NULL"), 1);
	a = ctl_test_act(&e->t, ctl_policy_describe, &e->alice, NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 1);
	json_object_put(a.out);
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_policy_delete, &e->alice, "autoSnapshotPolicyId", other, NULL), 404,
		     "InvalidAutoSnapshotPolicyId.NotFound");
	/* Bob sees his own only. */
	a = ctl_test_act(&e->t, ctl_policy_describe, &e->bob, NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 1);
	p = json_object_array_get_idx(ecs_json_get(ecs_json_get(a.out, "AutoSnapshotPolicies"), "AutoSnapshotPolicy"), 0);
	assert_string_equal(ecs_json_str(p, "AutoSnapshotPolicyId", ""), bobs);
	assert_int_equal(ecs_json_int(p, "DiskNums", -1), 1);
	json_object_put(a.out);
}

/* ---- the runner ---- */

static void test_tick_once_per_slot(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"10\",\"11\"]", "[\"1\"]", "-1"),
			    *bobs = create_policy(e, &e->bob, "[\"10\"]", "[\"1\",\"2\"]", "-1"), *name = NULL,
			    *expect = NULL, *st = NULL;

	add_disk(e, "d-a1", &e->alice);
	add_disk(e, "d-a2", &e->alice);
	add_disk(e, "d-a3", &e->alice); /* no policy */
	add_disk(e, "d-b1", &e->bob);
	apply(e, &e->alice, id, "[\"d-a1\",\"d-a2\"]");
	apply(e, &e->bob, bobs, "[\"d-b1\"]");

	/* Monday 10:30: one snapshot per disk with a policy. */
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
	assert_int_equal(snapshots_of(e, "d-a2"), 1);
	assert_int_equal(snapshots_of(e, "d-a3"), 0);
	assert_int_equal(snapshots_of(e, "d-b1"), 1);
	name = ctl_test_sql_text(&e->t, "SELECT name FROM snapshots WHERE disk_id = '%s'", "d-a1");
	expect = ecs_strdup_printf("auto2.0_20240101_%s", id);
	assert_string_equal(name, expect);
	free(name);
	name = ctl_test_sql_text(&e->t, "SELECT policy_id || ' ' || account_id FROM snapshots WHERE disk_id = '%s'", "d-b1");
	free(expect);
	expect = ecs_strdup_printf("%s %s", bobs, e->bob.account_id);
	assert_string_equal(name, expect);
	st = run_state(e, "d-a1", "2024-01-01T10");
	assert_string_equal(st, "taken");
	assert_int_equal(count_where(e, "policy_runs", "snapshot_id LIKE 's-%'"), 3);

	/* The same hour again, even once the snapshots are done: nothing more. */
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 600), 0);
	finish_snapshots(e);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 1200), 0);
	assert_int_equal(count_where(e, "snapshots", "1"), 3);

	/* 11:30: Alice's policy only. 12:30: no time point. */
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + HOUR), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 2);
	assert_int_equal(snapshots_of(e, "d-b1"), 1);
	finish_snapshots(e);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 2 * HOUR), 0);
	assert_int_equal(count_where(e, "snapshots", "1"), 5);

	/* Tuesday 10:30: Bob's policy repeats on Tuesdays, Alice's does not. */
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + DAY), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 2);
	assert_int_equal(snapshots_of(e, "d-b1"), 2);
	/* Wednesday: neither. */
	finish_snapshots(e);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 2 * DAY), 0);
	assert_int_equal(count_where(e, "snapshots", "1"), 6);

	/* A cancelled disk is left alone; a deleted disk too. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_cancel, &e->alice, "diskIds", "[\"d-a2\"]", NULL));
	ctl_test_sql(&e->t, "UPDATE disks SET deleted = 1 WHERE disk_id = 'd-a1'");
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 7 * DAY), 0);
	assert_int_equal(count_where(e, "snapshots", "disk_id LIKE 'd-a%'"), 4);
	assert_int_equal(snapshots_of(e, "d-b1"), 3);
}

static void test_tick_skips_busy(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"10\"]", "[\"1\"]", "-1"), *st = NULL;
	char manual[32];

	add_disk(e, "d-a1", &e->alice);
	apply(e, &e->alice, id, "[\"d-a1\"]");
	/* A snapshot of the disk still progressing at the time point: ECS skips it. */
	assert_int_equal(ctl_snapshot_take(&e->t.c, e->alice.account_id, "d-a1", "manual", NULL, manual), 0);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
	st = run_state(e, "d-a1", "2024-01-01T10");
	assert_string_equal(st, "skipped");
	/* Not retried later in the hour once the other is done. */
	finish_snapshots(e);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 900), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
	/* The next time point is taken. */
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 7 * DAY), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 2);
}

static void test_tick_retention(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *week = create_policy(e, &e->alice, "[\"3\"]", "[\"1\"]", "7"),
			    *forever = create_policy(e, &e->alice, "[\"3\"]", "[\"1\"]", "-1");
	long long now = MON_1030;

	add_disk(e, "d-a1", &e->alice);
	add_snapshot(e, "s-old", &e->alice, "d-a1", week, "accomplished", now - 8 * DAY);
	add_snapshot(e, "s-older", &e->alice, "d-a1", week, "failed", now - 30 * DAY);
	add_snapshot(e, "s-new", &e->alice, "d-a1", week, "accomplished", now - 6 * DAY);
	add_snapshot(e, "s-imaged", &e->alice, "d-a1", week, "accomplished", now - 9 * DAY);
	add_snapshot(e, "s-cloned", &e->alice, "d-a1", week, "accomplished", now - 9 * DAY);
	add_snapshot(e, "s-running", &e->alice, "d-a1", week, "progressing", now - 9 * DAY);
	add_snapshot(e, "s-manual", &e->alice, "d-a1", NULL, "accomplished", now - 90 * DAY);
	add_snapshot(e, "s-forever", &e->alice, "d-a1", forever, "accomplished", now - 90 * DAY);
	ctl_test_sql(&e->t,
	    "INSERT INTO images (image_id, account_id, name, description, size_gib, os_name, os_type, architecture, status,"
	    " source_snapshot_id, owner_alias, created_at) VALUES ('m-1', '%s', 'img', '', 1, 'x', 'linux', 'x86_64',"
	    " 'Available', 's-imaged', 'self', 1)",
	    e->alice.account_id);
	add_disk(e, "d-clone", &e->alice);
	ctl_test_sql(&e->t, "UPDATE disks SET source_snapshot_id = 's-cloned' WHERE disk_id = 'd-clone'");

	assert_int_equal(ctl_policy_tick(&e->t.c, now), 0);
	assert_int_equal(count_where(e, "snapshots", "deleted = 1"), 2);
	assert_int_equal(count_where(e, "snapshots", "deleted = 1 AND snapshot_id IN ('s-old', 's-older')"), 2);
	/* Deleted through snapshot.c: a job for the agent. */
	assert_int_equal(count_where(e, "jobs", "kind = 'snapshot' AND op = 'delete' AND resource_id = 's-old'"), 1);
	/* A week on, s-new is past too. */
	assert_int_equal(ctl_policy_tick(&e->t.c, now + 2 * DAY), 0);
	assert_int_equal(count_where(e, "snapshots", "deleted = 1"), 3);
	/* Retention follows the policy as modified. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_policy_modify, &e->alice, "autoSnapshotPolicyId", forever, "retentionDays", "30", NULL));
	assert_int_equal(ctl_policy_tick(&e->t.c, now + 2 * DAY), 0);
	assert_int_equal(count_where(e, "snapshots", "deleted = 1 AND snapshot_id = 's-forever'"), 1);
	assert_int_equal(count_where(e, "snapshots", "deleted = 0 AND snapshot_id IN ('s-manual', 's-imaged', 's-cloned',"
						     " 's-running')"),
			 4);
}

static void test_tick_utc_offset(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"0\"]", "[\"1\"]", "-1"), *name = NULL, *expect = NULL,
			    *st = NULL;

	add_disk(e, "d-a1", &e->alice);
	apply(e, &e->alice, id, "[\"d-a1\"]");
	/* In UTC it is Sunday 16:30: neither the hour nor the day. */
	e->t.c.cfg.policy_utc_offset_h = 0;
	assert_int_equal(ctl_policy_tick(&e->t.c, SUN_1630_UTC), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 0);
	/* In UTC+8 the same instant is Monday 00:30: the snapshot is dated the 1st. */
	e->t.c.cfg.policy_utc_offset_h = 8;
	assert_int_equal(ctl_policy_tick(&e->t.c, SUN_1630_UTC), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
	name = ctl_test_sql_text(&e->t, "SELECT name FROM snapshots WHERE disk_id = '%s'", "d-a1");
	expect = ecs_strdup_printf("auto2.0_20240101_%s", id);
	assert_string_equal(name, expect);
	st = run_state(e, "d-a1", "2024-01-01T00");
	assert_string_equal(st, "taken");
	/* West of UTC: the next Monday 00:30 at UTC-5 is 05:30 UTC. */
	finish_snapshots(e);
	e->t.c.cfg.policy_utc_offset_h = -5;
	assert_int_equal(ctl_policy_tick(&e->t.c, 1704067200LL + 7 * DAY + 5 * HOUR + 1800 - HOUR), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
	assert_int_equal(ctl_policy_tick(&e->t.c, 1704067200LL + 7 * DAY + 5 * HOUR + 1800), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 2);
}

static void test_tick_after_restart(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"10\"]", "[\"1\"]", "-1"), *st = NULL, *sid = NULL;
	long long t = (long long)time(NULL);

	add_disk(e, "d-a1", &e->alice);
	add_disk(e, "d-a2", &e->alice);
	apply(e, &e->alice, id, "[\"d-a1\",\"d-a2\"]");
	/* A crash left two bookings: d-a1's snapshot had been asked for, d-a2's not. */
	ctl_test_sql(&e->t, "INSERT INTO policy_runs (disk_id, slot, snapshot_id, policy_id, state, at) VALUES ('d-a1', '2024-01-01T10',"
	       " '', '%s', 'pending', %lld), ('d-a2', '2024-01-01T10', '', '%s', 'pending', %lld)",
	    id, t - 5, id, t - 5);
	add_snapshot(e, "s-before-crash", &e->alice, "d-a1", id, "progressing", t);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030), 0);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
	assert_int_equal(snapshots_of(e, "d-a2"), 1);
	st = run_state(e, "d-a1", "2024-01-01T10");
	assert_string_equal(st, "taken");
	sid = ctl_test_sql_text(&e->t, "SELECT snapshot_id FROM policy_runs WHERE disk_id = '%s'", "d-a1");
	assert_string_equal(sid, "s-before-crash");
	free(st);
	st = run_state(e, "d-a2", "2024-01-01T10");
	assert_string_equal(st, "taken");
	assert_int_equal(count_where(e, "policy_runs", "state = 'pending'"), 0);
}

static void test_tick_failures(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"10\"]", "[\"1\"]", "1"), *st = NULL;

	add_disk(e, "d-a1", &e->alice);
	add_disk(e, "d-a2", &e->alice);
	apply(e, &e->alice, id, "[\"d-a1\"]");
	ctl_policy_set_snapshot_fns(fake_take, fake_remove);
	fake_takes = fake_removes = 0;
	/* A passing failure: not recorded, retried at the next tick. */
	fake_result = -EIO;
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030), 0);
	assert_int_equal(fake_takes, 1);
	assert_int_equal(count_where(e, "policy_runs", "1"), 0);
	fake_result = 0;
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 60), 0);
	assert_int_equal(fake_takes, 2);
	st = run_state(e, "d-a1", "2024-01-01T10");
	assert_string_equal(st, "taken");
	/* A lasting one (the disk went away meanwhile): recorded, not retried. */
	apply(e, &e->alice, id, "[\"d-a2\"]");
	fake_result = -ENOENT;
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 120), 0);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 180), 0);
	assert_int_equal(fake_takes, 3);
	free(st);
	st = run_state(e, "d-a2", "2024-01-01T10");
	assert_string_equal(st, "failed");
	/* A removal that fails is tried again at the next tick. */
	add_snapshot(e, "s-old", &e->alice, "d-a1", id, "accomplished", MON_1030 - 2 * DAY);
	fake_result = -EIO;
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 240), -EIO);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 300), -EIO);
	assert_int_equal(fake_removes, 2);
}

static void test_tick_bounded(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"10\"]", "[\"1\"]", "-1");
	char ids[100 * 16] = "[";

	for (int i = 0; i < 70; i++) {
		char d[16];

		snprintf(d, sizeof(d), "d-%03d", i);
		add_disk(e, d, &e->alice);
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s\"%s\"", i ? "," : "", d);
	}
	strcat(ids, "]");
	apply(e, &e->alice, id, ids);
	ctl_policy_set_snapshot_fns(fake_take, fake_remove);
	fake_result = 0;
	fake_takes = 0;
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030), 0);
	assert_int_equal(fake_takes, 64);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 60), 0);
	assert_int_equal(fake_takes, 70);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 120), 0);
	assert_int_equal(fake_takes, 70);
	/* Old slots are forgotten after a few days. */
	assert_int_equal(count_where(e, "policy_runs", "1"), 70);
	assert_int_equal(ctl_policy_tick(&e->t.c, MON_1030 + 4 * DAY), 0);
	assert_int_equal(count_where(e, "policy_runs", "1"), 0);
}

static void test_runner_thread(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *id = create_policy(e, &e->alice, "[\"10\"]", "[\"1\"]", "-1");

	add_disk(e, "d-a1", &e->alice);
	apply(e, &e->alice, id, "[\"d-a1\"]");
	/* The runner ticks at once with the controller's clock. */
	e->t.c.fake_now = MON_1030;
	e->t.c.cfg.policy_tick_s = 1;
	assert_int_equal(ctl_policy_start(&e->t.c), 0);
	for (int i = 0; i < 200 && snapshots_of(e, "d-a1") == 0; i++)
		usleep(50 * 1000);
	ctl_policy_stop(&e->t.c);
	assert_int_equal(snapshots_of(e, "d-a1"), 1);
}

UNIT_MAIN("ctl_policy", setup, teardown, ctl_test_quiet_logs, NULL,
	  cmocka_unit_test(test_create_describe),
	  cmocka_unit_test(test_validation),
	  cmocka_unit_test(test_quota),
	  cmocka_unit_test(test_modify),
	  cmocka_unit_test(test_apply_cancel_delete),
	  cmocka_unit_test(test_tick_once_per_slot),
	  cmocka_unit_test(test_tick_skips_busy),
	  cmocka_unit_test(test_tick_retention),
	  cmocka_unit_test(test_tick_utc_offset),
	  cmocka_unit_test(test_tick_after_restart),
	  cmocka_unit_test(test_tick_failures),
	  cmocka_unit_test(test_tick_bounded),
	  cmocka_unit_test(test_runner_thread))
