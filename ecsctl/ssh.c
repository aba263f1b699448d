#include "ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ecsctl.h"
#include "known_hosts.h"
#include "output.h"
#include "timeutil.h"
#include "util.h"

static volatile sig_atomic_t window_changed;

static void on_sigwinch(int sig)
{
	(void)sig;
	window_changed = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A session to the target, connected (not yet authenticated). */
static int connect_session(struct ecsctl *ctx, const struct ecsctl_ssh_target *t, ssh_session *ret)
{
	struct ecsctl_progress progress = { .f = ctx->err, .enabled = ctx->err_tty };
	int64_t deadline = ecs_now_mono_ms() + t->connect_window_s * 1000;
	unsigned port = t->port ? t->port : 22;
	long timeout_s = 10;
	int verbosity = SSH_LOG_NOLOG;
	bool no = false;
	char error[256] = "";

	for (;;) {
		ssh_session s = ssh_new();

		if (!s)
			return ecsctl_fail(ctx, -ENOMEM, "out of memory");
		ssh_options_set(s, SSH_OPTIONS_HOST, t->address);
		ssh_options_set(s, SSH_OPTIONS_PORT, &port);
		ssh_options_set(s, SSH_OPTIONS_USER, t->user ? t->user : "root");
		ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s);
		ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
		ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
		/* Our known_hosts is ours: libssh must not read ~/.ssh/known_hosts. */
		ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
		ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
		if (ssh_connect(s) == SSH_OK) {
			ecsctl_progress_done(&progress);
			*ret = s;
			return 0;
		}
		snprintf(error, sizeof(error), "%s", ssh_get_error(s));
		ssh_free(s);
		if (ecs_now_mono_ms() + 1000 >= deadline)
			break;
		ecsctl_progress_update(&progress, "waiting for SSH on %s (%s): %s", t->instance_id, t->address, error);
		sleep_ms(1000);
	}
	ecsctl_progress_done(&progress);
	return ecsctl_fail(ctx, -ECONNREFUSED, "ssh %s (%s:%u): %s", t->instance_id, t->address, port, error);
}

static int check_host_key(struct ecsctl *ctx, ssh_session s, const struct ecsctl_ssh_target *t)
{
	ssh_key key = NULL;
	char *b64 = NULL;
	const char *type;
	enum ecsctl_hostkey state;
	int r;

	if (ssh_get_server_publickey(s, &key) != SSH_OK)
		return ecsctl_fail(ctx, -EPROTO, "ssh %s: no host key: %s", t->instance_id, ssh_get_error(s));
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (!type || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		r = ecsctl_fail(ctx, -EPROTO, "ssh %s: cannot read the host key", t->instance_id);
		goto out;
	}
	r = ecsctl_known_hosts_check(t->known_hosts, t->instance_id, type, b64, &state);
	if (r < 0) {
		ecsctl_fail(ctx, r, "%s: %s", t->known_hosts, strerror(-r));
		goto out;
	}
	switch (state) {
	case ECSCTL_HOSTKEY_KNOWN:
		break;
	case ECSCTL_HOSTKEY_NEW:
		r = ecsctl_known_hosts_add(t->known_hosts, t->instance_id, type, b64);
		if (r < 0) {
			ecsctl_fail(ctx, r, "cannot record the host key in %s: %s", t->known_hosts, strerror(-r));
			goto out;
		}
		if (ctx->err_tty)
			fprintf(ctx->err, "ecsctl: recorded the %s host key of %s in %s\n", type, t->instance_id,
				t->known_hosts);
		break;
	default:
		r = ecsctl_fail(ctx, -EPERM,
				"ssh %s (%s): the host key is not the one recorded in %s. Someone may be in the "
				"middle, or the instance's system disk was replaced. If you know why it changed, "
				"delete the lines of %s from %s and try again. Refusing to connect.",
				t->instance_id, t->address, t->known_hosts, t->instance_id, t->known_hosts);
		goto out;
	}
out:
	ssh_string_free_char(b64);
	ssh_key_free(key);
	return r;
}

static int authenticate(struct ecsctl *ctx, ssh_session s, const struct ecsctl_ssh_target *t)
{
	ssh_key key = NULL;
	int r;

	if (ssh_pki_import_privkey_file(t->identity, NULL, NULL, NULL, &key) != SSH_OK)
		return ecsctl_fail(ctx, -ENOKEY, "%s: cannot read a private key from it", t->identity);
	r = ssh_userauth_publickey(s, NULL, key);
	ssh_key_free(key);
	if (r != SSH_AUTH_SUCCESS)
		return ecsctl_fail(ctx, -EACCES, "ssh %s: %s@%s did not accept the key %s%s%s", t->instance_id,
				   t->user ? t->user : "root", t->address, t->identity,
				   r == SSH_AUTH_ERROR ? ": " : "", r == SSH_AUTH_ERROR ? ssh_get_error(s) : "");
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

struct exit_signal {
	int number;
};

static void on_exit_signal(ssh_session session, ssh_channel channel, const char *signal, int core, const char *errmsg,
			   const char *lang, void *userdata)
{
	static const struct {
		const char *name;
		int number;
	} signals[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },	  { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "ABRT", SIGABRT }, { "FPE", SIGFPE },	  { "KILL", SIGKILL }, { "SEGV", SIGSEGV },
		{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 },
	};
	struct exit_signal *es = userdata;

	(void)session;
	(void)channel;
	(void)core;
	(void)errmsg;
	(void)lang;
	es->number = SIGTERM;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (streq(signal, signals[i].name))
			es->number = signals[i].number;
}

