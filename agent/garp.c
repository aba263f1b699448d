#include "garp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "util.h"

/* An ARP packet for Ethernet and IPv4 (RFC 826), as it goes on the wire after the
 * Ethernet header (a SOCK_DGRAM packet socket adds that). */
struct arp_ipv4 {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
} __attribute__((packed));

int agent_garp_announce(const char *ifname, const char *ip, int count)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_halen = ETH_ALEN };
	struct arp_ipv4 p = { .htype = htons(ARPHRD_ETHER), .ptype = htons(ETH_P_IP), .hlen = ETH_ALEN, .plen = 4 };
	struct ifreq ifr = { 0 };
	struct in_addr addr;
	uint32_t v;
	int fd, r = 0;

	if (!ifname || strlen(ifname) >= IFNAMSIZ || ecs_ipv4_parse(ip, &v) < 0)
		return -EINVAL;
	addr.s_addr = htonl(v);
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0 || (to.sll_ifindex = ifr.ifr_ifindex, ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)) {
		r = -errno;
		close(fd);
		return r;
	}
	memcpy(p.sha, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(p.spa, &addr, 4);
	memcpy(p.tpa, &addr, 4);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	/* Requests and replies alternate: some stacks update their caches on one, some on the
	 * other. The target hardware address stays zero in both (RFC 5227). */
	for (int i = 0; i < count && r == 0; i++) {
		p.op = htons(i % 2 ? ARPOP_REPLY : ARPOP_REQUEST);
		if (sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			r = -errno;
		else if (i + 1 < count)
			nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000L }, NULL);
	}
	close(fd);
	if (r < 0)
		log_warn("gratuitous ARP not sent", "link=%s ip=%s error=%s", ifname, ip, strerror(-r));
	return r;
}
