/* cmd.h: run an external command (qemu-img, iptables-restore, ip, genisoimage …).
 *
 * No shell: argv[0] is looked up in PATH by the parent and exec'd directly. Optional text on
 * stdin; stdout and stderr captured up to a bound; a timeout kills the command's whole
 * process group. Every descriptor but 0-2 is closed in the child.
 *
 * Dry run (libvirt's virCommandSetDryRun): while a recorder is installed, commands are not
 * run; their command lines (and stdin, as a here-document) are appended to a buffer that
 * golden-file tests compare, and an optional callback supplies their output and status. */
#ifndef ECS_CMD_H
#define ECS_CMD_H

#include <stddef.h>

#define ECS_CMD_MAX_OUTPUT (16 * 1024 * 1024)

struct ecs_cmd_result {
	int status; /* exit code; 128 + signal when killed by one */
	char *out;  /* NUL-terminated, never NULL after success */
	char *err;
	size_t out_len, err_len;
};

struct ecs_cmd_opts {
	const char *stdin_text; /* NULL: stdin is /dev/null */
	size_t stdin_len;	/* 0: strlen(stdin_text) */
	int timeout_ms;		/* 0: no timeout */
	size_t max_output;	/* 0: ECS_CMD_MAX_OUTPUT; per stream */
};

/* Run argv (NULL-terminated). Returns 0 when the command ran (whatever its exit status:
 * look at ret->status), -ENOENT when not found, -ETIMEDOUT when killed by the timeout,
 * -EFBIG when output overflowed the bound. */
int ecs_cmd_run(const char *const *argv, const struct ecs_cmd_opts *opts, struct ecs_cmd_result *ret);

/* Like ecs_cmd_run, but a non-zero exit status is an error too (-EIO), with the command
 * and its stderr logged once. ret may be NULL when output is not wanted. */
int ecs_cmd_run_ok(const char *const *argv, const struct ecs_cmd_opts *opts, struct ecs_cmd_result *ret);

void ecs_cmd_result_clear(struct ecs_cmd_result *r);

/* Dry run. The callback may set *out (malloc'd) and *status for the faked command. */
typedef void (*ecs_cmd_dry_run_fn)(const char *const *argv, const char *stdin_text, char **out, int *status,
				   void *userdata);
void ecs_cmd_dry_run_start(ecs_cmd_dry_run_fn fn, void *userdata);
/* Stop recording and return what was recorded (caller frees). */
char *ecs_cmd_dry_run_stop(void);

/* Render argv as a shell-readable line (quoting only where needed). Caller frees. */
char *ecs_cmd_to_string(const char *const *argv);

#endif
