#include "ctl_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ippool.h"
#include "config.h"
#include "util.h"

static const struct ecs_config_option options[] = {
	{ "controller", "listen_address", ECS_CONFIG_STRING, "127.0.0.1", 0, 0, "API address" },
	{ "controller", "port", ECS_CONFIG_INT, "8773", 0, 65535, "API port (0: any, tests)" },
	{ "controller", "data_dir", ECS_CONFIG_STRING, "/var/lib/ecs/controller", 0, 0, "state (controller.db)" },
	{ "controller", "host_key_file", ECS_CONFIG_STRING, "/etc/ecs/host.key", 0, 0, "signs calls to agents" },
	{ "controller", "region_id", ECS_CONFIG_STRING, "cn-local", 0, 0, "this region" },
	{ "controller", "region_name", ECS_CONFIG_STRING, "Local", 0, 0, "its LocalName" },
	{ "controller", "endpoint", ECS_CONFIG_STRING, "127.0.0.1:8773", 0, 0, "RegionEndpoint reported" },
	{ "controller", "zones", ECS_CONFIG_STRING, "cn-local-a", 0, 0, "zone ids, comma-separated" },
	{ "controller", "instance_types", ECS_CONFIG_STRING,
	  "ecs.t1.small:1:256,ecs.t1.medium:1:512,ecs.s1.large:2:1024,ecs.s1.xlarge:4:2048", 0, 0,
	  "ID:VCPUS:MEMORY_MIB, comma-separated" },
	{ "controller", "default_image", ECS_CONFIG_STRING, "tiny", 0, 0, "the system image" },
	{ "controller", "host_dead_after_s", ECS_CONFIG_INT, "15", 1, 86400,
	  "missed heartbeats: the host is down (and, confirmed by the storage cluster, dead)" },
	{ "controller", "transition_timeout_s", ECS_CONFIG_INT, "300", 1, 86400, "stuck Starting/Stopping" },
	{ "controller", "throttle_rate", ECS_CONFIG_DOUBLE, "200", 0.1, 1e6, "requests/s per account" },
	{ "controller", "throttle_burst", ECS_CONFIG_INT, "400", 1, 10000000, "burst per account" },
	{ "controller", "nonces_per_account", ECS_CONFIG_INT, "1048576", 16, 16777216,
	  "SignatureNonces one account may hold in the window" },
	{ "controller", "max_params", ECS_CONFIG_INT, "1000", 10, 100000, "parameters in a request" },
	{ "controller", "console_idle_timeout_s", ECS_CONFIG_INT, "900", 10, 86400,
	  "a web console session unused this long ends" },
	{ "controller", "console_max_sessions", ECS_CONFIG_INT, "1024", 1, 1000000, "web console sessions at once" },
	{ "scheduler", "cpu_ratio", ECS_CONFIG_DOUBLE, "16.0", 0.1, 1000, "vCPU overcommit" },
	{ "scheduler", "ram_ratio", ECS_CONFIG_DOUBLE, "1.5", 0.1, 100, "RAM overcommit" },
	{ "scheduler", "disk_ratio", ECS_CONFIG_DOUBLE, "1.0", 0.1, 100, "disk overcommit" },
	{ "scheduler", "reserved_host_memory_mib", ECS_CONFIG_INT, "512", 0, 1048576, "kept for the host" },
	{ "scheduler", "weigher", ECS_CONFIG_STRING, "spread", 0, 0, "spread (by free RAM) or stack" },
	{ "scheduler", "attempts", ECS_CONFIG_INT, "3", 1, 10, "hosts tried when an agent fails" },
	{ "policy", "utc_offset_h", ECS_CONFIG_INT, "8", -12, 14, "time zone of time points" },
	{ "policy", "tick_s", ECS_CONFIG_INT, "60", 1, 3600, "how often time points are checked" },
	{ "quota", "instances", ECS_CONFIG_INT, "100", 0, 1000000, "per account" },
	{ "quota", "vcpus", ECS_CONFIG_INT, "400", 0, 10000000, "per account" },
	{ "quota", "disks", ECS_CONFIG_INT, "400", 0, 10000000, "per account" },
	{ "quota", "snapshots", ECS_CONFIG_INT, "1000", 0, 10000000, "per account" },
	{ "quota", "security_groups", ECS_CONFIG_INT, "100", 0, 1000000, "per account (ECS: 100)" },
	{ "quota", "load_balancers", ECS_CONFIG_INT, "60", 0, 1000000, "per account (SLB: 60)" },
	{ "quota", "public_ips", ECS_CONFIG_INT, "20", 0, 1000000, "instances' public IPs per account" },
	{ "network", "ip_pool", ECS_CONFIG_STRING, "10.240.0.0/16", 0, 0, "private addresses" },
	{ "network", "host_gateways", ECS_CONFIG_INT, "1", 1, 4096,
	  "the pool's first addresses kept for the hosts' bridges (one per host on a cluster)" },
	{ "network", "public_ip_pool", ECS_CONFIG_STRING, "203.0.113.0/24", 0, 0,
	  "internet LB addresses and public IPs (a placeholder: set your routable range)" },
	{ "slb", "sync_interval_s", ECS_CONFIG_INT, "60", 1, 86400,
	  "how often a host's LBs and public IPs are checked against its agent" },
	{ "controller", "log_level", ECS_CONFIG_STRING, "info", 0, 0, "debug, info, warn, error" },
	{ "controller", "admin_accounts", ECS_CONFIG_STRING, "", 0, 0,
	  "account names allowed the admin actions (DescribeHosts), comma-separated" },
	{ "oss", "endpoint", ECS_CONFIG_STRING, "", 0, 0,
	  "ecs-ossd's URL, reached by the controller and every host (ImportImage/ExportImage with OSS; empty: none)" },
	{ "oss", "import_max_mib", ECS_CONFIG_INT, "102400", 1, 16777216, "the largest object ImportImage takes" },
	{ "ots", "endpoint", ECS_CONFIG_STRING, "", 0, 0, "ecs-otsd's URL for the console's tables pages (empty: none)" },
	{ "ceph", "conf", ECS_CONFIG_STRING, "", 0, 0, "the storage cluster's ceph.conf (empty: no storage watched)" },
	{ "ceph", "user", ECS_CONFIG_STRING, "ecs-controller", 0, 0, "the Ceph user, without client." },
	{ "ceph", "keyring", ECS_CONFIG_STRING, "", 0, 0, "its keyring (empty: as ceph.conf says)" },
	{ "ceph", "rbd_pool", ECS_CONFIG_STRING, "ecs-rbd", 0, 0, "the pool of the disks (images disk-ID)" },
	{ "ceph", "interval_s", ECS_CONFIG_INT, "10", 1, 3600, "how often the cluster's state is read" },
	{ "ceph", "timeout_s", ECS_CONFIG_INT, "5", 1, 300, "each read's bound" },
	{ "ha", "enabled", ECS_CONFIG_BOOL, "false", 0, 0,
	  "the state journaled in RADOS, active/standby controllers (needs [ceph]; docs/architecture.md)" },
	{ "ha", "pool", ECS_CONFIG_STRING, "ecs-ctl", 0, 0, "the pool of the journal and snapshots" },
	{ "ha", "name", ECS_CONFIG_STRING, "ecs-controller", 0, 0, "their objects' prefix (NAME.journal, NAME.snap)" },
	{ "ha", "lease_ms", ECS_CONFIG_INT, "4000", 500, 60000, "a lease not renewed this long is taken over" },
	{ "ha", "snapshot_entries", ECS_CONFIG_INT, "10000", 1, 100000000,
	  "a snapshot of the state (and the journal trimmed) after this many entries" },
	{ "ha", "endpoint", ECS_CONFIG_STRING, "", 0, 0, "this controller's API URL told to the others (empty: none)" },
};

