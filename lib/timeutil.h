/* timeutil.h: clocks and the UTC timestamps the APIs carry ("2026-11-23T02:29:42Z"). */
#ifndef ECS_TIMEUTIL_H
#define ECS_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

#define ECS_ISO8601_LEN 20 /* "YYYY-MM-DDTHH:MM:SSZ" */

/* Milliseconds of CLOCK_MONOTONIC, for timeouts and durations. */
int64_t ecs_now_mono_ms(void);
/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t ecs_now_ms(void);

/* Format t as UTC "YYYY-MM-DDTHH:MM:SSZ" into buf[ECS_ISO8601_LEN + 1]. */
void ecs_time_format(time_t t, char buf[ECS_ISO8601_LEN + 1]);
/* Parse "YYYY-MM-DDTHH:MM:SSZ" (also "YYYY-MM-DDTHH:MMZ", as ECS accepts for StartTime). */
int ecs_time_parse(const char *s, time_t *ret);

#endif
