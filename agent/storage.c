#include "storage.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "disk.h"
#include "domain.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "storage_rbd.h"
#include "util.h"
#include "virt.h"

/* The snapshot of an image every system disk is cloned from. */
#define IMAGE_SNAP "base"
/* How long the heartbeat waits on the storage check. */
#define STORAGE_CHECK_MS 3000
/* How often the reconciler sweeps the pool for orphans. */
#define STORAGE_SWEEP_S 60

static char *disk_name(const char *disk_id)
{
	return ecs_strdup_printf("disk-%s", disk_id);
}

static char *image_name(const char *image_id)
{
	return ecs_strdup_printf("img-%s", image_id);
}

char *agent_storage_disk_file(struct agent *a, const char *disk_id)
{
	return ecs_strdup_printf("%s/%s.qcow2", a->disks_dir, disk_id);
}

/* The disk's name in its backend: an RBD image name or a file path. */
static char *where(struct agent *a, const char *disk_id)
{
	return a->rbd ? disk_name(disk_id) : agent_storage_disk_file(a, disk_id);
}

int agent_storage_open(struct agent *a)
{
	_cleanup_free_ char *keyring = NULL, *dir = NULL;
	int r;

	if (!streq(a->cfg.storage_backend, "rbd"))
		return 0;
	if (*a->cfg.ceph_keyring) {
		keyring = strdup(a->cfg.ceph_keyring);
	} else {
		dir = strdup(a->cfg.ceph_conf);
		keyring = dir ? ecs_strdup_printf("%s/keys/ceph.client.%s.keyring", dirname(dir), a->cfg.ceph_user) : NULL;
	}
	if (!keyring)
		return -ENOMEM;
	r = agent_rbd_open(a->cfg.ceph_conf, a->cfg.ceph_user, keyring, a->cfg.ceph_pool, &a->rbd);
	if (r == 0)
		agent_rbd_set_host(a->rbd, a->cfg.host_id);
	if (r == 0)
		log_info("disks on rbd", "pool=%s user=client.%s monitors=%s", a->cfg.ceph_pool, a->cfg.ceph_user,
			 agent_rbd_hosts(a->rbd));
	return r;
}

void agent_storage_close(struct agent *a)
{
	agent_rbd_close(a->rbd);
	a->rbd = NULL;
}

int agent_storage_disk_exists(struct agent *a, const char *disk_id, bool *ret)
{
	_cleanup_free_ char *p = where(a, disk_id);

	if (!p)
		return -ENOMEM;
	if (a->rbd) {
		_cleanup_free_ char *old = ecs_strdup_printf("%s.old", p);
		bool have_old = false;
		int r = agent_rbd_exists(a->rbd, p, ret);

		/* A rollback cut between dropping the disk and renaming the new content: finish it. */
		if (r == 0 && !*ret && old && agent_rbd_exists(a->rbd, old, &have_old) == 0 && have_old &&
		    agent_rbd_rename(a->rbd, old, p) == 0)
			*ret = true;
		return r;
	}
	*ret = access(p, F_OK) == 0;
	return 0;
}

/* The RBD image holding a deleted disk's snapshots until the last of them goes. */
static char *snaps_name(const char *disk_id)
{
	return ecs_strdup_printf("snaps-%s", disk_id);
}

