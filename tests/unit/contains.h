/* contains.h: assert that a text holds each of several strings, as a list rather than one
 * assert_non_null(strstr()) a line; a failure names the string missing and shows the text.
 * Include after <cmocka.h>.
 *
 *   assert_contains(text, "ecs_hosts{state=\"up\"} 0\n", "ecs_console_sessions 0\n");
 */
#ifndef ECS_TEST_CONTAINS_H
#define ECS_TEST_CONTAINS_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static inline void unit_assert_contains(const char *text, const char *const *want, size_t n)
{
	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		if (!strstr(text, want[i])) {
			fprintf(stderr, "--- text\n%s---\n", text);
			fail_msg("not in the text: %s", want[i]);
		}
	}
}

#define assert_contains(text, ...)                                                                   \
	unit_assert_contains((text), (const char *const[]){ __VA_ARGS__ },                           \
			     sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

#endif
