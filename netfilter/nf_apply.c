/* nf_apply.c: security groups put into the kernel: read what it holds (iptables-save), fill
 * the sets (ipset restore), replace the chains in one transaction (iptables-restore
 * --noflush), then remove what the model no longer has. Every command goes through
 * lib/cmd.h (so a dry run records the exact text) with a timeout; applies are serialised. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cmd.h"
#include "log.h"
#include "nf_internal.h"
#include "util.h"

/* A set that was just unreferenced may stay busy until the kernel has released the rule
 * that used it; ipset destroy is tried again for this long. */
#define SET_DESTROY_TRIES 10
#define SET_DESTROY_WAIT_MS 20

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct ecs_cmd_opts plain_opts = { .timeout_ms = NF_CMD_TIMEOUT_MS };

int nf_save_parse(const char *const *argv, size_t max_output,
		  int (*parse)(const char *prefix, const char *text, void *ret), const char *prefix, void *ret)
{
	const struct ecs_cmd_opts opts = { .timeout_ms = NF_CMD_TIMEOUT_MS, .max_output = max_output };
	struct ecs_cmd_result res = { 0 };
	int r = ecs_cmd_run_ok(argv, &opts, &res);

	if (r < 0)
		return r;
	r = parse(prefix, res.out, ret);
	ecs_cmd_result_clear(&res);
	return r;
}

static int parse_state(const char *prefix, const char *text, void *ret)
{
	return nf_state_parse(prefix, text, ret);
}

static int save_state(const char *prefix, struct nf_state *ret)
{
	const char *argv[] = { "iptables-save", "-t", "filter", NULL };

	return nf_save_parse(argv, 0, parse_state, prefix, ret);
}

static int restore(const char *const *argv, const char *text)
{
	const struct ecs_cmd_opts opts = { .stdin_text = text, .timeout_ms = NF_CMD_TIMEOUT_MS };

	return ecs_cmd_run_ok(argv, &opts, NULL);
}

int nf_iptables_restore(const char *text)
{
	const char *argv[] = { "iptables-restore", "-w", "--noflush", NULL };

	return restore(argv, text);
}

/* The sets text last restored whole by this process (under apply_lock): a change to some
 * NICs' rules that leaves every set as it was runs no ipset command at all. A whole-host
 * apply always restores, so drift is repaired there. */
static char *sets_applied;

static int ipset_restore(const char *text)
{
	const char *argv[] = { "ipset", "restore", "-exist", NULL };
	int r;

	if (!*text)
		return 0;
	r = restore(argv, text);
	free(sets_applied);
	sets_applied = r == 0 ? strdup(text) : NULL;
	return r;
}

static int ipset_restore_changed(const char *text)
{
	if (sets_applied && streq(sets_applied, text))
		return 0;
	return ipset_restore(text);
}

/* The names of the prefix's sets the kernel holds. */
static int list_sets(const char *prefix, char ***ret, size_t *ret_n)
{
	const char *argv[] = { "ipset", "list", "-n", NULL };
	struct ecs_cmd_result res = { 0 };
	char **names = NULL, *line, *save = NULL;
	size_t n = 0;
	int r;

	r = ecs_cmd_run_ok(argv, &plain_opts, &res);
	if (r < 0)
		return r;
	for (line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char **p;

		if (!nf_set_is_ours(prefix, line))
			continue;
		p = reallocarray(names, n + 1, sizeof(*names));
		if (!p || !(p[n] = strdup(line))) {
			names = p ? p : names;
			r = -ENOMEM;
			break;
		}
		names = p;
		n++;
	}
	ecs_cmd_result_clear(&res);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return r;
	}
	*ret = names;
	*ret_n = n;
	return 0;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Destroy one set; gone already counts as done. -EBUSY while something else uses it. */
static int destroy_set(const char *name)
{
	const char *argv[] = { "ipset", "destroy", name, NULL };
	struct ecs_cmd_result res = { 0 };
	char q[256];
	int r;

	for (int i = 0; i < SET_DESTROY_TRIES; i++) {
		bool busy;

		r = ecs_cmd_run(argv, &plain_opts, &res);
		if (r < 0) {
			log_error("ipset destroy failed to run", "set=%s error=%s", name, strerror(-r));
			return r;
		}
		if (res.status == 0 || strstr(res.err, "does not exist")) {
			ecs_cmd_result_clear(&res);
			return 0;
		}
		busy = strstr(res.err, "in use") != NULL;
		if (!busy || i + 1 == SET_DESTROY_TRIES) {
			log_warn("ipset destroy failed", "set=%s status=%d stderr=%s", name, res.status,
				 ecs_log_quote(res.err, q, sizeof(q)));
			ecs_cmd_result_clear(&res);
			return busy ? -EBUSY : -EIO;
		}
		ecs_cmd_result_clear(&res);
		nanosleep(&(struct timespec){ .tv_nsec = SET_DESTROY_WAIT_MS * 1000000L }, NULL);
	}
	return -EBUSY;
}

