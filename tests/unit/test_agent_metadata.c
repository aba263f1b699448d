/* Tests for agent/metadata.c: the metadata service over real sockets (each guest sees only
 * itself, whatever it asks for and from wherever it asks), the guard rules against golden
 * files, and their application with real iptables in a private network namespace, down to
 * a guest in a namespace of its own that tries to pose as its neighbour.
 *
 * main() moves the whole binary into a new network namespace before any test runs: every
 * iptables rule and link made here dies with the process. Without one (not root) the
 * iptables tests are skipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "cmd.h"
#include "golden.h"
#include "log.h"
#include "metadata.h"
#include "nstest.h"
#include "quiet.h"
#include "util.h"

#define PREFIX "ECST"
#define MD_IP "100.100.100.200"

static bool in_netns;

/* ---- instances the lookup knows ---------------------------------------------- */

struct fake_instance {
	const char *source; /* the address it is looked up by */
	struct agent_metadata_instance mi;
	int error;	    /* returned instead, when set */
};

/* gzip magic, a NUL and bytes that are no UTF-8: user-data is bytes, not text. */
static const char binary_user_data[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x00#!/bin/sh\n\xff\xfe";

static const struct fake_instance http_instances[] = {
	{ .source = "127.0.0.1",
	  .mi = { .instance_id = "i-meta0000000000000a",
	    .hostname = "host-a",
	    .private_ip = "127.0.0.1",
	    .mac = "00:16:3e:00:00:0a",
	    .region_id = "cn-hangzhou",
	    .zone_id = "cn-hangzhou-b",
	    .key_pair_name = "kp-a",
	    .public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnly+for/testing a@example" } },
	{ .source = "127.0.0.3",
	  .mi = { .instance_id = "i-meta0000000000000b",
	    .hostname = "host-b",
	    .private_ip = "127.0.0.3",
	    .mac = "00:16:3e:00:00:0b",
	    .region_id = "cn-beijing",
	    .zone_id = "cn-beijing-a",
	    .user_data = (char *)binary_user_data,
	    .user_data_len = sizeof(binary_user_data) - 1 } },
	/* A broken lookup that answers for 127.0.0.4 with instance a: must not leak. */
	{ .source = "127.0.0.4",
	  .mi = { .instance_id = "i-meta0000000000000a",
	    .hostname = "host-a",
	    .private_ip = "127.0.0.1",
	    .mac = "00:16:3e:00:00:0a",
	    .region_id = "cn-hangzhou",
	    .zone_id = "cn-hangzhou-b" } },
	{ .source = "127.0.0.5", .error = -EIO },
};

static const struct fake_instance guest_instances[] = {
	{ .source = "10.0.0.5",
	  .mi = { .instance_id = "i-guest", .hostname = "guest", .private_ip = "10.0.0.5", .mac = "52:54:00:00:00:05",
	    .region_id = "r", .zone_id = "z" } },
	{ .source = "10.0.0.6",
	  .mi = { .instance_id = "i-neighbour", .hostname = "neighbour", .private_ip = "10.0.0.6",
	    .mac = "52:54:00:00:00:06", .region_id = "r", .zone_id = "z" } },
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int fake_lookup(const char *ip, struct agent_metadata_instance *ret, const struct fake_instance *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct agent_metadata_instance *src = &t[i].mi;

		if (!streq(t[i].source, ip))
			continue;
		if (t[i].error)
			return t[i].error;
		*ret = (struct agent_metadata_instance){
			.instance_id = dup_or_null(src->instance_id),
			.hostname = dup_or_null(src->hostname),
			.private_ip = dup_or_null(src->private_ip),
			.mac = dup_or_null(src->mac),
			.region_id = dup_or_null(src->region_id),
			.zone_id = dup_or_null(src->zone_id),
			.key_pair_name = dup_or_null(src->key_pair_name),
			.public_key = dup_or_null(src->public_key),
			.user_data_len = src->user_data_len,
		};
		if (src->user_data) {
			ret->user_data = malloc(src->user_data_len);
			memcpy(ret->user_data, src->user_data, src->user_data_len);
		}
		return 0;
	}
	return -ENOENT;
}

static int lookup_http(const char *ip, struct agent_metadata_instance *ret, void *userdata)
{
	(void)userdata;
	return fake_lookup(ip, ret, http_instances, ARRAY_SIZE(http_instances));
}

static int lookup_guests(const char *ip, struct agent_metadata_instance *ret, void *userdata)
{
	(void)userdata;
	return fake_lookup(ip, ret, guest_instances, ARRAY_SIZE(guest_instances));
}

/* ---- a raw HTTP client that chooses its source address ------------------------- */

struct reply {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

static void reply_clear(struct reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The value of a response header (caller frees), or NULL. */
static char *reply_header(const struct reply *r, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		const char *v = line + 2, *end;

		if (strncasecmp(v, name, n) != 0 || v[n] != ':')
			continue;
		v += n + 1;
		v += strspn(v, " ");
		end = strstr(v, "\r\n");
		return end ? strndup(v, (size_t)(end - v)) : strdup(v);
	}
	return NULL;
}

/* One request from src to dst:port, answered and closed. */
static void http_req(const char *src, const char *dst, uint16_t port, const char *method, const char *path,
		     struct reply *ret)
{
	struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { 10, 0 };
	struct ecs_buf b = { 0 };
	char req[1024], tmp[4096];
	_cleanup_free_ char *clen = NULL;
	const char *sep;
	int fd, n;

	memset(ret, 0, sizeof(*ret));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &to.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, path, dst);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	for (;;) {
		ssize_t got = recv(fd, tmp, sizeof(tmp), 0);

		if (got <= 0)
			break;
		assert_int_equal(ecs_buf_append(&b, tmp, (size_t)got, 1 << 20), 0);
	}
	close(fd);
	assert_non_null(b.data);
	sep = memmem(b.data, b.len, "\r\n\r\n", 4);
	assert_non_null(sep);
	ret->head = strndup(b.data, (size_t)(sep - b.data));
	assert_int_equal(sscanf(ret->head, "HTTP/1.1 %d", &ret->status), 1);
	ret->body_len = b.len - (size_t)(sep + 4 - b.data);
	ret->body = malloc(ret->body_len + 1);
	memcpy(ret->body, sep + 4, ret->body_len);
	ret->body[ret->body_len] = '\0';
	ecs_buf_free(&b);
	clen = reply_header(ret, "Content-Length");
	if (clen)
		assert_int_equal(strtoull(clen, NULL, 10), ret->body_len);
}

/* ---- the HTTP service ------------------------------------------------------------ */

static struct agent_metadata *md;
static uint16_t md_port;

static int http_setup(void **state)
{
	(void)state;
	assert_int_equal(agent_metadata_start("127.0.0.1", 0, lookup_http, NULL, &md), 0);
	md_port = agent_metadata_port(md);
	assert_true(md_port > 0);
	return 0;
}

static int http_teardown(void **state)
{
	(void)state;
	agent_metadata_stop(md);
	md = NULL;
	return 0;
}

/* GET path from src: status, exact body, and text/plain. */
static void expect_get(const char *src, const char *path, int status, const char *body, size_t len)
{
	struct reply r;
	_cleanup_free_ char *ct = NULL;

	http_req(src, "127.0.0.1", md_port, "GET", path, &r);
	ct = reply_header(&r, "Content-Type");
	if (r.status != status || r.body_len != len || memcmp(r.body, body, len) != 0)
		fail_msg("GET %s from %s: expected %d \"%.*s\", got %d \"%s\"", path, src, status, (int)len, body,
			 r.status, r.body);
	assert_non_null(ct);
	assert_string_equal(ct, "text/plain");
	reply_clear(&r);
}

#define EXPECT_TEXT(src, path, status, text) expect_get(src, path, status, text, strlen(text))

static const char not_found[] = "Not Found\n";

static void test_values(void **state)
{
	const struct agent_metadata_instance *a = &http_instances[0].mi;

	(void)state;
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/instance-id", 200, a->instance_id);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/hostname", 200, a->hostname);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/private-ipv4", 200, a->private_ip);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/mac", 200, a->mac);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/region-id", 200, a->region_id);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/zone-id", 200, a->zone_id);
	/* A trailing slash, repeated slashes, and the dated version cloud-init asks for. */
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/instance-id/", 200, a->instance_id);
	EXPECT_TEXT("127.0.0.1", "//latest//meta-data///hostname", 200, a->hostname);
	EXPECT_TEXT("127.0.0.1", "/2016-01-01/meta-data/instance-id", 200, a->instance_id);
	/* A query string changes nothing. */
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/zone-id?x=1", 200, a->zone_id);
	/* The other instance sees its own. */
	EXPECT_TEXT("127.0.0.3", "/latest/meta-data/instance-id", 200, http_instances[1].mi.instance_id);
	EXPECT_TEXT("127.0.0.3", "/latest/meta-data/private-ipv4", 200, "127.0.0.3");
}

