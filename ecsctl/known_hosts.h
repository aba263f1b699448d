/* known_hosts.h: the SSH host keys ecsctl has seen, in ~/.ecsctl/known_hosts.
 *
 * One line a key in OpenSSH's known_hosts syntax, with the instance id as the host name:
 * "i-abc ssh-ed25519 AAAA…". Keyed by instance and not by address: a self-hosted cloud
 * gives a freed address to the next instance, whose new key is no attack, while the same
 * instance presenting another key is one.
 *
 * A check answers KNOWN when a line for the host has this key type and key, CHANGED when
 * the host has lines but none matches (another key, or another type), NEW when it has
 * none. Blank lines and '#' comments are skipped; the file is read up to 1 MiB (a larger
 * one is an error, never half-read). Adding appends one line to the file, created 0600. */
#ifndef ECSCTL_KNOWN_HOSTS_H
#define ECSCTL_KNOWN_HOSTS_H

#define ECSCTL_KNOWN_HOSTS_MAX (1024 * 1024)

enum ecsctl_hostkey {
	ECSCTL_HOSTKEY_KNOWN,
	ECSCTL_HOSTKEY_NEW,
	ECSCTL_HOSTKEY_CHANGED,
	_ECSCTL_HOSTKEY_MAX,
};

/* A missing file knows nothing (NEW). -EINVAL when host, type or key hold blanks. */
int ecsctl_known_hosts_check(const char *path, const char *host, const char *type, const char *key_b64,
			     enum ecsctl_hostkey *ret);
int ecsctl_known_hosts_add(const char *path, const char *host, const char *type, const char *key_b64);

#endif