/* Destroy the prefix's sets that c does not need (all of them when c is NULL). Returns the
 * first error, having tried every set. */
static int destroy_sets(const char *prefix, const struct nf_ctx *c)
{
	char **names = NULL;
	size_t n = 0;
	int r, ret = 0;

	r = list_sets(prefix, &names, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (c && nf_ctx_needs_set(c, names[i]))
			continue;
		r = destroy_set(names[i]);
		if (r < 0 && ret == 0)
			ret = r;
	}
	names_free(names, n);
	return ret;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The taps of per-NIC chains the kernel holds that are no NIC of the model, sorted and
 * unique; they point into st. */
static int find_stale(const char *prefix, const struct nf_ctx *c, const struct nf_state *st, const char ***ret,
		      size_t *ret_n)
{
	_cleanup_free_ const char **taps = calloc(st->n_chains + 1, sizeof(*taps));
	size_t n = 0, k = 0;

	if (!taps)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_chains; i++) {
		const char *name = st->chains[i], *tap = NULL;

		if (nf_chain_parse(prefix, name, strlen(name), NULL, &tap) && tap && !nf_ctx_has_tap(c, tap))
			taps[n++] = tap;
	}
	qsort(taps, n, sizeof(*taps), str_cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || !streq(taps[k - 1], taps[i]))
			taps[k++] = taps[i];
	*ret = TAKE_PTR(taps);
	*ret_n = k;
	return 0;
}

int nf_read_state(const char *prefix, char **ret_text, int *ret_forward_jumps, int *ret_input_jumps)
{
	struct nf_state st = { 0 };
	int r;

	if (!nf_prefix_valid(prefix))
		return -EINVAL;
	r = save_state(prefix, &st);
	if (r < 0)
		return r;
	*ret_text = TAKE_PTR(st.text);
	*ret_forward_jumps = st.forward_jumps;
	*ret_input_jumps = st.input_jumps;
	nf_state_clear(&st);
	return 0;
}

int nf_apply_host(const struct nf_host *h)
{
	struct nf_ctx *c = NULL;
	struct nf_state st = { 0 };
	_cleanup_free_ const char **stale = NULL;
	_cleanup_free_ char *sets = NULL, *filter = NULL;
	size_t n_stale = 0;
	int r;

	/* A bad model runs no command at all. */
	r = nf_ctx_new_logged(h, "apply_host", &c);
	if (r < 0)
		return r;
	r = nf_ctx_render_sets(c, &sets);
	if (r < 0)
		goto out_free;

	pthread_mutex_lock(&apply_lock);
	r = save_state(h->prefix, &st);
	if (r < 0)
		goto out_unlock;
	r = find_stale(h->prefix, c, &st, &stale, &n_stale);
	if (r < 0)
		goto out_unlock;
	r = nf_ctx_render_filter(c, NULL, 0, true, st.forward_jumps, st.input_jumps, stale, n_stale, &filter);
	if (r < 0)
		goto out_unlock;
	/* Sets before the rules that name them; sets no rule names any more after. */
	r = ipset_restore(sets);
	if (r < 0)
		goto out_unlock;
	r = nf_iptables_restore(filter);
	if (r < 0)
		goto out_unlock;
	if (destroy_sets(h->prefix, c) < 0)
		log_warn("security groups: some stale set is still there, the next apply tries again", "prefix=%s",
			 h->prefix);
	log_debug("security groups applied", "prefix=%s nics=%zu stale_nics=%zu", h->prefix, h->n_nics, n_stale);
out_unlock:
	pthread_mutex_unlock(&apply_lock);
out_free:
	nf_state_clear(&st);
	nf_ctx_free(c);
	return r;
}

