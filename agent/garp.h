/* garp.h: gratuitous ARP, so the neighbours of a bridge learn at once that an address (a
 * VIP or a public IP that moved to this host) is now reached through its MAC, instead of
 * waiting for their caches to expire (tens of seconds). */
#ifndef AGENT_GARP_H
#define AGENT_GARP_H

/* Broadcast count gratuitous ARPs (request, reply, request, … 20 ms apart) for ip with the
 * MAC of ifname. Needs CAP_NET_RAW. 0, or a negative errno (logged). */
int agent_garp_announce(const char *ifname, const char *ip, int count);

#endif