static void test_listings(void **state)
{
	static const char index_a[] = "hostname\ninstance-id\nmac\nprivate-ipv4\npublic-keys/\nregion-id\nzone-id";
	static const char index_b[] = "hostname\ninstance-id\nmac\nprivate-ipv4\nregion-id\nzone-id";

	(void)state;
	EXPECT_TEXT("127.0.0.1", "/", 200, "2016-01-01\nlatest");
	EXPECT_TEXT("127.0.0.1", "/latest", 200, "meta-data\nuser-data");
	EXPECT_TEXT("127.0.0.1", "/latest/", 200, "meta-data\nuser-data");
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/", 200, index_a);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data", 200, index_a);
	EXPECT_TEXT("127.0.0.1", "/2016-01-01/meta-data/", 200, index_a);
	/* No key pair: no public-keys/ in the list. */
	EXPECT_TEXT("127.0.0.3", "/latest/meta-data/", 200, index_b);
}

static void test_public_keys(void **state)
{
	const char *key = http_instances[0].mi.public_key;

	(void)state;
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys/", 200, "0/");
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys", 200, "0/");
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys/0/", 200, "openssh-key");
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys/0", 200, "openssh-key");
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys/0/openssh-key", 200, key);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys/1/openssh-key", 404, not_found);
	EXPECT_TEXT("127.0.0.1", "/latest/meta-data/public-keys/0/openssh-key/x", 404, not_found);
	EXPECT_TEXT("127.0.0.3", "/latest/meta-data/public-keys/", 404, not_found);
	EXPECT_TEXT("127.0.0.3", "/latest/meta-data/public-keys/0/openssh-key", 404, not_found);
}

