#define SQLITE_ENABLE_SESSION 1 /* sqlite3changeset_apply */
#include "ha.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <rados/librados.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ceph.h"
#include "journal.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define BLOCKLIST_EXPIRE_S 3600
#define TAIL_BATCH 256

enum { ROLE_NONE, ROLE_STANDBY, ROLE_ACTIVE, ROLE_FENCED };

static struct {
	struct ctl *c;
	char **argv;
	rados_t cluster;
	bool connected;
	struct ctl_journal *j;
	char *db_path;
	char snap_name[200]; /* NAME.snap: the snapshot of seq S is NAME.snap.S */
	uint64_t snap_seq, prev_snap_seq; /* the active's latest two snapshots */
	bool have_prev;
	char owner[128]; /* our client's address */
	bool bootstrap;	 /* no journal yet: we make it */
	sqlite3 *apply;	 /* the standby's connection: no triggers, no foreign-key actions */
	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	volatile int role;
	char id[40];
	uint64_t epoch, seq; /* the local copy: the last entry in it and its epoch */
	char active_endpoint[128];
	void (*promote)(struct ctl *c);
	uint64_t conflicts;
} ha = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

const char *ctl_ha_role(void)
{
	switch (ha.role) {
	case ROLE_ACTIVE:
		return "active";
	case ROLE_STANDBY:
	case ROLE_FENCED:
		return "standby";
	default:
		return "";
	}
}

bool ctl_ha_refuses_writes(void)
{
	return ha.role != ROLE_NONE && ha.role != ROLE_ACTIVE;
}

void ctl_ha_active_endpoint(char *out, size_t size)
{
	pthread_mutex_lock(&ha.lock);
	snprintf(out, size, "%s", ha.active_endpoint);
	pthread_mutex_unlock(&ha.lock);
}

/* "v2:127.0.0.1:0/123" or "[v2:…,v1:…]" -> "127.0.0.1:0/123" (what osd blocklist takes). */
static void client_addr(const char *addrs, char *out, size_t size)
{
	const char *p = addrs + strspn(addrs, "[");
	size_t n;

	if (str_has_prefix(p, "v2:") || str_has_prefix(p, "v1:"))
		p += 3;
	else if (str_has_prefix(p, "any:"))
		p += 4;
	n = strcspn(p, ",]");
	snprintf(out, size, "%.*s", (int)n, p);
}

static int blocklist_add(const char *addr)
{
	_cleanup_free_ char *cmd = ecs_strdup_printf(
		"{\"prefix\":\"osd blocklist\",\"blocklistop\":\"add\",\"addr\":\"%s\",\"expire\":%d.0}", addr,
		BLOCKLIST_EXPIRE_S);
	const char *cmds[1] = { cmd };
	char *out = NULL, *outs = NULL;
	size_t outlen = 0, outslen = 0;
	int r = cmd ? rados_mon_command(ha.cluster, cmds, 1, "", 0, &out, &outlen, &outs, &outslen) : -ENOMEM;

	if (r < 0)
		log_error("controller ha: cannot blocklist the old active controller", "addr=%s error=\"%s %.*s\"", addr,
			  strerror(-r), (int)outslen, outs ? outs : "");
	rados_buffer_free(out);
	rados_buffer_free(outs);
	return r;
}

/* ---- the local copy's place in the journal (table ha_state, never journaled) ---- */

