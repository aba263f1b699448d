/* Tests for agent/slb.c: every check of the API bodies, the defaults a document gets, and the
 * whole module in a private network namespace: load balancers and public IPs put, read,
 * listed and deleted through agent_slb_call with real iptables and a real bridge; the health
 * checker (TCP, HTTP with its status classes, UDP) against servers on the bridge's own
 * address and an unreachable one; a restart from the store; a converge after a stray change.
 *
 * main() moves the binary into a new network namespace first; without one (not root) only
 * the parsing tests run, so nothing ever touches the host's rules or its ip_forward. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "cmd.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "net.h"
#include "slb.h"
#include "store.h"
#include "util.h"

#define LB_ID "lb-aaaaaaaaaaaaaaaaaaaa"
#define LB2_ID "lb-bbbbbbbbbbbbbbbbbbbb"
#define GW "10.240.0.1"

static bool in_netns;

static struct json_object *parse(const char *text)
{
	struct json_object *o = NULL;
	const char *perr = NULL;

	if (ecs_json_parse(text, strlen(text), &o, &perr) < 0)
		fail_msg("bad test JSON (%s): %s", perr, text);
	return o;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void test_parse_defaults(void **state)
{
	struct json_object *body = parse("{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"udp\", "
					 "\"port\": 53}], \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5\"}]}");
	struct json_object *doc = NULL;
	struct agent_err err = { 0 };

	(void)state;
	assert_int_equal(agent_slb_lb_parse(LB_ID, body, &doc, &err), 0);
	assert_string_equal(ecs_json_text(doc, NULL),
			    "{\"load_balancer_id\":\"" LB_ID "\",\"address\":\"10.240.0.250\",\"status\":\"active\","
			    "\"listeners\":[{\"protocol\":\"udp\",\"port\":53,\"backend_port\":53,\"scheduler\":\"wrr\","
			    "\"status\":\"running\",\"health_check\":{\"enabled\":true,\"type\":\"udp\",\"port\":0,"
			    "\"uri\":\"/\",\"domain\":\"\",\"http_codes\":[\"http_2xx\",\"http_3xx\"],\"interval_s\":2,"
			    "\"timeout_s\":5,\"healthy_threshold\":3,\"unhealthy_threshold\":3}}],"
			    "\"backends\":[{\"server_id\":\"i-1\",\"ip\":\"10.240.0.5\",\"weight\":100}]}");
	/* A document reads back as itself. */
	{
		struct json_object *again = NULL;

		assert_int_equal(agent_slb_lb_parse(LB_ID, doc, &again, &err), 0);
		assert_string_equal(ecs_json_text(again, NULL), ecs_json_text(doc, NULL));
		json_object_put(again);
	}
	json_object_put(doc);
	json_object_put(body);

	body = parse("{\"private_ip\": \"10.240.0.9\", \"public_ip\": \"198.18.0.50\"}");
	assert_int_equal(agent_slb_eip_parse("198.18.0.50", body, &doc, &err), 0);
	assert_string_equal(ecs_json_text(doc, NULL), "{\"public_ip\":\"198.18.0.50\",\"private_ip\":\"10.240.0.9\"}");
	json_object_put(doc);
	json_object_put(body);
}

struct bad_body {
	const char *body;
	const char *code;
	const char *message;
};

