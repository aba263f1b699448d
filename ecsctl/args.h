/* args.h: the command line's grammar.
 *
 *	ecsctl [GLOBAL…] VERB [SUBVERB] [ARG | --FLAG [VALUE] | GLOBAL]… [-- REST…]
 *
 * Flags are "--name value" or "--name=value"; a boolean flag takes no value ("--wait", or
 * "--wait=false"); a list flag may repeat ("--disk 10 --disk 20"). Global options (profile,
 * endpoint, credentials, -o, …) may stand before or after the verb. A value flag always
 * takes the next word, so "--retention-days -1" works. After "--", every word is an
 * argument (ssh: the remote command). The api verb takes any "--Name value" as an API
 * parameter, passed as given.
 *
 * Everything is checked before a request is sent: an unknown verb or flag, a missing value,
 * a value flag given twice, too few or too many arguments, a required flag missing.
 * Strings point into argv. */
#ifndef ECSCTL_ARGS_H
#define ECSCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "kv.h"
#include "verbtable.h"

struct ecsctl;

struct ecsctl_args {
	const struct ecsctl_verb *verb; /* NULL: none given */
	const char *group;		/* a group named without its verb ("ecsctl disk") */
	const char **pos;		/* arguments */
	size_t n_pos;
	const char **rest;		/* after "--", for verbs that take it */
	size_t n_rest;
	struct ecs_kvlist flags;	/* the verb's flags in order; booleans "true"/"false" */
	bool help, version;
};

/* The global options, for help and completion (end with { NULL }). */
extern const struct ecsctl_flag ecsctl_global_flags[];

/* Parse argv[1..argc-1]; global options are applied to ctx. A usage error is printed and
 * returns -EINVAL; with help or version set the verb's checks are skipped. */
int ecsctl_args_parse(struct ecsctl *ctx, int argc, char **argv, struct ecsctl_args *ret);
void ecsctl_args_clear(struct ecsctl_args *a);

/* The value of a flag (the first for a list), NULL when absent. */
const char *ecsctl_args_get(const struct ecsctl_args *a, const char *flag);
bool ecsctl_args_bool(const struct ecsctl_args *a, const char *flag);

#endif
