#include "snapshot.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "blob.h"
#include "disk.h"
#include "domain.h"
#include "id.h"
#include "image.h"
#include "instance_names.h"
#include "json.h"
#include "log.h"
#include "snapshot_file.h"
#include "spec.h"
#include "storage.h"
#include "store.h"
#include "util.h"
#include "virt.h"
#include "volume.h"

#define BACKUP_TIMEOUT_MS (30 * 60 * 1000)

/* Documents are the agent's own: absent fields read as "" / false. */
#define jget ecs_json_get
#define jstr(o, key) ecs_json_str(o, key, "")

static int load(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err)
{
	int r;

	if (!ecs_id_valid(ECS_ID_SNAPSHOT, id))
		return agent_fail(err, -EINVAL, 400, "InvalidSnapshotId.Malformed", "%s is not a snapshot id", id);
	r = agent_store_get(a->store, "snapshot", id, ret);
	if (r == -ENOENT)
		return agent_fail(err, r, 404, "InvalidSnapshotId.NotFound", "snapshot %s is not on this host", id);
	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "cannot read snapshot %s", id);
	return 0;
}

/* Push-mode backup of one disk of a running domain into target; waits for the job. */
static int backup_running(virConnectPtr conn, const char *dom_name, const char *device, const char *target)
{
	_cleanup_free_ char *xml = NULL;
	virDomainPtr dom = virDomainLookupByName(conn, dom_name);
	virTypedParameterPtr params = NULL;
	int nparams = 0, type = 0, r = 0;
	virDomainJobInfo info;

	if (!dom)
		return -ENOENT;
	/* Only this disk; the others and the config drive are left out explicitly. */
	xml = ecs_strdup_printf("<domainbackup mode='push'><disks>"
				"<disk name='%s' backup='yes' type='file'><target file='%s'/>"
				"<driver type='qcow2'/></disk></disks></domainbackup>",
				device, target);
	if (!xml) {
		r = -ENOMEM;
		goto out;
	}
	if (virDomainBackupBegin(dom, xml, NULL, 0) < 0) {
		log_error("libvirt backup refused", "domain=%s device=%s error=\"%s\"", dom_name, device,
			  virGetLastErrorMessage());
		r = -EIO;
		goto out;
	}
	for (int waited = 0;; waited += 100) {
		if (virDomainGetJobInfo(dom, &info) < 0 || info.type == VIR_DOMAIN_JOB_NONE)
			break;
		if (waited >= BACKUP_TIMEOUT_MS) {
			virDomainAbortJob(dom);
			r = -ETIMEDOUT;
			goto out;
		}
		usleep(100 * 1000);
	}
	if (virDomainGetJobStats(dom, &type, &params, &nparams, VIR_DOMAIN_JOB_STATS_COMPLETED) < 0 ||
	    type != VIR_DOMAIN_JOB_COMPLETED) {
		log_error("libvirt backup failed", "domain=%s device=%s type=%d", dom_name, device, type);
		r = -EIO;
	}
	virTypedParamsFree(params, nparams);
out:
	virDomainFree(dom);
	return r;
}

/* Copy the disk's content now into path. */
static int take(struct agent *a, struct json_object *disk, const char *path)
{
	_cleanup_free_ char *src = agent_storage_disk_uri(a, jstr(disk, "disk_id"));
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.tmp", path);
	const char *inst = jstr(disk, "instance_id");
	enum agent_domain_state st = AGENT_DOMAIN_MISSING;
	virConnectPtr conn = NULL;
	int r;

	if (!src || !tmp)
		return -ENOMEM;
	if (*inst) {
		_cleanup_free_ char *dom = agent_instance_domain_name(inst);

		conn = agent_virt_conn(a->virt);
		if (!conn)
			return -EAGAIN;
		r = agent_domain_get_state(conn, dom, &st, NULL);
		if (r == 0 && (st == AGENT_DOMAIN_RUNNING || st == AGENT_DOMAIN_PAUSED)) {
			unlink(tmp);
			r = backup_running(conn, dom, jstr(disk, "device"), tmp);
			if (r == 0 && rename(tmp, path) < 0)
				r = -errno;
			if (r < 0)
				unlink(tmp);
			virConnectClose(conn);
			return r;
		}
		virConnectClose(conn);
	}
	/* Not running: nothing writes the disk while it is copied. */
	return agent_disk_flatten(src, path);
}

