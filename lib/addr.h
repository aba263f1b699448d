/* addr.h: IPv4 addresses, IPv4 CIDR blocks and MAC addresses: the one set of spelling rules
 * every part of the project checks them by.
 *
 * IPv4: a dotted quad in its one canonical spelling: exactly four decimal octets 0-255,
 * no leading zeros ("010.0.0.1"), no sign, no blanks, nothing after ("10.0.0.1" yes;
 * "10.0.0", "10.0.0.256", "1.2.3.4 " no). Values are in host byte order.
 *
 * CIDR: "a.b.c.d/len", len in decimal without leading zeros ("/08" no) and at most 32.
 * The address may have host bits set ("10.240.0.1/16", a gateway's address on its
 * subnet): *addr keeps them and *net is the address masked to the prefix; a caller that
 * wants a network address only compares the two. Flags widen what is accepted:
 * ECS_CIDR_BARE takes "a.b.c.d" alone as /32, ECS_CIDR_LEN0 takes "/0".
 *
 * MAC: "xx:xx:xx:xx:xx:xx", six pairs of hex digits of either case joined by ':'
 * ("52:54:00:AB:cd:01" yes; "52-54-00-ab-cd-01", "5254.00ab.cd01" no). Multicast (and
 * broadcast) MACs have bit 0 of the first octet set. */
#ifndef ECS_ADDR_H
#define ECS_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#define ECS_IPV4_MAX 16 /* "255.255.255.255" and its NUL */
#define ECS_CIDR_MAX 19 /* "255.255.255.255/32" and its NUL */
#define ECS_MAC_MAX 18	/* "xx:xx:xx:xx:xx:xx" and its NUL */

/* s as an IPv4 address into *ret (may be NULL): 0, or -EINVAL (s NULL or misspelt). */
int ecs_ipv4_parse(const char *s, uint32_t *ret);
bool ecs_ipv4_valid(const char *s);
/* The canonical spelling of v. */
void ecs_ipv4_format(uint32_t v, char out[ECS_IPV4_MAX]);

/* An address a host may send from and to: not 0.0.0.0, 255.255.255.255 or 224.0.0.0/4. */
bool ecs_ipv4_unicast(uint32_t v);
/* An address a host's interface may take and others reach (a load balancer's VIP, a public
 * IP, a backend): also not 0.0.0.0/8, 127.0.0.0/8 or 240.0.0.0/4. */
bool ecs_ipv4_assignable(uint32_t v);

enum {
	ECS_CIDR_BARE = 1 << 0, /* "a.b.c.d" alone is a /32 */
	ECS_CIDR_LEN0 = 1 << 1, /* "/0" is allowed */
};

struct ecs_cidr {
	uint32_t addr; /* as written, host bits and all */
	uint32_t net;  /* masked to the prefix */
	uint32_t mask;
	int len;
};

/* s as a CIDR block (flags: ECS_CIDR_*) into *ret (may be NULL): 0 or -EINVAL. */
int ecs_cidr_parse(const char *s, unsigned flags, struct ecs_cidr *ret);
/* Whether v is inside c. */
bool ecs_cidr_contains(const struct ecs_cidr *c, uint32_t v);

/* s as a MAC address into ret (may be NULL): 0 or -EINVAL. */
int ecs_mac_parse(const char *s, uint8_t ret[6]);
bool ecs_mac_valid(const char *s);
/* Whether the MAC s is valid and unicast (bit 0 of the first octet clear). */
bool ecs_mac_unicast(const char *s);

#endif
