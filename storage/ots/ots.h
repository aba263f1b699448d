/* ots.h: the state an ecs-otsd shares between its modules: the RADOS pool, the key cache,
 * the limits. One per process, made in main.c. */
#ifndef OTS_OTS_H
#define OTS_OTS_H

#include <rados/librados.h>

struct ecs_prom;

struct storage_keys;

/* Tablestore's limits (docs/ots-api.md), enforced with OTSParameterInvalid. */
#define OTS_REQUEST_MAX (4u << 20)	/* a request body */
#define OTS_ATTR_VALUE_MAX (2u << 20)	/* one attribute value */
#define OTS_ROW_MAX (4u << 20)		/* a stored row, every version of every column */
#define OTS_COLUMNS_PER_WRITE_MAX 1024	/* attribute cells in one row of a write */
#define OTS_BATCH_GET_MAX 100		/* rows in a BatchGetRow */
#define OTS_BATCH_WRITE_MAX 200		/* rows in a BatchWriteRow */
#define OTS_RANGE_ROWS_MAX 5000		/* rows in one GetRange answer */
#define OTS_RANGE_BYTES_MAX (4u << 20)	/* bytes of rows in one GetRange answer */
#define OTS_TABLES_DEFAULT_MAX 64	/* tables in an instance */
#define OTS_TXN_ROWS_MAX 1000		/* rows a local transaction writes */
#define OTS_TXN_BYTES_MAX (4u << 20)	/* bytes of rows a local transaction writes */

struct ots {
	rados_t cluster;
	rados_ioctx_t io;
	struct storage_keys *keys;
	struct ecs_prom *metrics;	  /* /metrics: the server counts requests here */
	const char *metrics_token; /* and asks for this bearer token */
	unsigned max_tables;
	int txn_idle_s; /* a local transaction without a request for this long is over */
};

#endif
