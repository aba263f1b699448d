#include "volume.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "disk.h"
#include "domain.h"
#include "id.h"
#include "image.h"
#include "instance_names.h"
#include "json.h"
#include "log.h"
#include "snapshot_file.h"
#include "storage.h"
#include "store.h"
#include "util.h"
#include "virt.h"

/* Documents are the agent's own: absent fields read as "" / false. */
#define jget ecs_json_get
#define jstr(o, key) ecs_json_str(o, key, "")

#define jbool ecs_json_bool

struct json_object *agent_volume_doc(const char *disk_id, const char *kind, long long size_gib,
				     const char *instance_id, const char *device, const char *image_id,
				     const char *snapshot_id, bool delete_with_instance)
{
	struct json_object *d = json_object_new_object();

	ecs_jb_str(d, "disk_id", disk_id);
	ecs_jb_str(d, "kind", kind);
	ecs_jb_int(d, "size_gib", size_gib);
	ecs_jb_str(d, "instance_id", instance_id);
	ecs_jb_str(d, "device", device);
	ecs_jb_str(d, "image_id", image_id);
	ecs_jb_str(d, "snapshot_id", snapshot_id);
	ecs_jb_str(d, "base_image", "");
	ecs_jb_bool(d, "delete_with_instance", delete_with_instance);
	ecs_jb_bool(d, "ready", false);
	ecs_jb_bool(d, "deleting", false);
	return d;
}

static int load(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err)
{
	int r;

	if (!ecs_id_valid(ECS_ID_DISK, id))
		return agent_fail(err, -EINVAL, 400, "InvalidDiskId.Malformed", "%s is not a disk id", id);
	r = agent_store_get(a->store, "disk", id, ret);
	if (r == -ENOENT || (r == 0 && jbool(*ret, "deleting"))) {
		if (r == 0)
			json_object_put(*ret);
		return agent_fail(err, -ENOENT, 404, "InvalidDiskId.NotFound", "disk %s is not on this host", id);
	}
	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "cannot read disk %s", id);
	return 0;
}

/* Roll an RBD disk back inside RADOS. librbd rewrites it object by object, so the document
 * says "rolling_back" until it is done: a crash in between and the disk is rolled back
 * again before anything uses it (agent_volume_ensure_file). */
static int rollback_rbd(struct agent *a, struct json_object *d, const char *disk_id, const char *snapshot_id)
{
	int r;

	pthread_mutex_lock(&a->docs_lock);
	ecs_jb_str(d, "rolling_back", snapshot_id);
	r = agent_store_put(a->store, "disk", disk_id, d);
	pthread_mutex_unlock(&a->docs_lock);
	if (r == 0) {
		agent_fault_point(a, "reset.after_mark");
		r = agent_storage_disk_rollback(a, disk_id, snapshot_id);
	}
	if (r < 0)
		return r;
	pthread_mutex_lock(&a->docs_lock);
	json_object_object_del(d, "rolling_back");
	r = agent_store_put(a->store, "disk", disk_id, d);
	pthread_mutex_unlock(&a->docs_lock);
	return r;
}

