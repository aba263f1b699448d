/* Tests for ecsctl/known_hosts.c: first use records, the same key passes, another key or
 * type is a change, other hosts and comments do not count; nothing can be injected into
 * the file; it is 0600, bounded, and never followed through a symlink. */
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
#include "known_hosts.h"
#include "util.h"

#define TMPDIR_TAG "ecsctl-kh"
#define TMPDIR_FILE "known_hosts"
#include "tmpdir.h"

#define KEY_A "AAAAC3NzaC1lZDI1NTE5AAAAIK1"
#define KEY_B "AAAAC3NzaC1lZDI1NTE5AAAAIK2"

static int fresh(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static enum ecsctl_hostkey check(const char *host, const char *type, const char *key)
{
	enum ecsctl_hostkey s = _ECSCTL_HOSTKEY_MAX;

	assert_int_equal(ecsctl_known_hosts_check(path, host, type, key, &s), 0);
	return s;
}

static void test_first_use_then_check(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;

	(void)state;
	assert_int_equal(check("i-a", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_NEW);
	assert_int_equal(ecsctl_known_hosts_add(path, "i-a", "ssh-ed25519", KEY_A), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ecs_read_file(path, 4096, &text, NULL), 0);
	assert_string_equal(text, "i-a ssh-ed25519 " KEY_A "\n");

	assert_int_equal(check("i-a", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_KNOWN);
	assert_int_equal(check("i-a", "ssh-ed25519", KEY_B), ECSCTL_HOSTKEY_CHANGED);
	assert_int_equal(check("i-a", "ssh-rsa", KEY_A), ECSCTL_HOSTKEY_CHANGED);
	assert_int_equal(check("i-b", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_NEW);
	/* Prefixes do not match. */
	assert_int_equal(check("i-", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_NEW);
	assert_int_equal(check("i-a", "ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIK"), ECSCTL_HOSTKEY_CHANGED);

	/* A second host's key is added beside the first. */
	assert_int_equal(ecsctl_known_hosts_add(path, "i-b", "ssh-rsa", KEY_B), 0);
	assert_int_equal(check("i-b", "ssh-rsa", KEY_B), ECSCTL_HOSTKEY_KNOWN);
	assert_int_equal(check("i-a", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_KNOWN);
}

/* A file written by hand: comments, blank lines, CRLF, tabs, several keys of one host. */
static void test_hand_written(void **state)
{
	FILE *f = fopen(path, "w");

	(void)state;
	fputs("# ecsctl known hosts\n"
	      "\n"
	      "   \n"
	      "#i-c ssh-ed25519 " KEY_A "\n"
	      "i-d\tssh-ed25519\t" KEY_A "\r\n"
	      "i-e ssh-rsa " KEY_B " a comment\n"
	      "i-e ssh-ed25519 " KEY_A "\n"
	      "i-f\n"
	      "i-g ssh-ed25519 " KEY_A,
	      f);
	fclose(f);
	assert_int_equal(check("i-c", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_NEW);
	assert_int_equal(check("i-d", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_KNOWN);
	assert_int_equal(check("i-e", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_KNOWN);
	assert_int_equal(check("i-e", "ssh-rsa", KEY_B), ECSCTL_HOSTKEY_KNOWN);
	assert_int_equal(check("i-e", "ssh-ed25519", KEY_B), ECSCTL_HOSTKEY_CHANGED);
	/* A broken line for a host counts as its record: never trusted blindly. */
	assert_int_equal(check("i-f", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_CHANGED);
	assert_int_equal(check("i-g", "ssh-ed25519", KEY_A), ECSCTL_HOSTKEY_KNOWN);
}

/* Nothing from the server or the API can add a second line or hide a field. */
static void test_injection(void **state)
{
	enum ecsctl_hostkey s;

	(void)state;
	assert_int_equal(ecsctl_known_hosts_add(path, "i-a\ni-b", "ssh-ed25519", KEY_A), -EINVAL);
	assert_int_equal(ecsctl_known_hosts_add(path, "i-a", "ssh-ed25519 x", KEY_A), -EINVAL);
	assert_int_equal(ecsctl_known_hosts_add(path, "i-a", "ssh-ed25519", KEY_A "\ni-b ssh-ed25519 x"), -EINVAL);
	assert_int_equal(ecsctl_known_hosts_add(path, "", "ssh-ed25519", KEY_A), -EINVAL);
	assert_int_equal(ecsctl_known_hosts_add(path, "i-a", "ssh-ed25519", NULL), -EINVAL);
	assert_int_equal(ecsctl_known_hosts_check(path, "i a", "ssh-ed25519", KEY_A, &s), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_bounds_and_symlinks(void **state)
{
	char target[160];
	FILE *f;
	enum ecsctl_hostkey s;

	(void)state;
	f = fopen(path, "w");
	for (int i = 0; i < 30000; i++)
		fprintf(f, "i-%05d ssh-ed25519 " KEY_A "\n", i);
	fclose(f);
	assert_int_equal(ecsctl_known_hosts_check(path, "i-00001", "ssh-ed25519", KEY_A, &s), -EFBIG);

	unlink(path);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ecsctl_known_hosts_add(path, "i-a", "ssh-ed25519", KEY_A), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);
	unlink(path);
}

UNIT_MAIN("ecsctl_known_hosts", NULL, NULL, tmpdir_setup, tmpdir_teardown,
	  cmocka_unit_test_setup(test_first_use_then_check, fresh),
	  cmocka_unit_test_setup(test_hand_written, fresh),
	  cmocka_unit_test_setup(test_injection, fresh),
	  cmocka_unit_test_setup(test_bounds_and_symlinks, fresh))
