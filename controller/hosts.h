/* hosts.h: the agents, as the controller knows them: each heartbeat (POST
 * /agent/v1/heartbeat, signed with the host key) records the host's facts and reports its
 * instances' actual states, which become the instances' statuses; a host without a
 * heartbeat for host_dead_after_s is down. GET /agent/v1/instances/ID answers whether an
 * instance the host runs is still wanted there; GET /agent/v1/security-groups answers the
 * host's security view (sgsync.h), and the heartbeat's answer carries the security
 * generation. The calls the other way, to an agent, are agents.h's. */
#ifndef CTL_HOSTS_H
#define CTL_HOSTS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "ctl.h"
#include "http_server.h"

void ctl_hosts_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

/* DescribeHosts (hosts_describe.c): the admin action listing hosts, their OSDs and storage
 * state, and the storage cluster's health and pools. */
int ctl_hosts_describe(struct ctl_call *call, struct json_object *out);

#endif