/* The snapshot's file (none for an RBD snapshot: rbd) and document into the blob store. */
static int publish(struct agent *a, const char *id, struct json_object *doc, const char *path, bool rbd)
{
	_cleanup_free_ char *kq = agent_snapshot_blob_key(id, "qcow2"), *kj = agent_snapshot_blob_key(id, "json"), *jp = NULL;
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	int r;

	if (!kq || !kj)
		return -ENOMEM;
	r = rbd ? 0 : agent_blob_put_file(a->blob, kq, path);
	if (r < 0)
		return r;
	jp = ecs_strdup_printf("%s.json", path);
	if (!jp)
		return -ENOMEM;
	r = ecs_write_file_atomic(jp, text, strlen(text), 0644);
	if (r == 0)
		r = agent_blob_put_file(a->blob, kj, jp);
	unlink(jp);
	return r;
}

int agent_snapshot_create(struct agent *a, struct json_object *body, struct json_object **ret, struct agent_err *err)
{
	struct ecs_jreader jr;
	struct json_object *doc = NULL, *disk = NULL, *inst = NULL;
	_cleanup_free_ char *path = NULL, *owner = NULL;
	const char *id, *disk_id;
	unsigned long long vsize = 0;
	int r;

	ecs_jr_init(&jr, body);
	id = ecs_jr_str(&jr, "snapshot_id", ECS_JR_REQUIRED, 64, NULL);
	disk_id = ecs_jr_str(&jr, "disk_id", ECS_JR_REQUIRED, 64, NULL);
	if (ecs_jr_finish(&jr, true) < 0)
		return agent_fail(err, jr.rc, 400, jr.rc == -ENOENT ? "MissingParameter" : "InvalidParameter", "%s",
				  jr.message);
	if (!ecs_id_valid(ECS_ID_SNAPSHOT, id))
		return agent_fail(err, -EINVAL, 400, "InvalidSnapshotId.Malformed", "%s is not a snapshot id", id);
	if (!ecs_id_valid(ECS_ID_DISK, disk_id))
		return agent_fail(err, -EINVAL, 400, "InvalidDiskId.Malformed", "%s is not a disk id", disk_id);
	path = agent_snapshot_path(a, id);
	if (!path)
		return -ENOMEM;
	/* The disk's owner (its instance, or itself) is locked: no start/stop/attach meanwhile. */
	if (agent_store_get(a->store, "disk", disk_id, &disk) < 0)
		return agent_fail(err, -ENOENT, 404, "InvalidDiskId.NotFound", "disk %s is not on this host", disk_id);
	owner = strdup(*jstr(disk, "instance_id") ? jstr(disk, "instance_id") : disk_id);
	json_object_put(disk);
	disk = NULL;
	if (!owner)
		return -ENOMEM;
	agent_lock(a, owner);
	if (agent_store_get(a->store, "snapshot", id, &doc) == 0) {
		r = streq(jstr(doc, "disk_id"), disk_id)
			    ? 0
			    : agent_fail(err, -EEXIST, 409, "InvalidSnapshotId.Conflict", "snapshot %s exists", id);
		goto out;
	}
	if (agent_store_get(a->store, "disk", disk_id, &disk) < 0 || json_object_get_boolean(jget(disk, "deleting")) ||
	    !streq(*jstr(disk, "instance_id") ? jstr(disk, "instance_id") : disk_id, owner)) {
		r = agent_fail(err, -EAGAIN, 409, "IncorrectDiskStatus", "disk %s changed; try again", disk_id);
		goto out;
	}
	doc = json_object_new_object();
	ecs_jb_str(doc, "snapshot_id", id);
	ecs_jb_str(doc, "disk_id", disk_id);
	ecs_jb_str(doc, "disk_kind", jstr(disk, "kind"));
	ecs_jb_str(doc, "status", "progressing");
	ecs_jb_int(doc, "size_gib", json_object_get_int64(jget(disk, "size_gib")));
	ecs_jb_str(doc, "base_image", jstr(disk, "base_image"));
	ecs_jb_str(doc, "boot_image", "");
	if (*jstr(disk, "instance_id") && agent_store_get(a->store, "instance", jstr(disk, "instance_id"), &inst) == 0) {
		_cleanup_spec_ struct agent_instance_spec *spec = NULL;
		struct agent_err ignored = { 0 };

		if (agent_instance_spec_of_doc(inst, &spec, &ignored) == 0)
			ecs_jb_str(doc, "boot_image", spec->image_id);
	}
	ecs_jb_str(doc, "error", "");
	/* With disks on RBD the snapshot is one of the disk's image, inside RADOS. */
	ecs_jb_str(doc, "storage", a->rbd ? "rbd" : "file");
	ecs_jb_int(doc, "created_at", time(NULL));
	ecs_jb_int(doc, "pid", getpid());
	r = agent_store_put(a->store, "snapshot", id, doc);
	if (r < 0) {
		agent_fail(err, r, 500, "InternalError", "cannot record snapshot %s", id);
		goto out;
	}
	agent_fault_point(a, "snapshot.after_mark");
	r = agent_volume_ensure_file(a, disk_id);
	if (r == 0 && a->rbd) {
		r = agent_storage_snapshot_take(a, disk_id, id, &vsize);
		agent_fault_point(a, "snapshot.after_take");
	}
	else if (r == 0)
		r = take(a, disk, path);
	if (r == 0 && !a->rbd)
		r = agent_disk_virtual_size(path, &vsize);
	if (r == 0) {
		ecs_jb_str(doc, "status", "accomplished");
		ecs_jb_int(doc, "size_bytes", (int64_t)vsize);
		r = publish(a, id, doc, path, a->rbd != NULL);
	}
	if (r < 0) {
		ecs_jb_str(doc, "status", "failed");
		ecs_jb_str(doc, "error", strerror(-r));
		unlink(path);
		if (a->rbd)
			agent_storage_snapshot_remove(a, disk_id, id);
		agent_fail(err, r, 500, "InternalError", "snapshot %s of %s failed: %s", id, disk_id, strerror(-r));
	} else {
		log_info("snapshot taken", "snapshot=%s disk=%s", id, disk_id);
	}
	agent_store_put(a->store, "snapshot", id, doc);
out:
	agent_unlock(a, owner);
	if (ret && doc && (r == 0))
		*ret = json_object_get(doc);
	json_object_put(inst);
	json_object_put(disk);
	json_object_put(doc);
	return r;
}

