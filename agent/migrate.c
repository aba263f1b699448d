/* migrate.c: live migration between hosts, the agents' part (migrate.h). */
#include "migrate.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "agent.h"
#include "domain.h"
#include "id.h"
#include "instance.h"
#include "instance_names.h"
#include "json.h"
#include "log.h"
#include "secgroup.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define DOMAIN_XML_MAX (256 * 1024)

struct json_object *agent_instance_new_doc(struct json_object *spec, bool start)
{
	struct json_object *doc = json_object_new_object();

	json_object_object_add(doc, "spec", json_object_get(spec));
	ecs_jb_str(doc, "power", start ? "running" : "stopped");
	ecs_jb_bool(doc, "deleting", false);
	ecs_jb_str(doc, "error", "");
	ecs_jb_int(doc, "created_at", time(NULL));
	return doc;
}

int agent_instance_record_disks(struct agent *a, const struct agent_instance_spec *spec, struct agent_err *err)
{
	const char *id = spec->instance_id;
	struct json_object *disk;
	int r;

	/* The disks must be new, or free (a data disk of a deleted instance must not be reused
	 * by mistake). Checked before anything is written. */
	pthread_mutex_lock(&a->docs_lock);
	for (size_t i = 0; i <= spec->n_data_disks; i++) {
		const struct agent_spec_disk *d = i == 0 ? &spec->system_disk : &spec->data_disks[i - 1];
		struct json_object *existing;

		if (agent_store_get(a->store, "disk", d->disk_id, &existing) == 0) {
			json_object_put(existing);
			pthread_mutex_unlock(&a->docs_lock);
			return agent_fail(err, -EEXIST, 409, "InvalidDiskId.Conflict", "disk %s exists already", d->disk_id);
		}
	}
	/* Intent first: the documents, durably; then the host. */
	disk = agent_volume_doc(spec->system_disk.disk_id, "system", spec->system_disk.size_gib, id, "vda",
				spec->image_id, NULL, true);
	r = agent_store_put(a->store, "disk", spec->system_disk.disk_id, disk);
	json_object_put(disk);
	for (size_t i = 0; r == 0 && i < spec->n_data_disks; i++) {
		const struct agent_spec_disk *d = &spec->data_disks[i];
		char dev[4] = { 'v', 'd', (char)('b' + i), '\0' };

		disk = agent_volume_doc(d->disk_id, "data", d->size_gib, id, dev, NULL, d->snapshot_id, true);
		r = agent_store_put(a->store, "disk", d->disk_id, disk);
		json_object_put(disk);
	}
	pthread_mutex_unlock(&a->docs_lock);
	return r < 0 ? agent_fail(err, r, 500, "InternalError", "cannot record the disks of %s", id) : 0;
}

int agent_instance_incoming_locked(struct agent *a, const struct agent_instance_spec *spec, struct json_object *disks,
				  struct json_object *doc, struct agent_err *err)
{
	_cleanup_free_ char *dir = agent_instance_dir(a, spec->instance_id), *iso = NULL;
	int r;

	(void)disks;
	(void)doc;
	/* The NIC's rules before the guest arrives: it sends the moment it runs here. */
	agent_secgroup_apply(a, false);
	iso = dir ? ecs_strdup_printf("%s/config.iso", dir) : NULL;
	r = iso ? agent_instance_build_config_drive(a, spec, iso) : -ENOMEM;
	return r < 0 ? agent_fail(err, r, 500, "InternalError", "cannot build the config drive of %s", spec->instance_id)
		     : 0;
}

static bool bool_or(struct json_object *o, const char *key, bool def)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_boolean(v) : def;
}

/* Only the named fields in a step's body. */
static int only(struct json_object *body, const char *const *fields, size_t n, struct agent_err *err)
{
	json_object_object_foreach(body, k, v)
	{
		bool known = false;

		(void)v;
		for (size_t i = 0; i < n && !known; i++)
			known = streq(fields[i], k);
		if (!known)
			return agent_fail(err, -EINVAL, 400, "InvalidParameter", "unknown field %s", k);
	}
	return 0;
}

static int step_in(struct agent *a, const char *id, struct json_object *body, struct json_object **ret,
		   struct agent_err *err)
{
	static const char *const f[] = { "spec" };
	_cleanup_spec_ struct agent_instance_spec *spec = NULL;
	struct json_object *body_spec = ecs_json_get(body, "spec"), *doc = NULL, *disks = NULL;
	_cleanup_free_ char *xml = NULL;
	int r;

