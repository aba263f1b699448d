/* Tests for controller/scheduler.c: the filters (alive, zone, image, vCPU / memory / disk
 * room with the overcommit ratios, the instance count, hosts already tried, deployment sets)
 * and the weighers
 * (spread by free memory, stack), on hosts and instances written straight into a controller
 * state in a temporary SQLite file; and ctl_schedule_lb (the fewest LBs and public IPs). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "unit.h"
#include "ceph.h"
#include "common.h"
#include "config.h"
#include "ctl.h"
#include "ctl_env.h"
#include "deployset.h"
#include "scheduler.h"
#include "store.h"
#include "util.h"

struct env {
	struct ctl_test_env t; /* first: ctl_test_env_teardown frees the whole */
	int n_instances;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	ctl_test_env_open(&e->t, "test_ctl_scheduler");
	/* Round ratios, so that each edge below is plain arithmetic. */
	e->t.c.cfg.cpu_ratio = 4.0;
	e->t.c.cfg.ram_ratio = 1.5;
	e->t.c.cfg.disk_ratio = 1.0;
	e->t.c.cfg.reserved_host_memory_mib = 512;
	e->t.c.cfg.host_dead_after_s = 30;
	e->t.c.cfg.stack = false;
	*state = e;
	return 0;
}

static void exec(struct env *e, const char *sql)
{
	assert_int_equal(ctl_db_exec(e->t.db, sql), 0);
}

/* A host heard from `age` seconds ago. */
static void add_host(struct env *e, const char *id, const char *zone, int vcpus, int memory_mib, int disk_gib,
		     int max_instances, const char *images, long long age)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO hosts (host_id, api_url, zone_id, hypervisor, vcpus, memory_mib, disk_gib, max_instances,"
		" images, last_seen, state) VALUES ('%s', 'http://127.0.0.1:1', '%s', 'kvm', %d, %d, %d, %d, '%s', %lld,"
		" 'up')",
		id, zone, vcpus, memory_mib, disk_gib, max_instances, images, (long long)time(NULL) - age);

	exec(e, sql);
}

/* An instance booked on host (any status: room counts every booked instance). */
static void add_instance(struct env *e, const char *host, int vcpus, int memory_mib, const char *status)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type,"
		" vcpus, memory_mib, zone_id, host_id, status, desired, mac, key_pair_name, password_hash, user_data,"
		" internet_max_bandwidth_out, created_at, transition_at) VALUES ('i-test%d', 'acc', '', '', 'h', 'img',"
		" 't', %d, %d, 'z', '%s', '%s', 'running', '52:54:00:00:00:01', '', '', '', 0, 0, 0)",
		e->n_instances++, vcpus, memory_mib, host, status);

	exec(e, sql);
}

static void add_disk(struct env *e, const char *host, int size_gib)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO disks (disk_id, account_id, zone_id, name, description, type, category, size_gib, image_id,"
		" source_snapshot_id, status, host_id, delete_with_instance, created_at) VALUES ('d-test%d', 'acc', 'z',"
		" '', '', 'data', 'cloud', %d, '', '', 'Available', '%s', 0, 0)",
		e->n_instances++, size_gib, host);

	exec(e, sql);
}

/* The host ctl_schedule picks for rq, or "" when it answers -ENOSPC. */
static const char *pick(struct env *e, struct ctl_sched_request rq)
{
	static char host[64];
	int r = ctl_schedule(&e->t.c, e->t.db, &rq, host);

	if (r == -ENOSPC)
		return "";
	assert_int_equal(r, 0);
	return host;
}

static struct ctl_sched_request small(int vcpus, int memory_mib)
{
	return (struct ctl_sched_request){ .vcpus = vcpus, .memory_mib = memory_mib, .disk_gib = 1 };
}

static void test_no_host(void **state)
{
	struct env *e = *state;

	assert_string_equal(pick(e, small(1, 256)), "");
}

static void test_dead_host_skipped(void **state)
{
	struct env *e = *state;

	add_host(e, "h-dead", "z1", 64, 65536, 1000, 100, "[]", 31);
	assert_string_equal(pick(e, small(1, 256)), "");
	add_host(e, "h-alive", "z1", 2, 2048, 100, 100, "[]", 29);
	assert_string_equal(pick(e, small(1, 256)), "h-alive");
}

