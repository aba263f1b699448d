#include "agent_config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "util.h"

static const struct ecs_config_option agent_options[] = {
	{ "agent", "host_id", ECS_CONFIG_STRING, "", 0, 0, "this host's id (default: the hostname)" },
	{ "agent", "region", ECS_CONFIG_STRING, "cn-local", 0, 0, "region id reported to guests" },
	{ "agent", "zone", ECS_CONFIG_STRING, "cn-local-a", 0, 0, "zone id of this host" },
	{ "agent", "data_dir", ECS_CONFIG_STRING, "/var/lib/ecs/agent", 0, 0, "images, disks, state" },
	{ "agent", "libvirt_uri", ECS_CONFIG_STRING, "qemu:///system", 0, 0, "libvirt connection" },
	{ "agent", "domain_type", ECS_CONFIG_STRING, "auto", 0, 0, "auto, kvm or qemu" },
	{ "agent", "listen_address", ECS_CONFIG_STRING, "127.0.0.1", 0, 0, "agent API address" },
	{ "agent", "port", ECS_CONFIG_INT, "8774", 0, 65535, "agent API port (0: any, tests)" },
	{ "agent", "host_key_file", ECS_CONFIG_STRING, "/etc/ecs/host.key", 0, 0, "shared key for signed calls" },
	{ "agent", "controller_url", ECS_CONFIG_STRING, "", 0, 0, "controller base URL; empty: standalone" },
	{ "agent", "migration_pki_dir", ECS_CONFIG_STRING, "", 0, 0, "libvirt TLS keys (pkipath) for live migration" },
	{ "agent", "blob_dir", ECS_CONFIG_STRING, "", 0, 0, "snapshot/image store; empty: DATA_DIR/blobs" },
	{ "agent", "reconcile_interval_s", ECS_CONFIG_INT, "30", 1, 3600, "periodic reconciliation" },
	{ "agent", "metrics_interval_s", ECS_CONFIG_INT, "15", 1, 3600, "metric sampling" },
	{ "agent", "heartbeat_interval_s", ECS_CONFIG_INT, "5", 1, 3600, "heartbeat to the controller" },
	{ "agent", "orphan_grace_s", ECS_CONFIG_INT, "600", 0, 86400 * 30, "age before unknown files go" },
	{ "agent", "stop_timeout_s", ECS_CONFIG_INT, "60", 1, 3600, "ACPI shutdown wait before force" },
	{ "agent", "max_instances", ECS_CONFIG_INT, "256", 1, 100000, "instances this host accepts" },
	{ "agent", "log_level", ECS_CONFIG_STRING, "info", 0, 0, "debug, info, warn, error" },
	{ "agent", "keep_caps", ECS_CONFIG_BOOL, "false", 0, 0, "keep all capabilities (debugging)" },
	{ "network", "bridge", ECS_CONFIG_STRING, "ecsbr0", 0, 0, "host bridge for instances" },
	{ "network", "gateway_cidrs", ECS_CONFIG_STRING, "10.240.0.1/16", 0, 0, "addresses on the bridge" },
	{ "network", "tap_prefix", ECS_CONFIG_STRING, "ecst", 0, 0, "instance tap name prefix" },
	{ "network", "metadata_ip", ECS_CONFIG_STRING, "100.100.100.200", 0, 0, "metadata address" },
	{ "network", "metadata_port", ECS_CONFIG_INT, "80", 0, 65535, "metadata port" },
	{ "network", "chain_prefix", ECS_CONFIG_STRING, "ECS", 0, 0, "iptables chain prefix" },
	{ "network", "vxlan_vni", ECS_CONFIG_INT, "0", 0, 16777215, "overlay VNI joining the hosts; 0: none" },
	{ "network", "vxlan_name", ECS_CONFIG_STRING, "ecsvx0", 0, 0, "overlay device on the bridge" },
	{ "network", "vxlan_port", ECS_CONFIG_INT, "4789", 1, 65535, "overlay UDP port" },
	{ "network", "underlay_ip", ECS_CONFIG_STRING, "", 0, 0, "this host's overlay address (with vxlan_vni)" },
	{ "images", "import_dirs", ECS_CONFIG_STRING, "", 0, 0, "folders images may be imported from (comma list)" },
	{ "storage", "backend", ECS_CONFIG_STRING, "", 0, 0, "rbd or qcow2; empty: rbd when [ceph] conf is set" },
	{ "ceph", "conf", ECS_CONFIG_STRING, "", 0, 0, "ceph.conf of the cluster holding the disks" },
	{ "ceph", "user", ECS_CONFIG_STRING, "ecs-agent", 0, 0, "cephx user (without client.)" },
	{ "ceph", "keyring", ECS_CONFIG_STRING, "", 0, 0, "its keyring; empty: keys/ceph.client.USER.keyring beside conf" },
	{ "ceph", "pool", ECS_CONFIG_STRING, "ecs-rbd", 0, 0, "RBD pool for images and disks" },
	{ "test", "fault_points", ECS_CONFIG_BOOL, "false", 0, 0, "test-only: honour ECS_AGENT_FAULT" },
};

