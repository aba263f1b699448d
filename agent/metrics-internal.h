/* metrics-internal.h: the steps of agent_metrics_sample, exposed for tests only.
 *
 * A snapshot is what one stats record says about one domain at one time; two snapshots of
 * the same domain make a set of sums (what happened in between); sums are added into the
 * 60 s point of the instance, and the 600 s and 3600 s points containing it are recomputed
 * from the 60 s points. Stored points keep sums, never averages, so that any resolution
 * averages right: CPU% = cpu_ns / (vcpu_s * 1e9), a rate = sum / dt. */
#ifndef AGENT_METRICS_INTERNAL_H
#define AGENT_METRICS_INTERNAL_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "metrics.h"

#define METRICS_ID_MAX 64	     /* instance id length */
#define METRICS_MAX_DEVS 32	     /* interfaces and disks per domain; more are not counted */
#define METRICS_DEV_NAME_MAX 64
#define METRICS_MAX_INTERVAL_S 120 /* a longer gap between two samples starts afresh */

/* One interface (rx.bytes, rx.pkts, tx.bytes, tx.pkts) or one disk (rd.reqs, rd.bytes,
 * wr.reqs, wr.bytes): the counters in that order; bit i of present says c[i] was given. */
#define METRICS_DEV_COUNTERS 4
struct metrics_dev {
	char name[METRICS_DEV_NAME_MAX];
	uint64_t c[METRICS_DEV_COUNTERS];
	unsigned present;
};

struct metrics_snapshot {
	time_t ts;
	uint64_t cpu_ns; /* cpu.time */
	unsigned vcpus;	 /* vcpu.current */
	bool has_mem;
	uint64_t mem_kib; /* guest memory in use, see metrics_snapshot_parse */
	size_t n_net, n_blk;
	struct metrics_dev net[METRICS_MAX_DEVS];
	struct metrics_dev blk[METRICS_MAX_DEVS];
};

/* The columns of a stored point, in table order. */
enum metrics_sum {
	METRICS_SUM_DT,	      /* seconds covered by samples */
	METRICS_SUM_CPU_NS,   /* CPU time used */
	METRICS_SUM_VCPU_S,   /* dt x vCPUs: the CPU time there was */
	METRICS_SUM_RX_BYTES, /* guest's received bytes, all interfaces */
	METRICS_SUM_TX_BYTES,
	METRICS_SUM_RX_PKTS,
	METRICS_SUM_TX_PKTS,
	METRICS_SUM_RD_REQS, /* all disks */
	METRICS_SUM_RD_BYTES,
	METRICS_SUM_WR_REQS,
	METRICS_SUM_WR_BYTES,
	METRICS_SUM_MEM_KIB, /* memory gauge: sum of samples ... */
	METRICS_SUM_MEM_N,   /* ... and how many there were */
	_METRICS_SUM_MAX,
};

struct metrics_sums {
	uint64_t v[_METRICS_SUM_MAX];
};

/* "<prefix><id>" -> id into ret; -ENOENT when name lacks the prefix or the id is empty,
 * -ENAMETOOLONG past METRICS_ID_MAX. */
int metrics_instance_id(const char *name, const char *prefix, char ret[METRICS_ID_MAX + 1]);

/* The snapshot in one stats record's parameters at time now. -ENODATA without cpu.time
 * or vcpu.current (the domain is then not sampled). */
int metrics_snapshot_parse(virTypedParameterPtr params, int nparams, time_t now, struct metrics_snapshot *ret);

/* What happened between prev and cur. -ERANGE when they cannot be compared (time did not
 * advance, a gap longer than METRICS_MAX_INTERVAL_S, a counter went backwards): the caller
 * starts afresh from cur. Devices are matched by name; one missing on either side counts
 * nothing. */
int metrics_delta(const struct metrics_snapshot *prev, const struct metrics_snapshot *cur,
		  struct metrics_sums *ret);

/* Feed one snapshot of domain dom_id of instance_id: kept as the new previous sample and,
 * unless it is the first of that domain, its sums are stored in the 60 s point containing
 * the end of the interval (cur->ts - 1) and the coarser points are recomputed. */
int metrics_record(struct agent_metrics *m, const char *instance_id, unsigned dom_id,
		   const struct metrics_snapshot *cur);

/* agent_metrics_sample after virConnectGetAllDomainStats: the records of one sample. */
int metrics_sample_records(struct agent_metrics *m, virDomainStatsRecordPtr *records, size_t n,
			   const char *domain_prefix, time_t now);

/* Whether a previous sample of instance_id is held. */
bool metrics_tracking(struct agent_metrics *m, const char *instance_id);

#endif
