/* nf_internal.h: what nf_secgroup.c (the model and its rendering), nf_state.c (reading
 * iptables-save text), nf_apply.c (the commands) and the SLB files (nf_slb_internal.h)
 * share inside libecsnf. */
#ifndef ECS_NF_INTERNAL_H
#define ECS_NF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "nf_secgroup.h"

#define NF_CMD_TIMEOUT_MS 30000

/* Run argv (an iptables-save; its output at most max_output bytes, 0: the runner's default)
 * and answer parse(prefix, its output, ret). A failed run is logged by the runner. */
int nf_save_parse(const char *const *argv, size_t max_output,
		  int (*parse)(const char *prefix, const char *text, void *ret), const char *prefix, void *ret);

/* One `iptables-restore -w --noflush` transaction (security groups and SLB alike). */
int nf_iptables_restore(const char *text);

/* A checked model with its lookups built (groups by id, NICs by tap, set names). */
struct nf_ctx;

/* Check h and build the context; -EINVAL with a message in *ret_error (malloc'd). */
int nf_ctx_new(const struct nf_host *h, struct nf_ctx **ret, char **ret_error);
void nf_ctx_free(struct nf_ctx *c);
/* Like nf_ctx_new, with a bad model logged once (what: the caller's name for the log). */
int nf_ctx_new_logged(const struct nf_host *h, const char *what, struct nf_ctx **ret);

bool nf_ctx_has_tap(const struct nf_ctx *c, const char *tap);
/* Whether the host needs the set of this name. */
bool nf_ctx_needs_set(const struct nf_ctx *c, const char *set);

int nf_ctx_render_sets(const struct nf_ctx *c, char **ret);
int nf_ctx_render_filter(const struct nf_ctx *c, const char *const *only_taps, size_t n_only, bool with_dispatch,
			 int existing_forward_jumps, int existing_input_jumps, const char *const *stale_taps,
			 size_t n_stale, char **ret);

bool nf_prefix_valid(const char *prefix);
bool nf_tap_valid(const char *tap);

/* The kinds of security-group chain. */
enum nf_chain_kind {
	NF_CHAIN_FWD,
	NF_CHAIN_INP,
	NF_CHAIN_INGRESS,
	NF_CHAIN_EGRESS,
	NF_CHAIN_SPOOF,
	_NF_CHAIN_KIND_MAX,
};

/* Whether the len bytes at name are one of the prefix's security-group chains (P-FWD,
 * P-INP, or P-I-/P-O-/P-S- and a valid tap name); *ret_tap (may be NULL) points at the tap
 * part inside name for the per-NIC kinds. */
bool nf_chain_parse(const char *prefix, const char *name, size_t len, enum nf_chain_kind *ret_kind,
		    const char **ret_tap);

/* Whether name is one of the prefix's sets (P-<10 hex> or P-<10 hex>-t). */
bool nf_set_is_ours(const char *prefix, const char *name);

/* iptables-save (or iptables-restore) text reduced to the lines of the chains a module owns
 * (the security groups' here, the SLB's in nf_slb.c): the same reduction of the kernel's
 * text and of the rendered text is what makes the two comparable. */
enum {
	NF_TABLE_FILTER = 1 << 0,
	NF_TABLE_NAT = 1 << 1,
};

#define NF_REDUCE_JUMPS_MAX 8

/* The line "-A <from> -j <prefix>-<to>", counted in table (0: in any). */
struct nf_reduce_jump {
	const char *from;
	const char *to;
	unsigned table;
};

struct nf_reduce_spec {
	const char *prefix;
	/* NF_TABLE_* of the tables read (a "*table" line starts one; lines before any are
	 * read by none); 0: every line, whatever its table, and no table is tracked. */
	unsigned tables;
	bool strip_cr;		/* a line's trailing '\r' taken off first */
	bool chains_with_lines; /* a chain with "-A" lines is listed even undeclared */
	/* Whether the len bytes at name are one of ours in table (an NF_TABLE_*; 0 when
	 * tables is 0). */
	bool (*owned)(const char *prefix, const char *name, size_t len, unsigned table);
	const struct nf_reduce_jump *jumps;
	size_t n_jumps;		/* at most NF_REDUCE_JUMPS_MAX */
};

/* *ret_text: our chains' "-A" lines, grouped by chain (chains sorted, lines in their order);
 * *ret_chains: our chains' names declared (":name ...") and, if asked, with lines: sorted,
 * unique, each malloc'd; ret_jumps[i]: how many lines are spec->jumps[i]. */
int nf_reduce(const struct nf_reduce_spec *spec, const char *save, char **ret_text, char ***ret_chains,
	      size_t *ret_n_chains, int *ret_jumps);
/* Free what nf_reduce returned (NULLs accepted). */
void nf_reduce_free(char *text, char **chains, size_t n_chains);

/* The security-group chains. */
struct nf_state {
	char *text;	     /* their "-A" lines, grouped by chain, chains sorted */
	char **chains;	     /* their names (declared), sorted, unique */
	size_t n_chains;
	int forward_jumps;   /* "-A FORWARD -j P-FWD" lines */
	int input_jumps;     /* "-A INPUT -j P-INP" lines */
};

int nf_state_parse(const char *prefix, const char *save, struct nf_state *ret);
void nf_state_clear(struct nf_state *s);

#endif
