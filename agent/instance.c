#include "instance.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "agent.h"
#include "configdrive.h"
#include "controller_call.h"
#include "crypto.h"
#include "domain.h"
#include "id.h"
#include "image.h"
#include "instance_names.h"
#include "instance_prep.h"
#include "json.h"
#include "log.h"
#include "metadata.h"
#include "metrics.h"
#include "net.h"
#include "nf_secgroup.h"
#include "secgroup.h"
#include "storage.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

/* ---- documents ---- */

/* Documents are the agent's own: absent fields read as NULL / def / false. */
#define jget ecs_json_get
#define jstr(o, key) ecs_json_str(o, key, NULL)
#define jint ecs_json_int
#define jbool ecs_json_bool

static int load(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err)
{
	int r;

	if (!ecs_id_valid(ECS_ID_INSTANCE, id))
		return agent_fail(err, -EINVAL, 400, "InvalidInstanceId.Malformed", "%s is not an instance id", id);
	r = agent_store_get(a->store, "instance", id, ret);
	if (r == -ENOENT)
		return agent_fail(err, r, 404, "InvalidInstanceId.NotFound", "instance %s is not on this host", id);
	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "cannot read the state of %s", id);
	if (jbool(*ret, "deleting")) {
		json_object_put(*ret);
		return agent_fail(err, -ENOENT, 404, "InvalidInstanceId.NotFound", "instance %s is being deleted", id);
	}
	return 0;
}

int agent_instance_load(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err)
{
	return load(a, id, ret, err);
}

static int save(struct agent *a, const char *id, struct json_object *doc, struct agent_err *err)
{
	int r = agent_store_put(a->store, "instance", id, doc);

	return r < 0 ? agent_fail(err, r, 500, "InternalError", "cannot record the state of %s", id) : 0;
}

static void set_error(struct agent *a, const char *id, struct json_object *doc, const char *msg)
{
	ecs_jb_str(doc, "error", msg);
	agent_store_put(a->store, "instance", id, doc);
}

/* ---- converging ---- */

/* The domain XML for the instance as its documents say now. */
char *agent_instance_domain_xml(struct agent *a, const struct agent_instance_spec *spec, struct json_object *disks)
{
	const char *id = spec->instance_id;
	_cleanup_free_ char *dom = agent_instance_domain_name(id), *dir = agent_instance_dir(a, id);
	_cleanup_free_ char *kernel = NULL, *initrd = NULL, *iso = NULL, *console = NULL;
	struct agent_domain_disk dd[AGENT_MAX_DATA_DISKS + 1];
	struct agent_domain_nic nn[AGENT_MAX_NICS];
	char *paths[AGENT_MAX_DATA_DISKS + 1] = { NULL }, *taps[AGENT_MAX_NICS] = { NULL };
	size_t n_disks = 0;
	struct json_object *manifest = NULL;
	char *xml = NULL;

	if (!dom || !dir)
		return NULL;
	if (agent_image_ensure(a, spec->image_id, &manifest) < 0)
		return NULL;
	kernel = jstr(manifest, "kernel") ? agent_image_file(a, spec->image_id, "kernel") : NULL;
	initrd = jstr(manifest, "initrd") ? agent_image_file(a, spec->image_id, "initrd") : NULL;
	iso = ecs_strdup_printf("%s/config.iso", dir);
	console = ecs_strdup_printf("%s/console.log", dir);
	for (size_t i = 0; i < json_object_array_length(disks) && n_disks < ARRAY_SIZE(dd); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		const char *did = jstr(d, "disk_id");

		dd[n_disks] = (struct agent_domain_disk){ .target = jstr(d, "device"), .serial = did + 2 };
		if (agent_storage_domain_disk(a, did, &dd[n_disks], &paths[n_disks]) < 0)
			goto out;
		n_disks++;
	}
	for (size_t i = 0; i < spec->n_nics; i++) {
		taps[i] = agent_instance_tap_name(a, id, (unsigned)i);
		nn[i] = (struct agent_domain_nic){ taps[i], spec->nics[i].mac };
	}
	struct agent_domain_spec ds = {
		.name = dom,
		.instance_id = id,
		.type = a->domain_type,
		.vcpus = spec->vcpus,
		.memory_mib = spec->memory_mib,
		.kernel = kernel,
		.initrd = initrd,
		.cmdline = jstr(manifest, "cmdline"),
		.disks = dd,
		.n_disks = n_disks,
		.cdrom = iso,
		.nics = nn,
		.n_nics = spec->n_nics,
		.console_log = console,
	};
	xml = agent_domain_xml(&ds);
out:
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		free(paths[i]);
	for (size_t i = 0; i < ARRAY_SIZE(taps); i++)
		free(taps[i]);
	json_object_put(manifest);
	return xml;
}