/* The options that are a field of struct agent_config as they are. */
#define F(section, key, member) ECS_CONFIG_FIELD(section, key, struct agent_config, member)
static const struct ecs_config_field fields[] = {
	F("agent", "host_id", host_id),
	F("agent", "region", region),
	F("agent", "zone", zone),
	F("agent", "data_dir", data_dir),
	F("agent", "libvirt_uri", libvirt_uri),
	F("agent", "domain_type", domain_type),
	F("agent", "listen_address", listen_address),
	F("agent", "port", port),
	F("agent", "host_key_file", host_key_file),
	F("agent", "controller_url", controller_url),
	F("agent", "migration_pki_dir", migration_pki_dir),
	F("agent", "blob_dir", blob_dir),
	F("agent", "reconcile_interval_s", reconcile_interval_s),
	F("agent", "metrics_interval_s", metrics_interval_s),
	F("agent", "heartbeat_interval_s", heartbeat_interval_s),
	F("agent", "orphan_grace_s", orphan_grace_s),
	F("agent", "stop_timeout_s", stop_timeout_s),
	F("agent", "max_instances", max_instances),
	F("agent", "log_level", log_level),
	F("agent", "keep_caps", keep_caps),
	F("network", "bridge", bridge),
	F("network", "gateway_cidrs", gateway_cidrs),
	F("network", "tap_prefix", tap_prefix),
	F("network", "metadata_ip", metadata_ip),
	F("network", "metadata_port", metadata_port),
	F("network", "chain_prefix", chain_prefix),
	F("network", "vxlan_vni", vxlan_vni),
	F("network", "vxlan_name", vxlan_name),
	F("network", "vxlan_port", vxlan_port),
	F("network", "underlay_ip", underlay_ip),
	F("images", "import_dirs", import_dirs),
	F("storage", "backend", storage_backend),
	F("ceph", "conf", ceph_conf),
	F("ceph", "user", ceph_user),
	F("ceph", "keyring", ceph_keyring),
	F("ceph", "pool", ceph_pool),
	F("test", "fault_points", fault_points),
};
#undef F

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", *s))
			return false;
	return true;
}