static int read_state(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int r = -ENOENT;

	if (sqlite3_prepare_v2(db, "SELECT journal_id, epoch, seq FROM ha_state WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
		return -ENOENT;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(ha.id, sizeof(ha.id), "%s", (const char *)sqlite3_column_text(st, 0));
		ha.epoch = (uint64_t)sqlite3_column_int64(st, 1);
		ha.seq = (uint64_t)sqlite3_column_int64(st, 2);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

static int entry_epoch_cb(void *arg, uint64_t seq, const void *data, size_t len)
{
	uint64_t *out = arg, e = 0;

	if (seq != ha.seq || len < CTL_JOURNAL_HDR)
		return -ESPIPE;
	for (int i = 0; i < 8; i++)
		e |= (uint64_t)((const unsigned char *)data)[i] << (8 * i);
	*out = e;
	return 0;
}

/* Whether the copy at db_path is a prefix of the journal whose head is h. */
static bool local_copy_ok(const struct ctl_journal_head *h)
{
	sqlite3 *db = NULL;
	uint64_t e = 0;
	int r;

	if (access(ha.db_path, F_OK) < 0)
		return false;
	if (sqlite3_open_v2(ha.db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return false;
	}
	r = read_state(db);
	sqlite3_close(db);
	if (r < 0 || !streq(ha.id, h->id) || ha.seq < h->snap_seq)
		return false;
	if (ha.seq == 0)
		return true;
	/* The entry is there (trimming keeps every entry after the snapshot before the latest). */
	r = ctl_journal_read(ha.j, ha.seq - 1, 1, entry_epoch_cb, &e);
	return r == 1 && e == ha.epoch;
}

static void snap_oid(uint64_t seq, char out[256])
{
	snprintf(out, 256, "%s.%" PRIu64, ha.snap_name, seq);
}

static int restore_snapshot(uint64_t seq)
{
	char oid[256];
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.restore", ha.db_path);
	_cleanup_free_ char *wal = ecs_strdup_printf("%s-wal", ha.db_path);
	_cleanup_free_ char *shm = ecs_strdup_printf("%s-shm", ha.db_path);
	rados_ioctx_t io = ctl_journal_ioctx(ha.j);
	uint64_t size = 0, off = 0;
	time_t mtime;
	char *buf = malloc(4 << 20);
	int fd, r;

	if (!tmp || !wal || !shm || !buf) {
		free(buf);
		return -ENOMEM;
	}
	snap_oid(seq, oid);
	r = rados_stat(io, oid, &size, &mtime);
	fd = r < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (r >= 0 && fd < 0)
		r = -errno;
	while (r >= 0 && off < size) {
		int n = rados_read(io, oid, buf, 4 << 20, off);

		if (n <= 0) {
			r = n < 0 ? n : -EIO;
			break;
		}
		if (write(fd, buf, (size_t)n) != n)
			r = -EIO;
		off += (uint64_t)n;
	}
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	if (r >= 0) {
		unlink(wal);
		unlink(shm);
		if (rename(tmp, ha.db_path) < 0)
			r = -errno;
	}
	if (r < 0) {
		unlink(tmp);
		log_error("controller ha: cannot restore the snapshot", "object=%s error=\"%s\"", oid, strerror(-r));
		return r;
	}
	log_info("controller ha: local copy replaced by the snapshot", "object=%s bytes=%" PRIu64, oid, size);
	return 0;
}

int ctl_ha_prepare(struct ctl *c, char **argv)
{
	struct ctl_journal_head h;
	_cleanup_free_ char *oid = ecs_strdup_printf("%s.journal", c->cfg.ha_name);
	char err[256] = "", *addrs = NULL;
	int r;

	ha.c = c;
	ha.argv = argv;
	ha.db_path = ecs_strdup_printf("%s/controller.db", c->cfg.data_dir);
	snprintf(ha.snap_name, sizeof(ha.snap_name), "%s.snap", c->cfg.ha_name);
	if (!oid || !ha.db_path)
		return -ENOMEM;
	r = ecs_mkdirs(c->cfg.data_dir, 0755);
	if (r < 0) {
		log_error("controller ha: cannot make the data dir", "path=%s error=\"%s\"", c->cfg.data_dir, strerror(-r));
		return r;
	}
	chmod(c->cfg.data_dir, 0700); /* secrets live in the database */
	r = ctl_ceph_connect(c, &ha.cluster, err, sizeof(err));
	if (r < 0) {
		log_error("controller ha: cannot reach the storage cluster", "error=\"%s\"", err);
		return r;
	}
	ha.connected = true;
	if (rados_getaddrs(ha.cluster, &addrs) == 0) {
		client_addr(addrs, ha.owner, sizeof(ha.owner));
		rados_buffer_free(addrs);
	}
	r = ctl_journal_open(ha.cluster, c->cfg.ha_pool, oid, &ha.j);
	if (r < 0) {
		log_error("controller ha: cannot open the pool", "pool=%s error=\"%s\"", c->cfg.ha_pool, strerror(-r));
		return r;
	}
	r = ctl_journal_head(ha.j, &h);
	if (r == -ENOENT) {
		ha.bootstrap = true;
		return 0;
	}
	if (r < 0) {
		log_error("controller ha: cannot read the journal", "object=%s error=\"%s\"", oid, strerror(-r));
		return r;
	}
	if (local_copy_ok(&h)) {
		log_info("controller ha: local copy is in the journal", "seq=%" PRIu64 " epoch=%" PRIu64, ha.seq, ha.epoch);
		return 0;
	}
	return restore_snapshot(h.snap_seq);
}

/* ---- the standby: the journal's tail into the local copy ---- */

static int conflict_cb(void *arg, int kind, sqlite3_changeset_iter *it)
{
	(void)arg;
	(void)it;
	ha.conflicts++;
	if (kind == SQLITE_CHANGESET_DATA || kind == SQLITE_CHANGESET_CONFLICT)
		return SQLITE_CHANGESET_REPLACE;
	return SQLITE_CHANGESET_OMIT;
}

struct tail {
	uint64_t seq, epoch;
	int n;
};

static int apply_cb(void *arg, uint64_t seq, const void *data, size_t len)
{
	struct tail *t = arg;
	const unsigned char *d = data;
	uint64_t e = 0;
	uint32_t schema = 0;
	int r;

	if (seq != t->seq + 1 || len < CTL_JOURNAL_HDR) {
		log_error("controller ha: a gap in the journal", "have=%" PRIu64 " next=%" PRIu64, t->seq, seq);
		return -ESPIPE;
	}
	for (int i = 0; i < 8; i++)
		e |= (uint64_t)d[i] << (8 * i);
	for (int i = 0; i < 4; i++)
		schema |= (uint32_t)d[8 + i] << (8 * i);
	if ((int)schema > ctl_store_schema_version()) {
		log_error("controller ha: the journal is of a newer schema", "schema=%u", schema);
		return -EPROTO;
	}
	if (len > CTL_JOURNAL_HDR) {
		r = sqlite3changeset_apply(ha.apply, (int)(len - CTL_JOURNAL_HDR), (void *)(d + CTL_JOURNAL_HDR), NULL,
					   conflict_cb, NULL);
		if (r != SQLITE_OK) {
			log_error("controller ha: cannot apply an entry", "seq=%" PRIu64 " error=\"%s\"", seq,
				  sqlite3_errmsg(ha.apply));
			return -EIO;
		}
	}
	t->seq = seq;
	t->epoch = e;
	t->n++;
	return 0;
}

static int exec(const char *sql)
{
	return sqlite3_exec(ha.apply, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int save_state(void)
{
	sqlite3_stmt *st = NULL;
	int r = -EIO;

	if (sqlite3_prepare_v2(ha.apply, "UPDATE ha_state SET journal_id = ?1, epoch = ?2, seq = ?3 WHERE id = 1", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ha.id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)ha.epoch);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)ha.seq);
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	return r;
}

/* Apply the next entries (one transaction): how many, or < 0. */
static int tail_once(void)
{
	struct tail t = { .seq = ha.seq, .epoch = ha.epoch };
	int r;

	if (exec("BEGIN IMMEDIATE") < 0)
		return -EIO;
	r = ctl_journal_read(ha.j, ha.seq, TAIL_BATCH, apply_cb, &t);
	if (r > 0) {
		uint64_t seq = ha.seq, epoch = ha.epoch;

		ha.seq = t.seq;
		ha.epoch = t.epoch;
		if (save_state() < 0 || exec("COMMIT") < 0) {
			ha.seq = seq;
			ha.epoch = epoch;
			r = -EIO;
		}
	}
	if (r <= 0)
		exec("ROLLBACK");
	return r < 0 ? r : t.n;
}

/* ---- roles ---- */

static void step_down(void *arg, int err)
{
	(void)arg;
	if (ha.role != ROLE_ACTIVE)
		return;
	ctl_store_set_writable(false);
	ha.role = ROLE_FENCED;
	log_error("controller ha: stepped down", "epoch=%" PRIu64 " error=\"%s\"", ha.epoch, strerror(-err));
	pthread_mutex_lock(&ha.lock);
	pthread_cond_signal(&ha.wake);
	pthread_mutex_unlock(&ha.lock);
}

static int become_active(uint64_t epoch)
{
	int r;

	ha.epoch = epoch;
	r = ctl_journal_writer_start(ha.j, epoch, ha.seq + 1, ctl_store_schema_version());
	if (r < 0)
		return r;
	pthread_mutex_lock(&ha.lock);
	snprintf(ha.active_endpoint, sizeof(ha.active_endpoint), "%s", ha.c->cfg.ha_endpoint);
	pthread_mutex_unlock(&ha.lock);
	ctl_store_set_writable(true);
	ha.role = ROLE_ACTIVE;
	log_info("controller ha: active", "epoch=%" PRIu64 " seq=%" PRIu64 " client=%s", epoch, ha.seq, ha.owner);
	if (ha.promote)
		ha.promote(ha.c);
	return 0;
}

static void take_over(const struct ctl_journal_head *h)
{
	int r;

	log_info("controller ha: the lease expired", "epoch=%" PRIu64 " owner=%s", h->epoch, h->owner);
	if (h->owner[0] && !streq(h->owner, ha.owner) && blocklist_add(h->owner) < 0)
		return;
	r = ctl_journal_takeover(ha.j, h->epoch, ha.owner, ha.c->cfg.ha_endpoint);
	if (r < 0) {
		log_warn("controller ha: the takeover lost", "epoch=%" PRIu64 " error=\"%s\"", h->epoch, strerror(-r));
		return;
	}
	/* The old epoch can append nothing now: what the journal holds is all there is. */
	for (int i = 0; i < 1000000; i++) {
		r = tail_once();
		if (r <= 0)
			break;
	}
	if (r < 0) {
		log_error("controller ha: cannot replay the journal's tail", "error=\"%s\"", strerror(-r));
		return;
	}
	ha.snap_seq = h->snap_seq;
	ha.have_prev = false;
	if (become_active(h->epoch + 1) < 0)
		log_error("controller ha: cannot start the journal's writer", NULL);
}

static void reexec(void)
{
	log_info("controller ha: restarting as a standby", NULL);
	execv("/proc/self/exe", ha.argv);
	log_error("controller ha: cannot execute itself again", "error=\"%m\"");
	_exit(75);
}

static void snapshot_and_trim(uint64_t beat);

static void *ha_main(void *arg)
{
	uint64_t seen_beat = UINT64_MAX, seen_epoch = 0, beat = 0;
	long long seen_at = now_ms(), period = ha.c->cfg.ha_lease_ms / 4;

	(void)arg;
	pthread_mutex_lock(&ha.lock);
	while (!ha.stopping) {
		struct timespec until;
		long long ns;

		pthread_mutex_unlock(&ha.lock);
		if (ha.role == ROLE_FENCED) {
			sleep(1); /* calls in flight get their errors */
			if (!ha.c->stopping)
				reexec();
			pthread_mutex_lock(&ha.lock);
			while (!ha.stopping)
				pthread_cond_wait(&ha.wake, &ha.lock);
			pthread_mutex_unlock(&ha.lock);
		} else if (ha.role == ROLE_ACTIVE) {
			int r = ctl_journal_renew(ha.j, ha.epoch, ++beat, 0);

			if (r == -ECANCELED || r == -ESHUTDOWN /* blocklisted */)
				step_down(NULL, r);
			else if (r < 0)
				log_warn("controller ha: cannot renew the lease", "error=\"%s\"", strerror(-r));
			else if (ctl_journal_durable(ha.j) >= ha.snap_seq + (uint64_t)ha.c->cfg.ha_snapshot_entries)
				snapshot_and_trim(++beat);
		} else {
			struct ctl_journal_head h;

			int r;

			while ((r = tail_once()) > 0 && !ha.stopping)
				;
			if ((r == -ESPIPE || r == -EPROTO) && !ha.c->stopping)
				reexec(); /* trimmed past us or a newer schema: start over from the snapshot */
			if (ctl_journal_head(ha.j, &h) == 0) {
				if (h.beat != seen_beat || h.epoch != seen_epoch) {
					seen_beat = h.beat;
					seen_epoch = h.epoch;
					seen_at = now_ms();
				}
				pthread_mutex_lock(&ha.lock);
				snprintf(ha.active_endpoint, sizeof(ha.active_endpoint), "%s", h.endpoint);
				pthread_mutex_unlock(&ha.lock);
				if (now_ms() - seen_at >= ha.c->cfg.ha_lease_ms)
					take_over(&h);
			}
		}
		pthread_mutex_lock(&ha.lock);
		clock_gettime(CLOCK_REALTIME, &until);
		ns = until.tv_nsec + period * 1000000LL;
		until.tv_sec += ns / 1000000000LL;
		until.tv_nsec = ns % 1000000000LL;
		if (!ha.stopping && ha.role != ROLE_FENCED)
			pthread_cond_timedwait(&ha.wake, &ha.lock, &until);
	}
	pthread_mutex_unlock(&ha.lock);
	return NULL;
}

/* ---- start ---- */

/* A copy of src's database as NAME.snap.SEQ. */
static int snapshot_upload(sqlite3 *src, uint64_t seq)
{
	_cleanup_free_ char *tmp = ecs_strdup_printf("%s.snap", ha.db_path);
	_cleanup_free_ char *data = NULL;
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	char oid[256];
	size_t len = 0;
	int r = -EIO;

	if (!tmp)
		return -ENOMEM;
	snap_oid(seq, oid);
	unlink(tmp);
	if (sqlite3_open(tmp, &dst) == SQLITE_OK && (b = sqlite3_backup_init(dst, "main", src, "main"))) {
		r = sqlite3_backup_step(b, -1) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_backup_finish(b);
	}
	sqlite3_close(dst);
	if (r == 0)
		r = ecs_read_file(tmp, (size_t)1 << 30, &data, &len);
	unlink(tmp);
	if (r == 0)
		r = rados_write_full(ctl_journal_ioctx(ha.j), oid, data, len);
	if (r < 0)
		log_error("controller ha: cannot write the snapshot", "object=%s error=\"%s\"", oid, strerror(-r));
	else
		log_info("controller ha: snapshot written", "object=%s bytes=%zu seq=%" PRIu64, oid, len, seq);
	return r;
}

/* The active's periodic snapshot: one read transaction (writers go on) copies the database
 * as of its last entry S once every entry up to S is in the journal; then the head
 * names it and the entries up to the snapshot before it are trimmed, with its object
 * (a reader still fetching that one finds the entries after it). */
static void snapshot_and_trim(uint64_t beat)
{
	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(ha.c->store);
	sqlite3_stmt *st;
	uint64_t seq = 0;
	char oid[256];
	int r;

	if (!conn.db || ctl_db_exec(conn.db, "BEGIN") < 0)
		return;
	st = ctl_db_prepare(conn.db, "SELECT seq FROM ha_state WHERE id = 1");
	if (st && sqlite3_step(st) == SQLITE_ROW)
		seq = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	r = seq > ha.snap_seq ? ctl_journal_wait(ha.j, seq) : -EALREADY;
	if (r == 0)
		r = snapshot_upload(conn.db, seq);
	sqlite3_exec(conn.db, "ROLLBACK", NULL, NULL, NULL);
	if (r < 0 || ctl_journal_renew(ha.j, ha.epoch, beat, seq) < 0)
		return;
	if (ctl_journal_trim(ha.j, ha.epoch, ha.snap_seq) == 0) {
		if (ha.have_prev) {
			snap_oid(ha.prev_snap_seq, oid);
			rados_remove(ctl_journal_ioctx(ha.j), oid);
		}
		log_info("controller ha: journal trimmed", "upto=%" PRIu64, ha.snap_seq);
	}
	ha.prev_snap_seq = ha.snap_seq;
	ha.have_prev = true;
	ha.snap_seq = seq;
}

static int open_apply(void)
{
	if (sqlite3_open_v2(ha.db_path, &ha.apply, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_busy_timeout(ha.apply, 10000);
	sqlite3_db_config(ha.apply, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	if (exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
		 "CREATE TABLE IF NOT EXISTS ha_state (id INTEGER PRIMARY KEY CHECK (id = 1), journal_id TEXT NOT NULL,"
		 " epoch INTEGER NOT NULL, seq INTEGER NOT NULL);"
		 "INSERT OR IGNORE INTO ha_state VALUES (1, '', 0, 0);") < 0)
		return -EIO;
	return read_state(ha.apply);
}

static int bootstrap(void)
{
	unsigned char rnd[16];
	struct ctl_journal_head h = { .snap_seq = 0 };
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(ha.id + 2 * i, 3, "%02x", rnd[i]);
	ha.epoch = 1;
	ha.seq = 0;
	if (save_state() < 0 || snapshot_upload(ha.apply, 0) < 0)
		return -EIO;
	snprintf(h.id, sizeof(h.id), "%s", ha.id);
	snprintf(h.owner, sizeof(h.owner), "%s", ha.owner);
	snprintf(h.endpoint, sizeof(h.endpoint), "%s", ha.c->cfg.ha_endpoint);
	r = ctl_journal_create(ha.j, &h);
	if (r < 0) {
		log_error("controller ha: cannot make the journal (another controller made it first? start again)",
			  "error=\"%s\"", strerror(-r));
		return r;
	}
	log_info("controller ha: journal made", "id=%s", ha.id);
	return become_active(1);
}

int ctl_ha_start(struct ctl *c, void (*promote)(struct ctl *c))
{
	int r;

	ha.promote = promote;
	r = open_apply();
	if (r < 0) {
		log_error("controller ha: cannot open the local copy", "path=%s", ha.db_path);
		return r;
	}
	r = ctl_store_journal_enable(c->store, ha.j);
	if (r < 0)
		return r;
	ctl_journal_on_failure(ha.j, step_down, NULL);
	if (ha.bootstrap) {
		r = bootstrap();
		if (r < 0)
			return r;
	} else {
		ha.role = ROLE_STANDBY;
		log_info("controller ha: standby", "seq=%" PRIu64 " epoch=%" PRIu64, ha.seq, ha.epoch);
	}
	r = -pthread_create(&ha.thread, NULL, ha_main, NULL);
	if (r == 0)
		ha.thread_running = true;
	return r;
}

void ctl_ha_stop(struct ctl *c)
{
	(void)c;
	if (ha.thread_running) {
		pthread_mutex_lock(&ha.lock);
		ha.stopping = true;
		pthread_cond_signal(&ha.wake);
		pthread_mutex_unlock(&ha.lock);
		pthread_join(ha.thread, NULL);
		ha.thread_running = false;
	}
	ctl_store_set_writable(false);
	ctl_journal_close(ha.j);
	ha.j = NULL;
	if (ha.connected)
		rados_shutdown(ha.cluster);
	ha.connected = false;
	sqlite3_close(ha.apply);
	ha.apply = NULL;
	free(ha.db_path);
	ha.db_path = NULL;
}
