#include "storage_rbd.h"

#include <errno.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

#define IMPORT_TIMEOUT_MS (30 * 60 * 1000)

struct agent_rbd {
	rados_t cluster;
	rados_ioctx_t io;
	char *conf, *user, *keyring, *pool, *hosts, *key;
};

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
	    (e = rados_conf_set(r->cluster, "client_mount_timeout", "30")) < 0)
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

int agent_rbd_exists(struct agent_rbd *r, const char *name, bool *ret)
{
	rbd_image_t img;
	int e = rbd_open_read_only(r->io, name, &img, NULL);

	if (e == -ENOENT) {
		*ret = false;
		return 0;
	}
	if (e < 0)
		return e;
	rbd_close(img);
	*ret = true;
	return 0;
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
		int prot = 0;

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

int agent_rbd_rename(struct agent_rbd *r, const char *from, const char *to)
{
	return rbd_rename(r->io, from, to);
}

/* name + ".tmp", and any earlier one of it removed. */
static char *fresh_tmp(struct agent_rbd *r, const char *name)
{
	char *tmp = ecs_strdup_printf("%s.tmp", name);

	if (tmp && agent_rbd_remove(r, tmp) < 0)
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

int agent_rbd_clone(struct agent_rbd *r, const char *parent, const char *snap, const char *name,
		    unsigned long long size)
{
	_cleanup_free_ char *tmp = fresh_tmp(r, name);
	rbd_image_options_t opts;
	int e;

	if (!tmp)
		return -ENOMEM;
	rbd_image_options_create(&opts);
	rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, 22);
	e = rbd_clone3(r->io, parent, snap, r->io, tmp, opts);
	rbd_image_options_destroy(opts);
	if (e == 0)
		e = resize_to(r, tmp, size);
	if (e == 0)
		e = rbd_rename(r->io, tmp, name);
	if (e < 0)
		agent_rbd_remove(r, tmp);
	return e;
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

int agent_rbd_import(struct agent_rbd *r, const char *file, const char *name, unsigned long long size,
		     const char *snap)
{
	_cleanup_free_ char *tmp = fresh_tmp(r, name), *uri = NULL;
	rbd_image_t img;
	int e;

	if (!tmp)
		return -ENOMEM;
	uri = agent_rbd_qemu_uri(r, tmp);
	if (!uri)
		return -ENOMEM;
	/* qemu-img writes the image itself (raw into RBD, holes skipped): the source is qcow2. */
	const char *argv[] = { "qemu-img", "convert", "-q", "-U", "-O", "raw", file, uri, NULL };
	e = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = IMPORT_TIMEOUT_MS }, NULL);
	if (e == 0 && size)
		e = resize_to(r, tmp, size);
	if (e == 0 && snap) {
		e = rbd_open(r->io, tmp, &img, NULL);
		if (e == 0) {
			e = rbd_snap_create(img, snap);
			if (e == 0)
				e = rbd_snap_protect(img, snap);
			rbd_close(img);
		}
	}
	if (e == 0)
		e = rbd_rename(r->io, tmp, name);
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

int agent_rbd_secret_ensure(struct agent_rbd *r, virConnectPtr conn, char uuid[VIR_UUID_STRING_BUFLEN])
{
	_cleanup_free_ char *usage = secret_usage(r->user), *xml = NULL;
	_cleanup_free_ uint8_t *raw = NULL;
	size_t raw_len = 0;
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
	}
	/* Set each time: the same value is a no-op, a new key replaces an old one. */
	if (virSecretSetValue(s, raw, raw_len, 0) < 0 || virSecretGetUUIDString(s, uuid) < 0)
		e = -EIO;
	virSecretFree(s);
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