/* Make the file from what the document says it is. */
static int make_file(struct agent *a, struct json_object *d, const char *disk_id)
{
	unsigned long long size = (unsigned long long)json_object_get_int64(jget(d, "size_gib")) * AGENT_GIB;
	const char *snap = jstr(d, "snapshot_id"), *image = jstr(d, "image_id");
	struct json_object *sdoc = NULL;
	_cleanup_free_ char *src = NULL, *base = NULL;
	int r;

	if (*snap) {
		r = agent_snapshot_doc(a, snap, &sdoc);
		if (r == 0 && agent_snapshot_in_rbd(sdoc)) {
			/* A copy-on-write clone of the RBD snapshot: no byte leaves RADOS. */
			if (*jstr(sdoc, "base_image"))
				ecs_jb_str(d, "base_image", jstr(sdoc, "base_image"));
			r = a->rbd ? agent_storage_disk_from_snapshot(a, disk_id, jstr(sdoc, "disk_id"), snap, size)
				   : -ENOENT;
			json_object_put(sdoc);
			return r;
		}
		json_object_put(sdoc);
		sdoc = NULL;
		r = r < 0 ? r : agent_snapshot_fetch(a, snap, &src, &sdoc);
		if (r < 0)
			return r;
		/* Only the difference from the image the snapshot came from, when it is here. */
		if (*jstr(sdoc, "base_image") && agent_image_ensure(a, jstr(sdoc, "base_image"), NULL) == 0) {
			base = agent_image_file(a, jstr(sdoc, "base_image"), "disk");
			ecs_jb_str(d, "base_image", jstr(sdoc, "base_image"));
		}
		json_object_put(sdoc);
		return agent_storage_disk_from_file(a, disk_id, src, base, size);
	}
	if (*image) {
		ecs_jb_str(d, "base_image", image);
		return agent_storage_disk_on_image(a, disk_id, image, size);
	}
	return agent_storage_disk_empty(a, disk_id, size);
}

int agent_volume_ensure_file(struct agent *a, const char *disk_id)
{
	struct json_object *d = NULL;
	bool exists = false;
	int r;

	r = agent_store_get(a->store, "disk", disk_id, &d);
	if (r < 0)
		return r;
	/* A disk to make anew (reinit): the old file goes first; the flag stays until the new
	 * one is in place, so a crash in between just does it again. */
	if (jbool(d, "remake") && (r = agent_storage_disk_remove(a, disk_id)) < 0)
		goto out;
	r = agent_storage_disk_exists(a, disk_id, &exists);
	if (r < 0)
		goto out;
	if (exists && jbool(d, "ready") && *jstr(d, "rolling_back")) {
		/* A rollback a crash cut short: done again, whole. */
		_cleanup_free_ char *snap = strdup(jstr(d, "rolling_back"));

		log_warn("finishing an interrupted rollback", "disk=%s snapshot=%s", disk_id, snap ? snap : "");
		r = snap ? rollback_rbd(a, d, disk_id, snap) : -ENOMEM;
		goto out;
	}
	if (exists && jbool(d, "ready")) {
		r = 0;
		goto out;
	}
	if (!exists && jbool(d, "ready")) {
		/* A complete disk whose file is gone is lost data: never paper over it. */
		log_error("disk file missing", "disk=%s backend=%s", disk_id, a->cfg.storage_backend);
		r = -EIO;
		goto out;
	}
	/* Files appear only whole (renamed into place): one that exists is complete. */
	if (!exists) {
		r = make_file(a, d, disk_id);
		if (r < 0) {
			log_error("cannot make disk", "disk=%s error=%s", disk_id, strerror(-r));
			goto out;
		}
	}
	pthread_mutex_lock(&a->docs_lock);
	{
		struct json_object *cur = NULL;

		/* Re-read: attachment may have changed while the file was made. */
		if (agent_store_get(a->store, "disk", disk_id, &cur) == 0) {
			ecs_jb_bool(cur, "ready", true);
			json_object_object_del(cur, "remake");
			ecs_jb_str(cur, "base_image", jstr(d, "base_image"));
			r = agent_store_put(a->store, "disk", disk_id, cur);
			json_object_put(cur);
		}
	}
	pthread_mutex_unlock(&a->docs_lock);
out:
	json_object_put(d);
	return r;
}

static int by_device(const void *x, const void *y)
{
	return strcmp(jstr(*(struct json_object *const *)x, "device"), jstr(*(struct json_object *const *)y, "device"));
}

/* An array of what pick makes of each disk document (those it returns NULL for left out). */
static int disks_collect(struct agent *a,
			 struct json_object *(*pick)(struct agent *a, const char *id, struct json_object *d, void *arg),
			 void *arg, struct json_object **ret)
{
	struct json_object *all = NULL, *out;
	int r = agent_store_list(a->store, "disk", &all);

	if (r < 0)
		return r;
	out = json_object_new_array();
	json_object_object_foreach(all, id, d)
	{
		struct json_object *o = pick(a, id, d, arg);

		if (o)
			json_object_array_add(out, o);
	}
	json_object_put(all);
	*ret = out;
	return 0;
}

