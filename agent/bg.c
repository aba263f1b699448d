#include "bg.h"

static void *bg_main(void *arg)
{
	struct agent_bg *b = arg;

	b->result = b->fn(b->arg);
	return NULL;
}

void agent_bg_start(struct agent_bg *b, int (*fn)(void *arg), void *arg)
{
	*b = (struct agent_bg){ .fn = fn, .arg = arg };
	if (pthread_create(&b->thread, NULL, bg_main, b) == 0)
		b->running = true;
	else
		b->result = fn(arg);
}

int agent_bg_join(struct agent_bg *b)
{
	if (b->running) {
		pthread_join(b->thread, NULL);
		b->running = false;
	}
	return b->result;
}
