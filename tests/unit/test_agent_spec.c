/* Tests for agent/spec.c: a full spec decodes into every field; each required field missing
 * answers MissingParameter; each invalid or out-of-bounds field answers InvalidParameter;
 * unknown fields are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "crypto.h"
#include "spec.h"
#include "util.h"

#define GOOD                                                                                                 \
	"{\"instance_id\": \"i-abcdefghijklmnopqrst\", \"hostname\": \"web-1\", \"vcpus\": 2,"              \
	" \"memory_mib\": 512, \"image_id\": \"tiny\","                                                     \
	" \"system_disk\": {\"disk_id\": \"d-aaaaaaaaaaaaaaaaaaaa\", \"size_gib\": 1},"                     \
	" \"data_disks\": [{\"disk_id\": \"d-bbbbbbbbbbbbbbbbbbbb\", \"size_gib\": 5},"                      \
	"                  {\"disk_id\": \"d-cccccccccccccccccccc\", \"size_gib\": 2,"                      \
	"                   \"snapshot_id\": \"s-dddddddddddddddddddd\"}],"                                 \
	" \"nics\": [{\"mac\": \"52:54:00:aa:bb:cc\", \"ip\": \"10.0.0.5\", \"prefix_len\": 24,"            \
	"            \"gateway\": \"10.0.0.1\", \"dns\": [\"10.0.0.1\", \"1.1.1.1\"]}],"                    \
	" \"key_pair_name\": \"kp1\", \"security_group_ids\": [\"sg-eeeeeeeeeeeeeeeeeeee\"],"               \
	" \"public_keys\": [\"ssh-ed25519 AAAA one\"], \"password_hash\": \"$6$salt$hash\","                \
	" \"user_data\": \"IyEvYmluL3NoCg==\", \"start\": false}"

static struct json_object *good(void)
{
	struct json_object *o = json_tokener_parse(GOOD);

	assert_non_null(o);
	return o;
}

/* Decode o (consumed); return rc, the error code in code. */
static int decode(struct json_object *o, char code[64])
{
	struct agent_instance_spec *s = NULL;
	struct agent_err err = { 0 };
	int r = agent_instance_spec_decode(o, &s, &err);

	json_object_put(o);
	snprintf(code, 64, "%s", r < 0 ? err.code : "");
	if (r == 0) {
		assert_non_null(s);
		agent_instance_spec_free(s);
	} else {
		assert_null(s);
		assert_int_equal(err.status, 400);
	}
	return r;
}

