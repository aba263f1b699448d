#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CONFIG_MAX_FILE (1024 * 1024)

struct config_value {
	const struct ecs_config_option *opt;
	char *text;
	char *origin;
	long long i;
	double d;
	bool b;
};

struct ecs_config {
	struct config_value *values;
	size_t n;
};

void ecs_config_env_name(const char *section, const char *key, char *buf, size_t size)
{
	size_t o = 0;
	const char *parts[] = { "ECS", section, key };

	for (size_t p = 0; p < ARRAY_SIZE(parts) && o + 1 < size; p++) {
		if (p && o + 1 < size)
			buf[o++] = '_';
		for (const char *c = parts[p]; *c && o + 1 < size; c++)
			buf[o++] = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
	}
	buf[o] = '\0';
}

static struct config_value *find(const struct ecs_config *cfg, const char *section, const char *key)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (streq(cfg->values[i].opt->section, section) && streq(cfg->values[i].opt->key, key))
			return &cfg->values[i];
	return NULL;
}

static bool section_known(const struct ecs_config *cfg, const char *section)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (streq(cfg->values[i].opt->section, section))
			return true;
	return false;
}

/* Check text against the option's type and bounds and store it. */
static int set_value(struct config_value *v, const char *text, const char *origin, char **ret_error)
{
	const struct ecs_config_option *o = v->opt;
	bool bounded = o->min != 0 || o->max != 0;
	char *t, *org;

	switch (o->type) {
	case ECS_CONFIG_INT: {
		long long n;
		long long lo = bounded ? (long long)o->min : -9223372036854775807LL - 1;
		long long hi = bounded ? (long long)o->max : 9223372036854775807LL;
		int r = ecs_parse_int64(text, lo, hi, &n);

		if (r == -EINVAL) {
			*ret_error = ecs_strdup_printf("%s: [%s] %s: \"%s\" is not an integer", origin, o->section, o->key, text);
			return r;
		}
		if (r < 0) {
			*ret_error = ecs_strdup_printf("%s: [%s] %s: %s is out of range %lld..%lld", origin, o->section,
					    o->key, text, lo, hi);
			return r;
		}
		v->i = n;
		break;
	}
	case ECS_CONFIG_BOOL:
		if (ecs_parse_bool(text, &v->b) < 0) {
			*ret_error = ecs_strdup_printf("%s: [%s] %s: \"%s\" is not a boolean (true/false)", origin,
					    o->section, o->key, text);
			return -EINVAL;
		}
		break;
	case ECS_CONFIG_DOUBLE: {
		char *end;
		double d;

		errno = 0;
		d = strtod(text, &end);
		if (!*text || *end || errno) {
			*ret_error = ecs_strdup_printf("%s: [%s] %s: \"%s\" is not a number", origin, o->section, o->key, text);
			return -EINVAL;
		}
		if (bounded && (d < o->min || d > o->max)) {
			*ret_error = ecs_strdup_printf("%s: [%s] %s: %s is out of range %g..%g", origin, o->section, o->key,
					    text, o->min, o->max);
			return -ERANGE;
		}
		v->d = d;
		break;
	}
	case ECS_CONFIG_STRING:
	default:
		break;
	}
	t = strdup(text);
	org = strdup(origin);
	if (!t || !org) {
		free(t);
		free(org);
		return -ENOMEM;
	}
	free(v->text);
	free(v->origin);
	v->text = t;
	v->origin = org;
	return 0;
}

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_file(struct ecs_config *cfg, const char *path, char **ret_error)
{
	_cleanup_free_ char *buf = NULL;
	char section[128] = "";
	char *line, *save = NULL;
	unsigned lineno = 0;
	int r;

	r = ecs_read_file(path, CONFIG_MAX_FILE, &buf, NULL);
	if (r < 0) {
		*ret_error = ecs_strdup_printf("%s: cannot read: %s", path, r == -EFBIG ? "file too large" : strerror(-r));
		return r;
	}
	/* strtok_r would merge empty lines and miscount; walk lines by hand. */
	for (line = buf; line; line = save) {
		char origin[512], *s, *eq, *key, *val;
		struct config_value *v;

		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
		s = strip(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || end[1] != '\0') {
				*ret_error = ecs_strdup_printf("%s: malformed section header", origin);
				return -EINVAL;
			}
			*end = '\0';
			s = strip(s + 1);
			if (!section_known(cfg, s)) {
				*ret_error = ecs_strdup_printf("%s: unknown section [%s]", origin, s);
				return -EINVAL;
			}
			if (ecs_strlcpy(section, s, sizeof(section)) < 0)
				return -EINVAL;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			*ret_error = ecs_strdup_printf("%s: expected \"key = value\"", origin);
			return -EINVAL;
		}
		*eq = '\0';
		key = strip(s);
		val = strip(eq + 1);
		if (!section[0]) {
			*ret_error = ecs_strdup_printf("%s: \"%s\" outside any [section]", origin, key);
			return -EINVAL;
		}
		v = find(cfg, section, key);
		if (!v) {
			*ret_error = ecs_strdup_printf("%s: unknown option \"%s\" in [%s]", origin, key, section);
			return -EINVAL;
		}
		/* Allow "value" quoted to keep leading/trailing blanks. */
		if (val[0] == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		r = set_value(v, val, origin, ret_error);
		if (r < 0)
			return r;
	}
	return 0;
}