/* The disk while attached to instance arg and not being deleted. */
static struct json_object *pick_of_instance(struct agent *a, const char *id, struct json_object *d, void *arg)
{
	(void)a;
	(void)id;
	return streq(jstr(d, "instance_id"), arg) && !jbool(d, "deleting") ? json_object_get(d) : NULL;
}

int agent_volume_of_instance(struct agent *a, const char *instance_id, struct json_object **ret)
{
	int r = disks_collect(a, pick_of_instance, (void *)instance_id, ret);

	if (r == 0)
		json_object_array_sort(*ret, by_device);
	return r;
}


int agent_volume_destroy(struct agent *a, const char *disk_id)
{
	struct json_object *d = NULL;
	int r;

	r = agent_store_get(a->store, "disk", disk_id, &d);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	ecs_jb_bool(d, "deleting", true);
	r = agent_store_put(a->store, "disk", disk_id, d);
	json_object_put(d);
	if (r < 0)
		return r;
	r = agent_storage_disk_remove(a, disk_id);
	if (r < 0)
		return r;
	r = agent_store_delete(a->store, "disk", disk_id);
	if (r == 0)
		log_info("disk deleted", "disk=%s", disk_id);
	return r;
}

int agent_volume_create(struct agent *a, struct json_object *body, struct json_object **ret, struct agent_err *err)
{
	struct ecs_jreader jr;
	struct json_object *d = NULL;
	const char *id, *snap;
	long long size;
	int r;

	ecs_jr_init(&jr, body);
	id = ecs_jr_str(&jr, "disk_id", ECS_JR_REQUIRED, 64, NULL);
	size = ecs_jr_int(&jr, "size_gib", ECS_JR_REQUIRED, 1, AGENT_MAX_DISK_GIB, 0);
	snap = ecs_jr_str(&jr, "snapshot_id", 0, 64, "");
	if (ecs_jr_finish(&jr, true) < 0)
		return agent_fail(err, jr.rc, 400, jr.rc == -ENOENT ? "MissingParameter" : "InvalidParameter", "%s",
				  jr.message);
	if (!ecs_id_valid(ECS_ID_DISK, id))
		return agent_fail(err, -EINVAL, 400, "InvalidDiskId.Malformed", "%s is not a disk id", id);
	if (*snap && !ecs_id_valid(ECS_ID_SNAPSHOT, snap))
		return agent_fail(err, -EINVAL, 400, "InvalidSnapshotId.Malformed", "%s is not a snapshot id", snap);
	agent_lock(a, id);
	pthread_mutex_lock(&a->docs_lock);
	if (agent_store_get(a->store, "disk", id, &d) == 0) {
		bool same = json_object_get_int64(jget(d, "size_gib")) == size && streq(jstr(d, "snapshot_id"), snap) &&
			    streq(jstr(d, "kind"), "data");

		pthread_mutex_unlock(&a->docs_lock);
		r = same ? 0 : agent_fail(err, -EEXIST, 409, "InvalidDiskId.Conflict", "disk %s exists", id);
		if (r == 0)
			r = agent_volume_ensure_file(a, id);
		goto out;
	}
	d = agent_volume_doc(id, "data", size, "", "", "", snap, false);
	r = agent_store_put(a->store, "disk", id, d);
	pthread_mutex_unlock(&a->docs_lock);
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot record disk %s", id);
		goto out;
	}
	r = agent_volume_ensure_file(a, id);
	if (r == -ENOENT) {
		agent_volume_destroy(a, id);
		agent_fail(err, r, 404, "InvalidSnapshotId.NotFound", "snapshot %s is not available", snap);
	} else if (r < 0) {
		agent_volume_destroy(a, id);
		agent_fail(err, r, 500, "InternalError", "cannot make disk %s", id);
	}
