/* bg.h: one call on a thread of its own, joined later for its result, so two waits (a child
 * process, a round trip to the storage cluster) overlap instead of adding up. */
#ifndef AGENT_BG_H
#define AGENT_BG_H

#include <pthread.h>
#include <stdbool.h>

/* fn(arg) on a thread (inline when no thread can be made); its result at the join. */
struct agent_bg {
	pthread_t thread;
	int (*fn)(void *arg);
	void *arg;
	int result;
	bool running;
};

void agent_bg_start(struct agent_bg *b, int (*fn)(void *arg), void *arg);
/* fn's result; 0 when nothing was started. Joins at most once (later calls: the result). */
int agent_bg_join(struct agent_bg *b);

#endif