/* Move bytes both ways until the remote side is done. */
static int pump(struct ecsctl *ctx, ssh_session s, ssh_channel ch, bool pty)
{
	char buf[16384];
	bool stdin_open = true;

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = ssh_get_fd(s), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		bool got = false;

		if (poll(fds, stdin_open ? 2 : 1, 50) < 0 && errno != EINTR)
			return ecsctl_fail(ctx, -errno, "poll: %s", strerror(errno));
		if (pty && window_changed) {
			struct winsize ws;

			window_changed = 0;
			if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
				ssh_channel_change_pty_size(ch, ws.ws_col, ws.ws_row);
		}
		if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n > 0) {
				if (ssh_channel_write(ch, buf, (uint32_t)n) == SSH_ERROR)
					return ecsctl_fail(ctx, -EIO, "ssh: %s", ssh_get_error(s));
			} else if (n == 0 || errno != EINTR) {
				stdin_open = false;
				ssh_channel_send_eof(ch);
			}
		}
		for (int stream = 0; stream < 2; stream++) {
			int n;

			while ((n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf), stream)) > 0) {
				got = true;
				if (write_all(stream ? STDERR_FILENO : STDOUT_FILENO, buf, (size_t)n) < 0 && !stream)
					return -EPIPE;
			}
			if (n == SSH_ERROR)
				return ecsctl_fail(ctx, -EIO, "ssh: %s", ssh_get_error(s));
		}
		if (!got && (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch)))
			return 0;
	}
}

static int session_run(struct ecsctl *ctx, ssh_session s, const char *command, int *ret_status)
{
	struct exit_signal es = { 0 };
	struct ssh_channel_callbacks_struct cb = { .userdata = &es, .channel_exit_signal_function = on_exit_signal };
	bool pty = !command && ctx->in_tty;
	struct termios saved, raw;
	bool restore = false;
	ssh_channel ch = ssh_channel_new(s);
	int r = 0, status;

	if (!ch)
		return ecsctl_fail(ctx, -ENOMEM, "out of memory");
	ssh_callbacks_init(&cb);
	ssh_set_channel_callbacks(ch, &cb);
	if (ssh_channel_open_session(ch) != SSH_OK) {
		r = ecsctl_fail(ctx, -EIO, "ssh: cannot open a session: %s", ssh_get_error(s));
		goto out;
	}
	if (pty) {
		struct winsize ws = { .ws_row = 24, .ws_col = 80 };
		const char *term = getenv("TERM");
		struct sigaction sa = { .sa_handler = on_sigwinch };

		ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
		if (ssh_channel_request_pty_size(ch, term && *term ? term : "xterm", ws.ws_col, ws.ws_row) != SSH_OK) {
			r = ecsctl_fail(ctx, -EIO, "ssh: no pty: %s", ssh_get_error(s));
			goto out;
		}
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, NULL);
	}
	if (command ? ssh_channel_request_exec(ch, command) : ssh_channel_request_shell(ch)) {
		r = ecsctl_fail(ctx, -EIO, "ssh: %s refused: %s", command ? "the command was" : "a shell was",
				ssh_get_error(s));
		goto out;
	}
	if (pty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
	}
	r = pump(ctx, s, ch, pty);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	if (r < 0)
		goto out;
	status = ssh_channel_get_exit_status(ch);
	if (es.number)
		status = 128 + es.number;
	else if (status < 0)
		status = 255; /* the server sent no status */
	*ret_status = status;
out:
	if (pty)
		signal(SIGWINCH, SIG_DFL);
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return r;
}

int ecsctl_ssh_run(struct ecsctl *ctx, const struct ecsctl_ssh_target *t, const char *command, int *ret_status)
{
	ssh_session s = NULL;
	int r;

	r = connect_session(ctx, t, &s);
	if (r < 0)
		return r;
	r = check_host_key(ctx, s, t);
	if (r < 0)
		goto out;
	r = authenticate(ctx, s, t);
	if (r < 0)
		goto out;
	fflush(ctx->out);
	r = session_run(ctx, s, command, ret_status);
out:
	ssh_disconnect(s);
	ssh_free(s);
	return r;
}
