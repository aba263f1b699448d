/* nf_slb_internal.h: what nf_slb.c (the model checked and rendered), nf_slb_state.c (the
 * kernel's SLB chains read back) and nf_slb_apply.c (the commands) share inside libecsnf,
 * laid out as the security groups' nf_secgroup.c, nf_state.c and nf_apply.c are. */
#ifndef ECS_NF_SLB_INTERNAL_H
#define ECS_NF_SLB_INTERNAL_H

#include <stdbool.h>

#include "nf_internal.h"
#include "nf_slb.h"

/* nf_slb_validate, with a bad model logged once (what: the caller's name for the log). */
int nf_slb_validate_logged(const struct nf_slb_host *h, const char *what);
/* nf_slb_render_expected and nf_slb_render without the check: h must be valid. */
int nf_slb_expected_text(const struct nf_slb_host *h, char **ret);
int nf_slb_restore_text(const struct nf_slb_host *h, const struct nf_slb_state *now, char **ret);
/* Whether s has exactly h's chains, and each jump into them once when h wants any (none
 * otherwise). */
bool nf_slb_chains_match(const struct nf_slb_host *h, const struct nf_slb_state *s);

#endif
