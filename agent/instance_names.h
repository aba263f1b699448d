/* instance_names.h: what the agent derives from an instance id alone: its domain's name,
 * its taps' names, its directory, and whether its domain is stopped. Below instance.c, so
 * the files instance.c uses (volumes, snapshots, security groups) need not include it. */
#ifndef AGENT_INSTANCE_NAMES_H
#define AGENT_INSTANCE_NAMES_H

#include <stdbool.h>

struct agent;

/* Names the agent derives from an instance id. Caller frees. */
char *agent_instance_domain_name(const char *id);
char *agent_instance_tap_name(struct agent *a, const char *id, unsigned nic);
char *agent_instance_dir(struct agent *a, const char *id);

/* Is the instance's domain shut off (or absent)? false when libvirt cannot say. */
bool agent_instance_is_stopped(struct agent *a, const char *id);

#endif