static void test_user_data(void **state)
{
	(void)state;
	EXPECT_TEXT("127.0.0.1", "/latest/user-data", 404, not_found);
	EXPECT_TEXT("127.0.0.1", "/latest/user-data/", 404, not_found);
	expect_get("127.0.0.3", "/latest/user-data", 200, binary_user_data, sizeof(binary_user_data) - 1);
	expect_get("127.0.0.3", "/2016-01-01/user-data/", 200, binary_user_data, sizeof(binary_user_data) - 1);
}

static void test_unknown_paths(void **state)
{
	static const char *const paths[] = {
		"/latest/meta-data/nope",   "/latest/meta-data/instance-idx", "/latest/meta-data/hostname/x",
		"/latest/nope",		    "/2009-04-04/meta-data/instance-id", "/latestx/meta-data/",
		"/latest/meta-dataX",	    "/user-data",			"/meta-data/instance-id",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		EXPECT_TEXT("127.0.0.1", paths[i], 404, not_found);
}

/* Every path asked from an address that is no instance, or that the lookup answers
 * wrongly for, gets the same 404 as an unknown path: nothing of anyone leaks. */
static void test_unknown_source(void **state)
{
	static const char *const paths[] = {
		"/",
		"/latest/",
		"/latest/meta-data/",
		"/latest/meta-data/instance-id",
		"/latest/meta-data/hostname",
		"/latest/meta-data/private-ipv4",
		"/latest/meta-data/public-keys/0/openssh-key",
		"/latest/user-data",
	};
	static const char *const sources[] = { "127.0.0.2", "127.0.0.4" };

	(void)state;
	for (size_t s = 0; s < ARRAY_SIZE(sources); s++) {
		for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
			struct reply r;

			http_req(sources[s], "127.0.0.1", md_port, "GET", paths[i], &r);
			assert_int_equal(r.status, 404);
			assert_string_equal(r.body, not_found);
			assert_null(strstr(r.head, "i-meta"));
			reply_clear(&r);
		}
	}
	/* A lookup that fails is a server error, still plain and still saying nothing. */
	EXPECT_TEXT("127.0.0.5", "/latest/meta-data/instance-id", 500, "Internal Server Error\n");
}

static void test_methods(void **state)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		struct reply r;
		_cleanup_free_ char *ct = NULL, *allow = NULL;

		http_req("127.0.0.1", "127.0.0.1", md_port, methods[i], "/latest/meta-data/instance-id", &r);
		assert_int_equal(r.status, 405);
		assert_string_equal(r.body, "Method Not Allowed\n");
		ct = reply_header(&r, "Content-Type");
		allow = reply_header(&r, "Allow");
		assert_string_equal(ct, "text/plain");
		assert_string_equal(allow, "GET");
		reply_clear(&r);
	}
}

