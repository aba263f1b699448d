/* api.h: the agent API, JSON over HTTP, every request signed with the host key
 * (lib/hostauth.h). The routes and bodies are in docs/agent-api.md. */
#ifndef AGENT_API_H
#define AGENT_API_H

struct agent;

int agent_api_start(struct agent *a);
void agent_api_stop(struct agent *a);

#endif
