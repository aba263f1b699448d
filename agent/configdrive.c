#include "configdrive.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "util.h"

/* pre, then s as a YAML double-quoted scalar (JSON string syntax), then post. */
static void put_str(FILE *f, const char *pre, const char *s, const char *post)
{
	struct json_object *o = json_object_new_string(strempty(s));

	fputs(pre, f);
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), f);
	fputs(post, f);
	json_object_put(o);
}

/* A document written into memory. open_memstream sets buf only at fclose. */
struct doc {
	char *buf;
	size_t size;
	FILE *f;
};

static bool doc_open(struct doc *d)
{
	*d = (struct doc){ 0 };
	d->f = open_memstream(&d->buf, &d->size);
	return d->f != NULL;
}

static char *doc_finish(struct doc *d)
{
	if (fclose(d->f) != 0) {
		free(d->buf);
		return NULL;
	}
	return d->buf;
}

char *agent_configdrive_meta_data(const struct agent_configdrive *cd)
{
	struct doc d;

	if (!doc_open(&d))
		return NULL;
	put_str(d.f, "instance-id: ", cd->instance_id, "\n");
	put_str(d.f, "local-hostname: ", cd->hostname, "\n");
	if (cd->n_keys)
		fputs("public-keys:\n", d.f);
	for (size_t i = 0; i < cd->n_keys; i++)
		put_str(d.f, "  - ", cd->public_keys[i], "\n");
	return doc_finish(&d);
}

char *agent_configdrive_network_config(const struct agent_configdrive *cd)
{
	struct doc d;

	if (!doc_open(&d))
		return NULL;
	put_str(d.f, "version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: ", cd->mac, "\n");
	fprintf(d.f, "    addresses: [\"%s/%d\"]\n", cd->ip, cd->prefix_len);
	if (cd->gateway)
		put_str(d.f, "    gateway4: ", cd->gateway, "\n");
	if (cd->mtu)
		fprintf(d.f, "    mtu: %u\n", cd->mtu);
	if (cd->n_dns) {
		fputs("    nameservers:\n      addresses: [", d.f);
		for (size_t i = 0; i < cd->n_dns; i++)
			put_str(d.f, i ? ", " : "", cd->dns[i], "");
		fputs("]\n", d.f);
	}
	return doc_finish(&d);
}

char *agent_configdrive_vendor_data(const struct agent_configdrive *cd)
{
	struct doc d;

	if (!doc_open(&d))
		return NULL;
	fputs("#cloud-config\n", d.f);
	if (cd->password_hash) {
		/* The list form: one "user:hash" item; a hash never holds a newline (checked by
		 * the caller) or a quote that would end the scalar (put_str escapes it). */
		_cleanup_free_ char *item = ecs_strdup_printf("root:%s", cd->password_hash);

		put_str(d.f, "chpasswd:\n  expire: false\n  list:\n    - ", item, "\n");
	}
	return doc_finish(&d);
}

static int write_all(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (len && fwrite(data, 1, len, f) != len)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

int agent_configdrive_build(const struct agent_configdrive *cd, const char *path)
{
	_cleanup_free_ char *dir = ecs_strdup_printf("%s.d", path), *tmp = ecs_strdup_printf("%s.tmp", path);
	_cleanup_free_ char *meta = agent_configdrive_meta_data(cd), *net = agent_configdrive_network_config(cd);
	_cleanup_free_ char *vendor = agent_configdrive_vendor_data(cd);
	static const char *const names[] = { "meta-data", "network-config", "vendor-data", "user-data" };
	char *files[ARRAY_SIZE(names)] = { NULL };
	const char *argv[16];
	size_t argc = 0;
	int r = 0;

	if (!dir || !tmp || !meta || !net || !vendor)
		return -ENOMEM;
	if (cd->password_hash && strpbrk(cd->password_hash, "\n\r"))
		return -EINVAL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		files[i] = ecs_strdup_printf("%s/%s", dir, names[i]);
		if (!files[i]) {
			r = -ENOMEM;
			goto out;
		}
	}
	if ((r = write_all(files[0], meta, strlen(meta))) < 0 || (r = write_all(files[1], net, strlen(net))) < 0 ||
	    (r = write_all(files[2], vendor, strlen(vendor))) < 0)
		goto out;
	unlink(files[3]);
	if (cd->user_data && (r = write_all(files[3], cd->user_data, cd->user_data_len)) < 0)
		goto out;

	argv[argc++] = "genisoimage";
	argv[argc++] = "-quiet";
	argv[argc++] = "-output";
	argv[argc++] = tmp;
	argv[argc++] = "-volid";
	argv[argc++] = "cidata";
	argv[argc++] = "-joliet";
	argv[argc++] = "-rock";
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (i < 3 || cd->user_data)
			argv[argc++] = files[i];
	argv[argc] = NULL;
	r = ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = 60000 }, NULL);
	if (r < 0)
		goto out;
	/* libvirt's qemu user reads the drive. */
	chmod(tmp, 0644);
	if (rename(tmp, path) < 0)
		r = -errno;
out:
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (files[i])
			unlink(files[i]);
		free(files[i]);
	}
	rmdir(dir);
	if (r < 0) {
		unlink(tmp);
		log_error("config drive build failed", "instance=%s path=%s error=%s", strempty(cd->instance_id), path,
			  strerror(-r));
	}
	return r;
}
