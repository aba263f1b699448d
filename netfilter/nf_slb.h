/* nf_slb.h: layer-4 load balancers (SLB) and public IPs rendered for iptables-restore, and
 * applied to the kernel, for one host. See docs/slb.md for the design.
 *
 * The model is what the agent knows: load balancers (a VIP, listeners, backends, and each
 * listener's view of which backends are abnormal) and public IPs (1:1 NAT to a private
 * address). Rendering is pure and deterministic; applying runs one `iptables-restore -w
 * --noflush` per change on the project's own chains and the jumps to them, nothing else.
 *
 * Chains (P = the prefix, e.g. "ECS"); in table nat:
 *   P-PRE    jumped to first from PREROUTING: each listener's VIP:port to its chain, then
 *            each public IP DNATed to its private address
 *   P-DOUT   jumped to first from OUTPUT, the same rules, so the host's own clients reach
 *            VIPs and public IPs too
 *   P-POST   jumped to first from POSTROUTING: full-NAT of the flows DNATed to a VIP (SNAT
 *            to the host's bridge address, so replies come back through this host even when
 *            client and backend share the bridge); flows DNATed to a public IP from the
 *            bridge's own subnets likewise (hairpin); then RETURN for traffic to the bridge's
 *            subnets, and each private address SNATed to its public IP
 *   P-L-<h>-<port>[u]
 *            one per running listener of an active LB: <h> the first 8 hex digits of the
 *            SHA-256 of the LB id, "u" for UDP. DNAT to the backends that take traffic:
 *            weight > 0 and not abnormal (or every weight > 0 one when all of those are
 *            abnormal: a listener never drops everything on a health-check fault). wrr:
 *            backend i of n with "-m statistic --mode random --probability w_i/(w_i+…+w_n)",
 *            the last one unconditional; rr: "--mode nth --every n-i --packet 0" (each rule
 *            counts the connections that reached it), the last unconditional
 * and in table filter:
 *   P-LBF    jumped to from FORWARD (appended, so the host's own rules and the security
 *            groups decide first): ACCEPT for the flows above, in case the FORWARD policy
 *            drops
 *
 * Backends are rendered sorted by address (then server id), listeners by VIP, protocol and
 * port, public IPs by address, so the text depends only on the model's contents. Every line
 * is in iptables-save's own spelling, so what the kernel holds compares with the rendering.
 * An inactive LB and a stopped listener have no rules (their VIP then reaches the host). */
#ifndef ECS_NF_SLB_H
#define ECS_NF_SLB_H

#include <stdbool.h>
#include <stddef.h>

#define NF_SLB_LISTENERS_MAX 50
#define NF_SLB_BACKENDS_MAX 200
#define NF_SLB_LBS_MAX 1024
#define NF_SLB_EIPS_MAX 4096
#define NF_SLB_LOCAL_CIDRS_MAX 16
#define NF_SLB_ID_MAX 64	  /* an LB id or a server id: [A-Za-z0-9_-], alphanumeric first */
#define NF_SLB_WEIGHT_MAX 100
#define NF_SLB_CHAIN_MAX 28	  /* iptables' chain name limit */

enum nf_slb_proto { NF_SLB_TCP, NF_SLB_UDP };
enum nf_slb_scheduler { NF_SLB_WRR, NF_SLB_RR };

struct nf_slb_backend {
	const char *server_id;	  /* unique in its LB */
	const char *ip;		  /* canonical dotted quad, unique in its LB */
	int weight;		  /* 0-100; 0: no traffic */
};

struct nf_slb_listener {
	enum nf_slb_proto proto;
	int port;		  /* 1-65535; (proto, port) unique in its LB */
	int backend_port;	  /* 1-65535 */
	enum nf_slb_scheduler scheduler;
	bool running;		  /* false: stopped, no rules */
	const bool *abnormal;	  /* NULL, or one flag per backend of the LB (in the LB's order) */
};

struct nf_slb_lb {
	const char *id;
	const char *address;	  /* the VIP */
	bool active;		  /* false: no rules at all */
	const struct nf_slb_listener *listeners;
	size_t n_listeners;	  /* at most NF_SLB_LISTENERS_MAX */
	const struct nf_slb_backend *backends;
	size_t n_backends;	  /* at most NF_SLB_BACKENDS_MAX */
};

