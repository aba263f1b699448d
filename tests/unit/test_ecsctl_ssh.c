/* Tests for `ecsctl ssh` against a real SSH server: libssh's server side, in a thread on
 * loopback, with the instance described by the fake endpoint. The host key is recorded at
 * first use and checked after (another key: refused, 255); the key pair's private key
 * logs in (another: refused); the command runs with our stdin, its stdout and stderr
 * reach ours, and its exit status is ecsctl's. */
#include <errno.h>
#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "test_ecsctl_fake.h"
#include "timeutil.h"

struct sshd {
	ssh_bind bind;
	ssh_key host_key;
	ssh_key allowed;
	unsigned port;
	pthread_t thread;
	ssh_channel ch;
	bool authed, exec, eof;
	char command[256];
	char input[256];
	size_t input_len;
};

static ssh_key host_a, host_b, client_key, other_key;
static char pem[160];

static int auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *pubkey, char state, void *userdata)
{
	struct sshd *d = userdata;

	(void)s;
	if (!streq(user, "root") || ssh_key_cmp(pubkey, d->allowed, SSH_KEY_CMP_PUBLIC) != 0)
		return SSH_AUTH_DENIED;
	if (state == SSH_PUBLICKEY_STATE_VALID)
		d->authed = true;
	return state == SSH_PUBLICKEY_STATE_VALID || state == SSH_PUBLICKEY_STATE_NONE ? SSH_AUTH_SUCCESS
										     : SSH_AUTH_DENIED;
}

static int on_exec(ssh_session s, ssh_channel ch, const char *command, void *userdata)
{
	struct sshd *d = userdata;

	(void)s;
	(void)ch;
	snprintf(d->command, sizeof(d->command), "%s", command);
	d->exec = true;
	return 0;
}

static int on_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *userdata)
{
	struct sshd *d = userdata;
	size_t n = len < sizeof(d->input) - 1 - d->input_len ? len : sizeof(d->input) - 1 - d->input_len;

	(void)s;
	(void)ch;
	(void)is_stderr;
	memcpy(d->input + d->input_len, data, n);
	d->input_len += n;
	d->input[d->input_len] = '\0';
	return (int)len;
}

static void on_eof(ssh_session s, ssh_channel ch, void *userdata)
{
	struct sshd *d = userdata;

	(void)s;
	(void)ch;
	d->eof = true;
}

static struct ssh_channel_callbacks_struct channel_cb = {
	.channel_data_function = on_data,
	.channel_eof_function = on_eof,
	.channel_exec_request_function = on_exec,
};

static ssh_channel on_channel_open(ssh_session s, void *userdata)
{
	struct sshd *d = userdata;

	d->ch = ssh_channel_new(s);
	channel_cb.userdata = d;
	ssh_callbacks_init(&channel_cb);
	ssh_set_channel_callbacks(d->ch, &channel_cb);
	return d->ch;
}

/* Serve one session: log in, one exec; echo the command and stdin back; exit status 7. */
static void *sshd_main(void *arg)
{
	struct sshd *d = arg;
	struct ssh_server_callbacks_struct cb = {
		.userdata = d,
		.auth_pubkey_function = auth_pubkey,
		.channel_open_request_session_function = on_channel_open,
	};
	struct pollfd pfd = { .fd = ssh_bind_get_fd(d->bind), .events = POLLIN };
	ssh_session s;
	ssh_event ev = NULL;
	int64_t deadline;
	char line[400];

	if (poll(&pfd, 1, 10000) != 1)
		return NULL;
	s = ssh_new();
	if (ssh_bind_accept(d->bind, s) != SSH_OK)
		goto out;
	ssh_callbacks_init(&cb);
	ssh_set_server_callbacks(s, &cb);
	ssh_set_auth_methods(s, SSH_AUTH_METHOD_PUBLICKEY);
	if (ssh_handle_key_exchange(s) != SSH_OK)
		goto out;
	ev = ssh_event_new();
	ssh_event_add_session(ev, s);
	deadline = ecs_now_mono_ms() + 10000;
	while (!(d->exec && d->eof) && ecs_now_mono_ms() < deadline)
		if (ssh_event_dopoll(ev, 100) == SSH_ERROR)
			goto out;
	if (!d->exec)
		goto out;
	snprintf(line, sizeof(line), "out:%s\n", d->command);
	ssh_channel_write(d->ch, line, (uint32_t)strlen(line));
	ssh_channel_write_stderr(d->ch, "err\n", 4);
	snprintf(line, sizeof(line), "stdin:%s", d->input);
	ssh_channel_write(d->ch, line, (uint32_t)strlen(line));
	ssh_channel_request_send_exit_status(d->ch, 7);
	ssh_channel_send_eof(d->ch);
	ssh_channel_close(d->ch);
	deadline = ecs_now_mono_ms() + 3000;
	while (!ssh_channel_is_closed(d->ch) && ecs_now_mono_ms() < deadline)
		if (ssh_event_dopoll(ev, 100) == SSH_ERROR)
			break;
out:
	if (ev)
		ssh_event_free(ev);
	if (d->ch)
		ssh_channel_free(d->ch);
	ssh_disconnect(s);
	ssh_free(s);
	return NULL;
}

