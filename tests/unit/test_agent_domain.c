/* Tests for agent/domain.c: the domain XML against golden files (boot from disk with data
 * disks on kvm, direct kernel boot on qemu), the digest it carries, and
 * agent_domain_is_current against libvirt's own test driver (test:///default, in process):
 * a definition is current until the XML would change, so the reconciler does not redefine
 * a stopped domain at every pass (issue 11, defect 4). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libvirt/virterror.h>

#include "domain.h"
#include "golden.h"
#include "util.h"

static const struct agent_domain_disk disks[] = {
	{ .path = "/var/lib/ecs/disks/d-sys0000000000000000.qcow2", .target = "vda", .serial = "sys0000000000000000" },
	{ .path = "/var/lib/ecs/disks/d-data100000000000000.qcow2", .target = "vdb", .serial = "data100000000000000" },
	{ .path = "/var/lib/ecs/disks/d-data200000000000000.qcow2", .target = "vdc", .serial = "data200000000000000" },
};

/* The same disks on RBD: network disks with the monitors and the ceph secret. */
#define RBD(name) .rbd_hosts = "127.0.0.1:6789,10.0.0.2:6789", .rbd_user = "ecs-agent", \
		  .rbd_secret = "3f1c7e52-2c4e-4b0a-9d1e-0123456789ab", .path = "ecs-rbd/" name
static const struct agent_domain_disk rbd_disks[] = {
	{ RBD("disk-d-sys0000000000000000"), .target = "vda", .serial = "sys0000000000000000" },
	{ RBD("disk-d-data100000000000000"), .target = "vdb", .serial = "data100000000000000" },
};

static const struct agent_domain_nic nics[] = {
	{ "ettap0abcdefgh0", "52:54:00:aa:bb:cc" },
	{ "ettap0abcdefgh1", "52:54:00:aa:bb:cd" },
};

static struct agent_domain_spec sample(void)
{
	return (struct agent_domain_spec){
		.name = "ecs-i-abcdefghijklmnopqrst",
		.instance_id = "i-abcdefghijklmnopqrst",
		.type = "kvm",
		.vcpus = 2,
		.memory_mib = 512,
		.disks = disks,
		.n_disks = 3,
		.cdrom = "/var/lib/ecs/instances/i-abcdefghijklmnopqrst/config.iso",
		.nics = nics,
		.n_nics = 2,
		.console_log = "/var/lib/ecs/instances/i-abcdefghijklmnopqrst/console.log",
	};
}

static void golden_xml(const char *name, const struct agent_domain_spec *s)
{
	_cleanup_free_ char *xml = agent_domain_xml(s);
	_cleanup_free_ char *text = NULL;

	assert_non_null(xml);
	text = ecs_strdup_printf("%s\n", xml);
	assert_golden(name, text);
}

static void test_xml_golden(void **state)
{
	struct agent_domain_spec s = sample();

	(void)state;
	golden_xml("agent_domain_kvm_disks.xml", &s);
	s.type = "qemu";
	s.n_disks = 1;
	s.n_nics = 1;
	s.kernel = "/var/lib/ecs/images/tiny/vmlinuz";
	s.initrd = "/var/lib/ecs/images/tiny/initrd.img";
	s.cmdline = "console=ttyS0 root=/dev/vda rw";
	golden_xml("agent_domain_qemu_kernel.xml", &s);
	s.cdrom = NULL;
	s.initrd = NULL;
	s.cmdline = NULL;
	golden_xml("agent_domain_qemu_kernel_bare.xml", &s);
	s = sample();
	s.disks = rbd_disks;
	s.n_disks = 2;
	golden_xml("agent_domain_kvm_rbd.xml", &s);
}