static int ensure_taps(struct agent *a, const struct agent_instance_spec *spec)
{
	for (size_t i = 0; i < spec->n_nics; i++) {
		_cleanup_free_ char *tap = agent_instance_tap_name(a, spec->instance_id, (unsigned)i);
		int r = tap ? agent_net_ensure_tap(a->net, tap, a->cfg.bridge) : -ENOMEM;

		if (r < 0)
			return r;
	}
	return 0;
}

void agent_instance_remove_taps(struct agent *a, const char *id, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *tap = agent_instance_tap_name(a, id, (unsigned)i);

		if (tap)
			agent_net_delete_link(a->net, tap);
	}
}

struct iso_job {
	struct agent *a;
	const struct agent_instance_spec *spec;
	char *path;
};

static int iso_job_run(void *arg)
{
	struct iso_job *j = arg;

	return j->path ? agent_instance_build_config_drive(j->a, j->spec, j->path) : -ENOMEM;
}

/* Bring one instance to its document. Called with its lock held. explicit_start: a start
 * was asked for now (create, start); otherwise (the reconciler) a domain the guest shut
 * down cleanly is not started again: the instance becomes Stopped, as in ECS. */
int agent_instance_converge_locked(struct agent *a, const char *id, struct json_object *doc, bool explicit_start,
				   struct agent_err *err)
{
	_cleanup_spec_ struct agent_instance_spec *spec = NULL;
	struct json_object *disks = NULL;
	_cleanup_free_ char *dom = agent_instance_domain_name(id), *dir = agent_instance_dir(a, id);
	_cleanup_free_ char *xml = NULL, *iso = NULL;
	bool want_running = streq(jstr(doc, "power"), "running"), current = false;
	enum agent_domain_state st;
	virConnectPtr conn = NULL;
	struct agent_bg iso_bg = { 0 };
	struct iso_job iso_job = { a, NULL, NULL };
	int reason = 0, r;