/* vCPUs: used + asked <= host vCPUs x cpu_ratio (2 x 4 = 8). */
static void test_vcpu_overcommit(void **state)
{
	struct env *e = *state;

	add_host(e, "h1", "z1", 2, 65536, 1000, 100, "[]", 0);
	add_instance(e, "h1", 4, 256, "Running");
	add_instance(e, "h1", 3, 256, "Stopped"); /* a stopped instance keeps its room */
	assert_string_equal(pick(e, small(1, 256)), "h1");
	assert_string_equal(pick(e, small(2, 256)), "");
}

/* Memory: used + asked <= (host memory - reserved) x ram_ratio ((2048 - 512) x 1.5 = 2304). */
static void test_memory_overcommit(void **state)
{
	struct env *e = *state;

	add_host(e, "h1", "z1", 64, 2048, 1000, 100, "[]", 0);
	add_instance(e, "h1", 1, 2048, "Running");
	assert_string_equal(pick(e, small(1, 256)), "h1");
	assert_string_equal(pick(e, small(1, 257)), "");
}

/* Disk: the sizes of the disks booked there + asked <= host disk x disk_ratio. */
static void test_disk_room(void **state)
{
	struct env *e = *state;
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h1", "z1", 64, 65536, 100, 100, "[]", 0);
	add_disk(e, "h1", 60);
	rq.disk_gib = 40;
	assert_string_equal(pick(e, rq), "h1");
	rq.disk_gib = 41;
	assert_string_equal(pick(e, rq), "");
}

static void test_max_instances(void **state)
{
	struct env *e = *state;

	add_host(e, "h1", "z1", 64, 65536, 1000, 2, "[]", 0);
	add_instance(e, "h1", 1, 256, "Running");
	assert_string_equal(pick(e, small(1, 256)), "h1");
	add_instance(e, "h1", 1, 256, "Running");
	assert_string_equal(pick(e, small(1, 256)), "");
}

static void test_zone(void **state)
{
	struct env *e = *state;
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h-big", "z1", 64, 65536, 1000, 100, "[]", 0);
	add_host(e, "h-small", "z2", 2, 2048, 100, 100, "[]", 0);
	rq.zone_id = "z2";
	assert_string_equal(pick(e, rq), "h-small");
	rq.zone_id = "z3";
	assert_string_equal(pick(e, rq), "");
	rq.zone_id = NULL;
	assert_string_equal(pick(e, rq), "h-big");
}

/* A system image must be on the host; an account's image (from the blob store) anywhere. */
static void test_system_image(void **state)
{
	struct env *e = *state;
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h-without", "z1", 64, 65536, 1000, 100, "[\"other\"]", 0);
	add_host(e, "h-with", "z1", 2, 2048, 100, 100, "[\"other\", \"img-a\"]", 0);
	rq.image_id = "img-a";
	rq.system_image = true;
	assert_string_equal(pick(e, rq), "h-with");
	rq.image_id = "img-b";
	assert_string_equal(pick(e, rq), "");
	rq.system_image = false;
	assert_string_equal(pick(e, rq), "h-without");
}

/* Hosts already tried (a failed create moving on) are never picked again. */
static void test_exclude(void **state)
{
	struct env *e = *state;
	const char *tried[] = { "h-a", "h-b" };
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h-a", "z1", 64, 65536, 1000, 100, "[]", 0);
	add_host(e, "h-b", "z1", 64, 32768, 1000, 100, "[]", 0);
	rq.exclude = tried;
	rq.n_exclude = 1;
	assert_string_equal(pick(e, rq), "h-b");
	rq.n_exclude = 2;
	assert_string_equal(pick(e, rq), "");
}

/* Spread: the most free memory (after what is booked); stack: the least that still fits. */
static void test_weighers(void **state)
{
	struct env *e = *state;

	add_host(e, "h-a", "z1", 64, 8192, 1000, 100, "[]", 0); /* (8192-512)*1.5 = 11520 */
	add_host(e, "h-b", "z1", 64, 4096, 1000, 100, "[]", 0); /* 5376 */
	add_host(e, "h-c", "z1", 64, 6144, 1000, 100, "[]", 0); /* 8448 */
	assert_string_equal(pick(e, small(1, 256)), "h-a");
	add_instance(e, "h-a", 1, 4096, "Running"); /* h-a: 7424 free, h-c: 8448 */
	assert_string_equal(pick(e, small(1, 256)), "h-c");
	e->t.c.cfg.stack = true;
	assert_string_equal(pick(e, small(1, 256)), "h-b");
	/* Stack still never picks a host without room. */
	assert_string_equal(pick(e, small(1, 6000)), "h-a");
}

