#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

enum {
	KEY_ENDPOINT,
	KEY_ACCESS_KEY_ID,
	KEY_ACCESS_KEY_SECRET,
	KEY_REGION,
	KEY_ZONE,
	KEY_REQUEST_TIMEOUT,
	KEY_OSS_ENDPOINT,
	_KEY_MAX,
};

static const char *const key_names[_KEY_MAX] = {
	[KEY_ENDPOINT] = "endpoint",
	[KEY_ACCESS_KEY_ID] = "access_key_id",
	[KEY_ACCESS_KEY_SECRET] = "access_key_secret",
	[KEY_REGION] = "region",
	[KEY_ZONE] = "zone",
	[KEY_REQUEST_TIMEOUT] = "request_timeout",
	[KEY_OSS_ENDPOINT] = "oss_endpoint",
};

static const char *const env_names[_KEY_MAX] = {
	[KEY_ENDPOINT] = "ECSCTL_ENDPOINT",
	[KEY_ACCESS_KEY_ID] = "ECSCTL_ACCESS_KEY_ID",
	[KEY_ACCESS_KEY_SECRET] = "ECSCTL_ACCESS_KEY_SECRET",
	[KEY_REGION] = "ECSCTL_REGION",
	[KEY_ZONE] = "ECSCTL_ZONE",
	[KEY_REQUEST_TIMEOUT] = "ECSCTL_REQUEST_TIMEOUT",
	[KEY_OSS_ENDPOINT] = "ECSCTL_OSS_ENDPOINT",
};

/* A variable set to "" counts as unset: cron lines often carry VAR= to clear one. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int ecsctl_home_dir(char **ret)
{
	const char *home = env("HOME");
	_cleanup_free_ char *buf = NULL;
	struct passwd pw, *res = NULL;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	char *s;

	if (home && home[0] == '/') {
		s = strdup(home);
		goto done;
	}
	if (size <= 0)
		size = 16384;
	buf = malloc((size_t)size);
	if (!buf)
		return -ENOMEM;
	if (getpwuid_r(getuid(), &pw, buf, (size_t)size, &res) != 0 || !res || !pw.pw_dir || pw.pw_dir[0] != '/')
		return -ENOENT;
	s = strdup(pw.pw_dir);
done:
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int ecsctl_state_path(const char *name, char **ret)
{
	_cleanup_free_ char *home = NULL;
	char *s;
	int r = ecsctl_home_dir(&home);

	if (r < 0)
		return r;
	s = name ? ecs_strdup_printf("%s/.ecsctl/%s", home, name) : ecs_strdup_printf("%s/.ecsctl", home);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int mkdir_private(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int ecsctl_state_mkdir(const char *name, char **ret_path)
{
	_cleanup_free_ char *dir = NULL, *sub = NULL;
	int r = ecsctl_state_path(NULL, &dir);

	if (r < 0)
		return r;
	r = mkdir_private(dir);
	if (r < 0)
		return r;
	if (name) {
		sub = ecs_strdup_printf("%s/%s", dir, name);
		if (!sub)
			return -ENOMEM;
		r = mkdir_private(sub);
		if (r < 0)
			return r;
	}
	if (ret_path)
		*ret_path = name ? TAKE_PTR(sub) : TAKE_PTR(dir);
	return 0;
}

void ecsctl_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int key_index(const char *key)
{
	for (int i = 0; i < _KEY_MAX; i++)
		if (streq(key, key_names[i]))
			return i;
	return -1;
}

struct ini {
	const char *path;
	const char *want;	 /* the profile whose values to keep */
	bool found;
	char *values[_KEY_MAX];
	char **names;		 /* every section, when asked */
	size_t n_names;
	bool collect_names;
};

static void ini_clear(struct ini *ini)
{
	for (int i = 0; i < _KEY_MAX; i++)
		free(ini->values[i]);
	ecsctl_strv_free(ini->names);
}