static void test_start_errors(void **state)
{
	struct agent_metadata *m = (void *)0x1;
	FILE *quiet = quiet_logs();

	(void)state;
	assert_int_equal(agent_metadata_start("not-an-address", 0, lookup_http, NULL, &m), -EINVAL);
	assert_int_equal(agent_metadata_start("127.0.0.1", 0, NULL, NULL, &m), -EINVAL);
	assert_ptr_equal(m, (void *)0x1);
	loud_logs(quiet);
	agent_metadata_stop(NULL);
	agent_metadata_instance_clear(NULL);
}

/* ---- rendering ----------------------------------------------------------------- */

static const struct agent_metadata_nic nics3[] = {
	{ "ecst3", "10.0.0.7", "52:54:00:AA:BB:03" },
	{ "ecst10", "10.0.0.9", "52:54:00:aa:bb:10" },
	{ "ecst1", "10.0.0.5", "52:54:00:aa:bb:01" },
};

static void render_golden(const char *name, const struct agent_metadata_nic *nics, size_t n, int jumps)
{
	_cleanup_free_ char *text = NULL;

	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, nics, n, jumps, &text), 0);
	assert_golden(name, text);
}

static void test_render_golden(void **state)
{
	(void)state;
	render_golden("metadata_guard_0_new.txt", NULL, 0, 0);
	render_golden("metadata_guard_0_present.txt", NULL, 0, 1);
	render_golden("metadata_guard_1_new.txt", nics3 + 2, 1, 0);
	render_golden("metadata_guard_1_present.txt", nics3 + 2, 1, 1);
	render_golden("metadata_guard_3_new.txt", nics3, 3, 0);
	render_golden("metadata_guard_3_present.txt", nics3, 3, 1);
}

static void test_render_order_and_extras(void **state)
{
	const struct agent_metadata_nic rev[] = { nics3[2], nics3[0], nics3[1] };
	/* One tap with two addresses: both pass, then the tap's DROP; a NIC given twice
	 * counts once. */
	const struct agent_metadata_nic two[] = {
		{ "ecst2", "10.0.0.8", "52:54:00:aa:bb:02" },
		{ "ecst2", "10.0.0.6", "52:54:00:aa:bb:02" },
		{ "ecst2", "10.0.0.8", "52:54:00:AA:BB:02" },
	};
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	const char *p;
	int n = 0;

	(void)state;
	/* The input order does not matter. */
	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, nics3, 3, 0, &a), 0);
	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, rev, 3, 0, &b), 0);
	assert_string_equal(a, b);

	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, two, 3, 1, &c), 0);
	assert_string_equal(c, "*filter\n"
			       ":ECS-META - [0:0]\n"
			       "-A ECS-META -s 10.0.0.6/32 -m physdev --physdev-in ecst2 -m mac --mac-source "
			       "52:54:00:aa:bb:02 -j RETURN\n"
			       "-A ECS-META -s 10.0.0.8/32 -m physdev --physdev-in ecst2 -m mac --mac-source "
			       "52:54:00:aa:bb:02 -j RETURN\n"
			       "-A ECS-META -m physdev --physdev-in ecst2 -j DROP\n"
			       "-A ECS-META -m physdev --physdev-is-in -j DROP\n"
			       "-D INPUT -d 100.100.100.200/32 -j ECS-META\n"
			       "-I INPUT 1 -d 100.100.100.200/32 -j ECS-META\n"
			       "COMMIT\n");

	/* Three jumps found: all go, one comes back first. */
	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, NULL, 0, 3, &d), 0);
	for (p = d; (p = strstr(p, "-D INPUT -d 100.100.100.200/32 -j ECS-META\n")); p++)
		n++;
	assert_int_equal(n, 3);
	assert_non_null(strstr(d, "-D INPUT -d 100.100.100.200/32 -j ECS-META\n"
				  "-I INPUT 1 -d 100.100.100.200/32 -j ECS-META\nCOMMIT\n"));
}

