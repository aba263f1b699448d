/* instance_prep.h: what a create or start prepares beside its disks, each of which may run
 * on a thread of its own while the disks are made (the RBD clone waits on the network, the
 * config drive and the guard on child processes; bg.h): the config drive ISO and the
 * metadata guard rules. The caller joins each before the step that needs it (the ISO before
 * the define, the guard before the create answers). */
#ifndef AGENT_INSTANCE_PREP_H
#define AGENT_INSTANCE_PREP_H

#include "bg.h"

struct agent;
struct agent_instance_spec;

/* Re-apply the metadata guard rules for every NIC of every instance. */
int agent_instance_refresh_guard(struct agent *a);
/* The instance's config drive (cloud-init NoCloud) at path, from its spec. */
int agent_instance_build_config_drive(struct agent *a, const struct agent_instance_spec *spec, const char *path);

#endif
