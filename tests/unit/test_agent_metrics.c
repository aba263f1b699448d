/* Tests for agent/metrics.c: counters to rates, 60 s points, rollups, queries, retention.
 *
 * libvirt's test driver (test:///default) gives real domains, but its
 * virConnectGetAllDomainStats returns only state.* (no cpu, balloon, vcpu, net or block
 * stats): end-to-end sampling through it shows only that such domains are skipped. The
 * arithmetic is tested with stats records built here around the test driver's real
 * domains, and with snapshots fed straight to metrics_record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "metrics-internal.h"
#include "metrics.h"
#include "timeutil.h"
#include "unit.h"
#include "util.h"

/* 2023-11-14T22:00:00Z: a whole hour, so every period starts here. */
#define T0 ((time_t)1699999200)
#define T0_TEXT "2023-11-14T22:00:00Z"
#define ID_A "i-aaaaaaaaaaaaaaaaaaaa"
#define ID_B "i-bbbbbbbbbbbbbbbbbbbb"
#define DAY (24 * 3600)

struct fixture {
	char path[128];
	struct agent_metrics *m;
};

static void silence_libvirt(void *userdata, virErrorPtr err)
{
	(void)userdata;
	(void)err;
}

static int setup(void **state)
{
	static unsigned seq;
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/ecs-test-metrics-%d-%u.db", (int)getpid(), seq++);
	unlink(f->path);
	assert_int_equal(agent_metrics_open(f->path, &f->m), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	agent_metrics_close(f->m);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	free(f);
	return 0;
}

/* --- building snapshots ------------------------------------------------------------------- */

static void snap_init(struct metrics_snapshot *s, time_t ts, uint64_t cpu_ns, unsigned vcpus)
{
	memset(s, 0, sizeof(*s));
	s->ts = ts;
	s->cpu_ns = cpu_ns;
	s->vcpus = vcpus;
}

static void snap_dev(struct metrics_dev *devs, size_t *n, const char *name, uint64_t c0, uint64_t c1, uint64_t c2,
		     uint64_t c3)
{
	struct metrics_dev *d = &devs[(*n)++];

	snprintf(d->name, sizeof(d->name), "%s", name);
	d->c[0] = c0;
	d->c[1] = c1;
	d->c[2] = c2;
	d->c[3] = c3;
	d->present = 0xf;
}

/* net: rx.bytes rx.pkts tx.bytes tx.pkts; block: rd.reqs rd.bytes wr.reqs wr.bytes. */
static void snap_net(struct metrics_snapshot *s, const char *name, uint64_t rxb, uint64_t rxp, uint64_t txb,
		     uint64_t txp)
{
	snap_dev(s->net, &s->n_net, name, rxb, rxp, txb, txp);
}

static void snap_blk(struct metrics_snapshot *s, const char *name, uint64_t rdr, uint64_t rdb, uint64_t wrr,
		     uint64_t wrb)
{
	snap_dev(s->blk, &s->n_blk, name, rdr, rdb, wrr, wrb);
}

static void snap_mem(struct metrics_snapshot *s, uint64_t kib)
{
	s->has_mem = true;
	s->mem_kib = kib;
}

/* --- reading points ----------------------------------------------------------------------- */

static struct json_object *query(struct agent_metrics *m, const char *id, time_t start, time_t end, int period)
{
	struct json_object *arr = NULL;

	assert_int_equal(agent_metrics_query(m, id, start, end, period, &arr), 0);
	assert_non_null(arr);
	assert_true(json_object_is_type(arr, json_type_array));
	return arr;
}

static size_t count_points(struct agent_metrics *m, const char *id, time_t start, time_t end, int period)
{
	struct json_object *arr = query(m, id, start, end, period);
	size_t n = json_object_array_length(arr);

	json_object_put(arr);
	return n;
}

static int64_t field_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no field %s in %s", key, json_object_to_json_string(o));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static const char *field_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no field %s in %s", key, json_object_to_json_string(o));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

/* --- names and parsing ---------------------------------------------------------------------- */

static void test_instance_id(void **state)
{
	char id[METRICS_ID_MAX + 1] = "unchanged";
	char name[128];

	(void)state;
	assert_int_equal(metrics_instance_id("ecs-" ID_A, "ecs-", id), 0);
	assert_string_equal(id, ID_A);
	strcpy(id, "unchanged");
	assert_int_equal(metrics_instance_id("other-x", "ecs-", id), -ENOENT);
	assert_int_equal(metrics_instance_id("ecs-", "ecs-", id), -ENOENT);
	assert_int_equal(metrics_instance_id("ecs", "ecs-", id), -ENOENT);
	snprintf(name, sizeof(name), "ecs-%065d", 0);
	assert_int_equal(metrics_instance_id(name, "ecs-", id), -ENAMETOOLONG);
	assert_string_equal(id, "unchanged");
	snprintf(name, sizeof(name), "ecs-%064d", 0);
	assert_int_equal(metrics_instance_id(name, "ecs-", id), 0);
	assert_int_equal(strlen(id), 64);
}

struct params {
	virTypedParameterPtr p;
	int n, max;
};

static void add_ull(struct params *pp, const char *key, unsigned long long v)
{
	assert_int_equal(virTypedParamsAddULLong(&pp->p, &pp->n, &pp->max, key, v), 0);
}