/* The options that are a field of struct ctl_config as they are. */
#define F(section, key, member) ECS_CONFIG_FIELD(section, key, struct ctl_config, member)
static const struct ecs_config_field fields[] = {
	F("controller", "listen_address", listen_address),
	F("controller", "port", port),
	F("controller", "data_dir", data_dir),
	F("controller", "host_key_file", host_key_file),
	F("controller", "region_id", region_id),
	F("controller", "region_name", region_name),
	F("controller", "endpoint", endpoint),
	F("controller", "default_image", default_image),
	F("controller", "host_dead_after_s", host_dead_after_s),
	F("controller", "transition_timeout_s", transition_timeout_s),
	F("controller", "throttle_rate", throttle_rate),
	F("controller", "throttle_burst", throttle_burst),
	F("controller", "console_idle_timeout_s", console_idle_timeout_s),
	F("controller", "console_max_sessions", console_max_sessions),
	F("controller", "nonces_per_account", nonces_per_account),
	F("controller", "max_params", max_params),
	F("scheduler", "cpu_ratio", cpu_ratio),
	F("scheduler", "ram_ratio", ram_ratio),
	F("scheduler", "disk_ratio", disk_ratio),
	F("scheduler", "reserved_host_memory_mib", reserved_host_memory_mib),
	F("scheduler", "attempts", schedule_attempts),
	F("policy", "utc_offset_h", policy_utc_offset_h),
	F("policy", "tick_s", policy_tick_s),
	F("quota", "instances", quota_instances),
	F("quota", "vcpus", quota_vcpus),
	F("quota", "disks", quota_disks),
	F("quota", "snapshots", quota_snapshots),
	F("quota", "security_groups", quota_security_groups),
	F("quota", "load_balancers", quota_load_balancers),
	F("quota", "public_ips", quota_public_ips),
	F("network", "ip_pool", ip_pool),
	F("network", "public_ip_pool", public_ip_pool),
	F("network", "host_gateways", host_gateways),
	F("slb", "sync_interval_s", slb_sync_interval_s),
	F("controller", "log_level", log_level),
	F("controller", "admin_accounts", admin_accounts),
	F("oss", "endpoint", oss_endpoint),
	F("oss", "import_max_mib", oss_import_max_mib),
	F("ots", "endpoint", ots_endpoint),
	F("ceph", "conf", ceph_conf),
	F("ceph", "user", ceph_user),
	F("ceph", "keyring", ceph_keyring),
	F("ceph", "rbd_pool", ceph_rbd_pool),
	F("ceph", "interval_s", ceph_interval_s),
	F("ceph", "timeout_s", ceph_timeout_s),
	F("ha", "enabled", ha_enabled),
	F("ha", "pool", ha_pool),
	F("ha", "name", ha_name),
	F("ha", "lease_ms", ha_lease_ms),
	F("ha", "endpoint", ha_endpoint),
	F("ha", "snapshot_entries", ha_snapshot_entries),
};
#undef F