static void test_render_rejects(void **state)
{
	static const struct agent_metadata_nic bad[] = {
		{ "ecst1234567890ab", "10.0.0.5", "52:54:00:aa:bb:cc" }, /* 16 characters */
		{ "", "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ NULL, "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecs t1", "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecst+", "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecst1;", "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "..", "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecst1\n-A", "10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecst1", "10.0.0.256", "52:54:00:aa:bb:cc" },
		{ "ecst1", "10.0.0", "52:54:00:aa:bb:cc" },
		{ "ecst1", "010.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecst1", " 10.0.0.5", "52:54:00:aa:bb:cc" },
		{ "ecst1", "10.0.0.5/32", "52:54:00:aa:bb:cc" },
		{ "ecst1", "::1", "52:54:00:aa:bb:cc" },
		{ "ecst1", NULL, "52:54:00:aa:bb:cc" },
		{ "ecst1", "10.0.0.5", "52:54:00:aa:bb" },
		{ "ecst1", "10.0.0.5", "52-54-00-aa-bb-cc" },
		{ "ecst1", "10.0.0.5", "52:54:00:aa:bb:cg" },
		{ "ecst1", "10.0.0.5", "52:54:00:aa:bb:cc:" },
		{ "ecst1", "10.0.0.5", NULL },
	};
	/* One address on two taps would let either tap read the other's metadata. */
	static const struct agent_metadata_nic shared[] = {
		{ "ecst1", "10.0.0.5", "52:54:00:aa:bb:01" },
		{ "ecst2", "10.0.0.5", "52:54:00:aa:bb:02" },
	};
	static const char *const bad_prefixes[] = { "", "EC S", "ECS-META-TOO-LONG-PREFIX", "E;CS", "-ECS", NULL };
	static const char *const bad_ips[] = { "100.100.100", "100.100.100.200/32", "", NULL };
	char *text = (char *)0x1;
	char *logbuf = NULL;
	size_t logsize = 0;
	FILE *logmem = open_memstream(&logbuf, &logsize);

	(void)state;
	ecs_log_set_output(logmem);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const struct agent_metadata_nic nics[] = { nics3[0], bad[i] };

		if (agent_metadata_guard_render("ECS", MD_IP, nics, 2, 0, &text) != -EINVAL)
			fail_msg("nic %zu (%s %s %s) not rejected", i, strempty(bad[i].tap), strempty(bad[i].ip),
				 strempty(bad[i].mac));
	}
	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, shared, 2, 0, &text), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_prefixes); i++)
		assert_int_equal(agent_metadata_guard_render(bad_prefixes[i], MD_IP, nics3, 3, 0, &text), -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_ips); i++)
		assert_int_equal(agent_metadata_guard_render("ECS", bad_ips[i], nics3, 3, 0, &text), -EINVAL);
	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, NULL, 2, 0, &text), -EINVAL);
	assert_int_equal(agent_metadata_guard_render("ECS", MD_IP, nics3, 3, -1, &text), -EINVAL);
	/* Nothing is run for bad input either. */
	assert_int_equal(agent_metadata_guard_apply("ECS", MD_IP, shared, 2), -EINVAL);
	assert_int_equal(agent_metadata_guard_remove("E CS", MD_IP), -EINVAL);
	ecs_log_set_output(NULL);
	fclose(logmem);
	assert_ptr_equal(text, (char *)0x1);
	/* Each is logged with the offending value. */
	assert_non_null(strstr(logbuf, "msg=\"metadata guard: bad nic\" tap=\"ecst1234567890ab\""));
	assert_non_null(strstr(logbuf, "msg=\"metadata guard: one address on two taps\" ip=10.0.0.5"));
	free(logbuf);
}

/* ---- the runner's dry run ----------------------------------------------------------- */

static void fake_iptables(const char *const *argv, const char *stdin_text, char **out, int *status, void *ud)
{
	int *phase = ud;

	(void)stdin_text;
	*status = 0;
	if (!streq(argv[0], "iptables"))
		return;
	/* Near misses first: neither is our jump. */
	if (*phase == 0)
		*out = strdup("-P INPUT ACCEPT\n"
			      "-A INPUT -d 100.100.100.200/32 -j ECS-METAX\n"
			      "-A INPUT -d 100.100.100.201/32 -j ECS-META\n"
			      "-A INPUT -i lo -j ACCEPT\n");
	else
		*out = strdup("-P INPUT ACCEPT\n"
			      "-A INPUT -d 100.100.100.200/32 -j ECS-META\n"
			      "-A INPUT -i lo -j ACCEPT\n"
			      "-A INPUT -d 100.100.100.200/32 -j ECS-META\n");
}