static const struct bad_body bad_lbs[] = {
	{ "[]", "MalformedJSON", "JSON object" },
	{ "{}", "MissingParameter", "address is mandatory" },
	{ "{\"address\": \"\"}", "MissingParameter", "address is mandatory" },
	{ "{\"address\": 5}", "InvalidParameter", "address must be a string" },
	{ "{\"address\": \"10.240.0.250\", \"colour\": 1}", "InvalidParameter", "unknown field colour" },
	{ "{\"address\": \"10.240.0.250\", \"deleting\": true}", "InvalidParameter", "unknown field deleting" },
	{ "{\"address\": \"10.240.0.250\", \"load_balancer_id\": \"lb-other\"}", "InvalidParameter", "differs" },
	{ "{\"address\": \"10.240.0.0250\"}", "InvalidParameter", "address must be a unicast" },
	{ "{\"address\": \"127.0.0.1\"}", "InvalidParameter", "address must be a unicast" },
	{ "{\"address\": \"239.1.1.1\"}", "InvalidParameter", "address must be a unicast" },
	{ "{\"address\": \"10.240.0.250\", \"status\": \"on\"}", "InvalidParameter", "status must be active or inactive" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": {}}", "InvalidParameter", "listeners must be an array" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [1]}", "InvalidParameter", "listeners[0].must be an object" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"port\": 80}]}", "MissingParameter",
	  "listeners[0].protocol is mandatory" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\"}]}", "MissingParameter",
	  "listeners[0].port is mandatory" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"icmp\", \"port\": 80}]}", "InvalidParameter",
	  "listeners[0].protocol must be tcp or udp" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 65536}]}", "InvalidParameter",
	  "listeners[0].port must be in 1..65535" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, \"backend_port\": 0}]}",
	  "InvalidParameter", "listeners[0].backend_port must be in 1..65535" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, \"scheduler\": \"wlc\"}]}",
	  "InvalidParameter", "listeners[0].scheduler must be wrr or rr" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, \"status\": \"up\"}]}",
	  "InvalidParameter", "listeners[0].status must be running or stopped" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, \"x\": 1}]}",
	  "InvalidParameter", "listeners[0].unknown field x" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80}, "
	  "{\"protocol\": \"tcp\", \"port\": 80}]}",
	  "InvalidParameter", "listeners[0] and listeners[1] are both tcp/80" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [" /* 51 listeners */
	  "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},"
	  "{},{},{},{},{},{},{},{},{},{},{},{},{}]}",
	  "InvalidParameter", "listeners holds more than 50 items" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, \"health_check\": []}]}",
	  "InvalidParameter", "listeners[0].health_check must be an object" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"enabled\": 1}}]}",
	  "InvalidParameter", "listeners[0].health_check.enabled must be true or false" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"type\": \"udp\"}}]}",
	  "InvalidParameter", "listeners[0].health_check.type must be tcp or http" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"udp\", \"port\": 80, "
	  "\"health_check\": {\"type\": \"ping\"}}]}",
	  "InvalidParameter", "listeners[0].health_check.type must be udp, tcp or http" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"port\": 65536}}]}",
	  "InvalidParameter", "listeners[0].health_check.port must be in 0..65535" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"uri\": \"index.html\"}}]}",
	  "InvalidParameter", "listeners[0].health_check.uri must start with /" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"uri\": \"/a b\"}}]}",
	  "InvalidParameter", "listeners[0].health_check.uri must start with /" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"uri\": \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}]}",
	  "InvalidParameter", "listeners[0].health_check.uri is longer than 80 characters" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"domain\": \"a\\r\\nX: y\"}}]}",
	  "InvalidParameter", "listeners[0].health_check.domain must hold only" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"http_codes\": []}}]}",
	  "InvalidParameter", "listeners[0].health_check.http_codes must name at least one class" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"http_codes\": [\"http_2xx\", \"http_2xx\"]}}]}",
	  "InvalidParameter", "listeners[0].health_check.http_codes must name each" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"http_codes\": [\"http_1xx\"]}}]}",
	  "InvalidParameter", "listeners[0].health_check.http_codes must name each" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"http_codes\": [\"http_2xx\", \"http_3xx\", \"http_4xx\", \"http_5xx\", \"x\"]}}]}",
	  "InvalidParameter", "listeners[0].health_check.http_codes holds more than 4 items" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"interval_s\": 0}}]}",
	  "InvalidParameter", "listeners[0].health_check.interval_s must be in 1..50" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"timeout_s\": 301}}]}",
	  "InvalidParameter", "listeners[0].health_check.timeout_s must be in 1..300" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"healthy_threshold\": 1}}]}",
	  "InvalidParameter", "listeners[0].health_check.healthy_threshold must be in 2..10" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"unhealthy_threshold\": 11}}]}",
	  "InvalidParameter", "listeners[0].health_check.unhealthy_threshold must be in 2..10" },
	{ "{\"address\": \"10.240.0.250\", \"listeners\": [{\"protocol\": \"tcp\", \"port\": 80, "
	  "\"health_check\": {\"retries\": 3}}]}",
	  "InvalidParameter", "listeners[0].health_check.unknown field retries" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"ip\": \"10.240.0.5\"}]}", "MissingParameter",
	  "backends[0].server_id is mandatory" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\"}]}", "MissingParameter",
	  "backends[0].ip is mandatory" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"-i\", \"ip\": \"10.240.0.5\"}]}",
	  "InvalidParameter", "backends[0].server_id must be 1-64" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i 1\", \"ip\": \"10.240.0.5\"}]}",
	  "InvalidParameter", "backends[0].server_id must be 1-64" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5/32\"}]}",
	  "InvalidParameter", "backends[0].ip must be a unicast" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5\", "
	  "\"weight\": 101}]}",
	  "InvalidParameter", "backends[0].weight must be in 0..100" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5\", "
	  "\"weight\": \"1\"}]}",
	  "InvalidParameter", "backends[0].weight must be an integer" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5\", \"port\": 1}]}",
	  "InvalidParameter", "backends[0].unknown field port" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5\"}, "
	  "{\"server_id\": \"i-1\", \"ip\": \"10.240.0.6\"}]}",
	  "InvalidParameter", "backends[0] and backends[1] are both i-1" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [{\"server_id\": \"i-1\", \"ip\": \"10.240.0.5\"}, "
	  "{\"server_id\": \"i-2\", \"ip\": \"10.240.0.5\"}]}",
	  "InvalidParameter", "backends[0] and backends[1] share the ip 10.240.0.5" },
	{ "{\"address\": \"10.240.0.250\", \"backends\": [1]}", "InvalidParameter", "backends[0].must be an object" },
};

static const struct bad_body bad_eips[] = {
	{ "[]", "MalformedJSON", "JSON object" },
	{ "{}", "MissingParameter", "private_ip is mandatory" },
	{ "{\"private_ip\": \"10.240.0.9\", \"deleting\": false}", "InvalidParameter", "unknown field deleting" },
	{ "{\"private_ip\": \"10.240.0.9\", \"public_ip\": \"198.18.0.51\"}", "InvalidParameter", "differs" },
	{ "{\"private_ip\": \"10.240.0.09\"}", "InvalidParameter", "private_ip must be a unicast" },
	{ "{\"private_ip\": \"198.18.0.50\"}", "InvalidParameter", "private_ip must differ" },
};

static void test_parse_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_lbs) + ARRAY_SIZE(bad_eips); i++) {
		bool lb = i < ARRAY_SIZE(bad_lbs);
		const struct bad_body *c = lb ? &bad_lbs[i] : &bad_eips[i - ARRAY_SIZE(bad_lbs)];
		struct json_object *body = parse(c->body), *doc = NULL;
		struct agent_err err = { 0 };
		int r = lb ? agent_slb_lb_parse(LB_ID, body, &doc, &err) : agent_slb_eip_parse("198.18.0.50", body, &doc, &err);

		if (r >= 0)
			fail_msg("accepted: %s", c->body);
		if (err.status != 400 || !streq(err.code, c->code) || !strstr(err.message, c->message))
			fail_msg("%s: got %d %s \"%s\", wanted 400 %s \"%s\"", c->body, err.status, err.code, err.message,
				 c->code, c->message);
		assert_null(doc);
		json_object_put(body);
	}
	{
		struct json_object *body = parse("{\"address\": \"10.240.0.250\"}"), *doc = NULL;
		struct agent_err err = { 0 };

		assert_int_equal(agent_slb_lb_parse("lb-x", body, &doc, &err), -EINVAL);
		assert_string_equal(err.code, "InvalidLoadBalancerId.Malformed");
		memset(&err, 0, sizeof(err));
		assert_int_equal(agent_slb_eip_parse("198.18.0.256", body, &doc, &err), -EINVAL);
		assert_string_equal(err.code, "InvalidIpAddress.Malformed");
		json_object_put(body);
	}
}

