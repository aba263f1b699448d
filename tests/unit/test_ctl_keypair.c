/* Tests for controller/keypair.c: the key pair actions called directly on a controller
 * state in a temporary SQLite file, with two accounts. Keys to import are made by the real
 * ssh-keygen, which also checks our fingerprints and the private key CreateKeyPair
 * answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include "account.h"
#include "cmd.h"
#include "config.h"
#include "ctl.h"
#include "ctl_env.h"
#include "json.h"
#include "keypair.h"
#include "log.h"
#include "store.h"
#include "util.h"

static int setup(void **state)
{
	struct ctl_test_tenants *e = ctl_test_tenants_open("test_ctl_keypair");

	*state = e;
	return 0;
}

/* ---- calling actions ---- */

/* ---- the database ---- */

static long long sql_int(struct ctl_test_tenants *e, const char *fmt, const char *arg)
{
	_cleanup_free_ char *v = ctl_test_sql_text(&e->t, fmt, arg);

	assert_non_null(v);
	return atoll(v);
}

static void add_instance(struct ctl_test_tenants *e, const char *id, const struct ctl_account *a, const char *key_pair)
{
	ctl_test_sql(&e->t,
	    "INSERT INTO instances (instance_id, account_id, name, description, hostname, image_id, instance_type, vcpus,"
	    " memory_mib, zone_id, host_id, status, desired, private_ip, mac, key_pair_name, password_hash, user_data,"
	    " internet_max_bandwidth_out, created_at, transition_at) VALUES ('%s', '%s', '%s', '', 'h', 'tiny',"
	    " 'ecs.t1.small', 1, 256, 'cn-local-a', 'host-1', 'Stopped', 'stopped', '10.240.0.2', '52:54:00:00:00:01',"
	    " '%s', '', '', 0, 1, 1)",
	    id, a->account_id, id, key_pair);
}

/* ---- ssh-keygen ---- */

static char *run(const char *const *argv)
{
	struct ecs_cmd_result r;
	char *out;

	assert_int_equal(ecs_cmd_run_ok(argv, NULL, &r), 0);
	out = strdup(r.out);
	ecs_cmd_result_clear(&r);
	return out;
}

/* A new key of type in dir; its public line (caller frees). */
static char *keygen(struct ctl_test_tenants *e, const char *type, const char *file)
{
	_cleanup_free_ char *path = ecs_strdup_printf("%s/%s", e->t.dir, file), *pub = NULL, *line = NULL;
	const char *argv[] = { "ssh-keygen", "-q", "-t", type, "-N", "", "-C", "me@test", "-f", path, NULL };
	size_t len;

	free(run(argv));
	pub = ecs_strdup_printf("%s.pub", path);
	assert_int_equal(ecs_read_file(pub, 65536, &line, &len), 0);
	return TAKE_PTR(line);
}

/* ssh-keygen's MD5 fingerprint of a key file, without its "MD5:" (caller frees). */
static char *md5_of(const char *path)
{
	const char *argv[] = { "ssh-keygen", "-l", "-E", "md5", "-f", path, NULL };
	_cleanup_free_ char *out = run(argv);
	char *p = strstr(out, "MD5:");

	assert_non_null(p);
	p += 4;
	return strndup(p, strcspn(p, " "));
}

static const char *fingerprint_of(struct ctl_test_answer *a)
{
	return ecs_json_str(a->out, "KeyPairFingerPrint", "");
}

/* ---- tests ---- */

