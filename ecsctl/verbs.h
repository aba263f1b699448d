/* verbs.h: the helpers the verbs share (flags, paging, printing), and the few functions
 * one verbs_<thing>.c offers the others. What a verb is and the table of every verb are in
 * verbtable.h. A verb's run function gets checked arguments and returns 0 or a negative
 * errno (see ecsctl.h), having printed its result to ctx->out in ctx->output and any error
 * once to ctx->err. */
#ifndef ECSCTL_VERBS_H
#define ECSCTL_VERBS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "ecsctl.h"
#include "kv.h"
#include "output.h"
#include "verbtable.h"

struct ecsctl_watch;

/* The integer value of a flag in [min, max] (def when absent); a usage error otherwise. */
int ecsctl_flag_int(struct ecsctl *ctx, const struct ecsctl_args *a, const char *flag, long long min,
		    long long max, long long def, long long *ret);
/* --timeout SECONDS for the verbs that wait (default ECSCTL_WAIT_TIMEOUT_S). */
int ecsctl_flag_timeout(struct ecsctl *ctx, const struct ecsctl_args *a, long *ret);

/* Every page of a Describe* action (PageNumber from 1, page_size a page): the items of
 * reply[outer][inner], gathered in *ret (caller puts). At most ECSCTL_LIST_MAX items. */
#define ECSCTL_LIST_MAX 100000
int ecsctl_describe_all(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params,
			const char *outer, const char *inner, unsigned page_size, struct json_object **ret);

/* Print a list in ctx->output: a table of cols, the values of id_key, or JSON
 * {"TotalCount": n, outer: {inner: items}}. */
int ecsctl_print_list(struct ecsctl *ctx, struct json_object *items, const char *outer, const char *inner,
		      const struct ecsctl_column *cols, size_t n_cols, const char *id_key);
/* What a create verb prints: the reply (json) or the new id at path (table, text). */
int ecsctl_print_created(struct ecsctl *ctx, struct json_object *reply, const char *path);
/* What a verb that changes something prints: the reply with -o json, else nothing. */
void ecsctl_print_done(struct ecsctl *ctx, struct json_object *reply);
/* Call action with params, print what a change prints, and clear params. */
int ecsctl_call_done(struct ecsctl *ctx, const char *action, struct ecs_kvlist *params);

/* A parameter list freed when it goes out of scope. */
#define _cleanup_kvlist_ _cleanup_(ecs_kvlist_clear)

/* Add --flag's value as param when given. */
int ecsctl_param_from_flag(struct ecs_kvlist *params, const struct ecsctl_args *a, const char *flag,
			   const char *param);
/* The same for each pair of ECSCTL_PAIRS("flag", "Param", …) (NULL: none). */
int ecsctl_params_from_flags(struct ecs_kvlist *params, const struct ecsctl_args *a, const char *const *pairs);
#define ECSCTL_PAIRS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* What an ls verb lists: a Describe* action read page by page, printed as ecsctl_print_list
 * does, with flag_params its flags as Describe* parameters (ECSCTL_PAIRS, or NULL). */
struct ecsctl_listing {
	const char *action, *outer, *inner;
	unsigned page_size;
	const struct ecsctl_column *cols;
	size_t n_cols;
	const char *id_key;
	const char *const *flag_params;
};
/* cols, n_cols of a listing from one array (ARRAY_SIZE: util.h). */
#define ECSCTL_COLUMNS(cols) (cols), ARRAY_SIZE(cols)
/* List l's every item with params (may be NULL; cleared) and l's flags from a, and print them. */
int ecsctl_list(struct ecsctl *ctx, const struct ecsctl_args *a, const struct ecsctl_listing *l,
		struct ecs_kvlist *params);

/* What a create verb calls: action with params and flag_params (ECSCTL_PAIRS, or NULL),
 * printing the new id at id_path as ecsctl_print_created does; with watch and --wait, it
 * then waits for the new one to have status (an id missing from the reply is an error). */
struct ecsctl_creation {
	const char *action, *id_path;
	const char *const *flag_params;
	const struct ecsctl_watch *watch;
	const char *status;
};
/* Create as c says with params (may be NULL; cleared), waiting at most timeout_s. */
int ecsctl_create(struct ecsctl *ctx, const struct ecsctl_args *a, const struct ecsctl_creation *c,
		  struct ecs_kvlist *params, long timeout_s);

/* What a verb that acts on each of its ids calls (rm, start, …): for each argument, action
 * with id_param=ARG (and force_param=true when --force is given and force_param is not
 * NULL), printing what a change prints and stopping at the first error; with watch and
 * --wait, it then waits until they all have status (NULL: until they are gone). */
struct ecsctl_each {
	const char *action, *id_param, *force_param;
	const struct ecsctl_watch *watch;
	const char *status;
};
int ecsctl_each_id(struct ecsctl *ctx, const struct ecsctl_args *a, const struct ecsctl_each *e);

/* Run verb v: its run function, else its list, create or each row. */
int ecsctl_verb_run(struct ecsctl *ctx, const struct ecsctl_verb *v, const struct ecsctl_args *a);
/* The API actions v calls, for help: v->actions, else said by its row (buf holds it). */
const char *ecsctl_verb_actions(const struct ecsctl_verb *v, char *buf, size_t size);

/* The instance as DescribeInstances lists it (*ret: a new reference); an instance not
 * listed is an error (printed, -ENOENT). In verbs_instance.c. */
int ecsctl_instance_describe(struct ecsctl *ctx, const char *id, struct json_object **ret);

/* In verbs_keypair.c: whether NAME may name a key pair (and so a file), and the file of
 * its private key, ~/.ecsctl/keys/NAME.pem. */
bool ecsctl_keypair_name_valid(const char *name);
int ecsctl_keypair_path(const char *name, char **ret);

/* Help, in help.c. */
void ecsctl_help_overview(FILE *f);
void ecsctl_help_group(FILE *f, const char *group);
void ecsctl_help_verb(FILE *f, const struct ecsctl_verb *v);
/* Completion candidates for the words typed so far (the last may be partial). */
void ecsctl_complete(struct ecsctl *ctx, FILE *f, int n_words, char **words);

#endif
