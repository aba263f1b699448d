/* daemon.h: what ecs-agent and ecs-controller do alike at start: read -c/--config and
 * -h/--help, log as their component at the configured level, read the shared host key,
 * and leave SIGTERM/SIGINT to a sigwait (SIGPIPE ignored). */
#ifndef ECS_DAEMON_H
#define ECS_DAEMON_H

#include <signal.h>
#include <stdbool.h>

/* Parse -c FILE and -h; with subcommands, options stop at the first other word (left at
 * argv[optind]). Returns -1 to go on with *ret_config (NULL when not given), else the status
 * main returns: 0 after --help, 2 on an unknown option (usage printed either way). */
int ecs_daemon_args(int argc, char **argv, bool subcommands, void (*usage)(void), const char **ret_config);

/* Log as component, at level ("debug", "info", ...) when it names one. */
void ecs_daemon_log_setup(const char *component, const char *level);

/* Read the host key at path into *ret; on failure say why on stderr as prog and return
 * the negative errno. */
int ecs_daemon_host_key(const char *prog, const char *path, char **ret);

/* Ignore SIGPIPE and block SIGTERM and SIGINT (every thread started later inherits the mask),
 * filling *ret_sigs for sigwait. */
void ecs_daemon_block_signals(sigset_t *ret_sigs);

#endif