/* ---- the module, in the namespace ---------------------------------------------------------- */

/* A server on the bridge's address that answers every connection with an HTTP status line. */
struct server {
	int fd;
	uint16_t port;
	volatile int status; /* the code to answer with */
	volatile bool stop;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct server *s = arg;

	while (!s->stop) {
		int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		char line[64];
		int n;

		if (c < 0)
			continue;
		/* Read the request first: closing with it unread would reset the connection. */
		{
			struct timeval tv = { 1, 0 };
			char req[512];

			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (recv(c, req, sizeof(req), 0) < 0)
				(void)0;
		}
		n = snprintf(line, sizeof(line), "HTTP/1.0 %d X\r\nContent-Length: 0\r\n\r\n", s->status);
		if (send(c, line, (size_t)n, MSG_NOSIGNAL) < 0)
			(void)0;
		close(c);
	}
	return NULL;
}

static int listen_on(const char *ip, int type, uint16_t *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	struct timeval tv = { 0, 200 * 1000 };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static void server_start(struct server *s, int status)
{
	s->fd = listen_on(GW, SOCK_STREAM, &s->port);
	s->status = status;
	s->stop = false;
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	s->stop = true;
	pthread_join(s->thread, NULL);
	close(s->fd);
}

struct fixture {
	char dir[64];
	struct agent a;
};

static struct fixture fx;

static void agent_up(void)
{
	_cleanup_free_ char *db = ecs_strdup_printf("%s/agent.db", fx.dir);

	assert_int_equal(agent_store_open(db, &fx.a.store), 0);
	assert_int_equal(agent_slb_init(&fx.a), 0);
}

static void agent_down(void)
{
	agent_slb_free(&fx.a);
	agent_store_close(fx.a.store);
	fx.a.store = NULL;
}

static int module_setup(void **state)
{
	static const char *const prefixes[] = { "slbtest", NULL };
	const char *addrs[] = { GW "/16" };

	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_agent_slb.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	fx.a.cfg.chain_prefix = "ECS";
	fx.a.cfg.bridge = "slbtest0";
	fx.a.cfg.gateway_cidrs = GW "/16";
	fx.a.cfg.metadata_ip = "100.100.100.200";
	assert_int_equal(agent_net_open(prefixes, &fx.a.net), 0);
	assert_int_equal(agent_net_ensure_bridge(fx.a.net, "slbtest0", addrs, 1), 0);
	agent_up();
	return 0;
}

static int module_teardown(void **state)
{
	(void)state;
	agent_down();
	agent_net_close(fx.a.net);
	ecs_remove_tree(fx.dir);
	return 0;
}

/* Call the API; *ret_err (may be NULL) gets the error. Returns the answer (caller puts). */
static struct json_object *call(const char *method, const char *resource, const char *id, const char *body,
				int want_status, struct agent_err *ret_err)
{
	struct json_object *b = body ? parse(body) : NULL, *out = NULL;
	struct agent_err err = { 0 };
	int r = agent_slb_call(&fx.a, method, resource, id, b, &out, &err);

	json_object_put(b);
	if ((r == 0 ? 200 : err.status) != want_status)
		fail_msg("%s %s/%s: %d %s \"%s\", wanted %d", method, resource, strempty(id), r == 0 ? 200 : err.status,
			 err.code, err.message, want_status);
	if (ret_err)
		*ret_err = err;
	return out;
}

/* iptables-save without its comment lines (they carry the time). */
static char *kernel(void)
{
	const char *argv[] = { "iptables-save", NULL };
	struct ecs_cmd_result res = { 0 };
	char *out = NULL, *line, *save = NULL;
	size_t size = 0;
	FILE *f;

	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &res), 0);
	f = open_memstream(&out, &size);
	assert_non_null(f);
	for (line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			fprintf(f, "%s\n", line);
	fclose(f);
	ecs_cmd_result_clear(&res);
	return out;
}

