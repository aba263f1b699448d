/* agent_config.h: the agent's configuration (INI file + ECS_* environment, see docs/configuration.md). */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct agent_config {
	const char *host_id;
	const char *region;
	const char *zone;
	const char *data_dir;
	const char *libvirt_uri;
	const char *domain_type; /* "auto", "kvm" or "qemu" */
	const char *listen_address;
	uint16_t port;
	const char *host_key_file;
	const char *controller_url; /* "" when standalone */
	const char *migration_pki_dir; /* libvirt TLS keys for live migration; "" = libvirt's */
	const char *blob_dir;	    /* "" = <data_dir>/blobs */
	int reconcile_interval_s;
	int metrics_interval_s;
	int heartbeat_interval_s;
	int orphan_grace_s;
	int stop_timeout_s;
	int max_instances;
	const char *log_level;
	bool keep_caps; /* do not drop capabilities (debugging) */

	const char *bridge;
	const char *gateway_cidrs; /* comma-separated CIDRs on the bridge */
	const char *tap_prefix;
	const char *metadata_ip;
	int metadata_port;
	const char *chain_prefix;
	/* The overlay joining the hosts' bridges (docs/architecture.md, "Network"): VNI 0 is
	 * none (one host); peers come from the controller's heartbeat answers. */
	int vxlan_vni;
	const char *vxlan_name;
	int vxlan_port;
	const char *underlay_ip; /* this host's address on the underlay */

	/* Folders ImportImage may read (comma-separated absolute paths; "" none). */
	const char *import_dirs;

	/* Where disks live (agent/storage.h): "rbd" or "qcow2". */
	const char *storage_backend;
	const char *ceph_conf, *ceph_user, *ceph_keyring, *ceph_pool;

	bool fault_points; /* test-only: honour ECS_AGENT_FAULT */
};

struct ecs_config;

/* Load path (may be NULL) and the environment. On error a message in *ret_error. */
int agent_config_load(const char *path, struct agent_config *ret, struct ecs_config **ret_raw, char **ret_error);

/* "[images] import_dirs" is a comma list of absolute paths without "." or "..". */
bool agent_config_import_dirs_valid(const char *list);
/* An absolute path without "." or ".." segments, shorter than PATH_MAX. */
bool agent_config_path_plain(const char *p);
/* The next entry of such a comma list, trimmed of blanks and trailing slashes ("/" stays);
 * NULL at the end. *list moves past it. Caller frees. */
char *agent_config_next_dir(const char **list);

#endif
