/* ippool.h: IPv4 address blocks as the controller's pools see them: parse a CIDR block,
 * print an address, test one (canonical form, inside the block, a gateway of it). Pure
 * functions, below both the configuration (ctl_config.c checks the pools) and the leases
 * (addrpool.h). */
#ifndef CTL_IPPOOL_H
#define CTL_IPPOOL_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_IP_MAX 16 /* "255.255.255.255" and its NUL */

struct ctl_pool {
	uint32_t net, mask; /* host order */
	int prefix;
};

/* "a.b.c.d/len" with min_prefix <= len <= max_prefix; -EINVAL otherwise. */
int ctl_pool_parse(const char *cidr, int min_prefix, int max_prefix, struct ctl_pool *ret);
void ctl_pool_ip_str(uint32_t ip, char buf[CTL_IP_MAX]);
/* ip in its one canonical dotted form ("10.0.0.5", not "10.0.0.05"). */
bool ctl_ip_valid(const char *ip);
/* ip in its canonical dotted form and inside the pool. */
bool ctl_pool_contains(const struct ctl_pool *p, const char *ip);
/* The first and last usable address: network+1+gateways … broadcast-1 for the private pool
 * (network+1 … network+gateways are the hosts' bridge addresses, the instances' gateways);
 * network+1 … broadcast-1 for a public pool of /30 or wider, every address of a /31 or /32
 * (gateways is ignored there). */
void ctl_pool_range(const struct ctl_pool *p, bool is_public, int gateways, uint32_t *ret_first, uint32_t *ret_last);
/* Whether ip is one of the private pool's gateway addresses (network+1 … network+gateways). */
bool ctl_pool_is_gateway(const struct ctl_pool *p, int gateways, const char *ip);

#endif