static void test_good_spec(void **state)
{
	struct json_object *o = good();
	struct agent_instance_spec *s = NULL;
	struct agent_err err = { 0 };

	(void)state;
	assert_int_equal(agent_instance_spec_decode(o, &s, &err), 0);
	json_object_put(o); /* the spec keeps its own reference */
	assert_string_equal(s->instance_id, "i-abcdefghijklmnopqrst");
	assert_string_equal(s->hostname, "web-1");
	assert_int_equal(s->vcpus, 2);
	assert_int_equal(s->memory_mib, 512);
	assert_string_equal(s->image_id, "tiny");
	assert_string_equal(s->system_disk.disk_id, "d-aaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(s->system_disk.size_gib, 1);
	assert_null(s->system_disk.snapshot_id);
	assert_int_equal(s->n_data_disks, 2);
	assert_null(s->data_disks[0].snapshot_id);
	assert_int_equal(s->data_disks[0].size_gib, 5);
	assert_string_equal(s->data_disks[1].snapshot_id, "s-dddddddddddddddddddd");
	assert_int_equal(s->n_nics, 1);
	assert_string_equal(s->nics[0].mac, "52:54:00:aa:bb:cc");
	assert_string_equal(s->nics[0].ip, "10.0.0.5");
	assert_int_equal(s->nics[0].prefix_len, 24);
	assert_string_equal(s->nics[0].gateway, "10.0.0.1");
	assert_int_equal(s->nics[0].n_dns, 2);
	assert_string_equal(s->nics[0].dns[1], "1.1.1.1");
	assert_string_equal(s->key_pair_name, "kp1");
	assert_true(s->has_security_groups);
	assert_int_equal(s->n_security_groups, 1);
	assert_string_equal(s->security_group_ids[0], "sg-eeeeeeeeeeeeeeeeeeee");
	assert_int_equal(s->n_public_keys, 1);
	assert_string_equal(s->public_keys[0], "ssh-ed25519 AAAA one");
	assert_string_equal(s->password_hash, "$6$salt$hash");
	assert_int_equal(s->user_data_len, 10);
	assert_memory_equal(s->user_data, "#!/bin/sh\n", 10);
	assert_false(s->start);
	agent_instance_spec_free(s);
	agent_instance_spec_free(NULL);
}

static void test_minimal_spec_defaults(void **state)
{
	struct json_object *o = good();
	struct agent_instance_spec *s = NULL;
	struct agent_err err = { 0 };

	(void)state;
	for (const char *const *k = (const char *const[]){ "data_disks", "key_pair_name", "security_group_ids",
							    "public_keys", "password_hash", "user_data", "start", NULL };
	     *k; k++)
		json_object_object_del(o, *k);
	assert_int_equal(agent_instance_spec_decode(o, &s, &err), 0);
	assert_int_equal(s->n_data_disks, 0);
	assert_false(s->has_security_groups); /* absent: not filtered */
	assert_null(s->key_pair_name);
	assert_null(s->password_hash);
	assert_null(s->user_data);
	assert_true(s->start);
	agent_instance_spec_free(s);
	/* An empty list of groups is not an absent one. */
	json_object_object_add(o, "security_group_ids", json_object_new_array());
	assert_int_equal(agent_instance_spec_decode(o, &s, &err), 0);
	assert_true(s->has_security_groups);
	assert_int_equal(s->n_security_groups, 0);
	agent_instance_spec_free(s);
	json_object_put(o);
}

static void test_each_required_field_missing(void **state)
{
	static const char *const required[] = { "instance_id", "hostname", "vcpus", "memory_mib",
						"image_id",    "system_disk", "nics" };
	char code[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		struct json_object *o = good();

		json_object_object_del(o, required[i]);
		assert_int_equal(decode(o, code), -ENOENT);
		assert_string_equal(code, "MissingParameter");
	}
	/* Inside a disk and a NIC too. */
	{
		struct json_object *o = good();

		json_object_object_del(json_object_object_get(o, "system_disk"), "size_gib");
		assert_int_equal(decode(o, code), -ENOENT);
		o = good();
		json_object_object_del(json_object_array_get_idx(json_object_object_get(o, "nics"), 0), "mac");
		assert_int_equal(decode(o, code), -ENOENT);
	}
}

/* Set key (a path "a", or "nics.0.mac") of the good spec to the JSON value text; expect
 * InvalidParameter. */
static void expect_invalid(const char *path, const char *value)
{
	struct json_object *o = good(), *at = o, *v = json_tokener_parse(value);
	_cleanup_free_ char *copy = strdup(path);
	char *save = NULL, *key = strtok_r(copy, ".", &save), *next;
	char code[64];

	assert_non_null(v);
	while ((next = strtok_r(NULL, ".", &save))) {
		struct json_object *child = json_object_object_get(at, key);

		at = json_object_is_type(child, json_type_array) ? json_object_array_get_idx(child, atoi(next)) : child;
		key = strtok_r(NULL, ".", &save);
		if (!key)
			fail_msg("bad path %s", path);
	}
	json_object_object_add(at, key, v);
	if (decode(o, code) != -EINVAL || !streq(code, "InvalidParameter"))
		fail_msg("%s = %s was accepted (%s)", path, value, code);
}

static void test_each_invalid_field_rejected(void **state)
{
	(void)state;
	expect_invalid("instance_id", "\"d-abcdefghijklmnopqrst\"");
	expect_invalid("instance_id", "42");
	expect_invalid("hostname", "\"-web\"");
	expect_invalid("hostname", "\"web_1\"");
	expect_invalid("hostname", "\"\"");
	expect_invalid("image_id", "\"../etc\"");
	expect_invalid("system_disk", "\"d-aaaaaaaaaaaaaaaaaaaa\"");
	expect_invalid("system_disk", "{\"disk_id\": \"i-aaaaaaaaaaaaaaaaaaaa\", \"size_gib\": 1}");
	expect_invalid("system_disk", "{\"disk_id\": \"d-aaaaaaaaaaaaaaaaaaaa\", \"size_gib\": 1, \"snapshot_id\": \"\"}");
	expect_invalid("data_disks", "[{\"disk_id\": \"d-bbbbbbbbbbbbbbbbbbbb\", \"size_gib\": 1, \"snapshot_id\": \"x\"}]");
	expect_invalid("nics", "[]");
	expect_invalid("nics.0.mac", "\"53:54:00:aa:bb:cc\""); /* multicast */
	expect_invalid("nics.0.mac", "\"52:54:00:aa:bb\"");
	expect_invalid("nics.0.ip", "\"10.0.0.256\"");
	expect_invalid("nics.0.gateway", "\"gw\"");
	expect_invalid("nics.0.dns", "[\"10.0.0.1\", 7]");
	expect_invalid("nics.0.dns", "[\"resolver\"]");
	expect_invalid("nics.0.extra", "1");
	expect_invalid("security_group_ids", "[\"i-eeeeeeeeeeeeeeeeeeee\"]");
	expect_invalid("public_keys", "[\"ssh-ed25519 AAAA\\nsecond line\"]");
	expect_invalid("public_keys", "[\"\"]");
	expect_invalid("public_keys", "[1]");
	expect_invalid("password_hash", "\"plain\"");
	expect_invalid("password_hash", "\"$6$a\\\"b\"");
	expect_invalid("user_data", "\"not base64!\"");
	expect_invalid("start", "\"yes\"");
	expect_invalid("unknown_field", "1");
}

static char *json_array_of(size_t n, const char *item)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", item);
	fputc(']', f);
	fclose(f);
	return text;
}