static void add_uint(struct params *pp, const char *key, unsigned v)
{
	assert_int_equal(virTypedParamsAddUInt(&pp->p, &pp->n, &pp->max, key, v), 0);
}

static void add_str(struct params *pp, const char *key, const char *v)
{
	assert_int_equal(virTypedParamsAddString(&pp->p, &pp->n, &pp->max, key, v), 0);
}

static void params_clear(struct params *pp)
{
	virTypedParamsFree(pp->p, pp->n);
	memset(pp, 0, sizeof(*pp));
}

/* NIC I's fields (net.I.name, net.I.rx.bytes, …) as the QEMU driver names them. */
static void add_nic(struct params *pp, int i, const char *tap, unsigned long long rx_bytes,
		    unsigned long long rx_pkts, unsigned long long tx_bytes, unsigned long long tx_pkts)
{
	const struct {
		const char *field;
		unsigned long long v;
	} counters[] = {
		{ "rx.bytes", rx_bytes },
		{ "rx.pkts", rx_pkts },
		{ "tx.bytes", tx_bytes },
		{ "tx.pkts", tx_pkts },
	};
	char key[VIR_TYPED_PARAM_FIELD_LENGTH];

	snprintf(key, sizeof(key), "net.%d.name", i);
	add_str(pp, key, tap);
	for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
		snprintf(key, sizeof(key), "net.%d.%s", i, counters[k].field);
		add_ull(pp, key, counters[k].v);
	}
}

/* What the QEMU driver gives for a domain with two NICs and one disk. */
static void params_full(struct params *pp, uint64_t cpu_ns, uint64_t rx_bytes, uint64_t rd_reqs)
{
	add_uint(pp, "state.state", VIR_DOMAIN_RUNNING);
	add_ull(pp, "cpu.time", cpu_ns);
	add_ull(pp, "cpu.user", cpu_ns / 2);
	add_uint(pp, "vcpu.current", 2);
	add_uint(pp, "vcpu.maximum", 2);
	add_ull(pp, "balloon.current", 1048576);
	add_ull(pp, "balloon.rss", 300000);
	add_uint(pp, "net.count", 2);
	add_nic(pp, 0, "ecst0", rx_bytes, rx_bytes / 1000, rx_bytes / 2, rx_bytes / 2000);
	add_nic(pp, 1, "ecst1", 1000, 1, 1000, 1);
	add_uint(pp, "block.count", 1);
	add_str(pp, "block.0.name", "vda");
	add_ull(pp, "block.0.rd.reqs", rd_reqs);
	add_ull(pp, "block.0.rd.bytes", rd_reqs * 4096);
	add_ull(pp, "block.0.wr.reqs", rd_reqs / 2);
	add_ull(pp, "block.0.wr.bytes", rd_reqs * 2048);
}

static void test_snapshot_parse(void **state)
{
	struct params pp = { 0 };
	struct metrics_snapshot s;

	(void)state;
	params_full(&pp, 5000000000ULL, 100000, 300);
	assert_int_equal(metrics_snapshot_parse(pp.p, pp.n, T0, &s), 0);
	assert_int_equal(s.ts, T0);
	assert_int_equal(s.cpu_ns, 5000000000ULL);
	assert_int_equal(s.vcpus, 2);
	/* No guest stats: the host's RSS, never balloon.current. */
	assert_true(s.has_mem);
	assert_int_equal(s.mem_kib, 300000);
	assert_int_equal(s.n_net, 2);
	assert_string_equal(s.net[0].name, "ecst0");
	assert_int_equal(s.net[0].c[0], 100000);
	assert_int_equal(s.net[0].c[1], 100);
	assert_int_equal(s.net[0].c[2], 50000);
	assert_int_equal(s.net[0].c[3], 50);
	assert_int_equal(s.net[0].present, 0xf);
	assert_string_equal(s.net[1].name, "ecst1");
	assert_int_equal(s.n_blk, 1);
	assert_string_equal(s.blk[0].name, "vda");
	assert_int_equal(s.blk[0].c[0], 300);
	assert_int_equal(s.blk[0].c[1], 300 * 4096);
	assert_int_equal(s.blk[0].c[2], 150);
	assert_int_equal(s.blk[0].c[3], 300 * 2048);

	/* The guest's view wins: available - unused, and available - usable when given. */
	add_ull(&pp, "balloon.available", 1000000);
	add_ull(&pp, "balloon.unused", 600000);
	assert_int_equal(metrics_snapshot_parse(pp.p, pp.n, T0, &s), 0);
	assert_int_equal(s.mem_kib, 400000);
	add_ull(&pp, "balloon.usable", 700000);
	assert_int_equal(metrics_snapshot_parse(pp.p, pp.n, T0, &s), 0);
	assert_int_equal(s.mem_kib, 300000);
	params_clear(&pp);

	/* A counter the driver leaves out is marked absent; no memory at all is no memory. */
	add_ull(&pp, "cpu.time", 1);
	add_uint(&pp, "vcpu.current", 1);
	add_uint(&pp, "block.count", 1);
	add_str(&pp, "block.0.name", "hdc");
	add_ull(&pp, "block.0.rd.reqs", 7);
	assert_int_equal(metrics_snapshot_parse(pp.p, pp.n, T0, &s), 0);
	assert_false(s.has_mem);
	assert_int_equal(s.n_net, 0);
	assert_int_equal(s.n_blk, 1);
	assert_int_equal(s.blk[0].present, 0x1);
	params_clear(&pp);

	/* What the test driver gives: state only. */
	add_uint(&pp, "state.state", VIR_DOMAIN_RUNNING);
	add_uint(&pp, "state.reason", 1);
	assert_int_equal(metrics_snapshot_parse(pp.p, pp.n, T0, &s), -ENODATA);
	add_ull(&pp, "cpu.time", 1);
	assert_int_equal(metrics_snapshot_parse(pp.p, pp.n, T0, &s), -ENODATA);
	params_clear(&pp);
}

