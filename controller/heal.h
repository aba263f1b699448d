/* heal.h: detection of dead hosts, fencing through the storage cluster, recovery of their
 * instances on other hosts (heal.c). */
#ifndef CTL_HEAL_H
#define CTL_HEAL_H

#include <stdbool.h>

#include "ctl.h"

int ctl_heal_start(struct ctl *c);
void ctl_heal_stop(void);

/* The host's address in the fabric: its underlay address, else the host of its API URL. */
void ctl_heal_host_ip(const char *underlay_ip, const char *api_url, char ip[64]);
/* Whether a Ceph client address ("[v1:|v2:]IP:PORT/NONCE") is one of ip's. */
bool ctl_heal_addr_of(const char *watcher_addr, const char *ip);

#endif