static void test_bounds(void **state)
{
	_cleanup_free_ char *disks = NULL, *nics = NULL, *keys = NULL, *dns = NULL, *big_key = NULL;
	_cleanup_free_ char *ud = NULL, *ud_json = NULL, *raw = NULL;
	char code[64];

	(void)state;
	expect_invalid("vcpus", "0");
	expect_invalid("vcpus", "65");
	expect_invalid("memory_mib", "63");
	expect_invalid("memory_mib", "262145");
	expect_invalid("system_disk", "{\"disk_id\": \"d-aaaaaaaaaaaaaaaaaaaa\", \"size_gib\": 0}");
	expect_invalid("system_disk", "{\"disk_id\": \"d-aaaaaaaaaaaaaaaaaaaa\", \"size_gib\": 2049}");
	expect_invalid("nics.0.prefix_len", "0");
	expect_invalid("nics.0.prefix_len", "33");
	disks = json_array_of(AGENT_MAX_DATA_DISKS + 1, "{\"disk_id\": \"d-bbbbbbbbbbbbbbbbbbbb\", \"size_gib\": 1}");
	expect_invalid("data_disks", disks);
	nics = json_array_of(AGENT_MAX_NICS + 1, "{\"mac\": \"52:54:00:aa:bb:cc\", \"ip\": \"10.0.0.5\", \"prefix_len\": 24}");
	expect_invalid("nics", nics);
	keys = json_array_of(AGENT_SPEC_MAX_KEYS + 1, "\"ssh-ed25519 AAAA\"");
	expect_invalid("public_keys", keys);
	dns = json_array_of(AGENT_SPEC_MAX_DNS + 1, "\"1.1.1.1\"");
	expect_invalid("nics.0.dns", dns);
	big_key = malloc(AGENT_SPEC_MAX_KEY_LEN + 4);
	big_key[0] = '"';
	memset(big_key + 1, 'k', AGENT_SPEC_MAX_KEY_LEN + 1);
	strcpy(big_key + AGENT_SPEC_MAX_KEY_LEN + 2, "\"");
	{
		_cleanup_free_ char *arr = json_array_of(1, big_key);

		expect_invalid("public_keys", arr);
	}
	/* User data: exactly the limit decodes, one byte more does not. */
	raw = malloc(AGENT_MAX_USER_DATA + 1);
	memset(raw, 'u', AGENT_MAX_USER_DATA + 1);
	for (int extra = 0; extra <= 1; extra++) {
		struct json_object *o = good();

		free(ud);
		ud = ecs_base64_encode(raw, AGENT_MAX_USER_DATA + (size_t)extra);
		json_object_object_add(o, "user_data", json_object_new_string(ud));
		assert_int_equal(decode(o, code), extra ? -EINVAL : 0);
	}
	/* At the limits: accepted. */
	disks = (free(disks), json_array_of(AGENT_MAX_DATA_DISKS, "{\"disk_id\": \"d-bbbbbbbbbbbbbbbbbbbb\", \"size_gib\": 2048}"));
	{
		struct json_object *o = good();

		json_object_object_add(o, "data_disks", json_tokener_parse(disks));
		json_object_object_add(o, "vcpus", json_object_new_int(64));
		json_object_object_add(o, "memory_mib", json_object_new_int(262144));
		assert_int_equal(decode(o, code), 0);
	}
}

static void test_spec_of_doc(void **state)
{
	struct json_object *doc = json_object_new_object();
	struct agent_instance_spec *s = NULL;
	struct agent_err err = { 0 };

	(void)state;
	assert_int_equal(agent_instance_spec_of_doc(doc, &s, &err), -EINVAL);
	json_object_object_add(doc, "spec", good());
	assert_int_equal(agent_instance_spec_of_doc(doc, &s, &err), 0);
	json_object_put(doc);
	assert_string_equal(s->hostname, "web-1"); /* the spec outlives the document */
	agent_instance_spec_free(s);
}

UNIT_MAIN("spec", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_good_spec),
	  cmocka_unit_test(test_minimal_spec_defaults),
	  cmocka_unit_test(test_each_required_field_missing),
	  cmocka_unit_test(test_each_invalid_field_rejected),
	  cmocka_unit_test(test_bounds),
	  cmocka_unit_test(test_spec_of_doc))
