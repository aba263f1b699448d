/* ctl_config.h: ecs-controller's configuration (INI + ECS_* environment; docs/configuration.md). */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_instance_type {
	char id[64];
	int vcpus;
	int memory_mib;
	char family[32];
};

#define CTL_MAX_INSTANCE_TYPES 64
#define CTL_MAX_ZONES 16

struct ctl_config {
	const char *listen_address;
	uint16_t port;
	const char *data_dir;
	const char *host_key_file;
	const char *region_id;
	const char *region_name;
	const char *endpoint; /* as reported by DescribeRegions */
	char zones[CTL_MAX_ZONES][64];
	size_t n_zones;
	struct ctl_instance_type types[CTL_MAX_INSTANCE_TYPES];
	size_t n_types;
	const char *default_image; /* DescribeImages' system image */

	int host_dead_after_s;	    /* no heartbeat for this long: the host is down */
	int transition_timeout_s;   /* a Starting/Stopping stuck this long turns into an error */
	double throttle_rate;	    /* requests per second per account */
	int throttle_burst;
	long long nonces_per_account; /* live SignatureNonces an account may hold */
	int console_idle_timeout_s; /* web console sessions (console.h) */
	int console_max_sessions;
	int max_params;		    /* parameters in one request */

	double cpu_ratio, ram_ratio, disk_ratio;
	int reserved_host_memory_mib;
	bool stack;		    /* weigher: fill hosts (true) or spread by free RAM */
	int schedule_attempts;

	int policy_utc_offset_h;    /* auto-snapshot policies' time zone; ECS: UTC+8 */
	int policy_tick_s;	    /* how often time points are checked (tests: 1) */

	long long quota_instances, quota_vcpus, quota_disks, quota_snapshots;
	long long quota_security_groups; /* per account (QuotaExceed.SecurityGroup) */
	long long quota_load_balancers;	 /* per account (OverQuota) */
	long long quota_public_ips;	 /* instances' public IPs per account (QuotaExceeded) */

	const char *ip_pool; /* instances' private addresses, e.g. 10.240.0.0/16 */
	int host_gateways;   /* the pool's first addresses kept for hosts' bridges (.1 … .N) */
	const char *public_ip_pool; /* internet LBs' VIPs and instances' public IPs */
	int slb_sync_interval_s;    /* a host's LBs and public IPs checked against its agent this often */
	const char *log_level;

	const char *admin_accounts; /* account names that may call admin actions (DescribeHosts) */

	/* [oss]: ecs-ossd for ImportImage/ExportImage (image_oss.c); endpoint "" = none. */
	const char *oss_endpoint;
	long long oss_import_max_mib;
	const char *ots_endpoint;

	/* [ceph]: the storage cluster watched (ceph.h); conf "" = none. */
	const char *ceph_conf, *ceph_user, *ceph_keyring, *ceph_rbd_pool;
	int ceph_interval_s, ceph_timeout_s;

	/* [ha]: the journal in RADOS and active/standby controllers (ha.h); off by default. */
	bool ha_enabled;
	const char *ha_pool, *ha_name, *ha_endpoint;
	int ha_lease_ms;
	long long ha_snapshot_entries; /* a snapshot (and a trim) after this many entries */
};

struct ecs_config;

int ctl_config_load(const char *path, struct ctl_config *ret, struct ecs_config **ret_raw, char **ret_error);
const struct ctl_instance_type *ctl_config_type(const struct ctl_config *c, const char *id);
bool ctl_config_zone_known(const struct ctl_config *c, const char *zone);
/* Whether the account named name is one of admin_accounts. */
bool ctl_config_is_admin(const struct ctl_config *c, const char *name);

#endif