	if (!dom || !dir)
		return -ENOMEM;
	r = agent_instance_spec_of_doc(doc, &spec, err);
	if (r < 0)
		return r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return agent_fail(err, -errno, 500, "InternalError", "cannot make %s", dir);
	r = agent_image_ensure(a, spec->image_id, NULL);
	if (r < 0)
		return agent_fail(err, r, r == -ENOENT ? 404 : 500, r == -ENOENT ? "InvalidImageId.NotFound" : "InternalError",
				  "image %s is not available on this host", spec->image_id);
	r = agent_volume_of_instance(a, id, &disks);
	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "cannot read the disks of %s", id);
	/* A create or start: the config drive (rebuilt at every start, so a password changed
	 * meanwhile takes effect) is made while the disks are; joined before the define. */
	iso = ecs_strdup_printf("%s/config.iso", dir);
	if (explicit_start && want_running) {
		iso_job = (struct iso_job){ a, spec, iso };
		agent_bg_start(&iso_bg, iso_job_run, &iso_job);
	}
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		r = agent_volume_ensure_file(a, jstr(json_object_array_get_idx(disks, i), "disk_id"));
		if (r < 0) {
			agent_fail(err, r, 500, "InternalError", "cannot make disk %s",
				   jstr(json_object_array_get_idx(disks, i), "disk_id"));
			goto out;
		}
	}
	agent_fault_point(a, "create.after_disks");
	r = ensure_taps(a, spec);
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot make the taps of %s", id);
		goto out;
	}
	/* The NIC's rules are in place before the guest can send (a create or a start). */
	if (explicit_start)
		agent_secgroup_apply(a, false);
	if (jbool(doc, "incoming")) { /* the domain comes live from another host (migrate.c) */
		r = agent_instance_incoming_locked(a, spec, disks, doc, err);
		goto out;
	}
	r = agent_virt_conn_or_fail(a->virt, &conn, err);
	if (r < 0)
		goto out;
	r = agent_domain_get_state(conn, dom, &st, &reason);
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot read the domain of %s", id);
		goto out;
	}
	/* Decided here, under the lock, from libvirt's own reason: a clean shutdown came from
	 * inside the guest (the agent's own stops record "stopped" first). A crash, a kill or
	 * an interrupted create is started again. */
	if (want_running && !explicit_start && st == AGENT_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN) {
		ecs_jb_str(doc, "power", "stopped");
		r = agent_store_put(a->store, "instance", id, doc);
		if (r == 0) {
			log_info("guest shut itself down; instance is stopped", "instance=%s", id);
			agent_controller_notify(a);
		}
		goto out;
	}
	if (st == AGENT_DOMAIN_RUNNING || st == AGENT_DOMAIN_PAUSED || st == AGENT_DOMAIN_SHUTDOWN) {
		if (!want_running) {
			r = agent_domain_stop(conn, dom, false, a->cfg.stop_timeout_s * 1000);
			goto out;
		}
		/* Running: every disk the documents attach must be attached (an attach
		 * interrupted by a crash is completed here). Idempotent per disk. */
		for (size_t i = 1; i < json_object_array_length(disks); i++) {
			struct json_object *d = json_object_array_get_idx(disks, i);
			_cleanup_free_ char *path = NULL;
			struct agent_domain_disk dd = { .target = jstr(d, "device"), .serial = jstr(d, "disk_id") + 2 };

			if (agent_storage_domain_disk(a, jstr(d, "disk_id"), &dd, &path) < 0 ||
			    agent_domain_attach_disk(conn, dom, &dd) < 0)
				r = agent_fail(err, -EIO, 500, "InternalError", "cannot attach %s to %s", jstr(d, "disk_id"),
					       id);
		}
		goto out;
	}
	/* Not running: (re)define from the documents, so the definition is always current. */
	xml = agent_instance_domain_xml(a, spec, disks);
	if (!xml) {
		r = agent_fail(err, -EINVAL, 500, "InternalError", "cannot build the domain of %s", id);
		goto out;
	}
	if (want_running) {
		/* Rebuilt at every start: a password changed meanwhile takes effect now. */
		r = iso_bg.fn ? agent_bg_join(&iso_bg) : iso ? agent_instance_build_config_drive(a, spec, iso) : -ENOMEM;
		if (r < 0) {
			agent_fail(err, r, 500, "InternalError", "cannot build the config drive of %s", id);
			goto out;
		}
	}
	/* Defined only when it changed: a redefine makes libvirt fire DEFINED, which wakes the
	 * reconciler (our own define's event is announced, so it does not). */
	r = agent_domain_is_current(conn, dom, xml, &current);
	if (r == 0 && !current) {
		agent_virt_expect(a->virt, dom, VIR_DOMAIN_EVENT_DEFINED);
		r = agent_domain_define(conn, xml);
		if (r == 0)
			log_info("domain defined", "instance=%s", id);
	}
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "libvirt refused the domain of %s: %s", id,
			   virGetLastErrorMessage());
		goto out;
	}
	agent_fault_point(a, "create.after_define");
	if (want_running) {
		r = agent_domain_start(conn, dom);
		if (r < 0)
			agent_fail(err, r, 500, "InternalError", "libvirt could not start %s: %s", id,
				   virGetLastErrorMessage());
	}
out:
	agent_bg_join(&iso_bg);
	if (conn)
		virConnectClose(conn);
	json_object_put(disks);
	return r;
}

int agent_instance_converge(struct agent *a, const char *id)
{
	struct agent_err err = { 0 };
	struct json_object *doc = NULL;
	int r;

	agent_lock(a, id);
	r = agent_store_get(a->store, "instance", id, &doc);
	if (r == 0 && jbool(doc, "deleting")) {
		json_object_put(doc);
		agent_unlock(a, id);
		return agent_instance_finish_delete(a, id);
	}
	if (r == 0) {
		r = agent_instance_converge_locked(a, id, doc, false, &err);
		if (r < 0 && r != -EAGAIN)
			set_error(a, id, doc, err.message);
		else if (r == 0 && jstr(doc, "error") && *jstr(doc, "error"))
			set_error(a, id, doc, "");
	}
	agent_unlock(a, id);
	json_object_put(doc);
	return r;
}

/* ---- operations ---- */

