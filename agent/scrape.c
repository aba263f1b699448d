#include "scrape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "metrics.h"
#include "prom_http.h"
#include "reconcile.h"
#include "util.h"
#include "virt.h"

/* libvirt's domain states as labels; the rest are "other". */
static const char *const state_names[] = { "running", "paused", "shutoff", "crashed", "other" };
enum { STATE_RUNNING, STATE_PAUSED, STATE_SHUTOFF, STATE_CRASHED, STATE_OTHER, _STATE_MAX };

static int state_index(int st)
{
	switch (st) {
	case VIR_DOMAIN_RUNNING:
		return STATE_RUNNING;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		return STATE_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
		return STATE_SHUTOFF;
	case VIR_DOMAIN_CRASHED:
		return STATE_CRASHED;
	default:
		return STATE_OTHER;
	}
}

/* Instances by libvirt state and whether libvirt answered. */
static void put_instances(FILE *f, struct agent *a)
{
	virConnectPtr conn = agent_virt_conn(a->virt);
	unsigned long long n[_STATE_MAX] = { 0 };
	virDomainPtr *doms = NULL;
	int nd = conn ? virConnectListAllDomains(conn, &doms, 0) : -1;

	for (int i = 0; i < nd; i++) {
		const char *name = virDomainGetName(doms[i]);
		int st = VIR_DOMAIN_NOSTATE, reason;

		if (name && str_has_prefix(name, AGENT_DOMAIN_PREFIX) && virDomainGetState(doms[i], &st, &reason, 0) == 0)
			n[state_index(st)]++;
		virDomainFree(doms[i]);
	}
	free(doms);
	ecs_prom_put_family(f, "ecs_agent_libvirt_up", "gauge", "1 when libvirt answered this scrape.");
	fprintf(f, "ecs_agent_libvirt_up %d\n", nd >= 0);
	ecs_prom_put_family(f, "ecs_agent_libvirt_connections_total", "counter",
			    "Times the connection to libvirt was made (1 + reconnects).");
	fprintf(f, "ecs_agent_libvirt_connections_total %u\n", agent_virt_generation(a->virt));
	ecs_prom_put_family(f, "ecs_agent_libvirt_errors_total", "counter", "Errors libvirt raised in the agent.");
	fprintf(f, "ecs_agent_libvirt_errors_total %llu\n", agent_virt_errors());
	if (conn)
		virConnectClose(conn);
	if (nd < 0)
		return;
	ecs_prom_put_family(f, "ecs_agent_instances", "gauge", "The agent's domains by libvirt state.");
	for (int i = 0; i < _STATE_MAX; i++)
		fprintf(f, "ecs_agent_instances{state=\"%s\"} %llu\n", state_names[i], n[i]);
}

static void put_reconcile(FILE *f)
{
	struct agent_reconcile_stats s;

	agent_reconcile_stats(&s);
	ecs_prom_put_family(f, "ecs_agent_reconcile_passes_total", "counter",
			    "Reconcile passes, by result (problems: something was left not converged).");
	fprintf(f, "ecs_agent_reconcile_passes_total{result=\"ok\"} %llu\n", s.passes - s.with_problems);
	fprintf(f, "ecs_agent_reconcile_passes_total{result=\"problems\"} %llu\n", s.with_problems);
	ecs_prom_put_family(f, "ecs_agent_reconcile_duration_seconds", "summary", "Time of the reconcile passes.");
	fprintf(f, "ecs_agent_reconcile_duration_seconds_sum %.6f\n", s.seconds_sum);
	fprintf(f, "ecs_agent_reconcile_duration_seconds_count %llu\n", s.passes);
	ecs_prom_put_family(f, "ecs_agent_reconcile_last_duration_seconds", "gauge", "Time of the last pass.");
	fprintf(f, "ecs_agent_reconcile_last_duration_seconds %.6f\n", s.last_seconds);
}