static void test_create_describe_delete(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *keyfile = ecs_strdup_printf("%s/created", e->t.dir), *fp = NULL, *derived = NULL,
			      *stored = NULL;
	const char *argv[] = { "ssh-keygen", "-y", "-f", keyfile, NULL };
	struct ctl_test_answer a, d;
	struct json_object *list, *k;
	const char *pem;

	a = ctl_test_act(&e->t, ctl_keypair_create, &e->alice, "KeyPairName", "web-1", NULL);
	assert_int_equal(a.rc, 0);
	assert_string_equal(ecs_json_str(a.out, "KeyPairName", ""), "web-1");
	assert_true(str_has_prefix(ecs_json_str(a.out, "KeyPairId", ""), "kp-"));
	assert_int_equal(strlen(fingerprint_of(&a)), CTL_KEYPAIR_FINGERPRINT_LEN);
	pem = ecs_json_str(a.out, "PrivateKeyBody", "");
	assert_true(str_has_prefix(pem, "-----BEGIN RSA PRIVATE KEY-----\n"));
	assert_true(str_has_suffix(pem, "-----END RSA PRIVATE KEY-----\n"));
	/* OpenSSH reads the private key; its public half and MD5 fingerprint are ours. */
	assert_int_equal(ecs_write_file_atomic(keyfile, pem, strlen(pem), 0600), 0);
	fp = md5_of(keyfile);
	assert_string_equal(fp, fingerprint_of(&a));
	derived = run(argv);
	stored = ctl_test_sql_text(&e->t, "SELECT public_key FROM key_pairs WHERE name = '%s'", "web-1");
	assert_true(str_has_prefix(stored, "ssh-rsa AAAA"));
	assert_true(str_has_suffix(stored, " web-1"));
	derived[strcspn(derived, "\n")] = '\0';
	assert_true(str_has_prefix(stored, derived));
	/* The private key is nowhere in the database. */
	assert_null(ctl_test_sql_text(&e->t, "SELECT 1 FROM key_pairs WHERE public_key LIKE '%%PRIVATE%%'"));
	json_object_put(a.out);

	d = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, NULL);
	assert_int_equal(d.rc, 0);
	assert_true(json_object_is_type(ecs_json_get(d.out, "TotalCount"), json_type_int));
	assert_int_equal(ecs_json_int(d.out, "TotalCount", -1), 1);
	assert_int_equal(ecs_json_int(d.out, "PageNumber", -1), 1);
	assert_int_equal(ecs_json_int(d.out, "PageSize", -1), 10);
	list = ecs_json_get(ecs_json_get(d.out, "KeyPairs"), "KeyPair");
	assert_int_equal(json_object_array_length(list), 1);
	k = json_object_array_get_idx(list, 0);
	assert_string_equal(ecs_json_str(k, "KeyPairName", ""), "web-1");
	assert_string_equal(ecs_json_str(k, "KeyPairFingerPrint", ""), fp);
	assert_int_equal(strlen(ecs_json_str(k, "CreationTime", "")), 20);
	assert_string_equal(ecs_json_str(k, "ResourceGroupId", "x"), "");
	assert_null(ecs_json_get(k, "PublicKey"));
	assert_non_null(ecs_json_get(ecs_json_get(k, "Tags"), "Tag"));
	json_object_put(d.out);

	d = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, "IncludePublicKey", "true", NULL);
	k = json_object_array_get_idx(ecs_json_get(ecs_json_get(d.out, "KeyPairs"), "KeyPair"), 0);
	assert_string_equal(ecs_json_str(k, "PublicKey", ""), stored);
	json_object_put(d.out);

	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, "KeyPairNames", "[\"web-1\"]", NULL));
	d = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, NULL);
	assert_int_equal(ecs_json_int(d.out, "TotalCount", -1), 0);
	assert_int_equal(json_object_array_length(ecs_json_get(ecs_json_get(d.out, "KeyPairs"), "KeyPair")), 0);
	json_object_put(d.out);
}

