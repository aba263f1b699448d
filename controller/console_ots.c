#include "console_ots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "crypto.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "ots.pb-c.h"
#include "ots_sign.h"
#include "plainbuf.h"
#include "util.h"

#define OTS_API_VERSION "2015-12-31"
#define OTS_MAX_ANSWER (8u << 20) /* a page of 20 rows is far less; ecs-otsd's own cap is 4 MB */

static const char *param(const struct ctl_call *call, const char *name, const char *dflt)
{
	const char *v = ecs_kvlist_get(call->params, name);

	return v && *v ? v : dflt;
}

/* The x-ots-* headers of a request of op with body, signed with the session's key. */
static int sign(const struct ctl_account *a, const char *inst, const char *op, const void *body, size_t len,
		struct ecs_kvlist *h)
{
	char date[OTS_DATE_LEN], sig[OTS_SIG_LEN + 1];
	uint8_t sum[ECS_MD5_LEN];
	_cleanup_free_ char *md5 = NULL, *sts = NULL;

	ots_sign_date(date);
	if (ecs_md5(len ? body : "", len, sum) < 0 || !(md5 = ecs_base64_encode(sum, sizeof(sum))))
		return -ENOMEM;
	if (ecs_kvlist_add(h, "x-ots-date", date) < 0 || ecs_kvlist_add(h, "x-ots-apiversion", OTS_API_VERSION) < 0 ||
	    ecs_kvlist_add(h, "x-ots-accesskeyid", a->access_key_id) < 0 ||
	    ecs_kvlist_add(h, "x-ots-instancename", inst) < 0 || ecs_kvlist_add(h, "x-ots-contentmd5", md5) < 0)
		return -ENOMEM;
	if (!(sts = ots_sign_request_string(op, h)) || ecs_hmac_sha1_b64(a->access_key_secret, sts, sig) < 0)
		return -ENOMEM;
	return ecs_kvlist_add(h, "x-ots-signature", sig) < 0 ? -ENOMEM : 0;
}

/* POST op to ecs-otsd. 0 with rep holding a 200 answer; otherwise the call failed with
 * ecs-otsd's own status, code and message (or 503 when it cannot be reached). */
static int ots_do(struct ctl_call *call, const char *inst, const char *op, const void *body, size_t len,
		  struct ecs_http_reply *rep)
{
	struct ecs_http_client_config cfg = { .connect_timeout_ms = 3000, .timeout_ms = 30000, .retries = 1,
					      .max_response = OTS_MAX_ANSWER };
	struct ecs_http_client *hc = NULL;
	struct ecs_kvlist h = ECS_KVLIST_INIT;
	_cleanup_free_ char *url = ecs_strdup_printf("%s/%s", call->c->cfg.ots_endpoint, op);
	Ots__Error *e;
	int r;

	r = url ? sign(call->account, inst, op, body, len, &h) : -ENOMEM;
	if (r == 0)
		r = ecs_kvlist_add(&h, "Content-Type", "application/x-protobuf");
	if (r == 0)
		r = ecs_http_client_new(&cfg, &hc);
	if (r == 0)
		r = ecs_http_client_do(hc, &(struct ecs_http_call){ .method = "POST", .url = url, .headers = &h,
								     .body = body, .body_len = len },
				       rep);
	ecs_kvlist_clear(&h);
	ecs_http_client_free(hc);
	if (r < 0) {
		log_warn("console: the table store did not answer", "endpoint=%s error=%s", call->c->cfg.ots_endpoint,
			 strerror(-r));
		return ctl_fail(call, 503, "ServiceUnavailable", "The table store cannot be reached; try again later.");
	}
	if (rep->status == 200)
		return 0;
	e = ots__error__unpack(NULL, rep->body_len, (const uint8_t *)rep->body);
	r = ctl_fail(call, rep->status >= 400 && rep->status < 600 ? (int)rep->status : 502,
		     e ? e->code : "ServiceUnavailable", "%s", e && e->message ? e->message : "The table store failed.");
	if (e)
		ots__error__free_unpacked(e, NULL);
	ecs_http_reply_clear(rep);
	return r;
}

