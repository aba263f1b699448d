#include "storage_rbd.h"

#include <ctype.h>
#include <errno.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <signal.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bg.h"
#include "cmd.h"
#include "crypto.h"
#include "disk.h"
#include "log.h"
#include "rbd_import.h"
#include "util.h"

#define IMPORT_TIMEOUT_MS (30 * 60 * 1000)

struct agent_rbd {
	rados_t cluster;
	rados_ioctx_t io;
	char *conf, *user, *keyring, *pool, *hosts, *key;
	char maker[128]; /* "<host-id> <pid>": tags the temporaries this process makes */
};

#define MAKER_KEY "ecs.maker"
/* On an image made from a snapshot until its manifest is published (agent_rbd_image_published):
 * a crash in between leaves an image nobody knows, which the sweep removes. */
#define PENDING_KEY "ecs.pending"

void agent_rbd_set_host(struct agent_rbd *r, const char *host_id)
{
	snprintf(r->maker, sizeof(r->maker), "%s %d", host_id, (int)getpid());
}

/* Tag a temporary with its maker (see agent_rbd_sweep). */
static int tag(struct agent_rbd *r, const char *name)
{
	rbd_image_t img;
	int e = rbd_open(r->io, name, &img, NULL);

	if (e < 0)
		return e;
	e = rbd_metadata_set(img, MAKER_KEY, r->maker);
	rbd_close(img);
	return e;
}

const char *agent_rbd_pool(const struct agent_rbd *r)
{
	return r->pool;
}

const char *agent_rbd_user(const struct agent_rbd *r)
{
	return r->user;
}

const char *agent_rbd_hosts(const struct agent_rbd *r)
{
	return r->hosts;
}

/* mon_host as Ceph writes it ("[v2:IP:3300,v1:IP:6789] …" or "IP:PORT,…") to the msgr v1
 * addresses libvirt's <host> elements take. */
static char *v1_hosts(const char *mon_host)
{
	_cleanup_free_ char *copy = strdup(mon_host);
	char out[1024] = "", *save = NULL;
	bool tagged = strstr(mon_host, "v1:") != NULL;

	if (!copy)
		return NULL;
	for (char *t = strtok_r(copy, "[], ", &save); t; t = strtok_r(NULL, "[], ", &save)) {
		if (tagged && !str_has_prefix(t, "v1:"))
			continue;
		if (str_has_prefix(t, "v1:"))
			t += 3;
		if (strlen(out) + strlen(t) + 2 >= sizeof(out))
			break;
		if (*out)
			strcat(out, ",");
		strcat(out, t);
	}
	return *out ? strdup(out) : NULL;
}

/* The base64 key in a keyring file ("key = …"). */
static char *keyring_key(const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char *p, *end;

	if (ecs_read_file(path, 64 * 1024, &text, &len) < 0)
		return NULL;
	for (p = text; (p = strstr(p, "key")); p += 3) {
		if (p != text && p[-1] != '\n' && p[-1] != '\t' && p[-1] != ' ')
			continue;
		end = p + 3;
		end += strspn(end, " \t");
		if (*end != '=')
			continue;
		end++;
		end += strspn(end, " \t");
		return strndup(end, strcspn(end, " \t\r\n"));
	}
	return NULL;
}