/* Load balancers: the alive host of the zone with the fewest LBs and instances' public IPs. */
static void test_schedule_lb(void **state)
{
	struct env *e = *state;
	char host[64], zone[64];

	assert_int_equal(ctl_schedule_lb(&e->t.c, e->t.db, NULL, host, zone), -ENOSPC);
	add_host(e, "h-a", "z1", 1, 1024, 10, 1, "[]", 0);
	add_host(e, "h-b", "z2", 1, 1024, 10, 1, "[]", 0);
	add_host(e, "h-dead", "z2", 1, 1024, 10, 1, "[]", 100);
	exec(e, "INSERT INTO public_ips (address, account_id, owner_id, host_id, state, created_at)"
		" VALUES ('192.0.2.1', 'acc', 'i-x', 'h-a', 'active', 0)");
	assert_int_equal(ctl_schedule_lb(&e->t.c, e->t.db, NULL, host, zone), 0);
	assert_string_equal(host, "h-b");
	assert_string_equal(zone, "z2");
	assert_int_equal(ctl_schedule_lb(&e->t.c, e->t.db, "z1", host, zone), 0);
	assert_string_equal(host, "h-a");
	assert_int_equal(ctl_schedule_lb(&e->t.c, e->t.db, "z9", host, zone), -ENOSPC);
}

/* Storage: a host with an OSD down, or whose agent cannot reach the cluster, is filtered;
 * one without OSDs, or with all up, is not; without [ceph] nothing is; a stale reading
 * (unknown) filters nothing. */
static struct ctl_ceph_snap *snap_with(const char *host, int osd, bool up, long long age)
{
	struct ctl_ceph_snap *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->taken_at = time(NULL) - age;
	snprintf(s->health, sizeof(s->health), "%s", up ? "HEALTH_OK" : "HEALTH_WARN");
	s->osds[0] = (struct ctl_ceph_osd){ .id = osd, .up = up, .in = true };
	snprintf(s->osds[0].host, sizeof(s->osds[0].host), "%s", host);
	s->n_osds = 1;
	return s;
}

static void test_storage_down_filtered(void **state)
{
	struct env *e = *state;
	const struct ctl_ceph_snap *held;
	char why[256];

	/* h-a has more free memory: spread picks it while its storage is fine. */
	add_host(e, "h-a", "z1", 8, 8192, 100, 100, "[]", 0);
	add_host(e, "h-b", "z1", 8, 4096, 100, 100, "[]", 0);
	/* No [ceph]: storage none, no filter, even with an agent's report. */
	ctl_ceph_agent_report(&e->t.c, "h-a", false, "ignored");
	assert_int_equal(ctl_ceph_host_state(&e->t.c, NULL, "h-a", why, sizeof(why)), CTL_STORAGE_NONE);
	assert_string_equal(pick(e, small(1, 256)), "h-a");

	e->t.c.cfg.ceph_conf = "/nonexistent/ceph.conf";
	assert_int_equal(ctl_ceph_new(&e->t.c), 0);
	assert_non_null(e->t.c.ceph);
	/* Not read yet: unknown, not filtered. */
	assert_string_equal(pick(e, small(1, 256)), "h-a");
	ctl_ceph_publish(&e->t.c, snap_with("h-a", 7, true, 0));
	assert_string_equal(pick(e, small(1, 256)), "h-a");
	ctl_ceph_publish(&e->t.c, snap_with("h-a", 7, false, 0));
	held = ctl_ceph_acquire(&e->t.c);
	assert_int_equal(ctl_ceph_host_state(&e->t.c, held, "h-a", why, sizeof(why)), CTL_STORAGE_DOWN);
	assert_string_equal(why, "osd.7 down");
	assert_int_equal(ctl_ceph_host_state(&e->t.c, held, "h-b", why, sizeof(why)), CTL_STORAGE_OK);
	/* A reading replaced while held stays readable until released. */
	ctl_ceph_publish(&e->t.c, snap_with("h-a", 7, false, 0));
	assert_int_equal(held->osds[0].id, 7);
	ctl_ceph_release(&e->t.c, held);
	assert_string_equal(pick(e, small(1, 256)), "h-b");
	/* Both filtered: no host. */
	ctl_ceph_agent_report(&e->t.c, "h-b", false, "rados_connect: timed out");
	assert_string_equal(pick(e, small(1, 256)), "");
	/* A stale reading is no reason to filter h-a; h-b's agent still reports down. */
	ctl_ceph_publish(&e->t.c, snap_with("h-a", 7, false, 3600));
	assert_string_equal(pick(e, small(1, 256)), "h-a");
	ctl_ceph_agent_report(&e->t.c, "h-b", true, "");
	ctl_ceph_publish(&e->t.c, snap_with("h-a", 7, false, 0));
	assert_string_equal(pick(e, small(1, 256)), "h-b");
	ctl_ceph_free(&e->t.c);
}