static void test_names(void **state)
{
	static const char *const bad[] = { "9", "1abc", "-abc", "has space", "a/b", "http://x", "ab\"c", NULL };
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *line = keygen(e, "ed25519", "names");
	char long_name[130];

	for (size_t i = 0; bad[i]; i++) {
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_create, &e->alice, "KeyPairName", bad[i], NULL), 400,
			     "InvalidKeyPairName.Malformed");
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", bad[i], "PublicKeyBody", line, NULL), 400,
			     "InvalidKeyPairName.Malformed");
	}
	memset(long_name, 'k', 129);
	long_name[129] = '\0';
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", long_name, "PublicKeyBody", line, NULL), 400,
		     "InvalidKeyPairName.Malformed");
	long_name[128] = '\0';
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", long_name, "PublicKeyBody", line, NULL));
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "Ab.c_d:e-9", "PublicKeyBody", line, NULL));
	/* One letter is accepted (the tour's "k"), unlike ECS's 2-128. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "k", "PublicKeyBody", line, NULL));
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_create, &e->alice, NULL), 400, "MissingParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "nokey", NULL), 400, "MissingParameter");
}

static void test_import(void **state)
{
	static const char *const types[] = { "ed25519", "rsa", "ecdsa", NULL };
	struct ctl_test_tenants *e = *state;

	for (size_t i = 0; types[i]; i++) {
		_cleanup_free_ char *line = keygen(e, types[i], types[i]), *pub = ecs_strdup_printf("%s/%s.pub", e->t.dir, types[i]),
				    *fp = md5_of(pub), *name = ecs_strdup_printf("imported-%s", types[i]), *stored = NULL;
		struct ctl_test_answer a = ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", name, "PublicKeyBody", line, NULL);

		assert_int_equal(a.rc, 0);
		assert_string_equal(ecs_json_str(a.out, "KeyPairName", ""), name);
		assert_string_equal(fingerprint_of(&a), fp);
		assert_null(ecs_json_get(a.out, "PrivateKeyBody"));
		json_object_put(a.out);
		/* Stored as one line, the comment kept. */
		line[strcspn(line, "\n")] = '\0';
		stored = ctl_test_sql_text(&e->t, "SELECT public_key FROM key_pairs WHERE name = '%s'", name);
		assert_string_equal(stored, line);
		/* Found by its fingerprint. */
		a = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, "KeyPairFingerPrint", fp, NULL);
		assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 1);
		json_object_put(a.out);
	}
}

static void test_import_invalid(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *ed = keygen(e, "ed25519", "inv-ed"), *rsa = keygen(e, "rsa", "inv-rsa"), *claim = NULL,
			    *truncated = NULL, *two = NULL, *b64 = NULL;
	char *sp;
	const char *bodies[8];
	size_t n = 0;

	ed[strcspn(ed, "\n")] = '\0';
	rsa[strcspn(rsa, "\n")] = '\0';
	/* An ed25519 blob under the name ssh-rsa. */
	claim = ecs_strdup_printf("ssh-rsa %s", strchr(ed, ' ') + 1);
	/* The blob cut short (still valid base64). */
	b64 = strdup(strchr(rsa, ' ') + 1);
	sp = strchr(b64, ' ');
	*sp = '\0';
	b64[strlen(b64) - 8] = '\0';
	truncated = ecs_strdup_printf("ssh-rsa %s", b64);
	two = ecs_strdup_printf("%s\n%s", ed, ed);
	bodies[n++] = claim;
	bodies[n++] = truncated;
	bodies[n++] = two;
	bodies[n++] = "ssh-rsa";
	bodies[n++] = "ssh-rsa AAAA!!!!";
	bodies[n++] = "ssh-foo AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x";
	bodies[n++] = "-----BEGIN RSA PRIVATE KEY-----";
	bodies[n++] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnly+for/testing";
	for (size_t i = 0; i < n; i++)
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "bad", "PublicKeyBody", bodies[i], NULL),
			     400, "InvalidPublicKeyBody.Malformed");
	/* Surrounding blanks and a trailing line break are fine. */
	{
		_cleanup_free_ char *padded = ecs_strdup_printf("  %s \r\n", ed);

		ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "padded", "PublicKeyBody", padded, NULL));
	}
	/* Nothing but "padded" was stored. */
	assert_int_equal(sql_int(e, "SELECT count(*) FROM key_pairs WHERE account_id = '%s'", e->alice.account_id), 1);
}

