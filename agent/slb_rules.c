/* slb_rules.c: the load balancers' and public IPs' rules: the model libecsnf renders
 * (netfilter/nf_slb.h), built from the in-memory lists, and applying it. See slb-internal.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slb-internal.h"
#include "util.h"

/* ---- the model for libecsnf ------------------------------------------------------------- */

struct model {
	struct nf_slb_host host;
	struct nf_slb_lb *lbs;
	struct nf_slb_listener *ls;
	struct nf_slb_backend *bs;
	bool *flags;
	struct nf_slb_eip *eips;
};

static void model_clear(struct model *m)
{
	free(m->lbs);
	free(m->ls);
	free(m->bs);
	free(m->flags);
	free(m->eips);
	memset(m, 0, sizeof(*m));
}

/* The kernel's view of what is wanted now (LBs and public IPs being deleted left out);
 * extra (may be NULL) is added as if it were kept. Called with the lock held; points into s. */
static int model_build(struct agent_slb *s, const struct slb_lb *extra_lb, const struct slb_eip *extra_eip,
		       struct model *m)
{
	size_t n_l = 0, n_b = 0, n_f = 0, il = 0, ib = 0, iflag = 0, n = 0;
	const struct slb_lb *all[NF_SLB_LBS_MAX + 1];
	size_t n_all = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < s->n_lbs && n_all < NF_SLB_LBS_MAX + 1; i++)
		if (!s->lbs[i]->deleting && (!extra_lb || !streq(s->lbs[i]->id, extra_lb->id)))
			all[n_all++] = s->lbs[i];
	if (extra_lb && n_all < NF_SLB_LBS_MAX + 1)
		all[n_all++] = extra_lb;
	for (size_t i = 0; i < n_all; i++) {
		n_l += all[i]->n_listeners;
		n_b += all[i]->n_backends;
		n_f += all[i]->n_listeners * all[i]->n_backends;
	}
	m->lbs = calloc(n_all + 1, sizeof(*m->lbs));
	m->ls = calloc(n_l + 1, sizeof(*m->ls));
	m->bs = calloc(n_b + 1, sizeof(*m->bs));
	m->flags = calloc(n_f + 1, sizeof(*m->flags));
	m->eips = calloc(s->n_eips + 2, sizeof(*m->eips));
	if (!m->lbs || !m->ls || !m->bs || !m->flags || !m->eips) {
		model_clear(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_all; i++) {
		const struct slb_lb *lb = all[i];
		struct nf_slb_lb *out = &m->lbs[i];

		*out = (struct nf_slb_lb){ .id = lb->id, .address = lb->address, .active = lb->active,
					   .listeners = &m->ls[il], .n_listeners = lb->n_listeners,
					   .backends = &m->bs[ib], .n_backends = lb->n_backends };
		for (size_t b = 0; b < lb->n_backends; b++)
			m->bs[ib + b] = (struct nf_slb_backend){ .server_id = lb->backends[b].server_id,
								 .ip = lb->backends[b].ip,
								 .weight = lb->backends[b].weight };
		for (size_t l = 0; l < lb->n_listeners; l++) {
			const struct slb_listener *sl = &lb->listeners[l];
			bool *flags = NULL;

			if (slb_checking(lb, l)) {
				flags = &m->flags[iflag];
				for (size_t b = 0; b < lb->n_backends; b++)
					flags[b] = slb_target_at(lb, l, b)->abnormal;
				iflag += lb->n_backends;
			}
			m->ls[il + l] = (struct nf_slb_listener){ .proto = sl->proto, .port = sl->port,
								  .backend_port = sl->backend_port,
								  .scheduler = sl->scheduler, .running = sl->running,
								  .abnormal = flags };
		}
		il += lb->n_listeners;
		ib += lb->n_backends;
	}
	for (size_t i = 0; i < s->n_eips; i++)
		if (!s->eips[i].deleting && (!extra_eip || !streq(s->eips[i].public_ip, extra_eip->public_ip)))
			m->eips[n++] = (struct nf_slb_eip){ .public_ip = s->eips[i].public_ip,
							    .private_ip = s->eips[i].private_ip };
	if (extra_eip)
		m->eips[n++] = (struct nf_slb_eip){ .public_ip = extra_eip->public_ip, .private_ip = extra_eip->private_ip };
	m->host = (struct nf_slb_host){ .prefix = s->a->cfg.chain_prefix, .snat_ip = s->snat_ip,
					.bridge = s->a->cfg.bridge, .local_cidrs = s->cidrs, .n_local_cidrs = s->n_cidrs,
					.lbs = m->lbs, .n_lbs = n_all, .eips = m->eips, .n_eips = n };
	return 0;
}

int slb_apply_all(struct agent_slb *s, bool *ret_changed)
{
	struct model m;
	int r = model_build(s, NULL, NULL, &m);

	if (r < 0)
		return r;
	r = nf_slb_apply(&m.host, true, ret_changed);
	model_clear(&m);
	return r;
}

int slb_apply_lb(struct agent_slb *s, const char *id)
{
	struct model m;
	int r = model_build(s, NULL, NULL, &m);

	if (r < 0)
		return r;
	r = nf_slb_apply_lb(&m.host, id);
	model_clear(&m);
	return r;
}

/* The whole model with lb or e in it must be one libecsnf takes (chain names, limits). */
int slb_check_model(struct agent_slb *s, const struct slb_lb *lb, const struct slb_eip *e, struct agent_err *err)
{
	_cleanup_free_ char *msg = NULL;
	struct model m;
	int r = model_build(s, lb, e, &m);

	if (r < 0)
		return agent_fail(err, r, 500, "InternalError", "out of memory");
	r = nf_slb_validate(&m.host, &msg);
	model_clear(&m);
	if (r < 0)
		return agent_fail(err, -EEXIST, 409, "InvalidParameter.Conflict", "%s", strempty(msg));
	return 0;
}