/* ---- deployment sets ---- */

static void add_set(struct env *e, const char *id, const char *on_unable)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO deployment_sets (deployment_set_id, account_id, name, description, strategy, on_unable,"
		" created_at) VALUES ('%s', 'acc', '', '', 'Availability', '%s', 0)",
		id, on_unable);

	exec(e, sql);
}

/* A member of set on host (NULL: a member being placed again) in zone. */
static void add_member(struct env *e, const char *id, const char *set, const char *host, const char *zone)
{
	_cleanup_free_ char *sql = ecs_strdup_printf(
		"INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type,"
		" vcpus, memory_mib, zone_id, host_id, status, desired, mac, key_pair_name, password_hash, user_data,"
		" internet_max_bandwidth_out, created_at, transition_at, deployment_set_id) VALUES ('%s', 'acc', '', '',"
		" 'h', 'img', 't', 1, 256, '%s', %s%s%s, 'Running', 'running', '52:54:00:00:00:01', '', '', '', 0, 0, 0,"
		" '%s')",
		id, zone, host ? "'" : "", host ? host : "NULL", host ? "'" : "", set);

	exec(e, sql);
}

/* ctl_schedule answers rc for rq (no host), or 0 and want. */
static void expect_rc(struct env *e, struct ctl_sched_request rq, int rc)
{
	char host[64];

	assert_int_equal(ctl_schedule(&e->t.c, e->t.db, &rq, host), rc);
}

static void expect(struct env *e, struct ctl_sched_request rq, const char *want)
{
	char host[64];

	assert_int_equal(ctl_schedule(&e->t.c, e->t.db, &rq, host), 0);
	assert_string_equal(host, want);
}