static struct json_object *describe_doc(struct agent *a, const char *id, struct json_object *doc)
{
	struct json_object *spec = jget(doc, "spec"), *out = json_object_new_object(), *disks = NULL, *list;
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	enum agent_domain_state st = AGENT_DOMAIN_MISSING;
	bool want = streq(jstr(doc, "power"), "running");
	virConnectPtr conn = agent_virt_conn(a->virt);
	const char *status;

	if (conn) {
		agent_domain_get_state(conn, dom, &st, NULL);
		virConnectClose(conn);
	}
	/* ECS's statuses from what is wanted and what is. */
	if (st == AGENT_DOMAIN_RUNNING)
		status = want ? "Running" : "Stopping";
	else if (st == AGENT_DOMAIN_MISSING && want)
		status = "Pending";
	else
		status = want ? "Starting" : "Stopped";
	ecs_jb_str(out, "instance_id", id);
	ecs_jb_str(out, "status", status);
	ecs_jb_str(out, "power", jstr(doc, "power"));
	ecs_jb_str(out, "domain_state", agent_domain_state_to_string(st));
	ecs_jb_str(out, "domain_type", a->domain_type);
	ecs_jb_str(out, "host_id", a->cfg.host_id);
	ecs_jb_str(out, "error", jstr(doc, "error"));
	ecs_jb_int(out, "created_at", jint(doc, "created_at", 0));
	json_object_object_foreach(spec, k, v)
	{
		if (!streq(k, "password_hash") && !streq(k, "user_data") && !streq(k, "instance_id"))
			json_object_object_add(out, k, json_object_get(v));
	}
	ecs_jb_bool(out, "has_password", jstr(spec, "password_hash") != NULL);
	list = json_object_new_array();
	if (agent_volume_of_instance(a, id, &disks) == 0) {
		for (size_t i = 0; i < json_object_array_length(disks); i++)
			json_object_array_add(list, json_object_get(json_object_array_get_idx(disks, i)));
		json_object_put(disks);
	}
	json_object_object_add(out, "disks", list);
	return out;
}

int agent_instance_describe(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err)
{
	struct json_object *doc;
	int r = load(a, id, &doc, err);

	if (r < 0)
		return r;
	*ret = describe_doc(a, id, doc);
	json_object_put(doc);
	return 0;
}

int agent_instance_list(struct agent *a, struct json_object **ret)
{
	struct json_object *all = NULL, *out;
	int r = agent_store_list(a->store, "instance", &all);

	if (r < 0)
		return r;
	out = json_object_new_array();
	json_object_object_foreach(all, id, doc)
	{
		if (!jbool(doc, "deleting"))
			json_object_array_add(out, describe_doc(a, id, doc));
	}
	json_object_put(all);
	*ret = out;
	return 0;
}

/* Do two create bodies ask for the same instance? (idempotent create) */
static bool same_spec(struct json_object *a, struct json_object *b)
{
	return json_object_equal(a, b);
}

static int guard_run(void *arg)
{
	return agent_instance_refresh_guard(arg);
}

int agent_instance_create(struct agent *a, struct json_object *body, struct json_object **ret, struct agent_err *err)
{
	_cleanup_spec_ struct agent_instance_spec *spec = NULL;
	struct agent_bg guard;
	struct json_object *doc = NULL;
	const char *id;
	size_t count = 0;
	int r;

	r = agent_instance_spec_decode(body, &spec, err);
	if (r < 0)
		return r;
	id = spec->instance_id;
	/* Its groups' rules known before its NIC exists (a pull when the nudge is late). */
	agent_secgroup_prepare(a, spec);
	agent_lock(a, id);
	if (agent_store_get(a->store, "instance", id, &doc) == 0) {
		/* Repeated create: the same spec is the same instance; another one is a conflict. */
		if (jbool(doc, "deleting"))
			r = agent_fail(err, -EBUSY, 409, "IncorrectInstanceStatus", "instance %s is being deleted", id);
		else if (!same_spec(jget(doc, "spec"), body))
			r = agent_fail(err, -EEXIST, 409, "InstanceIdConflict",
				       "instance %s exists with another specification", id);
		else
			r = 0;
		goto out;
	}
	if (agent_store_count(a->store, "instance", &count) == 0 && count >= (size_t)a->cfg.max_instances) {
		r = agent_fail(err, -ENOSPC, 403, "QuotaExceeded", "this host takes at most %d instances",
			       a->cfg.max_instances);
		goto out;
	}
	r = agent_instance_record_disks(a, spec, err);
	if (r < 0)
		goto out;
	doc = agent_instance_new_doc(body, spec->start);
	r = save(a, id, doc, err);
	if (r < 0)
		goto out;
	agent_fault_point(a, "create.after_store");
	log_info("instance created", "instance=%s image=%s", id, spec->image_id);
	/* The metadata guard learns the new NIC (from the documents, this one's stored now)
	 * while the host is converged; in place when the create answers, as before. */
	agent_bg_start(&guard, guard_run, a);
	r = agent_instance_converge_locked(a, id, doc, true, err);
	agent_bg_join(&guard);
	if (r < 0)
		set_error(a, id, doc, err->message);
out:
	agent_unlock(a, id);
	if (r == 0 && ret) {
		struct json_object *cur = NULL;

		if (agent_store_get(a->store, "instance", id, &cur) == 0) {
			*ret = describe_doc(a, id, cur);
			json_object_put(cur);
		}
	}
	json_object_put(doc);
	return r;
}