static void test_dry_run(void **state)
{
	_cleanup_free_ char *rec = NULL;
	int phase = 0;

	(void)state;
	ecs_cmd_dry_run_start(fake_iptables, &phase);
	assert_int_equal(agent_metadata_guard_apply("ECS", MD_IP, nics3, 3), 0); /* no jump yet */
	phase = 1;
	assert_int_equal(agent_metadata_guard_apply("ECS", MD_IP, nics3 + 2, 1), 0); /* two jumps */
	assert_int_equal(agent_metadata_guard_remove("ECS", MD_IP), 0);
	rec = ecs_cmd_dry_run_stop();
	assert_golden("metadata_guard_dry_run.txt", rec);
}

/* ---- real iptables, in this process's own network namespace --------------------- */


static void sh_ok(const char *script)
{
	const char *argv[] = { "sh", "-ec", script, NULL };
	struct ecs_cmd_result r;

	assert_int_equal(ecs_cmd_run(argv, &(struct ecs_cmd_opts){ .timeout_ms = 30000 }, &r), 0);
	if (r.status != 0)
		fail_msg("sh -ec '%s' failed (%d): %s", script, r.status, r.err);
	ecs_cmd_result_clear(&r);
}

static char *iptables_s(const char *chain, int *ret_status)
{
	const char *argv[] = { "iptables", "-w", "-S", chain, NULL };
	char *out = NULL;

	*ret_status = nstest_run(argv, &out);
	return out;
}

/* What `iptables -S <prefix>-META` must print for rules just rendered: their -A lines. */
static char *expected_chain(const struct agent_metadata_nic *nics, size_t n)
{
	_cleanup_free_ char *text = NULL;
	struct ecs_buf b = { 0 };
	char *save = NULL;

	assert_int_equal(agent_metadata_guard_render(PREFIX, MD_IP, nics, n, 1, &text), 0);
	ecs_buf_append(&b, "-N " PREFIX "-META\n", strlen("-N " PREFIX "-META\n"), 1 << 20);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!str_has_prefix(l, "-A " PREFIX "-META "))
			continue;
		ecs_buf_append(&b, l, strlen(l), 1 << 20);
		ecs_buf_append(&b, "\n", 1, 1 << 20);
	}
	return ecs_buf_steal(&b);
}

static void expect_state(const struct agent_metadata_nic *nics, size_t n)
{
	_cleanup_free_ char *chain = NULL, *input = NULL, *want = expected_chain(nics, n);
	int status;

	chain = iptables_s(PREFIX "-META", &status);
	assert_int_equal(status, 0);
	assert_string_equal(chain, want);
	/* Exactly one jump, first in INPUT, before the host's own rule. */
	input = iptables_s("INPUT", &status);
	assert_int_equal(status, 0);
	assert_string_equal(input, "-P INPUT ACCEPT\n"
				   "-A INPUT -d 100.100.100.200/32 -j " PREFIX "-META\n"
				   "-A INPUT -i lo -j ACCEPT\n");
}

