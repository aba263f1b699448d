/* Tests for lib/http_server.c and lib/http_client.c, against each other on loopback:
 * routing, the body limit, malformed requests, request ids, the access log, and the
 * client's retries, timeouts, bounds and connection reuse. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "http_client.h"
#include "http_server.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define MAX_BODY 1024

static struct ecs_http_server *srv;
static struct ecs_http_client *cli;
static char base[64];
static int flaky_left;
static char *logbuf;
static size_t logsize;
static FILE *logmem;

static void h_hello(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	const char *name = ecs_kvlist_get(req->query, "name");
	_cleanup_free_ char *s = ecs_strdup_printf("hello %s rid=%s", strempty(name), req->request_id);

	ecs_http_reply(resp, 200, "text/plain", s, strlen(s));
}

static void h_echo(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	ecs_http_reply(resp, 200, "application/octet-stream", req->body, req->body_len);
	ecs_http_add_header(resp, "X-Body-Len", "set");
}

static void h_flaky(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	(void)req;
	if (__atomic_fetch_sub(&flaky_left, 1, __ATOMIC_SEQ_CST) > 0)
		ecs_http_reply(resp, 503, "text/plain", "busy", 4);
	else
		ecs_http_reply(resp, 200, "text/plain", "ok", 2);
}

static void h_slow(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	(void)req;
	usleep(1500 * 1000);
	ecs_http_reply(resp, 200, "text/plain", "late", 4);
}

static void h_big(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	char *b = malloc(100000);

	(void)req;
	memset(b, 'b', 100000);
	ecs_http_reply_take(resp, 200, "text/plain", b, 100000);
}

static void h_silent(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	(void)req;
	(void)resp; /* a handler bug: no answer */
}

static const struct ecs_http_route routes[] = {
	{ "GET", "/hello", false, h_hello },
	{ "POST", "/echo", false, h_echo },
	{ NULL, "/flaky", false, h_flaky },
	{ "GET", "/slow", false, h_slow },
	{ "GET", "/big", false, h_big },
	{ "GET", "/obj/", true, h_echo },
	{ "GET", "/silent", false, h_silent },
};