static int set_power(struct agent *a, const char *id, const char *power, struct json_object **ret_doc,
		     struct agent_err *err)
{
	struct json_object *doc;
	int r = load(a, id, &doc, err);

	if (r < 0)
		return r;
	if (!streq(jstr(doc, "power"), power)) {
		ecs_jb_str(doc, "power", power);
		r = save(a, id, doc, err);
		if (r < 0) {
			json_object_put(doc);
			return r;
		}
	}
	*ret_doc = doc;
	return 0;
}

int agent_instance_start(struct agent *a, const char *id, struct agent_err *err)
{
	struct json_object *doc = NULL;
	int r;

	agent_lock(a, id);
	r = set_power(a, id, "running", &doc, err);
	if (r == 0)
		r = agent_instance_converge_locked(a, id, doc, true, err);
	agent_unlock(a, id);
	json_object_put(doc);
	return r;
}

int agent_instance_stop(struct agent *a, const char *id, bool force, int timeout_s, struct agent_err *err)
{
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	struct json_object *doc = NULL;
	virConnectPtr conn;
	int r;

	agent_lock(a, id);
	r = set_power(a, id, "stopped", &doc, err);
	if (r < 0)
		goto out;
	r = agent_virt_conn_or_fail(a->virt, &conn, err);
	if (r < 0)
		goto out;
	r = agent_domain_stop(conn, dom, force, (timeout_s > 0 ? timeout_s : a->cfg.stop_timeout_s) * 1000);
	virConnectClose(conn);
	if (r < 0)
		agent_fail(err, r, 500, "InternalError", "libvirt could not stop %s", id);
out:
	agent_unlock(a, id);
	json_object_put(doc);
	return r;
}

int agent_instance_reboot(struct agent *a, const char *id, bool force, struct agent_err *err)
{
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	struct json_object *doc = NULL;
	virConnectPtr conn;
	int r;

	agent_lock(a, id);
	r = load(a, id, &doc, err);
	if (r < 0)
		goto out;
	if (!streq(jstr(doc, "power"), "running")) {
		r = agent_fail(err, -ESRCH, 409, "IncorrectInstanceStatus", "instance %s is not running", id);
		goto out;
	}
	r = agent_virt_conn_or_fail(a->virt, &conn, err);
	if (r < 0)
		goto out;
	r = agent_domain_reboot(conn, dom, force);
	virConnectClose(conn);
	if (r == -ESRCH)
		agent_fail(err, r, 409, "IncorrectInstanceStatus", "instance %s is not running", id);
	else if (r < 0)
		agent_fail(err, r, 500, "InternalError", "libvirt could not reboot %s", id);
out:
	agent_unlock(a, id);
	json_object_put(doc);
	return r;
}

