/* verbs.h: the table of verbs, and the helpers the verbs share.
 *
 * Each verbs_<thing>.c declares its verbs (name, arguments, flags, the actions they call,
 * help) beside the functions that run them; verbs.c gathers the tables, so help,
 * argument checking and completion all read the same description. A verb's run function
 * gets checked arguments and returns 0 or a negative errno (see ecsctl.h), having printed
 * its result to ctx->out in ctx->output and any error once to ctx->err. */
#ifndef ECSCTL_VERBS_H
#define ECSCTL_VERBS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "ecsctl.h"
#include "kv.h"
#include "output.h"

#define ECSCTL_ARGS_MAX 100 /* ids a verb takes at once (ECS's limit for InstanceIds) */

struct ecsctl_verb {
	const char *group;	/* "disk", "snapshot", … or NULL for a top-level verb */
	const char *name;
	const char *synopsis;	/* the arguments, e.g. "ID..." */
	unsigned min_pos, max_pos;
	bool rest;		/* takes "-- CMD..." */
	bool any_flags;		/* every --Name VALUE is an API parameter */
	const struct ecsctl_flag *flags; /* ends with { NULL } */
	const char *actions;	/* the API actions it calls */
	const char *summary;
	const char *details;	/* a paragraph for `ecsctl help VERB`, or NULL */
	int (*run)(struct ecsctl *ctx, const struct ecsctl_args *a);
};

struct ecsctl_group {
	const char *name;
	const char *summary;
};

extern const struct ecsctl_group ecsctl_groups[]; /* ends with { NULL } */

/* Per file, each ending with { .name = NULL }. */
extern const struct ecsctl_verb ecsctl_api_verbs[];
extern const struct ecsctl_verb ecsctl_instance_verbs[];
extern const struct ecsctl_verb ecsctl_disk_verbs[];
extern const struct ecsctl_verb ecsctl_snapshot_verbs[];
extern const struct ecsctl_verb ecsctl_image_verbs[];
extern const struct ecsctl_verb ecsctl_keypair_verbs[];
extern const struct ecsctl_verb ecsctl_policy_verbs[];
extern const struct ecsctl_verb ecsctl_sg_verbs[];
extern const struct ecsctl_verb ecsctl_lb_verbs[];
extern const struct ecsctl_verb ecsctl_eip_verbs[];
extern const struct ecsctl_verb ecsctl_ssh_verbs[];
extern const struct ecsctl_verb ecsctl_help_verbs[];

/* Every verb, in help order; NULL past the end. */
const struct ecsctl_verb *ecsctl_verb_at(size_t i);
const struct ecsctl_verb *ecsctl_verb_find(const char *group, const char *name);
const struct ecsctl_group *ecsctl_group_find(const char *name);
const struct ecsctl_flag *ecsctl_flag_find(const struct ecsctl_flag *flags, const char *name);

/* "ecsctl disk create" */
void ecsctl_verb_fullname(const struct ecsctl_verb *v, char *buf, size_t size);

/* The integer value of a flag in [min, max] (def when absent); a usage error otherwise. */
int ecsctl_flag_int(struct ecsctl *ctx, const struct ecsctl_args *a, const char *flag, long long min,
		    long long max, long long def, long long *ret);
/* --timeout SECONDS for the verbs that wait (default ECSCTL_WAIT_TIMEOUT_S). */
int ecsctl_flag_timeout(struct ecsctl *ctx, const struct ecsctl_args *a, long *ret);

/* '["a","b"]': the JSON-array string ECS takes for InstanceIds and the like. */
char *ecsctl_json_string_array(const char *const *items, size_t n);

/* Every page of a Describe* action (PageNumber from 1, page_size a page): the items of
 * reply[outer][inner], gathered in *ret (caller puts). At most ECSCTL_LIST_MAX items. */
#define ECSCTL_LIST_MAX 100000
int ecsctl_describe_all(struct ecsctl *ctx, const char *action, const struct ecs_kvlist *params,
			const char *outer, const char *inner, unsigned page_size, struct json_object **ret);
/* The array at reply[outer][inner] (NULL when absent). */
struct json_object *ecsctl_reply_list(struct json_object *reply, const char *outer, const char *inner);

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

/* Add --flag's value as param when given. */
int ecsctl_param_from_flag(struct ecs_kvlist *params, const struct ecsctl_args *a, const char *flag,
			   const char *param);

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
