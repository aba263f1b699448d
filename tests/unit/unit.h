/* unit.h: the main() of a test binary, said once: its tests run as one cmocka group, each
 * with the file's per-test fixture (setup before, teardown after; NULL: none) unless the
 * test names its own, and the group with its own fixture. Include after <cmocka.h>.
 *
 *   UNIT_MAIN("json", NULL, NULL, NULL, NULL,
 *             cmocka_unit_test(test_parse),
 *             cmocka_unit_test(test_build))
 */
#ifndef ECS_TEST_UNIT_H
#define ECS_TEST_UNIT_H

#include <stddef.h>

static inline int unit_run(const char *name, struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
			   CMFixtureFunction teardown, CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
	for (size_t i = 0; i < n; i++) {
		if (!tests[i].setup_func)
			tests[i].setup_func = setup;
		if (!tests[i].teardown_func)
			tests[i].teardown_func = teardown;
	}
	return _cmocka_run_group_tests(name, tests, n, group_setup, group_teardown);
}

/* The fixture of a test that has none, in a list whose per-test fixture is another. */
static inline int unit_no_fixture(void **state)
{
	(void)state;
	return 0;
}

#define UNIT_MAIN(name, setup, teardown, group_setup, group_teardown, ...)                              \
	int main(void)                                                                                  \
	{                                                                                               \
		struct CMUnitTest tests_[] = { __VA_ARGS__ };                                           \
                                                                                                        \
		return unit_run(name, tests_, sizeof(tests_) / sizeof(tests_[0]), setup, teardown,      \
				group_setup, group_teardown);                                           \
	}

#endif