static void sshd_start(struct sshd *d, ssh_key host, ssh_key allowed)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int verbosity = SSH_LOG_NOLOG;

	memset(d, 0, sizeof(*d));
	d->allowed = allowed;
	d->bind = ssh_bind_new();
	ssh_bind_options_set(d->bind, SSH_BIND_OPTIONS_BINDADDR, "127.0.0.1");
	ssh_bind_options_set(d->bind, SSH_BIND_OPTIONS_BINDPORT_STR, "0");
	ssh_bind_options_set(d->bind, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity);
	assert_int_equal(ssh_bind_options_set(d->bind, SSH_BIND_OPTIONS_IMPORT_KEY, ssh_key_dup(host)), SSH_OK);
	assert_int_equal(ssh_bind_listen(d->bind), SSH_OK);
	assert_int_equal(getsockname(ssh_bind_get_fd(d->bind), (struct sockaddr *)&sa, &len), 0);
	d->port = ntohs(sa.sin_port);
	pthread_create(&d->thread, NULL, sshd_main, d);
}

static void sshd_stop(struct sshd *d)
{
	pthread_join(d->thread, NULL);
	ssh_bind_free(d->bind);
}

/* Run ecsctl with fds 0, 1 and 2 redirected: stdin from input, stdout and stderr captured. */
static struct run_result run_with_fds(const char *line, const char *input, char **ret_stdout, char **ret_stderr)
{
	char in_path[160], out_path[160], err_path[160];
	int saved[3] = { dup(0), dup(1), dup(2) }, fds[3];
	struct run_result res;
	FILE *f;

	snprintf(in_path, sizeof(in_path), "%s/stdin", fake_home);
	snprintf(out_path, sizeof(out_path), "%s/stdout", fake_home);
	snprintf(err_path, sizeof(err_path), "%s/stderr", fake_home);
	f = fopen(in_path, "w");
	fputs(input, f);
	fclose(f);
	fflush(stdout);
	fflush(stderr);
	fds[0] = open(in_path, O_RDONLY | O_CLOEXEC);
	fds[1] = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fds[2] = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	for (int i = 0; i < 3; i++) {
		dup2(fds[i], i);
		close(fds[i]);
	}
	res = run_ecsctl(line, false);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	assert_int_equal(ecs_read_file(out_path, 65536, ret_stdout, NULL), 0);
	assert_int_equal(ecs_read_file(err_path, 65536, ret_stderr, NULL), 0);
	return res;
}

/* `ecsctl ssh ID --port PORT REST`, INPUT on its stdin, against one connection of a server
 * with the host key HOST that accepts the client key ALLOWED (*d: what the server saw).
 * Its stdout and stderr replace *ret_stdout and *ret_stderr. */
static struct run_result ssh_once(struct sshd *d, ssh_key host, ssh_key allowed, const char *id, const char *rest,
				  const char *input, char **ret_stdout, char **ret_stderr)
{
	_cleanup_free_ char *line = NULL;
	struct run_result res;

	free(*ret_stdout);
	free(*ret_stderr);
	*ret_stdout = *ret_stderr = NULL;
	sshd_start(d, host, allowed);
	line = ecs_strdup_printf("ssh %s --port %u %s", id, d->port, rest);
	assert_non_null(line);
	res = run_with_fds(line, input, ret_stdout, ret_stderr);
	sshd_stop(d);
	return res;
}

static void set_address(const char *id, const char *ip)
{
	struct json_object *o = fake_find(fake.instances, "InstanceId", id, NULL);

	json_object_object_del(o, "InnerIpAddress");
	json_object_array_add(ecs_jb_list(o, "InnerIpAddress", "IpAddress"), json_object_new_string(ip));
}

/* The fake API holds one instance, ID, Running at 127.0.0.1 (where sshd_start listens). */
static void only_instance_on_loopback(const char *id)
{
	fake_reset();
	fake_add_instance(id, "Running");
	set_address(id, "127.0.0.1");
}

static int setup(void **state)
{
	char keys[128];

	if (fake_group_setup(state) < 0)
		return -1;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &host_a) != SSH_OK ||
	    ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &host_b) != SSH_OK ||
	    ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &client_key) != SSH_OK ||
	    ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &other_key) != SSH_OK)
		return -1;
	snprintf(keys, sizeof(keys), "%s/.ecsctl", fake_home);
	mkdir(keys, 0700);
	snprintf(keys, sizeof(keys), "%s/.ecsctl/keys", fake_home);
	mkdir(keys, 0700);
	snprintf(pem, sizeof(pem), "%s/k.pem", keys);
	if (ssh_pki_export_privkey_file(client_key, NULL, NULL, NULL, pem) != SSH_OK)
		return -1;
	chmod(pem, 0600);
	return 0;
}