int agent_snapshot_delete(struct agent *a, const char *id, struct agent_err *err)
{
	_cleanup_free_ char *path = NULL, *kq = agent_snapshot_blob_key(id, "qcow2"), *kj = agent_snapshot_blob_key(id, "json");
	struct json_object *doc = NULL;
	int r;

	if (!ecs_id_valid(ECS_ID_SNAPSHOT, id))
		return agent_fail(err, -EINVAL, 400, "InvalidSnapshotId.Malformed", "%s is not a snapshot id", id);
	path = agent_snapshot_path(a, id);
	if (!path || !kq || !kj)
		return -ENOMEM;
	agent_lock(a, id);
	r = agent_store_get(a->store, "snapshot", id, &doc);
	if (r == 0 && streq(jstr(doc, "status"), "progressing") && json_object_get_int64(jget(doc, "pid")) == getpid()) {
		r = agent_fail(err, -EBUSY, 403, "IncorrectSnapshotStatus", "snapshot %s is still being taken", id);
		goto out;
	}
	/* The data go first: once the document is gone nothing would remember them. */
	if (r == 0 && agent_snapshot_in_rbd(doc)) {
		int e = a->rbd ? agent_storage_snapshot_remove(a, jstr(doc, "disk_id"), id) : -EOPNOTSUPP;

		if (e < 0) {
			r = agent_fail(err, e, 500, "InternalError", "cannot remove snapshot %s from rbd: %s", id,
				       strerror(-e));
			goto out;
		}
	}
	agent_blob_delete(a->blob, kq);
	agent_blob_delete(a->blob, kj);
	if (unlink(path) < 0 && errno != ENOENT) {
		r = agent_fail(err, -errno, 500, "InternalError", "cannot remove snapshot %s", id);
		goto out;
	}
	r = agent_store_delete(a->store, "snapshot", id);
	if (r == 0)
		log_info("snapshot deleted", "snapshot=%s", id);
out:
	agent_unlock(a, id);
	json_object_put(doc);
	return r;
}

