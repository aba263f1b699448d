/* nf_secgroup.h: security groups rendered to iptables-restore and ipset input for one host.
 *
 * The model is what the agent knows of a host: groups (rules and member addresses) and NICs
 * (a tap, its MAC and IP, the groups it is in). Rendering is pure and deterministic; applying
 * runs iptables-restore --noflush and ipset restore on the project's own chains and sets only.
 *
 * Chains (P = the prefix, e.g. "ECS"), all in table filter; these five kinds are the
 * security groups' chains, and no other chain is ever read, flushed or deleted (so e.g. the
 * metadata guard's P-META or SLB chains with the same prefix are left alone):
 *   P-FWD        jumped to first from FORWARD; dispatches by physdev: first every NIC's
 *                egress chain (--physdev-in), then every NIC's ingress chain (--physdev-out),
 *                then ACCEPT for what a NIC sent that no local NIC receives (--physdev-in)
 *   P-I-<tap>    traffic bridged to the NIC (ingress): established/related accepted, invalid
 *                dropped, the rules, then members of the NIC's own groups, then DROP
 *   P-O-<tap>    traffic bridged from the NIC (egress): anti-spoofing (P-S-<tap>) first (a
 *                spoofed packet could match a neighbour's established flow), then
 *                established/related, invalid dropped, the rules, then allowed. Allowed
 *                here is RETURN, not ACCEPT: a packet from one local NIC to another must
 *                pass the sender's egress and then the receiver's ingress, and an ACCEPT
 *                would end the walk through P-FWD before the ingress chain
 *   P-S-<tap>    the anti-spoofing check alone (the NIC's IP/32 with its MAC, and DHCP
 *                discovery 0.0.0.0:68 -> 255.255.255.255:67 from its MAC, RETURN; the rest
 *                DROP), jumped from P-O-<tap> and from P-INP for traffic to the host
 *   P-INP        jumped to first from INPUT; dispatches by physdev to P-S-<tap>
 * A rule matches its peer by source address in ingress chains and by destination in egress
 * ones: a CIDR with -s/-d (masked as iptables stores it; /0 matches every address), a peer
 * group with -m set; tcp/udp ports are destination ports.
 * Ipsets: one hash:ip set per group referenced (as a rule's peer group or a NIC's own group),
 * named P-<first 10 hex digits of the SHA-256 of the group id> (nf_set_name), filled with
 * the group's member addresses; P-<hash>-t is its temporary twin while it is refilled.
 *
 * Rule order in a chain: priority (smaller first), then DROP before ACCEPT, then protocol,
 * ports, address (CIDRs before peer groups) and peer group id; a rule given twice (in one
 * group or in two of the NIC's groups) is rendered once. So the text depends only on the
 * model's contents, never on the order they are given in.
 */
#ifndef ECS_NF_SECGROUP_H
#define ECS_NF_SECGROUP_H

#include <stdbool.h>
#include <stddef.h>

#define NF_PREFIX_MAX 8	     /* chain names hold 28 characters: P-I-<tap> */
#define NF_TAP_MAX 15	     /* IFNAMSIZ - 1 */
#define NF_GROUP_ID_MAX 64
#define NF_RULES_PER_GROUP_MAX 200
#define NF_GROUPS_PER_NIC_MAX 5
#define NF_PRIORITY_MIN 1
#define NF_PRIORITY_MAX 100
#define NF_MEMBERS_PER_GROUP_MAX 65536 /* hash:ip's default maxelem */
#define NF_HOST_GROUPS_MAX 4096
#define NF_HOST_NICS_MAX 1024
#define NF_CHAIN_MAX 28		     /* iptables' chain name limit */
#define NF_SET_NAME_MAX 31	     /* ipset's (IPSET_MAXNAMELEN - 1) */

enum nf_direction { NF_INGRESS, NF_EGRESS };
enum nf_proto { NF_PROTO_ALL, NF_PROTO_TCP, NF_PROTO_UDP, NF_PROTO_ICMP, NF_PROTO_GRE };
enum nf_policy { NF_ACCEPT, NF_DROP };

struct nf_rule {
	enum nf_direction direction;
	enum nf_proto proto;
	int port_from, port_to;	     /* tcp/udp: 1-65535, from <= to; -1/-1 = every port */
	const char *cidr;	     /* peer "a.b.c.d/len" (or a bare address = /32), or NULL */
	const char *peer_group_id;   /* peer group (its members' addresses), or NULL; one of cidr or this */
	enum nf_policy policy;
	int priority;		     /* 1-100; smaller wins; at equal priority drop wins */
};