int ecs_config_load(const struct ecs_config_option *opts, size_t n_opts, const char *path,
		    struct ecs_config **ret, char **ret_error)
{
	struct ecs_config *cfg;
	int r;

	*ret_error = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->values = calloc(n_opts, sizeof(*cfg->values));
	if (!cfg->values) {
		free(cfg);
		return -ENOMEM;
	}
	cfg->n = n_opts;
	for (size_t i = 0; i < n_opts; i++)
		cfg->values[i].opt = &opts[i];

	for (size_t i = 0; i < n_opts; i++) {
		if (!opts[i].def)
			continue;
		r = set_value(&cfg->values[i], opts[i].def, "default", ret_error);
		if (r < 0)
			goto fail;
	}
	if (path) {
		r = parse_file(cfg, path, ret_error);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < n_opts; i++) {
		char name[256];
		const char *env;

		ecs_config_env_name(opts[i].section, opts[i].key, name, sizeof(name));
		env = getenv(name);
		if (!env)
			continue;
		r = set_value(&cfg->values[i], env, name, ret_error);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < n_opts; i++) {
		if (!cfg->values[i].text) {
			char name[256];

			ecs_config_env_name(opts[i].section, opts[i].key, name, sizeof(name));
			*ret_error = ecs_strdup_printf("[%s] %s is required (set it in the file or as %s)", opts[i].section,
					    opts[i].key, name);
			r = -EINVAL;
			goto fail;
		}
	}
	*ret = cfg;
	return 0;
fail:
	if (!*ret_error && r == -ENOMEM)
		*ret_error = strdup("out of memory");
	ecs_config_free(cfg);
	return r;
}

void ecs_config_free(struct ecs_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->values[i].text);
		free(cfg->values[i].origin);
	}
	free(cfg->values);
	free(cfg);
}

static const struct config_value *get(const struct ecs_config *cfg, const char *section, const char *key,
				      enum ecs_config_type type)
{
	const struct config_value *v = find(cfg, section, key);

	if (!v || v->opt->type != type) {
		fprintf(stderr, "BUG: config option [%s] %s not declared with this type\n", section, key);
		abort();
	}
	return v;
}

const char *ecs_config_str(const struct ecs_config *cfg, const char *section, const char *key)
{
	return get(cfg, section, key, ECS_CONFIG_STRING)->text;
}

long long ecs_config_int(const struct ecs_config *cfg, const char *section, const char *key)
{
	return get(cfg, section, key, ECS_CONFIG_INT)->i;
}

bool ecs_config_bool(const struct ecs_config *cfg, const char *section, const char *key)
{
	return get(cfg, section, key, ECS_CONFIG_BOOL)->b;
}

double ecs_config_double(const struct ecs_config *cfg, const char *section, const char *key)
{
	return get(cfg, section, key, ECS_CONFIG_DOUBLE)->d;
}

static void fill_one(const struct config_value *v, size_t size, char *at)
{
	switch (v->opt->type) {
	case ECS_CONFIG_STRING:
		if (size == sizeof(const char *)) {
			memcpy(at, &(const char *){ v->text }, size);
			return;
		}
		break;
	case ECS_CONFIG_INT:
		if (size == sizeof(int16_t)) {
			memcpy(at, &(int16_t){ (int16_t)v->i }, size); /* an int16_t or a uint16_t: the same bits */
			return;
		}
		if (size == sizeof(int)) {
			memcpy(at, &(int){ (int)v->i }, size);
			return;
		}
		if (size == sizeof(long long)) {
			memcpy(at, &v->i, size);
			return;
		}
		break;
	case ECS_CONFIG_BOOL:
		if (size == sizeof(bool)) {
			memcpy(at, &v->b, size);
			return;
		}
		break;
	case ECS_CONFIG_DOUBLE:
		if (size == sizeof(double)) {
			memcpy(at, &v->d, size);
			return;
		}
		break;
	default:
		break;
	}
	fprintf(stderr, "BUG: config option [%s] %s does not fit a field of %zu bytes\n", v->opt->section, v->opt->key,
		size);
	abort();
}

void ecs_config_fill(const struct ecs_config *cfg, const struct ecs_config_field *fields, size_t n, void *dst)
{
	for (size_t i = 0; i < n; i++) {
		const struct config_value *v = find(cfg, fields[i].section, fields[i].key);

		if (!v) {
			fprintf(stderr, "BUG: config option [%s] %s not declared\n", fields[i].section, fields[i].key);
			abort();
		}
		fill_one(v, fields[i].size, (char *)dst + fields[i].offset);
	}
}

const char *ecs_config_origin(const struct ecs_config *cfg, const char *section, const char *key)
{
	const struct config_value *v = find(cfg, section, key);

	return v ? v->origin : NULL;
}