static const char *member_set(struct env *e, const char *id)
{
	static char set[64];
	sqlite3_stmt *st = ctl_db_prepare_args(e->t.db, "SELECT deployment_set_id FROM instances WHERE instance_id = ?1",
					       &id, 1);

	assert_non_null(st);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(set, sizeof(set), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return set;
}

/* A new member goes to a host without one, even against the weigher; none left: -EXFULL
 * (a request outside the set still finds room). */
static void test_deployset_distinct_hosts(void **state)
{
	struct env *e = *state;
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h-a", "z1", 64, 65536, 1000, 100, "[]", 0);
	add_host(e, "h-b", "z1", 64, 32768, 1000, 100, "[]", 0);
	add_host(e, "h-c", "z1", 64, 4096, 1000, 100, "[]", 0);
	add_set(e, "ds-one", "CancelMembershipAndStart");
	add_set(e, "ds-other", "CancelMembershipAndStart");
	rq.deployment_set_id = "ds-one";
	expect(e, rq, "h-a");
	add_member(e, "i-m1", "ds-one", "h-a", "z1");
	add_member(e, "i-o1", "ds-other", "h-b", "z1"); /* another set's member is no obstacle */
	expect(e, rq, "h-b");
	add_member(e, "i-m2", "ds-one", "h-b", "z1");
	expect(e, rq, "h-c");
	add_member(e, "i-m3", "ds-one", "h-c", "z1");
	expect_rc(e, rq, -EXFULL);
	/* A deleted member frees its host. */
	exec(e, "UPDATE instances SET deleted = 1 WHERE instance_id = 'i-m2'");
	expect(e, rq, "h-b");
	/* No room at all stays -ENOSPC, set or not. */
	rq.memory_mib = 1 << 20;
	expect_rc(e, rq, -ENOSPC);
	rq = small(1, 256);
	expect(e, rq, "h-a");
}

/* At most CTL_DEPLOYSET_MAX_PER_ZONE members per zone, wherever they run. */
static void test_deployset_zone_cap(void **state)
{
	struct env *e = *state;
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h-z1", "z1", 64, 65536, 1000, 100, "[]", 0);
	add_host(e, "h-z2", "z2", 64, 4096, 1000, 100, "[]", 0);
	add_set(e, "ds-cap", "CancelMembershipAndStart");
	for (int i = 0; i < CTL_DEPLOYSET_MAX_PER_ZONE; i++) {
		char id[32], h[32];

		snprintf(id, sizeof(id), "i-cap%d", i);
		snprintf(h, sizeof(h), "h-gone%d", i); /* hosts not alive any more: members still count */
		add_member(e, id, "ds-cap", h, "z1");
	}
	rq.deployment_set_id = "ds-cap";
	expect(e, rq, "h-z2");
	rq.zone_id = "z1";
	expect_rc(e, rq, -EXFULL);
}

/* A member placed again (heal, a failed create moving on) keeps the rule where it can;
 * otherwise CancelMembershipAndStart takes the best host and leaves the set, KeepStopped
 * stays unplaced. */
static void test_deployset_placed_again(void **state)
{
	struct env *e = *state;
	struct ctl_sched_request rq = small(1, 256);

	add_host(e, "h-a", "z1", 64, 65536, 1000, 100, "[]", 0);
	add_host(e, "h-b", "z1", 64, 4096, 1000, 100, "[]", 0);
	add_host(e, "h-dead", "z1", 64, 65536, 1000, 100, "[]", 100);
	add_set(e, "ds-soft", "CancelMembershipAndStart");
	add_set(e, "ds-keep", "KeepStopped");
	add_member(e, "i-s1", "ds-soft", "h-a", "z1");
	add_member(e, "i-s2", "ds-soft", NULL, "z1"); /* was on h-dead */
	rq.instance_id = "i-s2";
	expect(e, rq, "h-b");
	assert_string_equal(member_set(e, "i-s2"), "ds-soft");
	/* h-b taken too: the best host, and the instance leaves its set. */
	add_member(e, "i-s3", "ds-soft", "h-b", "z1");
	expect(e, rq, "h-a");
	assert_string_equal(member_set(e, "i-s2"), "");
	/* KeepStopped: not placed while no host keeps the rule. */
	add_member(e, "i-k1", "ds-keep", "h-a", "z1");
	add_member(e, "i-k2", "ds-keep", "h-b", "z1");
	add_member(e, "i-k3", "ds-keep", NULL, "z1");
	rq.instance_id = "i-k3";
	expect_rc(e, rq, -EXFULL);
	assert_string_equal(member_set(e, "i-k3"), "ds-keep");
	exec(e, "UPDATE instances SET deleted = 1 WHERE instance_id = 'i-k2'");
	expect(e, rq, "h-b");
	/* An instance in no set: no rule. */
	add_instance(e, "h-a", 1, 256, "Running");
	rq.instance_id = "i-test0";
	expect(e, rq, "h-a");
}

UNIT_MAIN("ctl_scheduler", setup, ctl_test_env_teardown, NULL, NULL,
	  cmocka_unit_test(test_no_host),
	  cmocka_unit_test(test_dead_host_skipped),
	  cmocka_unit_test(test_vcpu_overcommit),
	  cmocka_unit_test(test_memory_overcommit),
	  cmocka_unit_test(test_disk_room),
	  cmocka_unit_test(test_max_instances),
	  cmocka_unit_test(test_zone),
	  cmocka_unit_test(test_system_image),
	  cmocka_unit_test(test_exclude),
	  cmocka_unit_test(test_weighers),
	  cmocka_unit_test(test_schedule_lb),
	  cmocka_unit_test(test_storage_down_filtered),
	  cmocka_unit_test(test_deployset_distinct_hosts),
	  cmocka_unit_test(test_deployset_zone_cap),
	  cmocka_unit_test(test_deployset_placed_again))