	if ((r = only(body, f, ARRAY_SIZE(f), err)) < 0)
		return r;
	if (!json_object_is_type(body_spec, json_type_object))
		return agent_fail(err, -EINVAL, 400, "MissingParameter", "spec (the instance's create body) is required");
	if ((r = agent_instance_spec_decode(body_spec, &spec, err)) < 0)
		return r;
	if (!streq(spec->instance_id, id))
		return agent_fail(err, -EINVAL, 400, "InvalidParameter", "spec.instance_id differs from the path");
	agent_secgroup_prepare(a, spec);
	agent_lock(a, id);
	if (agent_store_get(a->store, "instance", id, &doc) == 0) {
		/* Asked again (the controller retried): the same incoming instance is prepared again. */
		if (!ecs_json_bool(doc, "incoming") || !json_object_equal(ecs_json_get(doc, "spec"), body_spec)) {
			r = agent_fail(err, -EEXIST, 409, "IncorrectInstanceStatus", "instance %s is on this host already",
				       id);
			goto out;
		}
	} else {
		r = agent_instance_record_disks(a, spec, err);
		if (r < 0)
			goto out;
		doc = agent_instance_new_doc(body_spec, spec->start);
		ecs_jb_bool(doc, "incoming", true);
		r = agent_store_put(a->store, "instance", id, doc);
		if (r < 0) {
			agent_fail(err, r, 500, "InternalError", "cannot record the state of %s", id);
			goto out;
		}
	}
	r = agent_instance_converge_locked(a, id, doc, false, err);
	if (r == 0)
		r = agent_volume_of_instance(a, id, &disks);
	if (r == 0 && !(xml = agent_instance_domain_xml(a, spec, disks)))
		r = agent_fail(err, -EINVAL, 500, "InternalError", "cannot build the domain of %s", id);
out:
	agent_unlock(a, id);
	json_object_put(doc);
	json_object_put(disks);
	if (r < 0)
		return r;
	agent_instance_refresh_guard(a);
	log_info("incoming migration prepared", "instance=%s", id);
	*ret = json_object_new_object();
	ecs_jb_str(*ret, "domain_xml", xml);
	return 0;
}

/* libvirt's peer-to-peer live migration to the target's libvirtd over TLS. */
static int migrate_live(struct agent *a, virDomainPtr d, const char *target, const char *xml, struct agent_err *err)
{
	_cleanup_free_ char *dconn = NULL, *uri = ecs_strdup_printf("tcp://%s", target);
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0, r = 0;
	const unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
			       VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_ABORT_ON_ERROR;

	dconn = *a->cfg.migration_pki_dir ? ecs_strdup_printf("qemu+tls://%s/system?pkipath=%s", target,
							      a->cfg.migration_pki_dir)
					  : ecs_strdup_printf("qemu+tls://%s/system", target);
	if (!dconn || !uri)
		return -ENOMEM;
	if (virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, uri) < 0 ||
	    virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, xml) < 0 ||
	    virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_PERSIST_XML, xml) < 0)
		r = agent_fail(err, -ENOMEM, 500, "InternalError", "cannot build the migration's parameters");
	if (r == 0 && virDomainMigrateToURI3(d, dconn, params, (unsigned)n, flags) < 0) {
		virErrorPtr e = virGetLastError();

		r = agent_fail(err, -EIO, 500, "MigrationFailed", "live migration to %s failed: %s", target,
			       e && e->message ? e->message : "unknown libvirt error");
	}
	virTypedParamsFree(params, n);
	return r;
}

static int step_out(struct agent *a, const char *id, struct json_object *body, struct json_object **ret,
		    struct agent_err *err)
{
	static const char *const f[] = { "target_address", "domain_xml", "live" };
	const char *target = ecs_json_str(body, "target_address", ""), *xml = ecs_json_str(body, "domain_xml", "");
	bool live = bool_or(body, "live", true), moved_live = false;
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	struct json_object *doc = NULL;
	virConnectPtr conn = NULL;
	virDomainPtr d = NULL;
	struct timespec t0, t1;
	int r;