out:
	agent_unlock(a, id);
	json_object_put(d);
	if (r == 0 && ret)
		r = agent_volume_describe(a, id, ret, err);
	return r;
}

int agent_volume_describe(struct agent *a, const char *disk_id, struct json_object **ret, struct agent_err *err)
{
	struct json_object *d;
	int r = load(a, disk_id, &d, err);

	if (r < 0)
		return r;
	ecs_jb_str(d, "status", *jstr(d, "instance_id") ? "In_use" : jbool(d, "ready") ? "Available" : "Creating");
	*ret = d;
	return 0;
}

/* The disk as agent_volume_describe tells it. */
static struct json_object *pick_described(struct agent *a, const char *id, struct json_object *d, void *arg)
{
	struct json_object *desc;

	(void)d;
	(void)arg;
	return agent_volume_describe(a, id, &desc, NULL) == 0 ? desc : NULL;
}

int agent_volume_list(struct agent *a, struct json_object **ret)
{
	return disks_collect(a, pick_described, NULL, ret);
}

/* The disk as libvirt sees it; *buf holds its strings. */
static int domain_disk(struct agent *a, struct json_object *d, struct agent_domain_disk *dd, char **buf)
{
	*dd = (struct agent_domain_disk){ .target = jstr(d, "device"), .serial = jstr(d, "disk_id") + 2 };
	return agent_storage_domain_disk(a, jstr(d, "disk_id"), dd, buf);
}

/* Pick the first free vdb…vdz of an instance. */
static int free_device(struct agent *a, const char *instance_id, char dev[4])
{
	struct json_object *disks = NULL;
	int r = agent_volume_of_instance(a, instance_id, &disks);

	if (r < 0)
		return r;
	for (char c = 'b'; c <= 'z'; c++) {
		bool used = false;

		snprintf(dev, 4, "vd%c", c);
		for (size_t i = 0; i < json_object_array_length(disks) && !used; i++)
			used = streq(jstr(json_object_array_get_idx(disks, i), "device"), dev);
		if (!used) {
			json_object_put(disks);
			return 0;
		}
	}
	json_object_put(disks);
	return -ENOSPC;
}

int agent_volume_attach(struct agent *a, const char *disk_id, const char *instance_id, bool delete_with_instance,
			struct json_object **ret, struct agent_err *err)
{
	_cleanup_free_ char *dom = agent_instance_domain_name(instance_id), *path = NULL;
	struct json_object *inst = NULL, *d = NULL;
	virConnectPtr conn = NULL;
	struct agent_domain_disk dd;
	char dev[4];
	int r;

	if (!ecs_id_valid(ECS_ID_INSTANCE, instance_id))
		return agent_fail(err, -EINVAL, 400, "InvalidInstanceId.Malformed", "%s is not an instance id",
				  instance_id);
	agent_lock(a, instance_id);
	r = agent_store_get(a->store, "instance", instance_id, &inst);
	if (r < 0 || jbool(inst, "deleting")) {
		r = agent_fail(err, -ENOENT, 404, "InvalidInstanceId.NotFound", "instance %s is not on this host",
			       instance_id);
		goto out;
	}
	pthread_mutex_lock(&a->docs_lock);
	r = load(a, disk_id, &d, err);
	if (r == 0 && streq(jstr(d, "instance_id"), instance_id)) {
		pthread_mutex_unlock(&a->docs_lock);
		goto live; /* attached already: make sure libvirt agrees */
	}
	if (r == 0 && *jstr(d, "instance_id"))
		r = agent_fail(err, -EBUSY, 403, "IncorrectDiskStatus", "disk %s is attached to %s", disk_id,
			       jstr(d, "instance_id"));
	if (r == 0 && free_device(a, instance_id, dev) < 0)
		r = agent_fail(err, -ENOSPC, 403, "InstanceDiskNumber.LimitExceed", "instance %s has no free device",
			       instance_id);
	if (r == 0) {
		ecs_jb_str(d, "instance_id", instance_id);
		ecs_jb_str(d, "device", dev);
		ecs_jb_bool(d, "delete_with_instance", delete_with_instance);
		r = agent_store_put(a->store, "disk", disk_id, d);
		if (r < 0)
			agent_fail(err, r, 500, "InternalError", "cannot record the attachment of %s", disk_id);
	}
	pthread_mutex_unlock(&a->docs_lock);
	if (r < 0)
		goto out;
	agent_fault_point(a, "attach.after_mark");
live:
	r = agent_volume_ensure_file(a, disk_id);
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "disk %s has no file", disk_id);
		goto out;
	}
	r = agent_virt_conn_or_fail(a->virt, &conn, err);
	if (r < 0)
		goto out;
	{
		enum agent_domain_state st;

		r = agent_domain_get_state(conn, dom, &st, NULL);
		/* No domain yet: the next start defines it with the disk. */
		if (r == 0 && st != AGENT_DOMAIN_MISSING) {
			r = domain_disk(a, d, &dd, &path);
			if (r == 0)
				r = agent_domain_attach_disk(conn, dom, &dd);
		}
	}
	if (r < 0)
		agent_fail(err, r, 500, "InternalError", "libvirt could not attach %s to %s", disk_id, instance_id);
	else
		log_info("disk attached", "disk=%s instance=%s device=%s", disk_id, instance_id, jstr(d, "device"));
