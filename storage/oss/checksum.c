#include "checksum.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "util.h"

#define POLY_CRC32 0xEDB88320u
#define POLY_CRC32C 0x82F63B78u

enum kind { CK_CRC32, CK_CRC32C, CK_SHA256 };

struct oss_checksum {
	enum kind kind;
	const char *name;
	uint32_t crc;
	EVP_MD_CTX *sha;
};

/* CRC-32 (IEEE) and CRC-32C (Castagnoli), reflected, over a table. */
static uint32_t crc_update(uint32_t crc, const void *buf, size_t len, uint32_t poly)
{
	static uint32_t tables[2][256];
	static bool ready[2];
	int t = poly == POLY_CRC32 ? 0 : 1;
	const uint8_t *p = buf;

	if (!ready[t]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ poly : c >> 1;
			tables[t][i] = c;
		}
		ready[t] = true;
	}
	crc = ~crc;
	while (len--)
		crc = tables[t][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

int oss_checksum_new(const char *name, struct oss_checksum **ret)
{
	static const struct {
		const char *name;
		enum kind kind;
	} algs[] = { { "x-amz-checksum-crc32", CK_CRC32 }, { "x-amz-checksum-crc32c", CK_CRC32C },
		     { "x-amz-checksum-sha256", CK_SHA256 } };
	struct oss_checksum *c;

	for (size_t i = 0; name && i < ARRAY_SIZE(algs); i++) {
		if (strcasecmp(name, algs[i].name) != 0)
			continue;
		if (!(c = calloc(1, sizeof(*c))))
			return -ENOMEM;
		c->kind = algs[i].kind;
		c->name = algs[i].name;
		if (c->kind == CK_SHA256 &&
		    (!(c->sha = EVP_MD_CTX_new()) || EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL) != 1)) {
			oss_checksum_free(c);
			return -ENOMEM;
		}
		*ret = c;
		return 0;
	}
	return -EINVAL;
}

void oss_checksum_free(struct oss_checksum *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->sha);
	free(c);
}

void oss_checksum_update(struct oss_checksum *c, const void *buf, size_t len)
{
	if (c->kind == CK_SHA256)
		EVP_DigestUpdate(c->sha, buf, len);
	else
		c->crc = crc_update(c->crc, buf, len, c->kind == CK_CRC32 ? POLY_CRC32 : POLY_CRC32C);
}

int oss_checksum_check(struct oss_checksum *c, const char *b64)
{
	uint8_t want[32];
	unsigned wl = 0;
	_cleanup_free_ char *enc = NULL;

	if (c->kind == CK_SHA256) {
		if (EVP_DigestFinal_ex(c->sha, want, &wl) != 1)
			return -ENOMEM;
	} else {
		want[0] = (uint8_t)(c->crc >> 24);
		want[1] = (uint8_t)(c->crc >> 16);
		want[2] = (uint8_t)(c->crc >> 8);
		want[3] = (uint8_t)c->crc;
		wl = 4;
	}
	if (!(enc = ecs_base64_encode(want, wl)))
		return -ENOMEM;
	return b64 && streq(enc, b64) ? 0 : -EBADMSG;
}

int oss_checksum_is(const struct oss_checksum *c, const char *name)
{
	return strcasecmp(c->name, name) == 0;
}