int agent_config_load(const char *path, struct agent_config *ret, struct ecs_config **ret_raw, char **ret_error)
{
	struct ecs_config *c = NULL;
	struct agent_config a;
	static char hostname[256];
	int r;

	r = ecs_config_load(agent_options, ARRAY_SIZE(agent_options), path, &c, ret_error);
	if (r < 0)
		return r;
	a = (struct agent_config){ 0 };
	ecs_config_fill(c, fields, ARRAY_SIZE(fields), &a);
	if (!*a.storage_backend)
		a.storage_backend = *a.ceph_conf ? "rbd" : "qcow2";
	if (!streq(a.storage_backend, "rbd") && !streq(a.storage_backend, "qcow2")) {
		*ret_error = ecs_strdup_printf("[storage] backend: \"%s\" is not rbd or qcow2", a.storage_backend);
		r = -EINVAL;
		goto fail;
	}
	if (streq(a.storage_backend, "rbd") &&
	    (!agent_config_path_plain(a.ceph_conf) || (*a.ceph_keyring && !agent_config_path_plain(a.ceph_keyring)) ||
	     !name_ok(a.ceph_user, 64) || !name_ok(a.ceph_pool, 64))) {
		*ret_error = ecs_strdup_printf("[storage] backend rbd needs [ceph] conf and keyring (absolute paths), "
					       "user and pool (1-64 characters of [A-Za-z0-9_.-])");
		r = -EINVAL;
		goto fail;
	}
	if (!*a.host_id) {
		if (gethostname(hostname, sizeof(hostname) - 1) < 0)
			snprintf(hostname, sizeof(hostname), "localhost");
		a.host_id = hostname;
	}
	if (!streq(a.domain_type, "auto") && !streq(a.domain_type, "kvm") && !streq(a.domain_type, "qemu")) {
		*ret_error = ecs_strdup_printf("[agent] domain_type: \"%s\" is not auto, kvm or qemu", a.domain_type);
		r = -EINVAL;
		goto fail;
	}
	/* Link names are at most 15 characters; a tap is the prefix plus 8. */
	if (!name_ok(a.bridge, 15) || !name_ok(a.tap_prefix, 7)) {
		*ret_error = ecs_strdup_printf("[network] bridge must be 1-15 and tap_prefix 1-7 characters of [A-Za-z0-9_.-]");
		r = -EINVAL;
		goto fail;
	}
	/* Chains are P-I-<tap>: 28 characters at most, with a 15-character tap. */
	if (!name_ok(a.chain_prefix, 8) || strpbrk(a.chain_prefix, ".-")) {
		*ret_error = ecs_strdup_printf("[network] chain_prefix must be 1-8 characters of [A-Za-z0-9_]");
		r = -EINVAL;
		goto fail;
	}
	if (a.vxlan_vni && (!name_ok(a.vxlan_name, 15) || !ecs_ipv4_valid(a.underlay_ip))) {
		*ret_error = ecs_strdup_printf("[network] vxlan_vni needs underlay_ip (an IPv4 address) and vxlan_name "
					       "(1-15 characters of [A-Za-z0-9_.-])");
		r = -EINVAL;
		goto fail;
	}
	if (!agent_config_import_dirs_valid(a.import_dirs)) {
		*ret_error = ecs_strdup_printf("[images] import_dirs must be absolute paths without \".\" or \"..\", "
					       "separated by commas");
		r = -EINVAL;
		goto fail;
	}
	if (a.data_dir[0] != '/') {
		*ret_error = ecs_strdup_printf("[agent] data_dir must be an absolute path");
		r = -EINVAL;
		goto fail;
	}
	*ret = a;
	*ret_raw = c;
	return 0;
fail:
	ecs_config_free(c);
	return r;
}

/* ---- [images] import_dirs ---- */

/* An absolute path without "." or ".." segments, shorter than PATH_MAX. */
bool agent_config_path_plain(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n >= PATH_MAX || p[0] != '/')
		return false;
	for (const char *s = p; *s;) {
		size_t len = strcspn(s + 1, "/");

		if ((len == 1 && s[1] == '.') || (len == 2 && s[1] == '.' && s[2] == '.'))
			return false;
		s += 1 + len;
	}
	return true;
}

/* The next entry of a comma list, trimmed of blanks and trailing slashes ("/" stays);
 * NULL at the end. *list moves past it. Caller frees. */
char *agent_config_next_dir(const char **list)
{
	const char *s = *list, *e;
	size_t n;
	char *d;

	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	if (!*s)
		return NULL;
	e = s + strcspn(s, ",");
	*list = e;
	n = (size_t)(e - s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 1 && s[n - 1] == '/')
		n--;
	d = strndup(s, n);
	return d;
}

bool agent_config_import_dirs_valid(const char *list)
{
	char *d;
	bool ok = true;

	while (ok && (d = agent_config_next_dir(&list))) {
		ok = agent_config_path_plain(d);
		free(d);
	}
	return ok;
}