out:
	if (conn)
		virConnectClose(conn);
	agent_unlock(a, instance_id);
	json_object_put(inst);
	if (r == 0 && ret)
		*ret = json_object_get(d);
	json_object_put(d);
	return r;
}

int agent_volume_detach(struct agent *a, const char *disk_id, struct agent_err *err)
{
	_cleanup_free_ char *path = NULL, *dom = NULL, *inst = NULL;
	struct json_object *d = NULL;
	virConnectPtr conn;
	struct agent_domain_disk dd;
	int r = load(a, disk_id, &d, err);

	if (r < 0)
		return r;
	if (!*jstr(d, "instance_id")) {
		json_object_put(d);
		return 0; /* detached already */
	}
	if (streq(jstr(d, "kind"), "system")) {
		json_object_put(d);
		return agent_fail(err, -EPERM, 403, "IncorrectDiskStatus", "a system disk cannot be detached");
	}
	inst = strdup(jstr(d, "instance_id"));
	json_object_put(d);
	d = NULL;
	if (!inst)
		return -ENOMEM;
	dom = agent_instance_domain_name(inst);
	agent_lock(a, inst);
	r = load(a, disk_id, &d, err);
	if (r < 0 || !streq(jstr(d, "instance_id"), inst))
		goto out; /* changed meanwhile: whatever it is now, it is not attached to inst */
	r = agent_virt_conn_or_fail(a->virt, &conn, err);
	if (r < 0)
		goto out;
	r = domain_disk(a, d, &dd, &path);
	if (r == 0)
		r = agent_domain_detach_disk(conn, dom, &dd, 30000);
	virConnectClose(conn);
	if (r < 0) {
		agent_fail(err, r, r == -ETIMEDOUT ? 409 : 500, "IncorrectDiskStatus",
			   "the guest did not release disk %s", disk_id);
		goto out;
	}
	pthread_mutex_lock(&a->docs_lock);
	ecs_jb_str(d, "instance_id", "");
	ecs_jb_str(d, "device", "");
	r = agent_store_put(a->store, "disk", disk_id, d);
	pthread_mutex_unlock(&a->docs_lock);
	if (r == 0)
		log_info("disk detached", "disk=%s instance=%s", disk_id, inst);
out:
	agent_unlock(a, inst);
	json_object_put(d);
	return r;
}

/* Lock whatever the disk belongs to: its instance, or itself when detached. Returns the
 * id locked (caller frees and unlocks). */
