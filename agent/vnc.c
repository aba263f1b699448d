#include "vnc.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "id.h"
#include "instance_names.h"
#include "kv.h"
#include "log.h"
#include "util.h"
#include "virt.h"

char *agent_vnc_socket_from_xml(const char *xml)
{
	const char *g = xml ? strstr(xml, "<graphics type='vnc'") : NULL, *end, *s;

	if (!g)
		g = xml ? strstr(xml, "<graphics type=\"vnc\"") : NULL;
	if (!g)
		return NULL;
	/* libvirt writes the path on <graphics socket='…'> and on its <listen type='socket'>;
	 * the element ends at </graphics>, or at its own "/>" when it has no children. */
	end = strstr(g, "</graphics>");
	if (!end)
		end = strstr(g, "/>");
	for (s = g; end && (s = strstr(s, " socket=")) && s < end; s++) {
		char q = s[8];
		const char *v = s + 9, *e = (q == '\'' || q == '"') ? strchr(v, q) : NULL;

		if (e && e > v && v[0] == '/')
			return strndup(v, (size_t)(e - v));
	}
	return NULL;
}

/* A socket connected to the running domain's VNC server; -ENOENT no domain, -EAGAIN not running or no
 * VNC, else -errno. */
static int open_vnc(struct agent *a, const char *id)
{
	_cleanup_free_ char *name = agent_instance_domain_name(id), *path = NULL;
	virConnectPtr conn = agent_virt_conn(a->virt);
	virDomainPtr dom = conn && name ? virDomainLookupByName(conn, name) : NULL;
	char *xml = NULL;
	int r;

	if (!conn) {
		r = -EIO;
	} else if (!dom) {
		r = -ENOENT;
	} else if (virDomainIsActive(dom) != 1) {
		r = -EAGAIN;
	} else {
		/* libvirt hands over a socket already connected to QEMU's VNC server (QEMU's
		 * add_client) through its own connection: no path in libvirt's run folder, which
		 * a libvirtd in a mount namespace of its own does not share with the agent. */
		xml = virDomainGetXMLDesc(dom, 0);
		path = agent_vnc_socket_from_xml(xml);
		r = path ? virDomainOpenGraphicsFD(dom, 0, VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH) : -EAGAIN;
		if (r >= 0)
			(void)fcntl(r, F_SETFD, FD_CLOEXEC);
		if (path && r < 0) {
			log_warn("vnc console not reached", "instance=%s error=%s", id, virGetLastErrorMessage());
			r = -EIO;
		}
	}
	free(xml);
	if (dom)
		virDomainFree(dom);
	if (conn)
		virConnectClose(conn);
	return r;
}

void agent_vnc_relay(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[64 * 1024];

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0 || ecs_http_write_all(p[1 - i].fd, buf, (size_t)n) < 0)
				return;
		}
	}
}

struct vnc_conn {
	int fd; /* the VNC socket */
	char id[32];
};

static void vnc_conn_free(void *cls)
{
	struct vnc_conn *v = cls;

	if (v->fd >= 0)
		close(v->fd);
	free(v);
}

static void vnc_run(void *cls, int fd, const char *extra, size_t extra_len)
{
	struct vnc_conn *v = cls;

	log_info("vnc session begins", "instance=%s", v->id);
	if (extra_len == 0 || ecs_http_write_all(v->fd, extra, extra_len) == 0)
		agent_vnc_relay(fd, v->fd);
	log_info("vnc session ends", "instance=%s", v->id);
}

void agent_vnc_handle(struct agent *a, const char *id, const struct ecs_http_request *req,
		      struct ecs_http_response *resp)
{
	const char *up = ecs_kvlist_get_case(req->headers, "Upgrade");
	struct vnc_conn *v;
	int fd;

	if (!streq(req->method, "GET"))
		return (void)ecs_http_reply_error(resp, 405, "MethodNotAllowed", "GET only", req->request_id);
	if (!up || strcasecmp(up, AGENT_VNC_PROTOCOL) != 0)
		return (void)ecs_http_reply_error(resp, 400, "InvalidParameter", "Upgrade: " AGENT_VNC_PROTOCOL " is required",
						  req->request_id);
	if (!ecs_id_valid(ECS_ID_INSTANCE, id))
		return (void)ecs_http_reply_error(resp, 404, "InvalidInstanceId.NotFound", "no such instance",
						  req->request_id);
	fd = open_vnc(a, id);
	if (fd == -ENOENT)
		return (void)ecs_http_reply_error(resp, 404, "InvalidInstanceId.NotFound", "no such instance",
						  req->request_id);
	if (fd == -EAGAIN)
		return (void)ecs_http_reply_error(resp, 409, "IncorrectInstanceStatus",
						  "the instance is not running or has no VNC console", req->request_id);
	if (fd < 0) {
		log_warn("vnc socket unreachable", "instance=%s error=%s", id, strerror(-fd));
		return (void)ecs_http_reply_error(resp, 500, "InternalError", strerror(-fd), req->request_id);
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		close(fd);
		return (void)ecs_http_reply_error(resp, 500, "InternalError", "out of memory", req->request_id);
	}
	v->fd = fd;
	ecs_strlcpy(v->id, id, sizeof(v->id));
	ecs_http_reply_upgrade(resp, vnc_run, vnc_conn_free, v);
	ecs_http_add_header(resp, "Upgrade", AGENT_VNC_PROTOCOL);
}