static void test_delta(void **state)
{
	struct metrics_snapshot a, b;
	struct metrics_sums s;

	(void)state;
	snap_init(&a, T0, 1000, 2);
	snap_net(&a, "ecst0", 100, 10, 200, 20);
	snap_blk(&a, "vda", 5, 5000, 6, 6000);
	snap_init(&b, T0 + 15, 1000 + 3000000000ULL, 2);
	snap_net(&b, "ecst0", 1100, 20, 2200, 40);
	snap_net(&b, "ecst9", 1 << 30, 1 << 20, 1 << 30, 1 << 20); /* hot-plugged: no baseline */
	snap_blk(&b, "vda", 15, 15000, 26, 26000);
	snap_mem(&b, 2048);
	assert_int_equal(metrics_delta(&a, &b, &s), 0);
	assert_int_equal(s.v[METRICS_SUM_DT], 15);
	assert_int_equal(s.v[METRICS_SUM_CPU_NS], 3000000000ULL);
	assert_int_equal(s.v[METRICS_SUM_VCPU_S], 30);
	assert_int_equal(s.v[METRICS_SUM_RX_BYTES], 1000);
	assert_int_equal(s.v[METRICS_SUM_RX_PKTS], 10);
	assert_int_equal(s.v[METRICS_SUM_TX_BYTES], 2000);
	assert_int_equal(s.v[METRICS_SUM_TX_PKTS], 20);
	assert_int_equal(s.v[METRICS_SUM_RD_REQS], 10);
	assert_int_equal(s.v[METRICS_SUM_RD_BYTES], 10000);
	assert_int_equal(s.v[METRICS_SUM_WR_REQS], 20);
	assert_int_equal(s.v[METRICS_SUM_WR_BYTES], 20000);
	assert_int_equal(s.v[METRICS_SUM_MEM_KIB], 2048);
	assert_int_equal(s.v[METRICS_SUM_MEM_N], 1);

	/* A counter that went backwards, time that did not advance, a long gap: afresh. */
	b.net[0].c[0] = 50;
	assert_int_equal(metrics_delta(&a, &b, &s), -ERANGE);
	b.net[0].c[0] = 1100;
	b.cpu_ns = 999;
	assert_int_equal(metrics_delta(&a, &b, &s), -ERANGE);
	b.cpu_ns = 2000;
	b.ts = T0;
	assert_int_equal(metrics_delta(&a, &b, &s), -ERANGE);
	b.ts = T0 + METRICS_MAX_INTERVAL_S + 1;
	assert_int_equal(metrics_delta(&a, &b, &s), -ERANGE);
	b.ts = T0 + METRICS_MAX_INTERVAL_S;
	assert_int_equal(metrics_delta(&a, &b, &s), 0);
}

/* --- rates and points ----------------------------------------------------------------------- */

static const char *const all_fields[] = {
	"InstanceId", "CPU",	   "IntranetRX", "IntranetTX", "IntranetBandwidth",
	"InternetRX", "InternetTX", "InternetBandwidth", "IOPSRead", "IOPSWrite",
	"BPSRead",    "BPSWrite",   "TimeStamp", "Memory",	   "RxPackets",
	"TxPackets",
};

