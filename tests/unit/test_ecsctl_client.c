/* Tests for ecsctl/client.c and the exit statuses: what a fake endpoint receives verifies
 * with lib/sign.h (POST and GET, awkward characters), the common parameters, fresh nonces;
 * API errors (also a Code under HTTP 200), bodies that are not JSON, control characters in
 * messages; timeouts (exit 3); retries only for Describe* and only when no connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "client.h"
#include "id.h"
#include "test_ecsctl_fake.h"
#include "timeutil.h"

static struct ecsctl_client *new_client(const char *endpoint, const char *secret, const char *method)
{
	struct ecsctl_client_config cfg = {
		.endpoint = endpoint,
		.access_key_id = FAKE_KEY_ID,
		.access_key_secret = secret,
		.region = "cn-local",
		.method = method,
		.timeout_ms = 5000,
		.retries = ECSCTL_RETRIES,
		.backoff_ms = 20,
	};
	struct ecsctl_client *c = NULL;

	assert_int_equal(ecsctl_client_new(&cfg, &c), 0);
	return c;
}

/* What the server received carries every common parameter, well formed, and verifies. */
static void check_received(const char *method)
{
	const struct ecs_kvlist *p = &fake.last_params;
	const char *ts = ecs_kvlist_get(p, "Timestamp"), *nonce = ecs_kvlist_get(p, "SignatureNonce");
	time_t t;

	assert_string_equal(fake.last_method, method);
	assert_int_equal(ecs_rpc_verify(method, p, FAKE_SECRET, NULL), 0);
	assert_int_equal(ecs_rpc_verify(method, p, "another-secret", NULL), -EBADMSG);
	assert_string_equal(ecs_kvlist_get(p, "AccessKeyId"), FAKE_KEY_ID);
	assert_string_equal(ecs_kvlist_get(p, "Format"), "JSON");
	assert_string_equal(ecs_kvlist_get(p, "SignatureMethod"), "HMAC-SHA1");
	assert_string_equal(ecs_kvlist_get(p, "SignatureVersion"), "1.0");
	assert_string_equal(ecs_kvlist_get(p, "Version"), "2014-05-26");
	assert_non_null(ts);
	assert_int_equal(strlen(ts), ECS_ISO8601_LEN);
	assert_int_equal(ts[ECS_ISO8601_LEN - 1], 'Z');
	assert_int_equal(ecs_time_parse(ts, &t), 0);
	assert_true(labs((long)(t - time(NULL))) < 60);
	assert_non_null(nonce);
	assert_int_equal(strlen(nonce), ECS_REQUEST_ID_LEN);
}

static void test_signature_post_and_get(void **state)
{
	static const char *const methods[] = { "POST", "GET" };

	(void)state;
	for (size_t m = 0; m < ARRAY_SIZE(methods); m++) {
		struct ecsctl_client *c = new_client(fake.endpoint, FAKE_SECRET, methods[m]);
		struct ecs_kvlist p = ECS_KVLIST_INIT;
		struct ecsctl_api_error err;
		struct json_object *reply = NULL;

		fake_reset();
		/* Every character class RFC 3986 encoding treats apart. */
		ecs_kvlist_add(&p, "Description", "a b+c*d~e/f=g&h'i(j)k!l%m\xc3\xa9n");
		ecs_kvlist_add(&p, "InstanceIds", "[\"i-a\",\"i-b\"]");
		ecs_kvlist_add(&p, "Tag.1.Key", "env");
		assert_int_equal(ecsctl_client_call(c, "DescribeRegions", &p, &reply, &err), 0);
		assert_non_null(reply);
		check_received(methods[m]);
		assert_string_equal(ecs_kvlist_get(&fake.last_params, "Description"),
				    "a b+c*d~e/f=g&h'i(j)k!l%m\xc3\xa9n");
		assert_string_equal(ecs_kvlist_get(&fake.last_params, "RegionId"), "cn-local");
		assert_string_equal(ecs_kvlist_get(&fake.last_params, "Action"), "DescribeRegions");
		json_object_put(reply);
		/* A second call: a new nonce (the fake counts a reused one as bad). */
		assert_int_equal(ecsctl_client_call(c, "DescribeRegions", &p, &reply, &err), 0);
		json_object_put(reply);
		assert_int_equal(fake.bad, 0);
		assert_int_equal(fake.requests, 2);
		ecs_kvlist_clear(&p);
		ecsctl_client_free(c);
	}
}

