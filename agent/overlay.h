/* overlay.h: the host's end of the VXLAN overlay (agent/overlay.c). Off when
 * [network] vxlan_vni is 0. */
#ifndef AGENT_OVERLAY_H
#define AGENT_OVERLAY_H

#include <json-c/json.h>

struct agent;

/* The VXLAN device on the bridge with the bridge's MAC, the redirect of frames for the host
 * to the bridge, and a->overlay_mtu (the guests' MTU). Idempotent: the reconciler calls it
 * again. 0 when there is no overlay; a negative errno, logged. */
int agent_overlay_ensure(struct agent *a);

/* The flood list made the underlay addresses in list (a heartbeat answer's
 * overlay_peers), this host's own left out. Not an array: nothing changes. */
void agent_overlay_peers(struct agent *a, struct json_object *list);

#endif
