/* listcache.h: the unfiltered Describe* pages (DescribeInstances, DescribeDisks,
 * DescribeSecurityGroups) without an OFFSET walk.
 *
 * "PageNumber=900&PageSize=10" in SQL is an OFFSET: SQLite steps over the 8,990 rows before
 * the page, and the cost of a page grows with the account's size. Here each account's
 * visible ids of a kind are kept in memory in list order, stamped with the account's
 * generation of that kind (table list_gens, bumped by triggers in the same transaction as
 * any change of the visible set or its order: migration 6). A page reads the generation and
 * its rows in one read transaction (one WAL snapshot); the in-memory list is used only when
 * its stamp is that generation, else it is read again from that snapshot first. So an answer
 * is always the one the SQL OFFSET query would give at that snapshot. */
#ifndef CTL_LISTCACHE_H
#define CTL_LISTCACHE_H

#include <json-c/json.h>
#include <sqlite3.h>

#include "common.h"
#include "params.h"

/* The largest page these actions give (their PageSize's maximum). */
#define CTL_PAGE_MAX_SIZE 100

enum ctl_list_kind { CTL_LIST_INSTANCES, CTL_LIST_DISKS, CTL_LIST_GROUPS, CTL_LIST_KINDS };

struct ctl_list_query {
	enum ctl_list_kind kind;
	/* SELECT columns FROM table WHERE id_column = (each id of the page, in turn)
	 * AND account_column = the caller's account */
	const char *columns, *table, *id_column, *account_column;
	const char *list_key, *item_key;
	ctl_row_write_fn write; /* one row into the page's list, as ctl_page_query's write */
	void *arg;
};

/* The caller's page of q's kind, unfiltered, into out as ctl_page_query answers it
 * (TotalCount, PageNumber, PageSize, then the list). */
int ctl_list_query(struct ctl_call *call, const struct ctl_page *page, const struct ctl_list_query *q,
		   struct json_object *out);

#endif
