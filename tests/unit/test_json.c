/* Tests for lib/json.c: bounded parsing, the reader's errors, the list wrappers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "json.h"
#include "util.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;
	const char *err = NULL;

	assert_int_equal(ecs_json_parse(s, strlen(s), &o, &err), 0);
	return o;
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = { "", "{", "{\"a\":1} x", "{\"a\" 1}", "[1,]", "{\"a\":01}", "nul" };
	struct json_object *o = NULL;
	const char *err;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		assert_int_equal(ecs_json_parse(bad[i], strlen(bad[i]), &o, &err), -EINVAL);
		assert_non_null(err);
	}
	assert_null(o);
}

static void test_parse_depth_limit(void **state)
{
	char deep[2 * ECS_JSON_MAX_DEPTH + 8];
	struct json_object *o = NULL;
	const char *err;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < ECS_JSON_MAX_DEPTH + 2; i++)
		deep[n++] = '[';
	for (int i = 0; i < ECS_JSON_MAX_DEPTH + 2; i++)
		deep[n++] = ']';
	assert_int_equal(ecs_json_parse(deep, n, &o, &err), -EINVAL);
	/* Within the limit it parses. */
	o = parse("[[[[1]]]]   \n");
	json_object_put(o);
}

static void test_reader_happy(void **state)
{
	struct json_object *o = parse("{\"Name\":\"vm1\",\"Size\":40,\"Live\":true,\"Tags\":[1,2]}");
	struct ecs_jreader r;

	(void)state;
	ecs_jr_init(&r, o);
	assert_string_equal(ecs_jr_str(&r, "Name", ECS_JR_REQUIRED, 64, NULL), "vm1");
	assert_int_equal(ecs_jr_int(&r, "Size", 0, 1, 2048, 20), 40);
	assert_int_equal(ecs_jr_int(&r, "Absent", 0, 1, 2048, 20), 20);
	assert_true(ecs_jr_bool(&r, "Live", 0, false));
	assert_non_null(ecs_jr_array(&r, "Tags", 0, 10));
	assert_string_equal(ecs_jr_str(&r, "Desc", 0, 64, "dflt"), "dflt");
	assert_int_equal(ecs_jr_finish(&r, true), 0);
	json_object_put(o);
}

static void test_reader_errors(void **state)
{
	struct json_object *o;
	struct ecs_jreader r;

	(void)state;
	o = parse("{\"Size\":\"40\"}");
	ecs_jr_init(&r, o);
	ecs_jr_int(&r, "Size", 0, 1, 2048, 20);
	assert_int_equal(r.rc, -EINVAL);
	assert_string_equal(r.field, "Size");
	assert_string_equal(r.message, "Size must be an integer");
	json_object_put(o);

	o = parse("{\"Size\":4096}");
	ecs_jr_init(&r, o);
	ecs_jr_int(&r, "Size", 0, 1, 2048, 20);
	assert_string_equal(r.message, "Size must be in 1..2048");
	json_object_put(o);

	o = parse("{\"Size\":99999999999999999999999}");
	ecs_jr_init(&r, o);
	ecs_jr_int(&r, "Size", 0, 1, 2048, 20);
	assert_int_equal(r.rc, -EINVAL);
	json_object_put(o);

	o = parse("{}");
	ecs_jr_init(&r, o);
	ecs_jr_str(&r, "Name", ECS_JR_REQUIRED, 10, NULL);
	ecs_jr_int(&r, "Other", ECS_JR_REQUIRED, 0, 1, 0); /* the first error is kept */
	assert_int_equal(r.rc, -ENOENT);
	assert_string_equal(r.field, "Name");
	json_object_put(o);

	o = parse("{\"Name\":\"abcdefghijk\"}");
	ecs_jr_init(&r, o);
	ecs_jr_str(&r, "Name", 0, 10, NULL);
	assert_string_equal(r.message, "Name is longer than 10 characters");
	json_object_put(o);

	o = parse("{\"Name\":\"a\\u0000b\"}");
	ecs_jr_init(&r, o);
	ecs_jr_str(&r, "Name", 0, 10, NULL);
	assert_int_equal(r.rc, -EINVAL);
	json_object_put(o);

	o = parse("{\"Name\":\"\"}");
	ecs_jr_init(&r, o);
	ecs_jr_str(&r, "Name", ECS_JR_REQUIRED | ECS_JR_NONEMPTY, 10, NULL);
	assert_int_equal(r.rc, -ENOENT);
	json_object_put(o);

	o = parse("{\"Tags\":[1,2,3]}");
	ecs_jr_init(&r, o);
	ecs_jr_array(&r, "Tags", 0, 2);
	assert_string_equal(r.message, "Tags holds more than 2 items");
	json_object_put(o);

	o = parse("[1]");
	ecs_jr_init(&r, o);
	assert_int_equal(r.rc, -EINVAL);
	json_object_put(o);
}

static void test_reader_strict_unknown_field(void **state)
{
	struct json_object *o = parse("{\"Name\":\"x\",\"Sise\":3}");
	struct ecs_jreader r;

	(void)state;
	ecs_jr_init(&r, o);
	ecs_jr_str(&r, "Name", 0, 10, NULL);
	ecs_jr_int(&r, "Size", 0, 0, 10, 0);
	assert_int_equal(ecs_jr_finish(&r, false), 0);
	assert_int_equal(ecs_jr_finish(&r, true), -EINVAL);
	assert_string_equal(r.message, "unknown field Sise");
	json_object_put(o);
}

