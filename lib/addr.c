/* addr.c: IPv4, CIDR and MAC spelling rules (see addr.h). */
#include "addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* One octet at *p: 1-3 digits, no leading zero, at most 255; *p moves past it. */
static bool octet(const char **p, uint32_t *ret)
{
	const char *s = *p;
	uint32_t v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < 4)
		v = v * 10 + (uint32_t)(s[n++] - '0');
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || v > 255)
		return false;
	*p = s + n;
	*ret = v;
	return true;
}

/* The address at the start of s, ending at end (the NUL, or the '/' of a CIDR). */
static int ipv4_span(const char *s, const char *end, uint32_t *ret)
{
	uint32_t v = 0, o;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		if (!octet(&s, &o))
			return -EINVAL;
		v = v << 8 | o;
		if (i < 3 && *s++ != '.')
			return -EINVAL;
	}
	if (s != end)
		return -EINVAL;
	if (ret)
		*ret = v;
	return 0;
}

int ecs_ipv4_parse(const char *s, uint32_t *ret)
{
	return s ? ipv4_span(s, s + strlen(s), ret) : -EINVAL;
}

bool ecs_ipv4_valid(const char *s)
{
	return ecs_ipv4_parse(s, NULL) == 0;
}

void ecs_ipv4_format(uint32_t v, char out[ECS_IPV4_MAX])
{
	snprintf(out, ECS_IPV4_MAX, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

bool ecs_ipv4_unicast(uint32_t v)
{
	return v != 0 && v != 0xffffffffu && (v >> 28) != 0xe;
}

bool ecs_ipv4_assignable(uint32_t v)
{
	return (v >> 24) != 0 && (v >> 24) != 127 && (v >> 28) < 0xe;
}

int ecs_cidr_parse(const char *s, unsigned flags, struct ecs_cidr *ret)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	struct ecs_cidr c = { .len = 32 };

	if (!s)
		return -EINVAL;
	if (!slash) {
		if (!(flags & ECS_CIDR_BARE) || ipv4_span(s, s + strlen(s), &c.addr) < 0)
			return -EINVAL;
	} else {
		const char *l = slash + 1;
		size_t n = strlen(l);

		if (ipv4_span(s, slash, &c.addr) < 0 || n == 0 || n > 2 || strspn(l, "0123456789") != n ||
		    (n == 2 && l[0] == '0'))
			return -EINVAL;
		c.len = l[0] - '0';
		if (n == 2)
			c.len = c.len * 10 + (l[1] - '0');
		if (c.len > 32 || (c.len == 0 && !(flags & ECS_CIDR_LEN0)))
			return -EINVAL;
	}
	c.mask = c.len ? 0xffffffffu << (32 - c.len) : 0;
	c.net = c.addr & c.mask;
	if (ret)
		*ret = c;
	return 0;
}

bool ecs_cidr_contains(const struct ecs_cidr *c, uint32_t v)
{
	return (v & c->mask) == c->net;
}

int ecs_mac_parse(const char *s, uint8_t ret[6])
{
	uint8_t m[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < 6; i++) {
		int hi = ecs_hex_digit(s[3 * i]), lo = ecs_hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	if (ret)
		memcpy(ret, m, sizeof(m));
	return 0;
}

bool ecs_mac_valid(const char *s)
{
	return ecs_mac_parse(s, NULL) == 0;
}

bool ecs_mac_unicast(const char *s)
{
	uint8_t m[6];

	return ecs_mac_parse(s, m) == 0 && !(m[0] & 1);
}