static void test_xml_rejects_bad_specs(void **state)
{
	struct agent_domain_spec s = sample();
	struct agent_domain_disk bad[] = { { .path = "relative.qcow2", .target = "vda" } };
	struct agent_domain_disk bad_rbd[] = {
		{ .path = "/abs/disk", .target = "vda", .rbd_hosts = "h:1", .rbd_user = "u", .rbd_secret = "x" },
		{ .path = "pool/disk", .target = "vda", .rbd_hosts = "h:1", .rbd_user = "u" },
		{ .path = "nopool", .target = "vda", .rbd_hosts = "h:1", .rbd_user = "u", .rbd_secret = "x" },
	};

	(void)state;
	s.vcpus = 0;
	assert_null(agent_domain_xml(&s));
	s = sample();
	s.memory_mib = 8;
	assert_null(agent_domain_xml(&s));
	s = sample();
	s.disks = bad;
	s.n_disks = 1;
	assert_null(agent_domain_xml(&s));
	for (size_t i = 0; i < ARRAY_SIZE(bad_rbd); i++) {
		s = sample();
		s.disks = &bad_rbd[i];
		s.n_disks = 1;
		assert_null(agent_domain_xml(&s));
	}
	s = sample();
	s.console_log = NULL;
	assert_null(agent_domain_xml(&s));
}

static char *digest_of(const char *xml)
{
	const char *p = strstr(xml, "digest=\"");

	assert_non_null(p);
	return strndup(p + 8, 64);
}

static void test_digest_follows_the_content(void **state)
{
	struct agent_domain_spec s = sample();
	_cleanup_free_ char *a = agent_domain_xml(&s), *b = agent_domain_xml(&s), *c = NULL;
	_cleanup_free_ char *da = NULL, *dc = NULL;

	(void)state;
	assert_string_equal(a, b); /* deterministic */
	s.memory_mib = 1024;
	c = agent_domain_xml(&s);
	da = digest_of(a);
	dc = digest_of(c);
	assert_int_equal(strlen(da), 64);
	assert_string_not_equal(da, dc);
}

static void test_is_current_on_the_test_driver(void **state)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	struct agent_domain_spec s = sample();
	_cleanup_free_ char *xml = NULL, *changed = NULL;
	bool current = true;

	(void)state;
	assert_non_null(conn);
	/* The test driver has no such files; a disk-less, NIC-less domain defines anywhere. */
	s.type = "test";
	s.n_disks = 0;
	s.n_nics = 0;
	s.cdrom = NULL;
	xml = agent_domain_xml(&s);
	assert_non_null(xml);

	assert_int_equal(agent_domain_is_current(conn, s.name, xml, &current), 0);
	assert_false(current); /* not defined yet */
	assert_int_equal(agent_domain_define(conn, xml), 0);
	assert_int_equal(agent_domain_is_current(conn, s.name, xml, &current), 0);
	assert_true(current);

	s.vcpus = 3;
	changed = agent_domain_xml(&s);
	assert_int_equal(agent_domain_is_current(conn, s.name, changed, &current), 0);
	assert_false(current);
	assert_int_equal(agent_domain_define(conn, changed), 0);
	assert_int_equal(agent_domain_is_current(conn, s.name, changed, &current), 0);
	assert_true(current);
	assert_int_equal(agent_domain_is_current(conn, s.name, xml, &current), 0);
	assert_false(current);

	/* XML without a digest is never taken as current. */
	assert_int_equal(agent_domain_is_current(conn, s.name, "<domain/>", &current), 0);
	assert_false(current);
	assert_int_equal(agent_domain_remove(conn, s.name), 0);
	assert_int_equal(agent_domain_is_current(conn, s.name, changed, &current), 0);
	assert_false(current);
	virConnectClose(conn);
}

static void quiet(void *userdata, virErrorPtr err)
{
	(void)userdata;
	(void)err;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_golden),
		cmocka_unit_test(test_xml_rejects_bad_specs),
		cmocka_unit_test(test_digest_follows_the_content),
		cmocka_unit_test(test_is_current_on_the_test_driver),
	};

	virSetErrorFunc(NULL, quiet);
	return cmocka_run_group_tests_name("domain", tests, NULL, NULL);
}