static void test_builders(void **state)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr, *item;
	size_t len;

	(void)state;
	ecs_jb_str(o, "RequestId", "R1");
	ecs_jb_str(o, "Empty", NULL);
	ecs_jb_int(o, "TotalCount", 2);
	ecs_jb_bool(o, "IoOptimized", true);
	arr = ecs_jb_list(o, "Instances", "Instance");
	item = json_object_new_object();
	ecs_jb_str(item, "InstanceId", "i-1/2");
	json_object_array_add(arr, item);
	ecs_jb_list(o, "Tags", "Tag");
	assert_string_equal(ecs_json_text(o, &len),
			    "{\"RequestId\":\"R1\",\"Empty\":\"\",\"TotalCount\":2,\"IoOptimized\":true,"
			    "\"Instances\":{\"Instance\":[{\"InstanceId\":\"i-1/2\"}]},\"Tags\":{\"Tag\":[]}}");
	json_object_put(o);
}

static void test_document_getters(void **state)
{
	struct json_object *o = parse("{\"s\":\"x\",\"i\":7,\"b\":true,\"n\":null,\"bs\":\"true\"}");

	(void)state;
	assert_string_equal(ecs_json_str(o, "s", NULL), "x");
	assert_null(ecs_json_str(o, "i", NULL));
	assert_string_equal(ecs_json_str(o, "missing", ""), "");
	assert_int_equal(ecs_json_int(o, "i", -1), 7);
	assert_int_equal(ecs_json_int(o, "s", -1), -1);
	assert_true(ecs_json_bool(o, "b"));
	assert_false(ecs_json_bool(o, "bs")); /* a string is not a boolean */
	assert_false(ecs_json_bool(o, "missing"));
	assert_null(ecs_json_get(NULL, "s"));
	json_object_put(o);
}

/* The writer gives json-c's own text for the same values: every byte in a string, keys,
 * nesting, numbers, booleans; and its node prints that text inside a tree. */
static void test_writer_matches_json_c(void **state)
{
	struct json_object *o = json_object_new_object(), *list, *inner, *tree, *node;
	struct ecs_jw w = { 0 };
	char all[256];

	(void)state;
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	ecs_jbk_str(o, "All", all);
	ecs_jbk_str(o, "Empty", NULL);
	ecs_jbk_int(o, "Neg", -9223372036854775807LL - 1);
	ecs_jbk_int(o, "Big", 9223372036854775807LL);
	ecs_jbk_bool(o, "T", true);
	ecs_jbk_bool(o, "F", false);
	list = ecs_jbk_list(o, "Outer", "Inner");
	json_object_array_add(list, json_object_new_string("a/b\"\\"));
	inner = json_object_new_object();
	ecs_jbk_str(inner, "K", "v");
	json_object_array_add(list, inner);
	ecs_jbk_list(o, "None", "Item");
	ecs_jbk_obj(o, "Obj");

	ecs_jw_open(&w, NULL, '{');
	ecs_jw_str(&w, "All", all);
	ecs_jw_str(&w, "Empty", NULL);
	ecs_jw_int(&w, "Neg", -9223372036854775807LL - 1);
	ecs_jw_int(&w, "Big", 9223372036854775807LL);
	ecs_jw_bool(&w, "T", true);
	ecs_jw_bool(&w, "F", false);
	ecs_jw_list_open(&w, "Outer", "Inner");
	ecs_jw_str(&w, NULL, "a/b\"\\");
	ecs_jw_open(&w, NULL, '{');
	ecs_jw_str(&w, "K", "v");
	ecs_jw_close(&w, '}');
	ecs_jw_list_close(&w);
	ecs_jw_list_open(&w, "None", "Item");
	ecs_jw_list_close(&w);
	ecs_jw_open(&w, "Obj", '{');
	ecs_jw_close(&w, '}');
	ecs_jw_close(&w, '}');
	assert_int_equal(w.err, 0);
	assert_string_equal(w.data, ecs_json_text(o, NULL));

	/* As a node in a tree: printed verbatim; read back as the same tree. */
	node = ecs_jw_take(&w);
	assert_non_null(node);
	assert_null(w.data);
	tree = json_object_new_object();
	json_object_object_add(tree, "Row", node);
	inner = json_object_new_object();
	json_object_object_add(inner, "Row", json_object_get(o));
	assert_string_equal(ecs_json_text(tree, NULL), ecs_json_text(inner, NULL));
	json_object_put(inner);
	inner = ecs_json_raw_tree(node);
	assert_non_null(inner);
	assert_string_equal(ecs_json_text(inner, NULL), ecs_json_text(o, NULL));
	assert_null(ecs_json_raw_tree(o));
	json_object_put(inner);
	json_object_put(tree);
	json_object_put(o);
}

UNIT_MAIN("json", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_parse_rejects),	cmocka_unit_test(test_parse_depth_limit),
	  cmocka_unit_test(test_reader_happy),	cmocka_unit_test(test_reader_errors),
	  cmocka_unit_test(test_reader_strict_unknown_field), cmocka_unit_test(test_builders),
	  cmocka_unit_test(test_document_getters), cmocka_unit_test(test_writer_matches_json_c))
