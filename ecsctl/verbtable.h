/* verbtable.h: what a verb is (its group, name, arguments, flags, the actions it calls,
 * help and run function) and the table of every verb, which help, argument checking
 * (args.h) and completion all read. Each verbs_<thing>.c declares its own verbs beside the
 * functions that run them; verbtable.c gathers the tables. */
#ifndef ECSCTL_VERBTABLE_H
#define ECSCTL_VERBTABLE_H

#include <stdbool.h>
#include <stddef.h>

struct ecsctl;
struct ecsctl_args;
struct ecsctl_listing;
struct ecsctl_creation;
struct ecsctl_each;

enum ecsctl_flag_kind {
	ECSCTL_FLAG_VALUE, /* --name VALUE, at most once */
	ECSCTL_FLAG_BOOL,  /* --name */
	ECSCTL_FLAG_LIST,  /* --name VALUE, repeatable */
	_ECSCTL_FLAG_KIND_MAX,
};

struct ecsctl_flag {
	const char *name; /* without "--" */
	enum ecsctl_flag_kind kind;
	bool required;
	const char *metavar; /* "SIZE_GIB" */
	const char *help;
};

/* --wait (wait_help: until what) and --timeout: the two flags of every verb that can wait
 * (ecsctl_flag_timeout, ecsctl_wait_for: exit 3 when the time runs out). */
#define ECSCTL_WAIT_FLAGS(wait_help)                                      \
	{ "wait", ECSCTL_FLAG_BOOL, false, NULL, wait_help },             \
	{                                                                 \
		"timeout", ECSCTL_FLAG_VALUE, false, "SECONDS",           \
		"how long --wait waits (default 600); then exit 3"        \
	}

/* The arguments of a verb that takes one or more ids, shown as synopsis ("DISK...")
 * (ECSCTL_ARGS_MAX, ecsctl.h). */
#define ECSCTL_IDS(synopsis_) .synopsis = (synopsis_), .min_pos = 1, .max_pos = ECSCTL_ARGS_MAX

struct ecsctl_verb {
	const char *group;	/* "disk", "snapshot", … or NULL for a top-level verb */
	const char *name;
	const char *synopsis;	/* the arguments, e.g. "ID..." */
	unsigned min_pos, max_pos;
	bool rest;		/* takes "-- CMD..." */
	bool any_flags;		/* every --Name VALUE is an API parameter */
	const struct ecsctl_flag *flags; /* ends with { NULL }; NULL: none */
	const char *actions;	/* the API actions it calls; NULL: said by list, create or each */
	const char *summary;
	const char *details;	/* a paragraph for `ecsctl help VERB`, or NULL */
	/* What it does: its own run function, or for the verbs that differ only in their data,
	 * one of the three rows verbs.h runs (ecsctl_verb_run). */
	int (*run)(struct ecsctl *ctx, const struct ecsctl_args *a);
	const struct ecsctl_listing *list;    /* ls: ecsctl_list */
	const struct ecsctl_creation *create; /* create: ecsctl_create, --timeout when it watches */
	const struct ecsctl_each *each;	      /* rm, start, …: ecsctl_each_id, once per id */
};

struct ecsctl_group {
	const char *name;
	const char *summary;
};

extern const struct ecsctl_group ecsctl_groups[]; /* ends with { NULL } */

/* Per file, each ending with { .name = NULL }. */
extern const struct ecsctl_verb ecsctl_api_verbs[];
extern const struct ecsctl_verb ecsctl_instance_verbs[];
extern const struct ecsctl_verb ecsctl_events_verbs[];
extern const struct ecsctl_verb ecsctl_disk_verbs[];
extern const struct ecsctl_verb ecsctl_snapshot_verbs[];
extern const struct ecsctl_verb ecsctl_image_verbs[];
extern const struct ecsctl_verb ecsctl_keypair_verbs[];
extern const struct ecsctl_verb ecsctl_policy_verbs[];
extern const struct ecsctl_verb ecsctl_deployset_verbs[];
extern const struct ecsctl_verb ecsctl_sg_verbs[];
extern const struct ecsctl_verb ecsctl_lb_verbs[];
extern const struct ecsctl_verb ecsctl_eip_verbs[];
extern const struct ecsctl_verb ecsctl_oss_verbs[];
extern const struct ecsctl_verb ecsctl_host_verbs[];
extern const struct ecsctl_verb ecsctl_ssh_verbs[];
extern const struct ecsctl_verb ecsctl_help_verbs[];

/* Every verb, in help order; NULL past the end. */
const struct ecsctl_verb *ecsctl_verb_at(size_t i);
const struct ecsctl_verb *ecsctl_verb_find(const char *group, const char *name);
const struct ecsctl_group *ecsctl_group_find(const char *name);
const struct ecsctl_flag *ecsctl_flag_find(const struct ecsctl_flag *flags, const char *name);

/* "ecsctl disk create" */
void ecsctl_verb_fullname(const struct ecsctl_verb *v, char *buf, size_t size);

#endif