struct nf_slb_eip {
	const char *public_ip;
	const char *private_ip;	  /* one public IP per private address */
};

struct nf_slb_host {
	const char *prefix;	  /* [A-Za-z0-9_], 1-8 */
	const char *snat_ip;	  /* the host's bridge address: the source of full-NAT flows */
	const char *bridge;	  /* the bridge (for P-LBF: what leaves it is routed egress) */
	const char *const *local_cidrs; /* the bridge's subnets "a.b.c.d/len" (at most 16) */
	size_t n_local_cidrs;
	const struct nf_slb_lb *lbs;
	size_t n_lbs;
	const struct nf_slb_eip *eips;
	size_t n_eips;
};

/* Check the whole model: names, addresses (VIPs and public IPs all different, none the
 * SNAT address), ports, weights, limits, chain-name collisions. 0, or -EINVAL with a
 * sentence naming the field in *ret_error (malloc'd). */
int nf_slb_validate(const struct nf_slb_host *h, char **ret_error);

/* The listener chain's name: "P-L-<8 hex>-<port>[u]" into out[NF_SLB_CHAIN_MAX + 1]. */
int nf_slb_chain_name(const char *prefix, const char *lb_id, enum nf_slb_proto proto, int port, char *out);

/* Whether a listener's backend i takes new connections (see the header comment). */
bool nf_slb_backend_serves(const struct nf_slb_lb *lb, const struct nf_slb_listener *l, size_t i);

/* What the kernel holds of ours, read from iptables-save text: our chains' "-A" lines,
 * grouped by chain (chains sorted by strcmp), the names of our chains present, and how
 * many jumps to the dispatch chains each built-in chain has. */
struct nf_slb_state {
	char *text;
	char **chains;		  /* nat and filter chains of ours, sorted */
	size_t n_chains;
	int pre_jumps, out_jumps, post_jumps, fwd_jumps;
};

/* save: iptables-save output (any tables; only *nat and *filter are read). */
int nf_slb_state_parse(const char *prefix, const char *save, struct nf_slb_state *ret);
void nf_slb_state_clear(struct nf_slb_state *s);
/* Run iptables-save and parse it. */
int nf_slb_read_state(const char *prefix, struct nf_slb_state *ret);

/* The view nf_slb_state_parse would give of the kernel once h is applied. */
int nf_slb_render_expected(const struct nf_slb_host *h, char **ret);

/* The iptables-restore --noflush text bringing the kernel from now (NULL: nothing of ours
 * there) to h: every chain declared and filled, the jumps deleted (as many as now has) and
 * one put back (first in PREROUTING, OUTPUT, POSTROUTING; last in FORWARD), chains now has
 * that h lacks flushed and deleted. A model with no LB and no public IP removes everything.
 * "" when there is nothing to do (nothing of ours, nothing wanted). */
int nf_slb_render(const struct nf_slb_host *h, const struct nf_slb_state *now, char **ret);

/* Only the listener chains of one LB (after its health changed): refilled in place, the
 * dispatch left as it is. The LB must be applied already. -ENOENT when h lacks it. */
int nf_slb_render_lb(const struct nf_slb_host *h, const char *lb_id, char **ret);

/* Read the kernel and apply h (one iptables-restore, or none when nothing differs when
 * only_if_different). *ret_changed (may be NULL) tells whether a restore ran. Applies are
 * serialised by one mutex. */
int nf_slb_apply(const struct nf_slb_host *h, bool only_if_different, bool *ret_changed);
/* Apply nf_slb_render_lb's text. */
int nf_slb_apply_lb(const struct nf_slb_host *h, const char *lb_id);
/* Remove every chain of ours and the jumps to them. */
int nf_slb_remove_all(const char *prefix);

/* Forget the UDP flows a listener sent to a backend that left it (conntrack would keep
 * sending a client's datagrams there). Nothing to forget is no error. */
int nf_slb_conntrack_forget(const char *vip, int port, const char *backend_ip);

#endif