static void test_rates_from_two_samples(void **state)
{
	struct fixture *f = *state;
	struct metrics_snapshot s;
	struct json_object *arr, *p;
	size_t n_keys = 0;

	snap_init(&s, T0 + 15, 40000000000ULL, 2);
	snap_net(&s, "ecst0", 1000000, 1000, 2000000, 2000);
	snap_blk(&s, "vda", 100, 409600, 100, 409600);
	snap_blk(&s, "vdb", 0, 0, 0, 0);
	snap_mem(&s, 524288);
	assert_int_equal(metrics_record(f->m, ID_A, 7, &s), 0);
	/* The first sample of a domain is only a baseline. */
	assert_true(metrics_tracking(f->m, ID_A));
	assert_int_equal(count_points(f->m, ID_A, T0 - 3600, T0 + 3600, 60), 0);
	assert_int_equal(count_points(f->m, ID_A, T0 - 3600, T0 + 3600, 600), 0);

	/* 15 s later: 7.5 s of CPU on 2 vCPUs, 150 kB in and 75 kB out, 1500 reads of 1 KiB,
	 * 150 writes of 4 KiB (the second disk reads 500 more of 1 KiB). */
	snap_init(&s, T0 + 30, 40000000000ULL + 7500000000ULL, 2);
	snap_net(&s, "ecst0", 1000000 + 150000, 1000 + 300, 2000000 + 75000, 2000 + 150);
	snap_blk(&s, "vda", 100 + 1500, 409600 + 1536000, 100 + 150, 409600 + 614400);
	snap_blk(&s, "vdb", 500, 512000, 0, 0);
	snap_mem(&s, 524288);
	assert_int_equal(metrics_record(f->m, ID_A, 7, &s), 0);

	arr = query(f->m, ID_A, T0, T0 + 3600, 60);
	assert_int_equal(json_object_array_length(arr), 1);
	p = json_object_array_get_idx(arr, 0);
	assert_string_equal(field_str(p, "InstanceId"), ID_A);
	assert_string_equal(field_str(p, "TimeStamp"), T0_TEXT);
	assert_int_equal(field_int(p, "CPU"), 25);		    /* 7.5 / (15 x 2) */
	assert_int_equal(field_int(p, "IntranetRX"), 1200);	    /* 150000 B = 1200 kbit */
	assert_int_equal(field_int(p, "IntranetTX"), 600);	    /* 75000 B = 600 kbit */
	assert_int_equal(field_int(p, "IntranetBandwidth"), 120); /* 1800 kbit / 15 s */
	assert_int_equal(field_int(p, "InternetRX"), 0);
	assert_int_equal(field_int(p, "InternetTX"), 0);
	assert_int_equal(field_int(p, "InternetBandwidth"), 0);
	assert_int_equal(field_int(p, "IOPSRead"), 133);	 /* 2000 / 15 */
	assert_int_equal(field_int(p, "IOPSWrite"), 10);	 /* 150 / 15 */
	assert_int_equal(field_int(p, "BPSRead"), 136533);	 /* 2048000 / 15 */
	assert_int_equal(field_int(p, "BPSWrite"), 40960);	 /* 614400 / 15 */
	assert_int_equal(field_int(p, "Memory"), 512);		 /* MiB */
	assert_int_equal(field_int(p, "RxPackets"), 20);	 /* 300 / 15 */
	assert_int_equal(field_int(p, "TxPackets"), 10);	 /* 150 / 15 */

	/* Exactly the header's fields: nothing more. */
	json_object_object_foreach(p, key, val)
	{
		bool known = false;

		(void)val;
		for (size_t i = 0; i < ARRAY_SIZE(all_fields); i++)
			known |= streq(key, all_fields[i]);
		if (!known)
			fail_msg("unexpected field %s", key);
		n_keys++;
	}
	assert_int_equal(n_keys, ARRAY_SIZE(all_fields));
	json_object_put(arr);

	/* The coarser periods show the same (so far only) data. */
	arr = query(f->m, ID_A, T0, T0 + 3600, 600);
	assert_int_equal(json_object_array_length(arr), 1);
	p = json_object_array_get_idx(arr, 0);
	assert_string_equal(field_str(p, "TimeStamp"), T0_TEXT);
	assert_int_equal(field_int(p, "CPU"), 25);
	assert_int_equal(field_int(p, "IntranetRX"), 1200);
	json_object_put(arr);
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, 3600), 1);
}

static void test_cpu_capped_and_no_memory(void **state)
{
	struct fixture *f = *state;
	struct metrics_snapshot s;
	struct json_object *arr, *p;

	snap_init(&s, T0, 0, 1);
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	/* QEMU's own threads make cpu.time run faster than the vCPUs. */
	snap_init(&s, T0 + 10, 12000000000ULL, 1);
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	arr = query(f->m, ID_A, T0, T0 + 60, 60);
	assert_int_equal(json_object_array_length(arr), 1);
	p = json_object_array_get_idx(arr, 0);
	assert_int_equal(field_int(p, "CPU"), 100);
	assert_false(json_object_object_get_ex(p, "Memory", NULL));
	json_object_put(arr);
}

/* Record A's sample at ts (CPU cpu_ns, rx bytes on ecst0) under domain id domid; the
 * points of [T0, T0 + 1 h] afterwards. */
static size_t record_net(struct fixture *f, time_t ts, uint64_t cpu_ns, uint64_t rx, int domid)
{
	struct metrics_snapshot s;

	snap_init(&s, ts, cpu_ns, 1);
	snap_net(&s, "ecst0", rx, 0, 0, 0);
	assert_int_equal(metrics_record(f->m, ID_A, domid, &s), 0);
	return count_points(f->m, ID_A, T0, T0 + 3600, 60);
}