static char *bridge_addrs(void)
{
	const char *argv[] = { "ip", "-o", "-4", "addr", "show", "dev", "slbtest0", NULL };
	struct ecs_cmd_result res = { 0 };

	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &res), 0);
	free(res.err);
	return res.out;
}

/* The status of (listener port, server) in the LB's answer. */
static char *status_of(const char *id, int port, const char *server_id)
{
	struct json_object *lb = call("GET", "load-balancers", id, NULL, 200, NULL), *h = ecs_json_get(lb, "health");
	char *out = NULL;

	for (size_t i = 0; i < json_object_array_length(h) && !out; i++) {
		struct json_object *e = json_object_array_get_idx(h, i);

		if (ecs_json_int(e, "port", 0) == port && streq(ecs_json_str(e, "server_id", ""), server_id))
			out = strdup(ecs_json_str(e, "status", ""));
	}
	json_object_put(lb);
	assert_non_null(out);
	return out;
}

static void wait_status(const char *id, int port, const char *server_id, const char *want, int timeout_ms)
{
	for (int waited = 0;; waited += 50) {
		_cleanup_free_ char *got = status_of(id, port, server_id);

		if (streq(got, want))
			return;
		if (waited >= timeout_ms)
			fail_msg("%s port %d: %s, wanted %s", server_id, port, got, want);
		usleep(50 * 1000);
	}
}