int agent_storage_disk_remove(struct agent *a, const char *disk_id)
{
	_cleanup_free_ char *p = where(a, disk_id), *keep = NULL;
	int n = 0, r;

	if (!p)
		return -ENOMEM;
	if (!a->rbd)
		return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
	/* Its snapshots outlive it (as ECS's do): the image is kept under another name. */
	r = agent_rbd_snap_count(a->rbd, p, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (n == 0) {
		r = agent_rbd_retire(a->rbd, p);
		/* A parent waiting in the trash for its last clone may go now. */
		if (r == 0)
			agent_rbd_trash_sweep(a->rbd);
		return r;
	}
	keep = snaps_name(disk_id);
	if (!keep)
		return -ENOMEM;
	r = agent_rbd_rename(a->rbd, p, keep);
	if (r == 0)
		log_info("rbd: deleted disk kept for its snapshots", "disk=%s image=%s snapshots=%d", disk_id, keep, n);
	return r;
}

/* The image holding the disk's snapshots: disk-<id>, or snaps-<id> once it was deleted. */
static int snaps_holder(struct agent *a, const char *disk_id, char **ret)
{
	_cleanup_free_ char *p = disk_name(disk_id);
	bool have = false;
	int r;

	if (!p)
		return -ENOMEM;
	r = agent_rbd_exists(a->rbd, p, &have);
	if (r < 0)
		return r;
	*ret = have ? TAKE_PTR(p) : snaps_name(disk_id);
	return *ret ? 0 : -ENOMEM;
}

int agent_storage_snapshot_take(struct agent *a, const char *disk_id, const char *snap_id, unsigned long long *size)
{
	_cleanup_free_ char *p = disk_name(disk_id);

	if (!a->rbd)
		return -EOPNOTSUPP;
	if (!p)
		return -ENOMEM;
	return agent_rbd_snap_create(a->rbd, p, snap_id, size);
}

int agent_storage_snapshot_remove(struct agent *a, const char *disk_id, const char *snap_id)
{
	_cleanup_free_ char *h = NULL;
	int n = 0, r;

	if (!a->rbd)
		return -EOPNOTSUPP;
	r = snaps_holder(a, disk_id, &h);
	if (r == 0)
		r = agent_rbd_snap_remove(a->rbd, h, snap_id);
	if (r < 0 || !str_has_prefix(h, "snaps-"))
		return r;
	/* The last snapshot of a deleted disk takes its image with it. */
	r = agent_rbd_snap_count(a->rbd, h, &n);
	if (r == 0 && n == 0)
		r = agent_rbd_retire(a->rbd, h);
	return r == -ENOENT ? 0 : r;
}

int agent_storage_snapshot_exists(struct agent *a, const char *disk_id, const char *snap_id, bool *ret)
{
	_cleanup_free_ char *h = NULL;
	int r;

	if (!a->rbd)
		return -EOPNOTSUPP;
	r = snaps_holder(a, disk_id, &h);
	return r < 0 ? r : agent_rbd_snap_exists(a->rbd, h, snap_id, ret);
}

int agent_storage_disk_from_snapshot(struct agent *a, const char *disk_id, const char *src_disk_id,
				     const char *snap_id, unsigned long long size)
{
	_cleanup_free_ char *h = NULL, *p = disk_name(disk_id);
	int r;

	if (!a->rbd)
		return -EOPNOTSUPP;
	if (!p)
		return -ENOMEM;
	r = snaps_holder(a, src_disk_id, &h);
	return r < 0 ? r : agent_rbd_clone(a->rbd, h, snap_id, p, size);
}

int agent_storage_disk_rollback(struct agent *a, const char *disk_id, const char *snap_id)
{
	_cleanup_free_ char *p = disk_name(disk_id);

	if (!a->rbd)
		return -EOPNOTSUPP;
	return p ? agent_rbd_snap_rollback(a->rbd, p, snap_id) : -ENOMEM;
}

int agent_storage_disk_empty(struct agent *a, const char *disk_id, unsigned long long size)
{
	_cleanup_free_ char *p = where(a, disk_id);

	if (!p)
		return -ENOMEM;
	if (a->rbd)
		return agent_rbd_create(a->rbd, p, size);
	return agent_disk_create_empty(p, size);
}

/* The image in the pool, imported from the cache on first use (once: under its lock). */
static int image_in_pool(struct agent *a, const char *image_id, const char *name)
{
	_cleanup_free_ char *file = NULL;
	bool have = false;
	int r;

	agent_image_lock(a, image_id);
	r = agent_rbd_exists(a->rbd, name, &have);
	if (r == 0 && !have) {
		file = agent_image_file(a, image_id, "disk");
		r = file ? agent_rbd_import(a->rbd, file, name, 0, IMAGE_SNAP) : -ENOENT;
		if (r == 0)
			log_info("image imported into rbd", "image=%s rbd=%s/%s", image_id, agent_rbd_pool(a->rbd), name);
	}
	agent_image_unlock(a, image_id);
	return r;
}

int agent_storage_image_prepare(struct agent *a, const char *image_id)
{
	_cleanup_free_ char *img = NULL;

	if (!a->rbd)
		return 0;
	img = image_name(image_id);
	return img ? image_in_pool(a, image_id, img) : -ENOMEM;
}

int agent_storage_disk_on_image(struct agent *a, const char *disk_id, const char *image_id, unsigned long long size)
{
	_cleanup_free_ char *p = NULL, *img = NULL, *base = NULL;
	int r;

	if (!a->rbd) {
		p = agent_storage_disk_file(a, disk_id);
		base = agent_image_file(a, image_id, "disk");
		if (!p || !base)
			return p ? -ENOENT : -ENOMEM;
		return agent_disk_create_overlay(p, base, size);
	}
	p = disk_name(disk_id);
	img = image_name(image_id);
	if (!p || !img)
		return -ENOMEM;
	r = image_in_pool(a, image_id, img);
	if (r < 0)
		return r;
	return agent_rbd_clone(a->rbd, img, IMAGE_SNAP, p, size);
}

int agent_storage_disk_from_file(struct agent *a, const char *disk_id, const char *src, const char *base,
				 unsigned long long size)
{
	_cleanup_free_ char *p = where(a, disk_id);
	_cleanup_free_ char *old = NULL;
	bool have = false;
	int r;

	if (!p)
		return -ENOMEM;
	if (!a->rbd)
		return agent_disk_create_from(p, src, base, size);
	/* The whole content into p.tmp; then the old disk aside, the new one in its place. */
	old = ecs_strdup_printf("%s.old", p);
	if (!old)
		return -ENOMEM;
	r = agent_rbd_exists(a->rbd, p, &have);
	if (r == 0 && !have)
		return agent_rbd_import(a->rbd, src, p, size, NULL);
	if (r < 0)
		return r;
	r = agent_rbd_remove(a->rbd, old);
	if (r == 0)
		r = agent_rbd_import(a->rbd, src, old, size, NULL);
	if (r < 0)
		return r;
	/* Swap: p.old holds the new content; the old disk goes, the new takes its name. */
	r = agent_rbd_remove(a->rbd, p);
	if (r == 0)
		r = agent_rbd_rename(a->rbd, old, p);
	return r;
}

int agent_storage_disk_grow(struct agent *a, const char *disk_id, unsigned long long size)
{
	_cleanup_free_ char *p = where(a, disk_id);

	if (!p)
		return -ENOMEM;
	return a->rbd ? agent_rbd_grow(a->rbd, p, size) : agent_disk_grow(p, size);
}

int agent_storage_disk_size(struct agent *a, const char *disk_id, unsigned long long *ret)
{
	_cleanup_free_ char *p = where(a, disk_id);

	if (!p)
		return -ENOMEM;
	return a->rbd ? agent_rbd_size(a->rbd, p, ret) : agent_disk_virtual_size(p, ret);
}

char *agent_storage_disk_uri(struct agent *a, const char *disk_id)
{
	_cleanup_free_ char *n = NULL;

	if (!a->rbd)
		return agent_storage_disk_file(a, disk_id);
	n = disk_name(disk_id);
	return n ? agent_rbd_qemu_uri(a->rbd, n) : NULL;
}

int agent_storage_domain_disk(struct agent *a, const char *disk_id, struct agent_domain_disk *d, char **ret_buf)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	virConnectPtr conn;
	char *buf;
	size_t n;
	int r;

	if (!a->rbd) {
		buf = agent_storage_disk_file(a, disk_id);
		if (!buf)
			return -ENOMEM;
		d->path = buf;
		d->rbd_hosts = d->rbd_user = d->rbd_secret = NULL;
		*ret_buf = buf;
		return 0;
	}
	conn = agent_virt_conn(a->virt);
	if (!conn)
		return -EAGAIN;
	r = agent_rbd_secret_ensure(a->rbd, conn, uuid);
	virConnectClose(conn);
	if (r < 0)
		return r;
	/* One buffer: "POOL/disk-ID\0UUID\0". */
	n = strlen(agent_rbd_pool(a->rbd)) + strlen(disk_id) + 7 + sizeof(uuid) + 1;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	int k = snprintf(buf, n, "%s/disk-%s", agent_rbd_pool(a->rbd), disk_id);
	memcpy(buf + k + 1, uuid, sizeof(uuid));
	d->path = buf;
	d->rbd_secret = buf + k + 1;
	d->rbd_hosts = agent_rbd_hosts(a->rbd);
	d->rbd_user = agent_rbd_user(a->rbd);
	*ret_buf = buf;
	return 0;
}