static void test_apply_remove(void **state)
{
	_cleanup_free_ char *keep = NULL, *chain = NULL, *input = NULL;
	int status;

	(void)state;
	if (!in_netns)
		skip();
	/* Someone else's rule in INPUT and chain of our prefix's neighbour: both must stay. */
	sh_ok("iptables -w -A INPUT -i lo -j ACCEPT; iptables -w -N ECSTX-KEEP;"
	      "iptables -w -A ECSTX-KEEP -s 10.9.9.9/32 -j ACCEPT");

	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, nics3, 3), 0);
	expect_state(nics3, 3);
	/* Concretely, for one tap: */
	chain = iptables_s(PREFIX "-META", &status);
	assert_non_null(strstr(chain, "-A ECST-META -s 10.0.0.7/32 -m physdev --physdev-in ecst3 -m mac "
				      "--mac-source 52:54:00:aa:bb:03 -j RETURN\n"
				      "-A ECST-META -m physdev --physdev-in ecst3 -j DROP\n"
				      "-A ECST-META -m physdev --physdev-is-in -j DROP\n"));

	/* Again: the same, still one jump. */
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, nics3, 3), 0);
	expect_state(nics3, 3);

	/* A duplicate jump made behind our back is taken away; a jump that something else
	 * went before is put first again. */
	sh_ok("iptables -w -A INPUT -d 100.100.100.200/32 -j ECST-META");
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, nics3, 3), 0);
	expect_state(nics3, 3);
	sh_ok("iptables -w -I INPUT 1 -i lo -j ACCEPT");
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, nics3, 3), 0);
	sh_ok("iptables -w -D INPUT 2"); /* the jump moved first, so rule 2 is the new ACCEPT */
	expect_state(nics3, 3);
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, nics3, 3), 0);
	expect_state(nics3, 3);

	/* Fewer NICs: the chain shrinks to exactly them. */
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, nics3 + 2, 1), 0);
	expect_state(nics3 + 2, 1);
	free(chain);
	chain = iptables_s(PREFIX "-META", &status);
	assert_string_equal(chain, "-N ECST-META\n"
				   "-A ECST-META -s 10.0.0.5/32 -m physdev --physdev-in ecst1 -m mac --mac-source "
				   "52:54:00:aa:bb:01 -j RETURN\n"
				   "-A ECST-META -m physdev --physdev-in ecst1 -j DROP\n"
				   "-A ECST-META -m physdev --physdev-is-in -j DROP\n");

	/* Remove: chain and jump gone, the rest untouched; removing again is fine. */
	assert_int_equal(agent_metadata_guard_remove(PREFIX, MD_IP), 0);
	free(chain);
	chain = iptables_s(PREFIX "-META", &status);
	assert_int_not_equal(status, 0);
	input = iptables_s("INPUT", &status);
	assert_string_equal(input, "-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n");
	keep = iptables_s("ECSTX-KEEP", &status);
	assert_string_equal(keep, "-N ECSTX-KEEP\n-A ECSTX-KEEP -s 10.9.9.9/32 -j ACCEPT\n");
	assert_int_equal(agent_metadata_guard_remove(PREFIX, MD_IP), 0);

	sh_ok("iptables -w -D INPUT -i lo -j ACCEPT; iptables -w -F ECSTX-KEEP; iptables -w -X ECSTX-KEEP");
}

/* ---- a guest of its own ------------------------------------------------------------ */

/* A child in a new network namespace of its own that waits to be killed. */
static pid_t guest_spawn(void)
{
	return nstest_guest_spawn(NULL);
}

/* curl in the guest: its status, and the body in *ret_out. */
static int guest_curl(pid_t guest, const char *src, uint16_t port, char **ret_out)
{
	_cleanup_free_ char *pid = ecs_strdup_printf("%d", (int)guest);
	_cleanup_free_ char *url = ecs_strdup_printf("http://" MD_IP ":%u/latest/meta-data/instance-id", port);
	const char *argv[] = { "nsenter", "-t", pid, "-n", "curl", "-s", "--connect-timeout", "1", "-m", "3",
			       "--interface", src, url, NULL };

	return nstest_run(argv, ret_out);
}

static bool bridge_nf_call_iptables(void)
{
	_cleanup_free_ char *v = NULL;

	return ecs_read_file("/proc/sys/net/bridge/bridge-nf-call-iptables", 16, &v, NULL) == 0 &&
	       str_has_prefix(v, "1");
}

