/* store.h: the controller's state in SQLite (WAL): one file, schema migrations applied in
 * order at start (PRAGMA user_version), a small pool of connections so that readers run
 * beside the one writer WAL allows.
 *
 * Modules write their own SQL against the tables the migrations define (store.c). A
 * connection is taken with ctl_db_get and given back with ctl_db_put; ctl_db_tx_begin
 * starts an IMMEDIATE transaction (takes the write lock at once, so check-then-book
 * sequences such as scheduling cannot interleave). */
#ifndef CTL_STORE_H
#define CTL_STORE_H

#include <sqlite3.h>
#include <stdbool.h>

#define CTL_DB_POOL 16

struct ctl_store;

int ctl_store_open(const char *path, struct ctl_store **ret);
void ctl_store_close(struct ctl_store *s);

sqlite3 *ctl_db_get(struct ctl_store *s);
void ctl_db_put(struct ctl_store *s, sqlite3 *db);

int ctl_db_tx_begin(sqlite3 *db);
int ctl_db_tx_commit(sqlite3 *db);
void ctl_db_tx_rollback(sqlite3 *db);

/* Run SQL without results; -EIO (logged) on error. */
int ctl_db_exec(sqlite3 *db, const char *sql);
/* Prepare (cached by SQLite's statement cache is not available: plain prepare). */
sqlite3_stmt *ctl_db_prepare(sqlite3 *db, const char *sql);
/* For the hot paths (every request's account lookup, DescribeInstances): a statement kept
 * prepared per connection, handed out again for the same SQL once released. Give it back
 * with ctl_db_release (never sqlite3_finalize). Falls back to a plain prepare (which
 * ctl_db_release then finalizes) when the cache is full. */
sqlite3_stmt *ctl_db_prepare_cached(sqlite3 *db, const char *sql);
void ctl_db_release(sqlite3_stmt *st);
/* Step a statement that returns no row; 0, -EEXIST on a constraint, -EIO. */
int ctl_db_step_done(sqlite3_stmt *st);

/* Cleanup helpers (lib/util.h's _cleanup_free_ for the store's kinds): a statement is
 * finalized, a pooled connection given back, when the variable leaves its scope. Declare
 * the connection before its statements: cleanups run in reverse order.
 *	_cleanup_db_ struct ctl_db_conn conn = ctl_db_take(store);
 *	_cleanup_stmt_ sqlite3_stmt *st = conn.db ? ctl_db_prepare(conn.db, "...") : NULL; */
struct ctl_db_conn {
	struct ctl_store *store;
	sqlite3 *db; /* NULL when the pool failed */
};
static inline struct ctl_db_conn ctl_db_take(struct ctl_store *s)
{
	return (struct ctl_db_conn){ s, ctl_db_get(s) };
}
static inline void ctl_db_conn_putp(struct ctl_db_conn *conn)
{
	ctl_db_put(conn->store, conn->db);
}
static inline void ctl_db_stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_db_ __attribute__((cleanup(ctl_db_conn_putp)))
#define _cleanup_stmt_ __attribute__((cleanup(ctl_db_stmt_finalizep)))

/* ---- the change journal (journal.h, ha.h; docs/architecture.md, "The controller survives
 * its host") ----
 * Once enabled, every write transaction taken with ctl_db_tx_begin records its changes
 * (SQLite's session extension); ctl_db_tx_commit queues them as the next journal entry
 * under the write lock (so entries are in commit order), COMMITs locally, then waits until
 * the entry is in RADOS: an error then means the change is not acknowledged (the caller
 * fails its call; the journal's owner steps down). A write outside such a transaction
 * (ctl_db_step_done and ctl_db_exec in autocommit mode are wrapped in one) is refused by
 * the commit hook. Without writable (a standby) ctl_db_tx_begin returns -EROFS. When never
 * enabled (the default, [ha] enabled = false) nothing of this runs. */
struct ctl_journal;
int ctl_store_journal_enable(struct ctl_store *s, struct ctl_journal *j);
void ctl_store_set_writable(bool writable);
bool ctl_store_writable(void);

/* The schema version this controller writes. */
int ctl_store_schema_version(void);

#endif
