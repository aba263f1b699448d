#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util.h"

static int hmac(const EVP_MD *md, const void *key, size_t klen, const void *data, size_t len,
		uint8_t *out, unsigned expect)
{
	unsigned outlen = 0;

	if (klen > INT32_MAX)
		return -EINVAL;
	if (!HMAC(md, key, (int)klen, data, len, out, &outlen) || outlen != expect)
		return -EIO;
	return 0;
}

int ecs_hmac_sha1(const void *key, size_t klen, const void *data, size_t len, uint8_t out[ECS_SHA1_LEN])
{
	return hmac(EVP_sha1(), key, klen, data, len, out, ECS_SHA1_LEN);
}

int ecs_hmac_sha1_b64(const char *secret, const char *string, char out[ECS_HMAC_SHA1_B64_LEN + 1])
{
	uint8_t mac[ECS_SHA1_LEN];
	char *s;

	if (ecs_hmac_sha1(secret, strlen(secret), string, strlen(string), mac) < 0)
		return -EIO;
	s = ecs_base64_encode(mac, sizeof(mac));
	explicit_bzero(mac, sizeof(mac));
	if (!s)
		return -ENOMEM;
	memcpy(out, s, ECS_HMAC_SHA1_B64_LEN);
	out[ECS_HMAC_SHA1_B64_LEN] = '\0';
	free(s);
	return 0;
}

int ecs_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[ECS_SHA256_LEN])
{
	return hmac(EVP_sha256(), key, klen, data, len, out, ECS_SHA256_LEN);
}

static int digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out, unsigned expect)
{
	unsigned outlen = 0;

	if (!EVP_Digest(data, len, out, &outlen, md, NULL) || outlen != expect)
		return -EIO;
	return 0;
}

int ecs_sha256(const void *data, size_t len, uint8_t out[ECS_SHA256_LEN])
{
	return digest(EVP_sha256(), data, len, out, ECS_SHA256_LEN);
}

int ecs_md5(const void *data, size_t len, uint8_t out[ECS_MD5_LEN])
{
	return digest(EVP_md5(), data, len, out, ECS_MD5_LEN);
}

char *ecs_base64_encode(const void *data, size_t len)
{
	char *out;

	if (len > (size_t)INT32_MAX / 4 * 3)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

int ecs_base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *out = NULL;
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > (size_t)INT32_MAX)
		return -EINVAL;
	if (len >= 1 && s[len - 1] == '=') {
		pad++;
		if (s[len - 2] == '=')
			pad++;
	}
	for (size_t i = 0; i < len - pad; i++)
		if (!is_b64(s[i]))
			return -EINVAL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	/* EVP_DecodeBlock counts padding as zero bytes; take them off again. */
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -EINVAL;
	n -= (int)pad;
	out[n] = '\0';
	*ret_len = (size_t)n;
	*ret = TAKE_PTR(out);
	return 0;
}

void ecs_hex_encode(const void *data, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * len] = '\0';
}

int ecs_hex_decode(const char *s, uint8_t *out, size_t out_len)
{
	if (strlen(s) != 2 * out_len)
		return -EINVAL;
	for (size_t i = 0; i < out_len; i++) {
		int hi = ecs_hex_digit(s[2 * i]), lo = ecs_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool ecs_memeq_ct(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool ecs_streq_ct(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return false;
	la = strlen(a);
	lb = strlen(b);
	return la == lb && ecs_memeq_ct(a, b, la);
}

int ecs_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ecs_sha256_file(const char *path, char out_hex[2 * ECS_SHA256_LEN + 1])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *ctx = NULL;
	uint8_t md[ECS_SHA256_LEN];
	char buf[65536];
	int r = -EIO;

	if (fd < 0)
		return -errno;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		goto out;
	ecs_hex_encode(md, sizeof(md), out_hex);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}