int agent_rbd_open(const char *conf, const char *user, const char *keyring, const char *pool, struct agent_rbd **ret)
{
	struct agent_rbd *r = calloc(1, sizeof(*r));
	_cleanup_free_ char *name = ecs_strdup_printf("client.%s", user);
	char buf[1024];
	int e;

	if (!r || !name) {
		free(r);
		return -ENOMEM;
	}
	r->conf = strdup(conf);
	r->user = strdup(user);
	r->keyring = strdup(keyring);
	r->pool = strdup(pool);
	if (!r->conf || !r->user || !r->keyring || !r->pool) {
		e = -ENOMEM;
		goto fail;
	}
	e = rados_create2(&r->cluster, "ceph", name, 0);
	if (e < 0) {
		r->cluster = NULL;
		goto fail;
	}
	if ((e = rados_conf_read_file(r->cluster, conf)) < 0 || (e = rados_conf_set(r->cluster, "keyring", keyring)) < 0 ||
	    (e = rados_conf_set(r->cluster, "client_mount_timeout", "30")) < 0 ||
	    /* Clones of disk snapshots need no protection, and a snapshot with clones can
	     * still be removed (it waits in the image's trash namespace for its last clone). */
	    (e = rados_conf_set(r->cluster, "rbd_default_clone_format", "2")) < 0)
		goto fail;
	if ((e = rados_conf_get(r->cluster, "mon_host", buf, sizeof(buf))) < 0)
		goto fail;
	r->hosts = v1_hosts(buf);
	if (!r->hosts) {
		e = -EINVAL;
		goto fail;
	}
	r->key = keyring_key(keyring);
	if (!r->key) {
		e = -EINVAL;
		goto fail;
	}
	e = rados_connect(r->cluster);
	if (e < 0)
		goto fail;
	e = rados_ioctx_create(r->cluster, pool, &r->io);
	if (e < 0)
		goto fail;
	*ret = r;
	return 0;
fail:
	log_error("cannot reach ceph", "conf=%s user=%s pool=%s error=%s", conf, user, pool, strerror(-e));
	agent_rbd_close(r);
	return e;
}

void agent_rbd_close(struct agent_rbd *r)
{
	if (!r)
		return;
	if (r->io)
		rados_ioctx_destroy(r->io);
	if (r->cluster)
		rados_shutdown(r->cluster);
	free(r->conf);
	free(r->user);
	free(r->keyring);
	free(r->pool);
	free(r->hosts);
	free(r->key);
	free(r);
}

int agent_rbd_check(struct agent_rbd *r, int timeout_ms, char *msg, size_t msg_size)
{
	rados_completion_t c;
	uint64_t size = 0;
	time_t mtime = 0;
	int e, waited;

	e = rados_aio_create_completion2(NULL, NULL, &c);
	if (e < 0)
		goto out;
	/* One small read at an OSD: the pool's image directory (absent before the first image). */
	e = rados_aio_stat(r->io, "rbd_directory", c, &size, &mtime);
	if (e < 0) {
		rados_aio_release(c);
		goto out;
	}
	for (waited = 0; !rados_aio_is_complete(c) && waited < timeout_ms; waited += 50)
		usleep(50 * 1000);
	if (!rados_aio_is_complete(c)) {
		/* Left to librados: the completion stays valid while the op is in flight. */
		rados_aio_cancel(r->io, c);
		rados_aio_release(c);
		snprintf(msg, msg_size, "no answer from pool %s within %d ms", r->pool, timeout_ms);
		return -ETIMEDOUT;
	}
	e = rados_aio_get_return_value(c);
	rados_aio_release(c);
	if (e == -ENOENT)
		e = 0;
out:
	if (e < 0)
		snprintf(msg, msg_size, "pool %s: %s", r->pool, strerror(-e));
	return e;
}

int agent_rbd_exists(struct agent_rbd *r, const char *name, bool *ret)
{
	_cleanup_free_ char *oid = ecs_strdup_printf("rbd_id.%s", name);
	uint64_t size = 0;
	time_t mtime = 0;
	int e;

	if (!oid)
		return -ENOMEM;
	/* One stat of the name's id object (format 2 images; librbd makes it first and
	 * removes it last, and renames and the trash move it), not an image open: the
	 * reconciler asks this of every disk on every pass. */
	e = rados_stat(r->io, oid, &size, &mtime);
	*ret = e == 0;
	return e == -ENOENT ? 0 : e;
}

/* Unprotect and remove every snapshot of an open image. */
static int purge_snaps(rbd_image_t img)
{
	rbd_snap_info_t snaps[64];
	int max = 64, n, e = 0;

	n = rbd_snap_list(img, snaps, &max);
	if (n < 0)
		return n;
	for (int i = 0; i < n && e == 0; i++) {
		rbd_snap_namespace_type_t type = RBD_SNAP_NAMESPACE_TYPE_USER;
		int prot = 0;

		/* A removed snapshot waiting for its clones goes with the last of them. */
		if (rbd_snap_get_namespace_type(img, snaps[i].id, &type) == 0 && type != RBD_SNAP_NAMESPACE_TYPE_USER)
			continue;
		if (rbd_snap_is_protected(img, snaps[i].name, &prot) == 0 && prot) {
			e = rbd_snap_unprotect(img, snaps[i].name);
			if (e == -EBUSY)
				break;
		}
		if (e == 0)
			e = rbd_snap_remove(img, snaps[i].name);
		if (e == -ENOENT)
			e = 0;
	}
	rbd_snap_list_end(snaps);
	return e;
}

