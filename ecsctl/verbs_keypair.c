/* verbs_keypair.c: keypair create, import, ls, rm.
 *
 * `keypair create NAME` saves the private key ECS returns once to ~/.ecsctl/keys/NAME.pem
 * (directory 0700, file 0600, never overwritten: an existing file stops it before the key
 * pair is made); `ssh` finds it there by the instance's KeyPairName. If the file cannot be
 * written after all, the key pair is deleted again, so none is left whose key is lost. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "util.h"
#include "verbs.h"

#define PUBLIC_KEY_MAX (16 * 1024)

static const struct ecsctl_column keypair_columns[] = {
	{ "NAME", "KeyPairName" },
	{ "FINGERPRINT", "KeyPairFingerPrint" },
	{ "CREATED", "CreationTime" },
};

/* ECS: up to 128 characters, a letter first, then letters, digits, '.', '_', '-', ':' (ECS
 * asks for 2 at least; the issue's own example is "k", so 1 passes). The name becomes a
 * file name, so nothing else does. */
bool ecsctl_keypair_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 128)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-' || *p == ':'))
			return false;
	return true;
}

int ecsctl_keypair_path(const char *name, char **ret)
{
	_cleanup_free_ char *file = ecs_strdup_printf("keys/%s.pem", name);

	if (!file)
		return -ENOMEM;
	return ecsctl_state_path(file, ret);
}

static int write_private_key(const char *path, const char *pem)
{
	size_t len = strlen(pem), off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, pem + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && len && pem[len - 1] != '\n' && write(fd, "\n", 1) != 1)
		r = -EIO;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

static int delete_keypairs(struct ecsctl *ctx, const char *const *names, size_t n)
{
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *list = ecsctl_json_string_array(names, n);
	int r;

	if (!list)
		return -ENOMEM;
	r = ecs_kvlist_add(&p, "KeyPairNames", list);
	if (r >= 0)
		r = ecsctl_call_done(ctx, "DeleteKeyPairs", &p);
	ecs_kvlist_clear(&p);
	return r;
}

static int create_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *name = a->pos[0], *pem;
	struct ecs_kvlist p = ECS_KVLIST_INIT;
	struct json_object *reply = NULL;
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int r;

	if (!ecsctl_keypair_name_valid(name))
		return ecsctl_usage_error(ctx, "a key pair name is 1-128 letters, digits, '.', '_', '-' or ':', "
					  "starting with a letter: \"%s\"", name);
	r = ecsctl_state_mkdir("keys", NULL);
	if (r < 0)
		return ecsctl_fail(ctx, r, "cannot create ~/.ecsctl/keys: %s", strerror(-r));
	r = ecsctl_keypair_path(name, &path);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0)
		return ecsctl_fail(ctx, -EEXIST, "%s exists: a private key is never overwritten (remove it, or "
					 "choose another name)", path);

	r = ecs_kvlist_add(&p, "KeyPairName", name);
	if (r < 0)
		goto out;
	r = ecsctl_call(ctx, "CreateKeyPair", &p, &reply);
	if (r < 0)
		goto out;
	pem = ecs_json_str(reply, "PrivateKeyBody", NULL);
	r = pem && *pem ? write_private_key(path, pem) : -EBADMSG;
	if (r < 0) {
		ecsctl_fail(ctx, r, "%s: %s; deleting the key pair %s again",
			    path, r == -EBADMSG ? "the reply has no PrivateKeyBody" : strerror(-r), name);
		delete_keypairs(ctx, &name, 1);
		goto out;
	}
	/* The private key stays in the file: never on stdout, where logs keep it. */
	json_object_object_del(reply, "PrivateKeyBody");
	ecs_jb_str(reply, "PrivateKeyFile", path);
	if (ctx->output == ECSCTL_OUTPUT_JSON) {
		ecsctl_print_json(ctx->out, reply);
	} else if (ctx->output == ECSCTL_OUTPUT_TEXT) {
		fprintf(ctx->out, "%s\n", path);
	} else {
		static const struct ecsctl_column cols[] = {
			{ "NAME", "KeyPairName" },
			{ "FINGERPRINT", "KeyPairFingerPrint" },
			{ "PRIVATE KEY", "PrivateKeyFile" },
		};
		struct json_object *rows = json_object_new_array();

		json_object_array_add(rows, json_object_get(reply));
		r = ecsctl_print_table(ctx->out, cols, ARRAY_SIZE(cols), rows);
		json_object_put(rows);
	}
