/* storage_gateway.h: the start-up and shut-down both storage gateways (ecs-ossd, ecs-otsd)
 * share. Their config section holds the common keys controller_url, host_key_file,
 * key_cache_s, ceph_conf, ceph_user, keyring, pool and log_level; open() parses the command
 * line, loads the config, sets up logging, reads the host key, blocks the signals wait()
 * takes, and opens the key cache and the pool. */
#ifndef STORAGE_GATEWAY_H
#define STORAGE_GATEWAY_H

#include <rados/librados.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"

struct storage_keys;

struct storage_gateway {
	const char *prog;    /* "ecs-otsd" */
	const char *section; /* "ots" */
	struct ecs_config *cfg;
	struct storage_keys *keys;
	rados_t cluster;
	rados_ioctx_t io;
	sigset_t sigs;
};

/* -1 when the gateway may go on; otherwise the exit code for main() (0 after --help;
 * everything closed). */
int storage_gateway_open(struct storage_gateway *g, const struct ecs_config_option *options, size_t n_options,
			 int argc, char **argv, void (*usage)(void));
/* Until SIGTERM or SIGINT; returns the signal. */
int storage_gateway_wait(struct storage_gateway *g);
/* Accepts a gateway that open() refused or never opened. */
void storage_gateway_close(struct storage_gateway *g);

#endif
