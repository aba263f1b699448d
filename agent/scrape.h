/* scrape.h: the agent's GET /metrics in Prometheus' text format (lib/prom.h's token).
 *
 * Read at scrape time: the agent's instances by libvirt state (every state always shown),
 * the libvirt connection (up, reconnects, errors), the reconciler's passes and their
 * duration, and per instance the guest's counters from the last 15 s sample
 * (agent/metrics.h): CPU seconds, vCPUs, memory, network and disk counters since the domain
 * started. At most AGENT_SCRAPE_MAX_INSTANCES instances are labelled; the gauge
 * ecs_agent_instances_unlabelled says how many more there were. */
#ifndef AGENT_SCRAPE_H
#define AGENT_SCRAPE_H

#include "agent.h"
#include "http_server.h"

#define AGENT_SCRAPE_MAX_INSTANCES 512

/* The route's handler (userdata: struct agent). */
void agent_scrape_handle(const struct ecs_http_request *req, struct ecs_http_response *resp);

#endif