static int parse_types(const char *text, struct ctl_config *c, char **ret_error)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	c->n_types = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct ctl_instance_type *it;
		char id[64];
		int v, m;

		if (c->n_types == CTL_MAX_INSTANCE_TYPES || sscanf(t, " %63[^:]:%d:%d", id, &v, &m) != 3 || v < 1 ||
		    v > 64 || m < 64 || m > 262144) {
			*ret_error = ecs_strdup_printf("[controller] instance_types: \"%s\" is not ID:VCPUS:MEMORY_MIB", t);
			return -EINVAL;
		}
		it = &c->types[c->n_types++];
		snprintf(it->id, sizeof(it->id), "%s", id);
		it->vcpus = v;
		it->memory_mib = m;
		/* ecs.t1.small -> ecs.t1 */
		snprintf(it->family, sizeof(it->family), "%.*s", strrchr(id, '.') ? (int)(strrchr(id, '.') - id) : (int)strlen(id),
			 id);
	}
	return 0;
}

/* The private pool leaves room for its gateways and one address; the public one may be a
 * single address; they must not overlap (an address would be leased twice). */
static int check_pools(const struct ctl_config *c, char **ret_error)
{
	struct ctl_pool priv, pub;

	if (ctl_pool_parse(c->ip_pool, 8, 30, &priv) < 0) {
		*ret_error = ecs_strdup_printf("[network] ip_pool: \"%s\" is not an IPv4 CIDR block of /8 to /30", c->ip_pool);
		return -EINVAL;
	}
	if (ctl_pool_parse(c->public_ip_pool, 8, 32, &pub) < 0) {
		*ret_error = ecs_strdup_printf("[network] public_ip_pool: \"%s\" is not an IPv4 CIDR block of /8 to /32",
					       c->public_ip_pool);
		return -EINVAL;
	}
	if ((uint64_t)c->host_gateways + 3 > (uint64_t)1 << (32 - priv.prefix)) {
		*ret_error = ecs_strdup_printf("[network] host_gateways = %d leaves no address of ip_pool %s for instances",
					       c->host_gateways, c->ip_pool);
		return -EINVAL;
	}
	if ((priv.net & pub.mask) == pub.net || (pub.net & priv.mask) == priv.net) {
		*ret_error = ecs_strdup_printf("[network] public_ip_pool %s overlaps ip_pool %s", c->public_ip_pool,
					       c->ip_pool);
		return -EINVAL;
	}
	return 0;
}

