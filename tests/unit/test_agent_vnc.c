/* Tests for agent/vnc.c: the VNC socket's path found in a domain's live XML as libvirt
 * writes it (and nothing found where there is none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "unit.h"
#include "vnc.h"

static void test_socket_from_xml(void **state)
{
	static const char live[] =
		"<domain><devices><console type='file'/>\n"
		"    <graphics type='vnc' socket='/var/lib/libvirt/qemu/domain-3-ecs-i-x/vnc.sock'>\n"
		"      <listen type='socket' socket='/var/lib/libvirt/qemu/domain-3-ecs-i-x/vnc.sock'/>\n"
		"    </graphics>\n  </devices></domain>";
	static const char listen_only[] = "<graphics type='vnc'>\n<listen type='socket' socket='/run/x/vnc.sock'/>\n</graphics>";
	static const char self_closing[] = "<graphics type=\"vnc\" socket=\"/run/y.sock\"/><video/>";
	char *p;

	(void)state;
	p = agent_vnc_socket_from_xml(live);
	assert_string_equal(p, "/var/lib/libvirt/qemu/domain-3-ecs-i-x/vnc.sock");
	free(p);
	p = agent_vnc_socket_from_xml(listen_only);
	assert_string_equal(p, "/run/x/vnc.sock");
	free(p);
	p = agent_vnc_socket_from_xml(self_closing);
	assert_string_equal(p, "/run/y.sock");
	free(p);
	assert_null(agent_vnc_socket_from_xml(NULL));
	assert_null(agent_vnc_socket_from_xml("<graphics type='spice' socket='/a'/>"));
	assert_null(agent_vnc_socket_from_xml("<graphics type='vnc' port='5900'/><disk socket='/b'/>"));
	assert_null(agent_vnc_socket_from_xml("<graphics type='vnc' socket='relative'/>"));
}

UNIT_MAIN("agent_vnc", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_socket_from_xml))
