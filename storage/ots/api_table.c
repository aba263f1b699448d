/* api_table.c: CreateTable, ListTable, DescribeTable, UpdateTable, DeleteTable, and opening
 * a table for the row operations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-internal.h"
#include "log.h"
#include "util.h"

#define MAX_VERSIONS_LIMIT 1000

void ots_consumed(Ots__ConsumedCapacity *cc, Ots__CapacityUnit *cu, int read, int write)
{
	*cu = (Ots__CapacityUnit)OTS__CAPACITY_UNIT__INIT;
	cu->has_read = cu->has_write = 1;
	cu->read = read;
	cu->write = write;
	*cc = (Ots__ConsumedCapacity)OTS__CONSUMED_CAPACITY__INIT;
	cc->capacity_unit = cu;
}

static bool table_name_ok(const char *name)
{
	return name && ots_name_valid(name, strlen(name));
}

int ots_table_open(struct ots_call *c, const char *name, struct ots_table *ret)
{
	Ots__StoredTable *t;
	int r;

	*ret = (struct ots_table){ 0 };
	if (!table_name_ok(name))
		return ots_invalid(c, "Invalid table name: '%.64s'.", name ? name : "");
	r = ots_cat_get(c->o, &c->scope, name, &t);
	if (r < 0)
		return ots_fail_errno(c, r);
	ret->t = t;
	ret->schema.n = t->table_meta->n_primary_key;
	for (size_t i = 0; i < ret->schema.n && i < OTS_PK_MAX; i++) {
		Ots__PrimaryKeySchema *p = t->table_meta->primary_key[i];

		snprintf(ret->schema.col[i].name, sizeof(ret->schema.col[i].name), "%s", p->name);
		ret->schema.col[i].type = p->type == OTS__PRIMARY_KEY_TYPE__PKT_INTEGER ? OTS_VT_INTEGER
					  : p->type == OTS__PRIMARY_KEY_TYPE__PKT_STRING ? OTS_VT_STRING
											  : OTS_VT_BLOB;
		ret->schema.col[i].auto_incr = p->has_option && p->option == OTS__PRIMARY_KEY_OPTION__PKO_AUTO_INCREMENT;
	}
	ret->rules.max_versions = t->table_options->max_versions;
	ret->rules.ttl_s = t->table_options->time_to_live;
	ret->rules.now_ms = c->now_ms;
	return 0;
}

void ots_table_close(struct ots_table *t)
{
	if (t->t)
		ots__stored_table__free_unpacked(t->t, NULL);
	t->t = NULL;
}

/* Check options and fill in defaults; create says whether absent ones get them. */
static int options_check(struct ots_call *c, Ots__TableOptions *o, bool create)
{
	if (o->has_time_to_live && o->time_to_live != -1 && o->time_to_live <= 0)
		return ots_invalid(c, "time_to_live must be -1 or positive.");
	if (o->has_max_versions && (o->max_versions < 1 || o->max_versions > MAX_VERSIONS_LIMIT))
		return ots_invalid(c, "max_versions must be between 1 and %d.", MAX_VERSIONS_LIMIT);
	if (o->has_deviation_cell_version_in_sec && o->deviation_cell_version_in_sec <= 0)
		return ots_invalid(c, "deviation_cell_version_in_sec must be positive.");
	if (create) {
		if (!o->has_time_to_live)
			o->time_to_live = -1;
		if (!o->has_max_versions)
			o->max_versions = 1;
		if (!o->has_deviation_cell_version_in_sec)
			o->deviation_cell_version_in_sec = 86400;
		o->has_time_to_live = o->has_max_versions = o->has_deviation_cell_version_in_sec = 1;
	}
	return 0;
}

