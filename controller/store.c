#define SQLITE_ENABLE_SESSION 1 /* sqlite3session_* (the change journal) */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "journal.h"
#include "log.h"
#include "util.h"

/* The change journal's hooks (the end of this file); ha_journal NULL: not enabled. */
static struct ctl_journal *ha_journal;
static int ha_tx_begin(sqlite3 *db);
static int ha_tx_commit(sqlite3 *db);
static void ha_tx_end(sqlite3 *db);
static bool ha_wrap(sqlite3 *db, const char *sql);
static void ha_conn_add(sqlite3 *db);

struct ctl_store {
	char *path;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sqlite3 *free[CTL_DB_POOL];
	size_t n_free, n_open;
};

/* Migrations, in order. Never edit one that has shipped: add the next. */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE accounts ("
	"  account_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, access_key_id TEXT NOT NULL UNIQUE,"
	"  access_key_secret TEXT NOT NULL, created_at INTEGER NOT NULL,"
	"  quota_instances INTEGER, quota_vcpus INTEGER, quota_disks INTEGER, quota_snapshots INTEGER);"
	"CREATE TABLE hosts ("
	"  host_id TEXT PRIMARY KEY, api_url TEXT NOT NULL, zone_id TEXT NOT NULL, hypervisor TEXT NOT NULL,"
	"  vcpus INTEGER NOT NULL, memory_mib INTEGER NOT NULL, disk_gib INTEGER NOT NULL,"
	"  max_instances INTEGER NOT NULL, images TEXT NOT NULL DEFAULT '[]',"
	"  last_seen INTEGER NOT NULL, state TEXT NOT NULL);"
	"CREATE TABLE instances ("
	"  instance_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,"
	"  hostname TEXT NOT NULL, image_id TEXT NOT NULL, instance_type TEXT NOT NULL, vcpus INTEGER NOT NULL,"
	"  memory_mib INTEGER NOT NULL, zone_id TEXT NOT NULL, host_id TEXT, status TEXT NOT NULL,"
	"  desired TEXT NOT NULL, private_ip TEXT, mac TEXT NOT NULL, key_pair_name TEXT NOT NULL,"
	"  password_hash TEXT NOT NULL, user_data TEXT NOT NULL, internet_max_bandwidth_out INTEGER NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '[]', error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
	"  started_at INTEGER, transition_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX instances_account ON instances (account_id, deleted, instance_id);"
	"CREATE INDEX instances_host ON instances (host_id);"
	"CREATE TABLE disks ("
	"  disk_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, zone_id TEXT NOT NULL, name TEXT NOT NULL,"
	"  description TEXT NOT NULL, type TEXT NOT NULL, category TEXT NOT NULL, size_gib INTEGER NOT NULL,"
	"  image_id TEXT NOT NULL, source_snapshot_id TEXT NOT NULL, status TEXT NOT NULL, instance_id TEXT,"
	"  device TEXT NOT NULL DEFAULT '', host_id TEXT, delete_with_instance INTEGER NOT NULL,"
	"  policy_id TEXT, created_at INTEGER NOT NULL, attached_at INTEGER, deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX disks_account ON disks (account_id, deleted, disk_id);"
	"CREATE INDEX disks_instance ON disks (instance_id);"
	"CREATE TABLE snapshots ("
	"  snapshot_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,"
	"  disk_id TEXT NOT NULL, disk_type TEXT NOT NULL, disk_size INTEGER NOT NULL, status TEXT NOT NULL,"
	"  host_id TEXT, policy_id TEXT, created_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX snapshots_account ON snapshots (account_id, deleted, disk_id);"
	"CREATE TABLE images ("
	"  image_id TEXT PRIMARY KEY, account_id TEXT, name TEXT NOT NULL, description TEXT NOT NULL,"
	"  size_gib INTEGER NOT NULL, os_name TEXT NOT NULL, os_type TEXT NOT NULL, architecture TEXT NOT NULL,"
	"  status TEXT NOT NULL, source_snapshot_id TEXT NOT NULL, owner_alias TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE key_pairs ("
	"  account_id TEXT NOT NULL, name TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL, key_pair_id TEXT NOT NULL DEFAULT '', PRIMARY KEY (account_id, name));"
	"CREATE TABLE auto_snapshot_policies ("
	"  policy_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, time_points TEXT NOT NULL,"
	"  repeat_weekdays TEXT NOT NULL, retention_days INTEGER NOT NULL, created_at INTEGER NOT NULL);"
	/* One row per disk and time point (slot "YYYY-MM-DDTHH", the policy's time zone):
	 * state pending (booked, the snapshot being asked for), taken, skipped, failed. */
	"CREATE TABLE policy_runs ("
	"  disk_id TEXT NOT NULL, slot TEXT NOT NULL, snapshot_id TEXT NOT NULL, policy_id TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL DEFAULT 'taken', at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (disk_id, slot));"
	"CREATE INDEX disks_policy ON disks (policy_id);"
	"CREATE INDEX snapshots_policy ON snapshots (policy_id, created_at);"
	"CREATE TABLE signature_nonces ("
	"  access_key_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL,"
	"  PRIMARY KEY (access_key_id, nonce));"
	"CREATE TABLE client_tokens ("
	"  account_id TEXT NOT NULL, action TEXT NOT NULL, token TEXT NOT NULL, status INTEGER NOT NULL,"
	"  body TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (account_id, action, token));"
	"CREATE TABLE ip_leases (ip TEXT PRIMARY KEY, instance_id TEXT NOT NULL);"
	"CREATE TABLE jobs ("
	"  job_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, resource_id TEXT NOT NULL, op TEXT NOT NULL,"
	"  args TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX jobs_resource ON jobs (resource_id);",
	/* 2: DescribeInstances at thousands per second: an index in its order, and each account's
	 * count of visible instances kept by triggers (TotalCount without a scan). */
	"CREATE INDEX instances_list ON instances (account_id, deleted, created_at DESC, instance_id, desired);"
	"CREATE TABLE instance_counts (account_id TEXT PRIMARY KEY, n INTEGER NOT NULL);"
	"INSERT INTO instance_counts SELECT account_id, count(*) FROM instances WHERE deleted = 0 AND"
	"  desired != 'deleted' GROUP BY account_id;"
	"CREATE TRIGGER instances_count_insert AFTER INSERT ON instances WHEN new.deleted = 0 AND new.desired != 'deleted'"
	" BEGIN INSERT INTO instance_counts VALUES (new.account_id, 1) ON CONFLICT (account_id) DO UPDATE SET n = n + 1; END;"
	"CREATE TRIGGER instances_count_update AFTER UPDATE OF deleted, desired ON instances"
	" WHEN (old.deleted = 0 AND old.desired != 'deleted') != (new.deleted = 0 AND new.desired != 'deleted')"
	" BEGIN INSERT INTO instance_counts VALUES (new.account_id, 0) ON CONFLICT (account_id) DO NOTHING;"
	" UPDATE instance_counts SET n = n + CASE WHEN new.deleted = 0 AND new.desired != 'deleted' THEN 1 ELSE -1 END"
	" WHERE account_id = new.account_id; END;"
	"CREATE TRIGGER instances_count_delete AFTER DELETE ON instances WHEN old.deleted = 0 AND old.desired != 'deleted'"
	" BEGIN UPDATE instance_counts SET n = n - 1 WHERE account_id = old.account_id; END;",
	/* 3: security groups (secgroup.h). A rule is one row; its identity (what makes two
	 * AuthorizeSecurityGroup calls the same rule) is the UNIQUE tuple, the description is
	 * not part of it. peer_group_id is '' or a group of the same account (checked by the
	 * actions; '' cannot be a foreign key). An instance is in 1-5 groups, ordered by
	 * position. The security generation is one counter, bumped in the transaction of every
	 * change an agent must enforce; agents compare it with what they applied. */
	"CREATE TABLE security_groups ("
	"  group_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,"
	"  vpc_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);"
	"CREATE INDEX security_groups_account ON security_groups (account_id, created_at);"
	"CREATE TABLE security_group_rules ("
	"  rule_id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  group_id TEXT NOT NULL REFERENCES security_groups (group_id) ON DELETE CASCADE,"
	"  direction TEXT NOT NULL, ip_protocol TEXT NOT NULL, port_range TEXT NOT NULL, cidr TEXT NOT NULL,"
	"  peer_group_id TEXT NOT NULL, policy TEXT NOT NULL, priority INTEGER NOT NULL, nic_type TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
	"  UNIQUE (group_id, direction, ip_protocol, port_range, cidr, peer_group_id, policy, priority, nic_type));"
	"CREATE INDEX security_group_rules_peer ON security_group_rules (peer_group_id);"
	"CREATE TABLE instance_security_groups ("
	"  instance_id TEXT NOT NULL, group_id TEXT NOT NULL REFERENCES security_groups (group_id),"
	"  position INTEGER NOT NULL, PRIMARY KEY (instance_id, group_id));"
	"CREATE INDEX instance_security_groups_group ON instance_security_groups (group_id);"
	"CREATE TABLE security_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);"
	"INSERT INTO security_generation VALUES (1, 0);",
	/* 4: load balancers and public IPs (slb.h, eip.h). An LB lives on one host (host_id); a
	 * deleted one keeps its row (deleted = 1) and its address until its agent let go of
	 * it. Listeners are keyed by (protocol, port): a TCP and a UDP listener may share a
	 * port. A backend is an instance of the LB's account. public_ips leases the public pool:
	 * an internet LB's VIP (owner_id lb-…) or an instance's public IP (owner_id i-…, on the
	 * instance's host; "releasing" until its agent let go of it). hosts.lb_synced_at: when
	 * the host's agent was last compared with these tables. */
	"ALTER TABLE hosts ADD COLUMN lb_synced_at INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE load_balancers ("
	"  lb_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, address TEXT NOT NULL UNIQUE,"
	"  address_type TEXT NOT NULL, network_type TEXT NOT NULL, vpc_id TEXT NOT NULL, vswitch_id TEXT NOT NULL,"
	"  spec TEXT NOT NULL, charge_type TEXT NOT NULL, bandwidth INTEGER NOT NULL, zone_id TEXT NOT NULL,"
	"  status TEXT NOT NULL, host_id TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
	"  deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX load_balancers_account ON load_balancers (account_id, deleted, created_at);"
	"CREATE INDEX load_balancers_host ON load_balancers (host_id);"
	"CREATE TABLE lb_listeners ("
	"  lb_id TEXT NOT NULL REFERENCES load_balancers (lb_id) ON DELETE CASCADE, protocol TEXT NOT NULL,"
	"  port INTEGER NOT NULL, backend_port INTEGER NOT NULL, bandwidth INTEGER NOT NULL, scheduler TEXT NOT NULL,"
	"  status TEXT NOT NULL, hc_enabled INTEGER NOT NULL, hc_type TEXT NOT NULL, hc_port INTEGER NOT NULL,"
	"  hc_uri TEXT NOT NULL, hc_domain TEXT NOT NULL, hc_codes TEXT NOT NULL, hc_interval INTEGER NOT NULL,"
	"  hc_timeout INTEGER NOT NULL, healthy_threshold INTEGER NOT NULL, unhealthy_threshold INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL, PRIMARY KEY (lb_id, protocol, port));"
	"CREATE TABLE lb_backends ("
	"  lb_id TEXT NOT NULL REFERENCES load_balancers (lb_id) ON DELETE CASCADE, instance_id TEXT NOT NULL,"
	"  weight INTEGER NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (lb_id, instance_id));"
	"CREATE INDEX lb_backends_instance ON lb_backends (instance_id);"
	"CREATE TABLE public_ips ("
	"  address TEXT PRIMARY KEY, account_id TEXT NOT NULL, owner_id TEXT NOT NULL, host_id TEXT NOT NULL,"
	"  state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);"
	"CREATE INDEX public_ips_owner ON public_ips (owner_id, state);"
	"CREATE INDEX public_ips_host ON public_ips (host_id);",
	/* 5: hosts joined by the overlay (docs/architecture.md, "Network"). gateway: the address
	 * of the host's bridge its instances route through (one of the pool's host_gateways);
	 * underlay_ip and vni: its VXLAN end ('' and 0 without an overlay). lb_synced_at = -1
	 * asks for a re-sync at the host's next heartbeat (a host back from the dead). */
	"ALTER TABLE hosts ADD COLUMN gateway TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN underlay_ip TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN vni INTEGER NOT NULL DEFAULT 0;",
	/* 6: the unfiltered Describe pages from memory (listcache.h): each account's generation of
	 * its visible instances, disks and security groups, bumped by these triggers in the
	 * transaction of every change of which rows are visible or of their order. A row is
	 * never deleted (a generation never comes back). */
	"CREATE TABLE list_gens (kind TEXT NOT NULL, account_id TEXT NOT NULL, gen INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, account_id)) WITHOUT ROWID;"
	/* and covering indexes for the nested lists of a page's rows: an instance's groups in
	 * order, a group's live members (EcsCount), without a seek into the table per row. */
	"CREATE INDEX instance_security_groups_order ON instance_security_groups (instance_id, position, group_id);"
	"CREATE INDEX instances_live ON instances (instance_id, deleted);"
	"INSERT INTO list_gens SELECT 'instances', account_id, 1 FROM instances GROUP BY account_id;"
	"INSERT INTO list_gens SELECT 'disks', account_id, 1 FROM disks GROUP BY account_id;"
	"INSERT INTO list_gens SELECT 'security_groups', account_id, 1 FROM security_groups GROUP BY account_id;"
	"CREATE TRIGGER instances_gen_insert AFTER INSERT ON instances BEGIN"
	" INSERT INTO list_gens VALUES ('instances', new.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER instances_gen_update AFTER UPDATE OF deleted, desired, created_at, account_id ON instances"
	" WHEN (old.deleted = 0 AND old.desired != 'deleted') != (new.deleted = 0 AND new.desired != 'deleted')"
	"  OR old.created_at != new.created_at OR old.account_id != new.account_id BEGIN"
	" INSERT INTO list_gens VALUES ('instances', old.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" INSERT INTO list_gens VALUES ('instances', new.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER instances_gen_delete AFTER DELETE ON instances BEGIN"
	" INSERT INTO list_gens VALUES ('instances', old.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER disks_gen_insert AFTER INSERT ON disks BEGIN"
	" INSERT INTO list_gens VALUES ('disks', new.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER disks_gen_update AFTER UPDATE OF deleted, created_at, account_id ON disks"
	" WHEN old.deleted != new.deleted"
	"  OR old.created_at != new.created_at OR old.account_id != new.account_id BEGIN"
	" INSERT INTO list_gens VALUES ('disks', old.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" INSERT INTO list_gens VALUES ('disks', new.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER disks_gen_delete AFTER DELETE ON disks BEGIN"
	" INSERT INTO list_gens VALUES ('disks', old.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER security_groups_gen_insert AFTER INSERT ON security_groups BEGIN"
	" INSERT INTO list_gens VALUES ('security_groups', new.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER security_groups_gen_update AFTER UPDATE OF created_at, account_id ON security_groups"
	" WHEN old.created_at != new.created_at OR old.account_id != new.account_id BEGIN"
	" INSERT INTO list_gens VALUES ('security_groups', old.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" INSERT INTO list_gens VALUES ('security_groups', new.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;"
	"CREATE TRIGGER security_groups_gen_delete AFTER DELETE ON security_groups BEGIN"
	" INSERT INTO list_gens VALUES ('security_groups', old.account_id, 1)"
	"  ON CONFLICT (kind, account_id) DO UPDATE SET gen = gen + 1;"
	" END;",
	/* 7: the agent's state_seq of its last answer about the instance: a heartbeat whose
	 * listing began before that answer (a lower state_seq) does not overwrite its state. */
	"ALTER TABLE instances ADD COLUMN agent_seq INTEGER NOT NULL DEFAULT 0;",
	/* 8: why an image ended CreateFailed (DescribeImages' ErrorMessage): an OSS object
	 * missing or not the caller's, a disk that is no image, … */
	"ALTER TABLE images ADD COLUMN error TEXT NOT NULL DEFAULT '';",
	/* 9: hosts that heal (heal.c): a dead host's blocklisted address until its agent removed
	 * what moved away; instances' system events. */
	"ALTER TABLE hosts ADD COLUMN fenced_addr TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN fenced_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN evicted_at INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE instance_events ("
	"  event_id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, event_type TEXT NOT NULL, status TEXT NOT NULL,"
	"  reason TEXT NOT NULL, not_before INTEGER NOT NULL, published_at INTEGER NOT NULL,"
	"  finished_at INTEGER NOT NULL);"
	"CREATE INDEX instance_events_instance ON instance_events (instance_id, published_at);",
	/* 10: deployment sets (deployset.h) and each instance's set ('' for none). */
	"CREATE TABLE deployment_sets ("
	"  deployment_set_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL,"
	"  description TEXT NOT NULL, strategy TEXT NOT NULL, on_unable TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE INDEX deployment_sets_account ON deployment_sets (account_id, created_at);"
	"ALTER TABLE instances ADD COLUMN deployment_set_id TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX instances_deployment_set ON instances (deployment_set_id, deleted) WHERE deployment_set_id != '';",
	/* 11: a drained host takes no new instance; its instances are migrated off (migrate.c). */
	"ALTER TABLE hosts ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;",
	/* 12: a group's members by (group_id, instance_id), covering: DescribeSecurityGroups'
	 * EcsCount reads each member's id from the index, not from a seek into the table per
	 * member. The index on group_id alone is its prefix. */
	"CREATE INDEX instance_security_groups_members ON instance_security_groups (group_id, instance_id);"
	"DROP INDEX instance_security_groups_group;",
};

int ctl_store_schema_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

int ctl_db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (ha_journal && ha_wrap(db, sql)) {
		int r = ha_tx_begin(db);

		if (r < 0)
			return r;
		if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
			return ha_tx_commit(db);
		log_error("controller db: statement failed", "sql=\"%.80s\" error=\"%s\"", sql, err ? err : "?");
		sqlite3_free(err);
		ctl_db_tx_rollback(db);
		return -EIO;
	}
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("controller db: statement failed", "sql=\"%.80s\" error=\"%s\"", sql, err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

sqlite3_stmt *ctl_db_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("controller db: prepare failed", "sql=\"%.80s\" error=\"%s\"", sql, sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

int ctl_db_step_done(sqlite3_stmt *st)
{
	int r;

	if (ha_journal && sqlite3_get_autocommit(sqlite3_db_handle(st)) && !sqlite3_stmt_readonly(st)) {
		sqlite3 *db = sqlite3_db_handle(st);

		r = ha_tx_begin(db);
		if (r < 0)
			return r;
		r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			return ha_tx_commit(db);
		ctl_db_tx_rollback(db);
		if ((r & 0xff) == SQLITE_CONSTRAINT)
			return -EEXIST;
		log_error("controller db: step failed", "error=\"%s\"", sqlite3_errmsg(db));
		return -EIO;
	}
	r = sqlite3_step(st);

	if (r == SQLITE_DONE)
		return 0;
	if ((r & 0xff) == SQLITE_CONSTRAINT)
		return -EEXIST;
	log_error("controller db: step failed", "error=\"%s\"", sqlite3_errmsg(sqlite3_db_handle(st)));
	return -EIO;
}

int ctl_db_tx_begin(sqlite3 *db)
{
	if (ha_journal)
		return ha_tx_begin(db);
	return ctl_db_exec(db, "BEGIN IMMEDIATE");
}

int ctl_db_tx_commit(sqlite3 *db)
{
	if (ha_journal)
		return ha_tx_commit(db);
	return ctl_db_exec(db, "COMMIT");
}

void ctl_db_tx_rollback(sqlite3 *db)
{
	if (ha_journal)
		ha_tx_end(db);
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- prepared statements kept per connection ----
 * Each connection has its own slots. A pooled connection is used by one thread at a time
 * (the pool hands it out; its statements go back before it does), so its slots need no
 * lock: the lock is only for taking and freeing a connection's set. */

#define STMT_CACHE_CONNS (CTL_DB_POOL + 4)
#define STMT_CACHE_SLOTS 24

struct stmt_slot {
	char *sql; /* NULL: a free slot */
	sqlite3_stmt *st;
	bool in_use;
};

static struct stmt_cache {
	_Atomic(sqlite3 *) db; /* NULL: a free set */
	struct stmt_slot slots[STMT_CACHE_SLOTS];
} stmt_caches[STMT_CACHE_CONNS];
static pthread_mutex_t stmt_lock = PTHREAD_MUTEX_INITIALIZER;

/* db's set, taken on first use; NULL when every set is taken. */
static struct stmt_cache *stmt_cache_of(sqlite3 *db, bool take)
{
	struct stmt_cache *found = NULL;

	for (size_t i = 0; i < STMT_CACHE_CONNS; i++)
		if (stmt_caches[i].db == db)
			return &stmt_caches[i];
	if (!take)
		return NULL;
	pthread_mutex_lock(&stmt_lock);
	for (size_t i = 0; i < STMT_CACHE_CONNS && !found; i++)
		if (!stmt_caches[i].db) {
			found = &stmt_caches[i];
			found->db = db;
		}
	pthread_mutex_unlock(&stmt_lock);
	return found;
}

sqlite3_stmt *ctl_db_prepare_cached(sqlite3 *db, const char *sql)
{
	struct stmt_cache *cache = stmt_cache_of(db, true);
	struct stmt_slot *empty = NULL;
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; cache && i < STMT_CACHE_SLOTS; i++) {
		struct stmt_slot *s = &cache->slots[i];

		if (!s->sql) {
			if (!empty)
				empty = s;
		} else if (!s->in_use && streq(s->sql, sql)) {
			s->in_use = true;
			return s->st;
		}
	}
	if (!empty)
		return ctl_db_prepare(db, sql);
	empty->sql = strdup(sql);
	if (empty->sql && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) == SQLITE_OK) {
		empty->st = st;
		empty->in_use = true;
		return st;
	}
	if (empty->sql)
		log_error("controller db: prepare failed", "sql=\"%.80s\" error=\"%s\"", sql, sqlite3_errmsg(db));
	free(empty->sql);
	empty->sql = NULL;
	return NULL;
}

void ctl_db_release(sqlite3_stmt *st)
{
	struct stmt_cache *cache = st ? stmt_cache_of(sqlite3_db_handle(st), false) : NULL;

	for (size_t i = 0; cache && i < STMT_CACHE_SLOTS; i++) {
		if (cache->slots[i].sql && cache->slots[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			cache->slots[i].in_use = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

/* Before a connection closes: its kept statements go (sqlite3_close refuses while any lives). */
static void stmt_cache_drop(sqlite3 *db)
{
	struct stmt_cache *cache = stmt_cache_of(db, false);

	if (!cache)
		return;
	for (size_t i = 0; i < STMT_CACHE_SLOTS; i++) {
		sqlite3_finalize(cache->slots[i].st);
		free(cache->slots[i].sql);
		cache->slots[i] = (struct stmt_slot){ 0 };
	}
	pthread_mutex_lock(&stmt_lock);
	cache->db = NULL;
	pthread_mutex_unlock(&stmt_lock);
}

static sqlite3 *open_conn(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_error("controller db: cannot open", "path=%s error=\"%s\"", path, db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	/* More lookaside than SQLite's default: the text columns of each row read are copied
	 * into the statement's registers, and those small buffers came from malloc (16
	 * connections at most: 2 MiB in all). */
	sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 256, 512);
	/* FULL: an answered request survives a crash of the controller or the machine. */
	/* mmap: readers take pages from the kernel's cache in place, not a pread copy into each
	 * connection's own cache (WAL frames are still read). */
	if (ctl_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			    " PRAGMA mmap_size=268435456;") < 0) {
		sqlite3_close(db);
		return NULL;
	}
	if (ha_journal)
		ha_conn_add(db);
	return db;
}

static int migrate(sqlite3 *db)
{
	sqlite3_stmt *st = ctl_db_prepare(db, "PRAGMA user_version");
	int version = 0;

	if (!st)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > ctl_store_schema_version()) {
		log_error("controller db is newer than this controller", "version=%d supported=%d", version,
			  ctl_store_schema_version());
		return -EPROTO;
	}
	for (int v = version + 1; v <= ctl_store_schema_version(); v++) {
		_cleanup_free_ char *sql = ecs_strdup_printf("PRAGMA user_version = %d;", v);

		if (!sql || ctl_db_tx_begin(db) < 0)
			return -EIO;
		if (ctl_db_exec(db, migrations[v - 1]) < 0 || ctl_db_exec(db, sql) < 0) {
			ctl_db_tx_rollback(db);
			return -EIO;
		}
		if (ctl_db_tx_commit(db) < 0)
			return -EIO;
		log_info("controller db migrated", "version=%d", v);
	}
	return 0;
}

int ctl_store_open(const char *path, struct ctl_store **ret)
{
	struct ctl_store *s = calloc(1, sizeof(*s));
	sqlite3 *db;
	int r;

	if (!s)
		return -ENOMEM;
	s->path = strdup(path);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	db = s->path ? open_conn(path) : NULL;
	if (!db) {
		ctl_store_close(s);
		return -EIO;
	}
	r = migrate(db);
	if (r < 0) {
		sqlite3_close(db);
		ctl_store_close(s);
		return r;
	}
	s->free[s->n_free++] = db;
	s->n_open = 1;
	*ret = s;
	return 0;
}

void ctl_store_close(struct ctl_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_free; i++) {
		stmt_cache_drop(s->free[i]);
		sqlite3_close(s->free[i]);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

sqlite3 *ctl_db_get(struct ctl_store *s)
{
	sqlite3 *db = NULL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (s->n_free) {
			db = s->free[--s->n_free];
			break;
		}
		if (s->n_open < CTL_DB_POOL) {
			s->n_open++;
			pthread_mutex_unlock(&s->lock);
			db = open_conn(s->path);
			pthread_mutex_lock(&s->lock);
			if (!db)
				s->n_open--;
			break;
		}
		pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return db;
}

void ctl_db_put(struct ctl_store *s, sqlite3 *db)
{
	if (!db)
		return;
	/* A connection must come back clean: an open transaction would hold the write lock. */
	ctl_db_tx_rollback(db);
	pthread_mutex_lock(&s->lock);
	s->free[s->n_free++] = db;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the change journal's hooks (store.h) ----
 * Each pooled connection has a slot: the session recording its open transaction, and
 * whether the COMMIT now running is one ha_tx_commit journaled (the commit hook refuses
 * every other). */

#define HA_CONNS (CTL_DB_POOL + 4)

static struct ha_conn {
	sqlite3 *db;
	sqlite3_session *sess;
	bool committing;
} ha_conns[HA_CONNS];
static pthread_mutex_t ha_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile bool ha_writable;

static int ha_commit_hook(void *arg)
{
	struct ha_conn *c = arg;

	if (c->committing)
		return 0;
	log_error("controller db: a write outside the journal refused (rolled back)", NULL);
	return 1;
}

static void ha_conn_add(sqlite3 *db)
{
	pthread_mutex_lock(&ha_lock);
	for (size_t i = 0; i < HA_CONNS; i++) {
		if (!ha_conns[i].db) {
			ha_conns[i] = (struct ha_conn){ .db = db };
			sqlite3_commit_hook(db, ha_commit_hook, &ha_conns[i]);
			break;
		}
	}
	pthread_mutex_unlock(&ha_lock);
}

static struct ha_conn *ha_conn_of(sqlite3 *db)
{
	struct ha_conn *c = NULL;

	pthread_mutex_lock(&ha_lock);
	for (size_t i = 0; i < HA_CONNS && !c; i++)
		if (ha_conns[i].db == db)
			c = &ha_conns[i];
	pthread_mutex_unlock(&ha_lock);
	return c;
}

/* Statements that are themselves transaction control or settings: never wrapped. */
static bool ha_wrap(sqlite3 *db, const char *sql)
{
	static const char *const own[] = { "BEGIN", "COMMIT", "ROLLBACK", "END", "PRAGMA", "SAVEPOINT", "RELEASE" };

	if (!sqlite3_get_autocommit(db))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(own); i++)
		if (strncasecmp(sql, own[i], strlen(own[i])) == 0)
			return false;
	return true;
}

/* ha_state (ha.c) is this copy's own bookkeeping: never journaled. */
static int ha_table_filter(void *arg, const char *table)
{
	(void)arg;
	return !streq(table, "ha_state");
}

static int ha_tx_begin(sqlite3 *db)
{
	struct ha_conn *c = ha_conn_of(db);
	int r;

	if (!ha_writable)
		return -EROFS;
	if (!c) {
		log_error("controller db: a connection without a journal slot", NULL);
		return -EIO;
	}
	r = ctl_db_exec(db, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	if (sqlite3session_create(db, "main", &c->sess) != SQLITE_OK) {
		c->sess = NULL;
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -ENOMEM;
	}
	sqlite3session_table_filter(c->sess, ha_table_filter, NULL);
	if (sqlite3session_attach(c->sess, NULL) != SQLITE_OK) {
		ha_tx_end(db);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

static void ha_tx_end(sqlite3 *db)
{
	struct ha_conn *c = ha_conn_of(db);

	if (c && c->sess) {
		sqlite3session_delete(c->sess);
		c->sess = NULL;
	}
}

static int ha_commit_local(struct ha_conn *c)
{
	int r;

	c->committing = true;
	r = ctl_db_exec(c->db, "COMMIT");
	c->committing = false;
	return r;
}

static int ha_tx_commit(sqlite3 *db)
{
	struct ha_conn *c = ha_conn_of(db);
	void *cs = NULL;
	int n = 0, r;
	int64_t seq;

	if (!c || !c->sess) /* a transaction ha_tx_begin did not open (a reader's BEGIN) */
		return ctl_db_exec(db, "COMMIT");
	r = sqlite3session_changeset(c->sess, &n, &cs);
	ha_tx_end(db);
	if (r != SQLITE_OK) {
		log_error("controller db: cannot read the transaction's changes", "error=%d", r);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	if (n == 0) {
		sqlite3_free(cs);
		r = ha_commit_local(c);
		if (r < 0)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	seq = ctl_journal_submit(ha_journal, cs, (size_t)n);
	sqlite3_free(cs);
	if (seq < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EROFS;
	}
	{
		sqlite3_stmt *st = ctl_db_prepare_cached(db, "UPDATE ha_state SET epoch = ?1, seq = ?2 WHERE id = 1");

		r = -EIO;
		if (st) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)ctl_journal_epoch(ha_journal));
			sqlite3_bind_int64(st, 2, seq);
			r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
			ctl_db_release(st);
		}
	}
	if (r == 0)
		r = ha_commit_local(c);
	ctl_journal_ready(ha_journal, (uint64_t)seq, r < 0);
	if (r < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	/* Committed here; acknowledged only once in RADOS. */
	r = ctl_journal_wait(ha_journal, (uint64_t)seq);
	return r < 0 ? -EIO : 0;
}

int ctl_store_journal_enable(struct ctl_store *s, struct ctl_journal *j)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_free != s->n_open) {
		pthread_mutex_unlock(&s->lock);
		return -EBUSY;
	}
	ha_journal = j;
	for (size_t i = 0; i < s->n_free; i++)
		ha_conn_add(s->free[i]);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void ctl_store_set_writable(bool writable)
{
	ha_writable = writable;
}

bool ctl_store_writable(void)
{
	return !ha_journal || ha_writable;
}
