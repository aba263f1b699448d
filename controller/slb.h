/* slb.h: load balancers, Alibaba Cloud's classic SLB API (Version 2014-05-15; docs/slb-api.md).
 *
 * A load balancer belongs to one account (another account's id answers as a missing one,
 * InvalidLoadBalancerId.NotFound) and lives on one host, chosen when it is made: an alive
 * host of the zone asked for, the one holding the fewest load balancers and public IPs.
 * Its VIP comes from the private pool (intranet) or the public pool (internet), addrpool.h.
 * Listeners (slb_listener.c) are TCP or UDP, keyed by (protocol, port), made `stopped`;
 * backends are the account's instances with a weight 0-100.
 *
 * Every change is one transaction that also queues the LB's document for its agent
 * (slbsync.h): a refused call changes nothing. DescribeHealthStatus asks the agent. */
#ifndef CTL_SLB_H
#define CTL_SLB_H

#include <json-c/json.h>
#include <sqlite3.h>

#include "addrpool.h"
#include "ctl.h"

#define CTL_SLB_MAX_LISTENERS 50	 /* per LB (the agent's limit) */
#define CTL_SLB_MAX_BACKENDS 200	 /* per LB (the agent's limit) */
#define CTL_SLB_MAX_BACKENDS_CALL 20 /* BackendServers in one call (SLB) */

/* slb.c: load balancers, backends, health */
int ctl_slb_create(struct ctl_call *call, struct json_object *out);		/* CreateLoadBalancer */
int ctl_slb_delete(struct ctl_call *call, struct json_object *out);		/* DeleteLoadBalancer */
int ctl_slb_describe(struct ctl_call *call, struct json_object *out);		/* DescribeLoadBalancers */
int ctl_slb_describe_attribute(struct ctl_call *call, struct json_object *out); /* DescribeLoadBalancerAttribute */
int ctl_slb_set_status(struct ctl_call *call, struct json_object *out);	/* SetLoadBalancerStatus */
int ctl_slb_add_backends(struct ctl_call *call, struct json_object *out);	/* AddBackendServers */
int ctl_slb_remove_backends(struct ctl_call *call, struct json_object *out);	/* RemoveBackendServers */
int ctl_slb_set_backends(struct ctl_call *call, struct json_object *out);	/* SetBackendServers */
int ctl_slb_health(struct ctl_call *call, struct json_object *out);		/* DescribeHealthStatus */

/* slb_listener.c: listeners */
int ctl_slb_listener_create_tcp(struct ctl_call *call, struct json_object *out);   /* CreateLoadBalancerTCPListener */
int ctl_slb_listener_create_udp(struct ctl_call *call, struct json_object *out);   /* CreateLoadBalancerUDPListener */
int ctl_slb_listener_set_tcp(struct ctl_call *call, struct json_object *out);      /* SetLoadBalancerTCPListenerAttribute */
int ctl_slb_listener_set_udp(struct ctl_call *call, struct json_object *out);      /* SetLoadBalancerUDPListenerAttribute */
int ctl_slb_listener_describe_tcp(struct ctl_call *call, struct json_object *out); /* DescribeLoadBalancerTCPListenerAttribute */
int ctl_slb_listener_describe_udp(struct ctl_call *call, struct json_object *out); /* DescribeLoadBalancerUDPListenerAttribute */
int ctl_slb_listener_start(struct ctl_call *call, struct json_object *out);	   /* StartLoadBalancerListener */
int ctl_slb_listener_stop(struct ctl_call *call, struct json_object *out);	   /* StopLoadBalancerListener */
int ctl_slb_listener_delete(struct ctl_call *call, struct json_object *out);	   /* DeleteLoadBalancerListener */

/* ---- shared by slb.c and slb_listener.c ---- */

struct ctl_slb_row {
	char id[64], host_id[64], address[CTL_IP_MAX], status[16];
};

/* Read LoadBalancerId (required) and the caller's LB in db (not deleted), or fail the call
 * with InvalidLoadBalancerId.NotFound. */
int ctl_slb_get(struct ctl_call *call, sqlite3 *db, const char **ret_id, struct ctl_slb_row *ret);

/* A change to one LB: in one IMMEDIATE transaction, read the LB (ctl_slb_get), run fn, queue
 * the LB's document when fn returns 1 (0: nothing changed), commit, wake the job workers. */
typedef int (*ctl_slb_change_fn)(struct ctl_call *call, sqlite3 *db, const struct ctl_slb_row *lb, void *arg);
int ctl_slb_change(struct ctl_call *call, ctl_slb_change_fn fn, void *arg);

#endif