static int create_check(struct ots_call *c, const Ots__CreateTableRequest *q)
{
	const Ots__TableMeta *m = q->table_meta;
	int n_auto = 0;

	if (!table_name_ok(m->table_name))
		return ots_invalid(c, "Invalid table name: '%.64s'.", m->table_name);
	if (m->n_primary_key < 1 || m->n_primary_key > OTS_PK_MAX)
		return ots_invalid(c, "The number of primary key columns must be in range: [1, 4].");
	for (size_t i = 0; i < m->n_primary_key; i++) {
		const Ots__PrimaryKeySchema *p = m->primary_key[i];

		if (!ots_name_valid(p->name, strlen(p->name)))
			return ots_invalid(c, "Invalid primary key name: '%.64s'.", p->name);
		for (size_t k = 0; k < i; k++)
			if (streq(m->primary_key[k]->name, p->name))
				return ots_invalid(c, "Duplicated primary key name: '%.64s'.", p->name);
		if (p->type != OTS__PRIMARY_KEY_TYPE__PKT_INTEGER && p->type != OTS__PRIMARY_KEY_TYPE__PKT_STRING &&
		    p->type != OTS__PRIMARY_KEY_TYPE__PKT_BINARY)
			return ots_invalid(c, "Invalid primary key type.");
		if (p->has_option) {
			if (p->option != OTS__PRIMARY_KEY_OPTION__PKO_AUTO_INCREMENT || i == 0 ||
			    p->type != OTS__PRIMARY_KEY_TYPE__PKT_INTEGER || ++n_auto > 1)
				return ots_invalid(c, "Only one INTEGER primary key column after the partition key can be auto-increment.");
		}
	}
	for (size_t i = 0; i < m->n_defined_column; i++)
		if (!ots_name_valid(m->defined_column[i]->name, strlen(m->defined_column[i]->name)))
			return ots_invalid(c, "Invalid defined column name.");
	if (m->n_index_meta || q->n_index_metas || q->n_partitions || q->has_stream_spec)
		return ots_fail(c, 400, "OTSUnsupportOperation",
				"Indexes, pre-split partitions and streams are not supported yet.");
	if (q->reserved_throughput->capacity_unit->read < 0 || q->reserved_throughput->capacity_unit->write < 0)
		return ots_invalid(c, "Reserved throughput must not be negative.");
	return 0;
}

int ots_op_create_table(struct ots_call *c)
{
	Ots__CreateTableRequest *q = ots__create_table_request__unpack(NULL, c->body_len, c->body);
	Ots__TableOptions opts = OTS__TABLE_OPTIONS__INIT;
	Ots__StoredTable st = OTS__STORED_TABLE__INIT;
	Ots__CapacityUnit cu = OTS__CAPACITY_UNIT__INIT;
	Ots__CreateTableResponse resp = OTS__CREATE_TABLE_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if ((r = create_check(c, q)) < 0)
		goto out;
	if (q->table_options)
		opts = *q->table_options;
	if ((r = options_check(c, &opts, true)) < 0)
		goto out;
	cu.has_read = cu.has_write = 1;
	cu.read = q->reserved_throughput->capacity_unit->read;
	cu.write = q->reserved_throughput->capacity_unit->write;
	st.table_meta = q->table_meta;
	st.table_options = &opts;
	st.reserved = &cu;
	st.created_s = c->now_ms / 1000;
	r = ots_cat_create(c->o, &c->scope, &st, c->o->max_tables);
	if (r == -EEXIST)
		r = ots_fail(c, 409, "OTSObjectAlreadyExist", "Requested table already exists.");
	else if (r == -EDQUOT)
		r = ots_fail(c, 403, "OTSQuotaExhausted", "Number of tables exceeded the quota of %u.", c->o->max_tables);
	else if (r < 0)
		r = ots_fail_errno(c, r);
	else
		r = ots_reply(c, &resp.base);
	if (r == 0)
		log_info("table created", "account=%s instance=%s table=%s", c->scope.account, c->scope.instance,
			 q->table_meta->table_name);
out:
	ots__create_table_request__free_unpacked(q, NULL);
	return r;
}

int ots_op_list_table(struct ots_call *c)
{
	Ots__ListTableRequest *q = ots__list_table_request__unpack(NULL, c->body_len, c->body);
	Ots__ListTableResponse resp = OTS__LIST_TABLE_RESPONSE__INIT;
	char **names = NULL;
	size_t n = 0;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	ots__list_table_request__free_unpacked(q, NULL);
	if ((r = ots_cat_list(c->o, &c->scope, &names, &n)) < 0)
		return ots_fail_errno(c, r);
	resp.n_table_names = n;
	resp.table_names = names;
	r = ots_reply(c, &resp.base);
	ecs_strv_free(names, n);
	return r;
}