/* An empty array at o's key, returned. */
static struct json_object *new_list(struct json_object *o, const char *key)
{
	struct json_object *a = json_object_new_array();

	json_object_object_add(o, key, a);
	return a;
}

static int list_tables(struct ctl_call *call, const char *inst, struct json_object *out)
{
	Ots__ListTableRequest q = OTS__LIST_TABLE_REQUEST__INIT;
	uint8_t buf[8];
	size_t len = ots__list_table_request__pack(&q, buf);
	struct ecs_http_reply rep = { 0 };
	Ots__ListTableResponse *a;
	struct json_object *names;

	if (ots_do(call, inst, "ListTable", buf, len, &rep) < 0)
		return -EIO;
	a = ots__list_table_response__unpack(NULL, rep.body_len, (const uint8_t *)rep.body);
	ecs_http_reply_clear(&rep);
	if (!a)
		return ctl_fail(call, 502, "InternalError", "The table store's answer cannot be read.");
	names = new_list(out, "TableNames");
	for (size_t i = 0; i < a->n_table_names; i++)
		json_object_array_add(names, json_object_new_string(a->table_names[i]));
	ots__list_table_response__free_unpacked(a, NULL);
	return 0;
}

/* DescribeTable's answer, unpacked (caller frees), or NULL with the call failed. */
static Ots__DescribeTableResponse *describe(struct ctl_call *call, const char *inst, const char *table)
{
	Ots__DescribeTableRequest q = OTS__DESCRIBE_TABLE_REQUEST__INIT;
	struct ecs_http_reply rep = { 0 };
	Ots__DescribeTableResponse *a;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;

	q.table_name = (char *)table;
	len = ots__describe_table_request__get_packed_size(&q);
	if (!(buf = malloc(len + 1)))
		return ctl_fail(call, 500, "InternalError", "out of memory"), NULL;
	ots__describe_table_request__pack(&q, buf);
	if (ots_do(call, inst, "DescribeTable", buf, len, &rep) < 0)
		return NULL;
	a = ots__describe_table_response__unpack(NULL, rep.body_len, (const uint8_t *)rep.body);
	ecs_http_reply_clear(&rep);
	if (!a)
		ctl_fail(call, 502, "InternalError", "The table store's answer cannot be read.");
	return a;
}

static const char *pk_type(int t)
{
	return t == OTS__PRIMARY_KEY_TYPE__PKT_INTEGER ? "INTEGER" : t == OTS__PRIMARY_KEY_TYPE__PKT_STRING ? "STRING"
											       : "BINARY";
}

static const char *column_type(int t)
{
	static const char *const names[] = { [1] = "INTEGER", [2] = "DOUBLE", [3] = "BOOLEAN", [4] = "STRING",
					     [7] = "BLOB" };

	return t >= 0 && (size_t)t < ARRAY_SIZE(names) && names[t] ? names[t] : "UNKNOWN";
}

static int describe_table(struct ctl_call *call, const char *inst, const char *table, struct json_object *out)
{
	Ots__DescribeTableResponse *a = describe(call, inst, table);
	const Ots__TableMeta *m;
	struct json_object *pk, *cols, *idx;

	if (!a)
		return -EIO;
	m = a->table_meta;
	ecs_jb_str(out, "TableName", m->table_name);
	pk = new_list(out, "PrimaryKey");
	for (size_t i = 0; i < m->n_primary_key; i++) {
		struct json_object *o = json_object_new_object();

		ecs_jb_str(o, "Name", m->primary_key[i]->name);
		ecs_jb_str(o, "Type", pk_type(m->primary_key[i]->type));
		ecs_jb_bool(o, "AutoIncrement", m->primary_key[i]->has_option);
		json_object_array_add(pk, o);
	}
	cols = new_list(out, "DefinedColumns");
	for (size_t i = 0; i < m->n_defined_column; i++) {
		struct json_object *o = json_object_new_object();

		ecs_jb_str(o, "Name", m->defined_column[i]->name);
		ecs_jb_str(o, "Type", column_type(m->defined_column[i]->type));
		json_object_array_add(cols, o);
	}
	if (a->table_options) {
		ecs_jb_int(out, "TimeToLive", a->table_options->time_to_live);
		ecs_jb_int(out, "MaxVersions", a->table_options->max_versions);
	}
	idx = new_list(out, "Indexes");
	for (size_t i = 0; i < a->n_index_metas; i++)
		json_object_array_add(idx, json_object_new_string(a->index_metas[i]->name));
	ots__describe_table_response__free_unpacked(a, NULL);
	return 0;
}