/* A parameter of the call replaces the common one (and is signed as sent). */
static void test_param_replaces_common(void **state)
{
	struct ecsctl_client *c = new_client(fake.endpoint, FAKE_SECRET, NULL);
	struct ecs_kvlist p = ECS_KVLIST_INIT, sent = ECS_KVLIST_INIT;
	struct ecsctl_api_error err;
	struct json_object *reply = NULL;
	size_t regions = 0;

	(void)state;
	fake_reset();
	ecs_kvlist_add(&p, "RegionId", "cn-other");
	ecs_kvlist_add(&p, "Signature", "forged");
	assert_int_equal(ecsctl_client_sign(c, "DescribeZones", &p, &sent), 0);
	for (size_t i = 0; i < sent.n; i++)
		regions += streq(sent.items[i].key, "RegionId");
	assert_int_equal(regions, 1);
	assert_string_equal(ecs_kvlist_get(&sent, "RegionId"), "cn-other");
	assert_string_equal(sent.items[sent.n - 1].key, "Signature");
	assert_string_not_equal(ecs_kvlist_get(&sent, "Signature"), "forged");
	assert_int_equal(ecs_rpc_verify("POST", &sent, FAKE_SECRET, NULL), 0);
	ecs_kvlist_clear(&sent);
	assert_int_equal(ecsctl_client_call(c, "DescribeZones", &p, &reply, &err), 0);
	assert_string_equal(ecs_kvlist_get(&fake.last_params, "RegionId"), "cn-other");
	assert_int_equal(fake.bad, 0);
	json_object_put(reply);
	ecs_kvlist_clear(&p);
	ecsctl_client_free(c);
}

static void test_wrong_secret(void **state)
{
	struct ecsctl_client *c = new_client(fake.endpoint, "not-the-secret", NULL);
	struct ecsctl_api_error err;
	struct json_object *reply = NULL;

	(void)state;
	fake_reset();
	assert_int_equal(ecsctl_client_call(c, "DescribeRegions", NULL, &reply, &err), -EREMOTEIO);
	assert_null(reply);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "SignatureDoesNotMatch");
	assert_string_equal(err.request_id, "FAKE-REQUEST-ID");
	assert_true(str_has_prefix(err.message, "Specified signature is not matched"));
	/* Not retried: a Describe is retried only when no connection was made. */
	assert_int_equal(ecsctl_client_last_attempts(c), 1);
	ecsctl_client_free(c);
}

static void test_api_error_exit(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	fake_set_reply("StartInstance", 403,
		       "{\"RequestId\":\"R-1\",\"HostId\":\"h\",\"Code\":\"IncorrectInstanceStatus\","
		       "\"Message\":\"The current status of the resource does not support this operation.\"}",
		       0, -1);
	res = run_ecsctl("start i-1", false);
	assert_int_equal(res.status, 1);
	assert_string_equal(res.err, "ecsctl: IncorrectInstanceStatus: The current status of the resource does not "
				     "support this operation. (RequestId: R-1)\n");
	assert_string_equal(res.out, "");
	run_result_clear(&res);

	/* pop-core's rule: a Code in a 200 answer is an error too, unless it says success. */
	fake_reset();
	fake_set_reply("StopInstance", 200, "{\"RequestId\":\"R-2\",\"Code\":\"Forbidden\",\"Message\":\"no\"}", 0, -1);
	fake_set_reply("RebootInstance", 200, "{\"RequestId\":\"R-3\",\"Code\":\"200\"}", 0, -1);
	res = run_ecsctl("stop i-1", false);
	assert_int_equal(res.status, 1);
	assert_string_equal(res.err, "ecsctl: Forbidden: no (RequestId: R-2)\n");
	run_result_clear(&res);
	expect_run("reboot i-1", 0, NULL);

	/* A server's control characters never reach the terminal. */
	fake_reset();
	fake_set_reply("DeleteInstance", 404,
		       "{\"RequestId\":\"R\\u001b[2J\",\"Code\":\"X\",\"Message\":\"a\\u001b]0;b\\u0007\"}", 0, -1);
	res = run_ecsctl("rm i-1", false);
	assert_int_equal(res.status, 1);
	assert_null(strchr(res.err, '\033'));
	assert_string_equal(res.err, "ecsctl: X: a?]0;b? (RequestId: R?[2J)\n");
	run_result_clear(&res);
}

