/* store.h: ecs-otsd's objects in its RADOS pool.
 *
 *   ots.cat.<account>.<instance>   the catalogue: omap table name -> StoredTable (protobuf)
 *   ots.rows.<16 hex>.auto         its auto-increment counters (ots_auto_next)
 *   ots.rows.<16 hex>              a table's rows: omap key (key.h) -> the row (PlainBuffer,
 *                                  every kept version of every attribute); beside them its
 *                                  indexes' rows ("\xffI<index>." + index key) and the
 *                                  index set its writes follow ("\xffE", api_index.c)
 *
 * Every change is one RADOS write guarded by omap_cmp against the value read before it (a
 * missing key compares equal to ""), so two writers of one row never lose an update: the
 * second gets -ECANCELED and reads again. */
#ifndef OTS_STORE_H
#define OTS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ots.h"
#include "ots.pb-c.h"

#define OTS_ACCOUNT_MAX 64
#define OTS_INSTANCE_MAX 32

/* One step of a guarded omap write: compare key's value with old (NULL: absent) when cmp,
 * then set it to val, remove it, or leave it. */
enum ots_omap_act { OTS_OMAP_KEEP, OTS_OMAP_SET, OTS_OMAP_RM };
struct ots_omap_step {
	const char *key;
	bool cmp;
	const char *old;
	size_t old_len;
	enum ots_omap_act act;
	const char *val;
	size_t val_len;
};
/* The steps as one RADOS operation on oid: all or none; -ECANCELED when a compare fails. */
int ots_omap_apply(struct ots *o, const char *oid, const struct ots_omap_step *steps, size_t n, bool must_exist);
/* One omap value (caller frees; NUL added): -ENOENT when the key or the object is absent. */
int ots_omap_get(struct ots *o, const char *oid, const char *key, char **ret, size_t *ret_len);

/* Whose tables: the caller's account and the request's instance. */
struct ots_scope {
	char account[OTS_ACCOUNT_MAX];
	char instance[OTS_INSTANCE_MAX];
};

/* Instance names: [A-Za-z][A-Za-z0-9-]{2,15}, not ending in '-'. */

/* Table names in byte order (caller frees each and the array). */
int ots_cat_list(struct ots *o, const struct ots_scope *sc, char ***ret, size_t *ret_n);
/* -ENOENT when there is no such table; free with ots__stored_table__free_unpacked(t, NULL). */
int ots_cat_get(struct ots *o, const struct ots_scope *sc, const char *name, Ots__StoredTable **ret);
/* Makes the rows object and the entry; fills t->rows_object. -EEXIST, -EDQUOT (max tables). */
int ots_cat_create(struct ots *o, const struct ots_scope *sc, Ots__StoredTable *t, unsigned max_tables);
/* Replaces an entry whose options changed; -ECANCELED when it changed meanwhile. */
int ots_cat_replace(struct ots *o, const struct ots_scope *sc, const Ots__StoredTable *old,
		    const Ots__StoredTable *t);
/* Removes the entry, then the rows. -ENOENT. */
int ots_cat_delete(struct ots *o, const struct ots_scope *sc, const char *name);

/* Adds (index set) or removes (index NULL) the catalogue entry of an index of base_old's table
 * with base_old -> base_new and the table count, in one write: -EEXIST, -ENOENT, -EDQUOT,
 * -ECANCELED when the base entry changed meanwhile. */
int ots_cat_index(struct ots *o, const struct ots_scope *sc, const Ots__StoredTable *base_old,
		  const Ots__StoredTable *base_new, const char *name, const Ots__StoredTable *index,
		  unsigned max_tables);
/* Removes an index's rows ("\xffI<name>." keys) from its base's rows object. */
int ots_index_purge(struct ots *o, const char *rows_oid, const char *name);

/* A row's stored value (caller frees): -ENOENT when absent. */
int ots_row_read(struct ots *o, const char *oid, const char *key, char **ret, size_t *ret_len);
/* Walks keys after start_after in order, calling fn for each until it returns non-zero
 * (its return value, when positive, is returned as 0; negative as itself). */
typedef int (*ots_scan_fn)(const char *key, const char *val, size_t len, void *arg);
int ots_row_scan(struct ots *o, const char *oid, const char *start_after, bool keys_only, ots_scan_fn fn,
		 void *arg);
/* fn for each of the n keys (any order) that exists, in key order. */
int ots_row_read_keys(struct ots *o, const char *oid, char *const *keys, size_t n, ots_scan_fn fn, void *arg);

/* The auto-increment counters of a table (object <rows>.auto, omap partition key -> the
 * last value made, decimal), made with the table when its key has such a column. */
int ots_auto_create(struct ots *o, const char *rows_oid);
/* The next value for a partition key (encoded first column): the last one + 1, set with a
 * compare-and-swap so concurrent writers on any gateway each get their own. -ENOENT: the
 * table is gone; -ERANGE: no value left; -ECANCELED: too much contention. */
int ots_auto_next(struct ots *o, const char *rows_oid, const char *part, int64_t *ret);

#endif
