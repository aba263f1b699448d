/* Tests for ecsctl/profile.c: which file, which profile, and where each value comes from
 * (flag > ECSCTL_* variable > profile > default); errors that name the file and line; the
 * home directory without HOME (cron); the private directories under ~/.ecsctl. */
#include <errno.h>
#include <pwd.h>
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
#include "profile.h"
#include "util.h"

#define TMPDIR_TAG "ecsctl-config"
#define TMPDIR_FILE "config"
#include "tmpdir.h"

static const char config[] = "# ecsctl profiles\n"
			     "[default]\n"
			     "endpoint = 127.0.0.1:8773\n"
			     "access_key_id = AKdef\n"
			     "access_key_secret = \"sec ret \"\n"
			     "region = cn-local\n"
			     "\n"
			     "; production\n"
			     "[ prod ]\n"
			     "endpoint=https://ecs.example.com\n"
			     "access_key_id\t=\tAKprod\r\n"
			     "access_key_secret = SKprod\n"
			     "region = cn-prod\n"
			     "zone = cn-prod-b\n"
			     "request_timeout = 5\n";

static const char *const vars[] = { "ECSCTL_CONFIG",	       "ECSCTL_PROFILE", "ECSCTL_ENDPOINT",
				    "ECSCTL_ACCESS_KEY_ID",    "ECSCTL_ACCESS_KEY_SECRET", "ECSCTL_REGION",
				    "ECSCTL_ZONE",	       "ECSCTL_REQUEST_TIMEOUT" };

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Each test starts with no variables and the config in place. */
static int reset(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
	setenv("HOME", dir, 1);
	write_file(path, config);
	return 0;
}

static void load_ok(const struct ecsctl_overrides *o, struct ecsctl_profile *p)
{
	_cleanup_free_ char *err = NULL;
	int r = ecsctl_profile_load(o, p, &err);

	if (r < 0)
		fail_msg("load failed: %s", err);
}

static void assert_str_or_null(const char *field, const char *got, const char *want)
{
	if (want ? !got || !streq(got, want) : got != NULL)
		fail_msg("%s is \"%s\", not \"%s\"", field, got ? got : "(null)", want ? want : "(null)");
}

/* Load with o: the profile holds exactly these values (NULL: unset). */
static void load_expect(const struct ecsctl_overrides *o, const char *endpoint, const char *access_key_id,
			const char *access_key_secret, const char *region, const char *zone, long request_timeout_s)
{
	struct ecsctl_profile p;

	load_ok(o, &p);
	assert_str_or_null("endpoint", p.endpoint, endpoint);
	assert_str_or_null("access_key_id", p.access_key_id, access_key_id);
	assert_str_or_null("access_key_secret", p.access_key_secret, access_key_secret);
	assert_str_or_null("region", p.region, region);
	assert_str_or_null("zone", p.zone, zone);
	assert_int_equal(p.request_timeout_s, request_timeout_s);
	ecsctl_profile_clear(&p);
}

static void load_fails(const struct ecsctl_overrides *o, int want, const char *message)
{
	struct ecsctl_profile p = { 0 };
	_cleanup_free_ char *err = NULL;

	assert_int_equal(ecsctl_profile_load(o, &p, &err), want);
	assert_non_null(err);
	if (!strstr(err, message))
		fail_msg("message \"%s\" lacks \"%s\"", err, message);
	assert_null(p.name);
}

static void test_default_profile(void **state)
{
	struct ecsctl_overrides o = { 0 };
	struct ecsctl_profile p;

	(void)state;
	setenv("ECSCTL_CONFIG", path, 1);
	load_ok(&o, &p);
	assert_string_equal(p.name, "default");
	assert_string_equal(p.path, path);
	assert_true(p.file_found);
	ecsctl_profile_clear(&p);
	/* Quotes keep the secret's blank. */
	load_expect(&o, "http://127.0.0.1:8773/", "AKdef", "sec ret ", "cn-local", NULL,
		    ECSCTL_DEFAULT_REQUEST_TIMEOUT_S);
}