static int teardown(void **state)
{
	ssh_key_free(host_a);
	ssh_key_free(host_b);
	ssh_key_free(client_key);
	ssh_key_free(other_key);
	return fake_group_teardown(state);
}

static void test_run_command(void **state)
{
	struct sshd d;
	struct run_result res;
	_cleanup_free_ char *out = NULL, *err = NULL, *kh = NULL;
	char path[160];

	(void)state;
	only_instance_on_loopback("i-ssh");

	/* First use: the host key is recorded. */
	res = ssh_once(&d, host_a, client_key, "i-ssh", "--timeout 5 -- uname -a", "hello\n", &out, &err);
	assert_int_equal(res.status, 7);
	assert_string_equal(d.command, "uname -a");
	assert_string_equal(out, "out:uname -a\nstdin:hello\n");
	assert_string_equal(err, "err\n");
	assert_string_equal(res.err, "");
	run_result_clear(&res);
	snprintf(path, sizeof(path), "%s/.ecsctl/known_hosts", fake_home);
	assert_int_equal(ecs_read_file(path, 4096, &kh, NULL), 0);
	assert_true(str_has_prefix(kh, "i-ssh ssh-ed25519 AAAA"));

	/* Second use: the same key passes. */
	res = ssh_once(&d, host_a, client_key, "i-ssh", "-- exit 3", "", &out, &err);
	assert_int_equal(res.status, 7);
	assert_string_equal(out, "out:exit 3\nstdin:");
	run_result_clear(&res);

	/* Another host key for the same instance: refused, nothing run, 255. */
	res = ssh_once(&d, host_b, client_key, "i-ssh", "-- rm -rf /", "", &out, &err);
	assert_int_equal(res.status, 255);
	assert_false(d.exec);
	assert_false(d.authed);
	assert_non_null(strstr(res.err, "the host key is not the one recorded"));
	assert_non_null(strstr(res.err, "Refusing to connect"));
	run_result_clear(&res);
}

static void test_refusals(void **state)
{
	struct sshd d;
	struct run_result res;
	_cleanup_free_ char *out = NULL, *err = NULL;

	(void)state;
	only_instance_on_loopback("i-key");

	/* The server does not know our key. */
	res = ssh_once(&d, host_a, other_key, "i-key", "-- true", "", &out, &err);
	assert_int_equal(res.status, 255);
	assert_non_null(strstr(res.err, "did not accept the key"));
	assert_false(d.exec);
	run_result_clear(&res);

	/* Nobody listens: 255 after the window (0: one try). */
	expect_run("ssh i-key --port 1 --timeout 0 -- true", 255, "ssh i-key (127.0.0.1:1)");

	/* Not running, no key pair, no address: API-side errors, exit 1, no connection. */
	fake_set_field(fake.instances, "InstanceId", "i-key", "Status", "Stopped");
	res = run_ecsctl("ssh i-key -- true", false);
	assert_int_equal(res.status, 1);
	assert_string_equal(res.err, "ecsctl: instance i-key is Stopped, not Running\n");
	run_result_clear(&res);
	fake_set_field(fake.instances, "InstanceId", "i-key", "Status", "Running");
	fake_set_field(fake.instances, "InstanceId", "i-key", "KeyPairName", "elsewhere");
	expect_run("ssh i-key -- true", 1, "keys/elsewhere.pem for the key pair elsewhere of i-key");
	fake_set_field(fake.instances, "InstanceId", "i-key", "KeyPairName", "");
	expect_run("ssh i-key -- true", 1, "has no key pair: give --identity FILE");
	json_object_object_del(fake_find(fake.instances, "InstanceId", "i-key", NULL), "InnerIpAddress");
	expect_run("ssh i-key -- true", 1, "has no IP address");
	expect_run("ssh i-none -- true", 1, NULL);
}

/* --identity names the key; the VPC address is used when there is no classic one. */
static void test_identity_and_vpc(void **state)
{
	struct sshd d;
	struct run_result res;
	_cleanup_free_ char *out = NULL, *err = NULL;
	char rest[300];
	struct json_object *o;

	(void)state;
	fake_reset();
	o = fake_add_instance("i-vpc", "Running");
	json_object_object_del(o, "InnerIpAddress");
	json_object_object_del(o, "KeyPairName");
	json_object_array_add(ecs_jb_list(ecs_jb_obj(o, "VpcAttributes"), "PrivateIpAddress", "IpAddress"),
			      json_object_new_string("127.0.0.1"));
	snprintf(rest, sizeof(rest), "--identity %s -- id", pem);
	res = ssh_once(&d, host_a, client_key, "i-vpc", rest, "", &out, &err);
	assert_int_equal(res.status, 7);
	assert_string_equal(out, "out:id\nstdin:");
	run_result_clear(&res);
}

UNIT_MAIN("ecsctl_ssh", NULL, NULL, setup, teardown,
	  cmocka_unit_test(test_run_command),
	  cmocka_unit_test(test_refusals),
	  cmocka_unit_test(test_identity_and_vpc))
