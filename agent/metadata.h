/* metadata.h: the instance metadata service at http://100.100.100.200/ as guests see it
 * (ECS's layout), answering each guest only about itself. GET only; text/plain.
 *
 *   /                                  "2016-01-01" and "latest" (the same tree)
 *   /latest/                           "meta-data", "user-data"
 *   /latest/meta-data/                 the item list, one a line, directories with a '/'
 *   /latest/meta-data/instance-id      hostname  private-ipv4  mac  region-id  zone-id
 *   /latest/meta-data/public-keys/     "0/" (ECS lists key ids as directories);
 *                                      public-keys/0/ "openssh-key"; public-keys/0/openssh-key
 *   /latest/user-data                  the user-data bytes (404 when none)
 *
 * Paths are accepted with or without a trailing slash, and repeated slashes count as one.
 * A request is answered from the instance whose private address is the request's source
 * address; any other source gets 404 for every path, the same 404 as an unknown path.
 *
 * The guard rules (agent_metadata_guard_*) drop, at the host's INPUT, anything a tap sends
 * to the metadata address from another address or MAC than its own, so a guest cannot pose
 * as its neighbour, and anything another bridge port sends there. They match bridged
 * packets with -m physdev, which sees them at INPUT only while br_netfilter is loaded and
 * net.bridge.bridge-nf-call-iptables=1: the agent makes sure of both. The host's own
 * requests do not cross a bridge port and are left to INPUT's other rules. */
#ifndef AGENT_METADATA_H
#define AGENT_METADATA_H

#include <stddef.h>
#include <stdint.h>

struct agent_metadata_instance {
	char *instance_id;
	char *hostname;
	char *private_ip;
	char *mac;
	char *region_id;
	char *zone_id;
	char *key_pair_name; /* may be NULL; ECS's tree has no place for it */
	char *public_key;    /* OpenSSH line; may be NULL */
	char *user_data;     /* raw bytes (not base64); may be NULL */
	size_t user_data_len;
};

/* Fill *ret for the instance whose private address is ip; -ENOENT when none. The service
 * frees it with agent_metadata_instance_clear. Called from the server's threads at once:
 * it must be thread-safe. An answer whose private_ip is not ip is treated as none. */
typedef int (*agent_metadata_lookup_fn)(const char *ip, struct agent_metadata_instance *ret, void *userdata);

void agent_metadata_instance_clear(struct agent_metadata_instance *mi);

struct agent_metadata;

/* Serve on address:port (the agent puts 100.100.100.200/32 on the bridge). */
int agent_metadata_start(const char *address, uint16_t port, agent_metadata_lookup_fn lookup, void *userdata,
			 struct agent_metadata **ret);
uint16_t agent_metadata_port(const struct agent_metadata *md);
void agent_metadata_stop(struct agent_metadata *md);

/* One tap's identity, for the guard rules. */
struct agent_metadata_nic {
	const char *tap;
	const char *ip;
	const char *mac;
};

/* iptables-restore input (for --noflush) that (re)writes the chain "<prefix>-META" in the
 * filter table and touches nothing else but INPUT's jump to it:
 *
 *   -A <prefix>-META -s IP/32 -m physdev --physdev-in TAP -m mac --mac-source MAC -j RETURN
 *   -A <prefix>-META -m physdev --physdev-in TAP -j DROP         (after each tap's RETURNs)
 *   -A <prefix>-META -m physdev --physdev-is-in -j DROP          (any other bridge port)
 *   -D INPUT -d metadata_ip/32 -j <prefix>-META                  (input_jumps times)
 *   -I INPUT 1 -d metadata_ip/32 -j <prefix>-META
 *
 * input_jumps is how many such jumps INPUT holds now (iptables -S): they all go and one
 * comes back first in INPUT (so no earlier ACCEPT bypasses it), in the same transaction,
 * so exactly one remains and there is no moment without it. A tap may carry several
 * addresses; an address may not sit on two taps; a NIC given twice counts once.
 * Deterministic (sorted by tap, address, MAC; MACs lower-cased). *ret (caller frees) is
 * set only on success. -EINVAL (logged) for: a prefix not 1-23 characters of [A-Za-z0-9_.-]
 * or starting with '-'; a tap not 1-15 of [A-Za-z0-9_.-], or "." or ".."; an address that
 * is not a canonical dotted quad; a MAC not xx:xx:xx:xx:xx:xx; any of them NULL. */
int agent_metadata_guard_render(const char *prefix, const char *metadata_ip, const struct agent_metadata_nic *nics,
				size_t n_nics, int input_jumps, char **ret);

/* Apply the rules with one `iptables-restore -w --noflush` (through lib/cmd.h), reading
 * `iptables -w -S INPUT` first to count the jumps already there. Idempotent. */
int agent_metadata_guard_apply(const char *prefix, const char *metadata_ip, const struct agent_metadata_nic *nics,
			       size_t n_nics);

/* Remove the jump(s) and the chain in one `iptables-restore -w --noflush` transaction,
 * after counting the jumps with `iptables -w -S INPUT`; succeeds when both are gone already. */
int agent_metadata_guard_remove(const char *prefix, const char *metadata_ip);

#endif
