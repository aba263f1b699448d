/* bench_http: requests per second through libecs's HTTP server (routing, request ids,
 * JSON body, access log off as a daemon under load would run it) beside a bare
 * libmicrohttpd server answering the same bytes, both loaded by wrk in the same run.
 *
 * Usage: bench_http SECONDS CONNECTIONS */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "http_server.h"
#include "json.h"
#include "util.h"

static void h_describe(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct json_object *o = json_object_new_object();

	ecs_jb_str(o, "RequestId", req->request_id);
	ecs_jb_str(o, "RegionId", "cn-local");
	ecs_http_reply_json(resp, 200, o);
	json_object_put(o);
}

static enum MHD_Result bare(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			    const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	static const char body[] = "{\"RequestId\":\"00000000-0000-4000-8000-000000000000\",\"RegionId\":\"cn-local\"}";
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls, (void)url, (void)method, (void)version, (void)upload;
	/* Answer on the second call, as MHD expects: answering on the first one makes it
	 * close the connection after the reply, which would handicap the peer. */
	if (!*ctx) {
		*ctx = (void *)1;
		return MHD_YES;
	}
	*upload_size = 0;
	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json;charset=utf-8");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* Run wrk against port; return requests per second. */
static double wrk(unsigned port, const char *secs, const char *conns)
{
	char url[64], dur[16], con[16];
	struct ecs_cmd_result r;
	const char *p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	snprintf(dur, sizeof(dur), "%ss", secs);
	snprintf(con, sizeof(con), "%s", conns);
	const char *argv[] = { "wrk", "-t", "1", "-c", con, "-d", dur, url, NULL };
	if (ecs_cmd_run_ok(argv, &(struct ecs_cmd_opts){ .timeout_ms = 120000 }, &r) < 0)
		return -1;
	p = strstr(r.out, "Requests/sec:");
	double v = p ? atof(p + strlen("Requests/sec:")) : -1;
	ecs_cmd_result_clear(&r);
	return v;
}

int main(int argc, char **argv)
{
	const char *secs = argc > 1 ? argv[1] : "3", *conns = argc > 2 ? argv[2] : "32";
	static const struct ecs_http_route routes[] = { { "GET", "/", false, h_describe } };
	struct ecs_http_server_config cfg = { .name = "bench", .threads = 1 };
	struct ecs_http_server *srv;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	double ours, peer;

	if (ecs_http_server_start(&cfg, routes, 1, &srv) < 0)
		return 1;
	/* Same threading as ours: one pool thread, epoll. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, bare, NULL,
			     MHD_OPTION_THREAD_POOL_SIZE, 1, MHD_OPTION_END);
	if (!d)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	peer = wrk(info->port, secs, conns);
	ours = wrk(ecs_http_server_port(srv), secs, conns);
	printf("bench_http: libecs server %.0f req/s, bare libmicrohttpd %.0f req/s, ratio %.2f "
	       "(wrk, %s s, %s connections, 1 server thread)\n",
	       ours, peer, peer > 0 ? ours / peer : 0, secs, conns);
	ecs_http_server_stop(srv);
	MHD_stop_daemon(d);
	return ours > 0 && peer > 0 ? 0 : 1;
}