static char *lock_owner(struct agent *a, const char *disk_id)
{
	struct json_object *d = NULL;
	char *owner;

	for (int tries = 0; tries < 5; tries++) {
		if (agent_store_get(a->store, "disk", disk_id, &d) < 0)
			return NULL;
		owner = strdup(*jstr(d, "instance_id") ? jstr(d, "instance_id") : disk_id);
		json_object_put(d);
		if (!owner)
			return NULL;
		agent_lock(a, owner);
		if (agent_store_get(a->store, "disk", disk_id, &d) < 0) {
			agent_unlock(a, owner);
			free(owner);
			return NULL;
		}
		if (streq(*jstr(d, "instance_id") ? jstr(d, "instance_id") : disk_id, owner)) {
			json_object_put(d);
			return owner;
		}
		json_object_put(d);
		agent_unlock(a, owner);
		free(owner);
	}
	return NULL;
}

/* lock_owner, then the disk's document as it is under that lock into *d. *owner is NULL
 * (nothing locked) when the disk is gone; else the caller unlocks it, whatever the load's result. */
static int lock_and_load(struct agent *a, const char *disk_id, char **owner, struct json_object **d,
			 struct agent_err *err)
{
	*owner = lock_owner(a, disk_id);
	if (!*owner)
		return agent_fail(err, -ENOENT, 404, "InvalidDiskId.NotFound", "disk %s is not on this host", disk_id);
	return load(a, disk_id, d, err);
}

int agent_volume_resize(struct agent *a, const char *disk_id, long long size_gib, struct agent_err *err)
{
	_cleanup_free_ char *owner = NULL;
	struct json_object *d = NULL;
	long long have;
	int r = load(a, disk_id, &d, err);

	if (r < 0)
		return r;
	json_object_put(d);
	d = NULL;
	if (size_gib < 1 || size_gib > AGENT_MAX_DISK_GIB)
		return agent_fail(err, -EINVAL, 400, "InvalidParameter", "size_gib must be in 1..%d", AGENT_MAX_DISK_GIB);
	r = lock_and_load(a, disk_id, &owner, &d, err);
	if (!owner)
		return r;
	if (r < 0)
		goto out;
	have = json_object_get_int64(jget(d, "size_gib"));
	if (size_gib < have) {
		r = agent_fail(err, -EINVAL, 400, "InvalidParameter", "disks only grow: %s is %lld GiB", disk_id, have);
		goto out;
	}
	if (size_gib == have)
		goto out;
	r = agent_volume_ensure_file(a, disk_id);
	if (r == 0 && *jstr(d, "instance_id") && !agent_instance_is_stopped(a, jstr(d, "instance_id"))) {
		_cleanup_free_ char *dom = agent_instance_domain_name(jstr(d, "instance_id"));
		virConnectPtr conn = agent_virt_conn(a->virt);

		r = conn ? agent_domain_resize_disk(conn, dom, jstr(d, "device"), (unsigned long long)size_gib * AGENT_GIB)
			 : -EAGAIN;
		if (conn)
			virConnectClose(conn);
	} else if (r == 0) {
		r = agent_storage_disk_grow(a, disk_id, (unsigned long long)size_gib * AGENT_GIB);
	}
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot grow disk %s", disk_id);
		goto out;
	}
	pthread_mutex_lock(&a->docs_lock);
	{
		struct json_object *cur = NULL;

		if (agent_store_get(a->store, "disk", disk_id, &cur) == 0) {
			ecs_jb_int(cur, "size_gib", size_gib);
			r = agent_store_put(a->store, "disk", disk_id, cur);
			json_object_put(cur);
		}
	}
	pthread_mutex_unlock(&a->docs_lock);
out:
	agent_unlock(a, owner);
	json_object_put(d);
	return r;
}

