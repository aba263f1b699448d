/* help.c: `ecsctl help [VERB]`, --help, and the completion candidates behind ecsctl.bash.
 * Everything is generated from the verb tables, so help cannot drift from the parser. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "client.h"
#include "profile.h"
#include "util.h"
#include "verbs.h"

/* The global options with a short form too (args.c takes -o and -h). */
static char short_name(const struct ecsctl_flag *fl)
{
	if (fl == ecsctl_flag_find(ecsctl_global_flags, "output"))
		return 'o';
	if (fl == ecsctl_flag_find(ecsctl_global_flags, "help"))
		return 'h';
	return 0;
}

static void flag_column(const struct ecsctl_flag *fl, char *buf, size_t size)
{
	char shrt[8] = "";

	if (short_name(fl))
		snprintf(shrt, sizeof(shrt), "-%c, ", short_name(fl));
	snprintf(buf, size, "%s--%s%s%s", shrt, fl->name, fl->metavar ? " " : "", fl->metavar ? fl->metavar : "");
}

static void print_flags(FILE *f, const struct ecsctl_flag *flags)
{
	int width = 0;
	char left[128];

	for (const struct ecsctl_flag *fl = flags; fl && fl->name; fl++) {
		flag_column(fl, left, sizeof(left));
		if ((int)strlen(left) > width)
			width = (int)strlen(left);
	}
	for (const struct ecsctl_flag *fl = flags; fl && fl->name; fl++) {
		flag_column(fl, left, sizeof(left));
		fprintf(f, "  %-*s  %s%s%s\n", width, left, fl->help, fl->kind == ECSCTL_FLAG_LIST ? " (repeatable)" : "",
			fl->required ? " (required)" : "");
	}
}

static void print_usage_line(FILE *f, const struct ecsctl_verb *v)
{
	char name[128];
	bool optional = false;

	ecsctl_verb_fullname(v, name, sizeof(name));
	fprintf(f, "usage: %s", name);
	if (v->synopsis)
		fprintf(f, " %s", v->synopsis);
	for (const struct ecsctl_flag *fl = v->flags; fl && fl->name; fl++) {
		if (fl->required)
			fprintf(f, " --%s %s", fl->name, fl->metavar ? fl->metavar : "");
		else
			optional = true;
	}
	fprintf(f, "%s\n", optional ? " [OPTIONS]" : "");
}

void ecsctl_help_verb(FILE *f, const struct ecsctl_verb *v)
{
	char buf[256];
	const char *actions = ecsctl_verb_actions(v, buf, sizeof(buf));

	print_usage_line(f, v);
	fprintf(f, "\n%s.\n", v->summary);
	if (actions)
		fprintf(f, "API: %s.\n", actions);
	if (v->flags && v->flags->name) {
		fprintf(f, "\nOptions:\n");
		print_flags(f, v->flags);
	}
	if (v->details)
		fprintf(f, "\n%s\n", v->details);
	fprintf(f, "\nGlobal options (-o, --profile, --endpoint, …): see 'ecsctl help'.\n");
}

void ecsctl_help_group(FILE *f, const char *group)
{
	const struct ecsctl_group *g = ecsctl_group_find(group);
	const struct ecsctl_verb *v;

	fprintf(f, "usage: ecsctl %s COMMAND [ARGS] [OPTIONS]\n\n%s.\n\nCommands:\n", group, g ? g->summary : group);
	for (size_t i = 0; (v = ecsctl_verb_at(i)); i++)
		if (streq(v->group, group))
			fprintf(f, "  %-10s %s\n", v->name, v->summary);
	fprintf(f, "\n'ecsctl help %s COMMAND' for one command.\n", group);
}

void ecsctl_help_overview(FILE *f)
{
	const struct ecsctl_verb *v;

	fprintf(f, "usage: ecsctl [OPTIONS] COMMAND [ARGS]\n\n"
		   "The command line of the ECS API (Alibaba Cloud ECS, version %s) that ecs-controller\n"
		   "serves.\n\nInstances:\n",
		ECSCTL_API_VERSION);
	for (size_t i = 0; (v = ecsctl_verb_at(i)); i++)
		if (!v->group && !streq(v->name, "api") && !streq(v->name, "help"))
			fprintf(f, "  %-10s %s\n", v->name, v->summary);
	fprintf(f, "\nResources:\n");
	for (const struct ecsctl_group *g = ecsctl_groups; g->name; g++)
		fprintf(f, "  %-10s %s\n", g->name, g->summary);
	fprintf(f, "\nOther:\n");
	for (size_t i = 0; (v = ecsctl_verb_at(i)); i++)
		if (!v->group && (streq(v->name, "api") || streq(v->name, "help")))
			fprintf(f, "  %-10s %s\n", v->name, v->summary);
	fprintf(f, "\nGlobal options (before or after the command):\n");
	print_flags(f, ecsctl_global_flags);
	fprintf(f, "\nConfiguration: ~/.ecsctl/config (or $ECSCTL_CONFIG), one [PROFILE] section each with\n"
		   "endpoint, access_key_id, access_key_secret, region; $ECSCTL_PROFILE picks one.\n"
		   "Exit status: 0 ok, 1 API error, 2 usage, 3 timeout (ssh: the remote command's; 255\n"
		   "when no session).\n"
		   "'ecsctl help COMMAND' for one command; see also docs/ecsctl.md.\n");
}