struct nf_group {
	const char *group_id;	     /* [A-Za-z0-9_-], 1-64 */
	const struct nf_rule *rules;
	size_t n_rules;
	const char *const *members;  /* member NICs' IPv4 addresses (at most NF_MEMBERS_PER_GROUP_MAX) */
	size_t n_members;
};

struct nf_nic {
	const char *tap;	     /* [A-Za-z0-9_.-], 1-15, no leading '-', not "." or ".." */
	const char *mac;	     /* xx:xx:xx:xx:xx:xx, either case (rendered lower-case) */
	const char *ip;		     /* IPv4, canonical dotted quad */
	const char *const *group_ids;
	size_t n_groups;	     /* 1-5 */
};

struct nf_host {
	const char *prefix;	     /* [A-Za-z0-9_], 1-8 */
	const struct nf_group *groups;
	size_t n_groups;
	const struct nf_nic *nics;
	size_t n_nics;
};

/* The set of a group: prefix-<10 hex digits>. out holds NF_SET_NAME_MAX + 1 bytes. Returns 0
 * or -EINVAL (bad prefix). */
int nf_set_name(const char *prefix, const char *group_id, char *out);

/* Check the whole model (names, addresses, ports, priorities, limits, every group a NIC or a
 * rule names exists). Returns 0 or -EINVAL with a message in *ret_error (malloc'd). */
int nf_host_validate(const struct nf_host *h, char **ret_error);

/* The ipset restore text for every set the host needs (the NICs' own groups and the peer
 * groups their rules name; sorted by name, members sorted and unique): created if absent,
 * filled through a temporary set and swapped, so a set is never seen half full. */
int nf_render_sets(const struct nf_host *h, char **ret);

/* iptables-restore --noflush text (one "*filter … COMMIT" transaction) declaring and filling
 * the chains of the NICs named in only_taps (all NICs when only_taps is NULL), and, when
 * with_dispatch, P-FWD and P-INP, the jumps to them from FORWARD and INPUT (exactly one each,
 * first; existing_*_jumps is how many there are now, from nf_read_state) and the removal of
 * chains named in stale_taps (NICs gone: flushed, then deleted once the regenerated P-FWD and
 * P-INP no longer jump to them). only_taps must name NICs of the model; stale_taps must
 * not, and need with_dispatch. Lines are in iptables-save's own spelling, so
 * nf_read_state can compare what the kernel holds with what was rendered. */
int nf_render_filter(const struct nf_host *h, const char *const *only_taps, size_t n_only, bool with_dispatch,
		     int existing_forward_jumps, int existing_input_jumps, const char *const *stale_taps,
		     size_t n_stale, char **ret);

/* What the kernel holds of the project's: the iptables-save lines of every security-group
 * chain (P-FWD, P-INP, P-I-*, P-O-*, P-S-*: each chain's "-A" lines, in order, in *ret_text,
 * grouped by chain, chain order sorted by strcmp), and how many jumps "-A FORWARD -j P-FWD"
 * and "-A INPUT -j P-INP" there are. */
int nf_read_state(const char *prefix, char **ret_text, int *ret_forward_jumps, int *ret_input_jumps);

/* The same view rendered from the model (to compare with nf_read_state's text). */
int nf_render_expected(const struct nf_host *h, char **ret);

/* Apply the whole host: sets first, then one iptables-restore --noflush; removes chains and
 * sets with the prefix that the model no longer has (after the transaction that removed the
 * last reference to them). Touches nothing else. Applies are serialised by one mutex. */
int nf_apply_host(const struct nf_host *h);

/* Apply only the chains of the NICs in taps (their rules changed; none: the sets alone) and
 * every set the host needs (no ipset command when the sets are what this process restored
 * last); the dispatch chains are left as they are, so the NICs must
 * have been applied once by nf_apply_host. Stale chains and sets are left for it too. */
int nf_apply_nics(const struct nf_host *h, const char *const *taps, size_t n_taps);

/* Remove every security-group chain with the prefix (the five kinds above), the jumps to
 * P-FWD and P-INP, and every set named P-<10 hex digits> (or its -t twin). */
int nf_remove_all(const char *prefix);

/* Delete the conntrack entries of flows to or from ip. The agent does not need it to cut a
 * revoked rule's flows (the rules see every original-direction packet, see the ingress chain
 * in nf_secgroup.c); it is for an operator clearing a NIC's flows. Flows still allowed are
 * picked up again as new by conntrack's loose tracking and pass; the
 * rest are dropped). */
int nf_conntrack_flush_ip(const char *ip);

#endif
