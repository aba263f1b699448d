#include "chunked.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checksum.h"
#include "crypto.h"
#include "sigv4.h"
#include "util.h"

#define CHUNK_MAX (64ull << 20) /* a chunk's size bound; clients send 8-64 KiB */

enum state { ST_LINE, ST_DATA, ST_DATA_CR, ST_DATA_LF, ST_TRAILER, ST_DONE };

struct oss_chunked {
	enum state st;
	char line[OSS_CHUNK_LINE_MAX];
	size_t line_len;
	uint64_t remaining;
	bool last;
	EVP_MD_CTX *sha;
	uint8_t key[32];
	char amz_date[17];
	char scope[160];
	char prev_sig[65];
	char chunk_sig[65];
	uint64_t total;
	int error;
	/* unsigned with a trailer */
	bool is_unsigned;
	struct oss_checksum *ck;
	char trailer[32];
	char got[96]; /* the trailer's value */
};

int oss_chunked_new_unsigned(const char *trailer, struct oss_chunked **ret)
{
	struct oss_chunked *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->is_unsigned = true;
	if ((r = oss_checksum_new(trailer, &c->ck)) < 0 || !(c->sha = EVP_MD_CTX_new())) {
		oss_chunked_free(c);
		return r < 0 ? r : -ENOMEM;
	}
	snprintf(c->trailer, sizeof(c->trailer), "%s", trailer);
	*ret = c;
	return 0;
}

int oss_chunked_new(const uint8_t key[32], const char *amz_date, const char *scope, const char *seed_sig,
		    struct oss_chunked **ret)
{
	struct oss_chunked *c = calloc(1, sizeof(*c));

	if (!c || !(c->sha = EVP_MD_CTX_new())) {
		free(c);
		return -ENOMEM;
	}
	memcpy(c->key, key, 32);
	snprintf(c->amz_date, sizeof(c->amz_date), "%s", amz_date);
	snprintf(c->scope, sizeof(c->scope), "%s", scope);
	snprintf(c->prev_sig, sizeof(c->prev_sig), "%s", seed_sig);
	*ret = c;
	return 0;
}

void oss_chunked_free(struct oss_chunked *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->sha);
	oss_checksum_free(c->ck);
	explicit_bzero(c->key, sizeof(c->key));
	free(c);
}

/* "hex;chunk-signature=sig" (unsigned: "hex") */
static int header_parse(struct oss_chunked *c)
{
	const char *l = c->line, *semi = strchr(l, ';');
	uint64_t size = 0;
	size_t hl;

	if (c->is_unsigned && !semi)
		semi = l + strlen(l);
	else if (!semi || strncmp(semi, ";chunk-signature=", 17) != 0)
		return -EINVAL;
	hl = (size_t)(semi - l);
	if (!hl || hl > 16)
		return -EINVAL;
	for (size_t i = 0; i < hl; i++) {
		char ch = l[i];
		int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
						       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (v < 0)
			return -EINVAL;
		size = size << 4 | (uint64_t)v;
	}
	if (size > CHUNK_MAX)
		return -EINVAL;
	if (!c->is_unsigned) {
		if (strlen(semi + 17) != 64 || strspn(semi + 17, "0123456789abcdef") != 64)
			return -EINVAL;
		memcpy(c->chunk_sig, semi + 17, 65);
	}
	c->remaining = size;
	c->last = size == 0;
	if (EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	return 0;
}

static int chunk_check(struct oss_chunked *c)
{
	uint8_t h[32];
	unsigned hl = 0;
	char want[65];

	if (c->is_unsigned)
		return 0;
	if (EVP_DigestFinal_ex(c->sha, h, &hl) != 1 ||
	    oss_v4_chunk_sign(c->key, c->amz_date, c->scope, c->prev_sig, h, want) < 0)
		return -ENOMEM;
	if (!ecs_streq_ct(want, c->chunk_sig))
		return -EACCES;
	memcpy(c->prev_sig, c->chunk_sig, 65);
	return 0;
}

/* A trailer line ("" ends the body): only the announced checksum, once. */
static int trailer_line(struct oss_chunked *c)
{
	size_t tl = strlen(c->trailer);

	if (!c->line[0]) {
		c->st = ST_DONE;
		return 0;
	}
	if (!c->is_unsigned || c->got[0] || strncasecmp(c->line, c->trailer, tl) != 0 || c->line[tl] != ':' ||
	    strlen(c->line + tl + 1) >= sizeof(c->got))
		return -EINVAL;
	snprintf(c->got, sizeof(c->got), "%s", c->line + tl + 1 + strspn(c->line + tl + 1, " "));
	return c->got[0] ? 0 : -EINVAL;
}

static int expect(struct oss_chunked *c, char got, char want, enum state next)
{
	if (got != want)
		return -EINVAL;
	c->st = next;
	return 0;
}

int oss_chunked_feed(struct oss_chunked *c, const char *buf, size_t len,
		     int (*sink)(void *arg, const char *buf, size_t len), void *arg)
{
	int r = 0;

	if (c->error)
		return c->error;
	for (size_t i = 0; i < len && !r;) {
		char ch = buf[i];

		switch (c->st) {
		case ST_LINE:
		case ST_TRAILER:
			i++;
			if (ch == '\n') {
				if (!c->line_len || c->line[c->line_len - 1] != '\r') {
					r = -EINVAL;
					break;
				}
				c->line[c->line_len - 1] = '\0';
				c->line_len = 0;
				if (c->st == ST_TRAILER) {
					r = trailer_line(c);
					break;
				}
				if ((r = header_parse(c)) < 0)
					break;
				c->st = c->remaining ? ST_DATA : ST_DATA_CR;
				if (c->last && (r = chunk_check(c)) == 0)
					c->st = ST_TRAILER;
				break;
			}
			if (c->line_len + 1 >= sizeof(c->line)) {
				r = -EINVAL;
				break;
			}
			c->line[c->line_len++] = ch;
			break;
		case ST_DATA: {
			size_t n = len - i < c->remaining ? len - i : (size_t)c->remaining;

			if (!c->is_unsigned)
				EVP_DigestUpdate(c->sha, buf + i, n);
			else
				oss_checksum_update(c->ck, buf + i, n);
			if (sink && (r = sink(arg, buf + i, n)) < 0)
				break;
			c->total += n;
			c->remaining -= n;
			i += n;
			if (!c->remaining)
				c->st = ST_DATA_CR;
			break;
		}
		case ST_DATA_CR: r = expect(c, ch, '\r', ST_DATA_LF), i++; break;
		case ST_DATA_LF:
			i++;
			if ((r = expect(c, ch, '\n', ST_LINE)) == 0)
				r = chunk_check(c);
			break;
		case ST_DONE: r = -EINVAL; break;
		}
	}
	return c->error = r;
}

int oss_chunked_finish(const struct oss_chunked *c)
{
	if (c->error || c->st != ST_DONE)
		return -EINVAL;
	if (!c->is_unsigned)
		return 0;
	if (!c->got[0])
		return -EINVAL;
	return oss_checksum_check(c->ck, c->got);
}

uint64_t oss_chunked_total(const struct oss_chunked *c)
{
	return c->total;
}
