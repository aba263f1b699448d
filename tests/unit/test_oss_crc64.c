/* Tests for storage/oss/crc64.c: CRC-64/ECMA-182 as OSS's x-oss-hash-crc64ecma (CRC-64/XZ's
 * check value), every length through the sliced loop, and combining any split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crc64.h"

static void test_check_value(void **state)
{
	(void)state;
	assert_true(oss_crc64_update(0, "123456789", 9) == 0x995DC9BBDF1939FAULL);
	assert_true(oss_crc64_update(0, "", 0) == 0);
	/* Fed in pieces: the same. */
	assert_true(oss_crc64_update(oss_crc64_update(0, "1234", 4), "56789", 5) == 0x995DC9BBDF1939FAULL);
}

static void test_combine(void **state)
{
	unsigned char buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (size_t cut = 0; cut <= sizeof(buf); cut += 17) {
		uint64_t a = oss_crc64_update(0, buf, cut), b = oss_crc64_update(0, buf + cut, sizeof(buf) - cut);

		assert_true(oss_crc64_combine(a, b, sizeof(buf) - cut) == oss_crc64_update(0, buf, sizeof(buf)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_check_value), cmocka_unit_test(test_combine) };

	return cmocka_run_group_tests_name("oss_crc64", tests, NULL, NULL);
}
