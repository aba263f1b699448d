/* vnc.h: the way into a guest's screen. QEMU's VNC server listens only on a unix socket in
 * libvirt's private directory for the domain (agent/domain.c: <graphics type='vnc'> with
 * <listen type='socket'/>, no TCP port). The one way to it is the agent's signed API:
 *
 *   GET /v1/instances/<id>/vnc   Connection: Upgrade, Upgrade: ecs-vnc
 *
 * answers 101 and then carries bytes both ways between that connection and the socket (the
 * RFB protocol, untouched). The controller (controller/vnc.c) is the caller; it speaks
 * WebSocket to the browser. */
#ifndef AGENT_VNC_H
#define AGENT_VNC_H

#include "http_server.h"

struct agent;

#define AGENT_VNC_PROTOCOL "ecs-vnc"

/* Answer the request (signature already verified): 101 and the relay, or an error: 400 when
 * the Upgrade header is not ecs-vnc, 404 InvalidInstanceId.NotFound when no such domain,
 * 409 IncorrectInstanceStatus when it is not running or has no VNC socket. */
void agent_vnc_handle(struct agent *a, const char *id, const struct ecs_http_request *req,
		      struct ecs_http_response *resp);

/* The VNC unix socket path in a domain's live XML (malloc'd), or NULL. */
char *agent_vnc_socket_from_xml(const char *xml);

/* Copy bytes both ways between a and b until either side ends (or shuts down). */
void agent_vnc_relay(int a, int b);

#endif
