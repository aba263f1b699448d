#include "controller_link.h"

#include <dirent.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "controller_call.h"
#include "http_client.h"
#include "http_server.h"
#include "image.h"
#include "instance.h"
#include "json.h"
#include "log.h"
#include "overlay.h"
#include "secgroup.h"
#include "slb.h"
#include "storage.h"
#include "util.h"
#include "virt.h"

static pthread_t hb_thread;
static bool hb_started;

struct json_object *agent_host_facts(struct agent *a)
{
	struct json_object *o = json_object_new_object(), *list = NULL;
	virConnectPtr conn = agent_virt_conn(a->virt);
	virNodeInfo ni;
	struct statvfs sv;

	ecs_jb_str(o, "host_id", a->cfg.host_id);
	ecs_jb_str(o, "region_id", a->cfg.region);
	ecs_jb_str(o, "zone_id", a->cfg.zone);
	ecs_jb_str(o, "agent_version", AGENT_VERSION);
	ecs_jb_str(o, "hypervisor", a->domain_type);
	ecs_jb_bool(o, "libvirt_connected", conn != NULL);
	if (conn && virNodeGetInfo(conn, &ni) == 0) {
		ecs_jb_int(o, "vcpus", ni.cpus);
		ecs_jb_int(o, "memory_mib", (int64_t)(ni.memory / 1024));
	} else {
		ecs_jb_int(o, "vcpus", sysconf(_SC_NPROCESSORS_ONLN));
		ecs_jb_int(o, "memory_mib", (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) / (1024 * 1024));
	}
	if (conn)
		virConnectClose(conn);
	if (statvfs(a->cfg.data_dir, &sv) == 0) {
		ecs_jb_int(o, "disk_total_gib", (int64_t)((unsigned long long)sv.f_blocks * sv.f_frsize >> 30));
		ecs_jb_int(o, "disk_free_gib", (int64_t)((unsigned long long)sv.f_bavail * sv.f_frsize >> 30));
	}
	ecs_jb_int(o, "max_instances", a->cfg.max_instances);
	{
		/* Where the controller reaches this agent. */
		char url[128];

		snprintf(url, sizeof(url), "http://%s:%u", a->cfg.listen_address, a->api ? ecs_http_server_port(a->api) : 0);
		ecs_jb_str(o, "api_url", url);
	}
	/* Images this host can boot without the blob store: cached, or in the local source. */
	{
		struct json_object *imgs = json_object_new_array(), *cached = NULL;
		DIR *d = opendir(a->image_source_dir);
		struct dirent *e;

		if (agent_image_list(a, &cached) == 0) {
			json_object_object_foreach(cached, id, doc)
			{
				(void)doc;
				json_object_array_add(imgs, json_object_new_string(id));
			}
			json_object_put(cached);
		}
		while (d && (e = readdir(d))) {
			bool have = false;

			if (e->d_name[0] == '.' || !agent_image_id_valid(e->d_name))
				continue;
			for (size_t i = 0; i < json_object_array_length(imgs) && !have; i++)
				have = streq(json_object_get_string(json_object_array_get_idx(imgs, i)), e->d_name);
			if (!have)
				json_object_array_add(imgs, json_object_new_string(e->d_name));
		}
		if (d)
			closedir(d);
		json_object_object_add(o, "images", imgs);
	}
	if (agent_instance_list(a, &list) == 0)
		json_object_object_add(o, "instances", list);
	/* The bridge's addresses (the controller gives instances their host's gateway) and the
	 * overlay end, whose peers the answer names. */
	{
		struct json_object *cidrs = json_object_new_array();
		_cleanup_free_ char *copy = strdup(a->cfg.gateway_cidrs);
		char *save = NULL;

		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
			json_object_array_add(cidrs, json_object_new_string(t));
		json_object_object_add(o, "gateway_cidrs", cidrs);
	}
	agent_slb_held(a, o);
	if (a->cfg.vxlan_vni) {
		struct json_object *ov = ecs_jb_obj(o, "overlay");

		ecs_jb_int(ov, "vni", a->cfg.vxlan_vni);
		ecs_jb_str(ov, "underlay_ip", a->cfg.underlay_ip);
	}
	return o;
}

static void heartbeat(struct agent *a)
{
	/* Read before the instances are listed (agent.h, state_seq). */
	long long seq = agent_state_seq_now(a);
	struct json_object *facts = agent_host_facts(a), *answer = NULL, *gen;
	long status = 0;
	int r;

	ecs_jb_int(facts, "sent_at", time(NULL));
	ecs_jb_int(facts, "state_seq", seq);
	agent_storage_report(a, facts);
	r = agent_controller_call(a, "POST", "/agent/v1/heartbeat", facts, &status, &answer);
	if (r < 0 || status != 200)
		log_warn("heartbeat not accepted", "controller=%s status=%ld error=%s", a->cfg.controller_url, status,
			 r < 0 ? strerror(-r) : "none");
	else {
		/* The security view's generation: a missed nudge is caught up here. */
		if (json_object_object_get_ex(answer, "security_generation", &gen) && json_object_is_type(gen, json_type_int))
			agent_secgroup_generation_seen(a, json_object_get_int64(gen));
		agent_overlay_peers(a, ecs_json_get(answer, "overlay_peers"));
	}
	json_object_put(answer);
	json_object_put(facts);
}

static void *heartbeat_loop(void *arg)
{
	struct agent *a = arg;

	while (!a->stopping) {
		heartbeat(a);
		agent_controller_wait(a, a->cfg.heartbeat_interval_s);
	}
	return NULL;
}

int agent_controller_start(struct agent *a)
{
	struct ecs_http_client_config cfg = {
		.connect_timeout_ms = 2000, .timeout_ms = 10000, .retries = 2, .user_agent = "ecs-agent/" AGENT_VERSION,
	};
	int r;

	if (!*a->cfg.controller_url)
		return 0;
	r = ecs_http_client_new(&cfg, &a->controller);
	if (r < 0)
		return r;
	if (pthread_create(&hb_thread, NULL, heartbeat_loop, a) != 0)
		return -EAGAIN;
	hb_started = true;
	return 0;
}

void agent_controller_stop(struct agent *a)
{
	if (hb_started) {
		agent_controller_notify(a);
		pthread_join(hb_thread, NULL);
		hb_started = false;
	}
	ecs_http_client_free(a->controller);
	a->controller = NULL;
}