int agent_rbd_remove(struct agent_rbd *r, const char *name)
{
	rbd_image_t img;
	int e = rbd_open(r->io, name, &img, NULL);

	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return e;
	e = purge_snaps(img);
	rbd_close(img);
	if (e < 0)
		return e;
	e = rbd_remove(r->io, name);
	return e == -ENOENT ? 0 : e;
}

int agent_rbd_retire(struct agent_rbd *r, const char *name)
{
	int e = agent_rbd_remove(r, name);

	/* A removed snapshot of it still has clones: the image waits in the pool's trash
	 * (agent_rbd_trash_sweep removes it once they are gone). */
	if (e == -EBUSY || e == -ENOTEMPTY) {
		e = rbd_trash_move(r->io, name, 0);
		if (e == 0)
			log_info("rbd: image moved to the trash until its clones are gone", "image=%s", name);
	}
	return e == -ENOENT ? 0 : e;
}

int agent_rbd_trash_sweep(struct agent_rbd *r)
{
	rbd_trash_image_info_t entries[256];
	size_t n = ARRAY_SIZE(entries);
	int e = rbd_trash_list(r->io, entries, &n), removed = 0;

	if (e < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		/* Only what the agent moved there; one with clones left is kept (-EBUSY). */
		if (entries[i].source == RBD_TRASH_IMAGE_SOURCE_USER && rbd_trash_remove(r->io, entries[i].id, false) == 0) {
			log_info("rbd: trashed image removed", "image=%s", entries[i].name);
			removed++;
		}
	}
	rbd_trash_list_cleanup(entries, n);
	return removed;
}

/* fn(image, snap) on the image opened for writing. */
static int with_snap(struct agent_rbd *r, const char *name, const char *snap, int (*fn)(rbd_image_t, const char *))
{
	rbd_image_t img;
	int e = rbd_open(r->io, name, &img, NULL);

	if (e < 0)
		return e;
	e = fn(img, snap);
	rbd_close(img);
	return e;
}

int agent_rbd_snap_create(struct agent_rbd *r, const char *name, const char *snap, unsigned long long *size)
{
	rbd_image_t img;
	uint64_t have = 0;
	int e = rbd_open(r->io, name, &img, NULL);

	if (e < 0)
		return e;
	/* With a guest running, the holder of the image's exclusive lock (QEMU's librbd) takes
	 * it: in-flight writes are finished and new ones held meanwhile (crash-consistent). */
	e = rbd_snap_create(img, snap);
	if (e == -EEXIST)
		e = 0;
	if (e == 0 && size && (e = rbd_get_size(img, &have)) == 0)
		*size = have;
	rbd_close(img);
	return e;
}

int agent_rbd_snap_exists(struct agent_rbd *r, const char *name, const char *snap, bool *ret)
{
	rbd_image_t img;
	int e = rbd_open_read_only(r->io, name, &img, snap);

	*ret = e == 0;
	if (e == 0)
		rbd_close(img);
	return e == -ENOENT ? 0 : e;
}

int agent_rbd_snap_remove(struct agent_rbd *r, const char *name, const char *snap)
{
	rbd_image_t img;
	int prot = 0, e = rbd_open(r->io, name, &img, NULL);

	if (e == -ENOENT)
		return 0;
	if (e < 0)
		return e;
	if (rbd_snap_is_protected(img, snap, &prot) == 0 && prot)
		e = rbd_snap_unprotect(img, snap);
	if (e == 0)
		e = rbd_snap_remove(img, snap);
	rbd_close(img);
	return e == -ENOENT ? 0 : e;
}

int agent_rbd_snap_rollback(struct agent_rbd *r, const char *name, const char *snap)
{
	return with_snap(r, name, snap, rbd_snap_rollback);
}

