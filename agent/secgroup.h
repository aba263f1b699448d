/* secgroup.h: the host's security groups, pulled from the controller and enforced at each
 * instance's taps through libecsnf (netfilter/nf_secgroup.h).
 *
 * The controller's view (docs/agent-api.md, "Security groups") is kept in
 * <data_dir>/security.json, so a restarted agent re-applies what it last knew before the
 * controller answers: the kernel keeps the chains across the restart and the first apply
 * replaces their contents in one transaction, never opening or cutting traffic on the way.
 * An instance the view does not name yet (a create racing the controller's nudge) takes
 * the groups of its spec (`security_group_ids`); a group the view lacks is pulled first, and
 * until it arrives the NIC is isolated (ingress dropped) rather than open. */
#ifndef AGENT_SECGROUP_H
#define AGENT_SECGROUP_H

#include <json-c/json.h>
#include <stdbool.h>

struct agent;
struct agent_instance_spec;

int agent_secgroup_init(struct agent *a);
void agent_secgroup_free(struct agent *a);

/* Pull the view from the controller and apply it; *ret_generation the one applied. */
int agent_secgroup_sync(struct agent *a, long long *ret_generation);
/* The heartbeat's answer named this generation: pull if it is not the one applied. */
void agent_secgroup_generation_seen(struct agent *a, long long generation);
/* Apply the kept view to the instances the host has now (after a create or delete).
 * verify: compare what the kernel holds with the rendering and re-apply all on a
 * difference (the reconciler's periodic check). */
int agent_secgroup_apply(struct agent *a, bool verify);
/* Groups named by an instance spec that the view lacks: pull the view first. */
int agent_secgroup_prepare(struct agent *a, const struct agent_instance_spec *spec);
/* GET /v1/security: {generation, applied_at, nics: [...]} */
struct json_object *agent_secgroup_status(struct agent *a);

#endif
