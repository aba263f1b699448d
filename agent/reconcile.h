/* reconcile.h: bring the host to the desired state, at start, after libvirt events and
 * reconnects (agent_kick), and every reconcile_interval_s:
 *
 *   - every instance document is converged (an interrupted create finishes, an interrupted
 *     delete completes, a crashed domain starts again, a detached-by-crash disk returns);
 *   - a domain "ecs-*" no document knows is removed only when the controller says it is
 *     not wanted (standalone: kept, and logged);
 *   - taps with our prefix that belong to no instance and no domain are removed;
 *   - files under disks/, snapshots/, instances/, images/ and tmp/ that no document
 *     references, and temporaries, are removed once older than orphan_grace_s;
 *   - snapshots interrupted by a crash are marked failed. */
#ifndef AGENT_RECONCILE_H
#define AGENT_RECONCILE_H

struct agent;

/* One pass; returns how many problems it saw (0: converged). */
int agent_reconcile_once(struct agent *a);
int agent_reconcile_start(struct agent *a);

/* What the background passes did so far (/metrics). */
struct agent_reconcile_stats {
	unsigned long long passes;
	unsigned long long with_problems; /* passes that left something not converged */
	double seconds_sum;
	double last_seconds;
};
void agent_reconcile_stats(struct agent_reconcile_stats *ret);
void agent_reconcile_stop(struct agent *a);

#endif
