/* nf_state.c: iptables-save text (or our own iptables-restore text) reduced to the
 * security-group chains: their lines grouped by chain in a stable order, their names, and
 * the jumps to the dispatch chains. The same reduction of the kernel's text and of the
 * rendered text is what makes the two comparable. */
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

struct line {
	const char *chain; /* inside text, not terminated */
	size_t chain_len;
	const char *text;  /* the whole line, terminated */
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

void nf_state_clear(struct nf_state *s)
{
	if (!s)
		return;
	free(s->text);
	for (size_t i = 0; i < s->n_chains; i++)
		free(s->chains[i]);
	free(s->chains);
	memset(s, 0, sizeof(*s));
}

static int add_chain(struct nf_state *st, size_t *cap, const char *name, size_t len)
{
	char **chains = grow(st->chains, cap, st->n_chains, sizeof(*st->chains));

	if (!chains)
		return -ENOMEM;
	st->chains = chains;
	st->chains[st->n_chains] = strndup(name, len);
	if (!st->chains[st->n_chains])
		return -ENOMEM;
	st->n_chains++;
	return 0;
}

int nf_state_parse(const char *prefix, const char *save, struct nf_state *ret)
{
	_cleanup_free_ char *copy = strdup(save), *fwd_jump = NULL, *inp_jump = NULL;
	_cleanup_free_ struct line *lines = NULL;
	struct nf_state st = { 0 };
	size_t n = 0, cap = 0, chains_cap = 0, index = 0, size = 0;
	char *line, *save_ptr = NULL, *text = NULL;
	FILE *f;
	int r;

	fwd_jump = ecs_strdup_printf("-A FORWARD -j %s-FWD", prefix);
	inp_jump = ecs_strdup_printf("-A INPUT -j %s-INP", prefix);
	if (!copy || !fwd_jump || !inp_jump)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save_ptr); line; line = strtok_r(NULL, "\n", &save_ptr), index++) {
		const char *chain;
		size_t len;

		if (line[0] == ':') {
			chain = line + 1;
			len = strcspn(chain, " ");
			if (!nf_chain_parse(prefix, chain, len, NULL, NULL))
				continue;
			r = add_chain(&st, &chains_cap, chain, len);
			if (r < 0)
				goto fail;
			continue;
		}
		if (strncmp(line, "-A ", 3) != 0)
			continue;
		chain = line + 3;
		len = strcspn(chain, " ");
		if (streq(line, fwd_jump))
			st.forward_jumps++;
		else if (streq(line, inp_jump))
			st.input_jumps++;
		if (!nf_chain_parse(prefix, chain, len, NULL, NULL))
			continue;
		struct line *more = grow(lines, &cap, n, sizeof(*lines));

		if (!more) {
			r = -ENOMEM;
			goto fail;
		}
		lines = more;
		lines[n++] = (struct line){ .chain = chain, .chain_len = len, .text = line, .index = index };
	}

	qsort(lines, n, sizeof(*lines), line_cmp);
	f = open_memstream(&text, &size);
	if (!f) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i].text);
	if (fclose(f) != 0) {
		free(text);
		r = -ENOMEM;
		goto fail;
	}
	st.text = text;

	qsort(st.chains, st.n_chains, sizeof(*st.chains), name_cmp);
	{
		size_t k = 0;

		for (size_t i = 0; i < st.n_chains; i++) {
			if (k > 0 && streq(st.chains[k - 1], st.chains[i]))
				free(st.chains[i]);
			else
				st.chains[k++] = st.chains[i];
		}
		st.n_chains = k;
	}
	*ret = st;
	return 0;

fail:
	nf_state_clear(&st);
	return r;
}
