/* nf_slb_apply.c: load balancers and public IPs put into the kernel: read what it holds,
 * compare with the rendering, replace the SLB chains in one iptables-restore --noflush
 * transaction; one LB's listener chains alone after a health change; UDP flows forgotten
 * in conntrack. Every command goes through lib/cmd.h with a timeout; applies are
 * serialised. */
#include "nf_slb.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "addr.h"
#include "cmd.h"
#include "log.h"
#include "nf_slb_internal.h"
#include "util.h"

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- applying -------------------------------------------------------------------- */

/* Whether the kernel holds exactly what h wants. */
static bool state_matches(const struct nf_slb_host *h, const struct nf_slb_state *s, const char *expected)
{
	return streq(s->text, expected) && nf_slb_chains_match(h, s);
}

int nf_slb_apply(const struct nf_slb_host *h, bool only_if_different, bool *ret_changed)
{
	_cleanup_free_ char *expected = NULL, *text = NULL;
	struct nf_slb_state now = { 0 };
	bool changed = false;
	int r;

	r = nf_slb_validate_logged(h, "apply");
	if (r < 0)
		return r;
	pthread_mutex_lock(&apply_lock);
	r = nf_slb_read_state(h->prefix, &now);
	if (r < 0)
		goto out;
	r = nf_slb_expected_text(h, &expected);
	if (r < 0)
		goto out;
	if (only_if_different && state_matches(h, &now, expected))
		goto out;
	r = nf_slb_restore_text(h, &now, &text);
	if (r < 0 || !*text)
		goto out;
	r = nf_iptables_restore(text);
	if (r < 0)
		goto out;
	changed = true;
	log_debug("slb: rules applied", "prefix=%s lbs=%zu public_ips=%zu", h->prefix, h->n_lbs, h->n_eips);
out:
	pthread_mutex_unlock(&apply_lock);
	nf_slb_state_clear(&now);
	if (r == 0 && ret_changed)
		*ret_changed = changed;
	return r;
}

int nf_slb_apply_lb(const struct nf_slb_host *h, const char *lb_id)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = nf_slb_render_lb(h, lb_id, &text);
	if (r < 0 || !*text)
		return r;
	pthread_mutex_lock(&apply_lock);
	r = nf_iptables_restore(text);
	pthread_mutex_unlock(&apply_lock);
	return r;
}

int nf_slb_remove_all(const char *prefix)
{
	/* Any valid addresses: an empty model renders no rule with them. */
	const struct nf_slb_host empty = { .prefix = prefix, .snat_ip = "192.0.2.1", .bridge = "none" };

	return nf_slb_apply(&empty, true, NULL);
}

int nf_slb_conntrack_forget(const char *vip, int port, const char *backend_ip)
{
	char port_text[8];
	const char *argv[] = { "conntrack", "-D", "-p", "udp", "--orig-dst", vip, "--orig-port-dst", port_text,
			       "--reply-src", backend_ip, NULL };
	const struct ecs_cmd_opts opts = { .timeout_ms = NF_CMD_TIMEOUT_MS };
	struct ecs_cmd_result res = { 0 };
	int r;

	if (!ecs_ipv4_valid(vip) || !ecs_ipv4_valid(backend_ip) || port < 1 || port > 65535)
		return -EINVAL;
	snprintf(port_text, sizeof(port_text), "%d", port);
	/* conntrack exits 1 when it deleted nothing: only not running at all is an error. */
	r = ecs_cmd_run(argv, &opts, &res);
	ecs_cmd_result_clear(&res);
	return r;
}