static int ini_add_name(struct ini *ini, const char *name)
{
	char **v;

	for (size_t i = 0; i < ini->n_names; i++)
		if (streq(ini->names[i], name))
			return 0;
	v = realloc(ini->names, (ini->n_names + 2) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ini->names = v;
	v[ini->n_names] = strdup(name);
	if (!v[ini->n_names])
		return -ENOMEM;
	v[++ini->n_names] = NULL;
	return 0;
}

/* Parse the whole text: every line is checked, whichever profile it belongs to. */
static int ini_parse(struct ini *ini, char *text, char **ret_error)
{
	char *section = NULL, *line, *next;
	unsigned lineno = 0;
	int r;

	for (line = text; line; line = next) {
		char *eq, *key, *value;
		size_t vlen;
		int k;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line = trim(line);
		if (!*line || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			char *end = strchr(line, ']');

			if (!end || *trim(end + 1)) {
				*ret_error = ecs_strdup_printf("%s:%u: a section header is \"[NAME]\"", ini->path,
							       lineno);
				return -EINVAL;
			}
			*end = '\0';
			section = trim(line + 1);
			if (!*section) {
				*ret_error = ecs_strdup_printf("%s:%u: a profile needs a name", ini->path, lineno);
				return -EINVAL;
			}
			if (streq(section, ini->want))
				ini->found = true;
			if (ini->collect_names && (r = ini_add_name(ini, section)) < 0)
				return r;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq) {
			*ret_error = ecs_strdup_printf("%s:%u: expected \"key = value\"", ini->path, lineno);
			return -EINVAL;
		}
		*eq = '\0';
		key = trim(line);
		value = trim(eq + 1);
		if (!section) {
			*ret_error = ecs_strdup_printf("%s:%u: \"%s\" before any [profile] header", ini->path, lineno,
						       key);
			return -EINVAL;
		}
		k = key_index(key);
		if (k < 0) {
			*ret_error = ecs_strdup_printf(
				"%s:%u: [%s] unknown key \"%s\" (known: endpoint, access_key_id, "
				"access_key_secret, region, zone, request_timeout, oss_endpoint)",
				ini->path, lineno, section, key);
			return -EINVAL;
		}
		vlen = strlen(value);
		if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
			value[vlen - 1] = '\0';
			value++;
		}
		if (!streq(section, ini->want))
			continue;
		free(ini->values[k]);
		ini->values[k] = strdup(value);
		if (!ini->values[k])
			return -ENOMEM;
	}
	return 0;
}

static int config_path(const struct ecsctl_overrides *o, char **ret, bool *ret_explicit)
{
	const char *p = o->config_path ? o->config_path : env("ECSCTL_CONFIG");

	*ret_explicit = p != NULL;
	if (p) {
		*ret = strdup(p);
		return *ret ? 0 : -ENOMEM;
	}
	return ecsctl_state_path("config", ret);
}

