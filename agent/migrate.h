/* migrate.h: live migration between hosts, the agents' part (docs/architecture.md, "Live
 * migration"). The controller drives it over the signed agent API, one call per step:
 *
 *  1. target  POST /v1/instances/ID/migrate-in     {"spec": the create body}
 *     records the instance "incoming": its disks' documents, taps, security-group and
 *     metadata rules, config drive; no domain. Answers {"domain_xml": ...}, the domain as this
 *     host defines it (its own paths, taps and Ceph secret). The reconciler leaves an incoming
 *     instance's domain alone.
 *  2. source  POST /v1/instances/ID/migrate-out    {"target_address": IP, "domain_xml": ...,
 *                                                  "live": bool}
 *     live: libvirt peer-to-peer migration to qemu+tls://IP/system (libvirt's TLS, both ends
 *     proven by the region's CA; [agent] migration_pki_dir), memory over tcp://IP, the disks
 *     shared (RBD, never copied); the domain is persisted there and undefined here. Not live
 *     (or a stopped instance): the guest is shut down here. Either way the instance then
 *     leaves this host (domain, taps, folder, documents; never its disks). A live migration
 *     that fails leaves the guest running here: 500 MigrationFailed.
 *  3. target  POST /v1/instances/ID/migrate-finish {"start": bool}
 *     the instance is an ordinary one of this host: converged (a cold move starts it here).
 *     Answers the describe, with "downtime_ms" of the live switch when libvirt knows it.
 *     target  POST /v1/instances/ID/migrate-abort  {}   removes what step 1 made. */
#ifndef AGENT_MIGRATE_H
#define AGENT_MIGRATE_H

#include <json-c/json.h>

#include "errors.h"
#include "spec.h"

struct agent;

/* One of the steps above: step is "in", "out", "finish" or "abort". */
int agent_migrate_action(struct agent *a, const char *id, const char *step, struct json_object *body,
			 struct json_object **ret, struct agent_err *err);

#endif
