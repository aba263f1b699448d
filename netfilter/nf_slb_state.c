/* nf_slb_state.c: the SLB chains the kernel holds, read back from iptables-save and reduced
 * (nf_reduce) to the same form nf_slb.c renders, so the two compare byte for byte. */
#include "nf_slb.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "cmd.h"
#include "nf_slb_internal.h"
#include "util.h"

#define SLB_MAX_SAVE (64 * 1024 * 1024)

/* ---- the kernel's state ---------------------------------------------------------- */

/* Whether name (len bytes) is one of our chains in that table (an NF_TABLE_*). */
static bool chain_ours(const char *prefix, const char *name, size_t len, unsigned table)
{
	size_t pl = strlen(prefix);
	const char *rest = name + pl + 1;
	size_t rl, digits;

	if (len <= pl + 1 || memcmp(name, prefix, pl) != 0 || name[pl] != '-')
		return false;
	rl = len - pl - 1;
	if (table == NF_TABLE_FILTER)
		return rl == 3 && memcmp(rest, "LBF", 3) == 0;
	if ((rl == 3 && memcmp(rest, "PRE", 3) == 0) || (rl == 4 && memcmp(rest, "DOUT", 4) == 0) ||
	    (rl == 4 && memcmp(rest, "POST", 4) == 0))
		return true;
	/* L-<8 lower-case hex>-<port>[u] */
	if (rl < 12 || memcmp(rest, "L-", 2) != 0 || rest[10] != '-')
		return false;
	for (size_t i = 2; i < 10; i++)
		if (!strchr("0123456789abcdef", rest[i]))
			return false;
	digits = rl - 11 - (rest[rl - 1] == 'u');
	if (digits < 1 || digits > 5 || rest[11] == '0')
		return false;
	for (size_t i = 11; i < 11 + digits; i++)
		if (rest[i] < '0' || rest[i] > '9')
			return false;
	return true;
}

void nf_slb_state_clear(struct nf_slb_state *s)
{
	if (!s)
		return;
	nf_reduce_free(s->text, s->chains, s->n_chains);
	memset(s, 0, sizeof(*s));
}

int nf_slb_state_parse(const char *prefix, const char *save, struct nf_slb_state *ret)
{
	static const struct nf_reduce_jump jumps[] = {
		{ "PREROUTING", "PRE", NF_TABLE_NAT },
		{ "OUTPUT", "DOUT", NF_TABLE_NAT },
		{ "POSTROUTING", "POST", NF_TABLE_NAT },
		{ "FORWARD", "LBF", NF_TABLE_FILTER },
	};
	const struct nf_reduce_spec spec = {
		.prefix = prefix,
		.tables = NF_TABLE_NAT | NF_TABLE_FILTER,
		.strip_cr = true,
		.chains_with_lines = true,
		.owned = chain_ours,
		.jumps = jumps,
		.n_jumps = ARRAY_SIZE(jumps),
	};
	struct nf_slb_state s = { 0 };
	int counts[ARRAY_SIZE(jumps)];
	int r;

	if (!nf_prefix_valid(prefix) || !save)
		return -EINVAL;
	r = nf_reduce(&spec, save, &s.text, &s.chains, &s.n_chains, counts);
	if (r < 0)
		return r;
	s.pre_jumps = counts[0];
	s.out_jumps = counts[1];
	s.post_jumps = counts[2];
	s.fwd_jumps = counts[3];
	*ret = s;
	return 0;
}

static int parse_slb_state(const char *prefix, const char *text, void *ret)
{
	return nf_slb_state_parse(prefix, text, ret);
}

int nf_slb_read_state(const char *prefix, struct nf_slb_state *ret)
{
	const char *argv[] = { "iptables-save", NULL };

	return nf_save_parse(argv, SLB_MAX_SAVE, parse_slb_state, prefix, ret);
}