int agent_rbd_snap_count(struct agent_rbd *r, const char *name, int *ret)
{
	rbd_snap_info_t snaps[64];
	rbd_image_t img;
	int max = 64, n, e = rbd_open_read_only(r->io, name, &img, NULL);

	if (e < 0)
		return e;
	n = rbd_snap_list(img, snaps, &max);
	*ret = 0;
	for (int i = 0; i < n; i++) {
		rbd_snap_namespace_type_t type = RBD_SNAP_NAMESPACE_TYPE_USER;

		/* Removed snapshots waiting for their clones (trash namespace) do not count. */
		if (rbd_snap_get_namespace_type(img, snaps[i].id, &type) == 0 && type == RBD_SNAP_NAMESPACE_TYPE_USER)
			(*ret)++;
	}
	if (n >= 0)
		rbd_snap_list_end(snaps);
	rbd_close(img);
	return n < 0 ? n : 0;
}

int agent_rbd_rename(struct agent_rbd *r, const char *from, const char *to)
{
	return rbd_rename(r->io, from, to);
}

/* name + "." + this host + ".tmp", and any earlier one of it removed. Each host has its own
 * temporary: several hosts may import the same image at once, and none removes another's. */
static char *fresh_tmp(struct agent_rbd *r, const char *name)
{
	char host[64] = "";
	bool have = false;
	char *tmp;

	for (size_t i = 0; r->maker[i] && r->maker[i] != ' ' && i < sizeof(host) - 1; i++)
		host[i] = isalnum((unsigned char)r->maker[i]) || r->maker[i] == '-' ? r->maker[i] : '_';
	tmp = *host ? ecs_strdup_printf("%s.%s.tmp", name, host) : ecs_strdup_printf("%s.tmp", name);

	/* Mostly there is none: one stat says so, lighter than the image open a remove tries. */
	if (tmp && (agent_rbd_exists(r, tmp, &have) < 0 || have) && agent_rbd_remove(r, tmp) < 0)
		log_warn("rbd: cannot remove a temporary", "image=%s", tmp);
	return tmp;
}

int agent_rbd_create(struct agent_rbd *r, const char *name, unsigned long long size)
{
	_cleanup_free_ char *tmp = fresh_tmp(r, name);
	int order = 22, e;

	if (!tmp)
		return -ENOMEM;
	e = rbd_create(r->io, tmp, size, &order);
	if (e == 0)
		e = tag(r, tmp);
	if (e == 0)
		e = rbd_rename(r->io, tmp, name);
	if (e < 0)
		agent_rbd_remove(r, tmp);
	return e;
}

static int resize_to(struct agent_rbd *r, const char *name, unsigned long long size)
{
	unsigned long long have = 0;
	rbd_image_t img;
	int e = agent_rbd_size(r, name, &have);

	if (e < 0 || size <= have)
		return e < 0 ? e : size < have ? -EINVAL : 0;
	e = rbd_open(r->io, name, &img, NULL);
	if (e < 0)
		return e;
	e = rbd_resize(img, size);
	rbd_close(img);
	return e;
}

static int no_progress(uint64_t done, uint64_t total, void *data)
{
	(void)done, (void)total, (void)data;
	return 0;
}

/* A snapshot of a temporary this process made and alone has open, protected: no other
 * client watches it, so the quiesce round (two notifies) is skipped. */
static int snap_fresh(rbd_image_t img, const char *snap)
{
	int e = rbd_snap_create2(img, snap, RBD_SNAP_CREATE_SKIP_QUIESCE, no_progress, NULL);

	return e < 0 ? e : rbd_snap_protect(img, snap);
}

/* A clone of parent@snap as name (through this host's temporary), grown to size (0: as
 * it is), with its own snapshot keep made and protected when keep is set. */
