/* metrics.h: per-instance metrics sampled from libvirt and kept for
 * DescribeInstanceMonitorData.
 *
 * Every sample (the agent calls agent_metrics_sample every 15 s) reads
 * virConnectGetAllDomainStats for the domains named "<domain_prefix><instance-id>",
 * turns counters into rates against the previous sample of the same domain (a counter
 * that went backwards, e.g. after a domain restart, starts afresh), and folds the result
 * into 60 s points; 60 s points are rolled up into 600 s and 3600 s points. All three
 * resolutions are kept for 30 days (agent_metrics_prune). Stored in SQLite (WAL). */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define AGENT_METRICS_RETENTION_S (30 * 24 * 3600)
#define AGENT_METRICS_MAX_POINTS 400

struct agent_metrics;

int agent_metrics_open(const char *db_path, struct agent_metrics **ret);
void agent_metrics_close(struct agent_metrics *m);

/* Take one sample of every running domain whose name starts with domain_prefix
 * (the instance id is the rest of the name) at time now. */
int agent_metrics_sample(struct agent_metrics *m, virConnectPtr conn, const char *domain_prefix, time_t now);

/* Points of one instance with start <= TimeStamp < end at period 60, 600 or 3600:
 * a JSON array of objects with ECS's InstanceMonitorData fields
 * {InstanceId, CPU, IntranetRX, IntranetTX, IntranetBandwidth, InternetRX, InternetTX,
 *  InternetBandwidth, IOPSRead, IOPSWrite, BPSRead, BPSWrite, TimeStamp}
 * plus this project's {Memory (MiB used), RxPackets, TxPackets}. -EINVAL for a bad period,
 * -E2BIG when the range holds more than AGENT_METRICS_MAX_POINTS points. */
int agent_metrics_query(struct agent_metrics *m, const char *instance_id, time_t start, time_t end, int period,
			struct json_object **ret);

/* The last sample of a running instance: counters since its domain started (/metrics). */
struct agent_metrics_latest {
	char instance_id[65];
	uint64_t cpu_ns;
	unsigned vcpus;
	bool has_mem;
	uint64_t mem_kib;
	uint64_t net[4]; /* received bytes, received packets, sent bytes, sent packets: all interfaces */
	uint64_t blk[4]; /* read requests, read bytes, write requests, write bytes: all disks */
};

/* Up to max of them into out; returns how many instances there are (may exceed max). */
size_t agent_metrics_latest(struct agent_metrics *m, struct agent_metrics_latest *out, size_t max);

/* Drop points older than the retention, and everything of an instance that is deleted. */
int agent_metrics_prune(struct agent_metrics *m, time_t now);
int agent_metrics_forget(struct agent_metrics *m, const char *instance_id);

#endif