static void test_first_sample_and_resets(void **state)
{
	struct fixture *f = *state;
	struct json_object *arr;

	assert_int_equal(record_net(f, T0 + 15, 1000000000000ULL, 5000000, 3), 0);
	/* The domain restarted (a new id): its small counters are a new baseline. */
	assert_int_equal(record_net(f, T0 + 30, 1000000000ULL, 1000, 4), 0);
	/* A counter went backwards under the same domain id: afresh, no point. */
	assert_int_equal(record_net(f, T0 + 45, 2000000000ULL, 500, 4), 0);

	/* From then on, rates again: 1.5 s of CPU and 15000 bytes in 15 s. */
	assert_int_equal(record_net(f, T0 + 60, 3500000000ULL, 15500, 4), 1);
	arr = query(f->m, ID_A, T0, T0 + 3600, 60);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_int_equal(field_int(json_object_array_get_idx(arr, 0), "CPU"), 10);
	assert_int_equal(field_int(json_object_array_get_idx(arr, 0), "IntranetRX"), 120);
	assert_int_equal(field_int(json_object_array_get_idx(arr, 0), "IntranetBandwidth"), 8);
	json_object_put(arr);

	/* A gap longer than METRICS_MAX_INTERVAL_S (the agent was down): afresh. */
	assert_int_equal(record_net(f, T0 + 60 + METRICS_MAX_INTERVAL_S + 15, 9000000000ULL, 99999999, 4), 1);
}

/* Four 15 s samples make one 60 s point: time-weighted CPU, summed traffic, average rates,
 * averaged memory. The sample at :00 closes the minute before it. */
static void test_aggregate_60(void **state)
{
	struct fixture *f = *state;
	static const unsigned cpu_pct[] = { 10, 20, 30, 40 };
	struct metrics_snapshot s;
	struct json_object *arr, *p;
	uint64_t cpu = 0, rx = 0, rd = 0;

	snap_init(&s, T0, cpu, 1);
	snap_net(&s, "ecst0", rx, 0, 0, 0);
	snap_blk(&s, "vda", rd, 0, 0, 0);
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	for (unsigned i = 0; i < 4; i++) {
		cpu += cpu_pct[i] * 15 * 10000000ULL; /* pct % of 15 s */
		rx += 7500 * (i + 1);
		rd += 150 * (i + 1);
		snap_init(&s, T0 + 15 * (i + 1), cpu, 1);
		snap_net(&s, "ecst0", rx, 0, 0, 0);
		snap_blk(&s, "vda", rd, 0, 0, 0);
		snap_mem(&s, 102400 * (i + 1)); /* 100, 200, 300, 400 MiB */
		assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	}
	arr = query(f->m, ID_A, T0 - 600, T0 + 600, 60);
	assert_int_equal(json_object_array_length(arr), 1);
	p = json_object_array_get_idx(arr, 0);
	assert_string_equal(field_str(p, "TimeStamp"), T0_TEXT);
	assert_int_equal(field_int(p, "CPU"), 25);		   /* (10+20+30+40) / 4 */
	assert_int_equal(field_int(p, "IntranetRX"), 600);	   /* 75000 B */
	assert_int_equal(field_int(p, "IntranetBandwidth"), 10); /* 600 kbit / 60 s */
	assert_int_equal(field_int(p, "IOPSRead"), 25);	   /* 1500 / 60 */
	assert_int_equal(field_int(p, "Memory"), 250);
	json_object_put(arr);

	/* The next sample opens the next minute. */
	snap_init(&s, T0 + 75, cpu + 15 * 1000000000ULL, 1);
	snap_net(&s, "ecst0", rx, 0, 0, 0);
	snap_blk(&s, "vda", rd, 0, 0, 0);
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	arr = query(f->m, ID_A, T0 - 600, T0 + 600, 60);
	assert_int_equal(json_object_array_length(arr), 2);
	p = json_object_array_get_idx(arr, 1);
	assert_string_equal(field_str(p, "TimeStamp"), "2023-11-14T22:01:00Z");
	assert_int_equal(field_int(p, "CPU"), 100);
	assert_int_equal(field_int(p, "IntranetRX"), 0);
	json_object_put(arr);
}

/* 65 minutes of one sample a minute, CPU k % in minute k (mod 100) on 4 vCPUs, k kB in.
 * The 600 s and 3600 s points are the sums of their minutes. */
