/* nf_state.c: iptables-save text (or our own iptables-restore text) reduced to the chains
 * of one module: their lines grouped by chain in a stable order, their names, and the jumps
 * to its dispatch chains (nf_reduce, for the security groups here and for nf_slb.c). The
 * same reduction of the kernel's text and of the rendered text is what makes the two
 * comparable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_internal.h"
#include "util.h"

bool nf_chain_parse(const char *prefix, const char *name, size_t len, enum nf_chain_kind *ret_kind,
		    const char **ret_tap)
{
	size_t pl = strlen(prefix);
	const char *rest = name + pl + 1;
	size_t rl;
	enum nf_chain_kind kind;

	if (len <= pl + 1 || memcmp(name, prefix, pl) != 0 || name[pl] != '-')
		return false;
	rl = len - pl - 1;
	if (rl == 3 && memcmp(rest, "FWD", 3) == 0)
		kind = NF_CHAIN_FWD;
	else if (rl == 3 && memcmp(rest, "INP", 3) == 0)
		kind = NF_CHAIN_INP;
	else if (rl > 2 && rest[1] == '-' && rest[0] == 'I')
		kind = NF_CHAIN_INGRESS;
	else if (rl > 2 && rest[1] == '-' && rest[0] == 'O')
		kind = NF_CHAIN_EGRESS;
	else if (rl > 2 && rest[1] == '-' && rest[0] == 'S')
		kind = NF_CHAIN_SPOOF;
	else
		return false;
	if (kind != NF_CHAIN_FWD && kind != NF_CHAIN_INP) {
		/* A per-NIC chain names a tap; a name no tap could have is someone else's. */
		char tap[NF_TAP_MAX + 1];

		if (rl - 2 > NF_TAP_MAX)
			return false;
		memcpy(tap, rest + 2, rl - 2);
		tap[rl - 2] = '\0';
		if (!nf_tap_valid(tap))
			return false;
	}
	if (ret_kind)
		*ret_kind = kind;
	if (ret_tap)
		*ret_tap = kind == NF_CHAIN_FWD || kind == NF_CHAIN_INP ? NULL : rest + 2;
	return true;
}

/* ---- the reduction -------------------------------------------------------------- */

struct line {
	const char *chain; /* inside text, not terminated */
	size_t chain_len;
	const char *text;  /* the whole line, terminated */
	size_t len;	   /* strlen(text) */
	size_t index;	   /* its place in the input, for a stable sort */
};

static int chain_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c ? c : (al > bl) - (al < bl);
}

static int line_cmp(const void *x, const void *y)
{
	const struct line *a = x, *b = y;
	int c = chain_cmp(a->chain, a->chain_len, b->chain, b->chain_len);

	return c ? c : (a->index > b->index) - (a->index < b->index);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* v (of *cap elements of size) with room for n + 1: v itself, or a larger copy; NULL (v
 * untouched) when out of memory. */
static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : 64;
	p = reallocarray(v, c, size);
	if (p)
		*cap = c;
	return p;
}