static int clone_into(struct agent_rbd *r, const char *parent, const char *snap, const char *name,
		      unsigned long long size, const char *keep)
{
	_cleanup_free_ char *tmp = fresh_tmp(r, name);
	rbd_image_options_t opts;
	rbd_image_t img;
	uint64_t have = 0;
	int e;

	if (!tmp)
		return -ENOMEM;
	rbd_image_options_create(&opts);
	rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, 22);
	e = rbd_clone3(r->io, parent, snap, r->io, tmp, opts);
	rbd_image_options_destroy(opts);
	/* Tag, grow and snapshot on one open (each open is a few round trips and a watch). */
	if (e == 0 && (e = rbd_open(r->io, tmp, &img, NULL)) == 0) {
		e = rbd_metadata_set(img, MAKER_KEY, r->maker);
		if (e == 0 && size && (e = rbd_get_size(img, &have)) == 0 && size != have)
			e = size < have ? -EINVAL : rbd_resize(img, size);
		if (e == 0 && keep && (e = rbd_metadata_set(img, PENDING_KEY, "1")) == 0)
			e = snap_fresh(img, keep);
		rbd_close(img);
	}
	if (e == 0)
		e = rbd_rename(r->io, tmp, name);
	if (e < 0)
		agent_rbd_remove(r, tmp);
	return e;
}

int agent_rbd_clone(struct agent_rbd *r, const char *parent, const char *snap, const char *name,
		    unsigned long long size)
{
	return clone_into(r, parent, snap, name, size, NULL);
}

int agent_rbd_clone_image(struct agent_rbd *r, const char *parent, const char *snap, const char *name,
			  const char *keep)
{
	int e = clone_into(r, parent, snap, name, 0, keep);

	if (e == -EEXIST) {
		/* Made meanwhile (a repeated request, another host): that one serves, tagged as
		 * this process's now, so the sweep takes it for nobody's only if this one dies too. */
		log_info("rbd: image made meanwhile", "image=%s", name);
		return tag(r, name);
	}
	return e;
}

int agent_rbd_image_published(struct agent_rbd *r, const char *image_id)
{
	_cleanup_free_ char *name = ecs_strdup_printf("img-%s", image_id);
	rbd_image_t img;
	int e = name ? rbd_open(r->io, name, &img, NULL) : -ENOMEM;

	if (e < 0)
		return e;
	e = rbd_metadata_remove(img, PENDING_KEY);
	rbd_close(img);
	return e == -ENOENT ? 0 : e;
}

int agent_rbd_size(struct agent_rbd *r, const char *name, unsigned long long *ret)
{
	rbd_image_t img;
	uint64_t size = 0;
	int e = rbd_open_read_only(r->io, name, &img, NULL);

	if (e < 0)
		return e;
	e = rbd_get_size(img, &size);
	rbd_close(img);
	*ret = size;
	return e;
}

int agent_rbd_grow(struct agent_rbd *r, const char *name, unsigned long long size)
{
	return resize_to(r, name, size);
}

char *agent_rbd_qemu_uri(const struct agent_rbd *r, const char *name)
{
	return ecs_strdup_printf("rbd:%s/%s:id=%s:conf=%s:keyring=%s", r->pool, name, r->user, r->conf, r->keyring);
}

/* The file's content into the open image: read in place and written through librbd when
 * the map allows, else (map NULL) by qemu-img into the image by name, with its own cluster
 * connection (compressed or encrypted clusters, a backing file). */
static int write_content(struct agent_rbd *r, rbd_image_t *img, const char *name, const char *file,
			 const struct agent_disk_map *map)
{
	_cleanup_free_ char *uri = NULL;
	int e;

	if (map)
		return agent_rbd_write_map(*img, file, map);
	uri = agent_rbd_qemu_uri(r, name);
	if (!uri)
		return -ENOMEM;
	/* qemu-img writes with the image closed here: one writer holds the exclusive lock. */
	rbd_close(*img);
	*img = NULL;
	const char *argv[] = { "qemu-img", "convert", "-q", "-U", "-n", "-W", "-O", "raw", file, uri, NULL };
	e = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = IMPORT_TIMEOUT_MS }, NULL);
	return e < 0 ? e : rbd_open(r->io, name, img, NULL);
}

/* A new image, opened and tagged with its maker. */
static int make_tagged(struct agent_rbd *r, const char *name, uint64_t size, rbd_image_t *img)
{
	int order = 22, e = rbd_create(r->io, name, size, &order);

	if (e == 0)
		e = rbd_open(r->io, name, img, NULL);
	return e == 0 ? rbd_metadata_set(*img, MAKER_KEY, r->maker) : e;
}

struct map_job {
	const char *file;
	struct agent_disk_map map;
};

static int map_run(void *arg)
{
	struct map_job *j = arg;

	return agent_disk_map_file(j->file, &j->map);
}

