#include "ippool.h"

#include <arpa/inet.h>
#include <errno.h>

#include "util.h"

int ctl_pool_parse(const char *cidr, int min_prefix, int max_prefix, struct ctl_pool *ret)
{
	char addr[32], tail;
	struct in_addr in;
	int prefix;

	if (!cidr || sscanf(cidr, "%31[^/]/%d%c", addr, &prefix, &tail) != 2 || prefix < min_prefix ||
	    prefix > max_prefix || inet_pton(AF_INET, addr, &in) != 1)
		return -EINVAL;
	ret->prefix = prefix;
	ret->mask = prefix ? ~0u << (32 - prefix) : 0;
	ret->net = ntohl(in.s_addr) & ret->mask;
	return 0;
}

void ctl_pool_ip_str(uint32_t ip, char buf[CTL_IP_MAX])
{
	struct in_addr in = { htonl(ip) };

	inet_ntop(AF_INET, &in, buf, CTL_IP_MAX);
}

bool ctl_ip_valid(const char *ip)
{
	struct in_addr in;
	char back[CTL_IP_MAX];

	return ip && inet_pton(AF_INET, ip, &in) == 1 && inet_ntop(AF_INET, &in, back, sizeof(back)) && streq(back, ip);
}

bool ctl_pool_contains(const struct ctl_pool *p, const char *ip)
{
	struct in_addr in;

	if (!ctl_ip_valid(ip) || inet_pton(AF_INET, ip, &in) != 1)
		return false;
	return (ntohl(in.s_addr) & p->mask) == p->net;
}

void ctl_pool_range(const struct ctl_pool *p, bool is_public, int gateways, uint32_t *ret_first, uint32_t *ret_last)
{
	uint32_t broadcast = p->net | ~p->mask;

	if (is_public && p->prefix >= 31) {
		*ret_first = p->net;
		*ret_last = broadcast;
		return;
	}
	*ret_first = p->net + (is_public ? 1 : 1 + (uint32_t)(gateways > 0 ? gateways : 1));
	*ret_last = broadcast - 1;
}

bool ctl_pool_is_gateway(const struct ctl_pool *p, int gateways, const char *ip)
{
	struct in_addr in;
	uint32_t v;

	if (!ctl_pool_contains(p, ip) || inet_pton(AF_INET, ip, &in) != 1)
		return false;
	v = ntohl(in.s_addr);
	return v > p->net && v <= p->net + (uint32_t)gateways;
}