/* Read and parse the file into ini; a missing file leaves ini empty (*ret_found false). */
static int ini_load(struct ini *ini, bool *ret_found, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = ecs_read_file(ini->path, ECSCTL_CONFIG_MAX, &text, &len);

	if (r == -ENOENT) {
		*ret_found = false;
		return 0;
	}
	if (r < 0) {
		*ret_error = ecs_strdup_printf("%s: %s", ini->path,
					       r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return r;
	}
	if (strlen(text) != len) {
		*ret_error = ecs_strdup_printf("%s: contains a NUL byte", ini->path);
		return -EINVAL;
	}
	*ret_found = true;
	return ini_parse(ini, text, ret_error);
}

/* "host:port" -> "http://host:port/"; checks the scheme. */
static int normalise_endpoint(const char *in, char **ret)
{
	_cleanup_free_ char *s = NULL;
	const char *host;

	if (strstr(in, "://"))
		s = strdup(in);
	else
		s = ecs_strdup_printf("http://%s", in);
	if (!s)
		return -ENOMEM;
	if (!str_has_prefix(s, "http://") && !str_has_prefix(s, "https://"))
		return -EINVAL;
	host = strstr(s, "://") + 3;
	if (!*host || *host == '/')
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return -EINVAL;
	if (!strchr(host, '/')) {
		char *t = ecs_strdup_printf("%s/", s);

		if (!t)
			return -ENOMEM;
		free(s);
		s = t;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

static int dup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int ecsctl_profile_load(const struct ecsctl_overrides *o, struct ecsctl_profile *ret, char **ret_error)
{
	struct ecsctl_profile p = { 0 };
	struct ini ini = { 0 };
	const char *flags[_KEY_MAX] = {
		[KEY_ENDPOINT] = o->endpoint,
		[KEY_ACCESS_KEY_ID] = o->access_key_id,
		[KEY_ACCESS_KEY_SECRET] = o->access_key_secret,
		[KEY_REGION] = o->region,
		[KEY_REQUEST_TIMEOUT] = o->request_timeout,
	};
	const char *val[_KEY_MAX];
	const char *name = o->profile ? o->profile : env("ECSCTL_PROFILE");
	bool explicit_path, explicit_profile = name != NULL;
	long long timeout = ECSCTL_DEFAULT_REQUEST_TIMEOUT_S;
	int r;

	*ret_error = NULL;
	if (!name)
		name = "default";
	p.name = strdup(name);
	if (!p.name) {
		r = -ENOMEM;
		goto fail;
	}
	r = config_path(o, &p.path, &explicit_path);
	if (r < 0) {
		*ret_error = ecs_strdup_printf("cannot find the home directory for ~/.ecsctl/config: %s "
					       "(set HOME or ECSCTL_CONFIG)", strerror(-r));
		goto fail;
	}
	ini.path = p.path;
	ini.want = p.name;
	r = ini_load(&ini, &p.file_found, ret_error);
	if (r < 0)
		goto fail;
	if (!p.file_found && explicit_path) {
		*ret_error = ecs_strdup_printf("%s: no such file", p.path);
		r = -ENOENT;
		goto fail;
	}
	if (!ini.found && (explicit_profile && !streq(p.name, "default"))) {
		*ret_error = p.file_found ? ecs_strdup_printf("%s: no profile [%s]", p.path, p.name)
					  : ecs_strdup_printf("no profile [%s]: %s does not exist", p.name, p.path);
		r = -ENOENT;
		goto fail;
	}

	for (int k = 0; k < _KEY_MAX; k++)
		val[k] = flags[k] ? flags[k] : env(env_names[k]) ? env(env_names[k]) : ini.values[k];

	r = normalise_endpoint(val[KEY_ENDPOINT] ? val[KEY_ENDPOINT] : ECSCTL_DEFAULT_ENDPOINT, &p.endpoint);
	if (r == -EINVAL) {
		*ret_error = ecs_strdup_printf("endpoint \"%s\" is not an http:// or https:// URL", val[KEY_ENDPOINT]);
		goto fail;
	}
	if (r < 0)
		goto fail;
	r = normalise_endpoint(val[KEY_OSS_ENDPOINT] ? val[KEY_OSS_ENDPOINT] : ECSCTL_DEFAULT_OSS_ENDPOINT, &p.oss_endpoint);
	if (r == -EINVAL) {
		*ret_error = ecs_strdup_printf("oss_endpoint \"%s\" is not an http:// or https:// URL", val[KEY_OSS_ENDPOINT]);
		goto fail;
	}
	if (r < 0)
		goto fail;
	if (val[KEY_REQUEST_TIMEOUT] && ecs_parse_int64(val[KEY_REQUEST_TIMEOUT], 1, 3600, &timeout) < 0) {
		*ret_error = ecs_strdup_printf("request_timeout \"%s\" is not a number of seconds in 1..3600",
					       val[KEY_REQUEST_TIMEOUT]);
		r = -EINVAL;
		goto fail;
	}
	p.request_timeout_s = (long)timeout;
	if ((r = dup_or_null(val[KEY_ACCESS_KEY_ID], &p.access_key_id)) < 0 ||
	    (r = dup_or_null(val[KEY_ACCESS_KEY_SECRET], &p.access_key_secret)) < 0 ||
	    (r = dup_or_null(val[KEY_REGION] ? val[KEY_REGION] : ECSCTL_DEFAULT_REGION, &p.region)) < 0 ||
	    (r = dup_or_null(val[KEY_ZONE], &p.zone)) < 0)
		goto fail;
	ini_clear(&ini);
	*ret = p;
	return 0;
fail:
	ini_clear(&ini);
	ecsctl_profile_clear(&p);
	if (!*ret_error && r == -ENOMEM)
		*ret_error = strdup("out of memory");
	return r;
}

void ecsctl_profile_clear(struct ecsctl_profile *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->path);
	free(p->endpoint);
	free(p->oss_endpoint);
	free(p->access_key_id);
	free(p->access_key_secret);
	free(p->region);
	free(p->zone);
	memset(p, 0, sizeof(*p));
}

int ecsctl_profile_names(const struct ecsctl_overrides *o, char ***ret)
{
	_cleanup_free_ char *path = NULL, *error = NULL;
	struct ini ini = { .want = "", .collect_names = true };
	bool explicit_path, found;
	int r = config_path(o, &path, &explicit_path);

	if (r < 0)
		return r;
	ini.path = path;
	r = ini_load(&ini, &found, &error);
	if (r < 0) {
		ini_clear(&ini);
		return r;
	}
	if (!ini.names) {
		ini.names = calloc(1, sizeof(char *));
		if (!ini.names)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(ini.names);
	ini_clear(&ini);
	return 0;
}