int nf_apply_nics(const struct nf_host *h, const char *const *taps, size_t n_taps)
{
	struct nf_ctx *c = NULL;
	_cleanup_free_ char *sets = NULL, *filter = NULL;
	int r;

	r = nf_ctx_new_logged(h, "apply_nics", &c);
	if (r < 0)
		return r;
	if (n_taps && !taps) {
		log_error("security groups: tap list missing", "op=apply_nics n_taps=%zu", n_taps);
		r = -EINVAL;
		goto out_free;
	}
	r = nf_ctx_render_sets(c, &sets);
	if (r < 0)
		goto out_free;
	if (n_taps) {
		r = nf_ctx_render_filter(c, taps, n_taps, false, 0, 0, NULL, 0, &filter);
		if (r < 0)
			goto out_free;
	}

	pthread_mutex_lock(&apply_lock);
	r = ipset_restore_changed(sets);
	if (r == 0 && filter)
		r = nf_iptables_restore(filter);
	pthread_mutex_unlock(&apply_lock);
	if (r == 0)
		log_debug("security groups applied to nics", "prefix=%s nics=%zu", h->prefix, n_taps);
out_free:
	nf_ctx_free(c);
	return r;
}

int nf_remove_all(const char *prefix)
{
	struct nf_state st = { 0 };
	char *text = NULL;
	size_t size = 0;
	FILE *f;
	int r;

	if (!nf_prefix_valid(prefix)) {
		log_error("security groups: bad prefix", "op=remove_all");
		return -EINVAL;
	}
	pthread_mutex_lock(&apply_lock);
	/* Its sets go: the next apply restores them whatever it last restored. */
	free(sets_applied);
	sets_applied = NULL;
	r = save_state(prefix, &st);
	if (r < 0)
		goto out_unlock;
	if (st.n_chains || st.forward_jumps || st.input_jumps) {
		/* One transaction: declared (so flushed: nothing of ours jumps anywhere any
		 * more), the jumps to them gone, then deleted. */
		f = open_memstream(&text, &size);
		if (!f) {
			r = -ENOMEM;
			goto out_unlock;
		}
		fputs("*filter\n", f);
		for (size_t i = 0; i < st.n_chains; i++)
			fprintf(f, ":%s - [0:0]\n", st.chains[i]);
		for (int i = 0; i < st.forward_jumps; i++)
			fprintf(f, "-D FORWARD -j %s-FWD\n", prefix);
		for (int i = 0; i < st.input_jumps; i++)
			fprintf(f, "-D INPUT -j %s-INP\n", prefix);
		for (size_t i = 0; i < st.n_chains; i++)
			fprintf(f, "-X %s\n", st.chains[i]);
		fputs("COMMIT\n", f);
		if (fclose(f) != 0) {
			free(text);
			text = NULL;
			r = -ENOMEM;
			goto out_unlock;
		}
		r = nf_iptables_restore(text);
		if (r < 0)
			goto out_unlock;
	}
	r = destroy_sets(prefix, NULL);
	if (r == 0)
		log_info("security groups removed", "prefix=%s chains=%zu", prefix, st.n_chains);
out_unlock:
	pthread_mutex_unlock(&apply_lock);
	free(text);
	nf_state_clear(&st);
	return r;
}

/* conntrack -D exits 1 when it deleted nothing, saying so: that is no failure. */
static bool conntrack_none_deleted(const struct ecs_cmd_result *res)
{
	const char *none = ": 0 flow entries have been deleted";

	return res->status == 1 && (strstr(res->err, none) || strstr(res->out, none));
}

int nf_conntrack_flush_ip(const char *ip)
{
	static const char *const dirs[] = { "-d", "-s" };
	char q[256];
	int r;

	if (!ecs_ipv4_valid(ip)) {
		log_error("conntrack flush: bad address", "ip=%s", ecs_log_quote(strempty(ip), q, sizeof(q)));
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		const char *argv[] = { "conntrack", "-D", dirs[i], ip, NULL };
		struct ecs_cmd_result res = { 0 };

		r = ecs_cmd_run(argv, &plain_opts, &res);
		if (r < 0) {
			log_error("conntrack failed to run", "ip=%s error=%s", ip, strerror(-r));
			return r;
		}
		if (res.status != 0 && !conntrack_none_deleted(&res)) {
			log_error("conntrack flush failed", "ip=%s dir=%s status=%d stderr=%s", ip, dirs[i], res.status,
				  ecs_log_quote(res.err, q, sizeof(q)));
			ecs_cmd_result_clear(&res);
			return -EIO;
		}
		ecs_cmd_result_clear(&res);
	}
	return 0;
}