/* A cell's value as JSON: numbers and booleans as such, strings as text, blobs base64. */
static void add_value(struct json_object *o, const struct ots_value *v)
{
	_cleanup_free_ char *b64 = NULL;

	switch (v->type) {
	case OTS_VT_INTEGER:
		ecs_jb_int(o, "Value", v->i);
		ecs_jb_str(o, "Type", "INTEGER");
		return;
	case OTS_VT_DOUBLE:
		ecs_jb_double(o, "Value", v->d);
		ecs_jb_str(o, "Type", "DOUBLE");
		return;
	case OTS_VT_BOOLEAN:
		ecs_jb_bool(o, "Value", v->i != 0);
		ecs_jb_str(o, "Type", "BOOLEAN");
		return;
	case OTS_VT_STRING:
		json_object_object_add(o, "Value", json_object_new_string_len((const char *)v->p, (int)v->len));
		ecs_jb_str(o, "Type", "STRING");
		return;
	default:
		b64 = ecs_base64_encode(v->p ? (const void *)v->p : "", v->len);
		ecs_jb_str(o, "Value", b64 ? b64 : "");
		ecs_jb_str(o, "Type", "BINARY");
	}
}

static struct json_object *cells_json(const struct ots_cell *cells, size_t n, bool ts)
{
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "Name", json_object_new_string_len(cells[i].name, (int)cells[i].name_len));
		add_value(o, &cells[i].v);
		if (ts && cells[i].has_ts)
			ecs_jb_int(o, "Timestamp", cells[i].ts);
		json_object_array_add(list, o);
	}
	return list;
}

/* The key of every primary key column at INF_MIN (or INF_MAX), PlainBuffer into b. */
static int bound_key(const Ots__TableMeta *m, uint8_t type, struct ecs_buf *b)
{
	struct ots_cell cells[8] = { 0 };
	struct ots_row row = { .pk = cells, .n_pk = m->n_primary_key };

	if (m->n_primary_key > ARRAY_SIZE(cells))
		return -EINVAL;
	for (size_t i = 0; i < m->n_primary_key; i++)
		cells[i] = (struct ots_cell){ .name = m->primary_key[i]->name,
					      .name_len = (uint32_t)strlen(m->primary_key[i]->name),
					      .has_value = true,
					      .v = { .type = type } };
	return ots_pb_put_header(b, 4096) < 0 ? -ENOMEM : ots_pb_put_row(b, &row, 4096);
}

static int scan_page(struct ctl_call *call, const char *inst, const char *table, const char *next,
		     struct json_object *out)
{
	Ots__GetRangeRequest q = OTS__GET_RANGE_REQUEST__INIT;
	Ots__DescribeTableResponse *d = NULL;
	Ots__GetRangeResponse *a = NULL;
	struct ecs_buf lo = { 0 }, hi = { 0 };
	struct ecs_http_reply rep = { 0 };
	struct ots_row *rows = NULL;
	_cleanup_free_ uint8_t *start = NULL, *buf = NULL;
	size_t start_len = 0, n = 0, len;
	struct json_object *list;
	int r = -EIO;

