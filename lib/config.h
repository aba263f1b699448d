/* config.h: INI configuration with ECS_* environment overrides, checked against a schema.
 *
 * A daemon declares its options (section, key, type, default, bounds). The file gives
 * "[section]" headers and "key = value" lines ('#' and ';' start comments). The variable
 * ECS_<SECTION>_<KEY> (upper case, other characters as '_') overrides the file. Unknown
 * sections and keys, bad types and out-of-range values are errors naming the file and line
 * (or the variable), so a typo never passes silently. */
#ifndef ECS_CONFIG_H
#define ECS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum ecs_config_type {
	ECS_CONFIG_STRING,
	ECS_CONFIG_INT,
	ECS_CONFIG_BOOL,
	ECS_CONFIG_DOUBLE,
	_ECS_CONFIG_TYPE_MAX,
};

struct ecs_config_option {
	const char *section;
	const char *key;
	enum ecs_config_type type;
	const char *def;	 /* default as text; NULL = required */
	double min, max;	 /* bounds for INT and DOUBLE (both 0: unbounded) */
	const char *help;
};

struct ecs_config;

/* Load path (NULL: defaults and environment only) and the environment against the schema.
 * On error returns a negative errno and a message in *ret_error (caller frees). */
int ecs_config_load(const struct ecs_config_option *opts, size_t n_opts, const char *path,
		    struct ecs_config **ret, char **ret_error);
void ecs_config_free(struct ecs_config *cfg);

/* Typed getters. Asking for an option the schema does not declare, or with the wrong type,
 * is a programming error and aborts. */
const char *ecs_config_str(const struct ecs_config *cfg, const char *section, const char *key);
long long ecs_config_int(const struct ecs_config *cfg, const char *section, const char *key);
bool ecs_config_bool(const struct ecs_config *cfg, const char *section, const char *key);
double ecs_config_double(const struct ecs_config *cfg, const char *section, const char *key);

/* A field of a daemon's own config struct set from an option by ecs_config_fill: a STRING
 * option fills a const char * (the text, owned by the config), an INT one an int16_t,
 * uint16_t, int or long long (by the field's size; the option's bounds must fit it), a BOOL
 * one a bool, a DOUBLE one a double. */
struct ecs_config_field {
	const char *section, *key;
	size_t offset, size;
};
#define ECS_CONFIG_FIELD(section, key, type, member) \
	{ section, key, offsetof(type, member), sizeof(((type *)0)->member) }

/* Set each field of dst the table names from its option. A field whose option the schema
 * does not declare, or whose size does not fit the option's type, is a programming error
 * and aborts. */
void ecs_config_fill(const struct ecs_config *cfg, const struct ecs_config_field *fields, size_t n, void *dst);

/* Where the value came from: "default", "FILE:LINE" or "ECS_…". */
const char *ecs_config_origin(const struct ecs_config *cfg, const char *section, const char *key);

/* The environment variable name for section/key into buf. */
void ecs_config_env_name(const char *section, const char *key, char *buf, size_t size);

#endif
