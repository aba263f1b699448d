/* crypto.h: digests, HMACs, encodings and comparisons over OpenSSL. */
#ifndef ECS_CRYPTO_H
#define ECS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ECS_SHA1_LEN 20
#define ECS_SHA256_LEN 32
#define ECS_MD5_LEN 16

int ecs_hmac_sha1(const void *key, size_t klen, const void *data, size_t len, uint8_t out[ECS_SHA1_LEN]);
/* base64(HMAC-SHA1(secret, string)) into out (28 characters and the NUL): the signature of
 * OSS V1 and of Tablestore. */
#define ECS_HMAC_SHA1_B64_LEN 28
int ecs_hmac_sha1_b64(const char *secret, const char *string, char out[ECS_HMAC_SHA1_B64_LEN + 1]);
int ecs_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[ECS_SHA256_LEN]);
int ecs_sha256(const void *data, size_t len, uint8_t out[ECS_SHA256_LEN]);
int ecs_md5(const void *data, size_t len, uint8_t out[ECS_MD5_LEN]);

/* Standard base64 with padding. Returns a new string or NULL. */
char *ecs_base64_encode(const void *data, size_t len);
/* Strict decode: padding required, no whitespace; -EINVAL on anything else. The output
 * is NUL-terminated for convenience (not counted in ret_len). */
int ecs_base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len);

/* Lower-case hex; out must hold 2 * len + 1 bytes. */
void ecs_hex_encode(const void *data, size_t len, char *out);
/* Decode exactly 2 * out_len hex digits into out; -EINVAL otherwise. */
int ecs_hex_decode(const char *s, uint8_t *out, size_t out_len);

/* Compare without leaking where they differ (CRYPTO_memcmp). */
bool ecs_memeq_ct(const void *a, const void *b, size_t len);
/* Strings: unequal lengths are unequal; the length itself is not secret. */
bool ecs_streq_ct(const char *a, const char *b);

/* Fill buf with len cryptographically random bytes. */
int ecs_random_bytes(void *buf, size_t len);

/* SHA-256 of a file, as lower-case hex (65 bytes). */
int ecs_sha256_file(const char *path, char out_hex[2 * ECS_SHA256_LEN + 1]);

#endif
