/* Tests for `ecsctl keypair`: the private key saved 0600 under a 0700 ~/.ecsctl/keys, never
 * overwritten (checked before any request), never printed; a key that cannot be saved
 * deletes its key pair again; import sends the public key file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "unit.h"
#include "test_ecsctl_fake.h"

#define PEM "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----"

static void test_create(void **state)
{
	char keys[128], pem[160], want[200];
	struct run_result res;
	_cleanup_free_ char *log = NULL, *body = NULL;
	struct stat st;

	(void)state;
	fake_reset();
	snprintf(keys, sizeof(keys), "%s/.ecsctl/keys", fake_home);
	snprintf(pem, sizeof(pem), "%s/k1.pem", keys);
	res = run_ecsctl("keypair create k1", false);
	assert_int_equal(res.status, 0);
	snprintf(want, sizeof(want), "%s\n", pem);
	assert_string_equal(res.out, want);
	assert_null(strstr(res.out, "PRIVATE KEY"));
	run_result_clear(&res);
	log = fake_log();
	assert_string_equal(log, "CreateKeyPair KeyPairName=k1\n");
	assert_int_equal(stat(keys, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(pem, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ecs_read_file(pem, 4096, &body, NULL), 0);
	assert_string_equal(body, PEM "\n");

	/* The file exists: refused before anything is sent. */
	fake_reset();
	expect_run("keypair create k1", 1, "k1.pem exists");
	free(log);
	log = fake_log();
	assert_string_equal(log, "");
	free(body);
	assert_int_equal(ecs_read_file(pem, 4096, &body, NULL), 0);
	assert_string_equal(body, PEM "\n");
}

static void test_create_outputs(void **state)
{
	struct run_result res;
	struct json_object *o = NULL;
	const char *err;
	char want[200];

	(void)state;
	fake_reset();
	res = run_ecsctl("keypair create k2 -o json", false);
	assert_int_equal(res.status, 0);
	assert_int_equal(ecs_json_parse(res.out, strlen(res.out), &o, &err), 0);
	assert_null(ecs_json_get(o, "PrivateKeyBody"));
	snprintf(want, sizeof(want), "%s/.ecsctl/keys/k2.pem", fake_home);
	assert_string_equal(ecs_json_str(o, "PrivateKeyFile", ""), want);
	assert_string_equal(ecs_json_str(o, "KeyPairName", ""), "k2");
	json_object_put(o);
	run_result_clear(&res);

	res = run_ecsctl("keypair create k3 -o table", false);
	assert_int_equal(res.status, 0);
	assert_true(str_has_prefix(res.out, "NAME  FINGERPRINT  PRIVATE KEY\nk3    ab:cd        "));
	run_result_clear(&res);
}

/* A reply without the key: the key pair is deleted again, no file is left. */
static void test_create_rollback(void **state)
{
	char pem[160];
	struct run_result res;
	_cleanup_free_ char *log = NULL;

	(void)state;
	fake_reset();
	fake_set_reply("CreateKeyPair", 200, "{\"RequestId\":\"R\",\"KeyPairName\":\"k4\"}", 0, -1);
	res = run_ecsctl("keypair create k4", false);
	assert_int_equal(res.status, 1);
	assert_non_null(strstr(res.err, "the reply has no PrivateKeyBody; deleting the key pair k4 again"));
	run_result_clear(&res);
	log = fake_log();
	assert_string_equal(log, "CreateKeyPair KeyPairName=k4\nDeleteKeyPairs KeyPairNames=[\"k4\"]\n");
	snprintf(pem, sizeof(pem), "%s/.ecsctl/keys/k4.pem", fake_home);
	assert_int_equal(access(pem, F_OK), -1);
}

static void test_import(void **state)
{
	char pub[160], line[256];
	struct run_result res;
	_cleanup_free_ char *log = NULL;

	(void)state;
	fake_reset();
	fake_write_home("id.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 me@host\n\n", pub, sizeof(pub));
	snprintf(line, sizeof(line), "keypair import mine --public-key %s", pub);
	res = run_ecsctl(line, false);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out, "mine\n");
	run_result_clear(&res);
	log = fake_log();
	assert_string_equal(log, "ImportKeyPair KeyPairName=mine PublicKeyBody=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 "
				 "me@host\n");

	fake_write_home("id.pub", "-----BEGIN OPENSSH PRIVATE KEY-----\n", pub, sizeof(pub));
	expect_run(line, 2, "not an OpenSSH public key");
}

UNIT_MAIN("ecsctl_keypair", NULL, NULL, fake_group_setup, fake_group_teardown,
	  cmocka_unit_test(test_create),
	  cmocka_unit_test(test_create_outputs),
	  cmocka_unit_test(test_create_rollback),
	  cmocka_unit_test(test_import))
