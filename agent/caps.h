/* caps.h: least privilege. The agent runs as root (libvirt's system socket, iptables, the
 * tun device) but keeps only the capabilities it and the commands it runs need, in the
 * effective, permitted and bounding sets; the rest are dropped at start-up, after the
 * one-time host set-up (bridge, br_netfilter) is done:
 *
 *   CAP_NET_ADMIN         netlink link/address changes, taps (TUNSETIFF), iptables-restore
 *   CAP_NET_RAW           iptables (xtables sockets)
 *   CAP_NET_BIND_SERVICE  the metadata service on port 80
 *   CAP_DAC_OVERRIDE      reading and removing disk files libvirt gave to its qemu user
 *   CAP_DAC_READ_SEARCH   the same for directories
 *   CAP_FOWNER            chmod of files now owned by the qemu user
 *   CAP_CHOWN             giving cached images back to root after libvirt took them
 *   CAP_KILL              stopping commands (qemu-img) whose uid libvirt changed
 *
 * Dropped, among others: CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO,
 * CAP_SYS_BOOT, CAP_SYS_TIME, CAP_MKNOD, CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_AUDIT_*,
 * CAP_BPF, CAP_PERFMON. */
#ifndef AGENT_CAPS_H
#define AGENT_CAPS_H

int agent_caps_drop(void);
/* For tests and the docs: is capability cap (CAP_*) in the effective set? */
int agent_caps_have(unsigned cap);

#endif
