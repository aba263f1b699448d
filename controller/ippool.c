#include "ippool.h"

#include <errno.h>

#include "addr.h"
#include "util.h"

int ctl_pool_parse(const char *cidr, int min_prefix, int max_prefix, struct ctl_pool *ret)
{
	struct ecs_cidr c;

	if (ecs_cidr_parse(cidr, ECS_CIDR_LEN0, &c) < 0 || c.len < min_prefix || c.len > max_prefix)
		return -EINVAL;
	ret->prefix = c.len;
	ret->mask = c.mask;
	ret->net = c.net;
	return 0;
}

void ctl_pool_ip_str(uint32_t ip, char buf[CTL_IP_MAX])
{
	ecs_ipv4_format(ip, buf);
}

bool ctl_ip_valid(const char *ip)
{
	return ecs_ipv4_valid(ip);
}

bool ctl_pool_contains(const struct ctl_pool *p, const char *ip)
{
	uint32_t v;

	return ecs_ipv4_parse(ip, &v) == 0 && (v & p->mask) == p->net;
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
	uint32_t v;

	if (!ctl_pool_contains(p, ip) || ecs_ipv4_parse(ip, &v) < 0)
		return false;
	return v > p->net && v <= p->net + (uint32_t)gateways;
}
