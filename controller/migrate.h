/* migrate.h: live migration of instances between hosts, and hosts drained of them
 * (docs/cluster.md, "Live migration and drain"). Administrator's actions, as DescribeHosts:
 *  - MigrateInstance InstanceId: the instance moves to a host the scheduler picks (the same
 *    filters, its own host excluded); a running one live (libvirt, shared RBD disks, no
 *    copy), a stopped one by its records. An event SystemMaintenance.Migrate records it:
 *    Scheduled, Executing, then Executed (or Failed) with the reason;
 *  - DrainHost HostId: the scheduler places nothing new there, and every instance of it is
 *    migrated off as above; UndrainHost HostId: it takes instances again.
 * A thread does the moves one at a time (ctl_migrate_start). */
#ifndef CTL_MIGRATE_H
#define CTL_MIGRATE_H

#include <json-c/json.h>

#include "ctl.h"

int ctl_migrate_instance(struct ctl_call *call, struct json_object *out);
int ctl_hosts_drain(struct ctl_call *call, struct json_object *out);
int ctl_hosts_undrain(struct ctl_call *call, struct json_object *out);

int ctl_migrate_start(struct ctl *c);
void ctl_migrate_stop(void);

#endif
