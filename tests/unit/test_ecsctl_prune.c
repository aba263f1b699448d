/* Tests for `ecsctl snapshot prune`: the selection (ecsctl/prune.c) over awkward lists, and
 * the verb against the fake endpoint: what it deletes, prints, and leaves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "prune.h"
#include "test_ecsctl_fake.h"

static struct json_object *snap(const char *id, const char *disk, const char *status, const char *time,
				const char *usage)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "SnapshotId", id);
	if (disk)
		ecs_jb_str(o, "SourceDiskId", disk);
	ecs_jb_str(o, "Status", status);
	ecs_jb_str(o, "CreationTime", time);
	if (usage)
		ecs_jb_str(o, "Usage", usage);
	return o;
}

static char *joined(const char **v, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? " " : "", v[i]);
	fclose(f);
	return buf;
}

static void expect(struct json_object *list, const char *disk, size_t keep, const char *want_keep,
		   const char *want_remove, const char *want_in_use)
{
	struct ecsctl_prune p;
	_cleanup_free_ char *k = NULL, *r = NULL, *u = NULL;

	assert_int_equal(ecsctl_prune_select(list, disk, keep, &p), 0);
	k = joined(p.keep, p.n_keep);
	r = joined(p.remove, p.n_remove);
	u = joined(p.in_use, p.n_in_use);
	assert_string_equal(k, want_keep);
	assert_string_equal(r, want_remove);
	assert_string_equal(u, want_in_use);
	ecsctl_prune_clear(&p);
}

static void test_select(void **state)
{
	struct json_object *l = json_object_new_array();

	(void)state;
	/* Out of order on purpose. */
	json_object_array_add(l, snap("s-3", "d-1", "accomplished", "2026-11-03T00:00:00Z", "none"));
	json_object_array_add(l, snap("s-1", "d-1", "accomplished", "2026-11-01T00:00:00Z", "none"));
	json_object_array_add(l, snap("s-5", "d-1", "accomplished", "2026-11-05T00:00:00Z", NULL));
	json_object_array_add(l, snap("s-4", "d-1", "accomplished", "2026-11-04T00:00:00Z", "none"));
	json_object_array_add(l, snap("s-2", "d-1", "accomplished", "2026-11-02T00:00:00Z", "none"));

	expect(l, "d-1", 2, "s-5 s-4", "s-3 s-2 s-1", "");
	expect(l, "d-1", 5, "s-5 s-4 s-3 s-2 s-1", "", "");
	expect(l, "d-1", 7, "s-5 s-4 s-3 s-2 s-1", "", "");
	expect(l, "d-1", 0, "", "s-5 s-4 s-3 s-2 s-1", "");
	/* Another disk's snapshots (a server that ignored DiskId) are not ours to delete. */
	expect(l, "d-2", 0, "", "", "");

	/* Only accomplished ones count, and the newest progressing one is never deleted. */
	json_object_array_add(l, snap("s-6", "d-1", "progressing", "2026-11-06T00:00:00Z", "none"));
	json_object_array_add(l, snap("s-0", "d-1", "failed", "2026-10-30T00:00:00Z", "none"));
	expect(l, "d-1", 2, "s-5 s-4", "s-3 s-2 s-1", "");

	/* An image's snapshot stays (ECS refuses its deletion) and is reported. */
	json_object_array_add(l, snap("s-img", "d-1", "accomplished", "2026-10-31T00:00:00Z", "image"));
	expect(l, "d-1", 2, "s-5 s-4", "s-3 s-2 s-1", "s-img");

	/* Unreadable or missing times and other disks' snapshots are left alone. */
	json_object_array_add(l, snap("s-bad", "d-1", "accomplished", "yesterday", "none"));
	json_object_array_add(l, snap("s-other", "d-9", "accomplished", "2026-10-01T00:00:00Z", "none"));
	json_object_array_add(l, snap("s-nodisk", NULL, "accomplished", "2026-10-01T00:00:00Z", "none"));
	expect(l, "d-1", 2, "s-5 s-4", "s-3 s-2 s-1", "s-img");

	/* Listed twice (paging while snapshots come and go): counted once. */
	json_object_array_add(l, snap("s-5", "d-1", "accomplished", "2026-11-05T00:00:00Z", "none"));
	expect(l, "d-1", 2, "s-5 s-4", "s-3 s-2 s-1", "s-img");

	/* Minute precision (ECS writes CreationTime both ways), and ties broken by id. */
	json_object_array_add(l, snap("s-7a", "d-1", "accomplished", "2026-11-07T00:00Z", "none"));
	json_object_array_add(l, snap("s-7b", "d-1", "accomplished", "2026-11-07T00:00:00Z", "none"));
	expect(l, "d-1", 1, "s-7b", "s-7a s-5 s-4 s-3 s-2 s-1", "s-img");
	json_object_put(l);

	/* Nothing to prune. */
	l = json_object_new_array();
	expect(l, "d-1", 3, "", "", "");
	json_object_put(l);
	expect(NULL, "d-1", 3, "", "", "");
}

