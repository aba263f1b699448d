/* evict.c: instances that run on another host now leave this one.
 *
 * The controller moves an instance to another host when its create failed here (the
 * scheduler's next attempt) or when this host was dead (recovery). This host may still hold
 * the instance's document, and its reconciler would start the domain again: two QEMUs on
 * one RBD image. Each reconcile pass, before anything is converged, asks the controller
 * which of the documents are another host's now and removes those here: the domain
 * (destroyed, undefined), its taps, its folder (config drive), its documents and those of
 * its disks. The disks themselves are shared (RBD) and belong to the new host: untouched.
 * The answer that names none of this host's instances tells the controller that a revived
 * host kept nothing of what moved away: its fence in the storage cluster is lifted then. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "agent.h"
#include "controller_call.h"
#include "domain.h"
#include "instance.h"
#include "instance_names.h"
#include "json.h"
#include "log.h"
#include "secgroup.h"
#include "spec.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

int agent_instance_evict_locked(struct agent *a, const char *id)
{
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	_cleanup_spec_ struct agent_instance_spec *spec = NULL;
	struct agent_err ignored = { 0 };
	struct json_object *doc = NULL, *disks = NULL;
	virConnectPtr conn;
	int r;

	if (!dom)
		return -ENOMEM;
	r = agent_store_get(a->store, "instance", id, &doc);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	conn = agent_virt_conn(a->virt);
	if (!conn) {
		json_object_put(doc);
		return -EAGAIN;
	}
	agent_virt_expect(a->virt, dom, VIR_DOMAIN_EVENT_UNDEFINED);
	r = agent_domain_remove(conn, dom);
	virConnectClose(conn);
	if (r == 0)
		agent_instance_remove_taps(a, id,
					   agent_instance_spec_of_doc(doc, &spec, &ignored) == 0 ? spec->n_nics : AGENT_MAX_NICS);
	json_object_put(doc);
	if (r == 0)
		r = agent_volume_of_instance(a, id, &disks);
	/* The disks' documents only: their images are the new host's now. */
	for (size_t i = 0; r == 0 && i < json_object_array_length(disks); i++) {
		pthread_mutex_lock(&a->docs_lock);
		r = agent_store_delete(a->store, "disk", ecs_json_str(json_object_array_get_idx(disks, i), "disk_id", ""));
		pthread_mutex_unlock(&a->docs_lock);
		if (r == -ENOENT)
			r = 0;
	}
	json_object_put(disks);
	return r < 0 ? r : agent_instance_forget(a, id);
}

int agent_instance_evict_moved(struct agent *a, struct json_object *ids)
{
	struct json_object *moved = NULL;
	int r, n = 0;

	/* Asked also with no instance: the answer tells the controller that none of what moved
	 * away is left here (a fenced host is then let back into the storage cluster). */
	r = agent_controller_moved(a, ids, &moved);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(moved); i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(moved, i));

		if (!id || !json_object_object_get_ex(ids, id, NULL))
			continue;
		agent_lock(a, id);
		r = agent_instance_evict_locked(a, id);
		agent_unlock(a, id);
		if (r < 0) {
			log_warn("cannot remove an instance that runs on another host now", "instance=%s error=%s", id,
				 strerror(-r));
			continue;
		}
		log_warn("instance runs on another host now: removed here, its disks kept", "instance=%s", id);
		json_object_object_del(ids, id);
		n++;
	}
	json_object_put(moved);
	if (n) {
		/* Told at once: none of those is left here. */
		if (agent_controller_moved(a, ids, &moved) == 0)
			json_object_put(moved);
		agent_instance_refresh_guard(a);
		agent_secgroup_apply(a, false);
	}
	return n;
}
