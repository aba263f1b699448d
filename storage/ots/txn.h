/* txn.h: local transactions on one partition key of a table, kept in the table's rows object
 * beside the rows, under keys no row key can have (every row key is below 0xff, key.h):
 *
 *   \xffL<partition key>         the lock: "<id's random part> <expiry ms> <rows> <bytes>"
 *   \xffX<random>                the transaction: "<account>\n<instance>\n<partition key>"
 *   \xffS<random>.<row key>      a row as the transaction wrote it: 'P' + the row, or 'D'
 *
 * A transaction id is the rows object's 16 hex digits and 32 random ones. Writes outside
 * the transaction compare the lock with what they read (absent, or expired) in their own
 * RADOS operation, so none lands while it is held; the commit moves the staged rows into
 * place, drops the lock and the record in one operation guarded by the lock. Each request
 * of the transaction moves the expiry on by txn_idle_s. */
#ifndef OTS_TXN_H
#define OTS_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTS_TXN_RAND_HEX 32
#define OTS_TXN_ID_LEN (16 + OTS_TXN_RAND_HEX)

struct ots_txn {
	char rows_oid[32];
	char rand[OTS_TXN_RAND_HEX + 1];
	char *part;	/* the partition key, encoded (key.h: first column and end) */
	char *lock_key;
	char *lock;	/* the lock's value as this request left it */
	size_t lock_len;
	long n_rows, n_bytes;
};

/* A transaction's staged rows in row key order: keys[i] + prefix_len is the row key,
 * vals[i] 'P' + the row or 'D'. */
struct ots_staged {
	char prefix[OTS_TXN_RAND_HEX + 8];
	size_t prefix_len;
	char **keys, **vals;
	size_t *lens;
	size_t n;
};
void ots_staged_free(struct ots_staged *s);

/* "\xffL" + part (caller frees). */
char *ots_txn_lock_key(const char *part);
/* "\xffS" + rand + "." + key (caller frees). */
char *ots_txn_staged_key(const struct ots_txn *x, const char *key);
/* A lock value (caller frees); parse: false when malformed. */
char *ots_txn_lock_format(const char *rand, int64_t expiry_ms, long rows, long bytes);
bool ots_txn_lock_parse(const char *v, char rand[OTS_TXN_RAND_HEX + 1], int64_t *expiry_ms, long *rows,
			long *bytes);
void ots_txn_clear(struct ots_txn *x);

#endif
