#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"
#include "util.h"

/* Dry-run state is global (as libvirt's): tests install it around the code under test. */
static pthread_mutex_t dry_lock = PTHREAD_MUTEX_INITIALIZER;
static bool dry_active;
static FILE *dry_stream;
static char *dry_buf;
static size_t dry_size;
static ecs_cmd_dry_run_fn dry_fn;
static void *dry_userdata;

void ecs_cmd_result_clear(struct ecs_cmd_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static bool needs_quote(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./=:,+@%", *s))
			return true;
	return false;
}

char *ecs_cmd_to_string(const char *const *argv)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			fputc(' ', f);
		if (!needs_quote(argv[i])) {
			fputs(argv[i], f);
			continue;
		}
		fputc('\'', f);
		for (const char *c = argv[i]; *c; c++) {
			if (*c == '\'')
				fputs("'\\''", f);
			else
				fputc(*c, f);
		}
		fputc('\'', f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void ecs_cmd_dry_run_start(ecs_cmd_dry_run_fn fn, void *userdata)
{
	pthread_mutex_lock(&dry_lock);
	if (dry_stream)
		fclose(dry_stream);
	free(dry_buf);
	dry_buf = NULL;
	dry_size = 0;
	dry_stream = open_memstream(&dry_buf, &dry_size);
	dry_fn = fn;
	dry_userdata = userdata;
	dry_active = true;
	pthread_mutex_unlock(&dry_lock);
}

char *ecs_cmd_dry_run_stop(void)
{
	char *out;

	pthread_mutex_lock(&dry_lock);
	if (dry_stream)
		fclose(dry_stream);
	dry_stream = NULL;
	out = dry_buf ? dry_buf : strdup("");
	dry_buf = NULL;
	dry_size = 0;
	dry_active = false;
	dry_fn = NULL;
	pthread_mutex_unlock(&dry_lock);
	return out;
}

/* Record instead of running. Returns true when dry run is active. */
static bool dry_run(const char *const *argv, const struct ecs_cmd_opts *o, struct ecs_cmd_result *ret)
{
	_cleanup_free_ char *line = NULL;
	char *out = NULL;
	int status = 0;

	pthread_mutex_lock(&dry_lock);
	if (!dry_active) {
		pthread_mutex_unlock(&dry_lock);
		return false;
	}
	line = ecs_cmd_to_string(argv);
	if (dry_stream && line) {
		if (o->stdin_text) {
			size_t len = o->stdin_len ? o->stdin_len : strlen(o->stdin_text);

			fprintf(dry_stream, "%s <<'EOF'\n", line);
			fwrite(o->stdin_text, 1, len, dry_stream);
			if (len && o->stdin_text[len - 1] != '\n')
				fputc('\n', dry_stream);
			fputs("EOF\n", dry_stream);
		} else {
			fprintf(dry_stream, "%s\n", line);
		}
		fflush(dry_stream);
	}
	if (dry_fn)
		dry_fn(argv, o->stdin_text, &out, &status, dry_userdata);
	pthread_mutex_unlock(&dry_lock);
	memset(ret, 0, sizeof(*ret));
	ret->status = status;
	ret->out = out ? out : strdup("");
	ret->out_len = strlen(ret->out);
	ret->err = strdup("");
	return true;
}

/* Find argv0 in PATH in the parent: the child may only call async-signal-safe functions. */
static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = NULL;
	char *dir, *save = NULL;

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	copy = strdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (!copy)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *full = ecs_strdup_printf("%s/%s", dir, name);
		struct stat st;

		if (full && stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return NULL;
}

struct capture {
	int fd;
	struct ecs_buf buf;
	size_t max;
	bool overflow;
};

static int capture_read(struct capture *c)
{
	char tmp[16384];
	ssize_t n = read(c->fd, tmp, sizeof(tmp));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0)
		return 0;
	if (c->overflow)
		return 1; /* keep draining so the child is not blocked */
	switch (ecs_buf_append(&c->buf, tmp, (size_t)n, c->max)) {
	case 0:
		return 1;
	case -EFBIG:
		c->overflow = true;
		return 1;
	default:
		return -ENOMEM;
	}
}

static void child_exec(const char *prog, const char *const *argv, int in, int out, int err)
{
	sigset_t all;

	/* New process group: a timeout kills whatever the command started too. */
	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	/* The parent's descriptors must not leak into the command (belt and braces with
	 * O_CLOEXEC everywhere). */
	close_range(3, ~0U, 0);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	execv(prog, (char *const *)argv);
	_exit(127);
}

int ecs_cmd_run(const char *const *argv, const struct ecs_cmd_opts *opts, struct ecs_cmd_result *ret)
{
	static const struct ecs_cmd_opts none;
	const struct ecs_cmd_opts *o = opts ? opts : &none;
	_cleanup_free_ char *prog = NULL;
	struct capture out = { .fd = -1 }, err = { .fd = -1 };
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	const char *in_text = o->stdin_text;
	size_t in_len = in_text ? (o->stdin_len ? o->stdin_len : strlen(in_text)) : 0, in_off = 0;
	int64_t deadline = o->timeout_ms > 0 ? ecs_now_mono_ms() + o->timeout_ms : 0;
	bool timed_out = false;
	sigset_t pipe_set, old_set;
	int status = 0, r = 0;
	pid_t pid;

	if (dry_run(argv, o, ret))
		return 0;
	memset(ret, 0, sizeof(*ret));
	prog = find_program(argv[0]);
	if (!prog)
		return -ENOENT;
	out.max = err.max = o->max_output ? o->max_output : ECS_CMD_MAX_OUTPUT;

	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		goto out_close;
	}
	if (in_text) {
		if (pipe2(in_pipe, O_CLOEXEC) < 0) {
			r = -errno;
			goto out_close;
		}
	} else {
		in_pipe[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in_pipe[0] < 0) {
			r = -errno;
			goto out_close;
		}
	}

	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_close;
	}
	if (pid == 0)
		child_exec(prog, argv, in_pipe[0], out_pipe[1], err_pipe[1]);

	close(in_pipe[0]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	in_pipe[0] = out_pipe[1] = err_pipe[1] = -1;
	/* The captures own the read ends from here: each number is closed exactly once, or a
	 * second close could hit a descriptor another thread has opened since. */
	out.fd = out_pipe[0];
	err.fd = err_pipe[0];
	out_pipe[0] = err_pipe[0] = -1;
	if (in_pipe[1] >= 0) {
		fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
		if (in_len == 0) {
			close(in_pipe[1]);
			in_pipe[1] = -1;
		}
	}

	/* A command that exits before reading its stdin must not kill us with SIGPIPE. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

	while (out.fd >= 0 || err.fd >= 0 || in_pipe[1] >= 0) {
		struct pollfd pfd[3];
		struct capture *caps[3] = { NULL, NULL, NULL };
		int nfd = 0, timeout = -1, pr;

		if (deadline) {
			int64_t left = deadline - ecs_now_mono_ms();

			if (left <= 0) {
				timed_out = true;
				kill(-pid, SIGKILL);
				break;
			}
			timeout = (int)left;
		}
		if (in_pipe[1] >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = in_pipe[1], .events = POLLOUT };
		if (out.fd >= 0) {
			caps[nfd] = &out;
			pfd[nfd++] = (struct pollfd){ .fd = out.fd, .events = POLLIN };
		}
		if (err.fd >= 0) {
			caps[nfd] = &err;
			pfd[nfd++] = (struct pollfd){ .fd = err.fd, .events = POLLIN };
		}
		pr = poll(pfd, (nfds_t)nfd, timeout);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			kill(-pid, SIGKILL);
			break;
		}
		for (int i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			if (!caps[i]) {
				ssize_t n = write(in_pipe[1], in_text + in_off, in_len - in_off);

				if (n > 0)
					in_off += (size_t)n;
				if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
					close(in_pipe[1]);
					in_pipe[1] = -1;
				}
				continue;
			}
			pr = capture_read(caps[i]);
			if (pr <= 0) {
				if (pr < 0 && r == 0)
					r = pr;
				close(caps[i]->fd);
				caps[i]->fd = -1;
			}
		}
	}

	/* Discard a SIGPIPE raised by our writes before unblocking it. */
	{
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		r = -ETIMEDOUT;
	else if (r == 0 && (out.overflow || err.overflow))
		r = -EFBIG;

out_close:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
	}
	if (out.fd >= 0)
		close(out.fd);
	if (err.fd >= 0)
		close(err.fd);
	if (r < 0) {
		ecs_buf_free(&out.buf);
		ecs_buf_free(&err.buf);
		return r;
	}
	ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ret->out_len = out.buf.len;
	ret->err_len = err.buf.len;
	ret->out = ecs_buf_steal(&out.buf);
	ret->err = ecs_buf_steal(&err.buf);
	if (!ret->out || !ret->err) {
		ecs_cmd_result_clear(ret);
		return -ENOMEM;
	}
	return 0;
}

int ecs_cmd_run_ok(const char *const *argv, const struct ecs_cmd_opts *opts, struct ecs_cmd_result *ret)
{
	struct ecs_cmd_result local = { 0 };
	struct ecs_cmd_result *res = ret ? ret : &local;
	_cleanup_free_ char *line = NULL;
	char qerr[512];
	int r;

	r = ecs_cmd_run(argv, opts, res);
	if (r < 0) {
		line = ecs_cmd_to_string(argv);
		log_error("command failed to run", "cmd=%s error=%s", ecs_log_quote(line, qerr, sizeof(qerr)),
			  strerror(-r));
		return r;
	}
	if (res->status != 0) {
		char qcmd[512];

		line = ecs_cmd_to_string(argv);
		log_error("command failed", "cmd=%s status=%d stderr=%s", ecs_log_quote(line, qcmd, sizeof(qcmd)),
			  res->status, ecs_log_quote(res->err, qerr, sizeof(qerr)));
		ecs_cmd_result_clear(res);
		return -EIO;
	}
	if (!ret)
		ecs_cmd_result_clear(&local);
	return 0;
}
