/* verbtable.c: the table of every verb, in help order, and its lookups (verbtable.h). */
#include "verbtable.h"

#include <stdio.h>

#include "util.h"

const struct ecsctl_group ecsctl_groups[] = {
	{ "disk", "data disks: create, ls, attach, detach, resize, rm" },
	{ "snapshot", "disk snapshots: create, ls, rm, prune" },
	{ "image", "images: create, ls, rm, import" },
	{ "keypair", "SSH key pairs: create, import, ls, rm" },
	{ "policy", "automatic snapshot policies: create, ls, apply, cancel, rm" },
	{ "deployset", "deployment sets (members on distinct hosts): create, ls, rm" },
	{ "sg", "security groups: create, ls, show, allow, deny, revoke, join, leave, rm" },
	{ "lb", "load balancers (SLB): create, ls, show, rm, listener-…, backend-…, health" },
	{ "eip", "public IPs of instances: allocate, release, ls" },
	{ "host", "hosts and their storage (administrators): ls, show" },
	{ "oss", "object storage (ecs-ossd, oss_endpoint): mb, rb, ls, cp, rm, presign" },
	{ NULL },
};

static const struct ecsctl_verb *const tables[] = {
	ecsctl_instance_verbs, ecsctl_events_verbs, ecsctl_ssh_verbs,    ecsctl_disk_verbs,	 ecsctl_snapshot_verbs,
	ecsctl_image_verbs,    ecsctl_keypair_verbs, ecsctl_policy_verbs, ecsctl_deployset_verbs, ecsctl_sg_verbs, ecsctl_lb_verbs,
	ecsctl_eip_verbs,      ecsctl_host_verbs,    ecsctl_oss_verbs,     ecsctl_api_verbs,
	ecsctl_help_verbs,
};

const struct ecsctl_verb *ecsctl_verb_at(size_t i)
{
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		for (const struct ecsctl_verb *v = tables[t]; v->name; v++) {
			if (i == 0)
				return v;
			i--;
		}
	}
	return NULL;
}

const struct ecsctl_verb *ecsctl_verb_find(const char *group, const char *name)
{
	const struct ecsctl_verb *v;

	for (size_t i = 0; (v = ecsctl_verb_at(i)); i++)
		if (streq(v->name, name) && (group ? streq(v->group, group) : !v->group))
			return v;
	return NULL;
}

const struct ecsctl_group *ecsctl_group_find(const char *name)
{
	for (const struct ecsctl_group *g = ecsctl_groups; g->name; g++)
		if (streq(g->name, name))
			return g;
	return NULL;
}

const struct ecsctl_flag *ecsctl_flag_find(const struct ecsctl_flag *flags, const char *name)
{
	for (const struct ecsctl_flag *f = flags; f && f->name; f++)
		if (streq(f->name, name))
			return f;
	return NULL;
}

void ecsctl_verb_fullname(const struct ecsctl_verb *v, char *buf, size_t size)
{
	if (v->group)
		snprintf(buf, size, "ecsctl %s %s", v->group, v->name);
	else
		snprintf(buf, size, "ecsctl %s", v->name);
}
