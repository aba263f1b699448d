/* Tests for controller/params.c's shared text rules: UTF-8 and ECS's resource names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "params.h"

static void test_utf8(void **state)
{
	(void)state;
	assert_true(ctl_utf8_ok(""));
	assert_true(ctl_utf8_ok("plain ascii"));
	assert_true(ctl_utf8_ok("\xe7\xbb\x84\xe4\xb8\x80"));     /* 组一 */
	assert_true(ctl_utf8_ok("\xf0\x9f\x98\x80"));             /* U+1F600 */
	assert_true(ctl_utf8_ok("\xf4\x8f\xbf\xbf"));             /* U+10FFFF */
	assert_false(ctl_utf8_ok("\xff"));
	assert_false(ctl_utf8_ok("a\xfe" "b"));
	assert_false(ctl_utf8_ok("\xc0\xaf"));                     /* overlong '/' */
	assert_false(ctl_utf8_ok("\xe0\x80\xaf"));                 /* overlong, 3 bytes */
	assert_false(ctl_utf8_ok("\xf0\x80\x80\xaf"));             /* overlong, 4 bytes */
	assert_false(ctl_utf8_ok("\xed\xa0\x80"));                 /* surrogate U+D800 */
	assert_false(ctl_utf8_ok("\xed\xbf\xbf"));                 /* surrogate U+DFFF */
	assert_false(ctl_utf8_ok("\xf4\x90\x80\x80"));             /* past U+10FFFF */
	assert_false(ctl_utf8_ok("\xe7\xbb"));                     /* cut short */
	assert_false(ctl_utf8_ok("\x80"));                         /* a lone continuation */
}

static void test_name(void **state)
{
	char longest[130];

	(void)state;
	assert_true(ctl_name_ok("ab"));
	assert_true(ctl_name_ok("web-1.a_b:c"));
	assert_true(ctl_name_ok("\xe7\xbb\x84\xe4\xb8\x80.web_1:a-b")); /* 组一.web_1:a-b */
	assert_true(ctl_name_ok("\xe7\xbb\x84"  "\xe4\xb8\x80"));
	assert_true(ctl_name_ok("Z9"));
	assert_false(ctl_name_ok(""));
	assert_false(ctl_name_ok("a"));
	assert_false(ctl_name_ok("1web"));
	assert_false(ctl_name_ok("-web"));
	assert_false(ctl_name_ok("web server"));
	assert_false(ctl_name_ok("http://x"));
	assert_false(ctl_name_ok("https://x"));
	assert_false(ctl_name_ok("web\xff"));
	assert_false(ctl_name_ok("\xc3\xa9t\xc3\xa9"));        /* é: a letter, not CJK */
	assert_false(ctl_name_ok("w\xed\xa0\x80"));
	assert_false(ctl_name_ok("a/b"));
	memset(longest, 'w', 128);
	longest[128] = '\0';
	assert_true(ctl_name_ok(longest));
	longest[128] = 'w';
	longest[129] = '\0';
	assert_false(ctl_name_ok(longest));
}

UNIT_MAIN("ctl_params", NULL, NULL, NULL, NULL,
	  cmocka_unit_test(test_utf8),
	  cmocka_unit_test(test_name))
