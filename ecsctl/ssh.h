/* ssh.h: a command or a shell on an instance, over SSH with libssh.
 *
 * Connects to address:port (retrying a refused or timed-out connection for up to
 * connect_window_s, as a guest that just turned Running may not listen yet), checks the
 * host key against known_hosts under the instance id (recorded at first use; a different
 * key is refused with a message saying what to do), logs in as user with the private key
 * file, then:
 *   - with a command: runs it, streams its stdout and stderr to ours and our stdin to it,
 *     and reports its exit status (a signal: 128 + its number, as a shell would);
 *   - without one: a shell, with a pty sized as our terminal (and kept so on SIGWINCH) in
 *     raw mode when stdin is a terminal, or reading stdin as a script when it is not.
 * ~/.ssh/config and ~/.ssh/known_hosts are not read: only what ecsctl keeps counts. */
#ifndef ECSCTL_SSH_H
#define ECSCTL_SSH_H

struct ecsctl;

struct ecsctl_ssh_target {
	const char *instance_id;	/* the name in known_hosts */
	const char *address;
	unsigned port;			/* 0: 22 */
	const char *user;		/* NULL: root */
	const char *identity;		/* the private key file */
	const char *known_hosts;	/* the file */
	long connect_window_s;		/* keep trying to connect this long */
};

/* Run command (NULL: a shell). 0 with *ret_status the remote exit status; a negative errno
 * (printed) when no session could be had. */
int ecsctl_ssh_run(struct ecsctl *ctx, const struct ecsctl_ssh_target *t, const char *command, int *ret_status);

#endif