int ots_op_describe_table(struct ots_call *c)
{
	Ots__DescribeTableRequest *q = ots__describe_table_request__unpack(NULL, c->body_len, c->body);
	Ots__DescribeTableResponse resp = OTS__DESCRIBE_TABLE_RESPONSE__INIT;
	Ots__ReservedThroughputDetails rt = OTS__RESERVED_THROUGHPUT_DETAILS__INIT;
	struct ots_table t;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	r = ots_table_open(c, q->table_name, &t);
	ots__describe_table_request__free_unpacked(q, NULL);
	if (r < 0)
		return r;
	rt.capacity_unit = t.t->reserved;
	rt.last_increase_time = t.t->created_s;
	resp.table_meta = t.t->table_meta;
	resp.reserved_throughput_details = &rt;
	resp.table_options = t.t->table_options;
	resp.table_status = OTS__TABLE_STATUS__TS_ACTIVE;
	r = ots_reply(c, &resp.base);
	ots_table_close(&t);
	return r;
}

int ots_op_update_table(struct ots_call *c)
{
	Ots__UpdateTableRequest *q = ots__update_table_request__unpack(NULL, c->body_len, c->body);
	Ots__UpdateTableResponse resp = OTS__UPDATE_TABLE_RESPONSE__INIT;
	Ots__ReservedThroughputDetails rt = OTS__RESERVED_THROUGHPUT_DETAILS__INIT;
	Ots__TableOptions opts;
	Ots__CapacityUnit cu;
	Ots__StoredTable nt;
	struct ots_table t = { 0 };
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if ((r = ots_table_open(c, q->table_name, &t)) < 0)
		goto out;
	if (q->has_stream_spec) {
		r = ots_fail(c, 400, "OTSUnsupportOperation", "Streams are not supported yet.");
		goto out;
	}
	nt = *t.t;
	opts = *t.t->table_options;
	cu = *t.t->reserved;
	if (q->table_options) {
		const Ots__TableOptions *n = q->table_options;

		if ((r = options_check(c, q->table_options, false)) < 0)
			goto out;
		if (n->has_time_to_live)
			opts.time_to_live = n->time_to_live;
		if (n->has_max_versions)
			opts.max_versions = n->max_versions;
		if (n->has_deviation_cell_version_in_sec)
			opts.deviation_cell_version_in_sec = n->deviation_cell_version_in_sec;
	}
	if (q->reserved_throughput) {
		const Ots__CapacityUnit *n = q->reserved_throughput->capacity_unit;

		if ((n->has_read && n->read < 0) || (n->has_write && n->write < 0)) {
			r = ots_invalid(c, "Reserved throughput must not be negative.");
			goto out;
		}
		if (n->has_read)
			cu.read = n->read;
		if (n->has_write)
			cu.write = n->write;
	}
	nt.table_options = &opts;
	nt.reserved = &cu;
	if ((r = ots_cat_replace(c->o, &c->scope, t.t, &nt)) < 0) {
		r = ots_fail_errno(c, r);
		goto out;
	}
	rt.capacity_unit = &cu;
	rt.last_increase_time = t.t->created_s;
	resp.reserved_throughput_details = &rt;
	resp.table_options = &opts;
	r = ots_reply(c, &resp.base);
out:
	ots_table_close(&t);
	ots__update_table_request__free_unpacked(q, NULL);
	return r;
}

int ots_op_delete_table(struct ots_call *c)
{
	Ots__DeleteTableRequest *q = ots__delete_table_request__unpack(NULL, c->body_len, c->body);
	Ots__DeleteTableResponse resp = OTS__DELETE_TABLE_RESPONSE__INIT;
	int r;

	if (!q)
		return ots_invalid(c, "Failed to parse the request.");
	if (!table_name_ok(q->table_name))
		r = ots_invalid(c, "Invalid table name: '%.64s'.", q->table_name);
	else if ((r = ots_cat_delete(c->o, &c->scope, q->table_name)) < 0)
		r = ots_fail_errno(c, r);
	else
		r = ots_reply(c, &resp.base);
	if (r == 0)
		log_info("table deleted", "account=%s instance=%s table=%s", c->scope.account, c->scope.instance,
			 q->table_name);
	ots__delete_table_request__free_unpacked(q, NULL);
	return r;
}