static void test_duplicate_and_accounts(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *line = keygen(e, "ed25519", "dup");
	struct ctl_test_answer a;

	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "shared", "PublicKeyBody", line, NULL));
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "shared", "PublicKeyBody", line, NULL), 400,
		     "KeyPair.AlreadyExist");
	/* Another account has names of its own. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->bob, "KeyPairName", "shared", "PublicKeyBody", line, NULL));
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "alice-only", "PublicKeyBody", line, NULL));
	a = ctl_test_act(&e->t, ctl_keypair_describe, &e->bob, NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 1);
	json_object_put(a.out);
	a = ctl_test_act(&e->t, ctl_keypair_describe, &e->bob, "KeyPairName", "alice-only", NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 0);
	json_object_put(a.out);
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_delete, &e->bob, "KeyPairNames", "[\"alice-only\"]", NULL), 404,
		     "InvalidKeyPair.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_attach, &e->bob, "KeyPairName", "alice-only", "InstanceIds", "[\"i-x\"]", NULL), 404,
		     "InvalidKeyPairName.NotFound");
	/* Bob deleting his "shared" leaves Alice's. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_delete, &e->bob, "KeyPairNames", "[\"shared\"]", NULL));
	assert_int_equal(sql_int(e, "SELECT count(*) FROM key_pairs WHERE account_id = '%s'", e->alice.account_id), 2);
}

static void test_describe_filters(void **state)
{
	static const char *const names[] = { "SshKey", "mySshKey", "SshKeyTwo", "other", "a-SshKey-b", NULL };
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *line = keygen(e, "ed25519", "filters");
	struct ctl_test_answer a;
	struct {
		const char *pattern;
		int count;
	} cases[] = { { "*SshKey", 2 }, { "SshKey*", 2 }, { "*SshKey*", 4 }, { "SshKey", 1 }, { "*", 5 },
		      { "?shKey", 0 }, { "[S]shKey", 0 }, { "sshkey", 0 } };

	for (size_t i = 0; names[i]; i++)
		ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", names[i], "PublicKeyBody", line, NULL));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		a = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, "KeyPairName", cases[i].pattern, NULL);
		assert_int_equal(a.rc, 0);
		if (ecs_json_int(a.out, "TotalCount", -1) != cases[i].count)
			fail_msg("pattern %s: %d, not %d", cases[i].pattern, (int)ecs_json_int(a.out, "TotalCount", -1),
				 cases[i].count);
		json_object_put(a.out);
	}
	/* Pages: 5 key pairs, 2 a page. */
	a = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, "PageSize", "2", "PageNumber", "3", NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 5);
	assert_int_equal(ecs_json_int(a.out, "PageNumber", -1), 3);
	assert_int_equal(json_object_array_length(ecs_json_get(ecs_json_get(a.out, "KeyPairs"), "KeyPair")), 1);
	json_object_put(a.out);
	a = ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, "PageSize", "2", "PageNumber", "9", NULL);
	assert_int_equal(ecs_json_int(a.out, "TotalCount", -1), 5);
	assert_int_equal(json_object_array_length(ecs_json_get(ecs_json_get(a.out, "KeyPairs"), "KeyPair")), 0);
	json_object_put(a.out);
	/* ECS pages key pairs by at most 50. */
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_describe, &e->alice, "PageSize", "51", NULL), 400, "InvalidParameter");
}

static void test_limit(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *line = keygen(e, "ed25519", "limit");

	/* 499 stored at once, then the 500th through the action, then no more. */
	ctl_test_sql(&e->t,
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) INSERT INTO key_pairs"
	    " (account_id, name, fingerprint, public_key, created_at) SELECT '%s', 'k' || i, 'f', 'ssh-ed25519 x', 1"
	    " FROM n",
	    CTL_KEYPAIR_MAX - 1, e->alice.account_id);
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "last", "PublicKeyBody", line, NULL));
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "one-more", "PublicKeyBody", line, NULL), 403,
		     "QuotaExceed.KeyPair");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_create, &e->alice, "KeyPairName", "one-more", NULL), 403, "QuotaExceed.KeyPair");
	/* The limit is the account's: Bob is not touched. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->bob, "KeyPairName", "one-more", "PublicKeyBody", line, NULL));
}

/* The newest modify job of an instance, as its args. */
static struct json_object *modify_job(struct ctl_test_tenants *e, const char *id)
{
	_cleanup_free_ char *args = ctl_test_sql_text(&e->t, "SELECT args FROM jobs WHERE resource_id = '%s' AND kind = 'instance' AND"
						" op = 'modify' ORDER BY job_id DESC LIMIT 1", id);
	struct json_object *o = NULL;
	const char *perr;

	assert_non_null(args);
	assert_int_equal(ecs_json_parse(args, strlen(args), &o, &perr), 0);
	return o;
}

static void expect_instance_key(struct ctl_test_tenants *e, const char *id, const char *want)
{
	_cleanup_free_ char *kp = ctl_test_sql_text(&e->t, "SELECT key_pair_name FROM instances WHERE instance_id = '%s'", id);

	assert_non_null(kp);
	assert_string_equal(kp, want);
}

