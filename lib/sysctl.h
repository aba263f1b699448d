/* sysctl.h: kernel settings under /proc/sys, read and written one way by every caller.
 *
 * A key is the path below /proc/sys in its slashed form ("net/ipv4/ip_forward",
 * "net/ipv6/conf/ecsbr0/disable_ipv6"): interface names may hold dots, so the dotted form
 * would be ambiguous. Keys under net/ follow the calling thread's network namespace.
 * A value is written whole, with a newline, in one write(2); one read back has its
 * trailing newline taken off. Functions return 0 or a negative errno: -ENOENT when the
 * kernel has no such setting (a module not loaded, an interface gone), -EINVAL for an
 * empty key, or one with an empty, "." or ".." component (a leading or doubled '/'). Nothing is logged: the caller knows
 * what a failure means. */
#ifndef ECS_SYSCTL_H
#define ECS_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>

#define ECS_SYSCTL_VALUE_MAX 256

/* The value into buf (NUL-terminated); -ENAMETOOLONG when it does not fit in size. */
int ecs_sysctl_read(const char *key, char *buf, size_t size);
int ecs_sysctl_write(const char *key, const char *value);
/* Write value unless the setting reads as value already; *ret_changed (may be NULL):
 * whether it was written. */
int ecs_sysctl_ensure(const char *key, const char *value, bool *ret_changed);

#endif