	if ((r = only(body, f, ARRAY_SIZE(f), err)) < 0)
		return r;
	if (!ecs_ipv4_valid(target))
		return agent_fail(err, -EINVAL, 400, "InvalidParameter", "target_address must be an IPv4 address");
	if (live && (!*xml || strlen(xml) > DOMAIN_XML_MAX))
		return agent_fail(err, -EINVAL, 400, "InvalidParameter", "domain_xml (the target's) is required");
	if (!dom)
		return -ENOMEM;
	agent_lock(a, id);
	r = agent_instance_load(a, id, &doc, err);
	if (r == 0 && ecs_json_bool(doc, "incoming"))
		r = agent_fail(err, -EBUSY, 409, "IncorrectInstanceStatus", "instance %s is arriving here", id);
	if (r < 0)
		goto out;
	r = agent_virt_conn_or_fail(a->virt, &conn, err);
	if (r < 0)
		goto out;
	d = virDomainLookupByName(conn, dom);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (d && live && virDomainIsActive(d) == 1) {
		agent_virt_expect(a->virt, dom, VIR_DOMAIN_EVENT_UNDEFINED);
		r = migrate_live(a, d, target, xml, err);
		if (r < 0)
			goto out; /* still running here */
		moved_live = true;
	} else if (d && virDomainIsActive(d) == 1) {
		r = agent_domain_stop(conn, dom, false, a->cfg.stop_timeout_s * 1000);
		if (r < 0) {
			agent_fail(err, r, 500, "InternalError", "cannot stop %s", id);
			goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Gone from here: taps, folder, documents; the disks are the target's now. */
	r = agent_instance_evict_locked(a, id);
	if (r < 0 && moved_live) {
		/* It runs there: a success; the reconciler asks the controller and removes the rest. */
		log_warn("migrated, but not all removed here", "instance=%s error=%s", id, strerror(-r));
		r = 0;
	} else if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "stopped, but not removed here: %s", strerror(-r));
	}
out:
	if (d)
		virDomainFree(d);
	if (conn)
		virConnectClose(conn);
	agent_unlock(a, id);
	json_object_put(doc);
	if (r < 0)
		return r;
	agent_instance_refresh_guard(a);
	agent_secgroup_apply(a, false);
	log_info(moved_live ? "instance migrated live" : "instance moved (shut down here)", "instance=%s target=%s ms=%lld",
		 id, target, (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	*ret = json_object_new_object();
	ecs_jb_bool(*ret, "live", moved_live);
	ecs_jb_int(*ret, "migrate_ms", (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	return 0;
}

/* The downtime of the live switch as libvirt measured it (the completed job's), or -1. */
static long long downtime_ms(struct agent *a, const char *dom)
{
	virConnectPtr conn = agent_virt_conn(a->virt);
	virDomainPtr d = conn ? virDomainLookupByName(conn, dom) : NULL;
	virTypedParameterPtr p = NULL;
	unsigned long long v = 0;
	int type = 0, n = 0;
	long long ms = -1;

	if (d && virDomainGetJobStats(d, &type, &p, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0 &&
	    virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
		ms = (long long)v;
	virTypedParamsFree(p, n);
	if (d)
		virDomainFree(d);
	if (conn)
		virConnectClose(conn);
	return ms;
}

static int step_finish(struct agent *a, const char *id, struct json_object *body, struct json_object **ret,
		       struct agent_err *err)
{
	static const char *const f[] = { "start" };
	bool start = bool_or(body, "start", true);
	_cleanup_free_ char *dom = agent_instance_domain_name(id);
	struct json_object *doc = NULL;
	long long down;
	int r;

	if ((r = only(body, f, ARRAY_SIZE(f), err)) < 0)
		return r;
	if (!dom)
		return -ENOMEM;
	down = downtime_ms(a, dom);
	agent_lock(a, id);
	r = agent_instance_load(a, id, &doc, err);
	if (r == 0 && ecs_json_bool(doc, "incoming")) {
		json_object_object_del(doc, "incoming");
		ecs_jb_str(doc, "power", start ? "running" : "stopped");
		r = agent_store_put(a->store, "instance", id, doc);
		if (r < 0)
			agent_fail(err, r, 500, "InternalError", "cannot record the state of %s", id);
	}
	/* A repeated finish converges again: idempotent. */
	if (r == 0)
		r = agent_instance_converge_locked(a, id, doc, start, err);
	agent_unlock(a, id);
	json_object_put(doc);
	if (r < 0)
		return r;
	log_info("incoming migration finished", "instance=%s downtime_ms=%lld", id, down);
	r = agent_instance_describe(a, id, ret, err);
	if (r == 0)
		ecs_jb_int(*ret, "downtime_ms", down);
	return r;
}

static int step_abort(struct agent *a, const char *id, struct json_object *body, struct agent_err *err)
{
	struct json_object *doc = NULL;
	int r;

	if ((r = only(body, NULL, 0, err)) < 0)
		return r;
	agent_lock(a, id);
	r = agent_store_get(a->store, "instance", id, &doc);
	if (r == -ENOENT) {
		r = 0; /* nothing was made, or it is gone already */
	} else if (r == 0 && !ecs_json_bool(doc, "incoming")) {
		r = agent_fail(err, -EBUSY, 409, "IncorrectInstanceStatus", "instance %s is no incoming migration", id);
	} else if (r == 0) {
		r = agent_instance_evict_locked(a, id);
		if (r < 0)
			agent_fail(err, r, 500, "InternalError", "cannot remove %s: %s", id, strerror(-r));
	} else {
		agent_fail(err, r, 500, "InternalError", "cannot read the state of %s", id);
	}
	agent_unlock(a, id);
	json_object_put(doc);
	if (r == 0) {
		agent_instance_refresh_guard(a);
		agent_secgroup_apply(a, false);
		log_info("incoming migration aborted", "instance=%s", id);
	}
	return r;
}

int agent_migrate_action(struct agent *a, const char *id, const char *step, struct json_object *body,
			 struct json_object **ret, struct agent_err *err)
{
	if (!ecs_id_valid(ECS_ID_INSTANCE, id))
		return agent_fail(err, -EINVAL, 400, "InvalidInstanceId.Malformed", "%s is not an instance id", id);
	if (!body || !json_object_is_type(body, json_type_object))
		return agent_fail(err, -EINVAL, 400, "InvalidParameter", "a JSON object body is required");
	if (streq(step, "in"))
		return step_in(a, id, body, ret, err);
	if (streq(step, "out"))
		return step_out(a, id, body, ret, err);
	if (streq(step, "finish"))
		return step_finish(a, id, body, ret, err);
	if (streq(step, "abort"))
		return step_abort(a, id, body, err);
	return agent_fail(err, -ENOENT, 404, "InvalidAction.NotFound", "no such instance action");
}