static void test_named_profile(void **state)
{
	struct ecsctl_overrides o = { 0 };
	struct ecsctl_profile p;

	(void)state;
	setenv("ECSCTL_CONFIG", path, 1);
	setenv("ECSCTL_PROFILE", "prod", 1);
	load_ok(&o, &p);
	assert_string_equal(p.name, "prod");
	ecsctl_profile_clear(&p);
	load_expect(&o, "https://ecs.example.com/", "AKprod", "SKprod", "cn-prod", "cn-prod-b", 5);

	/* --profile beats ECSCTL_PROFILE. */
	o.profile = "default";
	load_ok(&o, &p);
	assert_string_equal(p.access_key_id, "AKdef");
	ecsctl_profile_clear(&p);

	/* ECSCTL_PROFILE set to "" counts as unset (a cron line's VAR=). */
	o.profile = NULL;
	setenv("ECSCTL_PROFILE", "", 1);
	load_ok(&o, &p);
	assert_string_equal(p.name, "default");
	ecsctl_profile_clear(&p);
}

static void test_precedence(void **state)
{
	struct ecsctl_overrides o = { 0 };

	(void)state;
	setenv("ECSCTL_CONFIG", path, 1);
	setenv("ECSCTL_REGION", "cn-env", 1);
	setenv("ECSCTL_ENDPOINT", "http://10.0.0.1:9000", 1);
	setenv("ECSCTL_ZONE", "cn-env-a", 1);
	load_expect(&o, "http://10.0.0.1:9000/", "AKdef", "sec ret ", "cn-env", "cn-env-a",
		    ECSCTL_DEFAULT_REQUEST_TIMEOUT_S);

	o.region = "cn-flag";
	o.endpoint = "https://flag.example/ecs/";
	o.access_key_id = "AKflag";
	o.access_key_secret = "SKflag";
	o.request_timeout = "7";
	load_expect(&o, "https://flag.example/ecs/", "AKflag", "SKflag", "cn-flag", "cn-env-a", 7);

	o.request_timeout = "0";
	load_fails(&o, -EINVAL, "request_timeout \"0\"");
	o.request_timeout = NULL;
	o.endpoint = "ftp://x";
	load_fails(&o, -EINVAL, "endpoint \"ftp://x\" is not an http:// or https:// URL");
	o.endpoint = "http://";
	load_fails(&o, -EINVAL, "not an http");
}

/* The file: --config, else ECSCTL_CONFIG, else ~/.ecsctl/config. */
static void test_which_file(void **state)
{
	struct ecsctl_overrides o = { 0 };
	struct ecsctl_profile p;
	char other[160], home_config[160];

	(void)state;
	snprintf(other, sizeof(other), "%s/other", dir);
	write_file(other, "[default]\naccess_key_id = AKother\n");
	setenv("ECSCTL_CONFIG", path, 1);
	o.config_path = other;
	load_ok(&o, &p);
	assert_string_equal(p.access_key_id, "AKother");
	assert_string_equal(p.endpoint, ECSCTL_DEFAULT_ENDPOINT);
	assert_string_equal(p.region, ECSCTL_DEFAULT_REGION);
	assert_null(p.access_key_secret);
	ecsctl_profile_clear(&p);

	/* No file anywhere: the defaults, for the default profile only. */
	unsetenv("ECSCTL_CONFIG");
	o.config_path = NULL;
	snprintf(home_config, sizeof(home_config), "%s/.ecsctl/config", dir);
	load_ok(&o, &p);
	assert_false(p.file_found);
	assert_string_equal(p.path, home_config);
	assert_null(p.access_key_id);
	ecsctl_profile_clear(&p);
	o.profile = "prod";
	load_fails(&o, -ENOENT, "no profile [prod]");
	o.profile = NULL;

	/* ~/.ecsctl/config is read when there. */
	{
		char d[160];

		snprintf(d, sizeof(d), "%s/.ecsctl", dir);
		mkdir(d, 0700);
	}
	write_file(home_config, "[default]\naccess_key_id = AKhome\naccess_key_secret = s\n");
	load_ok(&o, &p);
	assert_string_equal(p.access_key_id, "AKhome");
	ecsctl_profile_clear(&p);

	/* An explicit file must exist; a named profile must be in it. */
	o.config_path = "/nonexistent/ecsctl.conf";
	load_fails(&o, -ENOENT, "/nonexistent/ecsctl.conf: no such file");
	setenv("ECSCTL_CONFIG", "/nonexistent/ecsctl.conf", 1);
	o.config_path = NULL;
	load_fails(&o, -ENOENT, "no such file");
	setenv("ECSCTL_CONFIG", path, 1);
	o.profile = "staging";
	load_fails(&o, -ENOENT, "no profile [staging]");
}

