/* metrics.c: per-instance metrics from virConnectGetAllDomainStats, kept in SQLite.
 *
 * Three tables, one a resolution (metrics_60, metrics_600, metrics_3600), keyed
 * (instance_id, ts) with ts the start of the period. A row holds sums (see
 * metrics-internal.h), so a 600 s row is just the sum of its 60 s rows and averages come
 * out right at every resolution. The 600 s and 3600 s rows containing a 60 s row are
 * recomputed from the 60 s rows each time it changes: the current coarse period is
 * visible, growing, until it closes.
 *
 * Units, after Alibaba Cloud's DescribeInstanceMonitorData reference:
 *   CPU                      % of all the instance's vCPUs together, 0-100, integer
 *   IntranetRX, IntranetTX   kbit (1000 bit) received / sent within the period
 *   IntranetBandwidth        (RX + TX) kbit/s, averaged over the period
 *   IOPSRead, IOPSWrite      requests/s, all disks (system and data)
 *   BPSRead, BPSWrite        bytes/s, all disks
 *   TimeStamp                start of the period, UTC "YYYY-MM-DDTHH:MM:SSZ"
 * and this project's Memory (MiB in use, averaged; absent when the guest reports nothing)
 * and RxPackets, TxPackets (packets/s). All traffic counts as intranet: the Internet*
 * fields are 0 until instances have public addresses (then the public NIC's counters go
 * there). */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "metrics-internal.h"
#include "timeutil.h"
#include "util.h"

#define METRICS_STATS                                                                              \
	(VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |          \
	 VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK)

/* Query times beyond 9999-12-31T23:59:59Z are refused (and keep the arithmetic far from
 * overflow). */
#define METRICS_TIME_MAX ((time_t)253402300799LL)

enum metrics_res {
	METRICS_RES_60,
	METRICS_RES_600,
	METRICS_RES_3600,
	_METRICS_RES_MAX,
};

#define SUM_COLS                                                                                   \
	"dt, cpu_ns, vcpu_s, rx_bytes, tx_bytes, rx_pkts, tx_pkts, rd_reqs, rd_bytes, wr_reqs, "   \
	"wr_bytes, mem_kib, mem_n"

#define TABLE_SQL(t)                                                                               \
	"CREATE TABLE IF NOT EXISTS " t " (instance_id TEXT NOT NULL, ts INTEGER NOT NULL, "       \
	"dt INTEGER NOT NULL, cpu_ns INTEGER NOT NULL, vcpu_s INTEGER NOT NULL, "                   \
	"rx_bytes INTEGER NOT NULL, tx_bytes INTEGER NOT NULL, rx_pkts INTEGER NOT NULL, "          \
	"tx_pkts INTEGER NOT NULL, rd_reqs INTEGER NOT NULL, rd_bytes INTEGER NOT NULL, "           \
	"wr_reqs INTEGER NOT NULL, wr_bytes INTEGER NOT NULL, mem_kib INTEGER NOT NULL, "           \
	"mem_n INTEGER NOT NULL, PRIMARY KEY (instance_id, ts)) WITHOUT ROWID;"                     \
	"CREATE INDEX IF NOT EXISTS " t "_ts ON " t " (ts);"

#define ROLLUP_SQL(t)                                                                              \
	"INSERT OR REPLACE INTO " t " (instance_id, ts, " SUM_COLS ") "                             \
	"SELECT ?1, ?2, sum(dt), sum(cpu_ns), sum(vcpu_s), sum(rx_bytes), sum(tx_bytes), "          \
	"sum(rx_pkts), sum(tx_pkts), sum(rd_reqs), sum(rd_bytes), sum(wr_reqs), sum(wr_bytes), "    \
	"sum(mem_kib), sum(mem_n) FROM metrics_60 WHERE instance_id = ?1 AND ts >= ?2 AND ts < ?3 " \
	"HAVING count(*) > 0"

