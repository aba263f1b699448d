#include "instance_names.h"

#include <string.h>

#include "agent.h"
#include "domain.h"
#include "util.h"
#include "virt.h"

char *agent_instance_domain_name(const char *id)
{
	return ecs_strdup_printf("%s%s", AGENT_DOMAIN_PREFIX, id);
}

char *agent_instance_tap_name(struct agent *a, const char *id, unsigned nic)
{
	/* prefix + as much of the id's random part as fits + the NIC's index: 15 characters. */
	const char *rnd = strchr(id, '-') ? strchr(id, '-') + 1 : id;
	int keep = 15 - (int)strlen(a->cfg.tap_prefix) - 1;

	return ecs_strdup_printf("%s%.*s%u", a->cfg.tap_prefix, keep, rnd, nic % 10);
}

char *agent_instance_dir(struct agent *a, const char *id)
{
	return ecs_strdup_printf("%s/%s", a->instances_dir, id);
}

bool agent_instance_is_stopped(struct agent *a, const char *id)
{
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	enum agent_domain_state st = AGENT_DOMAIN_OTHER;
	virConnectPtr conn = agent_virt_conn(a->virt);

	if (!conn)
		return false;
	agent_domain_get_state(conn, dom, &st, NULL);
	virConnectClose(conn);
	return st == AGENT_DOMAIN_SHUTOFF || st == AGENT_DOMAIN_MISSING || st == AGENT_DOMAIN_CRASHED;
}
