#include "agent.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static size_t stripe_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % AGENT_LOCK_STRIPES;
}

void agent_lock(struct agent *a, const char *id)
{
	pthread_mutex_lock(&a->stripes[stripe_of(id)]);
}

void agent_unlock(struct agent *a, const char *id)
{
	pthread_mutex_unlock(&a->stripes[stripe_of(id)]);
}

void agent_image_lock(struct agent *a, const char *image_id)
{
	pthread_mutex_lock(&a->image_stripes[stripe_of(image_id)]);
}

void agent_image_unlock(struct agent *a, const char *image_id)
{
	pthread_mutex_unlock(&a->image_stripes[stripe_of(image_id)]);
}

long long agent_state_seq_now(struct agent *a)
{
	return atomic_load(&a->state_seq);
}

long long agent_state_seq_next(struct agent *a)
{
	return atomic_fetch_add(&a->state_seq, 1) + 1;
}

void agent_kick(struct agent *a)
{
	pthread_mutex_lock(&a->wake_lock);
	a->wake_pending = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->wake_lock);
}

void agent_fault_point(struct agent *a, const char *name)
{
	const char *want;

	if (!a->cfg.fault_points)
		return;
	want = getenv("ECS_AGENT_FAULT");
	if (want && streq(want, name)) {
		log_warn("fault point reached: killing the agent", "point=%s", name);
		kill(getpid(), SIGKILL);
		pause();
	}
}
