/* ecs-agent: one per host. Runs instances as libvirt domains and answers the controller.
 * See docs/agent-api.md and docs/architecture.md. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "api.h"
#include "blob.h"
#include "storage.h"
#include "crypto.h"
#include "caps.h"
#include "config.h"
#include "controller_call.h"
#include "controller_link.h"
#include "daemon.h"
#include "domain.h"
#include "hostauth.h"
#include "http_server.h"
#include "instance.h"
#include "log.h"
#include "secgroup.h"
#include "slb.h"
#include "spec.h"
#include "metadata.h"
#include "metrics.h"
#include "net.h"
#include "overlay.h"
#include "reconcile.h"
#include "store.h"
#include "util.h"
#include "virt.h"

static struct agent agent;

static char *path_in(const char *dir, const char *name)
{
	return ecs_strdup_printf("%s/%s", dir, name);
}

static void on_virt_event(const char *domain, int event, int detail, void *userdata)
{
	struct agent *a = userdata;

	if (event == AGENT_VIRT_RECONNECTED) {
		agent_controller_notify(a);
		agent_kick(a);
		return;
	}
	agent_instance_on_event(a, domain, event, detail);
}

static int metadata_lookup(const char *ip, struct agent_metadata_instance *ret, void *userdata);

static void *metrics_loop(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		virConnectPtr conn = agent_virt_conn(a->virt);

		if (conn) {
			agent_metrics_sample(a->metrics, conn, AGENT_DOMAIN_PREFIX, time(NULL));
			virConnectClose(conn);
		}
		agent_metrics_prune(a->metrics, time(NULL));
		for (int i = 0; i < a->cfg.metrics_interval_s * 10 && !a->stopping; i++)
			usleep(100 * 1000);
	}
	return NULL;
}

static void usage(void)
{
	printf("usage: ecs-agent [-c CONFIG]\n"
	       "  -c, --config FILE   INI configuration (default: none; ECS_* variables apply)\n"
	       "  -h, --help\n"
	       "See docs/configuration.md and docs/agent-api.md.\n");
}

int main(int argc, char **argv)
{
	struct agent *a = &agent;
	struct ecs_config *raw = NULL;
	_cleanup_free_ char *err = NULL, *store_path = NULL, *metrics_path = NULL, *blob_dir = NULL;
	const char *config = NULL;
	pthread_t metrics_thread;
	sigset_t sigs;
	int sig, r;

	r = ecs_daemon_args(argc, argv, false, usage, &config);
	if (r >= 0)
		return r;
	r = agent_config_load(config, &a->cfg, &raw, &err);
	if (r < 0) {
		fprintf(stderr, "ecs-agent: %s\n", err ? err : strerror(-r));
		return 2;
	}
	ecs_daemon_log_setup("agent", a->cfg.log_level);
	if (ecs_daemon_host_key("ecs-agent", a->cfg.host_key_file, &a->host_key) < 0 ||
	    ecs_prom_token(a->host_key, a->metrics_token) < 0)
		return 2;

	/* Signals are taken by sigwait below; every thread inherits the mask. */
	ecs_daemon_block_signals(&sigs);

	for (int i = 0; i < AGENT_LOCK_STRIPES; i++) {
		pthread_mutex_init(&a->stripes[i], NULL);
		pthread_mutex_init(&a->image_stripes[i], NULL);
	}
	pthread_mutex_init(&a->docs_lock, NULL);
	pthread_mutex_init(&a->wake_lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	{
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		atomic_init(&a->state_seq, (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
	}

	a->domain_type = streq(a->cfg.domain_type, "auto") ? agent_domain_detect_type() : a->cfg.domain_type;
	a->images_dir = path_in(a->cfg.data_dir, "images");
	a->disks_dir = path_in(a->cfg.data_dir, "disks");
	a->instances_dir = path_in(a->cfg.data_dir, "instances");
	a->snapshots_dir = path_in(a->cfg.data_dir, "snapshots");
	a->tmp_dir = path_in(a->cfg.data_dir, "tmp");
	a->image_source_dir = ecs_strdup_printf("%s/../images", a->cfg.data_dir);
	store_path = path_in(a->cfg.data_dir, "agent.db");
	metrics_path = path_in(a->cfg.data_dir, "metrics.db");
	blob_dir = *a->cfg.blob_dir ? strdup(a->cfg.blob_dir) : path_in(a->cfg.data_dir, "blobs");
	if (!a->images_dir || !a->disks_dir || !a->instances_dir || !a->snapshots_dir || !a->tmp_dir ||
	    !a->image_source_dir || !store_path || !metrics_path || !blob_dir)
		return 1;
	{
		const char *dirs[] = { a->cfg.data_dir, a->images_dir, a->disks_dir, a->instances_dir,
				       a->snapshots_dir, a->tmp_dir };

		for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
			r = ecs_mkdirs(dirs[i], 0755);
			if (r < 0) {
				log_error("cannot make directory", "path=%s error=%s", dirs[i], strerror(-r));
				return 1;
			}
		}
		/* libvirt's qemu user walks to the disks, images and config drives. */
		chmod(a->cfg.data_dir, 0755);
	}

	r = agent_store_open(store_path, &a->store);
	if (r < 0)
		return 1;
	r = agent_blob_open_dir(blob_dir, &a->blob);
	if (r < 0) {
		log_error("cannot open the blob store", "path=%s error=%s", blob_dir, strerror(-r));
		return 1;
	}
	r = agent_storage_open(a);
	if (r < 0) {
		log_error("cannot open the disk storage", "backend=%s error=%s", a->cfg.storage_backend, strerror(-r));
		return 1;
	}
	r = agent_metrics_open(metrics_path, &a->metrics);
	if (r < 0)
		log_warn("metrics disabled", "error=%s", strerror(-r));
	r = ecs_nonce_cache_new(0, &a->nonces);
	if (r < 0)
		return 1;

	/* Host networking: the bridge with the gateway and metadata addresses. */
	{
		const char *prefixes[] = { a->cfg.bridge, a->cfg.tap_prefix, a->cfg.vxlan_vni ? a->cfg.vxlan_name : NULL,
					   NULL };
		_cleanup_free_ char *cidrs = strdup(a->cfg.gateway_cidrs);
		_cleanup_free_ char *meta = ecs_strdup_printf("%s/32", a->cfg.metadata_ip);
		const char *addrs[17];
		size_t n = 0;
		char *save = NULL;

		if (!cidrs || !meta)
			return 1;
		for (char *t = strtok_r(cidrs, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
			addrs[n++] = t;
		addrs[n++] = meta;
		r = agent_net_open(prefixes, &a->net);
		if (r == 0)
			r = agent_net_ensure_bridge(a->net, a->cfg.bridge, addrs, n);
		if (r < 0) {
			log_error("cannot set up the bridge", "bridge=%s error=%s", a->cfg.bridge, strerror(-r));
			return 1;
		}
		/* The overlay: its flood list comes with the heartbeat answers. */
		if (agent_overlay_ensure(a) < 0)
			return 1;
		agent_net_enable_bridge_netfilter();
	}

	if (!a->cfg.keep_caps && agent_caps_drop() < 0)
		return 1;

	r = agent_virt_open(a->cfg.libvirt_uri, on_virt_event, a, &a->virt);
	if (r < 0)
		return 1;
	r = agent_metadata_start(a->cfg.metadata_ip, (uint16_t)a->cfg.metadata_port, metadata_lookup, a, &a->metadata);
	if (r < 0)
		log_warn("metadata service not started", "address=%s port=%d error=%s", a->cfg.metadata_ip,
			 a->cfg.metadata_port, strerror(-r));
	r = agent_secgroup_init(a);
	if (r < 0)
		return 1;
	r = agent_slb_init(a);
	if (r < 0)
		return 1;
	r = agent_api_start(a);
	if (r < 0) {
		log_error("cannot start the agent API", "address=%s port=%u", a->cfg.listen_address, a->cfg.port);
		return 1;
	}
	r = agent_controller_start(a);
	if (r < 0)
		log_warn("controller link not started", "error=%s", strerror(-r));
	r = agent_reconcile_start(a);
	if (r < 0)
		return 1;
	if (a->metrics && pthread_create(&metrics_thread, NULL, metrics_loop, a) != 0)
		return 1;

	/* The port line is what tests and `make up` wait for. */
	log_info("agent ready", "host=%s api=%s:%u hypervisor=%s data_dir=%s", a->cfg.host_id, a->cfg.listen_address,
		 ecs_http_server_port(a->api), a->domain_type, a->cfg.data_dir);

	while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	log_info("agent stopping", "signal=%d", sig);
	a->stopping = 1;
	agent_api_stop(a);
	agent_metadata_stop(a->metadata);
	agent_reconcile_stop(a);
	agent_controller_stop(a);
	agent_secgroup_free(a);
	agent_slb_free(a);
	if (a->metrics)
		pthread_join(metrics_thread, NULL);
	agent_virt_close(a->virt);
	agent_metrics_close(a->metrics);
	agent_net_close(a->net);
	agent_storage_close(a);
	agent_blob_close(a->blob);
	agent_store_close(a->store);
	ecs_nonce_cache_free(a->nonces);
	ecs_config_free(raw);
	log_info("agent stopped", NULL);
	return 0;
}

/* The metadata service asks who has this address (a NIC's first address). */
static int metadata_lookup(const char *ip, struct agent_metadata_instance *ret, void *userdata)
{
	struct agent *a = userdata;
	struct json_object *all = NULL;
	int r = -ENOENT;

	if (agent_store_list(a->store, "instance", &all) < 0)
		return -EIO;
	json_object_object_foreach(all, id, doc)
	{
		_cleanup_spec_ struct agent_instance_spec *spec = NULL;
		struct agent_err ignored = { 0 };

		if (r == 0)
			break;
		if (agent_instance_spec_of_doc(doc, &spec, &ignored) < 0 || !streq(spec->nics[0].ip, ip))
			continue;
		memset(ret, 0, sizeof(*ret));
		ret->instance_id = strdup(id);
		ret->private_ip = strdup(ip);
		ret->mac = strdup(spec->nics[0].mac);
		ret->hostname = strdup(spec->hostname);
		ret->region_id = strdup(a->cfg.region);
		ret->zone_id = strdup(a->cfg.zone);
		if (spec->key_pair_name)
			ret->key_pair_name = strdup(spec->key_pair_name);
		if (spec->n_public_keys > 0)
			ret->public_key = strdup(spec->public_keys[0]);
		if (spec->user_data_len > 0) {
			ret->user_data = (char *)TAKE_PTR(spec->user_data);
			ret->user_data_len = spec->user_data_len;
		}
		r = 0;
	}
	json_object_put(all);
	return r;
}