out:
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	return r;
}

static const struct ecsctl_creation keypair_import = { "ImportKeyPair", "KeyPairName", NULL, NULL, NULL };

static int import_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *name = a->pos[0], *file = ecsctl_args_get(a, "public-key");
	_cleanup_kvlist_ struct ecs_kvlist p = ECS_KVLIST_INIT;
	_cleanup_free_ char *key = NULL;
	size_t len;
	int r;

	if (!ecsctl_keypair_name_valid(name))
		return ecsctl_usage_error(ctx, "a key pair name is 1-128 letters, digits, '.', '_', '-' or ':', "
					  "starting with a letter: \"%s\"", name);
	r = ecs_read_file(file, PUBLIC_KEY_MAX, &key, &len);
	if (r < 0)
		return ecsctl_usage_error(ctx, "--public-key %s: %s", file,
					  r == -EFBIG ? "larger than 16 KiB" : strerror(-r));
	while (len && (key[len - 1] == '\n' || key[len - 1] == '\r' || key[len - 1] == ' '))
		key[--len] = '\0';
	if (!str_has_prefix(key, "ssh-") && !str_has_prefix(key, "ecdsa-"))
		return ecsctl_usage_error(ctx, "--public-key %s: not an OpenSSH public key (ssh-ed25519 AAAA…)",
					  file);
	if ((r = ecs_kvlist_add(&p, "KeyPairName", name)) < 0 || (r = ecs_kvlist_add(&p, "PublicKeyBody", key)) < 0)
		return r;
	return ecsctl_create(ctx, a, &keypair_import, &p, 0);
}

/* ECS pages key pairs by at most 50. */
static const struct ecsctl_listing keypairs = { "DescribeKeyPairs", "KeyPairs", "KeyPair", 50,
						ECSCTL_COLUMNS(keypair_columns), "KeyPairName", NULL };

static int rm_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	return delete_keypairs(ctx, a->pos, a->n_pos);
}

static const struct ecsctl_flag import_flags[] = {
	{ "public-key", ECSCTL_FLAG_VALUE, true, "FILE", "PublicKeyBody: an OpenSSH public key file" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_keypair_verbs[] = {
	{
		.group = "keypair",
		.name = "create",
		.synopsis = "NAME",
		.min_pos = 1,
		.max_pos = 1,
		.actions = "CreateKeyPair",
		.summary = "create a key pair; the private key goes to ~/.ecsctl/keys/NAME.pem (0600)",
		.details = "An existing ~/.ecsctl/keys/NAME.pem is never overwritten: the command stops first.\n"
			   "-o text prints the file's path; -o json the reply, with PrivateKeyFile in place of\n"
			   "PrivateKeyBody.",
		.run = create_run,
	},
	{
		.group = "keypair",
		.name = "import",
		.synopsis = "NAME",
		.min_pos = 1,
		.max_pos = 1,
		.flags = import_flags,
		.actions = "ImportKeyPair",
		.summary = "import an OpenSSH public key as a key pair",
		.details = "ssh needs the private key: put it at ~/.ecsctl/keys/NAME.pem or give ssh --identity.",
		.run = import_run,
	},
	{
		.group = "keypair",
		.name = "ls",
		.summary = "list key pairs",
		.list = &keypairs,
	},
	{
		.group = "keypair",
		.name = "rm",
		.synopsis = "NAME...",
		.min_pos = 1,
		.max_pos = ECSCTL_ARGS_MAX,
		.actions = "DeleteKeyPairs",
		.summary = "delete key pairs (the local private keys stay, for the instances that use them)",
		.run = rm_run,
	},
	{ .name = NULL },
};
