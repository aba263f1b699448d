/* Tests for controller/listcache.c: the unfiltered DescribeInstances, DescribeDisks and
 * DescribeSecurityGroups pages (from the in-memory lists kept by generation) answer byte for
 * byte what the SQL path answers (the same listing with a filter every row passes), before
 * and after rows are added, hidden and deleted behind the cache's back (plain SQL, as any
 * writer of the controller does), and each account sees only its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "account.h"
#include "ctl.h"
#include "ctl_env.h"
#include "disk.h"
#include "instance.h"
#include "json.h"
#include "secgroup.h"
#include "store.h"
#include "util.h"

static int setup(void **state)
{
	struct ctl_test_tenants *e = ctl_test_tenants_open("test_ctl_listcache");

	*state = e;
	return 0;
}

static void add_instance(struct ctl_test_tenants *e, const char *id, const struct ctl_account *a, int created)
{
	ctl_test_sql(&e->t,
		     "INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type,"
		     " vcpus, memory_mib, zone_id, host_id, status, desired, private_ip, mac, key_pair_name, password_hash,"
		     " user_data, internet_max_bandwidth_out, created_at, transition_at) VALUES ('%s', '%s', '%s', '', 'h',"
		     " 'tiny', 'ecs.t1.small', 1, 256, 'cn-local-a', 'host-1', 'Stopped', 'stopped', '10.240.0.2',"
		     " '52:54:00:00:00:01', '', '', '', 0, %d, 1);"
		     "INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category, size_gib, image_id,"
		     " source_snapshot_id, status, instance_id, device, host_id, delete_with_instance, created_at)"
		     " VALUES ('d-%s', '%s', 'cn-local-a', '', '', 'system', 'cloud', 1, 'tiny', '', 'In_use', '%s', 'vda',"
		     " 'host-1', 1, %d);"
		     "INSERT INTO security_groups (group_id, account_id, name, description, created_at) VALUES ('sg-%s', '%s',"
		     " 'g', '', %d)",
		     id, a->account_id, id, created, id + 2, a->account_id, id, created, id + 2, a->account_id, created);
}

/* The answer of fn for account, as JSON text (caller frees). */
static char *answer(struct ctl_test_tenants *e, ctl_action_fn fn, const struct ctl_account *a, const char *page, const char *k,
		    const char *v)
{
	struct ctl_test_answer r = ctl_test_act(&e->t, fn, a, "PageSize", "2", "PageNumber", page, k, v, NULL);
	char *text;

	assert_int_equal(r.rc, 0);
	text = strdup(ecs_json_text(r.out, NULL));
	json_object_put(r.out);
	return text;
}

/* Every page (and one past the end) of the three listings: the cached path and the SQL path
 * answer the same; the first page holds total. */
static void same_answers(struct ctl_test_tenants *e, const struct ctl_account *a, int total)
{
	static const struct {
		ctl_action_fn fn;
		const char *filter, *value;
	} lists[] = {
		{ ctl_instance_describe, "Status", "Stopped" },
		{ ctl_disk_describe, "DiskType", "system" },
		{ ctl_sg_describe, "SecurityGroupName", "g" },
	};
	char want[48];

	snprintf(want, sizeof(want), "\"TotalCount\":%d,", total);
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (int p = 1; p <= (total + 1) / 2 + 1; p++) {
			char page[16];
			_cleanup_free_ char *cached = NULL, *sql = NULL;

			snprintf(page, sizeof(page), "%d", p);
			cached = answer(e, lists[l].fn, a, page, NULL, NULL);
			sql = answer(e, lists[l].fn, a, page, lists[l].filter, lists[l].value);
			assert_string_equal(cached, sql);
			assert_non_null(strstr(cached, want));
		}
}

static void test_pages_follow_changes(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *gen = NULL, *gen2 = NULL, *bobs = NULL;

	same_answers(e, &e->alice, 0);
	for (int i = 0; i < 5; i++) {
		char id[32];

		snprintf(id, sizeof(id), "i-alice%d", i);
		add_instance(e, id, &e->alice, 100 + i % 3); /* equal times: the id decides */
	}
	add_instance(e, "i-bob0", &e->bob, 50);
	add_instance(e, "i-bob1", &e->bob, 60);
	same_answers(e, &e->alice, 5);
	same_answers(e, &e->bob, 2);
	/* Added behind the cache's back: the next page sees it. */
	add_instance(e, "i-alice9", &e->alice, 99);
	same_answers(e, &e->alice, 6);
	/* Hidden (deleted, being deleted), and removed. */
	ctl_test_sql(&e->t, "UPDATE instances SET desired = 'deleted' WHERE instance_id = 'i-alice1';"
			    "UPDATE disks SET deleted = 1 WHERE disk_id = 'd-alice1';"
			    "DELETE FROM security_groups WHERE group_id = 'sg-alice1'");
	same_answers(e, &e->alice, 5);
	ctl_test_sql(&e->t, "DELETE FROM instances WHERE instance_id = 'i-alice2';"
			    "DELETE FROM disks WHERE disk_id = 'd-alice2';"
			    "DELETE FROM security_groups WHERE group_id = 'sg-alice2'");
	same_answers(e, &e->alice, 4);
	/* A change of state only leaves the generation (and the cached list) alone. */
	gen = ctl_test_sql_text(&e->t, "SELECT gen FROM list_gens WHERE kind = 'instances' AND account_id = '%s'",
				e->alice.account_id);
	ctl_test_sql(&e->t, "UPDATE instances SET status = 'Running', desired = 'running' WHERE instance_id = 'i-alice0'");
	gen2 = ctl_test_sql_text(&e->t, "SELECT gen FROM list_gens WHERE kind = 'instances' AND account_id = '%s'",
				 e->alice.account_id);
	assert_string_equal(gen, gen2);
	ctl_test_sql(&e->t, "UPDATE instances SET status = 'Stopped', desired = 'stopped' WHERE instance_id = 'i-alice0'");
	same_answers(e, &e->alice, 4);
	/* Bob's pages hold none of Alice's. */
	bobs = answer(e, ctl_instance_describe, &e->bob, "1", NULL, NULL);
	assert_null(strstr(bobs, "alice"));
	same_answers(e, &e->bob, 2);
}

UNIT_MAIN("ctl_listcache", setup, ctl_test_env_teardown, NULL, NULL,
	  cmocka_unit_test(test_pages_follow_changes))