static void test_rollup(void **state)
{
	struct fixture *f = *state;
	struct metrics_snapshot s;
	struct json_object *arr, *p;
	uint64_t cpu = 0, rx = 0, wr = 0;
	uint64_t cpu10 = 0, rx10 = 0, wr10 = 0;
	uint64_t cpu60 = 0, rx60 = 0;
	char want[ECS_ISO8601_LEN + 1];

	snap_init(&s, T0, 0, 4);
	snap_net(&s, "ecst0", 0, 0, 0, 0);
	snap_blk(&s, "vda", 0, 0, 0, 0);
	assert_int_equal(metrics_record(f->m, ID_B, 9, &s), 0);
	for (unsigned k = 0; k < 65; k++) {
		uint64_t dcpu = (k % 100) * 60 * 4 * 10000000ULL; /* k % of 4 vCPUs for 60 s */
		uint64_t drx = 1000 * (k + 1);
		uint64_t dwr = 6000 * (k % 7);

		cpu += dcpu;
		rx += drx;
		wr += dwr;
		if (k >= 10 && k < 20) {
			cpu10 += dcpu;
			rx10 += drx;
			wr10 += dwr;
		}
		if (k < 60) {
			cpu60 += dcpu;
			rx60 += drx;
		}
		snap_init(&s, T0 + 60 * (k + 1), cpu, 4);
		snap_net(&s, "ecst0", rx, 0, 0, 0);
		snap_blk(&s, "vda", 0, 0, wr / 100, wr);
		snap_mem(&s, 1024 * (k % 2 ? 300 : 100));
		assert_int_equal(metrics_record(f->m, ID_B, 9, &s), 0);
	}

	assert_int_equal(count_points(f->m, ID_B, T0, T0 + 7200, 60), 65);

	arr = query(f->m, ID_B, T0, T0 + 7200, 600);
	assert_int_equal(json_object_array_length(arr), 7);
	for (size_t i = 0; i < 7; i++) {
		ecs_time_format(T0 + 600 * (time_t)i, want);
		assert_string_equal(field_str(json_object_array_get_idx(arr, i), "TimeStamp"), want);
	}
	/* Minutes 10-19: CPU 10..19 % -> 14.5 -> 15 (rounded); traffic summed; rates averaged. */
	p = json_object_array_get_idx(arr, 1);
	assert_int_equal(field_int(p, "CPU"), (int64_t)((100.0 * cpu10 / (600.0 * 4 * 1e9)) + 0.5));
	assert_int_equal(field_int(p, "CPU"), 15);
	assert_int_equal(field_int(p, "IntranetRX"), (int64_t)((rx10 * 8 + 500) / 1000));
	assert_int_equal(field_int(p, "IntranetRX"), 1240);	/* 155000 B */
	assert_int_equal(field_int(p, "IntranetBandwidth"), 2); /* 1240 kbit / 600 s */
	assert_int_equal(field_int(p, "BPSWrite"), (int64_t)((wr10 + 300) / 600));
	assert_int_equal(field_int(p, "Memory"), 200);
	/* The last 600 s point holds 5 minutes so far. */
	p = json_object_array_get_idx(arr, 6);
	assert_int_equal(field_int(p, "CPU"), 62); /* 60..64 % */
	json_object_put(arr);

	arr = query(f->m, ID_B, T0, T0 + 7200, 3600);
	assert_int_equal(json_object_array_length(arr), 2);
	p = json_object_array_get_idx(arr, 0);
	assert_string_equal(field_str(p, "TimeStamp"), T0_TEXT);
	assert_int_equal(field_int(p, "CPU"), (int64_t)((100.0 * cpu60 / (3600.0 * 4 * 1e9)) + 0.5));
	assert_int_equal(field_int(p, "CPU"), 30); /* 0..59 % -> 29.5 */
	assert_int_equal(field_int(p, "IntranetRX"), (int64_t)((rx60 * 8 + 500) / 1000));
	assert_int_equal(field_int(p, "IntranetRX"), 14640); /* 1830000 B */
	p = json_object_array_get_idx(arr, 1);
	assert_string_equal(field_str(p, "TimeStamp"), "2023-11-14T23:00:00Z");
	assert_int_equal(field_int(p, "CPU"), 62);
	json_object_put(arr);

	/* Another instance sees none of it. */
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 7200, 600), 0);
}

static void test_query_bounds(void **state)
{
	struct fixture *f = *state;
	struct json_object *arr = NULL;
	struct metrics_snapshot s;
	char long_id[80];

	snap_init(&s, T0 - 15, 0, 1);
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	snap_init(&s, T0 + 15, 0, 1); /* one point at T0 */
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);
	snap_init(&s, T0 + 30, 0, 1);
	assert_int_equal(metrics_record(f->m, ID_A, 1, &s), 0);

	assert_int_equal(agent_metrics_query(f->m, ID_A, T0, T0 + 60, 0, &arr), -EINVAL);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0, T0 + 60, 300, &arr), -EINVAL);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0, T0 + 60, 61, &arr), -EINVAL);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0, T0 - 60, 60, &arr), -EINVAL);
	assert_int_equal(agent_metrics_query(f->m, ID_A, -60, T0, 3600, &arr), -EINVAL);
	assert_int_equal(agent_metrics_query(f->m, "", T0, T0 + 60, 60, &arr), -EINVAL);
	assert_int_equal(agent_metrics_query(f->m, NULL, T0, T0 + 60, 60, &arr), -EINVAL);
	snprintf(long_id, sizeof(long_id), "i-%063d", 0);
	assert_int_equal(agent_metrics_query(f->m, long_id, T0, T0 + 60, 60, &arr), -EINVAL);
	assert_null(arr);

	/* 400 points are fine, 401 are not, at every period; unaligned bounds count the
	 * period starts they hold. */
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 400 * 60, 60), 1);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0, T0 + 400 * 60 + 1, 60, &arr), -E2BIG);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0 - 60, T0 + 400 * 60, 60, &arr), -E2BIG);
	assert_int_equal(count_points(f->m, ID_A, T0 + 1, T0 + 400 * 60 + 1, 60), 0);
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 400 * 600, 600), 1);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0, T0 + 400 * 600 + 600, 600, &arr), -E2BIG);
	assert_int_equal(count_points(f->m, ID_A, T0 - 3600 * 399, T0 + 1, 3600), 1);
	assert_int_equal(agent_metrics_query(f->m, ID_A, T0 - 3600 * 400, T0 + 1, 3600, &arr), -E2BIG);
	assert_null(arr);

	/* start <= TimeStamp < end. */
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 1, 60), 1);
	assert_int_equal(count_points(f->m, ID_A, T0 - 60, T0, 60), 0);
	assert_int_equal(count_points(f->m, ID_A, T0 + 1, T0 + 120, 60), 0);
	/* An empty range and a range without data give []. */
	assert_int_equal(count_points(f->m, ID_A, T0, T0, 60), 0);
	assert_int_equal(count_points(f->m, ID_A, T0 + 3600, T0 + 7200, 60), 0);
	assert_int_equal(count_points(f->m, "i-nobody", T0, T0 + 60, 60), 0);
	/* Instance ids are data, not SQL. */
	assert_int_equal(count_points(f->m, "x' OR '1'='1", T0, T0 + 60, 60), 0);
}