static void test_attach_detach(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *line = keygen(e, "ed25519", "attach"), *stored = NULL;
	struct json_object *job, *results, *r0;
	struct ctl_test_answer a;

	add_instance(e, "i-one", &e->alice, "");
	add_instance(e, "i-two", &e->alice, "old");
	add_instance(e, "i-bobs", &e->bob, "");
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "deploy", "PublicKeyBody", line, NULL));
	stored = ctl_test_sql_text(&e->t, "SELECT public_key FROM key_pairs WHERE name = '%s'", "deploy");

	a = ctl_test_act(&e->t, ctl_keypair_attach, &e->alice, "KeyPairName", "deploy", "InstanceIds",
		"[\"i-one\",\"i-two\",\"i-bobs\",\"i-none\"]", NULL);
	assert_int_equal(a.rc, 0);
	/* Strings, as ECS answers them. */
	assert_true(json_object_is_type(ecs_json_get(a.out, "TotalCount"), json_type_string));
	assert_string_equal(ecs_json_str(a.out, "TotalCount", ""), "4");
	assert_string_equal(ecs_json_str(a.out, "FailCount", ""), "2");
	assert_string_equal(ecs_json_str(a.out, "KeyPairName", ""), "deploy");
	results = ecs_json_get(ecs_json_get(a.out, "Results"), "Result");
	assert_int_equal(json_object_array_length(results), 4);
	r0 = json_object_array_get_idx(results, 0);
	assert_string_equal(ecs_json_str(r0, "InstanceId", ""), "i-one");
	assert_string_equal(ecs_json_str(r0, "Success", ""), "true");
	assert_string_equal(ecs_json_str(r0, "Code", ""), "200");
	assert_string_equal(ecs_json_str(r0, "Message", ""), "successful");
	/* Another account's instance answers as a missing one. */
	r0 = json_object_array_get_idx(results, 2);
	assert_string_equal(ecs_json_str(r0, "Success", ""), "false");
	assert_string_equal(ecs_json_str(r0, "Code", ""), "InvalidInstanceId.NotFound");
	json_object_put(a.out);

	expect_instance_key(e, "i-two", "deploy");
	expect_instance_key(e, "i-bobs", "");
	assert_null(ctl_test_sql_text(&e->t, "SELECT 1 FROM jobs WHERE resource_id = '%s'", "i-bobs"));
	job = modify_job(e, "i-one");
	assert_string_equal(ecs_json_str(job, "key_pair_name", ""), "deploy");
	assert_int_equal(json_object_array_length(ecs_json_get(job, "public_keys")), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(ecs_json_get(job, "public_keys"), 0)), stored);
	json_object_put(job);

	/* Bound: it cannot be deleted (ECS), and nothing else in the call is either. */
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "spare", "PublicKeyBody", line, NULL));
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, "KeyPairNames", "[\"spare\",\"deploy\"]", NULL), 400,
		     "InvalidParameter.KeypairAlreadyAttachedInstance");
	assert_int_equal(sql_int(e, "SELECT count(*) FROM key_pairs WHERE account_id = '%s'", e->alice.account_id), 2);

	a = ctl_test_act(&e->t, ctl_keypair_detach, &e->alice, "KeyPairName", "deploy", "InstanceIds", "[\"i-one\"]", NULL);
	assert_int_equal(a.rc, 0);
	assert_string_equal(ecs_json_str(a.out, "FailCount", ""), "0");
	json_object_put(a.out);
	expect_instance_key(e, "i-one", "");
	job = modify_job(e, "i-one");
	assert_string_equal(ecs_json_str(job, "key_pair_name", "x"), "");
	assert_int_equal(json_object_array_length(ecs_json_get(job, "public_keys")), 0);
	json_object_put(job);
	/* An instance without this key pair is left as it is. */
	a = ctl_test_act(&e->t, ctl_keypair_detach, &e->alice, "KeyPairName", "spare", "InstanceIds", "[\"i-two\"]", NULL);
	assert_string_equal(ecs_json_str(a.out, "FailCount", ""), "0");
	json_object_put(a.out);
	expect_instance_key(e, "i-two", "deploy");
	assert_int_equal(sql_int(e, "SELECT count(*) FROM jobs WHERE resource_id = '%s'", "i-two"), 1);

	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_detach, &e->alice, "KeyPairName", "deploy", "InstanceIds", "[\"i-two\"]", NULL));
	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, "KeyPairNames", "[\"spare\",\"deploy\"]", NULL));

	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_attach, &e->alice, "KeyPairName", "gone", "InstanceIds", "[\"i-one\"]", NULL), 404,
		     "InvalidKeyPairName.NotFound");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_attach, &e->alice, "KeyPairName", "gone", NULL), 400, "MissingParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_attach, &e->alice, "KeyPairName", "gone", "InstanceIds", "i-one", NULL), 400,
		     "InvalidParameter");
	{
		/* At most 50 instances in one call. */
		char ids[51 * 8 + 2] = "[";

		for (int i = 0; i < 51; i++)
			strcat(ids, i ? ",\"i-x\"" : "\"i-x\"");
		strcat(ids, "]");
		ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_attach, &e->alice, "KeyPairName", "gone", "InstanceIds", ids, NULL), 400,
			     "InvalidParameter");
	}
}

