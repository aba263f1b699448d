#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hostauth.h"
#include "log.h"

int ecs_daemon_args(int argc, char **argv, bool subcommands, void (*usage)(void), const char **ret_config)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *config = NULL;
	int c;

	while ((c = getopt_long(argc, argv, subcommands ? "+c:h" : "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	*ret_config = config;
	return -1;
}

void ecs_daemon_log_setup(const char *component, const char *level)
{
	enum ecs_log_level l;

	ecs_log_set_component(component);
	if (level && ecs_log_level_from_string(level, &l) == 0)
		ecs_log_set_level(l);
}

int ecs_daemon_host_key(const char *prog, const char *path, char **ret)
{
	int r = ecs_hostauth_read_key(path, ret);

	if (r < 0)
		fprintf(stderr, "%s: cannot read the host key %s: %s\n", prog, path,
			r == -EINVAL ? "shorter than 16 characters" : strerror(-r));
	return r;
}

void ecs_daemon_block_signals(sigset_t *ret_sigs)
{
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(ret_sigs);
	sigaddset(ret_sigs, SIGTERM);
	sigaddset(ret_sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, ret_sigs, NULL);
}
