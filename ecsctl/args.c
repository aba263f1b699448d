#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsctl.h"
#include "util.h"
#include "verbtable.h"

const struct ecsctl_flag ecsctl_global_flags[] = {
	{ "output", ECSCTL_FLAG_VALUE, false, "FORMAT",
	  "table, json or text (default: table on a terminal, text otherwise)" },
	{ "profile", ECSCTL_FLAG_VALUE, false, "NAME", "the config profile (default: $ECSCTL_PROFILE, else default)" },
	{ "config", ECSCTL_FLAG_VALUE, false, "FILE", "the config file (default: $ECSCTL_CONFIG, else "
						      "~/.ecsctl/config)" },
	{ "endpoint", ECSCTL_FLAG_VALUE, false, "URL", "the API endpoint (default http://127.0.0.1:8773/)" },
	{ "access-key-id", ECSCTL_FLAG_VALUE, false, "ID", "the AccessKeyId" },
	{ "access-key-secret", ECSCTL_FLAG_VALUE, false, "SECRET",
	  "the secret (visible to other users in ps: prefer the file or $ECSCTL_ACCESS_KEY_SECRET)" },
	{ "region", ECSCTL_FLAG_VALUE, false, "REGION", "the RegionId sent (default cn-local)" },
	{ "request-timeout", ECSCTL_FLAG_VALUE, false, "SECONDS", "give up on one request after this (default 60)" },
	{ "method", ECSCTL_FLAG_VALUE, false, "METHOD", "POST (default: parameters in the form body) or GET" },
	{ "debug", ECSCTL_FLAG_BOOL, false, NULL, "print each request and answer status on stderr" },
	{ "help", ECSCTL_FLAG_BOOL, false, NULL, "help for the command" },
	{ "version", ECSCTL_FLAG_BOOL, false, NULL, "print the version" },
	{ NULL },
};

void ecsctl_args_clear(struct ecsctl_args *a)
{
	if (!a)
		return;
	free(a->pos);
	ecs_kvlist_clear(&a->flags);
	memset(a, 0, sizeof(*a));
}

const char *ecsctl_args_get(const struct ecsctl_args *a, const char *flag)
{
	return ecs_kvlist_get(&a->flags, flag);
}

bool ecsctl_args_bool(const struct ecsctl_args *a, const char *flag)
{
	return streq(ecs_kvlist_get(&a->flags, flag), "true");
}

static int usage(struct ecsctl *ctx, const struct ecsctl_args *a, const char *msg)
{
	char name[128];

	if (a->verb) {
		ecsctl_verb_fullname(a->verb, name, sizeof(name));
		fprintf(ctx->err, "ecsctl: %s\nTry '%s --help'.\n", msg, name);
	} else if (a->group) {
		fprintf(ctx->err, "ecsctl: %s\nTry 'ecsctl help %s'.\n", msg, a->group);
	} else {
		fprintf(ctx->err, "ecsctl: %s\nTry 'ecsctl help'.\n", msg);
	}
	return -EINVAL;
}