/* Delete what the document marked for deletion. Called with the lock held. */
static int finish_delete_locked(struct agent *a, const char *id, struct json_object *doc)
{
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	_cleanup_spec_ struct agent_instance_spec *spec = NULL;
	struct agent_err ignored = { 0 };
	struct json_object *disks = NULL;
	virConnectPtr conn = agent_virt_conn(a->virt);
	int r;

	if (!conn)
		return -EAGAIN;
	agent_virt_expect(a->virt, dom, VIR_DOMAIN_EVENT_UNDEFINED);
	r = agent_domain_remove(conn, dom);
	virConnectClose(conn);
	if (r < 0)
		return r;
	agent_fault_point(a, "delete.after_domain");
	/* A spec that does not decode any more still has its taps removed. */
	agent_instance_remove_taps(a, id,
				   agent_instance_spec_of_doc(doc, &spec, &ignored) == 0 ? spec->n_nics : AGENT_MAX_NICS);
	r = agent_volume_of_instance(a, id, &disks);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		const char *did = jstr(d, "disk_id");

		if (jbool(d, "delete_with_instance") || streq(jstr(d, "kind"), "system")) {
			r = agent_volume_destroy(a, did);
		} else {
			/* Kept: detached, as ECS does for a disk not deleted with its instance. */
			pthread_mutex_lock(&a->docs_lock);
			ecs_jb_str(d, "instance_id", "");
			ecs_jb_str(d, "device", "");
			r = agent_store_put(a->store, "disk", did, d);
			pthread_mutex_unlock(&a->docs_lock);
		}
		if (r < 0)
			break;
	}
	json_object_put(disks);
	if (r < 0)
		return r;
	r = agent_instance_forget(a, id);
	if (r == 0)
		log_info("instance deleted", "instance=%s", id);
	return r;
}

int agent_instance_forget(struct agent *a, const char *id)
{
	_cleanup_free_ char *dir = agent_instance_dir(a, id);

	if (!dir)
		return -ENOMEM;
	ecs_remove_tree(dir);
	if (a->metrics)
		agent_metrics_forget(a->metrics, id);
	return agent_store_delete(a->store, "instance", id);
}

/* End of a deletion: the lock and the document let go; once the instance is gone, the guard
 * and the security-group chains follow the instances left. Returns r. */
static int delete_unlock(struct agent *a, const char *id, struct json_object *doc, int r)
{
	agent_unlock(a, id);
	json_object_put(doc);
	if (r == 0) {
		agent_instance_refresh_guard(a);
		agent_secgroup_apply(a, false);
	}
	return r;
}

int agent_instance_finish_delete(struct agent *a, const char *id)
{
	struct json_object *doc = NULL;
	int r;

	agent_lock(a, id);
	r = agent_store_get(a->store, "instance", id, &doc);
	if (r == 0)
		r = finish_delete_locked(a, id, doc);
	else if (r == -ENOENT)
		r = 0;
	return delete_unlock(a, id, doc, r);
}

int agent_instance_delete(struct agent *a, const char *id, struct agent_err *err)
{
	struct json_object *doc = NULL;
	int r;

	if (!ecs_id_valid(ECS_ID_INSTANCE, id))
		return agent_fail(err, -EINVAL, 400, "InvalidInstanceId.Malformed", "%s is not an instance id", id);
	agent_lock(a, id);
	r = agent_store_get(a->store, "instance", id, &doc);
	if (r == -ENOENT) {
		r = 0; /* deleting what is gone succeeds */
		goto out;
	}
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot read the state of %s", id);
		goto out;
	}
	ecs_jb_bool(doc, "deleting", true);
	r = save(a, id, doc, err);
	if (r < 0)
		goto out;
	agent_fault_point(a, "delete.after_mark");
	r = finish_delete_locked(a, id, doc);
	if (r < 0)
		agent_fail(err, r, r == -EAGAIN ? 503 : 500, "InternalError",
			   "instance %s is marked for deletion; the rest will be retried", id);
out:
	return delete_unlock(a, id, doc, r);
}