	if (next && (ecs_base64_decode(next, strlen(next), &start, &start_len) < 0 || !start_len))
		return ctl_fail(call, 400, "InvalidParameter", "Next is not a page's Next.");
	if (!(d = describe(call, inst, table)))
		return -EIO;
	if ((!next && bound_key(d->table_meta, OTS_VT_INF_MIN, &lo) < 0) ||
	    bound_key(d->table_meta, OTS_VT_INF_MAX, &hi) < 0) {
		r = ctl_fail(call, 500, "InternalError", "The table's key cannot be written.");
		goto out;
	}
	q.table_name = (char *)table;
	q.direction = OTS__DIRECTION__DIR_FORWARD;
	q.has_limit = q.has_max_versions = true;
	q.limit = CTL_CONSOLE_OTS_PAGE;
	q.max_versions = 1;
	q.inclusive_start_primary_key = next ? (ProtobufCBinaryData){ start_len, start }
					     : (ProtobufCBinaryData){ lo.len, (uint8_t *)lo.data };
	q.exclusive_end_primary_key = (ProtobufCBinaryData){ hi.len, (uint8_t *)hi.data };
	len = ots__get_range_request__get_packed_size(&q);
	if (!(buf = malloc(len + 1))) {
		r = ctl_fail(call, 500, "InternalError", "out of memory");
		goto out;
	}
	ots__get_range_request__pack(&q, buf);
	if (ots_do(call, inst, "GetRange", buf, len, &rep) < 0)
		goto out;
	a = ots__get_range_response__unpack(NULL, rep.body_len, (const uint8_t *)rep.body);
	if (!a || (a->rows.len && ots_pb_decode_rows(a->rows.data, a->rows.len, &rows, &n) < 0)) {
		r = ctl_fail(call, 502, "InternalError", "The table store's answer cannot be read.");
		goto out;
	}
	list = new_list(out, "Rows");
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "PrimaryKey", cells_json(rows[i].pk, rows[i].n_pk, false));
		json_object_object_add(o, "Columns", cells_json(rows[i].cols, rows[i].n_cols, true));
		json_object_array_add(list, o);
	}
	if (a->has_next_start_primary_key && a->next_start_primary_key.len) {
		_cleanup_free_ char *b64 = ecs_base64_encode(a->next_start_primary_key.data,
							     a->next_start_primary_key.len);

		ecs_jb_str(out, "Next", b64 ? b64 : "");
	}
	r = 0;
out:
	ots_rows_free(rows, n);
	if (a)
		ots__get_range_response__free_unpacked(a, NULL);
	ots__describe_table_response__free_unpacked(d, NULL);
	ecs_http_reply_clear(&rep);
	ecs_buf_free(&lo);
	ecs_buf_free(&hi);
	return r;
}

int ctl_console_ots(struct ctl_call *call, const char *path, const struct ecs_http_request *req,
		    struct ecs_http_response *resp)
{
	const char *op = param(call, "Op", ""), *inst = param(call, "Instance", "default");
	const char *table = param(call, "Table", NULL);
	struct json_object *out;
	int r;

	if (!call->c->cfg.ots_endpoint || !*call->c->cfg.ots_endpoint)
		return ctl_fail(call, 403, "OperationDenied.OTSUnavailable", "This cloud has no table store.");
	if (!streq(path, "call"))
		return ctl_fail(call, 404, "InvalidApi.NotFound",
				"Specified api is not found, please check your url and method.");
	if (!streq(op, "ListTable") && !streq(op, "DescribeTable") && !streq(op, "GetRange"))
		return ctl_fail(call, 400, "InvalidParameter", "Op is not an operation of the console's tables pages.");
	if (!ots_instance_name_valid(inst))
		return ctl_fail(call, 400, "InvalidParameter", "Instance is 3-16 of A-Z, a-z, 0-9 and -, first a letter.");
	if (!streq(op, "ListTable") && !table)
		return ctl_fail(call, 400, "MissingParameter", "Table is missing.");
	if (!(out = json_object_new_object()))
		return ctl_fail(call, 500, "InternalError", "out of memory");
	ecs_jb_str(out, "RequestId", req->request_id);
	if (streq(op, "ListTable"))
		r = list_tables(call, inst, out);
	else if (streq(op, "DescribeTable"))
		r = describe_table(call, inst, table, out);
	else
		r = scan_page(call, inst, table, param(call, "Next", NULL), out);
	if (r == 0)
		ecs_http_reply_json(resp, 200, out);
	json_object_put(out);
	return r < 0 ? -EIO : 0;
}
