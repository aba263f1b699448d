/* overlay.c: the VXLAN device joining this host's bridge to the other hosts' (docs/
 * architecture.md, "Network").
 *
 * Frames for the host itself (its bridge's MAC) that arrive from the overlay are taken off
 * the bridge's port and handed to the bridge device as if received there (tc: u32 on the
 * destination MAC, mirred ingress redirect). Left to the bridge, such a frame meets
 * br_netfilter's PREROUTING at the port; a load balancer's DNAT there to a backend on
 * another host makes the bridge send the frame back out the port it came from, which it
 * never does (no hairpin), so a client on another host could not reach a VIP. Handed to the
 * bridge device instead, the packet is routed (DNAT, FORWARD, out the bridge). The device
 * carries the bridge's MAC so the redirected frame counts as addressed to the host (its
 * packet type is set by the device that received it; act_skbedit is not in every kernel). */
#include "overlay.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "agent.h"
#include "cmd.h"
#include "log.h"
#include "net.h"
#include "util.h"

#define TC_TIMEOUT_MS 10000

static int tc(const char *const *argv, struct ecs_cmd_result *res)
{
	return ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = TC_TIMEOUT_MS }, res);
}

/* The redirect of frames for mac ("aa:bb:cc:dd:ee:ff") from dev to bridge, made when
 * missing. u32 matches 32-bit aligned words, here before the network header: the MAC's
 * first two bytes are the low half of the word at -16, the other four the word at -12. */
static int redirect_ensure(const char *dev, const char *bridge, const char *mac)
{
	uint8_t b[6];
	char hi[16], lo[16], want_hi[40], want_lo[40], want_to[64];
	struct ecs_cmd_result res = { 0 };
	bool present;
	int r;

	if (ecs_mac_parse(mac, b) < 0)
		return -EINVAL;
	snprintf(hi, sizeof(hi), "0x%02x%02x", b[0], b[1]);
	snprintf(lo, sizeof(lo), "0x%02x%02x%02x%02x", b[2], b[3], b[4], b[5]);
	snprintf(want_hi, sizeof(want_hi), "match 0000%02x%02x/0000ffff at -16", b[0], b[1]);
	snprintf(want_lo, sizeof(want_lo), "match %02x%02x%02x%02x/ffffffff at -12", b[2], b[3], b[4], b[5]);
	snprintf(want_to, sizeof(want_to), "Ingress Redirect to device %s)", bridge);

	r = tc((const char *const[]){ "tc", "filter", "show", "dev", dev, "ingress", NULL }, &res);
	present = r == 0 && strstr(res.out, want_hi) && strstr(res.out, want_lo) && strstr(res.out, want_to) &&
		  !strstr(strstr(res.out, want_to) + 1, "filter protocol");
	ecs_cmd_result_clear(&res);
	if (present)
		return 0;
	/* The device is ours: whatever else is on its ingress goes. */
	r = tc((const char *const[]){ "tc", "qdisc", "replace", "dev", dev, "clsact", NULL }, NULL);
	if (r == 0)
		r = tc((const char *const[]){ "tc", "filter", "del", "dev", dev, "ingress", NULL }, NULL);
	if (r == 0)
		r = tc((const char *const[]){ "tc", "filter", "add", "dev", dev, "ingress", "pref", "10", "protocol", "all",
					   "u32", "match", "u16", hi, "0xffff", "at", "-14", "match", "u32", lo,
					   "0xffffffff", "at", "-12", "action", "mirred", "ingress", "redirect", "dev",
					   bridge, NULL },
		       NULL);
	if (r == 0)
		log_info("overlay: frames for the host handed to the bridge", "device=%s bridge=%s mac=%s", dev, bridge,
			 mac);
	return r;
}

int agent_overlay_ensure(struct agent *a)
{
	const char *dev = a->cfg.vxlan_name, *bridge = a->cfg.bridge;
	char mac[18];
	unsigned mtu = 0;
	int r;

	if (!a->cfg.vxlan_vni)
		return 0;
	r = agent_net_ensure_vxlan(a->net, dev, (uint32_t)a->cfg.vxlan_vni, a->cfg.underlay_ip,
				   (uint16_t)a->cfg.vxlan_port, bridge);
	if (r == 0)
		r = agent_net_copy_mac(a->net, dev, bridge);
	if (r == 0)
		r = agent_net_link_mac(a->net, bridge, mac);
	if (r == 0)
		r = redirect_ensure(dev, bridge, mac);
	if (r == 0)
		r = agent_net_link_mtu(a->net, dev, &mtu);
	if (r < 0) {
		log_error("overlay: cannot set up", "device=%s vni=%d underlay_ip=%s error=%s", dev, a->cfg.vxlan_vni,
			  a->cfg.underlay_ip, strerror(-r));
		return r;
	}
	/* Guests leave room for the 50 bytes VXLAN adds, so the outer packets fit the
	 * underlay's MTU (taken to be the device's) unfragmented. */
	a->overlay_mtu = mtu > 50 + 576 ? mtu - 50 : mtu;
	return 0;
}

void agent_overlay_peers(struct agent *a, struct json_object *list)
{
	_cleanup_free_ const char **peers = NULL;
	size_t n = 0;
	int r;

	if (!a->cfg.vxlan_vni || !list || !json_object_is_type(list, json_type_array))
		return;
	peers = calloc(json_object_array_length(list) + 1, sizeof(*peers));
	if (!peers)
		return;
	/* Our own address would loop every broadcast back into the bridge. */
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i);

		if (json_object_is_type(p, json_type_string) && !streq(json_object_get_string(p), a->cfg.underlay_ip))
			peers[n++] = json_object_get_string(p);
	}
	r = agent_net_set_vxlan_peers(a->net, a->cfg.vxlan_name, peers, n);
	if (r < 0)
		log_warn("overlay: peers not set", "device=%s peers=%zu error=%s", a->cfg.vxlan_name, n, strerror(-r));
}