int agent_rbd_import(struct agent_rbd *r, const char *file, const char *name, unsigned long long size,
		     const char *snap)
{
	_cleanup_free_ char *tmp = fresh_tmp(r, name);
	struct map_job job = { .file = file };
	struct agent_bg map_bg;
	unsigned long long vsize = 0;
	uint64_t made = 0;
	rbd_image_t img = NULL;
	bool direct, later;
	int e, m;

	if (!tmp)
		return -ENOMEM;
	/* The file's map (a qemu-img process) is read while the temporary is made, opened and
	 * tagged (round trips to the cluster): of a qcow2 file the size is in its header. */
	agent_bg_start(&map_bg, map_run, &job);
	later = agent_disk_qcow2_size(file, &made) < 0; /* not qcow2: made once the size is known */
	e = later ? 0 : make_tagged(r, tmp, made, &img);
	m = agent_bg_join(&map_bg);
	direct = m == 0;
	if (m == -ENOTSUP)
		m = agent_disk_virtual_size(file, &vsize);
	else
		vsize = job.map.vsize;
	if (e == 0 && m < 0)
		e = m;
	if (e == 0 && size && size < vsize)
		e = -EINVAL;
	if (e == 0 && later)
		e = make_tagged(r, tmp, vsize, &img);
	else if (e == 0 && made != vsize)
		e = rbd_resize(img, vsize); /* the header said otherwise than qemu-img */
	if (e == 0)
		e = write_content(r, &img, tmp, file, direct ? &job.map : NULL);
	if (e == 0 && size > vsize)
		e = rbd_resize(img, size);
	if (e == 0 && snap)
		e = snap_fresh(img, snap);
	if (img)
		rbd_close(img);
	agent_disk_map_clear(&job.map);
	if (e == 0)
		e = rbd_rename(r->io, tmp, name);
	if (e == -EEXIST) {
		/* Another host imported the same image first: theirs serves. */
		log_info("rbd: imported by another host meanwhile", "image=%s", name);
		agent_rbd_remove(r, tmp);
		return 0;
	}
	if (e < 0) {
		log_error("rbd: import failed", "file=%s image=%s error=%s", file, name, strerror(-e));
		agent_rbd_remove(r, tmp);
	}
	return e;
}

static char *secret_usage(const char *user)
{
	return ecs_strdup_printf("client.%s secret", user);
}

/* Two creates of one host build their domains at once (both waited for the same image):
 * one at a time here, or both define the secret (the second is refused: its usage is taken)
 * or both rewrite its value file (libvirt's rewrite of one file from two threads fails one). */
static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;

static int secret_ensure_locked(struct agent_rbd *r, virConnectPtr conn, char uuid[VIR_UUID_STRING_BUFLEN])
{
	_cleanup_free_ char *usage = secret_usage(r->user), *xml = NULL;
	_cleanup_free_ uint8_t *raw = NULL;
	unsigned char *have = NULL;
	size_t raw_len = 0, have_len = 0;
	virSecretPtr s;
	int e = 0;

	if (!usage)
		return -ENOMEM;
	if (!r->key || ecs_base64_decode(r->key, strlen(r->key), &raw, &raw_len) < 0)
		return -EINVAL;
	s = virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_CEPH, usage);
	if (!s) {
		xml = ecs_strdup_printf("<secret ephemeral='no' private='yes'><usage type='ceph'><name>%s</name></usage>"
					"</secret>",
					usage);
		if (!xml)
			return -ENOMEM;
		s = virSecretDefineXML(conn, xml, 0);
		if (!s) {
			log_error("cannot define the ceph secret", "usage=\"%s\"", usage);
			return -EIO;
		}
	} else {
		have = virSecretGetValue(s, &have_len, 0);
	}
	/* Written only when missing or changed (a new key replaces an old one). */
	if ((!have || have_len != raw_len || memcmp(have, raw, raw_len) != 0) && virSecretSetValue(s, raw, raw_len, 0) < 0) {
		log_error("cannot set the ceph secret's value", "usage=\"%s\" error=\"%s\"", usage, virGetLastErrorMessage());
		e = -EIO;
	}
	if (e == 0 && virSecretGetUUIDString(s, uuid) < 0)
		e = -EIO;
	if (have)
		memset(have, 0, have_len);
	free(have);
	virSecretFree(s);
	return e;
}

