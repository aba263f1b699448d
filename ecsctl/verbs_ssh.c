/* verbs_ssh.c: `ecsctl ssh ID [-- CMD...]`.
 *
 * The instance must be Running. Its address is the first of InnerIpAddress,
 * VpcAttributes.PrivateIpAddress and PublicIpAddress (DescribeInstances); its key is
 * ~/.ecsctl/keys/<KeyPairName>.pem unless --identity names another. The exit status is the
 * remote command's, or 255 when no session could be had (as ssh(1)); an API error before
 * connecting is 1 as everywhere. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "ssh.h"
#include "util.h"
#include "verbs.h"

#define SSH_EXIT_FAILED 255
#define PUBLIC_ADDRESS "PublicIpAddress.IpAddress|EipAddress.IpAddress"
#define ANY_ADDRESS                                                                            \
	"InnerIpAddress.IpAddress|VpcAttributes.PrivateIpAddress.IpAddress|PublicIpAddress.IpAddress|" \
	"EipAddress.IpAddress"
#define COMMAND_MAX (128 * 1024)

/* The words joined by spaces, as ssh(1) does: the remote shell splits them again. */
static int join_command(struct ecsctl *ctx, const char *const *words, size_t n, char **ret)
{
	size_t len = 0;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	if (len > COMMAND_MAX)
		return ecsctl_usage_error(ctx, "the command is longer than %d bytes", COMMAND_MAX);
	s = p = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(words[i]);

		if (i)
			*p++ = ' ';
		memcpy(p, words[i], l);
		p += l;
	}
	*p = '\0';
	*ret = s;
	return 0;
}

static int ssh_verb_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const char *id = a->pos[0], *keypair, *status;
	struct json_object *inst = NULL;
	_cleanup_free_ char *address = NULL, *key_path = NULL, *known_hosts = NULL, *command = NULL;
	struct ecsctl_ssh_target t = { .instance_id = id, .user = ecsctl_args_get(a, "user") };
	long long port, window;
	int r, remote = SSH_EXIT_FAILED;

	if ((r = ecsctl_flag_int(ctx, a, "port", 1, 65535, 22, &port)) < 0 ||
	    (r = ecsctl_flag_int(ctx, a, "timeout", 0, 3600, 30, &window)) < 0)
		return r;
	if (a->n_rest && (r = join_command(ctx, a->rest, a->n_rest, &command)) < 0)
		return r;
	r = ecsctl_instance_describe(ctx, id, &inst);
	if (r < 0)
		return r;
	status = ecs_json_str(inst, "Status", "");
	if (!streq(status, "Running")) {
		r = ecsctl_fail(ctx, -EAGAIN, "instance %s is %s, not Running", id, status);
		goto out;
	}
	address = ecsctl_field_text(inst, ecsctl_args_bool(a, "public") ? PUBLIC_ADDRESS : ANY_ADDRESS);
	if (!address) {
		r = -ENOMEM;
		goto out;
	}
	if (strchr(address, ','))
		*strchr(address, ',') = '\0';
	if (!*address) {
		r = ecsctl_fail(ctx, -EADDRNOTAVAIL, "instance %s has no IP address", id);
		goto out;
	}
	if (ecsctl_args_get(a, "identity")) {
		key_path = strdup(ecsctl_args_get(a, "identity"));
		if (!key_path) {
			r = -ENOMEM;
			goto out;
		}
	} else {
		keypair = ecs_json_str(inst, "KeyPairName", "");
		if (!*keypair) {
			r = ecsctl_fail(ctx, -ENOKEY, "instance %s has no key pair: give --identity FILE", id);
			goto out;
		}
		if (!ecsctl_keypair_name_valid(keypair)) {
			r = ecsctl_fail(ctx, -EBADMSG, "instance %s: the key pair name \"%s\" is not one ecsctl saves",
					id, keypair);
			goto out;
		}
		r = ecsctl_keypair_path(keypair, &key_path);
		if (r < 0)
			goto out;
		if (access(key_path, R_OK) < 0) {
			r = ecsctl_fail(ctx, -ENOKEY, "no private key %s for the key pair %s of %s (made elsewhere?): "
					"give --identity FILE", key_path, keypair, id);
			goto out;
		}
	}
	r = ecsctl_state_mkdir(NULL, NULL);
	if (r >= 0)
		r = ecsctl_state_path("known_hosts", &known_hosts);
	if (r < 0) {
		ecsctl_fail(ctx, r, "cannot use ~/.ecsctl: %s", strerror(-r));
		goto out;
	}
	t.address = address;
	t.port = (unsigned)port;
	t.identity = key_path;
	t.known_hosts = known_hosts;
	t.connect_window_s = (long)window;
	r = ecsctl_ssh_run(ctx, &t, command, &remote);
	/* From here the exit status is ssh's: the remote one, or 255. */
	ctx->exit_status = r < 0 ? SSH_EXIT_FAILED : remote;
	r = 0;
out:
	json_object_put(inst);
	return r;
}

static const struct ecsctl_flag ssh_flags[] = {
	{ "user", ECSCTL_FLAG_VALUE, false, "USER", "log in as (default root)" },
	{ "identity", ECSCTL_FLAG_VALUE, false, "FILE", "the private key (default ~/.ecsctl/keys/KEYPAIR.pem)" },
	{ "port", ECSCTL_FLAG_VALUE, false, "PORT", "default 22" },
	{ "public", ECSCTL_FLAG_BOOL, false, NULL, "connect to the public address" },
	{ "timeout", ECSCTL_FLAG_VALUE, false, "SECONDS", "keep trying to connect this long (default 30)" },
	{ NULL },
};

const struct ecsctl_verb ecsctl_ssh_verbs[] = {
	{
		.name = "ssh",
		.synopsis = "ID [-- CMD...]",
		.min_pos = 1,
		.max_pos = 1,
		.rest = true,
		.flags = ssh_flags,
		.actions = "DescribeInstances",
		.summary = "log in to an instance, or run a command there",
		.details = "The host key is recorded in ~/.ecsctl/known_hosts at the first connection and must\n"
			   "match after: a different key is refused. With a command, exits with its status (255\n"
			   "when the connection or login fails); without one, opens a shell (with a pty when\n"
			   "stdin is a terminal).\n"
			   "  ecsctl ssh i-abc -- uname -a",
		.run = ssh_verb_run,
	},
	{ .name = NULL },
};