static int help_run(struct ecsctl *ctx, const struct ecsctl_args *a)
{
	const struct ecsctl_verb *v;

	if (a->n_pos == 0) {
		ecsctl_help_overview(ctx->out);
		return 0;
	}
	if (a->n_pos == 1 && ecsctl_group_find(a->pos[0]) && !ecsctl_verb_find(NULL, a->pos[0])) {
		ecsctl_help_group(ctx->out, a->pos[0]);
		return 0;
	}
	v = a->n_pos == 1 ? ecsctl_verb_find(NULL, a->pos[0]) : ecsctl_verb_find(a->pos[0], a->pos[1]);
	if (!v)
		return ecsctl_usage_error(ctx, "no command '%s%s%s': see 'ecsctl help'", a->pos[0],
					  a->n_pos > 1 ? " " : "", a->n_pos > 1 ? a->pos[1] : "");
	ecsctl_help_verb(ctx->out, v);
	return 0;
}

static void candidate(FILE *f, const char *prefix, const char *word, const char *pre)
{
	char full[160];

	snprintf(full, sizeof(full), "%s%s", pre, word);
	if (str_has_prefix(full, prefix))
		fprintf(f, "%s\n", full);
}

static void complete_flags(FILE *f, const char *prefix, const struct ecsctl_flag *flags)
{
	for (const struct ecsctl_flag *fl = flags; fl && fl->name; fl++)
		candidate(f, prefix, fl->name, "--");
}

/* Verb and group names: top level (group NULL), or a group's verbs. */
static void complete_verbs(FILE *f, const char *prefix, const char *group)
{
	const struct ecsctl_verb *v;

	for (size_t i = 0; (v = ecsctl_verb_at(i)); i++)
		if (group ? streq(v->group, group) : !v->group)
			candidate(f, prefix, v->name, "");
	if (!group)
		for (const struct ecsctl_group *g = ecsctl_groups; g->name; g++)
			candidate(f, prefix, g->name, "");
}

void ecsctl_complete(struct ecsctl *ctx, FILE *f, int n_words, char **words)
{
	const struct ecsctl_verb *verb = NULL;
	const struct ecsctl_flag *expect = NULL;
	const char *group = NULL, *last = n_words > 0 ? words[n_words - 1] : "";
	size_t n_pos = 0;
	const char *pos[2] = { NULL, NULL };

	for (int i = 0; i < n_words - 1; i++) {
		const char *w = words[i];

		if (expect) {
			if (!streq(w, "="))
				expect = NULL;
			continue;
		}
		if (streq(w, "--"))
			return; /* a command for ssh: nothing to offer */
		if (str_has_prefix(w, "--")) {
			char name[128];
			const char *eq = strchr(w + 2, '=');
			size_t len = eq ? (size_t)(eq - w - 2) : strlen(w + 2);
			const struct ecsctl_flag *fl;

			if (len >= sizeof(name))
				continue;
			memcpy(name, w + 2, len);
			name[len] = '\0';
			fl = ecsctl_flag_find(ecsctl_global_flags, name);
			if (!fl && verb)
				fl = ecsctl_flag_find(verb->flags, name);
			if (fl && fl->kind != ECSCTL_FLAG_BOOL && !eq)
				expect = fl;
			else if (!fl && verb && verb->any_flags && !eq)
				i++; /* an API parameter: skip its value */
			continue;
		}
		if (streq(w, "-o")) {
			expect = ecsctl_flag_find(ecsctl_global_flags, "output");
			continue;
		}
		if (w[0] == '-')
			continue;
		if (!verb) {
			if (group)
				verb = ecsctl_verb_find(group, w);
			else if (!(verb = ecsctl_verb_find(NULL, w)) && ecsctl_group_find(w))
				group = ecsctl_group_find(w)->name;
			if (verb)
				group = NULL;
			continue;
		}
		if (n_pos < ARRAY_SIZE(pos))
			pos[n_pos] = w;
		n_pos++;
	}

	if (expect) {
		if (streq(expect->name, "output")) {
			for (int o = 0; o < _ECSCTL_OUTPUT_MAX; o++)
				candidate(f, last, ecsctl_output_to_string((enum ecsctl_output)o), "");
		} else if (streq(expect->name, "profile")) {
			char **names = NULL;

			if (ecsctl_profile_names(&ctx->overrides, &names) >= 0)
				for (size_t i = 0; names[i]; i++)
					candidate(f, last, names[i], "");
			ecsctl_strv_free(names);
		} else if (streq(expect->name, "method")) {
			candidate(f, last, "POST", "");
			candidate(f, last, "GET", "");
		} else if (streq(expect->name, "status") && verb && streq(verb->name, "wait")) {
			static const char *const st[] = { "Pending", "Starting", "Running", "Stopping", "Stopped",
							  "Deleted" };

			for (size_t i = 0; i < ARRAY_SIZE(st); i++)
				candidate(f, last, st[i], "");
		}
		return; /* other values: the shell completes file names */
	}
	if (last[0] == '-') {
		complete_flags(f, last, ecsctl_global_flags);
		if (verb)
			complete_flags(f, last, verb->flags);
		return;
	}
	if (!verb) {
		complete_verbs(f, last, group);
		return;
	}
	if (streq(verb->name, "help") && !verb->group) {
		if (n_pos == 0)
			complete_verbs(f, last, NULL);
		else if (n_pos == 1 && ecsctl_group_find(pos[0]))
			complete_verbs(f, last, pos[0]);
	}
}

const struct ecsctl_verb ecsctl_help_verbs[] = {
	{
		.name = "help",
		.synopsis = "[COMMAND [SUBCOMMAND]]",
		.min_pos = 0,
		.max_pos = 2,
		.summary = "help on ecsctl or one command",
		.run = help_run,
	},
	{ .name = NULL },
};