int agent_rbd_secret_ensure(struct agent_rbd *r, virConnectPtr conn, char uuid[VIR_UUID_STRING_BUFLEN])
{
	int e;

	pthread_mutex_lock(&secret_lock);
	e = secret_ensure_locked(r, conn, uuid);
	pthread_mutex_unlock(&secret_lock);
	return e;
}

int agent_rbd_secret_remove(virConnectPtr conn, const char *user)
{
	_cleanup_free_ char *usage = secret_usage(user);
	virSecretPtr s;
	int e = 0;

	if (!usage)
		return -ENOMEM;
	s = virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_CEPH, usage);
	if (!s)
		return 0;
	if (virSecretUndefine(s) < 0)
		e = -EIO;
	virSecretFree(s);
	return e;
}

/* Whether an image's maker ("<host-id> <pid>") is a process of this host that is gone:
 * nothing will finish or remove what it made. With pending, only an image still marked
 * pending counts. */
static bool maker_gone(struct agent_rbd *r, const char *name, bool pending)
{
	char val[128] = "", host[128], flag[8];
	size_t len = sizeof(val) - 1, flag_len = sizeof(flag);
	rbd_image_t img;
	int pid = 0;
	bool gone = false;

	if (rbd_open_read_only(r->io, name, &img, NULL) < 0)
		return false;
	if ((!pending || rbd_metadata_get(img, PENDING_KEY, flag, &flag_len) == 0) &&
	    rbd_metadata_get(img, MAKER_KEY, val, &len) == 0 && sscanf(val, "%127s %d", host, &pid) == 2 && pid > 0 &&
	    pid != getpid() && strncmp(r->maker, host, strlen(host)) == 0 && r->maker[strlen(host)] == ' ')
		gone = kill(pid, 0) < 0 && errno == ESRCH;
	rbd_close(img);
	return gone;
}

/* An image made from a snapshot whose manifest a crash kept from being published. Checked
 * and removed with the image's lock held (hold), so a repeated request that takes the
 * image over meanwhile (tag) is not undone. */
static bool sweep_pending(struct agent_rbd *r, const char *name, agent_rbd_hold_fn hold, void *ctx)
{
	bool removed = false;

	if (hold)
		hold(ctx, name, true);
	if (maker_gone(r, name, true) && agent_rbd_remove(r, name) == 0) {
		log_info("rbd: image made from a snapshot and never published removed", "image=%s", name);
		removed = true;
	}
	if (hold)
		hold(ctx, name, false);
	return removed;
}

int agent_rbd_sweep(struct agent_rbd *r, agent_rbd_hold_fn hold, void *ctx)
{
	rbd_image_spec_t *images = NULL;
	size_t max = 64, n;
	int e, removed = 0;

	for (;;) {
		free(images);
		images = calloc(max, sizeof(*images));
		if (!images)
			return -ENOMEM;
		n = max;
		e = rbd_list2(r->io, images, &n);
		if (e != -ERANGE || n <= max)
			break;
		max = n;
	}
	if (e < 0) {
		free(images);
		return e;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = images[i].name;
		size_t len = strlen(name);
		int snaps = -1;

		if (len > 4 && streq(name + len - 4, ".tmp")) {
			/* Left by a crash of an earlier run: never renamed into place. */
			if (maker_gone(r, name, false) && agent_rbd_remove(r, name) == 0) {
				log_info("rbd: orphaned temporary removed", "image=%s", name);
				removed++;
			}
		} else if (str_has_prefix(name, "img-")) {
			removed += sweep_pending(r, name, hold, ctx);
		} else if (str_has_prefix(name, "snaps-") && agent_rbd_snap_count(r, name, &snaps) == 0 && snaps == 0) {
			/* A deleted disk whose last snapshot went (a crash came before the image). */
			if (agent_rbd_retire(r, name) == 0) {
				log_info("rbd: deleted disk without snapshots removed", "image=%s", name);
				removed++;
			}
		}
	}
	rbd_image_spec_list_cleanup(images, n);
	free(images);
	e = agent_rbd_trash_sweep(r);
	return e < 0 ? e : removed + e;
}