int agent_volume_delete(struct agent *a, const char *disk_id, struct agent_err *err)
{
	struct json_object *d = NULL;
	int r;

	if (!ecs_id_valid(ECS_ID_DISK, disk_id))
		return agent_fail(err, -EINVAL, 400, "InvalidDiskId.Malformed", "%s is not a disk id", disk_id);
	agent_lock(a, disk_id);
	pthread_mutex_lock(&a->docs_lock);
	r = agent_store_get(a->store, "disk", disk_id, &d);
	if (r == -ENOENT) {
		r = 0;
	} else if (r == 0 && *jstr(d, "instance_id")) {
		r = agent_fail(err, -EBUSY, 403, "IncorrectDiskStatus", "disk %s is attached to %s", disk_id,
			       jstr(d, "instance_id"));
	} else if (r == 0) {
		/* Marked while the docs lock is held, so no attach can slip in. */
		ecs_jb_bool(d, "deleting", true);
		r = agent_store_put(a->store, "disk", disk_id, d);
	}
	pthread_mutex_unlock(&a->docs_lock);
	if (r == 0 && d)
		r = agent_volume_destroy(a, disk_id);
	agent_unlock(a, disk_id);
	json_object_put(d);
	return r;
}

int agent_volume_reset(struct agent *a, const char *disk_id, const char *snapshot_id, struct agent_err *err)
{
	_cleanup_free_ char *owner = NULL, *src = NULL, *base = NULL;
	struct json_object *d = NULL, *sdoc = NULL;
	int r;

	if (!ecs_id_valid(ECS_ID_SNAPSHOT, snapshot_id))
		return agent_fail(err, -EINVAL, 400, "InvalidSnapshotId.Malformed", "%s is not a snapshot id", snapshot_id);
	r = load(a, disk_id, &d, err);
	if (r < 0)
		return r;
	json_object_put(d);
	d = NULL;
	r = lock_and_load(a, disk_id, &owner, &d, err);
	if (!owner)
		return r;
	if (r < 0)
		goto out;
	if (*jstr(d, "instance_id") && !agent_instance_is_stopped(a, jstr(d, "instance_id"))) {
		r = agent_fail(err, -EBUSY, 403, "IncorrectInstanceStatus", "instance %s must be stopped",
			       jstr(d, "instance_id"));
		goto out;
	}
	r = agent_snapshot_doc(a, snapshot_id, &sdoc);
	if (r == 0 && !agent_snapshot_in_rbd(sdoc)) {
		json_object_put(sdoc);
		sdoc = NULL;
		r = agent_snapshot_fetch(a, snapshot_id, &src, &sdoc);
	}
	if (r < 0) {
		agent_fail(err, r, 404, "InvalidSnapshotId.NotFound", "snapshot %s is not available", snapshot_id);
		goto out;
	}
	if (!streq(jstr(sdoc, "disk_id"), disk_id)) {
		r = agent_fail(err, -EINVAL, 403, "IncorrectSnapshotStatus", "snapshot %s was not taken of disk %s",
			       snapshot_id, disk_id);
		goto out;
	}
	if (agent_snapshot_in_rbd(sdoc)) {
		r = rollback_rbd(a, d, disk_id, snapshot_id);
		if (r < 0)
			agent_fail(err, r, 500, "InternalError", "cannot roll disk %s back", disk_id);
		else
			log_info("disk rolled back", "disk=%s snapshot=%s", disk_id, snapshot_id);
		goto out;
	}
	if (*jstr(sdoc, "base_image") && agent_image_ensure(a, jstr(sdoc, "base_image"), NULL) == 0)
		base = agent_image_file(a, jstr(sdoc, "base_image"), "disk");
	/* The new content is made beside the disk and renamed over it: all or nothing. */
	r = agent_storage_disk_from_file(a, disk_id, src, base,
				   (unsigned long long)json_object_get_int64(jget(d, "size_gib")) * AGENT_GIB);
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot roll disk %s back", disk_id);
		goto out;
	}
	pthread_mutex_lock(&a->docs_lock);
	ecs_jb_str(d, "base_image", base ? jstr(sdoc, "base_image") : "");
	r = agent_store_put(a->store, "disk", disk_id, d);
	pthread_mutex_unlock(&a->docs_lock);
	log_info("disk rolled back", "disk=%s snapshot=%s", disk_id, snapshot_id);
out:
	agent_unlock(a, owner);
	json_object_put(sdoc);
	json_object_put(d);
	return r;
}