int agent_snapshot_describe(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err)
{
	return load(a, id, ret, err);
}

int agent_snapshot_list(struct agent *a, struct json_object **ret)
{
	struct json_object *all = NULL, *out;
	int r = agent_store_list(a->store, "snapshot", &all);

	if (r < 0)
		return r;
	out = json_object_new_array();
	json_object_object_foreach(all, id, doc)
	{
		(void)id;
		json_object_array_add(out, json_object_get(doc));
	}
	json_object_put(all);
	*ret = out;
	return 0;
}

int agent_snapshot_to_image(struct agent *a, const char *id, const char *image_id, const char *name,
			    struct agent_err *err)
{
	_cleanup_free_ char *path = NULL;
	struct json_object *doc = NULL;
	const char *boot;
	bool in_rbd;
	int r;

	if (!agent_image_id_valid(image_id))
		return agent_fail(err, -EINVAL, 400, "InvalidImageId.Malformed", "%s is not an image id", image_id);
	r = agent_snapshot_doc(a, id, &doc);
	in_rbd = r == 0 && agent_snapshot_in_rbd(doc);
	if (in_rbd && !a->rbd) {
		r = -ENOENT;
	} else if (r == 0 && !in_rbd) {
		json_object_put(doc);
		doc = NULL;
		r = agent_snapshot_fetch(a, id, &path, &doc);
	}
	if (r < 0) {
		json_object_put(doc);
		return agent_fail(err, r, 404, "InvalidSnapshotId.NotFound", "snapshot %s is not available", id);
	}
	boot = *jstr(doc, "boot_image") ? jstr(doc, "boot_image") : jstr(doc, "base_image");
	if (!streq(jstr(doc, "disk_kind"), "system") || !*boot) {
		r = agent_fail(err, -EINVAL, 403, "InvalidSnapshot.NotSystemDisk",
			       "an image is made from a snapshot of a system disk");
		goto out;
	}
	/* On RBD the image is a clone of the snapshot inside the cluster (unless an image of
	 * that id exists already: it is kept, as an existing image always is). */
	if (in_rbd && agent_image_ensure(a, image_id, NULL) < 0) {
		r = agent_storage_image_from_snapshot(a, image_id, jstr(doc, "disk_id"), id);
		if (r < 0) {
			agent_fail(err, r, 500, "InternalError", "cannot make image %s from %s", image_id, id);
			goto out;
		}
	}
	r = agent_image_create_from_disk(a, image_id, name, path, boot);
	if (r < 0)
		agent_fail(err, r, 500, "InternalError", "cannot make image %s from %s", image_id, id);
	else
		log_info("image made from snapshot", "image=%s snapshot=%s", image_id, id);
out:
	json_object_put(doc);
	return r;
}

int agent_snapshot_recover(struct agent *a)
{
	struct json_object *all = NULL;
	int r = agent_store_list(a->store, "snapshot", &all);

	if (r < 0)
		return r;
	json_object_object_foreach(all, id, doc)
	{
		_cleanup_free_ char *path = NULL, *tmp = NULL;

		if (!streq(jstr(doc, "status"), "progressing") || json_object_get_int64(jget(doc, "pid")) == getpid())
			continue;
		path = agent_snapshot_path(a, id);
		tmp = ecs_strdup_printf("%s.tmp", path ? path : "");
		if (tmp)
			unlink(tmp);
		if (path)
			unlink(path);
		/* An RBD snapshot the crash left half made (or whole, unrecorded) goes too. */
		if (agent_snapshot_in_rbd(doc) && a->rbd)
			agent_storage_snapshot_remove(a, jstr(doc, "disk_id"), id);
		ecs_jb_str(doc, "status", "failed");
		ecs_jb_str(doc, "error", "interrupted: the agent stopped while the snapshot was taken");
		agent_store_put(a->store, "snapshot", id, doc);
		log_warn("snapshot interrupted by a crash marked failed", "snapshot=%s", id);
	}
	json_object_put(all);
	return 0;
}