static int usagef(struct ecsctl *ctx, const struct ecsctl_args *a, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usagef(struct ecsctl *ctx, const struct ecsctl_args *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return usage(ctx, a, msg);
}

static int add_pos(struct ecsctl_args *a, const char *word)
{
	const char **v = realloc(a->pos, (a->n_pos + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[a->n_pos++] = word;
	a->pos = v;
	return 0;
}

static int apply_global(struct ecsctl *ctx, struct ecsctl_args *a, const char *name, const char *value)
{
	struct ecsctl_overrides *o = &ctx->overrides;

	if (streq(name, "output")) {
		if (ecsctl_output_from_string(value, &ctx->output) < 0)
			return usagef(ctx, a, "-o takes table, json or text, not \"%s\"", value);
		ctx->output_set = true;
	} else if (streq(name, "profile")) {
		o->profile = value;
	} else if (streq(name, "config")) {
		o->config_path = value;
	} else if (streq(name, "endpoint")) {
		o->endpoint = value;
	} else if (streq(name, "access-key-id")) {
		o->access_key_id = value;
	} else if (streq(name, "access-key-secret")) {
		o->access_key_secret = value;
	} else if (streq(name, "region")) {
		o->region = value;
	} else if (streq(name, "request-timeout")) {
		o->request_timeout = value;
	} else if (streq(name, "method")) {
		if (!streq(value, "GET") && !streq(value, "POST"))
			return usagef(ctx, a, "--method takes GET or POST, not \"%s\"", value);
		ctx->method = value;
	} else if (streq(name, "debug")) {
		ctx->debug = streq(value, "true");
	} else if (streq(name, "help")) {
		a->help = streq(value, "true");
	} else if (streq(name, "version")) {
		a->version = streq(value, "true");
	}
	return 0;
}

/* A word that names a verb or group, before the verb is known. */
static int take_verb_word(struct ecsctl *ctx, struct ecsctl_args *a, const char *word)
{
	if (a->group) {
		a->verb = ecsctl_verb_find(a->group, word);
		if (!a->verb)
			return usagef(ctx, a, "unknown command '%s %s'", a->group, word);
		a->group = NULL;
		return 0;
	}
	a->verb = ecsctl_verb_find(NULL, word);
	if (a->verb)
		return 0;
	if (ecsctl_group_find(word)) {
		a->group = ecsctl_group_find(word)->name;
		return 0;
	}
	return usagef(ctx, a, "unknown command '%s'", word);
}

/* "--name[=value]" at argv[*i]; consumes its value. */
static int take_flag(struct ecsctl *ctx, struct ecsctl_args *a, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '='), *value = eq ? eq + 1 : NULL;
	const struct ecsctl_flag *f;
	char name[128];
	bool global = false, param = false, b;
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	if (len == 0 || len >= sizeof(name))
		return usagef(ctx, a, "bad option '%s'", argv[*i]);
	memcpy(name, arg, len);
	name[len] = '\0';

	f = ecsctl_flag_find(ecsctl_global_flags, name);
	if (f)
		global = true;
	else if (a->verb)
		f = ecsctl_flag_find(a->verb->flags, name);
	if (!f && a->verb && a->verb->any_flags)
		param = true;
	if (!f && !param) {
		if (a->verb) {
			char full[128];

			ecsctl_verb_fullname(a->verb, full, sizeof(full));
			return usagef(ctx, a, "'%s' has no option --%s", full, name);
		}
		return usagef(ctx, a, "unknown option --%s", name);
	}

	if (f && f->kind == ECSCTL_FLAG_BOOL) {
		if (!value)
			value = "true";
		else if (ecs_parse_bool(value, &b) < 0)
			return usagef(ctx, a, "--%s takes no value (or true/false), not \"%s\"", name, value);
		else
			value = b ? "true" : "false";
	} else if (!value) {
		if (*i + 1 >= argc)
			return usagef(ctx, a, "--%s needs a value", name);
		value = argv[++*i];
	}

	if (global)
		return apply_global(ctx, a, name, value);
	if (f && f->kind == ECSCTL_FLAG_VALUE && ecs_kvlist_get(&a->flags, name))
		return usagef(ctx, a, "--%s given twice", name);
	if (param && ecs_kvlist_get(&a->flags, name))
		return usagef(ctx, a, "--%s given twice", name);
	return ecs_kvlist_add(&a->flags, name, value);
}

static int check(struct ecsctl *ctx, struct ecsctl_args *a)
{
	const struct ecsctl_verb *v = a->verb;
	char full[128];

	ecsctl_verb_fullname(v, full, sizeof(full));
	if (a->n_pos < v->min_pos)
		return usagef(ctx, a, "'%s' needs %s", full, v->synopsis ? v->synopsis : "more arguments");
	if (a->n_pos > v->max_pos) {
		if (v->max_pos == 0)
			return usagef(ctx, a, "'%s' takes no argument ('%s')", full, a->pos[v->max_pos]);
		return usagef(ctx, a, "'%s' takes at most %u argument%s (%s)", full, v->max_pos,
			      v->max_pos == 1 ? "" : "s", v->synopsis);
	}
	for (const struct ecsctl_flag *f = v->flags; f && f->name; f++)
		if (f->required && !ecs_kvlist_get(&a->flags, f->name))
			return usagef(ctx, a, "'%s' needs --%s %s", full, f->name, f->metavar ? f->metavar : "");
	for (size_t i = 0; i < a->n_pos; i++)
		if (!*a->pos[i])
			return usagef(ctx, a, "'%s': an empty argument", full);
	return 0;
}

int ecsctl_args_parse(struct ecsctl *ctx, int argc, char **argv, struct ecsctl_args *ret)
{
	struct ecsctl_args a = { 0 };
	int r = 0;

	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (streq(w, "--")) {
			if (!a.verb) {
				r = usage(ctx, &a, "'--' before a command");
				goto fail;
			}
			if (a.verb->rest) {
				a.rest = (const char **)argv + i + 1;
				a.n_rest = (size_t)(argc - i - 1);
			} else {
				for (int j = i + 1; j < argc && r >= 0; j++)
					r = add_pos(&a, argv[j]);
			}
			break;
		} else if (str_has_prefix(w, "--")) {
			r = take_flag(ctx, &a, argc, argv, &i);
		} else if (streq(w, "-o") || (str_has_prefix(w, "-o") && w[2])) {
			const char *v = w[2] ? w + 2 : (i + 1 < argc ? argv[++i] : NULL);

			r = v ? apply_global(ctx, &a, "output", v) : usage(ctx, &a, "-o needs a value");
		} else if (streq(w, "-h")) {
			a.help = true;
		} else if (w[0] == '-' && w[1]) {
			r = usagef(ctx, &a, "unknown option '%s'", w);
		} else if (!a.verb) {
			r = take_verb_word(ctx, &a, w);
		} else {
			r = add_pos(&a, w);
		}
		if (r < 0)
			goto fail;
	}
	if (a.verb && !a.help && !a.version) {
		r = check(ctx, &a);
		if (r < 0)
			goto fail;
	}
	*ret = a;
	return 0;
fail:
	ecsctl_args_clear(&a);
	return r;
}
