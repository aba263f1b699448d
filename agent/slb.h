/* slb.h: layer-4 load balancers and public IPs on this host (docs/slb.md; the API in
 * docs/agent-api.md, "Load balancers and public IPs").
 *
 * A load balancer's or public IP's document goes to the store (kinds "lb" and "eip") before
 * anything touches the kernel; then its address goes on the bridge (/32) and the rules are
 * applied through libecsnf (netfilter/nf_slb.h). A delete marks the document first and
 * drops it once the rules and the address are gone, so a crash at any step is finished by
 * the next converge (at start and at every reconciler pass, which also re-reads what the
 * kernel holds and puts right any difference).
 *
 * Health checks run in one thread over non-blocking sockets (epoll): per running listener of
 * an active LB with checks enabled, per backend, a TCP connect, an HTTP GET (the status
 * code's class checked) or a UDP probe (an ICMP port unreachable fails it), from the host
 * straight to the backend's address. A backend goes abnormal after unhealthy_threshold
 * failures in a row and back after healthy_threshold successes; each change re-applies only
 * that LB's listener chains and is kept (kind "lbhealth"), so a restarted agent starts from
 * what it last saw. Statuses: "normal", "abnormal", or "unavailable" when the listener is
 * stopped, the LB inactive or checks disabled (the backend then takes traffic). */
#ifndef AGENT_SLB_H
#define AGENT_SLB_H

#include <json-c/json.h>

struct agent;
struct agent_err;

/* Load the documents, converge, start the health checker. */
int agent_slb_init(struct agent *a);
/* Stop the health checker; the kernel keeps the rules and addresses. */
void agent_slb_free(struct agent *a);
/* Finish interrupted deletes, put the addresses back, compare what the kernel holds with
 * the rendering and re-apply on a difference. Returns how many problems it saw. */
int agent_slb_converge(struct agent *a);

/* What the agent holds, as GET /v1/load-balancers and /v1/public-ips list it, by id: added
 * to the heartbeat's facts as "load_balancers" and "public_ips" (arrays of strings), so the
 * controller compares them with what it wants on this host at every heartbeat. Nothing
 * when load balancing is not running. */
void agent_slb_held(struct agent *a, struct json_object *facts);

/* The API: method, resource ("load-balancers" or "public-ips"), id (NULL: the list) and the
 * PUT body. The answer in *ret; errors in err (400, 404, 405, 409, 500). */
int agent_slb_call(struct agent *a, const char *method, const char *resource, const char *id,
		   struct json_object *body, struct json_object **ret, struct agent_err *err);

/* Check a PUT body strictly; *ret_doc is the document with every default filled in. */
int agent_slb_lb_parse(const char *id, struct json_object *body, struct json_object **ret_doc,
		       struct agent_err *err);
int agent_slb_eip_parse(const char *public_ip, struct json_object *body, struct json_object **ret_doc,
			struct agent_err *err);

#endif