/* One family of per-instance values: value(l) for each labelled instance. */
static double cpu_s(const struct agent_metrics_latest *l) { return (double)l->cpu_ns / 1e9; }
static double vcpus(const struct agent_metrics_latest *l) { return l->vcpus; }
static double mem(const struct agent_metrics_latest *l) { return (double)l->mem_kib * 1024; }
static double rx_b(const struct agent_metrics_latest *l) { return (double)l->net[0]; }
static double rx_p(const struct agent_metrics_latest *l) { return (double)l->net[1]; }
static double tx_b(const struct agent_metrics_latest *l) { return (double)l->net[2]; }
static double tx_p(const struct agent_metrics_latest *l) { return (double)l->net[3]; }
static double rd_r(const struct agent_metrics_latest *l) { return (double)l->blk[0]; }
static double rd_b(const struct agent_metrics_latest *l) { return (double)l->blk[1]; }
static double wr_r(const struct agent_metrics_latest *l) { return (double)l->blk[2]; }
static double wr_b(const struct agent_metrics_latest *l) { return (double)l->blk[3]; }

static const struct guest_family {
	const char *name, *type, *help;
	double (*value)(const struct agent_metrics_latest *);
	bool memory; /* only for instances whose memory is known */
} guest_families[] = {
	{ "ecs_guest_cpu_seconds_total", "counter", "CPU time the guest used since its domain started.", cpu_s, false },
	{ "ecs_guest_vcpus", "gauge", "The guest's vCPUs.", vcpus, false },
	{ "ecs_guest_memory_bytes", "gauge", "Memory in use (docs/agent-metrics.md).", mem, true },
	{ "ecs_guest_network_receive_bytes_total", "counter", "Bytes the guest received, all interfaces.", rx_b, false },
	{ "ecs_guest_network_receive_packets_total", "counter", "Packets the guest received.", rx_p, false },
	{ "ecs_guest_network_transmit_bytes_total", "counter", "Bytes the guest sent, all interfaces.", tx_b, false },
	{ "ecs_guest_network_transmit_packets_total", "counter", "Packets the guest sent.", tx_p, false },
	{ "ecs_guest_disk_read_requests_total", "counter", "Read requests, all disks.", rd_r, false },
	{ "ecs_guest_disk_read_bytes_total", "counter", "Bytes read, all disks.", rd_b, false },
	{ "ecs_guest_disk_write_requests_total", "counter", "Write requests, all disks.", wr_r, false },
	{ "ecs_guest_disk_write_bytes_total", "counter", "Bytes written, all disks.", wr_b, false },
};

/* One family of per-instance values for the n labelled instances. */
static void put_guest(FILE *f, const struct guest_family *g, const struct agent_metrics_latest *l, size_t n)
{
	ecs_prom_put_family(f, g->name, g->type, g->help);
	for (size_t i = 0; i < n; i++)
		if (!g->memory || l[i].has_mem)
			fprintf(f, "%s{instance=\"%s\"} %.17g\n", g->name, l[i].instance_id, g->value(&l[i]));
}

static int put_guests(FILE *f, struct agent *a)
{
	struct agent_metrics_latest *l = calloc(AGENT_SCRAPE_MAX_INSTANCES, sizeof(*l));
	size_t total, n;

	if (!l)
		return -1;
	total = a->metrics ? agent_metrics_latest(a->metrics, l, AGENT_SCRAPE_MAX_INSTANCES) : 0;
	n = total < AGENT_SCRAPE_MAX_INSTANCES ? total : AGENT_SCRAPE_MAX_INSTANCES;
	for (size_t i = 0; i < sizeof(guest_families) / sizeof(guest_families[0]); i++)
		put_guest(f, &guest_families[i], l, n);
	ecs_prom_put_family(f, "ecs_agent_instances_unlabelled", "gauge",
			    "Running instances past the label limit, not in the ecs_guest_* families.");
	fprintf(f, "ecs_agent_instances_unlabelled %zu\n", total - n);
	free(l);
	return 0;
}

void agent_scrape_handle(const struct ecs_http_request *req, struct ecs_http_response *resp)
{
	struct agent *a = req->userdata;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (!ecs_prom_authorized(req, resp, a->metrics_token))
		return;
	f = open_memstream(&text, &len);
	if (!f)
		return ecs_prom_reply(resp, NULL, "out of memory\n");
	put_instances(f, a);
	put_reconcile(f);
	r = put_guests(f, a);
	if (fclose(f) != 0 || r < 0) {
		free(text);
		text = NULL;
	}
	ecs_prom_reply(resp, text, "out of memory\n");
}