static void test_not_json(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	fake_set_reply("StartInstance", 502, "<html>Bad Gateway</html>", 0, -1);
	fake_set_reply("StopInstance", 200, "[1,2]", 0, -1);
	res = run_ecsctl("start i-1", false);
	assert_int_equal(res.status, 1);
	assert_non_null(strstr(res.err, "HTTP 502"));
	assert_non_null(strstr(res.err, "Bad Gateway"));
	run_result_clear(&res);
	expect_run("stop i-1", 1, "not a JSON object");
}

/* An answer that does not come in time: exit 3, and never repeated (it may have happened). */
static void test_request_timeout(void **state)
{
	(void)state;
	fake_reset();
	fake_set_reply("StartInstance", 200, "{\"RequestId\":\"R\"}", 2500, -1);
	fake_set_reply("DescribeInstances", 200, "{\"RequestId\":\"R\"}", 2500, -1);
	expect_run("--request-timeout 1 start i-1", 3, "did not answer StartInstance in time");
	expect_run("--request-timeout 1 ls", 3, NULL);
	usleep(1600 * 1000); /* let the fake finish its slow answers */
	assert_int_equal(fake.requests, 2);
}

/* A port nobody listens on: exit 1 with the reason; a Describe was tried three times. */
static void test_connection_refused(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char endpoint[64], line[128];
	struct ecsctl_client *c;
	struct ecsctl_api_error err;
	struct json_object *reply = NULL;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd); /* the port is now free: connections are refused */
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/", ntohs(sa.sin_port));

	c = new_client(endpoint, FAKE_SECRET, NULL);
	assert_int_equal(ecsctl_client_call(c, "DescribeInstances", NULL, &reply, &err), -ECONNREFUSED);
	assert_int_equal(ecsctl_client_last_attempts(c), 1 + ECSCTL_RETRIES);
	assert_int_equal(ecsctl_client_call(c, "StartInstance", NULL, &reply, &err), -ECONNREFUSED);
	assert_int_equal(ecsctl_client_last_attempts(c), 1);
	ecsctl_client_free(c);

	snprintf(line, sizeof(line), "--endpoint %s ls", endpoint);
	expect_run(line, 1, "cannot reach");
}

/* A server that accepts and hangs up: counts connections. */
struct hangup {
	int fd;
	unsigned accepted;
	pthread_t thread;
};

static void *hangup_loop(void *arg)
{
	struct hangup *h = arg;

	for (;;) {
		int c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0)
			return NULL;
		__atomic_add_fetch(&h->accepted, 1, __ATOMIC_SEQ_CST);
		close(c);
	}
}

