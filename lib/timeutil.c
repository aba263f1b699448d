#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int64_t ecs_now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ecs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ecs_time_format(time_t t, char buf[ECS_ISO8601_LEN + 1])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, ECS_ISO8601_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ecs_time_parse(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	const char *end;

	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%dT%H:%MZ", &tm);
		if (!end || *end)
			return -EINVAL;
	}
	*ret = timegm(&tm);
	if (*ret == (time_t)-1)
		return -EINVAL;
	return 0;
}