static void test_delete_errors(void **state)
{
	struct ctl_test_tenants *e = *state;
	_cleanup_free_ char *line = keygen(e, "ed25519", "del");

	ctl_test_expect_ok(ctl_test_act(&e->t, ctl_keypair_import, &e->alice, "KeyPairName", "keep", "PublicKeyBody", line, NULL));
	/* One unknown name: nothing is deleted. */
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, "KeyPairNames", "[\"keep\",\"unknown\"]", NULL), 404,
		     "InvalidKeyPair.NotFound");
	assert_int_equal(sql_int(e, "SELECT count(*) FROM key_pairs WHERE account_id = '%s'", e->alice.account_id), 1);
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, "KeyPairNames", "[]", NULL), 400,
		     "InvalidKeyPairNames.ValueNotSupported");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, "KeyPairNames", "keep", NULL), 400, "InvalidParameter");
	ctl_test_expect_error(ctl_test_act(&e->t, ctl_keypair_delete, &e->alice, NULL), 400, "MissingParameter");
}

static void test_parse_public(void **state)
{
	/* A fixed key and what `ssh-keygen -l -E md5` prints for it. */
	static const char key[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILGSlqFnYc6vgYdV0rEX3y2QRzvgTv62TOIN9wKlE3pw";
	char fp[CTL_KEYPAIR_FINGERPRINT_LEN + 1];
	_cleanup_free_ char *commented = ecs_strdup_printf("%s  fixed\tkey\n", key), *bad = ecs_strdup_printf("%s a\x01", key);
	char *line = NULL;

	(void)state;
	assert_int_equal(ctl_keypair_parse_public(key, &line, fp), 0);
	assert_string_equal(line, key);
	assert_string_equal(fp, "38:e2:c8:58:87:0a:69:38:55:51:d3:b3:a1:01:5f:cf");
	free(line);
	/* Blanks between the fields collapse; the comment stays as it is. */
	assert_int_equal(ctl_keypair_parse_public(commented, &line, fp), 0);
	assert_true(str_has_prefix(line, key));
	assert_string_equal(line + strlen(key), " fixed\tkey");
	free(line);
	line = NULL;
	assert_int_equal(ctl_keypair_parse_public("", &line, fp), -EINVAL);
	assert_int_equal(ctl_keypair_parse_public(bad, &line, fp), -EINVAL);
	assert_null(line);
}

UNIT_MAIN("ctl_keypair", setup, ctl_test_env_teardown, ctl_test_quiet_logs, NULL,
	  cmocka_unit_test(test_create_describe_delete),
	  cmocka_unit_test(test_names),
	  cmocka_unit_test(test_import),
	  cmocka_unit_test(test_import_invalid),
	  cmocka_unit_test(test_duplicate_and_accounts),
	  cmocka_unit_test(test_describe_filters),
	  cmocka_unit_test(test_limit),
	  cmocka_unit_test(test_attach_detach),
	  cmocka_unit_test(test_delete_errors),
	  cmocka_unit_test_setup_teardown(test_parse_public, unit_no_fixture, unit_no_fixture))
