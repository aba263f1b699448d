/* Tests for lib/crypto.c against published vectors (RFC 2202, RFC 4231, FIPS 180-2, RFC 1321,
 * RFC 4648). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "crypto.h"
#include "util.h"

static void assert_hex(const uint8_t *b, size_t len, const char *want)
{
	char hex[129];

	ecs_hex_encode(b, len, hex);
	assert_string_equal(hex, want);
}

static void test_hmac_sha1_rfc2202(void **state)
{
	uint8_t mac[ECS_SHA1_LEN], key[20];

	(void)state;
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(ecs_hmac_sha1(key, 20, "Hi There", 8, mac), 0);
	assert_hex(mac, sizeof(mac), "b617318655057264e28bc0b6fb378c8ef146be00");
	assert_int_equal(ecs_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
	assert_hex(mac, sizeof(mac), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

static void test_hmac_sha256_rfc4231(void **state)
{
	uint8_t mac[ECS_SHA256_LEN];

	(void)state;
	assert_int_equal(ecs_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
	assert_hex(mac, sizeof(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_digests(void **state)
{
	uint8_t d[ECS_SHA256_LEN], m[ECS_MD5_LEN];

	(void)state;
	assert_int_equal(ecs_sha256("abc", 3, d), 0);
	assert_hex(d, sizeof(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(ecs_md5("", 0, m), 0);
	assert_hex(m, sizeof(m), "d41d8cd98f00b204e9800998ecf8427e");
	assert_int_equal(ecs_md5("abc", 3, m), 0);
	assert_hex(m, sizeof(m), "900150983cd24fb0d6963f7d28e17f72");
}

static void test_base64(void **state)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		_cleanup_free_ char *e = ecs_base64_encode(plain[i], strlen(plain[i]));
		_cleanup_free_ uint8_t *d = NULL;
		size_t len = 0;

		assert_string_equal(e, enc[i]);
		assert_int_equal(ecs_base64_decode(enc[i], strlen(enc[i]), &d, &len), 0);
		assert_int_equal(len, strlen(plain[i]));
		assert_memory_equal(d, plain[i], len);
	}
}

static void test_base64_rejects(void **state)
{
	static const char *const bad[] = { "Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9", "Zm9v*A==", "Zg=a", "=Zg=" };
	uint8_t *d = NULL;
	size_t len;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ecs_base64_decode(bad[i], strlen(bad[i]), &d, &len), -EINVAL);
	assert_null(d);
}

static void test_hex_and_ct(void **state)
{
	uint8_t out[3];

	(void)state;
	assert_int_equal(ecs_hex_decode("0aFf10", out, 3), 0);
	assert_int_equal(out[0], 0x0a);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(ecs_hex_decode("0aFf1", out, 3), -EINVAL);
	assert_int_equal(ecs_hex_decode("0aFg10", out, 3), -EINVAL);
	assert_true(ecs_streq_ct("secret", "secret"));
	assert_false(ecs_streq_ct("secret", "secreT"));
	assert_false(ecs_streq_ct("secret", "secret2"));
	assert_false(ecs_streq_ct(NULL, "x"));
	assert_true(ecs_memeq_ct("ab", "ab", 2));
}

static void test_random(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(ecs_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(ecs_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

UNIT_MAIN("crypto", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_hmac_sha1_rfc2202), cmocka_unit_test(test_hmac_sha256_rfc4231),
	  cmocka_unit_test(test_digests),		  cmocka_unit_test(test_base64),
	  cmocka_unit_test(test_base64_rejects),	  cmocka_unit_test(test_hex_and_ct),
	  cmocka_unit_test(test_random))