#define SELECT_SQL(t)                                                                              \
	"SELECT ts, " SUM_COLS " FROM " t " WHERE instance_id = ?1 AND ts >= ?2 AND ts < ?3 "       \
	"ORDER BY ts LIMIT ?4"

static const char add60_sql[] =
	"INSERT INTO metrics_60 (instance_id, ts, " SUM_COLS ") "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
	"ON CONFLICT (instance_id, ts) DO UPDATE SET dt = dt + excluded.dt, "
	"cpu_ns = cpu_ns + excluded.cpu_ns, vcpu_s = vcpu_s + excluded.vcpu_s, "
	"rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes, "
	"rx_pkts = rx_pkts + excluded.rx_pkts, tx_pkts = tx_pkts + excluded.tx_pkts, "
	"rd_reqs = rd_reqs + excluded.rd_reqs, rd_bytes = rd_bytes + excluded.rd_bytes, "
	"wr_reqs = wr_reqs + excluded.wr_reqs, wr_bytes = wr_bytes + excluded.wr_bytes, "
	"mem_kib = mem_kib + excluded.mem_kib, mem_n = mem_n + excluded.mem_n";

static const struct metrics_table {
	int period;
	const char *create;
	const char *rollup; /* NULL for the 60 s table, which samples feed */
	const char *select;
	const char *prune;
	const char *forget;
} metrics_tables[_METRICS_RES_MAX] = {
	[METRICS_RES_60] = {
		60, TABLE_SQL("metrics_60"), NULL, SELECT_SQL("metrics_60"),
		"DELETE FROM metrics_60 WHERE ts < ?1", "DELETE FROM metrics_60 WHERE instance_id = ?1",
	},
	[METRICS_RES_600] = {
		600, TABLE_SQL("metrics_600"), ROLLUP_SQL("metrics_600"), SELECT_SQL("metrics_600"),
		"DELETE FROM metrics_600 WHERE ts < ?1", "DELETE FROM metrics_600 WHERE instance_id = ?1",
	},
	[METRICS_RES_3600] = {
		3600, TABLE_SQL("metrics_3600"), ROLLUP_SQL("metrics_3600"), SELECT_SQL("metrics_3600"),
		"DELETE FROM metrics_3600 WHERE ts < ?1", "DELETE FROM metrics_3600 WHERE instance_id = ?1",
	},
};

/* Counters of a device in metrics_dev order, and the sums they feed. */
static const char *const net_fields[METRICS_DEV_COUNTERS] = { "rx.bytes", "rx.pkts", "tx.bytes", "tx.pkts" };
static const enum metrics_sum net_sums[METRICS_DEV_COUNTERS] = {
	METRICS_SUM_RX_BYTES, METRICS_SUM_RX_PKTS, METRICS_SUM_TX_BYTES, METRICS_SUM_TX_PKTS
};
static const char *const blk_fields[METRICS_DEV_COUNTERS] = { "rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes" };
static const enum metrics_sum blk_sums[METRICS_DEV_COUNTERS] = {
	METRICS_SUM_RD_REQS, METRICS_SUM_RD_BYTES, METRICS_SUM_WR_REQS, METRICS_SUM_WR_BYTES
};

/* The previous sample of one domain. */
struct metrics_state {
	char instance_id[METRICS_ID_MAX + 1];
	unsigned dom_id;
	bool seen; /* in the sample being taken */
	struct metrics_snapshot snap;
};

struct agent_metrics {
	pthread_mutex_t lock; /* the handle, its statements and the states */
	sqlite3 *db;
	sqlite3_stmt *add60;
	sqlite3_stmt *rollup[_METRICS_RES_MAX];
	sqlite3_stmt *select[_METRICS_RES_MAX];
	sqlite3_stmt *prune[_METRICS_RES_MAX];
	sqlite3_stmt *forget[_METRICS_RES_MAX];
	struct metrics_state *states;
	size_t n_states, cap_states;
};

static time_t align_down(time_t t, int period)
{
	time_t r = t % period;

	return r < 0 ? t - r - period : t - r;
}

