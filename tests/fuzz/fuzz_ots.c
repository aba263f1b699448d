/* libFuzzer target: what ecs-otsd decodes from the internet: every request message it
 * unpacks (protobuf-c), the PlainBuffer rows and keys inside them, the checks and key
 * encoding a decoded key goes through, and a decoded row applied as a write and re-encoded
 * (which must decode again to the same cells), and the x-ots-* headers canonicalised for
 * the signature, and column conditions and filters parsed and evaluated on the decoded row.
 * The first byte picks the request type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "key.h"
#include "kv.h"
#include "ots_sign.h"
#include "ots.pb-c.h"
#include "plainbuf.h"
#include "row.h"

static const ProtobufCMessageDescriptor *const requests[] = {
	&ots__create_table_request__descriptor, &ots__update_table_request__descriptor,
	&ots__describe_table_request__descriptor, &ots__delete_table_request__descriptor,
	&ots__list_table_request__descriptor,	&ots__get_row_request__descriptor,
	&ots__put_row_request__descriptor,	&ots__update_row_request__descriptor,
	&ots__delete_row_request__descriptor,	&ots__batch_get_row_request__descriptor,
	&ots__batch_write_row_request__descriptor, &ots__get_range_request__descriptor,
	&ots__start_local_transaction_request__descriptor, &ots__commit_transaction_request__descriptor,
	&ots__abort_transaction_request__descriptor, &ots__stored_table__descriptor,
};

/* The input as a filter (the row's own bytes: a filter that parses is evaluated on it). */
static void filter(const uint8_t *data, size_t size, const struct ots_row *r)
{
	struct ots_filter *f = NULL;
	const char *msg;
	int32_t off, lim;

	if (ots_filter_parse(data, size, true, &f, &msg) < 0)
		return;
	ots_filter_match(f, r);
	ots_filter_match(f, NULL);
	ots_filter_paging(f, &off, &lim);
	ots_filter_free(f);
}

static void row(const uint8_t *data, size_t size)
{
	static const struct ots_schema s = { .n = 2, .col = { { "a", OTS_VT_INTEGER }, { "b", OTS_VT_STRING } } };
	struct ots_table_rules rules = { .max_versions = 3, .ttl_s = 86400, .now_ms = 1700000000000 };
	struct ots_read_spec spec = { .max_versions = 2 };
	struct ots_row r, applied, back, sel, *rows = NULL;
	struct ecs_buf b = { 0 };
	const char *msg;
	char *key = NULL;
	size_t n = 0;

	if (ots_pb_decode_rows(data, size, &rows, &n) == 0)
		ots_rows_free(rows, n);
	if (ots_pb_decode_row(data, size, &r) < 0)
		return;
	if (ots_key_check(&s, r.pk, r.n_pk, OTS_KEY_BOUND, &msg) == 0 && ots_key_encode(&s, r.pk, r.n_pk, true, &key) == 0)
		free(key);
	filter(data, size, &r);
	if (ots_row_check_write(&r, true, &msg) == 0 && ots_row_apply(NULL, &r, true, &rules, &applied) == 0) {
		applied.pk = r.pk;
		applied.n_pk = r.n_pk;
		if (ots_pb_put_header(&b, SIZE_MAX) < 0 || ots_pb_put_row(&b, &applied, SIZE_MAX) < 0 ||
		    ots_pb_decode_row(b.data, b.len, &back) < 0)
			abort();
		if (back.n_pk != applied.n_pk || back.n_cols != applied.n_cols)
			abort();
		if (ots_row_select(&back, &spec, &rules, &sel) == 0)
			free(sel.cols);
		ots_row_clear(&back);
		free(applied.cols);
		ecs_buf_free(&b);
	}
	ots_row_clear(&r);
}

/* Lines "name:value" as request headers. */
static void headers(const uint8_t *data, size_t size)
{
	struct ecs_kvlist h = ECS_KVLIST_INIT;
	char *s = malloc(size + 1), *line, *save = NULL, *sts;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		if (colon) {
			*colon = '\0';
			ecs_kvlist_add(&h, line, colon + 1);
		}
	}
	sts = ots_sign_request_string("GetRow", &h);
	free(sts);
	ots_sign_verify("secret", "GetRow", &h);
	ecs_kvlist_clear(&h);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m;

	if (size < 1)
		return 0;
	row(data + 1, size - 1);
	filter(data + 1, size - 1, NULL);
	headers(data + 1, size - 1);
	m = protobuf_c_message_unpack(requests[data[0] % (sizeof(requests) / sizeof(requests[0]))], NULL, size - 1,
				      data + 1);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