int agent_instance_reinit(struct agent *a, const char *id, const char *image_id, struct agent_err *err)
{
	struct json_object *doc = NULL, *disks = NULL, *sys = NULL;
	int r;

	if (image_id && !agent_image_id_valid(image_id))
		return agent_fail(err, -EINVAL, 400, "InvalidImageId.Malformed", "%s is not an image id", image_id);
	agent_lock(a, id);
	r = load(a, id, &doc, err);
	if (r < 0)
		goto out;
	if (!streq(jstr(doc, "power"), "stopped") || !agent_instance_is_stopped(a, id)) {
		r = agent_fail(err, -EBUSY, 409, "IncorrectInstanceStatus", "instance %s must be stopped", id);
		goto out;
	}
	if (image_id && agent_image_ensure(a, image_id, NULL) < 0) {
		r = agent_fail(err, -ENOENT, 404, "InvalidImageId.NotFound", "image %s is not available", image_id);
		goto out;
	}
	r = agent_volume_of_instance(a, id, &disks);
	for (size_t i = 0; r == 0 && i < json_object_array_length(disks); i++)
		if (streq(jstr(json_object_array_get_idx(disks, i), "kind"), "system"))
			sys = json_object_array_get_idx(disks, i);
	if (!sys) {
		r = agent_fail(err, -ENOENT, 500, "InternalError", "instance %s has no system disk", id);
		goto out;
	}
	if (image_id) {
		ecs_jb_str(jget(doc, "spec"), "image_id", image_id);
		ecs_jb_str(sys, "image_id", image_id);
	}
	/* A fresh overlay on the image: "remake" makes the volume code replace the file. */
	ecs_jb_bool(sys, "ready", false);
	ecs_jb_bool(sys, "remake", true);
	ecs_jb_str(sys, "snapshot_id", "");
	r = agent_store_put(a->store, "disk", jstr(sys, "disk_id"), sys);
	if (r == 0)
		r = save(a, id, doc, err);
	if (r == 0)
		r = agent_instance_converge_locked(a, id, doc, false, err);
out:
	agent_unlock(a, id);
	json_object_put(disks);
	json_object_put(doc);
	return r;
}

int agent_instance_modify(struct agent *a, const char *id, struct json_object *changes, struct agent_err *err)
{
	struct agent_instance_spec *decoded = NULL;
	struct json_object *doc = NULL, *spec, *test;
	struct ecs_jreader jr;
	int r;

	ecs_jr_init(&jr, changes);
	ecs_jr_str(&jr, "hostname", 0, 64, NULL);
	ecs_jr_str(&jr, "password_hash", 0, 256, NULL);
	ecs_jr_array(&jr, "public_keys", 0, 16);
	ecs_jr_str(&jr, "user_data", 0, AGENT_MAX_USER_DATA * 4 / 3 + 4, NULL);
	ecs_jr_str(&jr, "key_pair_name", 0, 128, NULL);
	if (ecs_jr_finish(&jr, true) < 0)
		return agent_fail(err, jr.rc, 400, "InvalidParameter", "%s", jr.message);
	agent_lock(a, id);
	r = load(a, id, &doc, err);
	if (r < 0)
		goto out;
	spec = jget(doc, "spec");
	/* Validate the spec as it would become, with the same rules as create. */
	test = NULL;
	json_object_deep_copy(spec, &test, NULL);
	json_object_object_foreach(changes, k, v)
	{
		json_object_object_add(test, k, json_object_get(v));
	}
	r = agent_instance_spec_decode(test, &decoded, err);
	agent_instance_spec_free(decoded);
	if (r == 0) {
		json_object_object_add(doc, "spec", test);
		r = save(a, id, doc, err);
	} else {
		json_object_put(test);
	}
out:
	agent_unlock(a, id);
	json_object_put(doc);
	return r;
}

int agent_instance_console(struct agent *a, const char *id, size_t max, char **ret, size_t *ret_len,
			   struct agent_err *err)
{
	_cleanup_free_ char *dir = agent_instance_dir(a, id), *path = NULL;
	_cleanup_close_ int fd = -1;
	struct json_object *doc;
	char *buf;
	off_t size, start;
	ssize_t n;
	int r = load(a, id, &doc, err);

	if (r < 0)
		return r;
	json_object_put(doc);
	path = ecs_strdup_printf("%s/console.log", dir);
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*ret = strdup("");
		*ret_len = 0;
		return *ret ? 0 : -ENOMEM;
	}
	size = lseek(fd, 0, SEEK_END);
	start = size > (off_t)max ? size - (off_t)max : 0;
	buf = malloc((size_t)(size - start) + 1);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, (size_t)(size - start), start);
	if (n < 0) {
		free(buf);
		return agent_fail(err, -errno, 500, "InternalError", "cannot read the console of %s", id);
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

void agent_instance_on_event(struct agent *a, const char *domain, int event, int detail)
{
	if (!str_has_prefix(domain, AGENT_DOMAIN_PREFIX))
		return;
	log_info("domain event", "instance=%s event=%d detail=%d", domain + strlen(AGENT_DOMAIN_PREFIX), event,
		 detail);
	/* No state is written here: libvirt's event thread must not wait for an instance's
	 * lock, and a write without it could be lost under a converge in progress. The
	 * reconciler, woken now, decides under the lock (a clean guest shutdown: Stopped). */
	agent_kick(a);
	agent_controller_notify(a);
}