static int res_from_period(int period)
{
	for (int i = 0; i < _METRICS_RES_MAX; i++)
		if (metrics_tables[i].period == period)
			return i;
	return -EINVAL;
}

static bool instance_id_valid(const char *id)
{
	return id && *id && strlen(id) <= METRICS_ID_MAX;
}

/* Log the handle's last error once and map it to an errno. */
static int db_fail(struct agent_metrics *m, const char *op, const char *instance_id)
{
	int rc = sqlite3_errcode(m->db);
	char q[256];

	log_error("metrics: database error", "op=%s instance=%s error=%s", op, strempty(instance_id),
		  ecs_log_quote(sqlite3_errmsg(m->db), q, sizeof(q)));
	switch (rc) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

static int db_exec(struct agent_metrics *m, const char *sql, const char *op)
{
	if (sqlite3_exec(m->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(m, op, NULL);
	return 0;
}

/* Step a statement that returns no rows, then make it ready for the next use. */
static int db_step_done(struct agent_metrics *m, sqlite3_stmt *st, const char *op, const char *instance_id)
{
	int r = 0;

	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(m, op, instance_id);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

static void db_rollback(struct agent_metrics *m)
{
	/* Nothing to do when it fails: the transaction is gone either way. */
	(void)sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
}

static int db_prepare(struct agent_metrics *m, const char *sql, sqlite3_stmt **ret)
{
	if (sqlite3_prepare_v3(m->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL) != SQLITE_OK)
		return db_fail(m, "prepare", NULL);
	return 0;
}

static int db_setup(struct agent_metrics *m, const char *db_path)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	char q[256];
	int r;

	r = db_prepare(m, "PRAGMA journal_mode=WAL", &st);
	if (r < 0)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(m, "journal_mode", NULL);
		sqlite3_finalize(st);
		return r;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcasecmp(mode, "wal") != 0)
		log_warn("metrics: database not in WAL mode", "path=%s mode=%s", ecs_log_quote(db_path, q, sizeof(q)),
			 strempty(mode));
	sqlite3_finalize(st);

	r = db_exec(m, "PRAGMA synchronous=NORMAL", "synchronous");
	if (r < 0)
		return r;
	for (int i = 0; i < _METRICS_RES_MAX; i++) {
		r = db_exec(m, metrics_tables[i].create, "create");
		if (r < 0)
			return r;
	}

	r = db_prepare(m, add60_sql, &m->add60);
	if (r < 0)
		return r;
	for (int i = 0; i < _METRICS_RES_MAX; i++) {
		const struct metrics_table *t = &metrics_tables[i];

		if (t->rollup) {
			r = db_prepare(m, t->rollup, &m->rollup[i]);
			if (r < 0)
				return r;
		}
		r = db_prepare(m, t->select, &m->select[i]);
		if (r < 0)
			return r;
		r = db_prepare(m, t->prune, &m->prune[i]);
		if (r < 0)
			return r;
		r = db_prepare(m, t->forget, &m->forget[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_metrics_open(const char *db_path, struct agent_metrics **ret)
{
	struct agent_metrics *m;
	char q[256];
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);

	if (sqlite3_open_v2(db_path, &m->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		char qe[256];

		log_error("metrics: cannot open database", "path=%s error=%s", ecs_log_quote(db_path, q, sizeof(q)),
			  ecs_log_quote(m->db ? sqlite3_errmsg(m->db) : "out of memory", qe, sizeof(qe)));
		r = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(m->db, 5000);
	r = db_setup(m, db_path);
	if (r < 0)
		goto fail;

	*ret = m;
	return 0;
fail:
	agent_metrics_close(m);
	return r;
}

void agent_metrics_close(struct agent_metrics *m)
{
	if (!m)
		return;
	sqlite3_finalize(m->add60);
	for (int i = 0; i < _METRICS_RES_MAX; i++) {
		sqlite3_finalize(m->rollup[i]);
		sqlite3_finalize(m->select[i]);
		sqlite3_finalize(m->prune[i]);
		sqlite3_finalize(m->forget[i]);
	}
	sqlite3_close(m->db);
	pthread_mutex_destroy(&m->lock);
	free(m->states);
	free(m);
}

/* --- snapshots and deltas ------------------------------------------------------------ */

int metrics_instance_id(const char *name, const char *prefix, char ret[METRICS_ID_MAX + 1])
{
	const char *id;

	if (!str_has_prefix(name, prefix))
		return -ENOENT;
	id = name + strlen(prefix);
	if (!*id)
		return -ENOENT;
	return ecs_strlcpy(ret, id, METRICS_ID_MAX + 1);
}

static bool param_ullong(virTypedParameterPtr params, int nparams, const char *name, uint64_t *ret)
{
	unsigned long long v;

	if (virTypedParamsGetULLong(params, nparams, name, &v) != 1)
		return false;
	*ret = v;
	return true;
}

static size_t parse_devs(virTypedParameterPtr params, int nparams, const char *group,
			 const char *const fields[METRICS_DEV_COUNTERS], struct metrics_dev devs[METRICS_MAX_DEVS])
{
	unsigned count = 0;
	size_t n = 0;
	char key[96];

	snprintf(key, sizeof(key), "%s.count", group);
	if (virTypedParamsGetUInt(params, nparams, key, &count) != 1)
		return 0;
	for (unsigned i = 0; i < count && n < METRICS_MAX_DEVS; i++) {
		struct metrics_dev *d = &devs[n];
		const char *name = NULL;

		snprintf(key, sizeof(key), "%s.%u.name", group, i);
		if (virTypedParamsGetString(params, nparams, key, &name) != 1 || !name ||
		    ecs_strlcpy(d->name, name, sizeof(d->name)) < 0)
			continue;
		d->present = 0;
		for (unsigned k = 0; k < METRICS_DEV_COUNTERS; k++) {
			snprintf(key, sizeof(key), "%s.%u.%s", group, i, fields[k]);
			if (param_ullong(params, nparams, key, &d->c[k]))
				d->present |= 1u << k;
			else
				d->c[k] = 0;
		}
		n++;
	}
	return n;
}

/* Memory in use. The guest's own view first: balloon.available (what the guest sees as
 * its total) minus balloon.usable (what it could still use without swapping, like
 * MemAvailable), else minus balloon.unused (MemFree, so page cache counts as used). Both
 * need the virtio balloon driver with stats polling (virDomainSetMemoryStatsPeriod).
 * Without them, balloon.rss: the host's resident memory of the guest, i.e. what the guest
 * has touched plus QEMU's own. Never balloon.current: that is the size, not the use. */
static bool parse_mem(virTypedParameterPtr params, int nparams, uint64_t *ret)
{
	uint64_t avail, free_kib;

	if (param_ullong(params, nparams, "balloon.available", &avail)) {
		if (param_ullong(params, nparams, "balloon.usable", &free_kib) && free_kib <= avail) {
			*ret = avail - free_kib;
			return true;
		}
		if (param_ullong(params, nparams, "balloon.unused", &free_kib) && free_kib <= avail) {
			*ret = avail - free_kib;
			return true;
		}
	}
	return param_ullong(params, nparams, "balloon.rss", ret);
}

int metrics_snapshot_parse(virTypedParameterPtr params, int nparams, time_t now, struct metrics_snapshot *ret)
{
	struct metrics_snapshot s = { .ts = now };

	if (!param_ullong(params, nparams, "cpu.time", &s.cpu_ns) ||
	    virTypedParamsGetUInt(params, nparams, "vcpu.current", &s.vcpus) != 1 || s.vcpus == 0)
		return -ENODATA;
	s.has_mem = parse_mem(params, nparams, &s.mem_kib);
	s.n_net = parse_devs(params, nparams, "net", net_fields, s.net);
	s.n_blk = parse_devs(params, nparams, "block", blk_fields, s.blk);
	*ret = s;
	return 0;
}

static const struct metrics_dev *dev_find(const struct metrics_dev *devs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(devs[i].name, name))
			return &devs[i];
	return NULL;
}

static int devs_delta(const struct metrics_dev *prev, size_t n_prev, const struct metrics_dev *cur, size_t n_cur,
		      const enum metrics_sum sums[METRICS_DEV_COUNTERS], struct metrics_sums *s)
{
	for (size_t i = 0; i < n_cur; i++) {
		const struct metrics_dev *p = dev_find(prev, n_prev, cur[i].name);

		if (!p)
			continue;
		for (unsigned k = 0; k < METRICS_DEV_COUNTERS; k++) {
			if (!(cur[i].present & p->present & (1u << k)))
				continue;
			if (cur[i].c[k] < p->c[k])
				return -ERANGE;
			s->v[sums[k]] += cur[i].c[k] - p->c[k];
		}
	}
	return 0;
}

int metrics_delta(const struct metrics_snapshot *prev, const struct metrics_snapshot *cur,
		  struct metrics_sums *ret)
{
	struct metrics_sums s = { { 0 } };
	time_t dt = cur->ts - prev->ts;
	int r;

	if (dt <= 0 || dt > METRICS_MAX_INTERVAL_S || cur->cpu_ns < prev->cpu_ns)
		return -ERANGE;
	s.v[METRICS_SUM_DT] = (uint64_t)dt;
	s.v[METRICS_SUM_CPU_NS] = cur->cpu_ns - prev->cpu_ns;
	s.v[METRICS_SUM_VCPU_S] = (uint64_t)dt * cur->vcpus;
	r = devs_delta(prev->net, prev->n_net, cur->net, cur->n_net, net_sums, &s);
	if (r < 0)
		return r;
	r = devs_delta(prev->blk, prev->n_blk, cur->blk, cur->n_blk, blk_sums, &s);
	if (r < 0)
		return r;
	if (cur->has_mem) {
		s.v[METRICS_SUM_MEM_KIB] = cur->mem_kib;
		s.v[METRICS_SUM_MEM_N] = 1;
	}
	*ret = s;
	return 0;
}

/* --- the previous samples ------------------------------------------------------------ */

static struct metrics_state *state_find(struct agent_metrics *m, const char *instance_id)
{
	for (size_t i = 0; i < m->n_states; i++)
		if (streq(m->states[i].instance_id, instance_id))
			return &m->states[i];
	return NULL;
}

static int state_add(struct agent_metrics *m, const char *instance_id, struct metrics_state **ret)
{
	struct metrics_state *st;

	if (m->n_states == m->cap_states) {
		size_t ncap = m->cap_states ? m->cap_states * 2 : 16;
		struct metrics_state *ns = realloc(m->states, ncap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		m->states = ns;
		m->cap_states = ncap;
	}
	st = &m->states[m->n_states];
	memset(st, 0, sizeof(*st));
	if (ecs_strlcpy(st->instance_id, instance_id, sizeof(st->instance_id)) < 0)
		return -ENAMETOOLONG;
	m->n_states++;
	*ret = st;
	return 0;
}

static void state_remove(struct agent_metrics *m, struct metrics_state *st)
{
	size_t i = (size_t)(st - m->states);

	if (i != m->n_states - 1)
		m->states[i] = m->states[m->n_states - 1];
	m->n_states--;
}

/* Drop the states of domains that were not in this sample: stopped domains. */
static void state_sweep(struct agent_metrics *m)
{
	for (size_t i = m->n_states; i > 0; i--)
		if (!m->states[i - 1].seen)
			state_remove(m, &m->states[i - 1]);
}

bool metrics_tracking(struct agent_metrics *m, const char *instance_id)
{
	bool found;

	pthread_mutex_lock(&m->lock);
	found = state_find(m, instance_id) != NULL;
	pthread_mutex_unlock(&m->lock);
	return found;
}

/* --- storing ---------------------------------------------------------------------------- */

/* Add s, the interval ending at end, to its 60 s point and recompute the coarser points
 * that contain it. */
static int store_sums(struct agent_metrics *m, const char *instance_id, time_t end, const struct metrics_sums *s)
{
	time_t ts = align_down(end - 1, 60);
	int r;

	sqlite3_bind_text(m->add60, 1, instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(m->add60, 2, ts);
	for (int i = 0; i < _METRICS_SUM_MAX; i++)
		sqlite3_bind_int64(m->add60, 3 + i, (sqlite3_int64)s->v[i]);
	r = db_step_done(m, m->add60, "add", instance_id);
	if (r < 0)
		return r;

	for (int i = 0; i < _METRICS_RES_MAX; i++) {
		sqlite3_stmt *st = m->rollup[i];
		int period = metrics_tables[i].period;
		time_t start = align_down(ts, period);

		if (!st)
			continue;
		sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, start);
		sqlite3_bind_int64(st, 3, start + period);
		r = db_step_done(m, st, "rollup", instance_id);
		if (r < 0)
			return r;
	}
	return 0;
}

static int record_locked(struct agent_metrics *m, const char *instance_id, unsigned dom_id,
			 const struct metrics_snapshot *cur)
{
	struct metrics_state *st = state_find(m, instance_id);
	struct metrics_sums sums = { { 0 } };
	bool have = false;
	int r;

	if (!st) {
		r = state_add(m, instance_id, &st);
		if (r < 0)
			return r;
	} else if (st->dom_id == dom_id) {
		have = metrics_delta(&st->snap, cur, &sums) == 0;
		if (!have)
			log_debug("metrics: counters start afresh", "instance=%s", instance_id);
	}
	st->dom_id = dom_id;
	st->snap = *cur;
	st->seen = true;
	if (!have)
		return 0;
	return store_sums(m, instance_id, cur->ts, &sums);
}

/* Run body in one transaction (m->lock held): committed when it returns >= 0, rolled back
 * otherwise. */
static int tx_locked(struct agent_metrics *m, int (*body)(struct agent_metrics *m, void *arg), void *arg)
{
	int r = db_exec(m, "BEGIN IMMEDIATE", "begin");

	if (r < 0)
		return r;
	r = body(m, arg);
	if (r >= 0)
		r = db_exec(m, "COMMIT", "commit");
	if (r < 0)
		db_rollback(m);
	return r;
}

static int tx(struct agent_metrics *m, int (*body)(struct agent_metrics *m, void *arg), void *arg)
{
	int r;

	pthread_mutex_lock(&m->lock);
	r = tx_locked(m, body, arg);
	pthread_mutex_unlock(&m->lock);
	return r;
}

struct record_args {
	const char *instance_id;
	unsigned dom_id;
	const struct metrics_snapshot *cur;
};

static int record_body(struct agent_metrics *m, void *arg)
{
	const struct record_args *a = arg;

	return record_locked(m, a->instance_id, a->dom_id, a->cur);
}

int metrics_record(struct agent_metrics *m, const char *instance_id, unsigned dom_id,
		   const struct metrics_snapshot *cur)
{
	if (!instance_id_valid(instance_id))
		return -EINVAL;
	return tx(m, record_body, &(struct record_args){ instance_id, dom_id, cur });
}

struct sample_args {
	virDomainStatsRecordPtr *records;
	size_t n;
	const char *domain_prefix;
	time_t now;
};

static int sample_body(struct agent_metrics *m, void *arg)
{
	const struct sample_args *a = arg;
	virDomainStatsRecordPtr *records = a->records;
	int r;

	for (size_t i = 0; i < m->n_states; i++)
		m->states[i].seen = false;
	for (size_t i = 0; i < a->n; i++) {
		char id[METRICS_ID_MAX + 1];
		struct metrics_snapshot snap;
		const char *name = virDomainGetName(records[i]->dom);

		if (!name || metrics_instance_id(name, a->domain_prefix, id) < 0)
			continue;
		if (metrics_snapshot_parse(records[i]->params, records[i]->nparams, a->now, &snap) < 0) {
			log_debug("metrics: no stats for domain", "instance=%s", id);
			continue;
		}
		r = record_locked(m, id, virDomainGetID(records[i]->dom), &snap);
		if (r < 0)
			return r;
	}
	state_sweep(m);
	return 0;
}

int metrics_sample_records(struct agent_metrics *m, virDomainStatsRecordPtr *records, size_t n,
			   const char *domain_prefix, time_t now)
{
	return tx(m, sample_body, &(struct sample_args){ records, n, domain_prefix, now });
}

int agent_metrics_sample(struct agent_metrics *m, virConnectPtr conn, const char *domain_prefix, time_t now)
{
	virDomainStatsRecordPtr *records = NULL;
	char q[256];
	int n, r;

	n = virConnectGetAllDomainStats(conn, METRICS_STATS, &records, VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
	if (n < 0) {
		log_error("metrics: cannot read domain stats", "error=%s",
			  ecs_log_quote(strempty(virGetLastErrorMessage()), q, sizeof(q)));
		return -EIO;
	}
	r = metrics_sample_records(m, records, (size_t)n, domain_prefix, now);
	virDomainStatsRecordListFree(records);
	return r;
}

static void devs_total(const struct metrics_dev *devs, size_t n, uint64_t ret[METRICS_DEV_COUNTERS])
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < METRICS_DEV_COUNTERS; k++)
			ret[k] += devs[i].c[k];
}

size_t agent_metrics_latest(struct agent_metrics *m, struct agent_metrics_latest *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n_states;
	for (size_t i = 0; i < n && i < max; i++) {
		const struct metrics_snapshot *sn = &m->states[i].snap;
		struct agent_metrics_latest *l = &out[i];

		*l = (struct agent_metrics_latest){ .cpu_ns = sn->cpu_ns, .vcpus = sn->vcpus, .has_mem = sn->has_mem,
						    .mem_kib = sn->mem_kib };
		ecs_strlcpy(l->instance_id, m->states[i].instance_id, sizeof(l->instance_id));
		devs_total(sn->net, sn->n_net, l->net);
		devs_total(sn->blk, sn->n_blk, l->blk);
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* --- reading ---------------------------------------------------------------------------- */

static int64_t div_round(uint64_t num, uint64_t den)
{
	if (den == 0)
		return 0;
	return (int64_t)((num + den / 2) / den);
}

static struct json_object *point_json(const char *instance_id, time_t ts, const struct metrics_sums *s)
{
	const uint64_t *v = s->v;
	uint64_t dt = v[METRICS_SUM_DT];
	struct json_object *o;
	char when[ECS_ISO8601_LEN + 1];
	int64_t cpu = 0;

	o = json_object_new_object();
	if (!o)
		return NULL;
	if (v[METRICS_SUM_VCPU_S] > 0) {
		double pct = 100.0 * (double)v[METRICS_SUM_CPU_NS] / ((double)v[METRICS_SUM_VCPU_S] * 1e9);

		/* cpu.time also counts QEMU's own threads: it can pass 100 %. */
		cpu = pct >= 100.0 ? 100 : (int64_t)(pct + 0.5);
	}
	ecs_time_format(ts, when);

	ecs_jb_str(o, "InstanceId", instance_id);
	ecs_jb_int(o, "CPU", cpu);
	ecs_jb_int(o, "IntranetRX", div_round(v[METRICS_SUM_RX_BYTES] * 8, 1000));
	ecs_jb_int(o, "IntranetTX", div_round(v[METRICS_SUM_TX_BYTES] * 8, 1000));
	ecs_jb_int(o, "IntranetBandwidth",
		   div_round((v[METRICS_SUM_RX_BYTES] + v[METRICS_SUM_TX_BYTES]) * 8, dt * 1000));
	/* No public addresses yet: everything is intranet traffic. */
	ecs_jb_int(o, "InternetRX", 0);
	ecs_jb_int(o, "InternetTX", 0);
	ecs_jb_int(o, "InternetBandwidth", 0);
	ecs_jb_int(o, "IOPSRead", div_round(v[METRICS_SUM_RD_REQS], dt));
	ecs_jb_int(o, "IOPSWrite", div_round(v[METRICS_SUM_WR_REQS], dt));
	ecs_jb_int(o, "BPSRead", div_round(v[METRICS_SUM_RD_BYTES], dt));
	ecs_jb_int(o, "BPSWrite", div_round(v[METRICS_SUM_WR_BYTES], dt));
	ecs_jb_str(o, "TimeStamp", when);
	if (v[METRICS_SUM_MEM_N] > 0)
		ecs_jb_int(o, "Memory", div_round(v[METRICS_SUM_MEM_KIB], v[METRICS_SUM_MEM_N] * 1024));
	ecs_jb_int(o, "RxPackets", div_round(v[METRICS_SUM_RX_PKTS], dt));
	ecs_jb_int(o, "TxPackets", div_round(v[METRICS_SUM_TX_PKTS], dt));
	return o;
}

/* How many period starts k * period lie in [start, end). */
static int64_t points_in_range(time_t start, time_t end, int period)
{
	time_t first = align_down(start + period - 1, period);

	if (end <= first)
		return 0;
	return (end - first + period - 1) / period;
}

int agent_metrics_query(struct agent_metrics *m, const char *instance_id, time_t start, time_t end, int period,
			struct json_object **ret)
{
	struct json_object *arr;
	sqlite3_stmt *st;
	int res, r;

	res = res_from_period(period);
	if (res < 0 || !instance_id_valid(instance_id) || start < 0 || end < start || end > METRICS_TIME_MAX)
		return -EINVAL;
	if (points_in_range(start, end, period) > AGENT_METRICS_MAX_POINTS)
		return -E2BIG;

	arr = json_object_new_array();
	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	st = m->select[res];
	sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, start);
	sqlite3_bind_int64(st, 3, end);
	sqlite3_bind_int(st, 4, AGENT_METRICS_MAX_POINTS);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct metrics_sums s;
		struct json_object *o;

		for (int i = 0; i < _METRICS_SUM_MAX; i++) {
			sqlite3_int64 x = sqlite3_column_int64(st, 1 + i);

			s.v[i] = x > 0 ? (uint64_t)x : 0;
		}
		o = point_json(instance_id, (time_t)sqlite3_column_int64(st, 0), &s);
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			r = -ENOMEM;
			goto fail;
		}
	}
	if (r != SQLITE_DONE) {
		r = db_fail(m, "query", instance_id);
		goto fail;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&m->lock);
	*ret = arr;
	return 0;
fail:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&m->lock);
	json_object_put(arr);
	return r;
}

/* --- forgetting ------------------------------------------------------------------------- */

static int prune_body(struct agent_metrics *m, void *arg)
{
	time_t now = *(const time_t *)arg;
	int r;

	for (int i = 0; i < _METRICS_RES_MAX; i++) {
		sqlite3_bind_int64(m->prune[i], 1, now - AGENT_METRICS_RETENTION_S);
		r = db_step_done(m, m->prune[i], "prune", NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_metrics_prune(struct agent_metrics *m, time_t now)
{
	return tx(m, prune_body, &now);
}

static int forget_body(struct agent_metrics *m, void *arg)
{
	const char *instance_id = arg;
	int r;

	for (int i = 0; i < _METRICS_RES_MAX; i++) {
		sqlite3_bind_text(m->forget[i], 1, instance_id, -1, SQLITE_STATIC);
		r = db_step_done(m, m->forget[i], "forget", instance_id);
		if (r < 0)
			return r;
	}
	return 0;
}

int agent_metrics_forget(struct agent_metrics *m, const char *instance_id)
{
	struct metrics_state *st;
	int r;

	if (!instance_id_valid(instance_id))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	r = tx_locked(m, forget_body, (void *)instance_id);
	if (r == 0) {
		st = state_find(m, instance_id);
		if (st)
			state_remove(m, st);
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}