/* The endpoint afresh, holding three accomplished snapshots of d-1 and one in progress, one
 * of d-2, and one of d-1 an image was made from. */
static void fake_reset_snapshots(void)
{
	fake_reset();
	fake_add_snapshot("s-1", "d-1", "accomplished", "2026-11-01T00:00:00Z", "none");
	fake_add_snapshot("s-2", "d-1", "accomplished", "2026-11-02T00:00:00Z", "none");
	fake_add_snapshot("s-3", "d-1", "accomplished", "2026-11-03T00:00:00Z", "none");
	fake_add_snapshot("s-4", "d-1", "progressing", "2026-11-04T00:00:00Z", "none");
	fake_add_snapshot("s-x", "d-2", "accomplished", "2026-10-01T00:00:00Z", "none");
	fake_add_snapshot("s-i", "d-1", "accomplished", "2026-10-02T00:00:00Z", "image");
}

static void test_prune_verb(void **state)
{
	struct run_result res;
	_cleanup_free_ char *log = NULL, *after = NULL;

	(void)state;
	fake_reset_snapshots();
	res = run_ecsctl("snapshot prune --disk d-1 --keep 1 --dry-run", false);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out, "s-2\ns-1\n");
	log = fake_log();
	assert_string_equal(log, "DescribeSnapshots DiskId=d-1 PageNumber=1 PageSize=100\n");
	run_result_clear(&res);

	fake_reset_snapshots();
	res = run_ecsctl("snapshot prune --disk d-1 --keep 1", false);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out, "s-2\ns-1\n");
	assert_string_equal(res.err, "ecsctl: keeping s-i: an image was made from it\n");
	free(log);
	log = fake_log();
	assert_string_equal(log, "DescribeSnapshots DiskId=d-1 PageNumber=1 PageSize=100\n"
				 "DeleteSnapshot SnapshotId=s-2\n"
				 "DeleteSnapshot SnapshotId=s-1\n");
	run_result_clear(&res);
	res = run_ecsctl("snapshot ls", false);
	assert_string_equal(res.out, "s-3\ns-4\ns-x\ns-i\n");
	run_result_clear(&res);

	/* Again: nothing more to do. */
	res = run_ecsctl("snapshot prune --disk d-1 --keep 1 -o json", false);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out, "{\n  \"DiskId\": \"d-1\",\n  \"DryRun\": false,\n  \"Deleted\": [\n  ],\n"
				     "  \"Kept\": [\n    \"s-3\"\n  ],\n  \"InUse\": [\n    \"s-i\"\n  ]\n}\n");
	run_result_clear(&res);
	assert_int_equal(fake.bad, 0);
}

/* One deletion refused: the others still go, and the exit status says so. */
static void test_prune_partial_failure(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	fake_add_snapshot("s-1", "d-1", "accomplished", "2026-11-01T00:00:00Z", "none");
	fake_add_snapshot("s-2", "d-1", "accomplished", "2026-11-02T00:00:00Z", "none");
	fake_add_snapshot("s-3", "d-1", "accomplished", "2026-11-03T00:00:00Z", "none");
	fake_set_reply("DeleteSnapshot", 403,
		       "{\"RequestId\":\"R\",\"Code\":\"IncorrectSnapshotStatus\",\"Message\":\"busy\"}", 0, 1);
	res = run_ecsctl("snapshot prune --disk d-1 --keep 1", false);
	assert_int_equal(res.status, 1);
	assert_string_equal(res.out, "s-1\n");
	assert_string_equal(res.err, "ecsctl: IncorrectSnapshotStatus: busy (RequestId: R)\n");
	run_result_clear(&res);
}

/* The cron line: create and wait, then prune, repeated; exactly keep remain. */
static void test_cron_line(void **state)
{
	(void)state;
	fake_reset();
	for (int i = 0; i < 4; i++) {
		char t[32];

		expect_run("snapshot create --disk d-1 --wait", 0, NULL);
		/* The fake stamps every snapshot alike: give each its own minute. */
		snprintf(t, sizeof(t), "2026-11-23T03:0%d:00Z", i);
		ecs_jb_str(json_object_array_get_idx(fake.snapshots, json_object_array_length(fake.snapshots) - 1),
			   "CreationTime", t);
		expect_run("snapshot prune --disk d-1 --keep 2", 0, NULL);
	}
	assert_int_equal(json_object_array_length(fake.snapshots), 2);
	assert_string_equal(ecs_json_str(json_object_array_get_idx(fake.snapshots, 0), "SnapshotId", ""), "s-fake3");
	assert_string_equal(ecs_json_str(json_object_array_get_idx(fake.snapshots, 1), "SnapshotId", ""), "s-fake4");
}

UNIT_MAIN("ecsctl_prune", NULL, NULL, fake_group_setup, fake_group_teardown,
	  cmocka_unit_test(test_select),
	  cmocka_unit_test(test_prune_verb),
	  cmocka_unit_test(test_prune_partial_failure),
	  cmocka_unit_test(test_cron_line))