static int add_chain(char ***chains, size_t *n, size_t *cap, const char *name, size_t len)
{
	char **v = grow(*chains, cap, *n, sizeof(**chains));

	if (!v)
		return -ENOMEM;
	*chains = v;
	v[*n] = strndup(name, len);
	if (!v[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* The lines, each ended by '\n', in one string ("" for none). */
static char *join(const struct line *lines, size_t n)
{
	size_t size = 1;
	char *text, *p;

	for (size_t i = 0; i < n; i++)
		size += lines[i].len + 1;
	text = malloc(size);
	if (!text)
		return NULL;
	p = text;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, lines[i].text, lines[i].len);
		p += lines[i].len;
		*p++ = '\n';
	}
	*p = '\0';
	return text;
}

static unsigned table_of(const char *line)
{
	return streq(line, "*filter") ? NF_TABLE_FILTER : streq(line, "*nat") ? NF_TABLE_NAT : 0;
}

void nf_reduce_free(char *text, char **chains, size_t n_chains)
{
	free(text);
	for (size_t i = 0; i < n_chains; i++)
		free(chains[i]);
	free(chains);
}

int nf_reduce(const struct nf_reduce_spec *spec, const char *save, char **ret_text, char ***ret_chains,
	      size_t *ret_n_chains, int *ret_jumps)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_free_ struct line *lines = NULL;
	char *jumps[NF_REDUCE_JUMPS_MAX] = { NULL };
	int counts[NF_REDUCE_JUMPS_MAX] = { 0 };
	char **chains = NULL, *text, *line, *save_ptr = NULL;
	size_t n = 0, cap = 0, n_chains = 0, chains_cap = 0, index = 0, k = 0;
	unsigned table = 0;
	int r = -ENOMEM;

	if (spec->n_jumps > NF_REDUCE_JUMPS_MAX)
		return -EINVAL;
	copy = strdup(save);
	if (!copy)
		goto out;
	for (size_t i = 0; i < spec->n_jumps; i++) {
		jumps[i] = ecs_strdup_printf("-A %s -j %s-%s", spec->jumps[i].from, spec->prefix, spec->jumps[i].to);
		if (!jumps[i])
			goto out;
	}
	for (line = strtok_r(copy, "\n", &save_ptr); line; line = strtok_r(NULL, "\n", &save_ptr), index++) {
		size_t len = strlen(line), chain_len;
		const char *chain;
		struct line *more;

		if (spec->strip_cr && len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (spec->tables) {
			if (line[0] == '*') {
				table = table_of(line);
				continue;
			}
			if (!(table & spec->tables))
				continue;
		}
		if (line[0] == ':') {
			chain = line + 1;
			chain_len = strcspn(chain, " ");
			if (!spec->owned(spec->prefix, chain, chain_len, table))
				continue;
			r = add_chain(&chains, &n_chains, &chains_cap, chain, chain_len);
			if (r < 0)
				goto out;
			continue;
		}
		if (strncmp(line, "-A ", 3) != 0)
			continue;
		for (size_t i = 0; i < spec->n_jumps; i++)
			if ((!spec->jumps[i].table || spec->jumps[i].table == table) && streq(line, jumps[i]))
				counts[i]++;
		chain = line + 3;
		chain_len = strcspn(chain, " ");
		if (!spec->owned(spec->prefix, chain, chain_len, table))
			continue;
		more = grow(lines, &cap, n, sizeof(*lines));
		if (!more) {
			r = -ENOMEM;
			goto out;
		}
		lines = more;
		lines[n++] = (struct line){ .chain = chain, .chain_len = chain_len, .text = line, .len = len,
					    .index = index };
	}

	qsort(lines, n, sizeof(*lines), line_cmp);
	/* Grouped by chain now: each chain with lines once. */
	for (size_t i = 0; spec->chains_with_lines && i < n; i++) {
		if (i > 0 && chain_cmp(lines[i - 1].chain, lines[i - 1].chain_len, lines[i].chain, lines[i].chain_len) == 0)
			continue;
		r = add_chain(&chains, &n_chains, &chains_cap, lines[i].chain, lines[i].chain_len);
		if (r < 0)
			goto out;
	}
	qsort(chains, n_chains, sizeof(*chains), name_cmp);
	for (size_t i = 0; i < n_chains; i++) {
		if (k > 0 && streq(chains[k - 1], chains[i]))
			free(chains[i]);
		else
			chains[k++] = chains[i];
	}
	n_chains = k;
	text = join(lines, n);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	*ret_text = text;
	*ret_chains = TAKE_PTR(chains);
	*ret_n_chains = n_chains;
	for (size_t i = 0; i < spec->n_jumps; i++)
		ret_jumps[i] = counts[i];
	n_chains = 0;
	r = 0;
out:
	nf_reduce_free(NULL, chains, n_chains);
	for (size_t i = 0; i < spec->n_jumps; i++)
		free(jumps[i]);
	return r;
}

/* ---- the security groups' view --------------------------------------------------- */

static bool sg_chain_owned(const char *prefix, const char *name, size_t len, unsigned table)
{
	(void)table;
	return nf_chain_parse(prefix, name, len, NULL, NULL);
}

void nf_state_clear(struct nf_state *s)
{
	if (!s)
		return;
	nf_reduce_free(s->text, s->chains, s->n_chains);
	memset(s, 0, sizeof(*s));
}

int nf_state_parse(const char *prefix, const char *save, struct nf_state *ret)
{
	/* The text is `iptables-save -t filter`'s or our rendering, *filter alone: every line is
	 * read, whatever table it is in, and the jumps count anywhere. */
	static const struct nf_reduce_jump jumps[] = { { "FORWARD", "FWD", 0 }, { "INPUT", "INP", 0 } };
	const struct nf_reduce_spec spec = {
		.prefix = prefix,
		.owned = sg_chain_owned,
		.jumps = jumps,
		.n_jumps = ARRAY_SIZE(jumps),
	};
	struct nf_state st = { 0 };
	int counts[ARRAY_SIZE(jumps)];
	int r;

	r = nf_reduce(&spec, save, &st.text, &st.chains, &st.n_chains, counts);
	if (r < 0)
		return r;
	st.forward_jumps = counts[0];
	st.input_jumps = counts[1];
	*ret = st;
	return 0;
}