static void test_api(void **state)
{
	struct server web;
	struct agent_err err;
	_cleanup_free_ char *body = NULL, *save = NULL, *addrs = NULL;
	struct json_object *o;
	char gone_dnat[64];
	uint16_t closed_udp;
	int fd;

	(void)state;
	if (!in_netns)
		skip();
	server_start(&web, 200);
	/* A UDP port nobody listens on: taken and released, so its checks are refused. */
	fd = listen_on(GW, SOCK_DGRAM, &closed_udp);
	close(fd);
	body = ecs_strdup_printf(
		"{\"address\": \"10.240.0.250\", \"listeners\": ["
		"{\"protocol\": \"tcp\", \"port\": 80, \"backend_port\": %u, \"health_check\": {\"type\": \"http\", "
		"\"interval_s\": 1, \"timeout_s\": 1, \"healthy_threshold\": 2, \"unhealthy_threshold\": 2}},"
		"{\"protocol\": \"udp\", \"port\": 53, \"backend_port\": %u, \"health_check\": {\"interval_s\": 1, "
		"\"timeout_s\": 1, \"healthy_threshold\": 2, \"unhealthy_threshold\": 2}},"
		"{\"protocol\": \"tcp\", \"port\": 22, \"status\": \"stopped\"}],"
		"\"backends\": [{\"server_id\": \"i-web\", \"ip\": \"" GW "\", \"weight\": 60},"
		"{\"server_id\": \"i-gone\", \"ip\": \"192.0.2.10\", \"weight\": 40}]}",
		web.port, closed_udp);

	o = call("PUT", "load-balancers", LB_ID, body, 200, NULL);
	assert_string_equal(ecs_json_str(o, "address", ""), "10.240.0.250");
	json_object_put(o);
	save = kernel();
	assert_non_null(strstr(save, "-A ECS-PRE -d 10.240.0.250/32 -p tcp -m tcp --dport 80"));
	assert_non_null(strstr(save, "-A PREROUTING -j ECS-PRE"));
	assert_null(strstr(save, "--dport 22")); /* stopped */
	addrs = bridge_addrs();
	assert_non_null(strstr(addrs, "10.240.0.250/32"));

	/* Health: the HTTP server is normal, the unreachable backend goes abnormal; the closed UDP
	 * port is refused for both (the unreachable one too). A stopped listener is unavailable. */
	wait_status(LB_ID, 80, "i-gone", "abnormal", 5000);
	wait_status(LB_ID, 53, "i-web", "abnormal", 5000);
	{
		_cleanup_free_ char *web_status = status_of(LB_ID, 80, "i-web"), *off = status_of(LB_ID, 22, "i-web");

		assert_string_equal(web_status, "normal");
		assert_string_equal(off, "unavailable");
	}
	free(save);
	save = kernel();
	snprintf(gone_dnat, sizeof(gone_dnat), "--to-destination 192.0.2.10:%u\n", web.port);
	assert_null(strstr(save, gone_dnat)); /* left out of tcp/80 */
	/* The server answers 500, which http_2xx/3xx do not accept: all abnormal, all serve. */
	web.status = 500;
	wait_status(LB_ID, 80, "i-web", "abnormal", 5000);
	free(save);
	save = kernel();
	assert_non_null(strstr(save, gone_dnat));
	web.status = 302;
	wait_status(LB_ID, 80, "i-web", "normal", 5000);

	/* Conflicts and quotas. */
	o = call("PUT", "load-balancers", LB2_ID, "{\"address\": \"10.240.0.250\"}", 409, &err);
	assert_string_equal(err.code, "InvalidAddress.Conflict");
	o = call("PUT", "load-balancers", LB2_ID, "{\"address\": \"" GW "\"}", 409, &err);
	o = call("PUT", "load-balancers", LB2_ID, "{\"address\": \"100.100.100.200\"}", 409, &err);
	o = call("PUT", "public-ips", "10.240.0.250", "{\"private_ip\": \"10.240.0.9\"}", 409, &err);
	o = call("PUT", "public-ips", "198.18.0.50", "{\"private_ip\": \"10.240.0.9\"}", 200, NULL);
	json_object_put(o);
	o = call("PUT", "public-ips", "198.18.0.51", "{\"private_ip\": \"10.240.0.9\"}", 409, &err);
	o = call("PUT", "load-balancers", LB2_ID, "{\"address\": \"198.18.0.50\"}", 409, &err);
	o = call("PUT", "load-balancers", LB2_ID, "{\"address\": \"10.240.0.251\", \"status\": \"inactive\"}", 200, NULL);
	json_object_put(o);
	o = call("GET", "load-balancers", NULL, NULL, 200, NULL);
	assert_int_equal(json_object_array_length(ecs_json_get(o, "load_balancers")), 2);
	json_object_put(o);
	o = call("GET", "public-ips", NULL, NULL, 200, NULL);
	assert_string_equal(ecs_json_text(o, NULL),
			    "{\"public_ips\":[{\"public_ip\":\"198.18.0.50\",\"private_ip\":\"10.240.0.9\"}]}");
	json_object_put(o);
	o = call("GET", "public-ips", "198.18.0.50", NULL, 200, NULL);
	json_object_put(o);
	o = call("GET", "public-ips", "198.18.0.52", NULL, 404, NULL);
	o = call("GET", "load-balancers", "lb-cccccccccccccccccccc", NULL, 404, NULL);
	o = call("GET", "load-balancers", "nope", NULL, 400, NULL);
	o = call("POST", "load-balancers", LB_ID, "{}", 405, NULL);
	o = call("PUT", "load-balancers", NULL, "{}", 405, NULL);
	o = call("GET", "elsewhere", NULL, NULL, 404, NULL);

	/* A restart reads everything back from the store, health included, and changes nothing. */
	free(save);
	save = kernel();
	agent_down();
	agent_up();
	{
		_cleanup_free_ char *again = kernel(), *gone = status_of(LB_ID, 80, "i-gone");

		assert_string_equal(again, save);
		assert_string_equal(gone, "abnormal");
	}

	/* A stray change is put right by the next converge. */
	{
		const char *flush[] = { "iptables", "-w", "-t", "nat", "-F", "ECS-POST", NULL };
		_cleanup_free_ char *again = NULL;

		assert_int_equal(ecs_cmd_run_ok(flush, NULL, NULL), 0);
		assert_int_equal(agent_slb_converge(&fx.a), 0);
		again = kernel();
		assert_string_equal(again, save);
	}

	/* Deletes: everything of theirs goes, twice is fine. */
	o = call("DELETE", "load-balancers", LB_ID, NULL, 200, NULL);
	json_object_put(o);
	o = call("DELETE", "load-balancers", LB_ID, NULL, 200, NULL);
	json_object_put(o);
	o = call("DELETE", "load-balancers", LB2_ID, NULL, 200, NULL);
	json_object_put(o);
	o = call("DELETE", "public-ips", "198.18.0.50", NULL, 200, NULL);
	json_object_put(o);
	o = call("DELETE", "public-ips", "198.18.0.50", NULL, 200, NULL);
	json_object_put(o);
	o = call("DELETE", "public-ips", "x", NULL, 400, NULL);
	free(save);
	save = kernel();
	assert_null(strstr(save, "ECS-"));
	free(addrs);
	addrs = bridge_addrs();
	assert_null(strstr(addrs, "10.240.0.250"));
	assert_null(strstr(addrs, "198.18.0.50"));
	assert_non_null(strstr(addrs, GW "/16"));
	server_stop(&web);

	/* The address calls themselves: idempotent, and only on links of ours. */
	assert_int_equal(agent_net_addr_add(fx.a.net, "slbtest0", "10.240.0.253/32"), 0);
	assert_int_equal(agent_net_addr_add(fx.a.net, "slbtest0", "10.240.0.253/32"), 0);
	assert_int_equal(agent_net_addr_del(fx.a.net, "slbtest0", "10.240.0.253/32"), 0);
	assert_int_equal(agent_net_addr_del(fx.a.net, "slbtest0", "10.240.0.253/32"), 0);
	assert_int_equal(agent_net_addr_del(fx.a.net, "slbtest0", "10.240.0.1/32"), 0); /* not the /16 */
	free(addrs);
	addrs = bridge_addrs();
	assert_non_null(strstr(addrs, GW "/16"));
	assert_int_equal(agent_net_addr_add(fx.a.net, "slbtest1", "10.240.0.253/32"), -ENODEV);
	assert_int_equal(agent_net_addr_del(fx.a.net, "slbtest1", "10.240.0.253/32"), 0);
	assert_int_equal(agent_net_addr_add(fx.a.net, "lo", "10.240.0.253/32"), -EPERM);
	assert_int_equal(agent_net_addr_add(fx.a.net, "slbtest0", "10.240.0.253"), -EINVAL);
	assert_int_equal(agent_net_addr_del(fx.a.net, "slbtest0", "fe80::1/64"), -EINVAL);
}