static void test_retry_only_describe(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct hangup h = { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
	char endpoint[64];
	struct ecsctl_client *c;
	struct ecsctl_api_error err;
	struct json_object *reply = NULL;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(h.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(h.fd, 16), 0);
	assert_int_equal(getsockname(h.fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/", ntohs(sa.sin_port));
	pthread_create(&h.thread, NULL, hangup_loop, &h);

	c = new_client(endpoint, FAKE_SECRET, NULL);
	assert_int_equal(ecsctl_client_call(c, "DescribeSnapshots", NULL, &reply, &err), -EIO);
	assert_int_equal(__atomic_load_n(&h.accepted, __ATOMIC_SEQ_CST), 1 + ECSCTL_RETRIES);
	assert_int_equal(ecsctl_client_call(c, "CreateSnapshot", NULL, &reply, &err), -EIO);
	assert_int_equal(__atomic_load_n(&h.accepted, __ATOMIC_SEQ_CST), 2 + ECSCTL_RETRIES);
	assert_non_null(strstr(err.message, "the connection broke (it may have been carried out"));
	ecsctl_client_free(c);

	shutdown(h.fd, SHUT_RDWR);
	close(h.fd);
	pthread_join(h.thread, NULL);
}

/* --wait and `wait` running out of time: exit 3; a progress line only on a terminal. */
static void test_wait_timeout(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	fake_add_instance("i-slow", "Starting");
	res = run_ecsctl("wait i-slow --status Running --timeout 1", false);
	assert_int_equal(res.status, 3);
	assert_string_equal(res.err,
			    "ecsctl: timed out after 1 s waiting for instance i-slow: Starting to be Running\n");
	run_result_clear(&res);

	res = run_ecsctl("start i-slow --wait --timeout 0", true);
	assert_int_equal(res.status, 0); /* the fake starts it at once */
	run_result_clear(&res);

	fake_set_reply("StartInstance", 200, "{\"RequestId\":\"R\"}", 0, -1);
	fake_set_field(fake.instances, "InstanceId", "i-slow", "Status", "Starting");
	res = run_ecsctl("start i-slow --wait --timeout 1", true);
	assert_int_equal(res.status, 3);
	assert_non_null(strstr(res.err, "\r\033[Kwaiting for instance i-slow: Starting (Running)"));
	run_result_clear(&res);
	res = run_ecsctl("start i-slow --wait --timeout 1", false);
	assert_int_equal(res.status, 3);
	assert_null(strchr(res.err, '\r'));
	run_result_clear(&res);
}

/* A failed snapshot ends the wait with 1, not a timeout. */
static void test_wait_failed(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	fake_set_reply("CreateSnapshot", 200, "{\"RequestId\":\"R\",\"SnapshotId\":\"s-bad\"}", 0, -1);
	fake_add_snapshot("s-bad", "d-1", "failed", "2026-11-23T03:00:00Z", "none");
	res = run_ecsctl("snapshot create --disk d-1 --wait", false);
	assert_int_equal(res.status, 1);
	assert_string_equal(res.out, "s-bad\n");
	assert_string_equal(res.err, "ecsctl: snapshot s-bad is failed\n");
	run_result_clear(&res);
}

static void test_no_credentials(void **state)
{
	struct run_result res;

	(void)state;
	fake_reset();
	unsetenv("ECSCTL_ACCESS_KEY_SECRET");
	res = run_ecsctl("ls", false);
	setenv("ECSCTL_ACCESS_KEY_SECRET", FAKE_SECRET, 1);
	assert_int_equal(res.status, 2);
	assert_non_null(strstr(res.err, "no access key for profile [default]"));
	assert_int_equal(fake.requests, 0);
	run_result_clear(&res);
}

UNIT_MAIN("ecsctl_client", NULL, NULL, fake_group_setup, fake_group_teardown,
	  cmocka_unit_test(test_signature_post_and_get),
	  cmocka_unit_test(test_param_replaces_common),
	  cmocka_unit_test(test_wrong_secret),
	  cmocka_unit_test(test_api_error_exit),
	  cmocka_unit_test(test_not_json),
	  cmocka_unit_test(test_request_timeout),
	  cmocka_unit_test(test_connection_refused),
	  cmocka_unit_test(test_retry_only_describe),
	  cmocka_unit_test(test_wait_timeout),
	  cmocka_unit_test(test_wait_failed),
	  cmocka_unit_test(test_no_credentials))
