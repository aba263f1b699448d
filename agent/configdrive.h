/* configdrive.h: the instance's config drive, an ISO labelled "cidata" in cloud-init's
 * NoCloud layout (see images/README.md for what the tiny image honours):
 *
 *   meta-data       instance-id, local-hostname, public-keys
 *   network-config  version 2, one ethernet matched by MAC: address, gateway, DNS
 *   user-data       the user's data as given (absent when none)
 *   vendor-data     #cloud-config with the root password hash (chpasswd), applied at every
 *                   boot, so a password changed while the instance runs takes effect at
 *                   its next start, as ECS does (the agent rebuilds the drive at each start)
 *
 * Strings are written as JSON strings, which are valid YAML double-quoted scalars. */
#ifndef AGENT_CONFIGDRIVE_H
#define AGENT_CONFIGDRIVE_H

#include <stddef.h>

struct agent_configdrive {
	const char *instance_id;
	const char *hostname;
	const char *const *public_keys;
	size_t n_keys;
	const char *mac;
	const char *ip;
	int prefix_len;
	const char *gateway; /* may be NULL */
	unsigned mtu;	     /* 0: the guest's default */
	const char *const *dns;
	size_t n_dns;
	const void *user_data; /* raw bytes; NULL when none */
	size_t user_data_len;
	const char *password_hash; /* crypt(3) hash; NULL when none */
};

/* The text of each file (caller frees); exposed for tests. */
char *agent_configdrive_meta_data(const struct agent_configdrive *cd);
char *agent_configdrive_network_config(const struct agent_configdrive *cd);
char *agent_configdrive_vendor_data(const struct agent_configdrive *cd);

/* Write the ISO to path atomically (a temp file in the same directory, then rename). */
int agent_configdrive_build(const struct agent_configdrive *cd, const char *path);

#endif