static void test_guard_traffic(void **state)
{
	const struct agent_metadata_nic guest_nic = { "ecst1", "10.0.0.5", "52:54:00:00:00:05" };
	const struct agent_metadata_nic guest_nic_new_mac = { "ecst1", "10.0.0.5", "52:54:00:00:00:66" };
	struct agent_metadata *gmd = NULL;
	struct reply r;
	_cleanup_free_ char *script = NULL, *out = NULL;
	uint16_t port;
	pid_t guest;
	int status;

	(void)state;
	if (!in_netns || !bridge_nf_call_iptables())
		skip();

	/* The host: a bridge holding the metadata address, the guest's veth as its port. */
	sh_ok("ip link add ecstbr0 type bridge; ip link set ecstbr0 up;"
	      "ip addr add " MD_IP "/32 dev ecstbr0; ip addr add 10.0.0.1/24 dev ecstbr0;"
	      "ip link add ecst1 type veth peer name ecstg1; ip link set ecst1 master ecstbr0 up");
	assert_int_equal(agent_metadata_guard_remove(PREFIX, MD_IP), 0);
	assert_int_equal(agent_metadata_start(MD_IP, 0, lookup_guests, NULL, &gmd), 0);
	port = agent_metadata_port(gmd);

	/* The guest: its own address and MAC, and its neighbour's address as well. */
	guest = guest_spawn();
	script = ecs_strdup_printf("ip link set ecstg1 netns %d; n() { nsenter -t %d -n \"$@\"; };"
				   "n ip link set lo up; n ip link set ecstg1 address 52:54:00:00:00:05 up;"
				   "n ip addr add 10.0.0.5/24 dev ecstg1; n ip addr add 10.0.0.6/24 dev ecstg1;"
				   "n ip route add " MD_IP "/32 dev ecstg1 src 10.0.0.5",
				   (int)guest, (int)guest);
	sh_ok(script);

	/* Without the guard the attack works: the guest reads its neighbour's metadata. */
	assert_int_equal(guest_curl(guest, "10.0.0.5", port, &out), 0);
	assert_string_equal(out, "i-guest");
	free(out);
	assert_int_equal(guest_curl(guest, "10.0.0.6", port, &out), 0);
	assert_string_equal(out, "i-neighbour");
	free(out);

	/* With it, the guest still reads its own, and the neighbour's address goes nowhere. */
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, &guest_nic, 1), 0);
	assert_int_equal(guest_curl(guest, "10.0.0.5", port, &out), 0);
	assert_string_equal(out, "i-guest");
	free(out);
	status = guest_curl(guest, "10.0.0.6", port, &out);
	assert_int_not_equal(status, 0);
	assert_string_equal(out, "");
	free(out);

	/* A bridge port that is no known tap reaches nothing. */
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, NULL, 0), 0);
	status = guest_curl(guest, "10.0.0.5", port, &out);
	assert_int_not_equal(status, 0);
	free(out);

	/* Its own address from another MAC does not pass either; the same MAC, once it is
	 * the NIC's, does (so it is the MAC rule that stops it, not a stale neighbour). */
	free(script);
	script = ecs_strdup_printf("nsenter -t %d -n ip link set ecstg1 address 52:54:00:00:00:66;"
				   "nsenter -t %d -n ip neigh flush dev ecstg1; ip neigh flush dev ecstbr0",
				   (int)guest, (int)guest);
	sh_ok(script);
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, &guest_nic, 1), 0);
	status = guest_curl(guest, "10.0.0.5", port, &out);
	assert_int_not_equal(status, 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(agent_metadata_guard_apply(PREFIX, MD_IP, &guest_nic_new_mac, 1), 0);
	assert_int_equal(guest_curl(guest, "10.0.0.5", port, &out), 0);
	assert_string_equal(out, "i-guest");
	free(out);
	out = NULL;

	/* The host's own requests cross no bridge port: answered (and 10.0.0.1 is no instance). */
	http_req("10.0.0.1", MD_IP, port, "GET", "/latest/meta-data/instance-id", &r);
	assert_int_equal(r.status, 404);
	reply_clear(&r);

	assert_int_equal(agent_metadata_guard_remove(PREFIX, MD_IP), 0);
	kill(guest, SIGKILL);
	assert_int_equal(waitpid(guest, NULL, 0), guest);
	agent_metadata_stop(gmd);
	/* The veth went with the guest's namespace. */
	sh_ok("ip link del ecstbr0");
}

int main(void)
{
	const struct CMUnitTest http_tests[] = {
		cmocka_unit_test(test_values),	       cmocka_unit_test(test_listings),
		cmocka_unit_test(test_public_keys),    cmocka_unit_test(test_user_data),
		cmocka_unit_test(test_unknown_paths),  cmocka_unit_test(test_unknown_source),
		cmocka_unit_test(test_methods),	       cmocka_unit_test(test_start_errors),
	};
	const struct CMUnitTest guard_tests[] = {
		cmocka_unit_test(test_render_golden), cmocka_unit_test(test_render_order_and_extras),
		cmocka_unit_test(test_render_rejects), cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_apply_remove),  cmocka_unit_test(test_guard_traffic),
	};
	int failed = 0;

	/* Tests run as root: from here on, iptables and ip (run through lib/cmd.h, which
	 * inherits the namespace) see only this process's private network. */
	in_netns = unshare(CLONE_NEWNET) == 0;
	if (in_netns) {
		const char *lo[] = { "ip", "link", "set", "lo", "up", NULL };

		if (ecs_cmd_run_ok(lo, NULL, NULL) < 0)
			return 1;
	} else {
		fprintf(stderr, "no private network namespace (%s): iptables tests are skipped\n", strerror(errno));
	}
	failed += cmocka_run_group_tests_name("agent_metadata_http", http_tests, http_setup, http_teardown);
	failed += cmocka_run_group_tests_name("agent_metadata_guard", guard_tests, NULL, NULL);
	return failed;
}