int agent_storage_image_from_snapshot(struct agent *a, const char *image_id, const char *disk_id,
				      const char *snap_id)
{
	_cleanup_free_ char *h = NULL, *img = image_name(image_id);
	int r;

	if (!a->rbd)
		return -ENOENT;
	if (!img)
		return -ENOMEM;
	r = snaps_holder(a, disk_id, &h);
	if (r < 0)
		return r;
	agent_image_lock(a, image_id);
	r = agent_rbd_clone_image(a->rbd, h, snap_id, img, IMAGE_SNAP);
	agent_image_unlock(a, image_id);
	if (r == 0)
		log_info("image cloned from a snapshot in rbd", "image=%s rbd=%s/%s parent=%s@%s", image_id,
			 agent_rbd_pool(a->rbd), img, h, snap_id);
	return r;
}

int agent_storage_image_remove(struct agent *a, const char *image_id)
{
	_cleanup_free_ char *n = NULL;
	int r;

	if (!a->rbd)
		return 0;
	n = image_name(image_id);
	if (!n)
		return -ENOMEM;
	agent_image_lock(a, image_id);
	r = agent_rbd_remove(a->rbd, n);
	agent_image_unlock(a, image_id);
	return r;
}

void agent_storage_report(struct agent *a, struct json_object *facts)
{
	char msg[160] = "";
	struct json_object *o;

	if (!a->rbd)
		return;
	o = ecs_jb_obj(facts, "storage");
	ecs_jb_bool(o, "reachable", agent_rbd_check(a->rbd, STORAGE_CHECK_MS, msg, sizeof(msg)) == 0);
	ecs_jb_str(o, "message", msg);
}

/* The sweep's hold on img-<id>: that image's lock. */
static void hold_image(void *ctx, const char *name, bool hold)
{
	const char *id = name + strlen("img-");

	if (hold)
		agent_image_lock(ctx, id);
	else
		agent_image_unlock(ctx, id);
}

void agent_storage_reconcile(struct agent *a)
{
	virConnectPtr conn;

	if (a->rbd) {
		static time_t last;
		time_t now = time(NULL);

		/* Crash leftovers need no hurry: at most once a minute (and at start). */
		if (!last || now - last >= STORAGE_SWEEP_S) {
			last = now;
			log_debug("rbd: pool swept", "removed=%d", agent_rbd_sweep(a->rbd, hold_image, a));
		}
		return;
	}
	/* Disks are files here: a ceph secret left from running on RBD names nothing. */
	conn = agent_virt_conn(a->virt);
	if (conn) {
		agent_rbd_secret_remove(conn, a->cfg.ceph_user);
		virConnectClose(conn);
	}
}