static void record_minute(struct agent_metrics *m, const char *id, time_t minute)
{
	struct metrics_snapshot s;

	snap_init(&s, minute + 15, 0, 1);
	assert_int_equal(metrics_record(m, id, 1, &s), 0);
	snap_init(&s, minute + 30, 1000000000ULL, 1);
	assert_int_equal(metrics_record(m, id, 1, &s), 0);
}

/* Everything that starts before now - retention goes, at every resolution. */
static void test_prune(void **state)
{
	struct fixture *f = *state;
	time_t now = T0 + 40 * DAY;
	time_t horizon = now - AGENT_METRICS_RETENTION_S; /* T0 + 10 days, a whole hour */
	const time_t minutes[] = { T0, horizon - 3600, horizon, now - 3600 };
	const int periods[] = { 60, 600, 3600 };

	for (size_t i = 0; i < ARRAY_SIZE(minutes); i++)
		record_minute(f->m, ID_A, minutes[i]);
	for (size_t i = 0; i < ARRAY_SIZE(minutes); i++)
		for (size_t j = 0; j < ARRAY_SIZE(periods); j++)
			assert_int_equal(count_points(f->m, ID_A, minutes[i], minutes[i] + 3600, periods[j]), 1);

	for (int round = 0; round < 2; round++) {
		assert_int_equal(agent_metrics_prune(f->m, now), 0);
		for (size_t j = 0; j < ARRAY_SIZE(periods); j++) {
			assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, periods[j]), 0);
			assert_int_equal(count_points(f->m, ID_A, horizon - 3600, horizon, periods[j]), 0);
			assert_int_equal(count_points(f->m, ID_A, horizon, horizon + 3600, periods[j]), 1);
			assert_int_equal(count_points(f->m, ID_A, now - 3600, now, periods[j]), 1);
		}
	}
}

static void test_forget(void **state)
{
	struct fixture *f = *state;

	record_minute(f->m, ID_A, T0);
	record_minute(f->m, ID_B, T0);
	assert_true(metrics_tracking(f->m, ID_A));
	assert_int_equal(agent_metrics_forget(f->m, ID_A), 0);
	assert_false(metrics_tracking(f->m, ID_A));
	assert_true(metrics_tracking(f->m, ID_B));
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, 60), 0);
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, 600), 0);
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, 3600), 0);
	assert_int_equal(count_points(f->m, ID_B, T0, T0 + 3600, 60), 1);
	assert_int_equal(count_points(f->m, ID_B, T0, T0 + 3600, 3600), 1);
	assert_int_equal(agent_metrics_forget(f->m, ID_A), 0);
	assert_int_equal(agent_metrics_forget(f->m, "i-never-seen"), 0);
	assert_int_equal(agent_metrics_forget(f->m, ""), -EINVAL);
}

static void test_reopen_keeps_points(void **state)
{
	struct fixture *f = *state;

	record_minute(f->m, ID_A, T0);
	agent_metrics_close(f->m);
	f->m = NULL;
	assert_int_equal(agent_metrics_open(f->path, &f->m), 0);
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, 60), 1);
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 3600, 3600), 1);
	/* The previous samples are in memory only: after a restart, a new baseline. */
	assert_false(metrics_tracking(f->m, ID_A));
}

/* --- sampling domains of the test driver ---------------------------------------------------- */

static virConnectPtr conn;
static virDomainPtr doms[3];
static const char *const dom_names[3] = { "ecs-" ID_A, "ecs-" ID_B, "other-x" };

static int group_setup(void **state)
{
	(void)state;
	virSetErrorFunc(NULL, silence_libvirt);
	conn = virConnectOpen("test:///default");
	if (!conn)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dom_names); i++) {
		char xml[1024];

		snprintf(xml, sizeof(xml),
			 "<domain type='test'><name>%s</name><memory>262144</memory><vcpu>2</vcpu>"
			 "<os><type>hvm</type></os><devices>"
			 "<disk type='file' device='disk'><source file='/tmp/ecs-test-metrics-%zu.img'/>"
			 "<target dev='vda' bus='virtio'/></disk>"
			 "<interface type='network'><source network='default'/>"
			 "<mac address='52:54:00:00:00:%02zx'/></interface>"
			 "</devices></domain>",
			 dom_names[i], i, i + 1);
		doms[i] = virDomainCreateXML(conn, xml, 0);
		if (!doms[i])
			return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(doms); i++) {
		if (doms[i]) {
			virDomainDestroy(doms[i]);
			virDomainFree(doms[i]);
		}
	}
	if (conn)
		virConnectClose(conn);
	return 0;
}

