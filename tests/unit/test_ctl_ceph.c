/* Tests for controller/ceph.c: parsing the monitor's JSON answers ("status", "df", "osd
 * tree", as Ceph 16 writes them) and a host's storage state from a reading. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "ceph.h"

static const char *status_ok = "{\"fsid\":\"x\",\"health\":{\"status\":\"HEALTH_OK\",\"checks\":{},\"mutes\":[]}}";
static const char *status_warn =
	"{\"health\":{\"status\":\"HEALTH_WARN\",\"checks\":{\"OSD_DOWN\":{\"severity\":\"HEALTH_WARN\","
	"\"summary\":{\"message\":\"1 osds down\",\"count\":1},\"muted\":false},\"OSDMAP_FLAGS\":{\"severity\":"
	"\"HEALTH_WARN\",\"summary\":{\"message\":\"noup flag(s) set\",\"count\":1},\"muted\":false}},\"mutes\":[]}}";
static const char *df =
	"{\"stats\":{\"total_bytes\":4294967296},\"pools\":[{\"name\":\"ecs-rbd\",\"id\":1,\"stats\":{\"stored\":19,"
	"\"objects\":1,\"max_avail\":3775898368}},{\"name\":\"ecs-oss\",\"id\":2,\"stats\":{\"stored\":0,"
	"\"max_avail\":3775898368}}]}";
static const char *tree =
	"{\"nodes\":[{\"id\":-1,\"name\":\"default\",\"type\":\"root\",\"children\":[-3,-5]},{\"id\":-3,\"name\":\"host1\","
	"\"type\":\"host\",\"children\":[0]},{\"id\":-5,\"name\":\"host2\",\"type\":\"host\",\"children\":[2,1]},"
	"{\"id\":0,\"name\":\"osd.0\",\"type\":\"osd\",\"status\":\"up\",\"reweight\":1},{\"id\":1,\"name\":\"osd.1\","
	"\"type\":\"osd\",\"status\":\"down\",\"reweight\":1},{\"id\":2,\"name\":\"osd.2\",\"type\":\"osd\","
	"\"status\":\"down\",\"reweight\":0}],\"stray\":[{\"id\":3,\"name\":\"osd.3\",\"type\":\"osd\","
	"\"status\":\"down\",\"reweight\":0}]}";

static void test_parse(void **state)
{
	struct ctl_ceph_snap *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	assert_int_equal(ctl_ceph_parse(status_ok, df, tree, s), 0);
	assert_string_equal(s->health, "HEALTH_OK");
	assert_int_equal(s->n_checks, 0);
	assert_int_equal(s->n_pools, 2);
	assert_string_equal(s->pools[0].name, "ecs-rbd");
	assert_int_equal(s->pools[0].stored, 19);
	assert_int_equal(s->pools[0].max_avail, 3775898368LL);
	assert_int_equal(s->n_osds, 4);
	assert_int_equal(s->osds[0].id, 0);
	assert_string_equal(s->osds[0].host, "host1");
	assert_true(s->osds[0].up && s->osds[0].in);
	assert_string_equal(s->osds[1].host, "host2");
	assert_false(s->osds[1].up);
	assert_true(s->osds[1].in);
	assert_false(s->osds[2].in);
	assert_string_equal(s->osds[3].host, ""); /* stray: in no host */

	assert_int_equal(ctl_ceph_parse(status_warn, df, tree, s), 0);
	assert_string_equal(s->health, "HEALTH_WARN");
	assert_int_equal(s->n_checks, 2);
	assert_string_equal(s->checks[0].name, "OSD_DOWN");
	assert_string_equal(s->checks[0].severity, "HEALTH_WARN");
	assert_string_equal(s->checks[0].summary, "1 osds down");

	/* Garbage in any answer: an error naming it. */
	assert_int_equal(ctl_ceph_parse("{", df, tree, s), -EBADMSG);
	assert_string_equal(s->error, "cannot read the cluster's status");
	assert_int_equal(ctl_ceph_parse(status_ok, "[]", tree, s), -EBADMSG);
	assert_string_equal(s->error, "cannot read the cluster's df");
	assert_int_equal(ctl_ceph_parse(status_ok, df, "{\"x\":1}", s), -EBADMSG);
	assert_string_equal(s->error, "cannot read the cluster's osd tree");
	free(s);
}

static void test_storage_of(void **state)
{
	struct ctl_ceph_snap *s = calloc(1, sizeof(*s));
	char why[256];

	(void)state;
	assert_non_null(s);
	assert_int_equal(ctl_ceph_parse(status_ok, df, tree, s), 0);
	s->taken_at = 1000;
	assert_int_equal(ctl_storage_of(NULL, 1000, 30, "host1", false, why, sizeof(why)), CTL_STORAGE_NONE);
	assert_int_equal(ctl_storage_of(s, 1000, 30, "host1", false, why, sizeof(why)), CTL_STORAGE_OK);
	assert_string_equal(why, "");
	assert_int_equal(ctl_storage_of(s, 1000, 30, "host2", false, why, sizeof(why)), CTL_STORAGE_DOWN);
	assert_string_equal(why, "osd.1, osd.2 down");
	/* A host without OSDs (compute only) is fine. */
	assert_int_equal(ctl_storage_of(s, 1000, 30, "compute", false, why, sizeof(why)), CTL_STORAGE_OK);
	/* Its agent cannot reach the cluster. */
	assert_int_equal(ctl_storage_of(s, 1000, 30, "host1", true, why, sizeof(why)), CTL_STORAGE_DOWN);
	assert_string_equal(why, "its agent cannot reach the storage cluster");
	/* Stale: unknown, with the age and the last failure. */
	snprintf(s->error, sizeof(s->error), "cannot connect");
	assert_int_equal(ctl_storage_of(s, 1031, 30, "host2", false, why, sizeof(why)), CTL_STORAGE_UNKNOWN);
	assert_string_equal(why, "no reading of the storage cluster for 31s: cannot connect");
	/* A short buffer is cut, never overrun. */
	assert_int_equal(ctl_storage_of(s, 1000, 30, "host2", false, why, 8), CTL_STORAGE_DOWN);
	assert_string_equal(why, "osd.1, ");
	assert_string_equal(ctl_storage_name(CTL_STORAGE_DOWN), "down");
	assert_string_equal(ctl_storage_name(CTL_STORAGE_NONE), "none");
	free(s);
}

UNIT_MAIN("ctl_ceph", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_parse),
	  cmocka_unit_test(test_storage_of))