/* Mistakes anywhere in the file are errors naming file and line, in any profile. */
static void test_file_errors(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "[default]\nendpoint = x\nacces_key_id = a\n", ":3: [default] unknown key \"acces_key_id\"" },
		{ "[other]\nregoin = x\n[default]\n", ":2: [other] unknown key \"regoin\"" },
		{ "endpoint = x\n[default]\n", ":1: \"endpoint\" before any [profile] header" },
		{ "[default]\njust words\n", ":2: expected \"key = value\"" },
		{ "[default\n", ":1: a section header is \"[NAME]\"" },
		{ "[default] x\n", ":1: a section header" },
		{ "[ ]\n", ":1: a profile needs a name" },
	};
	struct ecsctl_overrides o = { .config_path = path };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char want[256];

		write_file(path, cases[i].text);
		snprintf(want, sizeof(want), "%s%s", path, cases[i].message);
		load_fails(&o, -EINVAL, want);
	}

	/* Bounded: past 64 KiB the file is refused, not half-read. */
	{
		FILE *f = fopen(path, "w");

		fputs("[default]\n", f);
		for (int i = 0; i < 7000; i++)
			fputs("# padding\n", f);
		fclose(f);
		load_fails(&o, -EFBIG, "larger than 64 KiB");
	}
}

/* Under cron HOME may be unset or empty: the password database says where home is. */
static void test_home_without_HOME(void **state)
{
	struct passwd *pw = getpwuid(getuid());
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	(void)state;
	assert_non_null(pw);
	assert_int_equal(ecsctl_home_dir(&a), 0);
	assert_string_equal(a, dir);
	unsetenv("HOME");
	assert_int_equal(ecsctl_home_dir(&b), 0);
	assert_string_equal(b, pw->pw_dir);
	setenv("HOME", "", 1);
	assert_int_equal(ecsctl_home_dir(&c), 0);
	assert_string_equal(c, pw->pw_dir);
	setenv("HOME", "relative/dir", 1);
	assert_int_equal(ecsctl_home_dir(&d), 0);
	assert_string_equal(d, pw->pw_dir);
}

static void test_state_dirs(void **state)
{
	_cleanup_free_ char *keys = NULL, *top = NULL, *kh = NULL;
	char want[160];
	struct stat st;

	(void)state;
	assert_int_equal(ecsctl_state_mkdir("keys", &keys), 0);
	snprintf(want, sizeof(want), "%s/.ecsctl/keys", dir);
	assert_string_equal(keys, want);
	assert_int_equal(stat(keys, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(ecsctl_state_path(NULL, &top), 0);
	assert_int_equal(stat(top, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Again: already there is fine. */
	assert_int_equal(ecsctl_state_mkdir("keys", NULL), 0);
	/* A file where the directory should be is not. */
	assert_int_equal(ecsctl_state_path("known_hosts", &kh), 0);
	write_file(kh, "");
	assert_int_equal(ecsctl_state_mkdir("known_hosts", NULL), -ENOTDIR);
}

static void test_profile_names(void **state)
{
	struct ecsctl_overrides o = { .config_path = path };
	char **names = NULL;

	(void)state;
	assert_int_equal(ecsctl_profile_names(&o, &names), 0);
	assert_string_equal(names[0], "default");
	assert_string_equal(names[1], "prod");
	assert_null(names[2]);
	ecsctl_strv_free(names);
	o.config_path = "/nonexistent";
	assert_int_equal(ecsctl_profile_names(&o, &names), 0);
	assert_null(names[0]);
	ecsctl_strv_free(names);
}

UNIT_MAIN("ecsctl_config", NULL, NULL, tmpdir_setup, tmpdir_teardown,
	  cmocka_unit_test_setup(test_default_profile, reset),
	  cmocka_unit_test_setup(test_named_profile, reset),
	  cmocka_unit_test_setup(test_precedence, reset),
	  cmocka_unit_test_setup(test_which_file, reset),
	  cmocka_unit_test_setup(test_file_errors, reset),
	  cmocka_unit_test_setup(test_home_without_HOME, reset),
	  cmocka_unit_test_setup(test_state_dirs, reset),
	  cmocka_unit_test_setup(test_profile_names, reset))