/* The test driver's own stats: state only, so every domain is skipped. */
static void test_sample_test_driver(void **state)
{
	struct fixture *f = *state;
	virDomainStatsRecordPtr *records = NULL;
	int n;
	bool found = false;

	n = virConnectGetAllDomainStats(conn, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL, &records,
					VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
	assert_true(n >= 3);
	for (int i = 0; i < n; i++) {
		virTypedParameterPtr params = records[i]->params;
		unsigned long long v;

		if (!streq(virDomainGetName(records[i]->dom), dom_names[0]))
			continue;
		found = true;
		assert_int_equal(virTypedParamsGetULLong(params, records[i]->nparams, "cpu.time", &v), 0);
	}
	assert_true(found);
	virDomainStatsRecordListFree(records);

	assert_int_equal(agent_metrics_sample(f->m, conn, "ecs-", T0), 0);
	assert_int_equal(agent_metrics_sample(f->m, conn, "ecs-", T0 + 15), 0);
	assert_false(metrics_tracking(f->m, ID_A));
	assert_int_equal(count_points(f->m, ID_A, T0, T0 + 60, 60), 0);
}

/* Records as the QEMU driver would give them, around the test driver's real domains. */
static void test_sample_records(void **state)
{
	struct fixture *f = *state;
	struct _virDomainStatsRecord rec[3];
	virDomainStatsRecordPtr recs[3];
	struct params pp[3];
	struct json_object *arr, *p;

	for (unsigned k = 0; k < 3; k++) {
		for (size_t i = 0; i < 3; i++) {
			memset(&pp[i], 0, sizeof(pp[i]));
			/* Domain i: 1.5 s of CPU, 3000 * (i + 1) bytes in, 15 reads a 15 s step. */
			params_full(&pp[i], 1500000000ULL * k, 3000 * (i + 1) * k, 15 * k);
			rec[i] = (struct _virDomainStatsRecord){ doms[i], pp[i].p, pp[i].n };
			recs[i] = &rec[i];
		}
		/* The last round lacks ID_B, which has stopped. */
		assert_int_equal(metrics_sample_records(f->m, recs, k < 2 ? 3 : 1, "ecs-", T0 + 15 * (k + 1)), 0);
		for (size_t i = 0; i < 3; i++)
			params_clear(&pp[i]);
		if (k == 0) {
			assert_true(metrics_tracking(f->m, ID_A));
			assert_true(metrics_tracking(f->m, ID_B));
			assert_int_equal(count_points(f->m, ID_A, T0, T0 + 60, 60), 0);
		}
	}
	assert_false(metrics_tracking(f->m, "other-x"));
	assert_false(metrics_tracking(f->m, "x"));
	assert_false(metrics_tracking(f->m, ID_B));
	assert_true(metrics_tracking(f->m, ID_A));

	arr = query(f->m, ID_A, T0, T0 + 60, 60);
	assert_int_equal(json_object_array_length(arr), 1);
	p = json_object_array_get_idx(arr, 0);
	assert_int_equal(field_int(p, "CPU"), 5);	  /* 1.5 s of 30 vCPU-s, twice */
	assert_int_equal(field_int(p, "IntranetRX"), 48); /* 2 x 3000 B on ecst0; ecst1 idle */
	assert_int_equal(field_int(p, "IntranetTX"), 24);
	assert_int_equal(field_int(p, "IOPSRead"), 1);
	assert_int_equal(field_int(p, "BPSRead"), 4096);
	assert_int_equal(field_int(p, "Memory"), 293); /* balloon.rss 300000 KiB */
	json_object_put(arr);

	arr = query(f->m, ID_B, T0, T0 + 60, 60);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_int_equal(field_int(json_object_array_get_idx(arr, 0), "IntranetRX"), 48);
	json_object_put(arr);
	assert_int_equal(count_points(f->m, "other-x", T0, T0 + 60, 60), 0);
	assert_int_equal(count_points(f->m, "x", T0, T0 + 60, 60), 0);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_instance_id),
		cmocka_unit_test(test_snapshot_parse),
		cmocka_unit_test(test_delta),
	};
	struct CMUnitTest stored[] = {
		cmocka_unit_test(test_rates_from_two_samples),
		cmocka_unit_test(test_cpu_capped_and_no_memory),
		cmocka_unit_test(test_first_sample_and_resets),
		cmocka_unit_test(test_aggregate_60),
		cmocka_unit_test(test_rollup),
		cmocka_unit_test(test_query_bounds),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_reopen_keeps_points),
	};
	struct CMUnitTest sampled[] = {
		cmocka_unit_test(test_sample_test_driver),
		cmocka_unit_test(test_sample_records),
	};
	int r = 0;

	/* The virTypedParams* calls need libvirt's error state, which virConnectOpen would set up. */
	if (virInitialize() < 0)
		return 1;
	r |= cmocka_run_group_tests_name("metrics_pure", pure, NULL, NULL);
	r |= unit_run("metrics_stored", stored, ARRAY_SIZE(stored), setup, teardown, NULL, NULL);
	r |= unit_run("metrics_sampled", sampled, ARRAY_SIZE(sampled), setup, teardown, group_setup, group_teardown);
	return r ? 1 : 0;
}
