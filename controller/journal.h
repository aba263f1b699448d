/* journal.h: the controller's logical change journal in RADOS (docs/architecture.md, "The
 * controller survives its host").
 *
 * One object (oid) in the controller's pool holds it: its omap maps a sequence number
 * (20 digits, zero-padded, so keys sort in order) to an entry (struct ctl_journal_entry's
 * header, then the SQLite changeset); its xattrs hold the journal's id, the leadership
 * epoch, the leader's client address, its lease beat and the latest snapshot's sequence.
 *
 * Every write (appends, lease renewals, a takeover) is ONE compound operation that first
 * compares the object's epoch xattr: a writer whose epoch was superseded gets -ECANCELED
 * and nothing of its operation lands. Appends are group-committed: ctl_journal_submit
 * queues an entry (in commit order), a writer thread puts every ready entry of the queue
 * into one operation, ctl_journal_wait returns once the entry is in RADOS (0) or the
 * journal failed (< 0: the caller is no longer the leader; every later wait fails too). */
#ifndef CTL_JOURNAL_H
#define CTL_JOURNAL_H

#include <rados/librados.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_journal;

#define CTL_JOURNAL_HDR 16 /* epoch (8, LE), schema version (4, LE), flags (4) */

struct ctl_journal_head {
	char id[40];	    /* the journal's id (random, set once at creation) */
	uint64_t epoch;	    /* the leadership epoch */
	char owner[128];    /* the leader's client address (for its blocklist) */
	char endpoint[128]; /* the leader's API endpoint */
	uint64_t beat;	    /* bumped by each lease renewal */
	uint64_t snap_seq;  /* the latest snapshot is of the state after this entry */
};

int ctl_journal_open(rados_t cluster, const char *pool, const char *oid, struct ctl_journal **ret);
void ctl_journal_close(struct ctl_journal *j);
rados_ioctx_t ctl_journal_ioctx(struct ctl_journal *j);

/* -ENOENT when the journal object does not exist. */
int ctl_journal_head(struct ctl_journal *j, struct ctl_journal_head *h);
/* Make the journal (exclusive: -EEXIST when one exists) at epoch 1, owned by the caller. */
int ctl_journal_create(struct ctl_journal *j, const struct ctl_journal_head *h);
/* Take the lease: epoch old_epoch -> old_epoch + 1, owner and endpoint the caller's. */
int ctl_journal_takeover(struct ctl_journal *j, uint64_t old_epoch, const char *owner, const char *endpoint);
/* Renew the lease (beat) and, if snap_seq > 0, record a snapshot; -ECANCELED: deposed. */
int ctl_journal_renew(struct ctl_journal *j, uint64_t epoch, uint64_t beat, uint64_t snap_seq);

/* Remove the entries up to seq `upto` (guarded by epoch like an append). */
int ctl_journal_trim(struct ctl_journal *j, uint64_t epoch, uint64_t upto);

/* Entries after seq `after`, in order, at most max: cb(arg, seq, data, len) for each
 * (data: header + changeset); stops at the first cb < 0. Returns how many or < 0. */
typedef int (*ctl_journal_entry_cb)(void *arg, uint64_t seq, const void *data, size_t len);
int ctl_journal_read(struct ctl_journal *j, uint64_t after, unsigned max, ctl_journal_entry_cb cb, void *arg);

/* ---- the leader's appends ---- */

/* Start appending at epoch with next_seq as the next entry's number. */
int ctl_journal_writer_start(struct ctl_journal *j, uint64_t epoch, uint64_t next_seq, int schema);
void ctl_journal_writer_stop(struct ctl_journal *j);
/* Queue a changeset (copied) as the next entry; returns its seq (> 0) or < 0 (the
 * journal failed). The entry is not written before ctl_journal_ready (or, cancelled, it
 * is written empty): callers submit under the database's write lock, so seqs are in
 * commit order, and mark ready once the local COMMIT returned. */
int64_t ctl_journal_submit(struct ctl_journal *j, const void *changeset, size_t len);
void ctl_journal_ready(struct ctl_journal *j, uint64_t seq, int cancelled);
/* Wait until seq is in RADOS: 0, or the journal's failure. */
int ctl_journal_wait(struct ctl_journal *j, uint64_t seq);
/* The last seq in RADOS. */
uint64_t ctl_journal_durable(struct ctl_journal *j);
/* The epoch the writer appends with. */
uint64_t ctl_journal_epoch(struct ctl_journal *j);
/* Called (from the writer thread) when an append fails: the leader steps down. */
void ctl_journal_on_failure(struct ctl_journal *j, void (*fn)(void *arg, int err), void *arg);

#endif