static int setup(void **state)
{
	struct ecs_http_server_config cfg = {
		.name = "test", .max_body = MAX_BODY, .threads = 2, .access_log = true,
	};
	struct ecs_http_client_config ccfg = { .retries = 3, .backoff_ms = 10, .timeout_ms = 5000 };

	(void)state;
	logmem = open_memstream(&logbuf, &logsize);
	ecs_log_set_output(logmem);
	assert_int_equal(ecs_http_server_start(&cfg, routes, ARRAY_SIZE(routes), &srv), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", ecs_http_server_port(srv));
	assert_int_equal(ecs_http_client_new(&ccfg, &cli), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ecs_http_client_free(cli);
	ecs_http_server_stop(srv);
	ecs_log_set_output(NULL);
	fclose(logmem);
	free(logbuf);
	return 0;
}

static int call(const char *method, const char *path, const char *body, size_t len, struct ecs_http_reply *rep)
{
	_cleanup_free_ char *url = ecs_strdup_printf("%s%s", base, path);
	struct ecs_http_call c = { .method = method, .url = url, .body = body, .body_len = len, .idempotent = -1 };

	return ecs_http_client_do(cli, &c, rep);
}

static void test_routing(void **state)
{
	struct ecs_http_reply rep;
	struct json_object *o = NULL;
	const char *err, *rid;

	(void)state;
	assert_int_equal(call("GET", "/hello?name=a%20b", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 200);
	assert_true(str_has_prefix(rep.body, "hello a b rid="));
	rid = ecs_kvlist_get(&rep.headers, "x-acs-request-id");
	assert_non_null(rid);
	assert_non_null(strstr(rep.body, rid));
	ecs_http_reply_clear(&rep);

	assert_int_equal(call("GET", "/obj/bucket/key", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 200);
	ecs_http_reply_clear(&rep);

	assert_int_equal(call("GET", "/nowhere", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 404);
	assert_int_equal(ecs_json_parse(rep.body, rep.body_len, &o, &err), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "Code")), "NotFound");
	assert_string_equal(json_object_get_string(json_object_object_get(o, "RequestId")),
			    ecs_kvlist_get(&rep.headers, "x-acs-request-id"));
	json_object_put(o);
	ecs_http_reply_clear(&rep);

	assert_int_equal(call("DELETE", "/hello", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 405);
	assert_non_null(strstr(rep.body, "\"Code\":\"MethodNotAllowed\""));
	ecs_http_reply_clear(&rep);

	assert_int_equal(call("GET", "/silent", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 500);
	assert_non_null(strstr(rep.body, "\"Code\":\"InternalError\""));
	ecs_http_reply_clear(&rep);
}

static void test_body_limit(void **state)
{
	char body[MAX_BODY + 1000];
	struct ecs_http_reply rep;

	(void)state;
	memset(body, 'x', sizeof(body));
	/* Exactly at the limit: accepted and echoed whole. */
	assert_int_equal(call("POST", "/echo", body, MAX_BODY, &rep), 0);
	assert_int_equal(rep.status, 200);
	assert_int_equal(rep.body_len, MAX_BODY);
	ecs_http_reply_clear(&rep);
	/* One byte over (announced by Content-Length): refused with the API error. */
	assert_int_equal(call("POST", "/echo", body, MAX_BODY + 1, &rep), 0);
	assert_int_equal(rep.status, 413);
	assert_non_null(strstr(rep.body, "\"Code\":\"EntityTooLarge\""));
	ecs_http_reply_clear(&rep);
	/* The server still serves afterwards. */
	assert_int_equal(call("GET", "/hello", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 200);
	ecs_http_reply_clear(&rep);
}

/* Send raw bytes and read the whole answer (the server closes or we time out). */
static char *raw_exchange(const char *req, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ecs_http_server_port(srv)) };
	struct timeval tv = { 3, 0 };
	char *out = calloc(1, 65536);
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	for (;;) {
		ssize_t n = recv(fd, out + got, 65535 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
		/* Enough to judge once headers are in. */
		if (strstr(out, "\r\n\r\n"))
			break;
	}
	close(fd);
	return out;
}

static void test_chunked_body_over_limit(void **state)
{
	char req[4096];
	_cleanup_free_ char *ans = NULL;
	int n;

	(void)state;
	/* No Content-Length: the limit must hold while the chunks arrive. */
	n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		n += snprintf(req + n, sizeof(req) - (size_t)n, "258\r\n");
		memset(req + n, 'y', 600);
		n += 600;
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	}
	n += snprintf(req + n, sizeof(req) - (size_t)n, "0\r\n\r\n");
	ans = raw_exchange(req, (size_t)n);
	if (!str_has_prefix(ans, "HTTP/1.1 413"))
		fail_msg("expected 413, got \"%.200s\"", ans);
}

static void test_malformed_requests(void **state)
{
	static const char *const bad[] = {
		"GET /hello HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		"GET /hello HTTP/1.1\r\n\r\n", /* HTTP/1.1 without Host */
	};
	struct ecs_http_reply rep;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *ans = raw_exchange(bad[i], strlen(bad[i]));

		if (!str_has_prefix(ans, "HTTP/1.1 400"))
			fail_msg("request %zu: expected 400, got \"%.40s\"", i, ans);
	}
	/* A request line that is not HTTP at all: libmicrohttpd drops the connection
	 * without an answer. Nothing else may come back, and the server must live on. */
	{
		_cleanup_free_ char *ans = raw_exchange("GARBAGE\r\n\r\n", 11);

		assert_true(ans[0] == '\0' || str_has_prefix(ans, "HTTP/1.1 400"));
	}
	assert_int_equal(call("GET", "/hello", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 200);
	ecs_http_reply_clear(&rep);
}

static void test_request_id_carried(void **state)
{
	struct ecs_http_reply rep;

	(void)state;
	/* The client sends the calling thread's request id; the server adopts it. */
	ecs_log_set_request_id("RID-CARRIED-1");
	assert_int_equal(call("GET", "/hello", NULL, 0, &rep), 0);
	ecs_log_set_request_id(NULL);
	assert_string_equal(ecs_kvlist_get(&rep.headers, "x-acs-request-id"), "RID-CARRIED-1");
	assert_non_null(strstr(rep.body, "rid=RID-CARRIED-1"));
	ecs_http_reply_clear(&rep);
	/* A malformed incoming id is replaced, not logged. */
	ecs_log_set_request_id("bad id with spaces");
	assert_int_equal(call("GET", "/hello", NULL, 0, &rep), 0);
	ecs_log_set_request_id(NULL);
	assert_string_not_equal(ecs_kvlist_get(&rep.headers, "x-acs-request-id"), "bad id with spaces");
	ecs_http_reply_clear(&rep);
}

static void test_access_log(void **state)
{
	struct ecs_http_reply rep;

	(void)state;
	ecs_log_set_request_id("RID-LOGGED-7");
	assert_int_equal(call("GET", "/hello", NULL, 0, &rep), 0);
	ecs_log_set_request_id(NULL);
	ecs_http_reply_clear(&rep);
	usleep(100 * 1000); /* the completion notice runs after the answer is sent */
	fflush(logmem);
	assert_non_null(strstr(logbuf, "rid=RID-LOGGED-7 msg=\"http request\" server=test method=GET "
				       "path=\"/hello\" status=200"));
}

static void test_client_retries_idempotent_only(void **state)
{
	struct ecs_http_reply rep;

	(void)state;
	flaky_left = 2;
	assert_int_equal(call("GET", "/flaky", NULL, 0, &rep), 0);
	assert_int_equal(rep.status, 200);
	assert_int_equal(rep.attempts, 3);
	ecs_http_reply_clear(&rep);

	flaky_left = 2;
	assert_int_equal(call("POST", "/flaky", "x", 1, &rep), 0);
	assert_int_equal(rep.status, 503);
	assert_int_equal(rep.attempts, 1);
	ecs_http_reply_clear(&rep);
	flaky_left = 0;
}

static void test_client_connection_reuse(void **state)
{
	struct ecs_http_client *c;
	_cleanup_free_ char *url = ecs_strdup_printf("%s/hello", base);
	struct ecs_http_call call = { .method = "GET", .url = url, .idempotent = -1 };

	(void)state;
	assert_int_equal(ecs_http_client_new(NULL, &c), 0);
	for (int i = 0; i < 10; i++) {
		struct ecs_http_reply rep;

		assert_int_equal(ecs_http_client_do(c, &call, &rep), 0);
		assert_int_equal(rep.status, 200);
		ecs_http_reply_clear(&rep);
	}
	assert_int_equal(ecs_http_client_connections(c), 1);
	ecs_http_client_free(c);
}

static void test_client_timeouts_and_bounds(void **state)
{
	struct ecs_http_client_config cfg = { .timeout_ms = 300, .retries = 1, .backoff_ms = 10, .max_response = 1000 };
	struct ecs_http_client *c;
	struct ecs_http_reply rep;
	_cleanup_free_ char *slow = ecs_strdup_printf("%s/slow", base);
	_cleanup_free_ char *big = ecs_strdup_printf("%s/big", base);
	struct ecs_http_call call = { .method = "GET", .url = slow, .idempotent = 0 };

	(void)state;
	assert_int_equal(ecs_http_client_new(&cfg, &c), 0);
	assert_int_equal(ecs_http_client_do(c, &call, &rep), -ETIMEDOUT);
	assert_int_equal(rep.attempts, 1);
	call.url = big;
	assert_int_equal(ecs_http_client_do(c, &call, &rep), -EFBIG);
	/* Nothing listens on port 1: refused, retried once as GET is idempotent. */
	call.url = "http://127.0.0.1:1/";
	call.idempotent = -1;
	assert_int_equal(ecs_http_client_do(c, &call, &rep), -ECONNREFUSED);
	assert_int_equal(rep.attempts, 2);
	ecs_http_client_free(c);
}

static void test_thread_per_connection(void **state)
{
	struct ecs_http_server_config cfg = { .name = "tpc", .thread_per_connection = true, .max_body = MAX_BODY };
	struct ecs_http_server *s = NULL;
	struct ecs_http_client *c;
	struct ecs_http_reply rep;
	char url[64];

	(void)state;
	assert_int_equal(ecs_http_server_start(&cfg, routes, ARRAY_SIZE(routes), &s), 0);
	assert_int_equal(ecs_http_client_new(NULL, &c), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", ecs_http_server_port(s));
	assert_int_equal(ecs_http_client_do(c, &(struct ecs_http_call){ .method = "GET", .url = url, .idempotent = -1 }, &rep), 0);
	assert_int_equal(rep.status, 200);
	ecs_http_reply_clear(&rep);
	ecs_http_client_free(c);
	ecs_http_server_stop(s);
}

static void test_bad_listen_address(void **state)
{
	struct ecs_http_server_config cfg = { .name = "bad", .address = "not-an-ip" };
	struct ecs_http_server *s = NULL;

	(void)state;
	assert_int_equal(ecs_http_server_start(&cfg, routes, 1, &s), -EINVAL);
	assert_null(s);
	/* The port in use: a clear error, not a crash. */
	cfg.address = "127.0.0.1";
	cfg.port = ecs_http_server_port(srv);
	assert_true(ecs_http_server_start(&cfg, routes, 1, &s) < 0);
}

UNIT_MAIN("http", NULL, NULL, setup, teardown,
	  cmocka_unit_test(test_routing),
	  cmocka_unit_test(test_body_limit),
	  cmocka_unit_test(test_chunked_body_over_limit),
	  cmocka_unit_test(test_malformed_requests),
	  cmocka_unit_test(test_request_id_carried),
	  cmocka_unit_test(test_access_log),
	  cmocka_unit_test(test_client_retries_idempotent_only),
	  cmocka_unit_test(test_client_connection_reuse),
	  cmocka_unit_test(test_client_timeouts_and_bounds),
	  cmocka_unit_test(test_thread_per_connection),
	  cmocka_unit_test(test_bad_listen_address))