/* A delete interrupted after its mark is finished by the next start. */
static void test_interrupted_delete(void **state)
{
	struct json_object *o, *doc = NULL;
	_cleanup_free_ char *save = NULL, *addrs = NULL;

	(void)state;
	if (!in_netns)
		skip();
	o = call("PUT", "load-balancers", LB_ID, "{\"address\": \"10.240.0.252\"}", 200, NULL);
	json_object_put(o);
	agent_down();
	{
		_cleanup_free_ char *db = ecs_strdup_printf("%s/agent.db", fx.dir);
		struct agent_store *st = NULL;

		assert_int_equal(agent_store_open(db, &st), 0);
		assert_int_equal(agent_store_get(st, "lb", LB_ID, &doc), 0);
		ecs_jb_bool(doc, "deleting", true);
		assert_int_equal(agent_store_put(st, "lb", LB_ID, doc), 0);
		json_object_put(doc);
		agent_store_close(st);
	}
	agent_up();
	o = call("GET", "load-balancers", LB_ID, NULL, 404, NULL);
	save = kernel();
	assert_null(strstr(save, "ECS-PRE"));
	addrs = bridge_addrs();
	assert_null(strstr(addrs, "10.240.0.252"));
	assert_int_equal(agent_store_get(fx.a.store, "lb", LB_ID, &doc), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_parse_rejects),
	};
	const struct CMUnitTest module_tests[] = {
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_interrupted_delete),
	};
	const char *lo[] = { "ip", "link", "set", "lo", "up", NULL };
	int failed = 0;

	failed += cmocka_run_group_tests_name("agent_slb_parse", parse_tests, NULL, NULL);
	in_netns = unshare(CLONE_NEWNET) == 0;
	if (!in_netns) {
		fprintf(stderr, "no private network namespace (%s): the module tests are skipped\n", strerror(errno));
		return failed;
	}
	if (ecs_cmd_run_ok(lo, NULL, NULL) < 0)
		return 1;
	failed += cmocka_run_group_tests_name("agent_slb", module_tests, module_setup, module_teardown);
	return failed;
}