int ctl_config_load(const char *path, struct ctl_config *ret, struct ecs_config **ret_raw, char **ret_error)
{
	struct ecs_config *raw = NULL;
	struct ctl_config c = { 0 };
	_cleanup_free_ char *zones = NULL;
	char *save = NULL;
	int r;

	r = ecs_config_load(options, ARRAY_SIZE(options), path, &raw, ret_error);
	if (r < 0)
		return r;
	ecs_config_fill(raw, fields, ARRAY_SIZE(fields), &c);
	if (c.ha_enabled && !c.ceph_conf[0]) {
		*ret_error = ecs_strdup_printf("[ha] enabled needs the storage cluster ([ceph] conf)");
		r = -EINVAL;
		goto fail;
	}

	if (streq(ecs_config_str(raw, "scheduler", "weigher"), "stack")) {
		c.stack = true;
	} else if (!streq(ecs_config_str(raw, "scheduler", "weigher"), "spread")) {
		*ret_error = ecs_strdup_printf("[scheduler] weigher must be spread or stack");
		r = -EINVAL;
		goto fail;
	}
	r = check_pools(&c, ret_error);
	if (r < 0)
		goto fail;
	r = parse_types(ecs_config_str(raw, "controller", "instance_types"), &c, ret_error);
	if (r < 0)
		goto fail;
	zones = strdup(ecs_config_str(raw, "controller", "zones"));
	if (!zones) {
		r = -ENOMEM;
		goto fail;
	}
	for (char *z = strtok_r(zones, ", ", &save); z && c.n_zones < CTL_MAX_ZONES; z = strtok_r(NULL, ", ", &save))
		snprintf(c.zones[c.n_zones++], sizeof(c.zones[0]), "%s", z);
	if (c.n_zones == 0) {
		*ret_error = ecs_strdup_printf("[controller] zones: at least one zone");
		r = -EINVAL;
		goto fail;
	}
	*ret = c;
	*ret_raw = raw;
	return 0;
fail:
	ecs_config_free(raw);
	return r;
}

const struct ctl_instance_type *ctl_config_type(const struct ctl_config *c, const char *id)
{
	for (size_t i = 0; id && i < c->n_types; i++)
		if (streq(c->types[i].id, id))
			return &c->types[i];
	return NULL;
}

bool ctl_config_zone_known(const struct ctl_config *c, const char *zone)
{
	for (size_t i = 0; zone && i < c->n_zones; i++)
		if (streq(c->zones[i], zone))
			return true;
	return false;
}

bool ctl_config_is_admin(const struct ctl_config *c, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = c->admin_accounts; p && *p && n;) {
		size_t len;

		p += strspn(p, ", ");
		len = strcspn(p, ", ");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len;
	}
	return false;
}
